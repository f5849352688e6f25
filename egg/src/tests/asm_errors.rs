//! Assembler errors: each kind, with its line and column.

use crate::{assemble, AsmErrorKind, Constraint, ErrorKind, OperandKind};

/// (line, column, kind) of the error assembling `text`.
fn fault(text: &str) -> (usize, usize, AsmErrorKind) {
    let error = assemble(text).expect_err(text);
    (error.line, error.column, error.kind)
}

#[test]
fn unknown_or_missing_mnemonic() {
    let unknown = AsmErrorKind::UnknownMnemonic("fork".into());
    assert_eq!(fault("setsid\n  fork"), (2, 3, unknown));
    assert_eq!(fault("\"x\""), (1, 1, AsmErrorKind::ExpectedMnemonic));
}

#[test]
fn missing_and_extra_operands() {
    let missing = AsmErrorKind::MissingOperand {
        name: "to",
        kind: OperandKind::Fd,
    };
    assert_eq!(fault("dup2 0"), (1, 7, missing));
    assert_eq!(fault("setsid 1"), (1, 8, AsmErrorKind::ExtraOperand));
    assert_eq!(fault("close 1 2 # two"), (1, 9, AsmErrorKind::ExtraOperand));
}

#[test]
fn numbers_and_strings_in_the_wrong_place() {
    assert_eq!(fault("close \"1\""), (1, 7, AsmErrorKind::ExpectedNumber));
    assert_eq!(
        fault("setgroups 1 \"2\""),
        (1, 13, AsmErrorKind::ExpectedNumber)
    );
    assert_eq!(fault("chdir /tmp"), (1, 7, AsmErrorKind::ExpectedString));
}

#[test]
fn bad_numbers_and_names() {
    assert_eq!(
        fault("close x1"),
        (1, 7, AsmErrorKind::BadNumber("x1".into()))
    );
    assert_eq!(
        fault("close 0x"),
        (1, 7, AsmErrorKind::BadNumber("0x".into()))
    );
    assert_eq!(
        fault("close -1"),
        (1, 7, AsmErrorKind::BadNumber("-1".into()))
    );
    assert_eq!(
        fault("close +1"),
        (1, 7, AsmErrorKind::BadNumber("+1".into()))
    );
    let unknown = |name: &str, kind| AsmErrorKind::UnknownName {
        name: name.into(),
        kind,
    };
    // The bad part of a flag word, at its own column.
    assert_eq!(
        fault("open 0 \"f\" O_RDWR|O_BOGUS 0"),
        (1, 19, unknown("O_BOGUS", OperandKind::OpenFlags))
    );
    assert_eq!(
        fault("open 0 \"f\" O_RDWR|1x 0"),
        (1, 19, AsmErrorKind::BadNumber("1x".into()))
    );
    assert_eq!(
        fault("sigignore SIG0").2,
        unknown("SIG0", OperandKind::SignalSet)
    );
    assert_eq!(
        fault("sigignore SIG65").2,
        unknown("SIG65", OperandKind::SignalSet)
    );
    assert_eq!(
        fault("cap 0 0 READ| 0").2,
        AsmErrorKind::BadNumber("READ|".into())
    );
    assert_eq!(
        fault("close 18446744073709551616"),
        (1, 7, AsmErrorKind::NumberOverflow)
    );
}

#[test]
fn messages_suggest_the_nearest_mnemonic_or_name() {
    let message = |text: &str| assemble(text).unwrap_err().to_string();
    assert_eq!(
        message("opne 0 \"f\" O_RDWR 0"),
        "line 1, column 1: unknown mnemonic `opne` (did you mean `open`?)"
    );
    assert_eq!(
        message("fork"),
        "line 1, column 1: unknown mnemonic `fork` (`cargo xtask egg ops` lists them)"
    );
    assert!(message("open 0 \"f\" O_RDWR|O_CREATE 0")
        .ends_with("column 19: `O_CREATE` is not an open_flags name (did you mean `O_CREAT`?)"));
    assert!(message("cap 0 0 READ|BOGUS 0")
        .ends_with("`BOGUS` is not a rights name (READ, WRITE, GRANT, GRANT_REPLY)"));
    assert!(message("sigignore SIGXYZZY")
        .ends_with("`SIGXYZZY` is not a signal_set name (SIGHUP .. SIGSYS, or SIG1 .. SIG64)"));
}

#[test]
fn bad_strings() {
    assert_eq!(
        fault("chdir \"/tmp"),
        (1, 12, AsmErrorKind::UnterminatedString)
    );
    assert_eq!(fault("chdir \"a\\qb\""), (1, 9, AsmErrorKind::BadEscape));
    assert_eq!(fault("chdir \"a\\x4\""), (1, 9, AsmErrorKind::BadEscape));
    assert_eq!(fault("chdir \"a\\x00\""), (1, 9, AsmErrorKind::NulInString));
    assert_eq!(fault("chdir \"a\0\""), (1, 9, AsmErrorKind::NulInString));
    assert_eq!(
        fault("chdir \"a\"b"),
        (1, 10, AsmErrorKind::JunkAfterString)
    );
}

#[test]
fn the_validator_s_verdict_points_at_the_operand() {
    let too_large = AsmErrorKind::Invalid(ErrorKind::NumberTooLarge {
        max: i32::MAX as u64,
    });
    assert_eq!(fault("setsid; dup2 0 0x80000000"), (1, 16, too_large));
    let reserved =
        AsmErrorKind::Invalid(ErrorKind::ValueNotAllowed(Constraint::ReservedAccessMode));
    assert_eq!(fault("open 0 \"f\" O_WRONLY|O_RDWR 0"), (1, 12, reserved));
    let soft = AsmErrorKind::Invalid(ErrorKind::ValueNotAllowed(Constraint::SoftLimitAboveHard));
    assert_eq!(fault("setrlimit RLIMIT_CPU 10 5"), (1, 22, soft));
    let empty = AsmErrorKind::Invalid(ErrorKind::ValueNotAllowed(Constraint::EmptyString));
    assert_eq!(fault("# comment\nchdir \"\""), (2, 7, empty));
    let ids = AsmErrorKind::Invalid(ErrorKind::NumberTooLarge {
        max: u32::MAX.into(),
    });
    assert_eq!(fault("setgroups 1 4294967296"), (1, 13, ids));
}

#[test]
fn errors_read_as_line_column_message() {
    let error = assemble("setsid\ndup2 0").unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 2, column 7: missing operand `to` (fd)"
    );
}

#[test]
fn comments_and_separators_do_not_split_strings() {
    let program = assemble("setname \"a # b; c\" # real comment; not an op").unwrap();
    assert_eq!(
        crate::disassemble(&program).unwrap(),
        "setname \"a # b; c\"\n"
    );
    // Columns count characters, not bytes.
    let error = assemble("setname \"é\" x").unwrap_err();
    assert_eq!((error.column, error.kind), (13, AsmErrorKind::ExtraOperand));
}
