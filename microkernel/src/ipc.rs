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

use crate::queue::{IpcLinks, TcbQueue};
use crate::sched::SCHEDULER;
use crate::thread::{PendingSend, SendKind, Tcb, TcbPtr, ThreadState};
use core::ptr::null_mut;
use libsys::abi::{Error, MessageInfo};

pub use crate::object::endpoint::Endpoint;
use crate::object::endpoint::EndpointState;
pub use crate::object::notification::Notification;

/// A queue of threads waiting on an endpoint or notification.
pub(crate) type Queue = TcbQueue<IpcLinks>;

/// Empties `q`, waking every thread with `Cancelled` (its object is going away).
pub(crate) fn cancel_all(q: &mut Queue) {
    while !q.head.is_null() {
        let t = q.head;
        // SAFETY: queued TCBs are live.
        unsafe {
            q.remove(t);
            (*t).blocked_on = 0;
            wake_with_error(t, Error::Cancelled);
        }
    }
}

/// Makes a blocked thread runnable with `rax` = `error`.
///
/// # Safety
/// `t` must be a live TCB.
pub unsafe fn wake_with_error(t: *mut Tcb, error: Error) {
    // SAFETY: forwarded from the caller.
    let Some(tcb) = (unsafe { TcbPtr::from_raw(t) }) else {
        return;
    };
    if tcb.pending().is_fault() {
        // A fault message that can no longer be delivered: the thread stays stopped, as
        // it would with no fault handler.
        let mut pending = tcb.pending();
        pending.kind = SendKind::Message;
        tcb.set_pending(pending);
        tcb.set_fault([0; 3]);
        tcb.set_state(ThreadState::Inactive);
        crate::warn!(
            "thread {}: its fault handler went away; suspended",
            tcb.name()
        );
        return;
    }
    tcb.update_context(|c| c.rax = error as u64);
    // SAFETY: forwarded from the caller.
    unsafe { SCHEDULER.lock().make_runnable(t) };
}

/// Copies a message from `sender` to `receiver` and sets the receiver's return registers.
/// Returns the delivered message info.
pub fn transfer(
    sender: TcbPtr,
    receiver: TcbPtr,
    badge: u64,
    can_grant: bool,
    endpoint: u64,
) -> MessageInfo {
    let info = MessageInfo(sender.read_context(|c| c.rsi));
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
    let registers = length.min(MessageInfo::REGISTER_WORDS) as usize;
    receiver.set_message_registers(&sender.message_registers()[..registers]);
    let (caps, unwrapped) = if info.caps() > 0 {
        crate::object::transfer_caps(sender, receiver, info.caps(), can_grant, endpoint)
    } else {
        (0, 0)
    };
    let delivered = MessageInfo::new(info.label(), length, caps).with_unwrapped(unwrapped);
    crate::counters::message(length);
    receiver.update_context(|c| {
        c.rsi = delivered.0;
        c.rdi = badge;
        c.rax = 0;
    });
    delivered
}

/// Copies a fault message (label = fault vector + `FAULT_LABEL_BASE`) to the handler.
fn transfer_fault(faulter: TcbPtr, receiver: TcbPtr, badge: u64) {
    let (fault, frame) = (faulter.fault(), faulter.read_context(|c| *c));
    let words = [fault[0], fault[1], fault[2], frame.rip];
    receiver.set_message_registers(&words);
    let buffer = crate::object::ipc_buffer_ptr(receiver);
    if !buffer.is_null() {
        // SAFETY: the receiver's buffer frame is allocated while its cap is in the TCB's
        // slot; two words are written through the raw pointer (no reference).
        unsafe {
            core::ptr::addr_of_mut!((*buffer).msg[0]).write(frame.rsp);
            core::ptr::addr_of_mut!((*buffer).msg[1]).write(frame.rflags);
        }
    }
    let length = if buffer.is_null() { 4 } else { 6 };
    crate::counters::message(length);
    receiver.update_context(|c| {
        c.rsi = MessageInfo::new(libsys::abi::FAULT_LABEL, length, 0).0;
        c.rdi = badge;
        c.rax = 0;
    });
}

/// Sends from `sender` through `endpoint`. `blocking` = Send/Call (else NBSend).
///
/// # Safety
/// `sender` must be the current thread (or a faulting thread) and `endpoint` a live
/// endpoint object.
pub unsafe fn send(sender: TcbPtr, endpoint: u64, pending: PendingSend, blocking: bool) {
    // SAFETY: forwarded from the caller.
    let ep = unsafe { Endpoint::at(endpoint) };
    // SAFETY: as above; no reference to the endpoint is live.
    let state = unsafe { (*ep).state() };
    if state == EndpointState::Recv {
        // SAFETY: as above; the queue head is a live TCB.
        let r = unsafe {
            let mut q = (*ep).queue();
            let r = q.head;
            q.remove(r);
            (*ep).set_queue(q, EndpointState::Recv);
            TcbPtr::from_raw(r)
        };
        let Some(receiver) = r else {
            return;
        };
        receiver.set_blocked_on(0);
        deliver(sender, receiver, pending, endpoint);
        // SAFETY: the receiver is live.
        unsafe { SCHEDULER.lock().make_runnable(receiver.as_raw()) };
        return;
    }
    if !blocking {
        return;
    }
    sender.set_pending(pending);
    sender.set_state(ThreadState::BlockedOnSend);
    sender.set_blocked_on(endpoint);
    // SAFETY: `sender` is live and in no queue; the endpoint is live.
    unsafe {
        SCHEDULER.lock().dequeue(sender.as_raw());
        let mut q = (*ep).queue();
        q.push(sender.as_raw());
        (*ep).set_queue(q, EndpointState::Send);
    }
}

/// Delivers `s`'s message to `r` and sets up the reply link for calls.
fn deliver(s: TcbPtr, r: TcbPtr, pending: PendingSend, endpoint: u64) {
    s.set_pending(pending);
    if pending.is_fault() {
        transfer_fault(s, r, pending.badge);
    } else {
        transfer(s, r, pending.badge, pending.can_grant, endpoint);
    }
    if pending.is_call {
        drop_caller(r);
        // SAFETY: `s` is live; taking it off the run queue while it waits for the reply.
        unsafe { SCHEDULER.lock().dequeue(s.as_raw()) };
        s.set_state(ThreadState::BlockedOnReply);
        s.set_replier(r.as_raw());
        r.set_caller(s.as_raw());
        r.set_caller_can_grant(pending.reply_can_grant);
    } else if s.state() != ThreadState::Running {
        s.set_state(ThreadState::Running);
        // SAFETY: `s` is live.
        unsafe { SCHEDULER.lock().make_runnable(s.as_raw()) };
    }
}

/// Receives on `endpoint` for `receiver`. Returns `Err(WouldBlock)` for a non-blocking
/// receive that found nothing.
///
/// # Safety
/// `receiver` must be the current thread and `endpoint` a live endpoint object.
pub unsafe fn receive(receiver: TcbPtr, endpoint: u64, blocking: bool) -> Result<(), Error> {
    let bound = receiver.bound_notification();
    if bound != 0 {
        // SAFETY: a bound notification is live while bound; no reference to it is live.
        if let Some(bits) = unsafe { (*Notification::at(bound)).take_pending() } {
            receiver.set_signal_result(bits);
            return Ok(());
        }
    }
    // SAFETY: forwarded from the caller.
    let ep = unsafe { Endpoint::at(endpoint) };
    // SAFETY: as above; no reference to the endpoint is live.
    if unsafe { (*ep).state() } == EndpointState::Send {
        // SAFETY: as above; the queue head is a live TCB.
        let s = unsafe {
            let mut q = (*ep).queue();
            let s = q.head;
            q.remove(s);
            (*ep).set_queue(q, EndpointState::Send);
            TcbPtr::from_raw(s)
        };
        let Some(sender) = s else {
            return Ok(());
        };
        sender.set_blocked_on(0);
        deliver(sender, receiver, sender.pending(), endpoint);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    receiver.set_state(ThreadState::BlockedOnRecv);
    receiver.set_blocked_on(endpoint);
    // SAFETY: `receiver` is live and in no queue; the endpoint is live.
    unsafe {
        SCHEDULER.lock().dequeue(receiver.as_raw());
        let mut q = (*ep).queue();
        q.push(receiver.as_raw());
        (*ep).set_queue(q, EndpointState::Recv);
    }
    Ok(())
}

/// A server that takes a new call without replying to the previous one drops it: the
/// previous caller is woken with `Cancelled` (it would otherwise wait forever).
pub fn drop_caller(r: TcbPtr) {
    let old = r.caller();
    r.set_caller(null_mut());
    // SAFETY: reply links are symmetric, so the old caller is live.
    if let Some(old) = unsafe { TcbPtr::from_raw(old) } {
        old.set_replier(null_mut());
        if old.state() == ThreadState::BlockedOnReply {
            // SAFETY: as above.
            unsafe { wake_with_error(old.as_raw(), Error::Cancelled) };
        }
    }
}

/// Replies from `replier` to its caller, if any. A caller whose thread is gone or no
/// longer waiting makes this a no-op (seL4 semantics).
pub fn reply_to_caller(replier: TcbPtr) {
    let c = replier.caller();
    replier.set_caller(null_mut());
    // SAFETY: `caller` links are cleared when either thread is destroyed, so `c` is live.
    if let Some(c) = unsafe { TcbPtr::from_raw(c) } {
        reply_to(replier, c, replier.caller_can_grant());
    }
}

/// Delivers `replier`'s message as the reply `caller` waits for (or resumes `caller` after
/// a fault) and makes it runnable. Does nothing if `caller` no longer waits for a reply.
pub fn reply_to(replier: TcbPtr, caller: TcbPtr, grant: bool) {
    if caller.state() != ThreadState::BlockedOnReply {
        return;
    }
    caller.set_replier(null_mut());
    caller.set_saved_in(0);
    let mut pending = caller.pending();
    if pending.is_fault() {
        // Reply to a fault: the thread resumes with its (possibly rewritten) registers.
        pending.kind = SendKind::Message;
        caller.set_pending(pending);
        caller.set_fault([0; 3]);
    } else {
        transfer(replier, caller, 0, grant, 0);
    }
    // SAFETY: `caller` is live.
    unsafe { SCHEDULER.lock().make_runnable(caller.as_raw()) };
}

/// Takes a thread out of whatever IPC queue or reply relation it is in (before it is
/// suspended, reconfigured or destroyed).
pub fn cancel_ipc(t: TcbPtr) {
    let tp = t.as_raw();
    if t.deadline() != 0 {
        // SAFETY: `t` is live.
        unsafe { SCHEDULER.lock().cancel_timeout(tp) };
    }
    let blocked_on = t.blocked_on();
    match t.state() {
        ThreadState::BlockedOnSend | ThreadState::BlockedOnRecv if blocked_on != 0 => {
            // SAFETY: the thread is queued on that live endpoint.
            unsafe { (*Endpoint::at(blocked_on)).dequeue(tp) };
        }
        ThreadState::BlockedOnNotification if blocked_on != 0 => {
            // SAFETY: the thread is queued on that live notification.
            unsafe { (*Notification::at(blocked_on)).dequeue(tp) };
        }
        ThreadState::BlockedOnReply => {
            // SAFETY: reply links are kept symmetric, so the replier is live.
            if let Some(replier) = unsafe { TcbPtr::from_raw(t.replier()) } {
                replier.set_caller(null_mut());
                t.set_replier(null_mut());
            }
            if t.saved_in() != 0 {
                // SAFETY: a reply object holding a caller is live (deleting it wakes the
                // caller and clears `saved_in`).
                unsafe { (*crate::object::reply::Reply::at(t.saved_in())).forget() };
                t.set_saved_in(0);
            }
        }
        _ => {}
    }
    t.set_blocked_on(0);
}
