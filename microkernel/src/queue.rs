//! The queues threads wait in: the `intrusive-queue` crate's one queue type (host-tested
//! under Miri), instantiated for TCBs.
//!
//! A TCB has three pairs of links, one per kind of queue it can be in at the same time:
//! an endpoint's or notification's waiters ([`IpcLinks`]), a ready queue of the scheduler
//! ([`ReadyLinks`]), and the scheduler's timeout list ([`TimeoutLinks`]). Links are read and
//! written through raw pointers to their fields, one at a time: queue operations make no
//! reference to a TCB (see `thread::TcbPtr`).

use crate::thread::Tcb;
use core::ptr::addr_of_mut;
use intrusive_queue::{Links, Queue};

/// A queue of threads linked through `L`'s fields of their TCBs.
pub type TcbQueue<L> = Queue<Tcb, L>;

/// Waiters of an endpoint or notification (`Tcb::ipc_next/ipc_prev`).
pub struct IpcLinks;
/// A ready queue (`Tcb::sched_next/sched_prev`).
pub struct ReadyLinks;
/// The timeout list (`Tcb::timeout_next/timeout_prev`).
pub struct TimeoutLinks;

// SAFETY: two distinct link fields, projected without a reference; each kind of queue has
// its own pair.
unsafe impl Links<Tcb> for IpcLinks {
    unsafe fn links(t: *mut Tcb) -> (*mut *mut Tcb, *mut *mut Tcb) {
        // SAFETY: forwarded from the caller; place projections, no reference.
        unsafe { (addr_of_mut!((*t).ipc_next), addr_of_mut!((*t).ipc_prev)) }
    }
}

// SAFETY: as above.
unsafe impl Links<Tcb> for ReadyLinks {
    unsafe fn links(t: *mut Tcb) -> (*mut *mut Tcb, *mut *mut Tcb) {
        // SAFETY: forwarded from the caller; place projections, no reference.
        unsafe { (addr_of_mut!((*t).sched_next), addr_of_mut!((*t).sched_prev)) }
    }
}

// SAFETY: as above.
unsafe impl Links<Tcb> for TimeoutLinks {
    unsafe fn links(t: *mut Tcb) -> (*mut *mut Tcb, *mut *mut Tcb) {
        // SAFETY: forwarded from the caller; place projections, no reference.
        unsafe {
            (
                addr_of_mut!((*t).timeout_next),
                addr_of_mut!((*t).timeout_prev),
            )
        }
    }
}
