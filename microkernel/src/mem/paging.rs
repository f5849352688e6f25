//! Four-level x86_64 page tables, reached through the HHDM.
//!
//! [`PageTable`] is a PML4 by physical address. Mapping takes the frames it needs for
//! intermediate tables from a caller-supplied source, so the same code builds the
//! kernel's tables at boot (boot frames) and user address spaces.

use super::{WordPage, PAGE_SIZE};

/// Present.
pub const PRESENT: u64 = 1 << 0;
/// Writable.
pub const WRITABLE: u64 = 1 << 1;
/// Reachable from user mode.
pub const USER: u64 = 1 << 2;
/// Write-through.
pub const WRITE_THROUGH: u64 = 1 << 3;
/// Cache disabled.
pub const NO_CACHE: u64 = 1 << 4;
/// Large page (2 MiB in a PD, 1 GiB in a PDPT).
pub const HUGE: u64 = 1 << 7;
/// Global (kept across CR3 loads).
pub const GLOBAL: u64 = 1 << 8;
/// No execute.
pub const NO_EXECUTE: u64 = 1 << 63;
/// Physical address bits of an entry.
pub const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// 2 MiB.
pub const LARGE_PAGE_SIZE: u64 = 2 * 1024 * 1024;

/// Why a mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for an intermediate table.
    OutOfFrames,
    /// The virtual page is already mapped.
    AlreadyMapped,
    /// A large page covers the address.
    HugePageInTheWay,
    /// The address is not aligned to the page size, or not canonical.
    BadAddress,
}

/// Index into the table at `level` (4 = PML4 .. 1 = PT) for a virtual address.
pub fn index(virt: u64, level: u32) -> usize {
    ((virt >> (12 + 9 * (level - 1))) & 0x1ff) as usize
}

/// The table an entry points at, if it points at one (present, not a large page).
pub fn next_table(entry: u64) -> Option<u64> {
    (entry & PRESENT != 0 && entry & HUGE == 0).then_some(entry & ADDRESS_MASK)
}

/// The kernel's one page-table walk: from the PML4 at `pml4` down to the table at `level`
/// (4 = the PML4 itself .. 1 = a page table) that covers `virt`. At each level above it,
/// `step(table, index, level)` looks at (and may fill in) the entry that covers `virt`
/// and returns the next table's address, or an error that ends the walk.
///
/// `pml4` must be a PML4 the kernel keeps (as for every [`PageTable`]); every table
/// reached from it is one `step` returned, which must be a page-table page too.
pub fn walk<E>(
    pml4: u64,
    virt: u64,
    level: u32,
    mut step: impl FnMut(WordPage, usize, u32) -> Result<u64, E>,
) -> Result<WordPage, E> {
    let mut table = pml4;
    for l in ((level + 1)..=4).rev() {
        // SAFETY: the PML4, then tables its entries point at: page-table pages (see above).
        let page = unsafe { WordPage::at(table) };
        table = step(page, index(virt, l), l)?;
    }
    // SAFETY: as above.
    Ok(unsafe { WordPage::at(table) })
}

/// A four-level page table hierarchy identified by its PML4's physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageTable {
    /// Physical address of the PML4.
    pub pml4: u64,
}

/// What [`PageTable::activate`] last wrote to CR3 (one CPU: per-CPU state with SMP).
static LOADED_PML4: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl PageTable {
    /// Maps one page of `size` (4 KiB or 2 MiB) at `virt` to `phys` with leaf `flags`.
    pub fn map(
        &self,
        virt: u64,
        phys: u64,
        size: u64,
        flags: u64,
        new_table: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        let leaf_level = match size {
            PAGE_SIZE => 1,
            LARGE_PAGE_SIZE => 2,
            _ => return Err(MapError::BadAddress),
        };
        if !virt.is_multiple_of(size) || !phys.is_multiple_of(size) {
            return Err(MapError::BadAddress);
        }
        let table_flags = PRESENT | WRITABLE | (flags & USER);
        let leaf = walk(self.pml4, virt, leaf_level, |table, i, _| {
            let mut e = table.get(i);
            if e & PRESENT == 0 {
                // A fresh (zeroed) frame from the caller's source.
                e = new_table().ok_or(MapError::OutOfFrames)? | table_flags;
            } else if e & HUGE != 0 {
                return Err(MapError::HugePageInTheWay);
            } else {
                e |= table_flags & USER;
            }
            table.set(i, e);
            Ok(e & ADDRESS_MASK)
        })?;
        let i = index(virt, leaf_level);
        if leaf.get(i) & PRESENT != 0 {
            return Err(MapError::AlreadyMapped);
        }
        leaf.set(
            i,
            phys | flags | PRESENT | if leaf_level == 2 { HUGE } else { 0 },
        );
        Ok(())
    }

    /// Maps `[virt, virt + length)` to `[phys, ..)` using 2 MiB pages where both sides
    /// are aligned and 4 KiB pages elsewhere. All three must be 4 KiB aligned.
    pub fn map_range(
        &self,
        virt: u64,
        phys: u64,
        length: u64,
        flags: u64,
        new_table: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        let mut offset = 0;
        while offset < length {
            let (v, p) = (virt + offset, phys + offset);
            let large = v % LARGE_PAGE_SIZE == 0
                && p % LARGE_PAGE_SIZE == 0
                && length - offset >= LARGE_PAGE_SIZE;
            let size = if large { LARGE_PAGE_SIZE } else { PAGE_SIZE };
            self.map(v, p, size, flags, new_table)?;
            offset += size;
        }
        Ok(())
    }

    /// Translates a virtual address: the physical address and the leaf flags (with the
    /// USER and WRITABLE bits ANDed over every level), or `None` if unmapped.
    pub fn translate(&self, virt: u64) -> Option<(u64, u64)> {
        let mut rights = USER | WRITABLE;
        // The walk ends early at a large page, with its entry (or at a hole, with `None`).
        let walked = walk(self.pml4, virt, 1, |table, i, level| {
            let e = table.get(i);
            if e & PRESENT == 0 {
                return Err(None);
            }
            rights &= e;
            if e & HUGE != 0 && level <= 3 {
                return Err(Some((e, level)));
            }
            Ok(e & ADDRESS_MASK)
        });
        let (e, level) = match walked {
            Ok(pt) => (pt.get(index(virt, 1)), 1),
            Err(leaf) => leaf?,
        };
        if e & PRESENT == 0 {
            return None;
        }
        rights &= e;
        let page = 1u64 << (12 + 9 * (level - 1));
        let base = e & ADDRESS_MASK & !(page - 1);
        let flags = (e & !(USER | WRITABLE)) | rights;
        Some((base + (virt & (page - 1)), flags))
    }

    /// Copies the kernel half (PML4 entries 256..512) from `kernel` into this table.
    pub fn share_kernel_half(&self, kernel: &PageTable) {
        // SAFETY: both are PML4s the kernel keeps.
        let (dst, src) = unsafe { (WordPage::at(self.pml4), WordPage::at(kernel.pml4)) };
        dst.copy_from(src, 256);
    }

    /// The physical address of the PML4 the CPU is using now (CR3 without flag bits).
    #[inline(always)]
    pub fn current_pml4() -> u64 {
        let cr3: u64;
        // SAFETY: reading CR3 has no side effects.
        unsafe {
            core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags))
        };
        cr3 & ADDRESS_MASK
    }

    /// The PML4 the kernel last loaded into CR3 with [`activate`](Self::activate) (0
    /// before the first): the same as [`current_pml4`](Self::current_pml4), since the
    /// kernel writes CR3 nowhere else, but a memory read instead of a CR3 read and a mask.
    #[inline(always)]
    pub fn loaded_pml4() -> u64 {
        LOADED_PML4.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Makes this hierarchy the current one.
    ///
    /// # Safety
    /// It must map the kernel (text, data, stacks, HHDM) exactly as the current one does.
    pub unsafe fn activate(&self) {
        LOADED_PML4.store(self.pml4, core::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) self.pml4, options(nostack)) };
    }
}
