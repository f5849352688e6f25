//! The assembler: text form to program bytes.
//!
//! ```text
//! # a login shell on a terminal
//! setsid
//! open 0 "/dev/pts/0" O_RDWR 0; dup2 0 1; dup2 0 2
//! setctty 0
//! ```
//!
//! One op per line, or several separated by `;`. `#` starts a comment (outside strings).
//! Operands are separated by spaces. Numbers are decimal, `0x` hex or `0o` octal; flag-like
//! operands (open flags, rights, signal sets) also take names joined by `|` without spaces
//! (`O_WRONLY|O_CREAT|O_TRUNC`, `READ|WRITE`, `SIGINT|SIGQUIT`); a resource is `RLIMIT_*`, a
//! limit may be `RLIM_INFINITY`. Strings are double-quoted with the escapes `\"` `\\` `\n`
//! `\t` `\xNN` (`\x00` is refused: strings cannot hold NUL). `setgroups` takes its ids as
//! the rest of the line. Each op is checked as the validator checks it, so an error names
//! its line and column.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::builder::{write_ids, write_string};
use crate::decode::decode_at;
use crate::error::ErrorKind;
use crate::kinds::{OperandKind, Shape};
use crate::leb128;
use crate::opcodes::{Opcode, MAX_OPERANDS};
use crate::values::{OpenFlags, Resource, Rights, SignalSet, RLIM_INFINITY};

/// Why a text is not a program, and where: line and column count from 1, columns in
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// The line at fault.
    pub line: usize,
    /// The column where the bad token starts.
    pub column: usize,
    /// What is wrong.
    pub kind: AsmErrorKind,
}

/// What is wrong with a line of egg text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsmErrorKind {
    /// The first word of an op is not a mnemonic.
    UnknownMnemonic(String),
    /// An op starts with a string instead of a mnemonic.
    ExpectedMnemonic,
    /// The op ends before this operand.
    MissingOperand {
        /// The operand's name.
        name: &'static str,
        /// The operand's kind.
        kind: OperandKind,
    },
    /// More operands than the op takes.
    ExtraOperand,
    /// A string where a number belongs.
    ExpectedNumber,
    /// A number or name where a string belongs.
    ExpectedString,
    /// Not a number (decimal, `0x` hex, `0o` octal) nor a name this operand takes.
    BadNumber(String),
    /// One name of a flag-like operand (`O_BOGUS` in `O_RDWR|O_BOGUS`) is not one of the
    /// names its kind takes; the error's column is that name's.
    UnknownName {
        /// The bad name.
        name: String,
        /// The operand's kind (open flags, rights or a signal set).
        kind: OperandKind,
    },
    /// A number that does not fit in 64 bits.
    NumberOverflow,
    /// A string with no closing quote.
    UnterminatedString,
    /// A backslash escape other than `\"` `\\` `\n` `\t` `\xNN`.
    BadEscape,
    /// A NUL byte in a string (`\x00` or a literal NUL).
    NulInString,
    /// A closing quote followed by something other than a space, `;`, `#` or the end.
    JunkAfterString,
    /// The op assembled but the validator refuses it (a value out of range, a flag bit
    /// with no name, a soft limit above the hard one...).
    Invalid(ErrorKind),
}

impl fmt::Display for AsmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmErrorKind::UnknownMnemonic(word) => {
                write!(f, "unknown mnemonic `{word}`")?;
                let mnemonics = crate::supported().map(|opcode| opcode.mnemonic());
                match nearest(word, mnemonics) {
                    Some(near) => write!(f, " (did you mean `{near}`?)"),
                    None => f.write_str(" (`cargo xtask egg ops` lists them)"),
                }
            }
            AsmErrorKind::ExpectedMnemonic => f.write_str("expected a mnemonic"),
            AsmErrorKind::MissingOperand { name, kind } => {
                write!(f, "missing operand `{name}` ({})", kind.name())
            }
            AsmErrorKind::ExtraOperand => f.write_str("more operands than the op takes"),
            AsmErrorKind::ExpectedNumber => f.write_str("expected a number, found a string"),
            AsmErrorKind::ExpectedString => f.write_str("expected a double-quoted string"),
            AsmErrorKind::BadNumber(word) => {
                write!(f, "`{word}` is not a number or a name this operand takes")
            }
            AsmErrorKind::UnknownName { name, kind } => {
                let article = if kind.name().starts_with('o') {
                    "an"
                } else {
                    "a"
                };
                write!(f, "`{name}` is not {article} {} name", kind.name())?;
                let names = flag_names(*kind);
                match nearest(name, names.iter().copied()) {
                    Some(near) => write!(f, " (did you mean `{near}`?)"),
                    None if *kind == OperandKind::SignalSet => {
                        f.write_str(" (SIGHUP .. SIGSYS, or SIG1 .. SIG64)")
                    }
                    None => write!(f, " ({})", names.join(", ")),
                }
            }
            AsmErrorKind::NumberOverflow => f.write_str("number does not fit in 64 bits"),
            AsmErrorKind::UnterminatedString => f.write_str("string has no closing quote"),
            AsmErrorKind::BadEscape => f.write_str("bad escape (use \\\" \\\\ \\n \\t or \\xNN)"),
            AsmErrorKind::NulInString => f.write_str("NUL byte in string"),
            AsmErrorKind::JunkAfterString => f.write_str("expected a space after the string"),
            AsmErrorKind::Invalid(kind) => write!(f, "{kind}"),
        }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

impl core::error::Error for AsmError {}

/// Assembles egg text into a program.
///
/// # Errors
///
/// The first bad token, with its line and column.
pub fn assemble(text: &str) -> Result<Vec<u8>, AsmError> {
    let mut out = Vec::new();
    let mut index = 0;
    for (line_index, line) in text.lines().enumerate() {
        let at = |(column, kind)| AsmError {
            line: line_index + 1,
            column,
            kind,
        };
        let tokens = tokenize(line).map_err(at)?;
        for statement in tokens.split(|token| token.kind == TokenKind::Separator) {
            if let Some((first, operands)) = statement.split_first() {
                assemble_op(first, operands, &mut out, index).map_err(at)?;
                index += 1;
            }
        }
    }
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
enum TokenKind<'t> {
    Word(&'t str),
    String(Vec<u8>),
    Separator,
}

#[derive(Debug)]
struct Token<'t> {
    /// Column of the first character.
    column: usize,
    /// Column just after the last character.
    end: usize,
    kind: TokenKind<'t>,
}

type Located<T> = Result<T, (usize, AsmErrorKind)>;

/// Splits one line into words, strings and `;` separators, dropping the comment.
fn tokenize(line: &str) -> Located<Vec<Token<'_>>> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut column = 0;
    while let Some((start, c)) = chars.next() {
        column += 1;
        let first = column;
        match c {
            '#' => break,
            ';' => tokens.push(Token {
                column,
                end: column + 1,
                kind: TokenKind::Separator,
            }),
            c if c.is_whitespace() => {}
            '"' => {
                let bytes = string_body(&mut chars, &mut column)?;
                if let Some(&(_, next)) = chars.peek() {
                    if !next.is_whitespace() && next != ';' && next != '#' {
                        return Err((column + 1, AsmErrorKind::JunkAfterString));
                    }
                }
                let kind = TokenKind::String(bytes);
                tokens.push(Token {
                    column: first,
                    end: column + 1,
                    kind,
                });
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(at, next)) = chars.peek() {
                    if next.is_whitespace() || next == ';' || next == '#' {
                        break;
                    }
                    chars.next();
                    column += 1;
                    end = at + next.len_utf8();
                }
                let word = line.get(start..end).unwrap_or_default();
                tokens.push(Token {
                    column: first,
                    end: column + 1,
                    kind: TokenKind::Word(word),
                });
            }
        }
    }
    Ok(tokens)
}

/// Reads a string's body after its opening quote, through the closing quote.
fn string_body(
    chars: &mut core::iter::Peekable<core::str::CharIndices<'_>>,
    column: &mut usize,
) -> Located<Vec<u8>> {
    let mut bytes = Vec::new();
    loop {
        let Some((_, c)) = chars.next() else {
            return Err((*column + 1, AsmErrorKind::UnterminatedString));
        };
        *column += 1;
        let escape_column = *column;
        match c {
            '"' => return Ok(bytes),
            '\0' => return Err((escape_column, AsmErrorKind::NulInString)),
            '\\' => {
                let escaped = chars.next().map(|(_, c)| c);
                *column += 1;
                let byte = match escaped {
                    Some('"') => b'"',
                    Some('\\') => b'\\',
                    Some('n') => b'\n',
                    Some('t') => b'\t',
                    Some('x') => {
                        let mut value = 0u8;
                        for _ in 0..2 {
                            let digit = chars.next().and_then(|(_, c)| c.to_digit(16));
                            *column += 1;
                            let Some(digit) = digit else {
                                return Err((escape_column, AsmErrorKind::BadEscape));
                            };
                            value = value * 16 + digit as u8;
                        }
                        if value == 0 {
                            return Err((escape_column, AsmErrorKind::NulInString));
                        }
                        value
                    }
                    _ => return Err((escape_column, AsmErrorKind::BadEscape)),
                };
                bytes.push(byte);
            }
            c => {
                let mut buffer = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
}

/// Assembles one op: `first` is its mnemonic, `operands` the rest of its tokens.
fn assemble_op(
    first: &Token<'_>,
    operands: &[Token<'_>],
    out: &mut Vec<u8>,
    index: usize,
) -> Located<()> {
    let TokenKind::Word(mnemonic) = first.kind else {
        return Err((first.column, AsmErrorKind::ExpectedMnemonic));
    };
    let opcode = Opcode::from_mnemonic(mnemonic).ok_or_else(|| {
        (
            first.column,
            AsmErrorKind::UnknownMnemonic(mnemonic.to_string()),
        )
    })?;
    let start = out.len();
    leb128::write(out, opcode.number());
    let end_column = operands.last().unwrap_or(first).end;
    let mut columns = [first.column; MAX_OPERANDS];
    let mut tokens = operands.iter();
    for (info, column) in opcode.operands().iter().zip(columns.iter_mut()) {
        if info.kind.shape() == Shape::IdList {
            let ids: Vec<&Token<'_>> = tokens.by_ref().collect();
            *column = ids.first().map_or(end_column, |token| token.column);
            let ids = ids
                .iter()
                .map(|token| match &token.kind {
                    TokenKind::Word(word) => parse_number(word)
                        .and_then(|id| u32::try_from(id).map_err(|_| too_large(u32::MAX.into())))
                        .map_err(|kind| (token.column, kind)),
                    _ => Err((token.column, AsmErrorKind::ExpectedNumber)),
                })
                .collect::<Located<Vec<u32>>>()?;
            write_ids(out, &ids);
            continue;
        }
        let missing = AsmErrorKind::MissingOperand {
            name: info.name,
            kind: info.kind,
        };
        let token = tokens.next().ok_or((end_column, missing))?;
        *column = token.column;
        match (&token.kind, info.kind.shape()) {
            (TokenKind::String(bytes), Shape::String) => write_string(out, bytes),
            (TokenKind::Word(word), Shape::Number { .. }) => {
                let value = parse_value(info.kind, word)
                    .map_err(|(offset, kind)| (token.column + offset, kind))?;
                leb128::write(out, value);
            }
            (TokenKind::String(_), _) => return Err((token.column, AsmErrorKind::ExpectedNumber)),
            _ => return Err((token.column, AsmErrorKind::ExpectedString)),
        }
    }
    if let Some(extra) = tokens.next() {
        return Err((extra.column, AsmErrorKind::ExtraOperand));
    }
    // Check the op exactly as the validator will, and point at the operand at fault.
    decode_at(out, start, index).map_err(|error| {
        let operand = error.operand.and_then(|operand| {
            opcode
                .operands()
                .iter()
                .position(|info| info.name == operand.name)
        });
        let column = operand
            .and_then(|i| columns.get(i).copied())
            .unwrap_or(first.column);
        (column, AsmErrorKind::Invalid(error.kind))
    })?;
    Ok(())
}

fn too_large(max: u64) -> AsmErrorKind {
    AsmErrorKind::Invalid(ErrorKind::NumberTooLarge { max })
}

/// A number: decimal, `0x` hex or `0o` octal.
fn parse_number(word: &str) -> Result<u64, AsmErrorKind> {
    let (digits, radix) = if let Some(hex) = word.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(octal) = word.strip_prefix("0o") {
        (octal, 8)
    } else {
        (word, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(AsmErrorKind::BadNumber(word.to_string()));
    }
    u64::from_str_radix(digits, radix).map_err(|_| AsmErrorKind::NumberOverflow)
}

/// A number operand of kind `kind`: a number, or the names the kind takes. An error comes
/// with the offset (in characters) of the bad part of `word`.
fn parse_value(kind: OperandKind, word: &str) -> Result<u64, (usize, AsmErrorKind)> {
    let bad = || (0, AsmErrorKind::BadNumber(word.to_string()));
    let named = |names: &[(&str, u64)], part: &str| {
        names
            .iter()
            .find(|(name, _)| *name == part)
            .map(|&(_, value)| value)
    };
    match kind {
        OperandKind::OpenFlags | OperandKind::Rights | OperandKind::SignalSet => {
            let mut value = 0;
            let mut offset = 0;
            for part in word.split('|') {
                let part_offset = offset;
                offset += part.chars().count() + 1;
                if part.is_empty() {
                    return Err(bad());
                }
                let bits = match kind {
                    OperandKind::OpenFlags => named(OpenFlags::ACCESS_NAMES, part)
                        .or_else(|| named(OpenFlags::BIT_NAMES, part)),
                    OperandKind::Rights => named(Rights::NAMES, part),
                    _ => signal_bit(part),
                };
                value |= match bits {
                    Some(bits) => bits,
                    None if part.starts_with(|c: char| c.is_ascii_digit()) => {
                        parse_number(part).map_err(|kind| (part_offset, kind))?
                    }
                    None => {
                        let name = part.to_string();
                        return Err((part_offset, AsmErrorKind::UnknownName { name, kind }));
                    }
                };
            }
            Ok(value)
        }
        OperandKind::Resource => named(Resource::NAMES, word)
            .map_or_else(|| parse_number(word), Ok)
            .map_err(|kind| (0, kind)),
        OperandKind::Limit if word == "RLIM_INFINITY" => Ok(RLIM_INFINITY),
        _ => parse_number(word).map_err(|kind| (0, kind)),
    }
}

/// The names a flag-like operand of `kind` takes, for messages.
fn flag_names(kind: OperandKind) -> Vec<&'static str> {
    let names: Vec<&'static str> = match kind {
        OperandKind::OpenFlags => OpenFlags::ACCESS_NAMES
            .iter()
            .chain(OpenFlags::BIT_NAMES)
            .map(|&(name, _)| name)
            .collect(),
        OperandKind::Rights => Rights::NAMES.iter().map(|&(name, _)| name).collect(),
        OperandKind::SignalSet => SignalSet::NAMES.to_vec(),
        _ => Vec::new(),
    };
    names
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely
/// typo: at most a third of the word's length (and at least 1) away, case ignored.
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .map(|candidate| {
            (
                edit_distance(&word, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance between `a` and `b` in characters: insertions, deletions, substitutions
/// and swaps of two neighbours (`opne` is one from `open`) each count one.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    // d[i * width + j]: distance between the first i of `a` and the first j of `b`.
    let mut d: Vec<usize> = (0..(a.len() + 1) * width)
        .map(|at| {
            if at < width {
                at
            } else if at % width == 0 {
                at / width
            } else {
                0
            }
        })
        .collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitute = d[(i - 1) * width + j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitute
                .min(d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The bit of a signal named `SIGINT` (a name) or `SIG2` (a number 1..=64).
fn signal_bit(name: &str) -> Option<u64> {
    if let Some(index) = SignalSet::NAMES.iter().position(|&known| known == name) {
        return Some(1 << index);
    }
    let number = name.strip_prefix("SIG")?;
    if number.starts_with('0') || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let signal: u32 = number.parse().ok()?;
    let set = SignalSet::of(signal);
    (set != SignalSet::EMPTY).then_some(set.0)
}
