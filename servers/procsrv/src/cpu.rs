//! RLIMIT_CPU: a process whose CPU time passes its soft limit gets SIGXCPU (default action:
//! terminate), and one that passes its hard limit SIGKILL, as POSIX says.
//!
//! The kernel counts each thread's running time (`TcbReadCpuTime`, time-stamp counter
//! ticks). While some process has a finite limit, procsrv's receive loop waits with a
//! deadline (`RecvTimeout`) instead of forever, and at that deadline it reads the CPU time
//! of every limited process, signals those over their limits and sets the next deadline:
//! the soonest moment one of them could reach a limit (one CPU: a process cannot run
//! faster than the clock), but not sooner than [`MIN_INTERVAL_NANOS`] from now. So a
//! process is signalled within that interval (plus the kernel's charge granularity, a
//! timer tick) of passing its limit, and procsrv does no work for processes far from
//! theirs. Without a limited process the loop is what it was: no deadline, no reads.

use crate::table::{State, INFINITY, MAX_PROCS, RLIMIT_CPU};
use crate::Server;
use libsys::println;
use libsys::time::{now, Clock};
use procsrv_api::cpu_limit::{limit_ticks, verdict, Verdict};
use procsrv_api::signal::{SIGKILL, SIGXCPU};
use procsrv_api::{Signal, WaitStatus};

/// Shortest wait between two looks at the CPU times (10 ms: the kernel's timer tick, the
/// granularity of both its charges and its deadlines).
const MIN_INTERVAL_NANOS: u64 = 10_000_000;

/// Nanoseconds in a second.
const NANOS_PER_SECOND: u64 = 1_000_000_000;

impl Server {
    /// Reads the CPU time of every live process with a finite RLIMIT_CPU, signals those past
    /// a limit, and sets when to look next (`None` when no process is limited any more).
    pub(crate) fn enforce_cpu_limits(&mut self) {
        self.table.cpu_limits_changed = false;
        let clock = Clock::new(self.tsc_hz);
        let mut soonest: Option<u64> = None;
        let mut signals = [(0u32, 0 as Signal, 0u64); MAX_PROCS];
        let mut n = 0;
        for (p, process) in self.table.iter_mut_with_objects() {
            let limits = p.limits[RLIMIT_CPU];
            if limits == (INFINITY, INFINITY) || matches!(p.state, State::Zombie(_)) {
                continue;
            }
            let Some(process) = process else {
                continue;
            };
            let Ok(used) = process.tcb.read_cpu_time() else {
                continue;
            };
            let signal = match verdict(self.tsc_hz, used, limits, p.cpu_signalled) {
                Verdict::Within(left) => {
                    soonest = Some(soonest.map_or(left, |s| s.min(left)));
                    continue;
                }
                Verdict::Soft => {
                    p.cpu_signalled = true;
                    // If it survives SIGXCPU (ignored or blocked), its hard limit is next.
                    let left = limit_ticks(self.tsc_hz, limits.1).saturating_sub(used);
                    soonest = Some(soonest.map_or(left, |s| s.min(left)));
                    SIGXCPU
                }
                Verdict::Hard => SIGKILL,
            };
            if n < signals.len() {
                signals[n] = (p.pid, signal, used);
                n += 1;
            }
        }
        for &(pid, signal, used) in &signals[..n] {
            self.signal_over_limit(pid.into(), signal, clock.nanos_from_ticks(used));
        }
        let t = now();
        self.cpu_deadline = soonest.map(|left| {
            let wait = left.max(clock.ticks_from_nanos(MIN_INTERVAL_NANOS));
            t.saturating_add(wait)
        });
    }

    /// Sends `signal` (SIGXCPU or SIGKILL) to `pid`, which has run `used_nanos`; when that
    /// ends it, one console line names it and the signal.
    fn signal_over_limit(&mut self, pid: u64, signal: Signal, used_nanos: u64) {
        let Some(p) = self.table.get(pid) else {
            return;
        };
        let name = crate::table::name_bytes(p.name.split(|&b| b == 0).next().unwrap_or(&[]));
        let (soft, hard) = p.limits[RLIMIT_CPU];
        let (limit, which, signal_name) = if signal == SIGKILL {
            (hard, "hard", "SIGKILL")
        } else {
            (soft, "soft", "SIGXCPU")
        };
        self.deliver(pid, signal);
        let dead = self.table.get(pid).is_none_or(
            |p| matches!(p.state, State::Zombie(WaitStatus::Signaled(s)) if s == signal),
        );
        if dead {
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            println!(
                "procsrv: pid {pid} ({}) killed by {signal_name}: CPU time {}.{:03} s passed its {which} RLIMIT_CPU of {limit} s",
                core::str::from_utf8(name).unwrap_or("?"),
                used_nanos / NANOS_PER_SECOND,
                used_nanos % NANOS_PER_SECOND / 1_000_000,
            );
        }
    }
}
