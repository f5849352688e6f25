//! A simulated system for the shell's tests: files, descriptors, pipes, a terminal and
//! processes, with every hatch request recorded.
//!
//! Hatching runs the egg through `egg::run` against [`FakeChild`], which enforces the rules
//! the tests need (a group leader cannot `setsid`, `open` of a missing file without
//! `O_CREAT` fails, a `cap` needs a request cap, `tcsetpgrp` needs a terminal), so failure
//! reports are produced the way procsrv will produce them. Then the child "runs" according
//! to its program's name:
//!
//! | program | behaviour |
//! |---|---|
//! | `true`, anything else | exits 0 |
//! | `false` | exits 1 |
//! | `exitwith N` | exits N |
//! | `segv` | killed by SIGSEGV |
//! | `intr` | killed by SIGINT (as by ^C) |
//! | `sleep` | runs until killed, or until a blocking `wait` has nothing else to report (then exits 0) |
//! | `stopper` | stops with SIGTSTP (as on ^Z); exits 0 once continued |

use std::collections::{BTreeMap, VecDeque};
use std::vec::Vec;

use egg::{Hatch, IdList, OpenFlags, Resource, Rights, SignalSet, Str, O_CREAT};

use crate::system::{
    Errno, Fd, FileInfo, HatchFailure, HatchRequest, KillTarget, Pid, Signal, System, WaitOptions,
    WaitStatus, WaitTarget,
};

/// A recorded hatch request (owned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hatched {
    pub program: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub egg: Vec<u8>,
    pub caps: Vec<Fd>,
    /// What each cap was in the shell when it was sent.
    pub cap_objects: Vec<Object>,
    /// The pid it got, or the failure.
    pub result: Result<Pid, HatchFailure>,
}

/// What a shell descriptor refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    Terminal,
    Stdout,
    Stderr,
    File(Vec<u8>),
    PipeRead(u32),
    PipeWrite(u32),
}

#[derive(Clone, Debug)]
struct Process {
    pgid: Pid,
    program: Vec<u8>,
    events: VecDeque<WaitStatus>,
    /// Stopped now; exits 0 when continued.
    stopped: bool,
    /// Runs until killed or until time passes.
    sleeping: bool,
}

/// The simulated system.
pub struct Fake {
    pub files: BTreeMap<Vec<u8>, (FileInfo, Vec<u8>)>,
    pub fds: BTreeMap<Fd, Object>,
    pub input: VecDeque<u8>,
    /// Reads of descriptor 0 return at most this many bytes (to test line assembly).
    pub read_chunk: usize,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// What the shell itself wrote into pipes: (pipe number, bytes).
    pub pipe_writes: Vec<(u32, Vec<u8>)>,
    pub tty: bool,
    /// Whether the terminal takes raw mode (off: the shell reads canonical lines).
    pub raw_capable: bool,
    /// Whether the terminal is in raw mode now.
    pub raw: bool,
    pub hatched: Vec<Hatched>,
    pub foreground: Pid,
    pub tcsetpgrp_calls: Vec<Pid>,
    pub kills: Vec<(KillTarget, Signal)>,
    pub cwd: Vec<u8>,
    pub umask: u32,
    pub limits: BTreeMap<u8, (u64, u64)>,
    pub ignoring_signals: bool,
    pub shell_pid: Pid,
    next_pid: Pid,
    next_pipe: u32,
    processes: BTreeMap<Pid, Process>,
}

impl Fake {
    /// A system with `/bin/{true,false,exitwith,segv,intr,sleep,stopper,cat,ls,wc,echo,env}`, a
    /// non-executable `/bin/noexec`, directories `/`, `/bin`, `/tmp`, and a file `/etc/motd`.
    pub fn new(tty: bool) -> Fake {
        let mut files = BTreeMap::new();
        let dir = FileInfo {
            is_dir: true,
            mode: 0o755,
        };
        let exe = FileInfo {
            is_dir: false,
            mode: 0o755,
        };
        for d in ["/", "/bin", "/tmp", "/etc"] {
            files.insert(d.as_bytes().to_vec(), (dir, Vec::new()));
        }
        for p in [
            "true", "false", "exitwith", "segv", "sleep", "stopper", "cat", "ls", "wc", "echo",
            "env", "intr",
        ] {
            files.insert(format!("/bin/{p}").into_bytes(), (exe, Vec::new()));
        }
        files.insert(
            b"/bin/noexec".to_vec(),
            (
                FileInfo {
                    is_dir: false,
                    mode: 0o644,
                },
                Vec::new(),
            ),
        );
        files.insert(
            b"/etc/motd".to_vec(),
            (
                FileInfo {
                    is_dir: false,
                    mode: 0o644,
                },
                b"hello\n".to_vec(),
            ),
        );
        let mut fds = BTreeMap::new();
        fds.insert(0, Object::Terminal);
        fds.insert(1, Object::Stdout);
        fds.insert(2, Object::Stderr);
        Fake {
            files,
            fds,
            input: VecDeque::new(),
            read_chunk: usize::MAX,
            stdout: Vec::new(),
            stderr: Vec::new(),
            pipe_writes: Vec::new(),
            tty,
            raw_capable: false,
            raw: false,
            hatched: Vec::new(),
            foreground: 10,
            tcsetpgrp_calls: Vec::new(),
            kills: Vec::new(),
            cwd: b"/".to_vec(),
            umask: 0o022,
            limits: BTreeMap::new(),
            ignoring_signals: false,
            shell_pid: 10,
            next_pid: 100,
            next_pipe: 1,
            processes: BTreeMap::new(),
        }
    }

    /// A fake whose descriptor 0 reads `script`.
    pub fn with_input(tty: bool, script: &[u8]) -> Fake {
        let mut fake = Fake::new(tty);
        fake.input.extend(script);
        fake
    }

    /// Everything written to descriptor 1, as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Everything written to descriptor 2, as text.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The disassembled egg of hatch number `index`.
    pub fn egg_text(&self, index: usize) -> String {
        egg::disassemble(&self.hatched[index].egg).unwrap()
    }

    /// Descriptors open in the shell besides 0, 1 and 2 (a leak when a test ends).
    pub fn extra_fds(&self) -> Vec<Fd> {
        self.fds.keys().copied().filter(|&fd| fd > 2).collect()
    }

    /// Processes not yet reaped.
    pub fn live(&self) -> usize {
        self.processes.len()
    }

    fn new_fd(&mut self, object: Object) -> Fd {
        let fd = (3..).find(|fd| !self.fds.contains_key(fd)).unwrap();
        self.fds.insert(fd, object);
        fd
    }

    fn group_exists(&self, pgid: Pid) -> bool {
        pgid == self.shell_pid || self.processes.values().any(|p| p.pgid == pgid)
    }
}

/// The child being built while its egg runs.
struct FakeChild<'a> {
    fake: &'a mut Fake,
    pid: Pid,
    pgid: Pid,
    session_leader: bool,
    fds: BTreeMap<u32, Object>,
    caps: Vec<Object>,
}

impl FakeChild<'_> {
    fn fd_of_slot(slot: u32) -> Option<u32> {
        let base = libsys::process::FD_SLOT_BASE as u32;
        (base..base + libsys::process::MAX_FDS as u32)
            .contains(&slot)
            .then(|| slot - base)
    }
}

impl Hatch for FakeChild<'_> {
    type Error = Errno;
    fn open(&mut self, fd: u32, path: Str<'_>, flags: OpenFlags, _mode: u32) -> Result<(), Errno> {
        let path = path.as_bytes().to_vec();
        match self.fake.files.get(&path) {
            Some((info, _)) if info.is_dir && flags.access_mode() != 0 => {
                return Err(Errno::EISDIR)
            }
            Some(_) => {}
            None if flags.0 & O_CREAT.0 != 0 => {
                let info = FileInfo {
                    is_dir: false,
                    mode: 0o666 & !self.fake.umask,
                };
                self.fake.files.insert(path.clone(), (info, Vec::new()));
            }
            None => return Err(Errno::ENOENT),
        }
        self.fds.insert(fd, Object::File(path));
        Ok(())
    }
    fn dup2(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        let object = self.fds.get(&from).cloned().ok_or(Errno::EBADF)?;
        self.fds.insert(to, object);
        Ok(())
    }
    fn close(&mut self, fd: u32) -> Result<(), Errno> {
        self.fds.remove(&fd);
        Ok(())
    }
    fn closefrom(&mut self, fd: u32) -> Result<(), Errno> {
        self.fds.retain(|&n, _| n < fd);
        Ok(())
    }
    fn setpgid(&mut self, pgid: u32) -> Result<(), Errno> {
        if self.session_leader {
            return Err(Errno::EPERM);
        }
        if pgid == 0 || pgid == self.pid {
            self.pgid = self.pid;
        } else if self.fake.group_exists(pgid) {
            self.pgid = pgid;
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }
    fn setsid(&mut self) -> Result<(), Errno> {
        if self.pgid == self.pid {
            return Err(Errno::EPERM);
        }
        self.pgid = self.pid;
        self.session_leader = true;
        Ok(())
    }
    fn setctty(&mut self, _fd: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn tcsetpgrp(&mut self, fd: u32, pgid: u32) -> Result<(), Errno> {
        if self.fds.get(&fd) != Some(&Object::Terminal) || self.session_leader {
            return Err(Errno::ENOTTY);
        }
        self.fake.foreground = if pgid == 0 { self.pgid } else { pgid };
        Ok(())
    }
    fn chdir(&mut self, _path: Str<'_>) -> Result<(), Errno> {
        Ok(())
    }
    fn fchdir(&mut self, _fd: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn cap(&mut self, slot: u32, source: u32, _rights: Rights, _badge: u64) -> Result<(), Errno> {
        let object = self
            .caps
            .get(source as usize)
            .cloned()
            .ok_or(Errno::EINVAL)?;
        if let Some(fd) = Self::fd_of_slot(slot) {
            self.fds.insert(fd, object);
        }
        Ok(())
    }
    fn bind(&mut self, _path: Str<'_>, source: u32) -> Result<(), Errno> {
        self.caps
            .get(source as usize)
            .map(|_| ())
            .ok_or(Errno::EINVAL)
    }
    fn sigsetmask(&mut self, _signals: SignalSet) -> Result<(), Errno> {
        Ok(())
    }
    fn sigdefault(&mut self, _signals: SignalSet) -> Result<(), Errno> {
        Ok(())
    }
    fn sigignore(&mut self, _signals: SignalSet) -> Result<(), Errno> {
        Ok(())
    }
    fn setuid(&mut self, uid: u32) -> Result<(), Errno> {
        if uid == 0 {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }
    fn setgid(&mut self, _gid: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn setgroups(&mut self, _groups: IdList<'_>) -> Result<(), Errno> {
        Ok(())
    }
    fn umask(&mut self, _mask: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn setrlimit(&mut self, _resource: Resource, _soft: u64, _hard: u64) -> Result<(), Errno> {
        Ok(())
    }
    fn setpriority(&mut self, _priority: u8) -> Result<(), Errno> {
        Ok(())
    }
    fn setaffinity(&mut self, _cpus: u64) -> Result<(), Errno> {
        Ok(())
    }
    fn setname(&mut self, _name: Str<'_>) -> Result<(), Errno> {
        Ok(())
    }
    fn setenv(&mut self, _name: Str<'_>, _value: Str<'_>) -> Result<(), Errno> {
        Ok(())
    }
    fn unsetenv(&mut self, _name: Str<'_>) -> Result<(), Errno> {
        Ok(())
    }
    fn clearenv(&mut self) -> Result<(), Errno> {
        Ok(())
    }
    fn start_suspended(&mut self) -> Result<(), Errno> {
        Ok(())
    }
}

impl Fake {
    fn spawn(&mut self, request: &HatchRequest<'_>) -> Result<Pid, HatchFailure> {
        let whole = |errno| HatchFailure { op: None, errno };
        let (info, _) = self
            .files
            .get(request.program)
            .ok_or(whole(Errno::ENOENT))?;
        if info.is_dir || info.mode & 0o111 == 0 {
            return Err(whole(Errno::EACCES));
        }
        let caps: Vec<Object> = request
            .caps
            .iter()
            .map(|fd| self.fds.get(fd).cloned().ok_or(whole(Errno::EBADF)))
            .collect::<Result<_, _>>()?;
        let pid = self.next_pid;
        let shell_pgid = self.shell_pid;
        let mut child = FakeChild {
            fake: self,
            pid,
            pgid: shell_pgid,
            session_leader: false,
            fds: BTreeMap::new(),
            caps,
        };
        egg::run(request.egg, &mut child).map_err(|error| HatchFailure {
            op: Some((error.op_index, error.offset)),
            errno: match error.cause {
                egg::RunErrorCause::Failed { error, .. } => error,
                egg::RunErrorCause::Invalid(_) => Errno::EINVAL,
            },
        })?;
        let pgid = child.pgid;
        self.next_pid += 1;
        let name = request
            .program
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or_default();
        let mut process = Process {
            pgid,
            program: name.to_vec(),
            events: VecDeque::new(),
            stopped: false,
            sleeping: false,
        };
        match name {
            b"false" => process.events.push_back(WaitStatus::Exited(1)),
            b"exitwith" => {
                let code = request
                    .argv
                    .get(1)
                    .and_then(|a| std::str::from_utf8(a).ok()?.parse().ok())
                    .unwrap_or(0);
                process.events.push_back(WaitStatus::Exited(code));
            }
            b"segv" => process.events.push_back(WaitStatus::Signaled(11)),
            b"intr" => process.events.push_back(WaitStatus::Signaled(2)),
            b"sleep" => process.sleeping = true,
            b"stopper" => {
                process.stopped = true;
                process.events.push_back(WaitStatus::Stopped(20));
            }
            _ => process.events.push_back(WaitStatus::Exited(0)),
        }
        self.processes.insert(pid, process);
        Ok(pid)
    }

    fn signal_process(&mut self, pid: Pid, signal: Signal) {
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        if process
            .events
            .iter()
            .any(|e| !matches!(e, WaitStatus::Stopped(_)))
        {
            return; // already ended, not yet reaped
        }
        match signal {
            crate::system::signal::SIGCONT => {
                if process.stopped {
                    process.stopped = false;
                    process
                        .events
                        .retain(|e| !matches!(e, WaitStatus::Stopped(_)));
                    if process.program != b"sleep" {
                        process.events.push_back(WaitStatus::Exited(0));
                    }
                }
            }
            crate::system::signal::SIGTSTP | crate::system::signal::SIGSTOP => {
                process.stopped = true;
                process.events.push_back(WaitStatus::Stopped(signal));
            }
            _ => {
                process.sleeping = false;
                process.stopped = false;
                process.events.clear();
                process.events.push_back(WaitStatus::Signaled(signal));
            }
        }
    }
}

impl System for Fake {
    fn read(&mut self, fd: Fd, buffer: &mut [u8]) -> Result<usize, Errno> {
        match self.fds.get(&fd) {
            Some(Object::Terminal) => {
                let n = buffer.len().min(self.read_chunk).min(self.input.len());
                for (slot, byte) in buffer.iter_mut().zip(self.input.drain(..n)) {
                    *slot = byte;
                }
                Ok(n)
            }
            Some(Object::File(path)) => {
                // Whole-file reads: the tests read small files once, then see the end.
                let data = self
                    .files
                    .get(path)
                    .map(|(_, d)| d.clone())
                    .unwrap_or_default();
                self.fds.insert(fd, Object::File(Vec::new()));
                let n = data.len().min(buffer.len());
                buffer[..n].copy_from_slice(&data[..n]);
                Ok(n)
            }
            Some(_) => Ok(0),
            None => Err(Errno::EBADF),
        }
    }

    fn write(&mut self, fd: Fd, bytes: &[u8]) -> Result<usize, Errno> {
        match self.fds.get(&fd).cloned() {
            Some(Object::Stdout) => self.stdout.extend_from_slice(bytes),
            Some(Object::Stderr) => self.stderr.extend_from_slice(bytes),
            Some(Object::Terminal) => self.stderr.extend_from_slice(bytes),
            Some(Object::File(path)) => {
                if let Some((_, data)) = self.files.get_mut(&path) {
                    data.extend_from_slice(bytes);
                }
            }
            Some(Object::PipeWrite(pipe)) => self.pipe_writes.push((pipe, bytes.to_vec())),
            Some(_) => return Err(Errno::EBADF),
            None => return Err(Errno::EBADF),
        }
        Ok(bytes.len())
    }

    fn open(&mut self, path: &[u8], flags: OpenFlags, _mode: u32) -> Result<Fd, Errno> {
        if !self.files.contains_key(path) {
            if flags.0 & O_CREAT.0 == 0 {
                return Err(Errno::ENOENT);
            }
            let info = FileInfo {
                is_dir: false,
                mode: 0o666 & !self.umask,
            };
            self.files.insert(path.to_vec(), (info, Vec::new()));
        } else if flags.0 & egg::O_TRUNC.0 != 0 {
            if let Some((_, data)) = self.files.get_mut(path) {
                data.clear();
            }
        }
        Ok(self.new_fd(Object::File(path.to_vec())))
    }

    fn close(&mut self, fd: Fd) -> Result<(), Errno> {
        self.fds.remove(&fd).map(|_| ()).ok_or(Errno::EBADF)
    }

    fn pipe(&mut self) -> Result<(Fd, Fd), Errno> {
        let id = self.next_pipe;
        self.next_pipe += 1;
        let read = self.new_fd(Object::PipeRead(id));
        let write = self.new_fd(Object::PipeWrite(id));
        Ok((read, write))
    }

    fn stat(&mut self, path: &[u8]) -> Result<FileInfo, Errno> {
        self.files
            .get(path)
            .map(|(info, _)| *info)
            .ok_or(Errno::ENOENT)
    }

    fn isatty(&mut self, fd: Fd) -> bool {
        self.tty && self.fds.get(&fd) == Some(&Object::Terminal)
    }

    fn set_raw(&mut self, fd: Fd, raw: bool) -> Result<(), Errno> {
        if !self.raw_capable || !self.isatty(fd) {
            return Err(Errno::ENOTTY);
        }
        self.raw = raw;
        Ok(())
    }

    fn hatch(&mut self, request: &HatchRequest<'_>) -> Result<Pid, HatchFailure> {
        assert!(!self.raw, "a command ran with the terminal in raw mode");
        let cap_objects = request
            .caps
            .iter()
            .map(|fd| self.fds.get(fd).cloned().unwrap_or(Object::Stdout))
            .collect();
        let result = self.spawn(request);
        self.hatched.push(Hatched {
            program: request.program.to_vec(),
            argv: request.argv.to_vec(),
            envp: request.envp.to_vec(),
            egg: request.egg.to_vec(),
            caps: request.caps.to_vec(),
            cap_objects,
            result,
        });
        result
    }

    fn query_opcode(&mut self, opcode: u64) -> Result<bool, Errno> {
        Ok(egg::is_supported(opcode))
    }

    fn wait(
        &mut self,
        target: WaitTarget,
        options: WaitOptions,
    ) -> Result<Option<(Pid, WaitStatus)>, Errno> {
        let matches = |pid: Pid| match target {
            WaitTarget::Any => true,
            WaitTarget::Pid(want) => want == pid,
        };
        if !self.processes.keys().any(|&pid| matches(pid)) {
            return Err(Errno::ECHILD);
        }
        for _ in 0..2 {
            let ready = self.processes.iter_mut().find_map(|(&pid, p)| {
                if !matches(pid) {
                    return None;
                }
                while let Some(&event) = p.events.front() {
                    if let WaitStatus::Stopped(_) = event {
                        if !options.untraced {
                            // Not reported, but stays stopped.
                            p.events.pop_front();
                            continue;
                        }
                    }
                    return Some((pid, event));
                }
                None
            });
            if let Some((pid, event)) = ready {
                let process = self.processes.get_mut(&pid).unwrap();
                process.events.pop_front();
                if !matches!(event, WaitStatus::Stopped(_)) {
                    self.processes.remove(&pid);
                }
                return Ok(Some((pid, event)));
            }
            if options.nohang {
                return Ok(None);
            }
            // Time passes: sleepers finish.
            let mut woke = false;
            for p in self.processes.values_mut() {
                if p.sleeping && !p.stopped {
                    p.sleeping = false;
                    p.events.push_back(WaitStatus::Exited(0));
                    woke = true;
                }
            }
            if !woke {
                // Only stopped children, and they are not reported: nothing will happen.
                return Err(Errno::ECHILD);
            }
        }
        Err(Errno::ECHILD)
    }

    fn kill(&mut self, target: KillTarget, signal: Signal) -> Result<(), Errno> {
        self.kills.push((target, signal));
        let pids: Vec<Pid> = match target {
            KillTarget::Process(pid) => self
                .processes
                .contains_key(&pid)
                .then_some(pid)
                .into_iter()
                .collect(),
            KillTarget::Group(pgid) => self
                .processes
                .iter()
                .filter(|(_, p)| p.pgid == pgid)
                .map(|(&pid, _)| pid)
                .collect(),
        };
        if pids.is_empty() {
            return Err(Errno::ESRCH);
        }
        for pid in pids {
            self.signal_process(pid, signal);
        }
        Ok(())
    }

    fn getpgrp(&mut self) -> Pid {
        self.shell_pid
    }

    fn tcsetpgrp(&mut self, _fd: Fd, pgid: Pid) -> Result<(), Errno> {
        self.tcsetpgrp_calls.push(pgid);
        self.foreground = pgid;
        Ok(())
    }

    fn ignore_job_control_signals(&mut self) -> Result<(), Errno> {
        self.ignoring_signals = true;
        Ok(())
    }

    fn getcwd(&mut self) -> Result<Vec<u8>, Errno> {
        Ok(self.cwd.clone())
    }

    fn chdir(&mut self, path: &[u8]) -> Result<(), Errno> {
        let mut absolute = if path.starts_with(b"/") {
            Vec::new()
        } else {
            self.cwd.clone()
        };
        if !absolute.is_empty() && !absolute.ends_with(b"/") {
            absolute.push(b'/');
        }
        absolute.extend_from_slice(path);
        while absolute.len() > 1 && absolute.ends_with(b"/") {
            absolute.pop();
        }
        match self.files.get(&absolute) {
            Some((info, _)) if info.is_dir => {
                self.cwd = absolute;
                Ok(())
            }
            Some(_) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn umask(&mut self, mask: Option<u32>) -> Result<u32, Errno> {
        let old = self.umask;
        if let Some(mask) = mask {
            self.umask = mask;
        }
        Ok(old)
    }

    fn getrlimit(&mut self, resource: Resource) -> Result<(u64, u64), Errno> {
        Ok(*self
            .limits
            .get(&(resource as u8))
            .unwrap_or(&(egg::RLIM_INFINITY, egg::RLIM_INFINITY)))
    }

    fn setrlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno> {
        if soft > hard {
            return Err(Errno::EINVAL);
        }
        self.limits.insert(resource as u8, (soft, hard));
        Ok(())
    }
}
