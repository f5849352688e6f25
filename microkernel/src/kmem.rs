//! The kernel's own address space and boot memory, set up once at boot.
//!
//! [`init`] builds fresh page tables (HHDM for RAM with NX, the kernel image with W^X per
//! section) and switches to them. Afterwards the frame
//! allocator is only used during boot (root task objects); what remains becomes untyped
//! memory for the root task.

use crate::boot::{BootFacts, RegionKind};
use crate::mem::frame::FrameAllocator;
use crate::mem::paging::{self, PageTable, GLOBAL, NO_CACHE, NO_EXECUTE, WRITABLE, WRITE_THROUGH};
use crate::mem::{self, PAGE_SIZE};
use spin::Mutex;

/// The kernel's page tables and the boot frame allocator.
pub struct KernelMemory {
    /// The kernel's PML4 (its upper half is shared by every address space).
    pub table: PageTable,
    /// Boot frames.
    pub frames: FrameAllocator,
}

/// Set by [`init`].
pub static KERNEL_MEMORY: Mutex<Option<KernelMemory>> = Mutex::new(None);

// SAFETY: the linker script defines these symbols; only their addresses are used.
unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
}

/// Why the kernel could not set up its memory.
#[derive(Debug)]
pub enum MemoryError {
    /// Out of boot frames.
    OutOfFrames,
    /// A mapping failed.
    Map(#[allow(dead_code)] paging::MapError),
}

impl From<paging::MapError> for MemoryError {
    fn from(e: paging::MapError) -> Self {
        MemoryError::Map(e)
    }
}

/// Builds and activates the kernel page tables.
pub fn init(facts: &BootFacts) -> Result<(), MemoryError> {
    mem::set_hhdm_offset(facts.hhdm_offset);
    let mut frames = FrameAllocator::new(&facts.regions);
    let pml4 = frames.allocate().ok_or(MemoryError::OutOfFrames)?;
    let table = PageTable { pml4 };
    {
        let mut new_table = || frames.allocate();
        // HHDM: every RAM-like region, writable, never executable.
        for r in facts
            .regions
            .iter()
            .filter(|r| r.kind != RegionKind::Reserved)
        {
            let start = mem::align_down(r.base, PAGE_SIZE);
            let end =
                mem::align_up(r.base + r.length, PAGE_SIZE).ok_or(MemoryError::OutOfFrames)?;
            table.map_range(
                mem::phys_to_virt(start),
                start,
                end - start,
                WRITABLE | NO_EXECUTE | GLOBAL,
                &mut new_table,
            )?;
        }
        // The kernel image, one permission per section.
        // SAFETY: linker-script symbols; only their addresses are used.
        let (start, text_end, rodata_end, end) = unsafe {
            (
                &__kernel_start as *const u8 as u64,
                &__text_end as *const u8 as u64,
                &__rodata_end as *const u8 as u64,
                &__kernel_end as *const u8 as u64,
            )
        };
        let phys = |virt: u64| virt - facts.kernel_virt + facts.kernel_phys;
        table.map_range(start, phys(start), text_end - start, GLOBAL, &mut new_table)?;
        table.map_range(
            text_end,
            phys(text_end),
            rodata_end - text_end,
            NO_EXECUTE | GLOBAL,
            &mut new_table,
        )?;
        // Data and bss, except the guard page below each kernel stack.
        let mut guards = crate::arch::gdt::stack_guards();
        guards.sort_unstable();
        let mut from = rodata_end;
        for guard in guards.iter().copied().chain(core::iter::once(end)) {
            if guard > from {
                table.map_range(
                    from,
                    phys(from),
                    guard - from,
                    WRITABLE | NO_EXECUTE | GLOBAL,
                    &mut new_table,
                )?;
            }
            from = guard + PAGE_SIZE;
        }
        // Pre-create every kernel-half PML4 entry so user address spaces, which copy the
        // kernel half once, see later kernel mappings too.
        // SAFETY: the PML4 frame just allocated for the kernel's table.
        let root = unsafe { mem::WordPage::at(pml4) };
        for slot in 256..mem::WordPage::WORDS {
            if root.get(slot) & paging::PRESENT == 0 {
                let frame = new_table().ok_or(MemoryError::OutOfFrames)?;
                root.set(slot, frame | paging::PRESENT | WRITABLE);
            }
        }
    }
    // SAFETY: the new tables map the kernel image, its stacks (in .bss) and the HHDM at the
    // same addresses as the bootloader's.
    unsafe { table.activate() };
    *KERNEL_MEMORY.lock() = Some(KernelMemory { table, frames });
    Ok(())
}

/// Makes sure the HHDM maps the physical page `phys` (used for ACPI tables that lie
/// outside RAM regions). Does nothing before [`init`] (the bootloader's map is in use).
pub fn ensure_mapped(phys: u64) {
    let mut guard = KERNEL_MEMORY.lock();
    let Some(km) = guard.as_mut() else { return };
    let page = mem::align_down(phys, PAGE_SIZE);
    let virt = mem::phys_to_virt(page);
    if km.table.translate(virt).is_none() {
        let frames = &mut km.frames;
        if let Err(e) = km.table.map(
            virt,
            page,
            PAGE_SIZE,
            WRITABLE | NO_EXECUTE | GLOBAL,
            &mut || frames.allocate(),
        ) {
            crate::warn!("cannot map physical page {page:#x}: {e:?}");
        }
    }
}

/// Maps a device page uncached in the HHDM and returns its virtual address.
pub fn map_mmio(phys: u64) -> Result<u64, MemoryError> {
    let mut guard = KERNEL_MEMORY.lock();
    let km = guard.as_mut().ok_or(MemoryError::OutOfFrames)?;
    let page = mem::align_down(phys, PAGE_SIZE);
    let virt = mem::phys_to_virt(page);
    if km.table.translate(virt).is_none() {
        let frames = &mut km.frames;
        km.table.map(
            virt,
            page,
            PAGE_SIZE,
            WRITABLE | NO_EXECUTE | NO_CACHE | WRITE_THROUGH | GLOBAL,
            &mut || frames.allocate(),
        )?;
    }
    Ok(mem::phys_to_virt(phys))
}

/// Allocates zeroed, physically contiguous boot frames aligned to `align`.
pub fn allocate_contiguous(count: u64, align: u64) -> Option<u64> {
    KERNEL_MEMORY
        .lock()
        .as_mut()?
        .frames
        .allocate_contiguous(count, align)
}

/// Ends boot allocation: returns every free range (for the root task's untyped memory)
/// and leaves the allocator empty, so that the kernel can never hand out memory that
/// userspace owns.
pub fn seal() -> heapless::Vec<crate::mem::frame::Range, { crate::boot::MAX_MEMORY_REGIONS }> {
    let mut guard = KERNEL_MEMORY.lock();
    match guard.as_mut() {
        Some(km) => km.frames.take_all(),
        None => heapless::Vec::new(),
    }
}

/// Allocates one zeroed boot frame.
pub fn allocate_frame() -> Option<u64> {
    KERNEL_MEMORY.lock().as_mut()?.frames.allocate()
}

/// The kernel's page table.
pub fn kernel_table() -> PageTable {
    KERNEL_MEMORY
        .lock()
        .as_ref()
        .map(|k| k.table)
        .unwrap_or(PageTable { pml4: 0 })
}
