//! The zero-copy decoder and the validator.
//!
//! Decoding is a straight walk: read an opcode, look it up, read its operands in table
//! order, each checked against its kind, then the few rules that span operands. Nothing is
//! copied: strings in the resulting [`Op`]s borrow from the program. Every read is bounds
//! checked through `get`, so no input can panic the decoder.

use core::iter::FusedIterator;

use crate::error::{Constraint, DecodeError, ErrorKind};
use crate::kinds::{IdList, OperandKind, Shape, Str, MAX_GROUPS};
use crate::leb128::{self, NumberError};
use crate::opcodes::{decode_operands, validate_operands, Op, Opcode};
use crate::values::{OpenFlags, Resource, Rights, SignalSet};

/// A fault inside one op's operands: where and what. Which operand it is in is worked
/// out only when the error is reported (`describe`), to keep the hot path lean.
#[derive(Debug)]
pub(crate) enum Fault {
    /// A bad byte at `offset`.
    At { offset: usize, kind: ErrorKind },
    /// Operand number `operand` breaks `rule` (see `check_op`); its offset is found later.
    Rule { operand: usize, rule: Constraint },
}

impl Fault {
    #[inline(always)]
    fn new(offset: usize, kind: ErrorKind) -> Fault {
        Fault::At { offset, kind }
    }

    /// The opcode number is not one this version knows.
    #[cold]
    pub(crate) fn unknown_opcode(number: u64) -> Fault {
        Fault::new(0, ErrorKind::UnknownOpcode(number))
    }

    /// Operand number `operand` breaks `rule`.
    #[cold]
    pub(crate) fn rule(operand: usize, rule: Constraint) -> Fault {
        Fault::Rule { operand, rule }
    }
}

/// Reads the operands of one op.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
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
        Cursor { bytes, pos }
    }

    /// Reads a number operand of kind `kind` and checks it.
    #[inline(always)]
    fn number_operand(&mut self, kind: OperandKind) -> Result<u64, Fault> {
        let start = self.pos;
        let value = self
            .number(kind.max())
            .map_err(|error| Fault::new(start, error))?;
        kind.check_number(value)
            .map_err(|rule| Fault::new(start, ErrorKind::ValueNotAllowed(rule)))?;
        Ok(value)
    }

    /// Reads a string operand of kind `kind` and checks it.
    #[inline(always)]
    fn string_operand(&mut self, kind: OperandKind) -> Result<Str<'a>, Fault> {
        let start = self.pos;
        let fault = Fault::new;
        let length = self.number(u64::MAX).map_err(|kind| fault(start, kind))?;
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let body = usize::try_from(length)
            .ok()
            .and_then(|length| rest.get(..length));
        let Some(body) = body else {
            let remaining = rest.len();
            return Err(fault(start, ErrorKind::StringTooLong { length, remaining }));
        };
        if let Some(nul) = find_nul(body) {
            return Err(fault(self.pos + nul, ErrorKind::NulInString));
        }
        kind.check_string(body)
            .map_err(|rule| fault(start, ErrorKind::ValueNotAllowed(rule)))?;
        self.pos += body.len();
        Ok(Str::from_checked(body))
    }

    /// Reads an id list operand and checks it.
    #[inline(always)]
    fn id_list_operand(&mut self) -> Result<IdList<'a>, Fault> {
        let start = self.pos;
        let fault = Fault::new;
        let count = self.number(MAX_GROUPS).map_err(|kind| fault(start, kind))?;
        let ids_start = self.pos;
        for _ in 0..count {
            let id_start = self.pos;
            self.number(u64::from(u32::MAX))
                .map_err(|kind| fault(id_start, kind))?;
        }
        let ids = self.bytes.get(ids_start..self.pos).unwrap_or_default();
        // `count` is at most MAX_GROUPS, which fits in u32.
        let count = u32::try_from(count).unwrap_or(0);
        Ok(IdList::from_checked(count, ids))
    }

    /// Reads a number of at most `max` at the cursor. At the end of the program that is
    /// [`ErrorKind::MissingOperands`]: every number starts an operand or an id of a list.
    #[inline(always)]
    fn number(&mut self, max: u64) -> Result<u64, ErrorKind> {
        let (value, len) = leb128::read(self.bytes, self.pos).map_err(|error| {
            if self.pos >= self.bytes.len() {
                ErrorKind::MissingOperands
            } else {
                number_error(error, max)
            }
        })?;
        if value > max {
            return Err(ErrorKind::NumberTooLarge { max });
        }
        self.pos += len;
        Ok(value)
    }
}

/// Index of the first NUL byte, if any. Eight bytes at a time: strings are most of a big
/// egg's bytes.
#[inline]
fn find_nul(bytes: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    for (index, chunk) in chunks.by_ref().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // Sets the high bit of a byte if that byte is zero (and maybe of later bytes).
        if word.wrapping_sub(LOW) & !word & HIGH != 0 {
            return chunk
                .iter()
                .position(|&byte| byte == 0)
                .map(|at| index * 8 + at);
        }
    }
    let tail = chunks.remainder();
    let tail_start = bytes.len() - tail.len();
    tail.iter()
        .position(|&byte| byte == 0)
        .map(|at| tail_start + at)
}

/// A typed [`Op`] field read straight from the program: numbers, strings, id lists.
pub(crate) trait DecodeField<'a>: Sized {
    /// Reads a field of kind `kind` (the kind's shape matches the type: the table says so).
    fn decode_field(cursor: &mut Cursor<'a>, kind: OperandKind) -> Result<Self, Fault>;
}

macro_rules! number_fields {
    ($($ty:ty => $convert:expr;)*) => {$(
        impl DecodeField<'_> for $ty {
            #[inline(always)]
            fn decode_field(cursor: &mut Cursor<'_>, kind: OperandKind) -> Result<Self, Fault> {
                // The kind's max keeps the value within the type; the conversion cannot lose.
                cursor.number_operand(kind).map($convert)
            }
        }
    )*};
}

number_fields! {
    u64 => |value| value;
    u32 => |value| value as u32;
    u8 => |value| value as u8;
    OpenFlags => |value| OpenFlags(value as u32);
    Rights => |value| Rights(value as u8);
    SignalSet => SignalSet;
    Resource => |value| Resource::from_number(value).unwrap_or(Resource::Cpu);
}

impl<'a> DecodeField<'a> for Str<'a> {
    #[inline(always)]
    fn decode_field(cursor: &mut Cursor<'a>, kind: OperandKind) -> Result<Self, Fault> {
        cursor.string_operand(kind)
    }
}

impl<'a> DecodeField<'a> for IdList<'a> {
    #[inline(always)]
    fn decode_field(cursor: &mut Cursor<'a>, _kind: OperandKind) -> Result<Self, Fault> {
        cursor.id_list_operand()
    }
}

/// Decodes the op that starts at `bytes[pos]`, op number `index`; returns it and the offset
/// of the next op.
#[inline(always)]
pub(crate) fn decode_at(
    bytes: &[u8],
    pos: usize,
    index: usize,
) -> Result<(Op<'_>, usize), DecodeError> {
    let (number, len) = match leb128::read(bytes, pos) {
        Ok(number) => number,
        Err(error) => return Err(bad_opcode(pos, index, number_error(error, u64::MAX))),
    };
    let mut cursor = Cursor::new(bytes, pos + len);
    match decode_operands(number, &mut cursor) {
        Ok(op) => Ok((op, cursor.pos)),
        Err(fault) => Err(describe(bytes, pos, len, index, number, fault)),
    }
}

/// Checks the op that starts at `bytes[pos]`, op number `index`, as [`decode_at`] does;
/// returns the offset of the next op.
#[inline(always)]
fn validate_at(bytes: &[u8], pos: usize, index: usize) -> Result<usize, DecodeError> {
    let (number, len) = match leb128::read(bytes, pos) {
        Ok(number) => number,
        Err(error) => return Err(bad_opcode(pos, index, number_error(error, u64::MAX))),
    };
    let mut cursor = Cursor::new(bytes, pos + len);
    match validate_operands(number, &mut cursor) {
        Ok(()) => Ok(cursor.pos),
        Err(fault) => Err(describe(bytes, pos, len, index, number, fault)),
    }
}

/// The full error for `fault` in the op at `pos`, whose opcode `number` is `len` bytes.
#[cold]
#[inline(never)]
fn describe(
    bytes: &[u8],
    pos: usize,
    len: usize,
    index: usize,
    number: u64,
    fault: Fault,
) -> DecodeError {
    let Some(opcode) = Opcode::from_number(number) else {
        return bad_opcode(pos, index, ErrorKind::UnknownOpcode(number));
    };
    let (operand, offset, kind) = match fault {
        Fault::Rule { operand, rule } => {
            let offset = operand_offset(bytes, pos + len, opcode, operand);
            (operand, offset, ErrorKind::ValueNotAllowed(rule))
        }
        Fault::At { offset, kind } => (
            operand_index(bytes, pos + len, opcode, offset),
            offset,
            kind,
        ),
    };
    DecodeError {
        op_index: index,
        op_offset: pos,
        offset,
        opcode: Some(opcode),
        operand: opcode.operands().get(operand),
        kind,
    }
}

/// The error for an op whose opcode is bad.
#[cold]
fn bad_opcode(pos: usize, index: usize, kind: ErrorKind) -> DecodeError {
    DecodeError {
        op_index: index,
        op_offset: pos,
        offset: pos,
        opcode: None,
        operand: None,
        kind,
    }
}

/// Reads (and drops) one operand of kind `kind`.
fn skip_operand(cursor: &mut Cursor<'_>, kind: OperandKind) -> Result<(), Fault> {
    match kind.shape() {
        Shape::Number { .. } => cursor.number_operand(kind).map(drop),
        Shape::String => cursor.string_operand(kind).map(drop),
        Shape::IdList => cursor.id_list_operand().map(drop),
    }
}

/// Index of the operand of `opcode` (operands starting at `pos`) that holds byte `offset`:
/// the one that fails to read, or the last that starts at or before `offset`.
fn operand_index(bytes: &[u8], pos: usize, opcode: Opcode, offset: usize) -> usize {
    let mut cursor = Cursor::new(bytes, pos);
    let operands = opcode.operands();
    for (index, info) in operands.iter().enumerate() {
        if skip_operand(&mut cursor, info.kind).is_err() || cursor.pos > offset {
            return index;
        }
    }
    operands.len().saturating_sub(1)
}

/// Byte offset of operand number `operand` of a valid op whose operands start at `pos`.
fn operand_offset(bytes: &[u8], pos: usize, opcode: Opcode, operand: usize) -> usize {
    let mut cursor = Cursor::new(bytes, pos);
    for info in opcode.operands().iter().take(operand) {
        if skip_operand(&mut cursor, info.kind).is_err() {
            break;
        }
    }
    cursor.pos
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
    // Not a loop over a `Decoder`: no op is built (docs/egg.md, "Performance").
    let (mut pos, mut index) = (0, 0);
    while pos < program.len() {
        pos = validate_at(program, pos, index)?;
        index += 1;
    }
    Ok(index)
}
