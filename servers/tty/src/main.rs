//! `tty`: the name of the terminal on standard input (`/dev/console`, `/dev/pts/N`), or
//! `not a tty` and status 1.
#![no_std]
#![no_main]

use libsys::fs::Fd;

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let _start = unsafe { userland::start(arg) };
    let mut buf = [0u8; 32];
    match userland::terminal_of(Fd::STDIN, &mut buf) {
        Some(name) => {
            userland::out(name);
            userland::out(b"\n");
            userland::exit(0)
        }
        None => {
            userland::out(b"not a tty\n");
            userland::exit(1)
        }
    }
}
