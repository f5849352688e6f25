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
use kerncore::Slot;

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
    }

    /// The address space the thread runs in: the PML4 cap in its VSpace slot (a null
    /// table if the slot is empty, e.g. after a revoke took the cap away).
    ///
    /// Read from the slot each time, so no cached pointer can outlive the object.
    pub fn vspace(&self) -> PageTable {
        match *self.slots[TCB_SLOT_VSPACE].cap() {
            kerncore::Cap::Pml4 { object, .. } => PageTable { pml4: object },
            _ => PageTable { pml4: 0 },
        }
    }

    /// Physical address of the IPC buffer frame (the frame cap in the IPC buffer slot), or 0.
    pub fn ipc_buffer_frame(&self) -> u64 {
        match *self.slots[TCB_SLOT_IPC_BUFFER].cap() {
            kerncore::Cap::Frame {
                object,
                size: kerncore::FrameSize::Small,
                ..
            } => object,
            _ => 0,
        }
    }

    /// Sets the log name.
    pub fn set_name(&mut self, name: &str) {
        let mut n = [0u8; NAME_LENGTH];
        let len = name.len().min(NAME_LENGTH);
        n[..len].copy_from_slice(&name.as_bytes()[..len]);
        self.name = n;
    }

    /// The name as text.
    pub fn name(&self) -> &str {
        let len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(NAME_LENGTH);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    /// Address of capability slot `index` (one of `TCB_SLOT_*`) of the TCB object at `tcb`.
    pub fn slot_addr(tcb: u64, index: usize) -> kerncore::SlotAddr {
        kerncore::SlotAddr(tcb + ((index as u64) << libsys::object::SLOT_SIZE_BITS))
    }

    /// Sets the return registers of a wait that received notification bits: `rax` = 0,
    /// `rdi` = the bits, `rsi` = `NOTIFICATION_LABEL` with no words.
    pub fn set_signal_result(&mut self, bits: u64) {
        self.context.rax = 0;
        self.context.rdi = bits;
        self.context.rsi = libsys::abi::MessageInfo::new(libsys::abi::NOTIFICATION_LABEL, 0, 0).0;
    }

    /// Message register `i` (0..4) in the saved context.
    pub fn register_word(&self, i: usize) -> u64 {
        match i {
            0 => self.context.rdx,
            1 => self.context.r8,
            2 => self.context.r9,
            _ => self.context.r10,
        }
    }

    /// Sets message register `i` (0..4) in the saved context.
    pub fn set_register_word(&mut self, i: usize, value: u64) {
        match i {
            0 => self.context.rdx = value,
            1 => self.context.r8 = value,
            2 => self.context.r9 = value,
            _ => self.context.r10 = value,
        }
    }
}
