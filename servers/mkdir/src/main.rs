//! `mkdir DIR...`: makes each directory (mode 0777 less the umask). Exits 1 when one
//! could not be made.
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut status = 0;
    for path in start.args().skip(1) {
        if let Err(e) = libsys::fs::namespace().mkdir(path, 0o777) {
            userland::complain("mkdir", path, e);
            status = 1;
        }
    }
    userland::exit(status)
}
