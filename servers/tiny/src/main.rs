//! `tiny`: one page of code and nothing else (no data, no runtime): it tells procsrv it
//! exits with status 0. The hatch benchmark's child, as the 4 KB static child of the Linux
//! comparison.
#![no_std]
#![no_main]

// tiny cannot link libsys: its runtime (enabled for the other programs of the same build)
// brings its own `_start` and panic handler. The three numbers it needs, and where they
// are defined: `libsys::process::SLOT_PROCSRV` (8), `libsys::abi::Syscall::Call` (1), and
// the `MessageInfo` layout (label from bit 15, length in the low bits), from
// docs/syscalls.md.
const SLOT_PROCSRV: u64 = 8;
const SYSCALL_CALL: u64 = 1;
const EXIT_INFO: u64 = (procsrv_api::label::EXIT << 15) | 1;

core::arch::global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
_start:
    mov ${procsrv}, %edi
    mov ${info}, %esi
    xor %edx, %edx
    mov ${call}, %eax
    syscall
1:  pause
    jmp 1b
"#,
    procsrv = const SLOT_PROCSRV,
    info = const EXIT_INFO,
    call = const SYSCALL_CALL,
    options(att_syntax)
);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
