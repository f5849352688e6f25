//! Decode errors: which op, which byte, what is wrong.

use core::fmt;

use crate::opcodes::{Opcode, OperandInfo};

/// Why a program is not valid. Always found by [`validate`](crate::validate) before any op
/// runs, and reported with its place in a [`DecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The program ends inside a number (its last byte says "more follows").
    TruncatedNumber,
    /// A number is not in its shortest form (a zero last group, or more than ten bytes).
    OverlongNumber,
    /// A number exceeds the largest value its operand allows (or 64 bits).
    NumberTooLarge {
        /// The largest value the operand allows.
        max: u64,
    },
    /// A string's length is more than the bytes left in the program.
    StringTooLong {
        /// The length the string claims.
        length: u64,
        /// The bytes left after the length.
        remaining: usize,
    },
    /// A string holds a NUL byte (the error's offset is the NUL's).
    NulInString,
    /// The opcode is not one this version knows.
    UnknownOpcode(u64),
    /// The program ends where an operand should start.
    MissingOperands,
    /// A number or string is well formed and in range but not a value the operand allows.
    ValueNotAllowed(Constraint),
}

/// A rule an operand value breaks (see [`ErrorKind::ValueNotAllowed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// A path or environment variable name is empty.
    EmptyString,
    /// An environment variable name contains `=`.
    EqualsInName,
    /// Open flags have a bit set that has no name.
    UndefinedOpenFlags,
    /// Open flags have access mode 3, which is reserved.
    ReservedAccessMode,
    /// A CPU affinity mask has no CPU in it.
    EmptyCpuMask,
    /// A soft resource limit is above the hard one.
    SoftLimitAboveHard,
    /// `sigignore` names SIGKILL or SIGSTOP, which cannot be ignored.
    UnignorableSignal,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Constraint::EmptyString => "must not be empty",
            Constraint::EqualsInName => "must not contain '='",
            Constraint::UndefinedOpenFlags => "has a flag bit with no name",
            Constraint::ReservedAccessMode => "has access mode 3, which is reserved",
            Constraint::EmptyCpuMask => "must name at least one CPU",
            Constraint::SoftLimitAboveHard => "soft limit is above the hard limit",
            Constraint::UnignorableSignal => "SIGKILL and SIGSTOP cannot be ignored",
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::TruncatedNumber => {
                f.write_str("truncated number (the program ends inside it)")
            }
            ErrorKind::OverlongNumber => f.write_str("over-long number (not in its shortest form)"),
            ErrorKind::NumberTooLarge { max } => write!(f, "number too large (at most {max})"),
            ErrorKind::StringTooLong { length, remaining } => write!(
                f,
                "string of {length} bytes is longer than the {remaining} bytes left"
            ),
            ErrorKind::NulInString => f.write_str("NUL byte in string"),
            ErrorKind::UnknownOpcode(number) => write!(f, "unknown opcode {number}"),
            ErrorKind::MissingOperands => f.write_str("missing operands (the program ends here)"),
            ErrorKind::ValueNotAllowed(constraint) => write!(f, "value not allowed: {constraint}"),
        }
    }
}

/// A program is not valid: the op, the byte and the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Index of the bad op, counting from 0.
    pub op_index: usize,
    /// Byte offset where the bad op starts.
    pub op_offset: usize,
    /// Byte offset of the fault itself: the bad number, string or NUL byte, or the end of
    /// the program for missing operands.
    pub offset: usize,
    /// The op's opcode, if it was read and known.
    pub opcode: Option<Opcode>,
    /// The operand at fault, if the fault is in an operand.
    pub operand: Option<&'static OperandInfo>,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for DecodeError {
    /// `op 1 (open) at byte 2: operand path at byte 4: string of 9 bytes is longer than ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {} at byte {}", self.op_index, self.op_offset)?;
        if let Some(opcode) = self.opcode {
            write!(f, " ({})", opcode.mnemonic())?;
        }
        match self.operand {
            Some(operand) => write!(f, ": operand {} at byte {}", operand.name, self.offset)?,
            None if self.offset != self.op_offset => write!(f, ": byte {}", self.offset)?,
            None => {}
        }
        write!(f, ": {}", self.kind)
    }
}

impl core::error::Error for DecodeError {}
