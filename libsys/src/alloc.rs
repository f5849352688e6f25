//! Allocators of CNode slots and untyped memory for a task that manages its own CSpace.
//!
//! - [`SlotAllocator`]: a bitmap over a range of slots of one CNode (the root task's free
//!   slots from the boot info).
//! - [`UntypedPool`]: the untyped regions a task holds and a watermark per region that
//!   mirrors the kernel's (objects are placed at the next offset aligned to their size,
//!   exactly as `UntypedRetype` does), so the task knows before asking which region has room.
//! - [`Allocator`] (runtime only): the two together; `allocator.make::<Endpoint>()` picks a
//!   slot and an untyped and retypes one object into it.
//!
//! The bookkeeping is pure and host-tested; only [`Allocator`] makes system calls.

use crate::bootinfo::{BootInfo, MAX_UNTYPED};
use crate::object::ObjectType;

/// Most slots a [`SlotAllocator`] can track: the root CNode's 2^12.
pub const MAX_SLOTS: u64 = 1 << crate::bootinfo::ROOT_CNODE_RADIX;
const BITMAP_WORDS: usize = (MAX_SLOTS / 64) as usize;

/// A bitmap allocator of slots `[start, end)` of one CNode.
///
/// Invariant: bits outside `[start, end)` are always set (never handed out).
#[derive(Clone)]
pub struct SlotAllocator {
    used: [u64; BITMAP_WORDS],
    start: u64,
    end: u64,
    free: u64,
}

impl SlotAllocator {
    /// An allocator of slots `[start, end)`, all free. `end` is clipped to [`MAX_SLOTS`].
    pub fn new(start: u64, end: u64) -> Self {
        let end = end.min(MAX_SLOTS);
        let start = start.min(end);
        let mut allocator = SlotAllocator {
            used: [u64::MAX; BITMAP_WORDS],
            start,
            end,
            free: 0,
        };
        for slot in start..end {
            allocator.set(slot, false);
        }
        allocator.free = end - start;
        allocator
    }

    /// The root task's free slots, from its boot info.
    pub fn from_boot_info(info: &BootInfo) -> Self {
        SlotAllocator::new(info.first_free_slot, 1 << info.cnode_radix.min(12))
    }

    fn set(&mut self, slot: u64, used: bool) {
        let (word, bit) = ((slot / 64) as usize, slot % 64);
        if used {
            self.used[word] |= 1 << bit;
        } else {
            self.used[word] &= !(1 << bit);
        }
    }

    fn is_used(&self, slot: u64) -> bool {
        self.used[(slot / 64) as usize] & (1 << (slot % 64)) != 0
    }

    /// Takes the lowest free slot.
    pub fn alloc(&mut self) -> Option<u64> {
        let first_word = (self.start / 64) as usize;
        for (i, word) in self.used.iter().enumerate().skip(first_word) {
            if *word != u64::MAX {
                let slot = i as u64 * 64 + u64::from(word.trailing_ones());
                self.set(slot, true);
                self.free -= 1;
                return Some(slot);
            }
        }
        None
    }

    /// Takes `count` consecutive free slots (for a retype of several objects); returns the
    /// first.
    pub fn alloc_range(&mut self, count: u64) -> Option<u64> {
        if count == 0 {
            return None;
        }
        if count == 1 {
            return self.alloc();
        }
        let mut run = 0;
        let mut slot = self.start;
        while slot < self.end {
            // Whole used words end any run at once (the root task's first few hundred slots
            // are its archive pages: scanning them bit by bit cost thousands of steps).
            if slot.is_multiple_of(64) && self.used[(slot / 64) as usize] == u64::MAX {
                run = 0;
                slot += 64;
                continue;
            }
            run = if self.is_used(slot) { 0 } else { run + 1 };
            slot += 1;
            let slot = slot - 1;
            if run == count {
                let first = slot + 1 - count;
                for s in first..=slot {
                    self.set(s, true);
                }
                self.free -= count;
                return Some(first);
            }
        }
        None
    }

    /// Returns a slot. Slots outside the range and slots already free are ignored.
    pub fn free(&mut self, slot: u64) {
        if slot >= self.start && slot < self.end && self.is_used(slot) {
            self.set(slot, false);
            self.free += 1;
        }
    }

    /// Whether `slot` is in the range and free.
    pub fn is_free(&self, slot: u64) -> bool {
        slot >= self.start && slot < self.end && !self.is_used(slot)
    }

    /// How many slots are free.
    pub fn free_count(&self) -> u64 {
        self.free
    }
}

/// One untyped region of an [`UntypedPool`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// Cap pointer of the untyped.
    pub cptr: u64,
    /// log2 of its size.
    pub size_bits: u32,
    /// Device memory: only frames (and smaller untyped) come from it.
    pub device: bool,
    /// Bytes handed out from the start of the region (the kernel's watermark as far as this
    /// pool knows).
    pub watermark: u64,
}

impl Region {
    /// The region's size in bytes.
    pub fn size(&self) -> u64 {
        1u64.checked_shl(self.size_bits).unwrap_or(0)
    }

    /// Where `count` objects of `2^size_bits` bytes would start, if they fit.
    pub fn place(&self, size_bits: u32, count: u64) -> Option<u64> {
        let object = 1u64.checked_shl(size_bits)?;
        let start = self.watermark.checked_next_multiple_of(object)?;
        let end = start.checked_add(object.checked_mul(count)?)?;
        (end <= self.size()).then_some(start)
    }
}

/// Where an [`UntypedPool`] put a retype: the region and the byte offset of the first object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Index of the region in the pool.
    pub region: usize,
    /// Offset of the first object from the region's base.
    pub offset: u64,
}

/// The untyped regions a task retypes from, with a watermark for each.
#[derive(Clone)]
pub struct UntypedPool {
    regions: [Region; MAX_UNTYPED],
    count: usize,
}

impl Default for UntypedPool {
    fn default() -> Self {
        Self::new()
    }
}

impl UntypedPool {
    /// An empty pool.
    pub const fn new() -> Self {
        UntypedPool {
            regions: [Region {
                cptr: 0,
                size_bits: 0,
                device: false,
                watermark: 0,
            }; MAX_UNTYPED],
            count: 0,
        }
    }

    /// Every untyped the boot info describes, all free.
    pub fn from_boot_info(info: &BootInfo) -> Self {
        let mut pool = UntypedPool::new();
        let slots = info.untyped_slots;
        let count = slots
            .end
            .saturating_sub(slots.start)
            .min(MAX_UNTYPED as u64);
        for (i, desc) in info.untyped.iter().take(count as usize).enumerate() {
            pool.add(
                slots.start + i as u64,
                u32::from(desc.size_bits),
                desc.is_device != 0,
            );
        }
        pool
    }

    /// Adds a region (all free). Returns its index, or `None` if the pool is full.
    pub fn add(&mut self, cptr: u64, size_bits: u32, device: bool) -> Option<usize> {
        let region = self.regions.get_mut(self.count)?;
        *region = Region {
            cptr,
            size_bits,
            device,
            watermark: 0,
        };
        self.count += 1;
        Some(self.count - 1)
    }

    /// The regions.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.count]
    }

    /// Chooses where `count` objects of `object_type` (size argument `size_arg`) go: the
    /// smallest region with room (keeping big regions for big objects), skipping device
    /// memory unless the type allows it.
    pub fn place(&self, object_type: ObjectType, size_arg: u64, count: u64) -> Option<Placement> {
        let size_bits = object_type.size_bits(size_arg)?;
        // Device memory only ever becomes frames here (never sub-untyped: users of
        // `make_untyped` want RAM).
        let device_ok = matches!(object_type, ObjectType::Frame4K | ObjectType::Frame2M);
        let mut best: Option<(u32, Placement)> = None;
        for (index, region) in self.regions().iter().enumerate() {
            if region.device && !device_ok {
                continue;
            }
            if let Some(offset) = region.place(size_bits, count) {
                if best.is_none_or(|(bits, _)| region.size_bits < bits) {
                    best = Some((
                        region.size_bits,
                        Placement {
                            region: index,
                            offset,
                        },
                    ));
                }
            }
        }
        best.map(|(_, placement)| placement)
    }

    /// Records that the retype `place` proposed succeeded.
    pub fn commit(
        &mut self,
        placement: Placement,
        object_type: ObjectType,
        size_arg: u64,
        count: u64,
    ) {
        if let (Some(region), Some(bits)) = (
            self.regions.get_mut(placement.region),
            object_type.size_bits(size_arg),
        ) {
            region.watermark = placement.offset + (count << bits);
        }
    }

    /// Marks a region full (the kernel said it has no room: it knows better than we do).
    pub fn mark_full(&mut self, region: usize) {
        if let Some(region) = self.regions.get_mut(region) {
            region.watermark = region.size();
        }
    }

    /// Marks a region empty again (after its cap was revoked).
    pub fn reset(&mut self, region: usize) {
        if let Some(region) = self.regions.get_mut(region) {
            region.watermark = 0;
        }
    }

    /// The index of the region whose cap is `cptr`.
    pub fn find(&self, cptr: u64) -> Option<usize> {
        self.regions().iter().position(|r| r.cptr == cptr)
    }

    /// Bytes not yet handed out over all non-device regions.
    pub fn free_bytes(&self) -> u64 {
        self.regions()
            .iter()
            .filter(|r| !r.device)
            .map(|r| r.size() - r.watermark.min(r.size()))
            .sum()
    }
}

#[cfg(all(feature = "runtime", target_os = "none"))]
pub use runtime::{AllocError, Allocator};

#[cfg(all(feature = "runtime", target_os = "none"))]
mod runtime {
    use super::{SlotAllocator, UntypedPool};
    use crate::abi::Error;
    use crate::bootinfo::{BootInfo, SLOT_CNODE};
    use crate::cap::{CNode, Cap, InvocationError, ObjectKind, SlotPath, Untyped};
    use crate::object::ObjectType;

    /// Why [`Allocator`] could not make an object.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum AllocError {
        /// No free slot is left in the CNode.
        OutOfSlots,
        /// No untyped region has room for the object.
        OutOfMemory,
        /// The kernel refused the retype for another reason.
        Kernel(InvocationError),
    }

    impl core::fmt::Display for AllocError {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self {
                AllocError::OutOfSlots => write!(f, "no free CNode slot"),
                AllocError::OutOfMemory => write!(f, "no untyped memory with room"),
                AllocError::Kernel(e) => write!(f, "retype refused: {e}"),
            }
        }
    }

    /// Slots of one CNode (the task's CSpace root, with cptr = slot) and an untyped pool.
    pub struct Allocator {
        /// The CNode the objects go into.
        pub cnode: Cap<CNode>,
        /// Its free slots.
        pub slots: SlotAllocator,
        /// The untyped memory.
        pub untyped: UntypedPool,
    }

    impl Allocator {
        /// The root task's allocator: its root CNode, free slots and every untyped.
        pub fn from_boot_info(info: &BootInfo) -> Self {
            Allocator {
                cnode: Cap::from_cptr(SLOT_CNODE),
                slots: SlotAllocator::from_boot_info(info),
                untyped: UntypedPool::from_boot_info(info),
            }
        }

        /// Takes a free slot.
        ///
        /// # Errors
        /// [`AllocError::OutOfSlots`].
        pub fn slot(&mut self) -> Result<u64, AllocError> {
            self.slots.alloc().ok_or(AllocError::OutOfSlots)
        }

        /// Empties `slot` (deleting its cap) and gives it back. The memory of the object
        /// returns to its untyped only when the untyped is revoked.
        ///
        /// # Errors
        /// The kernel's error from `CNodeDelete`; the slot stays taken then.
        pub fn free_slot(&mut self, slot: u64) -> Result<(), InvocationError> {
            self.cnode.delete(SlotPath::at(slot))?;
            self.slots.free(slot);
            Ok(())
        }

        /// Makes `count` objects of `object_type` into consecutive fresh slots; returns the
        /// first slot.
        ///
        /// # Errors
        /// [`AllocError`]: no slots, no memory, or another kernel error.
        pub fn retype(
            &mut self,
            object_type: ObjectType,
            size_arg: u64,
            count: u64,
        ) -> Result<u64, AllocError> {
            let first = self
                .slots
                .alloc_range(count)
                .ok_or(AllocError::OutOfSlots)?;
            loop {
                let Some(placement) = self.untyped.place(object_type, size_arg, count) else {
                    for slot in first..first + count {
                        self.slots.free(slot);
                    }
                    return Err(AllocError::OutOfMemory);
                };
                let region = self.untyped.regions()[placement.region];
                let untyped: Cap<Untyped> = Cap::from_cptr(region.cptr);
                match untyped.retype(object_type, size_arg, self.cnode, first, count) {
                    Ok(()) => {
                        self.untyped.commit(placement, object_type, size_arg, count);
                        return Ok(first);
                    }
                    Err(e) if e.error == Error::NotEnoughMemory => {
                        self.untyped.mark_full(placement.region)
                    }
                    Err(e) => {
                        for slot in first..first + count {
                            self.slots.free(slot);
                        }
                        return Err(AllocError::Kernel(e));
                    }
                }
            }
        }

        /// Makes one object of type `T` (fixed size) in a fresh slot.
        ///
        /// # Errors
        /// As for [`Self::retype`].
        pub fn make<T: ObjectKind>(&mut self) -> Result<Cap<T>, AllocError> {
            self.retype(T::OBJECT_TYPE, 0, 1).map(Cap::from_cptr)
        }

        /// Makes a CNode of `2^radix` slots.
        ///
        /// # Errors
        /// As for [`Self::retype`].
        pub fn make_cnode(&mut self, radix: u64) -> Result<Cap<CNode>, AllocError> {
            self.retype(ObjectType::CNode, radix, 1).map(Cap::from_cptr)
        }

        /// Carves a fresh untyped of `2^size_bits` bytes out of the pool, for a user that
        /// wants memory it can revoke as a whole.
        ///
        /// # Errors
        /// As for [`Self::retype`].
        pub fn make_untyped(&mut self, size_bits: u32) -> Result<Cap<Untyped>, AllocError> {
            self.retype(ObjectType::Untyped, u64::from(size_bits), 1)
                .map(Cap::from_cptr)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_handed_out_lowest_first_and_never_twice() {
        let mut slots = SlotAllocator::new(10, 200);
        assert_eq!(slots.free_count(), 190);
        assert_eq!(slots.alloc(), Some(10));
        assert_eq!(slots.alloc(), Some(11));
        slots.free(10);
        assert_eq!(slots.alloc(), Some(10));
        assert_eq!(slots.alloc(), Some(12));
        assert_eq!(slots.free_count(), 187);
    }

    #[test]
    fn slot_allocator_runs_dry_and_ignores_foreign_frees() {
        let mut slots = SlotAllocator::new(4094, 5000);
        assert_eq!(slots.alloc(), Some(4094));
        assert_eq!(slots.alloc(), Some(4095));
        assert_eq!(slots.alloc(), None);
        slots.free(3);
        slots.free(9999);
        assert_eq!(slots.alloc(), None);
        slots.free(4095);
        slots.free(4095);
        assert_eq!(slots.free_count(), 1);
        assert!(slots.is_free(4095) && !slots.is_free(4094) && !slots.is_free(3));
    }

    #[test]
    fn slot_ranges_are_consecutive_and_skip_holes() {
        let mut slots = SlotAllocator::new(8, 100);
        let a = slots.alloc().unwrap();
        let _b = slots.alloc().unwrap();
        slots.free(a);
        assert_eq!(slots.alloc_range(3), Some(10));
        assert_eq!(slots.alloc(), Some(8));
        assert_eq!(slots.alloc_range(0), None);
        assert_eq!(slots.alloc_range(1000), None);
    }

    #[test]
    fn objects_are_placed_at_aligned_offsets_like_the_kernel() {
        let region = Region {
            cptr: 8,
            size_bits: 16,
            device: false,
            watermark: 16,
        };
        // A 2 KiB TCB after a 16-byte endpoint starts at 2 KiB.
        assert_eq!(region.place(11, 1), Some(2048));
        assert_eq!(region.place(16, 1), None);
        assert_eq!(region.place(12, 15), Some(4096));
        assert_eq!(region.place(12, 16), None);
        assert_eq!(region.place(70, 1), None);
    }

    #[test]
    fn pool_prefers_the_smallest_region_that_fits() {
        let mut pool = UntypedPool::new();
        pool.add(8, 20, false);
        pool.add(9, 12, false);
        pool.add(10, 22, true);
        let p = pool.place(ObjectType::Endpoint, 0, 1).unwrap();
        assert_eq!(
            p,
            Placement {
                region: 1,
                offset: 0
            }
        );
        pool.commit(p, ObjectType::Endpoint, 0, 1);
        // A frame no longer fits in the 4 KiB region.
        assert_eq!(pool.place(ObjectType::Frame4K, 0, 1).unwrap().region, 0);
        // A 2 MiB frame may come from device memory, a TCB may not.
        assert_eq!(pool.place(ObjectType::Frame2M, 0, 1).unwrap().region, 2);
        pool.add(11, 21, false);
        assert_eq!(pool.place(ObjectType::Frame2M, 0, 1).unwrap().region, 3);
        assert_eq!(pool.place(ObjectType::CNode, 0, 1), None);
    }

    #[test]
    fn pool_watermarks_advance_reset_and_fill() {
        let mut pool = UntypedPool::new();
        let r = pool.add(8, 13, false).unwrap();
        let p = pool.place(ObjectType::Tcb, 0, 2).unwrap();
        pool.commit(p, ObjectType::Tcb, 0, 2);
        assert_eq!(pool.regions()[r].watermark, 4096);
        assert_eq!(pool.free_bytes(), 4096);
        pool.mark_full(r);
        assert_eq!(pool.free_bytes(), 0);
        assert_eq!(pool.place(ObjectType::Endpoint, 0, 1), None);
        pool.reset(r);
        assert_eq!(pool.free_bytes(), 8192);
        assert_eq!(pool.find(8), Some(0));
        assert_eq!(pool.find(9), None);
    }
}
