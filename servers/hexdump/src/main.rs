//! `hexdump [FILE...]`: standard input or the files, concatenated, in the canonical form of
//! `hexdump -C`: an 8-digit hex offset, 16 bytes in hex (a gap after 8), the printable
//! ones between `|`; then the total length. Repeated lines are printed, not folded (`*`).
#![no_std]
#![no_main]

use libsys::fs::{self, Fd, O_RDONLY};
use userland::{digits, out};

libsys::entry!(main);

/// Bytes a line shows.
const LINE: usize = 16;

/// The dump so far: the offset and a partial line.
struct Dump {
    offset: u64,
    line: [u8; LINE],
    filled: usize,
}

impl Dump {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.line[self.filled] = b;
            self.filled += 1;
            if self.filled == LINE {
                self.flush();
            }
        }
    }

    /// Prints the partial line, if any.
    fn flush(&mut self) {
        if self.filled == 0 {
            return;
        }
        let mut text = [b' '; 80];
        let mut buf = [0u8; 64];
        let at = digits(self.offset, 16, 8, &mut buf);
        text[..8].copy_from_slice(&at[at.len() - 8..]);
        let mut column = 10;
        for i in 0..LINE {
            if i == 8 {
                column += 1;
            }
            if i < self.filled {
                let hex = digits(self.line[i].into(), 16, 2, &mut buf);
                text[column..column + 2].copy_from_slice(hex);
            }
            column += 3;
        }
        column += 1;
        text[column] = b'|';
        for (i, &b) in self.line[..self.filled].iter().enumerate() {
            text[column + 1 + i] = if (0x20..0x7f).contains(&b) { b } else { b'.' };
        }
        let end = column + 1 + self.filled;
        text[end] = b'|';
        text[end + 1] = b'\n';
        out(&text[..end + 2]);
        self.offset += self.filled as u64;
        self.filled = 0;
    }
}

static mut BUFFER: [u8; 16 * 1024] = [0; 16 * 1024];

fn dump_fd(dump: &mut Dump, fd: Fd) -> Result<(), fs::Errno> {
    // SAFETY: the program has one thread and this is the only reference to BUFFER.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    loop {
        let n = fs::read(fd, buffer)?;
        if n == 0 {
            return Ok(());
        }
        dump.push(&buffer[..n]);
    }
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut dump = Dump {
        offset: 0,
        line: [0; LINE],
        filled: 0,
    };
    let mut status = 0;
    let mut any = false;
    for path in start.args().skip(1) {
        any = true;
        let result = fs::namespace().open(path, O_RDONLY, 0).and_then(|fd| {
            let r = dump_fd(&mut dump, fd);
            let _ = fs::close(fd);
            r
        });
        if let Err(e) = result {
            userland::complain("hexdump", path, e);
            status = 1;
        }
    }
    if !any {
        if let Err(e) = dump_fd(&mut dump, Fd::STDIN) {
            userland::complain("hexdump", b"-", e);
            status = 1;
        }
    }
    dump.flush();
    let mut buf = [0u8; 64];
    let total = digits(dump.offset, 16, 8, &mut buf);
    out(total);
    out(b"\n");
    userland::exit(status)
}
