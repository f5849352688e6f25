//! `head [-n N | -N] [FILE...]`: the first N lines (10) of standard input or of each file.
#![no_std]
#![no_main]

use libsys::fs::{self, Fd, O_RDONLY};

libsys::entry!(main);

static mut BUFFER: [u8; 32 * 1024] = [0; 32 * 1024];

/// Copies lines from `fd` until `lines` newlines went out or the input ends.
fn head(fd: Fd, mut lines: u64) -> Result<(), fs::Errno> {
    // SAFETY: the program has one thread and this is the only reference to BUFFER.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    while lines > 0 {
        let n = fs::read(fd, buffer)?;
        if n == 0 {
            break;
        }
        let mut end = n;
        for (i, &b) in buffer[..n].iter().enumerate() {
            if b == b'\n' {
                lines -= 1;
                if lines == 0 {
                    end = i + 1;
                    break;
                }
            }
        }
        userland::write_all(Fd::STDOUT, &buffer[..end])?;
    }
    Ok(())
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut lines = 10;
    let mut args = start.args().skip(1).peekable();
    if args.peek() == Some(&&b"-n"[..]) {
        args.next();
        match args.next().and_then(userland::parse) {
            Some(n) => lines = n,
            None => {
                userland::out(b"head: -n wants a number\n");
                userland::exit(2);
            }
        }
    } else if let Some(n) = args
        .peek()
        .and_then(|a| a.strip_prefix(b"-"))
        .filter(|digits| !digits.is_empty())
        .and_then(userland::parse)
    {
        // The historical `head -5`, which scripts still use.
        args.next();
        lines = n;
    }
    let mut status = 0;
    let mut any = false;
    for path in args {
        any = true;
        let result = fs::namespace().open(path, O_RDONLY, 0).and_then(|fd| {
            let r = head(fd, lines);
            let _ = fs::close(fd);
            r
        });
        if let Err(e) = result {
            userland::complain("head", path, e);
            status = 1;
        }
    }
    if !any {
        if let Err(e) = head(Fd::STDIN, lines) {
            userland::complain("head", b"-", e);
            status = 1;
        }
    }
    userland::exit(status)
}
