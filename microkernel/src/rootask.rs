//! Making the root task: the first user thread, loaded from the boot archive.
//!
//! The kernel reads the archive's manifest, loads the ELF that `root` names into a fresh
//! address space (user half only; the kernel half is shared), gives it a stack, an IPC
//! buffer and the read-only boot info page, and makes its thread runnable. Everything
//! here is allocated from boot memory before the rest becomes the root task's untyped.

use crate::kmem;
use crate::mem::paging::{MapError, PageTable, NO_EXECUTE, USER, WRITABLE};
use crate::mem::{self, phys_to_virt, PAGE_SIZE};
use crate::thread::Tcb;
use crate::uaccess::USER_END;
use bootfmt::archive::{ArchiveError, BootArchive};
use bootfmt::elf::{ElfError, ElfFile};
use libsys::bootinfo::{
    BootInfo, BOOT_INFO_ADDR, BOOT_INFO_MAGIC, IPC_BUFFER_ADDR, ROOT_STACK_SIZE, ROOT_STACK_TOP,
};

/// Priority of the root task.
pub const ROOT_PRIORITY: u8 = 100;

/// Why the root task could not be made.
#[derive(Debug)]
pub enum RootTaskError {
    /// The boot archive is unusable.
    Archive(ArchiveError),
    /// The root task's ELF is unusable.
    Elf(ElfError),
    /// A segment lies outside the user half or overlaps the stack, IPC buffer or boot info.
    SegmentOutsideUserSpace(usize),
    /// Boot memory ran out.
    OutOfMemory,
    /// A mapping failed.
    Map(MapError),
}

impl core::fmt::Display for RootTaskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RootTaskError::Archive(e) => write!(f, "boot archive: {e}"),
            RootTaskError::Elf(e) => write!(f, "root task ELF: {e}"),
            RootTaskError::SegmentOutsideUserSpace(i) => {
                write!(f, "root task ELF: segment {i} lies outside user space")
            }
            RootTaskError::OutOfMemory => write!(f, "out of memory loading the root task"),
            RootTaskError::Map(e) => write!(f, "mapping the root task failed: {e:?}"),
        }
    }
}

impl From<MapError> for RootTaskError {
    fn from(e: MapError) -> Self {
        RootTaskError::Map(e)
    }
}

fn frame() -> Result<u64, RootTaskError> {
    kmem::allocate_frame().ok_or(RootTaskError::OutOfMemory)
}

/// Maps a fresh zeroed page at `virt` (or finds the one already there) and returns its
/// physical address.
fn page_at(table: &PageTable, virt: u64, flags: u64) -> Result<u64, RootTaskError> {
    if let Some((phys, _)) = table.translate(virt) {
        return Ok(phys);
    }
    let phys = frame()?;
    table.map(virt, phys, PAGE_SIZE, flags | USER, &mut || kmem::allocate_frame())?;
    Ok(phys)
}

/// Loads the root task named by the archive's manifest; returns its (not yet runnable)
/// thread and its name.
pub fn load(archive_bytes: &'static [u8]) -> Result<(*mut Tcb, &'static str), RootTaskError> {
    let archive = BootArchive::parse(archive_bytes).map_err(RootTaskError::Archive)?;
    let name = archive.manifest().root();
    let elf = ElfFile::parse(archive.root_task()).map_err(RootTaskError::Elf)?;
    let table = PageTable { pml4: frame()? };
    table.share_kernel_half(&kmem::kernel_table());
    for segment in elf.load_segments() {
        let (start, end) = (segment.vaddr, segment.vaddr_end());
        if end > IPC_BUFFER_ADDR || start < PAGE_SIZE || end >= USER_END {
            return Err(RootTaskError::SegmentOutsideUserSpace(segment.index));
        }
        let flags = if segment.is_writable() { WRITABLE } else { 0 }
            | if segment.is_executable() { 0 } else { NO_EXECUTE };
        let data = elf.segment_data(&segment);
        let mut page = mem::align_down(start, PAGE_SIZE);
        while page < end {
            let phys = page_at(&table, page, flags)?;
            // Copy the part of the file image that falls in this page.
            let copy_start = page.max(start);
            let copy_end = (page + PAGE_SIZE).min(start + data.len() as u64);
            if copy_start < copy_end {
                let from = &data[(copy_start - start) as usize..(copy_end - start) as usize];
                let to = phys_to_virt(phys) + (copy_start - page);
                // SAFETY: `to..to + len` lies inside the page just mapped (both bounds are
                // clipped to it); the frame belongs to this address space only.
                unsafe { core::ptr::copy_nonoverlapping(from.as_ptr(), to as *mut u8, from.len()) };
            }
            page += PAGE_SIZE;
        }
    }
    let mut page = ROOT_STACK_TOP - ROOT_STACK_SIZE;
    while page < ROOT_STACK_TOP {
        page_at(&table, page, WRITABLE | NO_EXECUTE)?;
        page += PAGE_SIZE;
    }
    page_at(&table, IPC_BUFFER_ADDR, WRITABLE | NO_EXECUTE)?;
    let info_phys = page_at(&table, BOOT_INFO_ADDR, NO_EXECUTE)?;
    // SAFETY: the boot info frame is freshly allocated, zeroed (a valid BootInfo) and
    // mapped in the HHDM; nothing else refers to it yet.
    let info = unsafe { &mut *(phys_to_virt(info_phys) as *mut BootInfo) };
    info.magic = BOOT_INFO_MAGIC;
    info.size = core::mem::size_of::<BootInfo>() as u64;
    info.cnode_radix = libsys::bootinfo::ROOT_CNODE_RADIX;
    info.priority = u64::from(ROOT_PRIORITY);

    let tcb_phys = frame()?;
    let tcb = phys_to_virt(tcb_phys) as *mut Tcb;
    let short_name = name.rsplit('/').next().unwrap_or(name);
    let mut thread = Tcb::new(short_name, table, elf.entry(), ROOT_STACK_TOP - 8, ROOT_PRIORITY);
    thread.context.rdi = BOOT_INFO_ADDR;
    thread.ipc_buffer = IPC_BUFFER_ADDR;
    // SAFETY: a fresh frame, large enough for a TCB (checked below at compile time).
    unsafe { core::ptr::write(tcb, thread) };
    Ok((tcb, name))
}

const _: () = assert!(core::mem::size_of::<Tcb>() <= PAGE_SIZE as usize);
