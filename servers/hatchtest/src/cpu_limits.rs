//! RLIMIT_CPU (docs/procsrv.md, *CPU time*): a spinning child past its soft limit ends by
//! SIGXCPU, past its hard limit by SIGKILL, within a bounded time; a child under its limit
//! and an unlimited spinner are untouched; procsrv serves others meanwhile.

use crate::tests::{cmd, run_to_end, Tally};
use libsys::println;
use libsys::process::client;
use libsys::time::now;
use procsrv_api::signal::{SIGKILL, SIGXCPU};
use procsrv_api::WaitStatus;

/// RLIMIT_CPU's resource number.
const RLIMIT_CPU: u64 = 0;

/// A spinner with RLIMIT_CPU `(soft, hard)` (and `ignore` as its ignored signals): how it
/// ended and the seconds (tenths) from its hatch to its end as the driver saw them.
fn spin_until_limited(soft: u64, hard: u64, ignore: u64) -> Option<(WaitStatus, u64)> {
    let clock = client::clock().ok()?;
    let start = now();
    let mut child = cmd(b"spin")
        .sigignore(ignore)
        .setrlimit(RLIMIT_CPU, soft, hard)
        .spawn()
        .ok()?;
    let status = child.wait().ok()?;
    let tenths = clock.nanos_from_ticks(now() - start) / 100_000_000;
    Some((status, tenths))
}

#[inline(never)]
pub(crate) fn cpu_limits(t: &mut Tally) {
    // Beside the limited spinners: an unlimited one (untouched) and a limited child that
    // ends well within its limit.
    let unlimited = cmd(b"spin").spawn();
    t.check("an unlimited spinner hatches", unlimited.is_ok());
    let within = cmd(b"exit").arg(b"3").setrlimit(RLIMIT_CPU, 100, 100);
    t.check(
        "a child under its RLIMIT_CPU ends as it chose",
        run_to_end(&within) == Ok(WaitStatus::Exited(3)),
    );

    // Soft = hard = 1 s: the hard limit, so SIGKILL (as Linux does). The driver shares the
    // CPU with the unlimited spinner (round robin), so the wall time is about 2 s.
    let killed = spin_until_limited(1, 1, 0);
    println!("hatchtest: RLIMIT_CPU 1 1: {killed:?} (status, tenths of a second)");
    t.check(
        "a spinner with RLIMIT_CPU 1 1 ends by SIGKILL within 4 s",
        matches!(killed, Some((WaitStatus::Signaled(SIGKILL), tenths)) if (10..=40).contains(&tenths)),
    );
    let soft = spin_until_limited(1, 5, 0);
    println!("hatchtest: RLIMIT_CPU 1 5: {soft:?}");
    t.check(
        "a spinner past its soft RLIMIT_CPU of 1 s ends by SIGXCPU within 4 s",
        matches!(soft, Some((WaitStatus::Signaled(SIGXCPU), tenths)) if (10..=40).contains(&tenths)),
    );
    let xcpu = 1u64 << (SIGXCPU - 1);
    let ignored = spin_until_limited(1, 2, xcpu);
    println!("hatchtest: RLIMIT_CPU 1 2, SIGXCPU ignored: {ignored:?}");
    t.check(
        "a spinner ignoring SIGXCPU runs on to its hard limit: SIGKILL after 2 s",
        matches!(ignored, Some((WaitStatus::Signaled(SIGKILL), tenths)) if (20..=80).contains(&tenths)),
    );

    t.check(
        "procsrv serves others after the limited ones died",
        run_to_end(&cmd(b"exit").arg(b"3")) == Ok(WaitStatus::Exited(3)),
    );
    if let Ok(mut spinner) = unlimited {
        t.check(
            "the unlimited spinner is untouched",
            spinner.try_wait() == Ok(None),
        );
        let _ = spinner.kill(SIGKILL);
        t.check(
            "the unlimited spinner dies of the SIGKILL sent",
            spinner.wait() == Ok(WaitStatus::Signaled(SIGKILL)),
        );
    }
}
