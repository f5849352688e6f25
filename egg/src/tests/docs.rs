//! docs/egg.md specifies every opcode and operand kind exactly as the table says.
//!
//! The rows are generated from the table; if this fails, paste the rows it prints.

use std::string::String;
use std::vec::Vec;

use crate::{Opcode, OperandKind, Shape};

const DOC: &str = include_str!("../../../docs/egg.md");

fn opcode_row(opcode: Opcode) -> String {
    let operands: Vec<String> = opcode
        .operands()
        .iter()
        .map(|operand| format!("`{}`: {}", operand.name, operand.kind.name()))
        .collect();
    format!(
        "| {} | `{}` | {} | {} |",
        opcode.number(),
        opcode.mnemonic(),
        if operands.is_empty() {
            "—".into()
        } else {
            operands.join(", ")
        },
        opcode.summary()
    )
}

fn kind_row(kind: OperandKind) -> String {
    let shape = match kind.shape() {
        Shape::Number { max } if max == u64::MAX => "number".into(),
        Shape::Number { max } if max > 0xffff && max.wrapping_add(1).is_power_of_two() => {
            format!("number < 2^{}", max.trailing_ones())
        }
        Shape::Number { max } => format!("number ≤ {max}"),
        Shape::String => "string".into(),
        Shape::IdList => "id list".into(),
    };
    format!("| `{}` | {} | {} |", kind.name(), shape, kind.summary())
}

#[test]
fn docs_specify_every_opcode_and_kind() {
    let missing: Vec<String> = Opcode::ALL
        .iter()
        .map(|&opcode| opcode_row(opcode))
        .chain(OperandKind::ALL.iter().map(|&kind| kind_row(kind)))
        .filter(|row| !DOC.lines().any(|line| line == row))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/egg.md lacks these rows:\n{}",
        missing.join("\n")
    );
}

#[test]
fn docs_mention_every_mnemonic_and_number() {
    for &opcode in Opcode::ALL {
        let number = format!("| {} |", opcode.number());
        let mnemonic = format!("`{}`", opcode.mnemonic());
        assert!(
            DOC.contains(&number) && DOC.contains(&mnemonic),
            "{opcode:?}"
        );
    }
}
