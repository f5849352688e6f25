//! errno-style errors (Linux numbers), the reply label of every failed request.

crate::wire_enum! {
    /// Why a request failed. The number is the reply's label (0 is success).
    pub enum Errno {
        /// Operation not permitted.
        EPERM = 1,
        /// No such file or directory.
        ENOENT = 2,
        /// No such process (an unknown process id in a control request).
        ESRCH = 3,
        /// Interrupted: a background process's terminal read or write sent it SIGTTIN or
        /// SIGTTOU (retry once it runs again).
        EINTR = 4,
        /// I/O error.
        EIO = 5,
        /// No such device (`/dev/tty` without a controlling terminal).
        ENXIO = 6,
        /// Not an open file of the right kind for this request (or an unknown fd badge).
        EBADF = 9,
        /// Would block (`O_NONBLOCK`), or try again.
        EAGAIN = 11,
        /// The server is out of memory.
        ENOMEM = 12,
        /// Permission denied.
        EACCES = 13,
        /// A bad window range or no window attached.
        EFAULT = 14,
        /// Busy (the directory is someone's working directory, a read already waits...).
        EBUSY = 16,
        /// The file exists.
        EEXIST = 17,
        /// A path component is not a directory.
        ENOTDIR = 20,
        /// Is a directory.
        EISDIR = 21,
        /// An invalid argument (bad flags, whence, offset, message).
        EINVAL = 22,
        /// Too many open files in the server.
        ENFILE = 23,
        /// Too many open files in the process.
        EMFILE = 24,
        /// Not a terminal.
        ENOTTY = 25,
        /// File too large.
        EFBIG = 27,
        /// No space left.
        ENOSPC = 28,
        /// Illegal seek (pipes, terminals).
        ESPIPE = 29,
        /// Read-only file system (`/bin`).
        EROFS = 30,
        /// No reader left on the pipe.
        EPIPE = 32,
        /// A path or name is too long.
        ENAMETOOLONG = 36,
        /// Unknown request label.
        ENOSYS = 38,
        /// The directory is not empty.
        ENOTEMPTY = 39,
        /// Timed out: a client's bounded call (procsrv's `open` for an egg) got no answer by
        /// its deadline. Never a server's reply label.
        ETIMEDOUT = 110,
    }
}

impl Errno {
    /// The errno of a reply label: `Ok(())` for 0, `Err(errno)` otherwise (an unknown
    /// number becomes [`Errno::EIO`]: the server and client disagree).
    pub fn check(label: u64) -> Result<(), Errno> {
        if label == 0 {
            Ok(())
        } else {
            Err(Errno::try_from(label).unwrap_or(Errno::EIO))
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
