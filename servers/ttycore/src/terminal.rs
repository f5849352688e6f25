//! One terminal: its state, reads, writes, and settings. Input processing (editing,
//! signals, echo) and output processing are in `input.rs`.

use crate::error::TtyError;
use crate::event::{Event, Signal, Target};
use crate::identity::Caller;
use crate::queue::{InputQueue, OutputQueue};
use crate::session::Control;
use crate::termios::{cc, iflag, lflag, SetWhen, Termios, WindowSize};

/// Which queues `tcflush` discards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Unread input (`TCIFLUSH`).
    Input,
    /// Output not yet taken by the device (`TCOFLUSH`).
    Output,
    /// Both (`TCIOFLUSH`).
    Both,
}

/// The state of one terminal. See the crate documentation for how a server drives it.
///
/// It holds its queues inline (about 9 KiB): keep terminals in a static or on the heap,
/// not on a process's small default stack.
pub struct Terminal {
    pub(crate) termios: Termios,
    window: WindowSize,
    pub(crate) input: InputQueue,
    pub(crate) output: OutputQueue,
    /// The device's cursor column as output processing tracks it (for erasing tabs).
    pub(crate) column: usize,
    /// The column where the line being edited started.
    pub(crate) line_start_column: usize,
    /// `VLNEXT` was typed: the next byte is taken literally.
    pub(crate) literal_next: bool,
    /// `VSTOP` was typed (with `IXON`): the device gets no output until `VSTART`.
    pub(crate) output_stopped: bool,
    /// The terminal hung up: reads see end of file, writes fail.
    pub(crate) hung_up: bool,
    /// The session this terminal controls, and its foreground group.
    pub(crate) control: Option<Control>,
}

impl Terminal {
    /// A terminal with cooked settings ([`Termios::cooked`]), an 80x24 window, empty
    /// queues and no session.
    pub const fn new() -> Self {
        Terminal {
            termios: Termios::cooked(),
            window: WindowSize {
                rows: 24,
                columns: 80,
                x_pixels: 0,
                y_pixels: 0,
            },
            input: InputQueue::new(),
            output: OutputQueue::new(),
            column: 0,
            line_start_column: 0,
            literal_next: false,
            output_stopped: false,
            hung_up: false,
            control: None,
        }
    }

    // ---- the device side of output -------------------------------------------------------

    /// Moves output for the device into `buffer` (nothing while output is stopped by
    /// `VSTOP`); returns the count. Taking any gives [`Event::OutputSpace`].
    pub fn take_output(&mut self, buffer: &mut [u8], events: &mut dyn FnMut(Event)) -> usize {
        if self.output_stopped {
            return 0;
        }
        let count = self.output.take(buffer);
        if count > 0 {
            events(Event::OutputSpace);
        }
        count
    }

    /// Discards both queues and a pending literal-next (a hangup).
    pub(crate) fn flush_all(&mut self) {
        self.input.clear();
        self.output.clear();
        self.literal_next = false;
    }

    /// Bytes waiting for the device.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// Whether `VSTOP` stopped output.
    pub fn output_stopped(&self) -> bool {
        self.output_stopped
    }

    // ---- clients: read, write, settings ------------------------------------------------

    /// A client's read. Canonical: at most one line (a line longer than `buffer` comes in
    /// parts; end of file alone reads 0). Non-canonical: by `VMIN`/`VTIME` (with `VTIME`
    /// non-zero the server arms a timer of that many tenths of a second when the reader
    /// blocks, and calls [`Self::read_expired`] when it fires).
    ///
    /// # Errors
    /// [`TtyError::WouldBlock`] (park the reader until [`Event::InputReady`]), and for a
    /// reader in a background group of the terminal's session [`TtyError::Interrupted`]
    /// (SIGTTIN sent to its group) or [`TtyError::Io`].
    pub fn read(
        &mut self,
        caller: &Caller,
        buffer: &mut [u8],
        events: &mut dyn FnMut(Event),
    ) -> Result<usize, TtyError> {
        self.read_inner(caller, buffer, false, events)
    }

    /// A non-canonical read whose `VTIME` timer fired: returns what is there, even nothing
    /// (with `VMIN` 0); with `VMIN` above 0 and nothing there it still blocks.
    ///
    /// # Errors
    /// As for [`Self::read`].
    pub fn read_expired(
        &mut self,
        caller: &Caller,
        buffer: &mut [u8],
        events: &mut dyn FnMut(Event),
    ) -> Result<usize, TtyError> {
        self.read_inner(caller, buffer, true, events)
    }

    fn read_inner(
        &mut self,
        caller: &Caller,
        buffer: &mut [u8],
        expired: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<usize, TtyError> {
        self.check_background(caller, Signal::TerminalInput, events)?;
        if buffer.is_empty() {
            return Ok(0);
        }
        let available = self.input.readable();
        if available == 0 && self.hung_up {
            return Ok(0);
        }
        let count = if self.termios.canonical() {
            if available == 0 {
                return Err(TtyError::WouldBlock);
            }
            self.input.read_line(buffer)
        } else {
            let minimum = usize::from(self.termios.cc[cc::VMIN]);
            let timed = self.termios.cc[cc::VTIME] != 0;
            let enough = available >= minimum.min(buffer.len());
            let ready = match (minimum, timed) {
                (0, false) => true,
                (0, true) => available > 0 || expired,
                (_, false) => enough && available > 0,
                (_, true) => available > 0 && (enough || expired),
            };
            if !ready {
                return Err(TtyError::WouldBlock);
            }
            self.input.read_bytes(buffer)
        };
        if self.input.readable() < available {
            events(Event::InputSpace);
        }
        Ok(count)
    }

    /// Bytes a read could take now (`FIONREAD`; in canonical mode, complete lines only).
    pub fn readable(&self) -> usize {
        self.input.readable()
    }

    /// A client's write: output processing into the output queue. Returns how many of
    /// `bytes` were taken (fewer when the queue filled).
    ///
    /// # Errors
    /// [`TtyError::Io`] after a hangup; [`TtyError::WouldBlock`] when nothing fits (park
    /// the writer until [`Event::OutputSpace`]); with `TOSTOP`, a background writer's
    /// [`TtyError::Interrupted`] (SIGTTOU sent) or [`TtyError::Io`].
    pub fn write(
        &mut self,
        caller: &Caller,
        bytes: &[u8],
        events: &mut dyn FnMut(Event),
    ) -> Result<usize, TtyError> {
        if self.hung_up {
            return Err(TtyError::Io);
        }
        if self.termios.local(lflag::TOSTOP) {
            self.check_background(caller, Signal::TerminalOutput, events)?;
        }
        let mut taken = 0;
        for &b in bytes {
            if !self.emit(b) {
                break;
            }
            taken += 1;
        }
        if taken == 0 && !bytes.is_empty() {
            return Err(TtyError::WouldBlock);
        }
        if taken > 0 && !self.output_stopped {
            events(Event::OutputReady);
        }
        Ok(taken)
    }

    /// The settings (`tcgetattr`).
    pub fn termios(&self) -> Termios {
        self.termios
    }

    /// Changes the settings (`tcsetattr`). Leaving canonical mode makes the line being
    /// edited readable.
    ///
    /// # Errors
    /// A background caller's [`TtyError::Interrupted`] (SIGTTOU sent) or
    /// [`TtyError::Io`].
    pub fn set_termios(
        &mut self,
        caller: &Caller,
        termios: &Termios,
        when: SetWhen,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), TtyError> {
        self.check_background(caller, Signal::TerminalOutput, events)?;
        let was_canonical = self.termios.canonical();
        self.termios = *termios;
        if when == SetWhen::Flush {
            self.input.clear();
            events(Event::InputSpace);
        }
        if was_canonical && !termios.canonical() {
            self.input.commit();
        }
        if !termios.input(iflag::IXON) {
            self.restart_output(events);
        }
        if !termios.local(lflag::IEXTEN) {
            self.literal_next = false;
        }
        if self.input.readable() > 0 {
            events(Event::InputReady);
        }
        Ok(())
    }

    /// The window size (`TIOCGWINSZ`).
    pub fn window_size(&self) -> WindowSize {
        self.window
    }

    /// Sets the window size (`TIOCSWINSZ`); a change sends SIGWINCH to the foreground
    /// group.
    pub fn set_window_size(&mut self, size: WindowSize, events: &mut dyn FnMut(Event)) {
        if size == self.window {
            return;
        }
        self.window = size;
        if let Some(control) = self.control {
            events(Event::Signal {
                target: Target::Group(control.foreground),
                signal: Signal::WindowChange,
            });
        }
    }

    /// Discards queued input, output or both (`tcflush`).
    ///
    /// # Errors
    /// A background caller's [`TtyError::Interrupted`] (SIGTTOU sent) or
    /// [`TtyError::Io`].
    pub fn flush(
        &mut self,
        caller: &Caller,
        which: Flush,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), TtyError> {
        self.check_background(caller, Signal::TerminalOutput, events)?;
        if which != Flush::Output {
            self.input.clear();
            events(Event::InputSpace);
        }
        if which != Flush::Input {
            self.output.clear();
            events(Event::OutputSpace);
        }
        Ok(())
    }

    /// The job-control rule: a caller in a background group of the session this terminal
    /// controls gets `signal` (SIGTTIN for reads, SIGTTOU for writes and changes), unless
    /// it cannot be stopped by it.
    pub(crate) fn check_background(
        &self,
        caller: &Caller,
        signal: Signal,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), TtyError> {
        let Some(control) = self.control else {
            return Ok(());
        };
        if control.session != caller.session || control.foreground == caller.group {
            return Ok(());
        }
        let ignored = match signal {
            Signal::TerminalInput => caller.ignores_ttin,
            _ => caller.ignores_ttou,
        };
        match (signal, ignored) {
            (Signal::TerminalInput, true) => return Err(TtyError::Io),
            (_, true) => return Ok(()),
            _ => {}
        }
        if caller.orphaned {
            return Err(TtyError::Io);
        }
        events(Event::Signal {
            target: Target::Group(caller.group),
            signal,
        });
        Err(TtyError::Interrupted)
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}
