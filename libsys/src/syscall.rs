//! System call stubs: the only place userspace executes `syscall`.
//!
//! One function per system call, each a thin wrapper over [`raw_syscall`], which loads the
//! registers of the ABI (see docs/syscalls.md) and returns them as the kernel left them:
//!
//! | register | in                      | out                                    |
//! |----------|-------------------------|----------------------------------------|
//! | `rax`    | [`Syscall`] number      | 0 or an [`Error`] code                 |
//! | `rdi`    | capability pointer      | badge of the sender (receives)         |
//! | `rsi`    | [`MessageInfo`]         | [`MessageInfo`] of what was received   |
//! | `rdx`, `r8`, `r9`, `r10` | message words 0..3 | message words 0..3; on error `rdx` is the index of the bad argument |
//!
//! Message words 4 and up live in the thread's IPC buffer ([`IpcBuffer`]); the helpers
//! [`set_word`], [`word`], [`set_send_cap`], [`set_receive_slot`] and [`unwrapped_badge`]
//! reach it without holding a reference across a system call.
//!
//! # The IPC buffer address
//! Every thread that uses words past the fourth, or sends or receives capabilities, needs
//! an IPC buffer. Programs started by the kernel (the root task) or by [`crate::loader`]
//! have theirs at [`IPC_BUFFER_ADDR`]; this module assumes that address. A second thread
//! in the same address space has no buffer of its own at that address and must stick to
//! register-only messages.

use crate::abi::{Error, MessageInfo, Syscall};
use crate::bootinfo::IPC_BUFFER_ADDR;
use crate::ipc::{IpcBuffer, BUFFER_WORDS};
use core::arch::asm;

/// Result of a system call that can only fail with an error code.
pub type SysResult<T = ()> = Result<T, Error>;

/// The registers that carry a message: cap pointer (or badge), message info, four words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    /// `rdi`: the capability pointer on entry; the sender's badge after a receive.
    pub cptr: u64,
    /// `rsi`: the message info.
    pub info: MessageInfo,
    /// `rdx`, `r8`, `r9`, `r10`: message words 0..3.
    pub words: [u64; 4],
}

/// Executes `syscall` with `number` in `rax` and `regs` in the message registers; returns
/// `rax` and the message registers as the kernel left them.
///
/// This is safe: the kernel validates every value, and the only memory it writes is this
/// thread's IPC buffer, which Rust code reaches only through the volatile helpers below or
/// the `unsafe` [`ipc_buffer`]. The asm has no `nomem`/`readonly` option, so the compiler
/// assumes memory may have changed across it.
#[inline(always)]
pub fn raw_syscall(number: u64, regs: Registers) -> (u64, Registers) {
    let (code, cptr, info, w0, w1, w2, w3): (u64, u64, u64, u64, u64, u64, u64);
    // SAFETY: the kernel reads and writes only rax, rdi, rsi, rdx, r8, r9, r10 (declared
    // here) and clobbers rcx and r11; it touches no user memory but the IPC buffer.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => code,
            inlateout("rdi") regs.cptr => cptr,
            inlateout("rsi") regs.info.0 => info,
            inlateout("rdx") regs.words[0] => w0,
            inlateout("r8") regs.words[1] => w1,
            inlateout("r9") regs.words[2] => w2,
            inlateout("r10") regs.words[3] => w3,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    let out = Registers {
        cptr,
        info: MessageInfo(info),
        words: [w0, w1, w2, w3],
    };
    (code, out)
}

/// A failed system call or invocation: the kernel's error code and the detail word it
/// returned in `rdx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvocationError {
    /// The error code.
    pub error: Error,
    /// For invocations, the index (message word number) of the offending argument, or
    /// [`INVOKED_CAP`] when the invoked capability itself is at fault. For other errors,
    /// whatever the kernel left in `rdx`.
    pub argument: u64,
}

/// [`InvocationError::argument`] value naming the invoked capability rather than an
/// argument.
pub const INVOKED_CAP: u64 = u64::MAX;

impl InvocationError {
    /// Whether this is `error` about argument `argument`.
    pub fn is(&self, error: Error, argument: u64) -> bool {
        self.error == error && self.argument == argument
    }
}

impl core::fmt::Display for InvocationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.argument == INVOKED_CAP {
            write!(f, "{} (invoked cap)", self.error.name())
        } else {
            write!(f, "{} (argument {})", self.error.name(), self.argument)
        }
    }
}

/// Result of a system call that returns registers.
pub type RegsResult = Result<Registers, InvocationError>;

/// Turns `rax` and the returned registers into a result. An unknown code (a kernel/ABI
/// mismatch) is reported as [`Error::InvalidSyscall`] with the code as detail.
#[inline(always)]
fn decode(code: u64, out: Registers) -> RegsResult {
    if code == 0 {
        Ok(out)
    } else {
        Err(error(code, out.words[0]))
    }
}

/// The error for a non-zero `rax` (kept out of line: the fast paths never need it).
#[cold]
fn error(code: u64, detail: u64) -> InvocationError {
    match Error::try_from(code) {
        Ok(error) => InvocationError {
            error,
            argument: detail,
        },
        Err(code) => InvocationError {
            error: Error::InvalidSyscall,
            argument: code,
        },
    }
}

fn message(cptr: u64, info: MessageInfo, words: [u64; 4]) -> Registers {
    Registers { cptr, info, words }
}

/// Prints bytes on the kernel console (a debugging aid, not a console driver) through the
/// debug console cap in [`crate::process::SLOT_DEBUG_CONSOLE`]. The kernel takes only what
/// the UART accepts without waiting; this yields and retries until every byte is taken.
///
/// # Errors
/// [`Error::FailedLookup`] / [`Error::InvalidCapability`] without a debug console cap;
/// [`Error::BadAddress`] for unreadable bytes.
pub fn debug_write(bytes: &[u8]) -> SysResult {
    debug_write_through(crate::process::SLOT_DEBUG_CONSOLE, bytes)
}

/// [`debug_write`] through the debug console cap at `console`.
///
/// # Errors
/// As for [`debug_write`].
pub fn debug_write_through(console: u64, bytes: &[u8]) -> SysResult {
    let mut rest = bytes;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(DEBUG_WRITE_MAX)];
        let regs = message(
            console,
            MessageInfo(0),
            [chunk.as_ptr() as u64, chunk.len() as u64, 0, 0],
        );
        let (code, out) = raw_syscall(Syscall::DebugWrite as u64, regs);
        let taken = decode(code, out).map_err(|e| e.error)?.words[0] as usize;
        if taken == 0 {
            // The UART is busy: let others run meanwhile.
            yield_now();
        }
        rest = &rest[taken.min(rest.len())..];
    }
    Ok(())
}

/// Most bytes one `DebugWrite` may name.
pub const DEBUG_WRITE_MAX: usize = 4096;

/// `Identify`: describes the capability at `cptr`; the result's words 0..2 are its kind
/// ([`crate::object::CapKind`]), rights and badge. A system call rather than an invocation
/// because a `Call` on an endpoint or notification is IPC.
///
/// # Errors
/// [`Error::FailedLookup`] if the cptr names no capability.
#[inline]
pub fn identify(cptr: u64) -> RegsResult {
    let (code, out) = raw_syscall(
        Syscall::Identify as u64,
        message(cptr, MessageInfo(0), [0; 4]),
    );
    decode(code, out)
}

/// Gives up the rest of this timeslice.
pub fn yield_now() {
    let _ = raw_syscall(Syscall::Yield as u64, Registers::default());
}

/// `Call`: sends a message on `cptr` and waits for the reply; on a kernel object, invokes
/// it. Returns the reply's registers (`cptr` holds the badge field, 0 for invocations).
///
/// # Errors
/// The kernel's error code and detail word.
#[inline]
pub fn call(cptr: u64, info: MessageInfo, words: [u64; 4]) -> RegsResult {
    let (code, out) = raw_syscall(Syscall::Call as u64, message(cptr, info, words));
    decode(code, out)
}

/// `Send`: sends a message on an endpoint, blocking until it is taken (or signals a
/// notification).
///
/// # Errors
/// The kernel's error code and detail word.
#[inline]
pub fn send(cptr: u64, info: MessageInfo, words: [u64; 4]) -> Result<(), InvocationError> {
    let (code, out) = raw_syscall(Syscall::Send as u64, message(cptr, info, words));
    decode(code, out).map(|_| ())
}

/// `NBSend`: sends only if a receiver is waiting; otherwise the message is dropped.
///
/// # Errors
/// The kernel's error code and detail word.
#[inline]
pub fn nb_send(cptr: u64, info: MessageInfo, words: [u64; 4]) -> Result<(), InvocationError> {
    let (code, out) = raw_syscall(Syscall::NBSend as u64, message(cptr, info, words));
    decode(code, out).map(|_| ())
}

/// `Recv`: waits for a message on an endpoint or a signal on a notification. The result's
/// `cptr` is the sender's badge.
///
/// # Errors
/// The kernel's error code and detail word ([`Error::Cancelled`] if the object is deleted
/// while waiting).
#[inline]
pub fn recv(cptr: u64) -> RegsResult {
    let (code, out) = raw_syscall(Syscall::Recv as u64, message(cptr, MessageInfo(0), [0; 4]));
    decode(code, out)
}

/// `NBRecv`: receives only if a message or signal is pending.
///
/// # Errors
/// [`Error::WouldBlock`] when nothing is pending; other codes as for [`recv`].
#[inline]
pub fn nb_recv(cptr: u64) -> RegsResult {
    let (code, out) = raw_syscall(
        Syscall::NBRecv as u64,
        message(cptr, MessageInfo(0), [0; 4]),
    );
    decode(code, out)
}

/// `Reply`: replies to the thread that last called this one.
///
/// # Errors
/// The kernel's error code and detail word.
#[inline]
pub fn reply(info: MessageInfo, words: [u64; 4]) -> Result<(), InvocationError> {
    let (code, out) = raw_syscall(Syscall::Reply as u64, message(0, info, words));
    decode(code, out).map(|_| ())
}

/// `ReplyRecv`: replies to the last caller, then waits on `cptr` (the server loop).
///
/// # Errors
/// The kernel's error code and detail word.
#[inline]
pub fn reply_recv(cptr: u64, info: MessageInfo, words: [u64; 4]) -> RegsResult {
    let (code, out) = raw_syscall(Syscall::ReplyRecv as u64, message(cptr, info, words));
    decode(code, out)
}

/// [`raw_syscall`] with a deadline in `r12` (the timed calls).
#[inline(always)]
fn raw_timed_syscall(number: u64, regs: Registers, deadline: u64) -> (u64, Registers) {
    let (code, cptr, info, w0, w1, w2, w3): (u64, u64, u64, u64, u64, u64, u64);
    // SAFETY: as for `raw_syscall`; the kernel only reads `r12`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => code,
            inlateout("rdi") regs.cptr => cptr,
            inlateout("rsi") regs.info.0 => info,
            inlateout("rdx") regs.words[0] => w0,
            inlateout("r8") regs.words[1] => w1,
            inlateout("r9") regs.words[2] => w2,
            inlateout("r10") regs.words[3] => w3,
            in("r12") deadline,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    let out = Registers {
        cptr,
        info: MessageInfo(info),
        words: [w0, w1, w2, w3],
    };
    (code, out)
}

/// `CallTimeout`: [`call`] on an endpoint that gives up at `deadline` (a time-stamp
/// counter value, see [`crate::time`]).
///
/// # Errors
/// [`Error::TimedOut`] when the reply had not come by the deadline (the message was
/// withdrawn if no receiver had taken it; a later reply is dropped); otherwise as [`call`].
#[inline]
pub fn call_timeout(cptr: u64, info: MessageInfo, words: [u64; 4], deadline: u64) -> RegsResult {
    let (code, out) = raw_timed_syscall(
        Syscall::CallTimeout as u64,
        message(cptr, info, words),
        deadline,
    );
    decode(code, out)
}

/// `RecvTimeout`: [`recv`] that gives up at `deadline`.
///
/// # Errors
/// [`Error::TimedOut`] when nothing arrived by the deadline; otherwise as [`recv`].
#[inline]
pub fn recv_timeout(cptr: u64, deadline: u64) -> RegsResult {
    let (code, out) = raw_timed_syscall(
        Syscall::RecvTimeout as u64,
        message(cptr, MessageInfo(0), [0; 4]),
        deadline,
    );
    decode(code, out)
}

/// `Sleep`: waits until the time-stamp counter reaches `deadline` (returns at once if it
/// has). The kernel wakes sleepers at its timer tick, so the wake-up is up to one tick late.
pub fn sleep_until(deadline: u64) {
    let _ = raw_syscall(
        Syscall::Sleep as u64,
        message(deadline, MessageInfo(0), [0; 4]),
    );
}

/// The calling thread's IPC buffer.
///
/// # Safety
/// The thread must have its IPC buffer at [`IPC_BUFFER_ADDR`] (see the module docs), and
/// the caller must not let two returned references live at once, nor hold one across a
/// system call that receives into the buffer.
pub unsafe fn ipc_buffer() -> &'static mut IpcBuffer {
    // SAFETY: the caller promises the page is this thread's mapped IPC buffer and that no
    // other reference to it is live.
    unsafe { &mut *(IPC_BUFFER_ADDR as *mut IpcBuffer) }
}

fn buffer_ptr() -> *mut IpcBuffer {
    IPC_BUFFER_ADDR as *mut IpcBuffer
}

/// Writes message word `index` (4..512) into the IPC buffer. Words 0..3 travel in
/// registers and are passed to the stubs directly; other indices are ignored.
pub fn set_word(index: usize, value: u64) {
    if let Some(i) = index.checked_sub(4).filter(|&i| i < BUFFER_WORDS) {
        // SAFETY: the thread's IPC buffer is mapped writable at IPC_BUFFER_ADDR (module
        // docs); `i` is in bounds; a volatile write through a raw pointer creates no
        // reference that could alias.
        unsafe { core::ptr::addr_of_mut!((*buffer_ptr()).msg[i]).write_volatile(value) };
    }
}

/// Reads message word `index` (4..512) from the IPC buffer; 0 for other indices.
pub fn word(index: usize) -> u64 {
    match index.checked_sub(4).filter(|&i| i < BUFFER_WORDS) {
        // SAFETY: as in `set_word`; the read is in bounds.
        Some(i) => unsafe { core::ptr::addr_of!((*buffer_ptr()).msg[i]).read_volatile() },
        None => 0,
    }
}

/// Names the `index`th (0..3) capability to send with the next message.
pub fn set_send_cap(index: usize, cptr: u64) {
    if index < 3 {
        // SAFETY: as in `set_word`; `index` is in bounds of `caps`.
        unsafe { core::ptr::addr_of_mut!((*buffer_ptr()).caps[index]).write_volatile(cptr) };
    }
}

/// The badge delivered for the `index`th received capability that was unwrapped (see
/// [`MessageInfo::caps_unwrapped`]).
pub fn unwrapped_badge(index: usize) -> u64 {
    if index < 3 {
        // SAFETY: as in `set_word`; `index` is in bounds of `caps`.
        unsafe { core::ptr::addr_of!((*buffer_ptr()).caps[index]).read_volatile() }
    } else {
        0
    }
}

/// Names the empty slot (a cptr at full depth) where a received capability goes; 0 accepts
/// none.
pub fn set_receive_slot(cptr: u64) {
    // SAFETY: as in `set_word`.
    unsafe { core::ptr::addr_of_mut!((*buffer_ptr()).receive_slot).write_volatile(cptr) };
}
