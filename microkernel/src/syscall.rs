//! System call dispatch: decode the call, then perform it.
//!
//! Register convention (libsys::abi): `rax` = [`Syscall`] number, `rdi` = capability
//! pointer, `rsi` = message info, `rdx`, `r8`, `r9`, `r10` = message registers. On return
//! `rax` is 0 or an [`Error`] code.

use crate::arch::trap::TrapFrame;
use crate::sched;
use crate::uaccess::UserSlice;
use libsys::abi::{Error, Label, MessageInfo, Syscall};
use libsys::bootinfo::SLOT_TCB;

/// Most bytes one DebugWrite prints.
pub const DEBUG_WRITE_MAX: u64 = 4096;

/// Handles one system call from the current thread, whose registers are in `frame`.
pub fn handle(frame: &mut TrapFrame) {
    sched::save_current(frame);
    let current = sched::current();
    if current.is_null() {
        // A SYSCALL can only come from user mode, so there is always a current thread.
        return;
    }
    // SAFETY: the current thread is a live TCB; interrupts are off.
    let tcb = unsafe { &mut *current };
    let result = match Syscall::try_from(tcb.context.rax) {
        Ok(Syscall::DebugWrite) => debug_write(tcb.vspace, tcb.context.rdi, tcb.context.rsi),
        Ok(Syscall::Yield) => {
            tcb.context.rax = 0;
            sched::schedule(frame, true);
            return;
        }
        Ok(Syscall::Call) => call(tcb),
        Ok(_) => Err(Error::IllegalOperation),
        Err(_) => Err(Error::InvalidSyscall),
    };
    tcb.context.rax = match result {
        Ok(()) => 0,
        Err(e) => e as u64,
    };
    sched::schedule(frame, false);
}

/// DebugWrite(address, length): prints user bytes on the kernel console.
fn debug_write(vspace: crate::mem::paging::PageTable, address: u64, length: u64) -> Result<(), Error> {
    if length > DEBUG_WRITE_MAX {
        return Err(Error::InvalidArgument);
    }
    let mut buffer = [0u8; DEBUG_WRITE_MAX as usize];
    let bytes = &mut buffer[..length as usize];
    UserSlice::new(vspace, address, length).read(bytes)?;
    crate::log::write_raw(bytes);
    Ok(())
}

/// Call on a capability. Until the capability space lands (issue 4), the only capability
/// is the caller's own TCB in [`SLOT_TCB`].
fn call(tcb: &mut crate::thread::Tcb) -> Result<(), Error> {
    if tcb.context.rdi != SLOT_TCB {
        return Err(Error::InvalidCapability);
    }
    let info = MessageInfo(tcb.context.rsi);
    match Label::try_from(info.label()) {
        Ok(Label::TcbSuspend) => {
            crate::thread_exit::suspend(tcb);
            Ok(())
        }
        _ => Err(Error::IllegalOperation),
    }
}
