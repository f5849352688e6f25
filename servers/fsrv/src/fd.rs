//! The fd protocol: requests through an fd cap, whose badge names a handle.

use crate::server::{Outcome, Reply, Request, Server};
use fs_api::flags::{O_ACCMODE, O_APPEND, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY};
use fs_api::{Errno, Label, Stat, SEEK_CUR, SEEK_END, SEEK_SET, WINDOW_SIZE};
use fscore::table::{HandleId, Object};

fn may_read(flags: u64) -> bool {
    matches!(flags & O_ACCMODE, O_RDONLY | O_RDWR)
}

fn may_write(flags: u64) -> bool {
    matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR)
}

impl Server {
    /// Handles a request through fd cap `handle`.
    pub fn fd(&mut self, handle: HandleId, label: Label, request: &Request) -> Outcome {
        match label {
            Label::FdRead => self.read(handle, request),
            Label::FdWrite => self.write(handle, request),
            _ => self.fd_simple(handle, label, request).into(),
        }
    }

    fn fd_simple(
        &mut self,
        handle: HandleId,
        label: Label,
        request: &Request,
    ) -> Result<Reply, Errno> {
        let process = self.table.handle(handle)?.process;
        let description = self.table.description(handle)?;
        let (object, flags, offset) = (description.object, description.flags, description.offset);
        match label {
            Label::FdSeek => {
                request.need(2)?;
                let Object::Node(node) = object else {
                    return Err(Errno::ESPIPE);
                };
                if !self.fs.is_seekable(node) {
                    return Err(Errno::ESPIPE);
                }
                let base = match request.word(1) {
                    SEEK_SET => 0,
                    SEEK_CUR => offset,
                    SEEK_END => self.fs.size(node),
                    _ => return Err(Errno::EINVAL),
                };
                let delta = request.word(0) as i64;
                let new = i64::try_from(base)
                    .ok()
                    .and_then(|b| b.checked_add(delta))
                    .filter(|n| *n >= 0)
                    .ok_or(Errno::EINVAL)? as u64;
                self.table.description(handle)?.offset = new;
                Ok(Reply::ok(&[new]))
            }
            Label::FdStat => {
                let stat = match object {
                    Object::Node(node) | Object::Terminal(_, node) => self.fs.stat(node)?,
                    Object::PtyMaster(n) => Stat {
                        inode: (2 << 32) | n as u64,
                        mode: fs_api::mode::S_IFCHR | 0o666,
                        links: 1,
                        rdev: 0x502,
                        ..Stat::default()
                    },
                    Object::PipeRead(pipe) | Object::PipeWrite(pipe) => Stat {
                        inode: (1 << 32) | pipe as u64,
                        mode: fs_api::mode::S_IFIFO | 0o600,
                        links: 1,
                        size: self.table.pipe(pipe).map_or(0, |p| p.ring.len() as u64),
                        ..Stat::default()
                    },
                };
                Ok(Reply::ok(&stat.to_words()))
            }
            Label::FdReaddir => {
                request.need(1)?;
                let Object::Node(node) = object else {
                    return Err(Errno::ENOTDIR);
                };
                match self.fs.readdir(node, request.word(0))? {
                    None => Ok(Reply::ok(&[0, 0, 0])),
                    Some(entry) => {
                        let window = self.window_ptr(process, entry.name.len())?;
                        // SAFETY: the process's mapped window (see `window_ptr`), written here
                        // only.
                        unsafe { &mut *window }.copy_from_slice(&entry.name);
                        let kind = entry.kind as u64;
                        Ok(Reply::ok(&[entry.inode, kind, entry.name.len() as u64]))
                    }
                }
            }
            Label::FdTruncate => {
                request.need(1)?;
                let Object::Node(node) = object else {
                    return Err(Errno::EINVAL);
                };
                if !may_write(flags) {
                    return Err(Errno::EBADF);
                }
                self.fs.truncate_node(node, request.word(0))?;
                Ok(Reply::ok(&[]))
            }
            Label::FdDup => self.table.dup(handle).map(|()| Reply::ok(&[])),
            Label::FdClose => {
                if let Some(released) = self.table.close(handle)? {
                    self.release(released);
                }
                Ok(Reply::ok(&[]))
            }
            Label::FdIsatty => {
                let terminal = matches!(object, Object::Terminal(..) | Object::PtyMaster(_));
                Ok(Reply::ok(&[u64::from(terminal)]))
            }
            Label::FdIoctl => {
                request.need(1)?;
                self.tty_ioctl(process, object, request)
            }
            Label::FdPipeWriteEnd => {
                let Object::PipeRead(pipe) = object else {
                    return Err(Errno::EINVAL);
                };
                let p = self.table.pipe(pipe).ok_or(Errno::EBADF)?;
                if p.write_end_taken {
                    return Err(Errno::EINVAL);
                }
                let id = self
                    .table
                    .open(Object::PipeWrite(pipe), O_WRONLY, process)?;
                if let Some(p) = self.table.pipe(pipe) {
                    p.write_end_taken = true;
                    p.writers = 1;
                }
                self.reply_with_handle(id)
            }
            Label::FdGetFlags => Ok(Reply::ok(&[flags])),
            Label::FdSetFlags => {
                request.need(1)?;
                let changeable = O_APPEND | O_NONBLOCK;
                let description = self.table.description(handle)?;
                description.flags = (flags & !changeable) | (request.word(0) & changeable);
                Ok(Reply::ok(&[]))
            }
            _ => Err(Errno::ENOSYS),
        }
    }

    fn read(&mut self, handle: HandleId, request: &Request) -> Outcome {
        let result = (|| {
            request.need(1)?;
            let length = usize::try_from(request.word(0)).map_err(|_| Errno::EFAULT)?;
            if length > WINDOW_SIZE {
                return Err(Errno::EFAULT);
            }
            let process = self.table.handle(handle)?.process;
            let description = self.table.description(handle)?;
            if !may_read(description.flags) {
                return Err(Errno::EBADF);
            }
            Ok((process, description.object, description.offset, length))
        })();
        let (process, object, offset, length) = match result {
            Ok(found) => found,
            Err(e) => return Outcome::Reply(Reply::error(e)),
        };
        match object {
            Object::Node(node) => {
                let count = self.window_ptr(process, length).and_then(|window| {
                    // SAFETY: the process's mapped window (see `window_ptr`); `fs.read` writes
                    // it and touches nothing else of the server's but the file.
                    self.fs.read(node, offset, unsafe { &mut *window })
                });
                if let (Ok(count), Ok(d)) = (count, self.table.description(handle)) {
                    d.offset = offset + count as u64;
                }
                count.map(|c| Reply::ok(&[c as u64])).into()
            }
            Object::PipeRead(pipe) => {
                let dont_wait = request.word(1) != 0;
                self.pipe_read(handle, process, pipe, length, dont_wait)
            }
            Object::PipeWrite(_) => Outcome::Reply(Reply::error(Errno::EBADF)),
            Object::Terminal(..) | Object::PtyMaster(_) => {
                let flags = self.table.description(handle).map_or(0, |d| d.flags);
                self.tty_io(handle, process, object, false, length, flags)
            }
        }
    }

    fn write(&mut self, handle: HandleId, request: &Request) -> Outcome {
        let result = (|| {
            request.need(1)?;
            let length = usize::try_from(request.word(0)).map_err(|_| Errno::EFAULT)?;
            if length > WINDOW_SIZE {
                return Err(Errno::EFAULT);
            }
            let process = self.table.handle(handle)?.process;
            let description = self.table.description(handle)?;
            if !may_write(description.flags) {
                return Err(Errno::EBADF);
            }
            Ok((
                process,
                description.object,
                description.offset,
                description.flags,
                length,
            ))
        })();
        let (process, object, offset, flags, length) = match result {
            Ok(found) => found,
            Err(e) => return Outcome::Reply(Reply::error(e)),
        };
        match object {
            Object::Node(node) => {
                let append = flags & O_APPEND != 0;
                let written = self.window_ptr(process, length);
                let result = written.and_then(|window| {
                    // SAFETY: `window` points at the process's mapped window (just checked);
                    // `fs.write` only touches the file's own heap memory, never the window.
                    let data = unsafe { &*window };
                    self.fs.write(node, offset, append, data)
                });
                if let (Ok((_, end)), Ok(d)) = (result, self.table.description(handle)) {
                    if self.fs.is_seekable(node) {
                        d.offset = end;
                    }
                }
                result.map(|(count, _)| Reply::ok(&[count as u64])).into()
            }
            Object::PipeWrite(pipe) => self.pipe_write(handle, process, pipe, length, flags),
            Object::PipeRead(_) => Outcome::Reply(Reply::error(Errno::EBADF)),
            Object::Terminal(..) | Object::PtyMaster(_) => {
                self.tty_io(handle, process, object, true, length, flags)
            }
        }
    }
}
