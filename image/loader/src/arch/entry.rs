//! The way in: a multiboot2 header and a PVH ELF note pointing at 32-bit entry points, and
//! the 32-bit code that builds temporary page tables, enters long mode and calls
//! `loader_main(protocol, eax, ebx)`.
//!
//! Temporary paging: identity map of the first 4 GiB with 2 MiB pages, the same tables also
//! at PML4 slot 256 (the HHDM base 0xffff800000000000) so the final jump can run from the
//! HHDM alias of the loader. EFER.LME always; EFER.NXE when CPUID says NX exists; CR0.WP.

/// Protocol value passed to `loader_main` when entered through the PVH note.
pub const PROTOCOL_PVH: u32 = 1;
/// Protocol value passed to `loader_main` when entered through multiboot2.
pub const PROTOCOL_MULTIBOOT2: u32 = 2;

core::arch::global_asm!(
    r#"
    .section .multiboot2, "a"
    .p2align 3
multiboot2_header:
    .long 0xe85250d6
    .long 0
    .long multiboot2_header_end - multiboot2_header
    .long 0x100000000 - (0xe85250d6 + (multiboot2_header_end - multiboot2_header))
    /* Module alignment tag: modules start on page boundaries. */
    .short 6
    .short 0
    .long 8
    /* End tag. */
    .short 0
    .short 0
    .long 8
multiboot2_header_end:

    .section .note.Xen, "a", @note
    .p2align 2
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .p2align 2
    .quad pvh_entry
    .p2align 2

    .section .data.entry, "aw"
    .p2align 2
boot_protocol:
    .long 0
boot_eax:
    .long 0
boot_ebx:
    .long 0

    .p2align 4
    .global loader_gdt
loader_gdt:
    .quad 0
    .quad 0x00009b000000ffff  /* 0x08: 16-bit code */
    .quad 0x000093000000ffff  /* 0x10: 16-bit data */
    .quad 0x00cf9b000000ffff  /* 0x18: 32-bit code */
    .quad 0x00cf93000000ffff  /* 0x20: 32-bit data */
    .quad 0x00af9b000000ffff  /* 0x28: 64-bit code */
    .quad 0x00cf93000000ffff  /* 0x30: 64-bit data */
    .global loader_gdt_end
loader_gdt_end:
loader_gdt_pointer:
    .short loader_gdt_end - loader_gdt - 1
    .quad loader_gdt

no_long_mode_message:
    .asciz "hatchery-loader: fatal: this CPU has no long mode (x86_64)\n"

    .section .bss.entry, "aw", @nobits
    .p2align 12
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
    .p2align 4
loader_stack:
    .skip 256 * 1024
loader_stack_top:

    .section .text.entry32, "ax"
    .code32
    .global pvh_entry
pvh_entry:
    mov $1, %edi
    jmp entry32_common

    .global multiboot2_entry
multiboot2_entry:
    mov $2, %edi

entry32_common:
    cli
    cld
    mov %edi, boot_protocol
    mov %eax, boot_eax
    mov %ebx, boot_ebx

    /* Zero .bss (page tables, stack, statics). */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    mov $loader_stack_top, %esp

    /* Long mode available? Keep CPUID 0x80000001 EDX in ESI for the NX bit. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode
    mov %edx, %esi

    /* PML4[0] and PML4[256] -> PDPT; PDPT[0..4] -> 4 PDs of 2 MiB pages. */
    mov $boot_pdpt + 3, %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + 256 * 8
    mov $boot_pd + 3, %eax
    mov %eax, boot_pdpt
    add $0x1000, %eax
    mov %eax, boot_pdpt + 8
    add $0x1000, %eax
    mov %eax, boot_pdpt + 16
    add $0x1000, %eax
    mov %eax, boot_pdpt + 24
    mov $boot_pd, %edi
    mov $0x83, %eax
    mov $2048, %ecx
1:
    mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    dec %ecx
    jnz 1b

    mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or $0x100, %eax                 /* LME */
    bt $20, %esi
    jnc 2f
    or $0x800, %eax                 /* NXE */
2:
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax            /* PG, WP, PE */
    mov %eax, %cr0
    lgdt loader_gdt_pointer
    ljmp $0x28, $entry64

no_long_mode:
    mov $no_long_mode_message, %esi
3:
    movb (%esi), %bl
    test %bl, %bl
    jz 5f
    mov $0x3fd, %dx
    mov $100000, %ecx
4:
    inb %dx, %al
    test $0x20, %al
    jnz 6f
    dec %ecx
    jnz 4b
6:
    mov $0x3f8, %dx
    mov %bl, %al
    outb %al, %dx
    inc %esi
    jmp 3b
5:
    cli
    hlt
    jmp 5b

    .code64
entry64:
    mov $0x30, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    lea loader_stack_top(%rip), %rsp
    mov boot_protocol(%rip), %edi
    mov boot_eax(%rip), %esi
    mov boot_ebx(%rip), %edx
    xor %ebp, %ebp
    call loader_main
    ud2
"#,
    options(att_syntax)
);

// SAFETY: the linker script and the assembly above define these symbols with these
// types; only their addresses are used.
unsafe extern "C" {
    /// First byte of the loader image (linker script).
    static __loader_start: u8;
    /// One past the loader image, page-aligned (linker script).
    static __loader_end: u8;
    /// The GDT (Limine layout; the kernel gets it through its HHDM alias).
    static loader_gdt: u8;
    /// One past the GDT.
    static loader_gdt_end: u8;
}

/// Physical range of the loader image.
pub fn loader_image() -> (u64, u64) {
    (
        core::ptr::addr_of!(__loader_start) as u64,
        core::ptr::addr_of!(__loader_end) as u64,
    )
}

/// Physical address and limit of the GDT.
pub fn gdt() -> (u64, u16) {
    let start = core::ptr::addr_of!(loader_gdt) as u64;
    let end = core::ptr::addr_of!(loader_gdt_end) as u64;
    (start, (end - start - 1) as u16)
}
