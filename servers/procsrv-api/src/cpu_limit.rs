//! RLIMIT_CPU's arithmetic (procsrv enforces it; docs/procsrv.md, *CPU time*): when a
//! process that has run some time-stamp counter ticks is past its soft limit (SIGXCPU,
//! once), past its hard limit (SIGKILL), or how long it has before it could reach the next.

/// RLIM_INFINITY: no limit.
pub const UNLIMITED: u64 = u64::MAX;

/// The counter ticks of `seconds` at `hz` ticks a second (saturating: a limit past the end
/// of the counter is never reached; [`UNLIMITED`] is `u64::MAX` ticks; `hz` 0 counts as 1).
pub fn limit_ticks(hz: u64, seconds: u64) -> u64 {
    if seconds == UNLIMITED {
        return u64::MAX;
    }
    let ticks = u128::from(seconds) * u128::from(hz.max(1));
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// What the check decides for one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under its limits: it cannot reach the next one sooner than this many counter ticks
    /// from now (one CPU: a process runs at most as fast as the clock).
    Within(u64),
    /// Past its soft limit for the first time: SIGXCPU.
    Soft,
    /// Past its hard limit: SIGKILL.
    Hard,
}

/// The verdict for a process that has run `used` counter ticks (at `hz` a second) with
/// RLIMIT_CPU `(soft, hard)` in seconds, having been sent SIGXCPU already or not.
pub fn verdict(hz: u64, used: u64, limits: (u64, u64), signalled: bool) -> Verdict {
    let (soft, hard) = (limit_ticks(hz, limits.0), limit_ticks(hz, limits.1));
    if used >= hard {
        return Verdict::Hard;
    }
    if used >= soft && !signalled {
        return Verdict::Soft;
    }
    let next = if used >= soft { hard } else { soft };
    Verdict::Within(next - used)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 1_000_000_000;

    #[test]
    fn a_process_under_its_soft_limit_is_looked_at_again_when_it_could_reach_it() {
        assert_eq!(
            verdict(HZ, HZ / 4, (1, 2), false),
            Verdict::Within(3 * HZ / 4)
        );
    }

    #[test]
    fn passing_the_soft_limit_sends_sigxcpu_once_then_the_hard_limit_is_next() {
        assert_eq!(verdict(HZ, HZ, (1, 3), false), Verdict::Soft);
        assert_eq!(verdict(HZ, HZ, (1, 3), true), Verdict::Within(2 * HZ));
    }

    #[test]
    fn passing_the_hard_limit_sends_sigkill_even_before_any_sigxcpu() {
        assert_eq!(verdict(HZ, 2 * HZ, (1, 2), true), Verdict::Hard);
        assert_eq!(verdict(HZ, 5 * HZ, (1, 1), false), Verdict::Hard);
    }

    #[test]
    fn an_unlimited_hard_limit_is_never_reached_and_huge_limits_saturate() {
        assert_eq!(
            verdict(HZ, u64::MAX - 1, (UNLIMITED, UNLIMITED), false),
            Verdict::Within(1)
        );
        assert_eq!(
            verdict(HZ, 7 * HZ, (5, UNLIMITED), true),
            Verdict::Within(u64::MAX - 7 * HZ)
        );
        assert_eq!(limit_ticks(HZ, u64::MAX - 1), u64::MAX);
        assert_eq!(limit_ticks(3, 2), 6);
    }
}
