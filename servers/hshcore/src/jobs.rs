//! The job table and the job-control state machine.
//!
//! A job is one pipeline: its processes and their process group. Each process is
//! `Running`, `Stopped` (by a signal, e.g. ^Z's SIGTSTP) or `Done` (exited or killed). The
//! job's state follows: `Done` when all its processes are, `Stopped` when none runs and
//! one is stopped, else `Running`. Transitions come from `wait` reports
//! ([`JobTable::record`]) and from `fg`/`bg` continuing a job
//! ([`JobTable::mark_continued`]).
//!
//! Job numbers start at 1; a new job takes the lowest free number. The *current* job
//! (`%+`, `%%`, and what `fg`/`bg` take without an argument) is the one most recently
//! stopped or started in the background; the *previous* one is `%-`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::system::{Pid, Signal, WaitStatus};

/// One process of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: Pid,
    /// What it is doing.
    pub state: ProcessState,
}

/// What a process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running (or runnable).
    Running,
    /// Stopped by this signal.
    Stopped(Signal),
    /// Gone: how it ended.
    Done(WaitStatus),
}

/// What a job is doing, from its processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// At least one process runs.
    Running,
    /// None runs; at least one is stopped.
    Stopped,
    /// Every process is done.
    Done,
}

/// One job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Its number (`%1`).
    pub id: usize,
    /// Its process group (0 without job control).
    pub pgid: Pid,
    /// Its processes, in pipeline order.
    pub processes: Vec<Process>,
    /// The command line, as `jobs` shows it.
    pub text: String,
    /// The state the user was last told about (a change is reported before the next prompt).
    pub reported: JobState,
}

impl Job {
    /// The job's state.
    pub fn state(&self) -> JobState {
        let mut stopped = false;
        for process in &self.processes {
            match process.state {
                ProcessState::Running => return JobState::Running,
                ProcessState::Stopped(_) => stopped = true,
                ProcessState::Done(_) => {}
            }
        }
        if stopped {
            JobState::Stopped
        } else {
            JobState::Done
        }
    }

    /// The job's `$?`: a done job's is its last process's (`128 + signal` when a signal
    /// ended it); a stopped job's is `128 +` the stop signal (148 for ^Z's SIGTSTP).
    pub fn status(&self) -> u8 {
        if self.state() == JobState::Stopped {
            let signal = self.processes.iter().find_map(|p| match p.state {
                ProcessState::Stopped(signal) => Some(signal),
                _ => None,
            });
            return 128u32.saturating_add(signal.unwrap_or(0)).min(255) as u8;
        }
        match self.processes.last().map(|p| p.state) {
            Some(ProcessState::Done(status)) => status_code(status),
            Some(ProcessState::Stopped(signal)) => 128u32.saturating_add(signal) as u8,
            _ => 0,
        }
    }
}

/// The `$?` of a wait status: the exit status, or 128 + the signal.
pub fn status_code(status: WaitStatus) -> u8 {
    match status {
        WaitStatus::Exited(code) => code,
        WaitStatus::Signaled(signal) | WaitStatus::Stopped(signal) => (128 + signal.min(127)) as u8,
    }
}

/// How to name a job: `%N`, `%+`/`%%`/none (current), `%-` (previous), `%PREFIX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobSpec<'a> {
    /// The current job.
    Current,
    /// The previous job.
    Previous,
    /// Job number N.
    Number(usize),
    /// The job whose command starts with this.
    Prefix(&'a [u8]),
}

impl<'a> JobSpec<'a> {
    /// Parses `%N`, `%+`, `%%`, `%-`, `%PREFIX`; `None` when `text` does not start with `%`.
    pub fn parse(text: &'a [u8]) -> Option<JobSpec<'a>> {
        let rest = text.strip_prefix(b"%")?;
        Some(match rest {
            b"" | b"+" | b"%" => JobSpec::Current,
            b"-" => JobSpec::Previous,
            _ if rest.iter().all(u8::is_ascii_digit) && rest.len() < 10 => JobSpec::Number(
                rest.iter()
                    .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0')),
            ),
            _ => JobSpec::Prefix(rest),
        })
    }
}

/// The jobs of a shell.
#[derive(Clone, Debug, Default)]
pub struct JobTable {
    jobs: Vec<Job>,
    /// Job ids, least recent first: the last is the current job, the one before the previous.
    recency: Vec<usize>,
}

impl JobTable {
    /// Adds a job of these processes (all running); returns its number.
    pub fn add(&mut self, pgid: Pid, pids: &[Pid], text: String) -> usize {
        let id = (1..)
            .find(|id| self.jobs.iter().all(|job| job.id != *id))
            .unwrap_or(1);
        let processes = pids
            .iter()
            .map(|&pid| Process {
                pid,
                state: ProcessState::Running,
            })
            .collect();
        let position = self.jobs.partition_point(|job| job.id < id);
        self.jobs.insert(
            position,
            Job {
                id,
                pgid,
                processes,
                text,
                reported: JobState::Running,
            },
        );
        id
    }

    /// Makes job `id` the current job.
    pub fn make_current(&mut self, id: usize) {
        self.recency.retain(|&other| other != id);
        self.recency.push(id);
    }

    /// The jobs, by number.
    pub fn iter(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter()
    }

    /// Whether there is no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Job `id`.
    pub fn get(&self, id: usize) -> Option<&Job> {
        self.jobs.iter().find(|job| job.id == id)
    }

    /// Job `id`, mutably.
    pub fn get_mut(&mut self, id: usize) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|job| job.id == id)
    }

    /// The current job's number.
    pub fn current(&self) -> Option<usize> {
        self.recency.last().copied()
    }

    /// The previous job's number.
    pub fn previous(&self) -> Option<usize> {
        self.recency.iter().rev().nth(1).copied()
    }

    /// `+` for the current job, `-` for the previous, else a space (as `jobs` marks them).
    pub fn mark(&self, id: usize) -> char {
        if self.current() == Some(id) {
            '+'
        } else if self.previous() == Some(id) {
            '-'
        } else {
            ' '
        }
    }

    /// The job `spec` names.
    pub fn find(&self, spec: JobSpec<'_>) -> Option<usize> {
        match spec {
            JobSpec::Current => self.current(),
            JobSpec::Previous => self.previous(),
            JobSpec::Number(id) => self.get(id).map(|job| job.id),
            JobSpec::Prefix(prefix) => self
                .jobs
                .iter()
                .find(|job| job.text.as_bytes().starts_with(prefix))
                .map(|job| job.id),
        }
    }

    /// The job holding process `pid`.
    pub fn job_of(&self, pid: Pid) -> Option<usize> {
        self.jobs
            .iter()
            .find(|job| job.processes.iter().any(|p| p.pid == pid))
            .map(|job| job.id)
    }

    /// Records a wait report for `pid`; returns its job's number, if `pid` is in a job.
    pub fn record(&mut self, pid: Pid, status: WaitStatus) -> Option<usize> {
        let job = self
            .jobs
            .iter_mut()
            .find(|job| job.processes.iter().any(|p| p.pid == pid))?;
        for process in job.processes.iter_mut().filter(|p| p.pid == pid) {
            process.state = match status {
                WaitStatus::Stopped(signal) => ProcessState::Stopped(signal),
                done => ProcessState::Done(done),
            };
        }
        let id = job.id;
        if job.state() == JobState::Stopped {
            self.make_current(id);
        }
        Some(id)
    }

    /// Marks every stopped process of job `id` running again (after SIGCONT).
    pub fn mark_continued(&mut self, id: usize) {
        if let Some(job) = self.jobs.iter_mut().find(|job| job.id == id) {
            for process in &mut job.processes {
                if let ProcessState::Stopped(_) = process.state {
                    process.state = ProcessState::Running;
                }
            }
        }
    }

    /// Removes job `id`; returns it.
    pub fn remove(&mut self, id: usize) -> Option<Job> {
        let position = self.jobs.iter().position(|job| job.id == id)?;
        self.recency.retain(|&other| other != id);
        Some(self.jobs.remove(position))
    }
}
