//! The builder: `Egg::new().setsid().open(0, "/dev/pts/0", O_RDWR, 0).dup2(0, 1)`.
//!
//! One method per opcode (generated from the table in `opcodes.rs`), each appending the op
//! in its canonical encoding. [`Egg::build`] validates the result, so a value the process
//! server would refuse (a NUL in a path, a mode above 0o7777) is caught at the parent.

use alloc::vec::Vec;

use crate::error::DecodeError;
use crate::kinds::OperandValue;
use crate::leb128;
use crate::opcodes::{Op, Opcode};

/// An egg being written. See the module docs; the op methods are listed with their
/// one-line meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Egg {
    bytes: Vec<u8>,
    ops: usize,
}

impl Egg {
    /// An empty egg (a valid program that does nothing).
    pub fn new() -> Egg {
        Egg::default()
    }

    /// Appends `opcode` and returns the buffer for its operands.
    pub(crate) fn start_op(&mut self, opcode: Opcode) -> &mut Vec<u8> {
        self.ops += 1;
        leb128::write(&mut self.bytes, opcode.number());
        &mut self.bytes
    }

    /// Appends an op decoded elsewhere (or written by hand).
    pub fn op(mut self, op: Op<'_>) -> Self {
        self.ops += 1;
        op.encode(&mut self.bytes);
        self
    }

    /// Length of the program so far, in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no op was added.
    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// Number of ops so far.
    pub fn op_count(&self) -> usize {
        self.ops
    }

    /// The bytes so far, not yet validated.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The finished program.
    ///
    /// # Errors
    ///
    /// The first op the process server would refuse, exactly as [`validate`] reports it.
    ///
    /// [`validate`]: crate::validate
    pub fn build(self) -> Result<Vec<u8>, DecodeError> {
        crate::validate(&self.bytes)?;
        Ok(self.bytes)
    }
}

impl Op<'_> {
    /// Appends the op's canonical encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        leb128::write(out, self.opcode().number());
        for (_, value) in self.operands() {
            write_value(out, value);
        }
    }
}

/// Appends one operand value.
pub(crate) fn write_value(out: &mut Vec<u8>, value: OperandValue<'_>) {
    match value {
        OperandValue::Number(number) => leb128::write(out, number),
        OperandValue::String(string) => write_string(out, string.as_bytes()),
        OperandValue::IdList(ids) => {
            leb128::write(out, ids.len() as u64);
            out.extend_from_slice(ids.encoded());
        }
    }
}

/// Appends a string operand: its length, then its bytes.
pub(crate) fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    leb128::write(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends an id list operand: the count, then the ids.
pub(crate) fn write_ids(out: &mut Vec<u8>, ids: &[u32]) {
    leb128::write(out, ids.len() as u64);
    for &id in ids {
        leb128::write(out, u64::from(id));
    }
}
