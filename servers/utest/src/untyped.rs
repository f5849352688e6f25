//! `UntypedRetype`: `retype(type, size, dest_cnode, dest_offset, count)`.

use crate::check::{TestResult, MISSING_CAP, WRONG_INVOKED};
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::Error;
use libsys::cap::{Cap, Endpoint, Frame, Notification, SlotPath, Untyped, INVOKED_CAP};
use libsys::object::{CapKind, ObjectType, MAX_RETYPE_COUNT};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    retype_makes_every_object_type,
    retype_makes_many_objects_in_one_call,
    retype_refuses_unknown_object_types,
    retype_refuses_bad_sizes,
    retype_refuses_bad_counts,
    retype_needs_a_cnode_destination,
    retype_destination_range_must_fit_the_cnode,
    retype_destination_must_be_empty,
    retype_fails_cleanly_without_memory,
    retype_aligns_objects_to_their_size,
    retype_on_something_else_than_untyped_fails,
    device_untyped_makes_only_frames,
    revoking_an_untyped_deletes_everything_made_from_it,
    untyped_memory_is_reused_after_revoke,
    nested_untyped_is_accounted_in_its_parent,
];

const ALL_TYPES: [(ObjectType, u64, CapKind); 12] = [
    // The 2 MiB frame first: it needs 2 MiB alignment.
    (ObjectType::Frame2M, 0, CapKind::Frame),
    (ObjectType::Untyped, 12, CapKind::Untyped),
    (ObjectType::Tcb, 0, CapKind::Tcb),
    (ObjectType::Endpoint, 0, CapKind::Endpoint),
    (ObjectType::Notification, 0, CapKind::Notification),
    (ObjectType::Reply, 0, CapKind::Reply),
    (ObjectType::CNode, 4, CapKind::CNode),
    (ObjectType::Frame4K, 0, CapKind::Frame),
    (ObjectType::Pml4, 0, CapKind::Pml4),
    (ObjectType::Pdpt, 0, CapKind::Pdpt),
    (ObjectType::Pd, 0, CapKind::Pd),
    (ObjectType::Pt, 0, CapKind::Pt),
];

fn retype_makes_every_object_type(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(22)?;
    for (object_type, size, kind) in ALL_TYPES {
        let slot = ctx.slot()?;
        ok!(untyped.retype(object_type, size, ROOT, slot, 1));
        let found = ctx.kind(slot)?;
        ensure!(found == kind, "{object_type:?} identifies as {found:?}");
    }
    Ok(())
}

fn retype_makes_many_objects_in_one_call(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let first = ctx.slots(8)?;
    ok!(untyped.retype(ObjectType::Notification, 0, ROOT, first, 8));
    for slot in first..first + 8 {
        let notification: Cap<Notification> = Cap::from_cptr(slot);
        expect_err!(notification.poll(), Error::WouldBlock, INVOKED_CAP);
    }
    let first = ctx.slots(MAX_RETYPE_COUNT)?;
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, first, MAX_RETYPE_COUNT));
    let last = Cap::<Endpoint>::from_cptr(first + MAX_RETYPE_COUNT - 1);
    ensure!(
        ctx.kind(last.cptr())? == CapKind::Endpoint,
        "last of 256 missing"
    );
    expect_err!(last.nb_recv(), Error::WouldBlock, INVOKED_CAP);
    Ok(())
}

fn retype_refuses_unknown_object_types(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let slot = ctx.slot()?;
    for bad in [0, 13, 0x100, u64::MAX] {
        expect_err!(
            untyped.retype_raw(bad, 0, ROOT, slot, 1),
            Error::InvalidArgument,
            0
        );
    }
    ensure!(ctx.is_empty(slot)?, "slot filled");
    Ok(())
}

fn retype_refuses_bad_sizes(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let slot = ctx.slot()?;
    for (object_type, size) in [
        (ObjectType::Untyped, 3),
        (ObjectType::Untyped, 48),
        (ObjectType::Untyped, u64::MAX),
        (ObjectType::CNode, 0),
        (ObjectType::CNode, 21),
        (ObjectType::CNode, 1 << 32),
    ] {
        expect_err!(
            untyped.retype(object_type, size, ROOT, slot, 1),
            Error::RangeError,
            1
        );
    }
    // Sizes are ignored for fixed-size objects.
    ok!(untyped.retype(ObjectType::Endpoint, u64::MAX, ROOT, slot, 1));
    Ok(())
}

fn retype_refuses_bad_counts(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let slot = ctx.slot()?;
    for count in [0, MAX_RETYPE_COUNT + 1, u64::MAX] {
        let result = untyped.retype(ObjectType::Endpoint, 0, ROOT, slot, count);
        expect_err!(result, Error::RangeError, 4);
    }
    Ok(())
}

fn retype_needs_a_cnode_destination(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let empty = ctx.slot()?;
    let slot = ctx.slot()?;
    let result = untyped.retype(ObjectType::Endpoint, 0, endpoint.cast(), 0, 1);
    expect_err!(result, Error::InvalidCapability, 2);
    let result = untyped.retype(ObjectType::Endpoint, 0, Cap::from_cptr(empty), slot, 1);
    expect_any!(result, MISSING_CAP, 2);
    let result = untyped.retype(ObjectType::Endpoint, 0, Cap::from_cptr(1 << 50), slot, 1);
    expect_any!(result, MISSING_CAP, 2);
    // A CNode other than the root works as the destination.
    let cnode = ctx.cnode(3)?;
    ok!(untyped.retype(ObjectType::Endpoint, 0, cnode, 7, 1));
    let result = untyped.retype(ObjectType::Endpoint, 0, cnode, 8, 1);
    expect_err!(result, Error::RangeError, 3);
    Ok(())
}

fn retype_destination_range_must_fit_the_cnode(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let slots = 1u64 << ctx.info.cnode_radix;
    for (offset, count) in [(slots, 1), (slots - 1, 2), (u64::MAX, 1), (u64::MAX - 1, 4)] {
        let result = untyped.retype(ObjectType::Endpoint, 0, ROOT, offset, count);
        expect_err!(result, Error::RangeError, 3);
    }
    Ok(())
}

fn retype_destination_must_be_empty(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let result = untyped.retype(ObjectType::Endpoint, 0, ROOT, libsys::bootinfo::SLOT_TCB, 1);
    expect_err!(result, Error::DeleteFirst, 3);
    // Three slots, the last occupied: nothing is created in the first two.
    let first = ctx.slots(3)?;
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, first + 2, 1));
    let result = untyped.retype(ObjectType::Notification, 0, ROOT, first, 3);
    expect_err!(result, Error::DeleteFirst, 3);
    for slot in [first, first + 1] {
        ensure!(ctx.is_empty(slot)?, "slot {slot} filled");
    }
    Ok(())
}

fn retype_fails_cleanly_without_memory(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(12)?;
    let (a, b, c) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    ok!(untyped.retype(ObjectType::Tcb, 0, ROOT, a, 1));
    ok!(untyped.retype(ObjectType::Tcb, 0, ROOT, b, 1));
    let result = untyped.retype(ObjectType::Endpoint, 0, ROOT, c, 1);
    expect_err!(result, Error::NotEnoughMemory, INVOKED_CAP);
    ensure!(ctx.is_empty(c)?, "slot filled");
    // Bigger than the whole untyped.
    let result = untyped.retype(ObjectType::Untyped, 13, ROOT, c, 1);
    expect_err!(result, Error::NotEnoughMemory, INVOKED_CAP);
    let first = ctx.slots(2)?;
    let fresh = ctx.untyped(12)?;
    let result = fresh.retype(ObjectType::Frame4K, 0, ROOT, first, 2);
    expect_err!(result, Error::NotEnoughMemory, INVOKED_CAP);
    ok!(fresh.retype(ObjectType::Frame4K, 0, ROOT, first, 1));
    Ok(())
}

fn retype_aligns_objects_to_their_size(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let (a, e, b) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, a, 1));
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, e, 1));
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, b, 1));
    let pa = ok!(Cap::<Frame>::from_cptr(a).get_address());
    let pb = ok!(Cap::<Frame>::from_cptr(b).get_address());
    ensure!(pa % 4096 == 0 && pa != 0, "frame at {pa:#x}");
    ensure!(pb == pa + 8192, "second frame at {pb:#x}, first at {pa:#x}");
    // A 64 KiB untyped is 64 KiB aligned: 16 frames fill it exactly... minus the 3 pages
    // used, so 13 more fit and a 14th does not.
    let first = ctx.slots(14)?;
    let result = untyped.retype(ObjectType::Frame4K, 0, ROOT, first, 14);
    expect_err!(result, Error::NotEnoughMemory, INVOKED_CAP);
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, first, 13));
    let last = ok!(Cap::<Frame>::from_cptr(first + 12).get_address());
    ensure!(last == pa + 15 * 4096, "last frame at {last:#x}");
    Ok(())
}

fn retype_on_something_else_than_untyped_fails(ctx: &mut Ctx) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    let slot = ctx.slot()?;
    let as_untyped: Cap<Untyped> = frame.cast();
    let result = as_untyped.retype(ObjectType::Endpoint, 0, ROOT, slot, 1);
    expect_any!(result, WRONG_INVOKED, INVOKED_CAP);
    let tcb: Cap<Untyped> = Cap::from_cptr(libsys::bootinfo::SLOT_TCB);
    expect_any!(
        tcb.retype(ObjectType::Endpoint, 0, ROOT, slot, 1),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    let empty: Cap<Untyped> = Cap::from_cptr(ctx.slot()?);
    let result = empty.retype(ObjectType::Endpoint, 0, ROOT, slot, 1);
    expect_any!(result, MISSING_CAP, INVOKED_CAP);
    Ok(())
}

fn device_untyped_makes_only_frames(ctx: &mut Ctx) -> TestResult {
    let info = ctx.info;
    let count = (info.untyped_slots.end - info.untyped_slots.start) as usize;
    let Some(index) = info.untyped[..count]
        .iter()
        .position(|d| d.is_device != 0 && d.size_bits >= 12)
    else {
        libsys::println!("utest: note: no device untyped in the boot info; device test skipped");
        return Ok(());
    };
    let device: Cap<Untyped> = Cap::from_cptr(info.untyped_slots.start + index as u64);
    let slot = ctx.slot()?;
    for object_type in [
        ObjectType::Tcb,
        ObjectType::Endpoint,
        ObjectType::CNode,
        ObjectType::Pt,
    ] {
        let result = device.retype(object_type, 4, ROOT, slot, 1);
        expect_err!(result, Error::InvalidArgument, 0);
    }
    ok!(device.retype(ObjectType::Frame4K, 0, ROOT, slot, 1));
    ok!(ROOT.revoke(device.slot()));
    ensure!(ctx.is_empty(slot)?, "device frame survived revoke");
    Ok(())
}

fn revoking_an_untyped_deletes_everything_made_from_it(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(18)?;
    let mut slots = [0u64; 8];
    let types = [
        (ObjectType::Endpoint, 0),
        (ObjectType::Tcb, 0),
        (ObjectType::CNode, 3),
        (ObjectType::Frame4K, 0),
        (ObjectType::Notification, 0),
        (ObjectType::Pml4, 0),
        (ObjectType::Untyped, 12),
        (ObjectType::Pt, 0),
    ];
    for (slot, (object_type, size)) in slots.iter_mut().zip(types) {
        *slot = ctx.slot()?;
        ok!(untyped.retype(object_type, size, ROOT, *slot, 1));
    }
    // A copy of a derived cap is removed too.
    let copy = ctx.mint(
        Cap::<Endpoint>::from_cptr(slots[0]),
        libsys::object::Rights::ALL,
        7,
    )?;
    ok!(ROOT.revoke(untyped.slot()));
    for slot in slots.iter().chain([copy.cptr()].iter()) {
        ctx.expect_empty(*slot)?;
    }
    ensure!(
        ok!(untyped.identify()).kind == CapKind::Untyped as u64,
        "untyped went too"
    );
    Ok(())
}

fn untyped_memory_is_reused_after_revoke(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let (a, b) = (ctx.slot()?, ctx.slot()?);
    for round in 0..3 {
        ok!(untyped.retype(ObjectType::Untyped, 16, ROOT, a, 1));
        let result = untyped.retype(ObjectType::Endpoint, 0, ROOT, b, 1);
        ensure!(
            matches!(result, Err(e) if e.error == Error::NotEnoughMemory),
            "round {round}: a full untyped handed out more: {result:?}"
        );
        ok!(ROOT.revoke(untyped.slot()));
    }
    // Deleting the only child also frees the memory.
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, a, 1));
    ok!(ROOT.delete(SlotPath::at(a)));
    ok!(untyped.retype(ObjectType::Untyped, 16, ROOT, a, 1));
    Ok(())
}

fn nested_untyped_is_accounted_in_its_parent(ctx: &mut Ctx) -> TestResult {
    let parent = ctx.untyped(16)?;
    let (child, grandchild, x) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    ok!(parent.retype(ObjectType::Untyped, 15, ROOT, child, 1));
    let child: Cap<Untyped> = Cap::from_cptr(child);
    ok!(child.retype(ObjectType::Untyped, 14, ROOT, grandchild, 1));
    let grandchild: Cap<Untyped> = Cap::from_cptr(grandchild);
    ok!(grandchild.retype(ObjectType::Endpoint, 0, ROOT, x, 1));
    // Revoking the top removes all three generations.
    ok!(ROOT.revoke(parent.slot()));
    for cap in [child.cptr(), grandchild.cptr(), x] {
        ctx.expect_empty(cap)?;
    }
    ok!(parent.retype(ObjectType::Untyped, 16, ROOT, child.cptr(), 1));
    Ok(())
}
