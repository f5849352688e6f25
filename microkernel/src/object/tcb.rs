//! TCB invocations: configure, priority, registers, resume/suspend, notification binding.

use super::{lookup, Args, InvocationError, InvocationResult, KernelSlots, Reply};
use crate::ipc::{self, Notification};
use crate::mem::phys_to_virt;
use crate::sched::SCHEDULER;
use crate::thread::{
    Tcb, ThreadState, TCB_SLOTS, TCB_SLOT_CSPACE, TCB_SLOT_FAULT, TCB_SLOT_IPC_BUFFER,
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
    let caller_ptr = caller as *mut Tcb;
    // SAFETY: the cap names a live TCB. It may be the caller itself; the code below goes
    // through raw pointers only where both are used.
    let target = unsafe { at(object) };
    let is_self = core::ptr::eq(caller_ptr, target);
    match label {
        Label::TcbConfigure => configure(caller, invoked, object, args),
        Label::TcbSetPriority => {
            let priority = args.get(0)?;
            if priority > u64::from(caller.priority) {
                return Err(InvocationError::new(Error::RangeError, 0));
            }
            set_priority(target, priority as u8);
            Ok(Reply::empty())
        }
        Label::TcbReadRegisters => Ok(Reply::words(&read_registers(target))),
        Label::TcbWriteRegisters => {
            let resume = args.get(0)?;
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
            if resume != 0 && target.vspace().pml4 == 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            write_registers(target, &values);
            if resume != 0 {
                resume_thread(target)?;
            }
            Ok(Reply::empty())
        }
        Label::TcbResume => {
            resume_thread(target)?;
            Ok(Reply::empty())
        }
        Label::TcbSuspend => {
            suspend(target);
            Ok(Reply::empty())
        }
        Label::TcbBindNotification => {
            let cptr = args.get(0)?;
            let (_, cap) = lookup(caller, cptr).map_err(|e| super::lookup_error(e, 0))?;
            let Cap::Notification {
                object: n, rights, ..
            } = cap
            else {
                return Err(InvocationError::new(Error::InvalidCapability, 0));
            };
            if !rights.contains(Rights::READ) {
                return Err(InvocationError::new(Error::InsufficientRights, 0));
            }
            // SAFETY: the cap names a live notification.
            let notification = unsafe { Notification::at(n) };
            if target.bound_notification != 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            // As in seL4: a notification that is bound, or that threads wait on, cannot be
            // bound (its signals would have two places to go).
            if notification.bound() != 0 || notification.has_waiters() {
                return Err(InvocationError::new(Error::IllegalOperation, 0));
            }
            target.bound_notification = n;
            notification.set_bound(target as *mut Tcb as u64);
            Ok(Reply::empty())
        }
        Label::TcbSetTlsBase => set_tls_base(target, is_self, args),
        Label::TcbUnbindNotification => {
            if target.bound_notification == 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            unbind(target);
            Ok(Reply::empty())
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

fn unbind(t: &mut Tcb) {
    if t.bound_notification != 0 {
        // SAFETY: a bound notification is live while bound.
        unsafe { Notification::at(t.bound_notification) }.set_bound(0);
        t.bound_notification = 0;
    }
}

/// TcbConfigure(cspace, vspace, ipc_buffer_addr, ipc_buffer_frame, fault_endpoint).
fn configure(caller: &Tcb, invoked: SlotAddr, object: u64, args: &Args) -> InvocationResult {
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
        if !matches!(c, Cap::Pml4 { .. }) {
            return Err(InvocationError::new(Error::InvalidCapability, 1));
        }
    }
    let frame = find(buffer_frame, 3)?;
    if let Some((_, c)) = frame {
        let Cap::Frame {
            object,
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
        let _ = object;
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
        let dest = SlotAddr(object + (index as u64) * 64);
        super::delete_slot(dest);
        if !still_valid(src, &decoded) {
            return Err(InvocationError::cap(Error::Cancelled));
        }
        // Cannot fail: the source holds the checked cap, the destination was just emptied,
        // and CNode, PML4, frame and endpoint caps are always derivable.
        let _ = kerncore::cnode_copy(&mut KernelSlots, src, dest, Rights::ALL);
    }
    // SAFETY: the TCB is live (its cap was looked up by the caller).
    let t = unsafe { at(object) };
    if frame.is_some() {
        t.ipc_buffer = buffer_addr;
    }
    Ok(Reply::empty())
}

/// TcbSetTlsBase(fs_base, gs_base): both below 2^47 (an MSR write of a non-canonical
/// value would fault in the kernel). Loaded at once when the target is the caller.
fn set_tls_base(target: &mut Tcb, is_self: bool, args: &Args) -> InvocationResult {
    let (fs, gs) = (args.get(0)?, args.get(1)?);
    if fs >= USER_END {
        return Err(InvocationError::new(Error::InvalidArgument, 0));
    }
    if gs >= USER_END {
        return Err(InvocationError::new(Error::InvalidArgument, 1));
    }
    target.segment_bases = crate::arch::gdt::SegmentBases { fs, gs };
    if is_self {
        crate::arch::gdt::load_segment_bases(&target.segment_bases);
    }
    Ok(Reply::empty())
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

/// Makes an inactive thread runnable. It needs an address space to run in.
pub fn resume_thread(t: &mut Tcb) -> Result<(), InvocationError> {
    if t.vspace().pml4 == 0 {
        return Err(InvocationError::cap(Error::IllegalOperation));
    }
    if t.state == ThreadState::Inactive {
        // SAFETY: `t` is live.
        unsafe { SCHEDULER.lock().make_runnable(t) };
    }
    Ok(())
}

/// Stops a thread: out of every queue and reply relation, not scheduled until resumed.
pub fn suspend(t: &mut Tcb) {
    let was_blocked = matches!(
        t.state,
        ThreadState::BlockedOnSend
            | ThreadState::BlockedOnRecv
            | ThreadState::BlockedOnReply
            | ThreadState::BlockedOnNotification
    );
    // A thread stopped by a fault made no system call: its registers stay as they were
    // (resumed, it runs the faulting instruction again), and the fault is forgotten.
    let faulted = t.pending.is_fault;
    ipc::cancel_ipc(t);
    t.pending.is_fault = false;
    t.fault = [0; 3];
    if was_blocked && !faulted {
        // Its system call did not complete: when resumed it returns `Cancelled`.
        t.context.rax = Error::Cancelled as u64;
        t.context.vector = 0;
    }
    // SAFETY: `t` is live.
    unsafe { SCHEDULER.lock().remove(t) };
    t.state = ThreadState::Inactive;
    crate::debug!("thread {} suspended", t.name());
}

/// The TCB's last cap is gone: take it out of the system for good.
pub fn destroy(object: u64) {
    // SAFETY: the object was a live TCB until its last cap went.
    let t = unsafe { at(object) };
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
    let _ = TCB_SLOTS;
}
