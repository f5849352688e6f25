//! System call stubs: the only place userspace executes `syscall`.

use crate::abi::{Error, MessageInfo, Syscall};
use core::arch::asm;

/// Result of a system call: `Ok` or the kernel's error code.
pub type SysResult<T = ()> = Result<T, Error>;

fn decode_error(code: u64) -> SysResult {
    if code == 0 {
        Ok(())
    } else {
        // An unknown code means a kernel/ABI mismatch; report it as InvalidSyscall.
        Err(Error::try_from(code).unwrap_or(Error::InvalidSyscall))
    }
}

/// Prints bytes on the kernel console (a debugging aid, not a console driver).
pub fn debug_write(bytes: &[u8]) -> SysResult {
    let code: u64;
    // SAFETY: the kernel reads `len` bytes at `ptr`, which are a live slice; the syscall
    // clobbers only rcx and r11 besides its outputs.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") Syscall::DebugWrite as u64 => code,
            in("rdi") bytes.as_ptr(),
            in("rsi") bytes.len(),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, readonly)
        );
    }
    decode_error(code)
}

/// Gives up the rest of this timeslice.
pub fn yield_now() {
    // SAFETY: Yield takes no arguments and clobbers rcx and r11.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") Syscall::Yield as u64 => _,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
}

/// Calls a capability with a message of up to four words in registers.
pub fn call(cptr: u64, info: MessageInfo, words: [u64; 4]) -> SysResult<(MessageInfo, [u64; 4])> {
    let (code, out_info, w0, w1, w2, w3): (u64, u64, u64, u64, u64, u64);
    // SAFETY: the kernel reads and writes only these registers; rcx and r11 are clobbered.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") Syscall::Call as u64 => code,
            inlateout("rdi") cptr => _,
            inlateout("rsi") info.0 => out_info,
            inlateout("rdx") words[0] => w0,
            inlateout("r8") words[1] => w1,
            inlateout("r9") words[2] => w2,
            inlateout("r10") words[3] => w3,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    decode_error(code)?;
    Ok((MessageInfo(out_info), [w0, w1, w2, w3]))
}
