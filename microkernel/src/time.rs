//! Time: the time-stamp counter, its frequency, and timed waits.
//!
//! Deadlines in the ABI are time-stamp counter values (`libsys::time`). The kernel measures
//! the counter's frequency once at boot, against the same 10 ms of the PIT that calibrates
//! the APIC timer, and hands it to the root task in the boot info. Timed waits
//! (`CallTimeout`, `RecvTimeout`, `Sleep`) sit in the scheduler's sorted timeout list; the
//! timer interrupt (`sched::timer_tick`) ends those whose deadline has passed.

use core::sync::atomic::{AtomicU64, Ordering};

/// Time-stamp counter ticks per second (0 until calibrated).
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// The time-stamp counter now.
#[inline]
pub fn now() -> u64 {
    // SAFETY: `rdtsc` only reads the counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Records the counter's frequency from `ticks` counted over `micros` microseconds.
pub fn set_frequency(ticks: u64, micros: u64) {
    let hz = u128::from(ticks) * 1_000_000 / u128::from(micros.max(1));
    TSC_HZ.store(u64::try_from(hz).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Time-stamp counter ticks per second, as measured at boot.
pub fn frequency() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}
