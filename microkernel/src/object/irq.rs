//! Interrupts: IRQ control and IRQ handlers.
//!
//! An IRQ handler cap stands for one ISA IRQ line. Once given a notification, the line is
//! unmasked; when it fires the kernel masks it and signals the notification with the
//! notification cap's badge; the driver handles the device and calls `IrqHandlerAck` to
//! unmask it. (I/O ports are in [`super::ioport`].)

use super::{
    cap_error, lookup, resolve_slot, Args, InvocationError, InvocationResult, KernelSlots, Output,
};
use crate::arch::apic;
use crate::ipc::Notification;
use crate::thread::TcbPtr;
use kerncore::{Argument, Cap, SlotAddr};
use libsys::abi::{Error, Label};
use libsys::object::Rights;
use spin::Mutex;

/// ISA IRQ lines userspace may ask for.
pub const IRQ_LINES: u32 = 16;

#[derive(Clone, Copy)]
struct IrqState {
    /// A handler cap exists.
    issued: bool,
    /// Notification to signal (0 = none) and the badge to signal with.
    notification: u64,
    badge: u64,
}

static IRQS: Mutex<[IrqState; IRQ_LINES as usize]> = Mutex::new(
    [IrqState {
        issued: false,
        notification: 0,
        badge: 0,
    }; IRQ_LINES as usize],
);

/// The GSI ISA IRQ `irq` arrives on (after the MADT's overrides).
fn gsi(irq: u32) -> u32 {
    crate::platform::isa_irq_to_gsi(irq as u8)
}

/// A device interrupt arrived on GSI `gsi`: mask it and signal the handler's notification.
pub fn signal_handler(line: u32) {
    let irqs = IRQS.lock();
    let found = (0..IRQ_LINES).find(|&i| gsi(i) == line && irqs[i as usize].notification != 0);
    let Some(irq) = found else {
        drop(irqs);
        apic::mask_irq(line);
        crate::warn!("interrupt on GSI {line} with no handler; masked");
        return;
    };
    let state = irqs[irq as usize];
    drop(irqs);
    apic::mask_irq(line);
    // SAFETY: a notification stays live while an IRQ is bound to it: deleting its last
    // cap clears every IRQ binding (see `release_notification`). The reference lasts for
    // the one call, which reaches only TCBs and endpoints.
    unsafe { (*Notification::at(state.notification)).signal(state.badge) };
}

/// The IRQ handler's last cap is gone.
pub fn release_irq(irq: u32) {
    if let Some(state) = IRQS.lock().get_mut(irq as usize) {
        if state.notification != 0 {
            apic::mask_irq(gsi(irq));
        }
        *state = IrqState {
            issued: false,
            notification: 0,
            badge: 0,
        };
    }
}

/// A notification is being destroyed: unbind it from every IRQ.
pub fn release_notification(object: u64) {
    let mut irqs = IRQS.lock();
    for (irq, state) in irqs.iter_mut().enumerate() {
        if state.notification == object {
            apic::mask_irq(gsi(irq as u32));
            state.notification = 0;
        }
    }
}

/// A decoded IRQ invocation: every argument checked.
enum IrqCall {
    Get { irq: u64, dest: SlotAddr },
    SetNotification { irq: u32, object: u64, badge: u64 },
    Ack { irq: u32 },
    Clear { irq: u32 },
}

/// Checks that ISA IRQ `irq` can have a handler: its GSI is one the kernel routes, it is
/// a line of its own, and no handler for that line exists. (Out-of-range IRQs are left
/// for kerncore, which names the argument.)
fn check_line(irq: u64) -> Result<(), InvocationError> {
    if irq >= u64::from(IRQ_LINES) {
        return Ok(());
    }
    let line = gsi(irq as u32);
    // A GSI past the vectors the kernel has, or that no I/O APIC serves, cannot be routed.
    if !apic::routable(line) {
        return Err(InvocationError::new(Error::RangeError, 0));
    }
    // One handler per interrupt line (GSI): an ISA IRQ whose line another IRQ's MADT
    // override claims (on PCs, IRQ 2: the PIT's IRQ 0 arrives on GSI 2) is not a line of
    // its own.
    let shared = (0..IRQ_LINES).any(|other| other != irq as u32 && gsi(other) == line);
    if shared && line == irq as u32 {
        return Err(InvocationError::new(Error::RangeError, 0));
    }
    let irqs = IRQS.lock();
    if (0..IRQ_LINES).any(|other| irqs[other as usize].issued && gsi(other) == line) {
        return Err(InvocationError::new(Error::RevokeFirst, 0));
    }
    Ok(())
}

fn decode(caller: TcbPtr, cap: Cap, label: Label, args: &Args) -> Result<IrqCall, InvocationError> {
    match (label, cap) {
        (Label::IrqControlGet, Cap::IrqControl) => {
            let irq = args.get(0)?;
            let root = super::cspace_root(caller);
            let dest = resolve_slot(&root, args.get(1)?, args.get(2)?, 1)?;
            check_line(irq)?;
            Ok(IrqCall::Get { irq, dest })
        }
        (Label::IrqHandlerSetNotification, Cap::IrqHandler { irq }) => {
            let (_, ncap) = lookup(caller, args.get(0)?).map_err(|e| super::lookup_error(e, 0))?;
            let Cap::Notification {
                object,
                badge,
                rights,
            } = ncap
            else {
                return Err(InvocationError::new(Error::InvalidCapability, 0));
            };
            if !rights.contains(Rights::WRITE) {
                return Err(InvocationError::new(Error::InsufficientRights, 0));
            }
            Ok(IrqCall::SetNotification { irq, object, badge })
        }
        (Label::IrqHandlerAck, Cap::IrqHandler { irq }) => Ok(IrqCall::Ack { irq }),
        (Label::IrqHandlerClear, Cap::IrqHandler { irq }) => Ok(IrqCall::Clear { irq }),
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// Dispatches IRQ control and IRQ handler invocations: decode, then perform.
pub fn invoke(
    caller: TcbPtr,
    slot: SlotAddr,
    cap: Cap,
    label: Label,
    args: &Args,
) -> InvocationResult {
    match decode(caller, cap, label, args)? {
        IrqCall::Get { irq, dest } => {
            let position = |a: Argument| match a {
                Argument::Irq => Some(0),
                Argument::Destination => Some(1),
                _ => None,
            };
            kerncore::irq_control_get(&mut KernelSlots, slot, dest, irq, IRQ_LINES)
                .map_err(|e| cap_error(e, position))?;
            IRQS.lock()[irq as usize].issued = true;
        }
        IrqCall::SetNotification { irq, object, badge } => {
            let mut irqs = IRQS.lock();
            irqs[irq as usize].notification = object;
            irqs[irq as usize].badge = badge;
            drop(irqs);
            apic::route_irq(gsi(irq), crate::platform::isa_irq_flags(irq as u8));
        }
        IrqCall::Ack { irq } => {
            // Unmask only while a notification is there to receive the next interrupt.
            if IRQS.lock()[irq as usize].notification != 0 {
                apic::route_irq(gsi(irq), crate::platform::isa_irq_flags(irq as u8));
            }
        }
        IrqCall::Clear { irq } => {
            apic::mask_irq(gsi(irq));
            IRQS.lock()[irq as usize].notification = 0;
        }
    }
    Ok(Output::empty())
}
