//! `ps`: every process procsrv knows, one a line: pid, ppid, pgid, sid, the controlling
//! terminal of its session (`console`, `pts/N`, `?` for none), uid, state (R running, S
//! suspended before its start, T stopped, Z zombie), name.
#![no_std]
#![no_main]

use procsrv_api::PsEntry;
use userland::{decimal, out};

libsys::entry!(main);

fn column(n: u64, width: usize) {
    let mut buf = [0u8; 20];
    let digits = decimal(n, &mut buf);
    for _ in digits.len()..width {
        out(b" ");
    }
    out(digits);
    out(b" ");
}

fn state_name(state: u64) -> &'static [u8] {
    match state {
        0 => b"R",
        1 => b"S",
        2 => b"T",
        3 => b"Z",
        _ => b"?",
    }
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let _start = unsafe { userland::start(arg) };
    out(b"  PID  PPID  PGID   SID TTY       UID S NAME\n");
    let mut from = 0;
    let mut entries = [PsEntry::default(); 8];
    loop {
        let n = match libsys::process::client::list(from, &mut entries) {
            Ok(n) => n,
            Err(_) => userland::exit(1),
        };
        if n == 0 {
            break;
        }
        for e in &entries[..n] {
            column(e.pid, 5);
            column(e.ppid, 5);
            column(e.pgid, 5);
            column(e.sid, 5);
            let mut buf = [0u8; 24];
            let tty = PsEntry::tty_name(e.tty, &mut buf);
            out(tty);
            for _ in tty.len()..8 {
                out(b" ");
            }
            column(e.uid, 5);
            out(state_name(e.state));
            out(b" ");
            let len = e.name.iter().position(|&b| b == 0).unwrap_or(e.name.len());
            out(&e.name[..len]);
            out(b"\n");
            from = e.pid + 1;
        }
    }
    userland::exit(0)
}
