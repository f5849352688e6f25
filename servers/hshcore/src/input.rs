//! Reading command lines: canonical lines from descriptor 0 (scripts, terminals without
//! raw mode), lines edited with history at an interactive prompt, and the lines that go on
//! on the next one.

use alloc::format;
use alloc::vec::Vec;

use crate::edit::Event;
use crate::lex::LexError;
use crate::parse::{parse, ParseError};
use crate::shell::{Shell, MAX_LINE, READ_CHUNK, STATUS_USAGE};
use crate::system::{Errno, System};

impl<S: System> Shell<S> {
    /// Reads one line from descriptor 0 (without its newline); `None` at end of input. A
    /// line longer than [`MAX_LINE`] is discarded with an error and reads as empty.
    pub fn read_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(newline) = self.input.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.input.drain(..=newline).collect();
                line.pop();
                if line.len() > MAX_LINE {
                    self.line_too_long();
                }
                if core::mem::take(&mut self.discarding) {
                    return Some(Vec::new());
                }
                return Some(line);
            }
            if self.input.len() > MAX_LINE {
                self.input.clear();
                self.line_too_long();
            }
            if self.input_eof {
                if self.input.is_empty() && !self.discarding {
                    return None;
                }
                self.discarding = false;
                return Some(core::mem::take(&mut self.input));
            }
            let start = self.input.len();
            self.input.resize(start + READ_CHUNK, 0);
            let result = self.sys.read(0, &mut self.input[start..]);
            let got = match result {
                Ok(n) => n.min(READ_CHUNK),
                Err(Errno::EINTR) => 0,
                Err(_) => {
                    self.input_eof = true;
                    0
                }
            };
            self.input.truncate(start + got);
            if result == Ok(0) {
                self.input_eof = true;
            }
            if result == Err(Errno::EINTR) {
                // ^C at the prompt: drop the partial line, start again.
                self.input.clear();
                self.write_all(2, b"\n");
                return Some(Vec::new());
            }
        }
    }

    /// The next line: with job control, after the prompt in variable `prompt_var` (else
    /// `default`).
    pub(crate) fn next_line(&mut self, prompt_var: &[u8], default: &[u8]) -> Option<Vec<u8>> {
        if !self.job_control {
            return self.read_line();
        }
        let prompt = self
            .vars
            .get(prompt_var)
            .map_or(default.to_vec(), |v| v.value.clone());
        self.prompt_line(&prompt)
    }

    /// Shows `prompt` and reads a line: edited in raw mode (with history) when the terminal
    /// allows it, else a canonical line. `None` at end of input.
    pub fn prompt_line(&mut self, prompt: &[u8]) -> Option<Vec<u8>> {
        if self.editing != Some(false) && self.sys.set_raw(0, true).is_ok() {
            self.editing = Some(true);
            let (line, last_echo) = self.edit_line(prompt);
            let _ = self.sys.set_raw(0, false);
            // The echo of the key that ended the line (its newline) goes out only once the
            // terminal is canonical again: whatever is typed after seeing it is read as a
            // canonical line (by the command, or the next prompt), not as raw bytes. Its
            // `\r\n` becomes `\n`, to which the canonical terminal's ONLCR adds the `\r`.
            let last_echo = match last_echo.strip_suffix(b"\r\n") {
                Some(start) => [start, b"\n"].concat(),
                None => last_echo,
            };
            self.write_all(2, &last_echo);
            return line;
        }
        self.editing = Some(false);
        self.write_all(2, prompt);
        self.read_line()
    }

    /// The history of edited lines, oldest first.
    pub fn history(&self) -> &[Vec<u8>] {
        self.editor.history()
    }

    /// Edits a line in raw mode; returns it (`None` at end of input) and the echo of the
    /// key that ended it, not yet written.
    fn edit_line(&mut self, prompt: &[u8]) -> (Option<Vec<u8>>, Vec<u8>) {
        let mut echo = Vec::new();
        let mut line = self.editor.start(prompt, &mut echo);
        self.write_all(2, &echo);
        let mut next = 0;
        loop {
            if next == self.input.len() {
                self.input.clear();
                next = 0;
                if self.input_eof || !self.fill_input() {
                    // End of input: what was typed still runs, as in canonical mode.
                    let text = line.text().to_vec();
                    return ((!text.is_empty()).then_some(text), Vec::new());
                }
                continue;
            }
            let byte = self.input[next];
            next += 1;
            echo.clear();
            let event = self.editor.feed(&mut line, byte, &mut echo);
            match event {
                Event::Continue => self.write_all(2, &echo),
                Event::Line(text) => {
                    self.input.drain(..next);
                    self.editor.remember(&text);
                    return (Some(text), echo);
                }
                Event::Eof => {
                    self.input.drain(..next);
                    return (None, echo);
                }
                Event::Interrupt => {
                    self.input.drain(..next);
                    self.status = 130;
                    return (Some(Vec::new()), echo);
                }
            }
        }
    }

    /// Reads more input into the buffer; false at end of input (or a read error).
    fn fill_input(&mut self) -> bool {
        let start = self.input.len();
        self.input.resize(start + READ_CHUNK, 0);
        let result = self.sys.read(0, &mut self.input[start..]);
        let got = match result {
            Ok(n) => n.min(READ_CHUNK),
            Err(_) => 0,
        };
        self.input.truncate(start + got);
        match result {
            Ok(0) | Err(Errno::EBADF | Errno::EIO) => {
                self.input_eof = true;
                false
            }
            Err(Errno::EINTR) | Ok(_) => true,
            Err(_) => {
                self.input_eof = true;
                false
            }
        }
    }

    /// Reports a line over [`MAX_LINE`] (once) and discards it to its newline.
    fn line_too_long(&mut self) {
        if !self.discarding {
            self.error(&format!("line too long (more than {MAX_LINE} bytes)"));
            self.status = STATUS_USAGE;
        }
        self.discarding = true;
    }
}

/// How a line that is not finished joins the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Inside quotes: the newline is part of the word.
    Newline,
    /// After `|`, `&&`, `||`: the next line completes the command.
    Space,
    /// A backslash at the end: it and the newline vanish.
    DropBackslash,
}

/// Whether `line` goes on on the next line, and how they join.
pub fn continuation(line: &[u8]) -> Option<Join> {
    match parse(line) {
        Err(ParseError::Lex(LexError::UnterminatedQuote(_))) => Some(Join::Newline),
        Err(ParseError::Lex(LexError::TrailingBackslash)) => Some(Join::DropBackslash),
        Err(ParseError::UnexpectedEnd) => Some(Join::Space),
        _ => None,
    }
}
