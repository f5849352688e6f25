//! I/O ports: I/O port control issues caps for port ranges; an I/O port cap lets its
//! holder use `in`/`out` on its ports only, through invocations.
//!
//! Each port is issued at most once (until the cap and all its copies are gone), and the
//! ports the kernel itself drives are never issued ([`KERNEL_PORTS`]). COM1, the kernel's
//! console, is the one exception that can be handed over: issuing any of its ports makes
//! the kernel stop logging there (see [`crate::log::hand_off_console`]) until the last cap
//! covering COM1 is deleted.
//!
//! What I/O port control still grants is documented in docs/kernel.md: port I/O reaches
//! devices, and a device that can do DMA can reach all of memory; the PCI configuration
//! ports, which program every PCI device's DMA and interrupt routing, are reserved.

use super::{
    cap_error, resolve_slot, Args, InvocationError, InvocationResult, KernelSlots, Output,
};
use crate::thread::TcbPtr;
use kerncore::{Argument, Cap, SlotAddr};
use libsys::abi::{Error, Label};
use spin::Mutex;
use x86_64::instructions::port::Port;

/// An inclusive range of I/O ports and what uses it.
#[derive(Clone, Copy, Debug)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
    /// Who uses the ports (for the docs and the log).
    pub owner: &'static str,
}

impl PortRange {
    const fn new(first: u16, last: u16, owner: &'static str) -> PortRange {
        PortRange { first, last, owner }
    }

    /// Whether `first..=last` shares a port with this range.
    pub fn overlaps(&self, first: u64, last: u64) -> bool {
        first <= u64::from(self.last) && u64::from(self.first) <= last
    }
}

/// Ports the kernel owns or that reach past any one device: never issued. Issuing them
/// would let a driver re-route interrupts onto exception vectors (PICs), stop the kernel's
/// clock calibration (PIT), power off or reset the machine (emulator exit ports, port
/// 0x92, PCI reset control 0xcf9), or program DMA into any memory (ISA DMA controllers,
/// PCI configuration).
pub const KERNEL_PORTS: &[PortRange] = &[
    PortRange::new(0x00, 0x1f, "ISA DMA controller 1"),
    PortRange::new(0x20, 0x21, "master PIC"),
    PortRange::new(0x40, 0x43, "PIT"),
    PortRange::new(0x61, 0x61, "PIT gate and NMI status (port B)"),
    PortRange::new(0x92, 0x92, "system control port A (fast reset, A20)"),
    PortRange::new(0xa0, 0xa1, "slave PIC"),
    PortRange::new(0xc0, 0xdf, "ISA DMA controller 2"),
    PortRange::new(0xf4, 0xf7, "QEMU isa-debug-exit"),
    PortRange::new(0x4d0, 0x4d1, "PIC edge/level control"),
    PortRange::new(0xcf8, 0xcff, "PCI configuration and reset control"),
    PortRange::new(0x8900, 0x8900, "Bochs shutdown"),
];

/// COM1, the kernel console: issuing it hands the console over.
pub const COM1_PORTS: PortRange = PortRange::new(0x3f8, 0x3ff, "COM1 (kernel console)");

/// One bit per I/O port already issued.
static PORTS: Mutex<[u64; 1024]> = Mutex::new([0; 1024]);

fn is_issued(ports: &[u64; 1024], port: u64) -> bool {
    ports[port as usize / 64] & (1 << (port % 64)) != 0
}

fn set_issued(ports: &mut [u64; 1024], first: u64, last: u64, issued: bool) {
    for port in first..=last {
        let (word, bit) = (port as usize / 64, 1u64 << (port % 64));
        if issued {
            ports[word] |= bit;
        } else {
            ports[word] &= !bit;
        }
    }
}

/// An I/O port cap's last copy is gone: its range may be issued again (and COM1 comes
/// back to the kernel when no issued port covers it any more).
pub fn release_ports(first: u16, last: u16) {
    let mut ports = PORTS.lock();
    set_issued(&mut ports, u64::from(first), u64::from(last), false);
    let com1 = &COM1_PORTS;
    let com1_issued = (com1.first..=com1.last).any(|p| is_issued(&ports, u64::from(p)));
    drop(ports);
    if com1.overlaps(u64::from(first), u64::from(last)) && !com1_issued {
        crate::log::reclaim_console();
    }
}

/// A decoded I/O port invocation: every argument checked.
enum PortCall {
    Issue {
        first: u64,
        last: u64,
        dest: SlotAddr,
    },
    In {
        port: u16,
        width: u64,
    },
    Out {
        port: u16,
        width: u64,
        value: u64,
    },
}

/// Checks an `IoPortControlIssue`'s range against the kernel's ports and those already
/// issued (the rest of the checks are kerncore's).
fn check_issue(first: u64, last: u64) -> Result<(), InvocationError> {
    if first > last || last > 0xffff {
        return Ok(());
    }
    if let Some(kernel) = KERNEL_PORTS.iter().find(|r| r.overlaps(first, last)) {
        crate::debug!(
            "I/O ports {first:#x}..={last:#x} refused: {:#x}..={:#x} are the {}'s",
            kernel.first,
            kernel.last,
            kernel.owner
        );
        return Err(InvocationError::new(Error::IllegalOperation, 0));
    }
    let ports = PORTS.lock();
    if (first..=last).any(|p| is_issued(&ports, p)) {
        return Err(InvocationError::new(Error::RevokeFirst, 0));
    }
    Ok(())
}

fn decode(
    caller: TcbPtr,
    cap: Cap,
    label: Label,
    args: &Args,
) -> Result<PortCall, InvocationError> {
    match (label, cap) {
        (Label::IoPortControlIssue, Cap::IoPortControl) => {
            let (first, last) = (args.get(0)?, args.get(1)?);
            let root = super::cspace_root(caller);
            let dest = resolve_slot(&root, args.get(2)?, args.get(3)?, 2)?;
            check_issue(first, last)?;
            Ok(PortCall::Issue { first, last, dest })
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
                Ok(PortCall::In { port, width })
            } else {
                let value = args.get(2)?;
                Ok(PortCall::Out { port, width, value })
            }
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// Dispatches I/O port control and I/O port invocations: decode, then perform.
pub fn invoke(
    caller: TcbPtr,
    slot: SlotAddr,
    cap: Cap,
    label: Label,
    args: &Args,
) -> InvocationResult {
    match decode(caller, cap, label, args)? {
        PortCall::Issue { first, last, dest } => {
            let position = |a: Argument| match a {
                Argument::Ports => Some(0),
                Argument::Destination => Some(2),
                _ => None,
            };
            kerncore::io_port_control_issue(&mut KernelSlots, slot, dest, first, last)
                .map_err(|e| cap_error(e, position))?;
            set_issued(&mut PORTS.lock(), first, last, true);
            if COM1_PORTS.overlaps(first, last) {
                crate::log::hand_off_console();
            }
            Ok(Output::empty())
        }
        PortCall::In { port, width } => {
            // SAFETY: the caller holds a cap for these ports, and the kernel never issues
            // its own (`KERNEL_PORTS`); port input cannot touch kernel memory.
            let value = unsafe {
                match width {
                    1 => u64::from(Port::<u8>::new(port).read()),
                    2 => u64::from(Port::<u16>::new(port).read()),
                    _ => u64::from(Port::<u32>::new(port).read()),
                }
            };
            Ok(Output::words(&[value]))
        }
        PortCall::Out { port, width, value } => {
            // SAFETY: as for input.
            unsafe {
                match width {
                    1 => Port::<u8>::new(port).write(value as u8),
                    2 => Port::<u16>::new(port).write(value as u16),
                    _ => Port::<u32>::new(port).write(value as u32),
                }
            }
            Ok(Output::empty())
        }
    }
}
