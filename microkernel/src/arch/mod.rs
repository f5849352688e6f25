//! x86_64 specifics behind a fixed set of names: `serial`, `gdt`, `entry`, `trap`,
//! `syscall`, `apic`, `power`.

pub mod apic;
pub mod entry;
pub mod gdt;
pub mod power;
pub mod serial;
pub mod syscall;
pub mod trap;

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// Control-register policy: write protection in ring 0, no SSE or x87 in user mode (the
/// kernel does not save FPU state yet, so any FPU/SSE instruction must fault rather than
/// leak state between threads: x87 raises #NM, SSE #UD), and `rdtsc` allowed in user mode
/// (benchmarks read it).
pub fn cpu_init() {
    // SAFETY: these bits change only fault behaviour of FPU/SSE instructions (which neither
    // the kernel nor userspace, built for soft-float, executes) and write protection, which
    // the kernel relies on.
    unsafe {
        Cr0::update(|f| {
            f.insert(
                Cr0Flags::WRITE_PROTECT
                    | Cr0Flags::EMULATE_COPROCESSOR
                    | Cr0Flags::MONITOR_COPROCESSOR,
            );
        });
        Cr4::update(|f| {
            f.remove(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE | Cr4Flags::TIMESTAMP_DISABLE);
        });
    }
}
