//! TCB invocations: configure, priority, registers, resume/suspend, notification binding.

use super::{lookup, Args, InvocationError, InvocationResult, KernelSlots, Reply};
use crate::ipc::{self, Notification};
use crate::mem::phys_to_virt;
use crate::sched::SCHEDULER;
use crate::thread::{
    SendKind, Tcb, ThreadState, TCB_SLOT_CSPACE, TCB_SLOT_FAULT, TCB_SLOT_IPC_BUFFER,
    TCB_SLOT_VSPACE,
};
use crate::uaccess::USER_END;
use kerncore::{Cap, FrameSize, SlotAddr, SlotStore};
use libsys::abi::{Error, Label, REGISTER_COUNT};
use libsys::object::Rights;

/// RFLAGS bits a user may set: CF, PF, AF, ZF, SF, TF? (no), DF, OF.
const USER_RFLAGS: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800;

/// The TCB object at a physical address.
///
/// # Safety
/// `phys` must be a live TCB object.
pub unsafe fn at<'a>(phys: u64) -> &'a mut Tcb {
    // SAFETY: forwarded from the caller.
    unsafe { &mut *(phys_to_virt(phys) as *mut Tcb) }
}

/// Dispatches an invocation on the TCB at `object`.
pub fn invoke(
    caller: &mut Tcb,
    invoked: SlotAddr,
    object: u64,
    label: Label,
    args: &Args,
) -> InvocationResult {
    if label == Label::TcbConfigure {
        return configure(caller, invoked, object, args);
    }
    // Decode what needs the caller first: from here on the target may be the caller itself,
    // and there is one reference to it.
    let caller_priority = caller.priority;
    let notification = if label == Label::TcbBindNotification {
        let (_, cap) = lookup(caller, args.get(0)?).map_err(|e| super::lookup_error(e, 0))?;
        Some(cap)
    } else {
        None
    };
    let is_self = phys_to_virt(object) == caller as *mut Tcb as u64;
    let target: &mut Tcb = if is_self {
        caller
    } else {
        // SAFETY: the cap names a live TCB, not the caller's, and nothing else refers to
        // it during this invocation.
        unsafe { at(object) }
    };
    let op = decode(target, is_self, caller_priority, notification, label, args)?;
    Ok(apply(target, op))
}

/// A checked TCB invocation (other than `TcbConfigure`), ready to apply.
enum TcbOp {
    SetPriority(u8),
    ReadRegisters,
    WriteRegisters {
        values: [u64; REGISTER_COUNT],
        resume: bool,
    },
    Resume,
    Suspend,
    /// Bind the notification at this address.
    Bind(u64),
    Unbind,
    /// New FS and GS bases; `load_now` when the target is the caller (its bases are live).
    SetTlsBase {
        bases: crate::arch::gdt::SegmentBases,
        load_now: bool,
    },
}

/// Checks an invocation on `target` without changing anything. `notification` is the cap
/// a `TcbBindNotification` names (looked up in the caller's CSpace).
fn decode(
    target: &Tcb,
    is_self: bool,
    caller_priority: u8,
    notification: Option<Cap>,
    label: Label,
    args: &Args,
) -> Result<TcbOp, InvocationError> {
    match label {
        Label::TcbSetPriority => {
            let priority = args.get(0)?;
            if priority > u64::from(caller_priority) {
                return Err(InvocationError::new(Error::RangeError, 0));
            }
            Ok(TcbOp::SetPriority(priority as u8))
        }
        Label::TcbReadRegisters => Ok(TcbOp::ReadRegisters),
        Label::TcbWriteRegisters => {
            let resume = args.get(0)? != 0;
            let mut values = [0u64; REGISTER_COUNT];
            for (i, v) in values.iter_mut().enumerate() {
                *v = args.get(i + 1)?;
            }
            if values[0] >= USER_END {
                return Err(InvocationError::new(Error::InvalidArgument, 1));
            }
            if values[1] >= USER_END {
                return Err(InvocationError::new(Error::InvalidArgument, 2));
            }
            if is_self {
                // Writing our own registers would be undone by the syscall's return values.
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            if resume && target.vspace().pml4 == 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            Ok(TcbOp::WriteRegisters { values, resume })
        }
        Label::TcbResume => {
            if target.vspace().pml4 == 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            Ok(TcbOp::Resume)
        }
        Label::TcbSuspend => Ok(TcbOp::Suspend),
        Label::TcbBindNotification => {
            let Some(Cap::Notification {
                object: n, rights, ..
            }) = notification
            else {
                return Err(InvocationError::new(Error::InvalidCapability, 0));
            };
            if !rights.contains(Rights::READ) {
                return Err(InvocationError::new(Error::InsufficientRights, 0));
            }
            if target.bound_notification != 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            // SAFETY: the cap names a live notification.
            let notification = unsafe { Notification::at(n) };
            // As in seL4: a notification that is bound, or that threads wait on, cannot be
            // bound (its signals would have two places to go).
            if notification.bound() != 0 || notification.has_waiters() {
                return Err(InvocationError::new(Error::IllegalOperation, 0));
            }
            Ok(TcbOp::Bind(n))
        }
        Label::TcbSetTlsBase => decode_tls_base(is_self, args),
        Label::TcbUnbindNotification => {
            if target.bound_notification == 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            Ok(TcbOp::Unbind)
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// Performs a checked invocation; cannot fail.
fn apply(target: &mut Tcb, op: TcbOp) -> Reply {
    match op {
        TcbOp::SetPriority(priority) => set_priority(target, priority),
        TcbOp::ReadRegisters => return Reply::words(&read_registers(target)),
        TcbOp::WriteRegisters { values, resume } => {
            write_registers(target, &values);
            if resume {
                make_runnable_if_inactive(target);
            }
        }
        TcbOp::Resume => make_runnable_if_inactive(target),
        TcbOp::Suspend => suspend(target),
        TcbOp::Bind(n) => {
            target.bound_notification = n;
            // SAFETY: checked live in `decode`; nothing happened since.
            unsafe { Notification::at(n) }.set_bound(target as *mut Tcb as u64);
        }
        TcbOp::Unbind => unbind(target),
        TcbOp::SetTlsBase { bases, load_now } => {
            target.segment_bases = bases;
            if load_now {
                crate::arch::gdt::load_segment_bases(&target.segment_bases);
            }
        }
    }
    Reply::empty()
}

fn unbind(t: &mut Tcb) {
    if t.bound_notification != 0 {
        // SAFETY: a bound notification is live while bound.
        unsafe { Notification::at(t.bound_notification) }.set_bound(0);
        t.bound_notification = 0;
    }
}

/// TcbConfigure(cspace, vspace, ipc_buffer_addr, ipc_buffer_frame, fault_endpoint).
fn configure(caller: &mut Tcb, invoked: SlotAddr, object: u64, args: &Args) -> InvocationResult {
    let (cspace, vspace, buffer_addr, buffer_frame, fault) = (
        args.get(0)?,
        args.get(1)?,
        args.get(2)?,
        args.get(3)?,
        args.get(4)?,
    );
    // Decode everything first.
    let find = |cptr: u64, arg: u64| -> Result<Option<(SlotAddr, Cap)>, InvocationError> {
        if cptr == 0 {
            return Ok(None);
        }
        lookup(caller, cptr)
            .map(Some)
            .map_err(|e| super::lookup_error(e, arg))
    };
    let cspace = find(cspace, 0)?;
    if let Some((_, c)) = cspace {
        if !matches!(c, Cap::CNode { .. }) {
            return Err(InvocationError::new(Error::InvalidCapability, 0));
        }
    }
    let vspace = find(vspace, 1)?;
    if let Some((_, c)) = vspace {
        // A PML4 without an ASID cannot be copied (nor used): assign one first.
        if !matches!(c, Cap::Pml4 { asid, .. } if asid != 0) {
            return Err(InvocationError::new(Error::InvalidCapability, 1));
        }
    }
    let frame = find(buffer_frame, 3)?;
    if let Some((_, c)) = frame {
        let Cap::Frame {
            size: FrameSize::Small,
            rights,
            ..
        } = c
        else {
            return Err(InvocationError::new(Error::InvalidCapability, 3));
        };
        if !rights.contains(Rights::WRITE) {
            return Err(InvocationError::new(Error::InsufficientRights, 3));
        }
        if buffer_addr >= USER_END {
            return Err(InvocationError::new(Error::InvalidArgument, 2));
        }
        if !buffer_addr.is_multiple_of(4096) {
            return Err(InvocationError::new(Error::AlignmentError, 2));
        }
    }
    let fault = find(fault, 4)?;
    if let Some((_, c)) = fault {
        let Cap::Endpoint { rights, .. } = c else {
            return Err(InvocationError::new(Error::InvalidCapability, 4));
        };
        if !rights.contains(Rights::WRITE) {
            return Err(InvocationError::new(Error::InsufficientRights, 4));
        }
    }
    // Then act: replace each named binding with a copy of the given cap.
    //
    // Deleting the old binding can destroy objects, and with them more caps: if the CSpace
    // being replaced held the last cap to this TCB (or to a source cap), the TCB may be
    // gone after the deletion. So each step re-checks, as seL4 does, that the invoked cap
    // still names this TCB and the source slot still holds the cap decoded above; if not,
    // the configure stops there with `Cancelled`.
    let still_valid = |src: SlotAddr, decoded: &Cap| {
        matches!(*KernelSlots.slot(invoked).cap(), Cap::Tcb { object: o } if o == object)
            && KernelSlots.slot(src).cap() == decoded
    };
    for (index, source) in [
        (TCB_SLOT_CSPACE, cspace),
        (TCB_SLOT_VSPACE, vspace),
        (TCB_SLOT_IPC_BUFFER, frame),
        (TCB_SLOT_FAULT, fault),
    ] {
        let Some((src, decoded)) = source else {
            continue;
        };
        let dest = Tcb::slot_addr(object, index);
        super::delete_slot(dest);
        if !still_valid(src, &decoded) {
            return Err(InvocationError::cap(Error::Cancelled));
        }
        // Cannot fail: the source holds the checked cap, the destination was just emptied,
        // and CNode, PML4 (with an ASID: checked), frame and endpoint caps are derivable.
        let _ = kerncore::cnode_copy(&mut KernelSlots, src, dest, Rights::ALL);
    }
    if frame.is_some() {
        if phys_to_virt(object) == caller as *mut Tcb as u64 {
            caller.ipc_buffer = buffer_addr;
        } else {
            // SAFETY: the TCB is live (`still_valid` checked it after the last deletion)
            // and is not the caller's, so this is the only reference to it.
            unsafe { at(object) }.ipc_buffer = buffer_addr;
        }
    }
    Ok(Reply::empty())
}

/// TcbSetTlsBase(fs_base, gs_base): both below 2^47 (an MSR write of a non-canonical
/// value would fault in the kernel). Loaded at once when the target is the caller.
fn decode_tls_base(is_self: bool, args: &Args) -> Result<TcbOp, InvocationError> {
    let (fs, gs) = (args.get(0)?, args.get(1)?);
    if fs >= USER_END {
        return Err(InvocationError::new(Error::InvalidArgument, 0));
    }
    if gs >= USER_END {
        return Err(InvocationError::new(Error::InvalidArgument, 1));
    }
    Ok(TcbOp::SetTlsBase {
        bases: crate::arch::gdt::SegmentBases::new(fs, gs),
        load_now: is_self,
    })
}

/// Changes a thread's priority, requeueing it if it is ready.
pub fn set_priority(t: &mut Tcb, priority: u8) {
    let mut s = SCHEDULER.lock();
    let queued = t.queued;
    // SAFETY: `t` is a live TCB.
    unsafe { s.dequeue(t) };
    t.priority = priority;
    if queued {
        // SAFETY: as above; it was just dequeued.
        unsafe { s.enqueue(t) };
    }
}

/// rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8..r15.
fn read_registers(t: &Tcb) -> [u64; REGISTER_COUNT] {
    let c = &t.context;
    [
        c.rip, c.rsp, c.rflags, c.rax, c.rbx, c.rcx, c.rdx, c.rsi, c.rdi, c.rbp, c.r8, c.r9, c.r10,
        c.r11, c.r12, c.r13, c.r14, c.r15,
    ]
}

fn write_registers(t: &mut Tcb, v: &[u64; REGISTER_COUNT]) {
    // New registers: whatever call the thread was restarting is not the one it runs now.
    t.long_op_done = false;
    let c = &mut t.context;
    c.rip = v[0];
    c.rsp = v[1];
    c.rflags = (v[2] & USER_RFLAGS) | 0x202;
    c.rax = v[3];
    c.rbx = v[4];
    c.rcx = v[5];
    c.rdx = v[6];
    c.rsi = v[7];
    c.rdi = v[8];
    c.rbp = v[9];
    c.r8 = v[10];
    c.r9 = v[11];
    c.r10 = v[12];
    c.r11 = v[13];
    c.r12 = v[14];
    c.r13 = v[15];
    c.r14 = v[16];
    c.r15 = v[17];
    // Resumed through iretq so that every register comes back exactly.
    c.vector = 0;
}

/// Makes a new or suspended thread runnable (one in any other state is left alone).
fn make_runnable_if_inactive(t: &mut Tcb) {
    if t.state == ThreadState::Inactive {
        // SAFETY: `t` is live.
        unsafe { SCHEDULER.lock().make_runnable(t) };
    }
}

/// Stops a thread: out of every queue and reply relation, not scheduled until resumed.
pub fn suspend(t: &mut Tcb) {
    let was_blocked = matches!(
        t.state,
        ThreadState::BlockedOnSend
            | ThreadState::BlockedOnRecv
            | ThreadState::BlockedOnReply
            | ThreadState::BlockedOnNotification
            | ThreadState::Sleeping
    );
    // A thread stopped by a fault made no system call: its registers stay as they were
    // (resumed, it runs the faulting instruction again), and the fault is forgotten.
    let faulted = t.pending.is_fault();
    ipc::cancel_ipc(t);
    t.pending.kind = SendKind::Message;
    t.fault = [0; 3];
    if was_blocked && !faulted {
        // Its system call did not complete: when resumed it returns `Cancelled`.
        t.context.rax = Error::Cancelled as u64;
        t.context.vector = 0;
    }
    // SAFETY: `t` is live.
    unsafe { SCHEDULER.lock().dequeue(t) };
    t.state = ThreadState::Inactive;
    crate::debug!("thread {} suspended", t.name());
}

/// The TCB's last cap is gone: take it out of the system for good.
pub fn destroy(object: u64) {
    // SAFETY: the object was a live TCB until its last cap went.
    let t = unsafe { at(object) };
    super::pending::forget_owner(t);
    suspend(t);
    unbind(t);
    if !t.caller.is_null() {
        // Whoever called us will never get a reply.
        // SAFETY: reply links are symmetric, so the caller is live.
        unsafe {
            (*t.caller).replier = core::ptr::null_mut();
            ipc::wake_with_error(t.caller, Error::Cancelled);
        }
        t.caller = core::ptr::null_mut();
    }
    let mut s = SCHEDULER.lock();
    if core::ptr::eq(s.current(), t) {
        s.clear_current();
    }
}
