//! The parser: tokens to a [`List`] of and-or chains of pipelines.
//!
//! ```text
//! line        := list?
//! list        := and_or ((';' | '&') and_or)* (';' | '&')?
//! and_or      := pipeline (('&&' | '||') pipeline)*
//! pipeline    := command ('|' command)*
//! command     := assignment* (word | redirection)+  |  assignment+
//! assignment  := NAME '=' word-rest          (only before the first word)
//! redirection := [N] ('<' | '>' | '>>') word  |  [N] ('>&' | '<&') (M | '-')
//! ```

use alloc::vec::Vec;
use core::fmt;

use crate::lex::{is_name, lex, LexError, Piece, RedirectOp, Token, Word};

/// A whole line: and-or chains, each run in the foreground (`;`) or the background (`&`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List {
    /// The chains, in order, with whether each ends in `&`.
    pub items: Vec<(AndOr, bool)>,
}

/// `a && b || c`: the first pipeline, then each next one with its connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The rest: `(true, p)` for `&& p`, `(false, p)` for `|| p`.
    pub rest: Vec<(bool, Pipeline)>,
}

/// `a | b | c`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// The commands, at least one.
    pub commands: Vec<Command>,
}

/// One simple command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// `NAME=value` words before the command name.
    pub assignments: Vec<(Vec<u8>, Word)>,
    /// The command name and its arguments.
    pub words: Vec<Word>,
    /// The redirections, in the order written.
    pub redirections: Vec<Redirection>,
}

/// `2>&1`, `> out`, `0<&-`...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirection {
    /// The descriptor it applies to.
    pub fd: u32,
    /// The operator.
    pub op: RedirectOp,
    /// The file, or for `>&` / `<&` the descriptor number or `-`.
    pub target: Word,
}

/// Why a line is not a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The lexer refused the line.
    Lex(LexError),
    /// A token where a command should start (`| a`, `a && && b`, `;;`).
    Unexpected(Token),
    /// The line ends where a command should follow (`a |`, `a &&`).
    UnexpectedEnd,
    /// A redirection operator with no word after it.
    MissingTarget(RedirectOp),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Lex(error) => error.fmt(f),
            ParseError::Unexpected(token) => write!(f, "syntax error near `{token}`"),
            ParseError::UnexpectedEnd => f.write_str("syntax error: unexpected end of line"),
            ParseError::MissingTarget(op) => {
                write!(f, "syntax error: `{}` needs a target", op.text())
            }
        }
    }
}

/// Parses one line.
///
/// # Errors
/// See [`ParseError`].
pub fn parse(line: &[u8]) -> Result<List, ParseError> {
    let tokens = lex(line).map_err(ParseError::Lex)?;
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
    };
    parser.list()
}

struct Parser {
    tokens: core::iter::Peekable<alloc::vec::IntoIter<Token>>,
}

impl Parser {
    fn list(&mut self) -> Result<List, ParseError> {
        let mut list = List::default();
        while self.tokens.peek().is_some() {
            let and_or = self.and_or()?;
            let background = match self.tokens.next() {
                None | Some(Token::Semicolon) => false,
                Some(Token::Ampersand) => true,
                Some(token) => return Err(ParseError::Unexpected(token)),
            };
            list.items.push((and_or, background));
        }
        Ok(list)
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let and = match self.tokens.peek() {
                Some(Token::And) => true,
                Some(Token::Or) => false,
                _ => return Ok(AndOr { first, rest }),
            };
            self.tokens.next();
            rest.push((and, self.pipeline()?));
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut commands = alloc::vec![self.command()?];
        while self.tokens.next_if_eq(&Token::Pipe).is_some() {
            commands.push(self.command()?);
        }
        Ok(Pipeline { commands })
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut command = Command::default();
        loop {
            match self.tokens.peek() {
                Some(Token::Word(_)) => {
                    let Some(Token::Word(word)) = self.tokens.next() else {
                        unreachable!("peeked a word")
                    };
                    if command.words.is_empty() {
                        if let Some((name, value)) = assignment(&word) {
                            command.assignments.push((name, value));
                            continue;
                        }
                    }
                    command.words.push(word);
                }
                Some(Token::Redirect { .. }) => {
                    let Some(Token::Redirect { fd, op }) = self.tokens.next() else {
                        unreachable!("peeked a redirection")
                    };
                    let Some(Token::Word(target)) =
                        self.tokens.next_if(|t| matches!(t, Token::Word(_)))
                    else {
                        return Err(ParseError::MissingTarget(op));
                    };
                    command.redirections.push(Redirection {
                        fd: fd.unwrap_or(op.default_fd()),
                        op,
                        target,
                    });
                }
                Some(token) => {
                    if command == Command::default() {
                        return Err(ParseError::Unexpected(token.clone()));
                    }
                    return Ok(command);
                }
                None => {
                    if command == Command::default() {
                        return Err(ParseError::UnexpectedEnd);
                    }
                    return Ok(command);
                }
            }
        }
    }
}

/// `NAME=rest` when `word` starts with an unquoted valid name and `=`.
fn assignment(word: &Word) -> Option<(Vec<u8>, Word)> {
    let Some(Piece::Text {
        bytes,
        quoted: false,
    }) = word.pieces.first()
    else {
        return None;
    };
    let equals = bytes.iter().position(|&b| b == b'=')?;
    let name = &bytes[..equals];
    if !is_name(name) {
        return None;
    }
    let mut value = Word {
        pieces: word.pieces.clone(),
        quoted: word.quoted,
    };
    if let Some(Piece::Text { bytes, .. }) = value.pieces.first_mut() {
        bytes.drain(..=equals);
    }
    Some((name.to_vec(), value))
}
