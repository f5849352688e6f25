//! What the shell needs from the system underneath: the [`System`] trait and its types.
//!
//! The interpreter never calls libsys directly. `servers/hsh` implements [`System`] with
//! procsrv and the file server; the host tests implement it with a simulation that records
//! every hatch request (`src/tests/fake.rs`). File descriptors here are the *shell's* own
//! descriptors: a hatch request names which of them travel to the child (see
//! [`HatchRequest::caps`]).

use alloc::vec::Vec;

use egg::{OpenFlags, Resource};

/// A file descriptor number of the shell.
pub type Fd = u32;
/// A process id (also a process group id).
pub type Pid = u32;

/// A signal number (Linux x86_64 numbers, as in docs/egg.md).
pub type Signal = u32;

/// Signal numbers the shell uses by name.
pub mod signal {
    use super::Signal;
    /// Hangup.
    pub const SIGHUP: Signal = 1;
    /// Interrupt (^C).
    pub const SIGINT: Signal = 2;
    /// Quit (^\).
    pub const SIGQUIT: Signal = 3;
    /// Kill (cannot be caught).
    pub const SIGKILL: Signal = 9;
    /// Invalid memory reference.
    pub const SIGSEGV: Signal = 11;
    /// Write to a pipe with no reader.
    pub const SIGPIPE: Signal = 13;
    /// Termination request.
    pub const SIGTERM: Signal = 15;
    /// Continue a stopped process.
    pub const SIGCONT: Signal = 18;
    /// Stop (cannot be caught).
    pub const SIGSTOP: Signal = 19;
    /// Stop from the terminal (^Z).
    pub const SIGTSTP: Signal = 20;
    /// Background read from the terminal.
    pub const SIGTTIN: Signal = 21;
    /// Background write to the terminal.
    pub const SIGTTOU: Signal = 22;
}

macro_rules! errnos {
    ($($name:ident = $number:literal $text:literal,)*) => {
        /// An error number (Linux numbers), as procsrv and the file server report them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct Errno(pub u32);

        impl Errno {
            $(#[doc = $text] pub const $name: Errno = Errno($number);)*

            /// The symbolic name (`EPERM`), or `E?` for a number this table lacks.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($number => stringify!($name),)*
                    _ => "E?",
                }
            }

            /// What the error means, in lower case (`operation not permitted`).
            pub fn description(self) -> &'static str {
                match self.0 {
                    $($number => $text,)*
                    _ => "unknown error",
                }
            }
        }
    };
}

errnos! {
    EPERM = 1 "operation not permitted",
    ENOENT = 2 "no such file or directory",
    ESRCH = 3 "no such process",
    EINTR = 4 "interrupted",
    EIO = 5 "input/output error",
    E2BIG = 7 "argument list too long",
    ENOEXEC = 8 "not an executable",
    EBADF = 9 "bad file descriptor",
    ECHILD = 10 "no child processes",
    EAGAIN = 11 "resource temporarily unavailable",
    ENOMEM = 12 "out of memory",
    EACCES = 13 "permission denied",
    EBUSY = 16 "device or resource busy",
    EEXIST = 17 "file exists",
    ENOTDIR = 20 "not a directory",
    EISDIR = 21 "is a directory",
    EINVAL = 22 "invalid argument",
    EMFILE = 24 "too many open files",
    ENOTTY = 25 "not a terminal",
    ENOSPC = 28 "no space left on device",
    ESPIPE = 29 "illegal seek",
    EROFS = 30 "read-only file system",
    EPIPE = 32 "broken pipe",
    ERANGE = 34 "result out of range",
    ENAMETOOLONG = 36 "file name too long",
    ENOSYS = 38 "function not implemented",
    ENOTEMPTY = 39 "directory not empty",
}

/// What `stat` says about a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Whether the path names a directory.
    pub is_dir: bool,
    /// The permission bits (`0o755`).
    pub mode: u32,
}

/// How a process changed, as `wait` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It called exit with this status.
    Exited(u8),
    /// A signal ended it (a fault is reported as its signal: SIGSEGV, SIGILL...).
    Signaled(Signal),
    /// A signal stopped it (only reported with [`WaitOptions::untraced`]).
    Stopped(Signal),
}

/// Which child `wait` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitTarget {
    /// Any child.
    Any,
    /// This child.
    Pid(Pid),
}

/// `wait`'s options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitOptions {
    /// Return `None` at once when no child has changed (WNOHANG).
    pub nohang: bool,
    /// Also report children that stopped (WUNTRACED).
    pub untraced: bool,
}

/// Whom `kill` signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillTarget {
    /// One process.
    Process(Pid),
    /// Every process of a process group.
    Group(Pid),
}

/// One hatch: procsrv builds the child from `program` and runs `egg` while it does.
#[derive(Clone, Copy, Debug)]
pub struct HatchRequest<'a> {
    /// The program's path (absolute: the shell resolves it against `PATH` and its cwd).
    pub program: &'a [u8],
    /// The argument vector, `argv[0]` first.
    pub argv: &'a [Vec<u8>],
    /// The environment, each `NAME=value`.
    pub envp: &'a [Vec<u8>],
    /// The egg (validated by the shell's builder before it is sent).
    pub egg: &'a [u8],
    /// The shell's descriptors whose caps travel with the request: request cap `i` (what
    /// the egg's `cap` ops call `source i`) is the cap of the shell's descriptor `caps[i]`.
    pub caps: &'a [Fd],
}

/// Why a hatch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HatchFailure {
    /// The failing op's index and byte offset, when an op of the egg failed (`None` when
    /// the request failed as a whole: no such program, out of memory...).
    pub op: Option<(usize, usize)>,
    /// The error.
    pub errno: Errno,
}

/// The system calls the shell makes. Every method maps to one request to procsrv or the
/// file server in `servers/hsh`.
pub trait System {
    /// Reads up to `buffer.len()` bytes from `fd`; `Ok(0)` is end of file.
    fn read(&mut self, fd: Fd, buffer: &mut [u8]) -> Result<usize, Errno>;
    /// Writes `bytes` to `fd`; returns how many were written.
    fn write(&mut self, fd: Fd, bytes: &[u8]) -> Result<usize, Errno>;
    /// Opens `path` as a new descriptor of the shell.
    fn open(&mut self, path: &[u8], flags: OpenFlags, mode: u32) -> Result<Fd, Errno>;
    /// Closes the shell's descriptor `fd`.
    fn close(&mut self, fd: Fd) -> Result<(), Errno>;
    /// Makes a pipe: (read end, write end), two new descriptors of the shell.
    fn pipe(&mut self) -> Result<(Fd, Fd), Errno>;
    /// What `path` is.
    fn stat(&mut self, path: &[u8]) -> Result<FileInfo, Errno>;
    /// Whether `fd` is a terminal.
    fn isatty(&mut self, fd: Fd) -> bool;
    /// Puts the terminal on `fd` in raw mode (no echo, no line editing, no signal keys:
    /// each byte as typed) or back to canonical mode. The shell edits its command lines in
    /// raw mode when this succeeds, and reads canonical lines otherwise.
    fn set_raw(&mut self, fd: Fd, raw: bool) -> Result<(), Errno>;

    /// Hatches a child; returns its pid.
    fn hatch(&mut self, request: &HatchRequest<'_>) -> Result<Pid, HatchFailure>;
    /// Whether procsrv supports egg opcode `opcode`.
    fn query_opcode(&mut self, opcode: u64) -> Result<bool, Errno>;
    /// Waits for a child to change; `Ok(None)` only with `nohang`. `ECHILD` when there is
    /// no child to wait for.
    fn wait(
        &mut self,
        target: WaitTarget,
        options: WaitOptions,
    ) -> Result<Option<(Pid, WaitStatus)>, Errno>;
    /// Sends `signal` to `target`.
    fn kill(&mut self, target: KillTarget, signal: Signal) -> Result<(), Errno>;

    /// The shell's own process group.
    fn getpgrp(&mut self) -> Pid;
    /// Makes `pgid` the foreground process group of the terminal on the shell's `fd`.
    fn tcsetpgrp(&mut self, fd: Fd, pgid: Pid) -> Result<(), Errno>;
    /// Makes the shell ignore the job-control signals (SIGINT, SIGQUIT, SIGTSTP, SIGTTIN,
    /// SIGTTOU), as an interactive shell does.
    fn ignore_job_control_signals(&mut self) -> Result<(), Errno>;

    /// The shell's working directory.
    fn getcwd(&mut self) -> Result<Vec<u8>, Errno>;
    /// Changes the shell's working directory (children inherit it).
    fn chdir(&mut self, path: &[u8]) -> Result<(), Errno>;
    /// Sets the shell's file mode creation mask to `mask` (if given); returns the old one.
    fn umask(&mut self, mask: Option<u32>) -> Result<u32, Errno>;
    /// The shell's (soft, hard) limits of `resource`.
    fn getrlimit(&mut self, resource: Resource) -> Result<(u64, u64), Errno>;
    /// Sets the shell's limits of `resource` (children inherit them).
    fn setrlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno>;
}
