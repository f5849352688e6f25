//! THE opcode table, and the registry built from it.
//!
//! Each line is one opcode: its number, its `Op` variant, its mnemonic and its operands with
//! their kinds, under its one-line meaning. Everything else is generated from this table by
//! `define_ops!`. To add an op: add a line with the next free number (never reuse or
//! renumber one), implement the new `Hatch` method in the process server, and add the row
//! the docs test asks for to docs/egg.md.

use core::fmt;

use crate::decode::{Cursor, DecodeField, Fault};

use crate::error::Constraint;
use crate::kinds::{OperandKind, OperandValue};
use crate::values::SignalSet;

/// Most operands any op has.
pub const MAX_OPERANDS: usize = 4;

define_ops! {
    /// Open `path` with `flags` (and `mode` if it creates the file) as descriptor `fd`, closing what `fd` was.
    1 Open open(fd: Fd, path: Path, flags: OpenFlags, mode: Mode);
    /// Make descriptor `to` a copy of descriptor `from`, closing `to` first; `from == to` does nothing.
    2 Dup2 dup2(from: Fd, to: Fd);
    /// Close descriptor `fd`; closing a descriptor that is not open is not an error.
    3 Close close(fd: Fd);
    /// Close every descriptor numbered `fd` or higher.
    4 Closefrom closefrom(fd: Fd);
    /// Put the child in process group `pgid` of its session; 0 makes a new group with the child's pid.
    5 Setpgid setpgid(pgid: Pgid);
    /// Make the child the leader of a new session and process group, with no controlling terminal.
    6 Setsid setsid();
    /// Make the terminal open on `fd` the controlling terminal of the child's session (after `setsid`).
    7 Setctty setctty(fd: Fd);
    /// Make `pgid` (0: the child's own group) the foreground process group of the terminal on `fd`.
    8 Tcsetpgrp tcsetpgrp(fd: Fd, pgid: Pgid);
    /// Change the working directory to `path`.
    9 Chdir chdir(path: Path);
    /// Change the working directory to the directory open on `fd`.
    10 Fchdir fchdir(fd: Fd);
    /// Copy request cap number `source` into child CNode slot `slot` with only `rights`, minting `badge` (0: none).
    11 Cap cap(slot: Slot, source: CapIndex, rights: Rights, badge: Badge);
    /// Bind `path` in the child's namespace to request cap number `source`.
    12 Bind bind(path: Path, source: CapIndex);
    /// Set the signal mask (the blocked signals) to `signals`.
    13 Sigsetmask sigsetmask(signals: SignalSet);
    /// Reset the disposition of every signal in `signals` to its default.
    14 Sigdefault sigdefault(signals: SignalSet);
    /// Ignore every signal in `signals` (not SIGKILL or SIGSTOP).
    15 Sigignore sigignore(signals: SignalSet);
    /// Set the real, effective and saved user ids to `uid`.
    16 Setuid setuid(uid: Id);
    /// Set the real, effective and saved group ids to `gid`.
    17 Setgid setgid(gid: Id);
    /// Set the supplementary group ids to `groups`; an empty list clears them.
    18 Setgroups setgroups(groups: IdList);
    /// Set the file mode creation mask to `mask`.
    19 Umask umask(mask: Umask);
    /// Set the `soft` and `hard` limits of `resource` (soft at most hard).
    20 Setrlimit setrlimit(resource: Resource, soft: Limit, hard: Limit);
    /// Set the scheduling priority of the child's thread to `priority`.
    21 Setpriority setpriority(priority: Priority);
    /// Let the child's thread run only on the CPUs in `cpus`.
    22 Setaffinity setaffinity(cpus: CpuMask);
    /// Set the process name (what process listings show) to `name`.
    23 Setname setname(name: Name);
    /// Set environment variable `name` to `value`, replacing any earlier value.
    24 Setenv setenv(name: EnvName, value: EnvValue);
    /// Remove environment variable `name`; removing one that is not set is not an error.
    25 Unsetenv unsetenv(name: EnvName);
    /// Remove every environment variable, those of the request and those set so far.
    26 Clearenv clearenv();
    /// Leave the child suspended after hatching; the parent starts it through its handle.
    27 StartSuspended start_suspended();
}

/// Rules that involve more than one operand, or one operand of one op only. Returns the
/// index of the operand at fault.
#[inline]
pub(crate) fn check_op(op: &Op<'_>) -> Result<(), (usize, Constraint)> {
    match *op {
        Op::Setrlimit { soft, hard, .. } if soft > hard => Err((1, Constraint::SoftLimitAboveHard)),
        Op::Sigignore { signals }
            if signals.contains(SignalSet::SIGKILL) || signals.contains(SignalSet::SIGSTOP) =>
        {
            Err((0, Constraint::UnignorableSignal))
        }
        _ => Ok(()),
    }
}

/// Whether this version knows opcode `number`: the answer to the process server's query
/// "is opcode N supported?".
pub const fn is_supported(number: u64) -> bool {
    Opcode::from_number(number).is_some()
}

/// The supported opcodes, in number order.
pub fn supported() -> impl Iterator<Item = Opcode> {
    Opcode::ALL.iter().copied()
}

/// One operand of an opcode: its name (as in docs/egg.md and `Op`) and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OperandInfo {
    /// The operand's name.
    pub name: &'static str,
    /// What the operand may hold.
    pub kind: OperandKind,
}

/// The number is not a known opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownOpcode(pub u64);

impl fmt::Display for UnknownOpcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown opcode {}", self.0)
    }
}

impl core::error::Error for UnknownOpcode {}

impl TryFrom<u64> for Opcode {
    type Error = UnknownOpcode;
    fn try_from(number: u64) -> Result<Opcode, UnknownOpcode> {
        Opcode::from_number(number).ok_or(UnknownOpcode(number))
    }
}

impl From<Opcode> for u64 {
    fn from(opcode: Opcode) -> u64 {
        opcode.number()
    }
}

/// The operands of one op with their descriptors: what [`Op::operands`] returns.
#[derive(Clone, Debug)]
pub struct Operands<'a> {
    infos: &'static [OperandInfo],
    values: [OperandValue<'a>; MAX_OPERANDS],
    len: usize,
    next: usize,
}

impl<'a> Operands<'a> {
    fn new(opcode: Opcode) -> Operands<'a> {
        Operands {
            infos: opcode.operands(),
            values: [OperandValue::Number(0); MAX_OPERANDS],
            len: 0,
            next: 0,
        }
    }

    fn push(&mut self, value: OperandValue<'a>) {
        // The const assertions in `define_ops!` keep `len` below MAX_OPERANDS.
        if let Some(slot) = self.values.get_mut(self.len) {
            *slot = value;
            self.len += 1;
        }
    }
}

impl<'a> Iterator for Operands<'a> {
    type Item = (&'static OperandInfo, OperandValue<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.len {
            return None;
        }
        let item = (self.infos.get(self.next)?, *self.values.get(self.next)?);
        self.next += 1;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_numbers_match_the_table_and_try_from() {
        for &opcode in Opcode::ALL {
            assert_eq!(Opcode::try_from(opcode.number()), Ok(opcode));
            assert_eq!(Opcode::from_mnemonic(opcode.mnemonic()), Some(opcode));
            assert!(is_supported(opcode.number()));
            assert!(!opcode.summary().is_empty() && !opcode.summary().starts_with(' '));
        }
        assert_eq!(Opcode::try_from(0), Err(UnknownOpcode(0)));
        assert!(!is_supported(0));
        assert!(!is_supported(Opcode::ALL.len() as u64 + 1));
        assert!(!is_supported(u64::MAX));
    }

    #[test]
    fn opcodes_are_numbered_densely_from_one() {
        // Dense numbering keeps every opcode one byte and makes gaps obvious.
        for (index, opcode) in supported().enumerate() {
            assert_eq!(opcode.number(), index as u64 + 1);
        }
    }

    #[test]
    fn the_seed_numbers_hold() {
        assert_eq!(Opcode::Open.number(), 1);
        assert_eq!(Opcode::Setpgid.number(), 5);
        let names: [&str; 4] = ["fd", "path", "flags", "mode"];
        assert!(Opcode::Open.operands().iter().map(|o| o.name).eq(names));
    }

    #[test]
    fn operand_names_are_unique_within_an_op() {
        for &opcode in Opcode::ALL {
            let operands = opcode.operands();
            for (i, a) in operands.iter().enumerate() {
                assert!(
                    operands[i + 1..].iter().all(|b| b.name != a.name),
                    "{opcode:?}"
                );
            }
        }
    }
}
