//! The IPC fast path: `Call` and `ReplyRecv` with a short message and no caps, straight
//! from one thread to another.
//!
//! It handles the common case of a client calling a waiting server and the server replying
//! and waiting again. Every condition it cannot handle sends the call down the general path
//! (`syscall::handle`), which gives the same result more slowly. Each guard below is one
//! early exit; none changes any state. The SYSCALL stub (`arch::entry`) comes here
//! straight from saving the registers, on the system call number, and resumes the frame
//! returned with `sysretq` (`iretq` under `syscall=iretq`).

use crate::arch::syscall::set_save_area;
use crate::arch::trap::{TrapFrame, SYSCALL_VECTOR};
use crate::ipc::Endpoint;
use crate::mem::paging::PageTable;
use crate::sched::{Scheduler, SCHEDULER};
use crate::thread::{SendKind, Tcb, TcbPtr, ThreadState, TCB_SLOT_CSPACE, TCB_SLOT_VSPACE};
use kerncore::Cap;
use kerncore::Slot;
use libsys::abi::MessageInfo;
use libsys::object::Rights;
use libsys::object::SLOT_SIZE_BITS;

/// How many calls took the fast path (Call, ReplyRecv), for the idle report.
pub static HITS: [core::sync::atomic::AtomicU64; 2] = [
    core::sync::atomic::AtomicU64::new(0),
    core::sync::atomic::AtomicU64::new(0),
];

/// Adds one to a hit counter: a load and a store, no locked instruction (one CPU,
/// interrupts off; the counters are statistics).
#[inline(always)]
fn count_hit(hits: &core::sync::atomic::AtomicU64) {
    let n = hits.load(core::sync::atomic::Ordering::Relaxed);
    hits.store(n + 1, core::sync::atomic::Ordering::Relaxed);
}

/// One more than the longest message (in the low 12 bits of the message info: length, and
/// the caps field above it, which must be zero) the fast path takes: `REGISTER_WORDS + 1`
/// when it is on, 0 when it is off (then no call qualifies). The SYSCALL stub compares
/// with it before it calls the fast path (`arch::entry`). Folding the switch into the
/// length test costs one load per call (the bound was an immediate).
pub(crate) static FAST_BOUND: core::sync::atomic::AtomicU64 =
    core::sync::atomic::AtomicU64::new(MessageInfo::REGISTER_WORDS + 1);

/// Turns the fast path on or off (`DebugConsoleFastPath`, for tests that run the same calls
/// both ways); returns how many Calls and ReplyRecvs it has taken since boot.
pub fn set_enabled(enabled: bool) -> [u64; 2] {
    let bound = if enabled {
        MessageInfo::REGISTER_WORDS + 1
    } else {
        0
    };
    FAST_BOUND.store(bound, core::sync::atomic::Ordering::Relaxed);
    HITS.each_ref()
        .map(|hits| hits.load(core::sync::atomic::Ordering::Relaxed))
}

/// The TCB whose `context` is `frame`.
#[inline(always)]
fn tcb_of(frame: *mut TrapFrame) -> *mut Tcb {
    frame
        .cast::<u8>()
        .wrapping_sub(core::mem::offset_of!(Tcb, context))
        .cast::<Tcb>()
}

/// The fast path of a `Call` (the SYSCALL stub dispatches here on `rax`, after it found
/// the return address canonical and the message short: at most
/// [`MessageInfo::REGISTER_WORDS`] words, no caps, see [`FAST_BOUND`]): returns the frame
/// to resume with `sysretq`, or null when the call must take the general path (nothing
/// was changed then). `rsi` and `rdi` are the caller's message info and cptr (the stub
/// passes them in registers; they are in the frame too).
///
/// `frame` is the current thread's `context` (the SYSCALL stub saves into the current
/// thread's TCB: `set_save_area`), so the thread is found from it without the
/// scheduler's `current`. Both threads are reached through [`TcbPtr`] handles, one field
/// at a time (the register save areas through `read_context`/`update_context`, for the
/// length of the copy): no reference to a TCB is made, so none overlaps the frame pointer
/// the stub holds or the other thread's links.
#[inline(always)]
pub fn try_call(frame: *mut TrapFrame, rsi: u64, rdi: u64) -> *mut TrapFrame {
    let s = SCHEDULER.try_lock().unwrap_or_else(|| SCHEDULER.lock());
    // SAFETY: `frame` is the live current thread's save area, so its TCB is live.
    let me = unsafe { TcbPtr::from_raw_unchecked(tcb_of(frame)) };
    debug_assert_eq!(s.current(), me.as_raw());
    // No ready thread is above the current one when the kernel is entered: every kernel
    // exit but the fast path's goes through `sched::schedule`, which runs the highest, and
    // the fast path switches only to a thread not below the current one and readies none.
    // So neither fast path needs to look at the run queues (a debug build checks).
    debug_assert!(!s.has_ready_above(me.priority()));
    let Some((ep_phys, badge, rights)) = lookup_endpoint(me, rdi) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the cap names a live endpoint.
    let ep = unsafe { Endpoint::at(ep_phys) };
    // SAFETY: `ep` is live; the reference `fast_call` makes to it reaches only its two
    // words (TCBs are reached through handles), and nothing else refers to it meanwhile.
    let Some((next, vspace)) = fast_call(me, unsafe { &mut *ep }, badge, rights, MessageInfo(rsi))
    else {
        return core::ptr::null_mut();
    };
    count_hit(&HITS[0]);
    // One kernel entry that delivered one message (`counters`: the benchmark's counted boot).
    crate::counters::entry();
    crate::counters::message(MessageInfo(rsi).length());
    switch_to(s, me, next, vspace)
}

/// The fast path of a `ReplyRecv`, as [`try_call`].
#[inline(always)]
pub fn try_reply_recv(frame: *mut TrapFrame, rsi: u64, rdi: u64) -> *mut TrapFrame {
    let s = SCHEDULER.try_lock().unwrap_or_else(|| SCHEDULER.lock());
    // SAFETY: as in `try_call`.
    let me = unsafe { TcbPtr::from_raw_unchecked(tcb_of(frame)) };
    debug_assert_eq!(s.current(), me.as_raw());
    debug_assert!(!s.has_ready_above(me.priority()));
    let Some((ep_phys, _, rights)) = lookup_endpoint(me, rdi) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the cap names a live endpoint.
    let ep = unsafe { Endpoint::at(ep_phys) };
    // SAFETY: as in `try_call`.
    let ep = unsafe { &mut *ep };
    let Some((next, vspace)) = fast_reply_recv(me, ep, ep_phys, rights, MessageInfo(rsi)) else {
        return core::ptr::null_mut();
    };
    count_hit(&HITS[1]);
    // One kernel entry that delivered one message (`counters`: the benchmark's counted boot).
    crate::counters::entry();
    crate::counters::message(MessageInfo(rsi).length());
    switch_to(s, me, next, vspace)
}

/// Makes `next` current (its address space, its FS/GS bases, its save area) and returns
/// its frame.
#[inline(always)]
fn switch_to(
    mut s: spin::MutexGuard<'_, Scheduler>,
    me: TcbPtr,
    next: TcbPtr,
    vspace: PageTable,
) -> *mut TrapFrame {
    s.switch_current(next.as_raw());
    drop(s);
    if PageTable::loaded_pml4() != vspace.pml4 {
        // SAFETY: every address space shares the kernel half.
        unsafe { vspace.activate() };
    }
    crate::arch::gdt::switch_segment_bases(me.segment_bases_ptr(), next.segment_bases_ptr());
    let f = next.context_ptr();
    set_save_area(f);
    f
}

/// How many times a capability slot was written since boot, plus one: the stamp of
/// [`CspaceCache`]. Every write goes through `object::KernelSlots::slot_mut` or `clear`
/// (kerncore reaches slot memory only through them), which call [`slot_written`].
static SLOT_WRITES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// Records that a capability slot is about to be written: every [`CspaceCache`] goes stale.
#[inline(always)]
pub fn slot_written() {
    // One CPU, interrupts off: a load and a store (no locked instruction).
    let writes = SLOT_WRITES.load(core::sync::atomic::Ordering::Relaxed);
    SLOT_WRITES.store(writes + 1, core::sync::atomic::Ordering::Relaxed);
}

/// A thread's CSpace slot decoded for the fast path's one-slot lookup: a CNode whose guard
/// and radix cover all 64 bits of a cptr. It holds while `stamp` equals [`SLOT_WRITES`]:
/// then no slot (the CSpace slot included) was written since it was decoded, so decoding
/// the slot again would give the same values. All zeroes (a new TCB) never holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CspaceCache {
    /// [`SLOT_WRITES`] when this was decoded.
    stamp: u64,
    /// The smallest cptr of the CNode: the guard shifted above the index bits. A cptr
    /// names a slot of it when `cptr - first < slots` (wrapping): the same test as "the
    /// bits above the index equal the guard".
    first: u64,
    /// `2^radix`, the CNode's number of slots (the radix is 0..=63).
    slots: u64,
    /// Virtual address of the CNode's slot 0.
    base: u64,
}

/// Decodes `tcb`'s CSpace slot into its [`CspaceCache`]; `None` (the cache left stale)
/// when the CSpace is not a single CNode covering all 64 bits.
#[inline(always)]
fn refill_cspace_cache(tcb: TcbPtr) -> Option<CspaceCache> {
    let cache = tcb.read_slot_cap(TCB_SLOT_CSPACE, |cap| {
        let Cap::CNode {
            object,
            guard,
            radix_bits,
            guard_bits,
        } = *cap
        else {
            return None;
        };
        let radix = u32::from(radix_bits);
        if radix >= 64 || radix + u32::from(guard_bits) != 64 || (guard << radix) >> radix != guard
        {
            return None;
        }
        // `guard` has at most `64 - radix` bits (kerncore checks, and so does the test
        // above), so the shift loses none.
        Some(CspaceCache {
            stamp: SLOT_WRITES.load(core::sync::atomic::Ordering::Relaxed),
            first: guard << radix,
            slots: 1u64 << radix,
            base: crate::mem::phys_to_virt(object),
        })
    })?;
    tcb.set_cspace_cache(cache);
    Some(cache)
}

/// The slot a cptr names, when the thread's CSpace is one CNode whose guard and radix
/// cover all 64 bits (the usual layout: the root task's, and every process the loader
/// makes), so that the lookup is one slot address computed from the thread's
/// [`CspaceCache`] (decoded again first when stale). Returns `None` for every other case,
/// which the general path (kerncore's full lookup) then handles: the two always agree,
/// because a one-level CNode resolves `cptr` at depth 64 to exactly this slot. (A radix
/// of 0, one slot and a 64-bit guard, needs no test of its own: kerncore's walk then
/// resolves a matching cptr to slot 0 too.)
#[inline(always)]
fn cached_slot(tcb: TcbPtr, cptr: u64) -> Option<*mut Slot> {
    let mut c = tcb.cspace_cache();
    if c.stamp != SLOT_WRITES.load(core::sync::atomic::Ordering::Relaxed) {
        // Decoded inline: a call here would make the fast path save registers.
        c = refill_cspace_cache(tcb)?;
    }
    let index = cptr.wrapping_sub(c.first);
    if index >= c.slots {
        return None;
    }
    Some((c.base + (index << SLOT_SIZE_BITS)) as *mut Slot)
}

/// The endpoint a cptr names, through [`cached_slot`]: its address, badge and rights.
#[inline(always)]
fn lookup_endpoint(tcb: TcbPtr, cptr: u64) -> Option<(u64, u64, Rights)> {
    let slot = cached_slot(tcb, cptr)?;
    // SAFETY: `slot` is inside the CNode the thread's CSpace cap names (index < 2^radix;
    // the cache holds, so that cap is still in the slot), which stays allocated while
    // that cap exists; the shared reference `cap()` makes lasts for this read, and
    // nothing writes a slot meanwhile.
    match unsafe { (*slot).cap() } {
        Cap::Endpoint {
            object,
            badge,
            rights,
        } => Some((*object, *badge, *rights)),
        _ => None,
    }
}

/// Copies the words the message carries (and no more: the receiver's other message
/// registers keep their values, as on the general path) and sets the receiver's return
/// registers. Each register is one place read or write through the two save areas' raw
/// pointers (no reference to either is made).
#[inline(always)]
fn copy_words(from: TcbPtr, to: TcbPtr, info: MessageInfo, badge: u64, caps: u64) {
    let (from, to) = (from.context_ptr(), to.context_ptr());
    let length = info.length();
    // SAFETY: both handles name live TCBs, so both save areas are valid; place accesses
    // through raw pointers, so that the two (distinct: one thread runs, the other is
    // blocked) save areas are never borrowed.
    unsafe {
        if length > 0 {
            (*to).rdx = (*from).rdx;
        }
        if length > 1 {
            (*to).r8 = (*from).r8;
        }
        if length > 2 {
            (*to).r9 = (*from).r9;
        }
        if length > 3 {
            (*to).r10 = (*from).r10;
        }
        (*to).rsi = MessageInfo::new(info.label(), info.length(), caps).0;
        (*to).rdi = badge;
        (*to).rax = 0;
    }
}

fn fast_call(
    me: TcbPtr,
    ep: &mut Endpoint,
    badge: u64,
    rights: Rights,
    info: MessageInfo,
) -> Option<(TcbPtr, PageTable)> {
    // Need the send right; a receiver must be waiting, configured, and not of lower priority.
    if !rights.contains(Rights::WRITE) {
        return None;
    }
    let vspace = receiver_ready(me, ep)?;
    Some((deliver_call(me, ep, badge, rights, info, 0), vspace))
}

/// The checks on the receiver both `Call` paths make: one waits (and none with a
/// deadline), it is not below the caller, holds no unanswered call (the slow path drops
/// it properly), has an address space, and its frame is the one its `Recv` saved (see
/// `resumable`). Returns its address space; changes nothing.
#[inline(always)]
fn receiver_ready(me: TcbPtr, ep: &Endpoint) -> Option<PageTable> {
    // SAFETY: queued TCBs are live, and the queue head is not null.
    let r = unsafe { TcbPtr::from_raw_unchecked(ep.peek_receiver()?) };
    let vspace = address_space(r)?;
    if r.priority() < me.priority() || !r.caller().is_null() || !resumable(r) {
        return None;
    }
    Some(vspace)
}

/// Takes the receiver [`receiver_ready`] accepted off the queue, delivers the words (and
/// `caps` in the message info: the caps themselves are in place already) and links the
/// reply: what the general path's `ipc::send` and `deliver` do for this case.
#[inline(always)]
fn deliver_call(
    me: TcbPtr,
    ep: &mut Endpoint,
    badge: u64,
    rights: Rights,
    info: MessageInfo,
    caps: u64,
) -> TcbPtr {
    // SAFETY: receivers wait (`peek_receiver` returned one).
    let r = unsafe { ep.pop_head_receiver() };
    copy_words(me, r, info, badge, caps);
    r.set_state(ThreadState::Running);
    // Of the pending send, a thread blocked on a reply uses only the kind (plain call, fault
    // or timed call); the other fields matter while it is queued to send, and every way
    // into that state writes them all (`ipc::send`).
    me.set_pending_kind(SendKind::Message);
    me.set_state(ThreadState::BlockedOnReply);
    me.set_replier(r.as_raw());
    r.set_caller(me.as_raw());
    r.set_caller_can_grant(rights.contains(Rights::GRANT_REPLY));
    r
}

/// A `Call` carrying at most [`MessageInfo::REGISTER_WORDS`] words and exactly one cap,
/// through an endpoint cap with the send and grant rights, to a waiting receiver, both
/// threads with one-level CSpaces and IPC buffers, the receiver with a receive slot: the
/// cap is copied with kerncore's `cnode_copy` into the receive slot, the words and reply
/// link as on the 1-word fast path, and the receiver runs. `syscall::handle` tries it
/// before the general path, for a `Call` whose message info names one cap (the SYSCALL
/// stub sends every message with caps there); null means "take the general path", and
/// nothing was changed then (but caches).
///
/// It is the general path's result for this case, step by step: `check_extra_caps` (the
/// cap exists), `ipc::send` to a waiting receiver, `transfer` (the words) and
/// `transfer_caps` (one lookup in the sender's CSpace, the receive slot resolved at depth
/// 64 in the receiver's, `cnode_copy` with all rights), `deliver`'s reply link, and the
/// scheduler's choice of the receiver (as on the 1-word path: not below the caller,
/// nothing ready above the caller). Every case it does not take goes to the general path:
/// the fast path switched off, a parked long operation or a finished one to report (those
/// come first on the general path), a cap that names the endpoint itself with a badge (it
/// is unwrapped, not copied), no grant right, no buffer or receive slot, and a copy
/// `cnode_copy` refuses (it checks before it writes anything).
#[inline(never)]
pub fn try_call_with_cap(frame: *mut TrapFrame) -> *mut TrapFrame {
    // SAFETY: `frame` is the current thread's saved registers; read by value.
    let (number, info, cptr) = unsafe { ((*frame).rax, MessageInfo((*frame).rsi), (*frame).rdi) };
    if number != libsys::abi::Syscall::Call as u64
        || info.caps() != 1
        || info.length() > MessageInfo::REGISTER_WORDS
        || FAST_BOUND.load(core::sync::atomic::Ordering::Relaxed) == 0
        || crate::object::pending::any_parked()
    {
        return core::ptr::null_mut();
    }
    let s = SCHEDULER.try_lock().unwrap_or_else(|| SCHEDULER.lock());
    // SAFETY: `frame` is the live current thread's save area, so its TCB is live.
    let me = unsafe { TcbPtr::from_raw_unchecked(tcb_of(frame)) };
    debug_assert_eq!(s.current(), me.as_raw());
    debug_assert!(!s.has_ready_above(me.priority()));
    match call_with_cap(me, cptr, info) {
        Some((next, vspace)) => {
            count_hit(&HITS[0]);
            crate::counters::message(info.length());
            switch_to(s, me, next, vspace)
        }
        None => core::ptr::null_mut(),
    }
}

/// [`try_call_with_cap`]'s checks and work, once the current thread is known.
#[inline(always)]
fn call_with_cap(me: TcbPtr, cptr: u64, info: MessageInfo) -> Option<(TcbPtr, PageTable)> {
    if me.long_op_done() {
        return None;
    }
    let (ep_phys, badge, rights) = lookup_endpoint(me, cptr)?;
    if !rights.contains(Rights::WRITE) || !rights.contains(Rights::GRANT) {
        return None;
    }
    // SAFETY: the cap names a live endpoint; the reference reaches only its two words
    // (TCBs are reached through handles), and nothing else refers to it meanwhile.
    let ep = unsafe { &mut *Endpoint::at(ep_phys) };
    let vspace = receiver_ready(me, ep)?;
    // SAFETY: receivers wait (`receiver_ready` found one), and queued TCBs are live.
    let r = unsafe { TcbPtr::from_raw_unchecked(ep.peek_receiver()?) };
    let (sbuf, rbuf) = (
        crate::object::ipc_buffer_ptr(me),
        crate::object::ipc_buffer_ptr(r),
    );
    if sbuf.is_null() || rbuf.is_null() {
        return None;
    }
    // SAFETY: both point at live IPC buffer frames (held by the TCBs' buffer slots), which
    // user mode shares: one word each, read by value through the raw pointers.
    let (src_cptr, receive_slot) = unsafe {
        (
            core::ptr::addr_of!((*sbuf).caps[0]).read(),
            core::ptr::addr_of!((*rbuf).receive_slot).read(),
        )
    };
    if receive_slot == 0 {
        return None;
    }
    let src = cached_slot(me, src_cptr)?;
    // SAFETY: as in `lookup_endpoint`: a slot of the sender's CSpace CNode, read once.
    match unsafe { (*src).cap() } {
        Cap::Null => return None,
        Cap::Endpoint { object, badge, .. } if *object == ep_phys && *badge != 0 => return None,
        _ => {}
    }
    let dest = cached_slot(r, receive_slot)?;
    let hhdm = crate::mem::hhdm_offset();
    let (src, dest) = (
        kerncore::SlotAddr(src as u64 - hhdm),
        kerncore::SlotAddr(dest as u64 - hhdm),
    );
    kerncore::cnode_copy(
        &mut crate::object::KernelSlots,
        src,
        dest,
        libsys::object::Rights::ALL,
    )
    .ok()?;
    Some((deliver_call(me, ep, badge, rights, info, 1), vspace))
}

/// The address space `t` runs in: the PML4 cap in its VSpace slot, or `None` (the slot is
/// empty, e.g. after a revoke took the cap away: the general path deals with that). What
/// `TcbPtr::vspace` reads, without its "no table" value to test again (no PML4 is at
/// physical address 0: kernel objects come from untyped memory above 1 MiB, and device
/// untyped memory cannot become page tables).
#[inline(always)]
fn address_space(t: TcbPtr) -> Option<PageTable> {
    t.read_slot_cap(TCB_SLOT_VSPACE, |cap| match *cap {
        Cap::Pml4 { object, .. } => Some(PageTable { pml4: object }),
        _ => None,
    })
}

/// Whether `t`'s frame is still the one the SYSCALL stub saved when it blocked
/// (`TcbWriteRegisters` and a suspension set `vector` to 0, and a fault frame holds its
/// exception's vector): only such a frame may be resumed with `sysretq`, which the fast
/// path's return uses without checking again (`arch::syscall::syscall_entry`).
#[inline(always)]
fn resumable(t: TcbPtr) -> bool {
    // SAFETY: the handle names a live TCB; a place read through the raw pointer.
    unsafe { (*t.context_ptr()).vector == SYSCALL_VECTOR }
}

fn fast_reply_recv(
    me: TcbPtr,
    ep: &mut Endpoint,
    ep_phys: u64,
    rights: Rights,
    info: MessageInfo,
) -> Option<(TcbPtr, PageTable)> {
    // Need the receive right; no sender may be waiting (we would take its message); no
    // bound notification (it might have bits pending).
    if !rights.contains(Rights::READ) || ep.has_senders() || me.bound_notification() != 0 {
        return None;
    }
    // There must be a caller waiting for this reply, for a normal (not fault) call.
    // SAFETY: reply links are symmetric, so a caller is live.
    let caller = unsafe { TcbPtr::from_raw(me.caller()) }?;
    // A fault reply resumes the thread differently; a timed call's caller is in the
    // timeout list: both take the general path (one comparison).
    let vspace = address_space(caller)?;
    if caller.state() != ThreadState::BlockedOnReply
        || caller.pending().kind != SendKind::Message
        || !resumable(caller)
    {
        return None;
    }
    // The caller must be the thread that should run next: not below the server. Nothing
    // ready is above the server (see `try_call`), so nothing is above the caller either.
    if caller.priority() < me.priority() {
        return None;
    }
    copy_words(me, caller, info, 0, 0);
    caller.set_state(ThreadState::Running);
    caller.set_replier(core::ptr::null_mut());
    me.set_caller(core::ptr::null_mut());
    // SAFETY: `me` is the live current thread, in no queue; no sender waits.
    unsafe { ep.enqueue_receiver(me, ep_phys) };
    Some((caller, vspace))
}
