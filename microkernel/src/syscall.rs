//! System call dispatch: decode the call, then perform it.
//!
//! Register convention (libsys::abi): `rax` = [`Syscall`] number, `rdi` = capability
//! pointer, `rsi` = message info, `rdx`, `r8`, `r9`, `r10` = message registers. On return
//! `rax` is 0 or an [`Error`] code; after a failed invocation `rdx` names the bad argument.

use crate::arch::trap::TrapFrame;
use crate::ipc::{self, Notification};
use crate::object::{self, InvocationError};
use crate::sched;
use crate::thread::{PendingSend, SendKind, TcbPtr, ThreadState};
use crate::uaccess::UserSlice;
use kerncore::Cap;
use libsys::abi::{Error, MessageInfo, Syscall};
use libsys::object::Rights;

/// Most bytes one DebugWrite prints.
pub const DEBUG_WRITE_MAX: u64 = 4096;

/// Set by an operation that did a bounded part of its work and wants its system call run
/// again (see [`restart`]).
static RESTART: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Asks for the current system call to be restarted: the thread returns to user mode
/// with `rip` back on its `syscall` instruction and its registers as they were, so it
/// re-executes the call (taking pending interrupts on the way). Operations that do long
/// work in bounded steps keep their progress in kernel objects and return this error.
pub fn restart() -> InvocationError {
    RESTART.store(true, core::sync::atomic::Ordering::Relaxed);
    InvocationError::cap(Error::Cancelled)
}

/// The longest [`handle_slow`] since the last `DebugConsoleLongestEntry`, in time-stamp
/// counter ticks: the kernel runs with interrupts off throughout.
static LONGEST_ENTRY: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Whether [`handle_slow`] times itself: from the first `DebugConsoleLongestEntry` on
/// (until someone asks, nobody reads the figure, and an untimed entry saves two `rdtsc`
/// and the comparison).
static TIMING_ENTRIES: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Returns the longest slow system call measured since the last call, and starts anew;
/// the first call starts the timing and returns 0 (nothing was measured before it).
pub fn take_longest_entry() -> u64 {
    TIMING_ENTRIES.store(true, core::sync::atomic::Ordering::Relaxed);
    LONGEST_ENTRY.swap(0, core::sync::atomic::Ordering::Relaxed)
}

/// Length of the `syscall` instruction.
const SYSCALL_LENGTH: u64 = 2;

/// Handles one system call from the current thread (`frame` is its saved registers, inside
/// its TCB) that the IPC fast path did not take (the SYSCALL stub tries that first:
/// `fastpath`); returns the frame to resume.
///
/// `frame` is a raw pointer because the same memory is the current TCB's `context`, which
/// the handlers reach through the TCB: no reference to the frame is held while they run.
#[inline(always)]
pub fn handle(frame: *mut TrapFrame) -> *mut TrapFrame {
    // A `syscall` in the last two bytes of the user half returns to 2^47, which is not
    // canonical: `sysretq`/`iretq` there would fault in ring 0. Such a thread takes a
    // general protection fault instead, as if it had jumped there. (No other frame can
    // hold a non-canonical user rip: exceptions report where the CPU was executing, and
    // `TcbWriteRegisters` checks the address.)
    // SAFETY: `frame` is the current thread's saved registers; read by value.
    if unsafe { (*frame).rip } >= crate::uaccess::USER_END {
        return bad_return_address(frame);
    }
    crate::counters::entry();
    // A `Call` carrying one cap (the SYSCALL stub sends every message with caps here)
    // first tries the fast path's cap transfer, which gives the same result for the usual
    // case and refuses the rest (changing nothing).
    // SAFETY: as above.
    if MessageInfo(unsafe { (*frame).rsi }).caps() == 1 {
        let next = crate::fastpath::try_call_with_cap(frame);
        if !next.is_null() {
            return next;
        }
    }
    handle_slow(frame)
}

#[cold]
#[inline(never)]
fn bad_return_address(frame: *mut TrapFrame) -> *mut TrapFrame {
    // SAFETY: `frame` is the current thread's saved registers; no reference to them is
    // live. The fault handler reaches the TCB itself, so it gets a copy.
    let copy = unsafe {
        (*frame).vector = 13;
        (*frame).error_code = 0;
        *frame
    };
    crate::trap::user_fault(&copy);
    sched::schedule(false)
}

/// Everything the fast path does not take (kept out of line so that the fast path's
/// function stays small: no big stack frame, few saved registers), timed for the
/// longest-entry figure once that was asked for.
#[inline(never)]
fn handle_slow(frame: *mut TrapFrame) -> *mut TrapFrame {
    if !TIMING_ENTRIES.load(core::sync::atomic::Ordering::Relaxed) {
        return handle_slow_body(frame);
    }
    let start = crate::time::now();
    let next = handle_slow_body(frame);
    let length = crate::time::now().wrapping_sub(start);
    // One CPU, interrupts off: a load, a comparison and maybe a store (no locked loop).
    if length > LONGEST_ENTRY.load(core::sync::atomic::Ordering::Relaxed) {
        LONGEST_ENTRY.store(length, core::sync::atomic::Ordering::Relaxed);
    }
    next
}

/// The thread whose saved registers `frame` is: the current thread at a SYSCALL (the
/// entry stub saves into the current thread's TCB, `set_save_area`; a SYSCALL comes only
/// from user mode, so there is one). Found without the scheduler lock.
#[inline(always)]
fn current_of(frame: *mut TrapFrame) -> TcbPtr {
    let tcb = frame
        .cast::<u8>()
        .wrapping_sub(core::mem::offset_of!(crate::thread::Tcb, context))
        .cast::<crate::thread::Tcb>();
    debug_assert_eq!(tcb, sched::current());
    // SAFETY: `frame` is the `context` of the thread that made the SYSCALL: the current
    // thread, which is live while it runs (a thread is destroyed only after it stopped
    // being current), so `tcb` is that TCB and not null.
    unsafe { TcbPtr::from_raw_unchecked(tcb) }
}

/// [`handle_slow`] itself (one copy, out of line, for the timed and the untimed case).
#[inline(never)]
fn handle_slow_body(frame: *mut TrapFrame) -> *mut TrapFrame {
    let tcb = current_of(frame);
    // A parked delete or revoke goes first (no other capability work may run meanwhile).
    match object::pending::before_syscall(tcb) {
        object::pending::Before::Proceed => {}
        object::pending::Before::Restart => {
            tcb.update_context(|c| c.rip -= SYSCALL_LENGTH);
            return sched::schedule(false);
        }
        object::pending::Before::OwnCallDone => {
            tcb.update_context(|c| c.rax = 0);
            object::pending::done_output().write_to(tcb);
            return sched::schedule(false);
        }
    }
    let mut yielding = false;
    let number = tcb.update_context(|c| core::mem::take(&mut c.rax));
    let result = match Syscall::try_from(number) {
        Ok(Syscall::DebugWrite) => debug_write(tcb),
        Ok(Syscall::Yield) => {
            yielding = true;
            Ok(())
        }
        Ok(Syscall::Identify) => lookup(tcb).map(|(_, cap)| object::identify(&cap).write_to(tcb)),
        Ok(Syscall::Call) => call(tcb),
        Ok(Syscall::Send) => send(tcb, true),
        Ok(Syscall::NBSend) => send(tcb, false),
        Ok(Syscall::Recv) => receive(tcb, true),
        Ok(Syscall::NBRecv) => receive(tcb, false),
        Ok(Syscall::Reply) => {
            ipc::reply_to_caller(tcb);
            Ok(())
        }
        Ok(Syscall::ReplyRecv) => {
            ipc::reply_to_caller(tcb);
            receive(tcb, true)
        }
        Ok(Syscall::CallTimeout) => call_timeout(tcb),
        Ok(Syscall::RecvTimeout) => receive_timeout(tcb),
        Ok(Syscall::Sleep) => {
            sleep(tcb);
            Ok(())
        }
        Err(_) => Err(InvocationError::cap(Error::InvalidSyscall)),
    };
    if RESTART.load(core::sync::atomic::Ordering::Relaxed) {
        RESTART.store(false, core::sync::atomic::Ordering::Relaxed);
        // Run the same call again: nothing of this entry's result is delivered.
        tcb.update_context(|c| {
            c.rax = number;
            c.rip -= SYSCALL_LENGTH;
        });
        return sched::schedule(false);
    }
    if let Err(e) = result {
        tcb.update_context(|c| {
            c.rax = e.error as u64;
            c.rdx = e.argument;
        });
    }
    sched::schedule(yielding)
}

/// DebugWrite(console cap; address, length): prints user bytes on the kernel console, as
/// many as the UART takes without waiting (at most its FIFO), and returns that count in
/// word 0. Only those bytes are read; the machine never waits for the UART on a user's
/// behalf.
fn debug_write(tcb: TcbPtr) -> Result<(), InvocationError> {
    let (_, cap) = lookup(tcb)?;
    if cap != Cap::DebugConsole {
        return Err(InvocationError::cap(Error::InvalidCapability));
    }
    let (address, length) = (tcb.read_context(|c| c.rdx), tcb.read_context(|c| c.r8));
    if length > DEBUG_WRITE_MAX {
        return Err(InvocationError::new(Error::InvalidArgument, 1));
    }
    let mut buffer = [0u8; crate::arch::serial::FIFO_BYTES];
    let bytes = &mut buffer[..(length as usize).min(crate::arch::serial::FIFO_BYTES)];
    UserSlice::new(tcb.vspace(), address, bytes.len() as u64)
        .read(bytes)
        .map_err(|e| InvocationError::new(e, 0))?;
    let taken = crate::log::write_raw_now(bytes);
    object::Output::words(&[taken as u64]).write_to(tcb);
    Ok(())
}

fn lookup(tcb: TcbPtr) -> Result<(kerncore::SlotAddr, Cap), InvocationError> {
    object::lookup(tcb, tcb.read_context(|c| c.rdi)).map_err(|e| InvocationError::cap(e.code()))
}

/// Call: IPC on an endpoint (send + wait for reply), a signal on a notification, or an
/// invocation of any other object.
fn call(tcb: TcbPtr) -> Result<(), InvocationError> {
    let (slot, cap) = lookup(tcb)?;
    match cap {
        Cap::Endpoint {
            object,
            badge,
            rights,
        } => send_on_endpoint(tcb, object, badge, rights, true, SendKind::Message, true),
        Cap::Notification { .. } => signal(cap),
        _ => {
            let reply = object::invoke(tcb, slot, cap)?;
            reply.write_to(tcb);
            Ok(())
        }
    }
}

/// CallTimeout: a Call on an endpoint that ends with `TimedOut` at the deadline in `r12`.
fn call_timeout(tcb: TcbPtr) -> Result<(), InvocationError> {
    let (_, cap) = lookup(tcb)?;
    let Cap::Endpoint {
        object,
        badge,
        rights,
    } = cap
    else {
        return Err(InvocationError::cap(Error::InvalidCapability));
    };
    let deadline = tcb.read_context(|c| c.r12);
    send_on_endpoint(tcb, object, badge, rights, true, SendKind::TimedCall, true)?;
    if matches!(
        tcb.state(),
        ThreadState::BlockedOnSend | ThreadState::BlockedOnReply
    ) {
        // SAFETY: `tcb` is the live current thread, now blocked.
        unsafe { sched::SCHEDULER.lock().add_timeout(tcb.as_raw(), deadline) };
    }
    Ok(())
}

/// RecvTimeout: a Recv on an endpoint or notification that ends with `TimedOut` at the
/// deadline in `r12`.
fn receive_timeout(tcb: TcbPtr) -> Result<(), InvocationError> {
    let deadline = tcb.read_context(|c| c.r12);
    receive(tcb, true)?;
    match tcb.state() {
        ThreadState::BlockedOnRecv => {
            // SAFETY: the thread is queued on that live endpoint.
            unsafe { (*ipc::Endpoint::at(tcb.blocked_on())).mark_timed_receiver() };
        }
        ThreadState::BlockedOnNotification => {}
        _ => return Ok(()),
    }
    // SAFETY: `tcb` is the live current thread, now blocked.
    unsafe { sched::SCHEDULER.lock().add_timeout(tcb.as_raw(), deadline) };
    Ok(())
}

/// Sleep: blocks until the time-stamp counter reaches `rdi` (at once if it has).
fn sleep(tcb: TcbPtr) {
    let deadline = tcb.read_context(|c| c.rdi);
    if crate::time::now() >= deadline {
        return;
    }
    tcb.set_state(ThreadState::Sleeping);
    let mut s = sched::SCHEDULER.lock();
    // SAFETY: `tcb` is the live current thread.
    unsafe {
        s.dequeue(tcb.as_raw());
        s.add_timeout(tcb.as_raw(), deadline);
    }
}

/// Send or Call through an endpoint cap: needs WRITE; GRANT lets the message carry caps,
/// GRANT_REPLY lets the reply to a Call carry them.
fn send_on_endpoint(
    tcb: TcbPtr,
    object: u64,
    badge: u64,
    rights: Rights,
    is_call: bool,
    kind: SendKind,
    blocking: bool,
) -> Result<(), InvocationError> {
    if !rights.contains(Rights::WRITE) {
        return Err(InvocationError::cap(Error::InsufficientRights));
    }
    check_extra_caps(tcb)?;
    let pending = PendingSend {
        badge,
        is_call,
        can_grant: rights.contains(Rights::GRANT),
        reply_can_grant: is_call && rights.contains(Rights::GRANT_REPLY),
        kind,
    };
    // SAFETY: the current thread sends through a cap to a live endpoint.
    unsafe { ipc::send(tcb, object, pending, blocking) };
    Ok(())
}

/// Decode before sending: every extra cap the message names must exist, else the send
/// fails with `FailedLookup` naming the cap's index (0..3) and nothing is sent.
fn check_extra_caps(tcb: TcbPtr) -> Result<(), InvocationError> {
    let count = libsys::abi::MessageInfo(tcb.read_context(|c| c.rsi)).caps();
    if count == 0 {
        return Ok(());
    }
    let buffer = object::ipc_buffer_ptr(tcb);
    if buffer.is_null() {
        return Err(InvocationError::cap(Error::InvalidArgument));
    }
    for i in 0..count as usize {
        // SAFETY: the buffer frame is allocated while its cap is in the TCB's slot; one
        // word is read by value (no reference to user-shared memory).
        let cptr = unsafe { core::ptr::addr_of!((*buffer).caps[i]).read() };
        object::lookup(tcb, cptr).map_err(|e| InvocationError::new(e.code(), i as u64))?;
    }
    Ok(())
}

fn signal(cap: Cap) -> Result<(), InvocationError> {
    let Cap::Notification {
        object,
        badge,
        rights,
    } = cap
    else {
        return Err(InvocationError::cap(Error::InvalidCapability));
    };
    if !rights.contains(Rights::WRITE) {
        return Err(InvocationError::cap(Error::InsufficientRights));
    }
    // SAFETY: the cap names a live notification; the reference lasts for the one call,
    // which reaches only TCBs and endpoints.
    unsafe { (*Notification::at(object)).signal(badge) };
    Ok(())
}

/// Send / NBSend on an endpoint or notification.
fn send(tcb: TcbPtr, blocking: bool) -> Result<(), InvocationError> {
    let (_, cap) = lookup(tcb)?;
    match cap {
        Cap::Endpoint {
            object,
            badge,
            rights,
        } => send_on_endpoint(
            tcb,
            object,
            badge,
            rights,
            false,
            SendKind::Message,
            blocking,
        ),
        Cap::Notification { .. } => signal(cap),
        Cap::Reply { object, can_grant } => {
            // SAFETY: the cap names a live reply object; the reference lasts for the one
            // call, which reaches only TCBs (and, for caps in the reply, CSpace slots).
            unsafe { (*object::reply::Reply::at(object)).send(tcb, can_grant) };
            Ok(())
        }
        _ => Err(InvocationError::cap(Error::InvalidCapability)),
    }
}

/// Recv / NBRecv on an endpoint or notification.
fn receive(tcb: TcbPtr, blocking: bool) -> Result<(), InvocationError> {
    let (_, cap) = lookup(tcb)?;
    let r = match cap {
        Cap::Endpoint { object, rights, .. } => {
            if !rights.contains(Rights::READ) {
                return Err(InvocationError::cap(Error::InsufficientRights));
            }
            // SAFETY: the current thread receives through a cap to a live endpoint.
            unsafe { ipc::receive(tcb, object, blocking) }
        }
        Cap::Notification { object, rights, .. } => {
            if !rights.contains(Rights::READ) {
                return Err(InvocationError::cap(Error::InsufficientRights));
            }
            // SAFETY: the cap names a live notification; `tcb` is the current thread. The
            // reference lasts for this arm, which reaches nothing but this thread's TCB.
            let n = unsafe { &mut *Notification::at(object) };
            // A notification bound to another thread delivers to that thread only (as in
            // seL4): anyone else waiting on it would steal its signals.
            let bound = n.bound();
            if bound != 0 && bound != tcb.as_raw() as u64 {
                return Err(InvocationError::cap(Error::IllegalOperation));
            }
            // SAFETY: as above.
            unsafe { n.wait(tcb, object, blocking) }
        }
        _ => return Err(InvocationError::cap(Error::InvalidCapability)),
    };
    r.map_err(InvocationError::cap)
}
