//! CPU behaviours the kernel defends against (docs/kernel.md, *CPU behaviours*): returns to
//! a non-canonical rip, debug traps at the kernel's entry, user instructions that reveal or
//! leak kernel state (UMIP; FPU/SSE/AVX), and the I/O ports the kernel keeps.
//!
//! Several of these only show on a CPU model that checks what QEMU TCG skips: `cargo xtask
//! test` runs them under QEMU and again under Bochs (`bochs-tests`, a CPU with SMEP, SMAP,
//! UMIP and AVX). Helper threads run hand-assembled code on the last user page
//! (`0x7fff_ffff_f000`), in our CSpace and VSpace, with a fault endpoint we hold.

use crate::check::{Fail, TestResult};
use crate::fault::await_message;
use crate::{ensure, expect_err, ok, Ctx, Test};
use libsys::abi::{Error, MessageInfo, Syscall, FAULT_LABEL};
use libsys::bootinfo::{SLOT_CNODE, SLOT_IO_PORT_CONTROL, SLOT_VSPACE};
use libsys::cap::UserRegisters;
use libsys::cap::{Cap, Endpoint, Frame, IoPortControl, Received, SlotPath, Tcb, TcbConfig};
use libsys::object::Rights;
use libsys::syscall::yield_now;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    a_reply_to_a_thread_at_a_non_canonical_rip_faults_it_again,
    a_single_step_past_the_last_user_byte_faults_the_thread,
    a_debug_trap_deferred_into_syscall_entry_does_not_use_the_user_stack,
    a_debug_trap_deferred_into_an_interrupt_gate_does_not_use_the_tcb,
    int1_in_user_mode_is_a_debug_fault_of_the_thread,
    a_thread_running_with_a_non_canonical_rsp_survives_interrupts,
    descriptor_table_instructions_fault_where_the_cpu_has_umip,
    avx_and_sse_instructions_fault_in_user_mode,
    the_kernels_io_ports_are_never_issued,
    issuing_com1_hands_the_console_over_until_its_cap_is_gone,
    each_thread_has_its_own_fs_and_gs_base,
];

/// The last page of the user half.
const PAGE: u64 = 0x7fff_ffff_f000;
/// The first address past the user half.
const USER_END: u64 = 0x8000_0000_0000;
/// A kernel-half address a hostile thread points its stack at (the HHDM, low memory).
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_9000;
const VECTOR_DEBUG: u64 = 1;
const VECTOR_INVALID_OPCODE: u64 = 6;
const VECTOR_NOT_AVAILABLE: u64 = 7;
const VECTOR_GENERAL_PROTECTION: u64 = 13;
/// RFLAGS: IF and the always-one bit.
const RFLAGS: u64 = 0x202;

const STACK_SIZE: usize = 16384;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// The helper thread's stack.
static mut HELPER_STACK: Stack = Stack([0; STACK_SIZE]);

fn stack_top() -> u64 {
    // Only the address of the static is taken; no reference is formed.
    let base = core::ptr::addr_of!(HELPER_STACK) as u64;
    base + STACK_SIZE as u64 - 64
}

/// A helper thread and the endpoint its faults arrive on.
struct Helper {
    tcb: Cap<Tcb>,
    faults: Cap<Endpoint>,
}

/// Maps a fresh frame at [`PAGE`] (executable) and copies `code` to `offset` in it.
fn install(ctx: &mut Ctx, offset: u64, code: &[u8]) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map_executable(
        Cap::from_cptr(SLOT_VSPACE),
        PAGE,
        Rights::READ.union(Rights::WRITE)
    ));
    for (i, &byte) in code.iter().enumerate() {
        // SAFETY: the page was just mapped writable in our address space; only the
        // helper thread, not started yet, will use it.
        unsafe { core::ptr::write_volatile((PAGE + offset + i as u64) as *mut u8, byte) };
    }
    Ok(())
}

/// A thread in our CSpace and VSpace at our priority with a fault endpoint, started with
/// `registers` (rsp on the helper stack unless set).
fn start(ctx: &mut Ctx, mut registers: UserRegisters) -> Result<Helper, Fail> {
    let faults: Cap<Endpoint> = ctx.make()?;
    let tcb: Cap<Tcb> = ctx.make()?;
    let config = TcbConfig {
        cspace: Cap::from_cptr(SLOT_CNODE),
        vspace: Cap::from_cptr(SLOT_VSPACE),
        ipc_buffer_addr: 0,
        ipc_buffer_frame: Cap::null(),
        fault_endpoint: faults,
    };
    ok!(tcb.configure(&config));
    ok!(tcb.set_priority(ctx.info.priority));
    if registers.rsp == 0 {
        registers.rsp = stack_top();
    }
    registers.rflags |= RFLAGS;
    ok!(tcb.write_registers(true, &registers));
    Ok(Helper { tcb, faults })
}

/// The next fault message of `helper`: checks the label and returns (vector, rip).
fn next_fault(helper: &Helper) -> Result<(u64, u64, Received), Fail> {
    let message = await_message(helper.faults, 500)?;
    ensure!(
        message.info.label() == FAULT_LABEL,
        "label {:#x}",
        message.info.label()
    );
    Ok((message.words[0], message.words[3], message))
}

/// Replies to the fault just received (the thread resumes with its registers as they are).
fn resume_unchanged() -> TestResult {
    ok!(libsys::cap::reply(MessageInfo::new(0, 0, 0), [0; 4]));
    Ok(())
}

/// A `syscall` in the last two bytes of the user half returns to 2^47. The thread gets a
/// #GP for it; its handler replying without fixing rip, or a TcbResume after a suspend,
/// must give it another #GP, not an `iretq` to a non-canonical address in ring 0.
fn a_reply_to_a_thread_at_a_non_canonical_rip_faults_it_again(ctx: &mut Ctx) -> TestResult {
    install(ctx, 0xffe, &[0x0f, 0x05])?;
    let registers = UserRegisters {
        rip: PAGE + 0xffe,
        rax: Syscall::Yield as u64,
        ..UserRegisters::default()
    };
    let helper = start(ctx, registers)?;
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(
        vector == VECTOR_GENERAL_PROTECTION,
        "first fault: vector {vector}"
    );
    ensure!(rip == USER_END, "first fault at rip {rip:#x}");
    resume_unchanged()?;
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(
        vector == VECTOR_GENERAL_PROTECTION,
        "after the reply: vector {vector}"
    );
    ensure!(rip == USER_END, "after the reply: rip {rip:#x}");
    // Suspended and resumed: the same again.
    ok!(helper.tcb.suspend());
    ok!(helper.tcb.resume());
    let (vector, _, _) = next_fault(&helper)?;
    ensure!(
        vector == VECTOR_GENERAL_PROTECTION,
        "after resume: vector {vector}"
    );
    ok!(helper.tcb.suspend());
    Ok(())
}

/// With TF set, a one-byte instruction at `0x7fff_ffff_ffff` traps with rip = 2^47: the
/// #DB is reported (rip 2^47), and the reply that would resume there is a #GP instead.
fn a_single_step_past_the_last_user_byte_faults_the_thread(ctx: &mut Ctx) -> TestResult {
    // pushfq; orq $0x100, (%rsp); popfq; jmp PAGE+0xfff (rel32)
    let mut code = [0u8; 16];
    code[..10].copy_from_slice(&[0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d]);
    let rel = (0xfffi32 - 15).to_le_bytes();
    code[10] = 0xe9;
    code[11..15].copy_from_slice(&rel);
    install(ctx, 0, &code[..15])?;
    // nop in the very last byte.
    // SAFETY: the page is mapped writable (by `install`); the helper has not started.
    unsafe { core::ptr::write_volatile((PAGE + 0xfff) as *mut u8, 0x90) };
    let helper = start(
        ctx,
        UserRegisters {
            rip: PAGE,
            ..UserRegisters::default()
        },
    )?;
    // Single steps: after the jmp (at the nop), then after the nop (at 2^47).
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(vector == VECTOR_DEBUG, "first: vector {vector}");
    ensure!(rip == PAGE + 0xfff, "first: rip {rip:#x}");
    resume_unchanged()?;
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(vector == VECTOR_DEBUG, "second: vector {vector}");
    ensure!(rip == USER_END, "second: rip {rip:#x}");
    resume_unchanged()?;
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(
        vector == VECTOR_GENERAL_PROTECTION,
        "third: vector {vector}"
    );
    ensure!(rip == USER_END, "third: rip {rip:#x}");
    ok!(helper.tcb.suspend());
    Ok(())
}

/// Code that sets TF, points rsp at `rdx`, then runs `mov %ebx, %ss` followed by `entry`
/// (a `syscall` or an `int`), then `ud2`. The single step after `mov %rdx, %rsp` stops it
/// first (a #DB in user mode); resumed, the single-step trap of the `mov ss` is deferred
/// past `entry`, onto the first instruction of the kernel's entry, in ring 0.
fn deferred_trap_code(entry: [u8; 2]) -> [u8; 22] {
    [
        0x48, 0x8c, 0xd3, // mov %ss, %rbx
        0x9c, // pushfq
        0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, // orq $0x100, (%rsp)
        0x9d, // popfq: TF from here on
        0x48, 0x89, 0xd4, // mov %rdx, %rsp (single-step trap after it, in user mode)
        0x8e, 0xd3, // mov %ebx, %ss (its trap deferred past the next instruction)
        entry[0], entry[1], // syscall, or int $0x80
        0x0f, 0x0b, // ud2
    ]
}

/// Offset of the `mov ss` in [`deferred_trap_code`].
const MOV_SS_OFFSET: u64 = 16;

/// Starts a thread running [`deferred_trap_code`] with `entry`, r15 = 0x4141...; takes its
/// first fault (the single step in user mode), resumes it, and returns the next fault.
fn run_deferred_trap(ctx: &mut Ctx, entry: [u8; 2]) -> Result<(Helper, u64), Fail> {
    install(ctx, 0, &deferred_trap_code(entry))?;
    let registers = UserRegisters {
        rip: PAGE,
        rax: Syscall::Yield as u64,
        rdx: KERNEL_ADDRESS,
        r15: 0x4141_4141_4141_4141,
        ..UserRegisters::default()
    };
    let helper = start(ctx, registers)?;
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(vector == VECTOR_DEBUG, "single step: vector {vector}");
    ensure!(rip == PAGE + MOV_SS_OFFSET, "single step: rip {rip:#x}");
    resume_unchanged()?;
    let (vector, _, _) = next_fault(&helper)?;
    Ok((helper, vector))
}

/// Writes more bytes on the page [`install`] mapped.
fn install_more(offset: u64, code: &[u8]) -> TestResult {
    for (i, &byte) in code.iter().enumerate() {
        // SAFETY: as in `install`: the page is mapped writable, the helper not started.
        unsafe { core::ptr::write_volatile((PAGE + offset + i as u64) as *mut u8, byte) };
    }
    Ok(())
}

/// `mov ss` + `syscall` with TF (CVE-2018-8897's class): the #DB lands on the kernel's
/// first entry instruction while rsp is still the user's (a kernel address here). The
/// kernel must take it on its own stack, dismiss it, and run the system call; the thread
/// then faults at the `ud2` after it (or single-steps into a #DB) with rsp unchanged.
fn a_debug_trap_deferred_into_syscall_entry_does_not_use_the_user_stack(
    ctx: &mut Ctx,
) -> TestResult {
    let (helper, vector) = run_deferred_trap(ctx, [0x0f, 0x05])?;
    ensure!(
        vector == VECTOR_INVALID_OPCODE || vector == VECTOR_DEBUG,
        "vector {vector}"
    );
    let registers = ok!(helper.tcb.read_registers());
    ensure!(registers.rsp == KERNEL_ADDRESS, "rsp {:#x}", registers.rsp);
    ensure!(
        registers.r15 == 0x4141_4141_4141_4141,
        "r15 {:#x}",
        registers.r15
    );
    ok!(helper.tcb.suspend());
    Ok(())
}

/// `mov ss` + `int $0x80` with TF: the `int` raises #GP (the gate is kernel-only), and the
/// deferred #DB lands on the #GP stub's first instruction with rsp inside the thread's
/// TCB. The #GP must reach the fault handler as usual, and the TCB stay intact.
fn a_debug_trap_deferred_into_an_interrupt_gate_does_not_use_the_tcb(ctx: &mut Ctx) -> TestResult {
    let (helper, vector) = run_deferred_trap(ctx, [0xcd, 0x80])?;
    ensure!(vector == VECTOR_GENERAL_PROTECTION, "vector {vector}");
    let registers = ok!(helper.tcb.read_registers());
    ensure!(registers.rsp == KERNEL_ADDRESS, "rsp {:#x}", registers.rsp);
    ensure!(
        registers.r15 == 0x4141_4141_4141_4141,
        "r15 {:#x}",
        registers.r15
    );
    // The TCB's slots survived: its fault endpoint still works.
    ok!(helper.tcb.suspend());
    ok!(helper.tcb.resume());
    let (vector, _, _) = next_fault(&helper)?;
    ensure!(
        vector == VECTOR_GENERAL_PROTECTION,
        "again: vector {vector}"
    );
    ok!(helper.tcb.suspend());
    Ok(())
}

/// `int1` (`icebp`) raises #DB from user mode whatever the gates' privilege: it arrives on
/// the #DB IST stack, and must reach the fault handler with the thread's registers (copied
/// into its TCB), rip after the instruction. (QEMU TCG raises #UD instead; Bochs and real
/// CPUs #DB.)
fn int1_in_user_mode_is_a_debug_fault_of_the_thread(ctx: &mut Ctx) -> TestResult {
    install(ctx, 0, &[0xf1, 0x0f, 0x0b])?;
    let helper = start(
        ctx,
        UserRegisters {
            rip: PAGE,
            r14: 0x1414,
            ..UserRegisters::default()
        },
    )?;
    let (vector, rip, _) = next_fault(&helper)?;
    if vector == VECTOR_INVALID_OPCODE {
        // QEMU TCG does not raise #DB for `icebp`; its #UD is an ordinary fault.
        ensure!(rip == PAGE, "#UD at rip {rip:#x}");
        ok!(helper.tcb.suspend());
        return Ok(());
    }
    ensure!(vector == VECTOR_DEBUG, "vector {vector}");
    ensure!(rip == PAGE + 1, "rip {rip:#x}");
    let registers = ok!(helper.tcb.read_registers());
    ensure!(registers.r14 == 0x1414, "r14 {:#x}", registers.r14);
    // Resumed, it goes on to the ud2.
    resume_unchanged()?;
    let (vector, rip, _) = next_fault(&helper)?;
    ensure!(
        vector == VECTOR_INVALID_OPCODE,
        "then: vector {vector} at {rip:#x}"
    );
    ok!(helper.tcb.suspend());
    Ok(())
}

/// A thread may keep a non-canonical value in rsp while it uses no stack: timer
/// interrupts save it and `iretq` restores it (the CPU checks rip, not rsp, on the way
/// back). The thread loops about 20 million instructions with rsp = 2^47 (several timer
/// ticks), restores rsp and stops on a `ud2`.
fn a_thread_running_with_a_non_canonical_rsp_survives_interrupts(ctx: &mut Ctx) -> TestResult {
    install(
        ctx,
        0,
        &[
            0x48, 0x89, 0xd4, // mov %rdx, %rsp
            0x48, 0xff, 0xc9, // 1: dec %rcx
            0x75, 0xfb, // jnz 1b
            0x48, 0x89, 0xdc, // mov %rbx, %rsp
            0x0f, 0x0b, // ud2
        ],
    )?;
    let helper = start(
        ctx,
        UserRegisters {
            rip: PAGE,
            rbx: stack_top(),
            rcx: 10_000_000,
            rdx: USER_END,
            ..UserRegisters::default()
        },
    )?;
    let message = await_message(helper.faults, 200_000)?;
    ensure!(
        message.words[0] == VECTOR_INVALID_OPCODE,
        "vector {}",
        message.words[0]
    );
    let registers = ok!(helper.tcb.read_registers());
    ensure!(registers.rcx == 0, "rcx {}", registers.rcx);
    ensure!(registers.rsp == stack_top(), "rsp {:#x}", registers.rsp);
    ok!(helper.tcb.suspend());
    Ok(())
}

/// Whether CPUID says the CPU has UMIP (leaf 7, ECX bit 2).
fn cpu_has_umip() -> bool {
    if core::arch::x86_64::__cpuid(0).eax < 7 {
        return false;
    }
    core::arch::x86_64::__cpuid_count(7, 0).ecx & (1 << 2) != 0
}

/// `sgdt`, `sidt`, `smsw` and `str` in user mode: a #GP where the CPU has UMIP (the kernel
/// turns it on), else they run (and the thread reaches the `ud2` after them).
fn descriptor_table_instructions_fault_where_the_cpu_has_umip(ctx: &mut Ctx) -> TestResult {
    let umip = cpu_has_umip();
    let instructions: [&[u8]; 4] = [
        &[0x0f, 0x01, 0x04, 0x24], // sgdt (%rsp)
        &[0x0f, 0x01, 0x0c, 0x24], // sidt (%rsp)
        &[0x0f, 0x01, 0xe0],       // smsw %eax
        &[0x0f, 0x00, 0xc8],       // str %eax
    ];
    install(ctx, 0, &[])?;
    for instruction in instructions {
        install_more(0, instruction)?;
        install_more(instruction.len() as u64, &[0x0f, 0x0b])?;
        let helper = start(
            ctx,
            UserRegisters {
                rip: PAGE,
                rsp: stack_top() - 64,
                ..UserRegisters::default()
            },
        )?;
        let (vector, rip, _) = next_fault(&helper)?;
        if umip {
            ensure!(
                vector == VECTOR_GENERAL_PROTECTION,
                "{instruction:02x?}: vector {vector}"
            );
            ensure!(rip == PAGE, "{instruction:02x?}: rip {rip:#x}");
        } else {
            ensure!(
                vector == VECTOR_INVALID_OPCODE,
                "{instruction:02x?}: vector {vector}"
            );
        }
        ok!(helper.tcb.suspend());
    }
    Ok(())
}

/// The kernel saves no FPU state, so every FPU, SSE and AVX instruction must fault in user
/// mode: x87 (`fninit`) #NM, SSE (`xorps`) #UD or #NM, AVX (`vpxor`, VEX-encoded, which
/// CR0.EM does not stop) and `xgetbv` #UD or #NM.
fn avx_and_sse_instructions_fault_in_user_mode(ctx: &mut Ctx) -> TestResult {
    let instructions: [&[u8]; 4] = [
        &[0xdb, 0xe3],             // fninit
        &[0x0f, 0x57, 0xc0],       // xorps %xmm0, %xmm0
        &[0xc5, 0xf9, 0xef, 0xc0], // vpxor %xmm0, %xmm0, %xmm0
        &[0x0f, 0x01, 0xd0],       // xgetbv
    ];
    install(ctx, 0, &[])?;
    for instruction in instructions {
        install_more(0, instruction)?;
        install_more(instruction.len() as u64, &[0x0f, 0x0b])?;
        let helper = start(
            ctx,
            UserRegisters {
                rip: PAGE,
                ..UserRegisters::default()
            },
        )?;
        let (vector, rip, _) = next_fault(&helper)?;
        ensure!(
            vector == VECTOR_INVALID_OPCODE || vector == VECTOR_NOT_AVAILABLE,
            "{instruction:02x?}: vector {vector}"
        );
        ensure!(rip == PAGE, "{instruction:02x?} ran (fault at {rip:#x})");
        ok!(helper.tcb.suspend());
    }
    Ok(())
}

/// I/O port control refuses every range that touches a port the kernel keeps (PICs, PIT,
/// port B, system control port A, ISA DMA, the emulators' exit ports, PCI configuration),
/// naming argument 0; ranges next to them are issued.
fn the_kernels_io_ports_are_never_issued(ctx: &mut Ctx) -> TestResult {
    let control: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let slot = ctx.slot()?;
    for (first, last) in [
        (0x20, 0x21),
        (0x21, 0x21),
        (0xa0, 0xa1),
        (0x40, 0x43),
        (0x43, 0x44),
        (0x61, 0x61),
        (0x92, 0x92),
        (0x00, 0x0f),
        (0xc0, 0xdf),
        (0xf4, 0xf4),
        (0xf0, 0xff),
        (0x4d0, 0x4d1),
        (0xcf8, 0xcff),
        (0xcf9, 0xcf9),
        (0x8900, 0x8900),
        (0x0, 0xffff),
    ] {
        expect_err!(
            control.issue(first, last, SlotPath::at(slot)),
            Error::IllegalOperation,
            0
        );
        ensure!(
            ctx.is_empty(slot)?,
            "{first:#x}..={last:#x} filled the slot"
        );
    }
    for (first, last) in [(0x22, 0x3f), (0x44, 0x60), (0xe0, 0xf3), (0xd00, 0xd07)] {
        let ports = ok!(control.issue(first, last, SlotPath::at(slot)));
        ok!(crate::ROOT.delete(ports.slot()));
    }
    yield_now();
    Ok(())
}

/// Issuing COM1's ports hands the kernel's console to us: the kernel says so in one line
/// and then prints only errors (our DebugWrite lines are dropped) until the cap is gone.
/// `cargo xtask test` checks the line written here through the port cap, and the kernel's
/// two lines, in the log.
fn issuing_com1_hands_the_console_over_until_its_cap_is_gone(ctx: &mut Ctx) -> TestResult {
    const COM1: u64 = 0x3f8;
    let control: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let slot = ctx.slot()?;
    let com1 = ok!(control.issue(COM1, COM1 + 7, SlotPath::at(slot)));
    libsys::println!("utest: dropped: the kernel printed this after the hand-off");
    for &byte in b"utest: written through COM1's port cap\r\n" {
        let mut ready = false;
        for _ in 0..100_000 {
            if ok!(com1.port_in(COM1 + 5, 1)) & 0x20 != 0 {
                ready = true;
                break;
            }
        }
        ensure!(ready, "the UART never became ready");
        ok!(com1.port_out(COM1, 1, u64::from(byte)));
    }
    ok!(crate::ROOT.delete(com1.slot()));
    Ok(())
}

/// Values the TLS test's threads find through their FS and GS bases.
static TLS_WORDS: [u64; 4] = [0x1111, 0x2222, 0x3333, 0x4444];

/// Two threads with their own FS and GS bases (`TcbSetTlsBase`) read `%fs:0` and `%gs:0`
/// and stop on a `ud2`; they must find their own words although the other thread (and we,
/// with bases 0) ran in between. A third thread with bases 0 faults on `%fs:0` at
/// address 0: nobody's base leaked into it. Bases at or above 2^47 are refused.
fn each_thread_has_its_own_fs_and_gs_base(ctx: &mut Ctx) -> TestResult {
    install(
        ctx,
        0,
        &[
            0x64, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, // mov %fs:0, %rax
            0x65, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x00, 0x00, // mov %gs:0, %rbx
            0x0f, 0x0b, // ud2
        ],
    )?;
    let word = |i: usize| core::ptr::addr_of!(TLS_WORDS[i]) as u64;
    let mut helpers = [None, None, None];
    for (i, bases) in [(word(0), word(1)), (word(2), word(3)), (0, 0)]
        .iter()
        .enumerate()
    {
        let faults: Cap<Endpoint> = ctx.make()?;
        let tcb: Cap<Tcb> = ctx.make()?;
        let config = TcbConfig {
            cspace: Cap::from_cptr(SLOT_CNODE),
            vspace: Cap::from_cptr(SLOT_VSPACE),
            ipc_buffer_addr: 0,
            ipc_buffer_frame: Cap::null(),
            fault_endpoint: faults,
        };
        ok!(tcb.configure(&config));
        ok!(tcb.set_priority(ctx.info.priority));
        ok!(tcb.set_tls_base(bases.0, bases.1));
        helpers[i] = Some(Helper { tcb, faults });
    }
    let [Some(a), Some(b), Some(c)] = helpers else {
        return Err(crate::fail!("a helper was not made"));
    };
    expect_err!(a.tcb.set_tls_base(USER_END, 0), Error::InvalidArgument, 0);
    expect_err!(a.tcb.set_tls_base(0, u64::MAX), Error::InvalidArgument, 1);
    for helper in [&a, &b, &c] {
        let registers = UserRegisters {
            rip: PAGE,
            rsp: stack_top(),
            rflags: RFLAGS,
            ..UserRegisters::default()
        };
        ok!(helper.tcb.write_registers(true, &registers));
    }
    for (helper, expected) in [(&a, [0x1111, 0x2222]), (&b, [0x3333, 0x4444])] {
        let (vector, _, _) = next_fault(helper)?;
        ensure!(vector == VECTOR_INVALID_OPCODE, "vector {vector}");
        let registers = ok!(helper.tcb.read_registers());
        ensure!(
            [registers.rax, registers.rbx] == expected,
            "read {:#x}, {:#x}; expected {expected:x?}",
            registers.rax,
            registers.rbx
        );
        ok!(helper.tcb.suspend());
    }
    let (vector, _, message) = next_fault(&c)?;
    ensure!(vector == 14, "thread with bases 0: vector {vector}");
    ensure!(message.words[2] == 0, "it read {:#x}", message.words[2]);
    ok!(c.tcb.suspend());
    Ok(())
}
