//! x86_64 specifics behind a fixed set of names: `serial`, `gdt`, `entry`, `trap`,
//! `syscall`, `apic`, `power`.

pub mod apic;
pub mod entry;
pub mod gdt;
pub mod power;
pub mod serial;
pub mod syscall;
pub mod trap;

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// CR4 protections the kernel turned on (the CPU's own bits), for the boot line and tests.
static PROTECTIONS: AtomicU64 = AtomicU64::new(0);

/// CPUID.(EAX=7, ECX=0): EBX bit 7 SMEP, EBX bit 20 SMAP, ECX bit 2 UMIP.
fn structured_features() -> (u32, u32) {
    // Leaf 7 is read only when leaf 0 says it exists.
    let max_leaf = core::arch::x86_64::__cpuid(0).eax;
    if max_leaf < 7 {
        return (0, 0);
    }
    let leaf7 = core::arch::x86_64::__cpuid_count(7, 0);
    (leaf7.ebx, leaf7.ecx)
}

/// Control-register policy, set once at boot:
///
/// - **Write protection** in ring 0.
/// - **No FPU, SSE or AVX in user mode.** The kernel does not save FPU state yet, so every
///   FPU/SSE/AVX instruction must fault rather than leak register contents between threads:
///   CR0.EM and CR0.TS set (x87 raises #NM), CR4.OSFXSR cleared (SSE raises #UD),
///   CR4.OSXSAVE cleared (VEX-encoded AVX instructions and `xgetbv` raise #UD, whatever
///   the firmware enabled in XCR0).
/// - **SMEP and SMAP** where the CPU has them: ring 0 never executes, reads or writes a
///   user page (the kernel reaches user memory only through the HHDM, see `uaccess.rs`,
///   and the entry stubs clear RFLAGS.AC, which a user could have set).
/// - **UMIP** where the CPU has it: `sgdt`, `sidt`, `sldt`, `smsw` and `str` raise #GP in
///   user mode instead of revealing kernel addresses.
/// - `rdtsc` allowed in user mode (benchmarks read it).
/// - Debug registers cleared (DR7 = 0): no breakpoint the firmware left can fire in the
///   kernel.
pub fn cpu_init() {
    let (ebx, ecx) = structured_features();
    let mut wanted = Cr4Flags::empty();
    if ebx & (1 << 7) != 0 {
        wanted |= Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION;
    }
    if ebx & (1 << 20) != 0 {
        wanted |= Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION;
    }
    if ecx & (1 << 2) != 0 {
        wanted |= Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION;
    }
    // SAFETY: these bits change only the fault behaviour of FPU/SSE/AVX instructions
    // (which neither the kernel nor userspace, built for soft-float, executes), write
    // protection, which the kernel relies on, and supervisor access to user pages, which
    // the kernel never makes (it reaches user memory through the HHDM). Each CR4 feature
    // bit is set only when CPUID reports it. Clearing DR7 disables breakpoints.
    unsafe {
        Cr0::update(|f| {
            f.insert(
                Cr0Flags::WRITE_PROTECT
                    | Cr0Flags::EMULATE_COPROCESSOR
                    | Cr0Flags::MONITOR_COPROCESSOR
                    | Cr0Flags::TASK_SWITCHED,
            );
        });
        Cr4::update(|f| {
            f.remove(
                Cr4Flags::OSFXSR
                    | Cr4Flags::OSXMMEXCPT_ENABLE
                    | Cr4Flags::OSXSAVE
                    | Cr4Flags::TIMESTAMP_DISABLE,
            );
            f.insert(wanted);
        });
        core::arch::asm!("xor {0:e}, {0:e}", "mov dr7, {0}", "mov dr6, {0}", out(reg) _);
    }
    PROTECTIONS.store(wanted.bits(), Ordering::Relaxed);
}

/// Names the protections [`cpu_init`] could turn on, for the boot log.
pub fn protections() -> &'static str {
    let bits = Cr4Flags::from_bits_truncate(PROTECTIONS.load(Ordering::Relaxed));
    let smep = bits.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION);
    let smap = bits.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION);
    let umip = bits.contains(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION);
    match (smep, smap, umip) {
        (true, true, true) => "SMEP, SMAP, UMIP",
        (true, true, false) => "SMEP, SMAP (no UMIP on this CPU)",
        (true, false, true) => "SMEP, UMIP (no SMAP on this CPU)",
        (false, true, true) => "SMAP, UMIP (no SMEP on this CPU)",
        (true, false, false) => "SMEP (no SMAP, UMIP on this CPU)",
        (false, true, false) => "SMAP (no SMEP, UMIP on this CPU)",
        (false, false, true) => "UMIP (no SMEP, SMAP on this CPU)",
        (false, false, false) => "none (no SMEP, SMAP, UMIP on this CPU)",
    }
}
