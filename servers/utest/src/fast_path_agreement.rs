//! The IPC fast path against the general path (issue 11): the same random Call/ReplyRecv
//! sequences run with the kernel's fast path on and then off (`DebugConsoleFastPath`), and
//! every register the caller and the receiver see after each system call must be the same
//! both times.
//!
//! A client thread makes `STEPS` Calls; a server thread receives them and answers each with
//! `ReplyRecv`, or now and then with `Reply`, a yield and `Recv` (so the client's next Call
//! finds no receiver and queues). Every register going in is random (the syscall number,
//! cptr and message info aside): lengths 0 to 4, random labels and words, three caps to the
//! endpoint (unbadged, a random badge, all ones) and a fourth slot that the client re-mints
//! with a new badge before some of its Calls (capability slot writes between fast-path
//! calls: the fast path's cached CSpace decode must be made again, and must find the new
//! cap). The pair runs at three priority settings: equal, server below the client, client
//! below the server; then at equal priorities with FS and GS bases of their own
//! (`TcbSetTlsBase`), which both read through `%fs:0` / `%gs:0` after every system call (the
//! fast path must switch the bases). The helpers share our CSpace and VSpace and record
//! what they saw in the statics below.

use crate::check::{Fail, TestResult};
use crate::vspace::map_tables;
use crate::{ensure, ok, Ctx, Test};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::{MessageInfo, Syscall};
use libsys::bootinfo::{SLOT_CNODE, SLOT_DEBUG_CONSOLE, SLOT_VSPACE};
use libsys::cap::{
    CNode, Cap, DebugConsole, Endpoint, Notification, SlotPath, Tcb, TcbConfig, UserRegisters,
};
use libsys::object::Rights;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    random_call_reply_recv_sequences_leave_the_same_registers_with_and_without_the_fast_path,
    one_cap_calls_leave_the_same_registers_and_caps_with_and_without_the_fast_path,
];

/// Calls per sequence.
const STEPS: usize = 48;
/// General-purpose registers a thread sees (all but rsp, which the kernel never changes), in
/// this order: rax rbx rcx rdx rsi rdi rbp r8 r9 r10 r11 r12 r13 r14 r15.
const REGS: usize = 15;
const RAX: usize = 0;
const RSI: usize = 4;
const RDI: usize = 5;

core::arch::global_asm!(
    r#"
    .section .text.full_syscall, "ax"
    .global utest_full_syscall
    // utest_full_syscall(regs: *mut [u64; 15]): loads every register but rsp from `regs`,
    // executes `syscall`, and stores every register back into `regs`.
utest_full_syscall:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rdi
    mov rax, [rdi + 0]
    mov rbx, [rdi + 8]
    mov rcx, [rdi + 16]
    mov rdx, [rdi + 24]
    mov rsi, [rdi + 32]
    mov rbp, [rdi + 48]
    mov r8, [rdi + 56]
    mov r9, [rdi + 64]
    mov r10, [rdi + 72]
    mov r11, [rdi + 80]
    mov r12, [rdi + 88]
    mov r13, [rdi + 96]
    mov r14, [rdi + 104]
    mov r15, [rdi + 112]
    mov rdi, [rdi + 40]
    syscall
    push rdi
    mov rdi, [rsp + 8]
    mov [rdi + 0], rax
    mov [rdi + 8], rbx
    mov [rdi + 16], rcx
    mov [rdi + 24], rdx
    mov [rdi + 32], rsi
    pop rax
    mov [rdi + 40], rax
    mov [rdi + 48], rbp
    mov [rdi + 56], r8
    mov [rdi + 64], r9
    mov [rdi + 72], r10
    mov [rdi + 80], r11
    mov [rdi + 88], r12
    mov [rdi + 96], r13
    mov [rdi + 104], r14
    mov [rdi + 112], r15
    pop rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
"#
);

// SAFETY: defined in the `global_asm!` above with the C calling convention: it saves and
// restores every callee-saved register, and reads and writes only the 15 words at `regs`.
unsafe extern "C" {
    fn utest_full_syscall(regs: *mut [u64; REGS]);
}

/// One system call with every register given; returns every register afterwards.
fn full_syscall(mut regs: [u64; REGS]) -> [u64; REGS] {
    // SAFETY: `regs` is a valid, writable array of 15 words (see the declaration).
    unsafe { utest_full_syscall(&mut regs) };
    regs
}

/// What one run recorded: `[kind][step][register]`, kind 0 = the client after Call `step`,
/// 1 = the server after receiving Call `step`, 2 = the server after a `Reply` to it.
type Record = [[[AtomicU64; REGS]; STEPS]; 3];
const CLIENT: usize = 0;
const RECEIVED: usize = 1;
const REPLIED: usize = 2;

static OUT: Record = [const { [const { [const { AtomicU64::new(0) }; REGS] }; STEPS] }; 3];
/// The first run's record, to compare the second against.
static FIRST: Record = [const { [const { [const { AtomicU64::new(0) }; REGS] }; STEPS] }; 3];

/// What the helpers use: the seed and the caps (set before they start).
static SEED: AtomicU64 = AtomicU64::new(0);
static CAPS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
const EP: usize = 0;
const EP_BADGED: usize = 1;
const EP_ALL_ONES: usize = 2;
const DONE: usize = 3;
const PARK: usize = 4;
/// The slot the client re-mints (`remint`).
const EP_VAR: usize = 5;
/// `[step]`: a cap to the endpoint with `remint(step)`'s badge, minted by `run` (the
/// helpers have no IPC buffer, so they cannot send `CNodeMint`'s six words), which the
/// client moves into `EP_VAR` before Call `step`.
static REMINTED: [AtomicU64; STEPS] = [const { AtomicU64::new(0) }; STEPS];

/// Whether the helpers run with FS and GS bases (the last round): then each reads
/// `%fs:0` and `%gs:0` after every system call into `TLS_SEEN`.
static TLS_ROUND: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
/// The words the helpers' bases point at: client FS, client GS, server FS, server GS.
static TLS_WORDS: [u64; 4] = [0xc1f5, 0xc195, 0x5ef5, 0x5e95];
/// `[kind][step]`: the `%fs:0` and `%gs:0` the thread read after that system call.
static TLS_SEEN: [[[AtomicU64; 2]; STEPS]; 3] =
    [const { [const { [const { AtomicU64::new(0) }; 2] }; STEPS] }; 3];

fn record(kind: usize, step: usize, regs: &[u64; REGS]) {
    for (slot, value) in OUT[kind][step].iter().zip(regs) {
        slot.store(*value, Ordering::SeqCst);
    }
    if TLS_ROUND.load(Ordering::SeqCst) {
        let (fs, gs): (u64, u64);
        // SAFETY: in the TLS round both helpers' FS and GS bases point at words of
        // `TLS_WORDS` (set with `TcbSetTlsBase` before they start), which are mapped and
        // readable; the loads touch nothing else.
        unsafe {
            core::arch::asm!(
                "mov {fs}, qword ptr fs:[0]",
                "mov {gs}, qword ptr gs:[0]",
                fs = out(reg) fs,
                gs = out(reg) gs,
                options(nostack, readonly, preserves_flags)
            );
        }
        TLS_SEEN[kind][step][0].store(fs, Ordering::SeqCst);
        TLS_SEEN[kind][step][1].store(gs, Ordering::SeqCst);
    }
}

/// Whether the client re-mints `EP_VAR` (moves a cap with a new badge into it) before Call
/// `step`; with which badge.
fn remint(step: usize) -> Option<u64> {
    random(4, step as u64)
        .is_multiple_of(3)
        .then(|| random(5, step as u64))
}

/// The badge the server sees for Call `step`.
fn expected_badge(step: usize) -> u64 {
    match choice(step) {
        EP => 0,
        EP_BADGED => random(3, 0) | 1,
        EP_ALL_ONES => u64::MAX,
        // The last re-mint at or before `step` (`run` mints badge 7 first).
        _ => (0..=step).rev().find_map(remint).unwrap_or(7),
    }
}

/// The cap the client calls through at `step`.
fn choice(step: usize) -> usize {
    [EP, EP_BADGED, EP_ALL_ONES, EP_VAR][(random(1, step as u64) % 4) as usize]
}

/// splitmix64 of `seed`, `stream` and `index`: the same inputs on both runs.
fn random(stream: u64, index: u64) -> u64 {
    let mut z = SEED
        .load(Ordering::SeqCst)
        .wrapping_add(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(index.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Random registers for system call `number` on `cptr`, with a random message of 0 to 4
/// words (`stream` tells the calls apart).
fn inputs(stream: u64, number: Syscall, cptr: u64) -> [u64; REGS] {
    let mut regs = [0; REGS];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = random(stream, i as u64);
    }
    let shape = random(stream, 100);
    regs[RAX] = number as u64;
    regs[RDI] = cptr;
    regs[RSI] = MessageInfo::new((shape >> 12) & 0xf_ffff, shape % 5, 0).0;
    regs
}

fn cap(index: usize) -> u64 {
    CAPS[index].load(Ordering::SeqCst)
}

/// The client: `STEPS` Calls through a randomly chosen cap, then it signals `DONE` and
/// waits forever on `PARK`.
extern "C" fn client(_: u64) -> ! {
    let root = Cap::<CNode>::from_cptr(SLOT_CNODE);
    for (step, reminted) in REMINTED.iter().enumerate() {
        if remint(step).is_some() {
            let var = SlotPath::at(cap(EP_VAR));
            let src = SlotPath::at(reminted.load(Ordering::SeqCst));
            // Failures show as a failed Call or a wrong badge at the server (checked).
            let _ = root.delete(var);
            let _ = root.move_cap(var, src);
        }
        let via = choice(step);
        let out = full_syscall(inputs(0x1000 + step as u64, Syscall::Call, cap(via)));
        record(CLIENT, step, &out);
    }
    let _ = Cap::<Notification>::from_cptr(cap(DONE)).signal();
    loop {
        let _ = Cap::<Notification>::from_cptr(cap(PARK)).wait();
    }
}

/// The server: receives, then answers each Call and receives the next (its last receive
/// never returns).
extern "C" fn server(_: u64) -> ! {
    let ep = cap(EP);
    let out = full_syscall(inputs(0x2000, Syscall::Recv, ep));
    record(RECEIVED, 0, &out);
    for step in 0..STEPS {
        let stream = 0x3000 + 2 * step as u64;
        let out = if random(2, step as u64).is_multiple_of(4) {
            // Reply, let the client run (it calls and finds nobody waiting), then receive.
            let replied = full_syscall(inputs(stream, Syscall::Reply, 0));
            record(REPLIED, step, &replied);
            libsys::syscall::yield_now();
            full_syscall(inputs(stream + 1, Syscall::Recv, ep))
        } else {
            full_syscall(inputs(stream, Syscall::ReplyRecv, ep))
        };
        if step + 1 < STEPS {
            record(RECEIVED, step + 1, &out);
        }
    }
    loop {
        libsys::syscall::yield_now();
    }
}

const STACK_SIZE: usize = 16384;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

static mut STACKS: [Stack; 2] = [Stack([0; STACK_SIZE]), Stack([0; STACK_SIZE])];

fn stack_top(index: usize) -> u64 {
    // SAFETY: only the address of the static is taken; no reference is formed.
    let base = unsafe { core::ptr::addr_of!(STACKS[index]) } as u64;
    base + STACK_SIZE as u64 - 8
}

/// A thread in our CSpace and VSpace running `body` on stack `stack` at `priority`.
fn spawn(
    ctx: &mut Ctx,
    body: extern "C" fn(u64) -> !,
    stack: usize,
    priority: u64,
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
    ok!(tcb.set_priority(priority));
    let registers = UserRegisters {
        rip: body as *const () as u64,
        rsp: stack_top(stack),
        rflags: 0x202,
        ..UserRegisters::default()
    };
    ok!(tcb.write_registers(false, &registers));
    Ok(tcb)
}

/// Runs one sequence with the fast path `enabled`, helpers at the given priorities (and
/// FS/GS bases if `TLS_ROUND`); returns how many Calls and ReplyRecvs the fast path took
/// meanwhile.
fn run(
    ctx: &mut Ctx,
    enabled: bool,
    client_priority: u64,
    server_priority: u64,
) -> Result<u64, Fail> {
    for kind in &OUT {
        for step in kind {
            for r in step {
                r.store(0, Ordering::SeqCst);
            }
        }
    }
    for kind in &TLS_SEEN {
        for step in kind {
            for r in step {
                r.store(0, Ordering::SeqCst);
            }
        }
    }
    let console = Cap::<DebugConsole>::from_cptr(SLOT_DEBUG_CONSOLE);
    let ep: Cap<Endpoint> = ctx.make()?;
    let badged = ctx.mint(ep, Rights::ALL, random(3, 0) | 1)?;
    let all_ones = ctx.mint(ep, Rights::ALL, u64::MAX)?;
    let done: Cap<Notification> = ctx.make()?;
    let park: Cap<Notification> = ctx.make()?;
    let var = ctx.mint(ep, Rights::ALL, 7)?;
    for (step, slot) in REMINTED.iter().enumerate() {
        if let Some(badge) = remint(step) {
            slot.store(ctx.mint(ep, Rights::ALL, badge)?.cptr(), Ordering::SeqCst);
        }
    }
    for (index, c) in [
        ep.cptr(),
        badged.cptr(),
        all_ones.cptr(),
        done.cptr(),
        park.cptr(),
        var.cptr(),
    ]
    .into_iter()
    .enumerate()
    {
        CAPS[index].store(c, Ordering::SeqCst);
    }
    let server = spawn(ctx, server, 0, server_priority)?;
    let client = spawn(ctx, client, 1, client_priority)?;
    if TLS_ROUND.load(Ordering::SeqCst) {
        let word = |i: usize| core::ptr::addr_of!(TLS_WORDS[i]) as u64;
        ok!(client.set_tls_base(word(0), word(1)));
        ok!(server.set_tls_base(word(2), word(3)));
    }
    let before = ok!(console.set_fast_path(enabled));
    let deadline = libsys::time::now().saturating_add(ctx.info.tsc_hz.saturating_mul(20));
    let finished = server
        .resume()
        .and_then(|()| client.resume())
        .and_then(|()| done.wait_timeout(deadline));
    // Back on whatever happened (the other tests expect it).
    let after = ok!(console.set_fast_path(true));
    ok!(client.suspend());
    ok!(server.suspend());
    ensure!(
        finished.is_ok(),
        "the sequence did not finish: {finished:?}"
    );
    Ok(after[0] + after[1] - before[0] - before[1])
}

/// In the TLS round: each helper found its own words through FS and GS after every call.
fn tls_seen_own_words(round: usize, how: &str) -> TestResult {
    if !TLS_ROUND.load(Ordering::SeqCst) {
        return Ok(());
    }
    for (kind, want) in [
        (CLIENT, [TLS_WORDS[0], TLS_WORDS[1]]),
        (RECEIVED, [TLS_WORDS[2], TLS_WORDS[3]]),
    ] {
        for (step, seen) in TLS_SEEN[kind].iter().enumerate() {
            let seen = [
                seen[0].load(Ordering::SeqCst),
                seen[1].load(Ordering::SeqCst),
            ];
            ensure!(
                seen == want,
                "round {round} ({how}), kind {kind}, step {step}: read {seen:x?} through \
                 FS/GS, want {want:x?}"
            );
        }
    }
    Ok(())
}

/// Issue 11, *Tests*: random Call/ReplyRecv sequences (lengths, labels, words, badges,
/// priorities, receivers waiting and not, caps re-minted in between, FS/GS bases) give
/// the caller and the receiver the same registers whether the fast path takes them or the
/// general path does.
fn random_call_reply_recv_sequences_leave_the_same_registers_with_and_without_the_fast_path(
    ctx: &mut Ctx,
) -> TestResult {
    let p = ctx.info.priority;
    for (round, (client_priority, server_priority)) in [(p, p), (p, p - 1), (p - 1, p), (p, p)]
        .into_iter()
        .enumerate()
    {
        SEED.store(0x5eed_0000 + round as u64, Ordering::SeqCst);
        TLS_ROUND.store(round == 3, Ordering::SeqCst);
        let fast = run(ctx, true, client_priority, server_priority)?;
        tls_seen_own_words(round, "fast path on")?;
        for (first, out) in FIRST.iter().zip(&OUT) {
            for (f, o) in first.iter().zip(out) {
                for (f, o) in f.iter().zip(o) {
                    f.store(o.load(Ordering::SeqCst), Ordering::SeqCst);
                }
            }
        }
        let slow = run(ctx, false, client_priority, server_priority)?;
        tls_seen_own_words(round, "fast path off")?;
        ensure!(
            fast > 0,
            "round {round}: the fast path took none of the calls"
        );
        ensure!(
            slow == 0,
            "round {round}: the fast path was off but took {slow} calls"
        );
        for kind in [CLIENT, RECEIVED, REPLIED] {
            for step in 0..STEPS {
                let load = |record: &Record| {
                    core::array::from_fn::<u64, REGS, _>(|i| {
                        record[kind][step][i].load(Ordering::SeqCst)
                    })
                };
                let (with, without) = (load(&FIRST), load(&OUT));
                ensure!(
                    with == without,
                    "round {round} (priorities {client_priority}/{server_priority}), kind \
                     {kind}, step {step}: fast path {with:x?}, general path {without:x?}"
                );
            }
        }
        // What the server received is what the client sent, with the cap's badge.
        for (step, (received, client)) in OUT[RECEIVED].iter().zip(&OUT[CLIENT]).enumerate() {
            let sent = inputs(0x1000 + step as u64, Syscall::Call, 0);
            let got = received[RSI].load(Ordering::SeqCst);
            ensure!(
                got == sent[RSI],
                "round {round}, step {step}: the server got info {got:#x}, sent {:#x}",
                sent[RSI]
            );
            let badge = expected_badge(step);
            let got = received[RDI].load(Ordering::SeqCst);
            ensure!(
                got == badge,
                "round {round}, step {step}: the server got badge {got:#x}, want {badge:#x}"
            );
            let error = client[RAX].load(Ordering::SeqCst);
            ensure!(
                error == 0,
                "round {round}, step {step}: Call returned {error}"
            );
        }
    }
    TLS_ROUND.store(false, Ordering::SeqCst);
    Ok(())
}

// One cap per Call (issue 11): the fast path's cap transfer against the general path.

/// Calls per cap sequence.
const CAP_STEPS: usize = 40;
/// Where the cap server's IPC buffer is mapped (PML4 entry 172, used by no other test).
const CAP_BUFFER: u64 = 0x5600_0000_0000;
/// What the cap server saw after its `k`th receive: the 15 registers, then the result of
/// identifying its receive slot (error code, kind, badge) and word 0 of its buffer's
/// `caps` (the badge of an unwrapped cap).
const CAP_SEEN_WORDS: usize = REGS + 4;
type CapRecord = [[AtomicU64; CAP_SEEN_WORDS]; CAP_STEPS];
static CAP_SERVER_SEEN: CapRecord =
    [const { [const { AtomicU64::new(0) }; CAP_SEEN_WORDS] }; CAP_STEPS];
static CAP_SERVER_FIRST: CapRecord =
    [const { [const { AtomicU64::new(0) }; CAP_SEEN_WORDS] }; CAP_STEPS];
/// How many receives the cap server recorded.
static CAP_RECEIVED: AtomicU64 = AtomicU64::new(0);
/// The cap server's endpoint, its free receive slot and a slot that holds a cap.
static CAP_SERVER_CAPS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
const CAP_EP: usize = 0;
const CAP_RECEIVE: usize = 1;
const CAP_OCCUPIED: usize = 2;

/// The receive slot the cap server names for its `k`th receive: the free slot (usually),
/// none, or an occupied slot.
fn cap_receive_slot(k: usize) -> u64 {
    match random(7, k as u64) % 5 {
        0 => 0,
        1 => CAP_SERVER_CAPS[CAP_OCCUPIED].load(Ordering::SeqCst),
        _ => CAP_SERVER_CAPS[CAP_RECEIVE].load(Ordering::SeqCst),
    }
}

/// The cap server's IPC buffer.
fn cap_buffer() -> *mut libsys::ipc::IpcBuffer {
    CAP_BUFFER as *mut libsys::ipc::IpcBuffer
}

/// The cap server: receives Calls carrying a cap into a receive slot chosen per receive,
/// records what it saw (registers, the slot's cap, an unwrapped badge), empties the slot
/// and answers with a random message.
extern "C" fn cap_server(_: u64) -> ! {
    let ep = CAP_SERVER_CAPS[CAP_EP].load(Ordering::SeqCst);
    let receive = CAP_SERVER_CAPS[CAP_RECEIVE].load(Ordering::SeqCst);
    let root = Cap::<CNode>::from_cptr(SLOT_CNODE);
    let set_receive = |k: usize| {
        // SAFETY: our IPC buffer is mapped read-write at CAP_BUFFER (`cap_sequence`); one
        // word written through a raw pointer, no reference.
        unsafe {
            core::ptr::addr_of_mut!((*cap_buffer()).receive_slot)
                .write_volatile(cap_receive_slot(k));
            core::ptr::addr_of_mut!((*cap_buffer()).caps[0]).write_volatile(0);
        }
    };
    set_receive(0);
    let mut out = full_syscall(inputs(0x6000, Syscall::Recv, ep));
    for (k, seen) in CAP_SERVER_SEEN.iter().enumerate() {
        for (slot, value) in seen.iter().zip(&out) {
            slot.store(*value, Ordering::SeqCst);
        }
        let (error, kind, badge) = match libsys::syscall::identify(receive) {
            Ok(reply) => (0, reply.words[0], reply.words[2]),
            Err(e) => (e.error as u64, 0, 0),
        };
        // SAFETY: as in `set_receive`; one word read.
        let unwrapped = unsafe { core::ptr::addr_of!((*cap_buffer()).caps[0]).read_volatile() };
        for (i, value) in [error, kind, badge, unwrapped].into_iter().enumerate() {
            seen[REGS + i].store(value, Ordering::SeqCst);
        }
        CAP_RECEIVED.store(k as u64 + 1, Ordering::SeqCst);
        let _ = root.delete(SlotPath::at(receive));
        set_receive(k + 1);
        out = full_syscall(inputs(0x7000 + k as u64, Syscall::ReplyRecv, ep));
    }
    loop {
        libsys::syscall::yield_now();
    }
}

/// One run of the cap sequence with the fast path `enabled` and the cap server at
/// `server_priority`: we Call `CAP_STEPS` times with one cap (random words, the endpoint
/// cap with or without the grant right or with a badge, a notification cap, another
/// endpoint's cap, a badged cap of this endpoint, which is unwrapped, or an empty slot).
/// Returns what we saw after each Call and how many Calls the fast path took.
fn cap_sequence(
    ctx: &mut Ctx,
    enabled: bool,
    server_priority: u64,
    server_frame: Cap<libsys::cap::Frame>,
    caps: &CapSet,
) -> Result<([[u64; REGS]; CAP_STEPS], u64), Fail> {
    for seen in &CAP_SERVER_SEEN {
        for w in seen {
            w.store(0, Ordering::SeqCst);
        }
    }
    CAP_RECEIVED.store(0, Ordering::SeqCst);
    let CapSet {
        ep,
        no_grant,
        badged,
        other,
        notification,
        wrapped,
        empty,
        receive,
        occupied,
    } = *caps;
    for (i, c) in [ep.cptr(), receive, occupied].into_iter().enumerate() {
        CAP_SERVER_CAPS[i].store(c, Ordering::SeqCst);
    }
    let server: Cap<Tcb> = ctx.make()?;
    let config = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace: Cap::from_cptr(SLOT_VSPACE),
        ipc_buffer_addr: CAP_BUFFER,
        ipc_buffer_frame: server_frame,
        fault_endpoint: Cap::null(),
    };
    ok!(server.configure(&config));
    ok!(server.set_priority(server_priority));
    let registers = UserRegisters {
        rip: cap_server as *const () as u64,
        rsp: stack_top(0),
        rflags: 0x202,
        ..UserRegisters::default()
    };
    ok!(server.write_registers(false, &registers));
    let console = Cap::<DebugConsole>::from_cptr(SLOT_DEBUG_CONSOLE);
    let before = ok!(console.set_fast_path(enabled));
    let started = server.resume();
    // The server (not below us) receives first.
    libsys::syscall::yield_now();
    let mut client = [[0; REGS]; CAP_STEPS];
    for (step, seen) in client.iter_mut().enumerate() {
        let shape = random(8, step as u64);
        let via = [ep.cptr(), no_grant.cptr(), badged.cptr()][(shape % 3) as usize];
        let sent = [
            notification.cptr(),
            other.cptr(),
            wrapped.cptr(),
            ep.cptr(),
            empty,
            notification.cptr(),
        ][((shape >> 8) % 6) as usize];
        libsys::syscall::set_send_cap(0, sent);
        let mut regs = inputs(0x5000 + step as u64, Syscall::Call, via);
        let info = MessageInfo(regs[RSI]);
        regs[RSI] = MessageInfo::new(info.label(), info.length(), 1).0;
        *seen = full_syscall(regs);
    }
    libsys::syscall::set_send_cap(0, 0);
    let after = ok!(console.set_fast_path(true));
    ok!(started);
    ok!(server.suspend());
    Ok((client, after[0] - before[0]))
}

/// The caps of one round of [`cap_sequence`] (the same cptrs in both runs, so that the
/// registers going in are the same).
#[derive(Clone, Copy)]
struct CapSet {
    ep: Cap<Endpoint>,
    no_grant: Cap<Endpoint>,
    badged: Cap<Endpoint>,
    other: Cap<Endpoint>,
    notification: Cap<Notification>,
    wrapped: Cap<Endpoint>,
    empty: u64,
    receive: u64,
    occupied: u64,
}

impl CapSet {
    fn make(ctx: &mut Ctx) -> Result<CapSet, Fail> {
        let ep: Cap<Endpoint> = ctx.make()?;
        let notification: Cap<Notification> = ctx.make()?;
        Ok(CapSet {
            ep,
            no_grant: ctx.mint(
                ep,
                Rights::READ.union(Rights::WRITE).union(Rights::GRANT_REPLY),
                0,
            )?,
            badged: ctx.mint(ep, Rights::ALL, 0xba5e)?,
            other: ctx.make()?,
            notification,
            wrapped: ctx.mint(ep, Rights::ALL, 0x3a9)?,
            empty: ctx.slot()?,
            receive: ctx.slot()?,
            occupied: ctx.mint(notification, Rights::ALL, 0)?.cptr(),
        })
    }
}

/// Issue 11, *Tests*, for caps: random Calls carrying one cap (through the endpoint cap
/// with and without the grant right and with a badge; a notification, another endpoint,
/// this endpoint badged (unwrapped) or unbadged, an empty slot; into a free, no or an
/// occupied receive slot; 0 to 4 words; the server at our priority and below it) give
/// both threads the same registers, the receiver the same cap in its slot and the same
/// unwrapped badge, whether the fast path's cap transfer takes them or the general path
/// does.
fn one_cap_calls_leave_the_same_registers_and_caps_with_and_without_the_fast_path(
    ctx: &mut Ctx,
) -> TestResult {
    let p = ctx.info.priority;
    map_tables(ctx, Cap::from_cptr(SLOT_VSPACE), CAP_BUFFER)?;
    let frame: Cap<libsys::cap::Frame> = ctx.make()?;
    ok!(frame.map(
        Cap::from_cptr(SLOT_VSPACE),
        CAP_BUFFER,
        Rights::READ.union(Rights::WRITE)
    ));
    for (round, server_priority) in [p, p - 1].into_iter().enumerate() {
        SEED.store(0xca95_0000 + round as u64, Ordering::SeqCst);
        let caps = CapSet::make(ctx)?;
        let (fast_client, fast_calls) = cap_sequence(ctx, true, server_priority, frame, &caps)?;
        let fast_received = CAP_RECEIVED.load(Ordering::SeqCst);
        for (first, seen) in CAP_SERVER_FIRST.iter().zip(&CAP_SERVER_SEEN) {
            for (f, s) in first.iter().zip(seen) {
                f.store(s.load(Ordering::SeqCst), Ordering::SeqCst);
            }
        }
        let (slow_client, slow_calls) = cap_sequence(ctx, false, server_priority, frame, &caps)?;
        let slow_received = CAP_RECEIVED.load(Ordering::SeqCst);
        ensure!(
            slow_calls == 0,
            "round {round}: the fast path was off but took {slow_calls} calls"
        );
        ensure!(
            round == 1 || fast_calls > 0,
            "round {round}: the fast path took none of the calls"
        );
        ensure!(
            fast_received == slow_received && fast_received > 0,
            "round {round}: the server received {fast_received} calls with the fast path, \
             {slow_received} without"
        );
        for step in 0..CAP_STEPS {
            let (with, without) = (fast_client[step], slow_client[step]);
            let differs = (0..REGS).find(|&i| with[i] != without[i]);
            ensure!(
                differs.is_none(),
                "round {round}, Call {step}: register {differs:?} is {:x?} with the fast \
                 path, {:x?} without (rax {:#x}/{:#x})",
                differs.map(|i| with[i]),
                differs.map(|i| without[i]),
                with[RAX],
                without[RAX]
            );
        }
        let mut caps_received = 0;
        for k in 0..fast_received as usize {
            let load = |record: &CapRecord| {
                core::array::from_fn::<u64, CAP_SEEN_WORDS, _>(|i| {
                    record[k][i].load(Ordering::SeqCst)
                })
            };
            let (with, without) = (load(&CAP_SERVER_FIRST), load(&CAP_SERVER_SEEN));
            let differs = (0..CAP_SEEN_WORDS).find(|&i| with[i] != without[i]);
            ensure!(
                differs.is_none(),
                "round {round}, receive {k}: word {differs:?} is {:x?} with the fast path, \
                 {:x?} without",
                differs.map(|i| with[i]),
                differs.map(|i| without[i])
            );
            caps_received += u64::from(MessageInfo(with[RSI]).caps() == 1 && with[REGS] == 0);
        }
        ensure!(
            caps_received > 0,
            "round {round}: no cap arrived in the receive slot"
        );
    }
    Ok(())
}
