//! Recycling a process: ending one life of a built process and starting the next in the
//! same address space, so that a parent that hatches the same program again does not
//! destroy and rebuild everything (docs/procsrv.md, "Memory").
//!
//! A process's objects are of two kinds:
//!
//! - **Kept**: the address space with its page tables, the program's frames (shared text,
//!   writable segments), the stack frame. The child never holds a cap to any of them except
//!   its address space, so ending a life revokes the parent's VSpace cap (every copy the child
//!   had or passed on goes) and refills the writable pages from the ELF; the stack's top page
//!   is rewritten whole at the next start.
//! - **One life's**: the CNode (so every cap the child held or received, wherever it put
//!   it), the IPC buffer and the TCB, all made from a small untyped of their own
//!   (2^[`LIFE_BITS`] bytes, carved from the process's untyped). Revoking that untyped
//!   destroys them with every cap to them anywhere; the kernel zeroes its memory when it
//!   starts over, so the next life's CNode is empty and its IPC buffer zero.
//!
//! A process that grew its stack (pages from its untyped that a revoke of the life does not
//! reclaim), whose writable segments are not a few runs of frames or have more than
//! [`MAX_REFILL_PAGES`] pages is not recyclable: its parent destroys it whole.

use super::{
    count_step, kernel, map_frame, page_file_bytes, plan_segments, AllocError, Allocator,
    BatchCopy, CNode, CNodeGuard, Cap, ElfFile, Frame, LoadError, LoadStep, Loader, ObjectType,
    Process, ProcessConfig, Rights, SegmentPlan, Tcb, TcbConfig, Writable, IPC_BUFFER_ADDR,
    MAX_SEGMENTS, MAX_SLOT_RANGES, PAGE_SIZE, RW, SCRATCH_ADDR, SLOT_CNODE, SLOT_IPC_BUFFER,
    SLOT_TCB, SLOT_VSPACE,
};
use crate::abi::REVOKE_BATCH_MAX;
use crate::cap::SlotPath;

/// log2 of the untyped one life's objects come from for a CNode of up to 2^8 slots (16 KiB),
/// the IPC buffer (4 KiB) and the TCB (2 KiB); a bigger CNode gets twice its size
/// ([`life_bits`]).
pub const LIFE_BITS: u32 = 15;

/// log2 of the life untyped of a process whose CNode has 2^`cnode_radix` slots: room for
/// the CNode, the IPC buffer and the TCB.
pub fn life_bits(cnode_radix: u64) -> u32 {
    let cnode_bits = ObjectType::CNode
        .size_bits(cnode_radix)
        .unwrap_or(LIFE_BITS);
    LIFE_BITS.max(cnode_bits + 1)
}
/// Parent slots of one life: the CNode, the IPC buffer, the TCB and the guarded CSpace root.
pub(super) const LIFE_SLOTS: u64 = 4;
/// Most runs of writable frames a recyclable process may have.
pub const MAX_WRITABLE_RUNS: usize = 4;
/// Most writable pages a recyclable process may have: refilling one costs four system
/// calls, about what building it anew costs, so a bigger program is destroyed whole.
pub const MAX_REFILL_PAGES: u64 = 16;
/// Pages of the parent's window for stack frames, just above [`SCRATCH_ADDR`] and in its
/// page table.
pub const WINDOW_PAGES: u64 = 256;

/// Where the parent maps the stack frame of its `index`th recyclable process for good
/// ([`Process::map_stack_window`]); `None` past [`WINDOW_PAGES`].
pub fn window_addr(index: usize) -> Option<u64> {
    let index = index as u64;
    (index < WINDOW_PAGES).then(|| SCRATCH_ADDR + (1 + index) * PAGE_SIZE)
}

impl Loader {
    /// Makes one life's objects from `process.life` and sets them up: the CNode with its
    /// guarded root, the IPC buffer mapped, the fixed caps given, the TCB configured.
    pub(super) fn begin_life(
        &mut self,
        parent: &mut Allocator,
        process: &mut Process,
        config: &ProcessConfig,
        fail_in: &mut Option<u32>,
    ) -> Result<(), LoadError> {
        let radix = config.cnode_radix;
        let slots = process.life_slots;
        // One step per object for fault injection, then the three in one call.
        for _ in 0..3 {
            count_step(fail_in)?;
        }
        process
            .life
            .retype_batch(
                parent.cnode,
                &[
                    (ObjectType::CNode, radix, slots),
                    (ObjectType::Frame4K, 0, slots + 1),
                    (ObjectType::Tcb, 0, slots + 2),
                ],
            )
            .map_err(|e| LoadError::Alloc(AllocError::Kernel(e)))?;
        let cnode: Cap<CNode> = Cap::from_cptr(slots);
        let ipc_buffer: Cap<Frame> = Cap::from_cptr(slots + 1);
        let tcb: Cap<Tcb> = Cap::from_cptr(slots + 2);
        let cspace: Cap<CNode> = Cap::from_cptr(slots + 3);
        let guard = CNodeGuard {
            guard: 0,
            guard_bits: 64 - radix as u32,
        };
        process.tcb = tcb;
        process.cnode = cnode;
        process.cspace = cspace;
        process.cnode_radix = radix;
        process.ipc_buffer = ipc_buffer;
        // The page tables stay from the first life.
        ipc_buffer
            .map_raw(process.vspace, IPC_BUFFER_ADDR, RW)
            .map_err(kernel(LoadStep::MapFrame))?;
        // The guarded root, then the fixed caps: one `CNodeCopyBatch` (the guarded root is
        // made before its copy is looked up).
        let parent_path = |slot: u64| Process::parent_path(self, slot);
        let give = |cap: u64, slot: u64| BatchCopy {
            dest: process.child_path(self, slot),
            src: parent_path(cap),
            rights: Rights::ALL,
            badge: None,
        };
        let console = crate::process::SLOT_DEBUG_CONSOLE;
        let batch = [
            BatchCopy {
                dest: parent_path(cspace.cptr()),
                src: parent_path(cnode.cptr()),
                rights: Rights::ALL,
                badge: Some(guard.to_word()),
            },
            give(tcb.cptr(), SLOT_TCB),
            give(cspace.cptr(), SLOT_CNODE),
            give(process.vspace.cptr(), SLOT_VSPACE),
            give(ipc_buffer.cptr(), SLOT_IPC_BUFFER),
            give(console, console),
        ];
        let count = if self.has_console { 6 } else { 5 };
        self.root_unguarded
            .copy_batch(&batch[..count])
            .map_err(|e| {
                let step = if e.argument < 4 {
                    LoadStep::GuardCNode
                } else {
                    LoadStep::CopyCap
                };
                kernel(step)(e)
            })?;
        let tcb_config = TcbConfig {
            cspace,
            vspace: process.vspace,
            ipc_buffer_addr: IPC_BUFFER_ADDR,
            ipc_buffer_frame: ipc_buffer,
            fault_endpoint: config.fault_endpoint,
        };
        // One call for both (the sixth word of `TcbConfigure`).
        tcb.configure_with_priority(&tcb_config, config.priority)
            .map_err(|e| {
                let step = if e.argument == 5 {
                    LoadStep::SetPriority
                } else {
                    LoadStep::ConfigureTcb
                };
                kernel(step)(e)
            })
    }

    /// Starts the next life of `process` (ended with [`Process::end_life`]): as a fresh
    /// load leaves it, not started. Counts allocation steps for fault injection.
    ///
    /// # Errors
    /// A refused step; then [`Process::end_life`] undoes what was made.
    pub fn rebirth(
        &mut self,
        parent: &mut Allocator,
        process: &mut Process,
        config: &ProcessConfig,
    ) -> Result<(), LoadError> {
        let mut fail_in = self.fail_in.take();
        let result = self.begin_life(parent, process, config, &mut fail_in);
        self.fail_in = fail_in;
        result
    }
}

impl Process {
    /// Records the frames of a writable segment (for [`Self::refill`]).
    pub(super) fn note_writable(&mut self, frames: Writable) {
        match frames {
            Writable::None => {}
            Writable::Run(first, page, pages, rights)
                if self.writable_count < MAX_WRITABLE_RUNS =>
            {
                self.writable[self.writable_count] = (first, page, pages, rights);
                self.writable_count += 1;
            }
            _ => self.writable_count = usize::MAX,
        }
    }

    /// Whether [`Self::end_life`] can make this process ready for another life: it has its
    /// life untyped, grew no stack page and its writable frames are known.
    pub fn recyclable(&self) -> bool {
        let known = self.writable_count <= MAX_WRITABLE_RUNS;
        let pages: u64 = self.writable[..self.writable_count.min(MAX_WRITABLE_RUNS)]
            .iter()
            .map(|run| run.2)
            .sum();
        self.life.cptr() != 0 && self.grown_count == 0 && known && pages <= MAX_REFILL_PAGES
    }

    /// Ends this life: revokes the life untyped (the thread, the CNode with every cap in it,
    /// the IPC buffer, and every cap to them anywhere) and the parent's VSpace cap (every copy
    /// the child had or gave away), after the caps at `first` (the parent's, e.g. the
    /// memory it gave the child), all in one `CNodeRevokeBatch`. The writable pages still
    /// hold what the child left ([`Self::refill`]). Never started lives end the same way.
    ///
    /// # Errors
    /// The kernel's refusal of a revoke; more than six `first`.
    pub fn end_life(&self, first: &[SlotPath]) -> Result<(), LoadError> {
        let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
        let mut slots = [SlotPath::at(0); REVOKE_BATCH_MAX];
        let count = first.len() + 2;
        if count > REVOKE_BATCH_MAX {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        slots[..first.len()].copy_from_slice(first);
        slots[first.len()] = self.life.slot();
        slots[first.len() + 1] = self.vspace.slot();
        root.revoke_batch(&slots[..count])
            .map_err(kernel(LoadStep::Destroy))
    }

    /// Puts the writable pages back as the ELF `image` (the one loaded) has them: each
    /// unmapped, mapped for a moment in the parent's scratch window, zeroed and filled, and
    /// mapped again.
    ///
    /// # Errors
    /// A bad ELF or a refused step.
    pub fn refill(
        &self,
        loader: &mut Loader,
        parent: &mut Allocator,
        image: &[u8],
    ) -> Result<(), LoadError> {
        let count = self.writable_count.min(MAX_WRITABLE_RUNS);
        if count == 0 {
            return Ok(());
        }
        let elf = ElfFile::parse(image).map_err(LoadError::Elf)?;
        let mut plans = [SegmentPlan::EMPTY; MAX_SEGMENTS];
        let segments = plan_segments(&elf, &mut plans)?;
        for &(first, first_page, pages, rights) in &self.writable[..count] {
            let plan = plans[..segments]
                .iter()
                .find(|p| p.first_page == first_page)
                .ok_or(LoadError::SegmentOutOfRange(0))?;
            for i in 0..pages {
                let page = first_page + i * PAGE_SIZE;
                let frame: Cap<Frame> = Cap::from_cptr(first + i);
                frame.unmap().map_err(kernel(LoadStep::UnmapScratch))?;
                let mut make = |t| parent.retype(t, 0, 1).map_err(LoadError::Alloc);
                map_frame(
                    &mut loader.scratch_tables,
                    frame,
                    SCRATCH_ADDR,
                    RW,
                    &mut make,
                )?;
                // SAFETY: `frame` is mapped read-write at SCRATCH_ADDR in this address space
                // (just above) and nothing else refers to that page.
                unsafe { core::ptr::write_bytes(SCRATCH_ADDR as *mut u8, 0, PAGE_SIZE as usize) };
                if let Some((offset, range)) = page_file_bytes(plan, page) {
                    let bytes = elf
                        .bytes()
                        .get(range)
                        .ok_or(LoadError::SegmentOutOfRange(0))?;
                    let len = bytes.len().min((PAGE_SIZE - offset) as usize);
                    // SAFETY: as above; `offset + len <= PAGE_SIZE`.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            bytes.as_ptr(),
                            (SCRATCH_ADDR + offset) as *mut u8,
                            len,
                        );
                    }
                }
                frame.unmap().map_err(kernel(LoadStep::UnmapScratch))?;
                frame
                    .map_raw(self.vspace, page, rights)
                    .map_err(kernel(LoadStep::MapFrame))?;
            }
        }
        Ok(())
    }

    /// Maps a copy of the stack's top frame at `vaddr` (from [`window_addr`]) in the parent
    /// for the process's whole existence, so that [`Self::write_stack_top`] writes it with no
    /// system call. The copy's slot goes with the process.
    ///
    /// # Errors
    /// No slot range or slot left, or a refused step (nothing is left behind).
    pub fn map_stack_window(
        &mut self,
        loader: &mut Loader,
        parent: &mut Allocator,
        vaddr: u64,
    ) -> Result<(), LoadError> {
        if self.slot_range_count == MAX_SLOT_RANGES {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        let slot = parent.slot().map_err(LoadError::Alloc)?;
        let copy: Cap<Frame> = Cap::from_cptr(slot);
        let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
        let mapped = root
            .copy(copy.slot(), self.stack_top_frame.slot(), Rights::ALL)
            .map_err(kernel(LoadStep::CopyCap))
            .and_then(|()| {
                let mut make = |t| parent.retype(t, 0, 1).map_err(LoadError::Alloc);
                map_frame(&mut loader.scratch_tables, copy, vaddr, RW, &mut make)
            });
        if let Err(e) = mapped {
            let _ = parent.free_slot(slot);
            return Err(e);
        }
        self.slot_ranges[self.slot_range_count] = (slot, 1);
        self.foreign |= 1 << self.slot_range_count;
        self.slot_range_count += 1;
        self.stack_window = vaddr;
        Ok(())
    }

    /// The parent slots this process holds (its objects' caps, copies of shared frames).
    pub fn parent_slots(&self) -> u64 {
        let ranges = self.slot_ranges[..self.slot_range_count]
            .iter()
            .map(|&(_, count)| count)
            .sum::<u64>();
        ranges + self.grown_count as u64
    }
}
