//! The jump into the kernel, in the Limine entry state.
//!
//! Order matters: the GDT is reloaded (through its HHDM alias) and the segment registers
//! with it while still on the loader's stack; then the code continues at the HHDM alias of
//! `handover_trampoline`, which is mapped in both the loader's and the kernel's tables, so it
//! survives the CR3 switch even when the kernel's tables have no identity map (base revision
//! 1 and up). The trampoline switches CR3 and the stack, pushes the null return address and
//! the entry, zeroes every other general-purpose register, and `ret`s into the kernel.

core::arch::global_asm!(
    r#"
    .section .text
    .global handover_jump
handover_jump:
    /* rdi = cr3, rsi = stack top (HHDM), rdx = entry, rcx = HHDM offset, r8 = GDTR */
    cli
    cld
    lgdt (%r8)
    lea 1f(%rip), %rax
    pushq $0x28
    push %rax
    lretq
1:
    mov $0x30, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    lea handover_trampoline(%rip), %rax
    add %rcx, %rax
    jmp *%rax
handover_trampoline:
    mov %rdi, %cr3
    mov %rsi, %rsp
    pushq $0
    push %rdx
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    ret
"#,
    options(att_syntax)
);

// SAFETY: `handover_jump` is defined in the assembly above with this signature (System V:
// five arguments in rdi, rsi, rdx, rcx, r8) and never returns.
unsafe extern "C" {
    fn handover_jump(cr3: u64, stack_top: u64, entry: u64, hhdm: u64, gdtr: *const Gdtr) -> !;
}

/// A GDTR image.
#[repr(C, packed)]
pub struct Gdtr {
    /// Size - 1.
    pub limit: u16,
    /// Linear address.
    pub base: u64,
}

/// IA32_PAT as the Limine protocol specifies: PAT0 WB, 1 WT, 2 UC-, 3 UC, 4 WP, 5 WC,
/// 6 UC-, 7 UC.
const PAT_VALUE: u64 = 0x0007_0105_0007_0406;
const IA32_PAT: u32 = 0x277;

/// What the kernel is entered with.
pub struct Handover {
    /// PML4 physical address.
    pub cr3: u64,
    /// Stack top (HHDM virtual, 16-byte aligned).
    pub stack_top: u64,
    /// Entry point.
    pub entry: u64,
    /// HHDM offset (for the trampoline alias and the GDT base).
    pub hhdm: u64,
}

/// Sets the PAT, masks the legacy PICs and jumps. Never returns.
///
/// # Safety
/// `cr3` must map the kernel, the HHDM (including this loader and the stack) as the
/// kernel expects; `entry` must be the kernel's entry point.
pub unsafe fn enter_kernel(handover: &Handover) -> ! {
    use super::port::outb;
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    // SAFETY: writing the architectural PAT MSR with valid memory types; caching of
    // existing mappings (all PAT0 = WB) is unchanged.
    unsafe {
        core::arch::asm!(
            "wrmsr",
            in("ecx") IA32_PAT,
            in("eax") PAT_VALUE as u32,
            in("edx") (PAT_VALUE >> 32) as u32,
            options(nomem, nostack, preserves_flags)
        );
    }
    let (gdt, limit) = super::entry::gdt();
    let gdtr = Gdtr {
        limit,
        base: gdt + handover.hhdm,
    };
    // SAFETY: the caller vouches for the tables and entry; the GDT alias is mapped in the
    // current tables (PML4 slot 256 mirrors the identity map) and in the kernel's HHDM.
    unsafe {
        handover_jump(
            handover.cr3,
            handover.stack_top,
            handover.entry,
            handover.hhdm,
            &gdtr,
        )
    }
}
