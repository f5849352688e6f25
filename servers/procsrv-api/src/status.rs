//! Wait statuses (as POSIX encodes them) and signal numbers.

/// A signal number (Linux x86_64), 1..=64.
pub type Signal = u32;

/// Signal numbers procsrv acts on itself.
pub mod signal {
    use super::Signal;
    /// Hangup.
    pub const SIGHUP: Signal = 1;
    /// Interrupt.
    pub const SIGINT: Signal = 2;
    /// Illegal instruction.
    pub const SIGILL: Signal = 4;
    /// Trace/breakpoint trap.
    pub const SIGTRAP: Signal = 5;
    /// Bus error (alignment check).
    pub const SIGBUS: Signal = 7;
    /// Arithmetic error.
    pub const SIGFPE: Signal = 8;
    /// Kill (cannot be caught or ignored).
    pub const SIGKILL: Signal = 9;
    /// Segmentation fault.
    pub const SIGSEGV: Signal = 11;
    /// Termination.
    pub const SIGTERM: Signal = 15;
    /// Child status changed (default: ignored).
    pub const SIGCHLD: Signal = 17;
    /// Continue if stopped.
    pub const SIGCONT: Signal = 18;
    /// Stop (cannot be caught or ignored).
    pub const SIGSTOP: Signal = 19;
    /// Terminal stop.
    pub const SIGTSTP: Signal = 20;
    /// Background read from the terminal.
    pub const SIGTTIN: Signal = 21;
    /// Background write to the terminal.
    pub const SIGTTOU: Signal = 22;
    /// Urgent data (default: ignored).
    pub const SIGURG: Signal = 23;
    /// CPU time limit exceeded.
    pub const SIGXCPU: Signal = 24;
    /// Window size change (default: ignored).
    pub const SIGWINCH: Signal = 28;
    /// The highest signal number.
    pub const MAX: Signal = 64;
}

/// How a process ended, as `wait` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It called `exit(code)` (the low 8 bits are kept, as in POSIX).
    Exited(u8),
    /// A signal killed it.
    Signaled(Signal),
    /// A signal stopped it (reported once, to a `wait` with [`crate::WUNTRACED`]).
    Stopped(Signal),
}

impl WaitStatus {
    /// The POSIX status word: `code << 8` for an exit, the signal number for a kill,
    /// `signal << 8 | 0x7f` for a stop.
    pub const fn to_word(self) -> u64 {
        match self {
            WaitStatus::Exited(code) => (code as u64) << 8,
            WaitStatus::Signaled(signal) => (signal & 0x7f) as u64,
            WaitStatus::Stopped(signal) => ((signal & 0xff) as u64) << 8 | 0x7f,
        }
    }

    /// Decodes a status word.
    pub const fn from_word(word: u64) -> WaitStatus {
        if word & 0x7f == 0 {
            WaitStatus::Exited(((word >> 8) & 0xff) as u8)
        } else if word & 0xff == 0x7f {
            WaitStatus::Stopped(((word >> 8) & 0xff) as Signal)
        } else {
            WaitStatus::Signaled((word & 0x7f) as Signal)
        }
    }
}

impl core::fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WaitStatus::Exited(code) => write!(f, "exited with status {code}"),
            WaitStatus::Signaled(signal) => write!(f, "killed by signal {signal}"),
            WaitStatus::Stopped(signal) => write!(f, "stopped by signal {signal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_words_match_posix() {
        assert_eq!(WaitStatus::Exited(3).to_word(), 0x300);
        assert_eq!(WaitStatus::Signaled(signal::SIGSEGV).to_word(), 11);
        assert_eq!(WaitStatus::Stopped(signal::SIGTSTP).to_word(), 0x147f);
        for s in [
            WaitStatus::Exited(0),
            WaitStatus::Exited(255),
            WaitStatus::Signaled(9),
            WaitStatus::Stopped(signal::SIGTSTP),
            WaitStatus::Stopped(signal::SIGSTOP),
        ] {
            assert_eq!(WaitStatus::from_word(s.to_word()), s);
        }
    }
}
