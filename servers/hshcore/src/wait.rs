//! Waiting for jobs: the foreground job until it ends or stops, background jobs without
//! blocking before each prompt, and continuing a stopped job.

use alloc::format;
use alloc::vec::Vec;

use crate::jobs::{JobState, ProcessState};
use crate::shell::Shell;
use crate::system::{
    signal, Errno, KillTarget, Pid, Signal, System, WaitOptions, WaitStatus, WaitTarget,
};

impl<S: System> Shell<S> {
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
        self.collect_children();
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

    /// Records in the job table what children changed (ended, or stopped with job
    /// control), without blocking and without reporting it.
    pub(crate) fn collect_children(&mut self) {
        let options = WaitOptions {
            nohang: true,
            untraced: self.job_control,
        };
        while let Ok(Some((pid, status))) = self.sys.wait(WaitTarget::Any, options) {
            self.jobs.record(pid, status);
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
