//! IRQ control and handlers, I/O port control and ports.
//!
//! `IrqControlGet(irq 0, dest_index 1, dest_depth 2)`, `IrqHandlerSetNotification(n 0)`,
//! `IrqHandlerAck`, `IrqHandlerClear`, `IoPortControlIssue(first 0, last 1, dest_index 2,
//! dest_depth 3)`, `IoPortIn(port 0, width 1)`, `IoPortOut(port 0, width 1, value 2)`.
//!
//! The delivery test drives the CMOS real-time clock (ports 0x70/0x71, ISA IRQ 8), which
//! nothing else in the system uses.

use crate::check::{TestResult, ANY_ARG, MISSING_CAP, OUT_OF_RANGE, WRONG_INVOKED};
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::Error;
use libsys::bootinfo::{SLOT_IO_PORT_CONTROL, SLOT_IRQ_CONTROL};
use libsys::cap::{
    Cap, Endpoint, IoPort, IoPortControl, IrqControl, IrqHandler, Notification, SlotPath,
    INVOKED_CAP,
};
use libsys::object::CapKind;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    irq_control_issues_one_handler_per_line,
    irq_control_get_names_each_bad_argument,
    irq_handler_takes_a_notification,
    io_port_control_issues_disjoint_ranges,
    io_port_control_issue_names_each_bad_argument,
    io_ports_read_and_write_within_their_range,
    rtc_interrupt_is_delivered_to_a_notification,
    irq_and_port_invocations_need_the_right_cap,
];

const IRQ_CONTROL: Cap<IrqControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
const PORT_CONTROL: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
/// The RTC's interrupt line.
const RTC_IRQ: u64 = 8;
/// CMOS index and data ports.
const CMOS_INDEX: u64 = 0x70;
const CMOS_DATA: u64 = 0x71;

fn kind(cptr: u64) -> u64 {
    Cap::<Endpoint>::from_cptr(cptr)
        .identify()
        .map(|id| id.kind)
        .unwrap_or(0)
}

fn irq_control_issues_one_handler_per_line(ctx: &mut Ctx) -> TestResult {
    let (a, b) = (ctx.slot()?, ctx.slot()?);
    let handler = ok!(IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(a)));
    ensure!(kind(a) == CapKind::IrqHandler as u64, "kind {}", kind(a));
    expect_err!(
        IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(b)),
        Error::RevokeFirst,
        ANY_ARG
    );
    // A copy is another handle on the same line; deleting every cap frees the line.
    ok!(ROOT.copy(SlotPath::at(b), handler.slot(), libsys::object::Rights::ALL));
    ok!(ROOT.delete(handler.slot()));
    let c = ctx.slot()?;
    expect_err!(
        IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(c)),
        Error::RevokeFirst,
        ANY_ARG
    );
    ok!(ROOT.delete(SlotPath::at(b)));
    ok!(IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(c)));
    // Revoking the control cap removes the handlers it issued.
    ok!(ROOT.revoke(SlotPath::at(SLOT_IRQ_CONTROL)));
    ensure!(kind(c) == 0, "handler survived revoke of IRQ control");
    ok!(IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(c)));
    Ok(())
}

fn irq_control_get_names_each_bad_argument(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    for irq in [16, 255, 1 << 32, u64::MAX] {
        expect_err!(
            IRQ_CONTROL.get(irq, SlotPath::at(slot)),
            Error::RangeError,
            0
        );
    }
    let occupied = SlotPath::at(libsys::bootinfo::SLOT_TCB);
    expect_err!(IRQ_CONTROL.get(RTC_IRQ, occupied), Error::DeleteFirst, 1);
    let bad_depth = SlotPath {
        index: slot,
        depth: 0,
    };
    expect_err!(IRQ_CONTROL.get(RTC_IRQ, bad_depth), Error::RangeError, 2);
    let bad_guard = SlotPath {
        index: slot | 1 << 50,
        depth: 64,
    };
    expect_err!(IRQ_CONTROL.get(RTC_IRQ, bad_guard), Error::FailedLookup, 1);
    ensure!(kind(slot) == 0, "slot filled by a failed get");
    Ok(())
}

fn irq_handler_takes_a_notification(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    let handler = ok!(IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(slot)));
    let notification: Cap<Notification> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let empty = ctx.slot()?;
    expect_err!(
        handler.set_notification(endpoint.cast()),
        Error::InvalidCapability,
        0
    );
    expect_any!(
        handler.set_notification(Cap::from_cptr(empty)),
        MISSING_CAP,
        0
    );
    let read_only = ctx.mint(notification, libsys::object::Rights::READ, 0)?;
    expect_err!(
        handler.set_notification(read_only),
        Error::InsufficientRights,
        0
    );
    ok!(handler.set_notification(notification));
    ok!(handler.ack());
    ok!(handler.clear());
    ok!(handler.clear());
    ok!(handler.set_notification(notification));
    // Deleting the notification while it is set must not leave the handler dangling.
    ok!(ROOT.delete(notification.slot()));
    ok!(ROOT.delete(read_only.slot()));
    ok!(handler.ack());
    ok!(handler.clear());
    Ok(())
}

fn io_port_control_issues_disjoint_ranges(ctx: &mut Ctx) -> TestResult {
    let (a, b) = (ctx.slot()?, ctx.slot()?);
    let ports = ok!(PORT_CONTROL.issue(CMOS_INDEX, CMOS_DATA, SlotPath::at(a)));
    ensure!(kind(a) == CapKind::IoPort as u64, "kind {}", kind(a));
    let overlap = PORT_CONTROL.issue(CMOS_DATA, CMOS_DATA + 1, SlotPath::at(b));
    expect_err!(overlap, Error::RevokeFirst, ANY_ARG);
    let inside = PORT_CONTROL.issue(CMOS_INDEX, CMOS_INDEX, SlotPath::at(b));
    expect_err!(inside, Error::RevokeFirst, ANY_ARG);
    ok!(PORT_CONTROL.issue(CMOS_DATA + 1, CMOS_DATA + 1, SlotPath::at(b)));
    ok!(ROOT.delete(ports.slot()));
    ok!(PORT_CONTROL.issue(CMOS_INDEX, CMOS_INDEX, SlotPath::at(a)));
    Ok(())
}

fn io_port_control_issue_names_each_bad_argument(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    let at = SlotPath::at(slot);
    expect_err!(PORT_CONTROL.issue(0x71, 0x70, at), Error::RangeError, 0);
    expect_err!(
        PORT_CONTROL.issue(0xfff0, 0x10000, at),
        Error::RangeError,
        0
    );
    expect_err!(
        PORT_CONTROL.issue(u64::MAX, u64::MAX, at),
        Error::RangeError,
        0
    );
    let occupied = SlotPath::at(libsys::bootinfo::SLOT_TCB);
    expect_err!(
        PORT_CONTROL.issue(0x70, 0x71, occupied),
        Error::DeleteFirst,
        2
    );
    let bad_depth = SlotPath {
        index: slot,
        depth: 65,
    };
    expect_err!(
        PORT_CONTROL.issue(0x70, 0x71, bad_depth),
        Error::RangeError,
        3
    );
    ensure!(kind(slot) == 0, "slot filled by a failed issue");
    Ok(())
}

fn io_ports_read_and_write_within_their_range(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    let cmos = ok!(PORT_CONTROL.issue(CMOS_INDEX, CMOS_DATA, SlotPath::at(slot)));
    // Register 0x0a (status A) of the RTC: bit 7 is "update in progress", the low bits the
    // rate, which firmware leaves non-zero.
    ok!(cmos.port_out(CMOS_INDEX, 1, 0x8a));
    let status_a = ok!(cmos.port_in(CMOS_DATA, 1));
    ensure!(
        status_a & 0x0f != 0 && status_a <= 0xff,
        "RTC status A {status_a:#x}"
    );
    for width in [0, 3, 5, 8, u64::MAX] {
        expect_err!(cmos.port_in(CMOS_DATA, width), Error::InvalidArgument, 1);
        expect_err!(
            cmos.port_out(CMOS_INDEX, width, 0),
            Error::InvalidArgument,
            1
        );
    }
    for port in [0x6f, 0x72, 0x3f8, u64::MAX] {
        expect_any!(cmos.port_in(port, 1), OUT_OF_RANGE, 0);
        expect_any!(cmos.port_out(port, 1, 0), OUT_OF_RANGE, 0);
    }
    // A 2-byte access at the last port runs past the range.
    expect_any!(cmos.port_in(CMOS_DATA, 2), OUT_OF_RANGE, 0);
    ok!(cmos.port_in(CMOS_INDEX, 2));
    Ok(())
}

/// Reads CMOS register `index` (with NMIs left disabled, as firmware does).
fn cmos_read(cmos: Cap<IoPort>, index: u64) -> Result<u64, crate::check::Fail> {
    ok!(cmos.port_out(CMOS_INDEX, 1, 0x80 | index));
    Ok(ok!(cmos.port_in(CMOS_DATA, 1)))
}

fn cmos_write(cmos: Cap<IoPort>, index: u64, value: u64) -> TestResult {
    ok!(cmos.port_out(CMOS_INDEX, 1, 0x80 | index));
    ok!(cmos.port_out(CMOS_DATA, 1, value));
    Ok(())
}

fn rtc_interrupt_is_delivered_to_a_notification(ctx: &mut Ctx) -> TestResult {
    let (p, h) = (ctx.slot()?, ctx.slot()?);
    let cmos = ok!(PORT_CONTROL.issue(CMOS_INDEX, CMOS_DATA, SlotPath::at(p)));
    let handler = ok!(IRQ_CONTROL.get(RTC_IRQ, SlotPath::at(h)));
    let notification: Cap<Notification> = ctx.make()?;
    let badged = ctx.mint(notification, libsys::object::Rights::ALL, 0x100)?;
    ok!(handler.set_notification(badged));
    let status_b = cmos_read(cmos, 0x0b)?;
    cmos_read(cmos, 0x0c)?;
    cmos_write(cmos, 0x0b, status_b | 0x40)?;
    ok!(handler.ack());
    let mut delivered = 0;
    let mut bits = 0;
    for _ in 0..200_000 {
        if let Ok(b) = notification.poll() {
            bits = b;
            delivered += 1;
            cmos_read(cmos, 0x0c)?;
            ok!(handler.ack());
            if delivered == 3 {
                break;
            }
        }
        libsys::syscall::yield_now();
    }
    cmos_write(cmos, 0x0b, status_b & !0x40)?;
    cmos_read(cmos, 0x0c)?;
    ok!(handler.clear());
    ensure!(delivered == 3, "{delivered} RTC interrupts arrived");
    ensure!(bits == 0x100, "notification bits {bits:#x}");
    Ok(())
}

fn irq_and_port_invocations_need_the_right_cap(ctx: &mut Ctx) -> TestResult {
    let endpoint_like: Cap<Endpoint> = Cap::from_cptr(ctx.make::<libsys::cap::Frame>()?.cptr());
    let slot = ctx.slot()?;
    let at = SlotPath::at(slot);
    let not_control: Cap<IrqControl> = endpoint_like.cast();
    expect_any!(not_control.get(RTC_IRQ, at), WRONG_INVOKED, INVOKED_CAP);
    let not_handler: Cap<IrqHandler> = endpoint_like.cast();
    let notification: Cap<Notification> = ctx.make()?;
    expect_any!(
        not_handler.set_notification(notification),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    expect_any!(not_handler.ack(), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_handler.clear(), WRONG_INVOKED, INVOKED_CAP);
    let not_port_control: Cap<IoPortControl> = endpoint_like.cast();
    expect_any!(
        not_port_control.issue(0x70, 0x71, at),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    let not_port: Cap<IoPort> = endpoint_like.cast();
    expect_any!(not_port.port_in(0x70, 1), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_port.port_out(0x70, 1, 0), WRONG_INVOKED, INVOKED_CAP);
    // IRQ control is not an I/O port control, and the other way round.
    let swapped: Cap<IoPortControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
    expect_any!(swapped.issue(0x70, 0x71, at), WRONG_INVOKED, INVOKED_CAP);
    let swapped: Cap<IrqControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    expect_any!(swapped.get(RTC_IRQ, at), WRONG_INVOKED, INVOKED_CAP);
    ensure!(kind(slot) == 0, "slot filled");
    Ok(())
}
