//! The control protocol: procsrv's requests (credentials, job ids, opens and fds for
//! children, exits, events).

use crate::memory;
use crate::server::{Process, Reply, Request, Server};
use alloc::vec::Vec;
use fs_api::{job, Badge, Errno, Label, PATH_MAX, PATH_WORD, WINDOW_PAGES};
use fscore::fs::ROOT;
use fscore::perm::Credentials;
use libsys::syscall;

impl Server {
    pub(crate) fn control(&mut self, label: Label, request: &Request) -> Result<Reply, Errno> {
        let mut path = [0u8; PATH_MAX];
        match label {
            Label::CtlSetCredentials => {
                request.need(5)?;
                let count = request.word(4);
                if count > 64 {
                    return Err(Errno::EINVAL);
                }
                request.need(PATH_WORD + count as usize + 1)?;
                let groups = (0..count as usize)
                    .map(|i| u32::try_from(request.word(5 + i)).map_err(|_| Errno::EINVAL))
                    .collect::<Result<Vec<u32>, Errno>>()?;
                let ids = (
                    u32::try_from(request.word(1)).map_err(|_| Errno::EINVAL)?,
                    u32::try_from(request.word(2)).map_err(|_| Errno::EINVAL)?,
                );
                let umask = u16::try_from(request.word(3))
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or(Errno::EINVAL)?;
                let credentials = Credentials {
                    uid: ids.0,
                    gid: ids.1,
                    groups,
                    umask,
                };
                self.set_credentials(request.word(0), credentials)
            }
            Label::CtlOpenOnBehalf => {
                request.need(4)?;
                let path = request.bytes(PATH_WORD, request.word(3), &mut path)?;
                self.open(request.word(0), path, request.word(1), request.word(2))
            }
            Label::CtlShare => {
                request.need(1)?;
                if request.info.caps() == 0 || request.info.caps_unwrapped() & 1 == 0 {
                    return Err(Errno::EBADF);
                }
                let Some(Badge::Fd(handle)) = Badge::from_word(syscall::unwrapped_badge(0)) else {
                    return Err(Errno::EBADF);
                };
                let process = request.word(0);
                if !self.processes.contains_key(&process) {
                    return Err(Errno::ESRCH);
                }
                let id = self.table.share(handle, process)?;
                self.reply_with_handle(id)
            }
            Label::CtlProcessExit => {
                request.need(1)?;
                self.process_exit(request.word(0))
            }
            Label::CtlChdir => {
                request.need(2)?;
                let path = request.bytes(PATH_WORD, request.word(1), &mut path)?;
                self.chdir(request.word(0), path)
            }
            Label::CtlSetJob => {
                request.need(5)?;
                let id = |w: u64| u32::try_from(w).map_err(|_| Errno::EINVAL);
                let flags = request.word(4);
                if flags & !(job::IGNORES_TTIN | job::IGNORES_TTOU | job::ORPHANED) != 0 {
                    return Err(Errno::EINVAL);
                }
                let mut caller = ttycore::Caller::new(
                    id(request.word(1))?,
                    id(request.word(2))?,
                    id(request.word(3))?,
                );
                caller.ignores_ttin = flags & job::IGNORES_TTIN != 0;
                caller.ignores_ttou = flags & job::IGNORES_TTOU != 0;
                caller.orphaned = flags & job::ORPHANED != 0;
                let p = self
                    .processes
                    .get_mut(&request.word(0))
                    .ok_or(Errno::ESRCH)?;
                p.job = caller;
                Ok(Reply::ok(&[]))
            }
            Label::CtlEvents => {
                let mut words = [0u64; 8];
                let mut count = 0;
                while count < 3 {
                    let Some((process, signal)) = self.events.pop_front() else {
                        break;
                    };
                    words[1 + 2 * count] = process;
                    words[2 + 2 * count] = signal;
                    count += 1;
                }
                words[0] = count as u64;
                Ok(Reply::ok(&words[..1 + 2 * count]))
            }
            _ => Err(Errno::ENOSYS),
        }
    }

    fn set_credentials(&mut self, process: u64, credentials: Credentials) -> Result<Reply, Errno> {
        if let Some(p) = self.processes.get_mut(&process) {
            p.credentials = credentials;
            return Ok(Reply::ok(&[]));
        }
        let window = self
            .windows_used
            .iter()
            .position(|used| !used)
            .ok_or(Errno::EAGAIN)?;
        self.processes.insert(
            process,
            Process {
                credentials,
                cwd: ROOT,
                window,
                pages: 0,
                frames: [0; WINDOW_PAGES],
                job: ttycore::Caller::new(process as u32, process as u32, 0),
            },
        );
        self.windows_used[window] = true;
        Ok(Reply::ok(&[]))
    }

    fn process_exit(&mut self, process: u64) -> Result<Reply, Errno> {
        if !self.processes.contains_key(&process) {
            return Err(Errno::ESRCH);
        }
        self.cancel_pending(|p| p.process == process);
        self.cancel_terminal_waits(|w| w.process() == process);
        self.session_leader_gone(process);
        for released in self.table.process_exit(process) {
            self.release(released);
        }
        if let Some(p) = self.processes.remove(&process) {
            for &slot in &p.frames[..p.pages] {
                memory::free_slot(slot);
            }
            self.windows_used[p.window] = false;
        }
        Ok(Reply::ok(&[]))
    }
}
