//! Faults: a thread's page fault, invalid opcode or divide error becomes a message on its
//! fault endpoint; the handler can fix the registers and reply to resume it, or leave it
//! stopped. A thread without a fault endpoint is stopped (and logged by the kernel).

use crate::check::{Fail, TestResult, ANY_ARG};
use crate::{ensure, expect_err, fail, ok, Ctx, Test};
use ipcpeer::{label, mode, FAULT_NULL_MAGIC, FAULT_NULL_MAGIC_OFFSET};
use libsys::abi::{Error, MessageInfo, FAULT_LABEL};
use libsys::bootinfo::IPC_BUFFER_ADDR;
use libsys::cap::{Cap, Endpoint, Received};
use libsys::loader::Process;
use libsys::object::Rights;
use libsys::syscall::yield_now;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    page_fault_is_reported_and_fixed,
    invalid_opcode_is_reported_and_skipped,
    divide_error_is_reported_and_fixed,
    unanswered_fault_leaves_the_thread_stopped,
    fault_without_a_handler_stops_the_thread,
];

/// Exception vectors in fault messages.
const VECTOR_DIVIDE: u64 = 0;
const VECTOR_INVALID_OPCODE: u64 = 6;
const VECTOR_PAGE_FAULT: u64 = 14;
/// Badge of the fault endpoint cap given to the faulting thread.
const FAULT_BADGE: u64 = 0xfa;

/// Polls `endpoint` (yielding) until a message arrives; fails after `rounds` tries.
pub fn await_message(endpoint: Cap<Endpoint>, rounds: u32) -> Result<Received, Fail> {
    for _ in 0..rounds {
        match endpoint.nb_recv() {
            Ok(message) => return Ok(message),
            Err(e) if e.error == Error::WouldBlock => yield_now(),
            Err(e) => return Err(fail!("nb_recv: {e}")),
        }
    }
    Err(fail!("no message after {rounds} tries"))
}

struct Faulting {
    process: Process,
    faults: Cap<Endpoint>,
    report: Cap<Endpoint>,
}

/// Starts a peer in a fault mode, with a badged fault endpoint unless `no_handler`.
fn start(ctx: &mut Ctx, peer_mode: u64, no_handler: bool) -> Result<Faulting, Fail> {
    let faults: Cap<Endpoint> = ctx.make()?;
    let report: Cap<Endpoint> = ctx.make()?;
    let mut config = ctx.peer_config();
    if !no_handler {
        config.fault_endpoint = ctx.mint(faults, Rights::ALL, FAULT_BADGE)?;
    }
    let process = ctx.peer(&config)?;
    crate::give(&process, &ctx.loader, report, ipcpeer::SLOT_REPORT)?;
    process.start(peer_mode).map_err(|e| fail!("start: {e}"))?;
    Ok(Faulting {
        process,
        faults,
        report,
    })
}

/// Receives the fault message and checks its label, badge and vector.
fn fault_message(f: &Faulting, vector: u64) -> Result<Received, Fail> {
    let message = await_message(f.faults, 2000)?;
    ensure!(
        message.info.label() == FAULT_LABEL,
        "label {:#x}",
        message.info.label()
    );
    ensure!(message.badge == FAULT_BADGE, "badge {:#x}", message.badge);
    ensure!(message.words[0] == vector, "vector {}", message.words[0]);
    let rip = message.words[3];
    ensure!((0x40_0000..0x100_0000).contains(&rip), "rip {rip:#x}");
    Ok(message)
}

/// Fixes the thread with `fix`, replies, and returns its `RESUMED` report's word 0.
fn fix_and_resume(
    f: &Faulting,
    fix: impl Fn(&mut libsys::cap::UserRegisters),
) -> Result<u64, Fail> {
    let mut registers = ok!(f.process.tcb.read_registers());
    fix(&mut registers);
    ok!(f.process.tcb.write_registers(false, &registers));
    ok!(libsys::cap::reply(MessageInfo::new(0, 0, 0), [0; 4]));
    let report = await_message(f.report, 2000)?;
    ensure!(
        report.info.label() == label::RESUMED,
        "report label {:#x}",
        report.info.label()
    );
    Ok(report.words[0])
}

fn page_fault_is_reported_and_fixed(ctx: &mut Ctx) -> TestResult {
    let f = start(ctx, mode::FAULT_NULL, false)?;
    let message = fault_message(&f, VECTOR_PAGE_FAULT)?;
    ensure!(
        message.words[2] == 0,
        "fault address {:#x}",
        message.words[2]
    );
    // Error code: user mode (bit 2), read of a non-present page (bits 0, 1 clear).
    ensure!(
        message.words[1] & 0b111 == 0b100,
        "error code {:#x}",
        message.words[1]
    );
    let registers = ok!(f.process.tcb.read_registers());
    ensure!(
        registers.rip == message.words[3],
        "rip {:#x}",
        registers.rip
    );
    ensure!(registers.r12 == 0, "r12 {:#x}", registers.r12);
    let value = fix_and_resume(&f, |r| r.r12 = IPC_BUFFER_ADDR + FAULT_NULL_MAGIC_OFFSET)?;
    ensure!(value == FAULT_NULL_MAGIC, "loaded {value:#x}");
    Ok(())
}

fn invalid_opcode_is_reported_and_skipped(ctx: &mut Ctx) -> TestResult {
    let f = start(ctx, mode::FAULT_UD2, false)?;
    fault_message(&f, VECTOR_INVALID_OPCODE)?;
    let value = fix_and_resume(&f, |r| r.rip += 2)?;
    ensure!(value == 0xd2, "report {value:#x}");
    Ok(())
}

fn divide_error_is_reported_and_fixed(ctx: &mut Ctx) -> TestResult {
    let f = start(ctx, mode::FAULT_DIVIDE, false)?;
    fault_message(&f, VECTOR_DIVIDE)?;
    let value = fix_and_resume(&f, |r| r.r12 = 5)?;
    ensure!(value == 20, "quotient {value}");
    Ok(())
}

fn unanswered_fault_leaves_the_thread_stopped(ctx: &mut Ctx) -> TestResult {
    let f = start(ctx, mode::FAULT_UD2, false)?;
    let message = fault_message(&f, VECTOR_INVALID_OPCODE)?;
    for _ in 0..50 {
        yield_now();
    }
    expect_err!(f.report.nb_recv(), Error::WouldBlock, ANY_ARG);
    let registers = ok!(f.process.tcb.read_registers());
    ensure!(
        registers.rip == message.words[3],
        "rip moved to {:#x}",
        registers.rip
    );
    // Killing it: suspend, and nothing more arrives.
    ok!(f.process.tcb.suspend());
    for _ in 0..20 {
        yield_now();
    }
    expect_err!(f.faults.nb_recv(), Error::WouldBlock, ANY_ARG);
    Ok(())
}

fn fault_without_a_handler_stops_the_thread(ctx: &mut Ctx) -> TestResult {
    let f = start(ctx, mode::FAULT_UD2, true)?;
    for _ in 0..50 {
        yield_now();
    }
    expect_err!(f.report.nb_recv(), Error::WouldBlock, ANY_ARG);
    expect_err!(f.faults.nb_recv(), Error::WouldBlock, ANY_ARG);
    let first = ok!(f.process.tcb.read_registers());
    for _ in 0..20 {
        yield_now();
    }
    let second = ok!(f.process.tcb.read_registers());
    ensure!(first == second, "the faulted thread still runs");
    Ok(())
}
