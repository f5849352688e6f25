//! The file server's protocol, written once for the server (`servers/fsrv`), procsrv and
//! libsys (see docs/servers.md for the prose).
//!
//! fsrv serves one endpoint. Who is calling, and which protocol applies, comes from the
//! **badge** of the cap the call came through ([`Badge`]), never from a number the caller
//! sends:
//!
//! - a **namespace** cap (`SLOT_FS` of every process), badged by procsrv with the process's
//!   id: [`Label`]s `Ns*` (open, stat, mkdir, unlink, rename, pipe...);
//! - an **fd** cap, minted by fsrv for one process (a *handle*) on one open file
//!   description: [`Label`]s `Fd*` (read, write, seek, stat, readdir, dup, close...);
//! - the **control** cap procsrv holds: [`Label`]s `Ctl*` (credentials, open on behalf of a
//!   child, share an fd with a child, a process exited).
//!
//! Replies carry the outcome in their label: 0 is success, anything else an [`Errno`].
//! Short arguments ride in message words; a path travels as bytes packed into message words
//! from word [`PATH_WORD`] ([`pack_bytes`] / [`unpack_bytes`]); bulk data (read, write,
//! readdir names) moves through the caller's **I/O window**, frames shared between the process
//! (mapped at [`WINDOW_ADDR`]) and fsrv (attached with [`Label::NsAttachWindow`]).
#![no_std]
#![warn(missing_docs)]

mod errno;
mod wire;

pub use errno::Errno;
pub use wire::*;

/// Defines a `#[repr(u64)]` enum with a checked `TryFrom<u64>`, `ALL` and `name`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)+ }) => {
        $(#[$meta])*
        #[repr(u64)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The variant's name, as the docs write it.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                }
            }
        }

        impl TryFrom<u64> for $name {
            type Error = u64;
            fn try_from(value: u64) -> Result<Self, u64> {
                match value {
                    $(v if v == $value => Ok($name::$variant),)+
                    other => Err(other),
                }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// Request labels. `Ns*` go through a namespace cap, `Fd*` through an fd cap, `Ctl*`
    /// through the control cap; a label sent through the wrong kind of cap is refused with
    /// [`Errno::EBADF`] (fd labels) or [`Errno::ENOSYS`].
    ///
    /// Arguments are message words `w0, w1, ...`; "path" means a length in the word named
    /// and the bytes packed from word [`PATH_WORD`]. Reply words are listed after `->`.
    pub enum Label {
        /// `open(flags, mode, path_len)` + path -> an fd cap in the caller's receive slot.
        /// The caller's credentials and umask apply; `O_CREAT` creates with `mode & !umask`.
        NsOpen = 0x101,
        /// `stat(path_len)` + path -> [`Stat`] words.
        NsStat = 0x102,
        /// `mkdir(mode, path_len)` + path.
        NsMkdir = 0x103,
        /// `unlink(path_len)` + path: remove a non-directory.
        NsUnlink = 0x104,
        /// `rmdir(path_len)` + path: remove an empty directory.
        NsRmdir = 0x105,
        /// `rename(from_len, to_len)` + the two paths packed one after the other.
        NsRename = 0x106,
        /// `pipe()` -> the read end's fd cap; then [`Label::FdPipeWriteEnd`] on it gives the
        /// write end (one receive slot takes one cap per message).
        NsPipe = 0x107,
        /// `chdir(path_len)` + path: the directory relative paths start from.
        NsChdir = 0x108,
        /// `attach_window(page)` + one frame cap: page `page` (< [`WINDOW_PAGES`]) of the
        /// caller's I/O window. Pages must be attached in order from 0.
        NsAttachWindow = 0x109,
        /// `truncate(length, path_len)` + path.
        NsTruncate = 0x10a,
        /// `statistics()` -> [`ServerStats`] words (what the server holds; for tests).
        NsStatistics = 0x10b,

        /// `read(length)` -> `count`: up to `length` bytes at the file offset, into the
        /// window from offset 0. 0 is end of file. Pipes block while empty and written to.
        FdRead = 0x201,
        /// `write(length)` -> `count`: `length` bytes from the window at the file offset (at
        /// the end with `O_APPEND`). Pipes block while full; writes up to [`PIPE_BUF`] are
        /// atomic.
        FdWrite = 0x202,
        /// `seek(offset, whence)` -> new offset ([`SEEK_SET`], [`SEEK_CUR`], [`SEEK_END`]).
        FdSeek = 0x203,
        /// `stat()` -> [`Stat`] words.
        FdStat = 0x204,
        /// `readdir(index)` -> `(inode, kind, name_len)`, the name in the window; `name_len`
        /// 0 past the last entry.
        FdReaddir = 0x205,
        /// `truncate(length)`.
        FdTruncate = 0x206,
        /// `dup()`: this process holds one more copy of this fd cap (libsys `dup`/`dup2`
        /// send it after the CNode copy).
        FdDup = 0x207,
        /// `close()`: this process holds one copy fewer (libsys `close` sends it before the
        /// delete). The last one closes the handle: fsrv revokes it.
        FdClose = 0x208,
        /// `isatty()` -> 1 for a terminal, 0 otherwise.
        FdIsatty = 0x209,
        /// `ioctl(request, argument)` -> terminal requests; [`Errno::ENOTTY`] elsewhere.
        FdIoctl = 0x20a,
        /// `pipe_write_end()` on a new pipe's read end -> the write end's fd cap (once).
        FdPipeWriteEnd = 0x20b,
        /// `get_flags()` -> the open flags (access mode, `O_APPEND`, `O_NONBLOCK`).
        FdGetFlags = 0x20c,
        /// `set_flags(flags)`: only `O_APPEND` and `O_NONBLOCK` change.
        FdSetFlags = 0x20d,

        /// `set_credentials(process, uid, gid, umask)`, word 4 the number of supplementary
        /// groups (at most 64), the groups from word 5: registers or updates a process.
        CtlSetCredentials = 0x301,
        /// `open_on_behalf(process, flags, mode, path_len)` + path -> an fd cap held by
        /// `process` (procsrv moves it into the child's fd slot).
        CtlOpenOnBehalf = 0x302,
        /// `share(process)` + one fd cap (unwrapped to its badge) -> a new fd cap on the same
        /// open file description, held by `process` (fd inheritance at hatch).
        CtlShare = 0x303,
        /// `process_exit(process)`: closes every handle `process` holds and forgets it.
        CtlProcessExit = 0x304,
        /// `chdir_on_behalf(process, path_len)` + path.
        CtlChdir = 0x305,
        /// `events()` -> a count, then up to 3 `(target, what)` pairs ([`event`]).
        CtlEvents = 0x306,
        /// `set_job(process, pid, pgid, sid, flags)`: the process's ids for the terminal
        /// rules, with [`job`] flags. Until set, a process is pid = pgid = its id in
        /// session 0 (it leads nothing).
        CtlSetJob = 0x307,
    }
}

/// Most bytes in a path (longer: [`Errno::ENAMETOOLONG`]).
pub const PATH_MAX: usize = 1024;
/// Most bytes in one path component.
pub const NAME_MAX: usize = 255;
/// Pipe writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;
/// A pipe's buffer.
pub const PIPE_CAPACITY: usize = 64 * 1024;
/// Most descriptors one process may hold handles for (more: [`Errno::EMFILE`]).
pub const MAX_HANDLES_PER_PROCESS: usize = 64;
/// Most handles in the whole server (more: [`Errno::ENFILE`]).
pub const MAX_HANDLES: usize = 1024;
/// Most processes the server knows at once.
pub const MAX_PROCESSES: usize = 256;

/// Pages of a process's I/O window.
pub const WINDOW_PAGES: usize = 8;
/// Bytes of a process's I/O window: the most one read or write moves.
pub const WINDOW_SIZE: usize = WINDOW_PAGES * 4096;
/// Where a process maps its I/O window (libsys reads and writes it there).
pub const WINDOW_ADDR: u64 = 0x7ffb_0000_0000;

/// `seek` from the start.
pub const SEEK_SET: u64 = 0;
/// `seek` from the current offset.
pub const SEEK_CUR: u64 = 1;
/// `seek` from the end.
pub const SEEK_END: u64 = 2;

/// The words of a [`Label::CtlEvents`] reply: `(target, what)` pairs.
pub mod event {
    /// Target kind bits (the top two).
    pub const KIND_SHIFT: u32 = 62;
    /// `target` is a process id; `what` a signal number.
    pub const PROCESS: u64 = 0;
    /// `target` is a process group id; `what` a signal number.
    pub const GROUP: u64 = 1 << KIND_SHIFT;
    /// `target` is a session id that lost its controlling terminal; `what` 0.
    pub const CONTROL_LOST: u64 = 2 << KIND_SHIFT;
    /// `target` is a session id that acquired terminal `what` (0: the console, n + 1: pty n).
    pub const CONTROL_ACQUIRED: u64 = 3 << KIND_SHIFT;
    /// The id bits of `target`.
    pub const ID_MASK: u64 = (1 << KIND_SHIFT) - 1;
}

/// Flags of [`Label::CtlSetJob`].
pub mod job {
    /// The process ignores or blocks SIGTTIN.
    pub const IGNORES_TTIN: u64 = 1;
    /// The process ignores or blocks SIGTTOU.
    pub const IGNORES_TTOU: u64 = 2;
    /// Its process group is orphaned.
    pub const ORPHANED: u64 = 4;
}

/// Terminal requests of [`Label::FdIoctl`] (Linux numbers). Word 0 is the request; the
/// argument words follow.
pub mod tty {
    /// `tcgetattr` -> the 5 termios words (`ttycore::Termios::to_words`).
    pub const TCGETS: u64 = 0x5401;
    /// `tcsetattr(TCSANOW)`, the 5 termios words in words 1..6.
    pub const TCSETS: u64 = 0x5402;
    /// `tcsetattr(TCSADRAIN)`.
    pub const TCSETSW: u64 = 0x5403;
    /// `tcsetattr(TCSAFLUSH)`.
    pub const TCSETSF: u64 = 0x5404;
    /// `tcflush(queue)`: 0 input, 1 output, 2 both.
    pub const TCFLSH: u64 = 0x540b;
    /// Make this the controlling terminal (word 1: steal from another session, root only).
    pub const TIOCSCTTY: u64 = 0x540e;
    /// `tcgetpgrp` -> the foreground group.
    pub const TIOCGPGRP: u64 = 0x540f;
    /// `tcsetpgrp(word 1)`.
    pub const TIOCSPGRP: u64 = 0x5410;
    /// -> rows | columns << 16 | x pixels << 32 | y pixels << 48.
    pub const TIOCGWINSZ: u64 = 0x5413;
    /// Word 1 as [`TIOCGWINSZ`] answers it.
    pub const TIOCSWINSZ: u64 = 0x5414;
    /// -> bytes readable.
    pub const FIONREAD: u64 = 0x541b;
    /// Give up the controlling terminal.
    pub const TIOCNOTTY: u64 = 0x5422;
    /// -> the session the terminal controls.
    pub const TIOCGSID: u64 = 0x5429;
    /// On a pty master -> its number N (`/dev/pts/N`).
    pub const TIOCGPTN: u64 = 0x8004_5430;
}

/// Open flags (Linux numbers, as the egg's `open_flags`).
pub mod flags {
    /// Read only.
    pub const O_RDONLY: u64 = 0;
    /// Write only.
    pub const O_WRONLY: u64 = 1;
    /// Read and write.
    pub const O_RDWR: u64 = 2;
    /// The access mode bits.
    pub const O_ACCMODE: u64 = 3;
    /// Create if missing.
    pub const O_CREAT: u64 = 0x40;
    /// With `O_CREAT`: fail if it exists.
    pub const O_EXCL: u64 = 0x80;
    /// Do not make a terminal the controlling terminal.
    pub const O_NOCTTY: u64 = 0x100;
    /// Truncate to 0 on open.
    pub const O_TRUNC: u64 = 0x200;
    /// Every write goes to the end.
    pub const O_APPEND: u64 = 0x400;
    /// Fail with `EAGAIN` instead of blocking.
    pub const O_NONBLOCK: u64 = 0x800;
    /// Synchronous data writes (RAM files: no effect).
    pub const O_DSYNC: u64 = 0x1000;
    /// Fail unless a directory.
    pub const O_DIRECTORY: u64 = 0x10000;
    /// Do not follow a final symbolic link (there are none: no effect).
    pub const O_NOFOLLOW: u64 = 0x20000;
    /// Close on exec (procsrv's business: no effect here).
    pub const O_CLOEXEC: u64 = 0x80000;
    /// Every bit an open may carry.
    pub const ALL: u64 = O_ACCMODE
        | O_CREAT
        | O_EXCL
        | O_NOCTTY
        | O_TRUNC
        | O_APPEND
        | O_NONBLOCK
        | O_DSYNC
        | O_DIRECTORY
        | O_NOFOLLOW
        | O_CLOEXEC;
}

/// Mode bits (Linux numbers).
pub mod mode {
    /// The file type bits.
    pub const S_IFMT: u64 = 0o170000;
    /// Directory.
    pub const S_IFDIR: u64 = 0o040000;
    /// Regular file.
    pub const S_IFREG: u64 = 0o100000;
    /// Character device.
    pub const S_IFCHR: u64 = 0o020000;
    /// FIFO (a pipe).
    pub const S_IFIFO: u64 = 0o010000;
    /// The permission bits (with set-id and sticky).
    pub const PERMISSIONS: u64 = 0o7777;
}

#[cfg(test)]
mod tests;
