//! The boot frame allocator.
//!
//! At boot the kernel takes the frames it needs for itself (page tables, the root
//! task's first objects) from the usable regions of the memory map, lowest first, by
//! bumping a cursor. It never frees them and never allocates after boot: everything left
//! becomes untyped memory handed to the root task (seL4's rule: user memory is accounted
//! to the user). [`FrameAllocator::remaining`] yields what is left.

use super::{align_down, align_up, PAGE_SIZE};
use crate::boot::{Region, RegionKind, MAX_MEMORY_REGIONS};
use heapless::Vec;

/// Memory below 1 MiB is left alone (firmware data, future AP trampolines).
const LOW_MEMORY_END: u64 = 0x10_0000;

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Bump allocator over the usable regions.
pub struct FrameAllocator {
    free: Vec<Range, MAX_MEMORY_REGIONS>,
    allocated_frames: u64,
}

impl FrameAllocator {
    /// Takes the usable, page-aligned parts of the memory map above 1 MiB.
    pub fn new(regions: &[Region]) -> FrameAllocator {
        let mut free = Vec::new();
        for r in regions.iter().filter(|r| r.kind == RegionKind::Usable) {
            let Some(start) = align_up(r.base.max(LOW_MEMORY_END), PAGE_SIZE) else {
                continue;
            };
            let end = align_down(r.base.saturating_add(r.length), PAGE_SIZE);
            if start < end {
                // Capacity equals the region list's, so this cannot fail.
                let _ = free.push(Range { start, end });
            }
        }
        FrameAllocator {
            free,
            allocated_frames: 0,
        }
    }

    /// Allocates `count` physically contiguous, zeroed frames; returns the first address.
    pub fn allocate_contiguous(&mut self, count: u64, align: u64) -> Option<u64> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        for range in self.free.iter_mut() {
            let Some(start) = align_up(range.start, align.max(PAGE_SIZE)) else {
                continue;
            };
            if start.checked_add(bytes).is_some_and(|end| end <= range.end) {
                range.start = start + bytes;
                self.allocated_frames += count;
                // SAFETY: the frames are usable RAM no one else owns (just removed from
                // the free list) and the HHDM maps them.
                unsafe {
                    core::ptr::write_bytes(super::phys_to_virt(start) as *mut u8, 0, bytes as usize)
                };
                return Some(start);
            }
        }
        None
    }

    /// Allocates one zeroed frame.
    pub fn allocate(&mut self) -> Option<u64> {
        self.allocate_contiguous(1, PAGE_SIZE)
    }

    /// Removes and returns every free range; later allocations fail.
    pub fn take_all(&mut self) -> Vec<Range, MAX_MEMORY_REGIONS> {
        let taken = self.remaining().collect();
        self.free.clear();
        taken
    }

    /// Frames handed out so far.
    pub fn allocated_frames(&self) -> u64 {
        self.allocated_frames
    }

    /// What has not been allocated, lowest first.
    pub fn remaining(&self) -> impl Iterator<Item = Range> + '_ {
        self.free.iter().copied().filter(|r| r.start < r.end)
    }
}
