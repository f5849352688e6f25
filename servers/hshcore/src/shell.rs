//! The interpreter: reads lines, runs and-or lists of pipelines, keeps variables and jobs.
//!
//! Each external command is one hatch ([`System::hatch`]) whose egg
//! [`compile`](crate::compile) wrote (`pipeline.rs`); lines come from `input.rs`, jobs are
//! waited for in `wait.rs`.
//! Builtins run inside the shell (see `builtins.rs`). With job control (an interactive
//! shell: its stdin is a terminal) each pipeline is a job in its own process group; the
//! shell gives the terminal to a foreground job in the job's first egg, and takes it back
//! with [`System::tcsetpgrp`] when the job stops or ends.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;

use crate::edit::Editor;
use crate::expand::{Expanded, RedirectAction, Variables};
use crate::jobs::JobTable;
use crate::parse::{parse, AndOr};
use crate::system::{Fd, Pid, System};

pub use crate::input::{continuation, Join};
pub use crate::wait::signal_report;

/// The longest line the shell reads; a longer one is refused whole. (16 KiB: a hatched
/// shell's heap comes from its 512 KiB of own memory, and a line is copied a few times on
/// its way to an egg.)
pub const MAX_LINE: usize = 16 * 1024;
/// How many bytes one `read` asks for.
pub(crate) const READ_CHUNK: usize = 4096;
/// The `PATH` a shell gets when its environment has none.
pub const DEFAULT_PATH: &[u8] = b"/bin";
/// Status of a command that was not found.
pub const STATUS_NOT_FOUND: u8 = 127;
/// Status of a command that was found but cannot run.
pub const STATUS_CANNOT_RUN: u8 = 126;
/// Status of a syntax or usage error.
pub const STATUS_USAGE: u8 = 2;

/// A shell variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Variable {
    pub(crate) value: Vec<u8>,
    pub(crate) exported: bool,
}

/// The shell.
pub struct Shell<S: System> {
    pub(crate) sys: S,
    pub(crate) vars: BTreeMap<Vec<u8>, Variable>,
    pub(crate) status: u8,
    pub(crate) xtrace: bool,
    pub(crate) jobs: JobTable,
    pub(crate) job_control: bool,
    pub(crate) shell_pgid: Pid,
    pub(crate) exit: Option<u8>,
    /// `exit` was refused once because of stopped jobs; the next one leaves.
    pub(crate) warned_stopped: bool,
    /// `$!`: the pid of the last process started in the background, in decimal.
    pub(crate) last_background: Vec<u8>,
    pub(crate) input: Vec<u8>,
    pub(crate) input_eof: bool,
    pub(crate) discarding: bool,
    pub(crate) editor: Editor,
    /// Whether the terminal took raw mode (unknown until the first prompt).
    pub(crate) editing: Option<bool>,
}

impl<S: System> Variables for Shell<S> {
    fn get(&self, name: &[u8]) -> Option<&[u8]> {
        if name == b"!" {
            return (!self.last_background.is_empty()).then_some(&self.last_background);
        }
        self.vars.get(name).map(|v| v.value.as_slice())
    }

    fn status(&self) -> u8 {
        self.status
    }
}

impl<S: System> Shell<S> {
    /// A shell over `sys` with the environment `environ` (`NAME=value` each). Job control
    /// is on when descriptor 0 is a terminal: then the shell ignores the job-control
    /// signals and puts itself in the terminal's foreground.
    pub fn new(mut sys: S, environ: &[Vec<u8>]) -> Shell<S> {
        let mut vars = BTreeMap::new();
        for entry in environ {
            if let Some(equals) = entry.iter().position(|&b| b == b'=') {
                if crate::lex::is_name(&entry[..equals]) {
                    vars.insert(
                        entry[..equals].to_vec(),
                        Variable {
                            value: entry[equals + 1..].to_vec(),
                            exported: true,
                        },
                    );
                }
            }
        }
        vars.entry(b"PATH".to_vec()).or_insert(Variable {
            value: DEFAULT_PATH.to_vec(),
            exported: true,
        });
        let job_control = sys.isatty(0);
        let shell_pgid = sys.getpgrp();
        if job_control {
            let _ = sys.ignore_job_control_signals();
            let _ = sys.tcsetpgrp(0, shell_pgid);
        }
        Shell {
            sys,
            vars,
            status: 0,
            xtrace: false,
            jobs: JobTable::default(),
            job_control,
            shell_pgid,
            exit: None,
            warned_stopped: false,
            last_background: Vec::new(),
            input: Vec::new(),
            input_eof: false,
            discarding: false,
            editor: Editor::default(),
            editing: None,
        }
    }

    /// The system underneath (tests inspect their fake through it).
    pub fn sys(&self) -> &S {
        &self.sys
    }

    /// The system underneath, mutably.
    pub fn sys_mut(&mut self) -> &mut S {
        &mut self.sys
    }

    /// The last status (`$?`).
    pub fn last_status(&self) -> u8 {
        self.status
    }

    /// Whether job control is on.
    pub fn job_control(&self) -> bool {
        self.job_control
    }

    /// The jobs.
    pub fn jobs(&self) -> &JobTable {
        &self.jobs
    }

    /// Reads and runs lines until end of input or `exit`; returns the exit status.
    pub fn run(&mut self) -> u8 {
        loop {
            self.notify_jobs();
            let Some(mut line) = self.next_line(b"PS1", b"$ ") else {
                if self.job_control {
                    self.write_all(2, b"exit\n");
                }
                return self.status;
            };
            // An open quote, a backslash at the end, or a line ending in `|`, `&&` or
            // `||` goes on on the next line.
            while let Some(join) = continuation(&line) {
                if line.len() > MAX_LINE {
                    break;
                }
                let Some(more) = self.next_line(b"PS2", b"> ") else {
                    break;
                };
                match join {
                    Join::Newline => line.push(b'\n'),
                    Join::Space => line.push(b' '),
                    Join::DropBackslash => {
                        line.pop();
                    }
                }
                line.extend_from_slice(&more);
            }
            if let Some(code) = self.run_line(&line) {
                return code;
            }
        }
    }

    /// Runs one line; returns `Some(status)` when the shell must exit.
    pub fn run_line(&mut self, line: &[u8]) -> Option<u8> {
        self.exit = None;
        let list = match parse(line) {
            Ok(list) => list,
            Err(error) => {
                self.error(&format!("{error}"));
                self.status = STATUS_USAGE;
                return None;
            }
        };
        for (and_or, background) in &list.items {
            if *background && !and_or.rest.is_empty() {
                self.error("a background job must be one pipeline (`&&` and `||` need a subshell, which hsh does not have)");
                self.status = STATUS_USAGE;
                continue;
            }
            let warned = self.warned_stopped;
            self.run_and_or(and_or, *background);
            if let Some(code) = self.exit {
                return Some(code);
            }
            if warned {
                // Only an `exit` right after the warning leaves the stopped jobs.
                self.warned_stopped = false;
            }
        }
        None
    }

    fn run_and_or(&mut self, and_or: &AndOr, background: bool) {
        self.status = self.run_pipeline(&and_or.first, background);
        for (and, pipeline) in &and_or.rest {
            if self.exit.is_some() {
                return;
            }
            if *and == (self.status == 0) {
                self.status = self.run_pipeline(pipeline, background);
            }
        }
    }

    /// The exported variables as `NAME=value`.
    pub(crate) fn environment(&self) -> Vec<Vec<u8>> {
        self.vars
            .iter()
            .filter(|(_, v)| v.exported)
            .map(|(name, v)| {
                let mut entry = name.clone();
                entry.push(b'=');
                entry.extend_from_slice(&v.value);
                entry
            })
            .collect()
    }

    /// A command of assignments and redirections only: set the variables, create or
    /// truncate the files.
    pub(crate) fn assign_and_touch(&mut self, expanded: &Expanded) -> u8 {
        for (name, value) in &expanded.assignments {
            self.set_var(name, value.clone());
        }
        let mut status = 0;
        for redirect in &expanded.redirects {
            if let RedirectAction::Open { path, flags, mode } = &redirect.action {
                match self.sys.open(path, *flags, *mode) {
                    Ok(fd) => {
                        let _ = self.sys.close(fd);
                    }
                    Err(errno) => {
                        self.error(&format!("{}: {}", path.escape_ascii(), errno.description()));
                        status = 1;
                    }
                }
            }
        }
        status
    }

    /// Sets variable `name`, keeping whether it is exported.
    pub(crate) fn set_var(&mut self, name: &[u8], value: Vec<u8>) {
        let exported = self.vars.get(name).is_some_and(|v| v.exported);
        self.vars
            .insert(name.to_vec(), Variable { value, exported });
    }

    /// Writes all of `bytes` to `fd` (what cannot be written is dropped).
    pub(crate) fn write_all(&mut self, fd: Fd, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.sys.write(fd, rest) {
                Ok(0) | Err(_) => return,
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            }
        }
    }

    /// Writes `text` and a newline to `fd`.
    pub(crate) fn write_line(&mut self, fd: Fd, text: &str) {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        self.write_all(fd, &bytes);
    }

    /// Writes `hsh: message` to descriptor 2.
    pub(crate) fn error(&mut self, message: &str) {
        self.write_line(2, &format!("hsh: {message}"));
    }
}
