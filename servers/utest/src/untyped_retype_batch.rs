//! `UntypedRetypeBatch`: one object of each `(type, size, dest_offset)` triple in one call
//! (docs/syscalls.md).

use crate::check::TestResult;
use crate::{ensure, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::{Error, Label, RETYPE_BATCH_MAX};
use libsys::cap::invoke;
use libsys::object::{CapKind, ObjectType};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    retype_batch_makes_each_object_in_order,
    retype_batch_stops_at_the_first_refusal,
    retype_batch_refuses_empty_ragged_and_long_batches,
];

fn retype_batch_makes_each_object_in_order(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let slots = [ctx.slot()?, ctx.slot()?, ctx.slot()?, ctx.slot()?];
    ok!(untyped.retype_batch(
        ROOT,
        &[
            (ObjectType::CNode, 4, slots[0]),
            (ObjectType::Endpoint, 0, slots[1]),
            (ObjectType::Tcb, 0, slots[2]),
            (ObjectType::Frame4K, 0, slots[3]),
        ],
    ));
    let kinds = [
        CapKind::CNode,
        CapKind::Endpoint,
        CapKind::Tcb,
        CapKind::Frame,
    ];
    for (slot, kind) in slots.into_iter().zip(kinds) {
        ensure!(ctx.kind(slot)? == kind, "slot {slot} is not a {kind:?}");
    }
    Ok(())
}

fn retype_batch_stops_at_the_first_refusal(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let (first, second, third) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    // Triple 1's type word (1 + 3) is not an object type.
    let words = [
        ROOT.cptr(),
        ObjectType::Endpoint as u64,
        0,
        first,
        99,
        0,
        second,
        ObjectType::Endpoint as u64,
        0,
        third,
    ];
    let result = invoke(untyped.cptr(), Label::UntypedRetypeBatch, &words);
    expect_err!(result, Error::InvalidArgument, 4);
    ensure!(
        ctx.kind(first)? == CapKind::Endpoint,
        "the object before was not made"
    );
    ctx.expect_empty(second)?;
    ctx.expect_empty(third)?;
    // An occupied destination: `DeleteFirst` at that triple's offset word.
    let result = untyped.retype_batch(
        ROOT,
        &[
            (ObjectType::Endpoint, 0, second),
            (ObjectType::Endpoint, 0, first),
        ],
    );
    expect_err!(result, Error::DeleteFirst, 6);
    ensure!(
        ctx.kind(second)? == CapKind::Endpoint,
        "the object before was not made"
    );
    Ok(())
}

fn retype_batch_refuses_empty_ragged_and_long_batches(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let dest = ctx.slot()?;
    let mut words = [0u64; 4 + 3 * RETYPE_BATCH_MAX];
    words[0] = ROOT.cptr();
    for triple in words[1..].chunks_mut(3) {
        triple.copy_from_slice(&[ObjectType::Endpoint as u64, 0, dest]);
    }
    for length in [
        0,
        1,
        3,
        5,
        2 + 3 * RETYPE_BATCH_MAX,
        1 + 3 * (RETYPE_BATCH_MAX + 1),
    ] {
        let result = invoke(untyped.cptr(), Label::UntypedRetypeBatch, &words[..length]);
        expect_err!(result, Error::RangeError, 0);
        ctx.expect_empty(dest)?;
    }
    Ok(())
}
