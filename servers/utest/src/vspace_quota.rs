//! Address spaces are paid for by their holder: a PML4 needs an ASID from an ASID pool (a
//! 4 KiB object made from untyped through ASID control) before it can be used, so the
//! number of address spaces anyone can make is bounded by the pools they were given, and
//! one holder using up its pool takes nothing from another.

use crate::check::{Fail, TestResult};
use crate::{ensure, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::Error;
use libsys::bootinfo::{SLOT_ASID_CONTROL, SLOT_ASID_POOL, SLOT_CNODE};
use libsys::cap::{
    AsidControl, AsidPool, Cap, Frame, Pdpt, SlotPath, Tcb, TcbConfig, Untyped, VSpace,
};
use libsys::object::{ObjectType, Rights, ASIDS_PER_POOL};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    an_address_space_without_an_asid_cannot_be_used_or_copied,
    an_address_space_gets_one_asid_and_keeps_it_in_copies,
    asid_pools_are_made_only_from_unused_4k_untyped,
    one_holder_filling_its_pool_leaves_another_holders_pool_working,
    deleting_a_pool_empties_its_address_spaces,
    retyping_address_spaces_has_no_system_wide_limit,
];

/// The root task's ASID control and boot pool.
pub const ASID_CONTROL: Cap<AsidControl> = Cap::from_cptr(SLOT_ASID_CONTROL);
/// The pool the root task's own address space came from (with room for more).
pub const BOOT_POOL: Cap<AsidPool> = Cap::from_cptr(SLOT_ASID_POOL);

/// A new address space with an ASID from the boot pool.
pub fn make_vspace(ctx: &mut Ctx) -> Result<Cap<VSpace>, Fail> {
    let vspace: Cap<VSpace> = ctx.make()?;
    ok!(BOOT_POOL.assign(vspace));
    Ok(vspace)
}

/// A new ASID pool made from a fresh 4 KiB untyped.
fn make_pool(ctx: &mut Ctx) -> Result<Cap<AsidPool>, Fail> {
    let untyped = ctx.untyped(12)?;
    let slot = ctx.slot()?;
    ok!(ASID_CONTROL.make_pool(untyped, SlotPath::at(slot)));
    Ok(Cap::from_cptr(slot))
}

fn an_address_space_without_an_asid_cannot_be_used_or_copied(ctx: &mut Ctx) -> TestResult {
    let vspace: Cap<VSpace> = ctx.make()?;
    let frame: Cap<Frame> = ctx.make()?;
    let pdpt: Cap<Pdpt> = ctx.make()?;
    expect_err!(pdpt.map(vspace, 0x1000_0000), Error::InvalidCapability, 0);
    expect_err!(
        frame.map(vspace, 0x1000_0000, Rights::READ),
        Error::InvalidCapability,
        0
    );
    let copy = ctx.slot()?;
    expect_err!(
        ROOT.copy(SlotPath::at(copy), vspace.slot(), Rights::ALL),
        Error::IllegalOperation,
        2
    );
    let tcb: Cap<Tcb> = ctx.make()?;
    let config = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace,
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: Cap::null(),
    };
    expect_err!(tcb.configure(&config), Error::InvalidCapability, 1);
    Ok(())
}

fn an_address_space_gets_one_asid_and_keeps_it_in_copies(ctx: &mut Ctx) -> TestResult {
    let vspace = make_vspace(ctx)?;
    expect_err!(BOOT_POOL.assign(vspace), Error::IllegalOperation, 0);
    let copy = ctx.slot()?;
    ok!(ROOT.copy(SlotPath::at(copy), vspace.slot(), Rights::ALL));
    let copy: Cap<VSpace> = Cap::from_cptr(copy);
    expect_err!(BOOT_POOL.assign(copy), Error::IllegalOperation, 0);
    let pdpt: Cap<Pdpt> = ctx.make()?;
    ok!(pdpt.map(copy, 0x1000_0000));
    let not_a_vspace: Cap<VSpace> = Cap::from_cptr(pdpt.cptr());
    expect_err!(BOOT_POOL.assign(not_a_vspace), Error::InvalidCapability, 0);
    Ok(())
}

fn asid_pools_are_made_only_from_unused_4k_untyped(ctx: &mut Ctx) -> TestResult {
    let big = ctx.untyped(13)?;
    let dest = ctx.slot()?;
    expect_err!(
        ASID_CONTROL.make_pool(big, SlotPath::at(dest)),
        Error::InvalidArgument,
        0
    );
    let used = ctx.untyped(12)?;
    let child = ctx.slot()?;
    ok!(used.retype(ObjectType::Endpoint, 0, ROOT, child, 1));
    expect_err!(
        ASID_CONTROL.make_pool(used, SlotPath::at(dest)),
        Error::RevokeFirst,
        0
    );
    let fresh: Cap<Untyped> = ctx.untyped(12)?;
    expect_err!(
        ASID_CONTROL.make_pool(fresh, SlotPath::at(child)),
        Error::DeleteFirst,
        1
    );
    ok!(ASID_CONTROL.make_pool(fresh, SlotPath::at(dest)));
    let pool: Cap<AsidPool> = Cap::from_cptr(dest);
    ensure!(
        ctx.kind(dest)? == libsys::object::CapKind::AsidPool,
        "slot {dest} holds {:?}",
        ctx.kind(dest)?
    );
    // ASID control cannot be copied; a pool can (its copies share its ASIDs).
    let copy = ctx.slot()?;
    expect_err!(
        ROOT.copy(SlotPath::at(copy), ASID_CONTROL.slot(), Rights::ALL),
        Error::IllegalOperation,
        2
    );
    ok!(ROOT.copy(SlotPath::at(copy), pool.slot(), Rights::ALL));
    // The pool goes with its untyped.
    ok!(ROOT.revoke(fresh.slot()));
    ctx.expect_empty(dest)?;
    ctx.expect_empty(copy)?;
    Ok(())
}

/// Issue 14's test: holder A fills its own pool (every later assignment is refused), and
/// holder B, with a pool of its own, still makes address spaces and maps into them; so
/// does a process the loader builds from the boot pool. The only limit is what each
/// holder was given.
fn one_holder_filling_its_pool_leaves_another_holders_pool_working(ctx: &mut Ctx) -> TestResult {
    let pool_a = make_pool(ctx)?;
    let pool_b = make_pool(ctx)?;
    // 2 MiB of untyped: exactly one pool's worth of PML4s.
    let untyped = ctx.untyped(21)?;
    let first = ctx.slots(ASIDS_PER_POOL)?;
    for chunk in (0..ASIDS_PER_POOL).step_by(128) {
        ok!(untyped.retype(ObjectType::Pml4, 0, ROOT, first + chunk, 128));
    }
    for i in 0..ASIDS_PER_POOL {
        let vspace: Cap<VSpace> = Cap::from_cptr(first + i);
        if let Err(e) = pool_a.assign(vspace) {
            return Err(crate::fail!("assignment {i} of {ASIDS_PER_POOL}: {e}"));
        }
    }
    let left_over: Cap<VSpace> = ctx.make()?;
    expect_err!(pool_a.assign(left_over), Error::NotEnoughMemory, u64::MAX);
    // Holder B is unaffected.
    ok!(pool_b.assign(left_over));
    let pdpt: Cap<Pdpt> = ctx.make()?;
    ok!(pdpt.map(left_over, 0x1000_0000));
    // So is the loader, which assigns from the boot pool (building a process maps its
    // segments, stack and IPC buffer in the new address space).
    let config = ctx.peer_config();
    ctx.peer(&config)?;
    // Destroying one of A's address spaces gives its ASID back to A.
    let again: Cap<VSpace> = ctx.make()?;
    expect_err!(pool_a.assign(again), Error::NotEnoughMemory, u64::MAX);
    ok!(ROOT.delete(SlotPath::at(first)));
    ok!(pool_a.assign(again));
    Ok(())
}

/// A pool's address spaces die with it: their tables are emptied (a frame mapped in one
/// is no longer reachable) and their PML4s stay unusable (as in seL4: one PML4 must never
/// hold two ASIDs, and its caps keep the dead one).
fn deleting_a_pool_empties_its_address_spaces(ctx: &mut Ctx) -> TestResult {
    let pool = make_pool(ctx)?;
    let vspace: Cap<VSpace> = ctx.make()?;
    ok!(pool.assign(vspace));
    let tables = crate::vspace::map_tables(ctx, vspace, 0x1000_0000)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(vspace, 0x1000_0000, Rights::READ));
    ok!(ROOT.revoke(pool.slot()));
    ok!(ROOT.delete(pool.slot()));
    // The address space has no ASID any more: nothing can be mapped in it...
    let other: Cap<Frame> = ctx.make()?;
    expect_err!(
        other.map(vspace, 0x1000_1000, Rights::READ),
        Error::InvalidCapability,
        0
    );
    // ...and the frame and tables count as unmapped: they map again elsewhere.
    let fresh = make_vspace(ctx)?;
    ok!(tables.pdpt.map(fresh, 0x1000_0000));
    ok!(tables.pd.map(fresh, 0x1000_0000));
    ok!(tables.pt.map(fresh, 0x1000_0000));
    ok!(frame.map(fresh, 0x1000_0000, Rights::READ));
    expect_err!(BOOT_POOL.assign(vspace), Error::IllegalOperation, 0);
    Ok(())
}

/// The kernel used to track live address spaces in one global table of 1024: a thread with
/// 4 MiB of untyped could fill it and stop every other VSpace retype in the system. Now a
/// PML4 costs only its 4 KiB: 4 MiB makes 1024 of them, and one more still comes out of
/// other memory (with the root task's own, 1026 live address spaces).
fn retyping_address_spaces_has_no_system_wide_limit(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(22)?;
    let first = ctx.slots(1024)?;
    for chunk in (0..1024).step_by(256) {
        ok!(untyped.retype(ObjectType::Pml4, 0, ROOT, first + chunk, 256));
    }
    let one_more: Cap<VSpace> = ctx.make()?;
    ok!(BOOT_POOL.assign(one_more));
    Ok(())
}
