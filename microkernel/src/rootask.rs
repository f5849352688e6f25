//! Making the root task: the first user thread, loaded from the boot archive, holding caps
//! to everything userspace may ever use.
//!
//! The kernel reads the archive's manifest, loads the ELF that `root` names into a fresh
//! address space (user half only; the kernel half is shared), gives it a stack, an IPC
//! buffer and the read-only boot info page, and builds its CSpace: one CNode of
//! `ROOT_CNODE_RADIX` bits holding its TCB, CNode, VSpace, IPC buffer frame, IRQ and I/O
//! port control, the boot info frame, every byte of free memory as untyped caps, and the
//! boot archive's frames (mapped read-only at `ARCHIVE_ADDR`). After that the
//! kernel's boot allocator is sealed: the kernel never allocates memory again.

use core::sync::atomic::{AtomicPtr, Ordering};

use crate::kmem;
use crate::mem::paging::{MapError, PageTable, NO_EXECUTE, USER, WRITABLE};
use crate::mem::{self, phys_to_virt, PAGE_SIZE};
use crate::object::KernelSlots;
use crate::thread::{Tcb, TCB_SLOT_CSPACE, TCB_SLOT_IPC_BUFFER, TCB_SLOT_VSPACE};
use crate::uaccess::USER_END;
use bootfmt::archive::{ArchiveError, BootArchive};
use bootfmt::elf::{ElfError, ElfFile};
use kerncore::{Cap, FrameSize, SlotAddr};
use libsys::bootinfo::{
    BootInfo, SlotRange, UntypedDesc, ARCHIVE_ADDR, BOOT_INFO_ADDR, BOOT_INFO_MAGIC,
    IPC_BUFFER_ADDR, MAX_UNTYPED, ROOT_CNODE_RADIX, ROOT_STACK_SIZE, ROOT_STACK_TOP,
    SLOT_ASID_CONTROL, SLOT_ASID_POOL, SLOT_BOOT_INFO_FRAME, SLOT_CNODE, SLOT_DEBUG_CONSOLE,
    SLOT_FIRST_VARIABLE, SLOT_IO_PORT_CONTROL, SLOT_IPC_BUFFER, SLOT_IRQ_CONTROL, SLOT_TCB,
    SLOT_VSPACE,
};
use libsys::object::{Rights, SLOT_SIZE_BITS};

/// Priority of the root task: the highest, so it may give any priority.
pub const ROOT_PRIORITY: u8 = 255;

/// The root task's TCB once it is made. Its frame comes from the boot allocator, not from
/// untyped memory, so it is never reused for another object.
static ROOT_TCB: AtomicPtr<Tcb> = AtomicPtr::new(core::ptr::null_mut());

/// Records the root task's TCB, so a fault in it can fail the run ([`is_root_task`]).
pub fn remember(tcb: *mut Tcb) {
    ROOT_TCB.store(tcb, Ordering::Relaxed);
}

/// Whether `tcb` is the root task's.
pub fn is_root_task(tcb: *const Tcb) -> bool {
    core::ptr::eq(ROOT_TCB.load(Ordering::Relaxed), tcb)
}
/// Largest untyped block handed out (bits).
const MAX_UNTYPED_BITS: u32 = 47;

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
    /// The root CNode is too small for the archive frames and untyped caps.
    TooManyCaps,
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
            RootTaskError::TooManyCaps => {
                write!(f, "the boot archive is too large for the root CNode")
            }
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
    table.map(virt, phys, PAGE_SIZE, flags | USER, &mut || {
        kmem::allocate_frame()
    })?;
    Ok(phys)
}

/// Loads the segments of the root task's ELF.
fn load_elf(table: &PageTable, elf: &ElfFile) -> Result<(), RootTaskError> {
    for segment in elf.load_segments() {
        let (start, end) = (segment.vaddr, segment.vaddr_end());
        if end > ARCHIVE_ADDR || start < PAGE_SIZE || end >= USER_END {
            return Err(RootTaskError::SegmentOutsideUserSpace(segment.index));
        }
        let flags = if segment.is_writable() { WRITABLE } else { 0 }
            | if segment.is_executable() {
                0
            } else {
                NO_EXECUTE
            };
        let data = elf.segment_data(&segment);
        let mut page = mem::align_down(start, PAGE_SIZE);
        while page < end {
            let phys = page_at(table, page, flags)?;
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
    Ok(())
}

/// The root CNode's slot `index` (`None` only if the address overflows, which the root
/// CNode in RAM never does).
fn slot(cnode: u64, index: u64) -> Option<SlotAddr> {
    SlotAddr::in_object(cnode, index)
}

fn insert(cnode: u64, index: u64, cap: Cap) {
    // Cannot fail: boot fills distinct, empty slots of a fresh CNode with non-null caps.
    if let Some(at) = slot(cnode, index) {
        let _ = kerncore::insert_root(&mut KernelSlots, at, cap);
    }
}

/// What the kernel made.
pub struct RootTask {
    /// The thread (not yet runnable).
    pub tcb: *mut Tcb,
    /// The archive path of its ELF.
    pub name: &'static str,
    /// Untyped caps handed over and their total size.
    pub untyped: (usize, u64),
}

/// The root task's address space as [`build_vspace`] made it.
struct Layout {
    /// The PML4.
    pml4: u64,
    /// The PML4's ASID (from the boot pool).
    asid: u64,
    /// The boot ASID pool's cap.
    pool_cap: Cap,
    /// The IPC buffer frame.
    ipc_phys: u64,
    /// The boot info frame.
    info_phys: u64,
    /// Pages of the boot archive mapped at [`ARCHIVE_ADDR`].
    archive_pages: u64,
}

/// Loads the root task named by the archive's manifest and builds its CSpace.
pub fn load(archive_bytes: &'static [u8], archive_phys: u64) -> Result<RootTask, RootTaskError> {
    let archive = BootArchive::parse(archive_bytes).map_err(RootTaskError::Archive)?;
    let name = archive.manifest().root();
    let elf = ElfFile::parse(archive.root_task()).map_err(RootTaskError::Elf)?;
    let layout = build_vspace(&elf, archive_bytes.len() as u64, archive_phys)?;

    // The CNode (aligned to its size) and the TCB.
    let cnode_pages = (1u64 << (ROOT_CNODE_RADIX + u64::from(SLOT_SIZE_BITS))) / PAGE_SIZE;
    let cnode = kmem::allocate_contiguous(cnode_pages, cnode_pages * PAGE_SIZE)
        .ok_or(RootTaskError::OutOfMemory)?;
    let tcb_phys = frame()?;
    if SLOT_FIRST_VARIABLE + MAX_UNTYPED as u64 + layout.archive_pages > 1 << ROOT_CNODE_RADIX {
        return Err(RootTaskError::TooManyCaps);
    }
    fill_fixed_slots(cnode, tcb_phys, &layout);
    let tcb = init_thread(tcb_phys, cnode, name, elf.entry());

    // Everything left becomes untyped memory; the kernel never allocates again.
    // SAFETY: the boot info frame is fresh, zeroed (a valid BootInfo) and HHDM-mapped.
    let info = unsafe { &mut *(phys_to_virt(layout.info_phys) as *mut BootInfo) };
    let (count, total) = hand_over_untyped(cnode, info);
    let first_archive = SLOT_FIRST_VARIABLE + count as u64;
    for i in 0..layout.archive_pages {
        let cap = frame_cap(
            layout.asid,
            archive_phys + i * PAGE_SIZE,
            ARCHIVE_ADDR + i * PAGE_SIZE,
            Rights::READ,
        );
        insert(cnode, first_archive + i, cap);
    }
    info.magic = BOOT_INFO_MAGIC;
    info.size = core::mem::size_of::<BootInfo>() as u64;
    info.cnode_radix = ROOT_CNODE_RADIX;
    info.tsc_hz = crate::time::frequency();
    info.untyped_slots = SlotRange {
        start: SLOT_FIRST_VARIABLE,
        end: first_archive,
    };
    info.archive_slots = SlotRange {
        start: first_archive,
        end: first_archive + layout.archive_pages,
    };
    info.archive_length = archive_bytes.len() as u64;
    info.first_free_slot = first_archive + layout.archive_pages;
    info.priority = u64::from(ROOT_PRIORITY);
    Ok(RootTask {
        tcb,
        name,
        untyped: (count, total),
    })
}

/// The root task's address space: its ELF, its stack, its IPC buffer and boot info pages,
/// and the boot archive (read-only).
fn build_vspace(
    elf: &ElfFile,
    archive_length: u64,
    archive_phys: u64,
) -> Result<Layout, RootTaskError> {
    let pml4 = frame()?;
    crate::object::vspace::init_vspace(pml4);
    // Its ASID, from the boot pool (which the root task gets, with room for more).
    let (pool_cap, asid) = crate::object::asid::boot_pool(frame()?, pml4);
    let table = PageTable { pml4 };
    load_elf(&table, elf)?;
    let mut page = ROOT_STACK_TOP - ROOT_STACK_SIZE;
    while page < ROOT_STACK_TOP {
        page_at(&table, page, WRITABLE | NO_EXECUTE)?;
        page += PAGE_SIZE;
    }
    let ipc_phys = page_at(&table, IPC_BUFFER_ADDR, WRITABLE | NO_EXECUTE)?;
    let info_phys = page_at(&table, BOOT_INFO_ADDR, NO_EXECUTE)?;
    // Modules are page-aligned by the bootloader.
    let archive_pages = archive_length.div_ceil(PAGE_SIZE);
    for i in 0..archive_pages {
        let (v, p) = (ARCHIVE_ADDR + i * PAGE_SIZE, archive_phys + i * PAGE_SIZE);
        table.map(v, p, PAGE_SIZE, USER | NO_EXECUTE, &mut || {
            kmem::allocate_frame()
        })?;
    }
    Ok(Layout {
        pml4,
        asid,
        pool_cap,
        ipc_phys,
        info_phys,
        archive_pages,
    })
}

/// A cap for a 4 KiB frame mapped at `vaddr` in the address space with ASID `asid`.
fn frame_cap(asid: u64, object: u64, vaddr: u64, rights: Rights) -> Cap {
    Cap::Frame {
        object,
        mapped_vspace: asid,
        mapped_vaddr: vaddr,
        size: FrameSize::Small,
        rights,
        device: false,
    }
}

/// The root CNode's fixed slots (libsys::bootinfo `SLOT_*`).
fn fill_fixed_slots(cnode: u64, tcb_phys: u64, layout: &Layout) {
    let cnode_cap = Cap::CNode {
        object: cnode,
        guard: 0,
        radix_bits: ROOT_CNODE_RADIX as u8,
        guard_bits: (64 - ROOT_CNODE_RADIX) as u8,
    };
    let read_write = Rights::READ.union(Rights::WRITE);
    insert(cnode, SLOT_TCB, Cap::Tcb { object: tcb_phys });
    insert(cnode, SLOT_CNODE, cnode_cap);
    insert(
        cnode,
        SLOT_VSPACE,
        Cap::Pml4 {
            object: layout.pml4,
            asid: layout.asid,
        },
    );
    insert(
        cnode,
        SLOT_IPC_BUFFER,
        frame_cap(layout.asid, layout.ipc_phys, IPC_BUFFER_ADDR, read_write),
    );
    insert(cnode, SLOT_IRQ_CONTROL, Cap::IrqControl);
    insert(cnode, SLOT_IO_PORT_CONTROL, Cap::IoPortControl);
    insert(cnode, SLOT_ASID_CONTROL, Cap::AsidControl);
    insert(cnode, SLOT_ASID_POOL, layout.pool_cap);
    insert(cnode, SLOT_DEBUG_CONSOLE, Cap::DebugConsole);
    insert(
        cnode,
        SLOT_BOOT_INFO_FRAME,
        frame_cap(layout.asid, layout.info_phys, BOOT_INFO_ADDR, Rights::READ),
    );
}

/// The root thread: entry, stack, boot info in rdi, and copies of its CSpace, VSpace and
/// IPC buffer caps in its TCB slots.
fn init_thread(tcb_phys: u64, cnode: u64, name: &'static str, entry: u64) -> *mut Tcb {
    let tcb = phys_to_virt(tcb_phys) as *mut Tcb;
    {
        // SAFETY: a fresh zeroed frame, large enough for a TCB (checked at compile time in
        // thread.rs); nothing else refers to it, and this reference ends before kerncore
        // writes the TCB's slots below.
        let t = unsafe { &mut *tcb };
        let short_name = name.rsplit('/').next().unwrap_or(name);
        t.init(short_name, ROOT_PRIORITY);
        t.context.rip = entry;
        t.context.rsp = ROOT_STACK_TOP - 8;
        t.context.rdi = BOOT_INFO_ADDR;
        t.ipc_buffer = IPC_BUFFER_ADDR;
    }
    for (tcb_slot, root_slot) in [
        (TCB_SLOT_CSPACE, SLOT_CNODE),
        (TCB_SLOT_VSPACE, SLOT_VSPACE),
        (TCB_SLOT_IPC_BUFFER, SLOT_IPC_BUFFER),
    ] {
        // Cannot fail: CNode, PML4 and frame caps are derivable into an empty slot.
        if let (Some(src), Some(dest)) =
            (slot(cnode, root_slot), Tcb::slot_addr(tcb_phys, tcb_slot))
        {
            let _ = kerncore::cnode_copy(&mut KernelSlots, src, dest, Rights::ALL);
        }
    }
    tcb
}

/// Seals the boot allocator and puts every free range into the root CNode as untyped caps
/// (naturally aligned power-of-two blocks) from [`SLOT_FIRST_VARIABLE`], described in
/// `info.untyped`. Returns how many caps and bytes.
fn hand_over_untyped(cnode: u64, info: &mut BootInfo) -> (usize, u64) {
    let ranges = kmem::seal();
    let mut count = 0usize;
    let mut total = 0u64;
    for range in ranges.iter() {
        let mut base = range.start;
        while base < range.end {
            let align_bits = base.trailing_zeros().min(MAX_UNTYPED_BITS);
            let fit_bits = 63 - (range.end - base).leading_zeros();
            let bits = align_bits.min(fit_bits);
            if count == MAX_UNTYPED {
                crate::warn!(
                    "more than {MAX_UNTYPED} untyped blocks; {:#x}..{:#x} unused",
                    base,
                    range.end
                );
                return (count, total);
            }
            // Whatever boot left in this memory is zeroed when it is first used (the
            // watermark is full: the first retype starts over, zeroing it in steps).
            let untyped = Cap::Untyped {
                base,
                free_index: 1 << bits,
                size_bits: bits as u8,
                device: false,
            };
            insert(cnode, SLOT_FIRST_VARIABLE + count as u64, untyped);
            info.untyped[count] = UntypedDesc {
                phys: base,
                size_bits: bits as u8,
                is_device: 0,
                reserved: [0; 6],
            };
            count += 1;
            total += 1 << bits;
            base += 1 << bits;
        }
    }
    (count, total)
}
