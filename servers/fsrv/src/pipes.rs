//! Pipes that block: a read of an empty pipe or a write to a full one keeps its reply in a
//! Reply object until the other side makes progress, or until every writer (end of file)
//! or every reader (`EPIPE`) is gone.

use crate::memory;
use crate::server::{Outcome, Reply, Server, SIGPIPE};
use fs_api::flags::O_NONBLOCK;
use fs_api::{Errno, PIPE_BUF};
use fscore::table::HandleId;
use libsys::cap::{Cap, Reply as ReplyObject};

/// Most requests waiting at once (more: `EAGAIN`).
pub const MAX_PENDING: usize = 128;

/// What a waiting request wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// Up to `length` bytes.
    Read {
        /// Bytes asked for.
        length: usize,
    },
    /// `length` bytes from the window, `done` of them already in the pipe.
    Write {
        /// Bytes to write.
        length: usize,
        /// Bytes written so far.
        done: usize,
    },
}

/// A request waiting on a pipe.
pub struct Pending {
    /// Where its reply is kept.
    pub reply: Cap<ReplyObject>,
    /// The pipe.
    pub pipe: usize,
    /// The process whose window holds the data.
    pub process: u64,
    /// The handle's slot (a closed handle cancels its requests).
    pub handle_slot: usize,
    /// What it wants.
    pub waiting: Waiting,
}

impl Server {
    /// Saves the reply owed to the current caller and records what it waits for.
    fn defer(&mut self, handle: HandleId, process: u64, pipe: usize, waiting: Waiting) -> Outcome {
        let result = (|| {
            if self.pending.len() >= MAX_PENDING {
                return Err(Errno::EAGAIN);
            }
            let handle_slot = self.table.slot(handle)?;
            let reply = match self.replies.pop() {
                Some(reply) => reply,
                None => {
                    memory::with_objects(|o| o.make::<ReplyObject>().ok()).ok_or(Errno::EAGAIN)?
                }
            };
            self.pending.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            if reply.save().is_err() {
                self.replies.push(reply);
                return Err(Errno::EIO);
            }
            self.pending.push(Pending {
                reply,
                pipe,
                process,
                handle_slot,
                waiting,
            });
            Ok(())
        })();
        match result {
            Ok(()) => Outcome::Deferred,
            Err(e) => Outcome::Reply(Reply::error(e)),
        }
    }

    /// Sends the saved reply of pending request `index` and forgets it.
    fn complete(&mut self, index: usize, reply: Reply) {
        let pending = self.pending.remove(index);
        let info = reply.prepare();
        let _ = pending.reply.send(info, reply.registers());
        self.replies.push(pending.reply);
    }

    /// Answers every waiting request that `matches` with `EBADF`.
    pub fn cancel_pending(&mut self, matches: impl Fn(&Pending) -> bool) {
        let mut i = 0;
        while i < self.pending.len() {
            if matches(&self.pending[i]) {
                self.complete(i, Reply::error(Errno::EBADF));
            } else {
                i += 1;
            }
        }
    }

    /// `FdRead` on a pipe's read end.
    pub fn pipe_read(
        &mut self,
        handle: HandleId,
        process: u64,
        pipe: usize,
        length: usize,
        dont_wait: bool,
    ) -> Outcome {
        let window = match self.window_ptr(process, length) {
            Ok(w) => w,
            Err(e) => return Outcome::Reply(Reply::error(e)),
        };
        let nonblocking = self
            .table
            .description(handle)
            .is_ok_and(|d| d.flags & O_NONBLOCK != 0);
        let Some(p) = self.table.pipe(pipe) else {
            return Outcome::Reply(Reply::error(Errno::EBADF));
        };
        if !p.ring.is_empty() {
            // SAFETY: `window` is the process's mapped window (window_ptr checked it); the
            // ring is heap memory: no overlap, and no other reference to the window lives.
            let count = p.ring.read(unsafe { &mut *window });
            self.pump(pipe);
            return Outcome::Reply(Reply::ok(&[count as u64]));
        }
        if p.writers == 0 || length == 0 {
            return Outcome::Reply(Reply::ok(&[0]));
        }
        if dont_wait || nonblocking {
            return Outcome::Reply(Reply::error(Errno::EAGAIN));
        }
        self.defer(handle, process, pipe, Waiting::Read { length })
    }

    /// `FdWrite` on a pipe's write end.
    pub fn pipe_write(
        &mut self,
        handle: HandleId,
        process: u64,
        pipe: usize,
        length: usize,
        flags: u64,
    ) -> Outcome {
        let window = match self.window_ptr(process, length) {
            Ok(w) => w,
            Err(e) => return Outcome::Reply(Reply::error(e)),
        };
        let queued = self
            .pending
            .iter()
            .any(|p| p.pipe == pipe && matches!(p.waiting, Waiting::Write { .. }));
        let Some(p) = self.table.pipe(pipe) else {
            return Outcome::Reply(Reply::error(Errno::EBADF));
        };
        if p.readers == 0 {
            self.post_event(process, SIGPIPE);
            return Outcome::Reply(Reply::error(Errno::EPIPE));
        }
        let atomic = length <= PIPE_BUF;
        let mut done = 0;
        if !queued && (!atomic || p.ring.free() >= length) {
            // SAFETY: as in `pipe_read`: the mapped window, read only.
            done = p.ring.write(unsafe { &*window });
            self.pump(pipe);
        }
        if done == length {
            return Outcome::Reply(Reply::ok(&[length as u64]));
        }
        if flags & O_NONBLOCK != 0 {
            return Outcome::Reply(if done > 0 {
                Reply::ok(&[done as u64])
            } else {
                Reply::error(Errno::EAGAIN)
            });
        }
        self.defer(handle, process, pipe, Waiting::Write { length, done })
    }

    /// Moves data between the pipe and its waiting requests until nothing changes.
    pub fn pump(&mut self, pipe: usize) {
        loop {
            let mut progress = false;
            let reader = self
                .pending
                .iter()
                .position(|p| p.pipe == pipe && matches!(p.waiting, Waiting::Read { .. }));
            if let Some(index) = reader {
                let (process, Waiting::Read { length }) =
                    (self.pending[index].process, self.pending[index].waiting)
                else {
                    return;
                };
                let has_data = self.table.pipe(pipe).is_some_and(|p| !p.ring.is_empty());
                if has_data {
                    let reply = match self.window_ptr(process, length) {
                        Ok(window) => {
                            let p = self.table.pipe(pipe);
                            // SAFETY: the waiting process's mapped window; no overlap.
                            let count = p.map_or(0, |p| p.ring.read(unsafe { &mut *window }));
                            Reply::ok(&[count as u64])
                        }
                        Err(e) => Reply::error(e),
                    };
                    self.complete(index, reply);
                    progress = true;
                }
            }
            let writer = self
                .pending
                .iter()
                .position(|p| p.pipe == pipe && matches!(p.waiting, Waiting::Write { .. }));
            if let Some(index) = writer {
                let (process, Waiting::Write { length, done }) =
                    (self.pending[index].process, self.pending[index].waiting)
                else {
                    return;
                };
                let window = match self.window_ptr(process, length) {
                    Ok(window) => window,
                    Err(e) => {
                        self.complete(index, Reply::error(e));
                        continue;
                    }
                };
                let Some(p) = self.table.pipe(pipe) else {
                    return;
                };
                let left = length - done;
                if length > PIPE_BUF || p.ring.free() >= left {
                    // SAFETY: the waiting process's mapped window, read only.
                    let window = unsafe { &*window };
                    let n = p.ring.write(&window[done..length]);
                    if n > 0 {
                        progress = true;
                    }
                    if done + n == length {
                        self.complete(index, Reply::ok(&[length as u64]));
                    } else if let Waiting::Write { done, .. } = &mut self.pending[index].waiting {
                        *done += n;
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// The last description on one end of `pipe` is gone.
    pub fn pipe_end_closed(&mut self, pipe: usize, read_end: bool) {
        let Some(p) = self.table.pipe(pipe) else {
            return;
        };
        let none_left = if read_end {
            p.readers = p.readers.saturating_sub(1);
            p.readers == 0
        } else {
            p.writers = p.writers.saturating_sub(1);
            p.writers == 0
        };
        if none_left {
            let mut i = 0;
            while i < self.pending.len() {
                let pending = &self.pending[i];
                if pending.pipe != pipe {
                    i += 1;
                    continue;
                }
                match pending.waiting {
                    // Every writer gone: a waiting reader sees the end of the file.
                    Waiting::Read { .. } if !read_end => self.complete(i, Reply::ok(&[0])),
                    // Every reader gone: a waiting writer gets EPIPE (or what it wrote).
                    Waiting::Write { done, .. } if read_end => {
                        let process = pending.process;
                        if done == 0 {
                            self.post_event(process, SIGPIPE);
                        }
                        let reply = if done > 0 {
                            Reply::ok(&[done as u64])
                        } else {
                            Reply::error(Errno::EPIPE)
                        };
                        self.complete(i, reply);
                    }
                    _ => i += 1,
                }
            }
        }
        self.table.collect_pipe(pipe);
    }
}
