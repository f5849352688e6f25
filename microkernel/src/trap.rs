//! What the kernel does with an interrupt or exception.

use crate::arch::apic;
use crate::arch::trap::{dump, exception_name, TrapFrame};
use crate::sched;
use core::sync::atomic::{AtomicU64, Ordering};

/// NMIs seen (they are counted, and logged only when the console is free).
static NMIS: AtomicU64 = AtomicU64::new(0);

/// How many NMIs have arrived.
pub fn nmi_count() -> u64 {
    NMIS.load(Ordering::Relaxed)
}

/// Handles a trap (`frame` is the current thread's saved registers, or the idle loop's),
/// then returns the frame of the thread the scheduler chooses to resume.
///
/// `frame` is a raw pointer because it may be the current TCB's `context`, which the
/// handlers reach through the thread's handle: the trap is read once, by value, and the
/// frame is not touched through this pointer again.
pub fn handle(frame: *mut TrapFrame) -> *mut TrapFrame {
    // SAFETY: the entry code passes the frame it just saved; no reference to it is live.
    let trap = unsafe { *frame };
    let vector = trap.vector;
    crate::counters::entry();
    // NMIs and machine checks arrive on their own stacks (IST): resume exactly the
    // interrupted context, whoever it was. An NMI can interrupt the kernel in the middle
    // of a log line, so it must not wait for the console lock: it logs only if the lock
    // is free (the interrupted code cannot be holding it then).
    if vector == 2 {
        let count = NMIS.fetch_add(1, Ordering::Relaxed) + 1;
        crate::log::try_write_line(
            crate::log::Level::Warn,
            format_args!("NMI at rip {:#x} ({count} so far); ignored", trap.rip),
        );
        return frame;
    }
    if vector == 18 {
        kernel_exception(&trap);
    }
    if vector < 32 && !trap.came_from_user() {
        kernel_exception(&trap);
    }
    match vector {
        0..=31 => user_fault(&trap),
        v if v == u64::from(apic::TIMER_VECTOR) => {
            apic::eoi();
            let expired = sched::timer_tick();
            return sched::schedule(expired);
        }
        // The spurious vector is never in service: no EOI (as the APIC specifies).
        v if v == u64::from(apic::SPURIOUS_VECTOR) => {}
        v if (u64::from(apic::IRQ_VECTOR_BASE)
            ..u64::from(apic::IRQ_VECTOR_BASE) + u64::from(apic::IRQ_COUNT))
            .contains(&v) =>
        {
            crate::object::irq::signal_handler((v - u64::from(apic::IRQ_VECTOR_BASE)) as u32);
            apic::eoi();
        }
        v => {
            // A vector nothing routes here (a legacy PIC's, say). If the local APIC has
            // it in service, acknowledge it: an unacknowledged vector blocks every vector
            // of its priority class and below, the timer included.
            if v < 256 && apic::in_service(v as u8) {
                apic::eoi();
            }
            crate::warn!("unexpected interrupt on vector {v}; acknowledged");
        }
    }
    sched::schedule(false)
}

/// A fault in user mode becomes a message to the thread's fault endpoint (a Call made on
/// its behalf: the handler's reply resumes it). With no fault handler the thread is
/// suspended and logged; if it is the root task, the run is marked failed.
///
/// `frame` is a copy of the faulting registers (not the TCB's save area).
pub fn user_fault(frame: &TrapFrame) {
    // SAFETY: the current thread is live (destroying it clears `current`).
    let Some(tcb) = (unsafe { crate::thread::TcbPtr::from_raw(sched::current()) }) else {
        return;
    };
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    if let kerncore::Cap::Endpoint {
        object,
        badge,
        rights,
    } = tcb.slot_cap(crate::thread::TCB_SLOT_FAULT)
    {
        if rights.contains(libsys::object::Rights::WRITE) {
            tcb.set_fault([
                frame.vector,
                frame.error_code,
                if frame.vector == 14 { cr2 } else { 0 },
            ]);
            let pending = crate::thread::PendingSend::fault(badge);
            // SAFETY: the TCB's fault slot keeps the endpoint alive; the thread is current.
            unsafe { crate::ipc::send(tcb, object, pending, true) };
            return;
        }
    }
    crate::warn!(
        "thread {} faulted: {} at rip {:#x} (error {:#x}, cr2 {:#x}); no fault handler, suspended",
        tcb.name(),
        exception_name(frame.vector),
        frame.rip,
        frame.error_code,
        cr2
    );
    if crate::rootask::is_root_task(tcb.as_raw()) {
        // Nothing can restart the root task: the system has failed (xtask looks for this).
        crate::error!("hatchery: root task {} faulted; the run fails", tcb.name());
        crate::mark_failed();
    }
    crate::object::tcb::suspend(tcb);
}

/// An exception in the kernel itself is a kernel bug: report everything and stop.
fn kernel_exception(frame: &TrapFrame) -> ! {
    // SAFETY: we are about to stop; nobody else runs.
    unsafe { crate::log::force_unlock() };
    crate::error!(
        "hatchery: PANIC: kernel exception {} at rip {:#x}",
        exception_name(frame.vector),
        frame.rip
    );
    dump(frame);
    crate::finish(false)
}
