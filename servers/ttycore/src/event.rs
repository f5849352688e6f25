//! What a terminal asks its server to do.

use crate::identity::{GroupId, ProcessId};

/// A signal a terminal sends (Linux numbers: [`Signal::number`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Hangup: the controlling terminal went away.
    Hangup,
    /// Interrupt (`VINTR`, ^C).
    Interrupt,
    /// Quit (`VQUIT`, ^\).
    Quit,
    /// Continue a stopped process (sent with a hangup).
    Continue,
    /// Terminal stop (`VSUSP`, ^Z).
    TerminalStop,
    /// A background group read its controlling terminal.
    TerminalInput,
    /// A background group wrote (with `TOSTOP`) or changed settings.
    TerminalOutput,
    /// The window size changed.
    WindowChange,
}

impl Signal {
    /// The Linux signal number.
    pub const fn number(self) -> u32 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Quit => 3,
            Signal::Continue => 18,
            Signal::TerminalStop => 20,
            Signal::TerminalInput => 21,
            Signal::TerminalOutput => 22,
            Signal::WindowChange => 28,
        }
    }

    /// The conventional name (`SIGINT`).
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::Interrupt => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Continue => "SIGCONT",
            Signal::TerminalStop => "SIGTSTP",
            Signal::TerminalInput => "SIGTTIN",
            Signal::TerminalOutput => "SIGTTOU",
            Signal::WindowChange => "SIGWINCH",
        }
    }
}

/// Who a signal goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every process of a process group.
    Group(GroupId),
    /// One process (a session leader, on hangup).
    Process(ProcessId),
}

/// Something the server must act on after a terminal call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Send `signal` to `target` (the server asks procsrv; it never trusts the client).
    Signal {
        /// The receiver.
        target: Target,
        /// The signal.
        signal: Signal,
    },
    /// Input became readable (a line was completed, raw bytes arrived, end of file, a
    /// hangup): retry parked readers.
    InputReady,
    /// Bytes wait in the output queue for the device ([`crate::Terminal::take_output`]).
    OutputReady,
    /// The output queue has room again, or output was restarted: retry parked writers.
    OutputSpace,
    /// The input queue has room again: bytes the terminal refused (a pty master's write,
    /// the console's held-back input) may be offered again.
    InputSpace,
    /// `session` no longer has this terminal as its controlling terminal (its leader
    /// exited or gave it up, the terminal hung up, or a privileged `TIOCSCTTY` took it).
    ControlLost {
        /// The session that lost it.
        session: crate::SessionId,
    },
}
