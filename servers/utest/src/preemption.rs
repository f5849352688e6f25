//! Long capability operations run in bounded steps: a delete or revoke that empties
//! thousands of slots is parked and its system call restarted until it is done (the
//! caller sees one call). Done means done: the memory is free for a retype from offset 0.
//! `TcbConfigure` replacing a binding that held the last cap to a big CNode deletes it in
//! the same bounded steps, then runs again and completes.

use crate::check::TestResult;
use crate::{ensure, ok, Ctx, Test, ROOT};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::cap::Tcb;
use libsys::cap::{CNode, Cap, Endpoint, SlotPath, TcbConfig};
use libsys::object::{ObjectType, Rights};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    deleting_a_full_cnode_of_4096_caps_finishes_in_one_call,
    revoking_an_untyped_of_256_frames_finishes_in_one_call,
    a_delete_that_destroys_its_own_thread_is_finished_by_another,
    configure_replacing_a_cspace_of_4096_caps_finishes_in_one_call,
];

/// The root slot of the CNode the helper deletes (0 until it may go ahead).
static DOOMED: AtomicU64 = AtomicU64::new(0);

/// Waits for `DOOMED`, then deletes the CNode in that root slot, which holds the only cap
/// to this thread's TCB: the thread dies early in its own delete.
extern "C" fn self_destroyer(_: u64) -> ! {
    let mut doomed = DOOMED.load(Ordering::SeqCst);
    while doomed == 0 {
        libsys::syscall::yield_now();
        doomed = DOOMED.load(Ordering::SeqCst);
    }
    let _ = ROOT.delete(SlotPath::at(doomed));
    loop {
        libsys::syscall::yield_now();
    }
}

/// A CNode of 4096 slots fills its 256 KiB untyped exactly; every slot gets a copy of an
/// endpoint. Deleting its cap empties 4096 slots (many kernel entries); afterwards the
/// untyped has no children, so the same CNode can be made again at the same place.
fn deleting_a_full_cnode_of_4096_caps_finishes_in_one_call(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(18)?;
    let slot = ctx.slot()?;
    ok!(untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1));
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let radix = ctx.info.cnode_radix;
    let unguarded: Cap<CNode> = ctx.mint(ROOT, Rights::ALL, 0)?;
    for i in 0..4096u64 {
        let to = SlotPath {
            index: (slot << 12) | i,
            depth: radix + 12,
        };
        let from = SlotPath {
            index: endpoint.cptr(),
            depth: radix,
        };
        ok!(unguarded.copy(to, from, Rights::ALL));
    }
    ok!(ROOT.delete(SlotPath::at(slot)));
    ctx.expect_empty(slot)?;
    let again = untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1);
    ensure!(
        again.is_ok(),
        "the untyped still has children: {}",
        again.unwrap_err()
    );
    Ok(())
}

/// A thread's CSpace binding holds the last cap to a CNode whose 4096 slots hold endpoint
/// caps; `TcbConfigure` with another CSpace deletes that CNode (parked and restarted
/// meanwhile), then binds the new one: one call, which succeeds, after which the untyped
/// has no children (the CNode is gone) and the thread's new CSpace works.
fn configure_replacing_a_cspace_of_4096_caps_finishes_in_one_call(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(18)?;
    let slot = ctx.slot()?;
    ok!(untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1));
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let radix = ctx.info.cnode_radix;
    let unguarded: Cap<CNode> = ctx.mint(ROOT, Rights::ALL, 0)?;
    for i in 0..4096u64 {
        let to = SlotPath {
            index: (slot << 12) | i,
            depth: radix + 12,
        };
        let from = SlotPath {
            index: endpoint.cptr(),
            depth: radix,
        };
        ok!(unguarded.copy(to, from, Rights::ALL));
    }
    let thread: Cap<Tcb> = ctx.make()?;
    let bind = |cspace: Cap<CNode>| {
        thread.configure(&TcbConfig {
            cspace,
            vspace: Cap::null(),
            ipc_buffer_addr: 0,
            ipc_buffer_frame: Cap::null(),
            fault_endpoint: Cap::null(),
        })
    };
    ok!(bind(Cap::from_cptr(slot)));
    ok!(ROOT.delete(SlotPath::at(slot)));
    // The thread's binding is now the CNode's last cap.
    let kept = untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1);
    ensure!(
        kept.is_err(),
        "the bound CNode was freed with its other cap"
    );
    ok!(bind(ROOT));
    let again = untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1);
    ensure!(
        again.is_ok(),
        "the replaced CNode is not gone: {}",
        again.unwrap_err()
    );
    Ok(())
}

/// 256 frames of 4 KiB from a 1 MiB untyped, revoked in one call: then all of it is free.
fn revoking_an_untyped_of_256_frames_finishes_in_one_call(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(20)?;
    let first = ctx.slots(256)?;
    ok!(untyped.retype(ObjectType::Frame4K, 0, ROOT, first, 256));
    ok!(ROOT.revoke(untyped.slot()));
    for i in [0, 128, 255] {
        ctx.expect_empty(first + i)?;
    }
    let slot = ctx.slot()?;
    ok!(untyped.retype(ObjectType::Untyped, 20, ROOT, slot, 1));
    Ok(())
}

/// A helper thread deletes the last cap to a CNode of 4096 slots that holds the only cap to
/// its own TCB: its thread is destroyed in the first steps, and the rest of the work (too
/// much for one kernel entry) is parked with no owner. Our next system call finishes it
/// first: a retype of the CNode's untyped from offset 0 succeeds, in one call.
fn a_delete_that_destroys_its_own_thread_is_finished_by_another(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(18)?;
    let slot = ctx.slot()?;
    ok!(untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1));
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let radix = ctx.info.cnode_radix;
    let unguarded: Cap<CNode> = ctx.mint(ROOT, Rights::ALL, 0)?;
    let in_cnode = |i: u64| SlotPath {
        index: (slot << 12) | i,
        depth: radix + 12,
    };
    let in_root = |s: u64| SlotPath {
        index: s,
        depth: radix,
    };
    for i in 1..4096u64 {
        ok!(unguarded.copy(in_cnode(i), in_root(endpoint.cptr()), Rights::ALL));
    }
    DOOMED.store(0, Ordering::SeqCst);
    let helper: Cap<Tcb> = crate::timer::start(ctx, self_destroyer, 0)?;
    // The only cap to the helper's TCB goes into the CNode; then the helper may go ahead.
    ok!(unguarded.move_cap(in_cnode(0), in_root(helper.cptr())));
    ctx.expect_empty(helper.cptr())?;
    DOOMED.store(slot, Ordering::SeqCst);
    // Let it run: it deletes the CNode and dies in it.
    for _ in 0..5 {
        libsys::syscall::yield_now();
    }
    let again = untyped.retype(ObjectType::CNode, 12, ROOT, slot, 1);
    ensure!(
        again.is_ok(),
        "the parked delete was not finished: {}",
        again.unwrap_err()
    );
    Ok(())
}
