//! The builtins: commands that change or read the shell itself, run without a hatch.
//!
//! `cd`, `pwd`, `export`, `unset`, `umask`, `ulimit`, `exit`, `set`, `jobs`, `fg`, `bg`,
//! `wait`, `kill` (a builtin so that it knows job specs: `kill %1`). The job-control ones
//! (`jobs`, `fg`, `bg`, `wait`, `kill`) are in `job_builtins.rs`. (`hatch` is not here: it hatches, so it is planned like any command, see
//! `hatch_cmd.rs`.) A builtin's redirections apply to it alone: the shell opens the files,
//! writes the builtin's output there, and closes them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use egg::{Resource, RLIM_INFINITY};

use crate::expand::{Expanded, RedirectAction};
use crate::jobs::JobState;
use crate::shell::{Shell, STATUS_USAGE};
use crate::system::{Fd, System};

/// A builtin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `cd [DIR | -]`.
    Cd,
    /// `pwd`.
    Pwd,
    /// `export [NAME[=VALUE]...]`.
    Export,
    /// `unset NAME...`.
    Unset,
    /// `umask [MODE]`.
    Umask,
    /// `ulimit [-a] [-H|-S] [-c|-d|-f|-l|-m|-n|-s|-t|-u|-v] [LIMIT]`.
    Ulimit,
    /// `exit [N]`.
    Exit,
    /// `set [-x | +x]`.
    Set,
    /// `jobs [-l]`.
    Jobs,
    /// `fg [%JOB]`.
    Fg,
    /// `bg [%JOB]`.
    Bg,
    /// `wait [%JOB | PID]...`.
    Wait,
    /// `kill [-SIGNAL] %JOB | PID...`.
    Kill,
}

impl Builtin {
    /// Whether the builtin may run inside a pipeline: those that report on the shell.
    /// It runs in the shell after the pipeline's programs are hatched, its output going
    /// to the pipe (there is no subshell: `umask 077 | cat` does change the mask). The
    /// others (`cd`, `unset`, `exit`, `fg`, `bg`, `wait`) act on the shell or wait, and
    /// are refused there.
    pub fn fits_in_pipeline(self) -> bool {
        matches!(
            self,
            Builtin::Pwd
                | Builtin::Export
                | Builtin::Umask
                | Builtin::Ulimit
                | Builtin::Set
                | Builtin::Jobs
        )
    }

    /// The builtin named `name`.
    pub fn from_name(name: &[u8]) -> Option<Builtin> {
        Some(match name {
            b"cd" => Builtin::Cd,
            b"pwd" => Builtin::Pwd,
            b"export" => Builtin::Export,
            b"unset" => Builtin::Unset,
            b"umask" => Builtin::Umask,
            b"ulimit" => Builtin::Ulimit,
            b"exit" => Builtin::Exit,
            b"set" => Builtin::Set,
            b"jobs" => Builtin::Jobs,
            b"fg" => Builtin::Fg,
            b"bg" => Builtin::Bg,
            b"wait" => Builtin::Wait,
            b"kill" => Builtin::Kill,
            _ => return None,
        })
    }
}

/// The `ulimit` letters and their resources (sizes in bytes, times in seconds).
const ULIMIT_LETTERS: &[(u8, Resource, &str)] = &[
    (b'c', Resource::Core, "core file size (bytes)"),
    (b'd', Resource::Data, "data segment size (bytes)"),
    (b'f', Resource::FileSize, "file size (bytes)"),
    (b'l', Resource::LockedMemory, "locked memory (bytes)"),
    (b'm', Resource::ResidentSet, "resident set size (bytes)"),
    (b'n', Resource::OpenFiles, "open files"),
    (b's', Resource::Stack, "stack size (bytes)"),
    (b't', Resource::Cpu, "cpu time (seconds)"),
    (b'u', Resource::Processes, "processes"),
    (b'v', Resource::AddressSpace, "address space (bytes)"),
];

/// Where a builtin's standard descriptors go after its redirections.
struct Streams {
    fds: [Option<Fd>; 3],
    opened: Vec<Fd>,
}

impl<S: System> Shell<S> {
    /// Runs a builtin with its redirections; returns its status.
    pub(crate) fn run_builtin(&mut self, builtin: Builtin, expanded: &Expanded) -> u8 {
        self.run_builtin_to(builtin, expanded, 1)
    }

    /// Runs a builtin whose descriptor 1 starts as the shell's `stdout` (a pipe's write
    /// end inside a pipeline); returns its status.
    pub(crate) fn run_builtin_to(
        &mut self,
        builtin: Builtin,
        expanded: &Expanded,
        stdout: Fd,
    ) -> u8 {
        let mut streams = Streams {
            fds: [Some(0), Some(stdout), Some(2)],
            opened: Vec::new(),
        };
        for redirect in &expanded.redirects {
            let fd = redirect.fd as usize;
            let target = match &redirect.action {
                RedirectAction::Open { path, flags, mode } => {
                    match self.sys.open(path, *flags, *mode) {
                        Ok(opened) => {
                            streams.opened.push(opened);
                            Some(opened)
                        }
                        Err(errno) => {
                            self.error(&format!(
                                "{}: {}",
                                path.escape_ascii(),
                                errno.description()
                            ));
                            self.close_streams(&streams);
                            return 1;
                        }
                    }
                }
                RedirectAction::Dup { from } => streams.fds.get(*from as usize).copied().flatten(),
                RedirectAction::Close => None,
            };
            if let Some(slot) = streams.fds.get_mut(fd) {
                *slot = target;
            }
        }
        let args = &expanded.argv[1..];
        let mut out = Output::default();
        let status = match builtin {
            Builtin::Cd => self.builtin_cd(args, &mut out),
            Builtin::Pwd => self.builtin_pwd(&mut out),
            Builtin::Export => self.builtin_export(args, &mut out),
            Builtin::Unset => self.builtin_unset(args, &mut out),
            Builtin::Umask => self.builtin_umask(args, &mut out),
            Builtin::Ulimit => self.builtin_ulimit(args, &mut out),
            Builtin::Exit => self.builtin_exit(args, &mut out),
            Builtin::Set => self.builtin_set(args, &mut out),
            Builtin::Jobs => self.builtin_jobs(args, &mut out),
            Builtin::Fg => self.builtin_fg(args, &mut out),
            Builtin::Bg => self.builtin_bg(args, &mut out),
            Builtin::Wait => self.builtin_wait(args, &mut out),
            Builtin::Kill => self.builtin_kill(args, &mut out),
        };
        if let Some(fd) = streams.fds[1] {
            self.write_all(fd, out.stdout.as_bytes());
        }
        if let Some(fd) = streams.fds[2] {
            self.write_all(fd, out.stderr.as_bytes());
        }
        self.close_streams(&streams);
        status
    }

    fn close_streams(&mut self, streams: &Streams) {
        for &fd in &streams.opened {
            let _ = self.sys.close(fd);
        }
    }

    fn builtin_cd(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let target = match args {
            [] => self.get_var(b"HOME").unwrap_or_else(|| b"/".to_vec()),
            [dash] if dash == b"-" => match self.get_var(b"OLDPWD") {
                Some(old) => {
                    out.line(&String::from_utf8_lossy(&old));
                    old
                }
                None => return out.fail("cd: OLDPWD not set", 1),
            },
            [dir] => dir.clone(),
            _ => return out.fail("cd: too many arguments", STATUS_USAGE),
        };
        let old = self.sys.getcwd().ok();
        if let Err(errno) = self.sys.chdir(&target) {
            return out.fail(
                &format!("cd: {}: {}", target.escape_ascii(), errno.description()),
                1,
            );
        }
        if let Some(old) = old {
            self.set_exported(b"OLDPWD", old);
        }
        if let Ok(new) = self.sys.getcwd() {
            self.set_exported(b"PWD", new);
        }
        0
    }

    fn builtin_pwd(&mut self, out: &mut Output) -> u8 {
        match self.sys.getcwd() {
            Ok(cwd) => {
                out.line(&String::from_utf8_lossy(&cwd));
                0
            }
            Err(errno) => out.fail(&format!("pwd: {}", errno.description()), 1),
        }
    }

    fn builtin_export(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        if args.is_empty() {
            for entry in self.environment() {
                let (name, value) = split_assignment(&entry);
                out.line(&format!(
                    "export {}={}",
                    String::from_utf8_lossy(name),
                    crate::quote::word(value)
                ));
            }
            return 0;
        }
        let mut status = 0;
        for arg in args {
            let (name, value) = match arg.iter().position(|&b| b == b'=') {
                Some(equals) => (&arg[..equals], Some(arg[equals + 1..].to_vec())),
                None => (arg.as_slice(), None),
            };
            if !crate::lex::is_name(name) {
                status = out.fail(
                    &format!("export: `{}': not a valid name", arg.escape_ascii()),
                    1,
                );
                continue;
            }
            match value {
                Some(value) => self.set_exported(name, value),
                None => {
                    if let Some(var) = self.vars.get_mut(name) {
                        var.exported = true;
                    }
                }
            }
        }
        status
    }

    fn builtin_unset(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let mut status = 0;
        for name in args {
            if crate::lex::is_name(name) {
                self.vars.remove(name.as_slice());
            } else {
                status = out.fail(
                    &format!("unset: `{}': not a valid name", name.escape_ascii()),
                    1,
                );
            }
        }
        status
    }

    fn builtin_umask(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let mask = match args {
            [] => None,
            [mode] => match parse_octal(mode).filter(|&m| m <= 0o777) {
                Some(mask) => Some(mask),
                None => {
                    return out.fail(
                        &format!(
                            "umask: {}: not an octal mask (0 to 777)",
                            mode.escape_ascii()
                        ),
                        1,
                    )
                }
            },
            _ => return out.fail("umask: too many arguments", STATUS_USAGE),
        };
        match self.sys.umask(mask) {
            Ok(old) => {
                if mask.is_none() {
                    out.line(&format!("{old:04o}"));
                }
                0
            }
            Err(errno) => out.fail(&format!("umask: {}", errno.description()), 1),
        }
    }

    fn builtin_ulimit(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let UlimitArgs {
            soft,
            hard,
            all,
            resources,
            value,
        } = match UlimitArgs::parse(args) {
            Ok(parsed) => parsed,
            Err(message) => return out.fail(&message, STATUS_USAGE),
        };
        let Some(value) = value else {
            for resource in resources {
                let Ok((s, h)) = self.sys.getrlimit(resource) else {
                    return out.fail(&format!("ulimit: {}: cannot read", resource.name()), 1);
                };
                let shown = render_limit(if hard && !soft { h } else { s });
                if all {
                    let (letter, _, what) = ULIMIT_LETTERS
                        .iter()
                        .find(|(_, r, _)| *r == resource)
                        .copied()
                        .unwrap_or((b'?', resource, ""));
                    out.line(&format!("-{} {what:<28}{shown}", char::from(letter)));
                } else {
                    out.line(&shown);
                }
            }
            return 0;
        };
        for resource in resources {
            let Ok((old_soft, old_hard)) = self.sys.getrlimit(resource) else {
                return out.fail(&format!("ulimit: {}: cannot read", resource.name()), 1);
            };
            // Neither -S nor -H: both, as POSIX shells do.
            let (new_soft, new_hard) = match (soft, hard) {
                (true, false) => (value, old_hard),
                (false, true) => (old_soft.min(value), value),
                _ => (value, value),
            };
            if let Err(errno) = self.sys.setrlimit(resource, new_soft, new_hard) {
                return out.fail(
                    &format!("ulimit: {}: {}", resource.name(), errno.description()),
                    1,
                );
            }
        }
        0
    }

    fn builtin_exit(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        if self.job_control && !self.warned_stopped {
            let stopped = self.jobs.iter().any(|job| job.state() == JobState::Stopped);
            if stopped {
                self.warned_stopped = true;
                return out.fail("there are stopped jobs (exit again to leave them)", 1);
            }
        }
        let code = match args {
            [] => self.status,
            [n] => match parse_decimal(n) {
                Some(n) => (n % 256) as u8,
                None => {
                    out.fail(
                        &format!("exit: {}: numeric argument required", n.escape_ascii()),
                        STATUS_USAGE,
                    );
                    STATUS_USAGE
                }
            },
            _ => return out.fail("exit: too many arguments", 1),
        };
        self.exit = Some(code);
        code
    }

    fn builtin_set(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        if args.is_empty() {
            let lines: Vec<String> = self
                .vars
                .iter()
                .map(|(name, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(name),
                        crate::quote::word(&v.value)
                    )
                })
                .collect();
            for line in lines {
                out.line(&line);
            }
            return 0;
        }
        for arg in args {
            match arg.as_slice() {
                b"-x" => self.xtrace = true,
                b"+x" => self.xtrace = false,
                _ => {
                    return out.fail(
                        &format!(
                            "set: {}: unsupported option (only -x and +x)",
                            arg.escape_ascii()
                        ),
                        STATUS_USAGE,
                    )
                }
            }
        }
        0
    }

    fn get_var(&self, name: &[u8]) -> Option<Vec<u8>> {
        self.vars.get(name).map(|v| v.value.clone())
    }

    fn set_exported(&mut self, name: &[u8], value: Vec<u8>) {
        self.vars.insert(
            name.to_vec(),
            crate::shell::Variable {
                value,
                exported: true,
            },
        );
    }
}

/// `ulimit`'s arguments: `-S`, `-H`, `-a`, resource letters, then at most one value.
struct UlimitArgs {
    soft: bool,
    hard: bool,
    all: bool,
    /// The resources named (all of them with `-a`; RLIMIT_FSIZE when none is).
    resources: Vec<Resource>,
    value: Option<u64>,
}

impl UlimitArgs {
    fn parse(args: &[Vec<u8>]) -> Result<UlimitArgs, String> {
        let mut parsed = UlimitArgs {
            soft: false,
            hard: false,
            all: false,
            resources: Vec::new(),
            value: None,
        };
        for arg in args {
            match arg.strip_prefix(b"-") {
                Some(letters) if !letters.is_empty() && parsed.value.is_none() => {
                    for &letter in letters {
                        match letter {
                            b'S' => parsed.soft = true,
                            b'H' => parsed.hard = true,
                            b'a' => parsed.all = true,
                            _ => match ULIMIT_LETTERS.iter().find(|(l, ..)| *l == letter) {
                                Some(&(_, resource, _)) => parsed.resources.push(resource),
                                None => {
                                    return Err(format!(
                                        "ulimit: -{}: unknown option",
                                        char::from(letter)
                                    ))
                                }
                            },
                        }
                    }
                }
                _ if parsed.value.is_none() => {
                    parsed.value = Some(match arg.as_slice() {
                        b"unlimited" => RLIM_INFINITY,
                        text => crate::hatch_cmd::parse_number(text).ok_or_else(|| {
                            format!("ulimit: {}: not a number", text.escape_ascii())
                        })?,
                    })
                }
                _ => return Err(String::from("ulimit: too many arguments")),
            }
        }
        if parsed.all {
            parsed.resources = ULIMIT_LETTERS.iter().map(|&(_, r, _)| r).collect();
        } else if parsed.resources.is_empty() {
            parsed.resources.push(Resource::FileSize);
        }
        Ok(parsed)
    }
}

/// What a builtin writes, sent to its (redirected) descriptors 1 and 2 when it is done.
#[derive(Default)]
pub(crate) struct Output {
    stdout: String,
    stderr: String,
}

impl Output {
    pub(crate) fn line(&mut self, text: &str) {
        self.stdout.push_str(text);
        self.stdout.push('\n');
    }

    /// Writes `hsh: message` to the error stream; returns `status`.
    pub(crate) fn fail(&mut self, message: &str, status: u8) -> u8 {
        self.stderr.push_str("hsh: ");
        self.stderr.push_str(message);
        self.stderr.push('\n');
        status
    }
}

fn split_assignment(entry: &[u8]) -> (&[u8], &[u8]) {
    match entry.iter().position(|&b| b == b'=') {
        Some(equals) => (&entry[..equals], &entry[equals + 1..]),
        None => (entry, &[]),
    }
}

pub(crate) fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

fn parse_octal(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 4 || !text.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    Some(text.iter().fold(0u32, |n, &d| n * 8 + u32::from(d - b'0')))
}

fn render_limit(limit: u64) -> String {
    if limit == RLIM_INFINITY {
        String::from("unlimited")
    } else {
        format!("{limit}")
    }
}
