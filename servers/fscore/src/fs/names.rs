//! Changing names: mkdir, unlink, rmdir, rename (with the sticky-directory rule).

use super::{Caller, Content, Fs, NodeId, STICKY};
use crate::path::Path;
use crate::perm::{Credentials, EXECUTE, WRITE};
use alloc::vec::Vec;
use fs_api::Errno;

impl Fs {
    /// Makes directory `path` with `mode & !umask`.
    ///
    /// # Errors
    /// `EEXIST`, `EACCES`, `EROFS`, `EINVAL` (bad mode) and the lookup errors.
    pub fn mkdir(&mut self, caller: Caller<'_>, path: &[u8], mode: u64) -> Result<NodeId, Errno> {
        if mode & !fs_api::mode::PERMISSIONS != 0 {
            return Err(Errno::EINVAL);
        }
        let path = Path::new(path)?;
        let (dir, name) = self.parent_of(caller, &path, 0)?;
        if self.entries(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if self.node(dir)?.read_only {
            return Err(Errno::EROFS);
        }
        if !self.node(dir)?.may(caller.who, WRITE | EXECUTE) {
            return Err(Errno::EACCES);
        }
        let mode = (mode as u16) & !caller.who.umask & 0o7777;
        self.make_dir(dir, name, mode, caller.who)
    }

    /// Checks that `who` may remove entry `victim` from `dir` (write, search, sticky bit).
    fn may_remove(&self, who: &Credentials, dir: NodeId, victim: NodeId) -> Result<(), Errno> {
        let dir_node = self.node(dir)?;
        if dir_node.read_only {
            return Err(Errno::EROFS);
        }
        if !dir_node.may(who, WRITE | EXECUTE) {
            return Err(Errno::EACCES);
        }
        let sticky = dir_node.mode & STICKY != 0;
        if sticky && who.uid != 0 && who.uid != dir_node.uid && who.uid != self.node(victim)?.uid {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// Removes the name `path` of a non-directory.
    ///
    /// # Errors
    /// `EISDIR`, `ENOENT`, `EACCES`, `EPERM` (sticky), `EROFS`, lookup errors.
    pub fn unlink(&mut self, caller: Caller<'_>, path: &[u8]) -> Result<(), Errno> {
        let path = Path::new(path)?;
        let (dir, name) = self.parent_of(caller, &path, 0)?;
        let id = *self.entries(dir)?.get(name).ok_or(Errno::ENOENT)?;
        if self.node(id)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        if path.has_trailing_slash() {
            return Err(Errno::ENOTDIR);
        }
        self.may_remove(caller.who, dir, id)?;
        self.entries_mut(dir)?.remove(name);
        self.bump(dir);
        self.node_mut(id)?.links -= 1;
        self.collect(id);
        Ok(())
    }

    /// Removes the empty directory `path`.
    ///
    /// # Errors
    /// `ENOTEMPTY`, `ENOTDIR`, `EBUSY` (the root), `EINVAL` (`.`), and as for unlink.
    pub fn rmdir(&mut self, caller: Caller<'_>, path: &[u8]) -> Result<(), Errno> {
        let checked = Path::new(path)?;
        if checked.components().next().is_none() {
            return Err(Errno::EBUSY);
        }
        if path.ends_with(b"/.") || path == b"." {
            return Err(Errno::EINVAL);
        }
        let (dir, name) = self.parent_of(caller, &checked, 0)?;
        let id = *self.entries(dir)?.get(name).ok_or(Errno::ENOENT)?;
        if !self.entries(id)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.may_remove(caller.who, dir, id)?;
        self.entries_mut(dir)?.remove(name);
        self.node_mut(dir)?.links -= 1;
        self.bump(dir);
        self.node_mut(id)?.links = 0;
        self.collect(id);
        Ok(())
    }

    /// Whether `ancestor` is `id` or one of the directories above it.
    fn is_within(&self, id: NodeId, ancestor: NodeId) -> bool {
        let mut at = id;
        loop {
            if at == ancestor {
                return true;
            }
            match self.node(at).map(|n| &n.content) {
                Ok(Content::Directory { parent, .. }) if *parent != at => at = *parent,
                _ => return false,
            }
        }
    }

    /// Renames `from` to `to`, replacing a file (or an empty directory) there.
    ///
    /// # Errors
    /// `ENOENT`, `EISDIR`/`ENOTDIR` (kinds differ), `ENOTEMPTY`, `EINVAL` (a directory into
    /// itself), `EACCES`, `EPERM`, `EROFS`, lookup errors.
    pub fn rename(&mut self, caller: Caller<'_>, from: &[u8], to: &[u8]) -> Result<(), Errno> {
        let from = Path::new(from)?;
        let to = Path::new(to)?;
        let (from_dir, from_name) = self.parent_of(caller, &from, 0)?;
        let (to_dir, to_name) = self.parent_of(caller, &to, 0)?;
        let id = *self
            .entries(from_dir)?
            .get(from_name)
            .ok_or(Errno::ENOENT)?;
        let moving_dir = self.node(id)?.is_dir();
        self.may_remove(caller.who, from_dir, id)?;
        let to_node = self.node(to_dir)?;
        if to_node.read_only {
            return Err(Errno::EROFS);
        }
        if !to_node.may(caller.who, WRITE | EXECUTE) {
            return Err(Errno::EACCES);
        }
        if moving_dir && self.is_within(to_dir, id) {
            return Err(Errno::EINVAL);
        }
        let replaced = self.entries(to_dir)?.get(to_name).copied();
        if let Some(old) = replaced {
            if old == id {
                return Ok(());
            }
            match (moving_dir, self.node(old)?.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.entries(old)?.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
            self.may_remove(caller.who, to_dir, old)?;
        }
        let mut key = Vec::new();
        key.try_reserve_exact(to_name.len())
            .map_err(|_| Errno::ENOMEM)?;
        key.extend_from_slice(to_name);
        // Nothing below fails.
        if let Some(old) = replaced {
            let old_is_dir = self.node(old)?.is_dir();
            self.node_mut(old)?.links = if old_is_dir {
                0
            } else {
                self.node(old)?.links - 1
            };
            if old_is_dir {
                self.node_mut(to_dir)?.links -= 1;
            }
        }
        self.entries_mut(from_dir)?.remove(from_name);
        self.entries_mut(to_dir)?.insert(key, id);
        if moving_dir {
            self.node_mut(from_dir)?.links -= 1;
            self.node_mut(to_dir)?.links += 1;
            if let Content::Directory { parent, .. } = &mut self.node_mut(id)?.content {
                *parent = to_dir;
            }
        }
        self.bump(from_dir);
        self.bump(to_dir);
        if let Some(old) = replaced {
            self.collect(old);
        }
        Ok(())
    }
}
