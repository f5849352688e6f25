//! The kernel's one intrusive queue of threads: a doubly linked list threaded through a
//! pair of link fields inside each TCB, so that queueing never allocates.
//!
//! A TCB has three pairs of links, one per kind of queue it can be in at the same time:
//! an endpoint's or notification's waiters ([`IpcLinks`]), a ready queue of the scheduler
//! ([`ReadyLinks`]), and the scheduler's timeout list ([`TimeoutLinks`]). The queue type
//! is the same for all three; the links it uses are a type parameter.
//!
//! Links are read and written through raw pointers (`addr_of_mut!`), one field at a time:
//! queue operations make no reference to a TCB (see `thread::TcbPtr`).

use crate::thread::Tcb;
use core::marker::PhantomData;
use core::ptr::{addr_of_mut, null_mut};

/// Which pair of link fields of a TCB a queue threads through.
pub trait Links {
    /// Pointers to `t`'s (next, previous) link fields.
    ///
    /// # Safety
    /// `t` must be a live TCB.
    unsafe fn links(t: *mut Tcb) -> (*mut *mut Tcb, *mut *mut Tcb);
}

/// Waiters of an endpoint or notification (`Tcb::ipc_next/ipc_prev`).
pub struct IpcLinks;
/// A ready queue (`Tcb::sched_next/sched_prev`).
pub struct ReadyLinks;
/// The timeout list (`Tcb::timeout_next/timeout_prev`).
pub struct TimeoutLinks;

impl Links for IpcLinks {
    unsafe fn links(t: *mut Tcb) -> (*mut *mut Tcb, *mut *mut Tcb) {
        // SAFETY: forwarded from the caller; place projections, no reference.
        unsafe { (addr_of_mut!((*t).ipc_next), addr_of_mut!((*t).ipc_prev)) }
    }
}

impl Links for ReadyLinks {
    unsafe fn links(t: *mut Tcb) -> (*mut *mut Tcb, *mut *mut Tcb) {
        // SAFETY: forwarded from the caller; place projections, no reference.
        unsafe { (addr_of_mut!((*t).sched_next), addr_of_mut!((*t).sched_prev)) }
    }
}

impl Links for TimeoutLinks {
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

/// A queue of threads linked through `L`'s fields. Invariant: every member is a live TCB
/// (a TCB leaves its queues before it is destroyed) whose `L` links point at its
/// neighbours (null at the ends).
pub struct TcbQueue<L> {
    /// First thread (null when empty).
    pub head: *mut Tcb,
    /// Last thread (null when empty).
    pub tail: *mut Tcb,
    links: PhantomData<L>,
}

impl<L> Clone for TcbQueue<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for TcbQueue<L> {}

impl<L: Links> TcbQueue<L> {
    /// The empty queue.
    pub const EMPTY: TcbQueue<L> = TcbQueue::from_ends(null_mut(), null_mut());

    /// The queue with these ends (as kept in an object's words).
    pub const fn from_ends(head: *mut Tcb, tail: *mut Tcb) -> TcbQueue<L> {
        TcbQueue {
            head,
            tail,
            links: PhantomData,
        }
    }

    /// Whether nobody is queued.
    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// The thread after `t` (null at the end).
    ///
    /// # Safety
    /// `t` must be a member.
    pub unsafe fn next(t: *mut Tcb) -> *mut Tcb {
        // SAFETY: forwarded from the caller.
        unsafe { *L::links(t).0 }
    }

    /// Appends `t`.
    ///
    /// # Safety
    /// `t` must be a live TCB in no queue of this kind.
    pub unsafe fn push(&mut self, t: *mut Tcb) {
        // SAFETY: forwarded from the caller.
        unsafe { self.insert_before(null_mut(), t) }
    }

    /// Inserts `t` before the member `next` (at the end when `next` is null).
    ///
    /// # Safety
    /// `t` must be a live TCB in no queue of this kind; `next` null or a member.
    pub unsafe fn insert_before(&mut self, next: *mut Tcb, t: *mut Tcb) {
        // SAFETY: forwarded from the caller; members are live (invariant).
        unsafe {
            let prev = if next.is_null() {
                self.tail
            } else {
                *L::links(next).1
            };
            let (t_next, t_prev) = L::links(t);
            *t_next = next;
            *t_prev = prev;
            if prev.is_null() {
                self.head = t;
            } else {
                *L::links(prev).0 = t;
            }
            if next.is_null() {
                self.tail = t;
            } else {
                *L::links(next).1 = t;
            }
        }
    }

    /// Removes the member `t` (its links are cleared).
    ///
    /// # Safety
    /// `t` must be a member of this queue.
    pub unsafe fn remove(&mut self, t: *mut Tcb) {
        // SAFETY: forwarded from the caller; its neighbours are live members.
        unsafe {
            let (t_next, t_prev) = L::links(t);
            let (prev, next) = (*t_prev, *t_next);
            if prev.is_null() {
                self.head = next;
            } else {
                *L::links(prev).0 = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                *L::links(next).1 = prev;
            }
            *t_next = null_mut();
            *t_prev = null_mut();
        }
    }
}
