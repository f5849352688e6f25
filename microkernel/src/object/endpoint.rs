//! Endpoints: the rendezvous objects of synchronous IPC (the message passing itself is in
//! `ipc.rs`).
//!
//! An endpoint is a queue of threads that all wait for the same thing: either senders
//! (state `Send`) or receivers (state `Recv`).

use crate::ipc::Queue;
use crate::mem::phys_to_virt;
use crate::thread::{Tcb, TcbPtr, ThreadState};

/// An endpoint object (16 bytes): queue head with the state in its low bits, and tail.
///
/// State bits: 0 idle, 1 senders wait, 2 receivers wait, 3 receivers wait and at least one
/// of them has a deadline (`RecvTimeout`). The fast path takes a receiver only in state 2:
/// a timed receiver is in the scheduler's timeout list, which only the general path
/// updates. State 3 lasts until the queue is empty.
#[repr(C)]
pub struct Endpoint {
    head_and_state: u64,
    tail: u64,
}

const _: () = assert!(core::mem::size_of::<Endpoint>() == 1 << libsys::object::ENDPOINT_SIZE_BITS);

/// What an endpoint's queue holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointState {
    /// Nobody waits.
    Idle,
    /// Senders wait.
    Send,
    /// Receivers wait.
    Recv,
}

impl Endpoint {
    pub(crate) fn state(&self) -> EndpointState {
        match self.head_and_state & 3 {
            1 => EndpointState::Send,
            2 | 3 => EndpointState::Recv,
            _ => EndpointState::Idle,
        }
    }

    /// Raw state bits (see the type's doc).
    #[inline(always)]
    fn state_bits(&self) -> u64 {
        self.head_and_state & 3
    }

    /// Records that a receiver with a deadline waits (state 3), so that the fast path
    /// leaves this queue alone until it empties.
    pub fn mark_timed_receiver(&mut self) {
        if self.state() == EndpointState::Recv {
            self.head_and_state |= 3;
        }
    }

    pub(crate) fn queue(&self) -> Queue {
        Queue::from_ends(
            (self.head_and_state & !3) as *mut Tcb,
            self.tail as *mut Tcb,
        )
    }

    pub(crate) fn set_queue(&mut self, q: Queue, state: EndpointState) {
        let state = if q.head.is_null() {
            0
        } else {
            match state {
                EndpointState::Idle => 0,
                EndpointState::Send => 1,
                // A timed receiver may still be in the queue: keep state 3.
                EndpointState::Recv if self.state_bits() == 3 => 3,
                EndpointState::Recv => 2,
            }
        };
        self.head_and_state = q.head as u64 | state;
        self.tail = q.tail as u64;
    }

    /// The endpoint object at a physical address, as a raw pointer: callers make a
    /// reference only for one method call (`(*ep).method()`), never one that outlives it.
    ///
    /// # Safety
    /// `phys` must be a live endpoint object (then the pointer is valid: the HHDM maps all
    /// RAM).
    pub unsafe fn at(phys: u64) -> *mut Endpoint {
        phys_to_virt(phys) as *mut Endpoint
    }

    /// The first waiting receiver, if receivers wait and none has a deadline (fast path).
    #[inline(always)]
    pub fn peek_receiver(&self) -> Option<*mut Tcb> {
        (self.state_bits() == 2).then(|| self.queue().head)
    }

    /// Takes the head of the receive queue, which [`Self::peek_receiver`] returned, off the
    /// queue (fast path: through the queue type's `pop_head`; a non-empty queue keeps
    /// state 2, the only one `peek_receiver` answers in).
    ///
    /// # Safety
    /// Receivers must wait (state 2: `peek_receiver` returned one).
    #[inline(always)]
    pub unsafe fn pop_head_receiver(&mut self) -> TcbPtr {
        let mut q = self.queue();
        // SAFETY: the queue is not empty (the caller's contract) and its members are live
        // TCBs, reached through their link fields only.
        let r = unsafe { q.pop_head() };
        // `pop_head` moves the tail only when the queue empties: only then is it stored.
        if q.head.is_null() {
            self.head_and_state = 0;
            self.tail = 0;
        } else {
            self.head_and_state = q.head as u64 | 2;
        }
        // SAFETY: `r` was queued, so it is live.
        let r = unsafe { TcbPtr::from_raw_unchecked(r) };
        r.set_blocked_on(0);
        r
    }

    /// Whether senders are waiting.
    #[inline(always)]
    pub fn has_senders(&self) -> bool {
        self.state_bits() == 1
    }

    /// Queues a receiver (fast path; the caller checked no sender waits), through the
    /// queue type's `push`. A queue that already has receivers keeps its state bits (2 or
    /// 3).
    ///
    /// # Safety
    /// `t` must be in no endpoint or notification queue; `phys` this endpoint's address;
    /// no sender waits.
    #[inline(always)]
    pub unsafe fn enqueue_receiver(&mut self, t: TcbPtr, phys: u64) {
        t.set_state(ThreadState::BlockedOnRecv);
        t.set_blocked_on(phys);
        let mut q = self.queue();
        let was_empty = q.tail.is_null();
        // SAFETY: `t` is live and in no queue of this kind (the caller's contract); the
        // members are live TCBs, reached through their link fields only.
        unsafe { q.push(t.as_raw()) };
        // Idle becomes state 2 with `t` at the head; a queue of receivers keeps its head
        // and state (2 or 3; no sender waits, so never 1).
        if was_empty {
            self.head_and_state = q.head as u64 | 2;
        }
        self.tail = q.tail as u64;
    }

    /// Removes a thread from this endpoint's queue.
    ///
    /// # Safety
    /// `t` must be a live TCB queued on this endpoint.
    pub unsafe fn dequeue(&mut self, t: *mut Tcb) {
        let state = self.state();
        let mut q = self.queue();
        // SAFETY: forwarded from the caller.
        unsafe {
            q.remove(t);
            (*t).blocked_on = 0;
        }
        self.set_queue(q, state);
    }

    /// Wakes every queued thread with `Cancelled` (the endpoint is being destroyed).
    pub fn cancel_all(&mut self) {
        let mut q = self.queue();
        crate::ipc::cancel_all(&mut q);
        self.set_queue(q, EndpointState::Idle);
    }
}
