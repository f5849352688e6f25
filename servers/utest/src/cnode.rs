//! CNode invocations: copy, mint, move, mutate, delete, revoke; slot paths.
//!
//! Arguments: `copy(dest_index 0, dest_depth 1, src_index 2, src_depth 3, rights 4)`,
//! `mint(.., rights 4, badge 5)`, `move(0..=3)`, `mutate(0..=3, badge 4)`,
//! `delete(index 0, depth 1)`, `revoke(index 0, depth 1)`.

use crate::check::{Fail, TestResult, OUT_OF_RANGE, WRONG_INVOKED};
use crate::{ensure, expect_any, expect_err, fail, ok, Ctx, Test, ROOT};
use libsys::abi::Error;
use libsys::bootinfo::{SLOT_IRQ_CONTROL, SLOT_TCB};
use libsys::cap::{CNode, Cap, Endpoint, Frame, Notification, PageTable, SlotPath, INVOKED_CAP};
use libsys::object::{CNodeGuard, CapKind, ObjectType, Rights};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    copy_makes_an_equal_cap,
    copy_masks_rights_and_never_adds_them,
    copy_refuses_undefined_rights_bits,
    copy_from_an_empty_slot_fails,
    copy_to_an_occupied_slot_fails,
    copy_checks_depths_and_guards,
    control_caps_can_be_moved_but_not_copied,
    untyped_with_children_cannot_be_copied,
    copying_an_untyped_fills_the_original,
    unmapped_page_tables_cannot_be_copied,
    mint_sets_a_badge_once,
    mint_badges_only_endpoints_and_notifications,
    mint_sets_a_cnode_guard_that_fits,
    move_moves_and_checks_both_slots,
    mutate_sets_a_guard_and_refuses_badges,
    delete_empties_a_slot,
    revoke_deletes_derived_caps_only,
    two_level_paths_reach_into_another_cnode,
    cnode_invocations_need_a_cnode,
];

/// `Identify` of a slot that must hold a cap.
fn id(slot: u64) -> Result<libsys::cap::Identity, Fail> {
    Ok(ok!(Cap::<Frame>::from_cptr(slot).identify()))
}

/// Signals `via` and returns what `notification` then holds (0 if nothing).
fn signal_bits(via: Cap<Notification>, notification: Cap<Notification>) -> Result<u64, Fail> {
    ok!(via.signal());
    match notification.poll() {
        Ok(bits) => Ok(bits),
        Err(e) if e.error == Error::WouldBlock => Ok(0),
        Err(e) => Err(fail!("poll: {e}")),
    }
}

fn copy_makes_an_equal_cap(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let badged = ctx.mint(n, Rights::ALL, 0x5)?;
    let dest = ctx.slot()?;
    ok!(ROOT.copy(SlotPath::at(dest), badged.slot(), Rights::ALL));
    let copy: Cap<Notification> = Cap::from_cptr(dest);
    ensure!(
        signal_bits(copy, n)? == 0x5,
        "the copy lost the badge or the right to signal"
    );
    // Copies of other kinds: a TCB, a frame, a CNode.
    for src in [SLOT_TCB, ctx.make::<Frame>()?.cptr(), ctx.cnode(2)?.cptr()] {
        let dest = ctx.slot()?;
        ok!(ROOT.copy(SlotPath::at(dest), SlotPath::at(src), Rights::ALL));
        ensure!(id(dest)? == id(src)?, "copy of slot {src} differs");
    }
    Ok(())
}

fn copy_masks_rights_and_never_adds_them(ctx: &mut Ctx) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    let (read, again, none) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    ok!(ROOT.copy(SlotPath::at(read), frame.slot(), Rights::READ));
    ensure!(
        id(read)?.rights == Rights::READ.bits(),
        "masked rights {:#x}",
        id(read)?.rights
    );
    ok!(ROOT.copy(SlotPath::at(again), SlotPath::at(read), Rights::ALL));
    ensure!(
        id(again)?.rights == Rights::READ.bits(),
        "rights grew: {:#x}",
        id(again)?.rights
    );
    ok!(ROOT.copy(SlotPath::at(none), frame.slot(), Rights::NONE));
    ensure!(
        id(none)?.rights == 0,
        "rightless copy has {:#x}",
        id(none)?.rights
    );
    // A notification copied with READ only can wait but not signal.
    let n: Cap<Notification> = ctx.make()?;
    let reader = ctx.mint(n, Rights::READ, 0)?;
    expect_err!(reader.signal(), Error::InsufficientRights, INVOKED_CAP);
    expect_err!(reader.poll(), Error::WouldBlock, INVOKED_CAP);
    Ok(())
}

fn copy_refuses_undefined_rights_bits(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let dest = ctx.slot()?;
    for bits in [0x10, 0xff, u64::MAX] {
        let result = ROOT.copy_raw(SlotPath::at(dest), endpoint.slot(), bits);
        expect_any!(result, OUT_OF_RANGE, 4);
    }
    ctx.expect_empty(dest)
}

fn copy_from_an_empty_slot_fails(ctx: &mut Ctx) -> TestResult {
    let (src, dest) = (ctx.slot()?, ctx.slot()?);
    let result = ROOT.copy(SlotPath::at(dest), SlotPath::at(src), Rights::ALL);
    expect_err!(result, Error::FailedLookup, 2);
    ctx.expect_empty(dest)
}

fn copy_to_an_occupied_slot_fails(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    let badged = ctx.mint(n, Rights::ALL, 0x9)?;
    let result = ROOT.copy(badged.slot(), endpoint.slot(), Rights::ALL);
    expect_err!(result, Error::DeleteFirst, 0);
    ensure!(
        signal_bits(badged, n)? == 0x9,
        "the occupied slot was overwritten"
    );
    let result = ROOT.copy(endpoint.slot(), endpoint.slot(), Rights::ALL);
    expect_err!(result, Error::DeleteFirst, 0);
    Ok(())
}

fn copy_checks_depths_and_guards(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let dest = ctx.slot()?;
    let src = endpoint.slot();
    // The depth is the bad argument (1 for the destination, 3 for the source).
    for depth in [0, 65, u64::MAX] {
        let bad = SlotPath { index: dest, depth };
        expect_err!(ROOT.copy(bad, src, Rights::ALL), Error::RangeError, 1);
        let bad = SlotPath {
            index: endpoint.cptr(),
            depth,
        };
        expect_err!(
            ROOT.copy(SlotPath::at(dest), bad, Rights::ALL),
            Error::RangeError,
            3
        );
    }
    // The root CNode is 12 bits behind a 52-bit guard of zeros: any other depth, or a
    // non-zero guard, does not resolve.
    for path in [
        SlotPath {
            index: dest,
            depth: 12,
        },
        SlotPath {
            index: dest,
            depth: 63,
        },
        SlotPath {
            index: dest | 1 << 40,
            depth: 64,
        },
        SlotPath {
            index: dest | 1 << 63,
            depth: 64,
        },
    ] {
        expect_err!(ROOT.copy(path, src, Rights::ALL), Error::FailedLookup, 0);
        expect_err!(
            ROOT.copy(SlotPath::at(dest), path, Rights::ALL),
            Error::FailedLookup,
            2
        );
    }
    ctx.expect_empty(dest)
}

fn control_caps_can_be_moved_but_not_copied(ctx: &mut Ctx) -> TestResult {
    let dest = ctx.slot()?;
    let result = ROOT.copy(
        SlotPath::at(dest),
        SlotPath::at(SLOT_IRQ_CONTROL),
        Rights::ALL,
    );
    expect_err!(result, Error::IllegalOperation, 2);
    let result = ROOT.mint(
        SlotPath::at(dest),
        SlotPath::at(SLOT_IRQ_CONTROL),
        Rights::ALL,
        0,
    );
    expect_err!(result, Error::IllegalOperation, 2);
    ok!(ROOT.move_cap(SlotPath::at(dest), SlotPath::at(SLOT_IRQ_CONTROL)));
    let moved = id(dest)?;
    let back = ROOT.move_cap(SlotPath::at(SLOT_IRQ_CONTROL), SlotPath::at(dest));
    ensure!(
        moved.kind == CapKind::IrqControl as u64,
        "moved cap is {}",
        moved.kind
    );
    ok!(back);
    ensure!(
        id(SLOT_IRQ_CONTROL)?.kind == CapKind::IrqControl as u64,
        "not moved back"
    );
    ctx.expect_empty(dest)
}

fn untyped_with_children_cannot_be_copied(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(12)?;
    let (child, dest) = (ctx.slot()?, ctx.slot()?);
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, child, 1));
    let result = ROOT.copy(SlotPath::at(dest), untyped.slot(), Rights::ALL);
    expect_err!(result, Error::RevokeFirst, 2);
    ok!(ROOT.delete(SlotPath::at(child)));
    ok!(ROOT.copy(SlotPath::at(dest), untyped.slot(), Rights::ALL));
    Ok(())
}

fn copying_an_untyped_fills_the_original(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(12)?;
    let (copy, a) = (ctx.slot()?, ctx.slot()?);
    ok!(ROOT.copy(SlotPath::at(copy), untyped.slot(), Rights::ALL));
    // Only the copy may hand out the memory now.
    let result = untyped.retype(ObjectType::Endpoint, 0, ROOT, a, 1);
    expect_err!(result, Error::NotEnoughMemory, INVOKED_CAP);
    let copy: Cap<libsys::cap::Untyped> = Cap::from_cptr(copy);
    ok!(copy.retype(ObjectType::Frame4K, 0, ROOT, a, 1));
    Ok(())
}

fn unmapped_page_tables_cannot_be_copied(ctx: &mut Ctx) -> TestResult {
    let table: Cap<PageTable> = ctx.make()?;
    let dest = ctx.slot()?;
    let result = ROOT.copy(SlotPath::at(dest), table.slot(), Rights::ALL);
    expect_err!(result, Error::IllegalOperation, 2);
    ctx.expect_empty(dest)
}

fn mint_sets_a_badge_once(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let (badged, again, kept, max) = (ctx.slot()?, ctx.slot()?, ctx.slot()?, ctx.slot()?);
    ok!(ROOT.mint(SlotPath::at(badged), n.slot(), Rights::WRITE, 0x42));
    ensure!(
        signal_bits(Cap::from_cptr(badged), n)? == 0x42,
        "minted badge not delivered"
    );
    let result = ROOT.mint(SlotPath::at(again), SlotPath::at(badged), Rights::ALL, 0x43);
    expect_err!(result, Error::InvalidArgument, 5);
    ok!(ROOT.mint(SlotPath::at(kept), SlotPath::at(badged), Rights::ALL, 0));
    ensure!(
        signal_bits(Cap::from_cptr(kept), n)? == 0x42,
        "a mint with 0 lost the badge"
    );
    // Minted WRITE only: the rights of the mint are the intersection.
    expect_err!(
        Cap::<Notification>::from_cptr(kept).poll(),
        Error::InsufficientRights,
        INVOKED_CAP
    );
    ok!(ROOT.mint(SlotPath::at(max), n.slot(), Rights::ALL, u64::MAX));
    ensure!(
        signal_bits(Cap::from_cptr(max), n)? == u64::MAX,
        "all-ones badge"
    );
    // Endpoints take a badge once too.
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let e1 = ctx.mint(endpoint, Rights::ALL, 7)?;
    let e2 = ctx.slot()?;
    let result = ROOT.mint(SlotPath::at(e2), e1.slot(), Rights::ALL, 8);
    expect_err!(result, Error::InvalidArgument, 5);
    Ok(())
}

fn mint_badges_only_endpoints_and_notifications(ctx: &mut Ctx) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    let dest = ctx.slot()?;
    let result = ROOT.mint(SlotPath::at(dest), frame.slot(), Rights::ALL, 1);
    expect_err!(result, Error::InvalidArgument, 5);
    let result = ROOT.mint(SlotPath::at(dest), SlotPath::at(SLOT_TCB), Rights::ALL, 9);
    expect_err!(result, Error::InvalidArgument, 5);
    ctx.expect_empty(dest)?;
    ok!(ROOT.mint(SlotPath::at(dest), frame.slot(), Rights::ALL, 0));
    ensure!(id(dest)?.badge == 0, "frame got a badge");
    Ok(())
}

fn mint_sets_a_cnode_guard_that_fits(ctx: &mut Ctx) -> TestResult {
    let cnode = ctx.cnode(4)?;
    let (guarded, bad) = (ctx.slot()?, ctx.slot()?);
    let guard = CNodeGuard {
        guard: 0,
        guard_bits: 60,
    };
    ok!(ROOT.mint_guard(SlotPath::at(guarded), cnode.slot(), guard));
    // 4 radix bits + 61 guard bits > 64; a guard value wider than its size.
    for guard in [
        CNodeGuard {
            guard: 0,
            guard_bits: 61,
        },
        CNodeGuard {
            guard: 0b100,
            guard_bits: 2,
        },
    ] {
        let result = ROOT.mint_guard(SlotPath::at(bad), cnode.slot(), guard);
        expect_err!(result, Error::RangeError, 5);
    }
    // The guarded cap resolves full 64-bit cptrs: a copy within it names its slot 3.
    let guarded: Cap<CNode> = Cap::from_cptr(guarded);
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let result = guarded.copy(SlotPath::at(3), endpoint.slot(), Rights::ALL);
    // The source is resolved in the guarded CNode too, where it does not exist.
    expect_err!(result, Error::FailedLookup, 2);
    Ok(())
}

fn move_moves_and_checks_both_slots(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let badged = ctx.mint(n, Rights::ALL, 0x11)?;
    let (dest, other) = (ctx.slot()?, ctx.slot()?);
    ok!(ROOT.move_cap(SlotPath::at(dest), badged.slot()));
    ctx.expect_empty(badged.cptr())?;
    ensure!(
        signal_bits(Cap::from_cptr(dest), n)? == 0x11,
        "the moved cap changed"
    );
    let result = ROOT.move_cap(SlotPath::at(other), badged.slot());
    expect_err!(result, Error::FailedLookup, 2);
    let result = ROOT.move_cap(SlotPath::at(SLOT_TCB), SlotPath::at(dest));
    expect_err!(result, Error::DeleteFirst, 0);
    let result = ROOT.move_cap(
        SlotPath {
            index: other,
            depth: 0,
        },
        SlotPath::at(dest),
    );
    expect_err!(result, Error::RangeError, 1);
    // Moving an untyped with children keeps the children (they follow their parent).
    let untyped = ctx.untyped(12)?;
    let (child, moved) = (ctx.slot()?, ctx.slot()?);
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, child, 1));
    ok!(ROOT.move_cap(SlotPath::at(moved), untyped.slot()));
    ok!(ROOT.revoke(SlotPath::at(moved)));
    ctx.expect_empty(child)
}

fn mutate_sets_a_guard_and_refuses_badges(ctx: &mut Ctx) -> TestResult {
    let cnode = ctx.cnode(4)?;
    let dest = ctx.slot()?;
    let guard = CNodeGuard {
        guard: 5,
        guard_bits: 3,
    };
    ok!(ROOT.mutate(SlotPath::at(dest), cnode.slot(), guard.to_word()));
    ctx.expect_empty(cnode.cptr())?;
    ensure!(
        id(dest)?.kind == CapKind::CNode as u64,
        "mutated CNode lost"
    );
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let other = ctx.slot()?;
    let result = ROOT.mutate(SlotPath::at(other), endpoint.slot(), 7);
    expect_err!(result, Error::InvalidArgument, 4);
    // Mutate with data 0 is a plain move.
    ok!(ROOT.mutate(SlotPath::at(other), endpoint.slot(), 0));
    ensure!(
        ctx.kind(other)? == CapKind::Endpoint,
        "mutated endpoint lost"
    );
    let result = ROOT.mutate(SlotPath::at(SLOT_TCB), SlotPath::at(other), 0);
    expect_err!(result, Error::DeleteFirst, 0);
    let guard = CNodeGuard {
        guard: 0,
        guard_bits: 61,
    };
    let result = ROOT.mutate(
        SlotPath::at(cnode.cptr()),
        SlotPath::at(dest),
        guard.to_word(),
    );
    expect_err!(result, Error::RangeError, 4);
    Ok(())
}

fn delete_empties_a_slot(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    ok!(ROOT.delete(endpoint.slot()));
    ctx.expect_empty(endpoint.cptr())?;
    // Deleting an empty slot succeeds.
    ok!(ROOT.delete(endpoint.slot()));
    expect_err!(
        ROOT.delete(SlotPath { index: 9, depth: 0 }),
        Error::RangeError,
        1
    );
    expect_err!(
        ROOT.delete(SlotPath {
            index: 9,
            depth: 65
        }),
        Error::RangeError,
        1
    );
    expect_err!(
        ROOT.delete(SlotPath {
            index: 1 << 45,
            depth: 64
        }),
        Error::FailedLookup,
        0
    );
    Ok(())
}

fn revoke_deletes_derived_caps_only(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let a = ctx.mint(n, Rights::ALL, 1)?;
    let b = ctx.mint(n, Rights::READ, 0)?;
    let c = ctx.mint(b, Rights::READ, 3)?;
    let unrelated: Cap<Notification> = ctx.make()?;
    ok!(ROOT.revoke(n.slot()));
    for slot in [a.cptr(), b.cptr(), c.cptr()] {
        ctx.expect_empty(slot)?;
    }
    ensure!(
        ctx.kind(n.cptr())? == CapKind::Notification,
        "the revoked cap went too"
    );
    ensure!(
        ctx.kind(unrelated.cptr())? == CapKind::Notification,
        "an unrelated cap went"
    );
    ok!(n.signal());
    // Revoking a cap without children, or an empty slot, succeeds.
    ok!(ROOT.revoke(n.slot()));
    ok!(ROOT.revoke(a.slot()));
    expect_err!(
        ROOT.revoke(SlotPath {
            index: 1 << 45,
            depth: 64
        }),
        Error::FailedLookup,
        0
    );
    expect_err!(
        ROOT.revoke(SlotPath { index: 1, depth: 0 }),
        Error::RangeError,
        1
    );
    Ok(())
}

fn two_level_paths_reach_into_another_cnode(ctx: &mut Ctx) -> TestResult {
    let radix = ctx.info.cnode_radix;
    let unguarded = ctx.loader.root_unguarded;
    let inner = ctx.cnode(4)?;
    let n: Cap<Notification> = ctx.make()?;
    let (out, miss) = (ctx.slot()?, ctx.slot()?);
    let in_inner = |slot: u64| SlotPath {
        index: (inner.cptr() << 4) | slot,
        depth: radix + 4,
    };
    let in_root = |slot: u64| SlotPath {
        index: slot,
        depth: radix,
    };
    ok!(unguarded.mint(in_inner(3), in_root(n.cptr()), Rights::ALL, 0x33));
    // Invoking the inner CNode directly names its slots with depth 4.
    let at = |slot: u64| SlotPath {
        index: slot,
        depth: 4,
    };
    expect_err!(inner.copy(at(3), at(5), Rights::ALL), Error::DeleteFirst, 0);
    expect_err!(
        inner.copy(at(6), at(5), Rights::ALL),
        Error::FailedLookup,
        2
    );
    ok!(unguarded.copy(in_root(out), in_inner(3), Rights::ALL));
    ensure!(
        signal_bits(Cap::from_cptr(out), n)? == 0x33,
        "copied back without the badge"
    );
    // A path through a slot that holds no CNode, or runs past the inner CNode.
    let through = SlotPath {
        index: (n.cptr() << 4) | 3,
        depth: radix + 4,
    };
    expect_err!(
        unguarded.copy(in_root(miss), through, Rights::ALL),
        Error::FailedLookup,
        2
    );
    let too_deep = SlotPath {
        index: ((inner.cptr() << 4) | 3) << 2,
        depth: radix + 6,
    };
    expect_err!(
        unguarded.copy(in_root(miss), too_deep, Rights::ALL),
        Error::FailedLookup,
        2
    );
    ok!(inner.delete(at(3)));
    expect_err!(
        unguarded.copy(in_root(miss), in_inner(3), Rights::ALL),
        Error::FailedLookup,
        2
    );
    ctx.expect_empty(miss)
}

fn cnode_invocations_need_a_cnode(ctx: &mut Ctx) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    let not_cnode: Cap<CNode> = frame.cast();
    let slot = ctx.slot()?;
    let e = [
        not_cnode.copy(SlotPath::at(slot), SlotPath::at(SLOT_TCB), Rights::ALL),
        not_cnode.mint(SlotPath::at(slot), SlotPath::at(SLOT_TCB), Rights::ALL, 0),
        not_cnode.move_cap(SlotPath::at(slot), SlotPath::at(SLOT_TCB)),
        not_cnode.mutate(SlotPath::at(slot), SlotPath::at(SLOT_TCB), 0),
        not_cnode.delete(SlotPath::at(slot)),
        not_cnode.revoke(SlotPath::at(slot)),
    ];
    for result in e {
        expect_any!(result, WRONG_INVOKED, INVOKED_CAP);
    }
    ensure!(id(SLOT_TCB)?.kind == CapKind::Tcb as u64, "TCB cap moved");
    ctx.expect_empty(slot)
}
