//! The egg's ops, run by `egg::run` against a [`Draft`]: the child being built, not yet
//! started. Each op changes the child's record (procsrv state) or its CNode; nothing here
//! touches any other process, so undoing a failed hatch is dropping the record and revoking
//! the child's memory.

use crate::files::{FileServer, OpenContext};
use crate::table::{Proc, Table, NGROUPS_MAX, RLIMIT_AS, RLIMIT_DATA, RLIMIT_NOFILE};
use egg::{IdList, OpenFlags, Resource, Rights, SignalSet, Str};
use libsys::abi::COPY_BATCH_WORDS;
use libsys::cap::{BatchCopy, CNode, Cap, SlotPath, INVOKED_CAP};
use libsys::loader::{Gift, Loader, Process};
use libsys::process::{FD_SLOT_BASE, FIRST_BIND_SLOT, FIRST_USER_SLOT, MAX_BINDINGS, MAX_FDS};
use procsrv_api::signal::{SIGKILL, SIGSTOP};
use procsrv_api::Errno;

/// Bytes of environment a child may have (strings and their NULs).
pub const ENV_BYTES: usize = 4096;
/// Bytes of binding paths.
pub const BIND_BYTES: usize = 1024;
/// CPUs the system has (the kernel runs one; `setaffinity` must name it).
pub const CPUS: u32 = 1;
/// Most cap copies a draft holds before it makes them: one `CNodeCopyBatch` call's.
pub const MAX_QUEUED: usize = libsys::abi::COPY_BATCH_MAX;
/// The op index of a queued copy no op asked for (the fixed caps).
pub const NO_OP: u64 = procsrv_api::NO_OP;

/// The buffers of a draft, kept from hatch to hatch in memory procsrv maps at start: a
/// draft only reads what it wrote, and filling a fresh 5 KiB of them per hatch was about
/// 1,600 instructions of zeroing.
pub struct Scratch {
    env: [u8; ENV_BYTES],
    bind_paths: [u8; BIND_BYTES],
    bindings: [(u64, usize, usize); MAX_BINDINGS as usize],
}

impl Scratch {
    /// Empty buffers.
    pub const fn new() -> Scratch {
        Scratch {
            env: [0; ENV_BYTES],
            bind_paths: [0; BIND_BYTES],
            bindings: [(0, 0, 0); MAX_BINDINGS as usize],
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

/// What asked for a queued copy, for the errno of its failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyKind {
    /// One of the fixed caps procsrv gives every child.
    Fixed,
    /// A `cap` or `bind` of a request cap.
    RequestCap,
    /// A `dup2`.
    Fd,
}

impl CopyKind {
    fn errno(self, error: libsys::abi::Error) -> Errno {
        use libsys::abi::Error;
        match (self, error) {
            (CopyKind::RequestCap, Error::FailedLookup) => Errno::EBADF,
            (CopyKind::RequestCap, Error::InvalidArgument | Error::IllegalOperation) => {
                Errno::EINVAL
            }
            (CopyKind::RequestCap, Error::RevokeFirst) => Errno::EBUSY,
            _ => Errno::ENOMEM,
        }
    }
}

const NO_COPY: BatchCopy = BatchCopy {
    dest: SlotPath { index: 0, depth: 0 },
    src: SlotPath { index: 0, depth: 0 },
    rights: libsys::object::Rights::NONE,
    badge: None,
};

/// The caps a request sent: a CNode (guard 0) in procsrv's slot `slot`, of `2^radix` slots.
#[derive(Clone, Copy, Debug)]
pub struct RequestCaps {
    /// procsrv slot of the CNode, 0 when none was sent.
    pub slot: u64,
    /// Its radix.
    pub radix: u64,
}

/// The child being built.
pub struct Draft<'a> {
    /// Its record.
    pub proc: &'a mut Proc,
    /// The table (read only: other processes are never changed by an egg).
    pub table: &'a Table,
    /// Its objects.
    pub process: &'a Process,
    /// The loader (for paths into the child's CNode).
    pub loader: &'a Loader,
    /// The caps of the request.
    pub caps: RequestCaps,
    /// The file server.
    pub files: &'a mut dyn FileServer,
    /// Bound of each file-server call.
    pub timeout_ms: u64,
    /// Open descriptors (bit n = fd n).
    pub fds: u64,
    /// Environment: `NAME=value\0...` (the first `env_len` bytes are the draft's).
    pub env: &'a mut [u8; ENV_BYTES],
    /// Used bytes of `env`.
    pub env_len: usize,
    /// Which names the environment may hold, one bit per [`name_bit`] (made at the first
    /// `setenv` or `unsetenv` that needs it): a `setenv` of a name whose bit is clear
    /// appends without looking for the name first (each look scans the whole environment).
    env_names: Option<u64>,
    /// Bindings: `(slot, start, end)` in `bind_paths` (the first `binding_count` are the
    /// draft's).
    pub bindings: &'a mut [(u64, usize, usize); MAX_BINDINGS as usize],
    /// How many bindings.
    pub binding_count: usize,
    /// The paths of the bindings (the first `bind_len` bytes are the draft's).
    pub bind_paths: &'a mut [u8; BIND_BYTES],
    /// Used bytes of `bind_paths`.
    pub bind_len: usize,
    /// `start_suspended` ran.
    pub suspended: bool,
    /// Bytes of the block's image half the loader used (for RLIMIT_AS/DATA).
    pub image_bytes: u64,
    /// The op running: its index and byte offset (what a copy queued now is charged to).
    pub op_at: (u64, u64),
    /// Set when a queued copy failed: the op that asked for it (index, offset).
    pub failed_at: Option<(u64, u64)>,
    /// Cap copies into the child's CNode not made yet ([`Self::flush`]).
    queue: [BatchCopy; MAX_QUEUED],
    /// Who asked for each of `queue`.
    origins: [((u64, u64), CopyKind); MAX_QUEUED],
    /// How many of `queue` are used.
    queued: usize,
}

/// A draft's parts that come from procsrv's state.
pub struct DraftParts<'a> {
    /// The child's record.
    pub proc: &'a mut Proc,
    /// The table.
    pub table: &'a Table,
    /// The child's objects.
    pub process: &'a Process,
    /// The loader.
    pub loader: &'a Loader,
    /// The request's caps.
    pub caps: RequestCaps,
    /// The file server.
    pub files: &'a mut dyn FileServer,
    /// Bound of each file-server call.
    pub timeout_ms: u64,
    /// The buffers.
    pub scratch: &'a mut Scratch,
}

impl<'d> Draft<'d> {
    /// A draft of the child: the parent's state already in `parts.proc`, no descriptors,
    /// no environment, no copies queued.
    pub fn new(parts: DraftParts<'d>) -> Draft<'d> {
        let Scratch {
            env,
            bind_paths,
            bindings,
        } = parts.scratch;
        Draft {
            proc: parts.proc,
            table: parts.table,
            process: parts.process,
            loader: parts.loader,
            caps: parts.caps,
            files: parts.files,
            timeout_ms: parts.timeout_ms,
            fds: 0,
            env,
            env_len: 0,
            env_names: None,
            bindings,
            binding_count: 0,
            bind_paths,
            bind_len: 0,
            suspended: false,
            image_bytes: 0,
            op_at: (NO_OP, 0),
            failed_at: None,
            queue: [NO_COPY; MAX_QUEUED],
            origins: [((NO_OP, 0), CopyKind::Fixed); MAX_QUEUED],
            queued: 0,
        }
    }

    /// Queues the fixed caps procsrv gives the child (made by the next [`Self::flush`],
    /// with the egg's own copies).
    ///
    /// # Errors
    /// ENOMEM when the queue is full and making what it holds fails.
    pub fn give(&mut self, gifts: &[Gift]) -> Result<(), Errno> {
        for gift in gifts {
            let copy = BatchCopy {
                dest: self.child_slot(gift.child_slot),
                src: Process::parent_path(self.loader, gift.cap),
                rights: gift.rights,
                badge: gift.badge,
            };
            self.queue_copy(copy, CopyKind::Fixed)?;
        }
        Ok(())
    }

    /// Queues the mint of `endpoint` (a procsrv slot) with `badge` and `rights` into
    /// procsrv's own empty slot `slot`: the child's handle, made with its last copies.
    ///
    /// # Errors
    /// ENOMEM when the queue is full and making what it holds fails.
    pub fn mint_handle(
        &mut self,
        slot: u64,
        endpoint: u64,
        badge: u64,
        rights: libsys::object::Rights,
    ) -> Result<(), Errno> {
        let copy = BatchCopy {
            dest: Process::parent_path(self.loader, slot),
            src: Process::parent_path(self.loader, endpoint),
            rights,
            badge: Some(badge),
        };
        self.queue_copy(copy, CopyKind::Fixed)
    }

    /// Queues a copy into the child's CNode, charged to the running op: copies are made
    /// in `CNodeCopyBatch` calls of up to six ([`Self::flush`]), before anything that reads
    /// or deletes a slot of the child or asks the file server to act, and at the end of the
    /// egg, so that an egg's `cap`s and `dup2`s cost no kernel entry each.
    fn queue_copy(&mut self, copy: BatchCopy, kind: CopyKind) -> Result<(), Errno> {
        if self.queued == MAX_QUEUED {
            self.flush()?;
        }
        self.queue[self.queued] = copy;
        self.origins[self.queued] = (self.op_at, kind);
        self.queued += 1;
        Ok(())
    }

    /// Makes the queued copies, in order. When one fails the ones before it are made (the
    /// whole hatch is undone anyway), [`Self::failed_at`] names the op that asked for it
    /// and its errno is returned.
    ///
    /// # Errors
    /// The failed copy's errno (EBADF for an empty request slot, EINVAL for a badge on a
    /// cap that takes none, ENOMEM otherwise).
    pub fn flush(&mut self) -> Result<(), Errno> {
        let queued = core::mem::take(&mut self.queued);
        if queued == 0 {
            return Ok(());
        }
        let Err(e) = self.root().copy_batch(&self.queue[..queued]) else {
            return Ok(());
        };
        let entry = if e.argument == INVOKED_CAP {
            0
        } else {
            (e.argument as usize / COPY_BATCH_WORDS).min(queued - 1)
        };
        let (at, kind) = self.origins[entry];
        self.failed_at = Some(at);
        Err(kind.errno(e.error))
    }

    /// The environment strings.
    pub fn env<'s>(&'s self) -> impl Iterator<Item = &'s [u8]> + Clone + use<'s, 'd> {
        procsrv_api::strings(&self.env[..self.env_len])
    }

    /// The bindings as `(slot, path)`.
    pub fn bindings<'s>(&'s self) -> impl Iterator<Item = (u64, &'s [u8])> + Clone + use<'s, 'd> {
        self.bindings[..self.binding_count]
            .iter()
            .map(|&(slot, a, b)| (slot, &self.bind_paths[a..b]))
    }

    /// Sets the initial environment from the request.
    pub fn set_env(&mut self, envp: &[u8]) -> Result<(), Errno> {
        let dest = self.env.get_mut(..envp.len()).ok_or(Errno::E2BIG)?;
        dest.copy_from_slice(envp);
        self.env_len = envp.len();
        Ok(())
    }

    fn child_slot(&self, slot: u64) -> SlotPath {
        self.process.child_path(self.loader, slot)
    }

    fn root(&self) -> Cap<CNode> {
        self.loader.root_unguarded
    }

    fn nofile(&self) -> u64 {
        self.proc.limits[RLIMIT_NOFILE].0.min(MAX_FDS)
    }

    fn fd_open(&self, fd: u32) -> bool {
        u64::from(fd) < MAX_FDS && self.fds & (1 << fd) != 0
    }

    fn delete_slot(&self, slot: u64) -> Result<(), Errno> {
        self.root()
            .delete(self.child_slot(slot))
            .map_err(|_| Errno::ENOMEM)
    }

    fn close_fd(&mut self, fd: u64) -> Result<(), Errno> {
        if fd < MAX_FDS && self.fds & (1 << fd) != 0 {
            // The slot may be the destination or the source of a queued copy.
            self.flush()?;
            let (root, path) = (self.root(), self.child_slot(FD_SLOT_BASE + fd));
            self.files.closing(fd as u32, root, path);
            self.delete_slot(FD_SLOT_BASE + fd)?;
            self.fds &= !(1 << fd);
        }
        Ok(())
    }

    /// The path of request cap `index` (relative to the loader's unguarded root).
    fn request_cap(&self, index: u32) -> Result<SlotPath, Errno> {
        if self.caps.slot == 0 || u64::from(index) >= 1 << self.caps.radix {
            return Err(Errno::EBADF);
        }
        Ok(SlotPath {
            index: (self.caps.slot << self.caps.radix) | u64::from(index),
            depth: libsys::bootinfo::ROOT_CNODE_RADIX + self.caps.radix,
        })
    }

    /// Queues the copy of request cap `source` into child slot `slot` with `rights`,
    /// minting `badge` when not 0; what the slot holds is deleted first when it may hold
    /// something (`occupied`).
    fn copy_request_cap(
        &mut self,
        slot: u64,
        source: u32,
        rights: u8,
        badge: u64,
        occupied: bool,
    ) -> Result<(), Errno> {
        let src = self.request_cap(source)?;
        let dest = self.child_slot(slot);
        let rights = libsys::object::Rights::from_bits(u64::from(rights)).ok_or(Errno::EINVAL)?;
        if occupied {
            self.flush()?;
            self.root().delete(dest).map_err(|_| Errno::ENOMEM)?;
        }
        let copy = BatchCopy {
            dest,
            src,
            rights,
            badge: (badge != 0).then_some(badge),
        };
        self.queue_copy(copy, CopyKind::RequestCap)
    }

    fn check_fd_number(&self, fd: u32) -> Result<(), Errno> {
        if u64::from(fd) >= self.nofile() {
            return Err(Errno::EMFILE);
        }
        Ok(())
    }

    fn leads_session(&self) -> bool {
        self.proc.sid == self.proc.pid
    }

    fn terminal_fd(&self, fd: u32) -> Result<(), Errno> {
        if !self.fd_open(fd) {
            return Err(Errno::EBADF);
        }
        // Only the file server knows whether an fd is a terminal.
        if self.files.is_terminal(fd) {
            Ok(())
        } else {
            Err(Errno::ENOTTY)
        }
    }

    fn env_find(&self, name: &[u8]) -> Option<(usize, usize)> {
        let mut at = 0;
        for s in procsrv_api::strings(&self.env[..self.env_len]) {
            let end = at + s.len() + 1;
            if s.strip_prefix(name)
                .is_some_and(|r| r.first() == Some(&b'='))
            {
                return Some((at, end));
            }
            at = end;
        }
        None
    }

    fn env_remove(&mut self, name: &[u8]) {
        if !name.contains(&b'=') && self.env_names() & name_bit(name) == 0 {
            return;
        }
        if let Some((a, b)) = self.env_find(name) {
            self.env.copy_within(b..self.env_len, a);
            self.env_len -= b - a;
        }
    }

    /// The bits of the names the environment may hold (computed once per draft).
    fn env_names(&mut self) -> u64 {
        if let Some(names) = self.env_names {
            return names;
        }
        let names = procsrv_api::strings(&self.env[..self.env_len])
            .map(|s| name_bit(s.split(|&b| b == b'=').next().unwrap_or(s)))
            .fold(0, |all, bit| all | bit);
        self.env_names = Some(names);
        names
    }
}

/// The bit of environment name `name` in [`Draft`]'s name set (one of 64, by the low bits
/// of its FNV-1a hash: its high bits hardly differ for names of a few bytes that differ
/// in the last, `V01`, `V02`...).
fn name_bit(name: &[u8]) -> u64 {
    let hash = name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    1 << (hash & 63)
}

fn set_ids(ids: &mut [u32; 3], new: u32, privileged: bool) -> Result<(), Errno> {
    if !privileged && !ids.contains(&new) {
        return Err(Errno::EPERM);
    }
    *ids = [new; 3];
    Ok(())
}

impl egg::Hatch for Draft<'_> {
    type Error = Errno;

    fn open(&mut self, fd: u32, path: Str<'_>, flags: OpenFlags, mode: u32) -> Result<(), Errno> {
        self.check_fd_number(fd)?;
        // The file server acts (a file may be created): the ops before must have succeeded.
        self.flush()?;
        self.close_fd(fd.into())?;
        let context = OpenContext {
            creds: &self.proc.creds,
            cwd: self.proc.cwd(),
            umask: self.proc.umask,
            pid: self.proc.pid,
            sid: self.proc.sid,
            pgid: self.proc.pgid,
            timeout_ms: self.timeout_ms,
            proc: &*self.proc,
        };
        let dest = self.child_slot(FD_SLOT_BASE + u64::from(fd));
        let opened =
            self.files
                .open(&context, path.as_bytes(), flags.0, mode, self.root(), dest)?;
        self.fds |= 1 << fd;
        self.files.opened(fd, opened.terminal);
        let noctty = flags.contains(egg::O_NOCTTY);
        if opened.terminal && !noctty && self.leads_session() && !self.proc.ctty {
            self.proc.ctty = true;
        }
        Ok(())
    }

    fn dup2(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        if !self.fd_open(from) {
            return Err(Errno::EBADF);
        }
        if u64::from(to) >= self.nofile() {
            return Err(Errno::EBADF);
        }
        if from == to {
            return Ok(());
        }
        self.close_fd(to.into())?;
        let src = self.child_slot(FD_SLOT_BASE + u64::from(from));
        let dest = self.child_slot(FD_SLOT_BASE + u64::from(to));
        let copy = BatchCopy {
            dest,
            src,
            rights: libsys::object::Rights::ALL,
            badge: None,
        };
        self.queue_copy(copy, CopyKind::Fd)?;
        if self.files.tracks(from) {
            // The file server is told of the copy (`FdDup` on it): it must be made.
            self.flush()?;
        }
        let root = self.root();
        self.files.copied(from, to, root, dest);
        self.fds |= 1 << to;
        Ok(())
    }

    fn close(&mut self, fd: u32) -> Result<(), Errno> {
        self.close_fd(fd.into())
    }

    fn closefrom(&mut self, fd: u32) -> Result<(), Errno> {
        for n in u64::from(fd)..MAX_FDS {
            self.close_fd(n)?;
        }
        Ok(())
    }

    fn setpgid(&mut self, pgid: u32) -> Result<(), Errno> {
        if self.leads_session() {
            return Err(Errno::EPERM);
        }
        let pgid = if pgid == 0 { self.proc.pid } else { pgid };
        if pgid != self.proc.pid {
            let sid = self.proc.sid;
            let exists = self
                .table
                .iter()
                .any(|p| p.pgid == pgid && p.sid == sid && p.pid != 0);
            if !exists {
                return Err(Errno::EPERM);
            }
        }
        self.proc.pgid = pgid;
        Ok(())
    }

    fn setsid(&mut self) -> Result<(), Errno> {
        if self.proc.pgid == self.proc.pid {
            return Err(Errno::EPERM);
        }
        self.proc.sid = self.proc.pid;
        self.proc.pgid = self.proc.pid;
        self.proc.ctty = false;
        Ok(())
    }

    fn setctty(&mut self, fd: u32) -> Result<(), Errno> {
        if !self.leads_session() || self.proc.ctty {
            return Err(Errno::EPERM);
        }
        self.terminal_fd(fd)?;
        self.proc.ctty = true;
        Ok(())
    }

    fn tcsetpgrp(&mut self, fd: u32, pgid: u32) -> Result<(), Errno> {
        self.terminal_fd(fd)?;
        // The session's terminal is kept on its leader's record.
        let has_ctty = if self.leads_session() {
            self.proc.ctty
        } else {
            self.table
                .get(self.proc.sid.into())
                .is_some_and(|leader| leader.ctty)
        };
        if !has_ctty {
            return Err(Errno::ENOTTY);
        }
        let pgid = if pgid == 0 { self.proc.pgid } else { pgid };
        if pgid != self.proc.pgid {
            return Err(Errno::EPERM);
        }
        self.flush()?;
        let fd_path = self.child_slot(FD_SLOT_BASE + u64::from(fd));
        let root = self.root();
        self.files.set_foreground(&*self.proc, root, fd_path)
    }

    fn chdir(&mut self, path: Str<'_>) -> Result<(), Errno> {
        let path = path.as_bytes();
        let mut cwd = [0u8; crate::table::CWD_LEN];
        let mut len = 0;
        let mut push = |bytes: &[u8]| -> Result<(), Errno> {
            let dest = cwd.get_mut(len..len + bytes.len()).ok_or(Errno::E2BIG)?;
            dest.copy_from_slice(bytes);
            len += bytes.len();
            Ok(())
        };
        if path.first() != Some(&b'/') {
            push(self.proc.cwd())?;
            if self.proc.cwd() != b"/" {
                push(b"/")?;
            }
        }
        push(path)?;
        self.files.check_directory(&cwd[..len], self.timeout_ms)?;
        self.proc.cwd = cwd;
        self.proc.cwd_len = len;
        Ok(())
    }

    fn fchdir(&mut self, fd: u32) -> Result<(), Errno> {
        if !self.fd_open(fd) {
            return Err(Errno::EBADF);
        }
        self.flush()?;
        let mut path = [0u8; crate::table::CWD_LEN];
        let len = self.files.directory_path(fd, &mut path, self.timeout_ms)?;
        self.proc.cwd = path;
        self.proc.cwd_len = len;
        Ok(())
    }

    fn cap(&mut self, slot: u32, source: u32, rights: Rights, badge: u64) -> Result<(), Errno> {
        let slot = u64::from(slot);
        let fd = slot.wrapping_sub(FD_SLOT_BASE);
        if fd < MAX_FDS {
            if fd >= self.nofile() {
                return Err(Errno::EMFILE);
            }
        } else if !(FIRST_USER_SLOT..FIRST_BIND_SLOT).contains(&slot) {
            return Err(Errno::EINVAL);
        }
        // The child's CNode starts empty each life and an fd slot is filled only by the ops
        // that mark the fd open: a closed fd's slot is empty (no delete: a kernel call less).
        let occupied = fd >= MAX_FDS || self.fds & (1 << fd) != 0;
        let with_files = self.files.namespace_endpoint().is_some();
        let shared = if fd < MAX_FDS && badge == 0 && with_files {
            // An fd of the file server becomes the child's own handle (CtlShare).
            let src = self.request_cap(source)?;
            let dest = self.child_slot(slot);
            self.flush()?;
            if occupied {
                self.root().delete(dest).map_err(|_| Errno::ENOMEM)?;
            }
            let rights =
                libsys::object::Rights::from_bits(u64::from(rights.0)).ok_or(Errno::EINVAL)?;
            let (pid, root) = (self.proc.pid, self.root());
            self.files.share(pid, fd as u32, root, src, dest, rights)?
        } else {
            false
        };
        if !shared {
            self.copy_request_cap(slot, source, rights.0, badge, occupied)?;
        }
        if fd < MAX_FDS {
            self.fds |= 1 << fd;
        }
        Ok(())
    }

    fn bind(&mut self, path: Str<'_>, source: u32) -> Result<(), Errno> {
        let path = path.as_bytes();
        let existing = self.bindings().position(|(_, p)| p == path);
        let index = existing.unwrap_or(self.binding_count);
        if index as u64 >= MAX_BINDINGS {
            return Err(Errno::ENOMEM);
        }
        let slot = FIRST_BIND_SLOT + index as u64;
        // A binding's slot holds a cap only when the path was bound before.
        self.copy_request_cap(
            slot,
            source,
            libsys::object::Rights::ALL.bits() as u8,
            0,
            existing.is_some(),
        )?;
        if existing.is_none() {
            let start = self.bind_len;
            let dest = self
                .bind_paths
                .get_mut(start..start + path.len())
                .ok_or(Errno::E2BIG)?;
            dest.copy_from_slice(path);
            self.bind_len += path.len();
            self.bindings[index] = (slot, start, self.bind_len);
            self.binding_count += 1;
        }
        Ok(())
    }

    fn sigsetmask(&mut self, signals: SignalSet) -> Result<(), Errno> {
        let unblockable = SignalSet::of(SIGKILL).with(SIGSTOP).0;
        self.proc.sigmask = signals.0 & !unblockable;
        Ok(())
    }

    fn sigdefault(&mut self, signals: SignalSet) -> Result<(), Errno> {
        self.proc.sigignore &= !signals.0;
        Ok(())
    }

    fn sigignore(&mut self, signals: SignalSet) -> Result<(), Errno> {
        self.proc.sigignore |= signals.0;
        Ok(())
    }

    fn setuid(&mut self, uid: u32) -> Result<(), Errno> {
        let privileged = self.proc.creds.privileged();
        set_ids(&mut self.proc.creds.uid, uid, privileged)
    }

    fn setgid(&mut self, gid: u32) -> Result<(), Errno> {
        let privileged = self.proc.creds.privileged();
        set_ids(&mut self.proc.creds.gid, gid, privileged)
    }

    fn setgroups(&mut self, groups: IdList<'_>) -> Result<(), Errno> {
        if !self.proc.creds.privileged() {
            return Err(Errno::EPERM);
        }
        if groups.len() > NGROUPS_MAX {
            return Err(Errno::EINVAL);
        }
        let mut n = 0;
        for id in groups.iter() {
            self.proc.creds.groups[n] = id;
            n += 1;
        }
        self.proc.creds.ngroups = n;
        Ok(())
    }

    fn umask(&mut self, mask: u32) -> Result<(), Errno> {
        self.proc.umask = mask;
        Ok(())
    }

    fn setrlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno> {
        let index = resource as usize;
        let (_, old_hard) = self.proc.limits[index];
        if hard > old_hard && !self.proc.creds.privileged() {
            return Err(Errno::EPERM);
        }
        if (index == RLIMIT_AS || index == RLIMIT_DATA) && soft < self.image_bytes {
            return Err(Errno::ENOMEM);
        }
        // An fd at or above the new soft limit is open (no shift by 64 or more).
        let above = u32::try_from(soft)
            .ok()
            .and_then(|s| self.fds.checked_shr(s))
            .unwrap_or(0);
        if index == RLIMIT_NOFILE && above != 0 {
            return Err(Errno::EMFILE);
        }
        self.proc.limits[index] = (soft, hard);
        Ok(())
    }

    fn setpriority(&mut self, priority: u8) -> Result<(), Errno> {
        let parent = self
            .table
            .get(self.proc.ppid.into())
            .map_or(0, |p| p.priority);
        if priority > parent {
            return Err(Errno::EPERM);
        }
        self.process
            .tcb
            .set_priority(priority.into())
            .map_err(|_| Errno::EPERM)?;
        self.proc.priority = priority;
        Ok(())
    }

    fn setaffinity(&mut self, cpus: u64) -> Result<(), Errno> {
        let existing = (1u64 << CPUS) - 1;
        if cpus & existing == 0 {
            return Err(Errno::EINVAL);
        }
        self.proc.affinity = cpus & existing;
        Ok(())
    }

    fn setname(&mut self, name: Str<'_>) -> Result<(), Errno> {
        self.proc.name = crate::table::name_bytes(name.as_bytes());
        Ok(())
    }

    fn setenv(&mut self, name: Str<'_>, value: Str<'_>) -> Result<(), Errno> {
        let (name, value) = (name.as_bytes(), value.as_bytes());
        self.env_remove(name);
        let need = name.len() + 1 + value.len() + 1;
        let start = self.env_len;
        let dest = self.env.get_mut(start..start + need).ok_or(Errno::E2BIG)?;
        dest[..name.len()].copy_from_slice(name);
        dest[name.len()] = b'=';
        dest[name.len() + 1..need - 1].copy_from_slice(value);
        dest[need - 1] = 0;
        self.env_len += need;
        if let Some(names) = &mut self.env_names {
            *names |= name_bit(name);
        }
        Ok(())
    }

    fn unsetenv(&mut self, name: Str<'_>) -> Result<(), Errno> {
        self.env_remove(name.as_bytes());
        Ok(())
    }

    fn clearenv(&mut self) -> Result<(), Errno> {
        self.env_len = 0;
        self.env_names = Some(0);
        Ok(())
    }

    fn start_suspended(&mut self) -> Result<(), Errno> {
        self.suspended = true;
        Ok(())
    }
}
