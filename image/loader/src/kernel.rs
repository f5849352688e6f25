//! Placing the kernel ELF: checks that it is a Limine kernel (every segment at or above
//! `0xffffffff80000000`), copies its segments into one physically contiguous block, and maps
//! each segment with the permissions its flags ask for.

use crate::memmap::{align_down, align_up, PAGE_SIZE};
use crate::paging::{AddressSpace, MapError, Permissions, TableFrames, SIZE_2M};
use bootfmt::elf::ElfFile;

/// Lowest address a Limine kernel may be linked at.
pub const KERNEL_MIN_VIRT: u64 = 0xffff_ffff_8000_0000;
/// Largest kernel image the loader places (sum of the span of its segments).
pub const KERNEL_MAX_SPAN: u64 = 1 << 30;

/// Where the kernel goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelLayout {
    /// Lowest segment address, page-aligned down: maps to the block's start.
    pub virt_base: u64,
    /// Bytes from `virt_base` to the end of the highest segment, page-aligned up.
    pub span: u64,
    /// Physical alignment for the block (the largest segment alignment, 4 KiB to 2 MiB).
    pub align: u64,
    /// The ELF entry point.
    pub entry: u64,
}

/// Why the kernel ELF cannot be loaded as a Limine kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelError {
    /// A segment sits below the top 2 GiB.
    BelowHigherHalf {
        /// Program header index.
        index: usize,
        /// Its address.
        vaddr: u64,
    },
    /// The segments span more than [`KERNEL_MAX_SPAN`].
    TooLarge {
        /// The span.
        span: u64,
    },
    /// The entry point is not inside an executable segment.
    EntryOutsideCode {
        /// The entry point.
        entry: u64,
    },
}

impl core::fmt::Display for KernelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            KernelError::BelowHigherHalf { index, vaddr } => write!(
                f,
                "kernel ELF: segment {index} at {vaddr:#x} is below {KERNEL_MIN_VIRT:#x} \
                 (Limine kernels are linked in the top 2 GiB)"
            ),
            KernelError::TooLarge { span } => write!(
                f,
                "kernel ELF: segments span {span:#x} bytes, more than {KERNEL_MAX_SPAN:#x}"
            ),
            KernelError::EntryOutsideCode { entry } => write!(
                f,
                "kernel ELF: entry point {entry:#x} is not inside an executable segment"
            ),
        }
    }
}

/// Checks the segments and computes the layout.
pub fn layout(elf: &ElfFile<'_>) -> Result<KernelLayout, KernelError> {
    if let Some(low) = elf.load_segments().find(|s| s.vaddr < KERNEL_MIN_VIRT) {
        return Err(KernelError::BelowHigherHalf {
            index: low.index,
            vaddr: low.vaddr,
        });
    }
    let (low, high) = elf.load_bounds();
    let virt_base = align_down(low, PAGE_SIZE);
    let span = align_up(high, PAGE_SIZE).wrapping_sub(virt_base);
    if span > KERNEL_MAX_SPAN || high > align_up(high, PAGE_SIZE) {
        return Err(KernelError::TooLarge { span });
    }
    let entry = elf.entry();
    let align = elf
        .load_segments()
        .map(|s| s.align)
        .filter(|a| a.is_power_of_two())
        .max()
        .unwrap_or(PAGE_SIZE)
        .clamp(PAGE_SIZE, SIZE_2M);
    Ok(KernelLayout {
        virt_base,
        span,
        align,
        entry,
    })
}

/// Checks that `entry` lies in an executable segment.
pub fn check_entry(elf: &ElfFile<'_>, entry: u64) -> Result<(), KernelError> {
    elf.load_segments()
        .any(|s| s.is_executable() && s.vaddr <= entry && entry < s.vaddr_end())
        .then_some(())
        .ok_or(KernelError::EntryOutsideCode { entry })
}

/// Copies the segments into `image` (the block at the kernel's physical base, `span` bytes)
/// and zeroes everything else (bss and gaps).
pub fn copy_segments(elf: &ElfFile<'_>, layout: &KernelLayout, image: &mut [u8]) {
    image.fill(0);
    for segment in elf.load_segments() {
        let data = elf.segment_data(&segment);
        let at = (segment.vaddr - layout.virt_base) as usize;
        image[at..at + data.len()].copy_from_slice(data);
    }
}

/// Maps every segment at its link address to `phys_base + (vaddr - virt_base)`, writable
/// if `PF_W`, executable if `PF_X`.
pub fn map_segments<F: TableFrames>(
    space: &mut AddressSpace<'_, F>,
    elf: &ElfFile<'_>,
    layout: &KernelLayout,
    phys_base: u64,
) -> Result<(), MapError> {
    for segment in elf.load_segments().filter(|s| s.memsz > 0) {
        let start = align_down(segment.vaddr, PAGE_SIZE);
        let end = align_up(segment.vaddr_end(), PAGE_SIZE);
        let permissions = Permissions {
            write: segment.is_writable(),
            execute: segment.is_executable(),
        };
        let phys = phys_base + (start - layout.virt_base);
        space.map_range(start, phys, end - start, permissions, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::tests::HostFrames;
    use crate::paging::{NO_EXECUTE, WRITABLE};
    use bootfmt::elf::{PF_R, PF_W, PF_X};

    fn build(entry: u64, segments: &[(u32, u64, &[u8], u64)]) -> std::vec::Vec<u8> {
        bootfmt_test_elf(entry, segments)
    }

    /// Same layout as bootfmt's test builder (kept local: that one is test-private).
    fn bootfmt_test_elf(entry: u64, segments: &[(u32, u64, &[u8], u64)]) -> std::vec::Vec<u8> {
        let mut out = std::vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[16] = 2;
        out[18] = 62;
        out[20] = 1;
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes());
        out[54] = 56;
        out[56] = segments.len() as u8;
        let mut offset = 64 + 56 * segments.len();
        for &(flags, vaddr, data, memsz) in segments {
            let mut ph = [0u8; 56];
            ph[0] = 1;
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&(offset as u64).to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
            ph[40..48].copy_from_slice(&memsz.to_le_bytes());
            ph[48..56].copy_from_slice(&4096u64.to_le_bytes());
            out.extend_from_slice(&ph);
            offset += data.len();
        }
        for &(_, _, data, _) in segments {
            out.extend_from_slice(data);
        }
        out
    }

    const BASE: u64 = KERNEL_MIN_VIRT;

    fn sample() -> std::vec::Vec<u8> {
        build(
            BASE,
            &[
                (PF_R | PF_X, BASE, b"\x90\x90\xf4", 3),
                (PF_R, BASE + 0x1000, b"ro", 2),
                (PF_R | PF_W, BASE + 0x2000, b"rw", 0x1800),
            ],
        )
    }

    #[test]
    fn layout_spans_all_segments() {
        let bytes = sample();
        let elf = ElfFile::parse(&bytes).unwrap();
        let layout = layout(&elf).unwrap();
        assert_eq!(layout.virt_base, BASE);
        assert_eq!(layout.span, 0x4000);
        assert_eq!(layout.align, 4096);
        check_entry(&elf, layout.entry).unwrap();
    }

    #[test]
    fn copy_places_data_and_zeroes_bss() {
        let bytes = sample();
        let elf = ElfFile::parse(&bytes).unwrap();
        let layout = layout(&elf).unwrap();
        let mut image = std::vec![0xcc; layout.span as usize];
        copy_segments(&elf, &layout, &mut image);
        assert_eq!(&image[..3], b"\x90\x90\xf4");
        assert_eq!(&image[0x1000..0x1002], b"ro");
        assert_eq!(&image[0x2000..0x2002], b"rw");
        assert!(image[0x2002..].iter().all(|&b| b == 0));
    }

    #[test]
    fn segments_are_mapped_with_their_permissions() {
        let bytes = sample();
        let elf = ElfFile::parse(&bytes).unwrap();
        let layout = layout(&elf).unwrap();
        let mut frames = HostFrames::new(16);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        map_segments(&mut space, &elf, &layout, 0x40_0000).unwrap();
        let flags = |space: &mut AddressSpace<'_, HostFrames>, v| space.translate(v).unwrap();
        assert_eq!(flags(&mut space, BASE).1 & (WRITABLE | NO_EXECUTE), 0);
        assert_eq!(
            flags(&mut space, BASE + 0x1000).1 & (WRITABLE | NO_EXECUTE),
            NO_EXECUTE
        );
        let (phys, entry) = flags(&mut space, BASE + 0x3000);
        assert_eq!(phys, 0x40_3000);
        assert_eq!(entry & (WRITABLE | NO_EXECUTE), WRITABLE | NO_EXECUTE);
        assert_eq!(space.translate(BASE + 0x4000), None);
    }

    #[test]
    fn low_kernels_and_bad_entries_are_rejected() {
        let low = build(0x10_0000, &[(PF_R | PF_X, 0x10_0000, b"x", 1)]);
        let elf = ElfFile::parse(&low).unwrap();
        let error = layout(&elf).unwrap_err();
        assert_eq!(
            error,
            KernelError::BelowHigherHalf {
                index: 0,
                vaddr: 0x10_0000
            }
        );
        let bytes = sample();
        let elf = ElfFile::parse(&bytes).unwrap();
        assert_eq!(
            check_entry(&elf, BASE + 0x2000),
            Err(KernelError::EntryOutsideCode {
                entry: BASE + 0x2000
            })
        );
    }
}
