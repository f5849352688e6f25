//! The file server in the real system: procsrv hatches the serial console driver and
//! `fsrv` at boot from their eggs ([`DRIVER_EGG`], [`FSRV_EGG`]), fsrv in a block reserved
//! for it ([`FSRV_CLASS`], made before the common blocks are carved), and is the file
//! server's one control client ([`FsLink`], a [`FileServer`] over `fs-api`'s `Ctl*`
//! labels). Test root tasks that link procsrv's library run without one.
//!
//! What procsrv does with it (docs/userspace.md): every child gets a namespace cap badged
//! with its pid in `SLOT_FS` and is registered (credentials, pid/group/session) before its
//! egg runs and again after; an fd the egg copies with `cap` into an fd slot becomes the
//! child's own handle (`CtlShare`); `open` goes through `CtlOpenOnBehalf` with the
//! credentials, cwd and umask the egg has left; `CtlProcessExit` when a process dies or a
//! hatch is undone; the file server's events (signals for groups and processes) are
//! fetched with `CtlEvents` when it signals its notification, which is bound to procsrv's
//! thread.

use crate::files::{FileServer, OpenContext, Opened};
use crate::memory::Class;
use crate::table::Proc;
use console_api::{BADGE_WORK, COM1_BASE, COM1_IRQ, UART_PORTS};
use fs_api::server::{
    archive_radix, start_argument, SLOT_ARCHIVE, SLOT_CONSOLE_DRIVER, SLOT_CONSOLE_PAGE,
    SLOT_CONSOLE_WAKE, SLOT_ENDPOINT, SLOT_EVENTS, SLOT_UNTYPED,
};
use fs_api::{Badge, Label};
use libsys::abi::MessageInfo;
use libsys::alloc::Allocator;
use libsys::bootinfo::{
    BootInfo, ROOT_CNODE_RADIX, SLOT_CNODE, SLOT_IO_PORT_CONTROL, SLOT_IRQ_CONTROL,
};
use libsys::cap::{
    CNode, Cap, Endpoint, Frame, IoPortControl, IrqControl, Notification, SlotPath, Untyped,
};
use libsys::fs::control::{Control, Event};
use libsys::loader::Loader;
use libsys::object::Rights;
use libsys::time::Clock;
use procsrv_api::Errno;

/// How fsrv's reserved block is built (docs/procsrv.md, "Memory"): an image half of
/// 8 MiB (its code, stack, page tables and a CNode of 2^14 slots: its own below 4096, the
/// boot archive's frames from 4096 up) and 64 KiB of stack mapped before it starts.
pub const FSRV_CLASS: Class = Class {
    program: b"/bin/fsrv",
    image_bits: 23,
    cnode_radix: fs_api::server::CNODE_RADIX,
    stack_pages: 16,
};
/// log2 of the memory half of fsrv's block (its `SLOT_MEMORY`, which it does not use: its
/// heap is the untyped its egg puts in `SLOT_UNTYPED`).
const FSRV_MEMORY_BITS: u32 = 16;
/// log2 of the untyped fsrv makes its heap (file data, tables) from, when there is one
/// that big: 32 MiB.
const FSRV_HEAP_BITS: u32 = 25;
/// The smallest heap procsrv gives fsrv on a small machine (8 MiB: its tables, some
/// pipes and files; `ENOSPC` sooner), trying each size down from [`FSRV_HEAP_BITS`].
const FSRV_MIN_HEAP_BITS: u32 = 23;
/// The badge fsrv's console notification carries when the driver signals it.
const WAKE_BADGE: u64 = 1;
/// The badge of fsrv's events notification as procsrv receives it (no kind of
/// `procsrv_api::badge` uses these bits).
pub const EVENTS_BADGE: u64 = 0xfe << 40;

/// procsrv's link to the file server.
pub struct FsLink {
    control: Control,
    endpoint: Cap<Endpoint>,
    /// Two slots of procsrv's for caps in transit.
    spare: [u64; 2],
    /// While a hatch runs after its `tcsetpgrp`: a slot holding a copy of the terminal fd
    /// and the foreground group before, to put back if the hatch is undone.
    restore: (u64, Option<u64>),
    /// Terminal fds of the child being built (bit n: fd n), from its opens and shares.
    terminals: u64,
    /// Fds of the child being built that are this server's (bit n: fd n).
    ours: u64,
    /// The time-stamp counter's rate (boot info), for the bound of every call.
    clock: Clock,
    /// The bound of each call in milliseconds: the hatch request's while a hatch runs
    /// ([`FileServer::begin`]), else [`DEFAULT_OPEN_TIMEOUT_MS`].
    bound_ms: u64,
}

/// The bound of each call procsrv makes to the file server when the hatch request names
/// none (`timeout_ms` 0), and outside hatches (a process's exit, fetching events).
pub const DEFAULT_OPEN_TIMEOUT_MS: u64 = 5_000;

fn own(slot: u64) -> SlotPath {
    SlotPath {
        index: slot,
        depth: ROOT_CNODE_RADIX,
    }
}

fn to_errno(e: fs_api::Errno) -> Errno {
    to_errno_number(e as u64)
}

/// A file server's errno as procsrv's (the same Linux numbers; EINTR and EIO, which
/// procsrv has no name for, become EPERM: a terminal refused a background process).
fn to_errno_number(n: u64) -> Errno {
    Errno::from_number(n).unwrap_or(Errno::EPERM)
}

impl FsLink {
    /// Makes what the file server's hatch needs (its endpoint, events notification, heap
    /// untyped, archive CNode, the halves of its reserved block) and the console driver's
    /// caps; binds fsrv's events notification to procsrv's thread. The block is reserved
    /// with [`Pending::block`] before the common blocks are carved;
    /// [`crate::Server::start_file_server`] hatches the driver and fsrv.
    ///
    /// # Errors
    /// What could not be made.
    pub fn prepare(
        alloc: &mut Allocator,
        loader: &Loader,
        info: &BootInfo,
    ) -> Result<Pending, &'static str> {
        let endpoint: Cap<Endpoint> = alloc.make().map_err(|_| "endpoint")?;
        let events: Cap<Notification> = alloc.make().map_err(|_| "notification")?;
        let image = alloc
            .make_untyped(FSRV_CLASS.image_bits)
            .map_err(|_| "no memory for fsrv's block")?;
        let memory = alloc
            .make_untyped(FSRV_MEMORY_BITS)
            .map_err(|_| "no memory for fsrv's block")?;
        // The biggest heap up to 32 MiB that the memory holds (a 64 MiB machine has no
        // 32 MiB untyped left once the kernel and procsrv are in).
        let (heap, heap_bits) = (FSRV_MIN_HEAP_BITS..=FSRV_HEAP_BITS)
            .rev()
            .find_map(|bits| alloc.make_untyped(bits).ok().map(|u| (u, bits)))
            .ok_or("no memory for fsrv's heap")?;
        if heap_bits < FSRV_HEAP_BITS {
            libsys::println!(
                "procsrv: a small machine: the file server's heap is {} MiB",
                (1u64 << heap_bits) >> 20
            );
        }
        Loader::archive_file(info.archive_length, "bin/fsrv").map_err(|_| "no bin/fsrv")?;
        let archive = archive_cnode(alloc, loader, info)?;
        let driver = driver_caps(alloc);
        if let Err(why) = driver {
            libsys::println!("procsrv: no console driver: {why}");
        }
        let badged_events: Cap<Notification> = Cap::from_cptr(alloc.slot().map_err(|_| "slot")?);
        alloc
            .cnode
            .mint(
                badged_events.slot(),
                events.slot(),
                Rights::WRITE,
                EVENTS_BADGE,
            )
            .map_err(|_| "cannot badge fsrv's events")?;
        Cap::<libsys::cap::Tcb>::from_cptr(libsys::bootinfo::SLOT_TCB)
            .bind_notification(events)
            .map_err(|_| "cannot bind fsrv's events")?;
        let control_slot = alloc.slot().map_err(|_| "slot")?;
        let rights = Rights::WRITE
            .union(Rights::GRANT)
            .union(Rights::GRANT_REPLY);
        Cap::<CNode>::from_cptr(SLOT_CNODE)
            .mint(
                SlotPath::at(control_slot),
                endpoint.slot(),
                rights,
                Badge::Control.to_word(),
            )
            .map_err(|_| "cannot mint the control cap")?;
        let spare = [
            alloc.slot().map_err(|_| "slot")?,
            alloc.slot().map_err(|_| "slot")?,
        ];
        let link = FsLink {
            control: Control::new(Cap::from_cptr(control_slot)),
            endpoint,
            spare,
            restore: (alloc.slot().map_err(|_| "slot")?, None),
            terminals: 0,
            ours: 0,
            clock: Clock::new(info.tsc_hz),
            bound_ms: DEFAULT_OPEN_TIMEOUT_MS,
        };
        Ok(Pending {
            link,
            block: (image, memory),
            caps: [
                endpoint.cptr(),
                heap.cptr(),
                badged_events.cptr(),
                archive.cptr(),
            ],
            driver: driver.ok(),
            argument: start_argument(info.archive_length, heap_bits, info.tsc_hz / 1000),
        })
    }

    /// A link to a file server some other process runs (a test's stand-in): `endpoint` is
    /// a procsrv slot holding an unbadged cap to its endpoint, which the link now owns.
    /// Its calls are bounded as the real server's are.
    ///
    /// # Errors
    /// ENOMEM (no slots), EBADF (the cap cannot be minted from).
    pub fn connect(alloc: &mut Allocator, endpoint: u64, clock: Clock) -> Result<FsLink, Errno> {
        let mut slots = [0u64; 4];
        for i in 0..slots.len() {
            match alloc.slot() {
                Ok(s) => slots[i] = s,
                Err(_) => {
                    for &s in &slots[..i] {
                        alloc.slots.free(s);
                    }
                    return Err(Errno::ENOMEM);
                }
            }
        }
        let [control, spare0, spare1, restore] = slots;
        let rights = Rights::WRITE
            .union(Rights::GRANT)
            .union(Rights::GRANT_REPLY);
        let minted = Cap::<CNode>::from_cptr(SLOT_CNODE).mint(
            SlotPath::at(control),
            SlotPath::at(endpoint),
            rights,
            Badge::Control.to_word(),
        );
        if minted.is_err() {
            for s in slots {
                alloc.slots.free(s);
            }
            return Err(Errno::EBADF);
        }
        Ok(FsLink {
            control: Control::new(Cap::from_cptr(control)),
            endpoint: Cap::from_cptr(endpoint),
            spare: [spare0, spare1],
            restore: (restore, None),
            terminals: 0,
            ours: 0,
            clock,
            bound_ms: DEFAULT_OPEN_TIMEOUT_MS,
        })
    }

    /// Ends a link made by [`Self::connect`]: its slots (the endpoint's included) are
    /// emptied and given back.
    pub fn release(self, alloc: &mut Allocator) {
        let slots = [
            self.control.cap.cptr(),
            self.spare[0],
            self.spare[1],
            self.restore.0,
            self.endpoint.cptr(),
        ];
        for s in slots {
            let _ = alloc.free_slot(s);
        }
    }

    /// The deadline of a call starting now: [`Self::bound_ms`] from now.
    fn deadline(&self) -> u64 {
        self.clock
            .deadline_after(libsys::time::now(), self.bound_ms.saturating_mul(1_000_000))
    }

    /// The control cap, its calls bounded ([`Self::deadline`]): a file server that does not
    /// answer cannot hold procsrv.
    fn ctl(&self) -> Control {
        self.control.until(Some(self.deadline()))
    }

    /// A bounded call on the fd cap in procsrv slot `slot`.
    fn fd_request(
        &self,
        slot: u64,
        info: MessageInfo,
        words: [u64; 4],
    ) -> Result<libsys::cap::Received, Errno> {
        Cap::<Endpoint>::from_cptr(slot)
            .call_timeout(info, words, self.deadline())
            .map_err(|e| match e.error {
                libsys::abi::Error::TimedOut => Errno::ETIMEDOUT,
                _ => Errno::EBADF,
            })
    }

    fn clear_spares(&self) {
        let root = Cap::<CNode>::from_cptr(SLOT_CNODE);
        for s in self.spare {
            let _ = root.delete(SlotPath::at(s));
        }
    }

    /// Sends `label` (no arguments) through the fd cap at `fd` (relative to `root`): the
    /// child's handle counts it as the child's own call.
    fn fd_call(&self, root: Cap<CNode>, fd: SlotPath, label: Label) -> Result<(), Errno> {
        self.clear_spares();
        root.copy(own(self.spare[0]), fd, Rights::ALL)
            .map_err(|_| Errno::EBADF)?;
        let reply = self.fd_request(self.spare[0], MessageInfo::new(label as u64, 0, 0), [0; 4]);
        self.clear_spares();
        match reply?.info.label() {
            0 => Ok(()),
            n => Err(to_errno_number(n)),
        }
    }

    /// Whether the fd cap in procsrv slot `slot` is a terminal.
    fn isatty(&self, slot: u64) -> bool {
        self.fd_request(slot, MessageInfo::new(Label::FdIsatty as u64, 0, 0), [0; 4])
            .is_ok_and(|r| r.info.label() == 0 && r.words[0] == 1)
    }
}

impl FileServer for FsLink {
    fn open(
        &mut self,
        context: &OpenContext<'_>,
        path: &[u8],
        flags: u32,
        mode: u32,
        root: Cap<CNode>,
        dest: SlotPath,
    ) -> Result<Opened, Errno> {
        let pid = u64::from(context.pid);
        self.register(context.proc)?;
        if context.cwd != b"/" {
            self.ctl().chdir(pid, context.cwd).map_err(to_errno)?;
        }
        self.clear_spares();
        // A file server that does not answer by the request's bound fails the op with
        // ETIMEDOUT (CallTimeout) instead of holding procsrv.
        self.ctl()
            .open_on_behalf(pid, path, u64::from(flags), u64::from(mode), self.spare[0])
            .map_err(to_errno)?;
        let terminal = self.isatty(self.spare[0]);
        let moved = root.copy(dest, own(self.spare[0]), Rights::ALL);
        self.clear_spares();
        moved.map_err(|_| Errno::ENOMEM)?;
        Ok(Opened { terminal })
    }

    fn is_terminal(&self, fd: u32) -> bool {
        fd < 64 && self.terminals & (1 << fd) != 0
    }

    fn check_directory(&mut self, path: &[u8], _timeout_ms: u64) -> Result<(), Errno> {
        // The file server checks the directory at the child's first `open` (CtlChdir) and
        // the child's own calls; here only its form.
        if path.first() == Some(&b'/') {
            Ok(())
        } else {
            Err(Errno::ENOENT)
        }
    }

    fn directory_path(
        &mut self,
        _fd: u32,
        _out: &mut [u8],
        _timeout_ms: u64,
    ) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    fn namespace_endpoint(&self) -> Option<Cap<Endpoint>> {
        Some(self.endpoint)
    }

    fn begin(&mut self, timeout_ms: u64) {
        self.terminals = 0;
        self.ours = 0;
        self.bound_ms = match timeout_ms {
            0 => DEFAULT_OPEN_TIMEOUT_MS,
            ms => ms,
        };
    }

    fn end(&mut self, succeeded: bool) {
        if let (false, Some(group)) = (succeeded, self.restore.1) {
            let info = MessageInfo::new(Label::FdIoctl as u64, 2, 0);
            let _ = self.fd_request(self.restore.0, info, [fs_api::tty::TIOCSPGRP, group, 0, 0]);
        }
        self.restore.1 = None;
        let _ = Cap::<CNode>::from_cptr(SLOT_CNODE).delete(SlotPath::at(self.restore.0));
        if succeeded {
            self.bound_ms = DEFAULT_OPEN_TIMEOUT_MS;
        }
    }

    fn opened(&mut self, fd: u32, terminal: bool) {
        if fd < 64 {
            self.ours |= 1 << fd;
            self.terminals = (self.terminals & !(1 << fd)) | (u64::from(terminal) << fd);
        }
    }

    fn tracks(&self, fd: u32) -> bool {
        fd < 64 && self.ours >> fd & 1 == 1
    }

    fn copied(&mut self, from: u32, to: u32, root: Cap<CNode>, to_path: SlotPath) {
        if from >= 64 || to >= 64 {
            return;
        }
        let (ours, terminal) = (self.ours >> from & 1, self.terminals >> from & 1);
        self.ours = (self.ours & !(1 << to)) | ours << to;
        self.terminals = (self.terminals & !(1 << to)) | terminal << to;
        if ours == 1 {
            let _ = self.fd_call(root, to_path, Label::FdDup);
        }
    }

    fn closing(&mut self, fd: u32, root: Cap<CNode>, path: SlotPath) {
        if fd < 64 && self.ours & (1 << fd) != 0 {
            let _ = self.fd_call(root, path, Label::FdClose);
            self.ours &= !(1 << fd);
            self.terminals &= !(1 << fd);
        }
    }

    fn register(&mut self, p: &Proc) -> Result<(), Errno> {
        let (pid, creds, umask, pgid, sid) = (p.pid, &p.creds, p.umask, p.pgid, p.sid);
        let process = u64::from(pid);
        let unheard = p.sigignore | p.sigmask;
        let mut flags = 0;
        if unheard & (1 << (procsrv_api::signal::SIGTTIN - 1)) != 0 {
            flags |= fs_api::job::IGNORES_TTIN;
        }
        if unheard & (1 << (procsrv_api::signal::SIGTTOU - 1)) != 0 {
            flags |= fs_api::job::IGNORES_TTOU;
        }
        self.ctl()
            .set_credentials(
                process,
                creds.uid[1],
                creds.gid[1],
                (umask & 0o777) as u16,
                &creds.groups[..creds.ngroups.min(creds.groups.len())],
            )
            .map_err(to_errno)?;
        self.ctl()
            .set_job(process, pid, pgid, sid, flags)
            .map_err(to_errno)?;
        // Its working directory, which the file server otherwise learns only at an egg's
        // `open` (a child whose fds all come from `cap` ops would start at `/`). A
        // directory gone since is not the hatch's failure: the child's own calls fail.
        if p.cwd() != b"/" {
            let _ = self.control.chdir(process, p.cwd());
        }
        Ok(())
    }

    fn share(
        &mut self,
        pid: u32,
        fd: u32,
        root: Cap<CNode>,
        src: SlotPath,
        dest: SlotPath,
        rights: Rights,
    ) -> Result<bool, Errno> {
        self.clear_spares();
        root.copy(own(self.spare[0]), src, Rights::ALL)
            .map_err(|_| Errno::EBADF)?;
        match self
            .ctl()
            .share(u64::from(pid), self.spare[0], self.spare[1])
        {
            Ok(()) => {}
            Err(fs_api::Errno::ETIMEDOUT) => {
                self.clear_spares();
                return Err(Errno::ETIMEDOUT);
            }
            Err(_) => {
                // Not one of the file server's fds: the caller copies it as any cap.
                self.clear_spares();
                return Ok(false);
            }
        }
        if fd < 64 {
            self.ours |= 1 << fd;
            let terminal = u64::from(self.isatty(self.spare[1]));
            self.terminals = (self.terminals & !(1 << fd)) | terminal << fd;
        }
        let copied = root.copy(dest, own(self.spare[1]), rights);
        self.clear_spares();
        copied.map_err(|_| Errno::ENOMEM)?;
        Ok(true)
    }

    fn set_foreground(&mut self, p: &Proc, root: Cap<CNode>, fd: SlotPath) -> Result<(), Errno> {
        let pgid = p.pgid;
        self.register(p)?;
        self.clear_spares();
        root.copy(own(self.spare[0]), fd, Rights::ALL)
            .map_err(|_| Errno::EBADF)?;
        let info = MessageInfo::new(Label::FdIoctl as u64, 2, 0);
        let before = self
            .fd_request(self.spare[0], info, [fs_api::tty::TIOCGPGRP, 0, 0, 0])
            .ok()
            .filter(|r| r.info.label() == 0)
            .map(|r| r.words[0]);
        let reply = self.fd_request(
            self.spare[0],
            info,
            [fs_api::tty::TIOCSPGRP, u64::from(pgid), 0, 0],
        );
        let label = match reply {
            Ok(r) => r.info.label(),
            Err(e) => e.number(),
        };
        if label == 0 && self.restore.1.is_none() {
            // Keep the cap and the group before, until the hatch ends.
            let root = Cap::<CNode>::from_cptr(SLOT_CNODE);
            let kept = root.copy(
                SlotPath::at(self.restore.0),
                SlotPath::at(self.spare[0]),
                Rights::ALL,
            );
            if kept.is_ok() {
                self.restore.1 = before;
            }
        }
        self.clear_spares();
        match label {
            0 => Ok(()),
            n => Err(to_errno_number(n)),
        }
    }

    fn forget(&mut self, pid: u32) {
        let _ = self.ctl().process_exit(u64::from(pid));
        // Outside a hatch every call has the default bound.
        self.bound_ms = DEFAULT_OPEN_TIMEOUT_MS;
    }

    fn events(&mut self, out: &mut [Event; 3]) -> usize {
        self.bound_ms = DEFAULT_OPEN_TIMEOUT_MS;
        match self.ctl().events() {
            Ok((events, n)) => {
                *out = events;
                n
            }
            Err(_) => 0,
        }
    }
}

/// The console driver's caps, made by procsrv: what its egg's `cap` ops put in its slots
/// 16..20 (`console_api::slot`), and the two fsrv needs.
pub struct DriverCaps {
    ports: u64,
    irq: u64,
    notification: Cap<Notification>,
    wake: Cap<Notification>,
    page: Cap<Frame>,
    work: Cap<Notification>,
}

/// Issues COM1's ports and IRQ and makes the driver's notifications and shared page.
fn driver_caps(alloc: &mut Allocator) -> Result<DriverCaps, &'static str> {
    let ports_control: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let irq_control: Cap<IrqControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
    let first = u64::from(COM1_BASE);
    let ports = alloc.slot().map_err(|_| "slot")?;
    ports_control
        .issue(
            first,
            first + u64::from(UART_PORTS) - 1,
            SlotPath::at(ports),
        )
        .map_err(|_| "COM1's ports were refused")?;
    let irq = alloc.slot().map_err(|_| "slot")?;
    irq_control
        .get(COM1_IRQ, SlotPath::at(irq))
        .map_err(|_| "COM1's IRQ was refused")?;
    let notification: Cap<Notification> = alloc.make().map_err(|_| "notification")?;
    let wake: Cap<Notification> = alloc.make().map_err(|_| "notification")?;
    let page: Cap<Frame> = alloc.make().map_err(|_| "frame")?;
    let work: Cap<Notification> = Cap::from_cptr(alloc.slot().map_err(|_| "slot")?);
    alloc
        .cnode
        .mint(work.slot(), notification.slot(), Rights::WRITE, BADGE_WORK)
        .map_err(|_| "cannot badge the driver's notification")?;
    Ok(DriverCaps {
        ports,
        irq,
        notification,
        wake,
        page,
        work,
    })
}

/// What the file server's hatch needs, made by [`FsLink::prepare`].
pub struct Pending {
    link: FsLink,
    /// The image and memory halves of fsrv's block, for [`crate::memory::Blocks::reserve`].
    pub block: (Cap<Untyped>, Cap<Untyped>),
    /// procsrv slots of fsrv's request caps 0..4: its endpoint, heap untyped, events
    /// notification (badged [`EVENTS_BADGE`]), archive CNode.
    caps: [u64; 4],
    driver: Option<DriverCaps>,
    argument: u64,
}

/// A CNode holding read-only copies of the boot archive's frames, page *i* in slot *i*
/// (fsrv's `SLOT_ARCHIVE`).
fn archive_cnode(
    alloc: &mut Allocator,
    loader: &Loader,
    info: &BootInfo,
) -> Result<Cap<CNode>, &'static str> {
    let radix = archive_radix(info.archive_length);
    let cnode = alloc
        .make_cnode(radix)
        .map_err(|_| "no memory for the archive CNode")?;
    let archive = info.archive_slots;
    for (i, slot) in (archive.start..archive.end).enumerate() {
        let dest = SlotPath {
            index: (cnode.cptr() << radix) | i as u64,
            depth: ROOT_CNODE_RADIX + radix,
        };
        loader
            .root_unguarded
            .copy(dest, own(slot), Rights::READ)
            .map_err(|_| "cannot copy an archive frame")?;
    }
    Ok(cnode)
}

/// The console driver's egg: its five caps from the request (ports, IRQ handler, its
/// notification, the file server's wake notification badged `WAKE_BADGE`, the shared
/// page) into `console_api::slot`'s 16..20, and its name:
/// `cap 16 0 READ|WRITE|GRANT|GRANT_REPLY 0; cap 17 1 ...; cap 18 2 ...; cap 19 3 WRITE 1;
/// cap 20 4 READ|WRITE|GRANT|GRANT_REPLY 0; setname "console"` (`cargo xtask egg asm`).
const DRIVER_EGG: &[u8] = &[
    0x0b, 0x10, 0x00, 0x0f, 0x00, 0x0b, 0x11, 0x01, 0x0f, 0x00, 0x0b, 0x12, 0x02, 0x0f, 0x00, 0x0b,
    0x13, 0x03, 0x02, 0x01, 0x0b, 0x14, 0x04, 0x0f, 0x00, 0x17, 0x07, b'c', b'o', b'n', b's', b'o',
    b'l', b'e',
];
// The egg's `cap 19 3 WRITE 1` mints the wake notification with WAKE_BADGE.
const _: () = assert!(WAKE_BADGE == 1);

/// The file server's egg: its request caps into the slots of `fs_api::server` —
/// `cap 16 0 READ|WRITE|GRANT|GRANT_REPLY 0` (endpoint), `cap 17 1 ... 0` (heap untyped),
/// `cap 18 2 WRITE 0` (events, already badged), `cap 23 3 READ|WRITE|GRANT|GRANT_REPLY 0`
/// (archive CNode), and with the console driver [`FSRV_CONSOLE_OPS`] after it
/// (`cargo xtask egg asm`).
const FSRV_EGG: &[u8] = &[
    0x0b, 0x10, 0x00, 0x0f, 0x00, 0x0b, 0x11, 0x01, 0x0f, 0x00, 0x0b, 0x12, 0x02, 0x02, 0x00, 0x0b,
    0x17, 0x03, 0x0f, 0x00,
];
/// The console ops of the file server's egg: `cap 20 4 READ|WRITE|GRANT|GRANT_REPLY 0`
/// (the shared page), `cap 21 5 WRITE 0` (the driver's notification, badged
/// `BADGE_WORK`), `cap 22 6 READ|WRITE|GRANT|GRANT_REPLY 0` (the wake notification).
const FSRV_CONSOLE_OPS: &[u8] = &[
    0x0b, 0x14, 0x04, 0x0f, 0x00, 0x0b, 0x15, 0x05, 0x02, 0x00, 0x0b, 0x16, 0x06, 0x0f, 0x00,
];
const _: () = assert!(SLOT_ENDPOINT == 16 && SLOT_UNTYPED == 17 && SLOT_EVENTS == 18);
const _: () = assert!(SLOT_ARCHIVE == 23 && SLOT_CONSOLE_PAGE == 20);
const _: () = assert!(SLOT_CONSOLE_DRIVER == 21 && SLOT_CONSOLE_WAKE == 22);

/// The servers procsrv hatched at boot, while the file server runs.
#[derive(Clone, Copy, Debug)]
pub struct System {
    /// The file server's pid.
    fsrv: u32,
    /// procsrv's slot of the file server's endpoint (the original: every namespace, fd
    /// and control cap is a mint of it).
    endpoint: u64,
    /// procsrv's slot of the file server's heap untyped (revoked when it ends: its
    /// block's revoke does not reach what it made from the heap).
    heap: u64,
    /// The console driver's pid and procsrv's slots of COM1's ports and IRQ handler.
    console: Option<(u32, u64, u64)>,
}

/// log2 of the slots of a boot hatch's request CNode.
const REQUEST_RADIX: u64 = 3;

impl crate::Server {
    /// Hatches the console driver from its egg (a child of procsrv, like the boot table's
    /// programs), then the file server from its egg in its reserved block, and makes it
    /// procsrv's [`FileServer`]. Without the driver the console writes to the kernel's
    /// debug console and has no input; without the file server (one console line says
    /// why) processes have no files.
    pub fn start_file_server(&mut self, pending: Pending) {
        let Pending {
            link,
            block: _,
            caps,
            driver,
            argument,
        } = pending;
        let mut egg = [0u8; FSRV_EGG.len() + FSRV_CONSOLE_OPS.len()];
        egg[..FSRV_EGG.len()].copy_from_slice(FSRV_EGG);
        let mut sources = [0u64; 7];
        sources[..4].copy_from_slice(&caps);
        let mut count = 4;
        let mut egg_len = FSRV_EGG.len();
        // The driver's pid and procsrv's caps to COM1, while it runs.
        let mut console = None;
        if let Some(d) = driver {
            let driver_caps = [
                d.ports,
                d.irq,
                d.notification.cptr(),
                d.wake.cptr(),
                d.page.cptr(),
            ];
            let name = ("/bin/console", b"console\0".as_slice());
            match self.hatch_with_request(name, DRIVER_EGG, &driver_caps) {
                Ok(pid) => {
                    console = Some((pid, d.ports, d.irq));
                    sources[4..].copy_from_slice(&[d.page.cptr(), d.work.cptr(), d.wake.cptr()]);
                    count = 7;
                    egg[egg_len..].copy_from_slice(FSRV_CONSOLE_OPS);
                    egg_len = egg.len();
                }
                Err(e) => libsys::println!("procsrv: cannot hatch /bin/console: {}", e.errno),
            }
        }
        // argv: `fsrv START_ARGUMENT` (decimal).
        let mut argv = [0u8; 32];
        let mut len = 0;
        for &b in b"fsrv\0" {
            argv[len] = b;
            len += 1;
        }
        let mut digits = [0u8; 20];
        let mut n = argument;
        let mut d = digits.len();
        loop {
            d -= 1;
            digits[d] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &b in &digits[d..] {
            argv[len] = b;
            len += 1;
        }
        len += 1; // the NUL
        let hatched = self.hatch_with_request(
            ("/bin/fsrv", &argv[..len]),
            &egg[..egg_len],
            &sources[..count],
        );
        // fsrv holds copies now; procsrv's archive CNode goes (the frames' copies live on
        // in fsrv's own slots).
        let _ = self.alloc.free_slot(caps[3]);
        match hatched {
            Ok(pid) => {
                libsys::println!("procsrv: hatched /bin/fsrv as pid {pid}");
                self.system = Some(System {
                    fsrv: pid,
                    endpoint: caps[0],
                    heap: caps[1],
                    console,
                });
            }
            Err(e) => {
                // A console without a file server has no client: the driver goes, and with
                // it the last caps to COM1, so the kernel's console is back for this line.
                if let Some((pid, ports, irq)) = console {
                    let _ = self.kill_one(None, pid.into(), procsrv_api::signal::SIGKILL.into());
                    let _ = self.alloc.free_slot(ports);
                    let _ = self.alloc.free_slot(irq);
                }
                libsys::println!("procsrv: cannot hatch /bin/fsrv: {}", e.errno);
                return;
            }
        }
        // SAFETY: procsrv has one thread, and this is the only reference ever made to
        // FILE_SERVER (start_file_server runs once, at boot).
        let link: &'static mut FsLink = unsafe { (*crate::FILE_SERVER.0.get()).insert(link) };
        if let Err(why) = self.print_to_console(link) {
            libsys::println!("procsrv: my lines stay on the kernel's console: {why}");
        }
        self.files = link;
    }

    /// Whether `pid` is the file server procsrv hatched at boot (while it runs).
    pub(crate) fn is_file_server(&self, pid: u64) -> bool {
        self.system.is_some_and(|s| u64::from(s.fsrv) == pid)
    }

    /// The file server is ending (a fault, a signal, its exit): procsrv stops using it
    /// (its own lines go to the kernel's debug console, hatches get no files), revokes its
    /// heap untyped and every cap to its endpoint, and kills
    /// the console driver, whose only client it was, and gives up its caps to COM1, so
    /// that the kernel's console is back and says what happened (`why`). Once.
    pub(crate) fn lose_file_server(&mut self, why: core::fmt::Arguments<'_>) {
        let Some(system) = self.system.take() else {
            return;
        };
        libsys::fs::set_print_to_debug_console(true);
        // SAFETY: procsrv has one thread; the only other reference ever made to
        // NO_FILE_SERVER (at start) was replaced by the file server's link when it was
        // hatched and no longer exists, and `system` is taken, so this runs once.
        self.files = unsafe { &mut *crate::NO_FILE_SERVER.0.get() };
        // Everything the file server made from its heap (file data, page tables, the Reply
        // objects of the calls it held) goes with it.
        let root = Cap::<CNode>::from_cptr(SLOT_CNODE);
        let _ = root.revoke(SlotPath::at(system.heap));
        // Every cap to it (namespace, fds, control) goes too: a call on one fails at once
        // instead of waiting for a server that is gone (a shell reading its terminal sees
        // the end of input).
        let _ = root.revoke(SlotPath::at(system.endpoint));
        if let Some((pid, ports, irq)) = system.console {
            let _ = self.kill_one(None, pid.into(), procsrv_api::signal::SIGKILL.into());
            let _ = self.alloc.free_slot(ports);
            let _ = self.alloc.free_slot(irq);
        }
        libsys::println!(
            "procsrv: the file server (pid {}) {why}; the system has no files from now on",
            system.fsrv
        );
    }

    /// Makes procsrv's own lines (a faulting child's report) go to `/dev/console` through
    /// the file server: procsrv is process 0 there (root, no group or session), with an
    /// I/O window of its own and the console open on its fd 1 (fds in a slot range of its
    /// own). Until this works they go to the kernel's debug console, which is quiet once
    /// the console driver holds COM1.
    fn print_to_console(&mut self, link: &FsLink) -> Result<(), &'static str> {
        use libsys::fs::{Namespace, O_NOCTTY, O_WRONLY};
        link.control
            .set_credentials(0, 0, 0, 0o022, &[])
            .map_err(|_| "not registered")?;
        let ns_slot = self.alloc.slot().map_err(|_| "slot")?;
        let rights = Rights::WRITE
            .union(Rights::GRANT)
            .union(Rights::GRANT_REPLY);
        Cap::<CNode>::from_cptr(SLOT_CNODE)
            .mint(
                SlotPath::at(ns_slot),
                link.endpoint.slot(),
                rights,
                Badge::Namespace(0).to_word(),
            )
            .map_err(|_| "cannot mint a namespace cap")?;
        let ns = Namespace(Cap::from_cptr(ns_slot));
        let rw = Rights::READ.union(Rights::WRITE).bits();
        let vspace = Cap::from_cptr(libsys::bootinfo::SLOT_VSPACE);
        for page in 0..fs_api::WINDOW_PAGES as u64 {
            let frame: Cap<Frame> = self.alloc.make().map_err(|_| "window frame")?;
            let vaddr = fs_api::WINDOW_ADDR + page * 4096;
            libsys::vspace::map_frame(&mut self.alloc, vspace, frame, vaddr, rw, false)
                .map_err(|_| "cannot map the window")?;
            ns.attach_window(page, frame)
                .map_err(|_| "cannot attach the window")?;
        }
        let fds = self
            .alloc
            .slots
            .alloc_range(libsys::process::MAX_FDS)
            .ok_or("no fd slots")?;
        link.control
            .open_on_behalf(0, b"/dev/console", O_WRONLY | O_NOCTTY, 0, fds + 1)
            .map_err(|_| "cannot open /dev/console")?;
        libsys::fs::set_namespace(ns_slot);
        libsys::fs::set_fd_slot_base(fds);
        Ok(())
    }

    /// Hatches `program` (with `argv`) from `egg` as a child of procsrv, the caps in
    /// procsrv's slots `sources` its request caps 0.. (in a request CNode made for it).
    fn hatch_with_request(
        &mut self,
        (program, argv): (&str, &[u8]),
        egg: &[u8],
        sources: &[u64],
    ) -> Result<u32, crate::hatch::HatchFailure> {
        let cnode = self
            .alloc
            .make_cnode(REQUEST_RADIX)
            .map_err(|_| Errno::ENOMEM)?;
        let root = self.loader.root_unguarded;
        for (i, &source) in sources.iter().enumerate() {
            let dest = SlotPath {
                index: (cnode.cptr() << REQUEST_RADIX) | i as u64,
                depth: ROOT_CNODE_RADIX + REQUEST_RADIX,
            };
            if root.copy(dest, own(source), Rights::ALL).is_err() {
                let _ = self.alloc.free_slot(cnode.cptr());
                return Err(Errno::ENOMEM.into());
            }
        }
        let request = procsrv_api::HatchRequest {
            program: program.as_bytes(),
            argv,
            envp: b"",
            egg,
            cap_radix: REQUEST_RADIX,
            timeout_ms: 0,
        };
        let caps = crate::ops::RequestCaps {
            slot: cnode.cptr(),
            radix: REQUEST_RADIX,
        };
        let hatched = self.hatch(0, &request, caps);
        // The request's caps were copied, never consumed: the CNode and its copies go.
        let _ = self.alloc.free_slot(cnode.cptr());
        hatched
    }

    /// Fetches the file server's events and delivers their signals: to a process group
    /// (a terminal's ^C, ^Z, ^\\, SIGTTIN, a hangup's SIGHUP, SIGWINCH) or a process (a
    /// pipe's SIGPIPE). A session's change of controlling terminal is noted in its leader.
    pub(crate) fn file_events(&mut self) {
        use fs_api::event::{CONTROL_ACQUIRED, CONTROL_LOST, GROUP, ID_MASK, PROCESS};
        // Bounded: the file server queues a bounded number of events.
        for _ in 0..64 {
            let mut events = [Event::default(); 3];
            let n = self.files.events(&mut events);
            if n == 0 {
                return;
            }
            for e in &events[..n] {
                let id = e.target & ID_MASK;
                match e.target & !ID_MASK {
                    GROUP if id != 0 => {
                        let _ = self.kill_call(0, -(id as i64), e.what);
                    }
                    PROCESS if id != 0 => {
                        let _ = self.kill_one(None, id, e.what);
                    }
                    kind @ (CONTROL_ACQUIRED | CONTROL_LOST) => {
                        if let Some(leader) = self.table.get_mut(id) {
                            leader.ctty = kind == CONTROL_ACQUIRED;
                            leader.tty = if leader.ctty {
                                e.what.saturating_add(1)
                            } else {
                                0
                            };
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
