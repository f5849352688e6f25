//! What the small programs of `/bin` (`servers/echo`, `cat`, `ls`, ...) share: start-up
//! (the arguments), writing whole buffers, and one-line errors on fd 2.
#![no_std]
#![warn(missing_docs)]

use libsys::fs::{self, Errno, Fd};
use libsys::process::Startup;

/// Starts a hatched program: returns its arguments. (Its I/O window is attached by
/// libsys at the first read or write, `libsys::fs`.)
///
/// # Safety
/// `arg` must be the value procsrv started the process with (`rdi`, the address of its
/// System V initial stack), and the stack above the running one must stay untouched.
pub unsafe fn start(arg: u64) -> Startup {
    // SAFETY: the caller passes procsrv's start argument (this function's contract).
    unsafe { Startup::from_stack(arg) }
}

/// Writes all of `bytes` to `fd`.
///
/// # Errors
/// The file server's errno (EPIPE when nobody reads a pipe any more).
pub fn write_all(fd: Fd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        let n = fs::write(fd, bytes)?;
        if n == 0 {
            return Err(Errno::EIO);
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

/// Writes `bytes` to standard output (errors ignored: there is nobody to tell).
pub fn out(bytes: &[u8]) {
    let _ = write_all(Fd::STDOUT, bytes);
}

/// Writes `program: what: error` and a newline to standard error.
pub fn complain(program: &str, what: &[u8], errno: Errno) {
    let _ = write_all(Fd::STDERR, program.as_bytes());
    let _ = write_all(Fd::STDERR, b": ");
    let _ = write_all(Fd::STDERR, what);
    let _ = write_all(Fd::STDERR, b": ");
    let _ = write_all(Fd::STDERR, errno.name().as_bytes());
    let _ = write_all(Fd::STDERR, b"\n");
}

/// Formats `n` in decimal into `buf`; returns the digits.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Parses a decimal number.
pub fn parse(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .flatten()
    })
}

/// Ends the process with `status`.
pub fn exit(status: u8) -> ! {
    libsys::process::client::exit(status)
}

/// Writes `n` in decimal to standard output.
pub fn out_decimal(n: u64) {
    let mut buf = [0u8; 20];
    out(decimal(n, &mut buf));
}

/// Formats `n` in base `radix` (2..=16, lower-case digits), at least `width` digits with
/// leading zeros, into `buf`; returns the digits.
pub fn digits(mut n: u64, radix: u64, width: usize, buf: &mut [u8; 64]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let radix = radix.clamp(2, 16);
    let mut i = buf.len();
    while n > 0 || buf.len() - i < width.max(1) {
        i -= 1;
        buf[i] = DIGITS[(n % radix) as usize];
        n /= radix;
        if i == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Writes `n` in hexadecimal with a `0x` prefix to standard output.
pub fn out_hex(n: u64) {
    let mut buf = [0u8; 64];
    out(b"0x");
    out(digits(n, 16, 1, &mut buf));
}

/// Writes `n` in octal, at least `width` digits, to standard output.
pub fn out_octal(n: u64, width: usize) {
    let mut buf = [0u8; 64];
    out(digits(n, 8, width, &mut buf));
}

/// The path of the terminal device numbered `rdev` (`stat`'s `rdev`): `/dev/console`,
/// `/dev/tty`, `/dev/ptmx` (a pty master) or `/dev/pts/N`; `None` for anything else.
pub fn terminal_name(rdev: u64, buf: &mut [u8; 32]) -> Option<&[u8]> {
    let fixed: &[u8] = match rdev {
        0x501 => b"/dev/console",
        0x500 => b"/dev/tty",
        0x502 => b"/dev/ptmx",
        _ if rdev >> 8 == 136 => {
            let prefix = b"/dev/pts/";
            buf[..prefix.len()].copy_from_slice(prefix);
            let mut digits = [0u8; 20];
            let n = decimal(rdev & 0xff, &mut digits);
            buf[prefix.len()..prefix.len() + n.len()].copy_from_slice(n);
            return Some(&buf[..prefix.len() + n.len()]);
        }
        _ => return None,
    };
    buf[..fixed.len()].copy_from_slice(fixed);
    Some(&buf[..fixed.len()])
}

/// The terminal `fd` refers to, by name ([`terminal_name`]), if it is one.
pub fn terminal_of(fd: Fd, buf: &mut [u8; 32]) -> Option<&[u8]> {
    if !fs::isatty(fd) {
        return None;
    }
    let stat = fs::fstat(fd).ok()?;
    terminal_name(stat.rdev, buf)
}

/// Buffered formatted output to standard output (`write!(out, ...)`): whole lines go to
/// the file server in few writes. Flushed when full, by [`Output::flush`] and on drop.
pub struct Output {
    buffer: [u8; Output::CAPACITY],
    used: usize,
}

impl Output {
    /// Bytes held before a write to the file server.
    pub const CAPACITY: usize = 2048;

    /// An empty buffer.
    pub const fn new() -> Output {
        Output {
            buffer: [0; Output::CAPACITY],
            used: 0,
        }
    }

    /// Adds `bytes` (raw, not necessarily UTF-8).
    pub fn bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.used == self.buffer.len() {
                self.flush();
            }
            let n = bytes.len().min(self.buffer.len() - self.used);
            self.buffer[self.used..self.used + n].copy_from_slice(&bytes[..n]);
            self.used += n;
            bytes = &bytes[n..];
        }
    }

    /// Writes what is buffered to standard output.
    pub fn flush(&mut self) {
        out(&self.buffer[..self.used]);
        self.used = 0;
    }
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.flush();
    }
}

impl core::fmt::Write for Output {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}
