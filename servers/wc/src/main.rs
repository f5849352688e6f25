//! `wc [FILE...]`: lines, words and bytes of standard input (or of each file), as
//! `LINES WORDS BYTES [NAME]`.
#![no_std]
#![no_main]

use libsys::fs::{self, Fd, O_RDONLY};
use userland::{decimal, out};

libsys::entry!(main);

static mut BUFFER: [u8; 32 * 1024] = [0; 32 * 1024];

fn count(fd: Fd) -> Result<[u64; 3], fs::Errno> {
    // SAFETY: the program has one thread and this is the only reference to BUFFER.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    let (mut lines, mut words, mut bytes) = (0, 0, 0);
    let mut in_word = false;
    loop {
        let n = fs::read(fd, buffer)?;
        if n == 0 {
            return Ok([lines, words, bytes]);
        }
        bytes += n as u64;
        for &b in &buffer[..n] {
            if b == b'\n' {
                lines += 1;
            }
            let space = b.is_ascii_whitespace();
            if !space && !in_word {
                words += 1;
            }
            in_word = !space;
        }
    }
}

fn report(counts: [u64; 3], name: Option<&[u8]>) {
    let mut buf = [0u8; 20];
    for (i, c) in counts.iter().enumerate() {
        if i > 0 {
            out(b" ");
        }
        out(decimal(*c, &mut buf));
    }
    if let Some(name) = name {
        out(b" ");
        out(name);
    }
    out(b"\n");
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut status = 0;
    let mut any = false;
    for path in start.args().skip(1) {
        any = true;
        let result = fs::namespace().open(path, O_RDONLY, 0).and_then(|fd| {
            let r = count(fd);
            let _ = fs::close(fd);
            r
        });
        match result {
            Ok(c) => report(c, Some(path)),
            Err(e) => {
                userland::complain("wc", path, e);
                status = 1;
            }
        }
    }
    if !any {
        match count(Fd::STDIN) {
            Ok(c) => report(c, None),
            Err(e) => {
                userland::complain("wc", b"-", e);
                status = 1;
            }
        }
    }
    userland::exit(status)
}
