//! Notifications: signal (`Send`), wait (`Recv`), poll (`NBRecv`), and notifications bound
//! to a TCB.

use crate::check::{TestResult, ANY_ARG};
use crate::ipc::start;
use crate::{ensure, expect_err, ok, Ctx, Test};
use ipcpeer::{label, mode};
use libsys::abi::{Error, MessageInfo, NOTIFICATION_LABEL};
use libsys::bootinfo::SLOT_TCB;
use libsys::cap::{Cap, Endpoint, Notification, Tcb};
use libsys::object::Rights;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    signals_accumulate_their_badge_bits,
    poll_without_a_signal_would_block,
    wait_returns_pending_bits_at_once,
    wait_blocks_until_another_address_space_signals,
    notifications_need_the_right_rights,
    bound_notification_is_received_on_an_endpoint,
    bound_notification_wakes_a_blocked_server,
];

fn signals_accumulate_their_badge_bits(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let one = ctx.mint(n, Rights::WRITE, 0b01)?;
    let two = ctx.mint(n, Rights::WRITE, 0b10)?;
    let high = ctx.mint(n, Rights::WRITE, 1 << 63)?;
    ok!(one.signal());
    ok!(two.signal());
    ok!(one.signal());
    ok!(high.signal());
    let bits = ok!(n.poll());
    ensure!(bits == 0b11 | 1 << 63, "bits {bits:#x}");
    expect_err!(n.poll(), Error::WouldBlock, ANY_ARG);
    Ok(())
}

fn poll_without_a_signal_would_block(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    expect_err!(n.poll(), Error::WouldBlock, ANY_ARG);
    // An unbadged signal sets no bits: still nothing to take.
    ok!(n.signal());
    if let Ok(bits) = n.poll() {
        ensure!(bits == 0, "unbadged signal delivered {bits:#x}");
    }
    Ok(())
}

fn wait_returns_pending_bits_at_once(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let badged = ctx.mint(n, Rights::WRITE, 0x40)?;
    ok!(badged.signal());
    let bits = ok!(n.wait());
    ensure!(bits == 0x40, "bits {bits:#x}");
    Ok(())
}

fn wait_blocks_until_another_address_space_signals(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let server = start(ctx, mode::SERVER)?;
    crate::give(&server.process, &ctx.loader, n, ipcpeer::SLOT_NOTIFICATION)?;
    let message = MessageInfo::new(label::REPLY_THEN_WAIT, 0, 0);
    ok!(server.endpoint.call(message, [0; 4]));
    for _ in 0..20 {
        libsys::syscall::yield_now();
    }
    let badged = ctx.mint(n, Rights::WRITE, 0x8)?;
    ok!(badged.signal());
    let report = ok!(server.report.recv());
    ensure!(
        report.info.label() == label::REPORT,
        "label {:#x}",
        report.info.label()
    );
    ensure!(
        report.words[0] == 0x8,
        "the peer woke with bits {:#x}",
        report.words[0]
    );
    Ok(())
}

fn notifications_need_the_right_rights(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let read_only = ctx.mint(n, Rights::READ, 0)?;
    let write_only = ctx.mint(n, Rights::WRITE, 1)?;
    expect_err!(read_only.signal(), Error::InsufficientRights, ANY_ARG);
    expect_err!(write_only.poll(), Error::InsufficientRights, ANY_ARG);
    expect_err!(write_only.wait(), Error::InsufficientRights, ANY_ARG);
    ok!(write_only.signal());
    ensure!(
        ok!(read_only.poll()) == 1,
        "signal through the write-only cap lost"
    );
    Ok(())
}

fn bound_notification_is_received_on_an_endpoint(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let own: Cap<Tcb> = Cap::from_cptr(SLOT_TCB);
    ok!(own.bind_notification(n));
    let badged = ctx.mint(n, Rights::WRITE, 0x4)?;
    ok!(badged.signal());
    let result = endpoint.nb_recv();
    let unbound = own.unbind_notification();
    let got = ok!(result);
    ok!(unbound);
    ensure!(
        got.info.label() == NOTIFICATION_LABEL,
        "label {:#x}",
        got.info.label()
    );
    ensure!(got.badge == 0x4, "bits {:#x}", got.badge);
    expect_err!(endpoint.nb_recv(), Error::WouldBlock, ANY_ARG);
    // Unbound again: the signal stays on the notification.
    ok!(badged.signal());
    expect_err!(endpoint.nb_recv(), Error::WouldBlock, ANY_ARG);
    ensure!(ok!(n.poll()) == 0x4, "signal lost");
    Ok(())
}

fn bound_notification_wakes_a_blocked_server(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let server = start(ctx, mode::SERVER)?;
    ok!(server.process.tcb.bind_notification(n));
    // Make sure the peer is blocked in Recv: a call returns once it waits again.
    ok!(server
        .endpoint
        .call(MessageInfo::new(label::ECHO, 0, 0), [0; 4]));
    let badged = ctx.mint(n, Rights::WRITE, 0x20)?;
    ok!(badged.signal());
    let last = ok!(server
        .endpoint
        .call(MessageInfo::new(label::LAST, 0, 0), [0; 4]));
    ensure!(
        last.words[0] == NOTIFICATION_LABEL && last.words[2] == 0x20,
        "the peer saw {:x?}",
        last.words
    );
    Ok(())
}
