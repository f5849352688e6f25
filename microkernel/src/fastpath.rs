//! The IPC fast path: `Call` and `ReplyRecv` with a short message and no caps, straight
//! from one thread to another.
//!
//! It handles the common case of a client calling a waiting server and the server replying
//! and waiting again. Every condition it cannot handle sends the call down the general path
//! (`syscall::handle`), which gives the same result more slowly. Each guard below is one
//! early exit; none changes any state.

use crate::arch::syscall::set_save_area;
use crate::arch::trap::TrapFrame;
use crate::ipc::Endpoint;
use crate::sched::{Scheduler, SCHEDULER};
use crate::thread::{PendingSend, Tcb, ThreadState, TCB_SLOT_CSPACE};
use kerncore::Cap;
use kerncore::Slot;
use libsys::abi::{MessageInfo, Syscall};
use libsys::object::Rights;
use libsys::object::SLOT_SIZE_BITS;

/// How many calls took the fast path (Call, ReplyRecv), for the idle report.
pub static HITS: [core::sync::atomic::AtomicU64; 2] = [
    core::sync::atomic::AtomicU64::new(0),
    core::sync::atomic::AtomicU64::new(0),
];

/// Handles the call entirely if it qualifies for the fast path; returns the frame to
/// resume if it did.
#[inline(always)]
pub fn try_fastpath(frame: &mut TrapFrame) -> Option<*mut TrapFrame> {
    let info = MessageInfo(frame.rsi);
    // Short message in registers, no caps: the length field (bits 0..10) at most 4 and the
    // caps field (bits 10..12) zero, in one comparison.
    if frame.rsi & 0xfff > MessageInfo::REGISTER_WORDS {
        return None;
    }
    let call = frame.rax == Syscall::Call as u64;
    if !call && frame.rax != Syscall::ReplyRecv as u64 {
        return None;
    }
    let mut s = SCHEDULER.lock();
    let current = s.current();
    if current.is_null() {
        return None;
    }
    // SAFETY: the current thread is live; `frame` is its own context.
    let me = unsafe { &mut *current };
    // The cap must be an endpoint (found in one step: anything else takes the slow path).
    let (ep_phys, badge, rights) = lookup_endpoint(me, frame.rdi)?;
    // SAFETY: the cap names a live endpoint.
    let ep = unsafe { Endpoint::at(ep_phys) };
    let next = if call {
        let next = fast_call(me, ep, badge, rights, info)?;
        HITS[0].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        next
    } else {
        let next = fast_reply_recv(&s, me, ep, ep_phys, rights, info)?;
        HITS[1].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        next
    };
    s.switch_current(next);
    drop(s);

    // SAFETY: `next` is live (checked by the helpers) and is now current.
    let n = unsafe { &mut *next };
    let vspace = n.vspace();
    if crate::mem::paging::PageTable::current_pml4() != vspace.pml4 {
        // SAFETY: every address space shares the kernel half.
        unsafe { vspace.activate() };
    }
    crate::arch::gdt::switch_segment_bases(&me.segment_bases, &n.segment_bases);
    let f = &mut n.context as *mut TrapFrame;
    set_save_area(f);
    Some(f)
}

/// The endpoint a cptr names, when the thread's CSpace is one CNode whose guard and radix
/// cover all 64 bits (the usual layout: the root task's, and every process the loader
/// makes), so that the lookup is one slot read. Returns `None` for every other case, which
/// the general path (kerncore's full lookup) then handles: the two always agree, because
/// a one-level CNode resolves `cptr` to exactly this slot.
#[inline(always)]
fn lookup_endpoint(tcb: &Tcb, cptr: u64) -> Option<(u64, u64, Rights)> {
    let Cap::CNode {
        object,
        guard,
        radix_bits,
        guard_bits,
    } = *tcb.slots[TCB_SLOT_CSPACE].cap()
    else {
        return None;
    };
    let radix = u32::from(radix_bits);
    if radix == 0 || radix + u32::from(guard_bits) != 64 || cptr >> radix != guard {
        return None;
    }
    let index = cptr & ((1u64 << radix) - 1);
    let slot = crate::mem::phys_to_virt(object + (index << SLOT_SIZE_BITS)) as *const Slot;
    // SAFETY: `slot` is inside the CNode the thread's CSpace cap names (index < 2^radix),
    // which stays allocated while that cap exists.
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
/// registers.
#[inline(always)]
fn copy_words(from: &TrapFrame, to: &mut TrapFrame, info: MessageInfo, badge: u64) {
    let length = info.length();
    if length > 0 {
        to.rdx = from.rdx;
    }
    if length > 1 {
        to.r8 = from.r8;
    }
    if length > 2 {
        to.r9 = from.r9;
    }
    if length > 3 {
        to.r10 = from.r10;
    }
    to.rsi = MessageInfo::new(info.label(), info.length(), 0).0;
    to.rdi = badge;
    to.rax = 0;
}

fn fast_call(
    me: &mut Tcb,
    ep: &mut Endpoint,
    badge: u64,
    rights: Rights,
    info: MessageInfo,
) -> Option<*mut Tcb> {
    // Need the send right; a receiver must be waiting, configured, and not of lower priority.
    if !rights.contains(Rights::WRITE) {
        return None;
    }
    let peek = ep.peek_receiver()?;
    // SAFETY: queued TCBs are live.
    let r = unsafe { &mut *peek };
    // The receiver must not hold an unanswered call (the slow path drops it properly).
    if r.priority < me.priority || r.vspace().pml4 == 0 || !r.caller.is_null() {
        return None;
    }
    // SAFETY: `peek` is the head of the receive queue (just checked).
    unsafe { ep.pop_head_receiver(r) };
    copy_words(&me.context, &mut r.context, info, badge);
    r.state = ThreadState::Running;
    me.pending = PendingSend {
        badge,
        is_call: true,
        can_grant: rights.contains(Rights::GRANT),
        reply_can_grant: rights.contains(Rights::GRANT_REPLY),
        is_fault: false,
    };
    me.state = ThreadState::BlockedOnReply;
    me.replier = peek;
    r.caller = me;
    r.caller_can_grant = me.pending.reply_can_grant;
    Some(peek)
}

fn fast_reply_recv(
    sched: &Scheduler,
    me: &mut Tcb,
    ep: &mut Endpoint,
    ep_phys: u64,
    rights: Rights,
    info: MessageInfo,
) -> Option<*mut Tcb> {
    // Need the receive right; no sender may be waiting (we would take its message); no
    // bound notification (it might have bits pending).
    if !rights.contains(Rights::READ) || ep.has_senders() || me.bound_notification != 0 {
        return None;
    }
    // There must be a caller waiting for this reply, for a normal (not fault) call.
    let c = me.caller;
    if c.is_null() {
        return None;
    }
    // SAFETY: reply links are symmetric, so the caller is live.
    let caller = unsafe { &mut *c };
    if caller.state != ThreadState::BlockedOnReply
        || caller.pending.is_fault
        || caller.vspace().pml4 == 0
    {
        return None;
    }
    // The caller must be the thread that should run next.
    if caller.priority < me.priority || sched.has_ready_above(caller.priority) {
        return None;
    }
    copy_words(&me.context, &mut caller.context, info, 0);
    caller.state = ThreadState::Running;
    caller.replier = core::ptr::null_mut();
    me.caller = core::ptr::null_mut();
    // SAFETY: `me` is the live current thread, in no queue.
    unsafe { ep.enqueue_receiver(me, ep_phys) };
    Some(c)
}
