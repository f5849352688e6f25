//! The `hatch` builtin: run a program with an explicit egg, and its failure report.
//!
//! ```text
//! hatch [--egg 'OPS']... [--egg-file PATH]... [--] PROGRAM ARGS...
//! hatch --query N
//! ```
//!
//! The ops (text form of docs/egg.md, separated by `;` or newlines) are assembled by the
//! egg crate and appended to what the shell itself writes for the command (its descriptors,
//! its job's group, its redirections), so the user's ops run last and win. When the user's
//! egg sets the process group or session itself (`setpgid`, `setsid`), the shell leaves its
//! own job-control ops out.
//!
//! A failing op is reported by its index and byte offset *in the user's egg*, with its text
//! and the error: `hatch: op 1 (setsid) at byte 2: EPERM: already a process group leader`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use egg::Opcode;

use crate::compile::Compiled;
use crate::system::{Errno, HatchFailure};

/// Where one part of the user's egg comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EggSource {
    /// `--egg 'OPS'`.
    Text(Vec<u8>),
    /// `--egg-file PATH`.
    File(Vec<u8>),
}

/// The parsed arguments of `hatch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HatchArgs {
    /// `--query N`.
    Query(u64),
    /// Run `argv[0]` with the eggs, in order.
    Run {
        /// The egg parts, in the order given.
        eggs: Vec<EggSource>,
        /// The program (looked up as a command) and its arguments.
        argv: Vec<Vec<u8>>,
    },
}

/// `hatch`'s usage line.
pub const USAGE: &str =
    "usage: hatch [--egg 'OPS'] [--egg-file PATH] [--] PROGRAM ARGS... | hatch --query N";

/// Parses the arguments after `hatch`.
///
/// # Errors
/// A message for `hatch: ...` (an option without its value, an unknown option, no program).
pub fn parse_args(args: &[Vec<u8>]) -> Result<HatchArgs, String> {
    let mut eggs = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value_of = |name: &str| -> Result<Vec<u8>, String> {
            let inline = arg
                .strip_prefix(name.as_bytes())
                .and_then(|r| r.strip_prefix(b"="));
            match inline {
                Some(value) => Ok(value.to_vec()),
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        let is =
            |name: &str| arg == name.as_bytes() || arg.starts_with(format!("{name}=").as_bytes());
        if is("--egg") {
            eggs.push(EggSource::Text(value_of("--egg")?));
        } else if is("--egg-file") {
            eggs.push(EggSource::File(value_of("--egg-file")?));
        } else if is("--query") {
            let value = value_of("--query")?;
            return parse_number(&value)
                .map(HatchArgs::Query)
                .ok_or_else(|| format!("--query: `{}` is not a number", value.escape_ascii()));
        } else if arg == b"--" {
            let argv: Vec<Vec<u8>> = rest.cloned().collect();
            return run(eggs, argv);
        } else if arg.starts_with(b"-") && arg.len() > 1 {
            return Err(format!("unknown option `{}`", arg.escape_ascii()));
        } else {
            let mut argv = alloc::vec![arg.clone()];
            argv.extend(rest.cloned());
            return run(eggs, argv);
        }
    }
    Err(String::from(USAGE))
}

fn run(eggs: Vec<EggSource>, argv: Vec<Vec<u8>>) -> Result<HatchArgs, String> {
    if argv.is_empty() {
        return Err(String::from(USAGE));
    }
    Ok(HatchArgs::Run { eggs, argv })
}

/// A decimal, `0x` hex or `0o` octal number (as the egg text form writes them).
pub fn parse_number(text: &[u8]) -> Option<u64> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix(b"0x") {
        (hex, 16)
    } else if let Some(octal) = text.strip_prefix(b"0o") {
        (octal, 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = char::from(d).to_digit(radix)?;
        n.checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))
    })
}

/// Whether the user's egg sets the process group or the session itself.
pub fn sets_group(user_egg: &[u8]) -> bool {
    egg::decode(user_egg).any(|op| {
        op.is_ok_and(|op| {
            matches!(
                op.opcode(),
                Opcode::Setsid | Opcode::Setpgid | Opcode::Tcsetpgrp
            )
        })
    })
}

/// What an error means for one op, where it says more than the error number does.
pub fn explain(opcode: Option<Opcode>, errno: Errno) -> &'static str {
    match (opcode, errno) {
        (Some(Opcode::Setsid), Errno::EPERM) => "already a process group leader",
        (Some(Opcode::Setpgid), Errno::EPERM) => {
            "the group is in another session, or the child leads a session"
        }
        (Some(Opcode::Setpgid), Errno::ESRCH) => "no such process group",
        (Some(Opcode::Setctty), Errno::EPERM) => {
            "not a session leader, or the session already has a terminal"
        }
        (Some(Opcode::Tcsetpgrp), Errno::ENOTTY) => "not the session's controlling terminal",
        (Some(Opcode::Tcsetpgrp), Errno::EPERM) => "the group is not in the terminal's session",
        (Some(Opcode::Setuid | Opcode::Setgid | Opcode::Setgroups), Errno::EPERM) => {
            "only a privileged parent may change ids"
        }
        (Some(Opcode::Cap | Opcode::Bind), Errno::EINVAL) => "no such request cap",
        _ => errno.description(),
    }
}

/// Who reports a failure, which decides how ops are numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reporter<'a> {
    /// The `hatch` builtin: ops numbered within the user's egg.
    Hatch,
    /// An ordinary command: ops numbered within the whole egg (as `set -x` shows it).
    Command(&'a [u8]),
}

/// The one-line report of a failed hatch (no newline).
pub fn failure_report(
    reporter: Reporter<'_>,
    compiled: &Compiled,
    failure: HatchFailure,
) -> String {
    let errno = failure.errno;
    let head = match reporter {
        Reporter::Hatch => String::from("hatch"),
        Reporter::Command(name) => format!("hsh: {}", name.escape_ascii()),
    };
    let Some((index, offset)) = failure.op else {
        return format!("{head}: {}: {}", errno.name(), errno.description());
    };
    let op = egg::decode(&compiled.egg).nth(index).and_then(Result::ok);
    let text = match op {
        Some(op) => format!("{op}"),
        None => String::from("?"),
    };
    let why = explain(op.map(|op| op.opcode()), errno);
    let (whose, index, offset) = match reporter {
        Reporter::Hatch if index >= compiled.shell_ops => (
            "",
            index - compiled.shell_ops,
            offset.saturating_sub(compiled.shell_bytes),
        ),
        Reporter::Hatch => ("the shell's ", index, offset),
        Reporter::Command(_) => ("", index, offset),
    };
    format!(
        "{head}: {whose}op {index} ({text}) at byte {offset}: {}: {why}",
        errno.name()
    )
}
