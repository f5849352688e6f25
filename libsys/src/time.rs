//! Time for userspace: the time-stamp counter and deadlines.
//!
//! Every time in the ABI is a value of the CPU's time-stamp counter (TSC), read with
//! [`now`]. The kernel measures the counter's frequency once at boot and puts it in the
//! boot info ([`crate::bootinfo::BootInfo::tsc_hz`]); a [`Clock`] made from it converts
//! between counter ticks and nanoseconds. Deadlines are absolute counter values, so a
//! retried call keeps its original deadline.
//!
//! The kernel checks deadlines at its timer tick (100 Hz), so a timed wait ends at the
//! first tick at or after its deadline: up to 10 ms late, never early. Under QEMU with
//! `-icount` the counter counts executed instructions and the virtual clock jumps while
//! the CPU halts, so the measured frequency and every deadline are in that virtual time.

/// Converts between time-stamp counter ticks and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Counter ticks per second (at least 1).
    hz: u64,
}

/// Nanoseconds in a second.
const NANOS_PER_SECOND: u128 = 1_000_000_000;

impl Clock {
    /// A clock whose counter runs at `tsc_hz` ticks per second (0 is taken as 1, so that no
    /// conversion divides by zero).
    pub const fn new(tsc_hz: u64) -> Clock {
        Clock {
            hz: if tsc_hz == 0 { 1 } else { tsc_hz },
        }
    }

    /// Counter ticks per second.
    pub const fn hz(self) -> u64 {
        self.hz
    }

    /// Counter ticks in `nanos` nanoseconds, rounded up (saturating).
    pub const fn ticks_from_nanos(self, nanos: u64) -> u64 {
        let ticks = (nanos as u128 * self.hz as u128).div_ceil(NANOS_PER_SECOND);
        if ticks > u64::MAX as u128 {
            u64::MAX
        } else {
            ticks as u64
        }
    }

    /// Nanoseconds in `ticks` counter ticks, rounded down (saturating).
    pub const fn nanos_from_ticks(self, ticks: u64) -> u64 {
        let nanos = ticks as u128 * NANOS_PER_SECOND / self.hz as u128;
        if nanos > u64::MAX as u128 {
            u64::MAX
        } else {
            nanos as u64
        }
    }

    /// The deadline `nanos` nanoseconds after the counter value `from` (saturating: a
    /// deadline past the end of the counter never comes).
    pub const fn deadline_after(self, from: u64, nanos: u64) -> u64 {
        from.saturating_add(self.ticks_from_nanos(nanos))
    }
}

/// The time-stamp counter now (under QEMU `-icount shift=0`, instructions executed: the
/// benchmarks' clock).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn now() -> u64 {
    // SAFETY: `rdtsc` reads a counter; the kernel leaves CR4.TSD clear, so it is allowed
    // in user mode, and it touches no memory.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_converts_both_ways_at_its_frequency() {
        let clock = Clock::new(2_000_000_000);
        assert_eq!(clock.ticks_from_nanos(1_000), 2_000);
        assert_eq!(clock.nanos_from_ticks(2_000), 1_000);
        assert_eq!(clock.ticks_from_nanos(1), 2);
    }

    #[test]
    fn ticks_round_up_so_a_deadline_is_never_early() {
        let clock = Clock::new(3);
        assert_eq!(clock.ticks_from_nanos(1), 1);
        assert_eq!(clock.nanos_from_ticks(1), 333_333_333);
    }

    #[test]
    fn conversions_and_deadlines_saturate_instead_of_wrapping() {
        let clock = Clock::new(u64::MAX);
        assert_eq!(clock.ticks_from_nanos(u64::MAX), u64::MAX);
        assert_eq!(clock.deadline_after(u64::MAX - 1, 10), u64::MAX);
        assert_eq!(Clock::new(1).nanos_from_ticks(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_zero_frequency_does_not_divide_by_zero() {
        assert_eq!(Clock::new(0).hz(), 1);
        assert_eq!(Clock::new(0).nanos_from_ticks(5), 5_000_000_000);
    }
}
