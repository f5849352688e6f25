//! One terminal: input processing (canonical editing, signals, echo), reads, writes with
//! output processing, and settings.

use crate::error::TtyError;
use crate::event::{Event, Signal, Target};
use crate::identity::Caller;
use crate::queue::{InputQueue, OutputQueue, MAX_CANON};
use crate::session::Control;
use crate::termios::{cc, iflag, lflag, oflag, SetWhen, Termios, WindowSize};

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
    input: InputQueue,
    output: OutputQueue,
    /// The device's cursor column as output processing tracks it (for erasing tabs).
    column: usize,
    /// The column where the line being edited started.
    line_start_column: usize,
    /// `VLNEXT` was typed: the next byte is taken literally.
    literal_next: bool,
    /// `VSTOP` was typed (with `IXON`): the device gets no output until `VSTART`.
    output_stopped: bool,
    /// The terminal hung up: reads see end of file, writes fail.
    pub(crate) hung_up: bool,
    /// The session this terminal controls, and its foreground group.
    pub(crate) control: Option<Control>,
}

/// Whether `byte` is an ASCII control character (C0 or DEL).
fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

/// Whether `byte` continues a UTF-8 sequence.
fn is_continuation(byte: u8) -> bool {
    byte & 0xc0 == 0x80
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// What one erase removes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Erase {
    Character,
    Word,
    Line,
}

/// What input processing noticed, reported once per call.
#[derive(Default)]
struct Noticed {
    readable: bool,
    output: bool,
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

    // ---- input from the device -------------------------------------------------------

    /// Whether [`Self::input`] would take another byte now. False only when the input
    /// queue is full of unread input; a reader taking some gives [`Event::InputSpace`].
    /// In canonical mode the last free byte is kept for a line's end, so that a full line
    /// can always be ended (further ordinary bytes are then discarded, as Linux does).
    pub fn accepts_input(&self) -> bool {
        if self.hung_up {
            return true;
        }
        let room = self.input.room();
        if self.termios.canonical() {
            room > 1 || (room == 1 && self.input.editing() > 0)
        } else {
            room > 0
        }
    }

    /// Processes bytes that arrived from the device (typed keys, or a pty master's
    /// write): editing, signals, echo. Stops early when [`Self::accepts_input`] turns
    /// false; returns how many bytes it took (the rest is the caller's to offer again after
    /// [`Event::InputSpace`]).
    pub fn input(&mut self, bytes: &[u8], events: &mut dyn FnMut(Event)) -> usize {
        let mut noticed = Noticed::default();
        let mut taken = 0;
        for &byte in bytes {
            if !self.accepts_input() {
                break;
            }
            self.input_byte(byte, &mut noticed, events);
            taken += 1;
        }
        if noticed.readable {
            events(Event::InputReady);
        }
        if noticed.output && !self.output_stopped {
            events(Event::OutputReady);
        }
        taken
    }

    fn input_byte(&mut self, byte: u8, noticed: &mut Noticed, events: &mut dyn FnMut(Event)) {
        if self.hung_up {
            return;
        }
        let t = self.termios;
        let mut c = if t.input(iflag::ISTRIP) {
            byte & 0x7f
        } else {
            byte
        };
        if self.literal_next {
            // The echo of the byte overwrites the "^" left under the cursor.
            self.literal_next = false;
            self.store(c, noticed);
            return;
        }
        if t.input(iflag::IXON) {
            if t.is(cc::VSTOP, c) {
                self.output_stopped = true;
                return;
            }
            if t.is(cc::VSTART, c) {
                self.restart_output(events);
                return;
            }
        }
        if t.local(lflag::ISIG) {
            let signal = if t.is(cc::VINTR, c) {
                Some(Signal::Interrupt)
            } else if t.is(cc::VQUIT, c) {
                Some(Signal::Quit)
            } else if t.is(cc::VSUSP, c) {
                Some(Signal::TerminalStop)
            } else {
                None
            };
            if let Some(signal) = signal {
                self.signal_key(c, signal, noticed, events);
                return;
            }
        }
        if c == b'\r' {
            if t.input(iflag::IGNCR) {
                return;
            }
            if t.input(iflag::ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.input(iflag::INLCR) {
            c = b'\r';
        }
        if !t.canonical() {
            self.store(c, noticed);
            return;
        }
        let extended = t.local(lflag::IEXTEN);
        if extended && t.is(cc::VLNEXT, c) {
            self.literal_next = true;
            if t.local(lflag::ECHO) && t.local(lflag::ECHOCTL) {
                noticed.output |= self.emit_all(b"^\x08");
            }
        } else if t.is(cc::VERASE, c) {
            self.erase(Erase::Character, noticed);
        } else if extended && t.is(cc::VWERASE, c) {
            self.erase(Erase::Word, noticed);
        } else if t.is(cc::VKILL, c) {
            self.erase(Erase::Line, noticed);
        } else if extended && t.is(cc::VREPRINT, c) {
            self.reprint(c, noticed);
        } else if t.is(cc::VEOF, c) {
            // The line ends here; the EOF byte itself is never delivered (nor echoed).
            if self.input.push(c, true, true) {
                self.input.commit();
                noticed.readable = true;
            }
        } else if c == b'\n' || t.is(cc::VEOL, c) || t.is(cc::VEOL2, c) {
            if self.input.push(c, true, false) {
                if t.local(lflag::ECHO) || (c == b'\n' && t.local(lflag::ECHONL)) {
                    noticed.output |= self.emit(c);
                }
                self.input.commit();
                noticed.readable = true;
            }
        } else {
            self.store(c, noticed);
        }
    }

    /// Stores an ordinary byte (the line being edited, or readable input in
    /// non-canonical mode) and echoes it.
    fn store(&mut self, c: u8, noticed: &mut Noticed) {
        let canonical = self.termios.canonical();
        if canonical {
            if self.input.editing() >= MAX_CANON || self.input.room() <= 1 {
                return;
            }
            if self.input.editing() == 0 {
                self.line_start_column = self.column;
            }
        }
        if !self.input.push(c, false, false) {
            return;
        }
        if !canonical {
            self.input.commit();
            noticed.readable = true;
        }
        noticed.output |= self.echo(c);
    }

    /// ^C, ^\ or ^Z: flush (unless `NOFLSH`), echo, signal the foreground group.
    fn signal_key(
        &mut self,
        c: u8,
        signal: Signal,
        noticed: &mut Noticed,
        events: &mut dyn FnMut(Event),
    ) {
        if !self.termios.local(lflag::NOFLSH) {
            self.input.clear();
            self.output.clear();
            events(Event::InputSpace);
            events(Event::OutputSpace);
        }
        if self.termios.input(iflag::IXON) {
            self.restart_output(events);
        }
        noticed.output |= self.echo(c);
        if let Some(control) = self.control {
            events(Event::Signal {
                target: Target::Group(control.foreground),
                signal,
            });
        }
    }

    fn restart_output(&mut self, events: &mut dyn FnMut(Event)) {
        if self.output_stopped {
            self.output_stopped = false;
            if self.output.len() > 0 {
                events(Event::OutputReady);
            }
        }
    }

    // ---- echo and output processing ----------------------------------------------------

    /// Echoes an input byte (when `ECHO` is on); returns whether output was queued.
    fn echo(&mut self, c: u8) -> bool {
        let t = self.termios;
        if !t.local(lflag::ECHO) {
            return false;
        }
        if is_control(c) && t.local(lflag::ECHOCTL) && c != b'\t' && c != b'\n' {
            self.emit_all(&[b'^', c ^ 0x40])
        } else {
            self.emit(c)
        }
    }

    /// Queues `bytes` through output processing; returns whether anything was queued.
    fn emit_all(&mut self, bytes: &[u8]) -> bool {
        let mut any = false;
        for &b in bytes {
            any |= self.emit(b);
        }
        any
    }

    /// Queues one byte through output processing (`OPOST`), tracking the column; returns
    /// false when it does not fit.
    fn emit(&mut self, c: u8) -> bool {
        let t = self.termios;
        let utf8 = t.input(iflag::IUTF8);
        let fits = match c {
            b'\n' if t.output(oflag::ONLCR) => self.output.push_all(b"\r\n"),
            b'\r' if t.output(oflag::OCRNL) => self.output.push_all(b"\n"),
            _ => self.output.push_all(&[c]),
        };
        if !fits {
            return false;
        }
        self.column = match c {
            b'\n' if t.output(oflag::ONLCR) => 0,
            b'\r' => 0,
            b'\t' => (self.column | 7) + 1,
            0x08 => self.column.saturating_sub(1),
            c if is_control(c) => self.column,
            c if utf8 && is_continuation(c) => self.column,
            _ => self.column + 1,
        };
        true
    }

    /// Moves the cursor back over `columns` columns, blanking them ("\b \b" each).
    fn erase_echo_columns(&mut self, columns: usize) -> bool {
        let mut any = false;
        for _ in 0..columns {
            any |= self.emit_all(b"\x08 \x08");
        }
        any
    }

    /// The column the echo of the line being edited ends at.
    fn edit_line_end_column(&self) -> usize {
        let ctl = self.termios.local(lflag::ECHOCTL);
        let utf8 = self.termios.input(iflag::IUTF8);
        let mut column = self.line_start_column;
        for i in 0..self.input.editing() {
            let c = self.input.edit_byte(i);
            column = match c {
                b'\t' => (column | 7) + 1,
                c if is_control(c) && ctl => column + 2,
                c if is_control(c) => column,
                c if utf8 && is_continuation(c) => column,
                _ => column + 1,
            };
        }
        column
    }

    /// Erase, word erase, kill: removes from the line being edited and echoes the erase.
    fn erase(&mut self, kind: Erase, noticed: &mut Noticed) {
        let t = self.termios;
        let echo = t.local(lflag::ECHO);
        if kind == Erase::Line && echo && !(t.local(lflag::ECHOKE) && t.local(lflag::ECHOE)) {
            // Kill without visual erase: the line goes, the kill character is echoed and
            // (ECHOK) a newline starts a fresh line.
            while self.input.pop_edit().is_some() {}
            noticed.output |= self.echo(t.cc[cc::VKILL]);
            if t.local(lflag::ECHOK) {
                noticed.output |= self.emit(b'\n');
            }
            self.line_start_column = self.column;
            return;
        }
        let mut seen_word = false;
        while let Some(last) = self.input.last_edit() {
            if kind == Erase::Word {
                if is_blank(last) && seen_word {
                    break;
                }
                seen_word |= !is_blank(last);
            }
            self.erase_one_character(noticed);
            if kind == Erase::Character {
                break;
            }
        }
    }

    /// Removes the last character of the line being edited (all bytes of a UTF-8
    /// character under `IUTF8`) and echoes its erasure.
    fn erase_one_character(&mut self, noticed: &mut Noticed) {
        let t = self.termios;
        let before = self.edit_line_end_column();
        let mut removed = None;
        while let Some(byte) = self.input.pop_edit() {
            removed = Some(byte);
            if !(t.input(iflag::IUTF8) && is_continuation(byte)) {
                break;
            }
        }
        let Some(removed) = removed else {
            return;
        };
        if !t.local(lflag::ECHO) {
            return;
        }
        if !t.local(lflag::ECHOE) {
            noticed.output |= self.echo(t.cc[cc::VERASE]);
            return;
        }
        let after = self.edit_line_end_column();
        let columns = before.saturating_sub(after);
        if removed == b'\t' {
            // A tab is erased by moving back, not by blanking.
            for _ in 0..columns {
                noticed.output |= self.emit(0x08);
            }
        } else {
            noticed.output |= self.erase_echo_columns(columns);
        }
    }

    /// ^R: echo the reprint character, a newline, and the line being edited again.
    fn reprint(&mut self, c: u8, noticed: &mut Noticed) {
        if !self.termios.local(lflag::ECHO) {
            return;
        }
        noticed.output |= self.echo(c);
        noticed.output |= self.emit(b'\n');
        self.line_start_column = self.column;
        for i in 0..self.input.editing() {
            let byte = self.input.edit_byte(i);
            noticed.output |= self.echo(byte);
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
