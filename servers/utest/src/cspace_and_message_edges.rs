//! CSpace addressing (cycles, full-width guards, the fast path's one-slot
//! lookup against kerncore's walk), badges at the edges, message and cap-transfer edge
//! cases, retype ranges, and IPC buffers that go away while their thread is blocked.
//!
//! Helper threads ("agents") run in our VSpace on the static stacks below, at our priority,
//! with a CSpace and IPC buffer chosen per test. Each performs one system call described in
//! its request record, stores the result, then yields forever (the runner's revoke destroys
//! it).

use crate::check::{Fail, TestResult};
use crate::vspace::map_tables;
use crate::{ensure, expect_err, ok, Ctx, Test, ROOT};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::{Error, MessageInfo, Syscall};
use libsys::bootinfo::SLOT_VSPACE;
use libsys::cap::{
    CNode, Cap, Endpoint, Frame, Notification, SlotPath, Tcb, TcbConfig, Untyped, UserRegisters,
    VSpace,
};
use libsys::object::{CNodeGuard, CapKind, ObjectType, Rights};
use libsys::syscall::Registers;
use libsys::syscall::{raw_syscall, set_receive_slot, set_send_cap, set_word, word, yield_now};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    cnode_cycles_end_after_64_bits,
    a_thread_whose_cspace_is_a_cycle_looks_up_in_64_bits,
    full_width_guards_agree_on_the_fast_and_slow_paths,
    a_full_width_root_slot_holding_a_cnode_is_invoked_not_walked,
    badges_of_all_ones_survive_mint_copy_signal_and_transfer,
    revoking_a_mint_takes_the_copies_it_sent,
    receive_slot_edge_cases,
    labels_and_lengths_at_the_edges,
    retype_ranges_at_the_edges,
    a_sender_whose_ipc_buffer_is_destroyed_sends_registers_only,
    a_receiver_whose_buffer_is_unmapped_still_gets_words_in_the_frame,
];

const OWN: Cap<VSpace> = Cap::from_cptr(SLOT_VSPACE);
const RW: Rights = Rights::READ.union(Rights::WRITE);
/// Where this file maps memory (PML4 entry 166, used by no other test).
const BASE: u64 = 0x5300_0000_0000;

const STACK_SIZE: usize = 8192;
const AGENTS: usize = 4;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

static mut STACKS: [Stack; AGENTS] = [const { Stack([0; STACK_SIZE]) }; AGENTS];

const NOT_YET: u64 = u64::MAX;

/// Per agent: syscall number, cptr, info, words 0..3, repeat count.
static REQUEST: [[AtomicU64; 8]; AGENTS] = [const { [const { AtomicU64::new(0) }; 8] }; AGENTS];
/// Per agent: code, returned rdi, rsi, words 0..3 (of the last call made).
static RESULT: [[AtomicU64; 7]; AGENTS] =
    [const { [const { AtomicU64::new(NOT_YET) }; 7] }; AGENTS];
/// Per agent: how many calls completed.
static DONE: [AtomicU64; AGENTS] = [const { AtomicU64::new(0) }; AGENTS];

fn stack_top(index: usize) -> u64 {
    // SAFETY: only the address of the static is taken; no reference is formed.
    let base = unsafe { core::ptr::addr_of!(STACKS[index]) } as u64;
    base + STACK_SIZE as u64 - 8
}

fn reset() {
    for i in 0..AGENTS {
        for w in &REQUEST[i] {
            w.store(0, Ordering::SeqCst);
        }
        for w in &RESULT[i] {
            w.store(NOT_YET, Ordering::SeqCst);
        }
        DONE[i].store(0, Ordering::SeqCst);
    }
}

/// Sets what agent `index` will do: `repeat` times the system call `number`.
fn request(index: usize, number: Syscall, cptr: u64, info: MessageInfo, words: [u64; 4]) {
    let r = &REQUEST[index];
    r[0].store(number as u64, Ordering::SeqCst);
    r[1].store(cptr, Ordering::SeqCst);
    r[2].store(info.0, Ordering::SeqCst);
    for (i, w) in words.iter().enumerate() {
        r[3 + i].store(*w, Ordering::SeqCst);
    }
    r[7].store(1, Ordering::SeqCst);
}

fn result(index: usize) -> [u64; 7] {
    let mut out = [0; 7];
    for (o, w) in out.iter_mut().zip(&RESULT[index]) {
        *o = w.load(Ordering::SeqCst);
    }
    out
}

fn done(index: usize) -> u64 {
    DONE[index].load(Ordering::SeqCst)
}

/// Performs the requested system call, records it, then waits for a new request (a
/// request record whose repeat count is set again).
extern "C" fn agent(index: u64) -> ! {
    let index = index as usize;
    loop {
        let r = &REQUEST[index];
        if r[7].swap(0, Ordering::SeqCst) == 0 {
            yield_now();
            continue;
        }
        let regs = Registers {
            cptr: r[1].load(Ordering::SeqCst),
            info: MessageInfo(r[2].load(Ordering::SeqCst)),
            words: [
                r[3].load(Ordering::SeqCst),
                r[4].load(Ordering::SeqCst),
                r[5].load(Ordering::SeqCst),
                r[6].load(Ordering::SeqCst),
            ],
        };
        let (code, out) = raw_syscall(r[0].load(Ordering::SeqCst), regs);
        let values = [
            code,
            out.cptr,
            out.info.0,
            out.words[0],
            out.words[1],
            out.words[2],
            out.words[3],
        ];
        for (w, v) in RESULT[index].iter().zip(values) {
            w.store(v, Ordering::SeqCst);
        }
        DONE[index].fetch_add(1, Ordering::SeqCst);
    }
}

/// Starts agent `index` in our VSpace with CSpace `cspace` and (if not null) IPC buffer
/// `frame` recorded at `buffer_addr`.
fn spawn(
    ctx: &mut Ctx,
    index: usize,
    cspace: Cap<CNode>,
    frame: Cap<Frame>,
    buffer_addr: u64,
) -> Result<Cap<Tcb>, Fail> {
    let tcb: Cap<Tcb> = ctx.make()?;
    let config = TcbConfig {
        cspace,
        vspace: OWN,
        ipc_buffer_addr: buffer_addr,
        ipc_buffer_frame: frame,
        fault_endpoint: Cap::null(),
    };
    ok!(tcb.configure(&config));
    ok!(tcb.set_priority(ctx.info.priority));
    let registers = UserRegisters {
        rip: agent as *const () as u64,
        rsp: stack_top(index),
        rflags: 0x202,
        rdi: index as u64,
        ..UserRegisters::default()
    };
    ok!(tcb.write_registers(true, &registers));
    Ok(tcb)
}

/// Yields until agent `index` completed `count` calls (or gives up).
fn wait_for(index: usize, count: u64) -> bool {
    for _ in 0..200 {
        if done(index) >= count {
            return true;
        }
        yield_now();
    }
    false
}

fn yield_times(n: u32) {
    for _ in 0..n {
        yield_now();
    }
}

/// The path of slot `slot` of the CNode in root slot `cnode` (radix `radix`), relative to
/// the loader's unguarded root CNode cap.
fn inside(ctx: &Ctx, cnode: u64, radix: u64, slot: u64) -> SlotPath {
    SlotPath {
        index: (cnode << radix) | slot,
        depth: ctx.info.cnode_radix + radix,
    }
}

/// Path of root slot `slot` relative to the unguarded root.
fn root_path(ctx: &Ctx, slot: u64) -> SlotPath {
    SlotPath {
        index: slot,
        depth: ctx.info.cnode_radix,
    }
}

/// A CNode (radix 1, no guard) that holds itself in slot 0: every (index, depth) walk
/// through slot 0 consumes one bit per level and must end after `depth` bits.
fn cnode_cycles_end_after_64_bits(ctx: &mut Ctx) -> TestResult {
    let c = ctx.cnode(1)?;
    let unguarded = ctx.loader.root_unguarded;
    ok!(unguarded.copy(
        inside(ctx, c.cptr(), 1, 0),
        root_path(ctx, c.cptr()),
        Rights::ALL
    ));
    let bit = |i: u64| SlotPath { index: i, depth: 1 };
    // Source depths outside 1..=64 (checked while slot 1 is still empty).
    for depth in [0u64, 65, 1 << 32, u64::MAX] {
        expect_err!(
            c.copy(bit(1), SlotPath { index: 0, depth }, Rights::ALL),
            Error::RangeError,
            3
        );
    }
    // 64 levels through slot 0 end in slot 0, which holds C: copy it into slot 1.
    ok!(c.copy(bit(1), SlotPath::at(0), Rights::ALL));
    // All ones: 64 levels through slot 1 end in slot 1 (occupied now).
    expect_err!(
        c.copy(SlotPath::at(u64::MAX), bit(0), Rights::ALL),
        Error::DeleteFirst,
        0
    );
    // Alternating bits end in the slot of bit 0.
    expect_err!(
        c.copy(
            SlotPath {
                index: 0xaaaa_aaaa_aaaa_aaab,
                depth: 64
            },
            bit(0),
            Rights::ALL
        ),
        Error::DeleteFirst,
        0
    );
    // A two-CNode cycle with guards: A (radix 2) slot 1 -> B with guard 0b101 (3 bits);
    // B (radix 2) slot 2 -> A with guard 1 (1 bit). Levels: A 2 bits, B 5, A' 3, B 5...
    let a = ctx.cnode(2)?;
    let b = ctx.cnode(2)?;
    let b_guard = CNodeGuard {
        guard: 0b101,
        guard_bits: 3,
    };
    let a_guard = CNodeGuard {
        guard: 1,
        guard_bits: 1,
    };
    ok!(unguarded.mint_guard(
        inside(ctx, a.cptr(), 2, 1),
        root_path(ctx, b.cptr()),
        b_guard
    ));
    ok!(unguarded.mint_guard(
        inside(ctx, b.cptr(), 2, 2),
        root_path(ctx, a.cptr()),
        a_guard
    ));
    let n: Cap<Notification> = ctx.make()?;
    ok!(unguarded.mint(
        inside(ctx, b.cptr(), 2, 3),
        root_path(ctx, n.cptr()),
        Rights::ALL,
        0x77
    ));
    // A:01 | B:101 10 | A':1 01 | B:101 11 -> B slot 3 (the notification) after 2+5+3+5
    // = 15 bits.
    let path = (0b01u64 << 13)
        | (0b101 << 10)
        | (0b10 << 8)
        | (1 << 7)
        | (0b01 << 5)
        | (0b101 << 2)
        | 0b11;
    let out = ctx.slot()?;
    ok!(unguarded.copy(
        root_path(ctx, out),
        SlotPath {
            index: (a.cptr() << 15) | path,
            depth: ctx.info.cnode_radix + 15
        },
        Rights::ALL
    ));
    let id = ok!(Cap::<Notification>::from_cptr(out).identify());
    ensure!(
        id.kind == CapKind::Notification as u64 && id.badge == 0x77,
        "15-bit path through the cycle found {id:?}"
    );
    // The same path at depth 64: the walk stops at the notification with 49 bits left
    // (resolve: a leaf with bits left is a lookup failure).
    let a0 = SlotPath { index: 0, depth: 2 };
    expect_err!(
        a.copy(
            a0,
            SlotPath {
                index: path << 49,
                depth: 64
            },
            Rights::ALL
        ),
        Error::FailedLookup,
        2
    );
    // Going round and round: the 4th level's guard fails (0b100 is not 0b101).
    expect_err!(
        a.copy(
            a0,
            SlotPath {
                index: (0b01 << 5) | (0b100 << 2) | 0b10,
                depth: 7
            },
            Rights::ALL
        ),
        Error::FailedLookup,
        2
    );
    Ok(())
}

/// A thread whose CSpace root is a self-containing CNode: every cptr walks 64 levels, and
/// the fast path (which only handles one-level CSpaces) must step aside.
fn a_thread_whose_cspace_is_a_cycle_looks_up_in_64_bits(ctx: &mut Ctx) -> TestResult {
    reset();
    let c = ctx.cnode(1)?;
    let unguarded = ctx.loader.root_unguarded;
    ok!(unguarded.copy(
        inside(ctx, c.cptr(), 1, 0),
        root_path(ctx, c.cptr()),
        Rights::ALL
    ));
    let ep: Cap<Endpoint> = ctx.make()?;
    ok!(unguarded.mint(
        inside(ctx, c.cptr(), 1, 1),
        root_path(ctx, ep.cptr()),
        Rights::ALL,
        0x31
    ));
    // cptr 0: 64 levels through slot 0 end at the CNode cap. Identify says CNode.
    request(0, Syscall::Identify, 0, MessageInfo(0), [0; 4]);
    spawn(ctx, 0, c, Cap::null(), 0)?;
    ensure!(wait_for(0, 1), "identify through a cycle never returned");
    let r = result(0);
    ensure!(
        r[0] == 0 && r[3] == CapKind::CNode as u64,
        "identify 0 -> code {} kind {}",
        r[0],
        r[3]
    );
    // cptr 1 << 63: the first level takes slot 1 (the endpoint) and stops there.
    request(
        0,
        Syscall::Call,
        1 << 63,
        MessageInfo::new(0x42, 2, 0),
        [5, 6, 0, 0],
    );
    yield_times(3);
    let got = ok!(ep.nb_recv());
    ensure!(
        got.badge == 0x31 && got.info.label() == 0x42 && got.words[..2] == [5, 6],
        "received {got:?}"
    );
    ok!(libsys::cap::reply(MessageInfo::new(0, 0, 0), [0; 4]));
    ensure!(wait_for(0, 2), "call through the cycle never returned");
    ensure!(result(0)[0] == 0, "call returned {}", result(0)[0]);
    Ok(())
}

/// One agent serving an endpoint (root CSpace) and one client calling it through a
/// one-level CSpace whose guard and radix cover 64 bits: calls of 2 words may take the
/// fast path, calls of 5 words cannot; both must find the same cap (same badge), and a
/// guard mismatch must fail on both.
fn full_width_guards_agree_on_the_fast_and_slow_paths(ctx: &mut Ctx) -> TestResult {
    let unguarded = ctx.loader.root_unguarded;
    // (radix, guard bits, guard value): 63-bit guard; 60-bit guard; 44-bit guard of zero.
    for (case, (radix, guard_bits, guard)) in [
        (1u64, 63u32, (1u64 << 57) | 0x1234),
        (4, 60, 0x3_0000_0000_0abc),
        (10, 54, 0x2a),
    ]
    .into_iter()
    .enumerate()
    {
        reset();
        let k = ctx.cnode(radix)?;
        let ep: Cap<Endpoint> = ctx.make()?;
        let slot = (1u64 << radix) - 1;
        ok!(unguarded.mint(
            inside(ctx, k.cptr(), radix, slot),
            root_path(ctx, ep.cptr()),
            Rights::ALL,
            0x500 + case as u64
        ));
        let root_of = ctx.slot()?;
        ok!(ROOT.mint_guard(
            SlotPath::at(root_of),
            SlotPath::at(k.cptr()),
            CNodeGuard { guard, guard_bits }
        ));
        // Agent 1 serves in our CSpace (Recv; then the runner replies for it).
        request(1, Syscall::Recv, ep.cptr(), MessageInfo(0), [0; 4]);
        let server = spawn(ctx, 1, ROOT, Cap::null(), 0)?;
        let client = spawn(ctx, 0, Cap::from_cptr(root_of), Cap::null(), 0)?;
        yield_times(2);
        let cptr = (guard << radix) | slot;
        for (round, length) in [(1u64, 2u64), (2, 5)] {
            request(
                0,
                Syscall::Call,
                cptr,
                MessageInfo::new(0x60 + length, length, 0),
                [length, 0, 0, 0],
            );
            ensure!(
                wait_for(1, round),
                "case {case} round {round}: the server got nothing"
            );
            let r = result(1);
            ensure!(
                r[0] == 0
                    && r[1] == 0x500 + case as u64
                    && MessageInfo(r[2]).label() == 0x60 + length,
                "case {case} round {round}: server saw code {} badge {:#x} info {:#x}",
                r[0],
                r[1],
                r[2]
            );
            // The server replies and receives again.
            request(
                1,
                Syscall::ReplyRecv,
                ep.cptr(),
                MessageInfo::new(0, 1, 0),
                [round, 0, 0, 0],
            );
            ensure!(
                wait_for(0, round),
                "case {case} round {round}: the client got no reply"
            );
            let c = result(0);
            ensure!(
                c[0] == 0 && c[3] == round,
                "case {case} round {round}: client got code {} word {}",
                c[0],
                c[3]
            );
        }
        // Wrong guard (lowest guard bit flipped): both lengths fail the lookup.
        for length in [2u64, 5] {
            request(
                0,
                Syscall::Call,
                cptr ^ (1 << radix),
                MessageInfo::new(1, length, 0),
                [0; 4],
            );
            let before = done(0);
            ensure!(
                wait_for(0, before + 1),
                "case {case}: no answer to a bad guard"
            );
            let c = result(0);
            ensure!(
                c[0] == Error::FailedLookup as u64,
                "case {case}: a cptr with a wrong guard returned {} (length {length})",
                c[0]
            );
        }
        // The agents share stacks with the next case's: delete them.
        ok!(ROOT.delete(client.slot()));
        ok!(ROOT.delete(server.slot()));
    }
    Ok(())
}

/// A one-level CSpace whose guard and radix cover 64 bits, with a CNode cap in the named
/// slot: the walk stops there (no bits left) and the Call is an invocation of that CNode,
/// on the fast path's side (one slot read, not an endpoint: step aside) and the slow one's.
fn a_full_width_root_slot_holding_a_cnode_is_invoked_not_walked(ctx: &mut Ctx) -> TestResult {
    reset();
    let unguarded = ctx.loader.root_unguarded;
    let k = ctx.cnode(2)?;
    let inner = ctx.cnode(2)?;
    ok!(unguarded.copy(
        inside(ctx, k.cptr(), 2, 3),
        root_path(ctx, inner.cptr()),
        Rights::ALL
    ));
    let root_of = ctx.slot()?;
    ok!(ROOT.mint_guard(
        SlotPath::at(root_of),
        SlotPath::at(k.cptr()),
        CNodeGuard {
            guard: 0,
            guard_bits: 62
        }
    ));
    // Label 7 is no CNode label: IllegalOperation about the invoked cap.
    request(0, Syscall::Call, 3, MessageInfo::new(7, 0, 0), [0; 4]);
    spawn(ctx, 0, Cap::from_cptr(root_of), Cap::null(), 0)?;
    ensure!(wait_for(0, 1), "no answer");
    let r = result(0);
    ensure!(
        r[0] == Error::IllegalOperation as u64,
        "Call on a CNode cap in a full-width slot returned {}",
        r[0]
    );
    request(0, Syscall::Identify, 3, MessageInfo(0), [0; 4]);
    ensure!(wait_for(0, 2), "no answer");
    let r = result(0);
    ensure!(
        r[0] == 0 && r[3] == CapKind::CNode as u64,
        "identify {r:x?}"
    );
    Ok(())
}

/// Badge u64::MAX: mint, copy, identify, signal, and the badge delivered with IPC.
fn badges_of_all_ones_survive_mint_copy_signal_and_transfer(ctx: &mut Ctx) -> TestResult {
    reset();
    let n: Cap<Notification> = ctx.make()?;
    let nb = ctx.mint(n, Rights::ALL, u64::MAX)?;
    let copy = ctx.mint(nb, Rights::WRITE, 0)?;
    let id = ok!(copy.identify());
    ensure!(id.badge == u64::MAX, "copy badge {:#x}", id.badge);
    ok!(copy.signal());
    let bits = ok!(n.poll());
    ensure!(bits == u64::MAX, "signal bits {bits:#x}");
    // No re-badging, not even with the same value.
    let slot = ctx.slot()?;
    expect_err!(
        ROOT.mint(SlotPath::at(slot), nb.slot(), Rights::ALL, u64::MAX),
        Error::InvalidArgument,
        5
    );
    let ep: Cap<Endpoint> = ctx.make()?;
    let eb = ctx.mint(ep, Rights::ALL, u64::MAX)?;
    request(
        0,
        Syscall::Send,
        eb.cptr(),
        MessageInfo::new(3, 1, 0),
        [9, 0, 0, 0],
    );
    spawn(ctx, 0, ROOT, Cap::null(), 0)?;
    yield_times(2);
    let got = ok!(ep.nb_recv());
    ensure!(got.badge == u64::MAX, "delivered badge {:#x}", got.badge);
    Ok(())
}

/// A badged cap sent to a *different* endpoint is copied (not unwrapped), the copy is a
/// child of the minted cap, and revoking the mint deletes it; the unbadged original and
/// its other mints stay.
fn revoking_a_mint_takes_the_copies_it_sent(ctx: &mut Ctx) -> TestResult {
    reset();
    let target: Cap<Endpoint> = ctx.make()?;
    let via: Cap<Endpoint> = ctx.make()?;
    let minted = ctx.mint(target, Rights::ALL, 0x4242)?;
    let other_mint = ctx.mint(target, Rights::ALL, 0x4242)?;
    // The agent shares our IPC buffer frame (it runs only while we yield).
    let frame: Cap<Frame> = Cap::from_cptr(libsys::bootinfo::SLOT_IPC_BUFFER);
    set_send_cap(0, minted.cptr());
    request(
        0,
        Syscall::Send,
        via.cptr(),
        MessageInfo::new(1, 0, 1),
        [0; 4],
    );
    spawn(ctx, 0, ROOT, frame, libsys::bootinfo::IPC_BUFFER_ADDR)?;
    yield_times(2);
    let receive = ctx.slot()?;
    set_receive_slot(receive);
    let got = ok!(via.nb_recv());
    set_receive_slot(0);
    ensure!(
        got.info.caps() == 1 && got.info.caps_unwrapped() == 0,
        "caps {} unwrapped {:#b}",
        got.info.caps(),
        got.info.caps_unwrapped()
    );
    let id = ok!(Cap::<Endpoint>::from_cptr(receive).identify());
    ensure!(id.badge == 0x4242, "received badge {:#x}", id.badge);
    // A separate mint of the same badge is no parent of the first mint or its copies.
    ok!(ROOT.revoke(other_mint.slot()));
    ensure!(
        ok!(minted.identify()).badge == 0x4242,
        "revoking a separate mint of the same badge took the first"
    );
    ensure!(
        ok!(Cap::<Endpoint>::from_cptr(receive).identify()).badge == 0x4242,
        "revoking a separate mint of the same badge took the copy sent"
    );
    ok!(ROOT.revoke(minted.slot()));
    ctx.expect_empty(receive)?;
    ensure!(
        ok!(minted.identify()).badge == 0x4242,
        "the mint itself went"
    );
    Ok(())
}

/// receive_slot: occupied (message arrives, no cap), 0 (no cap), beyond the root CNode
/// (guard mismatch: no cap), and a cap sent to its own endpoint unbadged (copied).
fn receive_slot_edge_cases(ctx: &mut Ctx) -> TestResult {
    reset();
    let via: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    let frame: Cap<Frame> = Cap::from_cptr(libsys::bootinfo::SLOT_IPC_BUFFER);
    let occupied = ctx.slot()?;
    let marker: Cap<Notification> = ctx.make()?;
    ok!(ROOT.copy(SlotPath::at(occupied), marker.slot(), Rights::ALL));
    spawn(ctx, 0, ROOT, frame, libsys::bootinfo::IPC_BUFFER_ADDR)?;
    let free = ctx.slot()?;
    for (round, (receive_slot, cap)) in [
        (occupied, n.cptr()),
        (0, n.cptr()),
        (1 << 12, n.cptr()),
        (u64::MAX, n.cptr()),
        (free, via.cptr()),
    ]
    .into_iter()
    .enumerate()
    {
        set_send_cap(0, cap);
        set_send_cap(1, n.cptr());
        request(
            0,
            Syscall::Send,
            via.cptr(),
            MessageInfo::new(0x10, 1, 2),
            [round as u64, 0, 0, 0],
        );
        let before = done(0);
        yield_times(2);
        set_receive_slot(receive_slot);
        let got = via.nb_recv();
        set_receive_slot(0);
        let got = ok!(got);
        ensure!(
            got.words[0] == round as u64 && got.info.label() == 0x10,
            "round {round}: message {got:?}"
        );
        let expected = if round == 4 { 1 } else { 0 };
        ensure!(
            got.info.caps() == expected && got.info.caps_unwrapped() == 0,
            "round {round}: caps {} unwrapped {:#b}",
            got.info.caps(),
            got.info.caps_unwrapped()
        );
        ensure!(
            wait_for(0, before + 1),
            "round {round}: sender not released"
        );
    }
    let id = ok!(marker.identify());
    let occupant = ok!(Cap::<Notification>::from_cptr(occupied).identify());
    ensure!(
        occupant.kind == id.kind && occupant.badge == 0,
        "occupied slot changed"
    );
    ensure!(
        ok!(Cap::<Endpoint>::from_cptr(free).identify()).kind == CapKind::Endpoint as u64,
        "the unbadged endpoint cap did not arrive"
    );
    Ok(())
}

/// Labels 0 and 2^49 - 1, lengths 0, 4, 5, 512, 513 and 1023 between two buffers, and a
/// sender without a buffer (clipped to 4).
fn labels_and_lengths_at_the_edges(ctx: &mut Ctx) -> TestResult {
    reset();
    let via: Cap<Endpoint> = ctx.make()?;
    map_tables(ctx, OWN, BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(OWN, BASE, RW));
    let theirs = |i: usize| (BASE + 8 * i as u64) as *mut u64;
    for i in 0..508 {
        // SAFETY: the frame is mapped read-write at BASE; `i` < 512 words.
        unsafe { theirs(i).write_volatile(0xa000 + i as u64) };
    }
    spawn(ctx, 0, ROOT, frame, BASE)?;
    let max_label = (1u64 << 49) - 1;
    for (round, (label, length)) in [
        (0u64, 0u64),
        (max_label, 4),
        (max_label, 5),
        (1, 512),
        (2, 513),
        (max_label, 1023),
    ]
    .into_iter()
    .enumerate()
    {
        for i in 4..512 {
            set_word(i, 0xdead);
        }
        request(
            0,
            Syscall::Send,
            via.cptr(),
            MessageInfo::new(label, length, 0),
            [1, 2, 3, 4],
        );
        yield_times(2);
        let got = ok!(via.nb_recv());
        let want = length.min(512);
        ensure!(
            got.info.label() == label && got.info.length() == want,
            "round {round}: label {:#x} length {}",
            got.info.label(),
            got.info.length()
        );
        for i in 4..want as usize {
            ensure!(
                word(i) == 0xa000 + (i - 4) as u64,
                "round {round}: word {i} is {:#x}",
                word(i)
            );
        }
        let first_not_sent = want.max(4) as usize;
        if first_not_sent < 512 {
            ensure!(
                word(first_not_sent) == 0xdead,
                "round {round}: word {first_not_sent}, past the length, was written"
            );
        }
        ensure!(wait_for(0, round as u64 + 1), "round {round}: sender stuck");
    }
    Ok(())
}

/// UntypedRetype at the edges of its count and destination range.
fn retype_ranges_at_the_edges(ctx: &mut Ctx) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let dest = ctx.cnode(8)?;
    let retype =
        |offset: u64, count: u64| untyped.retype(ObjectType::Endpoint, 0, dest, offset, count);
    expect_err!(retype(0, 257), Error::RangeError, 4);
    expect_err!(retype(0, 0), Error::RangeError, 4);
    expect_err!(retype(1, 256), Error::RangeError, 3);
    expect_err!(retype(u64::MAX, 2), Error::RangeError, 3);
    expect_err!(retype(u64::MAX - 254, 256), Error::RangeError, 3);
    expect_err!(retype(256, 1), Error::RangeError, 3);
    ok!(retype(0, 256));
    expect_err!(retype(255, 1), Error::DeleteFirst, 3);
    // Untyped sizes: 47 is valid but does not fit, 48 is out of range.
    let slot = ctx.slot()?;
    expect_err!(
        untyped.retype(ObjectType::Untyped, 47, ROOT, slot, 1),
        Error::NotEnoughMemory,
        u64::MAX
    );
    expect_err!(
        untyped.retype(ObjectType::Untyped, 48, ROOT, slot, 1),
        Error::RangeError,
        1
    );
    // A child untyped, itself retyped, then the parent revoked: everything goes and the
    // parent's memory is whole again.
    ok!(ROOT.revoke(untyped.slot()));
    ctx.expect_empty(slot)?;
    ok!(untyped.retype(ObjectType::Untyped, 15, ROOT, slot, 1));
    let child: Cap<Untyped> = Cap::from_cptr(slot);
    let inner = ctx.slot()?;
    ok!(child.retype(ObjectType::CNode, 8, ROOT, inner, 1));
    ok!(child.retype(ObjectType::Endpoint, 0, Cap::from_cptr(inner), 0, 256));
    ok!(ROOT.revoke(untyped.slot()));
    ctx.expect_empty(slot)?;
    ctx.expect_empty(inner)?;
    ok!(untyped.retype(ObjectType::Untyped, 16, ROOT, slot, 1));
    ok!(ROOT.delete(SlotPath::at(slot)));
    // A destination CNode named through a CNode cap with a guard is still the CNode.
    let guarded = ctx.slot()?;
    ok!(ROOT.mint_guard(
        SlotPath::at(guarded),
        dest.slot(),
        CNodeGuard {
            guard: 3,
            guard_bits: 2
        }
    ));
    ok!(ROOT.revoke(untyped.slot()));
    ok!(untyped.retype(ObjectType::Notification, 0, Cap::from_cptr(guarded), 254, 2));
    Ok(())
}

/// A sender blocked in Send with a long message and a cap loses its IPC buffer frame
/// (its untyped is revoked) before the receiver comes: only the register words arrive,
/// with no cap, and the receiver's buffer keeps its words.
fn a_sender_whose_ipc_buffer_is_destroyed_sends_registers_only(ctx: &mut Ctx) -> TestResult {
    reset();
    let via: Cap<Endpoint> = ctx.make()?;
    let n: Cap<Notification> = ctx.make()?;
    map_tables(ctx, OWN, BASE)?;
    let memory = ctx.untyped(12)?;
    let fslot = ctx.slot()?;
    ok!(memory.retype(ObjectType::Frame4K, 0, ROOT, fslot, 1));
    let frame: Cap<Frame> = Cap::from_cptr(fslot);
    ok!(frame.map(OWN, BASE, RW));
    for i in 0..508u64 {
        // SAFETY: mapped read-write at BASE.
        unsafe { ((BASE + 8 * i) as *mut u64).write_volatile(0xb000 + i) };
    }
    // SAFETY: as above; caps[0] is at offset 4064.
    unsafe { ((BASE + 4064) as *mut u64).write_volatile(n.cptr()) };
    spawn(ctx, 0, ROOT, frame, BASE)?;
    request(
        0,
        Syscall::Send,
        via.cptr(),
        MessageInfo::new(5, 100, 1),
        [1, 2, 3, 4],
    );
    yield_times(2);
    // The frame goes, with the TCB's copy; its memory becomes a notification.
    ok!(ROOT.revoke(memory.slot()));
    ctx.expect_empty(fslot)?;
    let reuse = ctx.slot()?;
    ok!(memory.retype(ObjectType::Notification, 0, ROOT, reuse, 1));
    for i in 4..104 {
        set_word(i, 0xcafe);
    }
    let receive = ctx.slot()?;
    set_receive_slot(receive);
    let got = via.nb_recv();
    set_receive_slot(0);
    let got = ok!(got);
    ensure!(
        got.info.length() == 4 && got.info.caps() == 0 && got.words == [1, 2, 3, 4],
        "delivered {got:?}"
    );
    for i in 4..104 {
        ensure!(
            word(i) == 0xcafe,
            "word {i} overwritten with {:#x}",
            word(i)
        );
    }
    ctx.expect_empty(receive)?;
    ensure!(wait_for(0, 1), "sender not released");
    Ok(())
}

/// The kernel writes a receiver's IPC buffer through the frame: unmapping the frame while
/// the receiver waits changes nothing, and the words are there when it is mapped again
/// elsewhere.
fn a_receiver_whose_buffer_is_unmapped_still_gets_words_in_the_frame(ctx: &mut Ctx) -> TestResult {
    reset();
    let via: Cap<Endpoint> = ctx.make()?;
    map_tables(ctx, OWN, BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(OWN, BASE, RW));
    request(0, Syscall::Recv, via.cptr(), MessageInfo(0), [0; 4]);
    spawn(ctx, 0, ROOT, frame, BASE)?;
    yield_times(2);
    ok!(frame.unmap());
    for i in 4..20 {
        set_word(i, 0xd000 + i as u64);
    }
    ok!(via.send(MessageInfo::new(9, 20, 0), [1, 2, 3, 4]));
    ensure!(wait_for(0, 1), "receiver never woke");
    let r = result(0);
    ensure!(
        r[0] == 0 && MessageInfo(r[2]).length() == 20,
        "receiver got code {} info {:#x}",
        r[0],
        r[2]
    );
    ok!(frame.map(OWN, BASE + 0x1000, RW));
    for i in 4..20u64 {
        // SAFETY: mapped read-write at BASE + 0x1000.
        let w = unsafe { ((BASE + 0x1000 + 8 * (i - 4)) as *const u64).read_volatile() };
        ensure!(w == 0xd000 + i, "word {i} in the frame is {w:#x}");
    }
    Ok(())
}
