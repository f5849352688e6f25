//! Property tests: valid programs survive encode → decode → encode and text round trips;
//! arbitrary bytes and text never panic, and the decoder, validator and disassembler agree.

use egg::{
    assemble, decode, disassemble, validate, Egg, Opcode, OpenFlags, OperandKind, OperandValue,
    Shape, SignalSet, MAX_GROUPS,
};
use proptest::prelude::*;

/// An operand value as the test generates it, independent of the crate's types.
#[derive(Clone, Debug)]
enum Value {
    Number(u64),
    Bytes(Vec<u8>),
    Ids(Vec<u32>),
}

/// Shortest-form ULEB128, written here independently of the crate.
fn uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn encode(program: &[(Opcode, Vec<Value>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (opcode, values) in program {
        uleb(&mut out, opcode.number());
        for value in values {
            match value {
                Value::Number(number) => uleb(&mut out, *number),
                Value::Bytes(bytes) => {
                    uleb(&mut out, bytes.len() as u64);
                    out.extend_from_slice(bytes);
                }
                Value::Ids(ids) => {
                    uleb(&mut out, ids.len() as u64);
                    ids.iter().for_each(|&id| uleb(&mut out, id.into()));
                }
            }
        }
    }
    out
}

fn number_in(max: u64) -> BoxedStrategy<u64> {
    prop_oneof![Just(0), Just(max), 0..=max.min(300), 0..=max].boxed()
}

fn bytes(min: usize, allow_equals: bool) -> BoxedStrategy<Vec<u8>> {
    let byte = (1u8..=255).prop_map(move |b| if !allow_equals && b == b'=' { b'_' } else { b });
    prop_oneof![
        4 => proptest::collection::vec(byte.clone(), min..12),
        1 => proptest::collection::vec(byte, min.max(120)..300),
    ]
    .boxed()
}

/// A valid value of `kind`.
fn value(kind: OperandKind) -> BoxedStrategy<Value> {
    match kind {
        OperandKind::OpenFlags => {
            let named = u64::from(OpenFlags::DEFINED & !OpenFlags::ACCESS_MODE);
            (0u64..3, any::<u64>())
                .prop_map(move |(access, bits)| Value::Number(access | (bits & named)))
                .boxed()
        }
        OperandKind::CpuMask => prop_oneof![1u64..=8, 1..=u64::MAX]
            .prop_map(Value::Number)
            .boxed(),
        OperandKind::Path => bytes(1, true).prop_map(Value::Bytes).boxed(),
        OperandKind::EnvName => bytes(1, false).prop_map(Value::Bytes).boxed(),
        OperandKind::Name | OperandKind::EnvValue => bytes(0, true).prop_map(Value::Bytes).boxed(),
        OperandKind::IdList => proptest::collection::vec(any::<u32>(), 0..8)
            .prop_map(Value::Ids)
            .boxed(),
        kind => match kind.shape() {
            Shape::Number { max } => number_in(max).prop_map(Value::Number).boxed(),
            Shape::String | Shape::IdList => unreachable!("handled above"),
        },
    }
}

/// A valid op: any opcode, valid operands, with the rules that span operands applied.
fn op() -> impl Strategy<Value = (Opcode, Vec<Value>)> {
    proptest::sample::select(Opcode::ALL).prop_flat_map(|opcode| {
        let values: Vec<_> = opcode.operands().iter().map(|o| value(o.kind)).collect();
        values.prop_map(move |mut values| {
            match (opcode, values.as_mut_slice()) {
                (Opcode::Setrlimit, [_, Value::Number(soft), Value::Number(hard)]) => {
                    let (low, high) = (*soft.min(hard), *soft.max(hard));
                    (*soft, *hard) = (low, high);
                }
                (Opcode::Sigignore, [Value::Number(set)]) => {
                    *set &=
                        !(SignalSet::of(SignalSet::SIGKILL).0 | SignalSet::of(SignalSet::SIGSTOP).0)
                }
                _ => {}
            }
            (opcode, values)
        })
    })
}

fn program() -> impl Strategy<Value = Vec<(Opcode, Vec<Value>)>> {
    proptest::collection::vec(op(), 0..16)
}

fn same(decoded: OperandValue<'_>, generated: &Value) -> bool {
    match (decoded, generated) {
        (OperandValue::Number(a), Value::Number(b)) => a == *b,
        (OperandValue::String(a), Value::Bytes(b)) => a.as_bytes() == b.as_slice(),
        (OperandValue::IdList(a), Value::Ids(b)) => a.iter().eq(b.iter().copied()),
        _ => false,
    }
}

/// Everything that reads bytes agrees, and valid programs round-trip through the text form.
fn check_agreement(bytes: &[u8]) -> Result<(), TestCaseError> {
    let items: Vec<_> = decode(bytes).collect();
    let first_error = items.iter().find_map(|item| item.as_ref().err()).copied();
    match validate(bytes) {
        Ok(count) => {
            prop_assert_eq!(first_error, None);
            prop_assert_eq!(items.len(), count);
            let text = disassemble(bytes).expect("valid programs disassemble");
            prop_assert_eq!(assemble(&text).expect("disassembly assembles"), bytes);
            let mut egg = Egg::new();
            for op in items.into_iter().flatten() {
                egg = egg.op(op);
            }
            prop_assert_eq!(egg.build().expect("re-encodes"), bytes);
        }
        Err(error) => {
            prop_assert_eq!(first_error, Some(error));
            prop_assert!(matches!(items.last(), Some(Err(_))));
            prop_assert_eq!(items.len(), error.op_index + 1);
            prop_assert!(error.offset <= bytes.len() && error.op_offset <= error.offset);
            prop_assert_eq!(disassemble(bytes), Err(error));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_then_decode_gives_the_program_back(program in program()) {
        let bytes = encode(&program);
        prop_assert_eq!(validate(&bytes), Ok(program.len()));
        let ops: Vec<_> = decode(&bytes).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(ops.len(), program.len());
        for (op, (opcode, values)) in ops.iter().zip(&program) {
            prop_assert_eq!(op.opcode(), *opcode);
            let operands: Vec<_> = op.operands().collect();
            prop_assert_eq!(operands.len(), values.len());
            for ((_, decoded), generated) in operands.into_iter().zip(values) {
                prop_assert!(same(decoded, generated), "{:?} vs {:?}", decoded, generated);
            }
        }
        check_agreement(&bytes)?;
    }

    #[test]
    fn random_bytes_never_panic_and_readers_agree(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        check_agreement(&bytes)?;
    }

    #[test]
    fn random_bytes_from_the_opcode_range_never_panic(
        bytes in proptest::collection::vec(prop_oneof![0u8..=30, 0x7fu8..=0x81, Just(0xff)], 0..64)
    ) {
        check_agreement(&bytes)?;
    }

    #[test]
    fn mutated_programs_never_panic_and_readers_agree(
        program in program(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = encode(&program);
        for (at, byte, how) in edits {
            let len = bytes.len();
            match how {
                0 if len > 0 => bytes[at.index(len)] = byte,
                1 => bytes.insert(at.index(len + 1), byte),
                _ if len > 0 => { bytes.remove(at.index(len)); }
                _ => bytes.push(byte),
            }
        }
        check_agreement(&bytes)?;
    }

    #[test]
    fn truncating_a_valid_program_is_caught_or_ends_on_an_op_boundary(program in program(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&program);
        let cut = cut.index(bytes.len() + 1);
        check_agreement(&bytes[..cut])?;
    }

    #[test]
    fn the_assembler_only_emits_valid_programs(text in "[a-z_0-9 \"|;#xOSIGRLM\\\\\n]{0,80}") {
        if let Ok(bytes) = assemble(&text) {
            prop_assert!(validate(&bytes).is_ok());
        }
    }

    #[test]
    fn disassembly_of_valid_programs_assembles_back(program in program()) {
        let bytes = encode(&program);
        let text = disassemble(&bytes).unwrap();
        prop_assert_eq!(text.lines().count(), program.len());
        prop_assert_eq!(assemble(&text).unwrap(), bytes);
    }
}

#[test]
fn group_lists_at_the_limit_are_valid_and_one_more_is_not() {
    let ids: Vec<u32> = (0..MAX_GROUPS as u32).collect();
    let program = Egg::new().setgroups(&ids).build().unwrap();
    assert_eq!(validate(&program), Ok(1));
    let ids: Vec<u32> = (0..=MAX_GROUPS as u32).collect();
    assert!(Egg::new().setgroups(&ids).build().is_err());
}
