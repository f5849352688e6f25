//! `kill [-SIGNAL] ID...`: sends SIGNAL (a number, or TERM, KILL, INT, HUP, STOP, CONT,
//! QUIT, USR1, USR2; default TERM) to each process ID, or to process group `-ID`. Exits 1
//! when a send failed.
#![no_std]
#![no_main]

libsys::entry!(main);

/// Signal names and numbers (Linux's).
const NAMES: &[(&[u8], u32)] = &[
    (b"HUP", 1),
    (b"INT", 2),
    (b"QUIT", 3),
    (b"KILL", 9),
    (b"USR1", 10),
    (b"USR2", 12),
    (b"TERM", 15),
    (b"CONT", 18),
    (b"STOP", 19),
];

fn signal(text: &[u8]) -> Option<u32> {
    let name = text.strip_prefix(b"SIG").unwrap_or(text);
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, s)| s)
        .or_else(|| userland::parse(text).and_then(|n| u32::try_from(n).ok()))
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut args = start.args().skip(1).peekable();
    let mut sig = 15;
    // `-SIGNAL` first, when ids follow it (`kill -9 5`; `kill -5` alone is group 5).
    if let Some(first) = args.peek().and_then(|a| a.strip_prefix(b"-")) {
        if start.args().count() > 2 {
            match signal(first) {
                Some(s) => sig = s,
                None => {
                    userland::out(b"kill: unknown signal\n");
                    userland::exit(2);
                }
            }
            args.next();
        }
    }
    let mut status = 0;
    for id in args {
        let (negative, digits) = match id.strip_prefix(b"-") {
            Some(d) => (true, d),
            None => (false, id),
        };
        let Some(n) = userland::parse(digits).and_then(|n| i64::try_from(n).ok()) else {
            userland::out(b"kill: not a process id\n");
            status = 1;
            continue;
        };
        let target = if negative { -n } else { n };
        if let Err(e) = libsys::process::client::kill(target, sig) {
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"kill: ");
            let _ = userland::write_all(libsys::fs::Fd::STDERR, id);
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b": ");
            let _ = userland::write_all(libsys::fs::Fd::STDERR, e.name().as_bytes());
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"\n");
            status = 1;
        }
    }
    userland::exit(status)
}
