//! The interpreter driver: validate the whole program, then call [`Hatch`] op by op.

use core::fmt;

use crate::decode::{decode, validate};
use crate::error::DecodeError;
use crate::opcodes::{dispatch, Hatch, Opcode};

/// Why [`run`] stopped: the op and what went wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunError<E> {
    /// Index of the op at fault, counting from 0.
    pub op_index: usize,
    /// Byte offset of the fault: the bad byte of an invalid program, or the start of the op
    /// whose `Hatch` method failed.
    pub offset: usize,
    /// What went wrong.
    pub cause: RunErrorCause<E>,
}

/// What stopped [`run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunErrorCause<E> {
    /// The program is not valid; no op ran.
    Invalid(DecodeError),
    /// The `Hatch` method of the op failed; the ops before it ran, those after did not.
    Failed {
        /// The op that failed.
        opcode: Opcode,
        /// The `Hatch` implementation's error.
        error: E,
    },
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            RunErrorCause::Invalid(error) => write!(f, "invalid egg: {error}"),
            RunErrorCause::Failed { opcode, error } => write!(
                f,
                "op {} at byte {} ({}) failed: {error}",
                self.op_index,
                self.offset,
                opcode.mnemonic()
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for RunError<E> {}

/// Runs `program` against `hatch`; returns how many ops ran (all of them).
///
/// First validates the whole program: if any byte is bad, no method is called. Then calls
/// the `Hatch` method of each op in order and stops at the first that fails.
///
/// # Errors
///
/// The op index, byte offset and cause of the first fault (see [`RunError`]).
pub fn run<H: Hatch + ?Sized>(program: &[u8], hatch: &mut H) -> Result<usize, RunError<H::Error>> {
    let invalid = |error: DecodeError| RunError {
        op_index: error.op_index,
        offset: error.offset,
        cause: RunErrorCause::Invalid(error),
    };
    validate(program).map_err(invalid)?;
    let mut decoder = decode(program);
    loop {
        let (op_index, offset) = (decoder.index(), decoder.offset());
        let Some(op) = decoder.next() else {
            return Ok(op_index);
        };
        // Validation passed, so decoding cannot fail here; handled all the same.
        let op = op.map_err(invalid)?;
        dispatch(hatch, op).map_err(|error| RunError {
            op_index,
            offset,
            cause: RunErrorCause::Failed {
                opcode: op.opcode(),
                error,
            },
        })?;
    }
}
