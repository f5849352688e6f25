//! The interpreter: reads lines, runs and-or lists of pipelines, keeps variables and jobs.
//!
//! Each external command is one hatch ([`System::hatch`]) whose egg [`compile`] wrote.
//! Builtins run inside the shell (see `builtins.rs`). With job control (an interactive
//! shell: its stdin is a terminal) each pipeline is a job in its own process group; the
//! shell gives the terminal to a foreground job in the job's first egg, and takes it back
//! with [`System::tcsetpgrp`] when the job stops or ends.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::builtins::Builtin;
use crate::compile::{compile, render, Compiled, Group, Stage};
use crate::edit::{Editor, Event};
use crate::expand::{expand_command, Expanded, RedirectAction, Variables};
use crate::hatch_cmd::{self, EggSource, HatchArgs, Reporter};
use crate::jobs::{JobState, JobTable, ProcessState};
use crate::lex::LexError;
use crate::parse::{parse, AndOr, ParseError, Pipeline};
use crate::system::{
    signal, Errno, Fd, HatchFailure, HatchRequest, KillTarget, Pid, Signal, System, WaitOptions,
    WaitStatus, WaitTarget,
};

/// The longest line the shell reads; a longer one is refused whole. (16 KiB: a hatched
/// shell's heap comes from its 512 KiB of own memory, and a line is copied a few times on
/// its way to an egg.)
pub const MAX_LINE: usize = 16 * 1024;
/// How many bytes one `read` asks for.
const READ_CHUNK: usize = 4096;
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
    last_background: Vec<u8>,
    input: Vec<u8>,
    input_eof: bool,
    discarding: bool,
    editor: Editor,
    /// Whether the terminal took raw mode (unknown until the first prompt).
    editing: Option<bool>,
}

/// One command of a pipeline, ready to hatch.
struct Plan {
    program: Vec<u8>,
    expanded: Expanded,
    user_egg: Vec<u8>,
    from_hatch: bool,
    /// A builtin run by the shell after the others are hatched (no program then).
    builtin: Option<Builtin>,
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

    /// Reads one line from descriptor 0 (without its newline); `None` at end of input. A
    /// line longer than [`MAX_LINE`] is discarded with an error and reads as empty.
    pub fn read_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(newline) = self.input.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.input.drain(..=newline).collect();
                line.pop();
                if line.len() > MAX_LINE {
                    self.line_too_long();
                }
                if core::mem::take(&mut self.discarding) {
                    return Some(Vec::new());
                }
                return Some(line);
            }
            if self.input.len() > MAX_LINE {
                self.input.clear();
                self.line_too_long();
            }
            if self.input_eof {
                if self.input.is_empty() && !self.discarding {
                    return None;
                }
                self.discarding = false;
                return Some(core::mem::take(&mut self.input));
            }
            let start = self.input.len();
            self.input.resize(start + READ_CHUNK, 0);
            let result = self.sys.read(0, &mut self.input[start..]);
            let got = match result {
                Ok(n) => n.min(READ_CHUNK),
                Err(Errno::EINTR) => 0,
                Err(_) => {
                    self.input_eof = true;
                    0
                }
            };
            self.input.truncate(start + got);
            if result == Ok(0) {
                self.input_eof = true;
            }
            if result == Err(Errno::EINTR) {
                // ^C at the prompt: drop the partial line, start again.
                self.input.clear();
                self.write_all(2, b"\n");
                return Some(Vec::new());
            }
        }
    }

    /// The next line: with job control, after the prompt in variable `prompt_var` (else
    /// `default`).
    fn next_line(&mut self, prompt_var: &[u8], default: &[u8]) -> Option<Vec<u8>> {
        if !self.job_control {
            return self.read_line();
        }
        let prompt = self
            .vars
            .get(prompt_var)
            .map_or(default.to_vec(), |v| v.value.clone());
        self.prompt_line(&prompt)
    }

    /// Shows `prompt` and reads a line: edited in raw mode (with history) when the terminal
    /// allows it, else a canonical line. `None` at end of input.
    pub fn prompt_line(&mut self, prompt: &[u8]) -> Option<Vec<u8>> {
        if self.editing != Some(false) && self.sys.set_raw(0, true).is_ok() {
            self.editing = Some(true);
            let line = self.edit_line(prompt);
            let _ = self.sys.set_raw(0, false);
            return line;
        }
        self.editing = Some(false);
        self.write_all(2, prompt);
        self.read_line()
    }

    /// The history of edited lines, oldest first.
    pub fn history(&self) -> &[Vec<u8>] {
        self.editor.history()
    }

    fn edit_line(&mut self, prompt: &[u8]) -> Option<Vec<u8>> {
        let mut echo = Vec::new();
        let mut line = self.editor.start(prompt, &mut echo);
        self.write_all(2, &echo);
        let mut next = 0;
        loop {
            if next == self.input.len() {
                self.input.clear();
                next = 0;
                if self.input_eof || !self.fill_input() {
                    // End of input: what was typed still runs, as in canonical mode.
                    let text = line.text().to_vec();
                    return (!text.is_empty()).then_some(text);
                }
                continue;
            }
            let byte = self.input[next];
            next += 1;
            echo.clear();
            let event = self.editor.feed(&mut line, byte, &mut echo);
            self.write_all(2, &echo);
            match event {
                Event::Continue => {}
                Event::Line(text) => {
                    self.input.drain(..next);
                    self.editor.remember(&text);
                    return Some(text);
                }
                Event::Eof => {
                    self.input.drain(..next);
                    return None;
                }
                Event::Interrupt => {
                    self.input.drain(..next);
                    self.status = 130;
                    return Some(Vec::new());
                }
            }
        }
    }

    /// Reads more input into the buffer; false at end of input (or a read error).
    fn fill_input(&mut self) -> bool {
        let start = self.input.len();
        self.input.resize(start + READ_CHUNK, 0);
        let result = self.sys.read(0, &mut self.input[start..]);
        let got = match result {
            Ok(n) => n.min(READ_CHUNK),
            Err(_) => 0,
        };
        self.input.truncate(start + got);
        match result {
            Ok(0) | Err(Errno::EBADF | Errno::EIO) => {
                self.input_eof = true;
                false
            }
            Err(Errno::EINTR) | Ok(_) => true,
            Err(_) => {
                self.input_eof = true;
                false
            }
        }
    }

    /// Reports a line over [`MAX_LINE`] (once) and discards it to its newline.
    fn line_too_long(&mut self) {
        if !self.discarding {
            self.error(&format!("line too long (more than {MAX_LINE} bytes)"));
            self.status = STATUS_USAGE;
        }
        self.discarding = true;
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

    /// Runs a pipeline; returns its status.
    fn run_pipeline(&mut self, pipeline: &Pipeline, background: bool) -> u8 {
        let mut stages = Vec::new();
        for command in &pipeline.commands {
            match expand_command(command, &*self) {
                Ok(expanded) => stages.push(expanded),
                Err(error) => {
                    self.error(&format!("{error}"));
                    return 1;
                }
            }
        }
        if let [only] = stages.as_slice() {
            if only.argv.is_empty() {
                return self.assign_and_touch(only);
            }
            if let Some(builtin) = Builtin::from_name(&only.argv[0]) {
                if self.xtrace {
                    let line = format!("+ {}\n", crate::quote::command(only));
                    self.write_all(2, line.as_bytes());
                }
                return self.run_builtin(builtin, only);
            }
        }
        let text = crate::quote::pipeline(&stages);
        let mut plans = Vec::new();
        let mut last_failure = None;
        for expanded in stages {
            last_failure = None;
            match self.plan(expanded) {
                Ok(plan) => plans.push(Some(plan)),
                Err(status) => {
                    plans.push(None);
                    last_failure = Some(status);
                }
            }
        }
        let mut pipes: Vec<(Fd, Fd)> = Vec::new();
        for _ in 1..plans.len() {
            match self.sys.pipe() {
                Ok(pipe) => pipes.push(pipe),
                Err(errno) => {
                    self.error(&format!("pipe: {}: {}", errno.name(), errno.description()));
                    self.close_pipes(&pipes);
                    return 1;
                }
            }
        }
        let count = plans.len();
        let mut pgid: Option<Pid> = None;
        let mut pids = Vec::new();
        for (index, plan) in plans.iter().enumerate() {
            let Some(plan) = plan else { continue };
            if plan.builtin.is_some() {
                continue;
            }
            let user_sets_group = plan.from_hatch && hatch_cmd::sets_group(&plan.user_egg);
            let group = if !self.job_control || user_sets_group {
                Group::Inherit
            } else {
                match pgid {
                    None => Group::New {
                        foreground: !background,
                    },
                    Some(pgid) => Group::Join(pgid),
                }
            };
            let stage = Stage {
                stdin_pipe: index.checked_sub(1).and_then(|i| pipes.get(i)).map(|p| p.0),
                stdout_pipe: pipes.get(index).map(|p| p.1),
                group,
                redirects: &plan.expanded.redirects,
                assignments: &plan.expanded.assignments,
                user_egg: &plan.user_egg,
            };
            let name = plan.expanded.argv.first().cloned().unwrap_or_default();
            let compiled = match compile(&stage) {
                Ok(compiled) => compiled,
                Err(error) => {
                    self.error(&format!(
                        "{}: cannot build the egg: {error}",
                        name.escape_ascii()
                    ));
                    if index + 1 == count {
                        last_failure = Some(1);
                    }
                    continue;
                }
            };
            match self.hatch(plan, &compiled) {
                Ok(pid) => {
                    pids.push(pid);
                    if let Group::New { foreground } = group {
                        pgid = Some(pid);
                        if foreground && stage.stdin_pipe.is_some() {
                            // Its egg could not take the terminal (its fd 0 is a pipe).
                            let _ = self.sys.tcsetpgrp(0, pid);
                        }
                    }
                }
                Err(failure) => {
                    let reporter = if plan.from_hatch {
                        Reporter::Hatch
                    } else {
                        Reporter::Command(&name)
                    };
                    let report = hatch_cmd::failure_report(reporter, &compiled, failure);
                    self.write_line(2, &report);
                    if index + 1 == count {
                        last_failure = Some(failure_status(failure));
                    }
                }
            }
        }
        // Builtins run now, their readers already hatched; each writes to its pipe.
        for (index, plan) in plans.iter().enumerate() {
            let Some(Plan {
                builtin: Some(builtin),
                expanded,
                ..
            }) = plan
            else {
                continue;
            };
            if self.xtrace {
                let line = format!("+ {}\n", crate::quote::command(expanded));
                self.write_all(2, line.as_bytes());
            }
            let stdout = pipes.get(index).map_or(1, |p| p.1);
            let status = self.run_builtin_to(*builtin, expanded, stdout);
            if index + 1 == count {
                last_failure = Some(status);
            }
        }
        self.close_pipes(&pipes);
        if pids.is_empty() {
            return last_failure.unwrap_or(1);
        }
        let id = self.jobs.add(pgid.unwrap_or(0), &pids, text);
        if background {
            self.jobs.make_current(id);
            self.last_background.clear();
            crate::expand::push_decimal(
                &mut self.last_background,
                u64::from(pids.last().copied().unwrap_or(0)),
            );
            if self.job_control {
                let line = format!("[{id}] {}", pids.last().copied().unwrap_or(0));
                self.write_line(2, &line);
            }
            return 0;
        }
        let status = self.wait_foreground(id);
        last_failure.unwrap_or(status)
    }

    fn close_pipes(&mut self, pipes: &[(Fd, Fd)]) {
        for &(read, write) in pipes {
            let _ = self.sys.close(read);
            let _ = self.sys.close(write);
        }
    }

    /// Resolves a command: its program, and for `hatch` its options and eggs. Reports
    /// errors itself and returns the status.
    fn plan(&mut self, mut expanded: Expanded) -> Result<Plan, u8> {
        let mut user_egg = Vec::new();
        let mut from_hatch = false;
        if expanded.argv.first().map(Vec::as_slice) == Some(b"hatch") {
            from_hatch = true;
            match hatch_cmd::parse_args(&expanded.argv[1..]) {
                Ok(HatchArgs::Run { eggs, argv }) => {
                    for source in eggs {
                        user_egg.extend_from_slice(&self.assemble(source)?);
                    }
                    expanded.argv = argv;
                }
                Ok(HatchArgs::Query(opcode)) => {
                    return Err(self.query(opcode));
                }
                Err(message) => {
                    self.write_line(2, &format!("hatch: {message}"));
                    return Err(STATUS_USAGE);
                }
            }
        } else if let Some(builtin) = expanded.argv.first().and_then(|n| Builtin::from_name(n)) {
            if !builtin.fits_in_pipeline() {
                let name = format!("{}", expanded.argv[0].escape_ascii());
                self.error(&format!(
                    "{name}: this builtin cannot be part of a pipeline"
                ));
                return Err(1);
            }
            return Ok(Plan {
                program: Vec::new(),
                expanded,
                user_egg,
                from_hatch,
                builtin: Some(builtin),
            });
        }
        let name = expanded.argv.first().cloned().unwrap_or_default();
        let program = self.resolve(&name)?;
        Ok(Plan {
            program,
            expanded,
            user_egg,
            from_hatch,
            builtin: None,
        })
    }

    fn assemble(&mut self, source: EggSource) -> Result<Vec<u8>, u8> {
        let (what, text) = match source {
            EggSource::Text(text) => (String::from("--egg"), text),
            EggSource::File(path) => {
                let what = format!("{}", path.escape_ascii());
                match self.read_file(&path) {
                    Ok(text) => (what, text),
                    Err(errno) => {
                        self.write_line(2, &format!("hatch: {what}: {}", errno.description()));
                        return Err(1);
                    }
                }
            }
        };
        let Ok(text) = core::str::from_utf8(&text) else {
            self.write_line(2, &format!("hatch: {what}: not UTF-8 text"));
            return Err(STATUS_USAGE);
        };
        egg::assemble(text).map_err(|error| {
            self.write_line(2, &format!("hatch: {what}: {error}"));
            STATUS_USAGE
        })
    }

    fn read_file(&mut self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let fd = self.sys.open(path, egg::O_RDONLY, 0)?;
        let mut text = Vec::new();
        let mut buffer = [0u8; 1024];
        let result = loop {
            match self.sys.read(fd, &mut buffer) {
                Ok(0) => break Ok(text),
                Ok(n) if text.len() + n <= MAX_LINE => {
                    text.extend_from_slice(&buffer[..n.min(buffer.len())])
                }
                Ok(_) => break Err(Errno::E2BIG),
                Err(errno) => break Err(errno),
            }
        };
        let _ = self.sys.close(fd);
        result
    }

    fn query(&mut self, opcode: u64) -> u8 {
        match self.sys.query_opcode(opcode) {
            Ok(true) => {
                let mnemonic = egg::Opcode::from_number(opcode).map_or("?", |o| o.mnemonic());
                self.write_line(
                    1,
                    &format!("hatch: opcode {opcode} ({mnemonic}) is supported"),
                );
                0
            }
            Ok(false) => {
                self.write_line(1, &format!("hatch: opcode {opcode} is not supported"));
                1
            }
            Err(errno) => {
                self.write_line(
                    2,
                    &format!("hatch: --query: {}: {}", errno.name(), errno.description()),
                );
                1
            }
        }
    }

    /// Finds the program `name` names: itself when it holds a `/`, else the first
    /// executable `DIR/name` of `PATH`. Reports failure (127 not found, 126 cannot run).
    fn resolve(&mut self, name: &[u8]) -> Result<Vec<u8>, u8> {
        let mut denied = None;
        let candidates: Vec<Vec<u8>> = if name.contains(&b'/') {
            alloc::vec![name.to_vec()]
        } else if name.is_empty() {
            Vec::new()
        } else {
            let path = self.get(b"PATH").unwrap_or_default().to_vec();
            path.split(|&b| b == b':')
                .map(|dir| {
                    let mut candidate = if dir.is_empty() {
                        b".".to_vec()
                    } else {
                        dir.to_vec()
                    };
                    if !candidate.ends_with(b"/") {
                        candidate.push(b'/');
                    }
                    candidate.extend_from_slice(name);
                    candidate
                })
                .collect()
        };
        for candidate in candidates {
            let absolute = self.absolute(&candidate);
            match self.sys.stat(&absolute) {
                Ok(info) if info.is_dir => denied = Some("is a directory"),
                Ok(info) if info.mode & 0o111 == 0 => denied = Some("permission denied"),
                Ok(_) => return Ok(absolute),
                Err(_) => {}
            }
        }
        let (status, why) = match denied {
            Some(why) => (STATUS_CANNOT_RUN, why),
            None => (STATUS_NOT_FOUND, "not found"),
        };
        self.error(&format!("{}: {why}", name.escape_ascii()));
        Err(status)
    }

    /// `path` made absolute against the shell's working directory.
    pub(crate) fn absolute(&mut self, path: &[u8]) -> Vec<u8> {
        if path.starts_with(b"/") {
            return path.to_vec();
        }
        let mut cwd = self.sys.getcwd().unwrap_or_else(|_| b"/".to_vec());
        let relative = path.strip_prefix(b"./").unwrap_or(path);
        if !cwd.ends_with(b"/") {
            cwd.push(b'/');
        }
        cwd.extend_from_slice(relative);
        cwd
    }

    fn hatch(&mut self, plan: &Plan, compiled: &Compiled) -> Result<Pid, HatchFailure> {
        if self.xtrace {
            let mut trace = format!("+ {}\n", crate::quote::command(&plan.expanded));
            trace.push_str(&render(&plan.program, compiled, "+   "));
            self.write_all(2, trace.as_bytes());
        }
        let envp = self.environment();
        let caps = compiled.cap_fds();
        let request = HatchRequest {
            program: &plan.program,
            argv: &plan.expanded.argv,
            envp: &envp,
            egg: &compiled.egg,
            caps: &caps,
        };
        self.sys.hatch(&request)
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
    fn assign_and_touch(&mut self, expanded: &Expanded) -> u8 {
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

    /// Waits for foreground job `id` to end or stop; gives the terminal back to the shell;
    /// returns the job's status.
    pub(crate) fn wait_foreground(&mut self, id: usize) -> u8 {
        let options = WaitOptions {
            nohang: false,
            untraced: self.job_control,
        };
        while self
            .jobs
            .get(id)
            .is_some_and(|job| job.state() == JobState::Running)
        {
            match self.sys.wait(WaitTarget::Any, options) {
                Ok(Some((pid, status))) => {
                    self.jobs.record(pid, status);
                }
                Err(Errno::EINTR) => {}
                Ok(None) | Err(_) => {
                    // No child left to wait for: whatever still shows running is gone.
                    self.forget_running(id);
                }
            }
        }
        if self.job_control {
            let _ = self.sys.tcsetpgrp(0, self.shell_pgid);
        }
        let Some(job) = self.jobs.get(id) else {
            return 0;
        };
        let status = job.status();
        match job.state() {
            JobState::Stopped => {
                let line = format!("\n[{id}]+  Stopped                 {}", job.text);
                self.jobs.make_current(id);
                if let Some(job) = self.jobs.get_mut(id) {
                    job.reported = JobState::Stopped;
                }
                self.write_line(2, &line);
            }
            _ => {
                let faults: Vec<(Pid, Signal)> = job
                    .processes
                    .iter()
                    .filter_map(|p| match p.state {
                        ProcessState::Done(WaitStatus::Signaled(signal)) => Some((p.pid, signal)),
                        _ => None,
                    })
                    .collect();
                if self.job_control && faults.iter().any(|&(_, s)| s == signal::SIGINT) {
                    // ^C: the terminal echoed `^C`; start the prompt on a new line.
                    self.write_all(2, b"\n");
                }
                for (pid, signal) in faults {
                    if let Some(text) = signal_report(signal) {
                        self.error(&format!("pid {pid}: {text}"));
                    }
                }
                self.jobs.remove(id);
            }
        }
        status
    }

    fn forget_running(&mut self, id: usize) {
        if let Some(job) = self.jobs.get_mut(id) {
            for process in &mut job.processes {
                if process.state == ProcessState::Running {
                    process.state = ProcessState::Done(WaitStatus::Exited(0));
                }
            }
        }
    }

    /// Collects children that changed without blocking, and (with job control) reports
    /// background jobs that finished or stopped: `[1]+  Done    sleep 1`.
    pub fn notify_jobs(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        let options = WaitOptions {
            nohang: true,
            untraced: self.job_control,
        };
        while let Ok(Some((pid, status))) = self.sys.wait(WaitTarget::Any, options) {
            self.jobs.record(pid, status);
        }
        let changed: Vec<usize> = self
            .jobs
            .iter()
            .filter(|job| job.state() != job.reported)
            .map(|job| job.id)
            .collect();
        for id in changed {
            let Some(job) = self.jobs.get(id) else {
                continue;
            };
            let state = job.state();
            let word = match state {
                JobState::Done => match job.processes.last().map(|p| p.state) {
                    Some(ProcessState::Done(WaitStatus::Signaled(signal))) => {
                        signal_report(signal).unwrap_or("Killed")
                    }
                    Some(ProcessState::Done(WaitStatus::Exited(code))) if code != 0 => "Exit",
                    _ => "Done",
                },
                JobState::Stopped => "Stopped",
                JobState::Running => "Running",
            };
            let line = format!("[{id}]{}  {word:<24}{}", self.jobs.mark(id), job.text);
            if self.job_control {
                self.write_line(2, &line);
            }
            if state == JobState::Done {
                self.jobs.remove(id);
            } else if let Some(job) = self.jobs.get_mut(id) {
                job.reported = state;
            }
        }
    }

    /// Continues job `id` (SIGCONT to its group, or to each process without job control).
    pub(crate) fn continue_job(&mut self, id: usize) -> Result<(), Errno> {
        let Some(job) = self.jobs.get(id) else {
            return Err(Errno::ESRCH);
        };
        let targets: Vec<KillTarget> = if job.pgid != 0 {
            alloc::vec![KillTarget::Group(job.pgid)]
        } else {
            job.processes
                .iter()
                .map(|p| KillTarget::Process(p.pid))
                .collect()
        };
        for target in targets {
            self.sys.kill(target, signal::SIGCONT)?;
        }
        self.jobs.mark_continued(id);
        if let Some(job) = self.jobs.get_mut(id) {
            job.reported = JobState::Running;
        }
        Ok(())
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

/// How a line that is not finished joins the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Inside quotes: the newline is part of the word.
    Newline,
    /// After `|`, `&&`, `||`: the next line completes the command.
    Space,
    /// A backslash at the end: it and the newline vanish.
    DropBackslash,
}

/// Whether `line` goes on on the next line, and how they join.
pub fn continuation(line: &[u8]) -> Option<Join> {
    match parse(line) {
        Err(ParseError::Lex(LexError::UnterminatedQuote(_))) => Some(Join::Newline),
        Err(ParseError::Lex(LexError::TrailingBackslash)) => Some(Join::DropBackslash),
        Err(ParseError::UnexpectedEnd) => Some(Join::Space),
        _ => None,
    }
}

/// The `$?` of a hatch that failed: 127 when the program is missing, 126 when it cannot
/// run, 1 when an op of the egg failed.
fn failure_status(failure: HatchFailure) -> u8 {
    match (failure.op, failure.errno) {
        (Some(_), _) => 1,
        (None, Errno::ENOENT) => STATUS_NOT_FOUND,
        (None, _) => STATUS_CANNOT_RUN,
    }
}

/// What the shell says when a signal ended a process (`None`: nothing, as for ^C's SIGINT
/// and SIGPIPE).
pub fn signal_report(signal: Signal) -> Option<&'static str> {
    Some(match signal {
        1 => "Hangup",
        3 => "Quit",
        4 => "Illegal instruction",
        5 => "Trace/breakpoint trap",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        11 => "Segmentation fault",
        14 => "Alarm clock",
        15 => "Terminated",
        31 => "Bad system call",
        signal::SIGINT | signal::SIGPIPE => return None,
        _ => "Killed by a signal",
    })
}
