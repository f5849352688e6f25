//! Expansion: words to bytes, when the command runs.
//!
//! `$NAME` and `${NAME}` become the variable's value (empty when unset), `$?` the last
//! status in decimal. There is no field splitting and no globbing: a word stays one
//! argument whatever its value holds. A word with no quotes that expands to nothing is
//! dropped (`$UNSET` is no argument, `""` is an empty one), as in POSIX.

use alloc::vec::Vec;
use core::fmt;

use egg::{OpenFlags, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};

use crate::lex::{Piece, RedirectOp, Word};
use crate::parse::{Command, Redirection};

/// Where expansion looks values up.
pub trait Variables {
    /// The value of variable `name`, if set.
    fn get(&self, name: &[u8]) -> Option<&[u8]>;
    /// The last command's status (`$?`).
    fn status(&self) -> u8;
}

/// Expands one word to its bytes.
pub fn expand_word(word: &Word, vars: &impl Variables) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in &word.pieces {
        match piece {
            Piece::Text { bytes, .. } => out.extend_from_slice(bytes),
            Piece::Var(name) => out.extend_from_slice(vars.get(name).unwrap_or_default()),
            Piece::Status => push_decimal(&mut out, u64::from(vars.status())),
        }
    }
    out
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The mode a created file gets before the umask (`>` and `>>`), as in POSIX shells.
pub const CREATE_MODE: u32 = 0o666;

/// A redirection after expansion: what happens to descriptor `fd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The descriptor.
    pub fd: u32,
    /// What it becomes.
    pub action: RedirectAction,
}

/// What a redirection does to its descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectAction {
    /// Open `path` with `flags` (`mode` when it creates the file).
    Open {
        /// The path as written (relative paths are the child's cwd's, which is the shell's).
        path: Vec<u8>,
        /// `O_RDONLY`, or `O_WRONLY|O_CREAT` with `O_TRUNC` or `O_APPEND`.
        flags: OpenFlags,
        /// [`CREATE_MODE`] when the file may be created, else 0.
        mode: u32,
    },
    /// Make it a copy of descriptor `from`.
    Dup {
        /// The descriptor copied.
        from: u32,
    },
    /// Close it.
    Close,
}

/// A command after expansion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// `NAME=value` before the command: `(name, value)`.
    pub assignments: Vec<(Vec<u8>, Vec<u8>)>,
    /// The arguments, `argv[0]` first (may be empty: assignments or redirections only).
    pub argv: Vec<Vec<u8>>,
    /// The redirections, in order.
    pub redirects: Vec<Redirect>,
}

/// Why a command's words cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// A descriptor number at or above the limit, or a `>&` target that is not a number
    /// nor `-`.
    BadDescriptor(Vec<u8>),
    /// A redirection to an empty path.
    EmptyPath,
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::BadDescriptor(text) => {
                write!(f, "{}: bad file descriptor", text.escape_ascii())
            }
            ExpandError::EmptyPath => f.write_str("redirection to an empty path"),
        }
    }
}

/// The largest descriptor number plus one (the fd slots of libsys).
pub const MAX_FDS: u32 = libsys::process::MAX_FDS as u32;

/// Expands a parsed command.
///
/// # Errors
/// A descriptor number out of range or not a number, or an empty redirection path.
pub fn expand_command(command: &Command, vars: &impl Variables) -> Result<Expanded, ExpandError> {
    let mut expanded = Expanded::default();
    for (name, value) in &command.assignments {
        expanded
            .assignments
            .push((name.clone(), expand_word(value, vars)));
    }
    for word in &command.words {
        let bytes = expand_word(word, vars);
        if !bytes.is_empty() || word.quoted {
            expanded.argv.push(bytes);
        }
    }
    for redirection in &command.redirections {
        expanded
            .redirects
            .push(expand_redirection(redirection, vars)?);
    }
    Ok(expanded)
}

fn expand_redirection(
    redirection: &Redirection,
    vars: &impl Variables,
) -> Result<Redirect, ExpandError> {
    let fd = redirection.fd;
    if fd >= MAX_FDS {
        let mut text = Vec::new();
        push_decimal(&mut text, u64::from(fd));
        return Err(ExpandError::BadDescriptor(text));
    }
    let target = expand_word(&redirection.target, vars);
    let open = |flags: OpenFlags, mode: u32| {
        if target.is_empty() {
            return Err(ExpandError::EmptyPath);
        }
        Ok(RedirectAction::Open {
            path: target.clone(),
            flags,
            mode,
        })
    };
    let action = match redirection.op {
        RedirectOp::In => open(O_RDONLY, 0)?,
        RedirectOp::Out => open(O_WRONLY | O_CREAT | O_TRUNC, CREATE_MODE)?,
        RedirectOp::Append => open(O_WRONLY | O_CREAT | O_APPEND, CREATE_MODE)?,
        RedirectOp::DupOut | RedirectOp::DupIn => {
            if target == b"-" {
                RedirectAction::Close
            } else {
                RedirectAction::Dup {
                    from: parse_fd(&target).ok_or(ExpandError::BadDescriptor(target))?,
                }
            }
        }
    };
    Ok(Redirect { fd, action })
}

/// A descriptor number below [`MAX_FDS`], written in decimal.
pub fn parse_fd(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 3 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = text.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    (n < MAX_FDS).then_some(n)
}
