//! Why a terminal call did not do what was asked.

/// A terminal call's refusal. Each maps to the errno a POSIX system answers
/// ([`TtyError::errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyError {
    /// Nothing to read yet, or no room to write: park the caller until the matching
    /// [`crate::Event`] (`EAGAIN` for a non-blocking descriptor).
    WouldBlock,
    /// A job-control signal was sent to the caller's group (SIGTTIN or SIGTTOU): the call
    /// is to be retried once the process runs again (`EINTR`).
    Interrupted,
    /// The terminal is hung up for writing, or the caller is in an orphaned background
    /// group, or ignores the job-control signal that would stop it from reading (`EIO`).
    Io,
    /// The terminal is not the caller's controlling terminal (`ENOTTY`).
    NotControlling,
    /// Not allowed: not a session leader, the session already has a terminal, the group
    /// is in another session, the terminal belongs to another session (`EPERM`).
    NotPermitted,
    /// A bad argument: a window size or termios field out of range (`EINVAL`).
    Invalid,
    /// Not a terminal request this implementation knows (`ENOTTY`, as Linux answers an
    /// unknown ioctl on a terminal).
    UnknownRequest,
}

impl TtyError {
    /// The Linux errno number for this error.
    pub const fn errno(self) -> u32 {
        match self {
            TtyError::WouldBlock => 11,
            TtyError::Interrupted => 4,
            TtyError::Io => 5,
            TtyError::NotControlling => 25,
            TtyError::NotPermitted => 1,
            TtyError::Invalid => 22,
            TtyError::UnknownRequest => 25,
        }
    }
}

impl core::fmt::Display for TtyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            TtyError::WouldBlock => "would block",
            TtyError::Interrupted => "interrupted by a job-control signal",
            TtyError::Io => "input/output error",
            TtyError::NotControlling => "not the controlling terminal",
            TtyError::NotPermitted => "operation not permitted",
            TtyError::Invalid => "invalid argument",
            TtyError::UnknownRequest => "unknown terminal request",
        };
        f.write_str(text)
    }
}
