//! The `hsh` shell's language and its translation into eggs.
//!
//! Hatchery has no `fork`: a shell cannot set a child up by running code in it before
//! `exec`. So `hsh` writes that setup down instead. Each command of a pipeline becomes
//! **one hatch** whose egg (docs/egg.md) does everything a POSIX shell does between fork and
//! exec: its descriptors (request caps for the shell's own and for pipe ends), its
//! redirections (`open`, `dup2`, `close`), its process group (`setpgid`), the terminal
//! (`tcsetpgrp`), its signals and its environment. `set -x` prints each egg in the text
//! form before the hatch. docs/shell.md has the grammar and the egg of every construct.
//!
//! Design principles:
//!
//! 1. **Pure logic, one seam.** Everything here is `no_std` + `alloc` and talks to the
//!    system only through [`System`]; `servers/hsh` implements it with procsrv and the file
//!    server, the host tests with a simulation that records every egg.
//! 2. **The egg crate writes every egg.** Eggs are made with its builder, checked by its
//!    validator, printed and read by its text form; nothing here encodes a byte.
//! 3. **No panics on any line.** Every input is bytes; errors are values with a message.
//!
//! Modules, in the order a line goes through them: [`lex`], [`parse`], [`expand`],
//! [`compile`]; then [`shell`] runs it (private modules: `input` reads lines, `pipeline`
//! hatches, `wait` waits, `job_builtins`), with [`builtins`], [`hatch_cmd`] and [`jobs`];
//! [`edit`] edits the line at an interactive prompt.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod builtins;
pub mod compile;
pub mod edit;
pub mod expand;
pub mod hatch_cmd;
mod input;
mod job_builtins;
pub mod jobs;
pub mod lex;
pub mod parse;
pub mod path;
mod pipeline;
pub mod quote;
pub mod shell;
pub mod system;
mod wait;

pub use shell::Shell;
pub use system::{
    Errno, Fd, FileInfo, HatchFailure, HatchRequest, KillTarget, Pid, Signal, System, WaitOptions,
    WaitStatus, WaitTarget,
};

#[cfg(test)]
mod tests;
