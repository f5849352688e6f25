//! Line editing with history, for an interactive shell whose terminal is in raw mode.
//!
//! The terminal's canonical mode already gives erase, word erase and kill; this adds what
//! it cannot: moving the cursor inside the line and recalling earlier lines. The editor is
//! pure: [`Editor::feed`] takes one input byte and appends what to echo to the terminal,
//! and says when the line is done. Keys (emacs style, as readline's defaults):
//!
//! | key | does |
//! |---|---|
//! | printable bytes | insert at the cursor |
//! | Enter (`\r` or `\n`) | the line is done |
//! | Backspace (`^H`, DEL) / `^D` on a non-empty line, Delete (`ESC [ 3 ~`) | erase before / at the cursor |
//! | `^D` on an empty line | end of input |
//! | `^C` | drop the line (the shell shows a new prompt) |
//! | left/right (`ESC [ D` / `C`, `^B` / `^F`), Home/End (`ESC [ H` / `F`, `^A` / `^E`) | move |
//! | up/down (`ESC [ A` / `B`, `^P` / `^N`) | earlier / later line of the history |
//! | `^U` / `^K` / `^W` | erase to the start / to the end / the word before the cursor |
//! | `^L` | clear the screen, redraw |
//!
//! The cursor counts bytes: non-ASCII text is kept and sent intact, but moving over it
//! moves by bytes.

use alloc::vec::Vec;

use crate::shell::MAX_LINE;

/// Most lines the history keeps.
pub const MAX_HISTORY: usize = 500;

/// What a byte of input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The line goes on.
    Continue,
    /// Enter: the line.
    Line(Vec<u8>),
    /// `^D` on an empty line.
    Eof,
    /// `^C`: the line was dropped.
    Interrupt,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// After `ESC [`, with the number read so far.
    Csi(u32),
    /// After `ESC O`.
    Ss3,
}

/// The line being edited.
#[derive(Clone, Debug, Default)]
pub struct Line {
    prompt: Vec<u8>,
    buffer: Vec<u8>,
    cursor: usize,
    /// Which history entry is shown (`None`: the line being typed).
    recalled: Option<usize>,
    /// The line being typed, kept while the history is shown.
    typed: Vec<u8>,
    escape: Escape,
}

impl Line {
    /// The text so far.
    pub fn text(&self) -> &[u8] {
        &self.buffer
    }

    /// The cursor's byte position.
    pub fn cursor(&self) -> usize {
        self.cursor
    }
}

/// The history, and the editing of one line at a time.
#[derive(Clone, Debug, Default)]
pub struct Editor {
    history: Vec<Vec<u8>>,
}

impl Editor {
    /// Starts a line: appends the prompt to `echo`.
    pub fn start(&self, prompt: &[u8], echo: &mut Vec<u8>) -> Line {
        echo.extend_from_slice(prompt);
        Line {
            prompt: prompt.to_vec(),
            ..Line::default()
        }
    }

    /// The history, oldest first.
    pub fn history(&self) -> &[Vec<u8>] {
        &self.history
    }

    /// Remembers a line (not an empty one, nor the same as the last).
    pub fn remember(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace)
            || self.history.last().is_some_and(|l| l == line)
        {
            return;
        }
        if self.history.len() == MAX_HISTORY {
            self.history.remove(0);
        }
        self.history.push(line.to_vec());
    }

    /// Feeds one byte; appends what the terminal must show to `echo`.
    pub fn feed(&self, line: &mut Line, byte: u8, echo: &mut Vec<u8>) -> Event {
        if line.escape != Escape::None {
            self.feed_escape(line, byte, echo);
            return Event::Continue;
        }
        match byte {
            b'\r' | b'\n' => {
                echo.extend_from_slice(b"\r\n");
                return Event::Line(core::mem::take(&mut line.buffer));
            }
            0x03 => {
                echo.extend_from_slice(b"^C\r\n");
                line.buffer.clear();
                line.cursor = 0;
                return Event::Interrupt;
            }
            0x04 if line.buffer.is_empty() => return Event::Eof,
            0x04 => self.delete_at_cursor(line, echo),
            0x1b => line.escape = Escape::Start,
            0x01 => self.home(line, echo),
            0x05 => self.end(line, echo),
            0x02 => self.arrow(line, b'D', echo),
            0x06 => self.arrow(line, b'C', echo),
            0x10 => self.arrow(line, b'A', echo),
            0x0e => self.arrow(line, b'B', echo),
            0x08 | 0x7f if line.cursor > 0 => {
                line.cursor -= 1;
                line.buffer.remove(line.cursor);
                if line.cursor == line.buffer.len() {
                    echo.extend_from_slice(b"\x08 \x08");
                } else {
                    redraw(line, echo);
                }
            }
            // Backspace at the start of the line: nothing to erase.
            0x08 | 0x7f => {}
            0x15 => {
                line.buffer.drain(..line.cursor);
                line.cursor = 0;
                redraw(line, echo);
            }
            0x0b => {
                line.buffer.truncate(line.cursor);
                echo.extend_from_slice(b"\x1b[K");
            }
            0x17 => {
                let end = line.cursor;
                let mut start = end;
                while start > 0 && line.buffer[start - 1] == b' ' {
                    start -= 1;
                }
                while start > 0 && line.buffer[start - 1] != b' ' {
                    start -= 1;
                }
                line.buffer.drain(start..end);
                line.cursor = start;
                redraw(line, echo);
            }
            0x0c => {
                echo.extend_from_slice(b"\x1b[H\x1b[2J");
                redraw(line, echo);
            }
            byte if byte >= 0x20 && line.buffer.len() < MAX_LINE => {
                line.buffer.insert(line.cursor, byte);
                line.cursor += 1;
                if line.cursor == line.buffer.len() {
                    echo.push(byte);
                } else {
                    redraw(line, echo);
                }
            }
            _ => {}
        }
        Event::Continue
    }

    /// A byte after ESC: `ESC [ n ~` (Home, Delete, End), `ESC [ X` and `ESC O X` (arrows,
    /// Home, End).
    fn feed_escape(&self, line: &mut Line, byte: u8, echo: &mut Vec<u8>) {
        match line.escape {
            Escape::Start => {
                line.escape = match byte {
                    b'[' => Escape::Csi(0),
                    b'O' => Escape::Ss3,
                    _ => Escape::None,
                };
            }
            Escape::Csi(n) => {
                line.escape = Escape::None;
                match byte {
                    b'0'..=b'9' => {
                        let n = n.saturating_mul(10).saturating_add(u32::from(byte - b'0'));
                        line.escape = Escape::Csi(n);
                    }
                    b';' => line.escape = Escape::Csi(0),
                    b'~' => match n {
                        1 | 7 => self.home(line, echo),
                        3 => self.delete_at_cursor(line, echo),
                        4 | 8 => self.end(line, echo),
                        _ => {}
                    },
                    _ => self.arrow(line, byte, echo),
                }
            }
            Escape::Ss3 => {
                line.escape = Escape::None;
                self.arrow(line, byte, echo);
            }
            Escape::None => {}
        }
    }

    fn home(&self, line: &mut Line, echo: &mut Vec<u8>) {
        line.cursor = 0;
        redraw(line, echo);
    }

    fn end(&self, line: &mut Line, echo: &mut Vec<u8>) {
        line.cursor = line.buffer.len();
        redraw(line, echo);
    }

    fn delete_at_cursor(&self, line: &mut Line, echo: &mut Vec<u8>) {
        if line.cursor < line.buffer.len() {
            line.buffer.remove(line.cursor);
            redraw(line, echo);
        }
    }

    /// `A` up, `B` down, `C` right, `D` left, `H` home, `F` end.
    fn arrow(&self, line: &mut Line, key: u8, echo: &mut Vec<u8>) {
        match key {
            b'C' if line.cursor < line.buffer.len() => {
                line.cursor += 1;
                echo.extend_from_slice(b"\x1b[C");
            }
            b'D' if line.cursor > 0 => {
                line.cursor -= 1;
                echo.push(0x08);
            }
            b'H' => self.home(line, echo),
            b'F' => self.end(line, echo),
            b'A' => {
                let index = match line.recalled {
                    None if self.history.is_empty() => return,
                    None => {
                        line.typed = core::mem::take(&mut line.buffer);
                        self.history.len() - 1
                    }
                    Some(0) => return,
                    Some(index) => index - 1,
                };
                line.recalled = Some(index);
                line.buffer = self.history[index].clone();
                line.cursor = line.buffer.len();
                redraw(line, echo);
            }
            b'B' => {
                let Some(index) = line.recalled else { return };
                if index + 1 < self.history.len() {
                    line.recalled = Some(index + 1);
                    line.buffer = self.history[index + 1].clone();
                } else {
                    line.recalled = None;
                    line.buffer = core::mem::take(&mut line.typed);
                }
                line.cursor = line.buffer.len();
                redraw(line, echo);
            }
            _ => {}
        }
    }
}

/// Redraws the whole line: back to the column 0, the prompt and the text, erase the rest,
/// then move back to the cursor.
fn redraw(line: &Line, echo: &mut Vec<u8>) {
    echo.push(b'\r');
    echo.extend_from_slice(&line.prompt);
    echo.extend_from_slice(&line.buffer);
    echo.extend_from_slice(b"\x1b[K");
    let back = line.buffer.len() - line.cursor;
    if back > 0 {
        echo.extend_from_slice(b"\x1b[");
        crate::expand::push_decimal(echo, back as u64);
        echo.push(b'D');
    }
}
