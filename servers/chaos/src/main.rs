//! `chaos`: a root task that makes [`CALLS`] random system calls and proves the kernel
//! survives them without leaking memory.
//!
//! 1. **Baseline.** Carve a dedicated untyped `D` of [`UNTYPED_BITS`] and retype the whole
//!    of it as one untyped: only possible if all of it is free. Delete that.
//! 2. **Working set.** From `D`: a CNode `K` of [`CHAOS_RADIX`] slots holding one or more
//!    caps of every kind (endpoints, badged and rightless copies, notifications, TCBs, a
//!    CNode, frames, every page-table level, an untyped, a reply object), plus an IRQ
//!    handler and a one-port I/O port cap; and a thread `T` whose CSpace is `K` (so random
//!    cptrs can never reach the root task's own caps) and whose address space is ours.
//! 3. **Chaos.** `T` makes the calls: random syscall numbers, cptrs (slots of `K`, random
//!    slots, random words), labels, message infos, argument words (small numbers, slot
//!    numbers, object types, depths, rights, addresses and random words, including random
//!    user pointers) and random IPC-buffer contents (message words, caps to send, the
//!    receive slot). A random call may block (IPC with nobody on the other side); the
//!    root task watches `T`'s progress counter and, when it stops, suspends and resumes `T`,
//!    which cancels the IPC.
//! 4. **Proof.** Stop `T`, revoke `D` (every object made from it, and everything `T` made
//!    from those, goes), and retype the whole of `D` again as one untyped.
//!
//! Steps 2 to 4 repeat for [`EPOCHS`] epochs of `CALLS / EPOCHS` calls each, so that random
//! deletes do not wear the working set down for long, and revoke meets many different
//! states.
//!
//! The PRNG is xorshift64* from a printed seed ([`SEED`]): a failing run can be replayed.
//! The kernel's answer to every call is tallied by error code and printed.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::{Error, Label, MessageInfo, Syscall};
use libsys::alloc::{AllocError, Allocator};
use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC, SLOT_CNODE, SLOT_IO_PORT_CONTROL};
use libsys::bootinfo::{SLOT_IRQ_CONTROL, SLOT_VSPACE};
use libsys::cap::{CNode, Cap, Frame, PageDirectory, PageTable, Pdpt, SlotPath, Tcb};
use libsys::cap::{IoPortControl, IrqControl, TcbConfig, Untyped, UserRegisters, VSpace};
use libsys::ipc::IpcBuffer;
use libsys::object::{CNodeGuard, ObjectType, Rights};
use libsys::println;
use libsys::syscall::{raw_syscall, yield_now, Registers};

libsys::entry!(main);

/// How many random system calls `T` makes.
pub const CALLS: u64 = 1_000_000;
/// The PRNG seed (printed; change it to explore, keep it to replay).
pub const SEED: u64 = 0x5eed_c4a0_5000_0001;
/// log2 of the dedicated untyped.
pub const UNTYPED_BITS: u32 = 23;
/// log2 of the slots of `T`'s CSpace.
pub const CHAOS_RADIX: u64 = 8;
/// Where `T`'s IPC buffer is mapped in our (shared) address space.
const CHAOS_IPC_ADDR: u64 = 0x6000_0000_0000;
/// A harmless I/O port (the POST diagnostic port) for `T`'s I/O port cap.
const CHAOS_PORT: u64 = 0x80;
/// An ISA IRQ line nothing uses, for `T`'s IRQ handler cap.
const CHAOS_IRQ: u64 = 10;
/// Root-task yields without progress before `T` is unblocked.
const STUCK_ROUNDS: u32 = 2;
/// Unblocks in a row without progress before the run is declared stalled.
const MAX_UNBLOCKS_IN_VAIN: u32 = 1000;

const ROOT: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);

/// Slots of `K` (cptrs in `T`'s CSpace) that hold the working set.
mod slot {
    pub const CSPACE: u64 = 1;
    pub const ENDPOINT: u64 = 2;
    pub const ENDPOINT_BADGED: u64 = 3;
    pub const ENDPOINT_READ: u64 = 4;
    pub const ENDPOINT_NONE: u64 = 5;
    pub const NOTIFICATION: u64 = 6;
    pub const NOTIFICATION_BADGED: u64 = 7;
    pub const NOTIFICATION_WRITE: u64 = 8;
    pub const TCB_A: u64 = 9;
    pub const TCB_B: u64 = 10;
    pub const INNER_CNODE: u64 = 11;
    pub const FRAME: u64 = 12;
    pub const FRAME_LARGE: u64 = 16;
    pub const PML4: u64 = 17;
    pub const PDPT: u64 = 18;
    pub const PD: u64 = 19;
    pub const PT: u64 = 20;
    pub const UNTYPED: u64 = 21;
    pub const REPLY: u64 = 22;
    pub const IRQ_HANDLER: u64 = 23;
    pub const IO_PORT: u64 = 24;
    /// One past the last working-set slot; the rest of `K` starts empty.
    pub const END: u64 = 25;
}

/// Epochs: each builds the working set afresh, runs `CALLS / EPOCHS` calls, revokes it all
/// and proves the dedicated untyped free again.
pub const EPOCHS: u64 = 10;
/// Where the current epoch ends (a value of [`PROGRESS`]).
static EPOCH_END: AtomicU64 = AtomicU64::new(0);
/// Calls made by `T`.
static PROGRESS: AtomicU64 = AtomicU64::new(0);
/// Results of the calls, by `rax` (0 = success, 1..=14 errors, 15 = anything else).
static RESULTS: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

const STACK_SIZE: usize = 64 * 1024;
#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);
static mut STACK: Stack = Stack([0; STACK_SIZE]);

/// Why the run failed.
enum Failure {
    Alloc(&'static str, AllocError),
    Kernel(&'static str, libsys::cap::InvocationError),
    Stalled(u64),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Alloc(step, e) => write!(f, "{step}: {e}"),
            Failure::Kernel(step, e) => write!(f, "{step}: {e}"),
            Failure::Stalled(n) => write!(f, "the chaos thread stopped after {n} calls"),
        }
    }
}

fn kernel<T>(step: &'static str, r: Result<T, libsys::cap::InvocationError>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Kernel(step, e))
}

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        println!("utest: chaos ... FAILED (bad boot info)");
        println!("utest: 0 passed, 1 failed");
        return;
    }
    println!("chaos: seed {SEED:#x}, {CALLS} calls, dedicated untyped of 2^{UNTYPED_BITS} bytes");
    match run(info) {
        Ok(calls) => {
            println!("chaos: {calls} calls, baseline restored");
            println!("utest: chaos ... ok");
            println!("utest: 1 passed, 0 failed");
        }
        Err(e) => {
            println!("utest: chaos ... FAILED ({e})");
            println!("utest: 0 passed, 1 failed");
        }
    }
}

fn run(info: &BootInfo) -> Result<u64, Failure> {
    let mut alloc = Allocator::from_boot_info(info);
    let dedicated = alloc
        .make_untyped(UNTYPED_BITS)
        .map_err(|e| Failure::Alloc("carve the dedicated untyped", e))?;
    let probe = alloc.slot().map_err(|e| Failure::Alloc("slot", e))?;
    prove_free(dedicated, probe, "baseline")?;
    println!("chaos: baseline: 2^{UNTYPED_BITS} bytes free");

    let slots = alloc.slots.clone();
    let mut unblocked = 0;
    for epoch in 1..=EPOCHS {
        EPOCH_END.store(CALLS / EPOCHS * epoch, Ordering::Relaxed);
        let thread = build_working_set(&mut alloc, dedicated, info, epoch)?;
        let watched = watch(thread);
        kernel("suspend the chaos thread", thread.suspend())?;
        unblocked += watched?;
        kernel(
            "revoke the dedicated untyped",
            ROOT.revoke(dedicated.slot()),
        )?;
        // Caps not made from the dedicated untyped (mints of our own CNode) go by hand.
        for slot in 0..libsys::alloc::MAX_SLOTS {
            if slots.is_free(slot) && !alloc.slots.is_free(slot) {
                kernel("empty a slot", ROOT.delete(SlotPath::at(slot)))?;
            }
        }
        alloc.slots = slots.clone();
        prove_free(dedicated, probe, "after an epoch")?;
        let calls = PROGRESS.load(Ordering::Relaxed);
        println!("chaos: epoch {epoch}: {calls} calls, all 2^{UNTYPED_BITS} bytes free again");
    }
    let calls = PROGRESS.load(Ordering::Relaxed);
    println!(
        "chaos: {calls} calls in {EPOCHS} epochs; unblocked the chaos thread {unblocked} times"
    );
    print_results();
    Ok(calls)
}

/// Retypes the whole of `untyped` as one untyped into `slot`, then deletes it.
fn prove_free(untyped: Cap<Untyped>, slot: u64, when: &'static str) -> Result<(), Failure> {
    let whole = untyped.retype(ObjectType::Untyped, u64::from(UNTYPED_BITS), ROOT, slot, 1);
    kernel(when, whole)?;
    kernel(when, ROOT.delete(SlotPath::at(slot)))
}

/// Makes `K`, fills it, and makes (but does not start) `T`.
fn build_working_set(
    alloc: &mut Allocator,
    dedicated: Cap<Untyped>,
    info: &BootInfo,
    epoch: u64,
) -> Result<Cap<Tcb>, Failure> {
    // From here on everything comes from the dedicated untyped.
    alloc.untyped = libsys::alloc::UntypedPool::new();
    alloc.untyped.add(dedicated.cptr(), UNTYPED_BITS, false);
    let slot_for = |alloc: &mut Allocator| alloc.slot().map_err(|e| Failure::Alloc("slot", e));
    let k = alloc
        .make_cnode(CHAOS_RADIX)
        .map_err(|e| Failure::Alloc("CNode K", e))?;
    let at = |s: u64| SlotPath {
        index: s,
        depth: CHAOS_RADIX,
    };
    let into_k = |object_type: ObjectType, size: u64, s: u64| {
        kernel("fill K", dedicated.retype(object_type, size, k, s, 1))
    };
    // K's own cap, guarded so that T's cptrs equal K's slot numbers; T's CSpace root.
    let guarded = slot_for(alloc)?;
    let guard = CNodeGuard {
        guard: 0,
        guard_bits: 64 - CHAOS_RADIX as u32,
    };
    kernel(
        "guard K",
        ROOT.mint_guard(SlotPath::at(guarded), k.slot(), guard),
    )?;
    let unguarded_root = slot_for(alloc)?;
    let no_guard = CNodeGuard {
        guard: 0,
        guard_bits: 0,
    };
    let radix = info.cnode_radix;
    let from_root = |s: u64| SlotPath {
        index: s,
        depth: radix,
    };
    let in_k = |s: u64| SlotPath {
        index: (k.cptr() << CHAOS_RADIX) | s,
        depth: radix + CHAOS_RADIX,
    };
    kernel(
        "unguarded root",
        ROOT.mint_guard(
            SlotPath::at(unguarded_root),
            SlotPath::at(SLOT_CNODE),
            no_guard,
        ),
    )?;
    let root2: Cap<CNode> = Cap::from_cptr(unguarded_root);
    kernel(
        "K in K",
        root2.copy(in_k(slot::CSPACE), from_root(guarded), Rights::ALL),
    )?;

    // The 2 MiB frame first: it needs 2 MiB alignment.
    into_k(ObjectType::Frame2M, 0, slot::FRAME_LARGE)?;
    into_k(ObjectType::Endpoint, 0, slot::ENDPOINT)?;
    kernel(
        "badged",
        k.mint(
            at(slot::ENDPOINT_BADGED),
            at(slot::ENDPOINT),
            Rights::ALL,
            0xbad,
        ),
    )?;
    kernel(
        "read",
        k.copy(at(slot::ENDPOINT_READ), at(slot::ENDPOINT), Rights::READ),
    )?;
    kernel(
        "none",
        k.copy(at(slot::ENDPOINT_NONE), at(slot::ENDPOINT), Rights::NONE),
    )?;
    into_k(ObjectType::Notification, 0, slot::NOTIFICATION)?;
    kernel(
        "badged",
        k.mint(
            at(slot::NOTIFICATION_BADGED),
            at(slot::NOTIFICATION),
            Rights::ALL,
            0x40,
        ),
    )?;
    kernel(
        "write",
        k.copy(
            at(slot::NOTIFICATION_WRITE),
            at(slot::NOTIFICATION),
            Rights::WRITE,
        ),
    )?;
    into_k(ObjectType::Tcb, 0, slot::TCB_A)?;
    into_k(ObjectType::Tcb, 0, slot::TCB_B)?;
    into_k(ObjectType::CNode, 4, slot::INNER_CNODE)?;
    for s in slot::FRAME..slot::FRAME_LARGE {
        into_k(ObjectType::Frame4K, 0, s)?;
    }
    into_k(ObjectType::Pml4, 0, slot::PML4)?;
    into_k(ObjectType::Pdpt, 0, slot::PDPT)?;
    into_k(ObjectType::Pd, 0, slot::PD)?;
    into_k(ObjectType::Pt, 0, slot::PT)?;
    into_k(ObjectType::Untyped, 16, slot::UNTYPED)?;
    into_k(ObjectType::Reply, 0, slot::REPLY)?;
    let irq: Cap<IrqControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
    let handler = slot_for(alloc)?;
    kernel("IRQ handler", irq.get(CHAOS_IRQ, SlotPath::at(handler)))?;
    kernel(
        "IRQ handler into K",
        root2.move_cap(in_k(slot::IRQ_HANDLER), from_root(handler)),
    )?;
    let ports: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let port = slot_for(alloc)?;
    kernel(
        "I/O port",
        ports.issue(CHAOS_PORT, CHAOS_PORT, SlotPath::at(port)),
    )?;
    kernel(
        "I/O port into K",
        root2.move_cap(in_k(slot::IO_PORT), from_root(port)),
    )?;

    // T's IPC buffer, mapped in our address space.
    let own: Cap<VSpace> = Cap::from_cptr(SLOT_VSPACE);
    let pdpt: Cap<Pdpt> = alloc.make().map_err(|e| Failure::Alloc("PDPT", e))?;
    kernel("map PDPT", pdpt.map(own, CHAOS_IPC_ADDR))?;
    let pd: Cap<PageDirectory> = alloc.make().map_err(|e| Failure::Alloc("PD", e))?;
    kernel("map PD", pd.map(own, CHAOS_IPC_ADDR))?;
    let pt: Cap<PageTable> = alloc.make().map_err(|e| Failure::Alloc("PT", e))?;
    kernel("map PT", pt.map(own, CHAOS_IPC_ADDR))?;
    let buffer: Cap<Frame> = alloc.make().map_err(|e| Failure::Alloc("IPC buffer", e))?;
    kernel(
        "map IPC buffer",
        buffer.map(own, CHAOS_IPC_ADDR, Rights::READ.union(Rights::WRITE)),
    )?;

    let tcb: Cap<Tcb> = alloc.make().map_err(|e| Failure::Alloc("TCB", e))?;
    let config = TcbConfig {
        cspace: Cap::from_cptr(guarded),
        vspace: own,
        ipc_buffer_addr: CHAOS_IPC_ADDR,
        ipc_buffer_frame: buffer,
        fault_endpoint: Cap::null(),
    };
    kernel("configure T", tcb.configure(&config))?;
    kernel("priority of T", tcb.set_priority(info.priority))?;
    let stack = core::ptr::addr_of!(STACK) as u64 + STACK_SIZE as u64 - 8;
    let registers = UserRegisters {
        rip: chaos_thread as *const () as u64,
        rsp: stack,
        rflags: 0x202,
        rdi: SEED ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ..UserRegisters::default()
    };
    kernel("start T", tcb.write_registers(true, &registers))?;
    Ok(tcb)
}

/// Yields while `T` works through the epoch; unblocks it when it stops making progress.
/// Returns how many times it had to.
fn watch(thread: Cap<Tcb>) -> Result<u64, Failure> {
    let (mut last, mut stuck, mut unblocked, mut in_vain) = (0, 0, 0u64, 0u32);
    let end = EPOCH_END.load(Ordering::Relaxed);
    loop {
        yield_now();
        let now = PROGRESS.load(Ordering::Relaxed);
        if now >= end {
            return Ok(unblocked);
        }
        if now != last {
            (last, stuck, in_vain) = (now, 0, 0);
            continue;
        }
        stuck += 1;
        if stuck >= STUCK_ROUNDS {
            kernel("unblock: suspend", thread.suspend())?;
            kernel("unblock: resume", thread.resume())?;
            unblocked += 1;
            stuck = 0;
            in_vain += 1;
            if in_vain > MAX_UNBLOCKS_IN_VAIN {
                return Err(Failure::Stalled(now));
            }
        }
    }
}

fn print_results() {
    let mut console = libsys::rt::DebugConsole::new();
    use core::fmt::Write;
    let _ = write!(console, "chaos: results:");
    for (code, count) in RESULTS.iter().enumerate() {
        let n = count.load(Ordering::Relaxed);
        if n == 0 {
            continue;
        }
        let name = match code {
            0 => "ok",
            15 => "other",
            c => Error::try_from(c as u64).map(|e| e.name()).unwrap_or("?"),
        };
        let _ = write!(console, " {name}={n}");
    }
    let _ = writeln!(console);
    console.flush();
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A cptr: mostly slots of `K` (working set, then anywhere), sometimes random words.
fn cptr(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0..=5 => 1 + rng.below(slot::END - 1),
        6 | 7 => rng.below(1 << CHAOS_RADIX),
        8 => rng.below(1 << 16),
        _ => rng.next(),
    }
}

/// A user address: valid ones in our address space, and every kind of invalid one.
fn address(rng: &mut Rng) -> u64 {
    let stack = rng as *const Rng as u64;
    let addresses = [
        0,
        8,
        0x1000,
        0x40_0000,
        CHAOS_IPC_ADDR,
        CHAOS_IPC_ADDR + 4088,
        stack,
        libsys::bootinfo::BOOT_INFO_ADDR,
        libsys::bootinfo::ARCHIVE_ADDR,
        0x0000_7fff_ffff_f000,
        0x0000_8000_0000_0000,
        0xffff_8000_0000_0000,
        0xffff_ffff_8000_0000,
        u64::MAX - 7,
    ];
    if rng.chance(80) {
        rng.pick(&addresses).wrapping_add(rng.below(3) * 0x1000)
    } else {
        rng.next()
    }
}

/// An argument word.
fn word(rng: &mut Rng) -> u64 {
    match rng.below(12) {
        0 | 1 => rng.below(16),
        2 => cptr(rng),
        3 => rng.below(14),
        4 => rng.pick(&[1, 4, 8, 12, 16, 20, 63, 64, 65, 0]),
        5 => rng.pick(&[0, 1, 2, 3, 0xf, 0x10, 0x13, 0x1f]),
        6 => address(rng),
        7 => rng.below(1 << 16),
        8 => 1 << rng.below(64),
        9 => u64::MAX - rng.below(4),
        _ => rng.next(),
    }
}

/// The call number: mostly real system calls.
fn number(rng: &mut Rng) -> u64 {
    if rng.chance(90) {
        rng.pick(Syscall::ALL) as u64
    } else {
        let random = rng.next();
        rng.pick(&[0, 11, 12, 0x100, u64::MAX, random])
    }
}

/// The message info: mostly real labels, short lengths, a few caps.
fn info(rng: &mut Rng) -> MessageInfo {
    if rng.chance(5) {
        return MessageInfo(rng.next());
    }
    let label = if rng.chance(85) {
        rng.pick(Label::ALL) as u64
    } else {
        let (small, random) = (rng.below(1 << 20), rng.next() >> 15);
        rng.pick(&[0, 1, 0x7_0000, small, random])
    };
    let length = match rng.below(10) {
        0..=6 => rng.below(8),
        7 | 8 => rng.below(24),
        _ => rng.below(1024),
    };
    let caps = if rng.chance(80) { 0 } else { rng.below(4) };
    MessageInfo::new(label, length, caps)
}

/// Fills part of the IPC buffer with random words, caps to send and a receive slot.
fn scribble(rng: &mut Rng, buffer: *mut IpcBuffer) {
    // SAFETY: T's IPC buffer is mapped read-write at CHAOS_IPC_ADDR for T's whole life and
    // only T touches it (the kernel writes it only while T is in a system call); raw
    // volatile writes create no references.
    unsafe {
        for i in 0..rng.below(24) as usize {
            core::ptr::addr_of_mut!((*buffer).msg[i]).write_volatile(word(rng));
        }
        for i in 0..3 {
            core::ptr::addr_of_mut!((*buffer).caps[i]).write_volatile(cptr(rng));
        }
        let receive = if rng.chance(50) {
            slot::END + rng.below(200)
        } else {
            cptr(rng)
        };
        core::ptr::addr_of_mut!((*buffer).receive_slot).write_volatile(receive);
    }
}

/// Percent of calls that are [`aimed`].
const AIMED_PERCENT: u64 = 40;

/// A slot path naming a slot of `K` from `K`'s guarded cap (depth 64), usually well
/// formed.
fn k_path(rng: &mut Rng) -> [u64; 2] {
    let index = if rng.chance(70) {
        rng.below(slot::END + 16)
    } else {
        cptr(rng)
    };
    let depth = if rng.chance(90) { 64 } else { word(rng) };
    [index, depth]
}

/// An invocation aimed at a working-set object with a label it understands and arguments
/// of the right shape, so that calls get past the first checks and change state (retype,
/// copy, mint, map, configure...). Argument words past the fourth go in the IPC buffer.
fn aimed(rng: &mut Rng, buffer: *mut IpcBuffer) -> (u64, Registers) {
    let mut args = [0u64; 8];
    for a in args.iter_mut() {
        *a = word(rng);
    }
    let (target, label) = match rng.below(9) {
        0 => {
            let object_type = 1 + rng.below(12);
            let size = rng.pick(&[0, 4, 8, 12, 14, 16, 2]);
            args[..5].copy_from_slice(&[
                object_type,
                size,
                slot::CSPACE,
                slot::END + rng.below(200),
                1 + rng.below(3),
            ]);
            (slot::UNTYPED, Label::UntypedRetype)
        }
        1 | 2 => {
            let label = rng.pick(&[
                Label::CNodeCopy,
                Label::CNodeMint,
                Label::CNodeMove,
                Label::CNodeMutate,
                Label::CNodeDelete,
                Label::CNodeRevoke,
            ]);
            let (dest, src) = (k_path(rng), k_path(rng));
            args[..4].copy_from_slice(&[dest[0], dest[1], src[0], src[1]]);
            args[4] = if rng.chance(80) {
                rng.below(16)
            } else {
                word(rng)
            };
            args[5] = if rng.chance(50) {
                rng.below(1 << 8)
            } else {
                word(rng)
            };
            (slot::CSPACE, label)
        }
        3 => {
            let vaddr = rng.below(1 << 30) & !0xfff;
            args[..3].copy_from_slice(&[slot::PML4, vaddr, rng.pick(&[1, 3, 0x11, 0x13, 0])]);
            (
                slot::FRAME + rng.below(5),
                rng.pick(&[Label::FrameMap, Label::FrameUnmap, Label::FrameGetAddress]),
            )
        }
        4 => {
            let vaddr = rng.below(1 << 30) & !0xfff;
            args[..2].copy_from_slice(&[slot::PML4, vaddr]);
            let table = rng.pick(&[slot::PDPT, slot::PD, slot::PT]);
            (
                table,
                rng.pick(&[Label::PageTableMap, Label::PageTableUnmap]),
            )
        }
        5 | 6 => {
            let label = rng.pick(&[
                Label::TcbConfigure,
                Label::TcbSetPriority,
                Label::TcbReadRegisters,
                Label::TcbWriteRegisters,
                Label::TcbResume,
                Label::TcbSuspend,
                Label::TcbBindNotification,
                Label::TcbUnbindNotification,
                Label::TcbSetTlsBase,
            ]);
            if label == Label::TcbConfigure {
                let frame = slot::FRAME + rng.below(4);
                let fault =
                    rng.pick(&[0, slot::ENDPOINT, slot::ENDPOINT_BADGED, slot::NOTIFICATION]);
                args[..5].copy_from_slice(&[
                    slot::CSPACE,
                    slot::PML4,
                    rng.below(1 << 30) & !0xfff,
                    frame,
                    fault,
                ]);
            } else if label == Label::TcbBindNotification {
                args[0] = rng.pick(&[
                    slot::NOTIFICATION,
                    slot::NOTIFICATION_BADGED,
                    slot::ENDPOINT,
                ]);
            }
            (rng.pick(&[slot::TCB_A, slot::TCB_B]), label)
        }
        7 => {
            let label = rng.pick(&[
                Label::IrqHandlerSetNotification,
                Label::IrqHandlerAck,
                Label::IrqHandlerClear,
            ]);
            args[0] = rng.pick(&[
                slot::NOTIFICATION,
                slot::NOTIFICATION_BADGED,
                slot::ENDPOINT,
            ]);
            (slot::IRQ_HANDLER, label)
        }
        _ => {
            let label = rng.pick(&[Label::IoPortIn, Label::IoPortOut]);
            args[..2].copy_from_slice(&[CHAOS_PORT + rng.below(2), rng.pick(&[1, 2, 4, 3])]);
            (slot::IO_PORT, label)
        }
    };
    let length = if rng.chance(90) { 8 } else { rng.below(8) };
    for (i, &a) in args.iter().enumerate().skip(4) {
        // SAFETY: as in `scribble`; `i - 4` is in bounds.
        unsafe { core::ptr::addr_of_mut!((*buffer).msg[i - 4]).write_volatile(a) };
    }
    let regs = Registers {
        cptr: target,
        info: MessageInfo::new(label as u64, length, 0),
        words: [args[0], args[1], args[2], args[3]],
    };
    (Syscall::Call as u64, regs)
}

/// The body of `T`: [`CALLS`] random system calls, then idle.
extern "C" fn chaos_thread(seed: u64) -> ! {
    let mut rng = Rng(seed | 1);
    let buffer = CHAOS_IPC_ADDR as *mut IpcBuffer;
    while PROGRESS.load(Ordering::Relaxed) < EPOCH_END.load(Ordering::Relaxed) {
        if rng.chance(20) {
            scribble(&mut rng, buffer);
        }
        let mut number = number(&mut rng);
        let mut regs = Registers {
            cptr: cptr(&mut rng),
            info: info(&mut rng),
            words: [
                word(&mut rng),
                word(&mut rng),
                word(&mut rng),
                word(&mut rng),
            ],
        };
        if rng.chance(AIMED_PERCENT) {
            (number, regs) = aimed(&mut rng, buffer);
        }
        if number == Syscall::DebugWrite as u64 {
            // Random pointers, but never a readable buffer: its bytes would garble the log.
            regs.cptr = rng.pick(&[0, 0x8000_0000_0000, 0xffff_8000_0000_0000, u64::MAX - 7]);
            regs.info = MessageInfo(rng.below(8192));
        }
        if number == Syscall::Yield as u64 && rng.chance(90) {
            number = Syscall::Identify as u64;
        }
        let (code, _) = raw_syscall(number, regs);
        RESULTS[code.min(15) as usize].fetch_add(1, Ordering::Relaxed);
        PROGRESS.fetch_add(1, Ordering::Relaxed);
    }
    loop {
        yield_now();
    }
}
