//! Stopping threads: suspension and unhandled faults.

use crate::sched::SCHEDULER;
use crate::thread::{Tcb, ThreadState};

/// Suspends a thread: it stops running until resumed.
pub fn suspend(tcb: &mut Tcb) {
    let mut s = SCHEDULER.lock();
    // SAFETY: `tcb` is a live TCB.
    unsafe { s.remove(tcb) };
    if tcb.state != ThreadState::Suspended {
        s.live_threads = s.live_threads.saturating_sub(1);
    }
    tcb.state = ThreadState::Suspended;
    crate::debug!("thread {} suspended", tcb.name());
}
