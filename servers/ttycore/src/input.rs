//! Input processing (canonical editing, signals, echo) and output processing (`OPOST`).

use crate::event::{Event, Signal, Target};
use crate::queue::MAX_CANON;
use crate::terminal::Terminal;
use crate::termios::{cc, iflag, lflag, oflag};

/// Whether `byte` is an ASCII control character (C0 or DEL).
fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

/// Whether `byte` continues a UTF-8 sequence.
fn is_continuation(byte: u8) -> bool {
    byte & 0xc0 == 0x80
}

/// Whether `byte` belongs to a word for `VWERASE`.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
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
        if t.canonical() {
            self.canonical_byte(c, noticed);
        } else {
            self.store(c, noticed);
        }
    }

    /// A byte in canonical mode: an editing character, the end of a line, or an ordinary
    /// byte of the line being edited.
    fn canonical_byte(&mut self, c: u8, noticed: &mut Noticed) {
        let t = self.termios;
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

    pub(crate) fn restart_output(&mut self, events: &mut dyn FnMut(Event)) {
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
    pub(crate) fn emit(&mut self, c: u8) -> bool {
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
        let visual_kill = t.local(lflag::ECHOK) && t.local(lflag::ECHOKE) && t.local(lflag::ECHOE);
        if kind == Erase::Line && echo && !visual_kill {
            // Kill without visual erase (as Linux: unless ECHOK, ECHOKE and ECHOE are all
            // on): the line goes, the kill character is echoed and (ECHOK) a newline
            // starts a fresh line.
            while self.input.pop_edit().is_some() {}
            noticed.output |= self.echo(t.cc[cc::VKILL]);
            if t.local(lflag::ECHOK) {
                noticed.output |= self.emit(b'\n');
            }
            self.line_start_column = self.column;
            return;
        }
        // A word, as Linux has it: letters, digits, '_' (and here any byte of a UTF-8
        // character); word erase takes the characters after the word, then the word.
        let mut seen_word = false;
        while let Some(last) = self.input.last_edit() {
            if kind == Erase::Word {
                let word = is_word(last);
                if !word && seen_word {
                    break;
                }
                seen_word |= word;
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
}
