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
const LAPIC_SVR: usize = 0xf0;
const LAPIC_LVT_TIMER: usize = 0x320;
const LAPIC_TIMER_INITIAL: usize = 0x380;
const LAPIC_TIMER_CURRENT: usize = 0x390;
const LAPIC_TIMER_DIVIDE: usize = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;

static LAPIC_VIRT: AtomicU64 = AtomicU64::new(0);
static IOAPIC_VIRT: AtomicU64 = AtomicU64::new(0);
static TICKS_PER_PERIOD: AtomicU64 = AtomicU64::new(0);

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

fn ioapic_write(register: u32, value: u32) {
    let base = IOAPIC_VIRT.load(Ordering::Relaxed) as usize;
    // SAFETY: the I/O APIC's select and window registers in its uncached mapping.
    unsafe {
        VolatilePtr::new(NonNull::new_unchecked(base as *mut u32)).write(register);
        VolatilePtr::new(NonNull::new_unchecked((base + 0x10) as *mut u32)).write(value);
    }
}

fn ioapic_read(register: u32) -> u32 {
    let base = IOAPIC_VIRT.load(Ordering::Relaxed) as usize;
    // SAFETY: as in `ioapic_write`.
    unsafe {
        VolatilePtr::new(NonNull::new_unchecked(base as *mut u32)).write(register);
        VolatilePtr::new(NonNull::new_unchecked((base + 0x10) as *mut u32)).read()
    }
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

/// Counts APIC timer ticks (divide by 16) during 10 ms of PIT channel 2, and measures the
/// time-stamp counter's frequency over the same interval (`crate::time`).
fn calibrate() -> u64 {
    const PIT_HZ: u64 = 1_193_182;
    const COUNT: u64 = PIT_HZ / 100; // 10 ms
    lapic_reg(LAPIC_TIMER_DIVIDE).write(0x3);
    lapic_reg(LAPIC_LVT_TIMER).write(LVT_MASKED);
    // SAFETY: PIT channel 2 (gate via port 0x61) is not used by anything else.
    let tsc_start = unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let g = gate.read();
        gate.write((g & !0x02) | 0x01); // gate on, speaker off
        Port::<u8>::new(0x43).write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0
        Port::<u8>::new(0x42).write(COUNT as u8);
        Port::<u8>::new(0x42).write((COUNT >> 8) as u8);
        lapic_reg(LAPIC_TIMER_INITIAL).write(u32::MAX);
        let tsc_start = crate::time::now();
        // Wait for OUT2 (bit 5) to go high; bounded so a broken PIT cannot hang boot.
        let mut spins = 0u64;
        while gate.read() & 0x20 == 0 && spins < 50_000_000 {
            spins += 1;
            core::hint::spin_loop();
        }
        tsc_start
    };
    let elapsed = u64::from(u32::MAX - lapic_reg(LAPIC_TIMER_CURRENT).read());
    crate::time::set_frequency(crate::time::now().wrapping_sub(tsc_start), 10_000);
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
    if let Some(ioapic) = platform.ioapics.first() {
        IOAPIC_VIRT.store(crate::kmem::map_mmio(ioapic.base)?, Ordering::Relaxed);
        let pins = ((ioapic_read(1) >> 16) & 0xff) + 1;
        for pin in 0..pins {
            ioapic_write(0x10 + 2 * pin, LVT_MASKED);
            ioapic_write(0x11 + 2 * pin, 0);
        }
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
pub fn route_irq(gsi: u8, inti: u16) {
    let vector = u32::from(IRQ_VECTOR_BASE + gsi);
    let active_low = inti & 0b11 == 0b11;
    let level = (inti >> 2) & 0b11 == 0b11;
    let flags = (u32::from(active_low) << 13) | (u32::from(level) << 15);
    ioapic_write(0x11 + 2 * u32::from(gsi), 0);
    ioapic_write(0x10 + 2 * u32::from(gsi), vector | flags);
}

/// Masks GSI `gsi`.
pub fn mask_irq(gsi: u8) {
    ioapic_write(0x10 + 2 * u32::from(gsi), LVT_MASKED);
}
