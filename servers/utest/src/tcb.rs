//! TCB invocations: configure, set_priority, read/write registers, resume, suspend,
//! bind/unbind notification.
//!
//! Helper threads here run in the root task's own CSpace and VSpace on static stacks, with
//! no IPC buffer; they only count and yield.

use crate::check::{Fail, TestResult, MISSING_CAP, OUT_OF_RANGE, WRONG_INVOKED};
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::Error;
use libsys::bootinfo::{SLOT_CNODE, SLOT_TCB, SLOT_VSPACE};
use libsys::cap::{Cap, Endpoint, Frame, Notification, Tcb, TcbConfig, UserRegisters, INVOKED_CAP};
use libsys::syscall::yield_now;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    configured_thread_runs_in_our_address_space,
    configure_names_each_bad_argument,
    set_priority_allows_at_most_our_own,
    configure_with_priority_sets_both_or_nothing,
    write_registers_then_read_them_back,
    suspend_stops_and_resume_restarts,
    resuming_an_unconfigured_thread_is_harmless,
    non_canonical_rip_is_refused_or_faults,
    bind_and_unbind_notification,
    tcb_invocations_need_a_tcb,
];

const STACK_SIZE: usize = 8192;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// Stacks for helper threads (one per counter slot).
static mut STACKS: [Stack; 2] = [Stack([0; STACK_SIZE]), Stack([0; STACK_SIZE])];
/// What each helper thread counts.
pub static COUNTERS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// A helper thread's body: count forever, yielding.
extern "C" fn count(index: u64) -> ! {
    let counter = &COUNTERS[(index & 1) as usize];
    loop {
        counter.fetch_add(1, Ordering::Relaxed);
        yield_now();
    }
}

fn stack_top(index: usize) -> u64 {
    // SAFETY: only the address of the static is taken; no reference is formed.
    let base = unsafe { core::ptr::addr_of!(STACKS[index]) } as u64;
    base + STACK_SIZE as u64 - 8
}

/// A new TCB in our CSpace and VSpace at our priority, with registers set to run the
/// counter `index` but not resumed.
pub fn helper(ctx: &mut Ctx, index: usize) -> Result<Cap<Tcb>, Fail> {
    helper_with_fault_endpoint(ctx, index, Cap::null())
}

/// [`helper`] with a fault endpoint.
pub fn helper_with_fault_endpoint(
    ctx: &mut Ctx,
    index: usize,
    fault_endpoint: Cap<Endpoint>,
) -> Result<Cap<Tcb>, Fail> {
    let tcb: Cap<Tcb> = ctx.make()?;
    let config = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace: Cap::from_cptr(SLOT_VSPACE),
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint,
    };
    ok!(tcb.configure(&config));
    ok!(tcb.set_priority(ctx.info.priority));
    COUNTERS[index].store(0, Ordering::Relaxed);
    let registers = UserRegisters {
        rip: count as *const () as u64,
        rsp: stack_top(index),
        rflags: 0x202,
        rdi: index as u64,
        ..UserRegisters::default()
    };
    ok!(tcb.write_registers(false, &registers));
    Ok(tcb)
}

/// Yields until counter `index` moves (at most `rounds` times); returns its value.
fn wait_for_count(index: usize, rounds: u32) -> u64 {
    for _ in 0..rounds {
        let value = COUNTERS[index].load(Ordering::Relaxed);
        if value > 0 {
            return value;
        }
        yield_now();
    }
    COUNTERS[index].load(Ordering::Relaxed)
}

fn configured_thread_runs_in_our_address_space(ctx: &mut Ctx) -> TestResult {
    let tcb = helper(ctx, 0)?;
    ensure!(wait_for_count(0, 50) == 0, "ran before it was resumed");
    ok!(tcb.resume());
    ensure!(wait_for_count(0, 1000) > 0, "the helper never ran");
    ok!(tcb.suspend());
    Ok(())
}

fn configure_names_each_bad_argument(ctx: &mut Ctx) -> TestResult {
    let tcb: Cap<Tcb> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let frame: Cap<Frame> = ctx.make()?;
    let vspace = crate::vspace_quota::make_vspace(ctx)?;
    let empty = ctx.slot()?;
    let good = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace,
        ipc_buffer_addr: 0x10_0000,
        ipc_buffer_frame: frame,
        fault_endpoint: endpoint,
    };
    let bad = |change: fn(&mut TcbConfig, u64, u64), a: u64, b: u64| {
        let mut config = good;
        change(&mut config, a, b);
        tcb.configure(&config)
    };
    let e = endpoint.cptr();
    let f = frame.cptr();
    expect_err!(
        bad(|c, e, _| c.cspace = Cap::from_cptr(e), e, 0),
        Error::InvalidCapability,
        0
    );
    expect_err!(
        bad(|c, e, _| c.vspace = Cap::from_cptr(e), e, 0),
        Error::InvalidCapability,
        1
    );
    expect_err!(
        bad(|c, _, _| c.ipc_buffer_addr = 0x10_0008, 0, 0),
        Error::AlignmentError,
        2
    );
    let kernel_half = 0xffff_8000_0000_0000;
    expect_any!(
        bad(|c, a, _| c.ipc_buffer_addr = a, kernel_half, 0),
        OUT_OF_RANGE,
        2
    );
    expect_err!(
        bad(|c, e, _| c.ipc_buffer_frame = Cap::from_cptr(e), e, 0),
        Error::InvalidCapability,
        3
    );
    expect_err!(
        bad(|c, _, f| c.fault_endpoint = Cap::from_cptr(f), 0, f),
        Error::InvalidCapability,
        4
    );
    expect_any!(
        bad(|c, e, _| c.cspace = Cap::from_cptr(e), empty, 0),
        MISSING_CAP,
        0
    );
    expect_any!(
        bad(|c, e, _| c.fault_endpoint = Cap::from_cptr(e), empty, 0),
        MISSING_CAP,
        4
    );
    ok!(tcb.configure(&good));
    // Null caps leave the bindings as they are.
    let unchanged = TcbConfig {
        cspace: Cap::null(),
        vspace: Cap::null(),
        ipc_buffer_addr: 0x10_0000,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: Cap::null(),
    };
    ok!(tcb.configure(&unchanged));
    Ok(())
}

/// `TcbConfigure`'s optional sixth word (the priority, as `TcbSetPriority`).
fn configure_with_priority_sets_both_or_nothing(ctx: &mut Ctx) -> TestResult {
    let tcb: Cap<Tcb> = ctx.make()?;
    let own = ctx.info.priority;
    let config = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace: Cap::from_cptr(SLOT_VSPACE),
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: Cap::null(),
    };
    for priority in [own + 1, 256, u64::MAX] {
        if priority <= own {
            continue;
        }
        let result = tcb.configure_with_priority(&config, priority);
        ensure!(
            result.is_err(),
            "priority {priority} above our own {own} was accepted"
        );
        expect_any!(result, OUT_OF_RANGE, 5);
    }
    COUNTERS[1].store(0, Ordering::Relaxed);
    let registers = UserRegisters {
        rip: count as *const () as u64,
        rsp: stack_top(1),
        rflags: 0x202,
        rdi: 1,
        ..UserRegisters::default()
    };
    ok!(tcb.write_registers(false, &registers));
    ok!(tcb.configure_with_priority(&config, own));
    ok!(tcb.resume());
    ensure!(
        wait_for_count(1, 1000) > 0,
        "the configured thread never ran"
    );
    ok!(tcb.suspend());
    Ok(())
}

fn set_priority_allows_at_most_our_own(ctx: &mut Ctx) -> TestResult {
    let tcb: Cap<Tcb> = ctx.make()?;
    let own = ctx.info.priority;
    ok!(tcb.set_priority(own));
    ok!(tcb.set_priority(0));
    ok!(tcb.set_priority(own / 2));
    for priority in [own + 1, 255, 256, 1 << 32, u64::MAX] {
        if priority <= own {
            continue;
        }
        let result = tcb.set_priority(priority);
        ensure!(
            result.is_err(),
            "priority {priority} above our own {own} was accepted"
        );
        expect_any!(result, OUT_OF_RANGE, 0);
    }

    ok!(Cap::<Tcb>::from_cptr(SLOT_TCB).set_priority(own));
    Ok(())
}

fn write_registers_then_read_them_back(ctx: &mut Ctx) -> TestResult {
    let tcb = helper(ctx, 0)?;
    let mut words = [0u64; libsys::abi::REGISTER_COUNT];
    for (i, w) in words.iter_mut().enumerate() {
        *w = 0x1111_0000 + i as u64;
    }
    words[0] = count as *const () as u64;
    words[1] = stack_top(0);
    words[2] = 0x202;
    let written = UserRegisters::from_words(&words);
    ok!(tcb.write_registers(false, &written));
    let read = ok!(tcb.read_registers());
    let (mut a, mut b) = (written, read);
    a.rflags = 0;
    b.rflags = 0;
    ensure!(a == b, "wrote {written:x?}, read {read:x?}");
    ensure!(
        read.rflags & 0x200 != 0,
        "interrupts disabled in user rflags {:#x}",
        read.rflags
    );
    // A flag user code may not set (IOPL 3) is not taken as is.
    let mut sneaky = written;
    sneaky.rflags = 0x3202;
    let result = tcb.write_registers(false, &sneaky);
    if result.is_ok() {
        let read = ok!(tcb.read_registers());
        ensure!(
            read.rflags & 0x3000 == 0,
            "IOPL set to 3: rflags {:#x}",
            read.rflags
        );
    } else {
        expect_err!(result, Error::InvalidArgument, 3);
    }
    Ok(())
}

fn suspend_stops_and_resume_restarts(ctx: &mut Ctx) -> TestResult {
    let tcb = helper(ctx, 1)?;
    ok!(tcb.resume());
    ensure!(wait_for_count(1, 1000) > 0, "helper never ran");
    ok!(tcb.suspend());
    let stopped = COUNTERS[1].load(Ordering::Relaxed);
    for _ in 0..50 {
        yield_now();
    }
    let later = COUNTERS[1].load(Ordering::Relaxed);
    ensure!(
        later == stopped,
        "suspended helper kept counting: {stopped} -> {later}"
    );
    // Suspending twice is fine; resume continues where it stopped.
    ok!(tcb.suspend());
    ok!(tcb.resume());
    for _ in 0..50 {
        yield_now();
    }
    ensure!(
        COUNTERS[1].load(Ordering::Relaxed) > later,
        "resumed helper did not count"
    );
    ok!(tcb.suspend());
    Ok(())
}

fn resuming_an_unconfigured_thread_is_harmless(ctx: &mut Ctx) -> TestResult {
    let tcb: Cap<Tcb> = ctx.make()?;
    let result = tcb.resume();
    for _ in 0..20 {
        yield_now();
    }
    if let Err(e) = result {
        let allowed = [
            Error::IllegalOperation,
            Error::RevokeFirst,
            Error::InvalidArgument,
        ];
        ensure!(allowed.contains(&e.error), "resume refused with {e}");
    }
    let registers = UserRegisters {
        rip: 0x40_0000,
        rsp: 0x1000,
        rflags: 0x202,
        ..UserRegisters::default()
    };
    let _ = tcb.write_registers(true, &registers);
    for _ in 0..20 {
        yield_now();
    }
    Ok(())
}

fn non_canonical_rip_is_refused_or_faults(ctx: &mut Ctx) -> TestResult {
    let tcb = helper(ctx, 0)?;
    for rip in [
        0x0000_8000_0000_0000,
        0xffff_8000_0000_1000,
        0x1234_5678_9abc_def0,
    ] {
        let mut registers = ok!(tcb.read_registers());
        registers.rip = rip;
        let result = tcb.write_registers(true, &registers);
        for _ in 0..20 {
            yield_now();
        }
        ensure!(
            COUNTERS[0].load(Ordering::Relaxed) == 0,
            "thread ran with rip {rip:#x}?"
        );
        if result.is_err() {
            expect_err!(result, Error::InvalidArgument, 1);
        }
        let _ = tcb.suspend();
    }
    Ok(())
}

fn bind_and_unbind_notification(ctx: &mut Ctx) -> TestResult {
    let tcb: Cap<Tcb> = ctx.make()?;
    let other: Cap<Tcb> = ctx.make()?;
    let notification: Cap<Notification> = ctx.make()?;
    let second: Cap<Notification> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    expect_err!(
        tcb.bind_notification(endpoint.cast()),
        Error::InvalidCapability,
        0
    );
    let empty = ctx.slot()?;
    expect_any!(tcb.bind_notification(Cap::from_cptr(empty)), MISSING_CAP, 0);
    expect_any!(
        tcb.unbind_notification(),
        [Error::IllegalOperation, Error::RevokeFirst],
        INVOKED_CAP
    );
    ok!(tcb.bind_notification(notification));
    // Either side already bound.
    expect_any!(
        tcb.bind_notification(second),
        [Error::IllegalOperation, Error::RevokeFirst],
        INVOKED_CAP
    );
    expect_any!(
        other.bind_notification(notification),
        [Error::IllegalOperation, Error::RevokeFirst],
        0
    );
    ok!(tcb.unbind_notification());
    ok!(other.bind_notification(notification));
    ok!(tcb.bind_notification(second));
    // Binding needs the right to wait on the notification.
    let write_only = ctx.mint(notification, libsys::object::Rights::WRITE, 0)?;
    ok!(other.unbind_notification());
    expect_err!(
        other.bind_notification(write_only),
        Error::InsufficientRights,
        0
    );
    Ok(())
}

fn tcb_invocations_need_a_tcb(ctx: &mut Ctx) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    let not_tcb: Cap<Tcb> = frame.cast();
    let notification: Cap<Notification> = ctx.make()?;
    let config = TcbConfig {
        cspace: Cap::null(),
        vspace: Cap::null(),
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: Cap::null(),
    };
    expect_any!(not_tcb.configure(&config), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_tcb.set_priority(1), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_tcb.read_registers(), WRONG_INVOKED, INVOKED_CAP);
    let registers = UserRegisters::default();
    expect_any!(
        not_tcb.write_registers(false, &registers),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    expect_any!(not_tcb.resume(), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_tcb.suspend(), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(
        not_tcb.bind_notification(notification),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    expect_any!(not_tcb.unbind_notification(), WRONG_INVOKED, INVOKED_CAP);
    Ok(())
}
