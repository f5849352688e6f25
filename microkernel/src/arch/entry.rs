//! Every way into and out of the kernel, in one place: the 256 interrupt/exception stubs,
//! the SYSCALL stub, and the two ways back to user mode (`iretq`, `sysretq`).
//!
//! Both entries build the same [`TrapFrame`](super::trap::TrapFrame): for a thread, inside
//! its TCB (`TSS.rsp0` and the SYSCALL stub's stack pointer point at the end of its save
//! area), so entering the kernel saves the thread and nothing is copied. The Rust side then
//! runs on the kernel stack and returns the frame to resume; a thread switch is a pointer
//! switch.

use super::gdt;
use super::syscall::{syscall_entry, SAVE_AREA_END, USER_RSP};
use super::trap::{bad_user_rip, trap_entry, SYSCALL_VECTOR};
use core::arch::global_asm;

global_asm!(
    r#"
    .macro SAVE_GPRS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    .endm

    .macro RESTORE_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    .endm

    .section .text.trap, "ax"

    // The 256 stubs, 16 bytes apart starting at `trap_stubs`: each pushes an error code
    // (0 where the CPU pushes none) and its vector.
    .global trap_stubs
    .p2align 4
trap_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17 || vec == 21 || vec == 29 || vec == 30
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    SAVE_GPRS
    cld
    // An interrupt gate keeps RFLAGS.AC, which user mode can set: with it set, SMAP would
    // let the kernel touch user pages. Clear it (SYSCALL clears it through FMASK).
    pushfq
    andq $~(1 << 18), (%rsp)
    popfq
    movq %rsp, %rdi
    // From user mode the frame is in the TCB: switch to the kernel stack. From kernel
    // mode (the idle loop) stay where we are.
    testb $3, 144(%rsp)
    jz 1f
    movq {kernel_stack}(%rip), %rsp
1:
    call {trap_entry}
    movq %rax, %rsp
    // The one `iretq` back to any context. A user frame whose rip is not canonical
    // (2^47 and up: a single-step trap after the last user byte, a fault handler's reply,
    // a resumed thread) would make `iretq` fault in ring 0 with rsp inside the TCB: such
    // a frame becomes a #GP fault of its thread instead, and the scheduler picks again.
    .global trap_return
trap_return:
    testb $3, 144(%rsp)
    jz 2f
    movq 136(%rsp), %rax
    shrq $47, %rax
    jnz 3f
2:
    RESTORE_GPRS
    addq $16, %rsp
    iretq
3:
    movq %rsp, %rdi
    movq {kernel_stack}(%rip), %rsp
    call {bad_user_rip}
    movq %rax, %rsp
    jmp trap_return

    .section .text.syscall, "ax"
    .global syscall_stub
    .p2align 4
syscall_stub:
    movq %rsp, {user_rsp}(%rip)
    movq {save_area}(%rip), %rsp
    pushq ${user_ds}
    pushq {user_rsp}(%rip)
    pushq %r11
    pushq ${user_cs}
    pushq %rcx
    pushq $0
    pushq ${vector}
    SAVE_GPRS
    cld
    movq %rsp, %rdi
    movq {kernel_stack}(%rip), %rsp
    call {syscall_entry}
    movq %rax, %rsp
    testq %rdx, %rdx
    jz trap_return
    RESTORE_GPRS
    movq 16(%rsp), %rcx
    movq 32(%rsp), %r11
    movq 40(%rsp), %rsp
    sysretq
"#,
    trap_entry = sym trap_entry,
    bad_user_rip = sym bad_user_rip,
    syscall_entry = sym syscall_entry,
    kernel_stack = sym gdt::KERNEL_STACK_TOP,
    user_rsp = sym USER_RSP,
    save_area = sym SAVE_AREA_END,
    user_ds = const gdt::USER_DS,
    user_cs = const gdt::USER_CS,
    vector = const SYSCALL_VECTOR,
    options(att_syntax)
);
