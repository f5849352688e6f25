//! The namespace: a tree of nodes, each a RAM directory, a RAM file, a read-only file of the
//! boot archive, or a device, with POSIX permissions checked against [`Credentials`].
//!
//! A node lives while it has a name (`links`) or is open (`opens`); inode numbers are the
//! node's index plus one, unique while it lives.

use crate::path::Path;
use crate::perm::{may_access, Credentials, EXECUTE, READ, WRITE};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use fs_api::flags::{O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use fs_api::{Errno, FileKind, Stat};

/// A node's index.
pub type NodeId = usize;
/// The root directory.
pub const ROOT: NodeId = 0;
/// Largest file: 64 MiB.
pub const MAX_FILE_SIZE: u64 = 64 << 20;
/// Most nodes (files, directories, devices) at once: more is `ENOSPC` (the inodes are
/// used up), which bounds the heap names and entries can take.
pub const MAX_NODES: usize = 16384;
/// The sticky bit: in a directory, only a file's owner (or the directory's, or root) may
/// remove or rename it.
pub const STICKY: u16 = 0o1000;

/// The devices of `/dev`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Reads end at once; writes vanish.
    Null,
    /// Reads give zeros; writes vanish.
    Zero,
    /// Reads give zeros; writes fail with `ENOSPC`.
    Full,
    /// The console terminal (its reads and writes are the server's terminal code's).
    Console,
    /// The caller's controlling terminal (resolved by the server at open).
    Tty,
    /// Opening it makes a new pseudo-terminal and gives its master.
    Ptmx,
    /// The slave side of pseudo-terminal `n` (`/dev/pts/n`).
    PtySlave(u32),
}

impl Device {
    /// The device number (Linux's: major << 8 | minor).
    pub const fn rdev(self) -> u64 {
        match self {
            Device::Null => 0x103,
            Device::Zero => 0x105,
            Device::Full => 0x107,
            Device::Console => 0x501,
            Device::Tty => 0x500,
            Device::Ptmx => 0x502,
            Device::PtySlave(n) => (136 << 8) | n as u64,
        }
    }
    /// Whether it is a terminal (handled by the terminal code, not by [`Fs`]).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Device::Console | Device::Tty | Device::Ptmx | Device::PtySlave(_)
        )
    }
}

/// What a node holds.
pub enum Content {
    /// A directory: names to nodes, and the parent (the root's parent is the root).
    Directory {
        /// The entries, sorted by name.
        entries: BTreeMap<Vec<u8>, NodeId>,
        /// The directory `..` names.
        parent: NodeId,
    },
    /// A file in RAM.
    File(Vec<u8>),
    /// A read-only file whose bytes live elsewhere for the server's whole life (the boot
    /// archive).
    Static(&'static [u8]),
    /// A device.
    Device(Device),
}

/// A file, directory or device.
pub struct Node {
    /// What it holds.
    pub content: Content,
    /// Permission bits (with set-id and sticky bits).
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Names (directories: 2 + subdirectories).
    pub links: u32,
    /// Open file descriptions on it.
    pub opens: u32,
    /// Bumped by each change.
    pub version: u64,
    /// Nothing in it may change (the boot archive's `/bin`).
    pub read_only: bool,
}

impl Node {
    /// The kind of file.
    pub fn kind(&self) -> FileKind {
        match self.content {
            Content::Directory { .. } => FileKind::Directory,
            Content::File(_) | Content::Static(_) => FileKind::Regular,
            Content::Device(_) => FileKind::CharDevice,
        }
    }
    fn is_dir(&self) -> bool {
        matches!(self.content, Content::Directory { .. })
    }
    fn size(&self) -> u64 {
        match &self.content {
            Content::File(data) => data.len() as u64,
            Content::Static(data) => data.len() as u64,
            Content::Directory { entries, .. } => entries.len() as u64,
            Content::Device(_) => 0,
        }
    }
    fn may(&self, who: &Credentials, want: u16) -> bool {
        may_access(who, self.mode, self.uid, self.gid, self.is_dir(), want)
    }
}

/// One directory entry, as `readdir` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name.
    pub name: Vec<u8>,
    /// The inode number.
    pub inode: u64,
    /// The kind.
    pub kind: FileKind,
}

/// The tree of nodes.
pub struct Fs {
    nodes: Vec<Option<Node>>,
    free: Vec<NodeId>,
    version: u64,
    file_bytes: u64,
    /// Most bytes all RAM files may hold together (more: `ENOSPC`).
    pub limit_bytes: u64,
}

/// Who is asking and where relative paths start.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The credentials.
    pub who: &'a Credentials,
    /// The working directory.
    pub cwd: NodeId,
}

impl Fs {
    /// A tree holding only the root directory (mode 0755, owned by root).
    pub fn new(limit_bytes: u64) -> Self {
        let root = Node {
            content: Content::Directory {
                entries: BTreeMap::new(),
                parent: ROOT,
            },
            mode: 0o755,
            uid: 0,
            gid: 0,
            links: 2,
            opens: 0,
            version: 0,
            read_only: false,
        };
        Fs {
            nodes: alloc::vec![Some(root)],
            free: Vec::new(),
            version: 0,
            file_bytes: 0,
            limit_bytes,
        }
    }

    /// The standard tree: `/bin` with `programs` (read-only, mode 0555), `/dev` (`null`,
    /// `zero`, `full`, `console`, `tty`), `/tmp` (1777), `/etc` with `passwd` and `group`,
    /// `/home` and `/root`.
    ///
    /// # Errors
    /// `ENOMEM`, or `EEXIST` for two programs of one name.
    pub fn standard(
        limit_bytes: u64,
        programs: &[(&[u8], &'static [u8])],
        passwd: &'static [u8],
        group: &'static [u8],
    ) -> Result<Self, Errno> {
        let mut fs = Fs::new(limit_bytes);
        let root = Credentials::root();
        let bin = fs.make_dir(ROOT, b"bin", 0o555, &root)?;
        for (name, bytes) in programs {
            let id = fs.make_node(bin, name, Content::Static(bytes), 0o555, &root)?;
            fs.node_mut(id)?.read_only = true;
        }
        fs.node_mut(bin)?.read_only = true;
        let dev = fs.make_dir(ROOT, b"dev", 0o755, &root)?;
        for (name, device) in [
            (&b"null"[..], Device::Null),
            (b"zero", Device::Zero),
            (b"full", Device::Full),
            (b"console", Device::Console),
            (b"tty", Device::Tty),
            (b"ptmx", Device::Ptmx),
        ] {
            fs.make_node(dev, name, Content::Device(device), 0o666, &root)?;
        }
        fs.make_dir(dev, b"pts", 0o755, &root)?;
        fs.make_dir(ROOT, b"tmp", 0o1777, &root)?;
        let etc = fs.make_dir(ROOT, b"etc", 0o755, &root)?;
        fs.make_node(etc, b"passwd", Content::Static(passwd), 0o644, &root)?;
        fs.make_node(etc, b"group", Content::Static(group), 0o644, &root)?;
        fs.make_dir(ROOT, b"home", 0o755, &root)?;
        fs.make_dir(ROOT, b"root", 0o700, &root)?;
        Ok(fs)
    }

    /// The node `id`.
    ///
    /// # Errors
    /// `EBADF` if it does not exist.
    pub fn node(&self, id: NodeId) -> Result<&Node, Errno> {
        self.nodes
            .get(id)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, Errno> {
        self.nodes
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// Live nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Bytes held by RAM files.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    fn bump(&mut self, id: NodeId) {
        self.version += 1;
        let version = self.version;
        if let Ok(node) = self.node_mut(id) {
            node.version = version;
        }
    }

    fn alloc(&mut self, node: Node) -> Result<NodeId, Errno> {
        if self.node_count() >= MAX_NODES {
            return Err(Errno::ENOSPC);
        }
        if let Some(id) = self.free.pop() {
            self.nodes[id] = Some(node);
            return Ok(id);
        }
        self.nodes.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.nodes.push(Some(node));
        Ok(self.nodes.len() - 1)
    }

    fn entries(&self, dir: NodeId) -> Result<&BTreeMap<Vec<u8>, NodeId>, Errno> {
        match &self.node(dir)?.content {
            Content::Directory { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: NodeId) -> Result<&mut BTreeMap<Vec<u8>, NodeId>, Errno> {
        match &mut self.node_mut(dir)?.content {
            Content::Directory { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Makes a node named `name` in `dir` (no permission checks: for building the tree).
    fn make_node(
        &mut self,
        dir: NodeId,
        name: &[u8],
        content: Content,
        mode: u16,
        owner: &Credentials,
    ) -> Result<NodeId, Errno> {
        if self.entries(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let is_dir = matches!(content, Content::Directory { .. });
        let mut key = Vec::new();
        key.try_reserve_exact(name.len())
            .map_err(|_| Errno::ENOMEM)?;
        key.extend_from_slice(name);
        let id = self.alloc(Node {
            content,
            mode,
            uid: owner.uid,
            gid: owner.gid,
            links: if is_dir { 2 } else { 1 },
            opens: 0,
            version: 0,
            read_only: false,
        })?;
        self.entries_mut(dir)?.insert(key, id);
        if is_dir {
            self.node_mut(dir)?.links += 1;
        }
        self.bump(dir);
        Ok(id)
    }

    fn make_dir(
        &mut self,
        dir: NodeId,
        name: &[u8],
        mode: u16,
        owner: &Credentials,
    ) -> Result<NodeId, Errno> {
        let content = Content::Directory {
            entries: BTreeMap::new(),
            parent: dir,
        };
        self.make_node(dir, name, content, mode, owner)
    }

    /// Follows `components` from `start` (absolute paths start at the root), checking
    /// search permission on every directory passed through.
    fn walk<'p>(
        &self,
        caller: Caller<'_>,
        start: NodeId,
        components: impl Iterator<Item = &'p [u8]>,
    ) -> Result<NodeId, Errno> {
        let mut at = start;
        for name in components {
            let node = self.node(at)?;
            let Content::Directory { entries, parent } = &node.content else {
                return Err(Errno::ENOTDIR);
            };
            if !node.may(caller.who, EXECUTE) {
                return Err(Errno::EACCES);
            }
            at = if name == b".." {
                *parent
            } else {
                *entries.get(name).ok_or(Errno::ENOENT)?
            };
        }
        Ok(at)
    }

    fn start(path: &Path<'_>, caller: Caller<'_>) -> NodeId {
        if path.is_absolute() {
            ROOT
        } else {
            caller.cwd
        }
    }

    /// The node `path` names.
    ///
    /// # Errors
    /// `ENOENT`, `ENOTDIR` (through a non-directory, or a trailing `/` on one), `EACCES`
    /// (no search permission), and the [`Path::new`] errors.
    pub fn lookup(&self, caller: Caller<'_>, path: &[u8]) -> Result<NodeId, Errno> {
        let path = Path::new(path)?;
        let id = self.walk(caller, Self::start(&path, caller), path.components())?;
        if path.has_trailing_slash() && !self.node(id)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(id)
    }

    /// The directory that holds `path`'s last component, and that component; the caller
    /// needs write and search permission on it to change it (checked here with `want`).
    fn parent_of<'p>(
        &self,
        caller: Caller<'_>,
        path: &Path<'p>,
        want: u16,
    ) -> Result<(NodeId, &'p [u8]), Errno> {
        let (components, name) = path.split_last().ok_or(Errno::EINVAL)?;
        let dir = self.walk(caller, Self::start(path, caller), components)?;
        let node = self.node(dir)?;
        if !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if want != 0 && !node.may(caller.who, want) {
            return Err(Errno::EACCES);
        }
        Ok((dir, name))
    }

    /// Opens `path` with `flags` (creating it with `mode & !umask` under `O_CREAT`); the
    /// node counts one more open. Returns the node and whether it was created.
    ///
    /// # Errors
    /// `EINVAL` (bad flags), `EEXIST` (`O_CREAT|O_EXCL`), `EISDIR` (a directory for
    /// writing), `ENOTDIR` (`O_DIRECTORY` on a file), `EACCES`, `EROFS`, `ENOSPC`, and the
    /// lookup errors.
    pub fn open(
        &mut self,
        caller: Caller<'_>,
        path: &[u8],
        flags: u64,
        mode: u64,
    ) -> Result<(NodeId, bool), Errno> {
        if flags & !fs_api::flags::ALL != 0 || flags & O_ACCMODE == O_ACCMODE {
            return Err(Errno::EINVAL);
        }
        if mode & !fs_api::mode::PERMISSIONS != 0 {
            return Err(Errno::EINVAL);
        }
        let checked = Path::new(path)?;
        let mut created = false;
        let id = if flags & O_CREAT != 0 {
            let (dir, name) = self.parent_of(caller, &checked, 0)?;
            match self.entries(dir)?.get(name) {
                Some(_) if flags & O_EXCL != 0 => return Err(Errno::EEXIST),
                Some(&id) => id,
                None => {
                    if checked.has_trailing_slash() {
                        return Err(Errno::EISDIR);
                    }
                    let dir_node = self.node(dir)?;
                    if dir_node.read_only {
                        return Err(Errno::EROFS);
                    }
                    if !dir_node.may(caller.who, WRITE | EXECUTE) {
                        return Err(Errno::EACCES);
                    }
                    let mode = (mode as u16) & !caller.who.umask & 0o7777;
                    created = true;
                    self.make_node(dir, name, Content::File(Vec::new()), mode, caller.who)?
                }
            }
        } else {
            self.lookup(caller, path)?
        };
        let access = flags & O_ACCMODE;
        let writing = access == O_WRONLY || access == O_RDWR || flags & O_TRUNC != 0;
        let node = self.node(id)?;
        if flags & O_DIRECTORY != 0 && !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if node.is_dir() && writing {
            return Err(Errno::EISDIR);
        }
        if !created {
            let mut want = 0;
            if access == O_RDONLY || access == O_RDWR {
                want |= READ;
            }
            if writing {
                want |= WRITE;
            }
            if !node.may(caller.who, want) {
                return Err(Errno::EACCES);
            }
        }
        if writing && node.read_only {
            return Err(Errno::EROFS);
        }
        if flags & O_TRUNC != 0 && matches!(node.content, Content::File(_)) {
            self.truncate_node(id, 0)?;
        }
        self.node_mut(id)?.opens += 1;
        Ok((id, created))
    }

    /// One open of `id` is gone; the node goes when it also has no name.
    pub fn close(&mut self, id: NodeId) {
        if let Ok(node) = self.node_mut(id) {
            node.opens = node.opens.saturating_sub(1);
            self.collect(id);
        }
    }

    /// Frees `id` if it has neither names nor opens.
    fn collect(&mut self, id: NodeId) {
        let dead = matches!(self.node(id), Ok(n) if n.links == 0 && n.opens == 0);
        if dead && id != ROOT {
            if let Some(Node {
                content: Content::File(data),
                ..
            }) = self.nodes[id].take()
            {
                self.file_bytes -= data.len() as u64;
            }
            self.nodes[id] = None;
            self.free.push(id);
        }
    }

    /// The stat of `id`.
    ///
    /// # Errors
    /// `EBADF` for a dead node.
    pub fn stat(&self, id: NodeId) -> Result<Stat, Errno> {
        let node = self.node(id)?;
        Ok(Stat {
            inode: id as u64 + 1,
            mode: node.kind().mode_bits() | u64::from(node.mode),
            links: u64::from(node.links),
            uid: u64::from(node.uid),
            gid: u64::from(node.gid),
            size: node.size(),
            rdev: match node.content {
                Content::Device(d) => d.rdev(),
                _ => 0,
            },
            version: node.version,
        })
    }

    /// Checks that `who` may use directory `id` as its working directory.
    ///
    /// # Errors
    /// `ENOTDIR`, `EACCES`.
    pub fn check_chdir(&self, who: &Credentials, id: NodeId) -> Result<(), Errno> {
        let node = self.node(id)?;
        if !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !node.may(who, EXECUTE) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// Entry `index` of directory `id`: `.` and `..` first, then the names in order;
    /// `None` past the end.
    ///
    /// # Errors
    /// `ENOTDIR`.
    pub fn readdir(&self, id: NodeId, index: u64) -> Result<Option<DirEntry>, Errno> {
        let node = self.node(id)?;
        let Content::Directory { entries, parent } = &node.content else {
            return Err(Errno::ENOTDIR);
        };
        let entry = |name: &[u8], id: NodeId| -> Result<DirEntry, Errno> {
            let mut owned = Vec::new();
            owned
                .try_reserve_exact(name.len())
                .map_err(|_| Errno::ENOMEM)?;
            owned.extend_from_slice(name);
            Ok(DirEntry {
                name: owned,
                inode: id as u64 + 1,
                kind: self.node(id)?.kind(),
            })
        };
        match index {
            0 => entry(b".", id).map(Some),
            1 => entry(b"..", *parent).map(Some),
            n => match usize::try_from(n - 2)
                .ok()
                .and_then(|i| entries.iter().nth(i))
            {
                Some((name, &child)) => entry(name, child).map(Some),
                None => Ok(None),
            },
        }
    }

    /// Makes device node `name` in directory `dir` owned by `owner` (the server's own
    /// bookkeeping, such as `/dev/pts/N`: no permission checks).
    ///
    /// # Errors
    /// `EEXIST`, `ENOTDIR`, `ENOMEM`.
    pub fn add_device(
        &mut self,
        dir: NodeId,
        name: &[u8],
        device: Device,
        mode: u16,
        owner: &Credentials,
    ) -> Result<NodeId, Errno> {
        self.make_node(dir, name, Content::Device(device), mode, owner)
    }

    /// Removes entry `name` of directory `dir` (no permission checks); the node goes when
    /// it is not open.
    pub fn remove_entry(&mut self, dir: NodeId, name: &[u8]) {
        let Ok(entries) = self.entries_mut(dir) else {
            return;
        };
        if let Some(id) = entries.remove(name) {
            self.bump(dir);
            if let Ok(node) = self.node_mut(id) {
                node.links = 0;
            }
            self.collect(id);
        }
    }

    /// The device `id` is, if it is one.
    pub fn device(&self, id: NodeId) -> Option<Device> {
        match self.node(id).ok()?.content {
            Content::Device(d) => Some(d),
            _ => None,
        }
    }

    /// Whether `id` can be seeked (files, directories; not devices).
    pub fn is_seekable(&self, id: NodeId) -> bool {
        !matches!(self.node(id).map(|n| &n.content), Ok(Content::Device(_)))
    }

    /// The size of `id` (files: bytes).
    pub fn size(&self, id: NodeId) -> u64 {
        self.node(id).map(Node::size).unwrap_or(0)
    }
}

mod data;
mod names;

#[cfg(test)]
mod tests;
