//! The zero-copy decoder and the validator.
//!
//! Decoding is a straight walk: read an opcode, look it up, read its operands in table
//! order, each checked against its kind, then the few rules that span operands. Nothing is
//! copied: strings in the resulting [`Op`]s borrow from the program. Every read is bounds
//! checked through `get`, so no input can panic the decoder.

use core::iter::FusedIterator;

use crate::error::{DecodeError, ErrorKind};
use crate::kinds::{IdList, OperandKind, OperandValue, Shape, Str, MAX_GROUPS};
use crate::leb128::{self, NumberError};
use crate::opcodes::{check_op, decode_operands, Op, Opcode, MAX_OPERANDS};

/// A fault inside one op's operands, before it is placed in the program.
#[derive(Debug)]
pub(crate) struct Fault {
    /// Byte offset of the fault.
    offset: usize,
    /// Index of the operand at fault.
    operand: usize,
    kind: ErrorKind,
}

/// Reads the operands of one op.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Operands read so far.
    count: usize,
    /// Where each operand read so far started (for rules checked after the whole op).
    starts: [usize; MAX_OPERANDS],
}

fn number_error(error: NumberError, max: u64) -> ErrorKind {
    match error {
        NumberError::Truncated => ErrorKind::TruncatedNumber,
        NumberError::Overlong => ErrorKind::OverlongNumber,
        NumberError::TooWide => ErrorKind::NumberTooLarge { max },
    }
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor {
            bytes,
            pos,
            count: 0,
            starts: [0; MAX_OPERANDS],
        }
    }

    /// Reads the next operand, of kind `kind`, and checks it.
    #[inline]
    pub(crate) fn operand(&mut self, kind: OperandKind) -> Result<OperandValue<'a>, Fault> {
        let operand = self.count;
        let start = self.pos;
        if let Some(slot) = self.starts.get_mut(operand) {
            *slot = start;
        }
        self.count += 1;
        let fault = |offset, kind| Fault {
            offset,
            operand,
            kind,
        };
        if start >= self.bytes.len() {
            return Err(fault(start, ErrorKind::MissingOperands));
        }
        match kind.shape() {
            Shape::Number { max } => {
                let value = self.number(max).map_err(|kind| fault(start, kind))?;
                kind.check_number(value)
                    .map_err(|rule| fault(start, ErrorKind::ValueNotAllowed(rule)))?;
                Ok(OperandValue::Number(value))
            }
            Shape::String => {
                let length = self.number(u64::MAX).map_err(|kind| fault(start, kind))?;
                let rest = self.bytes.get(self.pos..).unwrap_or_default();
                let body = usize::try_from(length).ok().and_then(|length| rest.get(..length));
                let Some(body) = body else {
                    let remaining = rest.len();
                    return Err(fault(start, ErrorKind::StringTooLong { length, remaining }));
                };
                if let Some(nul) = body.iter().position(|&byte| byte == 0) {
                    return Err(fault(self.pos + nul, ErrorKind::NulInString));
                }
                kind.check_string(body)
                    .map_err(|rule| fault(start, ErrorKind::ValueNotAllowed(rule)))?;
                self.pos += body.len();
                Ok(OperandValue::String(Str::from_checked(body)))
            }
            Shape::IdList => {
                let count = self.number(MAX_GROUPS).map_err(|kind| fault(start, kind))?;
                let ids_start = self.pos;
                for _ in 0..count {
                    let id_start = self.pos;
                    if id_start >= self.bytes.len() {
                        return Err(fault(id_start, ErrorKind::MissingOperands));
                    }
                    self.number(u64::from(u32::MAX))
                        .map_err(|kind| fault(id_start, kind))?;
                }
                let ids = self.bytes.get(ids_start..self.pos).unwrap_or_default();
                // `count` is at most MAX_GROUPS, which fits in u32.
                let count = u32::try_from(count).unwrap_or(0);
                Ok(OperandValue::IdList(IdList::from_checked(count, ids)))
            }
        }
    }

    /// Reads a number of at most `max` at the cursor.
    #[inline]
    fn number(&mut self, max: u64) -> Result<u64, ErrorKind> {
        let (value, len) =
            leb128::read(self.bytes, self.pos).map_err(|error| number_error(error, max))?;
        if value > max {
            return Err(ErrorKind::NumberTooLarge { max });
        }
        self.pos += len;
        Ok(value)
    }
}

/// Decodes the op that starts at `bytes[pos]`, op number `index`; returns it and the offset
/// of the next op.
#[inline]
pub(crate) fn decode_at(
    bytes: &[u8],
    pos: usize,
    index: usize,
) -> Result<(Op<'_>, usize), DecodeError> {
    let error = |offset, opcode, operand, kind| DecodeError {
        op_index: index,
        op_offset: pos,
        offset,
        opcode,
        operand,
        kind,
    };
    let (number, len) = leb128::read(bytes, pos)
        .map_err(|e| error(pos, None, None, number_error(e, u64::MAX)))?;
    let opcode = Opcode::from_number(number)
        .ok_or_else(|| error(pos, None, None, ErrorKind::UnknownOpcode(number)))?;
    let mut cursor = Cursor::new(bytes, pos + len);
    let op = decode_operands(opcode, &mut cursor).map_err(|fault| {
        let operand = opcode.operands().get(fault.operand);
        error(fault.offset, Some(opcode), operand, fault.kind)
    })?;
    check_op(&op).map_err(|(operand, rule)| {
        let offset = cursor.starts.get(operand).copied().unwrap_or(pos);
        let operand = opcode.operands().get(operand);
        error(offset, Some(opcode), operand, ErrorKind::ValueNotAllowed(rule))
    })?;
    Ok((op, cursor.pos))
}

/// An iterator over the ops of a program, in order.
///
/// Yields `Ok(op)` for each op up to the first invalid one, then that `Err` once, then
/// nothing. The end of the bytes is the end of the program (an empty program has no ops).
/// It checks each op as it goes but cannot know that later ops are valid: to check the
/// whole program before acting on any op, call [`validate`] first (as [`run`] does).
///
/// [`run`]: crate::run
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    index: usize,
    failed: bool,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `program`.
    pub fn new(program: &'a [u8]) -> Decoder<'a> {
        Decoder {
            bytes: program,
            pos: 0,
            index: 0,
            failed: false,
        }
    }

    /// Byte offset of the next op (the program's length once it is all decoded).
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Index of the next op (the number of ops decoded so far).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<'a> Iterator for Decoder<'a> {
    type Item = Result<Op<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        match decode_at(self.bytes, self.pos, self.index) {
            Ok((op, next)) => {
                self.pos = next;
                self.index += 1;
                Some(Ok(op))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

impl FusedIterator for Decoder<'_> {}

/// Decodes `program` op by op; see [`Decoder`].
pub fn decode(program: &[u8]) -> Decoder<'_> {
    Decoder::new(program)
}

/// Checks the whole of `program`; returns how many ops it has.
///
/// # Errors
///
/// The first fault, with its op index, byte offset and kind.
pub fn validate(program: &[u8]) -> Result<usize, DecodeError> {
    let mut decoder = decode(program);
    for op in &mut decoder {
        op?;
    }
    Ok(decoder.index())
}
