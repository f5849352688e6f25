//! The session rules: which session a terminal controls, its foreground group, how a
//! session acquires and loses it.
//!
//! procsrv owns sessions and groups; the terminal keeps only "I am the controlling
//! terminal of session S, and G is its foreground group". Facts about other terminals and
//! groups (does the caller's session already have a terminal? is group G in the caller's
//! session?) come from the server as trusted arguments.

use crate::error::TtyError;
use crate::event::{Event, Signal, Target};
use crate::identity::{Caller, GroupId, ProcessId, SessionId};
use crate::terminal::Terminal;

/// The session a terminal controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Control {
    pub(crate) session: SessionId,
    pub(crate) foreground: GroupId,
}

/// What opening a terminal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOutcome {
    /// The terminal became the controlling terminal of the caller's session (the server
    /// tells procsrv).
    pub acquired: bool,
}

impl Terminal {
    /// The `open` rule: a session leader whose session has no controlling terminal, opening
    /// a terminal that controls no session, without `O_NOCTTY`, acquires it (its group
    /// becomes the foreground group). So `setsid` then `open` gives the new session its
    /// terminal; `open` then `setsid` does not.
    pub fn open(
        &mut self,
        caller: &Caller,
        no_controlling_terminal: bool,
        session_has_terminal: bool,
    ) -> OpenOutcome {
        let acquired = !no_controlling_terminal
            && caller.is_session_leader()
            && !session_has_terminal
            && self.control.is_none()
            && !self.hung_up;
        if acquired {
            self.control = Some(Control {
                session: caller.session,
                foreground: caller.group,
            });
        }
        OpenOutcome { acquired }
    }

    /// `TIOCSCTTY`: a session leader whose session has no controlling terminal makes this
    /// its controlling terminal. A terminal controlling another session is taken only with
    /// `steal` by a `privileged` caller (that session gets [`Event::ControlLost`]).
    /// Asking for the terminal one's session already controls succeeds and changes nothing.
    ///
    /// # Errors
    /// [`TtyError::NotPermitted`] for a caller that is not a session leader, whose session
    /// has another terminal, or for a terminal of another session; [`TtyError::Io`] after a
    /// hangup.
    pub fn make_controlling(
        &mut self,
        caller: &Caller,
        session_has_terminal: bool,
        steal: bool,
        privileged: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), TtyError> {
        if self.control.is_some_and(|c| c.session == caller.session) {
            return Ok(());
        }
        if self.hung_up {
            return Err(TtyError::Io);
        }
        if !caller.is_session_leader() || session_has_terminal {
            return Err(TtyError::NotPermitted);
        }
        if let Some(other) = self.control {
            if !(steal && privileged) {
                return Err(TtyError::NotPermitted);
            }
            events(Event::ControlLost {
                session: other.session,
            });
        }
        self.control = Some(Control {
            session: caller.session,
            foreground: caller.group,
        });
        Ok(())
    }

    /// `TIOCNOTTY`: the caller gives up its controlling terminal. For a session leader the
    /// whole session loses it, and the foreground group gets SIGHUP and SIGCONT; for any
    /// other process only its own link goes (the server's record; the terminal is
    /// unchanged).
    ///
    /// # Errors
    /// [`TtyError::NotControlling`] when this is not the caller's controlling terminal.
    pub fn give_up_controlling(
        &mut self,
        caller: &Caller,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), TtyError> {
        self.require_controlling(caller)?;
        if caller.is_session_leader() {
            self.disassociate(events);
        }
        Ok(())
    }

    /// The leader of `session` exited: if this terminal controls that session, the
    /// foreground group gets SIGHUP and SIGCONT and the terminal controls no session any
    /// more (a new session may acquire it).
    pub fn session_leader_exited(&mut self, session: SessionId, events: &mut dyn FnMut(Event)) {
        if self.control.is_some_and(|c| c.session == session) {
            self.disassociate(events);
        }
    }

    fn disassociate(&mut self, events: &mut dyn FnMut(Event)) {
        let Some(control) = self.control.take() else {
            return;
        };
        for signal in [Signal::Hangup, Signal::Continue] {
            events(Event::Signal {
                target: Target::Group(control.foreground),
                signal,
            });
        }
        events(Event::ControlLost {
            session: control.session,
        });
    }

    /// The device hung up (a pty's master closed, a modem line dropped): the session
    /// leader and the foreground group get SIGHUP and SIGCONT, the session loses the
    /// terminal, queued bytes are discarded, reads return end of file and writes fail from
    /// now on.
    pub fn hangup(&mut self, events: &mut dyn FnMut(Event)) {
        if self.hung_up {
            return;
        }
        self.hung_up = true;
        if let Some(control) = self.control {
            for signal in [Signal::Hangup, Signal::Continue] {
                events(Event::Signal {
                    target: Target::Process(ProcessId(control.session.0)),
                    signal,
                });
            }
        }
        self.disassociate(events);
        self.flush_all();
        events(Event::InputReady);
        events(Event::OutputSpace);
    }

    /// Whether the terminal hung up.
    pub fn is_hung_up(&self) -> bool {
        self.hung_up
    }

    /// The session this terminal controls.
    pub fn controlling_session(&self) -> Option<SessionId> {
        self.control.map(|c| c.session)
    }

    /// `tcgetpgrp`: the foreground group.
    ///
    /// # Errors
    /// [`TtyError::NotControlling`] unless this is the caller's controlling terminal.
    pub fn foreground(&self, caller: &Caller) -> Result<GroupId, TtyError> {
        self.require_controlling(caller).map(|c| c.foreground)
    }

    /// `TIOCGSID`: the session this terminal controls.
    ///
    /// # Errors
    /// [`TtyError::NotControlling`] unless this is the caller's controlling terminal.
    pub fn session(&self, caller: &Caller) -> Result<SessionId, TtyError> {
        self.require_controlling(caller).map(|c| c.session)
    }

    /// `tcsetpgrp`: makes `group` the foreground group. `group_in_session` is the
    /// server's word (from procsrv) that `group` exists in the caller's session.
    ///
    /// # Errors
    /// [`TtyError::NotControlling`] unless this is the caller's controlling terminal;
    /// a background caller's [`TtyError::Interrupted`] (SIGTTOU sent) or [`TtyError::Io`];
    /// [`TtyError::NotPermitted`] for a group outside the session.
    pub fn set_foreground(
        &mut self,
        caller: &Caller,
        group: GroupId,
        group_in_session: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), TtyError> {
        self.require_controlling(caller)?;
        self.check_background(caller, Signal::TerminalOutput, events)?;
        if !group_in_session {
            return Err(TtyError::NotPermitted);
        }
        if let Some(control) = self.control.as_mut() {
            control.foreground = group;
        }
        Ok(())
    }

    fn require_controlling(&self, caller: &Caller) -> Result<Control, TtyError> {
        match self.control {
            Some(control) if control.session == caller.session => Ok(control),
            _ => Err(TtyError::NotControlling),
        }
    }
}
