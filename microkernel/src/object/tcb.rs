//! TCB invocations: configure, priority, registers, resume/suspend, notification binding.

use super::{lookup, Args, InvocationError, InvocationResult, KernelSlots, Output};
use crate::ipc::{self, Notification};
use crate::sched::SCHEDULER;
use crate::thread::{
    SendKind, Tcb, TcbPtr, ThreadState, TCB_SLOT_CSPACE, TCB_SLOT_FAULT, TCB_SLOT_IPC_BUFFER,
    TCB_SLOT_VSPACE,
};
use crate::uaccess::USER_END;
use kerncore::{Cap, FrameSize, SlotAddr, SlotStore};
use libsys::abi::{Error, Label, REGISTER_COUNT};
use libsys::object::Rights;

/// RFLAGS bits a user may set: CF, PF, AF, ZF, SF, TF? (no), DF, OF.
const USER_RFLAGS: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800;

/// Initialises a TCB object that a retype has just made (zero-filled).
pub fn init_new(object: u64) {
    // SAFETY: the object was just carved from untyped memory and zeroed: it is a valid
    // (inactive) TCB, and no handle or reference to it exists yet, so this reference is
    // the only one, for the length of `init`.
    unsafe { (*TcbPtr::at(object).as_raw()).init("thread", 0) };
}

/// Dispatches an invocation on the TCB at `object`.
///
/// The target may be the caller itself: both are handles, so that is harmless.
pub fn invoke(
    caller: TcbPtr,
    invoked: SlotAddr,
    object: u64,
    label: Label,
    args: &Args,
) -> InvocationResult {
    if label == Label::TcbConfigure {
        return configure(caller, invoked, object, args);
    }
    let notification = if label == Label::TcbBindNotification {
        let (_, cap) = lookup(caller, args.get(0)?).map_err(|e| super::lookup_error(e, 0))?;
        Some(cap)
    } else {
        None
    };
    // SAFETY: the cap names a live TCB.
    let target = unsafe { TcbPtr::at(object) };
    let op = decode(
        target,
        target == caller,
        caller.priority(),
        notification,
        label,
        args,
    )?;
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
    ReadCpuTime,
}

/// Checks an invocation on `target` without changing anything. `notification` is the cap
/// a `TcbBindNotification` names (looked up in the caller's CSpace).
fn decode(
    target: TcbPtr,
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
            if target.bound_notification() != 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            // SAFETY: the cap names a live notification; the reference is only read, for
            // this statement.
            let (bound, has_waiters) = unsafe {
                let notification = &*Notification::at(n);
                (notification.bound(), notification.has_waiters())
            };
            // As in seL4: a notification that is bound, or that threads wait on, cannot be
            // bound (its signals would have two places to go).
            if bound != 0 || has_waiters {
                return Err(InvocationError::new(Error::IllegalOperation, 0));
            }
            Ok(TcbOp::Bind(n))
        }
        Label::TcbSetTlsBase => decode_tls_base(is_self, args),
        Label::TcbReadCpuTime => Ok(TcbOp::ReadCpuTime),
        Label::TcbUnbindNotification => {
            if target.bound_notification() == 0 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            Ok(TcbOp::Unbind)
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// Performs a checked invocation; cannot fail.
fn apply(target: TcbPtr, op: TcbOp) -> Output {
    match op {
        TcbOp::SetPriority(priority) => set_priority(target, priority),
        TcbOp::ReadRegisters => return Output::thread_registers(target),
        TcbOp::WriteRegisters { values, resume } => {
            write_registers(target, &values);
            if resume {
                make_runnable_if_inactive(target);
            }
        }
        TcbOp::Resume => make_runnable_if_inactive(target),
        TcbOp::Suspend => suspend(target),
        TcbOp::Bind(n) => {
            target.set_bound_notification(n);
            // SAFETY: checked live in `decode`; nothing happened since. The reference lasts
            // for the one call.
            unsafe { (*Notification::at(n)).set_bound(target.as_raw() as u64) };
        }
        TcbOp::Unbind => unbind(target),
        TcbOp::ReadCpuTime => {
            // SAFETY: `target` is live (its cap was just looked up).
            let ticks = unsafe {
                SCHEDULER
                    .lock()
                    .cpu_time(target.as_raw(), crate::time::now())
            };
            return Output::words(&[ticks]);
        }
        TcbOp::SetTlsBase { bases, load_now } => {
            target.set_segment_bases(bases);
            if load_now {
                crate::arch::gdt::load_segment_bases(&bases);
            }
        }
    }
    Output::empty()
}

fn unbind(t: TcbPtr) {
    let n = t.bound_notification();
    if n != 0 {
        // SAFETY: a bound notification is live while bound; the reference lasts for the
        // one call.
        unsafe { (*Notification::at(n)).set_bound(0) };
        t.set_bound_notification(0);
    }
}

/// TcbConfigure(cspace, vspace, ipc_buffer_addr, ipc_buffer_frame, fault_endpoint):
/// decoded, then performed.
fn configure(caller: TcbPtr, invoked: SlotAddr, object: u64, args: &Args) -> InvocationResult {
    let configuration = decode_configure(caller, object, args)?;
    apply_configure(caller, invoked, object, &configuration)
}

/// A checked `TcbConfigure`: for each TCB slot (its address), the cap to copy into it
/// (its slot in the caller's CSpace and the cap decoded there), if one was named; and the
/// IPC buffer's address, with a frame.
struct Configuration {
    bindings: [(SlotAddr, Option<(SlotAddr, Cap)>); 4],
    ipc_buffer: Option<u64>,
    /// The optional sixth word: the thread's priority (as `TcbSetPriority`).
    priority: Option<u8>,
}

/// Checks a `TcbConfigure` of the TCB at `object` without changing anything.
fn decode_configure(
    caller: TcbPtr,
    object: u64,
    args: &Args,
) -> Result<Configuration, InvocationError> {
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
    // A sixth word sets the priority too (one call fewer per new thread), with
    // `TcbSetPriority`'s rule: at most the caller's own.
    let priority = if args.sent_len() > 5 {
        let priority = args.get(5)?;
        if priority > u64::from(caller.priority()) {
            return Err(InvocationError::new(Error::RangeError, 5));
        }
        Some(priority as u8)
    } else {
        None
    };
    let slot = |index: usize| {
        Tcb::slot_addr(object, index).ok_or(InvocationError::cap(Error::InvalidCapability))
    };
    Ok(Configuration {
        priority,
        bindings: [
            (slot(TCB_SLOT_CSPACE)?, cspace),
            (slot(TCB_SLOT_VSPACE)?, vspace),
            (slot(TCB_SLOT_IPC_BUFFER)?, frame),
            (slot(TCB_SLOT_FAULT)?, fault),
        ],
        ipc_buffer: frame.map(|_| buffer_addr),
    })
}

/// Performs a checked `TcbConfigure`. It can stop early only for what the deletions it
/// makes do meanwhile (`Cancelled`, or a restart while a long deletion is parked).
fn apply_configure(
    caller: TcbPtr,
    invoked: SlotAddr,
    object: u64,
    configuration: &Configuration,
) -> InvocationResult {
    // Replace each named binding with a copy of the given cap.
    //
    // Deleting the old binding can be long (the last cap to a CSpace of thousands of
    // caps, or to an address space): it runs in bounded steps like `CNodeDelete`, and
    // when it does not finish within this entry the call is restarted; once the deletion
    // is finished the call runs again from the start (decoding everything anew), finding
    // that slot empty. Bindings an earlier run already replaced are replaced again, which
    // is cheap: the copy is not the last cap to its object.
    //
    // Deleting the old binding can destroy objects, and with them more caps: if the CSpace
    // being replaced held the last cap to this TCB (or to a source cap), the TCB may be
    // gone after the deletion. So each step re-checks, as seL4 does, that the invoked cap
    // still names this TCB and the source slot still holds the cap `decode_configure`
    // found; if not, the configure stops there with `Cancelled`.
    let still_valid = |src: SlotAddr, decoded: &Cap| {
        matches!(*KernelSlots.slot(invoked).cap(), Cap::Tcb { object: o } if o == object)
            && KernelSlots.slot(src).cap() == decoded
    };
    for &(dest, source) in &configuration.bindings {
        let Some((src, decoded)) = source else {
            continue;
        };
        // A new thread's bindings are empty: nothing to delete (nothing can change).
        if !KernelSlots.slot(dest).is_empty() {
            let deletion = super::pending::Work::Delete(kerncore::cnode_delete(dest));
            super::pending::perform(
                caller.as_raw(),
                deletion,
                super::pending::After::RunCallAgain,
            )
            .map_err(|()| crate::syscall::restart())?;
            if !still_valid(src, &decoded) {
                return Err(InvocationError::cap(Error::Cancelled));
            }
        }
        // Cannot fail: the source holds the checked cap, the destination was just emptied,
        // and CNode, PML4 (with an ASID: checked), frame and endpoint caps are derivable.
        let _ = kerncore::cnode_copy(&mut KernelSlots, src, dest, Rights::ALL);
    }
    if let Some(address) = configuration.ipc_buffer {
        // SAFETY: the TCB is live (`still_valid` checked it after the last deletion).
        unsafe { TcbPtr::at(object) }.set_ipc_buffer(address);
    }
    if let Some(priority) = configuration.priority {
        // SAFETY: as above (a configure without bindings names the invoked, live TCB).
        set_priority(unsafe { TcbPtr::at(object) }, priority);
    }
    Ok(Output::empty())
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
pub fn set_priority(t: TcbPtr, priority: u8) {
    let mut s = SCHEDULER.lock();
    let queued = t.queued();
    // SAFETY: `t` is a live TCB.
    unsafe { s.dequeue(t.as_raw()) };
    t.set_priority_field(priority);
    if queued {
        // SAFETY: as above; it was just dequeued.
        unsafe { s.enqueue(t.as_raw()) };
    }
}

/// rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8..r15.
pub(super) fn read_registers(t: TcbPtr) -> [u64; REGISTER_COUNT] {
    let c = t.read_context(|c| *c);
    [
        c.rip, c.rsp, c.rflags, c.rax, c.rbx, c.rcx, c.rdx, c.rsi, c.rdi, c.rbp, c.r8, c.r9, c.r10,
        c.r11, c.r12, c.r13, c.r14, c.r15,
    ]
}

fn write_registers(t: TcbPtr, v: &[u64; REGISTER_COUNT]) {
    // New registers: whatever call the thread was restarting is not the one it runs now.
    t.set_long_op_done(false);
    t.update_context(|c| write_frame(c, v));
}

fn write_frame(c: &mut crate::arch::trap::TrapFrame, v: &[u64; REGISTER_COUNT]) {
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
fn make_runnable_if_inactive(t: TcbPtr) {
    if t.state() == ThreadState::Inactive {
        // SAFETY: `t` is live.
        unsafe { SCHEDULER.lock().make_runnable(t.as_raw()) };
    }
}

/// Stops a thread: out of every queue and reply relation, not scheduled until resumed.
pub fn suspend(t: TcbPtr) {
    let was_blocked = matches!(
        t.state(),
        ThreadState::BlockedOnSend
            | ThreadState::BlockedOnRecv
            | ThreadState::BlockedOnReply
            | ThreadState::BlockedOnNotification
            | ThreadState::Sleeping
    );
    // A thread stopped by a fault made no system call: its registers stay as they were
    // (resumed, it runs the faulting instruction again), and the fault is forgotten.
    let mut pending = t.pending();
    let faulted = pending.is_fault();
    ipc::cancel_ipc(t);
    pending.kind = SendKind::Message;
    t.set_pending(pending);
    t.set_fault([0; 3]);
    if was_blocked && !faulted {
        // Its system call did not complete: when resumed it returns `Cancelled`.
        t.update_context(|c| {
            c.rax = Error::Cancelled as u64;
            c.vector = 0;
        });
    }
    // SAFETY: `t` is live.
    unsafe { SCHEDULER.lock().dequeue(t.as_raw()) };
    t.set_state(ThreadState::Inactive);
    crate::debug!("thread {} suspended", t.name());
}

/// The TCB's last cap is gone: take it out of the system for good.
pub fn destroy(object: u64) {
    // SAFETY: the object was a live TCB until its last cap went; its memory is still
    // allocated (it returns to its untyped only when that is retyped again).
    let t = unsafe { TcbPtr::at(object) };
    super::pending::forget_owner(t.as_raw());
    suspend(t);
    unbind(t);
    // SAFETY: reply links are symmetric, so the caller is live.
    if let Some(caller) = unsafe { TcbPtr::from_raw(t.caller()) } {
        // Whoever called us will never get a reply.
        caller.set_replier(core::ptr::null_mut());
        // SAFETY: as above.
        unsafe { ipc::wake_with_error(caller.as_raw(), Error::Cancelled) };
        t.set_caller(core::ptr::null_mut());
    }
    let mut s = SCHEDULER.lock();
    if core::ptr::eq(s.current(), t.as_raw()) {
        s.clear_current();
    }
}
