//! A hatch, in two phases: validate everything, then build the child and run its egg; any
//! failure undoes all of it (see docs/procsrv.md, "Hatching").

use crate::memory::{Block, Class, Taken, HALF_BITS};
use crate::ops::{Draft, DraftParts, RequestCaps};
use crate::table::{Proc, State, MAX_PROCS, RLIMIT_NPROC};
use crate::Server;
use libsys::cap::Cap;
use libsys::loader::{Gift, LoadError, Loader, Process, ProcessConfig};
use libsys::object::Rights;
use libsys::process::SLOT_PROCSRV;
use libsys::process::{build_stack, StackContents, CNODE_RADIX, SLOT_MEMORY};
use libsys::time::now;
use procsrv_api::{badge, phase, Errno, HatchRequest, NO_OP};

/// Bytes of the buffer a usual initial stack is laid out in before it is written to the
/// child's page (a bigger one is laid out in a page-sized buffer).
const SMALL_STACK_BYTES: usize = 512;
/// Stack pages mapped when a process starts; the rest are mapped when it first touches
/// them (a page fault procsrv answers, up to [`MAX_STACK`]).
pub const STACK_PAGES: u64 = 1;
/// One past the top of a hatched process's stack: 1 MiB above its IPC buffer, so that the
/// stack and the IPC buffer share their page tables (two fewer tables to make per hatch).
pub const HATCH_STACK_TOP: u64 = libsys::bootinfo::IPC_BUFFER_ADDR + (1 << 20);
/// Most bytes of stack a process may grow to: the megabyte above the IPC buffer less an
/// unmapped guard page above the buffer.
pub const MAX_STACK: u64 = (1 << 20) - 2 * libsys::loader::PAGE_SIZE;

/// A hatched child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hatched {
    /// Its pid.
    pub pid: u32,
    /// The procsrv slot holding its handle, when one was asked for.
    pub handle: Option<u64>,
}

/// Why a hatch failed: the errno and, when an op is to blame, its index and offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HatchFailure {
    /// The error.
    pub errno: Errno,
    /// The failing op's index, or [`NO_OP`].
    pub op_index: u64,
    /// The failing op's byte offset.
    pub op_offset: u64,
    /// The offset of the bad byte (validation) or of the op.
    pub fault_offset: u64,
}

impl From<Errno> for HatchFailure {
    fn from(errno: Errno) -> Self {
        HatchFailure {
            errno,
            op_index: NO_OP,
            op_offset: 0,
            fault_offset: 0,
        }
    }
}

fn load_errno(e: LoadError) -> Errno {
    match e {
        LoadError::NotFound => Errno::ENOENT,
        LoadError::Archive(_) => Errno::ENOENT,
        LoadError::Elf(_)
        | LoadError::SegmentOutOfRange(_)
        | LoadError::SegmentsShareAPage(_)
        | LoadError::TooManySegments => Errno::ENOEXEC,
        _ => Errno::ENOMEM,
    }
}

/// The archive name of `program` (`/bin/NAME` is `bin/NAME`).
fn archive_name(program: &[u8]) -> Result<&str, Errno> {
    let name = program.strip_prefix(b"/").ok_or(Errno::ENOENT)?;
    if !name.starts_with(b"bin/") {
        return Err(Errno::ENOENT);
    }
    core::str::from_utf8(name).map_err(|_| Errno::ENOENT)
}

impl Server {
    /// Hatches `request` for `parent_pid`; returns the child's pid.
    ///
    /// # Errors
    /// A [`HatchFailure`]; then nothing of the child is left.
    pub fn hatch(
        &mut self,
        parent_pid: u32,
        request: &HatchRequest<'_>,
        caps: RequestCaps,
    ) -> Result<u32, HatchFailure> {
        self.hatch_with(parent_pid, request, caps, false)
            .map(|h| h.pid)
    }

    /// [`Self::hatch`] for a parent that gets a handle: it is minted (badge
    /// `HANDLE | pid`) into a slot of procsrv's with the child's last copies, in the
    /// same `CNodeCopyBatch`, and sent with the reply ([`Hatched::handle`]).
    ///
    /// # Errors
    /// As for [`Self::hatch`].
    pub(crate) fn hatch_with_handle(
        &mut self,
        parent_pid: u32,
        request: &HatchRequest<'_>,
        caps: RequestCaps,
    ) -> Result<Hatched, HatchFailure> {
        self.hatch_with(parent_pid, request, caps, true)
    }

    fn hatch_with(
        &mut self,
        parent_pid: u32,
        request: &HatchRequest<'_>,
        caps: RequestCaps,
        with_handle: bool,
    ) -> Result<Hatched, HatchFailure> {
        let t = now();
        // Phase 1: check everything that can be checked without making anything.
        egg::validate(request.egg).map_err(|e| HatchFailure {
            errno: Errno::EINVAL,
            op_index: e.op_index as u64,
            op_offset: e.op_offset as u64,
            fault_offset: e.offset as u64,
        })?;
        let name = archive_name(request.program)?;
        let image = self.program(name)?;
        let parent = self.table.get(parent_pid.into()).ok_or(Errno::ESRCH)?;
        let uid = parent.creds.uid[0];
        let nproc = parent.limits[RLIMIT_NPROC].0;
        // The table holds at most MAX_PROCS records: only a lower limit needs the count.
        if parent.pid != 0 && nproc < MAX_PROCS as u64 {
            let same_user = self
                .table
                .iter()
                .filter(|p| {
                    p.pid != 0 && p.creds.uid[0] == uid && !matches!(p.state, State::Zombie(_))
                })
                .count() as u64;
            if same_user >= nproc {
                return Err(Errno::EAGAIN.into());
            }
        }
        let index = self.table.free_index().ok_or(Errno::EAGAIN)?;
        let pid = self.table.peek_pid();
        let mut proc = Proc::child_of(parent, pid);
        proc.name = crate::table::name_bytes(name.strip_prefix("bin/").unwrap_or(name).as_bytes());

        let t = self.phases.add(phase::VALIDATE, t);
        // Phase 2: make the child; from here every failure undoes what was made.
        // No owner: a cold block, never parked (and `INJECT` can ask for that).
        let owner = crate::table::sole_uid(&proc.creds).filter(|_| !self.build_cold);
        // A program with a reserved block (a system server, `memory::Class`) is built in
        // it, as its class says; every other in a common block.
        let (block_index, block, taken, class) = match self.blocks.take_reserved(request.program) {
            Some((i, block, class)) => (i, block, Taken::Cold, Some(class)),
            None => {
                let (i, block, taken) = self.blocks.take_for(image, owner).ok_or(Errno::ENOMEM)?;
                (i, block, taken, None)
            }
        };
        proc.block = block_index;
        let built = (block_index, block, taken);
        // On failure `build` has given the block back. The child's objects are in
        // `Table::objects` of its block from here on.
        self.build(built, image, (proc.priority, class), t)?;
        let handle = match with_handle.then(|| self.alloc.slot()) {
            None => None,
            Some(Ok(slot)) => Some(slot),
            Some(Err(_)) => {
                self.retire(block_index, block, false);
                return Err(Errno::ENOMEM.into());
            }
        };
        let t = now();
        self.files.begin(request.timeout_ms);
        let registered = self.files.register(&proc);
        self.phases.add(phase::FILE_SERVER, t);
        let suspended = match registered
            .map_err(HatchFailure::from)
            .and_then(|()| self.run_egg(&mut proc, (block_index, &block), request, (caps, handle)))
            .and_then(|s| {
                // The file server learns what the egg made of the child.
                let t = now();
                let registered = self.files.register(&proc);
                self.phases.add(phase::FILE_SERVER, t);
                registered.map(|()| s).map_err(HatchFailure::from)
            }) {
            Ok(suspended) => {
                let t = now();
                self.files.end(true);
                self.phases.add(phase::FILE_SERVER, t);
                suspended
            }
            Err(failure) => {
                self.files.end(false);
                self.files.forget(pid);
                self.retire(block_index, block, false);
                if let Some(slot) = handle {
                    let _ = self.alloc.free_slot(slot);
                }
                return Err(failure);
            }
        };
        // The point of no return: the thread is started (or left suspended) and nothing
        // after this can fail.
        proc.state = if suspended {
            State::Suspended
        } else {
            State::Running
        };
        proc.live = true;
        self.table.insert(index, proc);
        if let Some(parent) = self.table.get_mut(parent_pid.into()) {
            parent.had_children = true;
        }
        self.phases.hatched();
        Ok(Hatched { pid, handle })
    }

    /// The ELF of archive file `name`, from the cache of programs found before or from
    /// the archive (parsing it costs about 50,000 instructions).
    fn program(&mut self, name: &str) -> Result<&'static [u8], Errno> {
        let known = self.programs.iter().flatten();
        if let Some(p) = known.into_iter().find(|p| p.name() == name.as_bytes()) {
            return Ok(p.image);
        }
        let image = Loader::archive_file(self.archive_length, name).map_err(load_errno)?;
        if let Some(entry) = self.programs.iter_mut().find(|e| e.is_none()) {
            *entry = KnownProgram::new(name.as_bytes(), image);
        }
        Ok(image)
    }

    /// Builds the child's objects in block `index` (`taken`: what it held): a new life of a
    /// warm block's process, or a fresh load (its fixed caps come with the egg's copies,
    /// [`Self::gifts`]). On failure the
    /// block is free again (warm or cold).
    fn build(
        &mut self,
        (index, block, taken): (usize, Block, Taken),
        image: &'static [u8],
        (priority, class): (u8, Option<Class>),
        started: u64,
    ) -> Result<(), Errno> {
        let config = ProcessConfig {
            untyped_bits: class.map_or(HALF_BITS, |c| c.image_bits),
            cnode_radix: class.map_or(CNODE_RADIX, |c| c.cnode_radix),
            stack_pages: class.map_or(STACK_PAGES, |c| c.stack_pages),
            priority: priority.into(),
            fault_endpoint: block.fault,
            stack_top: HATCH_STACK_TOP,
        };
        if taken == Taken::Warm {
            // A new life in place, in the objects the block kept.
            let reborn = match self.table.objects_mut(index) {
                Some(process) => self.loader.rebirth(&mut self.alloc, process, &config),
                None => Err(LoadError::NotFound),
            };
            if reborn.is_err() {
                self.retire(index, block, false);
                return Err(Errno::ENOMEM);
            }
        } else {
            if taken == Taken::Evict {
                self.destroy(index, block);
            }
            let loaded = self
                .loader
                .load_into(&mut self.alloc, block.image, image, &config);
            match loaded {
                Ok(mut process) => {
                    // Without the window the stack is written through the scratch page.
                    if let Some(window) = libsys::loader::window_addr(index) {
                        let _ = process.map_stack_window(&mut self.loader, &mut self.alloc, window);
                    }
                    self.table.set_objects(index, Some(process));
                }
                Err(e) => {
                    self.blocks.give_back(index);
                    return Err(load_errno(e));
                }
            }
        }
        self.phases.add(phase::BUILD, started);
        // The step of the fixed caps (given by the draft, `Draft::give`).
        if injected(&mut self.loader).is_err() {
            self.retire(index, block, false);
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// The fixed caps of child `pid` in `block`: procsrv's endpoint, the memory half and
    /// the file server's namespace endpoint (when there is one). They are given with the
    /// egg's own copies, in one `CNodeCopyBatch` ([`Draft::give`]).
    fn gifts(&self, pid: u32, block: &Block) -> ([Gift; 3], usize) {
        let own = Rights::WRITE
            .union(Rights::GRANT)
            .union(Rights::GRANT_REPLY);
        let mut gifts = [Gift {
            cap: self.endpoint.cptr(),
            child_slot: SLOT_PROCSRV,
            rights: own,
            badge: Some(badge::PROCESS | u64::from(pid)),
        }; 3];
        gifts[1] = Gift {
            cap: block.memory.cptr(),
            child_slot: SLOT_MEMORY,
            rights: Rights::ALL,
            badge: None,
        };
        let count = match self.files.namespace_endpoint() {
            Some(fs) => {
                gifts[2] = Gift {
                    cap: fs.cptr(),
                    child_slot: libsys::process::SLOT_FS,
                    rights: own,
                    badge: Some(fs_api::Badge::Namespace(pid.into()).to_word()),
                };
                3
            }
            None => 2,
        };
        (gifts, count)
    }

    /// Runs the egg, lays out the stack and sets the registers; returns `start_suspended`.
    fn run_egg(
        &mut self,
        proc: &mut Proc,
        (index, block): (usize, &Block),
        request: &HatchRequest<'_>,
        (caps, handle): (RequestCaps, Option<u64>),
    ) -> Result<bool, HatchFailure> {
        let t = now();
        let (gifts, count) = self.gifts(proc.pid, block);
        let process = self.table.objects(index).ok_or(Errno::ENOMEM)?;
        let mut draft = Draft::new(DraftParts {
            proc,
            table: &*self.table,
            process,
            loader: &self.loader,
            caps,
            files: &mut *self.files,
            timeout_ms: request.timeout_ms,
            scratch: &mut *self.scratch,
        });
        draft.image_bytes = 1 << HALF_BITS;
        draft.give(&gifts[..count])?;
        draft.set_env(request.envp)?;
        self.phases.add(phase::FIXED_CAPS, t);
        // A copy queued by an earlier op that fails names that op (`Draft::flush`).
        let failed = |draft: &mut Draft<'_>, errno, at: (u64, u64)| {
            let (op_index, op_offset) = draft.failed_at.take().unwrap_or(at);
            HatchFailure {
                errno,
                op_index,
                op_offset,
                fault_offset: if op_index == NO_OP { 0 } else { op_offset },
            }
        };
        // The egg was validated in phase 1: run its ops one by one, each timed by opcode.
        let mut decoder = egg::decode(request.egg);
        loop {
            let (op_index, offset) = (decoder.index() as u64, decoder.offset() as u64);
            let Some(op) = decoder.next() else {
                break;
            };
            let t = now();
            // Validation passed, so decoding cannot fail here; handled all the same.
            let op = op.map_err(|d| HatchFailure {
                errno: Errno::EINVAL,
                op_index,
                op_offset: offset,
                fault_offset: d.offset as u64,
            })?;
            draft.op_at = (op_index, offset);
            let done = egg::dispatch(&mut draft, op);
            self.phases.add_op(op.opcode().number(), t);
            if let Err(errno) = done {
                // The first op to fail is reported: a copy an earlier op queued, if one
                // fails, else this one.
                let errno = draft.flush().err().unwrap_or(errno);
                return Err(failed(&mut draft, errno, (op_index, offset)));
            }
        }
        let t = now();
        draft.op_at = (NO_OP, 0);
        if let Some(slot) = handle {
            let badge = badge::HANDLE | u64::from(draft.proc.pid);
            let rights = Rights::WRITE.union(Rights::GRANT_REPLY);
            draft.mint_handle(slot, self.endpoint.cptr(), badge, rights)?;
        }
        if let Err(errno) = draft.flush() {
            return Err(failed(&mut draft, errno, (NO_OP, 0)));
        }
        self.phases.add(phase::FIXED_CAPS, t);
        let t = now();
        let contents = || StackContents {
            argv: request.args(),
            envp: draft.env(),
            bindings: draft.bindings(),
            pid: draft.proc.pid.into(),
            entry: process.entry,
            marker: core::marker::PhantomData,
        };
        // Laid out in a small buffer first (the usual stack is a few hundred bytes): zeroing
        // a page-sized one cost about 500 instructions per hatch.
        let mut small = [0u8; SMALL_STACK_BYTES];
        let mut page;
        let (stack, (used, rsp)): (&[u8], _) =
            match build_stack(&mut small, HATCH_STACK_TOP, contents()) {
                Ok(laid_out) => (&small, laid_out),
                Err(_) => {
                    page = [0u8; 4096];
                    let laid_out = build_stack(&mut page, HATCH_STACK_TOP, contents())
                        .map_err(|_| Errno::E2BIG)?;
                    (&page, laid_out)
                }
            };
        let suspended = draft.suspended;
        injected(&mut self.loader)?;
        process
            .write_stack_top(
                &mut self.loader,
                &mut self.alloc,
                &stack[stack.len() - used..],
            )
            .map_err(|_| Errno::ENOMEM)?;
        let t = self.phases.add(phase::STACK, t);
        injected(&mut self.loader)?;
        process
            .set_start(rsp, rsp, !suspended)
            .map_err(|_| Errno::ENOMEM)?;
        self.phases.add(phase::START, t);
        Ok(suspended)
    }

    /// Ends a child's objects in block `index` and frees the block: its memory half
    /// revoked; a recyclable process kept between two lives (its writable pages refilled if
    /// it `ran`) and the block parked warm; any other destroyed and the block given back
    /// cold (docs/procsrv.md, "Memory").
    pub fn retire(&mut self, index: usize, block: Block, ran: bool) {
        let owned = self.blocks.owner(index).is_some();
        let recyclable = self.table.objects(index).is_some_and(Process::recyclable);
        if recyclable && owned && self.blocks.can_park() {
            // The memory half, the life and the VSpace cap: one `CNodeRevokeBatch`.
            let ended = match self.table.objects(index) {
                Some(process) => process
                    .end_life(&[block.memory.slot()])
                    .and_then(|()| match self.blocks.program(index) {
                        Some(image) if ran => {
                            process.refill(&mut self.loader, &mut self.alloc, image)
                        }
                        Some(_) => Ok(()),
                        None => Err(LoadError::NotFound),
                    }),
                None => Err(LoadError::NotFound),
            };
            if ended.is_ok() {
                self.blocks.park(index);
                return;
            }
        }
        self.destroy(index, block);
        self.blocks.give_back(index);
    }

    /// Destroys the objects kept in block `index`: both halves of the block revoked.
    fn destroy(&mut self, index: usize, block: Block) {
        if let Some(process) = self.table.set_objects(index, None) {
            let _ = process.destroy_keep_untyped(&mut self.alloc);
        }
        let root = Cap::<libsys::cap::CNode>::from_cptr(libsys::bootinfo::SLOT_CNODE);
        let _ = root.revoke(block.memory.slot());
    }
}

/// Most programs whose archive entry procsrv remembers.
pub const KNOWN_PROGRAMS: usize = 16;
/// Longest archive name remembered.
const KNOWN_NAME: usize = 48;

/// A program found in the archive: its name and ELF.
#[derive(Clone, Copy)]
pub struct KnownProgram {
    name: [u8; KNOWN_NAME],
    len: usize,
    image: &'static [u8],
}

impl KnownProgram {
    fn new(name: &[u8], image: &'static [u8]) -> Option<KnownProgram> {
        let mut stored = [0; KNOWN_NAME];
        stored.get_mut(..name.len())?.copy_from_slice(name);
        Some(KnownProgram {
            name: stored,
            len: name.len(),
            image,
        })
    }

    fn name(&self) -> &[u8] {
        &self.name[..self.len]
    }
}

/// Fault injection: counts one of procsrv's own steps of a hatch (after the loader's),
/// failing the one `INJECT` named.
fn injected(loader: &mut Loader) -> Result<(), Errno> {
    match loader.fail_allocation(None) {
        Some(0) => Err(Errno::ENOMEM),
        Some(n) => {
            loader.fail_allocation(Some(n - 1));
            Ok(())
        }
        None => Ok(()),
    }
}
