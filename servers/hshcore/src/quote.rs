//! Commands as text: for `set -x`, `jobs` and reports. A word that the shell would read
//! differently is single-quoted (`'a b'`, `'it'\''s'`); bytes that are not printable are
//! shown as `\xNN` escapes inside the quotes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::expand::{Expanded, RedirectAction};

/// Whether `word` reads back as itself without quotes.
fn is_plain(word: &[u8]) -> bool {
    !word.is_empty()
        && word
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_./,:=+%@^".contains(&b))
}

/// One word, quoted if needed.
pub fn word(word: &[u8]) -> String {
    if is_plain(word) {
        return String::from_utf8_lossy(word).into_owned();
    }
    let mut out = String::from("'");
    for &byte in word {
        match byte {
            b'\'' => out.push_str("'\\''"),
            b' '..=b'~' => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push('\'');
    out
}

/// Words separated by spaces.
pub fn words(words: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for (index, w) in words.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&word(w));
    }
    out
}

/// One expanded command: assignments, words, redirections.
pub fn command(expanded: &Expanded) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (name, value) in &expanded.assignments {
        parts.push(alloc::format!(
            "{}={}",
            String::from_utf8_lossy(name),
            word(value)
        ));
    }
    parts.extend(expanded.argv.iter().map(|w| word(w)));
    for redirect in &expanded.redirects {
        let fd = redirect.fd;
        parts.push(match &redirect.action {
            RedirectAction::Open { path, flags, .. } => {
                let (op, default) = if flags.access_mode() == 0 {
                    ("<", 0)
                } else if flags.0 & egg::O_APPEND.0 != 0 {
                    (">>", 1)
                } else {
                    (">", 1)
                };
                if fd == default {
                    alloc::format!("{op} {}", word(path))
                } else {
                    alloc::format!("{fd}{op} {}", word(path))
                }
            }
            RedirectAction::Dup { from } => alloc::format!("{fd}>&{from}"),
            RedirectAction::Close => alloc::format!("{fd}>&-"),
        });
    }
    parts.join(" ")
}

/// A pipeline of expanded commands: `a | b | c`.
pub fn pipeline(stages: &[Expanded]) -> String {
    let parts: Vec<String> = stages.iter().map(command).collect();
    parts.join(" | ")
}
