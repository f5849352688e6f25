//! A minimal IDT for the loader's own 64-bit code: every CPU exception becomes one fatal
//! line naming the vector and RIP, instead of a silent triple fault.

macro_rules! stubs {
    ($($vector:literal $kind:ident),* $(,)?) => {
        core::arch::global_asm!(
            $(stubs!(@stub $vector $kind),)*
            ".section .text",
            "exception_common:",
            "    mov rdi, rsp",
            "    and rsp, -16",
            "    call loader_exception",
            "    ud2",
            ".section .rodata",
            ".p2align 3",
            ".global exception_stub_table",
            "exception_stub_table:",
            $(concat!("    .quad exception_stub_", stringify!($vector)),)*
        );
    };
    (@stub $vector:literal plain) => {
        concat!(
            ".section .text\n",
            "exception_stub_", stringify!($vector), ":\n",
            "    push 0\n",
            "    push ", stringify!($vector), "\n",
            "    jmp exception_common\n"
        )
    };
    (@stub $vector:literal code) => {
        concat!(
            ".section .text\n",
            "exception_stub_", stringify!($vector), ":\n",
            "    push ", stringify!($vector), "\n",
            "    jmp exception_common\n"
        )
    };
}

stubs!(
    0 plain, 1 plain, 2 plain, 3 plain, 4 plain, 5 plain, 6 plain, 7 plain,
    8 code, 9 plain, 10 code, 11 code, 12 code, 13 code, 14 code, 15 plain,
    16 plain, 17 code, 18 plain, 19 plain, 20 plain, 21 code, 22 plain, 23 plain,
    24 plain, 25 plain, 26 plain, 27 plain, 28 plain, 29 code, 30 code, 31 plain,
);

const EXCEPTIONS: usize = 32;
const CODE_SELECTOR: u16 = 0x28;
const INTERRUPT_GATE: u8 = 0x8e;

// SAFETY: the assembly above defines `exception_stub_table` as EXCEPTIONS quad words
// (the stub addresses); it is only read.
unsafe extern "C" {
    static exception_stub_table: [u64; EXCEPTIONS];
}

/// What the stubs and the CPU pushed.
#[repr(C)]
pub struct ExceptionFrame {
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

#[repr(C, align(16))]
struct Idt([u64; 2 * EXCEPTIONS]);

static mut IDT: Idt = Idt([0; 2 * EXCEPTIONS]);

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Fills and loads the IDT.
pub fn install() {
    // SAFETY: single-threaded, interrupts off; IDT is only touched here, before any
    // exception can be delivered through it, and the stubs table is defined above.
    unsafe {
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        for (vector, handler) in exception_stub_table.iter().enumerate() {
            let low = (handler & 0xffff)
                | (u64::from(CODE_SELECTOR) << 16)
                | (u64::from(INTERRUPT_GATE) << 40)
                | ((handler >> 16) & 0xffff) << 48;
            idt.0[2 * vector] = low;
            idt.0[2 * vector + 1] = handler >> 32;
        }
        let pointer = Pointer {
            limit: (core::mem::size_of::<Idt>() - 1) as u16,
            base: idt.0.as_ptr() as u64,
        };
        core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags));
    }
}

fn name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "NMI",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 error",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD error",
        _ => "reserved exception",
    }
}

/// Called by the stubs with the frame; never returns.
#[unsafe(no_mangle)]
extern "C" fn loader_exception(frame: &ExceptionFrame) -> ! {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe {
        core::arch::asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags));
    }
    crate::fatal!(
        "CPU exception {} ({}) at rip {:#x}, error code {:#x}, cr2 {:#x}, rsp {:#x}",
        frame.vector,
        name(frame.vector),
        frame.rip,
        frame.error_code,
        cr2,
        frame.rsp
    );
}
