//! Terminals: the node kind for `/dev/console` (and, with the line discipline of
//! `servers/ttycore`, `/dev/tty`, `/dev/ptmx` and `/dev/pts/N`).
//!
//! A terminal is `Object::Terminal(index, node)`: descriptions on it route reads, writes and
//! ioctls here. Until the serial console driver and the line discipline are wired in, the
//! console's output goes to the kernel's debug console (which owns COM1 today) and its
//! input is not connected: reads fail with `EIO`, and no terminal ioctl is understood yet
//! (`EINVAL`); `isatty` is true.

use crate::server::{Reply, Request};
use fs_api::Errno;

/// The console's terminal index.
pub const CONSOLE: usize = 0;

/// Writes `data` to terminal `terminal`; returns the bytes taken.
///
/// # Errors
/// `ENXIO` for a terminal that does not exist.
pub fn write(terminal: usize, data: &[u8]) -> Result<usize, Errno> {
    if terminal != CONSOLE {
        return Err(Errno::ENXIO);
    }
    for chunk in data.chunks(4096) {
        libsys::syscall::debug_write(chunk).map_err(|_| Errno::EIO)?;
    }
    Ok(data.len())
}

/// Reads from terminal `terminal`.
///
/// # Errors
/// `EIO`: no input is connected yet.
pub fn read(terminal: usize) -> Result<Reply, Errno> {
    let _ = terminal;
    Err(Errno::EIO)
}

/// A terminal request.
///
/// # Errors
/// `EINVAL`: no request is understood yet.
pub fn ioctl(terminal: usize, request: &Request) -> Result<Reply, Errno> {
    let _ = (terminal, request.word(0));
    Err(Errno::EINVAL)
}
