//! The server's state and the namespace and control protocols.

use crate::memory;
use crate::pipes::Pending;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use bootfmt::archive::BootArchive;
use fs_api::server::{SLOT_ENDPOINT, SLOT_EVENTS, WINDOWS_ADDR};
use fs_api::{words_for, Badge, Errno, Label, ServerStats, MAX_PROCESSES, PATH_MAX};
use fs_api::{WINDOW_PAGES, WINDOW_SIZE};
use fscore::fs::{Caller, Fs, NodeId};
use fscore::perm::Credentials;
use fscore::table::{HandleId, Object, Released, Table};
use libsys::abi::MessageInfo;
use libsys::bootinfo::SLOT_CNODE;
use libsys::cap::{CNode, Cap, Notification, Received, SlotPath};
use libsys::object::Rights;
use libsys::syscall;

/// Most bytes all RAM files hold together. With at most 64 pipe rings (4 MiB) this leaves
/// the heap (a 32 MiB untyped in the test's start) room for nodes, tables and processes:
/// an allocation that fails outside the checked paths would stop the server.
const FILE_SPACE: u64 = 16 << 20;
/// Most programs `/bin` lists.
const MAX_PROGRAMS: usize = 64;
/// Signal number of SIGPIPE (an event for procsrv).
pub const SIGPIPE: u64 = 13;
/// Most events kept for procsrv.
const MAX_EVENTS: usize = 256;

/// A reply to send now.
pub struct Reply {
    label: u64,
    words: [u64; 8],
    length: usize,
    cap: Option<u64>,
}

impl Reply {
    /// Success with `words`.
    pub fn ok(words: &[u64]) -> Reply {
        let mut reply = Reply {
            label: 0,
            words: [0; 8],
            length: words.len().min(8),
            cap: None,
        };
        reply.words[..reply.length].copy_from_slice(&words[..reply.length]);
        reply
    }
    /// Failure.
    pub fn error(errno: Errno) -> Reply {
        Reply {
            label: errno as u64,
            words: [0; 8],
            length: 0,
            cap: None,
        }
    }
    /// Success carrying the cap in `slot` (a copy of it goes to the caller).
    pub fn with_cap(slot: u64) -> Reply {
        Reply {
            cap: Some(slot),
            ..Reply::ok(&[])
        }
    }
    /// Writes the words past the registers and the cap into the IPC buffer; returns the
    /// message info.
    pub fn prepare(&self) -> MessageInfo {
        for i in 4..self.length {
            syscall::set_word(i, self.words[i]);
        }
        let caps = match self.cap {
            Some(slot) => {
                syscall::set_send_cap(0, slot);
                1
            }
            None => 0,
        };
        MessageInfo::new(self.label, self.length as u64, caps)
    }
    /// The register words.
    pub fn registers(&self) -> [u64; 4] {
        [self.words[0], self.words[1], self.words[2], self.words[3]]
    }
}

impl From<Result<Reply, Errno>> for Outcome {
    fn from(result: Result<Reply, Errno>) -> Outcome {
        Outcome::Reply(result.unwrap_or_else(Reply::error))
    }
}

/// What to do after a request.
pub enum Outcome {
    /// Reply now.
    Reply(Reply),
    /// The reply was saved in a Reply object (the request waits); receive the next one.
    Deferred,
}

/// A received request: badge, label, length and words.
pub struct Request {
    /// The badge of the cap it came through.
    pub badge: u64,
    /// The label.
    pub label: u64,
    /// Words sent.
    pub length: usize,
    /// Words 0..3.
    pub registers: [u64; 4],
    /// Caps sent and which were unwrapped.
    pub info: MessageInfo,
}

impl Request {
    /// Word `i`, or 0 if the message is shorter.
    pub fn word(&self, i: usize) -> u64 {
        if i >= self.length {
            0
        } else if i < 4 {
            self.registers[i]
        } else {
            syscall::word(i)
        }
    }

    /// Checks the message has at least `count` words.
    pub fn need(&self, count: usize) -> Result<(), Errno> {
        if self.length < count {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    /// `len` bytes packed from word `first` into `out`.
    ///
    /// # Errors
    /// `ENAMETOOLONG` past `PATH_MAX`, `EINVAL` when the message is shorter.
    pub fn bytes<'a>(
        &self,
        first: usize,
        len: u64,
        out: &'a mut [u8; PATH_MAX],
    ) -> Result<&'a [u8], Errno> {
        let len = usize::try_from(len).map_err(|_| Errno::ENAMETOOLONG)?;
        if len > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        self.need(first + words_for(len))?;
        let mut words = [0u64; PATH_MAX / 8];
        for (i, w) in words.iter_mut().take(words_for(len)).enumerate() {
            *w = self.word(first + i);
        }
        fs_api::unpack_bytes(&words, len, out).ok_or(Errno::EINVAL)
    }

    /// Whether the first cap sent arrived in the receive slot.
    pub fn got_cap(&self) -> bool {
        self.info.caps() > 0 && self.info.caps_unwrapped() & 1 == 0
    }
}

/// A process the server knows.
pub struct Process {
    /// Its credentials.
    pub credentials: Credentials,
    /// Its working directory (an open node).
    pub cwd: NodeId,
    /// Its window's index (where fsrv maps it).
    pub window: usize,
    /// Window pages attached.
    pub pages: usize,
    /// The slots of the attached frames.
    pub(crate) frames: [u64; WINDOW_PAGES],
    /// Its pid, group and session for the terminal rules (procsrv's `CtlSetJob`).
    pub job: ttycore::Caller,
}

/// Everything the server holds.
pub struct Server {
    /// The namespace.
    pub fs: Fs,
    /// Open descriptions, handles and pipes.
    pub table: Table,
    /// Processes by procsrv's id.
    pub processes: BTreeMap<u64, Process>,
    /// Which window regions are taken.
    pub(crate) windows_used: Vec<bool>,
    /// The cap slot of each handle's minted cap, by handle slot.
    masters: Vec<u64>,
    /// Requests waiting on pipes.
    pub pending: Vec<Pending>,
    /// Reply objects not in use.
    pub replies: Vec<Cap<libsys::cap::Reply>>,
    /// The console and the ptys.
    pub terminals: crate::terminal::Terminals,
    /// Events for procsrv: `(process, signal)`.
    pub(crate) events: VecDeque<(u64, u64)>,
    requests: u64,
}

fn archive_programs(archive: &'static [u8]) -> Vec<(&'static [u8], &'static [u8])> {
    let mut programs = Vec::new();
    let Ok(archive) = BootArchive::parse(archive) else {
        return programs;
    };
    for entry in archive.cpio().entries().flatten() {
        if let Some(name) = entry.name().strip_prefix("bin/") {
            if programs.len() < MAX_PROGRAMS && !name.is_empty() && !name.contains('/') {
                programs.push((name.as_bytes(), entry.data()));
            }
        }
    }
    programs
}

impl Server {
    /// The standard namespace with `/bin` from the boot archive.
    ///
    /// # Errors
    /// `ENOMEM`.
    pub fn new(archive: &'static [u8]) -> Result<Server, Errno> {
        let programs = archive_programs(archive);
        let fs = Fs::standard(FILE_SPACE, &programs, crate::PASSWD, crate::GROUP)?;
        // Every table that grows with use gets its full size now: serving never grows the
        // heap but for files, pipe rings and processes, all given back when they go.
        let oom = |_| Errno::ENOMEM;
        let mut masters = Vec::new();
        masters
            .try_reserve_exact(fs_api::MAX_HANDLES)
            .map_err(oom)?;
        let mut pending = Vec::new();
        pending
            .try_reserve_exact(crate::pipes::MAX_PENDING)
            .map_err(oom)?;
        let mut replies = Vec::new();
        let waiting = crate::pipes::MAX_PENDING + crate::terminal::MAX_WAITING;
        replies.try_reserve_exact(waiting).map_err(oom)?;
        let mut events = VecDeque::new();
        events.try_reserve_exact(MAX_EVENTS).map_err(oom)?;
        Ok(Server {
            fs,
            table: Table::with_full_capacity()?,
            processes: BTreeMap::new(),
            windows_used: alloc::vec![false; MAX_PROCESSES],
            masters,
            pending,
            replies,
            terminals: crate::terminal::Terminals::new()?,
            events,
            requests: 0,
        })
    }

    /// Handles one request.
    pub fn handle(&mut self, message: &Received) -> Outcome {
        self.requests += 1;
        let request = Request {
            badge: message.badge,
            label: message.info.label(),
            length: (message.info.length() as usize).min(fs_api::MESSAGE_WORDS),
            registers: message.words,
            info: message.info,
        };
        let Ok(label) = Label::try_from(request.label) else {
            return Outcome::Reply(Reply::error(Errno::ENOSYS));
        };
        match Badge::from_word(request.badge) {
            Some(Badge::Namespace(process)) => self.namespace(process, label, &request).into(),
            Some(Badge::Fd(handle)) => self.fd(handle, label, &request),
            Some(Badge::Control) => self.control(label, &request).into(),
            None => Outcome::Reply(Reply::error(Errno::EPERM)),
        }
    }

    /// Records `(process, signal)` for procsrv and signals its notification.
    pub fn post_event(&mut self, process: u64, signal: u64) {
        if self.events.len() < MAX_EVENTS && self.events.try_reserve(1).is_ok() {
            self.events.push_back((process, signal));
        }
        let _ = Cap::<Notification>::from_cptr(SLOT_EVENTS).signal();
    }

    /// Mints the cap of handle `id` and replies with it; undoes the handle on failure.
    pub fn reply_with_handle(&mut self, id: HandleId) -> Result<Reply, Errno> {
        match self.mint(id) {
            Ok(slot) => Ok(Reply::with_cap(slot)),
            Err(e) => {
                if let Ok(Some(released)) = self.table.close(id) {
                    self.release(released);
                }
                Err(e)
            }
        }
    }

    fn mint(&mut self, id: HandleId) -> Result<u64, Errno> {
        let index = self.table.slot(id)?;
        let slot = memory::take_slot().ok_or(Errno::ENFILE)?;
        let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
        let rights = Rights::WRITE.union(Rights::GRANT_REPLY);
        let badge = Badge::Fd(id).to_word();
        if root
            .mint(
                SlotPath::at(slot),
                SlotPath::at(SLOT_ENDPOINT),
                rights,
                badge,
            )
            .is_err()
        {
            memory::free_slot(slot);
            return Err(Errno::ENFILE);
        }
        if self.masters.len() <= index {
            if self
                .masters
                .try_reserve(index + 1 - self.masters.len())
                .is_err()
            {
                memory::free_slot(slot);
                return Err(Errno::ENOMEM);
            }
            self.masters.resize(index + 1, 0);
        }
        self.masters[index] = slot;
        Ok(slot)
    }

    /// Ends a handle: revokes its cap (every copy any process holds goes), wakes what waited
    /// on it, and releases its description's object if that was the last handle.
    pub fn release(&mut self, released: Released) {
        if let Some(slot) = self.masters.get_mut(released.slot) {
            if *slot != 0 {
                let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
                let _ = root.revoke(SlotPath::at(*slot));
                memory::free_slot(*slot);
                *slot = 0;
            }
        }
        self.cancel_pending(|p| p.handle_slot == released.slot);
        self.cancel_terminal_waits(|w| w.handle_slot == released.slot);
        if let Some(description) = released.description {
            self.close_object(description.object);
        }
    }

    /// The last description on `object` is gone.
    pub(crate) fn close_object(&mut self, object: Object) {
        match object {
            Object::Node(node) => self.fs.close(node),
            Object::Terminal(_, node) => {
                self.terminal_closed(object);
                self.fs.close(node);
            }
            Object::PtyMaster(_) => self.terminal_closed(object),
            Object::PipeRead(pipe) => self.pipe_end_closed(pipe, true),
            Object::PipeWrite(pipe) => self.pipe_end_closed(pipe, false),
        }
    }

    /// The window of `process`, `len` bytes (must be attached), as a raw slice: the pages
    /// are mapped read-write in this address space from `attach_window` until the process
    /// exits, and only this (single-threaded) server touches them on this side, so a caller
    /// may turn it into a reference that lives while it does not call back into the server.
    /// The process may write them concurrently from its side: plain bytes, any value valid.
    ///
    /// # Errors
    /// `EFAULT` when fewer bytes are attached; `ESRCH` for an unknown process.
    pub fn window_ptr(&self, process: u64, len: usize) -> Result<*mut [u8], Errno> {
        let p = self.processes.get(&process).ok_or(Errno::ESRCH)?;
        if len > p.pages * 4096 {
            return Err(Errno::EFAULT);
        }
        Ok(core::ptr::slice_from_raw_parts_mut(
            window_base(p.window) as *mut u8,
            len,
        ))
    }

    pub(crate) fn statistics(&self) -> ServerStats {
        let (heap_bytes, heap_mapped) = memory::heap_usage();
        ServerStats {
            heap_bytes,
            heap_pages: heap_mapped / 4096,
            handles: self.table.handle_count() as u64,
            descriptions: self.table.description_count() as u64,
            nodes: self.fs.node_count() as u64,
            requests: self.requests,
        }
    }
}

/// Who process `process` is, for the namespace (`ESRCH` if procsrv never registered it).
pub(crate) fn caller_in(
    processes: &BTreeMap<u64, Process>,
    process: u64,
) -> Result<Caller<'_>, Errno> {
    let p = processes.get(&process).ok_or(Errno::ESRCH)?;
    Ok(Caller {
        who: &p.credentials,
        cwd: p.cwd,
    })
}

/// Where window `index` is mapped in fsrv.
pub(crate) fn window_base(index: usize) -> u64 {
    WINDOWS_ADDR + index as u64 * WINDOW_SIZE as u64
}
