//! SYSCALL: the MSRs, and the Rust side of the stub in [`super::entry`].
//!
//! The stub builds the same [`TrapFrame`] that the interrupt stubs build (vector
//! [`SYSCALL_VECTOR`]; the selectors and error code are left as they are, see `entry.rs`)
//! and calls [`syscall_entry`]. On the way out it uses `sysretq` when
//! the frame being resumed came from a SYSCALL, its return address is canonical, and
//! `syscall=iretq` is not set; else `iretq` (which restores every register exactly).

use super::gdt;
use super::trap::{TrapFrame, SYSCALL_VECTOR};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

const IA32_EFER: u32 = 0xc000_0080;
const IA32_STAR: u32 = 0xc000_0081;
const IA32_LSTAR: u32 = 0xc000_0082;
const IA32_FMASK: u32 = 0xc000_0084;
const EFER_SCE: u64 = 1;
/// RFLAGS bits cleared on SYSCALL: TF, IF, DF, AC, NT.
const FMASK: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 18) | (1 << 14);

/// Where the SYSCALL stub saves the user's registers: the end of the current thread's
/// saved-register area (kept equal to `TSS.rsp0` by [`set_save_area`]).
pub(super) static SAVE_AREA_END: AtomicU64 = AtomicU64::new(0);
/// Scratch slot for the user stack pointer during entry.
pub(super) static USER_RSP: AtomicU64 = AtomicU64::new(0);
/// `syscall=iretq`: never use sysretq.
static FORCE_IRETQ: AtomicBool = AtomicBool::new(false);

// SAFETY: `syscall_stub` and `syscall_stub_iretq` are defined in `entry.rs` with exactly
// these names; they are never called from Rust, only their addresses are written to LSTAR.
unsafe extern "C" {
    fn syscall_stub();
    fn syscall_stub_iretq();
}

/// Enables SYSCALL/SYSRET and points LSTAR at the stub.
pub fn init(force_iretq: bool) {
    FORCE_IRETQ.store(force_iretq, Ordering::Relaxed);
    // The two stubs differ only in how the IPC fast path returns.
    let stub = if force_iretq {
        syscall_stub_iretq as *const () as u64
    } else {
        syscall_stub as *const () as u64
    };
    // STAR[47:32]: SYSCALL CS (SS = +8). STAR[63:48]: SYSRET base (SS = +8, CS = +16).
    let star = (u64::from(gdt::KERNEL_CS) << 32) | (u64::from(gdt::KERNEL_DS) << 48);
    // SAFETY: programming the architectural SYSCALL MSRs with the selectors of our GDT
    // and the address of our entry stub.
    unsafe {
        let mut efer = Msr::new(IA32_EFER);
        let value = efer.read();
        efer.write(value | EFER_SCE);
        Msr::new(IA32_STAR).write(star);
        Msr::new(IA32_LSTAR).write(stub);
        Msr::new(IA32_FMASK).write(FMASK);
    }
}

/// Whether a value is a canonical user-half address.
fn is_canonical_user(address: u64) -> bool {
    address < 0x0000_8000_0000_0000
}

/// Points the SYSCALL stub and `TSS.rsp0` at the saved-register area of the thread about
/// to run (`frame` is that thread's `TrapFrame`).
pub fn set_save_area(frame: *mut TrapFrame) {
    let end = frame as u64 + core::mem::size_of::<TrapFrame>() as u64;
    SAVE_AREA_END.store(end, Ordering::Relaxed);
    gdt::set_rsp0(end);
}

/// The current thread's saved-register area (null before the first thread runs).
pub fn current_save_area() -> *mut TrapFrame {
    let end = SAVE_AREA_END.load(Ordering::Relaxed);
    if end == 0 {
        return core::ptr::null_mut();
    }
    (end - core::mem::size_of::<TrapFrame>() as u64) as *mut TrapFrame
}

/// What the SYSCALL stub resumes: the frame, and whether `sysretq` may be used.
#[repr(C)]
pub struct Resume {
    frame: *mut TrapFrame,
    sysret: u64,
}

/// Whether `frame` may be resumed with `sysretq` (it came from a SYSCALL, returns to user
/// mode at a canonical address, and `syscall=iretq` is off).
pub fn sysret_allowed(frame: &TrapFrame) -> bool {
    frame.vector == SYSCALL_VECTOR
        && frame.cs == u64::from(gdt::USER_CS)
        && is_canonical_user(frame.rip)
        && !FORCE_IRETQ.load(Ordering::Relaxed)
}

/// Rust side of SYSCALL, the general path: every call the fast path did not take.
pub(super) extern "C" fn syscall_entry(frame: *mut TrapFrame) -> Resume {
    let next = crate::syscall::handle(frame);
    Resume {
        frame: next,
        // SAFETY: `next` is the live frame of the thread to resume (or the idle frame).
        sysret: u64::from(sysret_allowed(unsafe { &*next })),
    }
}

// The fast path resumes only frames saved by the SYSCALL stub that nothing rewrote since
// (`vector` is `SYSCALL_VECTOR`: `TcbWriteRegisters`, suspension and traps all change it),
// so their `cs` is the user's and their `rip` was found canonical at entry; that is what
// `sysret_allowed` would check. Under `syscall=iretq` the stub returns with `iretq`.

/// The IPC fast path of `Call`, straight from the SYSCALL stub (`frame` is the current
/// thread's, `info` and `cptr` its rsi and rdi): the frame to resume, or null for the
/// general path ([`syscall_entry`]).
pub(super) extern "C" fn fast_call_entry(
    frame: *mut TrapFrame,
    info: u64,
    cptr: u64,
) -> *mut TrapFrame {
    crate::fastpath::try_call(frame, info, cptr)
}

/// The IPC fast path of `ReplyRecv`, as [`fast_call_entry`].
pub(super) extern "C" fn fast_reply_recv_entry(
    frame: *mut TrapFrame,
    info: u64,
    cptr: u64,
) -> *mut TrapFrame {
    crate::fastpath::try_reply_recv(frame, info, cptr)
}
