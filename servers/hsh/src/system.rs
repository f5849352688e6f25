//! [`Libsys`]: `hshcore::System` over procsrv's client and the file server's.
//!
//! Descriptors are the shell's fd slots; a hatch sends the caps of the descriptors the
//! egg names as one CNode (`CapSet`), request cap `i` at index `i`. What neither server
//! offers a process answers `ENOSYS`, and the shell copes (a terminal that refuses raw
//! mode gets canonical lines). See docs/shell.md, the table of `System` calls.

use alloc::vec::Vec;

use egg::{OpenFlags, Resource};
use hshcore::system::FileInfo;
use hshcore::{Errno, Fd, HatchFailure, HatchRequest, KillTarget, Pid, Signal, System};
use hshcore::{WaitOptions, WaitStatus, WaitTarget};
use libsys::cap::{Cap, Endpoint};
use libsys::fs::{self, terminal};
use libsys::object::Rights;
use libsys::process::client::{self, CapSet};
use procsrv_api::WAIT_ANY;
use ttycore::Termios;

/// The system a hatched shell runs on.
pub struct Libsys {
    /// Whether a file server is there (the namespace slot holds a cap). Without one (a
    /// test system with procsrv alone) every descriptor is closed and every path missing:
    /// the client must not be used, as it writes through a window nobody mapped.
    files: bool,
    /// The working directory, absolute and without `.`/`..` (procsrv's record at start,
    /// then what `chdir` made of it).
    cwd: Vec<u8>,
    /// The terminal's settings before `set_raw(_, true)`, put back by `set_raw(_, false)`.
    cooked: Option<[u64; terminal::TERMIOS_WORDS]>,
}

impl Libsys {
    /// The system of this process.
    pub fn new() -> Libsys {
        let cwd = client::info()
            .map(|info| info.cwd[..info.cwd_len].to_vec())
            .unwrap_or_else(|_| b"/".to_vec());
        Libsys {
            files: fs::namespace().0.identify().is_ok(),
            cwd,
            cooked: None,
        }
    }

    /// `Ok` when the file server is there, else `errno`.
    fn files(&self, errno: Errno) -> Result<(), Errno> {
        if self.files {
            Ok(())
        } else {
            Err(errno)
        }
    }
}

fn from_fs(errno: fs_api::Errno) -> Errno {
    Errno(errno as u64 as u32)
}

fn from_procsrv(errno: procsrv_api::Errno) -> Errno {
    Errno(errno.number() as u32)
}

/// `bytes` each followed by a NUL, as the hatch request carries argv and envp.
fn nul_separated(strings: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for string in strings {
        out.extend_from_slice(string);
        out.push(0);
    }
    out
}

impl System for Libsys {
    fn read(&mut self, fd: Fd, buffer: &mut [u8]) -> Result<usize, Errno> {
        self.files(Errno::EBADF)?;
        let fd = fs::Fd(fd.into());
        match fs::read(fd, buffer) {
            // A program that shared the description left it non-blocking (a `ptyrun`
            // killed before it put its flags back): the shell blocks again, as bash does,
            // rather than take EAGAIN for the end of its input.
            Err(fs_api::Errno::EAGAIN) => {
                let flags = fs::get_flags(fd).map_err(from_fs)?;
                fs::set_flags(fd, flags & !fs::O_NONBLOCK).map_err(from_fs)?;
                fs::read(fd, buffer).map_err(from_fs)
            }
            result => result.map_err(from_fs),
        }
    }

    fn write(&mut self, fd: Fd, bytes: &[u8]) -> Result<usize, Errno> {
        self.files(Errno::EBADF)?;
        fs::write(fs::Fd(fd.into()), bytes).map_err(from_fs)
    }

    fn open(&mut self, path: &[u8], flags: OpenFlags, mode: u32) -> Result<Fd, Errno> {
        self.files(Errno::ENOENT)?;
        let fd = fs::namespace()
            .open(path, flags.0.into(), mode.into())
            .map_err(from_fs)?;
        Ok(fd.0 as Fd)
    }

    fn close(&mut self, fd: Fd) -> Result<(), Errno> {
        self.files(Errno::EBADF)?;
        fs::close(fs::Fd(fd.into())).map_err(from_fs)
    }

    fn pipe(&mut self) -> Result<(Fd, Fd), Errno> {
        self.files(Errno::ENOSYS)?;
        let (read, write) = fs::namespace().pipe().map_err(from_fs)?;
        Ok((read.0 as Fd, write.0 as Fd))
    }

    fn stat(&mut self, path: &[u8]) -> Result<FileInfo, Errno> {
        self.files(Errno::ENOENT)?;
        let stat = fs::namespace().stat(path).map_err(from_fs)?;
        Ok(FileInfo {
            is_dir: stat.mode & fs_api::mode::S_IFMT == fs_api::mode::S_IFDIR,
            mode: (stat.mode & fs_api::mode::PERMISSIONS) as u32,
        })
    }

    fn isatty(&mut self, fd: Fd) -> bool {
        self.files && fs::isatty(fs::Fd(fd.into()))
    }

    fn set_raw(&mut self, fd: Fd, raw: bool) -> Result<(), Errno> {
        self.files(Errno::ENOTTY)?;
        let fd = fs::Fd(fd.into());
        if !raw {
            // Back to what the terminal had (TCSETSW: after the echo went out).
            return match self.cooked.take() {
                Some(words) => {
                    terminal::set_attributes(fd, terminal::TCSETSW, &words).map_err(from_fs)
                }
                None => Ok(()),
            };
        }
        let words = terminal::get_attributes(fd).map_err(from_fs)?;
        let cooked = Termios::from_words(&words).map_err(|_| Errno::EINVAL)?;
        // cfmakeraw: the line editor writes `\r\n` itself, and only it writes in raw mode.
        let raw = cooked.make_raw();
        terminal::set_attributes(fd, terminal::TCSETSW, &raw.to_words()).map_err(from_fs)?;
        self.cooked = Some(words);
        Ok(())
    }

    fn hatch(&mut self, request: &HatchRequest<'_>) -> Result<Pid, HatchFailure> {
        let whole = |errno| HatchFailure { op: None, errno };
        let radix =
            u64::from(usize::BITS - request.caps.len().saturating_sub(1).leading_zeros()).max(1);
        let caps = CapSet::new(radix).map_err(|e| whole(from_procsrv(e)))?;
        for (index, &fd) in request.caps.iter().enumerate() {
            let slot = fs::fd_slot(fs::Fd(fd.into())).ok_or(whole(Errno::EBADF))?;
            caps.put(index as u64, Cap::<Endpoint>::from_cptr(slot), Rights::ALL)
                .map_err(|_| whole(Errno::EBADF))?;
        }
        let argv = nul_separated(request.argv);
        let envp = nul_separated(request.envp);
        let (cnode, cap_radix) = caps.cnode();
        let wire = procsrv_api::HatchRequest {
            program: request.program,
            argv: &argv,
            envp: &envp,
            egg: request.egg,
            cap_radix,
            timeout_ms: 0,
        };
        match client::hatch(&wire, Some(cnode)) {
            Ok((pid, handle)) => {
                // The shell waits and signals by pid; the handle's slot is needed more.
                client::free_slot(handle.cptr());
                Ok(pid as Pid)
            }
            Err(error) => Err(HatchFailure {
                op: error
                    .op_index
                    .map(|index| (index as usize, error.op_offset as usize)),
                errno: from_procsrv(error.errno),
            }),
        }
    }

    fn query_opcode(&mut self, opcode: u64) -> Result<bool, Errno> {
        Ok(client::supported(opcode))
    }

    fn wait(
        &mut self,
        target: WaitTarget,
        options: WaitOptions,
    ) -> Result<Option<(Pid, WaitStatus)>, Errno> {
        let pid = match target {
            WaitTarget::Any => WAIT_ANY,
            WaitTarget::Pid(pid) => pid.into(),
        };
        let mut flags = 0;
        if options.nohang {
            flags |= procsrv_api::WNOHANG;
        }
        if options.untraced {
            flags |= procsrv_api::WUNTRACED;
        }
        let waited = client::wait_with(pid, flags).map_err(from_procsrv)?;
        Ok(waited.map(|(pid, status)| {
            let status = match status {
                procsrv_api::WaitStatus::Exited(code) => WaitStatus::Exited(code),
                procsrv_api::WaitStatus::Signaled(signal) => WaitStatus::Signaled(signal),
                procsrv_api::WaitStatus::Stopped(signal) => WaitStatus::Stopped(signal),
            };
            (pid as Pid, status)
        }))
    }

    fn kill(&mut self, target: KillTarget, signal: Signal) -> Result<(), Errno> {
        let pid = match target {
            KillTarget::Process(pid) => i64::from(pid),
            KillTarget::Group(pgid) => -i64::from(pgid),
        };
        client::kill(pid, signal).map_err(from_procsrv)
    }

    fn getpgrp(&mut self) -> Pid {
        client::ids().map_or(0, |ids| ids[2] as Pid)
    }

    fn tcsetpgrp(&mut self, fd: Fd, pgid: Pid) -> Result<(), Errno> {
        self.files(Errno::ENOSYS)?;
        let request = fs_api::tty::TIOCSPGRP;
        fs::ioctl(fs::Fd(fd.into()), request, u64::from(pgid))
            .map(drop)
            .map_err(from_fs)
    }

    fn ignore_job_control_signals(&mut self) -> Result<(), Errno> {
        use procsrv_api::signal::{SIGINT, SIGTSTP, SIGTTIN, SIGTTOU};
        const SIGQUIT: u32 = 3;
        let set = [SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU]
            .iter()
            .fold(0u64, |set, &signal| set | 1 << (signal - 1));
        client::sigignore(set).map(drop).map_err(from_procsrv)
    }

    fn getcwd(&mut self) -> Result<Vec<u8>, Errno> {
        Ok(self.cwd.clone())
    }

    fn chdir(&mut self, path: &[u8]) -> Result<(), Errno> {
        self.files(Errno::ENOENT)?;
        fs::namespace().chdir(path).map_err(from_fs)?;
        let cwd = hshcore::path::resolve(&self.cwd, path);
        // procsrv starts children in the directory it keeps for the shell.
        client::set_cwd(&cwd).map_err(from_procsrv)?;
        self.cwd = cwd;
        Ok(())
    }

    fn umask(&mut self, mask: Option<u32>) -> Result<u32, Errno> {
        match mask {
            Some(mask) => client::umask(mask).map_err(from_procsrv),
            None => client::info().map(|info| info.umask).map_err(from_procsrv),
        }
    }

    fn getrlimit(&mut self, resource: Resource) -> Result<(u64, u64), Errno> {
        let info = client::info().map_err(from_procsrv)?;
        info.limits
            .get(resource as usize)
            .copied()
            .ok_or(Errno::EINVAL)
    }

    fn setrlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno> {
        client::setrlimit(resource as u64, soft, hard).map_err(from_procsrv)
    }
}
