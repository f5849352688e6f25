//! Notification objects: a word of signal bits and a queue of waiters.
//!
//! `Send` (or `Call`) through a notification cap ORs the cap's badge into the word and
//! wakes the first waiter (or the bound thread, if it waits on its endpoint); `Recv` takes
//! the word or waits; `NBRecv` polls. A signal through an unbadged cap still counts (the
//! "active" flag), as in seL4.

use crate::ipc::{Endpoint, Queue};
use crate::mem::phys_to_virt;
use crate::sched::SCHEDULER;
use crate::thread::{Tcb, TcbPtr, ThreadState};
use libsys::abi::Error;

/// A notification object (32 bytes).
#[repr(C)]
pub struct Notification {
    /// Pending signal bits.
    pub word: u64,
    head: u64,
    tail: u64,
    /// The TCB bound to this notification (TCB pointer; 0 = none). Bit 0 is the "active"
    /// flag: a signal is pending even if the bits are 0 (a signal through an unbadged cap).
    bound: u64,
}

const _: () =
    assert!(core::mem::size_of::<Notification>() == 1 << libsys::object::NOTIFICATION_SIZE_BITS);

impl Notification {
    /// The notification object at a physical address, as a raw pointer: callers make a
    /// reference only for one method call (`(*n).method()`), never one that outlives it.
    ///
    /// # Safety
    /// `phys` must be a live notification object (then the pointer is valid: the HHDM
    /// maps all RAM).
    pub unsafe fn at(phys: u64) -> *mut Notification {
        phys_to_virt(phys) as *mut Notification
    }

    fn queue(&self) -> Queue {
        Queue::from_ends(self.head as *mut Tcb, self.tail as *mut Tcb)
    }

    fn set_queue(&mut self, q: Queue) {
        self.head = q.head as u64;
        self.tail = q.tail as u64;
    }

    /// Whether threads wait on it.
    pub fn has_waiters(&self) -> bool {
        self.head != 0
    }

    /// The bound TCB (0 = none).
    pub fn bound(&self) -> u64 {
        self.bound & !1
    }

    /// Binds or unbinds (0) a TCB, keeping the active flag.
    pub fn set_bound(&mut self, tcb: u64) {
        self.bound = tcb | (self.bound & 1);
    }

    fn active(&self) -> bool {
        self.bound & 1 != 0
    }

    /// Takes the pending signal: the bits, if a signal is pending.
    pub fn take_pending(&mut self) -> Option<u64> {
        if !self.active() {
            return None;
        }
        self.bound &= !1;
        Some(core::mem::take(&mut self.word))
    }

    /// Signals: wakes the first waiter with the bits, or the bound thread if it waits on
    /// its endpoint, or accumulates them.
    pub fn signal(&mut self, badge: u64) {
        let mut q = self.queue();
        // SAFETY: queued TCBs are live.
        if let Some(waiter) = unsafe { TcbPtr::from_raw(q.head) } {
            // SAFETY: as above; the head is a member.
            unsafe { q.remove(waiter.as_raw()) };
            self.set_queue(q);
            self.wake_with_bits(waiter, badge);
            return;
        }
        // SAFETY: a bound TCB is live while bound (`bound` is its pointer, 0 when none).
        if let Some(bound) = unsafe { TcbPtr::from_raw(self.bound() as *mut Tcb) } {
            let endpoint = bound.blocked_on();
            if bound.state() == ThreadState::BlockedOnRecv && endpoint != 0 {
                // SAFETY: the TCB is queued on that live endpoint, which is not this
                // notification (no other reference to it exists).
                unsafe { (*Endpoint::at(endpoint)).dequeue(bound.as_raw()) };
                self.wake_with_bits(bound, badge);
                return;
            }
        }
        self.word |= badge;
        self.bound |= 1;
    }

    /// Wakes `t`, already taken out of the queue it waited in, with the pending bits and
    /// `badge`; the notification is left with none pending.
    fn wake_with_bits(&mut self, t: TcbPtr, badge: u64) {
        t.set_blocked_on(0);
        t.set_signal_result(core::mem::take(&mut self.word) | badge);
        self.bound &= !1;
        // SAFETY: `t` is live (a queue member or the bound thread).
        unsafe { SCHEDULER.lock().make_runnable(t.as_raw()) };
    }

    /// Waits (or polls when not `blocking`) on this notification at `phys`.
    ///
    /// # Safety
    /// `t` must be the live current thread; `phys` must be this object's address.
    pub unsafe fn wait(&mut self, t: TcbPtr, phys: u64, blocking: bool) -> Result<(), Error> {
        if let Some(bits) = self.take_pending() {
            t.set_signal_result(bits);
            return Ok(());
        }
        if !blocking {
            return Err(Error::WouldBlock);
        }
        t.set_state(ThreadState::BlockedOnNotification);
        t.set_blocked_on(phys);
        let mut q = self.queue();
        // SAFETY: `t` is live and in no queue.
        unsafe {
            SCHEDULER.lock().dequeue(t.as_raw());
            q.push(t.as_raw());
        }
        self.set_queue(q);
        Ok(())
    }

    /// Removes a waiter.
    ///
    /// # Safety
    /// `t` must be queued on this notification.
    pub unsafe fn dequeue(&mut self, t: *mut Tcb) {
        let mut q = self.queue();
        // SAFETY: forwarded from the caller.
        unsafe {
            q.remove(t);
            (*t).blocked_on = 0;
        }
        self.set_queue(q);
    }

    /// Wakes every waiter with `Cancelled` and unbinds (the notification is being destroyed).
    pub fn cancel_all(&mut self) {
        let mut q = self.queue();
        crate::ipc::cancel_all(&mut q);
        self.set_queue(q);
        if self.bound() != 0 {
            // SAFETY: a bound TCB is live while bound.
            unsafe { (*(self.bound() as *mut Tcb)).bound_notification = 0 };
            self.bound = 0;
        }
    }
}
