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

/// A 4 KiB page of 512 words that the kernel keeps as a table (a page table at any level,
/// or an ASID pool), reached through the HHDM one word at a time.
///
/// No reference to the page is ever made: page tables are shared by every address space
/// that maps them and read by the CPU's page walker, and a table can be reached from two
/// places at once (a teardown and an unmap). Each access is a place read or write through
/// a raw pointer to the array (bounds-checked: an index of 512 or more is a kernel bug and
/// panics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordPage(u64);

impl WordPage {
    /// Words in the page.
    pub const WORDS: usize = 512;

    /// The page at physical address `phys`.
    ///
    /// # Safety
    /// `phys` must be a 4 KiB page of RAM that the kernel keeps as a table (a page-table
    /// page it made or was given, or an ASID pool object), and it must stay so while the
    /// handle is used.
    #[inline(always)]
    pub const unsafe fn at(phys: u64) -> WordPage {
        WordPage(phys)
    }

    #[inline(always)]
    fn words(self) -> *mut [u64; WordPage::WORDS] {
        phys_to_virt(self.0) as *mut [u64; WordPage::WORDS]
    }

    /// Word `index`.
    #[inline(always)]
    pub fn get(self, index: usize) -> u64 {
        // SAFETY: the page is RAM the kernel keeps as a table (`at`'s contract), mapped by
        // the HHDM; a place read through the raw pointer makes no reference.
        unsafe { (*self.words())[index] }
    }

    /// Sets word `index`.
    #[inline(always)]
    pub fn set(self, index: usize, value: u64) {
        // SAFETY: as in `get`, a place write.
        unsafe { (*self.words())[index] = value }
    }

    /// Zeroes the whole page.
    pub fn clear(self) {
        // SAFETY: as in `get`: 4 KiB of kernel-owned RAM, written through the raw pointer.
        unsafe { self.words().write_bytes(0, 1) }
    }

    /// Copies words `from..` of `source` into the same words of this page.
    pub fn copy_from(self, source: WordPage, from: usize) {
        let count = WordPage::WORDS.saturating_sub(from);
        // SAFETY: both are kernel-owned 4 KiB pages (`at`'s contract); `from + count` is at
        // most 512, so both ranges are inside them; raw pointers, so overlapping (the same
        // page) is a harmless `memmove`.
        unsafe {
            core::ptr::copy(
                source.words().cast::<u64>().add(from.min(WordPage::WORDS)),
                self.words().cast::<u64>().add(from.min(WordPage::WORDS)),
                count,
            )
        }
    }
}

/// Rounds up to a multiple of `align` (a power of two); `None` on overflow.
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// Rounds down to a multiple of `align` (a power of two).
pub fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}
