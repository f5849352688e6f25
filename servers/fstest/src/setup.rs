//! Starting fsrv and playing procsrv's part: identities, windows, sharing fds, children.

use fs_api::server::{self, start_argument, SLOT_ENDPOINT, SLOT_EVENTS, SLOT_UNTYPED};
use fs_api::{Badge, Errno, WINDOW_ADDR, WINDOW_PAGES};
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, SLOT_CNODE, SLOT_VSPACE};
use libsys::cap::{CNode, Cap, Endpoint, Frame, Notification, SlotPath};
use libsys::fs::control::Control;
use libsys::fs::{fd_slot, Fd, Namespace};
use libsys::loader::{Loader, Process, ProcessConfig};
use libsys::object::Rights;
use libsys::vspace::map_frame;

/// log2 of the memory fsrv's own objects (code, stack, CNode) come from.
const FSRV_PROCESS_BITS: u32 = 23;
/// log2 of the untyped fsrv makes its heap from.
pub const FSRV_HEAP_BITS: u32 = 25;
/// fsrv's CNode: room for its own slots and one per boot archive page.
const FSRV_CNODE_RADIX: u64 = server::CNODE_RADIX;
/// log2 of a child's memory.
const CHILD_BITS: u32 = 22;

/// Process ids (procsrv's numbers) of the test's identities.
pub const ROOT: u64 = 1;
pub const ALICE: u64 = 2;
pub const BOB: u64 = 3;
pub const CAROL: u64 = 4;

/// The slot in a child where its report endpoint goes.
pub const CHILD_SLOT_REPORT: u64 = 8;
/// The slot in a child holding memory of its own (as procsrv's `SLOT_MEMORY`).
pub const CHILD_SLOT_MEMORY: u64 = 11;
/// log2 of that memory.
pub const CHILD_MEMORY_BITS: u32 = 17;
/// The first slot a child allocates from (after its descriptors).
pub const CHILD_FIRST_FREE_SLOT: u64 = libsys::process::FIRST_FREE_SLOT;

/// Everything the tests use.
pub struct World {
    pub alloc: Allocator,
    pub loader: Loader,
    pub info: &'static BootInfo,
    /// fsrv's endpoint (unbadged: nobody, to fsrv).
    pub endpoint: Cap<Endpoint>,
    /// procsrv's control cap.
    pub control: Cap<Endpoint>,
    /// The root task's window frames (mapped at WINDOW_ADDR).
    pub window: [Cap<Frame>; WINDOW_PAGES],
    /// A slot kept empty for caps that replies bring.
    pub spare: u64,
}

fn fail(what: &'static str) -> impl Fn(libsys::loader::LoadError) -> &'static str {
    move |_| what
}

impl World {
    /// Starts fsrv and sets up the root identity as the current namespace.
    pub fn start(info: &'static BootInfo) -> Result<World, &'static str> {
        let mut alloc = Allocator::from_boot_info(info);
        let mut loader = Loader::new(
            &mut alloc,
            info.cnode_radix,
            Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
        )
        .map_err(fail("loader"))?;
        let endpoint: Cap<Endpoint> = alloc.make().map_err(|_| "endpoint")?;
        let events: Cap<Notification> = alloc.make().map_err(|_| "notification")?;
        let heap = alloc
            .make_untyped(FSRV_HEAP_BITS)
            .map_err(|_| "heap untyped")?;
        let image =
            Loader::archive_file(info.archive_length, "bin/fsrv").map_err(fail("bin/fsrv"))?;
        let config = ProcessConfig {
            untyped_bits: FSRV_PROCESS_BITS,
            cnode_radix: FSRV_CNODE_RADIX,
            stack_pages: 16,
            priority: info.priority,
            ..ProcessConfig::default()
        };
        let console = crate::console::start_driver(&mut alloc, &mut loader, info);
        let fsrv = loader
            .load(&mut alloc, image, &config)
            .map_err(fail("load fsrv"))?;
        match console {
            Ok(caps) => {
                fsrv.give(&loader, caps.page, server::SLOT_CONSOLE_PAGE, Rights::ALL)
                    .map_err(fail("give the console page"))?;
                fsrv.give(
                    &loader,
                    caps.work,
                    server::SLOT_CONSOLE_DRIVER,
                    Rights::WRITE,
                )
                .map_err(fail("give the driver's notification"))?;
                fsrv.give(&loader, caps.wake, server::SLOT_CONSOLE_WAKE, Rights::ALL)
                    .map_err(fail("give the wake notification"))?;
            }
            Err(why) => crate::say!("fstest: no console driver: {why}"),
        }
        fsrv.give(&loader, endpoint, SLOT_ENDPOINT, Rights::ALL)
            .map_err(fail("give endpoint"))?;
        fsrv.give(&loader, heap, SLOT_UNTYPED, Rights::ALL)
            .map_err(fail("give untyped"))?;
        fsrv.give(&loader, events, SLOT_EVENTS, Rights::WRITE)
            .map_err(fail("give events"))?;
        let archive = archive_cnode(&mut alloc, &loader, info)?;
        fsrv.give(&loader, archive, server::SLOT_ARCHIVE, Rights::ALL)
            .map_err(fail("give archive"))?;
        fsrv.start(start_argument(
            info.archive_length,
            FSRV_HEAP_BITS,
            info.tsc_hz / 1000,
        ))
        .map_err(fail("start fsrv"))?;

        let control = mint(&mut alloc, endpoint, Badge::Control.to_word())?;
        let mut window = [Cap::null(); WINDOW_PAGES];
        for (page, frame) in window.iter_mut().enumerate() {
            *frame = alloc.make().map_err(|_| "window frame")?;
            let rw = Rights::READ.union(Rights::WRITE).bits();
            let vaddr = WINDOW_ADDR + page as u64 * 4096;
            map_frame(
                &mut alloc,
                Cap::from_cptr(SLOT_VSPACE),
                *frame,
                vaddr,
                rw,
                false,
            )
            .map_err(|_| "map window")?;
        }
        let fd_base = alloc
            .slots
            .alloc_range(libsys::process::MAX_FDS)
            .ok_or("fd slots")?;
        libsys::fs::set_fd_slot_base(fd_base);
        let spare = alloc.slot().map_err(|_| "spare slot")?;
        let mut world = World {
            alloc,
            loader,
            info,
            endpoint,
            control,
            window,
            spare,
        };
        let root = world
            .identity(ROOT, 0, 0, &[])
            .map_err(|_| "root identity")?;
        libsys::fs::set_namespace(root.0.cptr());
        Ok(world)
    }

    /// Tells fsrv who process `id` is.
    pub fn set_credentials(
        &mut self,
        id: u64,
        uid: u64,
        gid: u64,
        umask: u64,
        groups: &[u64],
    ) -> Result<(), Errno> {
        let mut ids = [0u32; 8];
        for (to, &from) in ids.iter_mut().zip(groups) {
            *to = u32::try_from(from).map_err(|_| Errno::EINVAL)?;
        }
        let ids = &ids[..groups.len().min(8)];
        let id32 = |v: u64| u32::try_from(v).map_err(|_| Errno::EINVAL);
        let umask = u16::try_from(umask).map_err(|_| Errno::EINVAL)?;
        self.ctl()
            .set_credentials(id, id32(uid)?, id32(gid)?, umask, ids)
    }

    /// procsrv's control client.
    pub fn ctl(&self) -> Control {
        Control::new(self.control)
    }

    /// Registers process `id` as user `uid`, mints its namespace cap and attaches the root
    /// task's window frames as its window.
    pub fn identity(
        &mut self,
        id: u64,
        uid: u64,
        gid: u64,
        groups: &[u64],
    ) -> Result<Namespace, Errno> {
        self.set_credentials(id, uid, gid, 0o022, groups)?;
        let ns = self.namespace_cap(id)?;
        for (page, frame) in self.window.iter().enumerate() {
            ns.attach_window(page as u64, *frame)?;
        }
        Ok(ns)
    }

    /// Mints a namespace cap for process `id` (no window).
    pub fn namespace_cap(&mut self, id: u64) -> Result<Namespace, Errno> {
        let cap = mint(
            &mut self.alloc,
            self.endpoint,
            Badge::Namespace(id).to_word(),
        )
        .map_err(|_| Errno::ENOMEM)?;
        Ok(Namespace(cap))
    }

    /// Asks fsrv for a handle on `fd`'s description held by process `id`; the cap lands in
    /// a fresh slot of ours, returned.
    pub fn share(&mut self, fd: Fd, id: u64) -> Result<u64, Errno> {
        let slot = self.alloc.slot().map_err(|_| Errno::ENOMEM)?;
        let from = fd_slot(fd).ok_or(Errno::EBADF)?;
        if let Err(e) = self.ctl().share(id, from, slot) {
            self.alloc.slots.free(slot);
            return Err(e);
        }
        Ok(slot)
    }

    /// Tells fsrv process `id` is gone.
    pub fn process_exit(&mut self, id: u64) -> Result<(), Errno> {
        self.ctl().process_exit(id)
    }

    /// Loads a child (this program in `mode`) as process `id` (uid 0) with the caps in
    /// `fds` as its descriptors (`(our slot, child fd)`), a window, and `report` in
    /// [`CHILD_SLOT_REPORT`]; starts it.
    pub fn spawn(
        &mut self,
        mode: u64,
        id: u64,
        fds: &[(u64, u64)],
        report: Cap<Endpoint>,
    ) -> Result<Process, &'static str> {
        let image = Loader::archive_file(self.info.archive_length, "bin/fstest")
            .map_err(fail("bin/fstest"))?;
        let config = ProcessConfig {
            untyped_bits: CHILD_BITS,
            stack_pages: 16,
            priority: self.info.priority,
            ..ProcessConfig::default()
        };
        let child = self
            .loader
            .load(&mut self.alloc, image, &config)
            .map_err(fail("load child"))?;
        self.set_credentials(id, 0, 0, 0o022, &[])
            .map_err(|_| "child credentials")?;
        let ns = self.namespace_cap(id).map_err(|_| "child namespace")?;
        // Memory of its own, from which the child makes its I/O window (libsys
        // `attach_window_from`), as a process hatched by procsrv does.
        let memory = self
            .alloc
            .make_untyped(CHILD_MEMORY_BITS)
            .map_err(|_| "child memory")?;
        child
            .give(&self.loader, memory, CHILD_SLOT_MEMORY, Rights::ALL)
            .map_err(fail("give memory"))?;
        self.drop_slot(memory.cptr());
        for &(slot, fd) in fds {
            let child_slot = libsys::process::fd_slot(fd).ok_or("fd")?;
            child
                .give(
                    &self.loader,
                    Cap::<Endpoint>::from_cptr(slot),
                    child_slot,
                    Rights::ALL,
                )
                .map_err(fail("give fd"))?;
        }
        child
            .give(&self.loader, ns.0, libsys::process::SLOT_FS, Rights::ALL)
            .map_err(fail("give ns"))?;
        child
            .give(&self.loader, report, CHILD_SLOT_REPORT, Rights::ALL)
            .map_err(fail("give report"))?;
        child.start(mode).map_err(fail("start child"))?;
        Ok(child)
    }

    /// Deletes the cap in one of our slots and frees the slot.
    pub fn drop_slot(&mut self, slot: u64) {
        let _ = self.alloc.free_slot(slot);
    }
}

/// Mints `endpoint` with `badge` into a fresh slot (send, grant, grant-reply).
fn mint(
    alloc: &mut Allocator,
    endpoint: Cap<Endpoint>,
    badge: u64,
) -> Result<Cap<Endpoint>, &'static str> {
    let slot = alloc.slot().map_err(|_| "slot")?;
    let rights = Rights::WRITE
        .union(Rights::GRANT)
        .union(Rights::GRANT_REPLY);
    let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
    root.mint(SlotPath::at(slot), endpoint.slot(), rights, badge)
        .map_err(|_| "mint")?;
    Ok(Cap::from_cptr(slot))
}

/// A CNode holding read-only copies of the boot archive's frames, page *i* in slot *i*
/// (what fsrv's `SLOT_ARCHIVE` holds).
fn archive_cnode(
    alloc: &mut Allocator,
    loader: &Loader,
    info: &BootInfo,
) -> Result<Cap<CNode>, &'static str> {
    let radix = server::archive_radix(info.archive_length);
    let cnode = alloc.make_cnode(radix).map_err(|_| "archive CNode")?;
    let archive = info.archive_slots;
    for (i, slot) in (archive.start..archive.end).enumerate() {
        let dest = SlotPath {
            index: (cnode.cptr() << radix) | i as u64,
            depth: libsys::bootinfo::ROOT_CNODE_RADIX + radix,
        };
        let src = SlotPath {
            index: slot,
            depth: libsys::bootinfo::ROOT_CNODE_RADIX,
        };
        loader
            .root_unguarded
            .copy(dest, src, Rights::READ)
            .map_err(|_| "cannot copy an archive frame")?;
    }
    Ok(cnode)
}
