//! `sleep SECONDS`: waits that long (a decimal fraction allowed: `sleep 0.25`) on the
//! kernel's clock (`Sleep` until a deadline of the time-stamp counter, whose rate procsrv
//! tells). The kernel wakes sleepers at its 100 Hz tick, so the wait ends up to 10 ms late.
#![no_std]
#![no_main]

use libsys::process::client;

libsys::entry!(main);

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// `S`, `S.F` or `.F` seconds in nanoseconds (at most 9 fraction digits count).
fn parse_seconds(text: &[u8]) -> Option<u64> {
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let seconds = if whole.is_empty() {
        0
    } else {
        userland::parse(whole)?
    };
    let mut nanos = 0u64;
    let mut scale = NANOS_PER_SECOND;
    for &b in fraction {
        if !b.is_ascii_digit() {
            return None;
        }
        scale /= 10;
        nanos += u64::from(b - b'0') * scale;
    }
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let Some(nanos) = start.arg(1).and_then(parse_seconds) else {
        let _ = userland::write_all(libsys::fs::Fd::STDERR, b"usage: sleep SECONDS\n");
        userland::exit(2)
    };
    let clock = match client::clock() {
        Ok(clock) => clock,
        Err(e) => {
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"sleep: no clock: ");
            let _ = userland::write_all(libsys::fs::Fd::STDERR, e.name().as_bytes());
            userland::exit(1)
        }
    };
    let deadline = clock.deadline_after(libsys::time::now(), nanos);
    // The kernel may wake a sleeper at a tick before the deadline's; sleep again then.
    while libsys::time::now() < deadline {
        libsys::syscall::sleep_until(deadline);
    }
    userland::exit(0)
}
