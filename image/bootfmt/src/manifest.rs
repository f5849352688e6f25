//! The boot manifest: a text file named `manifest` in the boot archive.
//!
//! Format: UTF-8 lines of `key value...`. Tokens are separated by spaces or tabs; a token
//! starting with `#` starts a comment that runs to the end of the line; blank lines are
//! ignored; `\r\n` line ends are accepted.
//!
//! Keys:
//! - `root <path-in-archive>` (required, exactly once, exactly one token): the root task ELF.
//! - anything else is for userspace; [`Manifest::lines`] yields every line (including `root`)
//!   as a [`ManifestLine`] of key and the rest of the line, comments stripped.
//!
//! ```
//! use bootfmt::manifest::Manifest;
//! let manifest = Manifest::parse(b"# boot\nroot bin/procsrv\nserver console tty0\n").unwrap();
//! assert_eq!(manifest.root(), "bin/procsrv");
//! let keys: Vec<_> = manifest.lines().map(|line| (line.key, line.rest)).collect();
//! assert_eq!(keys, [("root", "bin/procsrv"), ("server", "console tty0")]);
//! ```

use core::fmt;

/// The key naming the root task.
pub const ROOT_KEY: &str = "root";

/// Why a manifest is not valid. Line numbers start at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestError {
    /// The manifest is not UTF-8; `line` is where the first bad byte is.
    NotUtf8 {
        /// Line of the first invalid byte.
        line: usize,
    },
    /// No `root` line.
    MissingRoot,
    /// A second `root` line.
    DuplicateRoot {
        /// Line of the second `root`.
        line: usize,
    },
    /// `root` without a path.
    RootWithoutPath {
        /// Line of the `root` key.
        line: usize,
    },
    /// `root` followed by more than one token.
    RootExtraTokens {
        /// Line of the `root` key.
        line: usize,
    },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ManifestError::NotUtf8 { line } => write!(f, "manifest line {line}: not UTF-8"),
            ManifestError::MissingRoot => {
                write!(f, "manifest has no `root <path>` line naming the root task")
            }
            ManifestError::DuplicateRoot { line } => {
                write!(f, "manifest line {line}: second `root` line")
            }
            ManifestError::RootWithoutPath { line } => {
                write!(f, "manifest line {line}: `root` needs a path")
            }
            ManifestError::RootExtraTokens { line } => {
                write!(f, "manifest line {line}: `root` takes exactly one path")
            }
        }
    }
}

/// One non-blank line: its key and the rest, both trimmed, comment removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestLine<'a> {
    /// Line number, from 1.
    pub line: usize,
    /// The first token.
    pub key: &'a str,
    /// Everything after the key, trimmed (may be empty).
    pub rest: &'a str,
}

impl<'a> ManifestLine<'a> {
    /// The tokens after the key.
    pub fn values(&self) -> impl Iterator<Item = &'a str> {
        self.rest
            .split([' ', '\t'])
            .filter(|token| !token.is_empty())
    }
}

/// A checked manifest.
#[derive(Debug, Clone, Copy)]
pub struct Manifest<'a> {
    text: &'a str,
    root: &'a str,
}

impl<'a> Manifest<'a> {
    /// Checks `bytes` (UTF-8, exactly one well-formed `root` line).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ManifestError> {
        let text = core::str::from_utf8(bytes).map_err(|error| ManifestError::NotUtf8 {
            line: 1 + bytes[..error.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
        })?;
        let mut root = None;
        for line in lines(text).filter(|line| line.key == ROOT_KEY) {
            if root.is_some() {
                return Err(ManifestError::DuplicateRoot { line: line.line });
            }
            let mut values = line.values();
            let path = values
                .next()
                .ok_or(ManifestError::RootWithoutPath { line: line.line })?;
            if values.next().is_some() {
                return Err(ManifestError::RootExtraTokens { line: line.line });
            }
            root = Some(path);
        }
        let root = root.ok_or(ManifestError::MissingRoot)?;
        Ok(Manifest { text, root })
    }

    /// The root task's path inside the archive.
    pub fn root(&self) -> &'a str {
        self.root
    }

    /// Every non-blank, non-comment line in order, `root` included.
    pub fn lines(&self) -> impl Iterator<Item = ManifestLine<'a>> {
        lines(self.text)
    }

    /// The lines whose key is `key`.
    pub fn lines_with_key(&self, key: &'a str) -> impl Iterator<Item = ManifestLine<'a>> {
        self.lines().filter(move |line| line.key == key)
    }
}

/// Splits `text` into [`ManifestLine`]s.
fn lines(text: &str) -> impl Iterator<Item = ManifestLine<'_>> {
    text.split('\n').enumerate().filter_map(|(index, raw)| {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let content = strip_comment(raw).trim_matches([' ', '\t']);
        if content.is_empty() {
            return None;
        }
        let (key, rest) = content.split_once([' ', '\t']).unwrap_or((content, ""));
        Some(ManifestLine {
            line: index + 1,
            key,
            rest: rest.trim_matches([' ', '\t']),
        })
    })
}

/// Cuts a line at the first `#` that starts a token.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (at, &byte) in bytes.iter().enumerate() {
        if byte == b'#' && (at == 0 || bytes[at - 1] == b' ' || bytes[at - 1] == b'\t') {
            return &line[..at];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn finds_root_and_keeps_other_lines() {
        let text = b"# Hatchery boot manifest\r\n\nroot   ./bin/procsrv  # the root task\r\nserver console\ttty0 115200\n  init /bin/init\n";
        let manifest = Manifest::parse(text).unwrap();
        assert_eq!(manifest.root(), "./bin/procsrv");
        let lines: Vec<_> = manifest.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].line, 3);
        assert_eq!(lines[1].key, "server");
        assert_eq!(lines[1].rest, "console\ttty0 115200");
        assert_eq!(
            lines[1].values().collect::<Vec<_>>(),
            ["console", "tty0", "115200"]
        );
        assert_eq!(lines[2].key, "init");
        assert_eq!(manifest.lines_with_key("init").count(), 1);
    }

    #[test]
    fn hash_inside_a_token_is_not_a_comment() {
        let manifest = Manifest::parse(b"root bin/a#b\nkey value#1 # gone\n").unwrap();
        assert_eq!(manifest.root(), "bin/a#b");
        assert_eq!(manifest.lines().nth(1).unwrap().rest, "value#1");
    }

    #[test]
    fn key_without_value_has_empty_rest() {
        let manifest = Manifest::parse(b"root x\nverbose\n").unwrap();
        let line = manifest.lines().nth(1).unwrap();
        assert_eq!((line.key, line.rest), ("verbose", ""));
    }

    #[test]
    fn missing_root_is_an_error() {
        assert_eq!(
            Manifest::parse(b"# nothing\nserver x\n").unwrap_err(),
            ManifestError::MissingRoot
        );
        assert_eq!(
            Manifest::parse(b"").unwrap_err(),
            ManifestError::MissingRoot
        );
    }

    #[test]
    fn duplicate_root_names_the_second_line() {
        assert_eq!(
            Manifest::parse(b"root a\n\nroot b\n").unwrap_err(),
            ManifestError::DuplicateRoot { line: 3 }
        );
    }

    #[test]
    fn root_without_path_is_an_error() {
        assert_eq!(
            Manifest::parse(b"root   # nothing\n").unwrap_err(),
            ManifestError::RootWithoutPath { line: 1 }
        );
    }

    #[test]
    fn root_with_two_paths_is_an_error() {
        let error = Manifest::parse(b"x\nroot a b\n").unwrap_err();
        assert_eq!(error, ManifestError::RootExtraTokens { line: 2 });
        assert_eq!(
            std::format!("{error}"),
            "manifest line 2: `root` takes exactly one path"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        assert_eq!(
            Manifest::parse(b"root a\nkey \xff\n").unwrap_err(),
            ManifestError::NotUtf8 { line: 2 }
        );
    }
}
