//! Physical memory: the boot frame allocator, page tables, and the higher-half direct map
//! (HHDM) through which the kernel reaches all RAM.

pub mod frame;
pub mod paging;

use core::sync::atomic::{AtomicU64, Ordering};

/// Page size.
pub const PAGE_SIZE: u64 = 4096;

static HHDM_OFFSET: AtomicU64 = AtomicU64::new(0);

/// Records the HHDM offset the bootloader chose (the kernel keeps the same one).
pub fn set_hhdm_offset(offset: u64) {
    HHDM_OFFSET.store(offset, Ordering::Relaxed);
}

/// The HHDM offset.
pub fn hhdm_offset() -> u64 {
    HHDM_OFFSET.load(Ordering::Relaxed)
}

/// The HHDM virtual address of a physical address.
pub fn phys_to_virt(phys: u64) -> u64 {
    phys + hhdm_offset()
}

/// Rounds up to a multiple of `align` (a power of two); `None` on overflow.
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// Rounds down to a multiple of `align` (a power of two).
pub fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}
