//! A file's bytes: read, write (with append), truncate; the devices' reads and writes.

use super::{Caller, Content, Device, Fs, NodeId, MAX_FILE_SIZE};
use crate::perm::WRITE;
use fs_api::Errno;

impl Fs {
    /// Sets the size of the regular file `id` (new bytes are zero).
    ///
    /// # Errors
    /// `EISDIR`, `EINVAL` (not a regular file), `EROFS`, `EFBIG`, `ENOSPC`.
    pub fn truncate_node(&mut self, id: NodeId, length: u64) -> Result<(), Errno> {
        if length > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let (file_bytes, limit) = (self.file_bytes, self.limit_bytes);
        let node = self.node_mut(id)?;
        if node.read_only {
            return Err(Errno::EROFS);
        }
        let data = match &mut node.content {
            Content::File(data) => data,
            Content::Directory { .. } => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        let old = data.len() as u64;
        if length > old {
            if file_bytes + (length - old) > limit {
                return Err(Errno::ENOSPC);
            }
            data.try_reserve_exact((length - old) as usize)
                .map_err(|_| Errno::ENOSPC)?;
        }
        data.resize(length as usize, 0);
        if length < old {
            data.shrink_to(length as usize);
        }
        self.file_bytes = file_bytes + length - old;
        self.bump(id);
        Ok(())
    }

    /// Truncates the file `path` names (needs write permission).
    ///
    /// # Errors
    /// As for [`Self::truncate_node`], `EACCES` and lookup errors.
    pub fn truncate(&mut self, caller: Caller<'_>, path: &[u8], length: u64) -> Result<(), Errno> {
        let id = self.lookup(caller, path)?;
        let node = self.node(id)?;
        if node.is_dir() {
            return Err(Errno::EISDIR);
        }
        if !node.may(caller.who, WRITE) {
            return Err(Errno::EACCES);
        }
        self.truncate_node(id, length)
    }

    /// Reads from `id` at `offset` into `out`; returns the bytes read (0 at the end).
    ///
    /// # Errors
    /// `EISDIR`, `EINVAL` (a terminal: the terminal code reads those).
    pub fn read(&self, id: NodeId, offset: u64, out: &mut [u8]) -> Result<usize, Errno> {
        let data: &[u8] = match &self.node(id)?.content {
            Content::File(data) => data,
            Content::Static(data) => data,
            Content::Directory { .. } => return Err(Errno::EISDIR),
            Content::Device(Device::Null) => return Ok(0),
            Content::Device(Device::Zero | Device::Full) => {
                out.fill(0);
                return Ok(out.len());
            }
            Content::Device(_) => return Err(Errno::EINVAL),
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let count = out.len().min(data.len() - start);
        out[..count].copy_from_slice(&data[start..start + count]);
        Ok(count)
    }

    /// Writes `data` to `id` at `offset` (the end when `append`); returns the bytes written
    /// and the offset after them.
    ///
    /// # Errors
    /// `EFBIG` (past [`MAX_FILE_SIZE`]), `ENOSPC`, `EROFS`, `EISDIR`, `EINVAL` (a terminal).
    pub fn write(
        &mut self,
        id: NodeId,
        offset: u64,
        append: bool,
        data: &[u8],
    ) -> Result<(usize, u64), Errno> {
        let (file_bytes, limit) = (self.file_bytes, self.limit_bytes);
        let node = self.node_mut(id)?;
        if node.read_only {
            return Err(Errno::EROFS);
        }
        let file = match &mut node.content {
            Content::File(file) => file,
            Content::Device(Device::Null | Device::Zero) => {
                return Ok((data.len(), offset));
            }
            Content::Device(Device::Full) => return Err(Errno::ENOSPC),
            Content::Directory { .. } => return Err(Errno::EISDIR),
            Content::Static(_) => return Err(Errno::EROFS),
            Content::Device(_) => return Err(Errno::EINVAL),
        };
        let start = if append { file.len() as u64 } else { offset };
        let end = start.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let old = file.len() as u64;
        if end > old {
            if file_bytes + (end - old) > limit {
                return Err(Errno::ENOSPC);
            }
            file.try_reserve((end - old) as usize)
                .map_err(|_| Errno::ENOSPC)?;
            file.resize(end as usize, 0);
        }
        file[start as usize..end as usize].copy_from_slice(data);
        self.file_bytes = file_bytes + end.max(old) - old;
        self.bump(id);
        Ok((data.len(), end))
    }
}
