//! `env`: the environment it was hatched with, one `NAME=value` a line.
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    for variable in start.env() {
        userland::out(variable);
        userland::out(b"\n");
    }
    userland::exit(0)
}
