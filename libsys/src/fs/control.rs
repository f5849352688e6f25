//! procsrv's side of the file server's control protocol (`fs_api::Label::Ctl*`): telling
//! the file server who each process is, opening and sharing fds for children, reporting
//! exits and fetching the events (signals) terminals and pipes raise.

use super::{reply_word, request_cap_until, request_until, Errno, Label, Result};
use crate::abi::MessageInfo;
use crate::cap::{Cap, Endpoint, Received};
use crate::syscall;

/// Most supplementary groups one process may have here.
pub const MAX_GROUPS: usize = 64;

/// One event for procsrv: `target` with `fs_api::event`'s kind bits, and a signal number
/// (or a terminal index for `CONTROL_ACQUIRED`, 0 for `CONTROL_LOST`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The process, group or session, with its kind in the top two bits.
    pub target: u64,
    /// The signal number, or the terminal for `CONTROL_ACQUIRED`.
    pub what: u64,
}

/// The control cap (badge `fs_api::Badge::Control`), and the deadline its calls give up
/// at, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Control {
    /// The cap.
    pub cap: Cap<Endpoint>,
    /// A time-stamp counter value ([`crate::time`]): every call made through this value
    /// is a `CallTimeout` that fails with `ETIMEDOUT` when no answer came by then (procsrv
    /// bounds every call it makes to the file server this way). `None`: plain `Call`s.
    pub deadline: Option<u64>,
}

impl Control {
    /// The control cap `cap`, its calls unbounded.
    pub const fn new(cap: Cap<Endpoint>) -> Control {
        Control {
            cap,
            deadline: None,
        }
    }

    /// This cap with its calls bounded by `deadline` (`None`: unbounded).
    pub const fn until(self, deadline: Option<u64>) -> Control {
        Control {
            cap: self.cap,
            deadline,
        }
    }

    fn request(
        self,
        label: Label,
        regs: [u64; 4],
        count: u64,
        bytes: &[&[u8]],
    ) -> Result<Received> {
        request_until(self.cap, label, regs, count, bytes, self.deadline)
    }

    fn call(self, info: MessageInfo, regs: [u64; 4]) -> Result<Received> {
        let reply = match self.deadline {
            Some(deadline) => self.cap.call_timeout(info, regs, deadline),
            None => self.cap.call(info, regs),
        };
        reply.map_err(|e| match e.error {
            crate::abi::Error::TimedOut => Errno::ETIMEDOUT,
            _ => Errno::EBADF,
        })
    }
    /// Registers process `process` (procsrv's id, the payload of its namespace badge) or
    /// updates its credentials.
    ///
    /// # Errors
    /// `EINVAL` (ids past 32 bits, umask past 0o777, more than [`MAX_GROUPS`] groups),
    /// `EAGAIN` (no room for another process).
    pub fn set_credentials(
        self,
        process: u64,
        uid: u32,
        gid: u32,
        umask: u16,
        groups: &[u32],
    ) -> Result<()> {
        if groups.len() > MAX_GROUPS {
            return Err(Errno::EINVAL);
        }
        syscall::set_word(4, groups.len() as u64);
        for (i, &g) in groups.iter().enumerate() {
            syscall::set_word(5 + i, u64::from(g));
        }
        let regs = [process, u64::from(uid), u64::from(gid), u64::from(umask)];
        let info = MessageInfo::new(Label::CtlSetCredentials as u64, 5 + groups.len() as u64, 0);
        let reply = self.call(info, regs)?;
        Errno::check(reply.info.label())
    }

    /// Tells the file server process `process`'s pid, group and session for the terminal
    /// rules, with `fs_api::job` flags.
    ///
    /// # Errors
    /// `ESRCH` (not registered), `EINVAL`.
    pub fn set_job(self, process: u64, pid: u32, pgid: u32, sid: u32, flags: u64) -> Result<()> {
        syscall::set_word(4, flags);
        let regs = [process, u64::from(pid), u64::from(pgid), u64::from(sid)];
        let info = MessageInfo::new(Label::CtlSetJob as u64, 5, 0);
        let reply = self.call(info, regs)?;
        Errno::check(reply.info.label())
    }

    /// The egg's `open`: opens `path` with `process`'s credentials, working directory and
    /// umask; the new fd cap (held by `process`) lands in our slot `receive_slot`, for
    /// procsrv to move into the child's fd slot.
    ///
    /// # Errors
    /// The file server's errno.
    pub fn open_on_behalf(
        self,
        process: u64,
        path: &[u8],
        flags: u64,
        mode: u64,
        receive_slot: u64,
    ) -> Result<()> {
        self.open_on_behalf_until(process, path, flags, mode, receive_slot, self.deadline)
    }

    /// [`Self::open_on_behalf`] bounded by `deadline` (a time-stamp counter value,
    /// [`crate::time`]) when there is one: a file server that has not answered by then
    /// cannot hold procsrv (the call is a `CallTimeout`).
    ///
    /// # Errors
    /// The file server's errno, or `ETIMEDOUT`.
    pub fn open_on_behalf_until(
        self,
        process: u64,
        path: &[u8],
        flags: u64,
        mode: u64,
        receive_slot: u64,
        deadline: Option<u64>,
    ) -> Result<()> {
        let regs = [process, flags, mode, path.len() as u64];
        request_cap_until(
            self.cap,
            Label::CtlOpenOnBehalf,
            regs,
            4,
            &[path],
            receive_slot,
            deadline,
        )
        .map(drop)
    }

    /// Gives `process` its own handle on the description our fd cap in `fd_slot` refers to
    /// (inheritance); the new cap lands in `receive_slot`.
    ///
    /// # Errors
    /// `EBADF` (not an fd cap of this server), `ESRCH`, `EMFILE`, `ENFILE`.
    pub fn share(self, process: u64, fd_slot: u64, receive_slot: u64) -> Result<()> {
        syscall::set_send_cap(0, fd_slot);
        syscall::set_receive_slot(receive_slot);
        let info = MessageInfo::new(Label::CtlShare as u64, 1, 1);
        let reply = self.call(info, [process, 0, 0, 0]);
        syscall::set_receive_slot(0);
        let reply = reply?;
        Errno::check(reply.info.label())?;
        if reply.info.caps() == 0 {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// The egg's `chdir` for `process`.
    ///
    /// # Errors
    /// `ENOENT`, `ENOTDIR`, `EACCES`, `ESRCH`.
    pub fn chdir(self, process: u64, path: &[u8]) -> Result<()> {
        let regs = [process, path.len() as u64, 0, 0];
        self.request(Label::CtlChdir, regs, 2, &[path]).map(drop)
    }

    /// Process `process` is gone: every handle it held ends, its waiting requests are
    /// answered, its window goes; a session leader's terminal is freed.
    ///
    /// # Errors
    /// `ESRCH`.
    pub fn process_exit(self, process: u64) -> Result<()> {
        self.request(Label::CtlProcessExit, [process, 0, 0, 0], 1, &[])
            .map(drop)
    }

    /// Up to 3 pending events; fewer (or none) when fewer are pending.
    ///
    /// # Errors
    /// `EBADF` when this is not the control cap.
    pub fn events(self) -> Result<([Event; 3], usize)> {
        let reply = self.request(Label::CtlEvents, [0; 4], 0, &[])?;
        let count = (reply.words[0] as usize).min(3);
        let mut events = [Event::default(); 3];
        for (i, e) in events.iter_mut().enumerate().take(count) {
            *e = Event {
                target: reply_word(&reply, 1 + 2 * i),
                what: reply_word(&reply, 2 + 2 * i),
            };
        }
        Ok((events, count))
    }
}
