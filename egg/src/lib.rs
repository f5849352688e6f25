//! The egg: Hatchery's straight-line byte code that says how a child process is set up.
//!
//! A parent does not fork. It writes an *egg* — a short program of ops such as `setsid`,
//! `open`, `dup2`, `cap` — and sends it with `hatch()` to the process server, which validates
//! the whole egg and then runs it op by op while it builds the child. The format is specified
//! in `docs/egg.md`; this crate is its only implementation.
//!
//! Design principles:
//!
//! 1. **One table.** Every opcode is one line of [`opcodes`](crate::Opcode): number, mnemonic,
//!    operand names and kinds, one-line meaning. The decoder, the [`Op`] type, the [`Hatch`]
//!    trait, the builder, the registry ([`is_supported`]), the text form and the docs test are
//!    all generated from it, so they cannot disagree.
//! 2. **Validate, then run.** [`validate`] checks every byte of a program (shortest-form
//!    numbers, operand ranges, strings, flag bits) before [`run`] calls the first op. An error
//!    names the op index, the byte offset and the kind ([`DecodeError`]).
//! 3. **Zero copy, no allocation, no panics.** [`decode`] yields [`Op`]s that borrow strings
//!    from the input; the decoder, validator and interpreter need neither `alloc` nor `std`
//!    and never panic, whatever the bytes (property tested and fuzzed).
//! 4. **Canonical bytes.** Every valid program has exactly one encoding, so the text form
//!    round-trips exactly: `assemble(disassemble(p)) == p`.
//!
//! Features: `alloc` adds the builder ([`Egg`]), [`Op::encode`], [`assemble`] and
//! [`disassemble`]; `std` implies `alloc` and is what tools turn on.
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use egg::{Egg, O_RDWR};
//! let program = Egg::new().setpgid(0).open(0, "/dev/null", O_RDWR, 0).build().unwrap();
//! assert_eq!(program, b"\x05\x00\x01\x00\x09/dev/null\x02\x00");
//! assert_eq!(egg::disassemble(&program).unwrap(), "setpgid 0\nopen 0 \"/dev/null\" O_RDWR 0\n");
//! # }
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod kinds;
#[macro_use]
mod define_ops;

mod decode;
mod error;
mod leb128;
mod opcodes;
mod run;
mod text;
mod values;

#[cfg(feature = "alloc")]
mod asm;
#[cfg(feature = "alloc")]
mod builder;

pub use decode::{decode, validate, Decoder};
pub use error::{Constraint, DecodeError, ErrorKind};
pub use kinds::{IdList, IdListIter, OperandKind, OperandValue, Shape, Str, MAX_GROUPS};
pub use opcodes::{
    dispatch, is_supported, supported, Hatch, Op, Opcode, OperandInfo, Operands, UnknownOpcode,
    MAX_OPERANDS,
};
pub use run::{run, RunError, RunErrorCause};
pub use values::{
    OpenFlags, Resource, Rights, SignalSet, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_DSYNC,
    O_EXCL, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, RLIM_INFINITY,
};

#[cfg(feature = "alloc")]
pub use asm::{assemble, AsmError, AsmErrorKind};
#[cfg(feature = "alloc")]
pub use builder::Egg;
#[cfg(feature = "alloc")]
pub use text::disassemble;

#[cfg(test)]
mod tests;
