//! Interrupts and exceptions: the trap frame, the IDT that points every vector at its stub
//! (the stubs are in [`super::entry`]), and exception reports.

use super::gdt;
use core::ptr::addr_of;

/// The registers of an interrupted context, in the order the entry code pushes them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Interrupt vector, or [`SYSCALL_VECTOR`] for a system call.
    pub vector: u64,
    /// The CPU's error code, or 0.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// The pseudo-vector recorded in frames built by the SYSCALL entry.
pub const SYSCALL_VECTOR: u64 = 0x100;

impl TrapFrame {
    /// Whether the interrupted context was user mode.
    pub fn came_from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

// SAFETY: `trap_stubs` is the label in `entry.rs` where the 256 stubs start, 16 bytes
// apart; only its address is used.
unsafe extern "C" {
    static trap_stubs: u8;
}

/// One IDT gate descriptor.
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// A present 64-bit interrupt gate (interrupts stay off in the handler), DPL 0.
    fn interrupt(handler: u64, ist: u16) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: gdt::KERNEL_CS,
            ist: ist as u8,
            type_attr: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: spin::Once<Idt> = spin::Once::new();

/// Builds and loads the IDT: every vector goes to its stub.
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = Idt([Gate::MISSING; 256]);
        // SAFETY: `trap_stubs` is defined in the global_asm above; we only take its address.
        let base = addr_of!(trap_stubs) as u64;
        for (vector, gate) in idt.0.iter_mut().enumerate() {
            let ist = match vector {
                1 => gdt::DEBUG_IST,
                2 => gdt::NMI_IST,
                8 => gdt::DOUBLE_FAULT_IST,
                18 => gdt::MACHINE_CHECK_IST,
                _ => 0,
            };
            *gate = Gate::interrupt(base + 16 * vector as u64, ist);
        }
        idt
    });
    let pointer = x86_64::structures::DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: x86_64::VirtAddr::new(idt as *const Idt as u64),
    };
    // SAFETY: the IDT is a static that lives forever and every gate points at a stub.
    unsafe { x86_64::instructions::tables::lidt(&pointer) };
}

/// Names of the CPU exceptions, for reports.
pub fn exception_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "divide error (#DE)",
        "debug (#DB)",
        "NMI",
        "breakpoint (#BP)",
        "overflow (#OF)",
        "bound range (#BR)",
        "invalid opcode (#UD)",
        "device not available (#NM)",
        "double fault (#DF)",
        "coprocessor segment overrun",
        "invalid TSS (#TS)",
        "segment not present (#NP)",
        "stack fault (#SS)",
        "general protection (#GP)",
        "page fault (#PF)",
        "reserved 15",
        "x87 floating point (#MF)",
        "alignment check (#AC)",
        "machine check (#MC)",
        "SIMD floating point (#XM)",
        "virtualization (#VE)",
        "control protection (#CP)",
        "reserved 22",
        "reserved 23",
        "reserved 24",
        "reserved 25",
        "reserved 26",
        "reserved 27",
        "hypervisor injection (#HV)",
        "VMM communication (#VC)",
        "security (#SX)",
        "reserved 31",
    ];
    NAMES.get(vector as usize).copied().unwrap_or("interrupt")
}

/// Prints a trap frame, one register group per line.
pub fn dump(frame: &TrapFrame) {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    crate::error!(
        "  vector {} ({}), error code {:#x}, rip {:#018x}, cs {:#x}, rflags {:#x}, cr2 {:#018x}",
        frame.vector,
        exception_name(frame.vector),
        frame.error_code,
        frame.rip,
        frame.cs,
        frame.rflags,
        cr2
    );
    crate::error!(
        "  rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}",
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx
    );
    crate::error!(
        "  rsi {:#018x} rdi {:#018x} rbp {:#018x} rsp {:#018x}",
        frame.rsi,
        frame.rdi,
        frame.rbp,
        frame.rsp
    );
    crate::error!(
        "  r8  {:#018x} r9  {:#018x} r10 {:#018x} r11 {:#018x}",
        frame.r8,
        frame.r9,
        frame.r10,
        frame.r11
    );
    crate::error!(
        "  r12 {:#018x} r13 {:#018x} r14 {:#018x} r15 {:#018x}",
        frame.r12,
        frame.r13,
        frame.r14,
        frame.r15
    );
}

/// RFLAGS.TF, the single-step flag.
const RFLAGS_TF: u64 = 1 << 8;

// SAFETY: `syscall_stub` is defined in `entry.rs`; only its address is used.
unsafe extern "C" {
    fn syscall_stub();
}

/// Whether `rip` is the first instruction of a kernel entry (the SYSCALL stub, or one of
/// the interrupt stubs), where a debug trap the user armed lands (see [`trap_entry`]).
fn is_entry_instruction(rip: u64) -> bool {
    // Both symbols are defined in `entry.rs`; only their addresses are taken.
    let stubs = addr_of!(trap_stubs) as u64;
    rip == syscall_stub as *const () as u64
        || (stubs..stubs + 256 * 16).contains(&rip) && (rip - stubs).is_multiple_of(16)
}

/// Rust side of every interrupt and exception; returns the frame to resume.
///
/// Two CPU behaviours are handled here, before the kernel looks at the trap:
/// - A **debug trap in ring 0 at an entry instruction.** With TF set (`popfq`, `iretq`),
///   a single-step trap that `mov ss`/`pop ss` deferred past a `syscall` or `int` is
///   delivered on the first instruction of the kernel's entry, in ring 0, before the stub
///   switched stacks (CVE-2018-8897's class). #DB runs on its own IST stack, so the CPU
///   wrote nothing at the user's rsp; the trap is dismissed (TF cleared in the ring-0
///   frame, DR6 cleared) and the entry goes on. No GS state is involved: the kernel never
///   uses `swapgs`. Any other ring-0 #DB is a kernel bug and stops the kernel.
/// - **An IST frame from user mode** (#DB, NMI): the CPU pushed it on the IST stack, not
///   in the thread's save area; it is copied there, so the thread's saved registers are
///   right whatever happens next.
pub(super) extern "C" fn trap_entry(frame: *mut TrapFrame) -> *mut TrapFrame {
    // SAFETY: the entry stubs pass the frame they just built, on the stack they run on or
    // in the current thread's save area; nothing else refers to it.
    let trap = unsafe { &mut *frame };
    if trap.vector == 1 && !trap.came_from_user() && is_entry_instruction(trap.rip) {
        trap.rflags &= !RFLAGS_TF;
        // SAFETY: clearing DR6's sticky status bits has no effect but on later reads.
        unsafe { core::arch::asm!("xor {0:e}, {0:e}", "mov dr6, {0}", out(reg) _) };
        return frame;
    }
    let save_area = super::syscall::current_save_area();
    if trap.came_from_user() && frame != save_area && !save_area.is_null() {
        // SAFETY: the save area is the current thread's `context`, which nothing uses
        // while the thread runs in user mode (it just did); the two do not overlap.
        unsafe {
            save_area.write(*trap);
            return crate::trap::handle(save_area);
        }
    }
    crate::trap::handle(frame)
}

/// The exit path found a user frame with a non-canonical rip (see `trap_return` in
/// `entry.rs`): the thread takes a general protection fault, as if it had jumped there,
/// and the scheduler picks the frame to resume.
pub(super) extern "C" fn bad_user_rip(frame: *mut TrapFrame) -> *mut TrapFrame {
    // SAFETY: `trap_return` passes the frame it was about to resume: the current
    // thread's save area (only the current thread's frame is resumed in user mode).
    let trap = unsafe { &mut *frame };
    trap.vector = 13;
    trap.error_code = 0;
    crate::trap::user_fault(trap);
    crate::sched::schedule(false)
}

// The entry assembly reads the saved cs and rip at these offsets.
const _: () = assert!(core::mem::offset_of!(TrapFrame, cs) == 144);
// The SYSCALL stub's `sysretq` exit loads registers from these offsets (entry.rs).
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(TrapFrame, r15) == 0 && offset_of!(TrapFrame, r14) == 8);
    assert!(offset_of!(TrapFrame, r13) == 16 && offset_of!(TrapFrame, r12) == 24);
    assert!(offset_of!(TrapFrame, r10) == 40 && offset_of!(TrapFrame, r9) == 48);
    assert!(offset_of!(TrapFrame, r8) == 56 && offset_of!(TrapFrame, rbp) == 64);
    assert!(offset_of!(TrapFrame, rdi) == 72 && offset_of!(TrapFrame, rsi) == 80);
    assert!(offset_of!(TrapFrame, rdx) == 88 && offset_of!(TrapFrame, rbx) == 104);
    assert!(offset_of!(TrapFrame, rax) == 112 && offset_of!(TrapFrame, rflags) == 152);
    assert!(offset_of!(TrapFrame, rsp) == 160);
    // ... and the SYSCALL stub's entry saves to these (from the frame's end).
    assert!(offset_of!(TrapFrame, r11) == 32 && offset_of!(TrapFrame, rcx) == 96);
    assert!(offset_of!(TrapFrame, vector) == 120 && offset_of!(TrapFrame, rip) == 136);
    assert!(core::mem::size_of::<TrapFrame>() == 176);
};
const _: () = assert!(core::mem::offset_of!(TrapFrame, rip) == 136);
