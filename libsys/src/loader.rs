//! Loading a program from the boot archive into a new process: the seed of procsrv's spawn.
//!
//! A process made here is a thread in its own address space with its own CSpace, built
//! entirely from one untyped region carved for it, so that destroying it is one revoke:
//!
//! 1. **Memory.** [`Loader::load`] carves an untyped of `2^untyped_bits` bytes from the
//!    parent's pool; every object below comes from it.
//! 2. **CSpace.** A CNode of `2^cnode_radix` slots. The parent holds two caps to it: the
//!    plain one (guard 0), used to reach into it with two-level slot paths, and one minted
//!    with a guard of `64 - radix` zero bits, which is the child's CSpace root so that the
//!    child's cptrs equal its slot numbers (as in the root task). The child's fixed slots
//!    mirror the root task's: [`SLOT_TCB`], [`SLOT_CNODE`], [`SLOT_VSPACE`],
//!    [`SLOT_IPC_BUFFER`], and [`crate::process::SLOT_DEBUG_CONSOLE`] when the parent has a
//!    debug console cap there; the other slots from [`FIRST_FREE_CHILD_SLOT`] up are the
//!    parent's to fill ([`Process::give`]).
//! 3. **Address space.** A PML4 plus the page tables the mappings need (made on demand,
//!    top-down, see [`Loader::map_frame`]); one frame per page of each `PT_LOAD` segment,
//!    filled by mapping it for a moment at [`SCRATCH_ADDR`] in the parent's own address space,
//!    copying the file bytes (fresh frames are zero, so `.bss` needs nothing), unmapping it
//!    and mapping it in the child; a stack below [`STACK_TOP`]; the IPC buffer at
//!    [`IPC_BUFFER_ADDR`].
//! 4. **Thread.** A TCB configured with the CSpace, address space, IPC buffer and fault
//!    endpoint, at the requested priority. [`Process::start`] sets `rip` to the ELF entry,
//!    `rsp` to the stack, `rdi` to the argument, and resumes it.
//!
//! Segments must be page-aligned with respect to each other: no two segments may share a
//! page (the libsys linker script guarantees it). The frame caps and page-table caps stay
//! in the parent's CSpace; the slots they use are recorded in the [`Process`] and given back
//! by [`Process::destroy`].
//!
//! The segment checks ([`plan_segments`]) are pure and host-tested.

use crate::bootinfo::{ARCHIVE_ADDR, IPC_BUFFER_ADDR, ROOT_STACK_TOP};
use bootfmt::elf::{ElfError, ElfFile, ProgramHeader};

/// Page size.
pub const PAGE_SIZE: u64 = 4096;
/// Where the parent maps a child's frame for a moment to fill it.
pub const SCRATCH_ADDR: u64 = 0x7ffc_0000_0000;
/// Segments must lie in `[PAGE_SIZE, LOAD_LIMIT)`: below the scratch window, the archive,
/// the IPC buffer and the stack.
pub const LOAD_LIMIT: u64 = SCRATCH_ADDR;
/// One past the top of a loaded program's stack (the same as the root task's).
pub const STACK_TOP: u64 = ROOT_STACK_TOP;
/// First slot of a child CSpace that the loader leaves empty for the parent.
pub const FIRST_FREE_CHILD_SLOT: u64 = crate::bootinfo::SLOT_BOOT_INFO_FRAME + 1;
/// Most `PT_LOAD` segments a program may have.
pub const MAX_SEGMENTS: usize = 8;

const _: () = assert!(ARCHIVE_ADDR > LOAD_LIMIT && IPC_BUFFER_ADDR > LOAD_LIMIT);

/// The pages of one `PT_LOAD` segment and how to fill them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentPlan {
    /// First page (page-aligned virtual address).
    pub first_page: u64,
    /// Number of pages.
    pub pages: u64,
    /// Map writable.
    pub writable: bool,
    /// Map executable.
    pub executable: bool,
    /// Virtual address where the file bytes start.
    pub vaddr: u64,
    /// Offset of the file bytes in the ELF.
    pub file_offset: u64,
    /// Number of file bytes (the rest of the segment is zero).
    pub file_size: u64,
}

impl SegmentPlan {
    /// No pages: the filler of an unused plan entry.
    pub const EMPTY: SegmentPlan = SegmentPlan {
        first_page: 0,
        pages: 0,
        writable: false,
        executable: false,
        vaddr: 0,
        file_offset: 0,
        file_size: 0,
    };
}

/// Why a program cannot be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The boot archive is invalid.
    Archive(bootfmt::archive::ArchiveError),
    /// The archive has no file of that name.
    NotFound,
    /// The file is not a usable ELF.
    Elf(ElfError),
    /// A segment lies outside `[PAGE_SIZE, LOAD_LIMIT)` (its program header index).
    SegmentOutOfRange(usize),
    /// Two segments share a page (the later one's index).
    SegmentsShareAPage(usize),
    /// More than [`MAX_SEGMENTS`] segments.
    TooManySegments,
    /// A request the parent cannot satisfy (see the runtime part).
    #[cfg(all(feature = "runtime", target_os = "none"))]
    Alloc(crate::alloc::AllocError),
    /// The kernel refused a step.
    #[cfg(all(feature = "runtime", target_os = "none"))]
    Kernel(LoadStep, crate::cap::InvocationError),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Archive(e) => write!(f, "boot archive: {e}"),
            LoadError::NotFound => write!(f, "no such program in the archive"),
            LoadError::Elf(e) => write!(f, "ELF: {e}"),
            LoadError::SegmentOutOfRange(i) => write!(f, "segment {i} outside the load range"),
            LoadError::SegmentsShareAPage(i) => write!(f, "segment {i} shares a page"),
            LoadError::TooManySegments => write!(f, "more than {MAX_SEGMENTS} segments"),
            #[cfg(all(feature = "runtime", target_os = "none"))]
            LoadError::Alloc(e) => write!(f, "{e}"),
            #[cfg(all(feature = "runtime", target_os = "none"))]
            LoadError::Kernel(step, e) => write!(f, "{step:?}: {e}"),
        }
    }
}

fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// Checks the `PT_LOAD` segments of `elf` and returns how to load each (in file order;
/// empty segments are skipped). Returns the number of plans filled in.
///
/// # Errors
/// A segment out of range, two segments sharing a page, or too many segments.
pub fn plan_segments(
    elf: &ElfFile<'_>,
    plans: &mut [SegmentPlan; MAX_SEGMENTS],
) -> Result<usize, LoadError> {
    let mut count = 0;
    for segment in elf.load_segments() {
        if segment.memsz == 0 {
            continue;
        }
        let plan = plan_one(&segment)?;
        for earlier in &plans[..count] {
            let disjoint = plan.first_page + plan.pages * PAGE_SIZE <= earlier.first_page
                || earlier.first_page + earlier.pages * PAGE_SIZE <= plan.first_page;
            if !disjoint {
                return Err(LoadError::SegmentsShareAPage(segment.index));
            }
        }
        *plans.get_mut(count).ok_or(LoadError::TooManySegments)? = plan;
        count += 1;
    }
    Ok(count)
}

fn plan_one(segment: &ProgramHeader) -> Result<SegmentPlan, LoadError> {
    let end = segment.vaddr_end();
    if segment.vaddr < PAGE_SIZE || end > LOAD_LIMIT {
        return Err(LoadError::SegmentOutOfRange(segment.index));
    }
    let first_page = page_down(segment.vaddr);
    let pages = (end - first_page).div_ceil(PAGE_SIZE);
    Ok(SegmentPlan {
        first_page,
        pages,
        writable: segment.is_writable(),
        executable: segment.is_executable(),
        vaddr: segment.vaddr,
        file_offset: segment.offset,
        file_size: segment.filesz,
    })
}

/// The bytes of page `page` (a page-aligned address inside the segment) that come from the
/// file: `(offset in the page, range in the ELF file)`, or `None` if the page is all zero.
pub fn page_file_bytes(plan: &SegmentPlan, page: u64) -> Option<(u64, core::ops::Range<usize>)> {
    let data_end = plan.vaddr + plan.file_size;
    let start = page.max(plan.vaddr);
    let end = (page + PAGE_SIZE).min(data_end);
    if start >= end {
        return None;
    }
    let file_start = plan.file_offset + (start - plan.vaddr);
    let file_end = file_start + (end - start);
    Some((start - page, file_start as usize..file_end as usize))
}

#[cfg(all(feature = "runtime", target_os = "none"))]
pub use runtime::{
    life_bits, window_addr, Gift, LoadStep, Loader, Process, ProcessConfig, LIFE_BITS, MAX_GIFTS,
    MAX_REFILL_PAGES, MAX_WRITABLE_RUNS, WINDOW_PAGES,
};

#[cfg(all(feature = "runtime", target_os = "none"))]
mod runtime;

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 executable with the given `(vaddr, filesz, memsz, flags)` segments.
    fn elf(segments: &[(u64, u64, u64, u32)]) -> [u8; 4096] {
        let mut b = [0u8; 4096];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        for (i, &(vaddr, filesz, memsz, flags)) in segments.iter().enumerate() {
            let at = 64 + i * 56;
            b[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
            b[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&1024u64.to_le_bytes());
            b[at + 16..at + 24].copy_from_slice(&vaddr.to_le_bytes());
            b[at + 32..at + 40].copy_from_slice(&filesz.to_le_bytes());
            b[at + 40..at + 48].copy_from_slice(&memsz.to_le_bytes());
        }
        b
    }

    fn plans(bytes: &[u8]) -> Result<([SegmentPlan; MAX_SEGMENTS], usize), LoadError> {
        let elf = ElfFile::parse(bytes).map_err(LoadError::Elf)?;
        let mut plans = [SegmentPlan::EMPTY; MAX_SEGMENTS];
        let n = plan_segments(&elf, &mut plans)?;
        Ok((plans, n))
    }

    #[test]
    fn segments_become_page_ranges_with_their_file_bytes() {
        let bytes = elf(&[(0x40_0000, 100, 100, 5), (0x40_1010, 200, 0x2000, 6)]);
        let (p, n) = plans(&bytes).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            (p[0].first_page, p[0].pages, p[0].writable),
            (0x40_0000, 1, false)
        );
        assert_eq!(
            (p[1].first_page, p[1].pages, p[1].writable),
            (0x40_1000, 3, true)
        );
        assert_eq!(page_file_bytes(&p[1], 0x40_1000), Some((0x10, 1024..1224)));
        assert_eq!(page_file_bytes(&p[1], 0x40_2000), None);
        assert_eq!(page_file_bytes(&p[0], 0x40_0000), Some((0, 1024..1124)));
    }

    #[test]
    fn segments_sharing_a_page_are_refused() {
        let bytes = elf(&[(0x40_0000, 100, 100, 5), (0x40_0800, 10, 10, 6)]);
        assert_eq!(plans(&bytes).unwrap_err(), LoadError::SegmentsShareAPage(1));
    }

    #[test]
    fn segments_outside_the_load_range_are_refused() {
        let bytes = elf(&[(0x10, 1, 1, 5)]);
        assert_eq!(plans(&bytes).unwrap_err(), LoadError::SegmentOutOfRange(0));
        let bytes = elf(&[(LOAD_LIMIT - 0x1000, 1, 0x2000, 5)]);
        assert_eq!(plans(&bytes).unwrap_err(), LoadError::SegmentOutOfRange(0));
    }

    #[test]
    fn empty_segments_are_skipped() {
        let bytes = elf(&[(0x40_0000, 0, 0, 5), (0x40_0000, 8, 8, 5)]);
        let (_, n) = plans(&bytes).unwrap();
        assert_eq!(n, 1);
    }
}
