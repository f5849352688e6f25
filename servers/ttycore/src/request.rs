//! Terminal requests by their Linux ioctl numbers: decoded from message words, answered by
//! [`Terminal::request`], answers encoded back into words. The server that owns terminals
//! passes a client's "ioctl" through this, so the numbering lives in one place.

use crate::error::TtyError;
use crate::event::Event;
use crate::identity::{Caller, GroupId, SessionId};
use crate::terminal::{Flush, Terminal};
use crate::termios::{SetWhen, Termios, WindowSize, TERMIOS_WORDS};

/// Linux's ioctl numbers of the requests understood.
pub mod number {
    /// `tcgetattr`.
    pub const TCGETS: u32 = 0x5401;
    /// `tcsetattr(TCSANOW)`.
    pub const TCSETS: u32 = 0x5402;
    /// `tcsetattr(TCSADRAIN)`.
    pub const TCSETSW: u32 = 0x5403;
    /// `tcsetattr(TCSAFLUSH)`.
    pub const TCSETSF: u32 = 0x5404;
    /// `tcflush(queue)`: argument 0 input, 1 output, 2 both.
    pub const TCFLSH: u32 = 0x540b;
    /// Make this the controlling terminal: argument 1 steals it (privileged).
    pub const TIOCSCTTY: u32 = 0x540e;
    /// `tcgetpgrp`.
    pub const TIOCGPGRP: u32 = 0x540f;
    /// `tcsetpgrp(group)`.
    pub const TIOCSPGRP: u32 = 0x5410;
    /// Get the window size.
    pub const TIOCGWINSZ: u32 = 0x5413;
    /// Set the window size.
    pub const TIOCSWINSZ: u32 = 0x5414;
    /// Bytes a read could take now.
    pub const FIONREAD: u32 = 0x541b;
    /// Give up the controlling terminal.
    pub const TIOCNOTTY: u32 = 0x5422;
    /// `tcgetsid`.
    pub const TIOCGSID: u32 = 0x5429;
}

/// A decoded terminal request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `TCGETS`.
    GetAttributes,
    /// `TCSETS`, `TCSETSW`, `TCSETSF`.
    SetAttributes(SetWhen, Termios),
    /// `TCFLSH`.
    Flush(Flush),
    /// `TIOCSCTTY` (with the steal argument).
    MakeControlling {
        /// Take it from another session (needs privilege).
        steal: bool,
    },
    /// `TIOCGPGRP`.
    GetForeground,
    /// `TIOCSPGRP`.
    SetForeground(GroupId),
    /// `TIOCGWINSZ`.
    GetWindowSize,
    /// `TIOCSWINSZ`.
    SetWindowSize(WindowSize),
    /// `FIONREAD`.
    Readable,
    /// `TIOCNOTTY`.
    GiveUpControlling,
    /// `TIOCGSID`.
    GetSession,
}

impl Request {
    /// Decodes request `number` with its argument words (a termios takes
    /// [`TERMIOS_WORDS`] words, a window size one, a group or flag one).
    ///
    /// # Errors
    /// [`TtyError::UnknownRequest`] for an unknown number; [`TtyError::Invalid`] for
    /// missing or out-of-range arguments.
    pub fn decode(number: u32, args: &[u64]) -> Result<Request, TtyError> {
        let word = |i: usize| args.get(i).copied().ok_or(TtyError::Invalid);
        let termios = || -> Result<Termios, TtyError> {
            let words: &[u64; TERMIOS_WORDS] = args
                .get(..TERMIOS_WORDS)
                .and_then(|w| w.try_into().ok())
                .ok_or(TtyError::Invalid)?;
            Termios::from_words(words)
        };
        Ok(match number {
            number::TCGETS => Request::GetAttributes,
            number::TCSETS => Request::SetAttributes(SetWhen::Now, termios()?),
            number::TCSETSW => Request::SetAttributes(SetWhen::Drain, termios()?),
            number::TCSETSF => Request::SetAttributes(SetWhen::Flush, termios()?),
            number::TCFLSH => Request::Flush(match word(0)? {
                0 => Flush::Input,
                1 => Flush::Output,
                2 => Flush::Both,
                _ => return Err(TtyError::Invalid),
            }),
            number::TIOCSCTTY => Request::MakeControlling {
                steal: match word(0)? {
                    0 => false,
                    1 => true,
                    _ => return Err(TtyError::Invalid),
                },
            },
            number::TIOCGPGRP => Request::GetForeground,
            number::TIOCSPGRP => {
                let group = u32::try_from(word(0)?).map_err(|_| TtyError::Invalid)?;
                if group == 0 {
                    return Err(TtyError::Invalid);
                }
                Request::SetForeground(GroupId(group))
            }
            number::TIOCGWINSZ => Request::GetWindowSize,
            number::TIOCSWINSZ => Request::SetWindowSize(WindowSize::from_word(word(0)?)),
            number::FIONREAD => Request::Readable,
            number::TIOCNOTTY => Request::GiveUpControlling,
            number::TIOCGSID => Request::GetSession,
            _ => return Err(TtyError::UnknownRequest),
        })
    }
}

/// What the server knows about the caller beyond its ids (from procsrv), for the requests
/// that need it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The caller's session already has a controlling terminal.
    pub session_has_terminal: bool,
    /// The group of a `TIOCSPGRP` exists in the caller's session.
    pub group_in_session: bool,
    /// The caller may steal a terminal (`TIOCSCTTY` with 1).
    pub privileged: bool,
}

/// A request's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Done; nothing to return.
    Done,
    /// The settings.
    Attributes(Termios),
    /// A process group.
    Group(GroupId),
    /// A session.
    Session(SessionId),
    /// The window size.
    WindowSize(WindowSize),
    /// A byte count.
    Count(usize),
}

impl Answer {
    /// The answer as message words; returns how many of `out` it filled.
    pub fn to_words(&self, out: &mut [u64; TERMIOS_WORDS]) -> usize {
        match *self {
            Answer::Done => 0,
            Answer::Attributes(termios) => {
                *out = termios.to_words();
                TERMIOS_WORDS
            }
            Answer::Group(group) => {
                out[0] = u64::from(group.0);
                1
            }
            Answer::Session(session) => {
                out[0] = u64::from(session.0);
                1
            }
            Answer::WindowSize(size) => {
                out[0] = size.to_word();
                1
            }
            Answer::Count(count) => {
                out[0] = count as u64;
                1
            }
        }
    }
}

impl Terminal {
    /// Performs a decoded request for `caller`, with the `facts` the server learned from
    /// procsrv.
    ///
    /// # Errors
    /// Those of the method the request names ([`Terminal::set_termios`],
    /// [`Terminal::set_foreground`], ...).
    pub fn request(
        &mut self,
        caller: &Caller,
        request: Request,
        facts: Facts,
        events: &mut dyn FnMut(Event),
    ) -> Result<Answer, TtyError> {
        Ok(match request {
            Request::GetAttributes => Answer::Attributes(self.termios()),
            Request::SetAttributes(when, termios) => {
                self.set_termios(caller, &termios, when, events)?;
                Answer::Done
            }
            Request::Flush(which) => {
                self.flush(caller, which, events)?;
                Answer::Done
            }
            Request::MakeControlling { steal } => {
                self.make_controlling(
                    caller,
                    facts.session_has_terminal,
                    steal,
                    facts.privileged,
                    events,
                )?;
                Answer::Done
            }
            Request::GetForeground => Answer::Group(self.foreground(caller)?),
            Request::SetForeground(group) => {
                self.set_foreground(caller, group, facts.group_in_session, events)?;
                Answer::Done
            }
            Request::GetWindowSize => Answer::WindowSize(self.window_size()),
            Request::SetWindowSize(size) => {
                self.set_window_size(size, events);
                Answer::Done
            }
            Request::Readable => Answer::Count(self.readable()),
            Request::GiveUpControlling => {
                self.give_up_controlling(caller, events)?;
                Answer::Done
            }
            Request::GetSession => Answer::Session(self.session(caller)?),
        })
    }
}
