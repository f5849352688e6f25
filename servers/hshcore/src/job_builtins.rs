//! The job-control builtins: `jobs`, `fg`, `bg`, `wait`, `kill` (see `jobs.rs` for the
//! state machine they drive).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::builtins::{parse_decimal, Output};
use crate::jobs::{JobSpec, JobState};
use crate::shell::{Shell, STATUS_USAGE};
use crate::system::{Errno, KillTarget, Pid, Signal, System, WaitOptions, WaitTarget};

impl<S: System> Shell<S> {
    pub(crate) fn builtin_kill(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let (signal, targets) = match args.split_first() {
            Some((first, rest)) if first.starts_with(b"-") && first.len() > 1 => {
                match parse_signal(&first[1..]) {
                    Some(signal) => (signal, rest),
                    None => {
                        return out.fail(
                            &format!("kill: {}: no such signal", first.escape_ascii()),
                            STATUS_USAGE,
                        )
                    }
                }
            }
            _ => (crate::system::signal::SIGTERM, args),
        };
        if targets.is_empty() {
            return out.fail("kill: usage: kill [-SIGNAL] %JOB | PID...", STATUS_USAGE);
        }
        let mut status = 0;
        for target in targets {
            let kill_target = if let Some(spec) = JobSpec::parse(target) {
                match self.jobs.find(spec).and_then(|id| self.jobs.get(id)) {
                    Some(job) if job.pgid != 0 => KillTarget::Group(job.pgid),
                    Some(job) => match job.processes.last() {
                        Some(process) => KillTarget::Process(process.pid),
                        None => continue,
                    },
                    None => {
                        status =
                            out.fail(&format!("kill: {}: no such job", target.escape_ascii()), 1);
                        continue;
                    }
                }
            } else if let Some(pid) =
                parse_decimal(target).filter(|&p| p > 0 && p <= u64::from(u32::MAX))
            {
                KillTarget::Process(pid as Pid)
            } else {
                status = out.fail(
                    &format!("kill: {}: not a pid or job", target.escape_ascii()),
                    STATUS_USAGE,
                );
                continue;
            };
            if let Err(errno) = self.sys.kill(kill_target, signal) {
                status = out.fail(
                    &format!("kill: {}: {}", target.escape_ascii(), errno.description()),
                    1,
                );
            }
        }
        status
    }

    pub(crate) fn builtin_jobs(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let long = match args {
            [] => false,
            [l] if l == b"-l" => true,
            _ => return out.fail("jobs: usage: jobs [-l]", STATUS_USAGE),
        };
        // What changed is listed here, once, not also reported as a change (as bash does).
        self.collect_children();
        let lines: Vec<String> = self
            .jobs
            .iter()
            .map(|job| {
                let state = match job.state() {
                    JobState::Running => "Running",
                    JobState::Stopped => "Stopped",
                    JobState::Done => "Done",
                };
                let mark = self.jobs.mark(job.id);
                if long {
                    let pids: Vec<String> =
                        job.processes.iter().map(|p| format!("{}", p.pid)).collect();
                    format!(
                        "[{}]{mark}  {} {state:<24}{}",
                        job.id,
                        pids.join(","),
                        job.text
                    )
                } else {
                    format!("[{}]{mark}  {state:<24}{}", job.id, job.text)
                }
            })
            .collect();
        for line in lines {
            out.line(&line);
        }
        let listed: Vec<(usize, JobState)> =
            self.jobs.iter().map(|job| (job.id, job.state())).collect();
        for (id, state) in listed {
            if state == JobState::Done {
                self.jobs.remove(id);
            } else if let Some(job) = self.jobs.get_mut(id) {
                job.reported = state;
            }
        }
        0
    }

    /// The job an `fg`/`bg` argument names.
    fn job_argument(&self, name: &str, args: &[Vec<u8>], out: &mut Output) -> Option<usize> {
        if !self.job_control {
            out.fail(&format!("{name}: no job control"), 1);
            return None;
        }
        let spec = match args {
            [] => JobSpec::Current,
            [arg] => match JobSpec::parse(arg) {
                Some(spec) => spec,
                None => match parse_decimal(arg) {
                    Some(n) => JobSpec::Number(n as usize),
                    None => {
                        out.fail(&format!("{name}: {}: no such job", arg.escape_ascii()), 1);
                        return None;
                    }
                },
            },
            _ => {
                out.fail(&format!("{name}: too many arguments"), STATUS_USAGE);
                return None;
            }
        };
        let found = self.jobs.find(spec);
        if found.is_none() {
            let what = args
                .first()
                .map_or(String::from("current"), |a| format!("{}", a.escape_ascii()));
            out.fail(&format!("{name}: {what}: no such job"), 1);
        }
        found
    }

    pub(crate) fn builtin_fg(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let Some(id) = self.job_argument("fg", args, out) else {
            return 1;
        };
        let Some(job) = self.jobs.get(id) else {
            return 1;
        };
        let (pgid, text) = (job.pgid, job.text.clone());
        // The command goes to the terminal before the job runs: flush it now.
        self.write_line(1, &text);
        if pgid != 0 {
            if let Err(errno) = self.sys.tcsetpgrp(0, pgid) {
                return out.fail(&format!("fg: {}", errno.description()), 1);
            }
        }
        if let Err(errno) = self.continue_job(id) {
            let _ = self.sys.tcsetpgrp(0, self.shell_pgid);
            return out.fail(&format!("fg: {}", errno.description()), 1);
        }
        self.wait_foreground(id)
    }

    pub(crate) fn builtin_bg(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let Some(id) = self.job_argument("bg", args, out) else {
            return 1;
        };
        if let Err(errno) = self.continue_job(id) {
            return out.fail(&format!("bg: {}", errno.description()), 1);
        }
        self.jobs.make_current(id);
        if let Some(job) = self.jobs.get(id) {
            out.line(&format!("[{id}]+ {} &", job.text));
        }
        0
    }

    pub(crate) fn builtin_wait(&mut self, args: &[Vec<u8>], out: &mut Output) -> u8 {
        let options = WaitOptions {
            nohang: false,
            untraced: false,
        };
        if args.is_empty() {
            loop {
                let running = self.jobs.iter().any(|job| job.state() == JobState::Running);
                if !running {
                    break;
                }
                match self.sys.wait(WaitTarget::Any, options) {
                    Ok(Some((pid, status))) => {
                        self.jobs.record(pid, status);
                    }
                    Err(Errno::EINTR) => {}
                    _ => break,
                }
            }
            self.remove_done_jobs();
            return 0;
        }
        let mut status = 0;
        for arg in args {
            let pids: Vec<Pid> = if let Some(spec) = JobSpec::parse(arg) {
                match self.jobs.find(spec).and_then(|id| self.jobs.get(id)) {
                    Some(job) => job.processes.iter().map(|p| p.pid).collect(),
                    None => {
                        status =
                            out.fail(&format!("wait: {}: no such job", arg.escape_ascii()), 127);
                        continue;
                    }
                }
            } else if let Some(pid) = parse_decimal(arg) {
                alloc::vec![pid as Pid]
            } else {
                status = out.fail(
                    &format!("wait: {}: not a pid or job", arg.escape_ascii()),
                    STATUS_USAGE,
                );
                continue;
            };
            for pid in pids {
                status = self.wait_pid(pid, out);
            }
        }
        self.remove_done_jobs();
        status
    }

    /// Waits for `pid` (already reported to the job table or not); returns its status.
    fn wait_pid(&mut self, pid: Pid, out: &mut Output) -> u8 {
        if let Some(id) = self.jobs.job_of(pid) {
            let done = self.jobs.get(id).and_then(|job| {
                job.processes
                    .iter()
                    .find(|p| p.pid == pid)
                    .and_then(|p| match p.state {
                        crate::jobs::ProcessState::Done(status) => Some(status),
                        _ => None,
                    })
            });
            if let Some(status) = done {
                return crate::jobs::status_code(status);
            }
        }
        let options = WaitOptions {
            nohang: false,
            untraced: false,
        };
        loop {
            match self.sys.wait(WaitTarget::Pid(pid), options) {
                Ok(Some((got, status))) => {
                    self.jobs.record(got, status);
                    if got == pid {
                        return crate::jobs::status_code(status);
                    }
                }
                Err(Errno::EINTR) => {}
                Ok(None) | Err(_) => {
                    return out.fail(
                        &format!("wait: pid {pid} is not a child of this shell"),
                        127,
                    )
                }
            }
        }
    }

    fn remove_done_jobs(&mut self) {
        let done: Vec<usize> = self
            .jobs
            .iter()
            .filter(|job| job.state() == JobState::Done)
            .map(|job| job.id)
            .collect();
        for id in done {
            self.jobs.remove(id);
        }
    }
}

/// A signal by number, name (`TERM`, `SIGTERM`) or `SIGn`, as `kill -SIGNAL` takes it.
fn parse_signal(text: &[u8]) -> Option<Signal> {
    if let Some(n) = parse_decimal(text) {
        return (1..=64).contains(&n).then_some(n as Signal);
    }
    let name = text.strip_prefix(b"SIG").unwrap_or(text);
    if let Some(index) = egg::SignalSet::NAMES
        .iter()
        .position(|known| known.as_bytes()[3..] == *name)
    {
        return Some(index as Signal + 1);
    }
    parse_decimal(name)
        .filter(|n| (32..=64).contains(n))
        .map(|n| n as Signal)
}
