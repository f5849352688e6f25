//! The GDT and TSS: kernel and user segments laid out for SYSCALL/SYSRET, and the
//! interrupt stacks (IST) for double fault, NMI, machine check and debug traps.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::{PrivilegeLevel, VirtAddr};

/// Kernel code selector (GDT index 1).
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector (GDT index 2).
pub const KERNEL_DS: u16 = 0x10;
/// User data selector with RPL 3 (GDT index 3): SYSRET loads SS = STAR[63:48] + 8.
pub const USER_DS: u16 = 0x18 | 3;
/// User code selector with RPL 3 (GDT index 4): SYSRET loads CS = STAR[63:48] + 16.
pub const USER_CS: u16 = 0x20 | 3;

/// IST slot (1-based in the IDT, 0-based in the TSS) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
/// IST slot for NMIs.
pub const NMI_IST: u16 = 2;
/// IST slot for machine checks.
pub const MACHINE_CHECK_IST: u16 = 3;
/// IST slot for debug traps (#DB): one can arrive in ring 0 on the first instruction of
/// an entry, before the stub has switched away from the user's stack.
pub const DEBUG_IST: u16 = 4;

const STACK_SIZE: usize = 64 * 1024;
/// Offset of the top of [`BOOT_STACK`] from its start (for the entry code).
pub const STACK_TOP_OFFSET: usize = Stack::<STACK_SIZE>::TOP_OFFSET;
const IST_STACK_SIZE: usize = 16 * 1024;

/// Size of the guard page below every kernel stack.
pub const GUARD_SIZE: usize = 4096;

/// A kernel stack with a guard page below it: page-aligned, writable storage (the
/// `UnsafeCell` keeps it out of `.rodata`; only the CPU writes it, through the stack
/// pointer). `kmem::init` leaves the guard page unmapped in the kernel image's mapping, so
/// running off the bottom faults (a #PF, then a #DF on its own stack, reported) instead
/// of overwriting the statics below.
#[repr(C, align(4096))]
pub struct Stack<const N: usize> {
    guard: UnsafeCell<[u8; GUARD_SIZE]>,
    stack: UnsafeCell<[u8; N]>,
}

// SAFETY: a stack is used by exactly one context at a time (one CPU); Rust code never
// reads or writes it through this value.
unsafe impl<const N: usize> Sync for Stack<N> {}

impl<const N: usize> Stack<N> {
    /// Bytes from the start of the value to the top of the stack.
    pub const TOP_OFFSET: usize = GUARD_SIZE + N;

    /// A zeroed stack.
    pub const fn new() -> Self {
        Stack {
            guard: UnsafeCell::new([0; GUARD_SIZE]),
            stack: UnsafeCell::new([0; N]),
        }
    }

    /// The address one past the top (stacks grow down).
    pub fn top(&'static self) -> u64 {
        self.stack.get() as u64 + N as u64
    }

    /// The address of the guard page.
    pub fn guard(&'static self) -> u64 {
        self.guard.get() as u64
    }
}

/// The kernel stack: every entry from user mode (interrupt or syscall) and the idle
/// loop run on it. One per CPU (one CPU for now).
pub static KERNEL_STACK: Stack<STACK_SIZE> = Stack::new();
static DOUBLE_FAULT_STACK: Stack<IST_STACK_SIZE> = Stack::new();
static NMI_STACK: Stack<IST_STACK_SIZE> = Stack::new();
static MACHINE_CHECK_STACK: Stack<IST_STACK_SIZE> = Stack::new();
static DEBUG_STACK: Stack<IST_STACK_SIZE> = Stack::new();

/// The idle loop's stack (interrupts taken while idle are handled on it).
pub static IDLE_STACK: Stack<IST_STACK_SIZE> = Stack::new();
/// The boot stack (`kmain` runs on it until the first thread starts).
pub static BOOT_STACK: Stack<STACK_SIZE> = Stack::new();

/// The guard page of every kernel stack, for `kmem::init` to leave unmapped.
pub fn stack_guards() -> [u64; 7] {
    [
        KERNEL_STACK.guard(),
        DOUBLE_FAULT_STACK.guard(),
        NMI_STACK.guard(),
        MACHINE_CHECK_STACK.guard(),
        DEBUG_STACK.guard(),
        IDLE_STACK.guard(),
        BOOT_STACK.guard(),
    ]
}
/// Top of [`KERNEL_STACK`], read by the entry stubs.
pub static KERNEL_STACK_TOP: AtomicU64 = AtomicU64::new(0);
/// The TSS: written at boot, then only its `rsp0` (on every thread switch).
struct TssCell(UnsafeCell<TaskStateSegment>);

// SAFETY: one CPU; the kernel writes the TSS with interrupts off, and the CPU reads `rsp0`
// only on a ring 3 -> 0 transition, never while the kernel runs.
unsafe impl Sync for TssCell {}

static TSS: TssCell = TssCell(UnsafeCell::new(TaskStateSegment::new()));
static GDT: Once<GlobalDescriptorTable> = Once::new();

/// Sets `TSS.rsp0`: where the CPU saves a user context on an interrupt.
#[inline(always)]
pub fn set_rsp0(value: u64) {
    // rsp0 is at byte 4 of the (packed) 64-bit TSS, so it is written unaligned.
    let rsp0 = TSS.0.get().cast::<u8>().wrapping_add(4).cast::<u64>();
    // SAFETY: `rsp0` points into the static TSS (see `TssCell` for why nothing else
    // touches it concurrently).
    unsafe { rsp0.write_unaligned(value) };
}

/// Builds and loads the GDT and TSS, and reloads every segment register.
pub fn init() {
    KERNEL_STACK_TOP.store(KERNEL_STACK.top(), Ordering::Relaxed);
    // SAFETY: boot runs once, on one CPU, before the TSS is loaded: nothing else refers to it.
    let tss: &'static TaskStateSegment = unsafe {
        let tss = &mut *TSS.0.get();
        tss.privilege_stack_table[0] = VirtAddr::new(KERNEL_STACK.top());
        tss.interrupt_stack_table[(DOUBLE_FAULT_IST - 1) as usize] =
            VirtAddr::new(DOUBLE_FAULT_STACK.top());
        tss.interrupt_stack_table[(NMI_IST - 1) as usize] = VirtAddr::new(NMI_STACK.top());
        tss.interrupt_stack_table[(MACHINE_CHECK_IST - 1) as usize] =
            VirtAddr::new(MACHINE_CHECK_STACK.top());
        tss.interrupt_stack_table[(DEBUG_IST - 1) as usize] = VirtAddr::new(DEBUG_STACK.top());
        tss
    };
    let gdt = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kcs = gdt.append(Descriptor::kernel_code_segment());
        let kds = gdt.append(Descriptor::kernel_data_segment());
        let uds = gdt.append(Descriptor::user_data_segment());
        let ucs = gdt.append(Descriptor::user_code_segment());
        gdt.append(Descriptor::tss_segment(tss));
        debug_assert_eq!(
            (kcs.0, kds.0, uds.0 | 3, ucs.0 | 3),
            (KERNEL_CS, KERNEL_DS, USER_DS, USER_CS)
        );
        gdt
    });
    gdt.load();
    // SAFETY: the selectors name the descriptors just appended to the loaded GDT.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CS));
        DS::set_reg(SegmentSelector(KERNEL_DS));
        ES::set_reg(SegmentSelector(KERNEL_DS));
        SS::set_reg(SegmentSelector(KERNEL_DS));
        load_tss(SegmentSelector::new(5, PrivilegeLevel::Ring0));
    }
}

/// A user thread's FS and GS bases (thread-local storage). The kernel itself never uses FS
/// or GS (no `swapgs`), so the user's values stay loaded while the kernel runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentBases {
    /// FS base.
    pub fs: u64,
    /// GS base.
    pub gs: u64,
    /// `fs | gs`: 0 when both are 0, as for most threads (private, so that every value is
    /// made by [`SegmentBases::new`] and this stays true).
    either: u64,
}

impl SegmentBases {
    /// Bases `fs` and `gs`.
    pub const fn new(fs: u64, gs: u64) -> Self {
        SegmentBases {
            fs,
            gs,
            either: fs | gs,
        }
    }
}

const IA32_FS_BASE: u32 = 0xc000_0100;
const IA32_GS_BASE: u32 = 0xc000_0101;

/// Loads a thread's FS and GS bases, after nulling the FS and GS selectors (which the
/// previous thread may have loaded: a selector is thread state too). Used on every switch
/// in the scheduler; bases must be canonical (`TcbSetTlsBase` checks them).
pub fn load_segment_bases(bases: &SegmentBases) {
    // SAFETY: a null selector is always valid in FS and GS in 64-bit mode; the MSR writes
    // take canonical values (the only values a TCB can hold), and the kernel never uses
    // FS or GS itself, so changing them affects only user mode.
    unsafe {
        core::arch::asm!(
            "mov fs, {0:x}",
            "mov gs, {0:x}",
            in(reg) 0u64,
            options(nostack, preserves_flags)
        );
        x86_64::registers::model_specific::Msr::new(IA32_FS_BASE).write(bases.fs);
        x86_64::registers::model_specific::Msr::new(IA32_GS_BASE).write(bases.gs);
    }
}

/// The IPC fast path's switch: loads `next`'s bases only if they differ from `previous`'s
/// (when both threads have none, the usual case, that is one test). Both point into live
/// TCBs (`TcbPtr::segment_bases_ptr`); they are read by value, one field at a time.
#[inline(always)]
pub fn switch_segment_bases(previous: *const SegmentBases, next: *const SegmentBases) {
    // SAFETY: both point at the bases of live TCBs (the caller's); place reads, no
    // reference.
    let (a, b) = unsafe { ((*previous).either, (*next).either) };
    if a | b != 0 {
        switch_segment_bases_compared(previous, next);
    }
}

/// The rest of [`switch_segment_bases`], out of line (so that the usual case keeps no
/// values live for it).
#[cold]
#[inline(never)]
fn switch_segment_bases_compared(previous: *const SegmentBases, next: *const SegmentBases) {
    // SAFETY: as in `switch_segment_bases`; copies by value.
    let (previous, next) = unsafe { (*previous, *next) };
    if previous != next {
        load_segment_bases(&next);
    }
}
