//! `CNodeRevokeBatch` and `CNodeDeleteBatch`: up to eight revokes (deletes) in one call,
//! each pair `index 2k, depth 2k+1` (docs/syscalls.md).

use crate::check::{TestResult, OUT_OF_RANGE};
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::{Error, Label, REVOKE_BATCH_MAX};
use libsys::cap::{invoke, CNode, Cap, Endpoint, SlotPath, Untyped};
use libsys::object::{ObjectType, Rights};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    revoke_batch_revokes_each_slot_and_keeps_it,
    revoke_batch_stops_at_the_first_refusal,
    revoke_batch_refuses_empty_odd_and_long_batches,
    revoke_batch_finishes_a_long_revoke_among_others,
    delete_batch_deletes_each_slot_in_order,
];

/// An untyped of `2^bits` bytes with one endpoint made from it; returns both.
fn untyped_with_child(ctx: &mut Ctx, bits: u32) -> Result<(Cap<Untyped>, u64), crate::check::Fail> {
    let untyped = ctx.untyped(bits)?;
    let child = ctx.slot()?;
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, child, 1));
    Ok((untyped, child))
}

fn revoke_batch_revokes_each_slot_and_keeps_it(ctx: &mut Ctx) -> TestResult {
    let (first, first_child) = untyped_with_child(ctx, 12)?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let copy = ctx.mint(endpoint, Rights::ALL, 0)?;
    let badged = ctx.mint(endpoint, Rights::ALL, 7)?;
    let (second, second_child) = untyped_with_child(ctx, 12)?;
    ok!(ROOT.revoke_batch(&[first.slot(), endpoint.slot(), second.slot()]));
    for slot in [first_child, copy.cptr(), badged.cptr(), second_child] {
        ctx.expect_empty(slot)?;
    }
    // The revoked caps stay, and each untyped is whole again.
    ok!(endpoint.identify());
    for untyped in [first, second] {
        let slot = ctx.slot()?;
        ok!(untyped.retype(ObjectType::Untyped, 12, ROOT, slot, 1));
    }
    Ok(())
}

fn revoke_batch_stops_at_the_first_refusal(ctx: &mut Ctx) -> TestResult {
    let (first, first_child) = untyped_with_child(ctx, 12)?;
    let (second, second_child) = untyped_with_child(ctx, 12)?;
    let bad_depth = SlotPath {
        index: second.cptr(),
        depth: 65,
    };
    let result = ROOT.revoke_batch(&[first.slot(), bad_depth, second.slot()]);
    expect_any!(result, OUT_OF_RANGE, 3);
    ctx.expect_empty(first_child)?;
    ensure!(
        Cap::<Endpoint>::from_cptr(second_child).identify().is_ok(),
        "a revoke after the refused pair was made"
    );
    Ok(())
}

fn revoke_batch_refuses_empty_odd_and_long_batches(ctx: &mut Ctx) -> TestResult {
    let (untyped, child) = untyped_with_child(ctx, 12)?;
    let mut words = [0u64; 2 * REVOKE_BATCH_MAX + 2];
    for pair in words.chunks_mut(2) {
        pair.copy_from_slice(&[untyped.cptr(), 64]);
    }
    for length in [0, 1, 3, 2 * REVOKE_BATCH_MAX + 1, 2 * REVOKE_BATCH_MAX + 2] {
        let result = invoke(ROOT.cptr(), Label::CNodeRevokeBatch, &words[..length]);
        expect_err!(result, Error::RangeError, 0);
        ensure!(
            Cap::<Endpoint>::from_cptr(child).identify().is_ok(),
            "a refused batch of {length} words revoked something"
        );
    }
    ok!(invoke(
        ROOT.cptr(),
        Label::CNodeRevokeBatch,
        &words[..2 * REVOKE_BATCH_MAX]
    ));
    ctx.expect_empty(child)?;
    Ok(())
}

/// A revoke longer than one kernel entry's budget (384 frames and their CNode) is parked
/// and the call restarted; the batch still ends with every pair revoked.
fn revoke_batch_finishes_a_long_revoke_among_others(ctx: &mut Ctx) -> TestResult {
    let (small, small_child) = untyped_with_child(ctx, 12)?;
    let big = ctx.untyped(21)?;
    let inner = ctx.slot()?;
    ok!(big.retype(ObjectType::CNode, 9, ROOT, inner, 1));
    for (first, count) in [(0, 256), (256, 128)] {
        ok!(big.retype(
            ObjectType::Frame4K,
            0,
            Cap::<CNode>::from_cptr(inner),
            first,
            count
        ));
    }
    let (last, last_child) = untyped_with_child(ctx, 12)?;
    ok!(ROOT.revoke_batch(&[small.slot(), big.slot(), last.slot()]));
    for slot in [small_child, inner, last_child] {
        ctx.expect_empty(slot)?;
    }
    let again = ctx.slot()?;
    ok!(big.retype(ObjectType::Untyped, 21, ROOT, again, 1));
    Ok(())
}

fn delete_batch_deletes_each_slot_in_order(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let copy = ctx.mint(endpoint, Rights::ALL, 0)?;
    let badged = ctx.mint(endpoint, Rights::ALL, 9)?;
    // The last cap to a CNode holding a cap: deleting it empties the CNode too.
    let untyped = ctx.untyped(16)?;
    let inner = ctx.slot()?;
    ok!(untyped.retype(ObjectType::CNode, 4, ROOT, inner, 1));
    ok!(untyped.retype(
        ObjectType::Notification,
        0,
        Cap::<CNode>::from_cptr(inner),
        3,
        1
    ));
    let empty = ctx.slot()?;
    ok!(ROOT.delete_batch(&[
        copy.slot(),
        SlotPath::at(empty),
        SlotPath::at(inner),
        badged.slot()
    ]));
    for slot in [copy.cptr(), empty, inner, badged.cptr()] {
        ctx.expect_empty(slot)?;
    }
    // Deleting is not revoking: the original is still there.
    ok!(endpoint.identify());
    // The CNode and the notification in it are gone: the untyped can be used whole.
    let again = ctx.slot()?;
    ok!(untyped.retype(ObjectType::Untyped, 16, ROOT, again, 1));
    let bad_depth = SlotPath {
        index: endpoint.cptr(),
        depth: 65,
    };
    expect_any!(
        ROOT.delete_batch(&[endpoint.slot(), bad_depth]),
        OUT_OF_RANGE,
        3
    );
    ctx.expect_empty(endpoint.cptr())?;
    Ok(())
}
