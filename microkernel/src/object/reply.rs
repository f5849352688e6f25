//! Reply objects: where a server parks a caller to answer later.
//!
//! A `Call` leaves its caller waiting for the reply, and the receiving thread holds that
//! reply (answered by `Reply`/`ReplyRecv`) until it receives the next call. A server that
//! must answer later (a process server answering `wait` when a child exits, a file server
//! waiting for a disk) *saves* the reply into a Reply object with `ReplySave`, then goes on
//! receiving. `Send` (or `NBSend`) on the Reply cap delivers the message as the reply and
//! empties the object. Deleting the Reply object's last cap while a caller is saved wakes
//! that caller with `Cancelled`; a caller that goes away first just leaves the object empty.

use super::{InvocationError, InvocationResult, Output};
use crate::ipc::{reply_to, wake_with_error};
use crate::mem::phys_to_virt;
use crate::thread::{Tcb, TcbPtr};
use core::ptr::null_mut;
use libsys::abi::{Error, Label};

/// A reply object (32 bytes).
#[repr(C)]
pub struct Reply {
    /// The saved caller (TCB pointer; 0 = empty).
    caller: u64,
    /// Whether the reply may carry caps.
    can_grant: u64,
    reserved: [u64; 2],
}

const _: () = assert!(core::mem::size_of::<Reply>() == 1 << libsys::object::REPLY_SIZE_BITS);

impl Reply {
    /// The reply object at a physical address, as a raw pointer: callers make a reference
    /// only for one method call (`(*r).method()`), never one that outlives it.
    ///
    /// # Safety
    /// `phys` must be a live reply object (then the pointer is valid: the HHDM maps all
    /// RAM).
    pub unsafe fn at(phys: u64) -> *mut Reply {
        phys_to_virt(phys) as *mut Reply
    }

    /// The saved caller went away.
    pub fn forget(&mut self) {
        self.caller = 0;
    }

    /// The object is being destroyed: a saved caller will never get its reply.
    pub fn cancel(&mut self) {
        let c = core::mem::replace(&mut self.caller, 0) as *mut Tcb;
        if !c.is_null() {
            // SAFETY: a saved caller is live (its destruction clears this object).
            unsafe {
                (*c).saved_in = 0;
                wake_with_error(c, Error::Cancelled);
            }
        }
    }

    /// `Send` on the Reply cap: `sender`'s message becomes the saved caller's reply. It may
    /// carry caps if the original call allowed it (GRANT_REPLY) and the Reply cap used keeps
    /// its grant right.
    pub fn send(&mut self, sender: TcbPtr, cap_can_grant: bool) {
        let c = core::mem::replace(&mut self.caller, 0) as *mut Tcb;
        // SAFETY: a saved caller is live (its destruction clears this object).
        if let Some(c) = unsafe { TcbPtr::from_raw(c) } {
            reply_to(sender, c, self.can_grant != 0 && cap_can_grant);
        }
    }
}

/// Dispatches an invocation on the Reply object at `object`.
pub fn invoke(invoker: TcbPtr, object: u64, label: Label) -> InvocationResult {
    if label != Label::ReplySave {
        return Err(InvocationError::cap(Error::IllegalOperation));
    }
    // SAFETY: reply links are symmetric, so a caller the invoker owes a reply is live.
    let Some(c) = (unsafe { TcbPtr::from_raw(invoker.caller()) }) else {
        // Nothing to save: this thread holds no unanswered call.
        return Err(InvocationError::cap(Error::IllegalOperation));
    };
    // SAFETY: the cap names a live reply object; this is the only reference to it (the
    // code below reaches no other reply object, only the two threads' handles).
    let reply = unsafe { &mut *Reply::at(object) };
    if reply.caller != 0 {
        return Err(InvocationError::cap(Error::DeleteFirst));
    }
    reply.caller = c.as_raw() as u64;
    reply.can_grant = u64::from(invoker.caller_can_grant());
    invoker.set_caller(null_mut());
    c.set_replier(null_mut());
    c.set_saved_in(object);
    Ok(Output::empty())
}
