//! System calls that are not invocations (`Identify`, `DebugWrite`, `Yield`), and the root
//! task's boot caps.

use crate::check::{TestResult, ANY_ARG, MISSING_CAP, WRONG_INVOKED};
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::{Error, Label, MessageInfo, Syscall};
use libsys::bootinfo::*;
use libsys::cap::{invoke, Cap, Endpoint, Frame, SlotPath, INVOKED_CAP};
use libsys::object::{CapKind, Rights};
use libsys::syscall::{self, raw_syscall, Registers};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    boot_info_describes_the_root_task,
    identify_names_every_boot_cap,
    identify_an_empty_slot_fails,
    debug_write_prints_and_checks_its_buffer,
    invalid_syscall_numbers_are_refused,
    yield_returns,
    unknown_labels_are_illegal_operations,
    invocations_on_an_empty_slot_fail,
    invocations_on_a_reply_cap_are_illegal,
    truncated_messages_name_the_missing_argument,
];

fn boot_info_describes_the_root_task(ctx: &mut Ctx) -> TestResult {
    let info = ctx.info;
    ensure!(
        info.cnode_radix == ROOT_CNODE_RADIX,
        "radix {}",
        info.cnode_radix
    );
    ensure!(
        info.size as usize >= core::mem::size_of::<BootInfo>(),
        "size {}",
        info.size
    );
    let u = info.untyped_slots;
    let a = info.archive_slots;
    ensure!(
        u.start >= SLOT_FIRST_VARIABLE && u.start < u.end,
        "untyped slots {u:?}"
    );
    ensure!(a.start >= u.end && a.end >= a.start, "archive slots {a:?}");
    ensure!(
        info.first_free_slot >= a.end,
        "first free slot {}",
        info.first_free_slot
    );
    ensure!(
        (a.end - a.start) * 4096 >= info.archive_length,
        "{} archive frames for {} bytes",
        a.end - a.start,
        info.archive_length
    );
    let ram: u64 = info.untyped[..(u.end - u.start) as usize]
        .iter()
        .filter(|d| d.is_device == 0)
        .map(|d| 1u64 << d.size_bits)
        .sum();
    ensure!(ram >= 16 << 20, "only {ram} bytes of untyped RAM");
    Ok(())
}

fn expect_kind(slot: u64, kind: CapKind) -> TestResult {
    let id = ok!(Cap::<Endpoint>::from_cptr(slot).identify());
    ensure!(
        id.kind == kind as u64,
        "slot {slot}: kind {} expected {}",
        id.kind,
        kind.name()
    );
    Ok(())
}

fn identify_names_every_boot_cap(ctx: &mut Ctx) -> TestResult {
    expect_kind(SLOT_TCB, CapKind::Tcb)?;
    expect_kind(SLOT_CNODE, CapKind::CNode)?;
    expect_kind(SLOT_VSPACE, CapKind::Pml4)?;
    expect_kind(SLOT_IPC_BUFFER, CapKind::Frame)?;
    expect_kind(SLOT_IRQ_CONTROL, CapKind::IrqControl)?;
    expect_kind(SLOT_IO_PORT_CONTROL, CapKind::IoPortControl)?;
    expect_kind(SLOT_BOOT_INFO_FRAME, CapKind::Frame)?;
    let info = ctx.info;
    for slot in info.untyped_slots.start..info.untyped_slots.end {
        expect_kind(slot, CapKind::Untyped)?;
    }
    for slot in info.archive_slots.start..info.archive_slots.end {
        expect_kind(slot, CapKind::Frame)?;
    }
    let id = ok!(Cap::<Frame>::from_cptr(SLOT_IPC_BUFFER).identify());
    ensure!(
        id.rights == Rights::READ.union(Rights::WRITE).bits() || id.rights == Rights::ALL.bits(),
        "IPC buffer rights {:#x}",
        id.rights
    );
    Ok(())
}

fn identify_an_empty_slot_fails(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    expect_any!(
        Cap::<Endpoint>::from_cptr(slot).identify(),
        MISSING_CAP,
        INVOKED_CAP
    );
    expect_any!(
        Cap::<Endpoint>::from_cptr(0).identify(),
        MISSING_CAP,
        INVOKED_CAP
    );
    // A cptr whose guard bits do not match the root CNode's guard.
    expect_any!(
        Cap::<Endpoint>::from_cptr(1 << 40).identify(),
        MISSING_CAP,
        INVOKED_CAP
    );
    Ok(())
}

fn debug_write_prints_and_checks_its_buffer(_ctx: &mut Ctx) -> TestResult {
    ensure!(syscall::debug_write(b"").is_ok(), "empty write failed");
    let call = |address: u64, length: u64| {
        let regs = Registers {
            cptr: libsys::bootinfo::SLOT_DEBUG_CONSOLE,
            info: MessageInfo(0),
            words: [address, length, 0, 0],
        };
        raw_syscall(Syscall::DebugWrite as u64, regs).0
    };
    let big = [b'x'; 4097];
    let too_long = call(big.as_ptr() as u64, 4097);
    ensure!(
        too_long == Error::InvalidArgument as u64,
        "4097 bytes: {too_long}"
    );
    for address in [
        0,
        0x1000,
        0xffff_8000_0000_0000,
        0xffff_ffff_ffff_f000,
        0x8000_0000_0000,
    ] {
        let code = call(address, 16);
        ensure!(
            code == Error::BadAddress as u64,
            "address {address:#x}: code {code}"
        );
    }
    // A range that starts in mapped memory and runs off its end.
    let code = call(BOOT_INFO_ADDR + 4096 - 8, 16);
    ensure!(
        code == Error::BadAddress as u64,
        "range off the boot info page: {code}"
    );
    // Address + length wrapping around.
    let code = call(u64::MAX - 4, 16);
    ensure!(code == Error::BadAddress as u64, "wrapping range: {code}");
    // The write takes at most what the UART's FIFO holds, and says how much.
    let line = b"utest: debug_write takes at most 16 bytes per call\n";
    let regs = Registers {
        cptr: libsys::bootinfo::SLOT_DEBUG_CONSOLE,
        info: MessageInfo(0),
        words: [line.as_ptr() as u64, line.len() as u64, 0, 0],
    };
    let (code, out) = raw_syscall(Syscall::DebugWrite as u64, regs);
    ensure!(
        code == 0 && out.words[0] <= 16,
        "code {code}, {} bytes taken",
        out.words[0]
    );
    // Finish the line so the log stays readable.
    ensure!(
        syscall::debug_write(&line[out.words[0] as usize..]).is_ok(),
        "the rest of the line"
    );
    // Without the debug console cap there is no printing.
    let no_console = Registers {
        cptr: libsys::bootinfo::SLOT_CNODE,
        ..regs
    };
    let code = raw_syscall(Syscall::DebugWrite as u64, no_console).0;
    ensure!(
        code == Error::InvalidCapability as u64,
        "DebugWrite through a CNode cap: {code}"
    );
    Ok(())
}

fn invalid_syscall_numbers_are_refused(_ctx: &mut Ctx) -> TestResult {
    let past_the_last = Syscall::ALL.iter().map(|s| *s as u64).max().unwrap_or(0) + 1;
    for number in [0, past_the_last, 0x100, 1 << 32, u64::MAX] {
        let (code, _) = raw_syscall(number, Registers::default());
        ensure!(
            code == Error::InvalidSyscall as u64,
            "syscall {number:#x}: code {code}"
        );
    }
    Ok(())
}

fn yield_returns(_ctx: &mut Ctx) -> TestResult {
    for _ in 0..10 {
        syscall::yield_now();
    }
    let (code, _) = raw_syscall(Syscall::Yield as u64, Registers::default());
    ensure!(code == 0, "yield returned {code}");
    Ok(())
}

fn unknown_labels_are_illegal_operations(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(12)?;
    let frame: Cap<Frame> = ctx.make()?;
    let targets = [
        untyped.cptr(),
        SLOT_CNODE,
        SLOT_TCB,
        frame.cptr(),
        SLOT_VSPACE,
        SLOT_IRQ_CONTROL,
    ];
    for cptr in targets {
        for label in [0u64, 0x1f, 0x7fff, 1 << 40] {
            let info = MessageInfo::new(label, 0, 0);
            let result = syscall::call(cptr, info, [0; 4]);
            expect_err!(result, Error::IllegalOperation, ANY_ARG);
        }
    }
    // A label of another object: a CNode label on a TCB, a TCB label on a frame.
    expect_any!(
        invoke(SLOT_TCB, Label::CNodeDelete, &[0, 64]),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    expect_any!(
        invoke(frame.cptr(), Label::TcbResume, &[]),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    Ok(())
}

fn invocations_on_an_empty_slot_fail(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    for label in Label::ALL {
        expect_any!(invoke(slot, *label, &[0; 8]), MISSING_CAP, INVOKED_CAP);
    }
    Ok(())
}

fn invocations_on_a_reply_cap_are_illegal(ctx: &mut Ctx) -> TestResult {
    let reply: Cap<libsys::cap::Reply> = ctx.make()?;
    ensure!(
        ok!(reply.identify()).kind == CapKind::Reply as u64,
        "not a reply cap"
    );
    for label in [
        Label::CNodeCopy,
        Label::TcbResume,
        Label::FrameMap,
        Label::UntypedRetype,
    ] {
        expect_any!(
            invoke(reply.cptr(), label, &[0; 6]),
            WRONG_INVOKED,
            INVOKED_CAP
        );
    }
    ok!(ROOT.delete(SlotPath::at(reply.cptr())));
    ensure!(reply.identify().is_err(), "deleted reply cap still there");
    Ok(())
}

/// Each label with arguments, a cap it applies to, and valid arguments; cut short by one
/// word, the invocation must name the missing word.
fn truncated_messages_name_the_missing_argument(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(12)?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let notification: Cap<libsys::cap::Notification> = ctx.make()?;
    let tcb: Cap<libsys::cap::Tcb> = ctx.make()?;
    let frame: Cap<Frame> = ctx.make()?;
    let table: Cap<libsys::cap::PageTable> = ctx.make()?;
    let free = ctx.slot()?;
    let handler_slot = ctx.slot()?;
    let ports_slot = ctx.slot()?;
    let handler = ok!(Cap::<libsys::cap::IrqControl>::from_cptr(SLOT_IRQ_CONTROL)
        .get(10, SlotPath::at(handler_slot)));
    let ports = ok!(
        Cap::<libsys::cap::IoPortControl>::from_cptr(SLOT_IO_PORT_CONTROL).issue(
            0x80,
            0x80,
            SlotPath::at(ports_slot)
        )
    );
    let e = endpoint.cptr();
    let registers = [0u64; 19];
    let cases: [(u64, Label, &[u64]); 17] = [
        (
            untyped.cptr(),
            Label::UntypedRetype,
            &[3, 0, SLOT_CNODE, free, 1],
        ),
        (SLOT_CNODE, Label::CNodeCopy, &[free, 64, e, 64, 0xf]),
        (SLOT_CNODE, Label::CNodeMint, &[free, 64, e, 64, 0xf, 0]),
        (SLOT_CNODE, Label::CNodeMove, &[free, 64, e, 64]),
        (SLOT_CNODE, Label::CNodeMutate, &[free, 64, e, 64, 0]),
        (SLOT_CNODE, Label::CNodeDelete, &[free, 64]),
        (SLOT_CNODE, Label::CNodeRevoke, &[free, 64]),
        (tcb.cptr(), Label::TcbConfigure, &[0, 0, 0, 0, 0]),
        (tcb.cptr(), Label::TcbSetPriority, &[0]),
        (tcb.cptr(), Label::TcbWriteRegisters, &registers),
        (
            tcb.cptr(),
            Label::TcbBindNotification,
            &[notification.cptr()],
        ),
        (
            frame.cptr(),
            Label::FrameMap,
            &[SLOT_VSPACE, 0x5000_0000_0000, 3],
        ),
        (
            table.cptr(),
            Label::PageTableMap,
            &[SLOT_VSPACE, 0x5000_0000_0000],
        ),
        (SLOT_IRQ_CONTROL, Label::IrqControlGet, &[11, free, 64]),
        (
            handler.cptr(),
            Label::IrqHandlerSetNotification,
            &[notification.cptr()],
        ),
        (
            SLOT_IO_PORT_CONTROL,
            Label::IoPortControlIssue,
            &[0x81, 0x81, free, 64],
        ),
        (ports.cptr(), Label::IoPortOut, &[0x80, 1, 0]),
    ];
    for (cptr, label, args) in cases {
        let missing = args.len() - 1;
        let result = invoke(cptr, label, &args[..missing]);
        if !matches!(result, Err(e) if e.is(Error::InvalidArgument, missing as u64)) {
            return Err(crate::fail!(
                "{} without word {missing}: {result:?}",
                label.name()
            ));
        }
    }
    let result = invoke(ports.cptr(), Label::IoPortIn, &[0x80]);
    expect_err!(result, Error::InvalidArgument, 1);
    ctx.expect_empty(free)
}
