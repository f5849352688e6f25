//! The [`Process`] a loader built: paths into its CNode, the caps given to it, its start,
//! its stack, its destruction.

use super::{
    kernel, map_frame, AllocError, Allocator, BatchCopy, CNode, Cap, Frame, Gift, LoadError,
    LoadStep, Loader, ObjectType, Process, Rights, SlotPath, Untyped, UserRegisters,
    FIRST_FREE_CHILD_SLOT, MAX_GIFTS, MAX_SLOT_RANGES, PAGE_SIZE, RW, SCRATCH_ADDR, SLOT_CNODE,
    STACK_TOP,
};

impl Process {
    pub(super) fn empty(untyped: Cap<Untyped>) -> Self {
        Process {
            tcb: Cap::null(),
            cnode: Cap::null(),
            cspace: Cap::null(),
            vspace: Cap::null(),
            ipc_buffer: Cap::null(),
            untyped,
            entry: 0,
            cnode_radix: 0,
            stack_top_frame: Cap::null(),
            stack_top: STACK_TOP,
            slot_ranges: [(0, 0); MAX_SLOT_RANGES],
            slot_range_count: 0,
            foreign: 0,
            life: Cap::null(),
            life_slots: 0,
            writable: [(0, 0, 0, 0); super::recycle::MAX_WRITABLE_RUNS],
            writable_count: 0,
            stack_window: 0,
            grown: [0; super::MAX_GROWN_PAGES],
            grown_count: 0,
        }
    }

    /// The path, relative to `loader.root_unguarded`, of slot `child_slot` of this
    /// process's CNode.
    pub fn child_path(&self, loader: &Loader, child_slot: u64) -> SlotPath {
        SlotPath {
            index: (self.cnode.cptr() << self.cnode_radix) | child_slot,
            depth: loader.root_radix + self.cnode_radix,
        }
    }

    /// The path, relative to `loader.root_unguarded`, of parent slot `slot`.
    pub fn parent_path(loader: &Loader, slot: u64) -> SlotPath {
        SlotPath {
            index: slot,
            depth: loader.root_radix,
        }
    }

    /// Copies the parent's cap `cap` into slot `child_slot` of the child's CSpace with
    /// `rights` (use slots from [`FIRST_FREE_CHILD_SLOT`] up).
    ///
    /// # Errors
    /// The kernel's refusal (occupied slot, empty source...).
    pub fn give<T>(
        &self,
        loader: &Loader,
        cap: Cap<T>,
        child_slot: u64,
        rights: Rights,
    ) -> Result<(), LoadError> {
        let dest = self.child_path(loader, child_slot);
        let src = Process::parent_path(loader, cap.cptr());
        loader
            .root_unguarded
            .copy(dest, src, rights)
            .map_err(kernel(LoadStep::CopyCap))
    }

    /// Mints the parent's cap `cap` into slot `child_slot` of the child's CSpace with
    /// `rights` and `badge`.
    ///
    /// # Errors
    /// The kernel's refusal (occupied slot, empty source...).
    pub fn give_badged<T>(
        &self,
        loader: &Loader,
        cap: Cap<T>,
        child_slot: u64,
        rights: Rights,
        badge: u64,
    ) -> Result<(), LoadError> {
        let dest = self.child_path(loader, child_slot);
        let src = Process::parent_path(loader, cap.cptr());
        loader
            .root_unguarded
            .mint(dest, src, rights, badge)
            .map_err(kernel(LoadStep::CopyCap))
    }

    /// Gives the child the parent's caps of `gifts` in order, in one kernel call per six
    /// (`CNodeCopyBatch`): each as [`Self::give`] (no badge) or [`Self::give_badged`] would.
    ///
    /// # Errors
    /// The kernel's first refusal; the gifts before it are given, none after it.
    pub fn give_all(&self, loader: &Loader, gifts: &[Gift]) -> Result<(), LoadError> {
        let mut batch = [BatchCopy {
            dest: SlotPath::at(0),
            src: SlotPath::at(0),
            rights: Rights::NONE,
            badge: None,
        }; MAX_GIFTS];
        if gifts.len() > MAX_GIFTS {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        for (entry, gift) in batch.iter_mut().zip(gifts) {
            *entry = BatchCopy {
                dest: self.child_path(loader, gift.child_slot),
                src: Process::parent_path(loader, gift.cap),
                rights: gift.rights,
                badge: gift.badge,
            };
        }
        loader
            .root_unguarded
            .copy_batch(&batch[..gifts.len()])
            .map_err(kernel(LoadStep::CopyCap))
    }

    /// Starts the thread at the ELF entry with `argument` in `rdi`.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn start(&self, argument: u64) -> Result<(), LoadError> {
        let registers = UserRegisters {
            rip: self.entry,
            rsp: self.stack_top - 8,
            rflags: 0x202,
            rdi: argument,
            ..UserRegisters::default()
        };
        self.tcb
            .write_registers(true, &registers)
            .map_err(kernel(LoadStep::Start))
    }

    /// Destroys the process: revoking its untyped deletes every object made for it (and
    /// every cap to them, in any CSpace), then the untyped itself goes and the parent's
    /// slots are given back.
    ///
    /// # Errors
    /// The kernel's refusal of the revoke or delete.
    pub fn destroy(self, parent: &mut Allocator) -> Result<(), LoadError> {
        let untyped = self.destroy_keep_untyped(parent)?;
        parent
            .free_slot(untyped.cptr())
            .map_err(kernel(LoadStep::Destroy))
    }

    /// Destroys the process as [`Self::destroy`] does but keeps its untyped (now without
    /// children, so the kernel hands it out again from offset 0) and returns it.
    ///
    /// # Errors
    /// The kernel's refusal of the revoke.
    pub fn destroy_keep_untyped(self, parent: &mut Allocator) -> Result<Cap<Untyped>, LoadError> {
        let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
        root.revoke(self.untyped.slot())
            .map_err(kernel(LoadStep::Destroy))?;
        for (i, &(first, count)) in self.slot_ranges[..self.slot_range_count].iter().enumerate() {
            let foreign = self.foreign & (1 << i) != 0;
            for slot in first..first + count {
                // Caps made from the untyped are gone with the revoke; the others (copies
                // of shared frames, the guarded CSpace root) are deleted here.
                if foreign {
                    let _ = root.delete(SlotPath::at(slot));
                }
                parent.slots.free(slot);
            }
        }
        // Made from the untyped: the revoke emptied them.
        for &slot in &self.grown[..self.grown_count] {
            parent.slots.free(u64::from(slot));
        }
        Ok(self.untyped)
    }

    /// Maps a fresh zeroed page, made from the process's untyped, read-write at `vaddr` (a
    /// page whose page table exists: the stack grows this way, page by page, as procsrv
    /// answers its faults).
    ///
    /// # Errors
    /// No parent slot or range left, the untyped is full, or the kernel refused the mapping.
    pub fn map_fresh_page(&mut self, parent: &mut Allocator, vaddr: u64) -> Result<(), LoadError> {
        if self.grown_count == super::MAX_GROWN_PAGES {
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        }
        let slot = parent.slot().map_err(LoadError::Alloc)?;
        let Ok(slot16) = u16::try_from(slot) else {
            parent.slots.free(slot);
            return Err(LoadError::Alloc(AllocError::OutOfSlots));
        };
        let made = self
            .untyped
            .retype(ObjectType::Frame4K, 0, parent.cnode, slot, 1)
            .map_err(|e| LoadError::Alloc(AllocError::Kernel(e)));
        let mapped = made.and_then(|()| {
            Cap::<Frame>::from_cptr(slot)
                .map_raw(self.vspace, vaddr, RW)
                .map_err(kernel(LoadStep::MapFrame))
        });
        if let Err(e) = mapped {
            let _ = parent.free_slot(slot);
            return Err(e);
        }
        self.grown[self.grown_count] = slot16;
        self.grown_count += 1;
        Ok(())
    }

    /// Sets the thread's registers for its start: `rip` the ELF entry, `rsp` and `rdi` as
    /// given; resumes it when `resume`.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn set_start(&self, rsp: u64, rdi: u64, resume: bool) -> Result<(), LoadError> {
        let registers = UserRegisters {
            rip: self.entry,
            rsp,
            rflags: 0x202,
            rdi,
            ..UserRegisters::default()
        };
        self.tcb
            .write_registers(resume, &registers)
            .map_err(kernel(LoadStep::Start))
    }

    /// Writes `bytes` at the top of the child's stack (ending at its `stack_top`; at most one
    /// page) and zeroes the rest of the page: through the window of
    /// [`Self::map_stack_window`] if it has one, else through a copy of the top frame's cap
    /// mapped for a moment in the parent's scratch window.
    ///
    /// # Errors
    /// More than a page, no free parent slot, or a refused step (the copy is gone again).
    pub fn write_stack_top(
        &self,
        loader: &mut Loader,
        parent: &mut Allocator,
        bytes: &[u8],
    ) -> Result<(), LoadError> {
        if bytes.len() as u64 > PAGE_SIZE {
            return Err(LoadError::Alloc(AllocError::OutOfMemory));
        }
        let offset = PAGE_SIZE as usize - bytes.len();
        if self.stack_window != 0 {
            // SAFETY: the window is a copy of the top frame's cap mapped read-write at
            // `stack_window` in this address space for the process's whole existence
            // (`map_stack_window`); nothing else in the parent refers to that page, and
            // `offset + bytes.len() == PAGE_SIZE`.
            unsafe {
                let page = self.stack_window as *mut u8;
                core::ptr::write_bytes(page, 0, offset);
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), page.add(offset), bytes.len());
            }
            return Ok(());
        }
        let slot = parent.slot().map_err(LoadError::Alloc)?;
        let copy: Cap<Frame> = Cap::from_cptr(slot);
        let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
        let result = root
            .copy(copy.slot(), self.stack_top_frame.slot(), Rights::ALL)
            .map_err(kernel(LoadStep::CopyCap))
            .and_then(|()| {
                let mut make = |t| parent.retype(t, 0, 1).map_err(LoadError::Alloc);
                map_frame(
                    &mut loader.scratch_tables,
                    copy,
                    SCRATCH_ADDR,
                    RW,
                    &mut make,
                )?;
                // SAFETY: `copy` is mapped read-write at SCRATCH_ADDR in this address space
                // (just above), nothing else refers to that page, and
                // `offset + bytes.len() == PAGE_SIZE`.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        bytes.as_ptr(),
                        (SCRATCH_ADDR as usize + offset) as *mut u8,
                        bytes.len(),
                    );
                }
                copy.unmap().map_err(kernel(LoadStep::UnmapScratch))
            });
        let _ = parent.free_slot(slot);
        result
    }

    /// The first slot of the child's CSpace the parent may fill.
    pub const fn first_free_slot(&self) -> u64 {
        FIRST_FREE_CHILD_SLOT
    }
}
