//! The local APIC (timer, EOI), the I/O APIC (device IRQ routing) and the legacy PIC/PIT
//! (masked, and used once to calibrate the APIC timer).

use crate::platform::Platform;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use volatile::VolatilePtr;
use x86_64::instructions::port::Port;

/// Vector of the APIC timer tick.
pub const TIMER_VECTOR: u8 = 32;
/// First vector for I/O APIC interrupts (GSI n arrives on `IRQ_VECTOR_BASE + n`).
pub const IRQ_VECTOR_BASE: u8 = 48;
/// Number of GSIs the kernel routes.
pub const IRQ_COUNT: u8 = 24;
/// Spurious interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 0xff;
/// Timer frequency.
pub const TICK_HZ: u64 = 100;

const LAPIC_EOI: usize = 0xb0;
const LAPIC_ISR: usize = 0x100;
const LAPIC_ID: usize = 0x20;
const LAPIC_ICR_LOW: usize = 0x300;
const LAPIC_ICR_HIGH: usize = 0x310;
const ICR_NMI: u32 = 0b100 << 8;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_PENDING: u32 = 1 << 12;
const ICR_SELF: u32 = 0b01 << 18;
const LAPIC_SVR: usize = 0xf0;
const LAPIC_LVT_TIMER: usize = 0x320;
const LAPIC_TIMER_INITIAL: usize = 0x380;
const LAPIC_TIMER_CURRENT: usize = 0x390;
const LAPIC_TIMER_DIVIDE: usize = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;

static LAPIC_VIRT: AtomicU64 = AtomicU64::new(0);
static TICKS_PER_PERIOD: AtomicU64 = AtomicU64::new(0);

/// Most I/O APICs programmed (as many as platform discovery keeps).
const MAX_IOAPICS: usize = crate::platform::MAX_IOAPICS;

/// One I/O APIC as programmed: its mapping, and the GSIs its pins serve.
#[derive(Clone, Copy)]
struct IoApic {
    /// Uncached mapping of its registers (0: no I/O APIC in this entry).
    virt: u64,
    /// The GSI of pin 0.
    gsi_base: u32,
    /// Number of pins (redirection entries).
    pins: u32,
}

static IOAPICS: spin::Mutex<[IoApic; MAX_IOAPICS]> = spin::Mutex::new(
    [IoApic {
        virt: 0,
        gsi_base: 0,
        pins: 0,
    }; MAX_IOAPICS],
);

fn lapic_reg(offset: usize) -> VolatilePtr<'static, u32> {
    let base = LAPIC_VIRT.load(Ordering::Relaxed);
    // SAFETY: `base` is the uncached mapping of the local APIC page made in `init`, and
    // `offset` is one of the architectural register offsets (< 4096, 16-byte aligned).
    unsafe { VolatilePtr::new(NonNull::new_unchecked((base as usize + offset) as *mut u32)) }
}

/// Signals end of interrupt to the local APIC.
pub fn eoi() {
    lapic_reg(LAPIC_EOI).write(0);
}

/// A vector nothing routes, for the `stray-interrupt` test hook (priority class 9: while
/// in service it would hold back every device interrupt and the timer).
pub const STRAY_TEST_VECTOR: u8 = 0x90;

/// Sends a fixed interrupt on `vector` to this CPU (it stays pending while interrupts are
/// off).
pub fn send_self_interrupt(vector: u8) {
    lapic_reg(LAPIC_ICR_HIGH).write(0);
    lapic_reg(LAPIC_ICR_LOW).write(ICR_SELF | ICR_ASSERT | u32::from(vector));
    for _ in 0..1_000_000 {
        if lapic_reg(LAPIC_ICR_LOW).read() & ICR_PENDING == 0 {
            break;
        }
        core::hint::spin_loop();
    }
}

/// Sends a non-maskable interrupt to this CPU (for the in-kernel test of the NMI path)
/// and waits until the local APIC has sent it.
pub fn send_self_nmi() {
    let id = lapic_reg(LAPIC_ID).read() >> 24;
    lapic_reg(LAPIC_ICR_HIGH).write(id << 24);
    // Delivery mode NMI, level assert, physical destination, no shorthand.
    lapic_reg(LAPIC_ICR_LOW).write(ICR_NMI | ICR_ASSERT);
    for _ in 0..1_000_000 {
        if lapic_reg(LAPIC_ICR_LOW).read() & ICR_PENDING == 0 {
            break;
        }
        core::hint::spin_loop();
    }
}

/// Whether the local APIC has `vector` in service (its ISR bit is set): an interrupt the
/// kernel did not expect must still be acknowledged, or the APIC blocks every vector of
/// equal or lower priority (the timer among them) for good.
pub fn in_service(vector: u8) -> bool {
    let register = lapic_reg(LAPIC_ISR + 0x10 * usize::from(vector / 32)).read();
    register & (1 << (vector % 32)) != 0
}

impl IoApic {
    fn write(&self, register: u32, value: u32) {
        let base = self.virt as usize;
        // SAFETY: the I/O APIC's select and window registers in the uncached mapping made
        // in `init` (`virt` is non-zero only for a mapped I/O APIC).
        unsafe {
            VolatilePtr::new(NonNull::new_unchecked(base as *mut u32)).write(register);
            VolatilePtr::new(NonNull::new_unchecked((base + 0x10) as *mut u32)).write(value);
        }
    }

    fn read(&self, register: u32) -> u32 {
        let base = self.virt as usize;
        // SAFETY: as in `write`.
        unsafe {
            VolatilePtr::new(NonNull::new_unchecked(base as *mut u32)).write(register);
            VolatilePtr::new(NonNull::new_unchecked((base + 0x10) as *mut u32)).read()
        }
    }

    /// The pin serving `gsi`, if this I/O APIC serves it.
    fn pin(&self, gsi: u32) -> Option<u32> {
        if self.virt == 0 {
            return None;
        }
        pin_of(self.gsi_base, self.pins, gsi)
    }
}

/// The pin of an I/O APIC with `pins` pins from GSI `gsi_base` that serves `gsi`, if any.
pub fn pin_of(gsi_base: u32, pins: u32, gsi: u32) -> Option<u32> {
    let pin = gsi.checked_sub(gsi_base)?;
    (pin < pins).then_some(pin)
}

/// The I/O APIC and pin serving `gsi`.
fn find_pin(gsi: u32) -> Option<(IoApic, u32)> {
    IOAPICS
        .lock()
        .iter()
        .find_map(|ioapic| ioapic.pin(gsi).map(|pin| (*ioapic, pin)))
}

/// Whether the kernel can route `gsi`: an I/O APIC serves it and it has a vector
/// (`gsi < IRQ_COUNT`).
pub fn routable(gsi: u32) -> bool {
    gsi < u32::from(IRQ_COUNT) && find_pin(gsi).is_some()
}

/// Remaps the legacy PICs out of the exception range and masks them.
fn disable_pic() {
    // SAFETY: the 8259 command/data ports; the standard init sequence then mask-all.
    unsafe {
        let (mut c1, mut d1, mut c2, mut d2) = (
            Port::<u8>::new(0x20),
            Port::<u8>::new(0x21),
            Port::<u8>::new(0xa0),
            Port::<u8>::new(0xa1),
        );
        c1.write(0x11);
        c2.write(0x11);
        d1.write(0xf0);
        d2.write(0xf8);
        d1.write(4);
        d2.write(2);
        d1.write(1);
        d2.write(1);
        d1.write(0xff);
        d2.write(0xff);
    }
}

/// Counts APIC timer ticks (divide by 16) during 10 ms of PIT channel 2.
fn calibrate() -> u64 {
    const PIT_HZ: u64 = 1_193_182;
    const COUNT: u64 = PIT_HZ / 100; // 10 ms
    lapic_reg(LAPIC_TIMER_DIVIDE).write(0x3);
    lapic_reg(LAPIC_LVT_TIMER).write(LVT_MASKED);
    // SAFETY: PIT channel 2 (gate via port 0x61) is not used by anything else.
    unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let g = gate.read();
        gate.write((g & !0x02) | 0x01); // gate on, speaker off
        Port::<u8>::new(0x43).write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0
        Port::<u8>::new(0x42).write(COUNT as u8);
        Port::<u8>::new(0x42).write((COUNT >> 8) as u8);
        lapic_reg(LAPIC_TIMER_INITIAL).write(u32::MAX);
        // Wait for OUT2 (bit 5) to go high; bounded so a broken PIT cannot hang boot.
        let mut spins = 0u64;
        while gate.read() & 0x20 == 0 && spins < 50_000_000 {
            spins += 1;
            core::hint::spin_loop();
        }
    }
    let elapsed = u64::from(u32::MAX - lapic_reg(LAPIC_TIMER_CURRENT).read());
    lapic_reg(LAPIC_TIMER_INITIAL).write(0);
    elapsed
}

/// Enables the local APIC, masks every I/O APIC pin, calibrates and starts the timer.
pub fn init(platform: &Platform) -> Result<(), crate::kmem::MemoryError> {
    disable_pic();
    LAPIC_VIRT.store(
        crate::kmem::map_mmio(platform.lapic_base)?,
        Ordering::Relaxed,
    );
    // Every I/O APIC, each at its GSI base, every pin masked.
    for (info, entry) in platform.ioapics.iter().zip(IOAPICS.lock().iter_mut()) {
        let mut ioapic = IoApic {
            virt: crate::kmem::map_mmio(info.base)?,
            gsi_base: info.gsi_base,
            pins: 0,
        };
        ioapic.pins = ((ioapic.read(1) >> 16) & 0xff) + 1;
        for pin in 0..ioapic.pins {
            ioapic.write(0x10 + 2 * pin, LVT_MASKED);
            ioapic.write(0x11 + 2 * pin, 0);
        }
        *entry = ioapic;
    }
    lapic_reg(LAPIC_SVR).write(0x100 | u32::from(SPURIOUS_VECTOR));
    let per_10ms = calibrate().max(1);
    let per_tick = per_10ms * 100 / TICK_HZ;
    TICKS_PER_PERIOD.store(per_tick, Ordering::Relaxed);
    crate::info!(
        "apic: local APIC at {:#x}, timer {} ticks per 10 ms (bus/16 ~ {} kHz), tick {} Hz",
        platform.lapic_base,
        per_10ms,
        per_10ms / 10,
        TICK_HZ
    );
    lapic_reg(LAPIC_TIMER_DIVIDE).write(0x3);
    lapic_reg(LAPIC_LVT_TIMER).write(LVT_PERIODIC | u32::from(TIMER_VECTOR));
    lapic_reg(LAPIC_TIMER_INITIAL).write(per_tick.min(u64::from(u32::MAX)) as u32);
    Ok(())
}

/// Routes GSI `gsi` to vector `IRQ_VECTOR_BASE + gsi` on this CPU, unmasked. `inti` are
/// the MADT override's MPS INTI flags (0 = the bus default: ISA is edge, active high).
/// Does nothing for a GSI that is not [`routable`].
pub fn route_irq(gsi: u32, inti: u16) {
    if !routable(gsi) {
        return;
    }
    let Some((ioapic, pin)) = find_pin(gsi) else {
        return;
    };
    let vector = u32::from(IRQ_VECTOR_BASE) + gsi;
    let active_low = inti & 0b11 == 0b11;
    let level = (inti >> 2) & 0b11 == 0b11;
    let flags = (u32::from(active_low) << 13) | (u32::from(level) << 15);
    ioapic.write(0x11 + 2 * pin, 0);
    ioapic.write(0x10 + 2 * pin, vector | flags);
}

/// Masks GSI `gsi` (nothing if no I/O APIC serves it).
pub fn mask_irq(gsi: u32) {
    if let Some((ioapic, pin)) = find_pin(gsi) {
        ioapic.write(0x10 + 2 * pin, LVT_MASKED);
    }
}
