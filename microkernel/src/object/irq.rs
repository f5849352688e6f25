//! Interrupts and I/O ports: IRQ control and handlers, I/O port control and ranges.
//!
//! An IRQ handler cap stands for one ISA IRQ line. Once given a notification, the line is
//! unmasked; when it fires the kernel masks it and signals the notification with the
//! notification cap's badge; the driver handles the device and calls `IrqHandlerAck` to
//! unmask it. I/O port caps let userspace drivers (the serial console, say) use `in`/`out`
//! on their ports only, through invocations.

use super::{
    cap_error, lookup, resolve_slot, Args, InvocationError, InvocationResult, KernelSlots, Reply,
};
use crate::arch::apic;
use crate::ipc::Notification;
use crate::thread::Tcb;
use kerncore::{Argument, Cap, SlotAddr};
use libsys::abi::{Error, Label};
use libsys::object::Rights;
use spin::Mutex;
use x86_64::instructions::port::Port;

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
/// One bit per I/O port already issued.
static PORTS: Mutex<[u64; 1024]> = Mutex::new([0; 1024]);

fn gsi(irq: u32) -> u8 {
    crate::platform::isa_irq_to_gsi(irq as u8) as u8
}

/// A device interrupt arrived on GSI `gsi`: mask it and signal the handler's notification.
pub fn deliver(line: u8) {
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
    // cap clears every IRQ binding (see `release_notification`).
    unsafe { Notification::at(state.notification) }.signal(state.badge);
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

/// An I/O port cap's last copy is gone: its range may be issued again.
pub fn release_ports(first: u16, last: u16) {
    let mut ports = PORTS.lock();
    for p in first..=last {
        ports[p as usize / 64] &= !(1 << (p % 64));
    }
}

/// Dispatches IRQ and I/O port invocations.
pub fn invoke(
    caller: &mut Tcb,
    slot: SlotAddr,
    cap: Cap,
    label: Label,
    args: &Args,
) -> InvocationResult {
    let root = super::cspace_root(caller);
    match (label, cap) {
        (Label::IrqControlGet, Cap::IrqControl) => {
            let irq = args.get(0)?;
            let dest = resolve_slot(&root, args.get(1)?, args.get(2)?, 1)?;
            if irq < u64::from(IRQ_LINES) {
                // One handler per interrupt line (GSI): an ISA IRQ whose line another IRQ's
                // MADT override claims (on PCs, IRQ 2: the PIT's IRQ 0 arrives on GSI 2) is
                // not a line of its own.
                let line = gsi(irq as u32);
                let shared = (0..IRQ_LINES).any(|other| other != irq as u32 && gsi(other) == line);
                if shared && crate::platform::isa_irq_to_gsi(irq as u8) == u32::from(irq as u8) {
                    return Err(InvocationError::new(Error::RangeError, 0));
                }
                let irqs = IRQS.lock();
                if (0..IRQ_LINES).any(|other| irqs[other as usize].issued && gsi(other) == line) {
                    return Err(InvocationError::new(Error::RevokeFirst, 0));
                }
            }
            let position = |a: Argument| match a {
                Argument::Irq => Some(0),
                Argument::Destination => Some(1),
                _ => None,
            };
            kerncore::irq_control_get(&mut KernelSlots, slot, dest, irq, IRQ_LINES)
                .map_err(|e| cap_error(e, position))?;
            IRQS.lock()[irq as usize].issued = true;
            Ok(Reply::empty())
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
            let mut irqs = IRQS.lock();
            irqs[irq as usize].notification = object;
            irqs[irq as usize].badge = badge;
            drop(irqs);
            apic::route_irq(gsi(irq), crate::platform::isa_irq_flags(irq as u8));
            Ok(Reply::empty())
        }
        (Label::IrqHandlerAck, Cap::IrqHandler { irq }) => {
            // Unmask only while a notification is there to receive the next interrupt.
            if IRQS.lock()[irq as usize].notification != 0 {
                apic::route_irq(gsi(irq), crate::platform::isa_irq_flags(irq as u8));
            }
            Ok(Reply::empty())
        }
        (Label::IrqHandlerClear, Cap::IrqHandler { irq }) => {
            apic::mask_irq(gsi(irq));
            IRQS.lock()[irq as usize].notification = 0;
            Ok(Reply::empty())
        }
        (Label::IoPortControlIssue, Cap::IoPortControl) => {
            let (first, last) = (args.get(0)?, args.get(1)?);
            let dest = resolve_slot(&root, args.get(2)?, args.get(3)?, 2)?;
            if first <= last && last <= 0xffff {
                let ports = PORTS.lock();
                if (first..=last).any(|p| ports[p as usize / 64] & (1 << (p % 64)) != 0) {
                    return Err(InvocationError::new(Error::RevokeFirst, 0));
                }
            }
            let position = |a: Argument| match a {
                Argument::Ports => Some(0),
                Argument::Destination => Some(2),
                _ => None,
            };
            kerncore::io_port_control_issue(&mut KernelSlots, slot, dest, first, last)
                .map_err(|e| cap_error(e, position))?;
            let mut ports = PORTS.lock();
            for p in first..=last {
                ports[p as usize / 64] |= 1 << (p % 64);
            }
            Ok(Reply::empty())
        }
        (Label::IoPortIn | Label::IoPortOut, Cap::IoPort { first, last }) => {
            let (port, width) = (args.get(0)?, args.get(1)?);
            if !matches!(width, 1 | 2 | 4) {
                return Err(InvocationError::new(Error::InvalidArgument, 1));
            }
            if port < u64::from(first) || port.saturating_add(width - 1) > u64::from(last) {
                return Err(InvocationError::new(Error::RangeError, 0));
            }
            let port = port as u16;
            if label == Label::IoPortIn {
                // SAFETY: the caller holds a cap for these ports; port I/O cannot touch
                // kernel memory.
                let value = unsafe {
                    match width {
                        1 => u64::from(Port::<u8>::new(port).read()),
                        2 => u64::from(Port::<u16>::new(port).read()),
                        _ => u64::from(Port::<u32>::new(port).read()),
                    }
                };
                Ok(Reply::words(&[value]))
            } else {
                let value = args.get(2)?;
                // SAFETY: as above.
                unsafe {
                    match width {
                        1 => Port::<u8>::new(port).write(value as u8),
                        2 => Port::<u16>::new(port).write(value as u16),
                        _ => Port::<u32>::new(port).write(value as u32),
                    }
                }
                Ok(Reply::empty())
            }
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}
