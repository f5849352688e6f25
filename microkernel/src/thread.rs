//! Thread control blocks (TCB objects).
//!
//! A TCB is a 2 KiB object carved from untyped memory (`libsys::object::TCB_SIZE_BITS`).
//! Its first [`TCB_SLOTS`] capability slots hold the caps the thread runs with (CSpace
//! root, VSpace root, IPC buffer frame, fault endpoint), so they take part in the
//! derivation tree like any other slot; the rest holds registers, scheduling and IPC state.
//! Userspace programs are built without SSE (x86_64-unknown-none), so there is no FPU
//! state to switch yet.

use crate::arch::gdt;
use crate::arch::trap::TrapFrame;
use crate::mem::paging::PageTable;
use core::ptr::null_mut;
use kerncore::{Cap, Slot};

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ThreadState {
    /// Never started, or suspended: not scheduled until resumed.
    Inactive = 0,
    /// Runnable or running.
    Running,
    /// Waiting in an endpoint's queue to send (or call).
    BlockedOnSend,
    /// Waiting in an endpoint's queue to receive.
    BlockedOnRecv,
    /// Called, and waiting for the reply.
    BlockedOnReply,
    /// Waiting on a notification.
    BlockedOnNotification,
    /// Waiting for its deadline (`Sleep`).
    Sleeping,
}

/// Longest thread name kept (for logs).
pub const NAME_LENGTH: usize = 16;
/// Capability slots inside a TCB.
pub const TCB_SLOTS: usize = 4;
/// TCB slot: CSpace root CNode.
pub const TCB_SLOT_CSPACE: usize = 0;
/// TCB slot: VSpace root (PML4).
pub const TCB_SLOT_VSPACE: usize = 1;
/// TCB slot: IPC buffer frame.
pub const TCB_SLOT_IPC_BUFFER: usize = 2;
/// TCB slot: fault endpoint.
pub const TCB_SLOT_FAULT: usize = 3;

/// What kind of message a blocked sender is sending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum SendKind {
    /// A message from the thread's registers and IPC buffer.
    #[default]
    Message = 0,
    /// A `CallTimeout`: the thread is in the timeout list until the reply comes (so the
    /// fast path, which never touches that list, must not reply to it).
    TimedCall,
    /// A fault message (the words come from the fault, not the registers).
    Fault,
}

/// What a blocked sender is sending (kept while it waits in an endpoint queue).
#[derive(Clone, Copy, Debug, Default)]
pub struct PendingSend {
    /// Badge of the capability it sends through.
    pub badge: u64,
    /// It is a Call (wants a reply).
    pub is_call: bool,
    /// Its capability allows sending caps (the GRANT right).
    pub can_grant: bool,
    /// The reply to this call may carry caps (the GRANT_REPLY right).
    pub reply_can_grant: bool,
    /// Message, timed call or fault.
    pub kind: SendKind,
}

impl PendingSend {
    /// The fault message a thread sends through a fault endpoint cap with `badge`.
    pub const fn fault(badge: u64) -> PendingSend {
        PendingSend {
            badge,
            is_call: true,
            can_grant: false,
            reply_can_grant: false,
            kind: SendKind::Fault,
        }
    }

    /// Whether this is a fault message.
    pub fn is_fault(&self) -> bool {
        self.kind == SendKind::Fault
    }
}

/// A thread. All-zero memory is a valid, inactive TCB with empty slots.
#[repr(C)]
pub struct Tcb {
    /// Slots for the caps the thread runs with (see `TCB_SLOT_*`).
    pub slots: [Slot; TCB_SLOTS],
    /// Saved user registers while not running.
    pub context: TrapFrame,
    /// Scheduling state.
    pub state: ThreadState,
    /// Priority, 0..=255.
    pub priority: u8,
    /// Whether the thread is in a ready queue.
    pub queued: bool,
    /// Virtual address of the IPC buffer (0 = none).
    pub ipc_buffer: u64,
    /// The endpoint or notification the thread is queued on (physical address; 0 = none).
    pub blocked_on: u64,
    /// What it sends while blocked on send.
    pub pending: PendingSend,
    /// Endpoint/notification queue links.
    pub ipc_next: *mut Tcb,
    /// Endpoint/notification queue links.
    pub ipc_prev: *mut Tcb,
    /// The thread this one must reply to (set when it receives a Call).
    pub caller: *mut Tcb,
    /// The reply to `caller` may carry caps.
    pub caller_can_grant: bool,
    /// The thread holding this one's reply (set while blocked on reply).
    pub replier: *mut Tcb,
    /// The reply object holding this one's reply, once the server saved it (0 = none).
    pub saved_in: u64,
    /// Bound notification (physical address; 0 = none).
    pub bound_notification: u64,
    /// Fault message waiting to be sent: vector, error code, address.
    pub fault: [u64; 3],
    /// Ready-queue links (owned by the scheduler).
    pub sched_next: *mut Tcb,
    /// Ready-queue links (owned by the scheduler).
    pub sched_prev: *mut Tcb,
    /// A delete or revoke this thread started was finished while it waited to run again:
    /// its restarted call returns success (`object::pending`).
    pub long_op_done: bool,
    /// Deadline of a timed wait (time-stamp counter); 0 = not in the timeout list.
    pub deadline: u64,
    /// Timeout-list links (owned by the scheduler).
    pub timeout_next: *mut Tcb,
    /// Timeout-list links (owned by the scheduler).
    pub timeout_prev: *mut Tcb,
    /// Name for the log.
    pub name: [u8; NAME_LENGTH],
    /// FS and GS bases (`TcbSetTlsBase`), loaded when the thread is switched to.
    pub segment_bases: gdt::SegmentBases,
    /// The IPC fast path's decoded copy of the CSpace slot (valid while no capability slot
    /// anywhere was written since it was made; all zeroes = not made yet).
    pub cspace_cache: crate::fastpath::CspaceCache,
    /// Time-stamp counter ticks this thread has been charged for running (`TcbReadCpuTime`;
    /// charged by the scheduler at each timer tick and slow-path switch: `sched::charge`).
    pub cpu_time: u64,
}

const _: () = assert!(core::mem::size_of::<Tcb>() <= 1 << libsys::object::TCB_SIZE_BITS);
// The CPU aligns its interrupt pushes to 16 bytes: the save area must end on a 16-byte
// boundary for the frame to land exactly in `context` (TCBs are 2 KiB aligned).
const _: () = assert!(
    (core::mem::offset_of!(Tcb, context) + core::mem::size_of::<TrapFrame>()).is_multiple_of(16)
);

impl Tcb {
    /// Initial register state for a new thread: user segments, interrupts on.
    pub fn reset_context(&mut self) {
        self.context = TrapFrame {
            cs: u64::from(gdt::USER_CS),
            ss: u64::from(gdt::USER_DS),
            rflags: 0x202,
            ..TrapFrame::default()
        };
    }

    /// Initialises a zero-filled TCB object in place.
    pub fn init(&mut self, name: &str, priority: u8) {
        self.reset_context();
        self.priority = priority;
        self.state = ThreadState::Inactive;
        self.set_name(name);
        self.ipc_next = null_mut();
        self.ipc_prev = null_mut();
        self.caller = null_mut();
        self.replier = null_mut();
        self.sched_next = null_mut();
        self.sched_prev = null_mut();
        self.deadline = 0;
        self.timeout_next = null_mut();
        self.timeout_prev = null_mut();
        self.cpu_time = 0;
    }

    /// Sets the log name.
    pub fn set_name(&mut self, name: &str) {
        let mut n = [0u8; NAME_LENGTH];
        let len = name.len().min(NAME_LENGTH);
        n[..len].copy_from_slice(&name.as_bytes()[..len]);
        self.name = n;
    }

    /// Address of capability slot `index` (one of `TCB_SLOT_*`) of the TCB object at `tcb`
    /// (`None` only if the address overflows, which no object in RAM does).
    pub fn slot_addr(tcb: u64, index: usize) -> Option<kerncore::SlotAddr> {
        kerncore::SlotAddr::in_object(tcb, index as u64)
    }
}

/// A handle to a live TCB: how the kernel reaches threads.
///
/// TCB memory is shared: kerncore rewrites the capability slots inside a TCB (through
/// [`crate::object::KernelSlots`]) whenever a derivation-tree neighbour changes, IPC
/// touches two TCBs at once, and deleting a capability can reach any thread (its own TCB,
/// a bound thread, a waiter woken with `Cancelled`). So the kernel never holds a reference
/// to a TCB across such work: it passes this handle, a raw pointer, and reads and writes
/// one field at a time through it (`(*ptr).field`, which makes no reference). The only
/// references made are [`TcbPtr::update_context`]'s, to the register save area alone, for
/// the length of a closure that only sets registers.
///
/// Invariant: the TCB is live (its memory holds an initialised `Tcb`) while a handle to it
/// is used. Handles are stored only where the TCB's destruction clears them (the
/// scheduler's queues and current thread, endpoint and notification queues, reply links,
/// bound notifications, reply objects, the parked long operation), as in seL4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcbPtr(*mut Tcb);

/// Getters for `Copy` fields of a TCB, through the raw pointer.
macro_rules! tcb_getters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $field(self) -> $ty {
            // SAFETY: the handle's invariant (the TCB is live); a place read through the
            // raw pointer makes no reference, so it aliases nothing.
            unsafe { (*self.0).$field }
        }
    )*};
}

/// Setters for `Copy` fields of a TCB, through the raw pointer.
macro_rules! tcb_setters {
    ($($(#[$doc:meta])* $field:ident, $set:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $set(self, value: $ty) {
            // SAFETY: the handle's invariant (the TCB is live); a place write through the
            // raw pointer makes no reference (`Copy` field: nothing is dropped).
            unsafe { (*self.0).$field = value }
        }
    )*};
}

impl TcbPtr {
    /// A handle to the TCB at `tcb` (its kernel virtual address).
    ///
    /// # Safety
    /// `tcb` must point at a live, initialised TCB, and the handle must not be used after
    /// the TCB is destroyed (see the type's invariant).
    #[inline(always)]
    pub unsafe fn from_raw(tcb: *mut Tcb) -> Option<TcbPtr> {
        (!tcb.is_null()).then_some(TcbPtr(tcb))
    }

    /// A handle to the TCB at `tcb`, known not to be null (the fast path, which has
    /// tested that already or read it from a queue head it knows is there).
    ///
    /// # Safety
    /// As for [`Self::from_raw`], and `tcb` is not null.
    #[inline(always)]
    pub unsafe fn from_raw_unchecked(tcb: *mut Tcb) -> TcbPtr {
        TcbPtr(tcb)
    }

    /// A handle to the TCB object at physical address `phys`.
    ///
    /// # Safety
    /// `phys` must be a live TCB object (a `Cap::Tcb` names it), as for [`Self::from_raw`].
    #[inline(always)]
    pub unsafe fn at(phys: u64) -> TcbPtr {
        TcbPtr(crate::mem::phys_to_virt(phys) as *mut Tcb)
    }

    /// The raw pointer (for the links stored in other TCBs and in kernel objects).
    #[inline(always)]
    pub fn as_raw(self) -> *mut Tcb {
        self.0
    }

    tcb_getters! {
        /// Scheduling state.
        state: ThreadState;
        /// Priority.
        priority: u8;
        /// Whether the thread is in a ready queue.
        queued: bool;
        /// The endpoint or notification the thread is queued on (0 = none).
        blocked_on: u64;
        /// What it sends while blocked on send (or sent, while blocked on reply).
        pending: PendingSend;
        /// The thread this one must reply to (null = none).
        caller: *mut Tcb;
        /// The reply to `caller` may carry caps.
        caller_can_grant: bool;
        /// The thread holding this one's reply (null = none).
        replier: *mut Tcb;
        /// The reply object holding this one's reply (0 = none).
        saved_in: u64;
        /// Bound notification (0 = none).
        bound_notification: u64;
        /// Fault message waiting to be sent.
        fault: [u64; 3];
        /// A long operation it started was finished for it.
        long_op_done: bool;
        /// Deadline of a timed wait (0 = none).
        deadline: u64;
        /// FS and GS bases.
        segment_bases: gdt::SegmentBases;
        /// The fast path's decoded CSpace slot.
        cspace_cache: crate::fastpath::CspaceCache;
    }

    tcb_setters! {
        /// Sets the scheduling state.
        state, set_state: ThreadState;
        /// Sets the priority field (the scheduler's queues are the caller's business).
        priority, set_priority_field: u8;
        /// Sets the IPC buffer's virtual address.
        ipc_buffer, set_ipc_buffer: u64;
        /// Sets the object the thread is queued on.
        blocked_on, set_blocked_on: u64;
        /// Sets what it sends.
        pending, set_pending: PendingSend;
        /// Sets the reply link to its caller.
        caller, set_caller: *mut Tcb;
        /// Sets whether the reply may carry caps.
        caller_can_grant, set_caller_can_grant: bool;
        /// Sets the reply link to its replier.
        replier, set_replier: *mut Tcb;
        /// Sets the reply object holding its reply.
        saved_in, set_saved_in: u64;
        /// Sets the bound notification.
        bound_notification, set_bound_notification: u64;
        /// Sets the fault message.
        fault, set_fault: [u64; 3];
        /// Sets the long-operation flag.
        long_op_done, set_long_op_done: bool;
        /// Sets the FS and GS bases.
        segment_bases, set_segment_bases: gdt::SegmentBases;
        /// Sets the fast path's decoded CSpace slot.
        cspace_cache, set_cspace_cache: crate::fastpath::CspaceCache;
    }

    /// Reads the saved registers: `f` gets a shared reference to the register save area
    /// alone, for its duration (it must not reach this TCB in any other way).
    #[inline(always)]
    pub fn read_context<R>(self, f: impl FnOnce(&TrapFrame) -> R) -> R {
        // SAFETY: the TCB is live (invariant); nothing writes the save area while the
        // closure runs (it only reads registers), so the shared reference is sound.
        f(unsafe { &*core::ptr::addr_of!((*self.as_raw()).context) })
    }

    /// Changes the saved registers: `f` gets a reference to the register save area alone,
    /// which it must only read and write (it must not reach this TCB in any other way).
    #[inline(always)]
    pub fn update_context<R>(self, f: impl FnOnce(&mut TrapFrame) -> R) -> R {
        // SAFETY: the TCB is live (invariant); `context` is only ever reached through a
        // handle (or, for the current thread, the save-area pointer the entry code holds,
        // which nothing uses while the kernel runs), so this is the only reference to it
        // for the closure's duration.
        f(unsafe { &mut *core::ptr::addr_of_mut!((*self.as_raw()).context) })
    }

    /// Sets the kind of the pending send alone (the IPC fast path: a thread blocked on a
    /// reply uses only the kind).
    #[inline(always)]
    pub fn set_pending_kind(self, kind: SendKind) {
        // SAFETY: the handle's invariant (the TCB is live); a place write of one `Copy`
        // field through the raw pointer makes no reference.
        unsafe { (*self.0).pending.kind = kind }
    }

    /// Pointer to the FS and GS bases, made from the raw TCB pointer (no reference): the
    /// IPC fast path's switch reads one word of them in the usual case.
    #[inline(always)]
    pub fn segment_bases_ptr(self) -> *const gdt::SegmentBases {
        // SAFETY: a place projection through the live TCB's pointer; no reference.
        unsafe { core::ptr::addr_of!((*self.as_raw()).segment_bases) }
    }

    /// Pointer to the register save area, made from the raw TCB pointer (no reference):
    /// what the entry code saves into and the exit code restores from.
    #[inline(always)]
    pub fn context_ptr(self) -> *mut TrapFrame {
        // SAFETY: a place projection through the live TCB's pointer; no reference.
        unsafe { core::ptr::addr_of_mut!((*self.as_raw()).context) }
    }

    /// The capability in slot `index` (one of `TCB_SLOT_*`), read through `KernelSlots`
    /// like every other slot.
    pub fn slot_cap(self, index: usize) -> Cap {
        // SAFETY: the TCB is live (invariant) and `index` < TCB_SLOTS (else the indexing
        // stops); the slot is read by value, and the shared reference `cap()` makes lasts
        // for that read only (as `KernelSlots::slot`'s does).
        unsafe { *(*core::ptr::addr_of!((*self.as_raw()).slots[index])).cap() }
    }

    /// Runs `f` on the capability in slot `index` (one of `TCB_SLOT_*`) without copying
    /// it: `f` gets a shared reference into the slot, so it must not write any capability
    /// slot (a lookup or resolve only reads them).
    #[inline(always)]
    pub fn read_slot_cap<R>(self, index: usize, f: impl FnOnce(&Cap) -> R) -> R {
        // SAFETY: the TCB is live (invariant) and `index` < TCB_SLOTS (else the indexing
        // stops); nothing writes a slot while `f` runs (its contract), so the shared
        // reference is sound.
        f(unsafe { (*core::ptr::addr_of!((*self.as_raw()).slots[index])).cap() })
    }

    /// The address space the thread runs in: the PML4 cap in its VSpace slot (a null
    /// table if the slot is empty, e.g. after a revoke took the cap away).
    pub fn vspace(self) -> PageTable {
        match self.slot_cap(TCB_SLOT_VSPACE) {
            Cap::Pml4 { object, .. } => PageTable { pml4: object },
            _ => PageTable { pml4: 0 },
        }
    }

    /// Physical address of the IPC buffer frame (the 4 KiB frame cap in the IPC buffer
    /// slot), or 0.
    pub fn ipc_buffer_frame(self) -> u64 {
        match self.slot_cap(TCB_SLOT_IPC_BUFFER) {
            Cap::Frame {
                object,
                size: kerncore::FrameSize::Small,
                ..
            } => object,
            _ => 0,
        }
    }

    /// The name, for log lines (a copy).
    pub fn name(self) -> Name {
        Name(self.name_bytes())
    }

    fn name_bytes(self) -> [u8; NAME_LENGTH] {
        // SAFETY: a place read of a `Copy` field through the live TCB's pointer.
        unsafe { (*self.as_raw()).name }
    }

    /// Sets the return registers of a wait that received notification bits: `rax` = 0,
    /// `rdi` = the bits, `rsi` = `NOTIFICATION_LABEL` with no words.
    pub fn set_signal_result(self, bits: u64) {
        self.update_context(|c| {
            c.rax = 0;
            c.rdi = bits;
            c.rsi = libsys::abi::MessageInfo::new(libsys::abi::NOTIFICATION_LABEL, 0, 0).0;
        });
    }

    /// The four message registers (message words 0..4: `rdx`, `r8`, `r9`, `r10`).
    #[inline(always)]
    pub fn message_registers(self) -> [u64; 4] {
        self.read_context(|c| [c.rdx, c.r8, c.r9, c.r10])
    }

    /// Sets the first `words.len()` (at most 4) message registers; the others keep their
    /// values.
    #[inline(always)]
    pub fn set_message_registers(self, words: &[u64]) {
        self.update_context(|c| {
            let mut words = words.iter().copied();
            for register in [&mut c.rdx, &mut c.r8, &mut c.r9, &mut c.r10] {
                match words.next() {
                    Some(word) => *register = word,
                    None => break,
                }
            }
        });
    }
}

/// A thread's name, copied out of its TCB (for log lines).
pub struct Name([u8; NAME_LENGTH]);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(NAME_LENGTH);
        f.write_str(core::str::from_utf8(&self.0[..len]).unwrap_or("?"))
    }
}
