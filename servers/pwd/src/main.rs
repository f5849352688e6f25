//! `pwd`: the working directory of this process, as procsrv keeps it (the directory it
//! was hatched in, or the egg's `chdir`).
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let _start = unsafe { userland::start(arg) };
    match libsys::process::client::info() {
        Ok(info) => {
            userland::out(&info.cwd[..info.cwd_len]);
            userland::out(b"\n");
            userland::exit(0)
        }
        Err(e) => {
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"pwd: ");
            let _ = userland::write_all(libsys::fs::Fd::STDERR, e.name().as_bytes());
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"\n");
            userland::exit(1)
        }
    }
}
