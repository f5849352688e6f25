//! Terminal requests (`FdIoctl`): termios, window size, the controlling terminal, the
//! foreground group, a master's number (Linux's request numbers, `fs_api::tty`).

use crate::server::{Reply, Request, Server};
use crate::terminal::errno;
use alloc::vec::Vec;
use fs_api::{event, tty, Errno};
use fscore::table::Object;
use ttycore::{Flush, GroupId, SetWhen, Termios, TtyError, WindowSize, TERMIOS_WORDS};

impl Server {
    /// A terminal request (`FdIoctl`) on terminal `index` or pty master `master`.
    ///
    /// # Errors
    /// `ENOTTY` (not a terminal, not the controlling terminal), `EINVAL` (unknown request,
    /// bad termios), `EPERM`, `EINTR`, `EIO`.
    pub fn tty_ioctl(
        &mut self,
        process: u64,
        object: Object,
        request: &Request,
    ) -> Result<Reply, Errno> {
        let code = request.word(0);
        let argument = request.word(1);
        let (index, master) = match object {
            Object::Terminal(index, _) => (index, None),
            Object::PtyMaster(n) => (n + 1, Some(n)),
            _ => return Err(Errno::ENOTTY),
        };
        if code == tty::TIOCGPTN {
            return master.map(|n| Reply::ok(&[n as u64])).ok_or(Errno::ENOTTY);
        }
        let caller = self.tty_caller(process);
        let privileged = self
            .processes
            .get(&process)
            .is_some_and(|p| p.credentials.uid == 0);
        let has = self.terminals.session_has_terminal(caller.session);
        let group_in_session = self
            .processes
            .values()
            .any(|p| p.job.group == GroupId(argument as u32) && p.job.session == caller.session);
        let mut events = Vec::new();
        let mut push = |e| events.push(e);
        let terminal = self.terminals.terminal(index).ok_or(Errno::EIO)?;
        let controlled_before = terminal.controlling_session() == Some(caller.session);
        let result: Result<Reply, TtyError> = match code {
            tty::TCGETS => Ok(Reply::ok(&terminal.termios().to_words())),
            tty::TCSETS | tty::TCSETSW | tty::TCSETSF => {
                request.need(1 + TERMIOS_WORDS)?;
                let mut words = [0u64; TERMIOS_WORDS];
                for (i, w) in words.iter_mut().enumerate() {
                    *w = request.word(1 + i);
                }
                let when = match code {
                    tty::TCSETS => SetWhen::Now,
                    tty::TCSETSW => SetWhen::Drain,
                    _ => SetWhen::Flush,
                };
                Termios::from_words(&words)
                    .and_then(|t| terminal.set_termios(&caller, &t, when, &mut push))
                    .map(|()| Reply::ok(&[]))
            }
            tty::TCFLSH => {
                let which = match argument {
                    0 => Ok(Flush::Input),
                    1 => Ok(Flush::Output),
                    2 => Ok(Flush::Both),
                    _ => Err(TtyError::Invalid),
                };
                which
                    .and_then(|w| terminal.flush(&caller, w, &mut push))
                    .map(|()| Reply::ok(&[]))
            }
            tty::TIOCGWINSZ => Ok(Reply::ok(&[terminal.window_size().to_word()])),
            tty::TIOCSWINSZ => {
                terminal.set_window_size(WindowSize::from_word(argument), &mut push);
                Ok(Reply::ok(&[]))
            }
            tty::FIONREAD => Ok(Reply::ok(&[terminal.readable() as u64])),
            tty::TIOCSCTTY => terminal
                .make_controlling(&caller, has, argument != 0, privileged, &mut push)
                .map(|()| Reply::ok(&[])),
            tty::TIOCNOTTY => terminal
                .give_up_controlling(&caller, &mut push)
                .map(|()| Reply::ok(&[])),
            tty::TIOCGPGRP => terminal
                .foreground(&caller)
                .map(|g| Reply::ok(&[u64::from(g.0)])),
            tty::TIOCSPGRP => terminal
                .set_foreground(
                    &caller,
                    GroupId(argument as u32),
                    group_in_session,
                    &mut push,
                )
                .map(|()| Reply::ok(&[])),
            tty::TIOCGSID => terminal
                .session(&caller)
                .map(|s| Reply::ok(&[u64::from(s.0)])),
            _ => Err(TtyError::Invalid),
        };
        if code == tty::TIOCSCTTY && result.is_ok() && !controlled_before {
            self.post_event(
                event::CONTROL_ACQUIRED | u64::from(caller.session.0),
                index as u64,
            );
        }
        self.tty_events(index, events);
        result.map_err(errno)
    }
}
