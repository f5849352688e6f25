//! Terminal calls: thin wrappers over [`super::ioctl`] with the Linux request numbers of
//! `fs_api::tty`. Termios settings travel as the five words of `ttycore::Termios::to_words`
//! (`iflag | oflag << 32`, `cflag | lflag << 32`, then the control characters).
use super::{fd_slot, request, Errno, Fd, Label, Result};
use crate::cap::{Cap, Endpoint};
pub use fs_api::tty::*;

/// Words of a termios.
pub const TERMIOS_WORDS: usize = 5;

fn cap(fd: Fd) -> Result<Cap<Endpoint>> {
    fd_slot(fd).map(Cap::from_cptr).ok_or(Errno::EBADF)
}

/// `tcgetattr`.
///
/// # Errors
/// `ENOTTY`, `EBADF`.
pub fn get_attributes(fd: Fd) -> Result<[u64; TERMIOS_WORDS]> {
    let reply = request(cap(fd)?, Label::FdIoctl, [TCGETS, 0, 0, 0], 1, &[])?;
    let mut words = [0u64; TERMIOS_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = super::reply_word(&reply, i);
    }
    Ok(words)
}

/// `tcsetattr` with `when` one of `TCSETS` (now), `TCSETSW` (drain), `TCSETSF` (flush).
///
/// # Errors
/// `ENOTTY`, `EINVAL`, `EINTR`/`EIO` (a background caller).
pub fn set_attributes(fd: Fd, when: u64, termios: &[u64; TERMIOS_WORDS]) -> Result<()> {
    crate::syscall::set_word(4, termios[3]);
    crate::syscall::set_word(5, termios[4]);
    let regs = [when, termios[0], termios[1], termios[2]];
    let info = crate::abi::MessageInfo::new(Label::FdIoctl as u64, 6, 0);
    let reply = cap(fd)?.call(info, regs).map_err(|_| Errno::EBADF)?;
    Errno::check(reply.info.label())
}

/// `tcgetpgrp`.
///
/// # Errors
/// `ENOTTY` unless `fd` is the caller's controlling terminal.
pub fn foreground_group(fd: Fd) -> Result<u64> {
    super::ioctl(fd, TIOCGPGRP, 0)
}

/// `tcsetpgrp`.
///
/// # Errors
/// `ENOTTY`, `EPERM`, `EINTR`/`EIO`.
pub fn set_foreground_group(fd: Fd, group: u64) -> Result<()> {
    super::ioctl(fd, TIOCSPGRP, group).map(drop)
}

/// The window size as `rows | columns << 16 | x << 32 | y << 48`.
///
/// # Errors
/// `ENOTTY`.
pub fn window_size(fd: Fd) -> Result<u64> {
    super::ioctl(fd, TIOCGWINSZ, 0)
}

/// Sets the window size (the foreground group gets SIGWINCH).
///
/// # Errors
/// `ENOTTY`.
pub fn set_window_size(fd: Fd, size: u64) -> Result<()> {
    super::ioctl(fd, TIOCSWINSZ, size).map(drop)
}

/// The number N of the pty whose master is `fd` (its slave is `/dev/pts/N`).
///
/// # Errors
/// `ENOTTY` for anything but a master.
pub fn pty_number(fd: Fd) -> Result<u64> {
    super::ioctl(fd, TIOCGPTN, 0)
}
