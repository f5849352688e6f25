//! New objects are zero without being zero-filled at retype: the kernel keeps the memory
//! above every untyped's watermark zero, and zeroes what an untyped handed out when it
//! starts over, in bounded steps (the retype is restarted until the zeroing is done). A
//! revoke that destroyed a CNode at the untyped's base leaves that CNode all zero (every
//! slot emptied writes zero bytes), so only the rest is zeroed, at the end of the revoke.

use crate::check::TestResult;
use crate::vspace::map_tables;
use crate::{ensure, ok, Ctx, Test, ROOT};
use libsys::bootinfo::SLOT_VSPACE;
use libsys::cap::{CNode, Cap, Frame, SlotPath, VSpace};
use libsys::object::{ObjectType, Rights};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    a_frame_made_again_from_reset_memory_reads_zero,
    resetting_a_megabyte_in_steps_zeroes_all_of_it,
    a_life_revoked_from_its_untyped_leaves_every_byte_zero,
];

const OWN: Cap<VSpace> = Cap::from_cptr(SLOT_VSPACE);
/// Where this file maps memory (PML4 entry 168, used by no other test).
const BASE: u64 = 0x5400_0000_0000;
const PAGE: u64 = 4096;
const PATTERN: u64 = 0x5eed_dead_beef_0001;

fn write(vaddr: u64, value: u64) {
    // SAFETY: callers map a frame read-write at `vaddr` first; nothing in this program
    // refers to that memory.
    unsafe { (vaddr as *mut u64).write_volatile(value) }
}

fn read(vaddr: u64) -> u64 {
    // SAFETY: callers map a frame readable at `vaddr` first.
    unsafe { (vaddr as *const u64).read_volatile() }
}

/// Writes `PATTERN` at the start and end of frame `frame` through `BASE`, then unmaps it.
fn dirty(frame: Cap<Frame>) -> TestResult {
    ok!(frame.map(OWN, BASE, Rights::READ.union(Rights::WRITE)));
    write(BASE, PATTERN);
    write(BASE + PAGE - 8, PATTERN);
    ok!(frame.unmap());
    Ok(())
}

/// Whether frame `frame` reads zero at the start and end (mapped for a moment at `BASE`).
fn reads_zero(frame: Cap<Frame>) -> Result<bool, crate::check::Fail> {
    ok!(frame.map(OWN, BASE, Rights::READ));
    let zero = read(BASE) == 0 && read(BASE + PAGE - 8) == 0;
    ok!(frame.unmap());
    Ok(zero)
}

fn a_frame_made_again_from_reset_memory_reads_zero(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, BASE)?;
    let untyped = ctx.untyped(16)?;
    let slot = ctx.slot()?;
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, slot, 1));
    let frame: Cap<Frame> = Cap::from_cptr(slot);
    let address = frame.get_address();
    dirty(frame)?;
    ok!(ROOT.revoke(untyped.slot()));
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, slot, 1));
    ensure!(
        frame.get_address() == address,
        "the new frame is elsewhere: {:?} vs {address:?}",
        frame.get_address()
    );
    ensure!(reads_zero(frame)?, "the old bytes are still there");
    Ok(())
}

/// 1 MiB is four kernel entries' worth of zeroing (256 KiB each): the retype is
/// restarted three times, and every page is zero at the end, the last one too.
fn resetting_a_megabyte_in_steps_zeroes_all_of_it(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, BASE)?;
    let untyped = ctx.untyped(20)?;
    let first = ctx.slots(256)?;
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, first, 256));
    for i in [0, 63, 64, 200, 255] {
        dirty(Cap::from_cptr(first + i))?;
    }
    ok!(ROOT.revoke(untyped.slot()));
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, first, 256));
    for i in [0, 63, 64, 200, 255] {
        ensure!(
            reads_zero(Cap::from_cptr(first + i))?,
            "page {i} kept its bytes"
        );
    }
    Ok(())
}

/// Every word of frame `frame` (mapped for a moment at `BASE`) is zero.
fn all_zero(frame: Cap<Frame>) -> Result<bool, crate::check::Fail> {
    ok!(frame.map(OWN, BASE, Rights::READ));
    let zero = (0..PAGE / 8).all(|i| read(BASE + i * 8) == 0);
    ok!(frame.unmap());
    Ok(zero)
}

/// A process's life as procsrv makes it: a CNode at the untyped's base holding caps of
/// several kinds (a TCB, an endpoint and a badged copy of it, the CNode itself), then a
/// frame written with a pattern. The revoke leaves the CNode zero without zeroing it and
/// zeroes the frame; frames made again over all of the untyped read zero in every word.
fn a_life_revoked_from_its_untyped_leaves_every_byte_zero(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, BASE)?;
    let untyped = ctx.untyped(15)?;
    let slots = ctx.slots(8)?;
    ok!(untyped.retype(ObjectType::CNode, 8, ROOT, slots, 1));
    let cnode: Cap<CNode> = Cap::from_cptr(slots);
    let at = |index: u64| SlotPath { index, depth: 8 };
    ok!(untyped.retype(ObjectType::Tcb, 0, cnode, 5, 1));
    ok!(untyped.retype(ObjectType::Endpoint, 0, cnode, 255, 1));
    ok!(cnode.mint(at(7), at(255), Rights::ALL, 0x5eed_0000_dead_beef));
    ok!(ROOT.copy(SlotPath::at(slots + 1), SlotPath::at(slots), Rights::ALL));
    ok!(ROOT.move_cap(SlotPath::at(slots + 2), SlotPath::at(slots + 1)));
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, slots + 3, 1));
    let frame: Cap<Frame> = Cap::from_cptr(slots + 3);
    ok!(frame.map(OWN, BASE, Rights::READ.union(Rights::WRITE)));
    for i in 0..PAGE / 8 {
        write(BASE + i * 8, PATTERN ^ i);
    }
    ok!(frame.unmap());
    ok!(ROOT.revoke(untyped.slot()));
    // 32 KiB: the CNode (16 KiB), the TCB, the frame and what lies between.
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, slots, 8));
    for i in 0..8 {
        ensure!(
            all_zero(Cap::from_cptr(slots + i))?,
            "page {i} of the untyped kept old bytes"
        );
    }
    Ok(())
}
