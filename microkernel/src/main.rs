//! # The Hatchery microkernel
//!
//! A capability microkernel in the style of seL4, for x86_64. Design principles:
//!
//! 1. **Mechanism only.** The kernel knows threads, address spaces, capabilities and
//!    messages. Processes, files, names and every other policy live in userspace servers.
//! 2. **One entry path.** The kernel boots only through the Limine protocol
//!    ([`boot`]); other boot paths (PVH, multiboot2) go through the direct-boot loader,
//!    which hands over exactly as Limine does.
//! 3. **Decode, then invoke.** Every system call is fully validated before any state
//!    changes; no value from userspace can panic the kernel.
//! 4. **User memory is an allegation.** User pointers are checked and copied at one door
//!    ([`uaccess`]); the kernel never dereferences a user address.
//! 5. **No allocation on behalf of users.** The kernel has no heap; user objects are made
//!    from untyped memory that userspace holds.
//!
//! Boot output ends with the line `HATCHERY READY` once the root task is about to run.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod arch;
mod boot;
mod counters;
mod fastpath;
mod idle;
mod ipc;
mod kmem;
mod ktest;
mod log;
mod mem;
mod object;
mod platform;
mod queue;
mod rootask;
mod sched;
mod syscall;
mod thread;
mod time;
mod trap;
mod uaccess;

use boot::Options;
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Once;

/// The kernel version, for the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The line that tells scripts the system is up.
pub const READY_LINE: &str = "HATCHERY READY";

static OPTIONS: Once<Options> = Once::new();
/// Set when anything that should fail the run has happened (a failed in-kernel test).
static FAILED: AtomicBool = AtomicBool::new(false);

/// Command-line options (defaults until parsed).
pub fn options() -> Options {
    OPTIONS.get().copied().unwrap_or_default()
}

/// Records a failure that should make the run fail when it finishes.
pub fn mark_failed() {
    FAILED.store(true, Ordering::Relaxed);
}

/// Ends the run: powers the VM off with success or failure when `exit` is set, else halts.
pub fn finish(success: bool) -> ! {
    let ok = success && !FAILED.load(Ordering::Relaxed);
    if options().exit {
        arch::power::exit_vm(if ok {
            arch::power::EXIT_SUCCESS
        } else {
            arch::power::EXIT_FAILURE
        });
    }
    arch::power::halt_forever()
}

/// Stops the boot with one clear line.
pub fn fatal(why: core::fmt::Arguments) -> ! {
    error!("hatchery: fatal: {why}");
    finish(false)
}

// The entry point: switch to the kernel's own boot stack and call `kernel_main`.
core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global kmain
kmain:
    leaq {stack}(%rip), %rsp
    addq ${size}, %rsp
    xorl %ebp, %ebp
    call {main}
    ud2
"#,
    stack = sym arch::gdt::BOOT_STACK,
    size = const arch::gdt::STACK_TOP_OFFSET,
    main = sym kernel_main,
    options(att_syntax)
);

// SAFETY: `trap_return` is the label in `arch/entry.rs` that pops a `TrapFrame` and
// `iretq`s; it is only jumped to (with rsp at a frame), never called.
unsafe extern "C" {
    fn trap_return() -> !;
}

/// Boots the kernel; never returns.
extern "C" fn kernel_main() -> ! {
    log::init();
    let options = *OPTIONS.call_once(|| Options::parse(boot::cmdline()));
    let facts = match boot::collect() {
        Ok(f) => f,
        Err(e) => fatal(format_args!("{e}")),
    };
    info!(
        "Hatchery {VERSION} (booted by {} {}; cmdline \"{}\")",
        facts.bootloader.0, facts.bootloader.1, facts.cmdline
    );
    arch::gdt::init();
    arch::trap::init();
    arch::cpu_init();
    if let Err(e) = kmem::init(&facts) {
        fatal(format_args!("memory setup failed: {e:?}"));
    }
    let usable: u64 = facts
        .regions
        .iter()
        .filter(|r| r.kind == boot::RegionKind::Usable)
        .map(|r| r.length)
        .sum();
    info!(
        "memory: {} MiB usable in {} regions; kernel at {:#x} (phys {:#x}), HHDM at {:#x}",
        usable >> 20,
        facts.regions.len(),
        facts.kernel_virt,
        facts.kernel_phys,
        facts.hhdm_offset
    );
    let platform = platform::discover(facts.rsdp_phys);
    info!(
        "platform: {} CPU(s), {} I/O APIC(s), {} IRQ override(s) from {}",
        platform.cpus,
        platform.ioapics.len(),
        platform.overrides.len(),
        platform.source
    );
    platform::remember(&platform);
    if let Err(e) = arch::apic::init(&platform) {
        fatal(format_args!("APIC setup failed: {e:?}"));
    }
    info!(
        "time: time-stamp counter {} kHz (measured against the PIT; the unit of deadlines)",
        time::frequency() / 1000
    );
    arch::syscall::init(options.iretq);
    info!("cpu: protections {}", arch::protections());
    info!(
        "syscalls: SYSCALL entry, return by {}",
        if options.iretq {
            "iretq (syscall=iretq)"
        } else {
            "sysretq"
        }
    );

    if options.test {
        ktest::run_all();
    }
    if options.crash {
        warn!("crash=pagefault: reading an unmapped address on purpose");
        // SAFETY: page 0 is never mapped in the kernel's tables, so this read observes no
        // memory: it faults, and the exception handler reports it and stops the kernel,
        // which is what this test hook is for.
        let value = unsafe { core::ptr::read_volatile(0x10 as *const u64) };
        error!("crash=pagefault: the read returned {value:#x} instead of faulting");
    }
    if options.crash_stack {
        warn!("crash=stack: overflowing the boot stack on purpose");
        let depth = recurse(0);
        error!("crash=stack: recursed {depth} times without reaching the guard page");
    }

    let Some(archive) = facts.archive else {
        fatal(format_args!(
            "no boot archive module (the bootloader passed no module named `archive`)"
        ));
    };
    // SAFETY: the bootloader loaded the module there; it is mapped in the HHDM and the
    // kernel never frees or reuses it.
    let archive_bytes = unsafe {
        core::slice::from_raw_parts(
            mem::phys_to_virt(archive.phys) as *const u8,
            archive.length as usize,
        )
    };
    let used_kib = kmem::KERNEL_MEMORY
        .lock()
        .as_ref()
        .map(|k| k.frames.allocated_frames() * 4)
        .unwrap_or(0);
    let root = match rootask::load(archive_bytes, archive.phys) {
        Ok(r) => r,
        Err(e) => fatal(format_args!("{e}")),
    };
    if options.crash_root_task {
        warn!("crash=roottask: the root task starts at address 0 on purpose");
        // SAFETY: `root.tcb` is the freshly made root TCB; nothing runs it yet.
        unsafe { (*root.tcb).context.rip = 0 };
    }
    rootask::remember(root.tcb);
    // SAFETY: `root.tcb` is a freshly made TCB.
    unsafe { sched::SCHEDULER.lock().make_runnable(root.tcb) };
    info!(
        "root task: {}; kernel used {used_kib} KiB at boot; {} untyped caps ({} KiB) handed to the root task",
        root.name,
        root.untyped.0,
        root.untyped.1 >> 10
    );
    info!("{READY_LINE}");
    if options.stray_interrupt {
        warn!(
            "stray-interrupt: sending vector {} to this CPU on purpose",
            arch::apic::STRAY_TEST_VECTOR
        );
        arch::apic::send_self_interrupt(arch::apic::STRAY_TEST_VECTOR);
    }
    start_scheduling()
}

/// Recurses with a 1 KiB frame until the stack overflows (the `crash=stack` test hook).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 128];
    // The frame is used through a black box, so neither the frame nor the recursion can be
    // optimised away; the depth bound is far beyond any kernel stack.
    core::hint::black_box(&mut frame);
    if depth > 1 << 20 {
        return depth;
    }
    recurse(depth + 1) + frame[5]
}

/// Leaves the boot stack for good: resumes the first thread's frame.
fn start_scheduling() -> ! {
    let frame_addr = sched::schedule(false) as u64;
    // SAFETY: `frame_addr` is a complete saved context (the first thread's, in its TCB);
    // trap_return pops it and irets.
    unsafe {
        core::arch::asm!("mov rsp, {}", "jmp {}", in(reg) frame_addr, sym trap_return, options(noreturn))
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    // SAFETY: single CPU, interrupts off, and we never return: nobody else uses the console.
    unsafe { log::force_unlock() };
    match info.location() {
        Some(l) => error!(
            "hatchery: PANIC: {} at {}:{}",
            info.message(),
            l.file(),
            l.line()
        ),
        None => error!("hatchery: PANIC: {}", info.message()),
    }
    finish(false)
}
