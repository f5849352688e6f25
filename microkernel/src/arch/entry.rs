//! Every way into and out of the kernel, in one place: the 256 interrupt/exception stubs,
//! the SYSCALL stub, and the two ways back to user mode (`iretq`, `sysretq`).
//!
//! Both entries build the same [`TrapFrame`](super::trap::TrapFrame) (the SYSCALL stub
//! leaves the selector slots, which never change, and the error code as they are): for a
//! thread, inside its TCB (`TSS.rsp0` and the SYSCALL stub's stack pointer point at the end of its save
//! area), so entering the kernel saves the thread and nothing is copied. The Rust side then
//! runs on the kernel stack and returns the frame to resume; a thread switch is a pointer
//! switch.

use super::gdt;
use super::syscall::{
    fast_call_entry, fast_reply_recv_entry, syscall_entry, SAVE_AREA_END, USER_RSP,
};
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

    // `sysretq` takes rip from rcx and RFLAGS from r11, so the user sees rcx = rip and
    // r11 = rflags: load those two from the frame's rip and rflags (the saved rcx and r11
    // are not needed), every other register from its place in the frame (offsets asserted
    // in trap.rs), and rsp last. %rsp points at the frame.
    .macro SYSRET_EXIT
    movq 0(%rsp), %r15
    movq 8(%rsp), %r14
    movq 16(%rsp), %r13
    movq 24(%rsp), %r12
    movq 40(%rsp), %r10
    movq 48(%rsp), %r9
    movq 56(%rsp), %r8
    movq 64(%rsp), %rbp
    movq 72(%rsp), %rdi
    movq 80(%rsp), %rsi
    movq 88(%rsp), %rdx
    movq 104(%rsp), %rbx
    movq 112(%rsp), %rax
    movq 136(%rsp), %rcx
    movq 152(%rsp), %r11
    movq 160(%rsp), %rsp
    sysretq
    .endm

    // The SYSCALL stubs. Both save the user's registers into the current thread's frame,
    // then go to the IPC fast path for `Call` and `ReplyRecv` with a short message (the
    // system call number is in rax, the message info in rsi) and to the general path (`syscall_entry`) for everything else and for whatever
    // the fast path refuses (it returns null then, having changed nothing). They differ in
    // how the fast path returns: `syscall_stub` with `sysretq`, `syscall_stub_iretq` (LSTAR
    // under `syscall=iretq`) through `trap_return`.
    .macro SYSCALL_STUB fast_exit
    movq %rsp, {user_rsp}(%rip)
    movq {save_area}(%rip), %rsp
    // %rsp is the end of the thread's frame (176 bytes: offsets asserted in trap.rs).
    // Interrupts are off (FMASK) and NMI, #DB, #DF and #MC run on their own IST stacks,
    // so nothing else writes below %rsp meanwhile. The frame's ss and cs slots are not
    // written: they hold the user selectors from the TCB's creation on (user mode can
    // hold no others: the GDT has one code and one data segment of DPL 3, no LDT), and
    // every trap from user mode writes the same values. The error code slot means nothing
    // for a system call. DF is already clear (FMASK), so no `cld`.
    movq %rax, -64(%rsp)
    movq %rbx, -72(%rsp)
    movq %rcx, -80(%rsp)
    movq %rdx, -88(%rsp)
    movq %rsi, -96(%rsp)
    movq %rdi, -104(%rsp)
    movq %rbp, -112(%rsp)
    movq %r8, -120(%rsp)
    movq %r9, -128(%rsp)
    movq %r10, -136(%rsp)
    movq %r11, -144(%rsp)
    movq %r12, -152(%rsp)
    movq %r13, -160(%rsp)
    movq %r14, -168(%rsp)
    movq %r15, -176(%rsp)
    // rip and rflags (SYSCALL left them in rcx and r11), the user's rsp, the vector.
    movq %rcx, -40(%rsp)
    movq %r11, -24(%rsp)
    movq {user_rsp}(%rip), %rdx
    movq %rdx, -16(%rsp)
    movq ${vector}, -56(%rsp)
    // The fast path's arguments: the frame, the message info (already in rsi), the cptr.
    movq %rdi, %rdx
    leaq -176(%rsp), %rdi
    movq {kernel_stack}(%rip), %rsp
    // A return address of 2^47 or above (a `syscall` in the last two bytes of the user
    // half) goes to the general path, which refuses it. rcx is saved: it may be clobbered.
    shrq $47, %rcx
    jnz 2f
    // The fast path takes at most 4 message words and no caps: the length field (bits
    // 0..10 of the message info in rsi) and the caps field (bits 10..12) below
    // `FAST_BOUND` in one comparison (a bound of 0 when the fast path is switched off).
    movl %esi, %r8d
    andl $0xfff, %r8d
    cmpq {fast_bound}(%rip), %r8
    jae 2f
    cmpq ${call}, %rax
    je 3f
    cmpq ${reply_recv}, %rax
    jne 2f
    call {fast_reply_recv}
    testq %rax, %rax
    jz 1f
    movq %rax, %rsp
    \fast_exit
3:
    call {fast_call}
    testq %rax, %rax
    jz 1f
    movq %rax, %rsp
    \fast_exit
1:
    // Refused by the fast path: the frame is still the current thread's.
    movq {save_area}(%rip), %rdi
    subq $176, %rdi
2:
    call {syscall_entry}
    movq %rax, %rsp
    testq %rdx, %rdx
    jz trap_return
    jmp sysret_exit
    .endm

    .section .text.syscall, "ax"
    .global syscall_stub
    .p2align 4
syscall_stub:
    SYSCALL_STUB SYSRET_EXIT

    .global syscall_stub_iretq
    .p2align 4
syscall_stub_iretq:
    SYSCALL_STUB "jmp trap_return"

    .p2align 4
sysret_exit:
    SYSRET_EXIT
"#,
    trap_entry = sym trap_entry,
    bad_user_rip = sym bad_user_rip,
    syscall_entry = sym syscall_entry,
    fast_call = sym fast_call_entry,
    fast_bound = sym crate::fastpath::FAST_BOUND,
    fast_reply_recv = sym fast_reply_recv_entry,
    call = const libsys::abi::Syscall::Call as u64,
    reply_recv = const libsys::abi::Syscall::ReplyRecv as u64,
    kernel_stack = sym gdt::KERNEL_STACK_TOP,
    user_rsp = sym USER_RSP,
    save_area = sym SAVE_AREA_END,
    vector = const SYSCALL_VECTOR,
    options(att_syntax)
);
