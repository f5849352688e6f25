//! One command of a pipeline to the egg that sets it up.
//!
//! The shell never forks: each command is one hatch, and everything a POSIX shell does
//! between `fork` and `exec` is an op of its egg, in this order:
//!
//! 1. `cap 64 0 …; cap 65 1 …; cap 66 2 …`: descriptors 0, 1 and 2 (slots
//!    `FD_SLOT_BASE + n`) get request caps 0, 1 and 2, which are the shell's own
//!    descriptors 0, 1, 2, or a pipe's read end (stdin) and write end (stdout). Rights are
//!    all four: a copy keeps what the shell's cap has and can never gain more.
//! 2. Job control (an interactive shell): the first command of a job starts its group
//!    (`setpgid 0`) and, in the foreground, takes the terminal (`tcsetpgrp 0 0`: descriptor
//!    0 is still the shell's terminal at that point; if the first command could not be
//!    hatched, the next one leads the group, its descriptor 0 is a pipe, and the shell
//!    calls `tcsetpgrp` itself once it is hatched); later commands join the group
//!    (`setpgid PGID`); then `sigdefault SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU` undoes the
//!    shell's own ignoring of them.
//! 3. The redirections, in the order written: `< f` is `open 0 "f" O_RDONLY 0`, `> f` is
//!    `open 1 "f" O_WRONLY|O_CREAT|O_TRUNC 0o666`, `>> f` the same with `O_APPEND` instead of
//!    `O_TRUNC`, `N>&M` is `dup2 M N`, `N<&-` is `close N`.
//! 4. `NAME=value` before the command: `setenv "NAME" "value"`.
//! 5. The `hatch` builtin's own ops (`--egg`, `--egg-file`), last, so they win.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use egg::{DecodeError, Egg, Rights, SignalSet};
use libsys::process::fd_slot;

use crate::expand::{Redirect, RedirectAction};
use crate::system::{signal, Fd, Pid};

/// The signals an interactive shell ignores and its children get back.
pub const JOB_CONTROL_SIGNALS: SignalSet = SignalSet::EMPTY
    .with(signal::SIGINT)
    .with(signal::SIGQUIT)
    .with(signal::SIGTSTP)
    .with(signal::SIGTTIN)
    .with(signal::SIGTTOU);

/// What the command's process group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// No job control (a script): stay in the shell's group, touch no signal.
    Inherit,
    /// Start the job's group; `foreground` also takes the terminal.
    New {
        /// Whether the job runs in the foreground.
        foreground: bool,
    },
    /// Join the job's group, started by an earlier command of the pipeline.
    Join(Pid),
}

/// Where a request cap comes from (for `set -x`, and the fd the system sends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapSource {
    /// The shell's own descriptor.
    Shell(Fd),
    /// The read end of the pipe feeding this command (the shell's descriptor).
    PipeRead(Fd),
    /// The write end of the pipe this command feeds (the shell's descriptor).
    PipeWrite(Fd),
}

impl CapSource {
    /// The shell's descriptor whose cap travels.
    pub fn fd(self) -> Fd {
        match self {
            CapSource::Shell(fd) | CapSource::PipeRead(fd) | CapSource::PipeWrite(fd) => fd,
        }
    }
}

/// One command's setup, before it becomes an egg.
#[derive(Clone, Copy, Debug)]
pub struct Stage<'a> {
    /// The read end of the pipe from the previous command, if any.
    pub stdin_pipe: Option<Fd>,
    /// The write end of the pipe to the next command, if any.
    pub stdout_pipe: Option<Fd>,
    /// The process group.
    pub group: Group,
    /// The redirections, expanded.
    pub redirects: &'a [Redirect],
    /// `NAME=value` assignments before the command.
    pub assignments: &'a [(Vec<u8>, Vec<u8>)],
    /// Ops the user wrote (`hatch --egg`), already assembled; appended last.
    pub user_egg: &'a [u8],
}

/// The egg of a command and the caps that go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The whole egg: the shell's ops, then the user's.
    pub egg: Vec<u8>,
    /// Request cap `i` is `caps[i]`.
    pub caps: Vec<CapSource>,
    /// How many ops the shell wrote before the user's.
    pub shell_ops: usize,
    /// How many bytes the shell wrote before the user's.
    pub shell_bytes: usize,
}

impl Compiled {
    /// The shell's descriptors to send, in request cap order.
    pub fn cap_fds(&self) -> Vec<Fd> {
        self.caps.iter().map(|source| source.fd()).collect()
    }
}

/// Builds the egg of one command (see the module docs for the order of its ops).
///
/// # Errors
/// The egg crate's validation error when a value cannot go in an egg (a NUL byte in a
/// path or an environment value, an empty path).
pub fn compile(stage: &Stage<'_>) -> Result<Compiled, DecodeError> {
    let mut caps = Vec::new();
    let mut egg = Egg::new();
    for fd in 0..3u32 {
        let source = match (fd, stage.stdin_pipe, stage.stdout_pipe) {
            (0, Some(read), _) => CapSource::PipeRead(read),
            (1, _, Some(write)) => CapSource::PipeWrite(write),
            _ => CapSource::Shell(fd),
        };
        let slot = fd_slot(u64::from(fd)).unwrap_or_default() as u32;
        egg = egg.cap(slot, caps.len() as u32, Rights::ALL, 0);
        caps.push(source);
    }
    match stage.group {
        Group::Inherit => {}
        Group::New { foreground } => {
            egg = egg.setpgid(0);
            if foreground && stage.stdin_pipe.is_none() {
                egg = egg.tcsetpgrp(0, 0);
            }
        }
        Group::Join(pgid) => egg = egg.setpgid(pgid),
    }
    if stage.group != Group::Inherit {
        egg = egg.sigdefault(JOB_CONTROL_SIGNALS);
    }
    for redirect in stage.redirects {
        egg = match &redirect.action {
            RedirectAction::Open { path, flags, mode } => {
                egg.open(redirect.fd, path, *flags, *mode)
            }
            RedirectAction::Dup { from } => egg.dup2(*from, redirect.fd),
            RedirectAction::Close => egg.close(redirect.fd),
        };
    }
    for (name, value) in stage.assignments {
        egg = egg.setenv(name, value);
    }
    let shell_ops = egg.op_count();
    let mut bytes = egg.build()?;
    let shell_bytes = bytes.len();
    bytes.extend_from_slice(stage.user_egg);
    egg::validate(&bytes)?;
    Ok(Compiled {
        egg: bytes,
        caps,
        shell_ops,
        shell_bytes,
    })
}

/// The egg as `set -x` prints it: a comment naming the program and the request caps, then
/// one op per line in the text form of docs/egg.md, each line starting with `prefix`.
pub fn render(program: &[u8], compiled: &Compiled, prefix: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "{prefix}# {}; caps:", program.escape_ascii());
    for (index, source) in compiled.caps.iter().enumerate() {
        let _ = match source {
            CapSource::Shell(fd) => write!(out, " {index}=fd {fd}"),
            CapSource::PipeRead(_) => write!(out, " {index}=pipe in"),
            CapSource::PipeWrite(_) => write!(out, " {index}=pipe out"),
        };
    }
    out.push('\n');
    for op in egg::decode(&compiled.egg) {
        match op {
            Ok(op) => {
                let _ = writeln!(out, "{prefix}{op}");
            }
            Err(error) => {
                let _ = writeln!(out, "{prefix}# invalid: {error}");
                break;
            }
        }
    }
    out
}
