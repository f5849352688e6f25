//! Long capability operations in bounded steps: `CNodeDelete`, `CNodeRevoke`, and the
//! deletions inside `TcbConfigure`.
//!
//! Deleting the last cap to a big CNode, or revoking an untyped that holds a process, can
//! empty thousands of slots. kerncore's [`Deletion`] and [`Revocation`] do bounded work per
//! step (one cap removed, up to 256 empty slots passed over) and are plain data between
//! steps, so the kernel runs them for at most [`BUDGET`]
//! time-stamp counter ticks per kernel entry, then parks the paused operation here and
//! restarts the caller's system call (`rip` back on its `syscall`; interrupts are taken on
//! the way), as seL4 does with its preemption points.
//!
//! While an operation is parked no other capability operation may run (zombies exist only
//! during one), so every system call off the IPC fast path first continues the parked
//! operation: if that does not finish within the budget, the call is restarted too. The
//! timer tick also continues it, so it finishes even if its owner was destroyed by it. The
//! IPC fast path and interrupt delivery make no capability operations. When the operation
//! finishes, its owner's restarted call returns success (at once if the owner finished it
//! itself, else the next time the owner enters the kernel) — or, for a deletion that is
//! only a step of a call (`TcbConfigure` replacing a binding), the call runs again from
//! the start, now finding the slot empty ([`After::RunCallAgain`]).

use super::asid::PoolTeardown;
use super::vspace::Teardown;
use super::{finalise, KernelSlots, Output};
use crate::thread::{Tcb, TcbPtr};
use core::sync::atomic::{AtomicBool, Ordering};
use kerncore::{Cap, Deletion, Revocation, Step};
use spin::Mutex;

/// Time-stamp counter ticks of capability work per kernel entry (instructions under
/// `-icount`).
pub const BUDGET: u64 = 50_000;

/// A long operation.
#[derive(Clone, Copy)]
pub enum Work {
    /// `CNodeDelete`.
    Delete(Deletion),
    /// `CNodeRevoke`.
    Revoke(Revocation),
}

impl Work {
    fn step(&mut self) -> Step {
        match self {
            Work::Delete(d) => d.step(&mut KernelSlots),
            Work::Revoke(r) => r.step(&mut KernelSlots),
        }
    }

    /// The work is finished: a revoked untyped that the revocation left partly zero starts
    /// over now when little is left to zero (see `untyped::start_over_after_revoke`).
    fn finished(&self) {
        if let Work::Revoke(r) = self {
            if let Some((untyped, zeroed_end)) = r.zeroed_prefix() {
                super::untyped::start_over_after_revoke(untyped, zeroed_end);
            }
        }
    }
}

/// What finishing a long operation means for the call that started it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The call is done (`CNodeDelete`, `CNodeRevoke`): it returns success.
    CallDone,
    /// The operation was one step of the call (`TcbConfigure`'s deletion of a binding):
    /// the restarted call runs again from the start.
    RunCallAgain,
}

/// The parked operation and the thread whose call it is (null once that thread is gone).
struct Parked {
    owner: *mut Tcb,
    work: Work,
    /// What its finishing means for the owner's call.
    after: After,
    /// An address space or pool being emptied (finished before the operation goes on).
    teardown: Option<Cleanup>,
}

/// Work a destroyed object leaves, done in steps too.
#[derive(Clone, Copy)]
enum Cleanup {
    /// An address space's tables.
    VSpace(Teardown),
    /// The address spaces of an ASID pool.
    Pool(PoolTeardown),
}

impl Cleanup {
    fn step(&mut self) -> bool {
        match self {
            Cleanup::VSpace(t) => t.step(),
            Cleanup::Pool(t) => t.step(),
        }
    }
}

/// At most one parked operation.
struct Slot(Option<Parked>);

// SAFETY: touched only on the single CPU with interrupts off, through the mutex; `owner`
// is a live TCB or null (cleared when the TCB is destroyed, see `run`).
unsafe impl Send for Slot {}

static PARKED: Mutex<Slot> = Mutex::new(Slot(None));
/// Whether [`PARKED`] holds an operation (read without the lock on every slow call).
static ANY_PARKED: AtomicBool = AtomicBool::new(false);

/// Whether an operation is parked (the IPC fast path's cap transfer leaves such calls to
/// the general path, which continues it first).
#[inline(always)]
pub fn any_parked() -> bool {
    ANY_PARKED.load(Ordering::Relaxed)
}

/// Parks `p`.
fn park(p: Parked) {
    PARKED.lock().0 = Some(p);
    ANY_PARKED.store(true, Ordering::Relaxed);
}

/// Takes the parked operation, if any.
fn unpark() -> Option<Parked> {
    if !ANY_PARKED.swap(false, Ordering::Relaxed) {
        return None;
    }
    PARKED.lock().0.take()
}

/// Runs the operation until it finishes (true) or `deadline` passes (false). A TCB
/// destroyed on the way that is its owner clears the owner; an address space destroyed on
/// the way is emptied in steps too, before the operation goes on.
fn run(p: &mut Parked, deadline: u64) -> bool {
    loop {
        if let Some(teardown) = &mut p.teardown {
            if teardown.step() {
                p.teardown = None;
            }
        } else {
            match p.work.step() {
                Step::Finished => {
                    p.work.finished();
                    return true;
                }
                Step::Removed(f) => match (f.is_final, f.cap) {
                    (true, Cap::Pml4 { object, asid }) => {
                        let t = super::vspace::begin_destroy(object, asid);
                        p.teardown = Some(Cleanup::VSpace(t));
                    }
                    (true, Cap::AsidPool { object, first_asid }) => {
                        let t = super::asid::begin_destroy_pool(object, first_asid);
                        p.teardown = Some(Cleanup::Pool(t));
                    }
                    (true, Cap::Tcb { object }) => {
                        if crate::mem::phys_to_virt(object) == p.owner as u64 {
                            p.owner = core::ptr::null_mut();
                        }
                        finalise(f);
                    }
                    _ => finalise(f),
                },
                Step::Working => {}
            }
        }
        if crate::time::now() >= deadline {
            return false;
        }
    }
}

/// Performs `work` for `owner` (the current thread): `Ok` when it finished within this
/// entry's budget, else it is parked and the call must be restarted (`Err`); `after`
/// says what the restarted call does once the work is finished.
pub fn perform(owner: *mut Tcb, work: Work, after: After) -> Result<(), ()> {
    let mut p = Parked {
        owner,
        work,
        after,
        teardown: None,
    };
    if run(&mut p, crate::time::now() + BUDGET) {
        return Ok(());
    }
    park(p);
    Err(())
}

/// What a system call must do about a parked operation before it runs.
pub enum Before {
    /// Nothing is parked: go ahead.
    Proceed,
    /// The thread's own restarted call has finished: return success.
    OwnCallDone,
    /// The parked operation is still not finished: restart this call.
    Restart,
}

/// Continues the parked operation, if any, for a system call of `current`.
pub fn before_syscall(current: TcbPtr) -> Before {
    let me = current.as_raw();
    if let Some(mut p) = unpark() {
        if !run(&mut p, crate::time::now() + BUDGET) {
            park(p);
            return Before::Restart;
        }
        if p.owner == me {
            return match p.after {
                After::CallDone => Before::OwnCallDone,
                After::RunCallAgain => Before::Proceed,
            };
        }
        finished_for_owner(&p);
    }
    if current.long_op_done() {
        current.set_long_op_done(false);
        return Before::OwnCallDone;
    }
    Before::Proceed
}

/// The timer tick continues the parked operation (the interrupted context is user mode or
/// idle, never the kernel, so no other operation is in progress).
pub fn continue_from_timer() {
    if let Some(mut p) = unpark() {
        if !run(&mut p, crate::time::now() + BUDGET) {
            park(p);
        } else {
            finished_for_owner(&p);
        }
    }
}

/// Someone else finished `p`: its owner's restarted call returns success when the
/// operation was the whole call (else it simply runs again).
fn finished_for_owner(p: &Parked) {
    if p.after != After::CallDone {
        return;
    }
    // SAFETY: a non-null owner is a live TCB (cleared when destroyed).
    if let Some(owner) = unsafe { TcbPtr::from_raw(p.owner) } {
        owner.set_long_op_done(true);
    }
}

/// A TCB is being destroyed: it owns no parked operation any more.
pub fn forget_owner(tcb: *mut Tcb) {
    if !ANY_PARKED.load(Ordering::Relaxed) {
        return;
    }
    if let Some(p) = PARKED.lock().0.as_mut() {
        if p.owner == tcb {
            p.owner = core::ptr::null_mut();
        }
    }
}

/// The reply of a finished delete or revoke.
pub fn done_output() -> Output {
    Output::empty()
}
