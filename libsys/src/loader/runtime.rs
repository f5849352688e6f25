//! The loader's system-call half: builds the objects of a process (see the parent module).

use super::{
    page_file_bytes, plan_segments, LoadError, SegmentPlan, FIRST_FREE_CHILD_SLOT, MAX_SEGMENTS,
    PAGE_SIZE, SCRATCH_ADDR, STACK_TOP,
};
use crate::abi::{Error, MAP_EXECUTABLE};
use crate::alloc::{AllocError, Allocator, SlotAllocator, UntypedPool};
use crate::bootinfo::{
    ARCHIVE_ADDR, IPC_BUFFER_ADDR, SLOT_CNODE, SLOT_IPC_BUFFER, SLOT_TCB, SLOT_VSPACE,
};
use crate::cap::{
    AsidPool, BatchCopy, CNode, Cap, Endpoint, Frame, InvocationError, ObjectKind, PageDirectory,
    PageTable, Pdpt, SlotPath, Tcb, TcbConfig, Untyped, UserRegisters, VSpace,
};
use crate::object::{CNodeGuard, ObjectType, Rights};
use bootfmt::archive::BootArchive;
use bootfmt::elf::ElfFile;

mod process;
mod recycle;
mod shared;

pub use recycle::{
    life_bits, window_addr, LIFE_BITS, MAX_REFILL_PAGES, MAX_WRITABLE_RUNS, WINDOW_PAGES,
};

/// The `FrameMap` rights word for data: read and write, no execute.
const RW: u64 = Rights::READ.union(Rights::WRITE).bits();

/// Which step of building a process the kernel refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStep {
    /// Minting the parent's unguarded CNode cap (for two-level slot paths).
    UnguardedRoot,
    /// Minting the child's guarded CSpace root.
    GuardCNode,
    /// `AsidPoolAssign` of the child's address space (the pool may be full).
    AssignAsid,
    /// Mapping a page table.
    MapTable,
    /// Mapping a frame.
    MapFrame,
    /// Unmapping the scratch mapping.
    UnmapScratch,
    /// Copying a cap into the child's CSpace.
    CopyCap,
    /// `TcbConfigure`.
    ConfigureTcb,
    /// `TcbSetPriority`.
    SetPriority,
    /// `TcbWriteRegisters` (start).
    Start,
    /// Revoking or deleting the process's untyped.
    Destroy,
}

/// One cap [`Process::give_all`] gives the child.
#[derive(Clone, Copy, Debug)]
pub struct Gift {
    /// The parent's cap (a cptr in the parent's CSpace).
    pub cap: u64,
    /// The child's slot.
    pub child_slot: u64,
    /// The rights mask.
    pub rights: Rights,
    /// `Some(badge)`: minted with it; `None`: copied.
    pub badge: Option<u64>,
}

/// Most gifts of one [`Process::give_all`].
pub const MAX_GIFTS: usize = 12;

/// What a new process gets.
#[derive(Clone, Copy, Debug)]
pub struct ProcessConfig {
    /// log2 of the untyped carved for the process (all its objects come from it).
    pub untyped_bits: u32,
    /// log2 of the number of slots in its CNode.
    pub cnode_radix: u64,
    /// Stack size in pages.
    pub stack_pages: u64,
    /// Scheduling priority (at most the parent's).
    pub priority: u64,
    /// Fault endpoint (a cptr in the parent's CSpace), or null for none.
    pub fault_endpoint: Cap<Endpoint>,
    /// One past the top of the stack (page aligned; [`STACK_TOP`] by default).
    pub stack_top: u64,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            untyped_bits: 21,
            cnode_radix: 8,
            stack_pages: 4,
            priority: 100,
            fault_endpoint: Cap::null(),
            stack_top: STACK_TOP,
        }
    }
}

/// Most slot ranges of the parent's CSpace one process uses.
const MAX_SLOT_RANGES: usize = 48;
/// Most page-table prefixes the loader remembers per address space.
const TABLE_CACHE: usize = 16;

/// A loaded (not yet started) process. Its caps live in the parent's CSpace.
pub struct Process {
    /// The thread.
    pub tcb: Cap<Tcb>,
    /// The child's CNode as the parent reaches into it (guard 0).
    pub cnode: Cap<CNode>,
    /// The child's CSpace root (guarded so that child cptr = slot).
    pub cspace: Cap<CNode>,
    /// The address space.
    pub vspace: Cap<VSpace>,
    /// The IPC buffer frame (mapped at [`IPC_BUFFER_ADDR`] in the child).
    pub ipc_buffer: Cap<Frame>,
    /// The untyped every object of the process came from.
    pub untyped: Cap<Untyped>,
    /// ELF entry point.
    pub entry: u64,
    /// Radix of the child's CNode.
    pub cnode_radix: u64,
    /// The frame of the stack's top page (mapped just below `stack_top`).
    pub stack_top_frame: Cap<Frame>,
    /// One past the top of the stack.
    pub stack_top: u64,
    slot_ranges: [(u64, u64); MAX_SLOT_RANGES],
    slot_range_count: usize,
    /// Bit `i`: range `i` holds caps not derived from the untyped (copies of shared
    /// frames, the guarded CSpace root), which the revoke does not remove.
    foreign: u64,
    /// The untyped (from `untyped`) the objects of one life come from: the CNode, the IPC
    /// buffer and the TCB. Revoking it ends a life and leaves the rest for the next one
    /// ([`Process::end_life`]).
    life: Cap<Untyped>,
    /// The parent slots of the life's objects: CNode, IPC buffer, TCB, guarded CSpace root.
    life_slots: u64,
    /// The writable pages, runs of `(first frame slot, first page, pages, map rights)`,
    /// refilled from the ELF when the process is recycled.
    writable: [(u64, u64, u64, u64); recycle::MAX_WRITABLE_RUNS],
    /// How many of `writable` are used; more runs than fit make the process not recyclable.
    writable_count: usize,
    /// Where the parent maps the stack's top frame for good (0: not mapped; see
    /// [`Process::map_stack_window`]).
    stack_window: u64,
    /// Parent slots of the pages mapped later by [`Process::map_fresh_page`] (one each,
    /// wherever the parent's allocator put them; the revoke empties them).
    grown: [u16; MAX_GROWN_PAGES],
    /// How many of `grown` are used.
    grown_count: usize,
}

/// Most pages [`Process::map_fresh_page`] maps into one process.
pub const MAX_GROWN_PAGES: usize = 256;

/// Page-table levels below the PML4: what covers how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Pdpt,
    Pd,
    Pt,
}

impl Level {
    const ALL: [Level; 3] = [Level::Pdpt, Level::Pd, Level::Pt];
    /// log2 of the span one table of this level maps.
    fn span_bits(self) -> u32 {
        match self {
            Level::Pdpt => 39,
            Level::Pd => 30,
            Level::Pt => 21,
        }
    }
    fn object_type(self) -> ObjectType {
        match self {
            Level::Pdpt => Pdpt::OBJECT_TYPE,
            Level::Pd => PageDirectory::OBJECT_TYPE,
            Level::Pt => PageTable::OBJECT_TYPE,
        }
    }
}

/// The page tables known to exist in one address space: `(level, vaddr >> span)`.
struct TableCache {
    vspace: Cap<VSpace>,
    known: [(Level, u64); TABLE_CACHE],
    count: usize,
}

impl TableCache {
    fn new(vspace: Cap<VSpace>) -> Self {
        TableCache {
            vspace,
            known: [(Level::Pt, u64::MAX); TABLE_CACHE],
            count: 0,
        }
    }
    fn contains(&self, level: Level, vaddr: u64) -> bool {
        let prefix = vaddr >> level.span_bits();
        self.known[..self.count].contains(&(level, prefix))
    }
    fn insert(&mut self, level: Level, vaddr: u64) {
        if self.count < TABLE_CACHE {
            self.known[self.count] = (level, vaddr >> level.span_bits());
            self.count += 1;
        }
    }
}

/// Where the objects of one process come from: its own untyped, and the parent's slots.
struct Objects<'a> {
    parent: &'a mut Allocator,
    pool: UntypedPool,
    slot_ranges: [(u64, u64); MAX_SLOT_RANGES],
    slot_range_count: usize,
    foreign: u64,
    /// Fault injection: the allocation that fails (counting down), see
    /// [`Loader::fail_allocation`].
    fail_in: Option<u32>,
}

impl Objects<'_> {
    /// Counts one allocation step; fails (out of memory) the one fault injection names.
    fn injected(&mut self) -> Result<(), LoadError> {
        count_step(&mut self.fail_in)
    }

    /// Takes `count` consecutive parent slots for caps made from the process's memory later
    /// (the revoke empties them).
    fn slots_for_untyped(&mut self, count: u64) -> Result<u64, LoadError> {
        self.injected()?;
        if self.slot_range_count == MAX_SLOT_RANGES {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        let first = self
            .parent
            .slots
            .alloc_range(count)
            .ok_or(LoadError::Alloc(AllocError::OutOfSlots))?;
        self.slot_ranges[self.slot_range_count] = (first, count);
        self.slot_range_count += 1;
        Ok(first)
    }

    /// Retypes `count` objects into consecutive parent slots; returns the first.
    fn retype(
        &mut self,
        object_type: ObjectType,
        size_arg: u64,
        count: u64,
    ) -> Result<u64, LoadError> {
        self.injected()?;
        if self.slot_range_count == MAX_SLOT_RANGES {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        let slots = &mut self.parent.slots;
        let first = slots
            .alloc_range(count)
            .ok_or(LoadError::Alloc(AllocError::OutOfSlots))?;
        let placement = self.pool.place(object_type, size_arg, count);
        let Some(placement) = placement else {
            free_range(slots, first, count);
            return Err(LoadError::Alloc(AllocError::OutOfMemory));
        };
        let untyped: Cap<Untyped> = Cap::from_cptr(self.pool.regions()[placement.region].cptr);
        if let Err(e) = untyped.retype(object_type, size_arg, self.parent.cnode, first, count) {
            free_range(slots, first, count);
            return Err(LoadError::Alloc(AllocError::Kernel(e)));
        }
        self.pool.commit(placement, object_type, size_arg, count);
        self.slot_ranges[self.slot_range_count] = (first, count);
        self.slot_range_count += 1;
        Ok(first)
    }

    /// Takes `count` consecutive parent slots for caps that are not made from the process's
    /// memory (copies of shared frames); they are deleted with the process.
    fn slots_only(&mut self, count: u64) -> Result<u64, LoadError> {
        self.injected()?;
        if self.slot_range_count == MAX_SLOT_RANGES {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        let first = self
            .parent
            .slots
            .alloc_range(count)
            .ok_or(LoadError::Alloc(AllocError::OutOfSlots))?;
        self.slot_ranges[self.slot_range_count] = (first, count);
        self.foreign |= 1 << self.slot_range_count;
        self.slot_range_count += 1;
        Ok(first)
    }

    fn make<T: ObjectKind>(&mut self) -> Result<Cap<T>, LoadError> {
        self.retype(T::OBJECT_TYPE, 0, 1).map(Cap::from_cptr)
    }
}

/// Counts one allocation step of fault injection ([`Loader::fail_allocation`]); fails (out
/// of memory) the one it names.
fn count_step(fail_in: &mut Option<u32>) -> Result<(), LoadError> {
    match *fail_in {
        Some(0) => {
            *fail_in = None;
            Err(LoadError::Alloc(AllocError::OutOfMemory))
        }
        Some(n) => {
            *fail_in = Some(n - 1);
            Ok(())
        }
        None => Ok(()),
    }
}

fn free_range(slots: &mut SlotAllocator, first: u64, count: u64) {
    for slot in first..first + count {
        slots.free(slot);
    }
}

/// Builds processes for one parent (normally the root task). Holds what the parent needs
/// once: a guard-0 cap to its own CSpace root (for two-level slot paths into children) and
/// the page tables of its scratch window.
pub struct Loader {
    /// The parent's CSpace root minted with no guard, so that a path of depth 12 + r names
    /// slot `s` of the child CNode in parent slot `c` as `(c << r) | s`.
    pub root_unguarded: Cap<CNode>,
    root_radix: u64,
    scratch_tables: TableCache,
    /// The pool the children's address spaces get their ASIDs from.
    asid_pool: Cap<AsidPool>,
    shared: Option<shared::SharedText>,
    /// Fault injection (tests): the allocation step of the next loads that fails.
    fail_in: Option<u32>,
    /// Whether the parent has a debug console cap to give each child (looked up once).
    has_console: bool,
}

fn kernel(step: LoadStep) -> impl Fn(InvocationError) -> LoadError {
    move |e| LoadError::Kernel(step, e)
}

impl Loader {
    /// Prepares the parent (its CSpace root is [`SLOT_CNODE`] of `2^root_radix` slots,
    /// guarded so that cptr = slot, in VSpace [`SLOT_VSPACE`]). Every child's address
    /// space gets its ASID from `asid_pool` (the root task's is
    /// [`crate::bootinfo::SLOT_ASID_POOL`]).
    ///
    /// # Errors
    /// No free slot, or the kernel refused the mint.
    pub fn new(
        parent: &mut Allocator,
        root_radix: u64,
        asid_pool: Cap<AsidPool>,
    ) -> Result<Self, LoadError> {
        let slot = parent.slot().map_err(LoadError::Alloc)?;
        let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
        let unguarded = CNodeGuard {
            guard: 0,
            guard_bits: 0,
        };
        root.mint_guard(SlotPath::at(slot), SlotPath::at(SLOT_CNODE), unguarded)
            .map_err(kernel(LoadStep::UnguardedRoot))?;
        // Make the scratch window's page tables now, from the parent's own memory, so that
        // they outlive every process (whose memory is revoked when it goes).
        let mut scratch_tables = TableCache::new(Cap::from_cptr(SLOT_VSPACE));
        let probe: Cap<Frame> = parent.make().map_err(LoadError::Alloc)?;
        let mut make = |t| parent.retype(t, 0, 1).map_err(LoadError::Alloc);
        map_frame(&mut scratch_tables, probe, SCRATCH_ADDR, RW, &mut make)?;
        probe.unmap().map_err(kernel(LoadStep::UnmapScratch))?;
        parent
            .free_slot(probe.cptr())
            .map_err(kernel(LoadStep::UnmapScratch))?;
        // The parent's debug console, if it has one, so that the children can print.
        let has_console = crate::syscall::identify(crate::process::SLOT_DEBUG_CONSOLE)
            .is_ok_and(|id| id.words[0] == crate::object::CapKind::DebugConsole as u64);
        Ok(Loader {
            root_unguarded: Cap::from_cptr(slot),
            root_radix,
            scratch_tables,
            asid_pool,
            shared: None,
            fail_in: None,
            has_console,
        })
    }

    /// Fault injection, for tests of a parent's rollback: allocation step `n` (counting
    /// from 0 over the next loads: each object retyped or slot range taken for a process)
    /// fails as if memory had run out; `None` turns it off. Returns the steps still to go of
    /// the previous setting (`None` once it fired).
    pub fn fail_allocation(&mut self, n: Option<u32>) -> Option<u32> {
        core::mem::replace(&mut self.fail_in, n)
    }

    /// Finds `name` (e.g. `bin/ipcpeer`) in the boot archive mapped at [`ARCHIVE_ADDR`].
    ///
    /// # Errors
    /// An invalid archive or a missing file.
    pub fn archive_file(archive_length: u64, name: &str) -> Result<&'static [u8], LoadError> {
        // SAFETY: the kernel maps the boot archive read-only at ARCHIVE_ADDR, `archive_length`
        // bytes long (boot info), for the root task's whole life; it is never written.
        let bytes = unsafe {
            core::slice::from_raw_parts(ARCHIVE_ADDR as *const u8, archive_length as usize)
        };
        let archive = BootArchive::parse(bytes).map_err(LoadError::Archive)?;
        match archive.cpio().find(name) {
            Ok(Some(entry)) => Ok(entry.data()),
            Ok(None) => Err(LoadError::NotFound),
            Err(e) => Err(LoadError::Archive(e.into())),
        }
    }

    /// Loads the ELF `image` into a new process (not started).
    ///
    /// # Errors
    /// A bad ELF, too little memory or slots, or a refused step; everything made so far is
    /// destroyed first.
    pub fn load(
        &mut self,
        parent: &mut Allocator,
        image: &[u8],
        config: &ProcessConfig,
    ) -> Result<Process, LoadError> {
        let elf = ElfFile::parse(image).map_err(LoadError::Elf)?;
        let mut plans = [SegmentPlan::EMPTY; MAX_SEGMENTS];
        plan_segments(&elf, &mut plans)?;
        let untyped = parent
            .make_untyped(config.untyped_bits)
            .map_err(LoadError::Alloc)?;
        let loaded = self.load_into(parent, untyped, image, config);
        if loaded.is_err() {
            let _ = parent.free_slot(untyped.cptr());
        }
        loaded
    }

    /// Loads the ELF `image` into a new process built from `untyped` (of
    /// `2^config.untyped_bits` bytes, with no children), which the caller keeps: on failure
    /// everything made from it is revoked and it is free again.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_into(
        &mut self,
        parent: &mut Allocator,
        untyped: Cap<Untyped>,
        image: &[u8],
        config: &ProcessConfig,
    ) -> Result<Process, LoadError> {
        let elf = ElfFile::parse(image).map_err(LoadError::Elf)?;
        let mut plans = [SegmentPlan::EMPTY; MAX_SEGMENTS];
        let segments = plan_segments(&elf, &mut plans)?;
        let mut pool = UntypedPool::new();
        pool.add(untyped.cptr(), config.untyped_bits, false);
        let mut objects = Objects {
            parent,
            pool,
            slot_ranges: [(0, 0); MAX_SLOT_RANGES],
            slot_range_count: 0,
            foreign: 0,
            fail_in: self.fail_in.take(),
        };
        let result = self.build(&mut objects, &elf, &plans[..segments], config, untyped);
        self.fail_in = objects.fail_in;
        match result {
            Ok(process) => Ok(process),
            Err(e) => {
                let mut dead = Process::empty(untyped);
                dead.slot_ranges = objects.slot_ranges;
                dead.slot_range_count = objects.slot_range_count;
                dead.foreign = objects.foreign;
                let _ = dead.destroy_keep_untyped(objects.parent);
                Err(e)
            }
        }
    }

    fn build(
        &mut self,
        objects: &mut Objects<'_>,
        elf: &ElfFile<'_>,
        plans: &[SegmentPlan],
        config: &ProcessConfig,
        untyped: Cap<Untyped>,
    ) -> Result<Process, LoadError> {
        // The life untyped first: at offset 0 it needs no alignment padding.
        let life: Cap<Untyped> = objects
            .retype(
                ObjectType::Untyped,
                u64::from(recycle::life_bits(config.cnode_radix)),
                1,
            )
            .map(Cap::from_cptr)?;
        let life_slots = objects.slots_for_untyped(recycle::LIFE_SLOTS)?;
        let vspace: Cap<VSpace> = objects.make()?;
        self.asid_pool
            .assign(vspace)
            .map_err(kernel(LoadStep::AssignAsid))?;

        let mut process = Process::empty(untyped);
        process.vspace = vspace;
        process.entry = elf.entry();
        process.cnode_radix = config.cnode_radix;
        process.life = life;
        process.life_slots = life_slots;

        let mut tables = TableCache::new(vspace);
        for plan in plans {
            let frames = self.load_segment(objects, &mut tables, elf, plan)?;
            if plan.writable {
                process.note_writable(frames);
            }
        }
        let stack_first = objects.retype(ObjectType::Frame4K, 0, config.stack_pages)?;
        for i in 0..config.stack_pages {
            let vaddr = config.stack_top - (config.stack_pages - i) * PAGE_SIZE;
            let frame = Cap::from_cptr(stack_first + i);

            map_frame(&mut tables, frame, vaddr, RW, &mut |t| {
                objects.retype(t, 0, 1)
            })?;
        }
        process.stack_top_frame = Cap::from_cptr(stack_first + config.stack_pages - 1);
        process.stack_top = config.stack_top;
        // The IPC buffer's page tables: it is mapped again at each life.
        let mut make = |t| objects.retype(t, 0, 1);
        map_tables(&mut tables, IPC_BUFFER_ADDR, &mut make)?;
        process.slot_ranges = objects.slot_ranges;
        process.slot_range_count = objects.slot_range_count;
        process.foreign = objects.foreign;
        self.begin_life(objects.parent, &mut process, config, &mut objects.fail_in)?;
        Ok(process)
    }

    fn load_segment(
        &mut self,
        objects: &mut Objects<'_>,
        tables: &mut TableCache,
        elf: &ElfFile<'_>,
        plan: &SegmentPlan,
    ) -> Result<Writable, LoadError> {
        let mut rights = if plan.writable {
            RW
        } else {
            Rights::READ.bits()
        };
        if plan.executable {
            rights |= MAP_EXECUTABLE;
        }
        if !plan.writable && self.can_share(elf, plan) {
            self.load_shared(objects, tables, elf, plan, rights)?;
            return Ok(Writable::None);
        }
        let mut done = 0;
        let mut runs = Writable::None;
        while done < plan.pages {
            let batch = (plan.pages - done).min(crate::object::MAX_RETYPE_COUNT);
            let first = objects.retype(ObjectType::Frame4K, 0, batch)?;
            runs = match runs {
                Writable::None if done == 0 && batch == plan.pages => {
                    Writable::Run(first, plan.first_page, batch, rights)
                }
                _ => Writable::TooMany,
            };
            for i in 0..batch {
                let page = plan.first_page + (done + i) * PAGE_SIZE;
                let frame: Cap<Frame> = Cap::from_cptr(first + i);
                if let Some((offset, range)) = page_file_bytes(plan, page) {
                    let bytes = elf
                        .bytes()
                        .get(range)
                        .ok_or(LoadError::SegmentOutOfRange(0))?;
                    self.fill(objects, frame, offset, bytes)?;
                }
                map_frame(tables, frame, page, rights, &mut |t| {
                    objects.retype(t, 0, 1)
                })?;
            }
            done += batch;
        }
        Ok(runs)
    }

    /// Copies `bytes` to `offset` in `frame` through the parent's scratch window.
    fn fill(
        &mut self,
        objects: &mut Objects<'_>,
        frame: Cap<Frame>,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), LoadError> {
        let parent = &mut *objects.parent;
        let mut make = |t| parent.retype(t, 0, 1).map_err(LoadError::Alloc);
        map_frame(&mut self.scratch_tables, frame, SCRATCH_ADDR, RW, &mut make)?;
        let len = bytes.len().min((PAGE_SIZE - offset) as usize);
        // SAFETY: `frame` is mapped read-write at SCRATCH_ADDR in this address space (just
        // above), nothing else refers to that page, and `offset + len <= PAGE_SIZE`.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), (SCRATCH_ADDR + offset) as *mut u8, len);
        }
        frame.unmap().map_err(kernel(LoadStep::UnmapScratch))
    }
}

/// The frames a segment was loaded into, for [`Process::note_writable`].
#[derive(Clone, Copy, Debug)]
enum Writable {
    /// None of its own (shared, or no pages).
    None,
    /// One run: `(first frame slot, first page, pages, map rights)`.
    Run(u64, u64, u64, u64),
    /// More than one retype's worth of frames.
    TooMany,
}

/// Makes and maps whichever page tables `vaddr` needs in `tables.vspace` (see
/// [`map_frame`]).
fn map_tables(
    tables: &mut TableCache,
    vaddr: u64,
    make_table: &mut dyn FnMut(ObjectType) -> Result<u64, LoadError>,
) -> Result<(), LoadError> {
    for level in Level::ALL {
        if tables.contains(level, vaddr) {
            continue;
        }
        let table = make_table(level.object_type())?;
        let mapped = match level {
            Level::Pdpt => Cap::<Pdpt>::from_cptr(table).map(tables.vspace, vaddr),
            Level::Pd => Cap::<PageDirectory>::from_cptr(table).map(tables.vspace, vaddr),
            Level::Pt => Cap::<PageTable>::from_cptr(table).map(tables.vspace, vaddr),
        };
        match mapped {
            Ok(()) => tables.insert(level, vaddr),
            Err(e) if e.error == Error::DeleteFirst => tables.insert(level, vaddr),
            Err(e) => return Err(LoadError::Kernel(LoadStep::MapTable, e)),
        }
    }
    Ok(())
}

/// Maps `frame` at `vaddr` in `tables.vspace` with the `FrameMap` rights word `rights`, first
/// making (with `make_table`) and mapping
/// whichever page tables are missing, top-down. A table the kernel says is already present
/// (`DeleteFirst`) is remembered; the spare object stays unused.
fn map_frame(
    tables: &mut TableCache,
    frame: Cap<Frame>,
    vaddr: u64,
    rights: u64,
    make_table: &mut dyn FnMut(ObjectType) -> Result<u64, LoadError>,
) -> Result<(), LoadError> {
    map_tables(tables, vaddr, make_table)?;
    frame
        .map_raw(tables.vspace, vaddr, rights)
        .map_err(kernel(LoadStep::MapFrame))
}
