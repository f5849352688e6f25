//! `cat [FILE...]`: each file (standard input without any, or for `-`) to standard
//! output. Exits 1 when a file could not be read.
#![no_std]
#![no_main]

use libsys::fs::{self, Fd, O_RDONLY};

libsys::entry!(main);

/// One read's worth (the I/O window's size).
static mut BUFFER: [u8; 32 * 1024] = [0; 32 * 1024];

fn copy(fd: Fd) -> Result<(), fs::Errno> {
    // SAFETY: the program has one thread and this is the only reference to BUFFER.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    loop {
        let n = fs::read(fd, buffer)?;
        if n == 0 {
            return Ok(());
        }
        userland::write_all(Fd::STDOUT, &buffer[..n])?;
    }
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut status = 0;
    let mut any = false;
    for path in start.args().skip(1) {
        any = true;
        if path == b"-" {
            if let Err(e) = copy(Fd::STDIN) {
                userland::complain("cat", b"-", e);
                status = 1;
            }
            continue;
        }
        let result = fs::namespace().open(path, O_RDONLY, 0).and_then(|fd| {
            let r = copy(fd);
            let _ = fs::close(fd);
            r
        });
        if let Err(e) = result {
            userland::complain("cat", path, e);
            status = 1;
        }
    }
    if !any {
        if let Err(e) = copy(Fd::STDIN) {
            userland::complain("cat", b"-", e);
            status = 1;
        }
    }
    userland::exit(status)
}
