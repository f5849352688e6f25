//! Synchronous IPC through endpoints and asynchronous signals through notifications.
//!
//! Endpoints (`object/endpoint.rs`) queue the senders or receivers that wait. A message
//! moves from sender to receiver the
//! moment both are there: message words 0..4 register to register, words 4.. IPC buffer to
//! IPC buffer (both physical, through the HHDM), extra caps through the CSpaces. A `Call`
//! leaves the caller blocked on reply with the receiver's `caller` pointing at it.
//!
//! Notifications (signal words with a queue of waiters) are in `object/notification.rs`.
//!
//! Nothing here checks rights or decodes arguments: the syscall layer has done that.

use crate::sched::SCHEDULER;
use crate::thread::{PendingSend, SendKind, Tcb, ThreadState};
use core::ptr::null_mut;
use libsys::abi::{Error, MessageInfo};

pub use crate::object::endpoint::Endpoint;
use crate::object::endpoint::EndpointState;
pub use crate::object::notification::Notification;

/// A thread queue threaded through `Tcb::ipc_next/ipc_prev`.
pub(crate) struct Queue {
    /// First thread.
    pub(crate) head: *mut Tcb,
    /// Last thread.
    pub(crate) tail: *mut Tcb,
}

impl Queue {
    /// Empties the queue, waking every thread with `Cancelled` (its object is going away).
    pub(crate) fn cancel_all(&mut self) {
        while !self.head.is_null() {
            let t = self.head;
            // SAFETY: queued TCBs are live.
            unsafe {
                self.remove(t);
                (*t).blocked_on = 0;
                wake_with_error(t, Error::Cancelled);
            }
        }
    }

    /// Appends `t`.
    ///
    /// # Safety
    /// `t` must be a live TCB not in any queue.
    pub(crate) unsafe fn push(&mut self, t: *mut Tcb) {
        // SAFETY: forwarded from the caller; queued TCBs are live.
        unsafe {
            (*t).ipc_next = null_mut();
            (*t).ipc_prev = self.tail;
            if self.tail.is_null() {
                self.head = t;
            } else {
                (*self.tail).ipc_next = t;
            }
        }
        self.tail = t;
    }

    /// # Safety
    /// `t` must be a live TCB in this queue.
    pub(crate) unsafe fn remove(&mut self, t: *mut Tcb) {
        // SAFETY: forwarded from the caller; its neighbours are live queue members.
        unsafe {
            let (prev, next) = ((*t).ipc_prev, (*t).ipc_next);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).ipc_next = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).ipc_prev = prev;
            }
            (*t).ipc_next = null_mut();
            (*t).ipc_prev = null_mut();
        }
    }
}

/// Makes a blocked thread runnable with `rax` = `error`.
///
/// # Safety
/// `t` must be a live TCB.
pub unsafe fn wake_with_error(t: *mut Tcb, error: Error) {
    // SAFETY: forwarded from the caller.
    let tcb = unsafe { &mut *t };
    if tcb.pending.is_fault() {
        // A fault message that can no longer be delivered: the thread stays stopped, as
        // it would with no fault handler.
        tcb.pending.kind = SendKind::Message;
        tcb.fault = [0; 3];
        tcb.state = ThreadState::Inactive;
        crate::warn!(
            "thread {}: its fault handler went away; suspended",
            tcb.name()
        );
        return;
    }
    tcb.context.rax = error as u64;
    // SAFETY: forwarded from the caller.
    unsafe { SCHEDULER.lock().make_runnable(t) };
}

/// Copies a message from `sender` to `receiver` and sets the receiver's return registers.
/// Returns the delivered message info.
pub fn transfer(
    sender: &mut Tcb,
    receiver: &mut Tcb,
    badge: u64,
    can_grant: bool,
    endpoint: u64,
) -> MessageInfo {
    let info = MessageInfo(sender.context.rsi);
    let mut length = info.length().min(MessageInfo::MAX_LENGTH);
    if length > MessageInfo::REGISTER_WORDS {
        let (s, r) = (
            crate::object::ipc_buffer_ptr(sender),
            crate::object::ipc_buffer_ptr(receiver),
        );
        if s.is_null() || r.is_null() {
            length = MessageInfo::REGISTER_WORDS;
        } else {
            let n = (length - MessageInfo::REGISTER_WORDS) as usize;
            // SAFETY: both are live IPC buffer frames with at least `n` message words
            // (n <= BUFFER_WORDS); they may be the same frame, so this is a memmove through
            // raw pointers.
            unsafe {
                core::ptr::copy(
                    core::ptr::addr_of!((*s).msg).cast::<u64>(),
                    core::ptr::addr_of_mut!((*r).msg).cast::<u64>(),
                    n,
                );
            }
        }
    }
    for i in 0..(length.min(MessageInfo::REGISTER_WORDS) as usize) {
        receiver.set_register_word(i, sender.register_word(i));
    }
    let (caps, unwrapped) = if info.caps() > 0 {
        crate::object::transfer_caps(sender, receiver, info.caps(), can_grant, endpoint)
    } else {
        (0, 0)
    };
    let delivered = MessageInfo::new(info.label(), length, caps).with_unwrapped(unwrapped);
    crate::counters::message(length);
    receiver.context.rsi = delivered.0;
    receiver.context.rdi = badge;
    receiver.context.rax = 0;
    delivered
}

/// Copies a fault message (label = fault vector + `FAULT_LABEL_BASE`) to the handler.
fn transfer_fault(faulter: &mut Tcb, receiver: &mut Tcb, badge: u64) {
    let words = [
        faulter.fault[0],
        faulter.fault[1],
        faulter.fault[2],
        faulter.context.rip,
    ];
    for (i, w) in words.iter().enumerate() {
        receiver.set_register_word(i, *w);
    }
    let buffer = crate::object::ipc_buffer_ptr(receiver);
    if !buffer.is_null() {
        // SAFETY: the receiver's buffer frame is allocated while its cap is in the TCB's
        // slot; two words are written through the raw pointer (no reference).
        unsafe {
            core::ptr::addr_of_mut!((*buffer).msg[0]).write(faulter.context.rsp);
            core::ptr::addr_of_mut!((*buffer).msg[1]).write(faulter.context.rflags);
        }
    }
    let length = if buffer.is_null() { 4 } else { 6 };
    crate::counters::message(length);
    receiver.context.rsi = MessageInfo::new(libsys::abi::FAULT_LABEL, length, 0).0;
    receiver.context.rdi = badge;
    receiver.context.rax = 0;
}

/// Sends from `sender` through `endpoint`. `blocking` = Send/Call (else NBSend).
///
/// # Safety
/// `sender` must be the live current thread (or a faulting thread) and `endpoint` a live
/// endpoint object.
pub unsafe fn send(sender: *mut Tcb, endpoint: u64, pending: PendingSend, blocking: bool) {
    // SAFETY: forwarded from the caller.
    let ep = unsafe { Endpoint::at(endpoint) };
    // SAFETY: as above.
    let s = unsafe { &mut *sender };
    if ep.state() == EndpointState::Recv {
        let mut q = ep.queue();
        let r = q.head;
        // SAFETY: the queue head is a live TCB.
        unsafe { q.remove(r) };
        ep.set_queue(q, EndpointState::Recv);
        // SAFETY: as above.
        let receiver = unsafe { &mut *r };
        receiver.blocked_on = 0;
        deliver(s, receiver, pending, endpoint);
        // SAFETY: `r` is live.
        unsafe { SCHEDULER.lock().make_runnable(r) };
        return;
    }
    if !blocking {
        return;
    }
    s.pending = pending;
    s.state = ThreadState::BlockedOnSend;
    s.blocked_on = endpoint;
    let mut q = ep.queue();
    // SAFETY: `sender` is live and in no queue.
    unsafe {
        SCHEDULER.lock().dequeue(sender);
        q.push(sender);
    }
    ep.set_queue(q, EndpointState::Send);
}

/// Delivers `s`'s message to `r` and sets up the reply link for calls.
fn deliver(s: &mut Tcb, r: &mut Tcb, pending: PendingSend, endpoint: u64) {
    s.pending = pending;
    if pending.is_fault() {
        transfer_fault(s, r, pending.badge);
    } else {
        transfer(s, r, pending.badge, pending.can_grant, endpoint);
    }
    if pending.is_call {
        drop_caller(r);
        // SAFETY: `s` is live; taking it off the run queue while it waits for the reply.
        unsafe { SCHEDULER.lock().dequeue(s) };
        s.state = ThreadState::BlockedOnReply;
        s.replier = r;
        r.caller = s;
        r.caller_can_grant = pending.reply_can_grant;
    } else if s.state != ThreadState::Running {
        s.state = ThreadState::Running;
        // SAFETY: `s` is live.
        unsafe { SCHEDULER.lock().make_runnable(s) };
    }
}

/// Receives on `endpoint` for `receiver`. Returns `Err(WouldBlock)` for a non-blocking
/// receive that found nothing.
///
/// # Safety
/// `receiver` must be the live current thread and `endpoint` a live endpoint object.
pub unsafe fn receive(receiver: *mut Tcb, endpoint: u64, blocking: bool) -> Result<(), Error> {
    // SAFETY: forwarded from the caller.
    let r = unsafe { &mut *receiver };
    if r.bound_notification != 0 {
        // SAFETY: a bound notification is live while bound.
        let n = unsafe { Notification::at(r.bound_notification) };
        if let Some(bits) = n.take_pending() {
            r.set_signal_result(bits);
            return Ok(());
        }
    }
    // SAFETY: forwarded from the caller.
    let ep = unsafe { Endpoint::at(endpoint) };
    if ep.state() == EndpointState::Send {
        let mut q = ep.queue();
        let s = q.head;
        // SAFETY: the queue head is a live TCB.
        unsafe { q.remove(s) };
        ep.set_queue(q, EndpointState::Send);
        // SAFETY: as above.
        let sender = unsafe { &mut *s };
        sender.blocked_on = 0;
        let pending = sender.pending;
        deliver(sender, r, pending, endpoint);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    r.state = ThreadState::BlockedOnRecv;
    r.blocked_on = endpoint;
    let mut q = ep.queue();
    // SAFETY: `receiver` is live and in no queue.
    unsafe {
        SCHEDULER.lock().dequeue(receiver);
        q.push(receiver);
    }
    ep.set_queue(q, EndpointState::Recv);
    Ok(())
}

/// A server that takes a new call without replying to the previous one drops it: the
/// previous caller is woken with `Cancelled` (it would otherwise wait forever).
pub fn drop_caller(r: &mut Tcb) {
    let old = core::mem::replace(&mut r.caller, null_mut());
    if !old.is_null() {
        // SAFETY: reply links are symmetric, so the old caller is live.
        unsafe {
            (*old).replier = null_mut();
            if (*old).state == ThreadState::BlockedOnReply {
                wake_with_error(old, Error::Cancelled);
            }
        }
    }
}

/// Replies from `replier` to its caller, if any. A caller whose thread is gone or no
/// longer waiting makes this a no-op (seL4 semantics).
pub fn reply(replier: &mut Tcb) {
    let c = core::mem::replace(&mut replier.caller, null_mut());
    if c.is_null() {
        return;
    }
    let grant = replier.caller_can_grant;
    // SAFETY: `caller` links are cleared when either thread is destroyed, so `c` is live.
    unsafe { reply_to(replier, c, grant) };
}

/// Delivers `replier`'s message as the reply `c` waits for (or resumes `c` after a fault)
/// and makes it runnable. Does nothing if `c` no longer waits for a reply.
///
/// # Safety
/// `c` must be a live TCB.
pub unsafe fn reply_to(replier: &mut Tcb, c: *mut Tcb, grant: bool) {
    // SAFETY: forwarded from the caller.
    let caller = unsafe { &mut *c };
    if caller.state != ThreadState::BlockedOnReply {
        return;
    }
    caller.replier = null_mut();
    caller.saved_in = 0;
    if caller.pending.is_fault() {
        // Reply to a fault: the thread resumes with its (possibly rewritten) registers.
        caller.pending.kind = SendKind::Message;
        caller.fault = [0; 3];
    } else {
        transfer(replier, caller, 0, grant, 0);
    }
    // SAFETY: `c` is live.
    unsafe { SCHEDULER.lock().make_runnable(c) };
}

/// Takes a thread out of whatever IPC queue or reply relation it is in (before it is
/// suspended, reconfigured or destroyed).
pub fn cancel_ipc(t: &mut Tcb) {
    let tp = t as *mut Tcb;
    if t.deadline != 0 {
        // SAFETY: `t` is live.
        unsafe { SCHEDULER.lock().cancel_timeout(tp) };
    }
    match t.state {
        ThreadState::BlockedOnSend | ThreadState::BlockedOnRecv if t.blocked_on != 0 => {
            // SAFETY: the thread is queued on that live endpoint.
            unsafe { Endpoint::at(t.blocked_on).dequeue(tp) };
        }
        ThreadState::BlockedOnNotification if t.blocked_on != 0 => {
            // SAFETY: the thread is queued on that live notification.
            unsafe { Notification::at(t.blocked_on).dequeue(tp) };
        }
        ThreadState::BlockedOnReply => {
            if !t.replier.is_null() {
                // SAFETY: reply links are kept symmetric, so the replier is live.
                unsafe { (*t.replier).caller = null_mut() };
                t.replier = null_mut();
            }
            if t.saved_in != 0 {
                // SAFETY: a reply object holding a caller is live (deleting it wakes the
                // caller and clears `saved_in`).
                unsafe { crate::object::reply::ReplyObject::at(t.saved_in) }.forget();
                t.saved_in = 0;
            }
        }
        _ => {}
    }
    t.blocked_on = 0;
}
