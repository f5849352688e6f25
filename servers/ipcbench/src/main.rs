//! `ipcbench`: the IPC benchmark, run as the root task by `cargo xtask bench ipc`.
//!
//! Starts `ipcpeer` four times from the boot archive, each in its own address space at our
//! priority: in `mode::PONG` (echo every message, same length), `mode::PONG_CAP` (also
//! accept one cap per message and delete it before replying), `mode::STAMP` and
//! `mode::STAMP_CAP` (answer with the time-stamp counter read when the message arrived,
//! before deleting its cap). Then it times [`ROUND_TRIPS`] `Call`/`ReplyRecv` round trips
//! with `rdtsc`, after [`WARM_UP`] untimed ones, for: a one-word message (the kernel's fast
//! path, then again with the fast path switched off through the debug console cap), a
//! 10-word message and a 4 KiB (512-word) message each way (the general path), and a
//! one-word message carrying one cap; and one way (from before the `Call` to the peer's
//! return from its receive) a `Call` carrying 10 words and a `Call` carrying one cap.
//!
//! Under QEMU TCG with `-icount shift=0` one `rdtsc` tick is one executed instruction (each
//! iteration of a `rep` string instruction counts as one), so the figures are instructions
//! per round trip, both threads and the kernel included, and the loop around the `Call`.
//! With KVM on real hardware they are cycles.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use ipcpeer::mode;
use libsys::abi::MessageInfo;
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC};
use libsys::cap::{Cap, DebugConsole, Endpoint, Notification};
use libsys::loader::{Loader, Process, ProcessConfig};
use libsys::object::Rights;
use libsys::println;
use libsys::syscall;
use libsys::time::now;

libsys::entry!(main);

/// Timed round trips per figure.
pub const ROUND_TRIPS: u64 = 10_000;
/// Untimed round trips before each figure.
pub const WARM_UP: u64 = 100;
/// Words in the long message: 4 KiB.
const LONG_WORDS: u64 = MessageInfo::MAX_LENGTH;

/// Why the benchmark could not run.
enum Failure {
    Setup(&'static str),
    Load(libsys::loader::LoadError),
    Alloc(libsys::alloc::AllocError),
    Ipc(&'static str, libsys::cap::InvocationError),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Setup(what) => write!(f, "{what}"),
            Failure::Load(e) => write!(f, "loading ipcpeer: {e}"),
            Failure::Alloc(e) => write!(f, "{e}"),
            Failure::Ipc(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        println!("ipcbench: bad boot info");
        return;
    }
    if let Err(e) = run(info) {
        println!("bench: failed: {e}");
    }
}

/// Loads a pong peer serving a fresh endpoint; returns the endpoint.
fn start_pong(
    alloc: &mut Allocator,
    loader: &mut Loader,
    info: &BootInfo,
    peer_mode: u64,
) -> Result<(Cap<Endpoint>, Process), Failure> {
    let image = Loader::archive_file(info.archive_length, "bin/ipcpeer").map_err(Failure::Load)?;
    let config = ProcessConfig {
        untyped_bits: 20,
        priority: info.priority,
        ..ProcessConfig::default()
    };
    let process = loader.load(alloc, image, &config).map_err(Failure::Load)?;
    let endpoint: Cap<Endpoint> = alloc.make().map_err(Failure::Alloc)?;
    process
        .give(loader, endpoint, ipcpeer::SLOT_ENDPOINT, Rights::ALL)
        .map_err(Failure::Load)?;
    process.start(peer_mode).map_err(Failure::Load)?;
    Ok((endpoint, process))
}

fn run(info: &BootInfo) -> Result<(), Failure> {
    let mut alloc = Allocator::from_boot_info(info);
    let mut loader = Loader::new(
        &mut alloc,
        info.cnode_radix,
        Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
    )
    .map_err(Failure::Load)?;
    let (pong, _p1) = start_pong(&mut alloc, &mut loader, info, mode::PONG)?;
    let (pong_cap, _p2) = start_pong(&mut alloc, &mut loader, info, mode::PONG_CAP)?;
    let (stamp, _p3) = start_pong(&mut alloc, &mut loader, info, mode::STAMP)?;
    let (stamp_cap, _p4) = start_pong(&mut alloc, &mut loader, info, mode::STAMP_CAP)?;
    let gift: Cap<Notification> = alloc.make().map_err(Failure::Alloc)?;

    let one_word = MessageInfo::new(0, 1, 0);
    let fast = measure(pong, one_word, "1-word round trip")?;
    // The same round trip through the general path: the fast path switched off meanwhile.
    let console = Cap::<DebugConsole>::from_cptr(libsys::bootinfo::SLOT_DEBUG_CONSOLE);
    console
        .set_fast_path(false)
        .map_err(|e| Failure::Ipc("fast path off", e))?;
    let general = measure(pong, one_word, "1-word round trip, general path");
    console
        .set_fast_path(true)
        .map_err(|e| Failure::Ipc("fast path on", e))?;
    let general = general?;
    for i in 4..LONG_WORDS as usize {
        syscall::set_word(i, i as u64);
    }
    let ten = measure(pong, MessageInfo::new(0, 10, 0), "10-word round trip")?;
    let long = measure(pong, MessageInfo::new(0, LONG_WORDS, 0), "4 KiB round trip")?;
    syscall::set_send_cap(0, gift.cptr());
    let ten_call = measure_one_way(stamp, MessageInfo::new(0, 10, 0), "10-word Call")?;
    let with_cap = measure(pong_cap, MessageInfo::new(0, 1, 1), "1-cap round trip")?;
    let cap_call = measure_one_way(stamp_cap, MessageInfo::new(0, 1, 1), "1-cap Call")?;
    if syscall::word(LONG_WORDS as usize - 1) != LONG_WORDS - 1 {
        return Err(Failure::Setup("the 4 KiB message did not come back intact"));
    }

    println!("bench: ipc-1word: {fast} instructions per round trip ({ROUND_TRIPS} round trips)");
    println!("bench: ipc-1word-general: {general} instructions per round trip ({ROUND_TRIPS} round trips, fast path off)");
    println!("bench: ipc-10word: {ten} instructions per round trip ({ROUND_TRIPS} round trips)");
    println!("bench: ipc-4KiB: {long} instructions per round trip ({ROUND_TRIPS} round trips)");
    println!("bench: ipc-1cap: {with_cap} instructions per round trip ({ROUND_TRIPS} round trips)");
    println!(
        "bench: ipc-10word-call: {ten_call} instructions per Call, one way ({ROUND_TRIPS} calls)"
    );
    println!("bench: ipc-1cap-call: {cap_call} instructions per Call, one way, the cap's transfer alone ({ROUND_TRIPS} calls)");
    println!("bench: note: ipc-10word and ipc-4KiB carry 10 and 512 words each way (general path); ipc-1cap includes the receiver's CNodeDelete of the cap; the -call figures run from before the caller's system call to the receiver's return from its own");
    println!("bench: ipc round trip (1 word, fast path): {fast} instructions");
    long_operations(&mut alloc)
}

/// One long operation's figures: the longest single kernel entry while it ran (interrupts
/// are off for a whole entry) and the whole call, as seen from user mode (restarts and
/// interrupts taken in between included).
struct Stretch {
    longest: u64,
    whole: u64,
}

/// Runs `call` (a system call that may do long work) and measures it.
fn stretch(
    what: &'static str,
    call: impl FnOnce() -> libsys::cap::InvocationResult,
) -> Result<Stretch, Failure> {
    let console: Cap<libsys::cap::DebugConsole> =
        Cap::from_cptr(libsys::bootinfo::SLOT_DEBUG_CONSOLE);
    console
        .longest_entry()
        .map_err(|e| Failure::Ipc("longest entry", e))?;
    let start = now();
    call().map_err(|e| Failure::Ipc(what, e))?;
    let whole = now() - start;
    let longest = console
        .longest_entry()
        .map_err(|e| Failure::Ipc("longest entry", e))?;
    Ok(Stretch { longest, whole })
}

/// The long kernel operations of issue 14, each one system call.
fn long_operations(alloc: &mut Allocator) -> Result<(), Failure> {
    use libsys::cap::{CNode, SlotPath};
    use libsys::object::ObjectType;
    const ROOT: Cap<CNode> = Cap::from_cptr(libsys::bootinfo::SLOT_CNODE);
    let big = alloc.make_untyped(26).map_err(Failure::Alloc)?;
    let dest = alloc
        .slots
        .alloc_range(32)
        .ok_or(Failure::Setup("no 32 free slots"))?;
    // 64 MiB as one untyped child.
    let child = stretch("retype 64 MiB untyped", || {
        big.retype(ObjectType::Untyped, 26, ROOT, dest, 1)
    })?;
    ROOT.revoke(big.slot())
        .map_err(|e| Failure::Ipc("revoke", e))?;
    // 64 MiB as 32 frames of 2 MiB: the untyped starts over, so it zeroes 64 MiB first.
    let frames = stretch("retype 64 MiB of frames", || {
        big.retype(ObjectType::Frame2M, 0, ROOT, dest, 32)
    })?;
    ROOT.revoke(big.slot())
        .map_err(|e| Failure::Ipc("revoke", e))?;
    // A "process" holding 64 MiB in 4 KiB frames: a CNode of 2^14 slots (1 MiB) holding
    // 16,128 frame caps (63 MiB), all from the untyped; then the untyped is revoked.
    let holder = alloc.slot().map_err(Failure::Alloc)?;
    big.retype(ObjectType::CNode, 14, ROOT, holder, 1)
        .map_err(|e| Failure::Ipc("retype CNode", e))?;
    let pages = (63 << 20) / 4096;
    for batch in (0..pages).step_by(256) {
        big.retype(
            ObjectType::Frame4K,
            0,
            Cap::<CNode>::from_cptr(holder),
            batch,
            256,
        )
        .map_err(|e| Failure::Ipc("retype frames", e))?;
    }
    let revoke = stretch("revoke 64 MiB of 4 KiB frames", || ROOT.revoke(big.slot()))?;
    // A CNode of 4096 slots, every one holding a copy of an endpoint cap.
    let cnode_slot = alloc.slot().map_err(Failure::Alloc)?;
    big.retype(ObjectType::CNode, 12, ROOT, cnode_slot, 1)
        .map_err(|e| Failure::Ipc("retype CNode", e))?;
    let endpoint: Cap<Endpoint> = alloc.make().map_err(Failure::Alloc)?;
    let unguarded: Cap<CNode> = Cap::from_cptr(alloc.slot().map_err(Failure::Alloc)?);
    ROOT.mint(unguarded.slot(), ROOT.slot(), Rights::ALL, 0)
        .map_err(|e| Failure::Ipc("mint", e))?;
    for i in 0..4096u64 {
        // Root slot `cnode_slot` (12 bits), then slot i of the CNode (12 bits).
        let to = SlotPath {
            index: (cnode_slot << 12) | i,
            depth: 24,
        };
        let from = SlotPath {
            index: endpoint.cptr(),
            depth: 12,
        };
        unguarded
            .copy(to, from, Rights::ALL)
            .map_err(|e| Failure::Ipc("fill the CNode", e))?;
    }
    let delete = stretch("delete a full CNode", || {
        ROOT.delete(SlotPath::at(cnode_slot))
    })?;
    // The same CNode again, now bound as a thread's CSpace and then replaced by
    // `TcbConfigure`: the binding held the last cap, so replacing it deletes 4096 caps.
    big.retype(ObjectType::CNode, 12, ROOT, cnode_slot, 1)
        .map_err(|e| Failure::Ipc("retype CNode", e))?;
    for i in 0..4096u64 {
        let to = SlotPath {
            index: (cnode_slot << 12) | i,
            depth: 24,
        };
        let from = SlotPath {
            index: endpoint.cptr(),
            depth: 12,
        };
        unguarded
            .copy(to, from, Rights::ALL)
            .map_err(|e| Failure::Ipc("fill the CNode", e))?;
    }
    let thread: Cap<libsys::cap::Tcb> = alloc.make().map_err(Failure::Alloc)?;
    let bind = |cspace: Cap<CNode>| {
        thread.configure(&libsys::cap::TcbConfig {
            cspace,
            vspace: Cap::null(),
            ipc_buffer_addr: 0,
            ipc_buffer_frame: Cap::null(),
            fault_endpoint: Cap::null(),
        })
    };
    bind(Cap::from_cptr(cnode_slot)).map_err(|e| Failure::Ipc("bind the CNode", e))?;
    ROOT.delete(SlotPath::at(cnode_slot))
        .map_err(|e| Failure::Ipc("delete the CNode cap", e))?;
    let configure = stretch("configure replacing a full CSpace", || bind(ROOT))?;
    // An address space with 512 page tables (one full page directory), destroyed with its
    // untyped before its tables: it empties all 512.
    ROOT.revoke(big.slot())
        .map_err(|e| Failure::Ipc("revoke", e))?;
    let upper = alloc
        .slots
        .alloc_range(2)
        .ok_or(Failure::Setup("no 2 free slots"))?;
    big.retype(ObjectType::Pdpt, 0, ROOT, upper, 1)
        .map_err(|e| Failure::Ipc("retype PDPT", e))?;
    big.retype(ObjectType::Pd, 0, ROOT, upper + 1, 1)
        .map_err(|e| Failure::Ipc("retype PD", e))?;
    let tables = alloc
        .slots
        .alloc_range(512)
        .ok_or(Failure::Setup("no 512 free slots"))?;
    for batch in [0, 256] {
        big.retype(ObjectType::Pt, 0, ROOT, tables + batch, 256)
            .map_err(|e| Failure::Ipc("retype PTs", e))?;
    }
    // The address space last, so that revoking the untyped destroys it first, while
    // its 512 tables are still mapped in it (each is emptied: 512 entries).
    let vspace_slot = alloc.slot().map_err(Failure::Alloc)?;
    big.retype(ObjectType::Pml4, 0, ROOT, vspace_slot, 1)
        .map_err(|e| Failure::Ipc("retype PML4", e))?;
    let vspace: Cap<libsys::cap::VSpace> = Cap::from_cptr(vspace_slot);
    let pool: Cap<libsys::cap::AsidPool> = Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL);
    pool.assign(vspace)
        .map_err(|e| Failure::Ipc("assign ASID", e))?;
    Cap::<libsys::cap::Pdpt>::from_cptr(upper)
        .map(vspace, 0)
        .map_err(|e| Failure::Ipc("map PDPT", e))?;
    Cap::<libsys::cap::PageDirectory>::from_cptr(upper + 1)
        .map(vspace, 0)
        .map_err(|e| Failure::Ipc("map PD", e))?;
    for i in 0..512 {
        Cap::<libsys::cap::PageTable>::from_cptr(tables + i)
            .map(vspace, i << 21)
            .map_err(|e| Failure::Ipc("map PT", e))?;
    }
    let teardown = stretch("revoke an address space of 512 tables", || {
        ROOT.revoke(big.slot())
    })?;
    for (name, s) in [
        ("revoke-vspace-512-tables", teardown),
        ("retype-64MiB-untyped", child),
        ("retype-64MiB-frames", frames),
        ("revoke-64MiB-4KiB-frames", revoke),
        ("delete-cnode-4096", delete),
        ("configure-replacing-cnode-4096", configure),
    ] {
        println!(
            "bench: longop-{name}: longest kernel entry {} instructions (whole call {})",
            s.longest, s.whole
        );
    }
    Ok(())
}

/// Warms up, then times [`ROUND_TRIPS`] calls of `info` on a [`mode::STAMP`] peer one way:
/// from before each `Call` to the moment the peer's receive returned (the time-stamp
/// counter it read then comes back in the reply); returns the mean (rounded to the
/// nearest).
fn measure_one_way(
    endpoint: Cap<Endpoint>,
    info: MessageInfo,
    what: &'static str,
) -> Result<u64, Failure> {
    let cptr = endpoint.cptr();
    let mut total = 0u64;
    for i in 0..WARM_UP + ROUND_TRIPS {
        let start = now();
        let reply = syscall::call(cptr, info, [i, 0, 0, 0]).map_err(|e| Failure::Ipc(what, e))?;
        let arrived = reply.words[0];
        if arrived < start {
            return Err(Failure::Setup("the stamp peer answered an earlier time"));
        }
        if i >= WARM_UP {
            total += arrived - start;
        }
    }
    Ok((total + ROUND_TRIPS / 2) / ROUND_TRIPS)
}

/// Warms up, then times [`ROUND_TRIPS`] calls of `info` on `endpoint`; returns ticks per
/// round trip (rounded to the nearest).
fn measure(endpoint: Cap<Endpoint>, info: MessageInfo, what: &'static str) -> Result<u64, Failure> {
    let cptr = endpoint.cptr();
    for i in 0..WARM_UP {
        let reply = syscall::call(cptr, info, [i, 0, 0, 0]).map_err(|e| Failure::Ipc(what, e))?;
        if reply.words[0] != i {
            return Err(Failure::Setup("the pong peer answered the wrong word"));
        }
    }
    let start = now();
    for i in 0..ROUND_TRIPS {
        if syscall::call(cptr, info, [i, 0, 0, 0]).is_err() {
            return Err(Failure::Setup("a timed round trip failed"));
        }
    }
    let elapsed = now() - start;
    Ok((elapsed + ROUND_TRIPS / 2) / ROUND_TRIPS)
}
