//! Running a pipeline: expand its commands, find their programs, make the pipes, hatch
//! each command with the egg `compile` writes, run the builtins that sit in it, and wait.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::builtins::Builtin;
use crate::compile::{compile, render, Compiled, Group, Stage};
use crate::expand::{expand_command, Expanded, Variables};
use crate::hatch_cmd::{self, EggSource, HatchArgs, Reporter};
use crate::parse::Pipeline;
use crate::shell::{Shell, MAX_LINE, STATUS_CANNOT_RUN, STATUS_NOT_FOUND, STATUS_USAGE};
use crate::system::{Errno, Fd, HatchFailure, HatchRequest, Pid, System};

impl<S: System> Shell<S> {
    /// Runs a pipeline; returns its status.
    pub(crate) fn run_pipeline(&mut self, pipeline: &Pipeline, background: bool) -> u8 {
        let Some(stages) = self.expand_all(pipeline) else {
            return 1;
        };
        if let [only] = stages.as_slice() {
            if only.argv.is_empty() {
                return self.assign_and_touch(only);
            }
            if let Some(builtin) = Builtin::from_name(&only.argv[0]) {
                self.trace_builtin(only);
                return self.run_builtin(builtin, only);
            }
        }
        let text = crate::quote::pipeline(&stages);
        let (plans, planned_status) = self.plan_all(stages);
        let Some(pipes) = self.make_pipes(plans.len().saturating_sub(1)) else {
            return 1;
        };
        let mut launched = self.hatch_all(&plans, &pipes, background);
        // The last command's failure to start is the pipeline's status, as its exit would be.
        launched.last_status = launched.last_status.or(planned_status);
        // Builtins run now, their readers already hatched; each writes to its pipe.
        for (index, plan) in plans.iter().enumerate() {
            if let Some(Plan {
                builtin: Some(builtin),
                expanded,
                ..
            }) = plan
            {
                self.trace_builtin(expanded);
                let stdout = pipes.get(index).map_or(1, |p| p.1);
                let status = self.run_builtin_to(*builtin, expanded, stdout);
                if index + 1 == plans.len() {
                    launched.last_status = Some(status);
                }
            }
        }
        self.close_pipes(&pipes);
        if launched.pids.is_empty() {
            return launched.last_status.unwrap_or(1);
        }
        let pids = launched.pids;
        let id = self.jobs.add(launched.pgid.unwrap_or(0), &pids, text);
        if background {
            self.announce_background(id, pids.last().copied().unwrap_or(0));
            return 0;
        }
        let status = self.wait_foreground(id);
        launched.last_status.unwrap_or(status)
    }

    /// Expands every command; `None` (reported) when one cannot be.
    fn expand_all(&mut self, pipeline: &Pipeline) -> Option<Vec<Expanded>> {
        let mut stages = Vec::new();
        for command in &pipeline.commands {
            match expand_command(command, &*self) {
                Ok(expanded) => stages.push(expanded),
                Err(error) => {
                    self.error(&format!("{error}"));
                    return None;
                }
            }
        }
        Some(stages)
    }

    /// Plans every command (`None` for those that cannot run, reported); the status of the
    /// last one when it cannot.
    fn plan_all(&mut self, stages: Vec<Expanded>) -> (Vec<Option<Plan>>, Option<u8>) {
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
        (plans, last_failure)
    }

    /// Makes `count` pipes; `None` (reported, those made closed) when one cannot be.
    fn make_pipes(&mut self, count: usize) -> Option<Vec<(Fd, Fd)>> {
        let mut pipes = Vec::new();
        for _ in 0..count {
            match self.sys.pipe() {
                Ok(pipe) => pipes.push(pipe),
                Err(errno) => {
                    self.error(&format!("pipe: {}: {}", errno.name(), errno.description()));
                    self.close_pipes(&pipes);
                    return None;
                }
            }
        }
        Some(pipes)
    }

    /// Hatches the commands of a pipeline (not its builtins), left to right.
    fn hatch_all(
        &mut self,
        plans: &[Option<Plan>],
        pipes: &[(Fd, Fd)],
        background: bool,
    ) -> Launched {
        let mut launched = Launched::default();
        for (index, plan) in plans.iter().enumerate() {
            let Some(plan) = plan.as_ref().filter(|p| p.builtin.is_none()) else {
                continue;
            };
            let user_sets_group = plan.from_hatch && hatch_cmd::sets_group(&plan.user_egg);
            let group = match launched.pgid {
                _ if !self.job_control || user_sets_group => Group::Inherit,
                None => Group::New {
                    foreground: !background,
                },
                Some(pgid) => Group::Join(pgid),
            };
            let stage = Stage {
                stdin_pipe: index.checked_sub(1).and_then(|i| pipes.get(i)).map(|p| p.0),
                stdout_pipe: pipes.get(index).map(|p| p.1),
                group,
                redirects: &plan.expanded.redirects,
                assignments: &plan.expanded.assignments,
                user_egg: &plan.user_egg,
            };
            let status = match self.hatch_stage(plan, &stage) {
                Ok(pid) => {
                    launched.pids.push(pid);
                    if let Group::New { foreground } = group {
                        launched.pgid = Some(pid);
                        if foreground && stage.stdin_pipe.is_some() {
                            // Its egg could not take the terminal (its fd 0 is a pipe).
                            let _ = self.sys.tcsetpgrp(0, pid);
                        }
                    }
                    None
                }
                Err(status) => Some(status),
            };
            if index + 1 == plans.len() {
                launched.last_status = status;
            }
        }
        launched
    }

    /// Compiles and hatches one command; reports a failure and returns its status.
    fn hatch_stage(&mut self, plan: &Plan, stage: &Stage<'_>) -> Result<Pid, u8> {
        let name = plan.expanded.argv.first().cloned().unwrap_or_default();
        let compiled = match compile(stage) {
            Ok(compiled) => compiled,
            Err(error) => {
                self.error(&format!(
                    "{}: cannot build the egg: {error}",
                    name.escape_ascii()
                ));
                return Err(1);
            }
        };
        self.hatch(plan, &compiled).map_err(|failure| {
            let reporter = if plan.from_hatch {
                Reporter::Hatch
            } else {
                Reporter::Command(&name)
            };
            let report = hatch_cmd::failure_report(reporter, &compiled, failure);
            self.write_line(2, &report);
            failure_status(failure)
        })
    }

    /// Remembers a background job's last pid (`$!`) and, with job control, says `[N] pid`.
    fn announce_background(&mut self, id: usize, pid: Pid) {
        self.jobs.make_current(id);
        self.last_background.clear();
        crate::expand::push_decimal(&mut self.last_background, u64::from(pid));
        if self.job_control {
            self.write_line(2, &format!("[{id}] {pid}"));
        }
    }

    /// `set -x` for a builtin: the command line.
    fn trace_builtin(&mut self, expanded: &Expanded) {
        if self.xtrace {
            let line = format!("+ {}\n", crate::quote::command(expanded));
            self.write_all(2, line.as_bytes());
        }
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
}

/// What hatching a pipeline's commands gave.
#[derive(Default)]
struct Launched {
    /// The pids, in pipeline order.
    pids: Vec<Pid>,
    /// The job's process group (its first process), with job control.
    pgid: Option<Pid>,
    /// The last command's status when it could not be started.
    last_status: Option<u8>,
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

/// The `$?` of a hatch that failed: 127 when the program is missing, 126 when it cannot
/// run, 1 when an op of the egg failed.
fn failure_status(failure: HatchFailure) -> u8 {
    match (failure.op, failure.errno) {
        (Some(_), _) => 1,
        (None, Errno::ENOENT) => STATUS_NOT_FOUND,
        (None, _) => STATUS_CANNOT_RUN,
    }
}
