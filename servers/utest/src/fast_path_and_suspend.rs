//! Corner cases of the IPC fast path against the slow path, threads stopped
//! by a fault and then suspended, and `TcbConfigure` on a thread that its own
//! reconfiguration destroys.
//!
//! Helper threads run in the root task's CSpace and VSpace on the static stacks below, at
//! our priority; they record what they saw in the statics and then yield forever (the
//! runner's revoke destroys them).

use crate::check::{Fail, TestResult};
use crate::{ensure, ok, Ctx, Test, ROOT};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::{Error, MessageInfo, Syscall};
use libsys::bootinfo::{IPC_BUFFER_ADDR, SLOT_CNODE, SLOT_IPC_BUFFER, SLOT_VSPACE};
use libsys::cap::{CNode, Cap, Endpoint, SlotPath, Tcb, TcbConfig, UserRegisters};
use libsys::object::{CNodeGuard, Rights};
use libsys::syscall::{raw_syscall, yield_now, Registers};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    slow_path_delivery_writes_only_the_words_sent,
    fast_path_delivery_writes_only_the_words_sent,
    a_suspended_fault_victim_is_cancelled_like_any_thread,
    suspending_a_faulted_thread_keeps_its_registers,
    a_thread_destroyed_by_its_own_configure_keeps_no_caps,
    a_syscall_at_the_top_of_the_user_half_does_not_stop_the_kernel,
];

const STACK_SIZE: usize = 16384;
const STACKS: usize = 2;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// Stacks for the helper threads of one test.
static mut HELPER_STACKS: [Stack; STACKS] = [Stack([0; STACK_SIZE]), Stack([0; STACK_SIZE])];

/// What the helpers record: the code and words of their system call, and a done flag.
static CODE: AtomicU64 = AtomicU64::new(0);
static WORDS: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];
static DONE: AtomicU64 = AtomicU64::new(0);
/// A helper has started (it is about to block).
static STARTED: AtomicU64 = AtomicU64::new(0);
/// What `configure_self` got back, if it ever ran on (`u64::MAX`: not yet).
static SELF_CONFIGURE: AtomicU64 = AtomicU64::new(u64::MAX);

fn stack_top(index: usize) -> u64 {
    // SAFETY: only the address of the static is taken; no reference is formed.
    let base = unsafe { core::ptr::addr_of!(HELPER_STACKS[index]) } as u64;
    base + STACK_SIZE as u64 - 8
}

fn reset_records() {
    CODE.store(u64::MAX, Ordering::SeqCst);
    for w in &WORDS {
        w.store(0, Ordering::SeqCst);
    }
    DONE.store(0, Ordering::SeqCst);
    STARTED.store(0, Ordering::SeqCst);
    SELF_CONFIGURE.store(u64::MAX, Ordering::SeqCst);
}

fn record(code: u64, words: [u64; 4]) {
    for (w, v) in WORDS.iter().zip(words) {
        w.store(v, Ordering::SeqCst);
    }
    CODE.store(code, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
}

fn recorded_words() -> [u64; 4] {
    [0, 1, 2, 3].map(|i| WORDS[i].load(Ordering::SeqCst))
}

fn idle() -> ! {
    loop {
        yield_now();
    }
}

/// Registers that run `body(argument)` on helper stack `stack`.
fn registers_for(body: extern "C" fn(u64) -> !, argument: u64, stack: usize) -> UserRegisters {
    UserRegisters {
        rip: body as *const () as u64,
        rsp: stack_top(stack),
        rflags: 0x202,
        rdi: argument,
        ..UserRegisters::default()
    }
}

/// A new thread in our CSpace and VSpace at our priority, set to run `body(argument)` on
/// stack `stack`, not resumed.
fn spawn(
    ctx: &mut Ctx,
    body: extern "C" fn(u64) -> !,
    argument: u64,
    stack: usize,
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
    ok!(tcb.write_registers(false, &registers_for(body, argument, stack)));
    Ok(tcb)
}

/// Yields until `DONE` is set, at most `rounds` times.
fn wait_done(rounds: u32) -> bool {
    for _ in 0..rounds {
        if DONE.load(Ordering::SeqCst) != 0 {
            return true;
        }
        yield_now();
    }
    DONE.load(Ordering::SeqCst) != 0
}

fn regs(cptr: u64, info: MessageInfo, words: [u64; 4]) -> Registers {
    Registers { cptr, info, words }
}

const CALL_WORDS: [u64; 4] = [0x11, 0xc1, 0xc2, 0xc3];
const RECV_WORDS: [u64; 4] = [0xa0, 0xa1, 0xa2, 0xa3];
const REPLY_WORDS: [u64; 4] = [0xb0, 0xb1, 0xb2, 0xb3];

/// Calls the endpoint `ep` with a 1-word message (registers 1..3 hold other values),
/// records the reply, then sends an empty message on `ep` to wake the server.
extern "C" fn one_word_caller(ep: u64) -> ! {
    let (code, out) = raw_syscall(
        Syscall::Call as u64,
        regs(ep, MessageInfo::new(0x42, 1, 0), CALL_WORDS),
    );
    record(code, out.words);
    let _ = raw_syscall(
        Syscall::Send as u64,
        regs(ep, MessageInfo::new(0x44, 0, 0), [0; 4]),
    );
    idle()
}

/// docs/syscalls.md, *Registers*: "Only words that a message or reply actually carries are
/// written; other message registers keep their old values." The slow path (the helper
/// calls before we receive; we answer with `Reply`) keeps that rule.
fn slow_path_delivery_writes_only_the_words_sent(ctx: &mut Ctx) -> TestResult {
    reset_records();
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let helper = spawn(ctx, one_word_caller, endpoint.cptr(), 0, Cap::null())?;
    ok!(helper.resume());
    // The helper runs, finds no receiver and queues its Call.
    for _ in 0..5 {
        yield_now();
    }
    let (code, got) = raw_syscall(
        Syscall::Recv as u64,
        regs(endpoint.cptr(), MessageInfo(0), RECV_WORDS),
    );
    ensure!(code == 0, "recv: code {code}");
    ensure!(
        got.info.label() == 0x42 && got.info.length() == 1,
        "got {:?}",
        got.info
    );
    // Reply (slow path only) with no words.
    let _ = raw_syscall(
        Syscall::Reply as u64,
        regs(0, MessageInfo::new(0x43, 0, 0), REPLY_WORDS),
    );
    ensure!(wait_done(1000), "the helper's call never returned");
    // The helper's Send to wake us is queued: take it.
    let _ = endpoint.nb_recv();
    let helper_words = recorded_words();
    ensure!(
        got.words == [0x11, 0xa1, 0xa2, 0xa3],
        "receiver's words {:x?}: words the message did not carry were written",
        got.words
    );
    ensure!(
        helper_words == CALL_WORDS,
        "caller's words after an empty reply {helper_words:x?}"
    );
    Ok(())
}

/// The same exchange through the fast path (we wait in `Recv` when the helper calls; we
/// answer with `ReplyRecv`, the caller at our priority): the same registers must result.
fn fast_path_delivery_writes_only_the_words_sent(ctx: &mut Ctx) -> TestResult {
    reset_records();
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let helper = spawn(ctx, one_word_caller, endpoint.cptr(), 0, Cap::null())?;
    ok!(helper.resume());
    // We block in Recv; the helper then calls us (fast path: we wait, same priority).
    let (code, got) = raw_syscall(
        Syscall::Recv as u64,
        regs(endpoint.cptr(), MessageInfo(0), RECV_WORDS),
    );
    ensure!(code == 0, "recv: code {code}");
    ensure!(
        got.info.label() == 0x42 && got.info.length() == 1,
        "got {:?}",
        got.info
    );
    // ReplyRecv with an empty reply (fast path); the helper's Send wakes us.
    let (code, _) = raw_syscall(
        Syscall::ReplyRecv as u64,
        regs(endpoint.cptr(), MessageInfo::new(0x43, 0, 0), REPLY_WORDS),
    );
    ensure!(code == 0, "reply_recv: code {code}");
    ensure!(wait_done(1000), "the helper's call never returned");
    let helper_words = recorded_words();
    let (call_ok, reply_ok) = (
        got.words == [0x11, 0xa1, 0xa2, 0xa3],
        helper_words == CALL_WORDS,
    );
    ensure!(
        call_ok || reply_ok,
        "fast path: receiver's words {:x?} (want [11, a1, a2, a3]), caller's words after \
         an empty reply {helper_words:x?} (want {CALL_WORDS:x?})",
        got.words
    );
    ensure!(
        call_ok,
        "fast-path Call: receiver's words {:x?} (want [11, a1, a2, a3]): words the \
         message did not carry were written",
        got.words
    );
    ensure!(
        helper_words == CALL_WORDS,
        "fast-path ReplyRecv: caller's words after an empty reply {helper_words:x?} \
         (want {CALL_WORDS:x?})"
    );
    Ok(())
}

/// Executes `ud2` (a fault) with `rax` = [`FAULT_RAX`].
extern "C" fn ud2_body(_: u64) -> ! {
    // SAFETY: `ud2` faults; the thread is then suspended and redirected, never resumed here.
    unsafe { core::arch::asm!("ud2", in("rax") FAULT_RAX, options(nostack, nomem)) };
    idle()
}

const FAULT_RAX: u64 = 0x5a5a_1234;

/// Receives on the endpoint `ep` and records the result.
extern "C" fn recv_and_record(ep: u64) -> ! {
    STARTED.store(1, Ordering::SeqCst);
    let (code, out) = raw_syscall(Syscall::Recv as u64, regs(ep, MessageInfo(0), [0; 4]));
    record(code, out.words);
    idle()
}

/// A thread stopped by a fault, then suspended by its handler, redirected with
/// `TcbWriteRegisters` and resumed, is an ordinary thread again: when it later blocks in
/// `Recv` and the endpoint is deleted, it must wake with `Cancelled` (docs/syscalls.md,
/// *Endpoints*), not be left stopped as if its fault handler had gone away.
fn a_suspended_fault_victim_is_cancelled_like_any_thread(ctx: &mut Ctx) -> TestResult {
    reset_records();
    let faults: Cap<Endpoint> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let helper = spawn(ctx, ud2_body, 0, 0, faults)?;
    ok!(helper.resume());
    // Take the fault message: the helper now waits for our reply.
    let message = crate::fault::await_message(faults, 2000)?;
    ensure!(
        message.info.label() == libsys::abi::FAULT_LABEL && message.words[0] == 6,
        "fault message {:?} {:x?}",
        message.info,
        message.words
    );
    // Instead of replying: suspend it, point it elsewhere, resume it.
    ok!(helper.suspend());
    let registers = registers_for(recv_and_record, endpoint.cptr(), 0);
    ok!(helper.write_registers(true, &registers));
    for _ in 0..1000 {
        if STARTED.load(Ordering::SeqCst) != 0 {
            break;
        }
        yield_now();
    }
    ensure!(
        STARTED.load(Ordering::SeqCst) != 0,
        "the redirected thread never ran"
    );
    for _ in 0..5 {
        yield_now();
    }
    ensure!(DONE.load(Ordering::SeqCst) == 0, "the Recv did not block");
    ok!(ROOT.delete(endpoint.slot()));
    ensure!(
        wait_done(1000),
        "deleting the endpoint did not wake the thread blocked in Recv (it was once \
         stopped by a fault: a stale fault flag left it suspended)"
    );
    let code = CODE.load(Ordering::SeqCst);
    ensure!(
        code == Error::Cancelled as u64,
        "the thread woke with code {code}"
    );
    Ok(())
}

/// A thread stopped by a fault made no system call: suspending it must not rewrite its
/// registers (`rax` would otherwise come back as `Cancelled` when it re-executes the
/// faulting instruction after `TcbResume`).
fn suspending_a_faulted_thread_keeps_its_registers(ctx: &mut Ctx) -> TestResult {
    reset_records();
    let faults: Cap<Endpoint> = ctx.make()?;
    let helper = spawn(ctx, ud2_body, 0, 0, faults)?;
    ok!(helper.resume());
    // Nobody receives on `faults`: the fault message waits in the endpoint's queue.
    for _ in 0..10 {
        yield_now();
    }
    let before = ok!(helper.read_registers());
    ensure!(
        before.rax == FAULT_RAX,
        "rax {:#x} before suspend (the thread did not fault?)",
        before.rax
    );
    ok!(helper.suspend());
    let after = ok!(helper.read_registers());
    ensure!(
        after == before,
        "suspend rewrote the faulted thread's registers: rax {:#x} -> {:#x}",
        before.rax,
        after.rax
    );
    Ok(())
}

/// Runs `TcbConfigure` on its own TCB (cptr 0x10 in its CSpace) with `cspace` = 0x20 and
/// `fault_endpoint` = 0x21; records the result if it ever returns.
extern "C" fn configure_self(_: u64) -> ! {
    let config = TcbConfig {
        cspace: Cap::from_cptr(0x20),
        vspace: Cap::null(),
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: Cap::from_cptr(0x21),
    };
    let result = Cap::<Tcb>::from_cptr(0x10).configure(&config);
    SELF_CONFIGURE.store(
        result.map_or_else(|e| e.error as u64, |()| 0),
        Ordering::SeqCst,
    );
    idle()
}

/// A thread X whose CSpace root C1 is held only by X, and whose TCB cap is held only in
/// C1, reconfigures itself with a new CSpace and a fault endpoint taken from a CNode S
/// that outlives C1. Replacing the CSpace deletes C1's last cap, which destroys C1 and,
/// through it, X. The rest of the configure must not then copy caps into the dead TCB's
/// slots: such a cap sits in the derivation tree inside memory that is free (and is zeroed
/// by the next retype), and it keeps its object alive. Here it would keep an endpoint alive
/// after every reachable cap to it was deleted, so a thread blocked on it never wakes.
fn a_thread_destroyed_by_its_own_configure_keeps_no_caps(ctx: &mut Ctx) -> TestResult {
    reset_records();
    let unguarded: Cap<CNode> = ctx.loader.root_unguarded;
    let root_bits = ctx.info.cnode_radix;
    let at_root = |slot: u64| SlotPath {
        index: slot,
        depth: root_bits,
    };
    let inside = |cnode: Cap<CNode>, slot: u64| SlotPath {
        index: (cnode.cptr() << 4) | slot,
        depth: root_bits + 4,
    };
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let s = ctx.cnode(4)?;
    let c1 = ctx.cnode(4)?;
    // S: slot 0 a CNode cap (S itself), slot 1 the endpoint.
    ok!(unguarded.copy(inside(s, 0), at_root(s.cptr()), Rights::ALL));
    ok!(unguarded.copy(inside(s, 1), at_root(endpoint.cptr()), Rights::ALL));
    // C1: slot 2 S (unguarded, so S resolves the last 4 bits).
    ok!(unguarded.copy(inside(c1, 2), at_root(s.cptr()), Rights::ALL));
    // X's CSpace cap: C1 with a 56-bit guard (C1 takes 60 bits, S the last 4).
    let c1_guarded = ctx.slot()?;
    ok!(ROOT.mint_guard(
        SlotPath::at(c1_guarded),
        c1.slot(),
        CNodeGuard {
            guard: 0,
            guard_bits: 56
        }
    ));
    // A helper blocked in Recv on the endpoint, to see whether it is destroyed.
    let waiter = spawn(ctx, recv_and_record, endpoint.cptr(), 1, Cap::null())?;
    ok!(waiter.resume());
    for _ in 0..10 {
        yield_now();
    }
    ensure!(
        STARTED.load(Ordering::SeqCst) != 0 && DONE.load(Ordering::SeqCst) == 0,
        "the waiter is not blocked"
    );
    // X: our VSpace, our IPC buffer frame (TcbConfigure has 5 words), CSpace C1.
    let x: Cap<Tcb> = ctx.make()?;
    ok!(x.configure(&TcbConfig {
        cspace: Cap::from_cptr(c1_guarded),
        vspace: Cap::from_cptr(SLOT_VSPACE),
        ipc_buffer_addr: IPC_BUFFER_ADDR,
        ipc_buffer_frame: Cap::from_cptr(SLOT_IPC_BUFFER),
        fault_endpoint: Cap::null(),
    }));
    ok!(x.set_priority(ctx.info.priority));
    ok!(x.write_registers(true, &registers_for(configure_self, 0, 0)));
    // X is queued behind us. Hand over its TCB cap and drop every other cap to C1.
    ok!(unguarded.move_cap(inside(c1, 1), at_root(x.cptr())));
    ok!(ROOT.delete(SlotPath::at(c1_guarded)));
    ok!(ROOT.delete(c1.slot()));
    // Let X run its configure.
    for _ in 0..20 {
        yield_now();
    }
    // X's TCB died with C1, so its configure never returned to it.
    let survived = SELF_CONFIGURE.load(Ordering::SeqCst);
    ensure!(
        survived == u64::MAX,
        "X survived its configure (code {survived}): the setup is wrong"
    );
    ensure!(DONE.load(Ordering::SeqCst) == 0, "the waiter woke early");
    // Delete every cap to the endpoint that any CSpace can reach: S's copy, then ours.
    ok!(unguarded.delete(inside(s, 1)));
    ok!(ROOT.delete(endpoint.slot()));
    ensure!(
        wait_done(1000),
        "the endpoint outlived all its reachable caps (a cap was copied into the \
         destroyed TCB's slot by TcbConfigure)"
    );
    let code = CODE.load(Ordering::SeqCst);
    ensure!(
        code == Error::Cancelled as u64,
        "the waiter woke with code {code}"
    );
    Ok(())
}

/// The last user page: a `syscall` in its last two bytes returns to `rip` = 2^47, which is
/// not canonical. `sysretq` cannot take it, and `iretq` to it faults *in the kernel* (the
/// CPU checks the target before it leaves ring 0). The thread, not the kernel, must pay:
/// it should get a fault (or be stopped), and the system must run on.
fn a_syscall_at_the_top_of_the_user_half_does_not_stop_the_kernel(ctx: &mut Ctx) -> TestResult {
    reset_records();
    const PAGE: u64 = 0x7fff_ffff_f000;
    let frame: Cap<libsys::cap::Frame> = ctx.make()?;
    ok!(frame.map_executable(
        Cap::from_cptr(SLOT_VSPACE),
        PAGE,
        Rights::READ.union(Rights::WRITE)
    ));
    // SAFETY: the page was just mapped writable in our address space; nothing else uses it.
    unsafe {
        core::ptr::write_volatile((PAGE + 0xffe) as *mut u8, 0x0f);
        core::ptr::write_volatile((PAGE + 0xfff) as *mut u8, 0x05);
    }
    let faults: Cap<Endpoint> = ctx.make()?;
    let helper = spawn(ctx, ud2_body, 0, 0, faults)?;
    let registers = UserRegisters {
        rip: PAGE + 0xffe,
        rsp: stack_top(0),
        rflags: 0x202,
        rax: Syscall::Yield as u64,
        ..UserRegisters::default()
    };
    ok!(helper.write_registers(true, &registers));
    // Whatever happens to the helper (a fault message, or nothing), we must get here.
    for _ in 0..50 {
        yield_now();
    }
    let message = crate::fault::await_message(faults, 100)?;
    ensure!(
        message.info.label() == libsys::abi::FAULT_LABEL,
        "label {:#x}",
        message.info.label()
    );
    ok!(helper.suspend());
    Ok(())
}
