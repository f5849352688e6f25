//! What the small programs of `/bin` (`servers/echo`, `cat`, `ls`, ...) share: start-up
//! (the I/O window, the arguments), writing whole buffers, and one-line errors on fd 2.
#![no_std]
#![warn(missing_docs)]

use libsys::fs::{self, Errno, Fd};
use libsys::process::Startup;

/// Starts a hatched program: attaches its I/O window and returns its arguments.
///
/// # Safety
/// `arg` must be the value procsrv started the process with (`rdi`, the address of its
/// System V initial stack), and the stack above the running one must stay untouched.
pub unsafe fn start(arg: u64) -> Startup {
    let _ = libsys::process::client::attach_window();
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
