//! Deletion and revocation against live threads: waiters on a deleted object wake with
//! `Cancelled`, dead threads leave no trace in queues, and a process built by the loader
//! is destroyed by one revoke.

use crate::check::{Fail, TestResult, ANY_ARG, MISSING_CAP};
use crate::fault::await_message;
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test, ROOT};
use ipcpeer::{label, mode};
use libsys::abi::{Error, MessageInfo};
use libsys::cap::{Cap, Endpoint, Notification, SlotPath, INVOKED_CAP};
use libsys::loader::Process;
use libsys::syscall::yield_now;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    receiver_wakes_cancelled_when_its_endpoint_is_deleted,
    sender_wakes_cancelled_when_its_endpoint_is_deleted,
    caller_wakes_cancelled_when_its_endpoint_is_deleted,
    waiter_wakes_cancelled_when_its_notification_is_deleted,
    a_thread_destroyed_while_queued_leaves_no_trace,
    revoking_a_process_untyped_destroys_the_process,
    destroying_a_process_gives_back_its_slots,
];

/// Starts a peer in a `BLOCK_*` mode with `endpoint` and `notification`, and waits for it
/// to say it is about to block.
pub fn blocked_peer(
    ctx: &mut Ctx,
    peer_mode: u64,
    endpoint: Cap<Endpoint>,
    notification: Cap<Notification>,
) -> Result<(Process, Cap<Endpoint>), Fail> {
    let report: Cap<Endpoint> = ctx.make()?;
    let config = ctx.peer_config();
    let process = ctx.peer(&config)?;
    crate::give(&process, &ctx.loader, endpoint, ipcpeer::SLOT_ENDPOINT)?;
    crate::give(&process, &ctx.loader, report, ipcpeer::SLOT_REPORT)?;
    crate::give(
        &process,
        &ctx.loader,
        notification,
        ipcpeer::SLOT_NOTIFICATION,
    )?;
    process
        .start(peer_mode)
        .map_err(|e| crate::fail!("start: {e}"))?;
    let ready = await_message(report, 2000)?;
    ensure!(
        ready.info.label() == label::READY,
        "label {:#x}",
        ready.info.label()
    );
    for _ in 0..20 {
        yield_now();
    }
    Ok((process, report))
}

/// Deletes the object behind `cap` (every copy), then expects the peer's `CANCELLED`.
fn delete_and_expect_cancelled(cap: u64, report: Cap<Endpoint>) -> TestResult {
    ok!(ROOT.revoke(SlotPath::at(cap)));
    ok!(ROOT.delete(SlotPath::at(cap)));
    let message = await_message(report, 2000)?;
    ensure!(
        message.info.label() == label::CANCELLED,
        "label {:#x}",
        message.info.label()
    );
    let code = message.words[0];
    ensure!(
        code == Error::Cancelled as u64,
        "the peer woke with code {code}"
    );
    Ok(())
}

fn receiver_wakes_cancelled_when_its_endpoint_is_deleted(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    let (_, report) = blocked_peer(ctx, mode::BLOCK_RECV, endpoint, n)?;
    delete_and_expect_cancelled(endpoint.cptr(), report)
}

fn sender_wakes_cancelled_when_its_endpoint_is_deleted(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    let (_, report) = blocked_peer(ctx, mode::BLOCK_SEND, endpoint, n)?;
    delete_and_expect_cancelled(endpoint.cptr(), report)
}

fn caller_wakes_cancelled_when_its_endpoint_is_deleted(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    let (_, report) = blocked_peer(ctx, mode::BLOCK_CALL, endpoint, n)?;
    delete_and_expect_cancelled(endpoint.cptr(), report)
}

fn waiter_wakes_cancelled_when_its_notification_is_deleted(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    let (_, report) = blocked_peer(ctx, mode::BLOCK_WAIT, endpoint, n)?;
    delete_and_expect_cancelled(n.cptr(), report)
}

fn a_thread_destroyed_while_queued_leaves_no_trace(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    // The peer blocks sending on our endpoint; then its whole process goes.
    let (process, _) = blocked_peer(ctx, mode::BLOCK_SEND, endpoint, n)?;
    ok!(ROOT.revoke(process.untyped.slot()));
    expect_any!(process.tcb.identify(), MISSING_CAP, INVOKED_CAP);
    expect_err!(endpoint.nb_recv(), Error::WouldBlock, ANY_ARG);
    // The endpoint still works.
    ok!(endpoint.nb_send(MessageInfo::new(1, 0, 0), [0; 4]));
    // And a dead waiter on a notification leaves it usable too.
    let (process, _) = blocked_peer(ctx, mode::BLOCK_WAIT, endpoint, n)?;
    ok!(ROOT.revoke(process.untyped.slot()));
    let badged = ctx.mint(n, libsys::object::Rights::ALL, 3)?;
    ok!(badged.signal());
    ensure!(ok!(n.poll()) == 3, "signal lost");
    Ok(())
}

fn revoking_a_process_untyped_destroys_the_process(ctx: &mut Ctx) -> TestResult {
    let server = crate::ipc::start(ctx, mode::SERVER)?;
    let reply = ok!(server
        .endpoint
        .call(MessageInfo::new(label::ECHO, 1, 0), [1, 0, 0, 0]));
    ensure!(reply.words[0] == 2, "echo {}", reply.words[0]);
    ok!(ROOT.revoke(server.process.untyped.slot()));
    for cptr in [
        server.process.tcb.cptr(),
        server.process.cnode.cptr(),
        server.process.cspace.cptr(),
        server.process.vspace.cptr(),
        server.process.ipc_buffer.cptr(),
    ] {
        expect_any!(
            Cap::<Endpoint>::from_cptr(cptr).identify(),
            MISSING_CAP,
            INVOKED_CAP
        );
    }
    // Nobody serves the endpoint any more.
    expect_err!(server.endpoint.nb_recv(), Error::WouldBlock, ANY_ARG);
    ok!(server
        .endpoint
        .nb_send(MessageInfo::new(label::ECHO, 0, 0), [0; 4]));
    Ok(())
}

fn destroying_a_process_gives_back_its_slots(ctx: &mut Ctx) -> TestResult {
    let free_before = ctx.alloc.slots.free_count();
    let server = crate::ipc::start(ctx, mode::SERVER)?;
    let reply = ok!(server
        .endpoint
        .call(MessageInfo::new(label::ECHO, 1, 0), [4, 0, 0, 0]));
    ensure!(reply.words[0] == 5, "echo {}", reply.words[0]);
    server
        .process
        .destroy(&mut ctx.alloc)
        .map_err(|e| crate::fail!("destroy: {e}"))?;
    // Only the two endpoints remain.
    let free_after = ctx.alloc.slots.free_count();
    ensure!(
        free_after + 2 == free_before,
        "slots: {free_before} before, {free_after} after"
    );
    Ok(())
}
