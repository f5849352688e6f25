//! Time for userspace: the time-stamp counter frequency in the boot info, `Sleep`, and the
//! timed calls (`CallTimeout`, `RecvTimeout`) that let a server bound every wait.
//!
//! Helper threads run in the root task's CSpace and VSpace on the static stacks below, at
//! our priority; they record what their calls returned, then yield forever (the runner's
//! revoke destroys them).

use crate::check::{Fail, TestResult};
use crate::{ensure, ok, Ctx, Test};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::{Error, MessageInfo};
use libsys::bootinfo::{SLOT_CNODE, SLOT_VSPACE};
use libsys::cap::{Cap, Endpoint, Notification, Tcb, TcbConfig, UserRegisters};
use libsys::syscall::{self, yield_now};
use libsys::time::{now, Clock};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    the_boot_info_gives_the_time_stamp_counter_frequency,
    sleep_returns_at_or_after_its_deadline,
    a_call_nobody_receives_times_out_and_is_withdrawn,
    a_call_whose_server_never_replies_times_out,
    a_notification_wait_times_out_or_takes_the_signal,
    a_timed_receiver_takes_a_call_and_its_old_deadline_is_forgotten,
    a_timed_call_answered_by_reply_recv_leaves_no_deadline_behind,
    a_spinning_threads_cpu_time_grows_and_a_blocked_ones_does_not,
    a_threads_own_cpu_time_includes_what_is_not_charged_yet,
];

const STACK_SIZE: usize = 8192;
const HELPERS: usize = 2;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

static mut STACKS: [Stack; HELPERS] = [const { Stack([0; STACK_SIZE]) }; HELPERS];

/// What the helpers' calls returned (`NOT_YET` until they return).
static CODES: [AtomicU64; 2] = [const { AtomicU64::new(NOT_YET) }; 2];
/// The cap a helper works on, and the time-stamp counter ticks of one millisecond.
static HELPER_CAP: AtomicU64 = AtomicU64::new(0);
static TICKS_PER_MS: AtomicU64 = AtomicU64::new(1);
const NOT_YET: u64 = u64::MAX;

fn clock(ctx: &Ctx) -> Clock {
    Clock::new(ctx.info.tsc_hz)
}

/// The deadline `ms` milliseconds from now.
fn in_ms(ctx: &Ctx, ms: u64) -> u64 {
    clock(ctx).deadline_after(now(), ms * 1_000_000)
}

fn reset(ctx: &Ctx, cap: u64) {
    for c in &CODES {
        c.store(NOT_YET, Ordering::SeqCst);
    }
    HELPER_CAP.store(cap, Ordering::SeqCst);
    TICKS_PER_MS.store(clock(ctx).ticks_from_nanos(1_000_000), Ordering::SeqCst);
}

fn code(index: usize) -> u64 {
    CODES[index].load(Ordering::SeqCst)
}

fn helper_ms(ms: u64) -> u64 {
    now().saturating_add(ms * TICKS_PER_MS.load(Ordering::SeqCst))
}

fn idle() -> ! {
    loop {
        yield_now();
    }
}

fn error_code<T>(result: Result<T, libsys::syscall::InvocationError>) -> u64 {
    match result {
        Ok(_) => 0,
        Err(e) => e.error as u64,
    }
}

/// Receives a call and never answers it.
extern "C" fn silent_server(_: u64) -> ! {
    let ep: Cap<Endpoint> = Cap::from_cptr(HELPER_CAP.load(Ordering::SeqCst));
    CODES[0].store(error_code(ep.recv()), Ordering::SeqCst);
    idle()
}

/// Receives with a deadline 40 ms away, replies word 0 + 1, then receives again without
/// a deadline: records both codes.
extern "C" fn timed_server(_: u64) -> ! {
    let ep: Cap<Endpoint> = Cap::from_cptr(HELPER_CAP.load(Ordering::SeqCst));
    match ep.recv_timeout(helper_ms(40)) {
        Ok(m) => {
            CODES[0].store(0, Ordering::SeqCst);
            let _ = libsys::cap::reply(MessageInfo::new(0, 1, 0), [m.words[0] + 1, 0, 0, 0]);
        }
        Err(e) => CODES[0].store(e.error as u64, Ordering::SeqCst),
    }
    CODES[1].store(error_code(ep.recv()), Ordering::SeqCst);
    idle()
}

/// Answers one call with `ReplyRecv` (the fast path's server half), then waits.
extern "C" fn reply_recv_server(_: u64) -> ! {
    let ep: Cap<Endpoint> = Cap::from_cptr(HELPER_CAP.load(Ordering::SeqCst));
    let first = ep.recv();
    CODES[0].store(error_code(first), Ordering::SeqCst);
    let word = first.map(|m| m.words[0]).unwrap_or(0);
    let again = ep.reply_recv(MessageInfo::new(0, 1, 0), [word + 1, 0, 0, 0]);
    CODES[1].store(error_code(again), Ordering::SeqCst);
    idle()
}

/// Sleeps 60 ms, then signals the notification.
extern "C" fn late_signaller(_: u64) -> ! {
    syscall::sleep_until(helper_ms(60));
    let n: Cap<Notification> = Cap::from_cptr(HELPER_CAP.load(Ordering::SeqCst));
    CODES[0].store(error_code(n.signal()), Ordering::SeqCst);
    idle()
}

/// Spins forever without a system call (only the timer tick takes the CPU from it).
extern "C" fn spinner(_: u64) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

fn stack_top(index: usize) -> u64 {
    // SAFETY: only the address of the static is taken; no reference is formed.
    let base = unsafe { core::ptr::addr_of!(STACKS[index]) } as u64;
    base + STACK_SIZE as u64 - 8
}

/// A thread in our CSpace and VSpace at our priority, running `body` on stack `stack`.
pub(crate) fn start(
    ctx: &mut Ctx,
    body: extern "C" fn(u64) -> !,
    stack: usize,
) -> Result<Cap<Tcb>, Fail> {
    let tcb: Cap<Tcb> = ctx.make()?;
    let config = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace: Cap::from_cptr(SLOT_VSPACE),
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: Cap::null(),
    };
    ok!(tcb.configure(&config));
    ok!(tcb.set_priority(ctx.info.priority));
    let registers = UserRegisters {
        rip: body as *const () as u64,
        rsp: stack_top(stack),
        rflags: 0x202,
        ..UserRegisters::default()
    };
    ok!(tcb.write_registers(true, &registers));
    Ok(tcb)
}

/// Lets a just-started helper run until it blocks.
fn settle() {
    for _ in 0..10 {
        yield_now();
    }
}

fn yield_until(done: impl Fn() -> bool) -> TestResult {
    for _ in 0..1000 {
        if done() {
            return Ok(());
        }
        yield_now();
    }
    Err(crate::fail!("the helper did not get there"))
}

fn the_boot_info_gives_the_time_stamp_counter_frequency(ctx: &mut Ctx) -> TestResult {
    let hz = ctx.info.tsc_hz;
    // Any x86-64 counter runs at tens of MHz at least; 0 would mean "not measured".
    ensure!(hz >= 10_000_000, "tsc_hz = {hz}");
    Ok(())
}

fn sleep_returns_at_or_after_its_deadline(ctx: &mut Ctx) -> TestResult {
    let deadline = in_ms(ctx, 20);
    syscall::sleep_until(deadline);
    let woke = now();
    ensure!(woke >= deadline, "woke {} ticks early", deadline - woke);
    // A deadline that has passed does not block.
    let before = now();
    syscall::sleep_until(before - 1);
    ensure!(
        now() - before < clock(ctx).ticks_from_nanos(5_000_000),
        "a past deadline slept"
    );
    Ok(())
}

fn a_call_nobody_receives_times_out_and_is_withdrawn(ctx: &mut Ctx) -> TestResult {
    let ep: Cap<Endpoint> = ctx.make()?;
    let deadline = in_ms(ctx, 20);
    let result = ep.call_timeout(MessageInfo::new(1, 1, 0), [5, 0, 0, 0], deadline);
    ensure!(
        matches!(result, Err(e) if e.error == Error::TimedOut),
        "call_timeout: {result:?}"
    );
    ensure!(now() >= deadline, "timed out early");
    let left = ep.nb_recv();
    ensure!(
        matches!(left, Err(e) if e.error == Error::WouldBlock),
        "the message stayed queued: {left:?}"
    );
    Ok(())
}

/// A hostile server takes the call and never replies: the caller gets `TimedOut`, and the
/// server's call is still the one it owes (its reply would find nobody).
fn a_call_whose_server_never_replies_times_out(ctx: &mut Ctx) -> TestResult {
    let ep: Cap<Endpoint> = ctx.make()?;
    reset(ctx, ep.cptr());
    start(ctx, silent_server, 0)?;
    settle();
    let deadline = in_ms(ctx, 30);
    let result = ep.call_timeout(MessageInfo::new(1, 1, 0), [5, 0, 0, 0], deadline);
    ensure!(
        code(0) == 0,
        "the server did not receive the call: {}",
        code(0)
    );
    ensure!(
        matches!(result, Err(e) if e.error == Error::TimedOut),
        "call_timeout: {result:?}"
    );
    ensure!(now() >= deadline, "timed out early");
    Ok(())
}

fn a_notification_wait_times_out_or_takes_the_signal(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let result = n.wait_timeout(in_ms(ctx, 10));
    ensure!(
        matches!(result, Err(e) if e.error == Error::TimedOut),
        "wait_timeout: {result:?}"
    );
    let badged: Cap<Notification> = ctx.mint(n, libsys::object::Rights::ALL, 0x40)?;
    ok!(badged.signal());
    let bits = n.wait_timeout(in_ms(ctx, 10));
    ensure!(bits == Ok(0x40), "wait_timeout after a signal: {bits:?}");
    Ok(())
}

/// A receiver with a deadline takes an ordinary Call (through the general path: the fast
/// path leaves timed receivers alone) and replies; its deadline is forgotten, so its next,
/// untimed, receive is still waiting well after that deadline.
fn a_timed_receiver_takes_a_call_and_its_old_deadline_is_forgotten(ctx: &mut Ctx) -> TestResult {
    let ep: Cap<Endpoint> = ctx.make()?;
    reset(ctx, ep.cptr());
    start(ctx, timed_server, 0)?;
    settle();
    let reply = ep.call(MessageInfo::new(1, 1, 0), [41, 0, 0, 0]);
    ensure!(
        matches!(reply, Ok(m) if m.words[0] == 42),
        "call to a timed receiver: {reply:?}"
    );
    ensure!(code(0) == 0, "the timed receive returned {}", code(0));
    syscall::sleep_until(in_ms(ctx, 80));
    ensure!(
        code(1) == NOT_YET,
        "the untimed receive after the timed one returned {}",
        code(1)
    );
    Ok(())
}

/// A timed call answered by `ReplyRecv` (which the fast path would take for a plain call)
/// leaves the timeout list: a later untimed wait is not cut short by the old deadline.
fn a_timed_call_answered_by_reply_recv_leaves_no_deadline_behind(ctx: &mut Ctx) -> TestResult {
    let ep: Cap<Endpoint> = ctx.make()?;
    reset(ctx, ep.cptr());
    start(ctx, reply_recv_server, 0)?;
    settle();
    let reply = ep.call_timeout(MessageInfo::new(1, 1, 0), [1, 0, 0, 0], in_ms(ctx, 30));
    ensure!(
        matches!(reply, Ok(m) if m.words[0] == 2),
        "timed call: {reply:?}"
    );
    // Wait (untimed) past the old deadline for a signal that comes at 60 ms.
    let n: Cap<Notification> = ctx.make()?;
    reset(ctx, n.cptr());
    start(ctx, late_signaller, 1)?;
    let bits = n.wait();
    ensure!(bits.is_ok(), "the untimed wait ended with {bits:?}");
    yield_until(|| code(0) == 0)?;
    Ok(())
}

/// `TcbReadCpuTime`: while we sleep 50 ms, a spinner at our priority runs nearly all of
/// that time and is charged for it (at least 30 ms: the charge is exact to within a timer
/// tick of 10 ms, and the first tick may take the CPU back for us); a thread blocked in
/// `Recv` the whole time is charged nothing.
fn a_spinning_threads_cpu_time_grows_and_a_blocked_ones_does_not(ctx: &mut Ctx) -> TestResult {
    let ep: Cap<Endpoint> = ctx.make()?;
    reset(ctx, ep.cptr());
    let blocked = start(ctx, silent_server, 1)?;
    settle();
    let spinning = start(ctx, spinner, 0)?;
    let (spun, slept) = (spinning.read_cpu_time(), blocked.read_cpu_time());
    let (Ok(spun), Ok(slept)) = (spun, slept) else {
        return Err(crate::fail!("read_cpu_time: {spun:?}, {slept:?}"));
    };
    syscall::sleep_until(in_ms(ctx, 50));
    let spun_after = spinning.read_cpu_time();
    let slept_after = blocked.read_cpu_time();
    ok!(spinning.suspend());
    let (Ok(spun_after), Ok(slept_after)) = (spun_after, slept_after) else {
        return Err(crate::fail!(
            "read_cpu_time: {spun_after:?}, {slept_after:?}"
        ));
    };
    let ms = clock(ctx).ticks_from_nanos(1_000_000);
    ensure!(
        spun_after.saturating_sub(spun) >= 30 * ms,
        "the spinner was charged {} ticks in 50 ms ({ms} ticks a ms)",
        spun_after.saturating_sub(spun)
    );
    ensure!(
        slept_after == slept,
        "the blocked thread was charged {} ticks",
        slept_after.wrapping_sub(slept)
    );
    // Suspended, the spinner is charged nothing more.
    syscall::sleep_until(in_ms(ctx, 20));
    ensure!(
        spinning.read_cpu_time() == Ok(spun_after),
        "a suspended thread was charged"
    );
    Ok(())
}

/// Reading our own time counts the ticks since the last charge point too: it grows across
/// a busy loop with no system call in between, by at least the loop's own counter ticks.
fn a_threads_own_cpu_time_includes_what_is_not_charged_yet(_: &mut Ctx) -> TestResult {
    let me: Cap<Tcb> = Cap::from_cptr(libsys::bootinfo::SLOT_TCB);
    let Ok(before) = me.read_cpu_time() else {
        return Err(crate::fail!("read_cpu_time of our own TCB failed"));
    };
    let start = now();
    while now() - start < 200_000 {
        core::hint::spin_loop();
    }
    let busy = now() - start;
    let after = me.read_cpu_time();
    ensure!(
        matches!(after, Ok(t) if t - before >= busy),
        "our time went from {before} to {after:?} across {busy} busy ticks"
    );
    Ok(())
}
