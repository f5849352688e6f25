//! Every decode error kind, with its op index, byte offset and operand.

use super::hex;
use crate::{decode, validate, Constraint, DecodeError, ErrorKind, Opcode, MAX_GROUPS};

/// Validates `program` (hex), expecting a failure; also checks the decoder agrees.
fn fault(program: &str) -> DecodeError {
    let bytes = hex(program);
    let error = validate(&bytes).expect_err(program);
    let last = decode(&bytes).last().expect("at least one item");
    assert_eq!(
        last,
        Err(error),
        "decoder and validator disagree on {program}"
    );
    error
}

/// (op index, op offset, fault offset, operand name, kind)
fn place(error: DecodeError) -> (usize, usize, usize, Option<&'static str>, ErrorKind) {
    let operand = error.operand.map(|operand| operand.name);
    (
        error.op_index,
        error.op_offset,
        error.offset,
        operand,
        error.kind,
    )
}

#[test]
fn truncated_number() {
    assert_eq!(
        place(fault("01 80")),
        (0, 0, 1, Some("fd"), ErrorKind::TruncatedNumber)
    );
    assert_eq!(
        place(fault("06 80")),
        (1, 1, 1, None, ErrorKind::TruncatedNumber)
    );
    assert_eq!(
        place(fault("09 ff")),
        (0, 0, 1, Some("path"), ErrorKind::TruncatedNumber)
    );
}

#[test]
fn overlong_number() {
    assert_eq!(
        place(fault("05 80 00")),
        (0, 0, 1, Some("pgid"), ErrorKind::OverlongNumber)
    );
    // Opcode 1 written in two bytes.
    let error = fault("81 00 00 01 41 02 00");
    assert_eq!(place(error), (0, 0, 0, None, ErrorKind::OverlongNumber));
    assert_eq!(error.opcode, None);
}

#[test]
fn number_too_large_for_its_operand() {
    let max_fd = i32::MAX as u64;
    // 2^31 as a pgid.
    let kind = ErrorKind::NumberTooLarge { max: max_fd };
    assert_eq!(place(fault("05 8080808008")), (0, 0, 1, Some("pgid"), kind));
    // Wider than 64 bits.
    assert_eq!(
        place(fault("03 ffffffffffffffffff02")),
        (0, 0, 1, Some("fd"), kind)
    );
    // Rights above 15, priority above 255, mode above 0o7777, resource above 15.
    let too_large = |max| ErrorKind::NumberTooLarge { max };
    assert_eq!(fault("0b 00 00 10 00").kind, too_large(15));
    assert_eq!(fault("15 8002").kind, too_large(255));
    assert_eq!(fault("01 00 01 41 00 8080 01").kind, too_large(0o7777));
    assert_eq!(fault("14 10 00 00").kind, too_large(15));
    // Too many groups, a group id above u32::MAX.
    assert_eq!(
        place(fault("12 8180 04")),
        (0, 0, 1, Some("groups"), too_large(MAX_GROUPS))
    );
    assert_eq!(fault("12 01 8080808010").kind, too_large(u32::MAX.into()));
    assert_eq!(fault("12 01 8080808010").offset, 2);
}

#[test]
fn string_longer_than_the_rest_of_the_program() {
    let kind = ErrorKind::StringTooLong {
        length: 5,
        remaining: 2,
    };
    assert_eq!(place(fault("09 05 2f 61")), (0, 0, 1, Some("path"), kind));
    let huge = ErrorKind::StringTooLong {
        length: u64::MAX,
        remaining: 0,
    };
    assert_eq!(fault("17 ffffffffffffffffff01").kind, huge);
}

#[test]
fn nul_in_string() {
    assert_eq!(
        place(fault("09 03 2f 00 61")),
        (0, 0, 3, Some("path"), ErrorKind::NulInString)
    );
    assert_eq!(
        place(fault("06 18 01 41 01 00")),
        (1, 1, 5, Some("value"), ErrorKind::NulInString)
    );
}

#[test]
fn unknown_opcode() {
    assert_eq!(
        place(fault("06 63")),
        (1, 1, 1, None, ErrorKind::UnknownOpcode(99))
    );
    assert_eq!(
        place(fault("00")),
        (0, 0, 0, None, ErrorKind::UnknownOpcode(0))
    );
    assert_eq!(
        fault("ffffffffffffffffff01").kind,
        ErrorKind::UnknownOpcode(u64::MAX)
    );
}

#[test]
fn missing_operands() {
    let example_without_mode = "05 00 01 00 09 2f6465762f6e756c6c 02";
    let error = fault(example_without_mode);
    assert_eq!(
        place(error),
        (1, 2, 15, Some("mode"), ErrorKind::MissingOperands)
    );
    assert_eq!(error.opcode, Some(Opcode::Open));
    assert_eq!(
        place(fault("02 00")),
        (0, 0, 2, Some("to"), ErrorKind::MissingOperands)
    );
    assert_eq!(
        place(fault("12 03 01 02")),
        (0, 0, 4, Some("groups"), ErrorKind::MissingOperands)
    );
}

#[test]
fn values_not_allowed() {
    let not_allowed = |program| match fault(program) {
        DecodeError {
            kind: ErrorKind::ValueNotAllowed(rule),
            operand: Some(operand),
            offset,
            ..
        } => (operand.name, offset, rule),
        other => panic!("{program}: {other:?}"),
    };
    assert_eq!(not_allowed("09 00"), ("path", 1, Constraint::EmptyString));
    assert_eq!(
        not_allowed("18 00 00"),
        ("name", 1, Constraint::EmptyString)
    );
    assert_eq!(
        not_allowed("18 03 413d42 00"),
        ("name", 1, Constraint::EqualsInName)
    );
    assert_eq!(
        not_allowed("19 01 3d"),
        ("name", 1, Constraint::EqualsInName)
    );
    assert_eq!(
        not_allowed("01 00 01 41 04 00"),
        ("flags", 4, Constraint::UndefinedOpenFlags)
    );
    assert_eq!(
        not_allowed("01 00 01 41 03 00"),
        ("flags", 4, Constraint::ReservedAccessMode)
    );
    assert_eq!(not_allowed("16 00"), ("cpus", 1, Constraint::EmptyCpuMask));
    assert_eq!(
        not_allowed("14 07 05 04"),
        ("soft", 2, Constraint::SoftLimitAboveHard)
    );
    assert_eq!(
        not_allowed("0f 8002"),
        ("signals", 1, Constraint::UnignorableSignal)
    );
    assert_eq!(
        not_allowed("0f 808010"),
        ("signals", 1, Constraint::UnignorableSignal)
    );
}

#[test]
fn the_error_says_which_op_which_byte_and_why() {
    let error = fault("05 00 01 00 0c 2f6465762f6e756c6c 02 00");
    assert_eq!(
        error.to_string(),
        "op 1 at byte 2 (open): operand path at byte 4: \
         string of 12 bytes is longer than the 11 bytes left"
    );
    assert_eq!(
        fault("06 63").to_string(),
        "op 1 at byte 1: unknown opcode 99"
    );
}

#[test]
fn decoding_stops_after_the_first_error() {
    let bytes = hex("06 63 06");
    let items: std::vec::Vec<_> = decode(&bytes).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok() && items[1].is_err());
}
