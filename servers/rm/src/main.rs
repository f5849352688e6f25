//! `rm FILE...`: removes each file (not directories). Exits 1 when one could not be
//! removed.
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut status = 0;
    for path in start.args().skip(1) {
        if let Err(e) = libsys::fs::namespace().unlink(path) {
            userland::complain("rm", path, e);
            status = 1;
        }
    }
    userland::exit(status)
}
