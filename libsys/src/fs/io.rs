//! `std::io`-shaped handles: [`Read`], [`Write`], [`File`], and the standard streams.

use super::{close, fstat, lseek, open, read, write, Fd, Result, Stat};
use super::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use fs_api::Errno;

/// Reading bytes, shaped like `std::io::Read`.
pub trait Read {
    /// Reads up to `buf.len()` bytes; 0 is the end.
    ///
    /// # Errors
    /// The server's errno.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;

    /// Fills `buf` or fails (`EIO` when the end comes first).
    ///
    /// # Errors
    /// The server's errno, or `EIO` at a premature end.
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.read(buf)? {
                0 => return Err(Errno::EIO),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }
}

/// Writing bytes, shaped like `std::io::Write`.
pub trait Write {
    /// Writes some of `buf`; returns how much.
    ///
    /// # Errors
    /// The server's errno.
    fn write(&mut self, buf: &[u8]) -> Result<usize>;

    /// Writes all of `buf`.
    ///
    /// # Errors
    /// The server's errno; `EIO` if the server takes nothing.
    fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.write(buf)? {
                0 => return Err(Errno::EIO),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Sends what is buffered (nothing is, here).
    ///
    /// # Errors
    /// None here.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// An open file that closes itself when dropped.
#[derive(Debug)]
pub struct File {
    fd: Fd,
}

impl File {
    /// Opens `path` read-only.
    ///
    /// # Errors
    /// The server's errno.
    pub fn open(path: &str) -> Result<File> {
        open(path, O_RDONLY, 0).map(|fd| File { fd })
    }

    /// Creates (or truncates) `path` for writing, mode 0666 less the umask.
    ///
    /// # Errors
    /// The server's errno.
    pub fn create(path: &str) -> Result<File> {
        open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o666).map(|fd| File { fd })
    }

    /// Takes ownership of `fd`.
    pub fn from_fd(fd: Fd) -> File {
        File { fd }
    }

    /// The descriptor, no longer closed on drop.
    pub fn into_fd(self) -> Fd {
        let fd = self.fd;
        core::mem::forget(self);
        fd
    }

    /// The descriptor.
    pub fn fd(&self) -> Fd {
        self.fd
    }

    /// The file's stat.
    ///
    /// # Errors
    /// The server's errno.
    pub fn metadata(&self) -> Result<Stat> {
        fstat(self.fd)
    }

    /// Moves the offset.
    ///
    /// # Errors
    /// As for [`lseek`].
    pub fn seek(&mut self, offset: i64, whence: u64) -> Result<u64> {
        lseek(self.fd, offset, whence)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = close(self.fd);
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        read(self.fd, buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        write(self.fd, buf)
    }
}

/// Standard input (fd 0).
#[derive(Clone, Copy, Debug)]
pub struct Stdin;
/// Standard output (fd 1).
#[derive(Clone, Copy, Debug)]
pub struct Stdout;
/// Standard error (fd 2).
#[derive(Clone, Copy, Debug)]
pub struct Stderr;

/// Standard input.
pub fn stdin() -> Stdin {
    Stdin
}
/// Standard output.
pub fn stdout() -> Stdout {
    Stdout
}
/// Standard error.
pub fn stderr() -> Stderr {
    Stderr
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        read(Fd::STDIN, buf)
    }
}

macro_rules! output_stream {
    ($name:ident, $fd:expr) => {
        impl Write for $name {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                write($fd, buf)
            }
        }
        impl core::fmt::Write for $name {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                Write::write_all(self, s.as_bytes()).map_err(|_| core::fmt::Error)
            }
        }
    };
}
output_stream!(Stdout, Fd::STDOUT);
output_stream!(Stderr, Fd::STDERR);
