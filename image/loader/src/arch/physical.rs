//! Physical memory while the loader runs: the first 4 GiB are identity-mapped by the entry
//! code, so a physical address below 4 GiB is a valid pointer.

use loader::bootinfo::PhysicalMemory;
use loader::memmap::{FrameAllocator, MemoryKind, PAGE_SIZE};
use loader::paging::TableFrames;

/// Top of the identity map.
pub const IDENTITY_LIMIT: u64 = 1 << 32;

/// True if `[addr, addr + len)` is inside the identity map and not at address 0.
fn mapped(addr: u64, len: usize) -> bool {
    addr != 0
        && addr
            .checked_add(len as u64)
            .is_some_and(|end| end <= IDENTITY_LIMIT)
}

/// Reads physical memory through the identity map.
pub struct IdentityMemory;

impl PhysicalMemory for IdentityMemory {
    fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        if !mapped(addr, len) {
            return None;
        }
        // SAFETY: the range is identity-mapped (checked above) and readable RAM or ROM as
        // far as the boot protocol told us; the loader never writes to memory it reads
        // through this view (allocations avoid the boot structures).
        Some(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
    }
}

/// A writable view of physical memory the loader allocated.
///
/// # Safety
/// `[addr, addr + len)` must be below 4 GiB and owned by the caller (a fresh allocation),
/// with no other live reference to it.
pub unsafe fn slice_mut(addr: u64, len: usize) -> &'static mut [u8] {
    assert!(mapped(addr, len), "physical slice outside the identity map");
    // SAFETY: the caller guarantees exclusive ownership; the range is mapped (checked).
    unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

/// Page-table frames from a pool the allocator handed out.
pub struct TablePool {
    next: u64,
    end: u64,
}

impl TablePool {
    /// A pool of `pages` pages, allocated as bootloader-reclaimable.
    pub fn new(
        allocator: &mut FrameAllocator,
        pages: u64,
    ) -> Result<TablePool, loader::memmap::AllocError> {
        let start = allocator.allocate(
            pages * PAGE_SIZE,
            PAGE_SIZE,
            MemoryKind::BootloaderReclaimable,
        )?;
        Ok(TablePool {
            next: start,
            end: start + pages * PAGE_SIZE,
        })
    }
}

impl TableFrames for TablePool {
    fn allocate_table(&mut self) -> Option<u64> {
        if self.next >= self.end {
            return None;
        }
        let table = self.next;
        self.next += PAGE_SIZE;
        // SAFETY: the page is part of this pool's fresh allocation and handed out once.
        unsafe { slice_mut(table, PAGE_SIZE as usize) }.fill(0);
        Some(table)
    }

    fn table(&mut self, phys: u64) -> &mut [u64; 512] {
        assert!(mapped(phys, PAGE_SIZE as usize) && phys.is_multiple_of(PAGE_SIZE));
        // SAFETY: `phys` is a table this pool handed out (the paging code only passes those
        // back); the returned borrow is tied to `&mut self`, so only one is live at a time.
        unsafe { &mut *(phys as *mut [u64; 512]) }
    }
}
