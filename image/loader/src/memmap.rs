//! Physical memory: the firmware's map, the loader's allocations, and the Limine memory map
//! built from both.
//!
//! Firmware maps (PVH, multiboot2) are E820-style lists that may be unsorted, overlapping and
//! end in all-zero entries. [`build_memory_map`] turns them plus the loader's own overlays
//! (page tables, responses, kernel, modules) into what the Limine protocol promises: sorted,
//! non-overlapping entries, usable and bootloader-reclaimable entries page-aligned, nothing
//! usable below 0x1000. [`FrameAllocator`] hands out page-aligned memory from the usable part.

use crate::fixed::FixedVec;

/// Page size.
pub const PAGE_SIZE: u64 = 4096;
/// The firmware regions the loader keeps; more is a fatal error.
pub const MAX_FIRMWARE_REGIONS: usize = 128;
/// Overlays (allocations and reserved boot data) the loader tracks.
pub const MAX_OVERLAYS: usize = 64;
/// Entries of the final map: every firmware entry and overlay can split at most twice.
pub const MAX_MAP_ENTRIES: usize = 2 * (MAX_FIRMWARE_REGIONS + MAX_OVERLAYS) + 8;
/// Free ranges the allocator tracks.
pub const MAX_FREE_RANGES: usize = MAX_FIRMWARE_REGIONS + 2 * MAX_OVERLAYS;

/// Limine memory map entry types (`LIMINE_MEMMAP_*`), with their protocol values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
#[repr(u64)]
pub enum MemoryKind {
    /// Free RAM.
    #[default]
    Usable = 0,
    /// Not RAM, or firmware's.
    Reserved = 1,
    /// ACPI tables.
    AcpiReclaimable = 2,
    /// ACPI non-volatile storage.
    AcpiNvs = 3,
    /// Broken RAM.
    BadMemory = 4,
    /// The loader's page tables, stack, GDT, responses and boot data.
    BootloaderReclaimable = 5,
    /// The loaded kernel, the kernel file and the modules.
    ExecutableAndModules = 6,
    /// A framebuffer.
    Framebuffer = 7,
}

impl MemoryKind {
    /// Maps an E820 / multiboot2 memory type (1 available, 3 ACPI, 4 NVS, 5 bad).
    pub fn from_e820(kind: u32) -> MemoryKind {
        match kind {
            1 => MemoryKind::Usable,
            3 => MemoryKind::AcpiReclaimable,
            4 => MemoryKind::AcpiNvs,
            5 => MemoryKind::BadMemory,
            _ => MemoryKind::Reserved,
        }
    }

    /// Which firmware type wins where firmware entries overlap: anything beats usable.
    fn firmware_strength(self) -> u8 {
        match self {
            MemoryKind::Usable => 0,
            MemoryKind::AcpiReclaimable => 1,
            MemoryKind::AcpiNvs => 2,
            MemoryKind::Reserved | MemoryKind::Framebuffer => 3,
            MemoryKind::BadMemory => 4,
            MemoryKind::BootloaderReclaimable => 0,
            MemoryKind::ExecutableAndModules => 0,
        }
    }
}

/// A physical address range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// `[start, start + length)`, saturating at the top of the address space.
    pub fn new(start: u64, length: u64) -> Range {
        Range {
            start,
            end: start.saturating_add(length),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Grown to page boundaries.
    pub fn page_outer(&self) -> Range {
        Range {
            start: align_down(self.start, PAGE_SIZE),
            end: align_up(self.end, PAGE_SIZE),
        }
    }

    /// Shrunk to page boundaries (possibly empty).
    pub fn page_inner(&self) -> Range {
        Range {
            start: align_up(self.start, PAGE_SIZE),
            end: align_down(self.end, PAGE_SIZE),
        }
    }

    fn contains_range(&self, other: &Range) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two), saturating.
pub fn align_up(value: u64, align: u64) -> u64 {
    value
        .checked_add(align - 1)
        .map_or(!(align - 1), |v| v & !(align - 1))
}

/// Rounds `value` down to a multiple of `align` (a power of two).
pub fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

/// One memory map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    /// Physical range.
    pub range: Range,
    /// Its type.
    pub kind: MemoryKind,
}

/// The firmware's regions, as given (empty entries dropped).
pub type FirmwareMap = FixedVec<Region, MAX_FIRMWARE_REGIONS>;
/// The loader's overlays: each claims usable memory for a loader kind.
pub type Overlays = FixedVec<Region, MAX_OVERLAYS>;
/// A finished Limine memory map.
pub type MemoryMap = FixedVec<Region, MAX_MAP_ENTRIES>;

/// Why the memory map could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMapError {
    /// More entries than the fixed tables hold.
    TooManyEntries,
}

impl core::fmt::Display for MemoryMapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemoryMapError::TooManyEntries => write!(
                f,
                "memory map too large (more than {MAX_MAP_ENTRIES} entries after splitting)"
            ),
        }
    }
}

/// Sorted, deduplicated boundaries of all `regions`.
fn boundaries<const N: usize>(groups: &[&[Region]]) -> Result<FixedVec<u64, N>, MemoryMapError> {
    let mut points: FixedVec<u64, N> = FixedVec::new();
    for region in groups.iter().flat_map(|group| group.iter()) {
        for point in [region.range.start, region.range.end] {
            if let Err(index) = points.binary_search(&point) {
                points
                    .insert(index, point)
                    .map_err(|_| MemoryMapError::TooManyEntries)?;
            }
        }
    }
    Ok(points)
}

/// The strongest firmware type covering `piece`, if any firmware entry covers it.
fn firmware_kind_at(firmware: &[Region], piece: &Range) -> Option<MemoryKind> {
    firmware
        .iter()
        .filter(|region| region.range.contains_range(piece))
        .map(|region| region.kind)
        .max_by_key(|kind| kind.firmware_strength())
}

/// The strongest overlay covering `piece` (executable-and-modules beats reclaimable).
fn overlay_kind_at(overlays: &[Region], piece: &Range) -> Option<MemoryKind> {
    overlays
        .iter()
        .filter(|region| region.range.contains_range(piece))
        .map(|region| region.kind)
        .max()
}

/// Appends `region`, merging it into the last entry when contiguous and of the same kind.
fn push_merged(map: &mut MemoryMap, region: Region) -> Result<(), MemoryMapError> {
    if region.range.is_empty() {
        return Ok(());
    }
    if let Some(last) = map.last_mut() {
        if last.kind == region.kind && last.range.end == region.range.start {
            last.range.end = region.range.end;
            return Ok(());
        }
    }
    map.push(region).map_err(|_| MemoryMapError::TooManyEntries)
}

/// Builds the Limine memory map: firmware types where the firmware says so, overlays where
/// they claim usable RAM, usable and reclaimable entries page-aligned, nothing usable below
/// `0x1000`, sorted and non-overlapping.
pub fn build_memory_map(
    firmware: &[Region],
    overlays: &[Region],
) -> Result<MemoryMap, MemoryMapError> {
    let points: FixedVec<u64, { 2 * (MAX_FIRMWARE_REGIONS + MAX_OVERLAYS) + 4 }> = boundaries(&[
        firmware,
        overlays,
        &[Region {
            range: Range::new(0, PAGE_SIZE),
            kind: MemoryKind::Reserved,
        }],
    ])?;
    let mut raw = MemoryMap::new();
    for pair in points.windows(2) {
        let piece = Range {
            start: pair[0],
            end: pair[1],
        };
        let Some(mut kind) = firmware_kind_at(firmware, &piece) else {
            continue;
        };
        if kind == MemoryKind::Usable {
            if piece.end <= PAGE_SIZE {
                continue; // page 0 is never usable
            }
            if let Some(overlay) = overlay_kind_at(overlays, &piece) {
                kind = overlay;
            }
        }
        push_merged(&mut raw, Region { range: piece, kind })?;
    }
    // Page-align the entries the protocol wants aligned; what is shaved off is left out.
    let mut map = MemoryMap::new();
    for region in raw.iter() {
        let range = match region.kind {
            MemoryKind::Usable | MemoryKind::BootloaderReclaimable => region.range.page_inner(),
            _ => region.range,
        };
        push_merged(
            &mut map,
            Region {
                range,
                kind: region.kind,
            },
        )?;
    }
    Ok(map)
}

/// Total bytes of `kind` in `map`.
pub fn total_of_kind(map: &[Region], kind: MemoryKind) -> u64 {
    map.iter()
        .filter(|region| region.kind == kind)
        .map(|region| region.range.len())
        .sum()
}

/// Why an allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    /// No free range is big enough.
    OutOfMemory {
        /// Bytes asked for.
        size: u64,
    },
    /// The allocator's tables are full.
    TooManyAllocations,
}

impl core::fmt::Display for AllocError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AllocError::OutOfMemory { size } => write!(
                f,
                "out of memory: no free usable range of {size} bytes below 4 GiB"
            ),
            AllocError::TooManyAllocations => write!(f, "too many loader allocations"),
        }
    }
}

/// Hands out page-aligned physical memory from the firmware's usable RAM inside a window
/// (the loader uses 1 MiB..4 GiB, all identity-mapped), avoiding reserved ranges. Every
/// allocation is remembered with its kind, as an overlay for the final memory map.
pub struct FrameAllocator {
    free: FixedVec<Range, MAX_FREE_RANGES>,
    allocations: Overlays,
}

impl FrameAllocator {
    /// Free memory = firmware-usable RAM inside `window`, page-aligned, minus `reserved`
    /// (each grown to page boundaries).
    pub fn new(
        firmware: &[Region],
        reserved: &[Range],
        window: Range,
    ) -> Result<FrameAllocator, MemoryMapError> {
        let usable_map = build_memory_map(firmware, &[])?;
        let mut free = FixedVec::new();
        for region in usable_map.iter().filter(|r| r.kind == MemoryKind::Usable) {
            let clipped = Range {
                start: region.range.start.max(window.start),
                end: region.range.end.min(window.end),
            }
            .page_inner();
            if !clipped.is_empty() {
                free.push(clipped)
                    .map_err(|_| MemoryMapError::TooManyEntries)?;
            }
        }
        let mut allocator = FrameAllocator {
            free,
            allocations: Overlays::new(),
        };
        for range in reserved {
            allocator.carve(range.page_outer())?;
        }
        Ok(allocator)
    }

    /// Removes `hole` from the free ranges.
    fn carve(&mut self, hole: Range) -> Result<(), MemoryMapError> {
        let mut index = 0;
        while index < self.free.len() {
            let range = self.free[index];
            if hole.end <= range.start || range.end <= hole.start {
                index += 1;
                continue;
            }
            self.free.remove(index);
            let left = Range {
                start: range.start,
                end: hole.start.max(range.start),
            };
            let right = Range {
                start: hole.end.min(range.end),
                end: range.end,
            };
            for piece in [right, left] {
                if !piece.is_empty() {
                    self.free
                        .insert(index, piece)
                        .map_err(|_| MemoryMapError::TooManyEntries)?;
                }
            }
            index += usize::from(!left.is_empty()) + usize::from(!right.is_empty());
        }
        Ok(())
    }

    /// Allocates `size` bytes (rounded up to pages) aligned to `align` (a power of two, at
    /// least a page), lowest address first, and records it as `kind`.
    pub fn allocate(&mut self, size: u64, align: u64, kind: MemoryKind) -> Result<u64, AllocError> {
        let align = align.max(PAGE_SIZE);
        let size = align_up(size.max(1), PAGE_SIZE);
        let start = self
            .free
            .iter()
            .find_map(|range| {
                let start = align_up(range.start, align);
                let end = start.checked_add(size)?;
                (end <= range.end).then_some(start)
            })
            .ok_or(AllocError::OutOfMemory { size })?;
        let range = Range::new(start, size);
        self.allocations
            .push(Region { range, kind })
            .map_err(|_| AllocError::TooManyAllocations)?;
        self.carve(range)
            .map_err(|_| AllocError::TooManyAllocations)?;
        Ok(start)
    }

    /// Records `range` (already outside the free list, e.g. a module used in place) as `kind`.
    pub fn record(&mut self, range: Range, kind: MemoryKind) -> Result<(), AllocError> {
        self.allocations
            .push(Region {
                range: range.page_outer(),
                kind,
            })
            .map_err(|_| AllocError::TooManyAllocations)
    }

    /// Every allocation and recorded range so far.
    pub fn allocations(&self) -> &[Region] {
        &self.allocations
    }

    /// The free ranges (for tests and diagnostics).
    pub fn free_ranges(&self) -> &[Range] {
        &self.free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn region(start: u64, end: u64, kind: MemoryKind) -> Region {
        Region {
            range: Range { start, end },
            kind,
        }
    }

    const MIB: u64 = 1 << 20;

    /// A qboot-like map: unsorted, a trailing all-zero entry, unaligned low RAM end.
    fn qboot_like() -> Vec<Region> {
        std::vec![
            region(0x100000, 128 * MIB, MemoryKind::Usable),
            region(0, 0x9fc00, MemoryKind::Usable),
            region(0xfeffc000, 0xff000000, MemoryKind::Reserved),
            region(0x9fc00, 0xa0000, MemoryKind::Reserved),
            region(0xf0000, 0x100000, MemoryKind::Reserved),
            region(0, 0, MemoryKind::Usable),
        ]
    }

    #[test]
    fn map_is_sorted_aligned_and_skips_page_zero() {
        let map = build_memory_map(&qboot_like(), &[]).unwrap();
        assert_eq!(
            &*map,
            &[
                region(0x1000, 0x9f000, MemoryKind::Usable),
                region(0x9fc00, 0xa0000, MemoryKind::Reserved),
                region(0xf0000, 0x100000, MemoryKind::Reserved),
                region(0x100000, 128 * MIB, MemoryKind::Usable),
                region(0xfeffc000, 0xff000000, MemoryKind::Reserved),
            ]
        );
    }

    #[test]
    fn overlapping_firmware_entries_resolve_to_the_stronger_type() {
        let firmware = [
            region(0, 16 * MIB, MemoryKind::Usable),
            region(4 * MIB, 5 * MIB, MemoryKind::AcpiReclaimable),
            region(4 * MIB + 0x800, 4 * MIB + 0x900, MemoryKind::BadMemory),
        ];
        let map = build_memory_map(&firmware, &[]).unwrap();
        assert_eq!(
            &*map,
            &[
                region(0x1000, 4 * MIB, MemoryKind::Usable),
                region(4 * MIB, 4 * MIB + 0x800, MemoryKind::AcpiReclaimable),
                region(4 * MIB + 0x800, 4 * MIB + 0x900, MemoryKind::BadMemory),
                region(4 * MIB + 0x900, 5 * MIB, MemoryKind::AcpiReclaimable),
                region(5 * MIB, 16 * MIB, MemoryKind::Usable),
            ]
        );
    }

    #[test]
    fn overlays_claim_only_usable_memory_and_modules_beat_reclaimable() {
        let firmware = [
            region(0, 8 * MIB, MemoryKind::Usable),
            region(8 * MIB, 9 * MIB, MemoryKind::Reserved),
        ];
        let overlays = [
            region(MIB, 2 * MIB, MemoryKind::BootloaderReclaimable),
            region(MIB + 0x3000, MIB + 0x5000, MemoryKind::ExecutableAndModules),
            region(7 * MIB, 9 * MIB, MemoryKind::BootloaderReclaimable),
        ];
        let map = build_memory_map(&firmware, &overlays).unwrap();
        assert_eq!(
            &*map,
            &[
                region(0x1000, MIB, MemoryKind::Usable),
                region(MIB, MIB + 0x3000, MemoryKind::BootloaderReclaimable),
                region(MIB + 0x3000, MIB + 0x5000, MemoryKind::ExecutableAndModules),
                region(MIB + 0x5000, 2 * MIB, MemoryKind::BootloaderReclaimable),
                region(2 * MIB, 7 * MIB, MemoryKind::Usable),
                region(7 * MIB, 8 * MIB, MemoryKind::BootloaderReclaimable),
                region(8 * MIB, 9 * MIB, MemoryKind::Reserved),
            ]
        );
    }

    #[test]
    fn map_never_overlaps_for_many_random_like_inputs() {
        // A deterministic pseudo-random sweep: every output is sorted, disjoint, and aligned.
        let mut seed = 0x1234_5678_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..500 {
            let mut firmware = Vec::new();
            for _ in 0..(next() % 12) {
                let start = next() % (64 * MIB);
                let len = next() % (16 * MIB);
                firmware.push(region(
                    start,
                    start + len,
                    MemoryKind::from_e820((next() % 6) as u32),
                ));
            }
            let mut overlays = Vec::new();
            for _ in 0..(next() % 6) {
                let start = align_down(next() % (64 * MIB), PAGE_SIZE);
                let len = align_up(next() % MIB, PAGE_SIZE);
                let kind = if next() % 2 == 0 {
                    MemoryKind::BootloaderReclaimable
                } else {
                    MemoryKind::ExecutableAndModules
                };
                overlays.push(region(start, start + len, kind));
            }
            let map = build_memory_map(&firmware, &overlays).unwrap();
            for pair in map.windows(2) {
                assert!(pair[0].range.end <= pair[1].range.start, "{map:?}");
            }
            for entry in map.iter() {
                assert!(!entry.range.is_empty());
                if matches!(
                    entry.kind,
                    MemoryKind::Usable | MemoryKind::BootloaderReclaimable
                ) {
                    assert_eq!(entry.range.start % PAGE_SIZE, 0);
                    assert_eq!(entry.range.end % PAGE_SIZE, 0);
                    assert!(entry.range.start >= PAGE_SIZE);
                }
            }
        }
    }

    #[test]
    fn allocator_skips_reserved_ranges_and_respects_alignment() {
        let firmware = qboot_like();
        let reserved = [
            Range::new(MIB, 0x23456),     // the loader image
            Range::new(0x200000, 0x1000), // a boot info page
        ];
        let window = Range {
            start: MIB,
            end: 1 << 32,
        };
        let mut allocator = FrameAllocator::new(&firmware, &reserved, window).unwrap();
        let first = allocator
            .allocate(0x1000, PAGE_SIZE, MemoryKind::BootloaderReclaimable)
            .unwrap();
        assert_eq!(first, 0x124000);
        let big = allocator
            .allocate(3 * MIB, 2 * MIB, MemoryKind::ExecutableAndModules)
            .unwrap();
        assert_eq!(big, 4 * MIB);
        let next = allocator
            .allocate(100, PAGE_SIZE, MemoryKind::BootloaderReclaimable)
            .unwrap();
        assert_eq!(next, 0x125000);
        assert_eq!(allocator.allocations().len(), 3);
        assert_eq!(
            allocator.allocations()[1].range,
            Range::new(4 * MIB, 3 * MIB)
        );
        for range in allocator.free_ranges() {
            for allocation in allocator.allocations() {
                let a = allocation.range;
                assert!(range.end <= a.start || a.end <= range.start);
            }
        }
    }

    #[test]
    fn allocator_reports_out_of_memory() {
        let firmware = [region(0, 2 * MIB, MemoryKind::Usable)];
        let window = Range {
            start: MIB,
            end: 1 << 32,
        };
        let mut allocator = FrameAllocator::new(&firmware, &[], window).unwrap();
        assert_eq!(
            allocator.allocate(2 * MIB, PAGE_SIZE, MemoryKind::Usable),
            Err(AllocError::OutOfMemory { size: 2 * MIB })
        );
        assert!(allocator
            .allocate(MIB, PAGE_SIZE, MemoryKind::Usable)
            .is_ok());
    }

    #[test]
    fn e820_types_map_to_limine_types() {
        assert_eq!(MemoryKind::from_e820(1), MemoryKind::Usable);
        assert_eq!(MemoryKind::from_e820(2), MemoryKind::Reserved);
        assert_eq!(MemoryKind::from_e820(3), MemoryKind::AcpiReclaimable);
        assert_eq!(MemoryKind::from_e820(4), MemoryKind::AcpiNvs);
        assert_eq!(MemoryKind::from_e820(5), MemoryKind::BadMemory);
        assert_eq!(MemoryKind::from_e820(99), MemoryKind::Reserved);
    }
}
