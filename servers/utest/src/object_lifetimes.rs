//! Object lifetimes: page tables that outlive their parent's mapping, ISA IRQ lines that share
//! a GSI, and containers (a CNode, an untyped) whose death takes linked objects of every
//! kind with it in one operation.
//!
//! Helper threads run in the root task's CSpace and VSpace on the static stacks below, at
//! our priority; they record the code their blocking call returned, then yield forever
//! (the runner's revoke destroys those that survive the test).

use crate::check::{Fail, TestResult};
use crate::vspace::map_tables;
use crate::{ensure, ok, Ctx, Test, ROOT};
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::abi::{Error, MessageInfo, Syscall};
use libsys::bootinfo::{SLOT_CNODE, SLOT_IRQ_CONTROL, SLOT_VSPACE};
use libsys::cap::{
    CNode, Cap, Endpoint, Frame, IrqControl, Notification, PageDirectory, PageTable, Pdpt, Reply,
    SlotPath, Tcb, TcbConfig, Untyped, UserRegisters, VSpace,
};
use libsys::object::{CNodeGuard, ObjectType, Rights};
use libsys::syscall::{raw_syscall, yield_now, Registers};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    a_detached_page_table_keeps_no_mapping_of_a_deleted_frame,
    irq_2_is_refused_when_irq_0_owns_its_line,
    a_notification_with_waiters_cannot_be_bound,
    deleting_a_cnode_of_linked_objects_dependencies_first,
    deleting_a_cnode_of_linked_objects_dependents_first,
];

const OWN: Cap<VSpace> = Cap::from_cptr(SLOT_VSPACE);
const RW: Rights = Rights::READ.union(Rights::WRITE);
const IRQ_CONTROL: Cap<IrqControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
/// Where this file maps memory (PML4 entry 164, used by no other test).
const BASE: u64 = 0x5200_0000_0000;

const STACK_SIZE: usize = 8192;
const HELPERS: usize = 6;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

static mut STACKS: [Stack; HELPERS] = [const { Stack([0; STACK_SIZE]) }; HELPERS];

/// What each helper's blocking call returned (`NOT_YET` until it returns).
static CODES: [AtomicU64; HELPERS] = [const { AtomicU64::new(NOT_YET) }; HELPERS];
/// How far the server got.
static SERVER_STEP: AtomicU64 = AtomicU64::new(0);
/// The Reply object the server saves its first caller in.
static REPLY_CPTR: AtomicU64 = AtomicU64::new(0);
const NOT_YET: u64 = u64::MAX;

fn stack_top(index: usize) -> u64 {
    // SAFETY: only the address of the static is taken; no reference is formed.
    let base = unsafe { core::ptr::addr_of!(STACKS[index]) } as u64;
    base + STACK_SIZE as u64 - 8
}

fn reset_records() {
    for c in &CODES {
        c.store(NOT_YET, Ordering::SeqCst);
    }
    SERVER_STEP.store(0, Ordering::SeqCst);
    REPLY_CPTR.store(0, Ordering::SeqCst);
}

fn code(index: usize) -> u64 {
    CODES[index].load(Ordering::SeqCst)
}

fn idle() -> ! {
    loop {
        yield_now();
    }
}

fn regs(cptr: u64, info: MessageInfo) -> Registers {
    Registers {
        cptr,
        info,
        words: [0; 4],
    }
}

/// Helper argument: the record index in the top bits, a cptr in the low 32.
fn argument(index: usize, cptr: u64) -> u64 {
    ((index as u64) << 32) | cptr
}

fn split(arg: u64) -> (usize, u64) {
    ((arg >> 32) as usize, arg & 0xffff_ffff)
}

/// Calls the endpoint and records the code.
extern "C" fn caller(arg: u64) -> ! {
    let (index, ep) = split(arg);
    let (code, _) = raw_syscall(Syscall::Call as u64, regs(ep, MessageInfo::new(7, 0, 0)));
    CODES[index].store(code, Ordering::SeqCst);
    idle()
}

/// Receives on an endpoint or waits on a notification, and records the code.
extern "C" fn receiver(arg: u64) -> ! {
    let (index, cptr) = split(arg);
    let (code, _) = raw_syscall(Syscall::Recv as u64, regs(cptr, MessageInfo(0)));
    CODES[index].store(code, Ordering::SeqCst);
    idle()
}

/// Takes a call and saves its reply in the Reply object, takes a second call (and owes
/// that reply), then waits for a third message.
extern "C" fn server(arg: u64) -> ! {
    let (index, ep) = split(arg);
    let (code, _) = raw_syscall(Syscall::Recv as u64, regs(ep, MessageInfo(0)));
    let reply: Cap<Reply> = Cap::from_cptr(REPLY_CPTR.load(Ordering::SeqCst));
    if code != 0 || reply.save().is_err() {
        CODES[index].store(0x100 + code, Ordering::SeqCst);
        idle()
    }
    SERVER_STEP.store(1, Ordering::SeqCst);
    let (code, _) = raw_syscall(Syscall::Recv as u64, regs(ep, MessageInfo(0)));
    if code != 0 {
        CODES[index].store(0x200 + code, Ordering::SeqCst);
        idle()
    }
    SERVER_STEP.store(2, Ordering::SeqCst);
    let (code, _) = raw_syscall(Syscall::Recv as u64, regs(ep, MessageInfo(0)));
    CODES[index].store(code, Ordering::SeqCst);
    idle()
}

/// A thread in our CSpace and VSpace at our priority that runs `body(arg)` on stack
/// `stack` once resumed.
fn spawn(
    tcb: Cap<Tcb>,
    ctx: &Ctx,
    body: extern "C" fn(u64) -> !,
    arg: u64,
    stack: usize,
) -> TestResult {
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
        rdi: arg,
        ..UserRegisters::default()
    };
    ok!(tcb.write_registers(false, &registers));
    Ok(())
}

fn yield_times(n: u32) {
    for _ in 0..n {
        yield_now();
    }
}

/// Whether `vaddr` is mapped readable for us: asks the kernel (`DebugWrite` of one byte),
/// which checks the page tables instead of faulting.
fn mapped(vaddr: u64) -> bool {
    raw_syscall(Syscall::DebugWrite as u64, regs(vaddr, MessageInfo(1))).0 == 0
}

fn write(vaddr: u64, value: u64) {
    // SAFETY: callers check that `vaddr` is mapped writable for us first; nothing in this
    // program refers to that memory.
    unsafe { (vaddr as *mut u64).write_volatile(value) }
}

/// One object of `object_type` from `untyped` in a fresh root slot.
fn make_from<T>(
    ctx: &mut Ctx,
    untyped: Cap<Untyped>,
    object_type: ObjectType,
    size: u64,
) -> Result<Cap<T>, Fail> {
    let slot = ctx.slot()?;
    ok!(untyped.retype(object_type, size, ROOT, slot, 1));
    Ok(Cap::from_cptr(slot))
}

/// docs/syscalls.md, *Frames and page tables*: "unmapping a table also empties it" and
/// "Unmapping (or deleting the cap) removes exactly the recorded entry". A page table
/// whose page directory was unmapped is cut off from the address space but keeps its
/// entries; deleting a frame mapped through it then finds no entry to remove (the walk
/// stops at the missing directory), and `PageTableUnmap` on the table empties nothing for
/// the same reason. Mapped again, the table brings back a user mapping of the deleted
/// frame's memory, which by then is another kernel object.
fn a_detached_page_table_keeps_no_mapping_of_a_deleted_frame(ctx: &mut Ctx) -> TestResult {
    let tables = map_tables(ctx, OWN, BASE)?;
    let untyped = ctx.untyped(12)?;
    let frame: Cap<Frame> = make_from(ctx, untyped, ObjectType::Frame4K, 0)?;
    ok!(frame.map(OWN, BASE, RW));
    ensure!(mapped(BASE), "the frame is not mapped");
    ok!(tables.pd.unmap());
    ensure!(
        !mapped(BASE),
        "still mapped after the page directory was unmapped"
    );
    // The frame goes, and its memory becomes a notification.
    ok!(ROOT.delete(frame.slot()));
    ok!(ROOT.revoke(untyped.slot()));
    let notification: Cap<Notification> = make_from(ctx, untyped, ObjectType::Notification, 0)?;
    // Put the tables back where they were.
    ok!(tables.pt.unmap());
    ok!(tables.pd.map(OWN, BASE));
    ok!(tables.pt.map(OWN, BASE));
    if mapped(BASE) {
        // Forge the notification's state through the stale mapping: bits and "active".
        write(BASE, 0x5eed);
        write(BASE + 24, 1);
        let bits = notification.poll();
        return Err(crate::fail!(
            "a remapped page table still maps the deleted frame (now a notification; \
             forged poll -> {bits:x?})"
        ));
    }
    Ok(())
}

/// docs/syscalls.md, *IRQs and I/O ports*: "An IRQ is an ISA line 0..15 (mapped to its GSI
/// through the ACPI overrides)" and "Only one handler (and its copies) may exist per line".
/// On a PC the MADT overrides ISA IRQ 0 (the PIT) to GSI 2; ISA IRQ 2 (the cascade, no
/// device) has no override and is taken as GSI 2 as well. A handler for IRQ 2 must not
/// receive (or mask) the PIT's interrupts, so it is refused, while IRQ 0 is issued.
/// (The PIT's ports are the kernel's, so the test cannot make the PIT interrupt faster to
/// watch IRQ 0 deliver; `irq.rs` tests delivery with the RTC.)
fn irq_2_is_refused_when_irq_0_owns_its_line(ctx: &mut Ctx) -> TestResult {
    let (h0, h2) = (ctx.slot()?, ctx.slot()?);
    let notification: Cap<Notification> = ctx.make()?;
    let irq0 = ok!(IRQ_CONTROL.get(0, SlotPath::at(h0)));
    ok!(irq0.set_notification(notification));
    ok!(irq0.clear());
    // IRQ 2 has no line of its own here: the firmware routes IRQ 0 to GSI 2 (QEMU's and
    // most PCs' MADT). A handler for it would hear the PIT, so the kernel refuses it,
    // whether or not IRQ 0's handler exists.
    for irq0_issued in [true, false] {
        if !irq0_issued {
            ok!(ROOT.delete(irq0.slot()));
        }
        let irq2 = IRQ_CONTROL.get(2, SlotPath::at(h2));
        let refused = matches!(&irq2, Err(e) if e.error == Error::RangeError && e.argument == 0);
        if irq2.is_ok() {
            ok!(ROOT.delete(SlotPath::at(h2)));
        }
        ensure!(
            refused,
            "IRQ 2 was issued although its line (GSI 2) carries IRQ 0: {irq2:?}"
        );
    }
    Ok(())
}

/// Helper record indices.
const SERVER: usize = 0;
const WAITER: usize = 1;
const CLIENT: usize = 2;
const OBSERVER_CALLER: usize = 3;
const OBSERVER_WAITER: usize = 4;

/// The objects of [`container_death`], in the order they are moved into the CNode.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Server,
    Waiter,
    Endpoint,
    Notification,
    Bound,
    Reply,
    Handler,
    Frame,
    Pdpt,
    Pd,
    Pt,
}

/// Builds a web of linked objects from one untyped, moves the only cap of each into a
/// CNode `K` (slot `i` holds `order[i]`; deletion empties slots from the last to 1, then
/// 0's content goes first of all), deletes `K`, and checks everything outside `K` that
/// was linked to its objects:
///
/// - server thread `S` (in `K`): bound to notification `B` (in `K`, also the IRQ 8
///   handler's notification), holds the reply of `CLIENT` (outside) in Reply object `R`,
///   owes a reply to `OBSERVER_CALLER` (outside), waits on endpoint `E` (in `K`);
/// - thread `W` (in `K`) and `OBSERVER_WAITER` (outside) wait on notification `N` (in `K`);
/// - a frame mapped at [`BASE`] through a PDPT, PD and PT (all in `K`).
///
/// Outside threads must wake with `Cancelled`, the IRQ line and the mapping must be free,
/// and the untyped must come back whole and be reusable for running threads.
fn container_death(ctx: &mut Ctx, order: &[Part; 11]) -> TestResult {
    reset_records();
    let untyped = ctx.untyped(17)?;
    let k: Cap<CNode> = make_from(ctx, untyped, ObjectType::CNode, 4)?;
    let server: Cap<Tcb> = make_from(ctx, untyped, ObjectType::Tcb, 0)?;
    let waiter: Cap<Tcb> = make_from(ctx, untyped, ObjectType::Tcb, 0)?;
    let endpoint: Cap<Endpoint> = make_from(ctx, untyped, ObjectType::Endpoint, 0)?;
    let notification: Cap<Notification> = make_from(ctx, untyped, ObjectType::Notification, 0)?;
    let bound: Cap<Notification> = make_from(ctx, untyped, ObjectType::Notification, 0)?;
    let reply: Cap<Reply> = make_from(ctx, untyped, ObjectType::Reply, 0)?;
    let frame: Cap<Frame> = make_from(ctx, untyped, ObjectType::Frame4K, 0)?;
    let pdpt: Cap<Pdpt> = make_from(ctx, untyped, ObjectType::Pdpt, 0)?;
    let pd: Cap<PageDirectory> = make_from(ctx, untyped, ObjectType::Pd, 0)?;
    let pt: Cap<PageTable> = make_from(ctx, untyped, ObjectType::Pt, 0)?;
    let handler_slot = ctx.slot()?;
    let handler = ok!(IRQ_CONTROL.get(8, SlotPath::at(handler_slot)));
    // Outside K, from the test untyped.
    let client: Cap<Tcb> = ctx.make()?;
    let observer_caller: Cap<Tcb> = ctx.make()?;
    let observer_waiter: Cap<Tcb> = ctx.make()?;

    ok!(pdpt.map(OWN, BASE));
    ok!(pd.map(OWN, BASE));
    ok!(pt.map(OWN, BASE));
    ok!(frame.map(OWN, BASE, RW));
    ok!(handler.set_notification(bound));
    ok!(handler.ack());
    REPLY_CPTR.store(reply.cptr(), Ordering::SeqCst);

    let ep = endpoint.cptr();
    let n = notification.cptr();
    spawn(server, ctx, self::server, argument(SERVER, ep), 0)?;
    spawn(waiter, ctx, receiver, argument(WAITER, n), 1)?;
    spawn(client, ctx, caller, argument(CLIENT, ep), 2)?;
    spawn(
        observer_caller,
        ctx,
        caller,
        argument(OBSERVER_CALLER, ep),
        3,
    )?;
    spawn(
        observer_waiter,
        ctx,
        receiver,
        argument(OBSERVER_WAITER, n),
        4,
    )?;
    ok!(server.bind_notification(bound));
    ok!(server.resume());
    yield_times(5);
    ok!(client.resume());
    yield_times(10);
    ensure!(
        SERVER_STEP.load(Ordering::SeqCst) == 1,
        "server step {} (code {:#x})",
        SERVER_STEP.load(Ordering::SeqCst),
        code(SERVER)
    );
    ok!(observer_caller.resume());
    yield_times(10);
    ensure!(
        SERVER_STEP.load(Ordering::SeqCst) == 2,
        "server step {} (code {:#x})",
        SERVER_STEP.load(Ordering::SeqCst),
        code(SERVER)
    );
    ok!(waiter.resume());
    ok!(observer_waiter.resume());
    yield_times(10);
    for (i, c) in CODES.iter().enumerate().take(5) {
        let c = c.load(Ordering::SeqCst);
        ensure!(c == NOT_YET, "helper {i} is not blocked (code {c:#x})");
    }

    // Move the only cap of each object into K, through a guardless copy of our CNode
    // (slot s of ours is (s, 12) from it; slot i of K is ((k << 4) | i, 16)).
    let guardless: Cap<CNode> = Cap::from_cptr(ctx.slot()?);
    let no_guard = CNodeGuard {
        guard: 0,
        guard_bits: 0,
    };
    ok!(ROOT.mint_guard(guardless.slot(), SlotPath::at(SLOT_CNODE), no_guard));
    for (i, part) in order.iter().enumerate() {
        let source = match part {
            Part::Server => server.cptr(),
            Part::Waiter => waiter.cptr(),
            Part::Endpoint => endpoint.cptr(),
            Part::Notification => notification.cptr(),
            Part::Bound => bound.cptr(),
            Part::Reply => reply.cptr(),
            Part::Handler => handler.cptr(),
            Part::Frame => frame.cptr(),
            Part::Pdpt => pdpt.cptr(),
            Part::Pd => pd.cptr(),
            Part::Pt => pt.cptr(),
        };
        let dest = SlotPath {
            index: (k.cptr() << 4) | i as u64,
            depth: 16,
        };
        let src = SlotPath {
            index: source,
            depth: 12,
        };
        ok!(guardless.move_cap(dest, src));
    }
    ok!(ROOT.delete(guardless.slot()));
    ok!(ROOT.delete(k.slot()));
    yield_times(10);

    let cancelled = Error::Cancelled as u64;
    for (index, what) in [
        (
            CLIENT,
            "the caller whose reply was saved in the Reply object",
        ),
        (OBSERVER_CALLER, "the caller the server owed a reply"),
        (OBSERVER_WAITER, "the other waiter of the notification"),
    ] {
        let c = code(index);
        ensure!(
            c == cancelled,
            "{what} woke with code {c:#x}, not Cancelled"
        );
    }
    ensure!(!mapped(BASE), "the frame is still mapped");
    let again = ctx.slot()?;
    ok!(IRQ_CONTROL.get(8, SlotPath::at(again)));
    ok!(ROOT.delete(SlotPath::at(again)));

    // All memory is back, and reusable for threads and IPC.
    ok!(ROOT.revoke(untyped.slot()));
    let whole = ctx.slot()?;
    ok!(untyped.retype(ObjectType::Untyped, 17, ROOT, whole, 1));
    ok!(ROOT.delete(SlotPath::at(whole)));
    reset_records();
    let first = ctx.slots(3)?;
    ok!(untyped.retype(ObjectType::Tcb, 0, ROOT, first, 2));
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, first + 2, 1));
    let (a, b): (Cap<Tcb>, Cap<Tcb>) = (Cap::from_cptr(first), Cap::from_cptr(first + 1));
    let ep = first + 2;
    spawn(a, ctx, receiver, argument(0, ep), 0)?;
    spawn(b, ctx, caller, argument(1, ep), 1)?;
    ok!(a.resume());
    yield_times(3);
    ok!(b.resume());
    yield_times(10);
    ensure!(
        code(0) == 0,
        "thread on reused memory: receive code {:#x}",
        code(0)
    );
    ensure!(
        code(1) == NOT_YET,
        "caller on reused memory: code {:#x}",
        code(1)
    );
    Ok(())
}

/// Each object dies before the objects that point at it: the notifications before the
/// threads bound to or waiting on them and the IRQ handler, the Reply object and the
/// endpoint before the server, the top page table before the lower ones and the frame.
fn deleting_a_cnode_of_linked_objects_dependencies_first(ctx: &mut Ctx) -> TestResult {
    use Part::*;
    // Slot 0 is deleted first, then 10 down to 1.
    container_death(
        ctx,
        &[
            Bound,
            Server,
            Waiter,
            Handler,
            Frame,
            Pt,
            Pd,
            Pdpt,
            Endpoint,
            Notification,
            Reply,
        ],
    )
}

/// The same objects, the other way round: threads first, then what they were linked to.
fn deleting_a_cnode_of_linked_objects_dependents_first(ctx: &mut Ctx) -> TestResult {
    use Part::*;
    container_death(
        ctx,
        &[
            Server,
            Bound,
            Reply,
            Notification,
            Endpoint,
            Pdpt,
            Pd,
            Pt,
            Frame,
            Handler,
            Waiter,
        ],
    )
}

/// As in seL4, a notification that threads wait on cannot also be bound to a TCB (its
/// signals would have two places to go); once the waiter is gone it can.
fn a_notification_with_waiters_cannot_be_bound(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let notification: Cap<Notification> = ctx.make()?;
    let tcb: Cap<Tcb> = ctx.make()?;
    let (process, _report) =
        crate::revoke::blocked_peer(ctx, ipcpeer::mode::BLOCK_WAIT, endpoint, notification)?;
    let refused = tcb.bind_notification(notification);
    ensure!(
        matches!(&refused, Err(e) if e.error == Error::IllegalOperation && e.argument == 0),
        "binding a waited-on notification: {refused:?}"
    );
    // Wake the waiter, then binding works.
    ok!(notification.signal());
    for _ in 0..20 {
        yield_now();
    }
    ok!(tcb.bind_notification(notification));
    ok!(tcb.unbind_notification());
    process
        .destroy(&mut ctx.alloc)
        .map_err(|e| crate::fail!("destroy peer: {e}"))?;
    Ok(())
}
