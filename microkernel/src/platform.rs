//! Platform discovery: ACPI MADT (through the `acpi` crate) for the local APIC, the I/O
//! APICs and the ISA interrupt overrides.

use crate::mem;
use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use core::ptr::NonNull;
use heapless::Vec;

/// Most I/O APICs and overrides the kernel keeps.
pub const MAX_IOAPICS: usize = 4;
const MAX_OVERRIDES: usize = 16;
/// Architectural default local APIC base.
pub const DEFAULT_LAPIC_BASE: u64 = 0xfee0_0000;
/// Conventional I/O APIC base, used when there is no MADT.
pub const DEFAULT_IOAPIC_BASE: u64 = 0xfec0_0000;

/// An I/O APIC.
#[derive(Clone, Copy, Debug)]
pub struct IoApicInfo {
    /// Physical MMIO base.
    pub base: u64,
    /// First global system interrupt it serves.
    pub gsi_base: u32,
}

/// An ISA IRQ routed to another global system interrupt.
#[derive(Clone, Copy, Debug)]
pub struct IrqOverride {
    /// ISA IRQ.
    pub irq: u8,
    /// Global system interrupt.
    pub gsi: u32,
    /// MPS INTI flags (polarity, trigger mode).
    pub flags: u16,
}

/// What the kernel learned about the interrupt hardware.
#[derive(Debug)]
pub struct Platform {
    /// Local APIC physical base.
    pub lapic_base: u64,
    /// I/O APICs.
    pub ioapics: Vec<IoApicInfo, MAX_IOAPICS>,
    /// ISA IRQ overrides.
    pub overrides: Vec<IrqOverride, MAX_OVERRIDES>,
    /// Number of enabled CPUs listed in the MADT.
    pub cpus: usize,
    /// Where the facts came from.
    pub source: &'static str,
}

impl Platform {
    /// The defaults every PC has, for machines without a usable MADT.
    fn defaults(source: &'static str) -> Platform {
        let mut ioapics = Vec::new();
        let _ = ioapics.push(IoApicInfo {
            base: DEFAULT_IOAPIC_BASE,
            gsi_base: 0,
        });
        Platform {
            lapic_base: DEFAULT_LAPIC_BASE,
            ioapics,
            overrides: Vec::new(),
            cpus: 1,
            source,
        }
    }
}

/// Maps ACPI tables through the HHDM, mapping pages on demand (tables often sit in
/// regions the HHDM leaves out).
#[derive(Clone, Copy)]
struct HhdmAcpiHandler;

impl AcpiHandler for HhdmAcpiHandler {
    /// # Safety
    /// As the trait requires: `phys..phys + size` must hold a `T` (the acpi crate passes
    /// table addresses it read from the firmware's tables).
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let start = mem::align_down(phys as u64, mem::PAGE_SIZE);
        let end = phys as u64 + size as u64;
        let mut page = start;
        while page < end {
            crate::kmem::ensure_mapped(page);
            page += mem::PAGE_SIZE;
        }
        let virt = mem::phys_to_virt(phys as u64) as *mut T;
        // SAFETY: the acpi crate promises a valid T at `phys`; every page of the range
        // is now mapped in the HHDM. `virt` is non-null (HHDM addresses are high).
        unsafe {
            PhysicalMapping::new(
                phys,
                NonNull::new_unchecked(virt),
                size,
                (end - start) as usize,
                *self,
            )
        }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

static OVERRIDES: spin::Mutex<Vec<IrqOverride, MAX_OVERRIDES>> = spin::Mutex::new(Vec::new());

/// Remembers the ISA overrides for [`isa_irq_to_gsi`].
pub fn remember(platform: &Platform) {
    *OVERRIDES.lock() = platform.overrides.clone();
}

/// The global system interrupt an ISA IRQ arrives on (after [`remember`]).
pub fn isa_irq_to_gsi(irq: u8) -> u32 {
    OVERRIDES
        .lock()
        .iter()
        .find(|o| o.irq == irq)
        .map(|o| o.gsi)
        .unwrap_or(u32::from(irq))
}

/// The MPS INTI flags of an ISA IRQ's override (0 if none).
pub fn isa_irq_flags(irq: u8) -> u16 {
    OVERRIDES
        .lock()
        .iter()
        .find(|o| o.irq == irq)
        .map(|o| o.flags)
        .unwrap_or(0)
}

/// Reads the MADT through the RSDP; falls back to the PC defaults with a warning.
pub fn discover(rsdp: Option<u64>) -> Platform {
    let Some(rsdp) = rsdp else {
        crate::warn!("no ACPI RSDP from the bootloader; assuming a standard PC APIC layout");
        return Platform::defaults("defaults (no RSDP)");
    };
    // SAFETY: the bootloader says an RSDP is at this physical address.
    let tables = match unsafe { AcpiTables::from_rsdp(HhdmAcpiHandler, rsdp as usize) } {
        Ok(t) => t,
        Err(e) => {
            crate::warn!("ACPI tables unreadable ({e:?}); assuming a standard PC APIC layout");
            return Platform::defaults("defaults (bad ACPI)");
        }
    };
    let madt = match tables.find_table::<Madt>() {
        Ok(m) => m,
        Err(e) => {
            crate::warn!("no ACPI MADT ({e:?}); assuming a standard PC APIC layout");
            return Platform::defaults("defaults (no MADT)");
        }
    };
    let mut platform = Platform {
        lapic_base: u64::from(madt.get().local_apic_address),
        ioapics: Vec::new(),
        overrides: Vec::new(),
        cpus: 0,
        source: "ACPI MADT",
    };
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::LocalApic(e) => {
                let flags = e.flags;
                if flags & 1 != 0 {
                    platform.cpus += 1;
                }
            }
            MadtEntry::IoApic(e) => {
                let info = IoApicInfo {
                    base: u64::from(e.io_apic_address),
                    gsi_base: e.global_system_interrupt_base,
                };
                if platform.ioapics.push(info).is_err() {
                    crate::warn!("more than {MAX_IOAPICS} I/O APICs; ignoring the rest");
                }
            }
            MadtEntry::InterruptSourceOverride(e) => {
                let o = IrqOverride {
                    irq: e.irq,
                    gsi: e.global_system_interrupt,
                    flags: e.flags,
                };
                if platform.overrides.push(o).is_err() {
                    crate::warn!("more than {MAX_OVERRIDES} IRQ overrides; ignoring the rest");
                }
            }
            MadtEntry::LocalApicAddressOverride(e) => platform.lapic_base = e.local_apic_address,
            _ => {}
        }
    }
    if platform.ioapics.is_empty() {
        let _ = platform.ioapics.push(IoApicInfo {
            base: DEFAULT_IOAPIC_BASE,
            gsi_base: 0,
        });
    }
    platform.cpus = platform.cpus.max(1);
    platform
}
