//! What the CPU does when no thread is runnable.
//!
//! Normally it halts until the next interrupt. With `exit` on the command line (tests,
//! `cargo xtask run` without a terminal) a system with nothing left to run is finished,
//! so the kernel reports it and powers the VM off (unless a thread waits with a deadline:
//! the timer will wake it).

/// Halts with interrupts on until something happens; runs in ring 0 on the kernel stack.
pub extern "C" fn idle_loop() -> ! {
    loop {
        // SAFETY: enabling interrupts and halting is the idle loop's whole purpose; the
        // interrupt entry saves and replaces this context.
        unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
    }
}

/// Called when the CPU is about to go idle: ends the run when `exit` is set.
pub fn enter() {
    let hits = &crate::fastpath::HITS;
    crate::debug!(
        "fast path: {} calls, {} reply-receives",
        hits[0].load(core::sync::atomic::Ordering::Relaxed),
        hits[1].load(core::sync::atomic::Ordering::Relaxed)
    );
    if crate::options().exit && !crate::sched::SCHEDULER.lock().has_timeouts() {
        crate::info!("hatchery: system idle (no runnable thread); powering off");
        crate::finish(true);
    }
}
