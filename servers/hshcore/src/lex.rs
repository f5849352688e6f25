//! The lexer: one line of bytes to [`Token`]s.
//!
//! Words keep their quoting: a [`Word`] is a list of [`Piece`]s (text, quoted or not,
//! and the `$VAR` / `${VAR}` / `$?` to expand later), because expansion happens when the
//! command runs (`false; echo $?` expands `$?` after `false` ran). Quotes and backslashes
//! are resolved here: `'...'` keeps every byte, `"..."` keeps every byte but `$` and the
//! escapes `\$` `\"` `\\` `` \` ``, and a backslash outside quotes keeps the next byte.
//! A `#` at the start of a word starts a comment to the end of the line. `$!` is the last
//! background pid; `~` alone or before `/` at the start of a word is `$HOME`.

use alloc::vec::Vec;
use core::fmt;

/// A piece of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Literal bytes; `quoted` when they came from quotes or a backslash (never split,
    /// never a place for an assignment's `=`).
    Text {
        /// The bytes.
        bytes: Vec<u8>,
        /// Whether quotes or a backslash produced them.
        quoted: bool,
    },
    /// `$NAME` or `${NAME}`: the variable's value.
    Var(Vec<u8>),
    /// `$?`: the status of the last command.
    Status,
}

/// A word: pieces glued together, and whether any part of it was quoted (a quoted word
/// that expands to nothing is still an argument: `''`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    /// The pieces, in order.
    pub pieces: Vec<Piece>,
    /// Whether the word has quotes (or a backslash) anywhere.
    pub quoted: bool,
}

impl Word {
    /// A word of plain unquoted text (tests and the parser's own words).
    pub fn plain(bytes: &[u8]) -> Word {
        Word {
            pieces: alloc::vec![Piece::Text {
                bytes: bytes.to_vec(),
                quoted: false
            }],
            quoted: false,
        }
    }

    /// The word's bytes if it is only literal text (no expansion in it).
    pub fn literal(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text { bytes, .. } => out.extend_from_slice(bytes),
                Piece::Var(_) | Piece::Status => return None,
            }
        }
        Some(out)
    }

    fn push_byte(&mut self, byte: u8, quoted: bool) {
        if quoted {
            self.quoted = true;
        }
        if let Some(Piece::Text { bytes, quoted: q }) = self.pieces.last_mut() {
            if *q == quoted {
                bytes.push(byte);
                return;
            }
        }
        self.pieces.push(Piece::Text {
            bytes: alloc::vec![byte],
            quoted,
        });
    }
}

/// A redirection operator (its descriptor, if written, is in [`Token::Redirect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectOp {
    /// `<`: open for reading (default fd 0).
    In,
    /// `>`: open for writing, create, truncate (default fd 1).
    Out,
    /// `>>`: open for appending, create (default fd 1).
    Append,
    /// `>&`: duplicate an output descriptor, or close with `-` (default fd 1).
    DupOut,
    /// `<&`: duplicate an input descriptor, or close with `-` (default fd 0).
    DupIn,
}

impl RedirectOp {
    /// The descriptor the operator applies to when none is written before it.
    pub fn default_fd(self) -> u32 {
        match self {
            RedirectOp::In | RedirectOp::DupIn => 0,
            RedirectOp::Out | RedirectOp::Append | RedirectOp::DupOut => 1,
        }
    }

    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            RedirectOp::In => "<",
            RedirectOp::Out => ">",
            RedirectOp::Append => ">>",
            RedirectOp::DupOut => ">&",
            RedirectOp::DupIn => "<&",
        }
    }
}

/// A token of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A word.
    Word(Word),
    /// A redirection operator, with the descriptor number written right before it
    /// (`2>`: `Some(2)`; a number too large to be a descriptor saturates).
    Redirect {
        /// The descriptor, if written.
        fd: Option<u32>,
        /// The operator.
        op: RedirectOp,
    },
    /// `|`.
    Pipe,
    /// `&&`.
    And,
    /// `||`.
    Or,
    /// `;` or a newline.
    Semicolon,
    /// `&`.
    Ampersand,
}

impl fmt::Display for Token {
    /// The token as the user wrote it (for syntax errors); words as `word`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(_) => f.write_str("word"),
            Token::Redirect { op, .. } => f.write_str(op.text()),
            Token::Pipe => f.write_str("|"),
            Token::And => f.write_str("&&"),
            Token::Or => f.write_str("||"),
            Token::Semicolon => f.write_str(";"),
            Token::Ampersand => f.write_str("&"),
        }
    }
}

/// Why a line cannot be split into tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    /// A `'` or `"` with no closing one on the line.
    UnterminatedQuote(u8),
    /// `${` with no `}`, or something other than a name inside.
    BadSubstitution,
    /// A backslash at the very end of the line.
    TrailingBackslash,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::UnterminatedQuote(quote) => {
                write!(f, "syntax error: unterminated {}", char::from(*quote))
            }
            LexError::BadSubstitution => f.write_str("syntax error: bad ${...} substitution"),
            LexError::TrailingBackslash => f.write_str("syntax error: backslash at end of line"),
        }
    }
}

/// Whether `byte` may start a variable name.
pub fn is_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

/// Whether `byte` may continue a variable name.
pub fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `name` is a valid variable name.
pub fn is_name(name: &[u8]) -> bool {
    matches!(name.split_first(), Some((&first, rest)) if is_name_start(first) && rest.iter().all(|&b| is_name_byte(b)))
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t' || byte == b'\r'
}

fn is_operator(byte: u8) -> bool {
    matches!(byte, b'|' | b'&' | b';' | b'<' | b'>' | b'\n')
}

/// Splits `line` into tokens.
///
/// # Errors
/// An unterminated quote, a bad `${...}`, or a backslash at the end.
pub fn lex(line: &[u8]) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer { line, at: 0 };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

struct Lexer<'a> {
    line: &'a [u8],
    at: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.line.get(self.at + ahead).copied()
    }

    fn next_token(&mut self) -> Result<Option<Token>, LexError> {
        while self.peek().is_some_and(is_blank) {
            self.at += 1;
        }
        let Some(byte) = self.peek() else {
            return Ok(None);
        };
        if byte == b'#' {
            self.at = self.line.len();
            return Ok(None);
        }
        if is_operator(byte) {
            return Ok(Some(self.operator(None)));
        }
        // An io number: digits written right before `<` or `>`.
        let digits = self.line[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 && matches!(self.peek_at(digits), Some(b'<' | b'>')) {
            let fd = self.line[self.at..self.at + digits]
                .iter()
                .fold(0u32, |n, &d| {
                    n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
                });
            self.at += digits;
            return Ok(Some(self.operator(Some(fd))));
        }
        self.word().map(|word| Some(Token::Word(word)))
    }

    fn operator(&mut self, fd: Option<u32>) -> Token {
        let first = self.peek().unwrap_or(b'\n');
        let second = self.peek_at(1);
        let (token, length) = match (first, second) {
            (b'|', Some(b'|')) => (Token::Or, 2),
            (b'|', _) => (Token::Pipe, 1),
            (b'&', Some(b'&')) => (Token::And, 2),
            (b'&', _) => (Token::Ampersand, 1),
            (b'>', Some(b'>')) => (redirect(fd, RedirectOp::Append), 2),
            (b'>', Some(b'&')) => (redirect(fd, RedirectOp::DupOut), 2),
            (b'>', _) => (redirect(fd, RedirectOp::Out), 1),
            (b'<', Some(b'&')) => (redirect(fd, RedirectOp::DupIn), 2),
            (b'<', _) => (redirect(fd, RedirectOp::In), 1),
            _ => (Token::Semicolon, 1),
        };
        self.at += length;
        token
    }

    fn word(&mut self) -> Result<Word, LexError> {
        let mut word = Word::default();
        while let Some(byte) = self.peek() {
            if is_blank(byte) || is_operator(byte) {
                break;
            }
            self.at += 1;
            match byte {
                b'\'' => {
                    word.quoted = true;
                    let rest = &self.line[self.at..];
                    let end = rest
                        .iter()
                        .position(|&b| b == b'\'')
                        .ok_or(LexError::UnterminatedQuote(b'\''))?;
                    for &b in &rest[..end] {
                        word.push_byte(b, true);
                    }
                    self.at += end + 1;
                }
                b'"' => self.double_quoted(&mut word)?,
                b'\\' => {
                    let escaped = self.peek().ok_or(LexError::TrailingBackslash)?;
                    self.at += 1;
                    word.push_byte(escaped, true);
                }
                b'$' => self.dollar(&mut word, false)?,
                // `~` alone or before `/` at the start of a word: $HOME.
                b'~' if word.pieces.is_empty()
                    && !word.quoted
                    && self
                        .peek()
                        .is_none_or(|b| b == b'/' || is_blank(b) || is_operator(b)) =>
                {
                    word.pieces.push(Piece::Var(b"HOME".to_vec()));
                }
                _ => word.push_byte(byte, false),
            }
        }
        Ok(word)
    }

    fn double_quoted(&mut self, word: &mut Word) -> Result<(), LexError> {
        word.quoted = true;
        loop {
            let byte = self.peek().ok_or(LexError::UnterminatedQuote(b'"'))?;
            self.at += 1;
            match byte {
                b'"' => return Ok(()),
                b'\\' => match self.peek() {
                    Some(escaped @ (b'$' | b'"' | b'\\' | b'`')) => {
                        self.at += 1;
                        word.push_byte(escaped, true);
                    }
                    Some(b'\n') => self.at += 1,
                    _ => word.push_byte(b'\\', true),
                },
                b'$' => self.dollar(word, true)?,
                _ => word.push_byte(byte, true),
            }
        }
    }

    /// After a `$`: `$?`, `$NAME`, `${NAME}`, or a literal `$`.
    fn dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), LexError> {
        match self.peek() {
            Some(b'?') => {
                self.at += 1;
                word.pieces.push(Piece::Status);
            }
            Some(b'!') => {
                self.at += 1;
                word.pieces.push(Piece::Var(b"!".to_vec()));
            }
            Some(b'{') => {
                let rest = &self.line[self.at + 1..];
                let end = rest
                    .iter()
                    .position(|&b| b == b'}')
                    .ok_or(LexError::BadSubstitution)?;
                if !is_name(&rest[..end]) {
                    return Err(LexError::BadSubstitution);
                }
                word.pieces.push(Piece::Var(rest[..end].to_vec()));
                self.at += end + 2;
            }
            Some(first) if is_name_start(first) => {
                let length = self.line[self.at..]
                    .iter()
                    .take_while(|&&b| is_name_byte(b))
                    .count();
                word.pieces
                    .push(Piece::Var(self.line[self.at..self.at + length].to_vec()));
                self.at += length;
            }
            _ => word.push_byte(b'$', quoted),
        }
        Ok(())
    }
}

fn redirect(fd: Option<u32>, op: RedirectOp) -> Token {
    Token::Redirect { fd, op }
}
