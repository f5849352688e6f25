//! `echo [ARG...]`: the arguments, separated by spaces, and a newline.
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    for (i, a) in start.args().skip(1).enumerate() {
        if i > 0 {
            userland::out(b" ");
        }
        userland::out(a);
    }
    userland::out(b"\n");
    userland::exit(0)
}
