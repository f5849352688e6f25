//! What the CPU does when no thread is runnable.
//!
//! Normally it halts until the next interrupt. With `exit` on the command line (tests,
//! `cargo xtask run` without a terminal) a system with nothing left to run is finished,
//! so the kernel reports it and powers the VM off.

use crate::arch::trap::TrapFrame;

/// Halts with interrupts on until something happens; runs in ring 0 on the kernel stack.
pub extern "C" fn idle_loop() -> ! {
    loop {
        // SAFETY: enabling interrupts and halting is the idle loop's whole purpose; the
        // interrupt entry saves and replaces this context.
        unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
    }
}

/// Loads the idle context into `frame`, or ends the run when `exit` is set.
pub fn enter(frame: &mut TrapFrame) {
    if crate::options().exit {
        crate::info!("hatchery: system idle (no runnable thread); powering off");
        crate::finish(true);
    }
    *frame = crate::sched::idle_context();
}
