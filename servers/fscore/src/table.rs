//! Open file descriptions and the handles processes hold on them.
//!
//! An **open file description** is what `open` makes: the object, the open flags and the
//! file offset (shared by every fd that refers to it, as in POSIX). A **handle** is one
//! process's hold on a description: the server mints one fd cap per handle, badged with
//! the handle's [`HandleId`], and the process's copies of that cap (`dup`, `dup2`) all name
//! the same handle. The process says how many copies it holds (`FdDup` / `FdClose`, sent by
//! libsys next to the CNode copy or delete); the last close ends the handle, and procsrv's
//! `CtlProcessExit` ends all of a process's handles at once. A description lives while a
//! handle refers to it; a pipe end lives while a description refers to it, which is how the
//! server knows every writer (or reader) is gone.
//!
//! Limits: [`MAX_HANDLES_PER_PROCESS`] per process (`EMFILE`), [`MAX_HANDLES`] in all
//! (`ENFILE`).

use crate::fs::NodeId;
use crate::pipe::PipeRing;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use fs_api::{Errno, MAX_HANDLES, MAX_HANDLES_PER_PROCESS};

/// Most copies of one handle one process may claim to hold.
pub const MAX_COPIES: u32 = 4096;
/// Most pipes at once (their rings take 64 KiB of the server's heap each): more is
/// `ENFILE`, as Linux answers when its pipe memory is used up.
pub const MAX_PIPES: usize = 64;

/// What a description is open on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// A node of the namespace (file, directory, non-terminal device).
    Node(NodeId),
    /// The read end of pipe `n`.
    PipeRead(usize),
    /// The write end of pipe `n`.
    PipeWrite(usize),
    /// Terminal `n` (0 is the console, `n + 1` the slave of pty `n`) through node
    /// `NodeId`.
    Terminal(usize, NodeId),
    /// The master side of pty `n`.
    PtyMaster(usize),
}

/// An open file description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// What it is open on.
    pub object: Object,
    /// The open flags (access mode, `O_APPEND`, `O_NONBLOCK`...).
    pub flags: u64,
    /// The file offset.
    pub offset: u64,
    /// Handles that refer to it.
    handles: u32,
}

/// A handle's badge payload: the slot in the table and its generation.
pub type HandleId = u64;

const GENERATION_SHIFT: u32 = 16;

/// A process's hold on a description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    /// The description.
    pub description: usize,
    /// The process (procsrv's id) holding it.
    pub process: u64,
    /// Copies of its cap the process holds.
    copies: u32,
}

/// A pipe: its ring and how many descriptions are open on each end.
pub struct Pipe {
    /// The bytes in flight.
    pub ring: PipeRing,
    /// Read-end descriptions.
    pub readers: u32,
    /// Write-end descriptions.
    pub writers: u32,
    /// Whether the write end has been handed out (`FdPipeWriteEnd` works once).
    pub write_end_taken: bool,
}

/// What ending a handle released.
#[derive(Debug, PartialEq, Eq)]
pub struct Released {
    /// The handle's slot (the server revokes the cap it minted for it).
    pub slot: usize,
    /// The description, if that was its last handle (the server releases its object).
    pub description: Option<Description>,
}

/// Descriptions, handles and pipes.
#[derive(Default)]
pub struct Table {
    descriptions: Vec<Option<Description>>,
    handles: Vec<Option<Handle>>,
    generations: Vec<u32>,
    per_process: BTreeMap<u64, usize>,
    pipes: Vec<Option<Pipe>>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// A table with room for [`MAX_HANDLES`] handles and descriptions, so that it never
    /// grows while serving.
    ///
    /// # Errors
    /// `ENOMEM`.
    pub fn with_full_capacity() -> Result<Self, Errno> {
        let mut table = Table::new();
        let oom = |_| Errno::ENOMEM;
        table
            .descriptions
            .try_reserve_exact(MAX_HANDLES)
            .map_err(oom)?;
        table.handles.try_reserve_exact(MAX_HANDLES).map_err(oom)?;
        table
            .generations
            .try_reserve_exact(MAX_HANDLES)
            .map_err(oom)?;
        table.pipes.try_reserve_exact(MAX_HANDLES).map_err(oom)?;
        Ok(table)
    }

    /// Live handles.
    pub fn handle_count(&self) -> usize {
        self.handles.iter().filter(|h| h.is_some()).count()
    }

    /// Live descriptions.
    pub fn description_count(&self) -> usize {
        self.descriptions.iter().filter(|d| d.is_some()).count()
    }

    /// Live pipes.
    pub fn pipe_count(&self) -> usize {
        self.pipes.iter().filter(|p| p.is_some()).count()
    }

    /// Handles `process` holds.
    pub fn handles_of(&self, process: u64) -> usize {
        self.per_process.get(&process).copied().unwrap_or(0)
    }

    fn check_limits(&self, process: u64) -> Result<usize, Errno> {
        if self.handles_of(process) >= MAX_HANDLES_PER_PROCESS {
            return Err(Errno::EMFILE);
        }
        match self.handles.iter().position(Option::is_none) {
            Some(slot) => Ok(slot),
            None if self.handles.len() < MAX_HANDLES => Ok(self.handles.len()),
            None => Err(Errno::ENFILE),
        }
    }

    fn install_handle(
        &mut self,
        slot: usize,
        description: usize,
        process: u64,
    ) -> Result<HandleId, Errno> {
        if slot == self.handles.len() {
            self.handles.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            self.generations.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            self.handles.push(None);
            self.generations.push(0);
        }
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        self.handles[slot] = Some(Handle {
            description,
            process,
            copies: 1,
        });
        *self.per_process.entry(process).or_insert(0) += 1;
        if let Some(Some(d)) = self.descriptions.get_mut(description) {
            d.handles += 1;
        }
        Ok(slot as u64 | (u64::from(self.generations[slot]) << GENERATION_SHIFT))
    }

    /// Makes a description on `object` and a handle on it for `process` (one copy).
    /// Returns the handle.
    ///
    /// # Errors
    /// `EMFILE`, `ENFILE`, `ENOMEM`; nothing is made then.
    pub fn open(&mut self, object: Object, flags: u64, process: u64) -> Result<HandleId, Errno> {
        let slot = self.check_limits(process)?;
        let description = Description {
            object,
            flags,
            offset: 0,
            handles: 0,
        };
        let index = match self.descriptions.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.descriptions
                    .try_reserve(1)
                    .map_err(|_| Errno::ENOMEM)?;
                self.descriptions.push(None);
                self.descriptions.len() - 1
            }
        };
        self.descriptions[index] = Some(description);
        match self.install_handle(slot, index, process) {
            Ok(id) => Ok(id),
            Err(e) => {
                self.descriptions[index] = None;
                Err(e)
            }
        }
    }

    /// A new handle for `process` on the description `id` refers to (fd inheritance).
    ///
    /// # Errors
    /// `EBADF` (unknown handle), `EMFILE`, `ENFILE`, `ENOMEM`.
    pub fn share(&mut self, id: HandleId, process: u64) -> Result<HandleId, Errno> {
        let description = self.handle(id)?.description;
        let slot = self.check_limits(process)?;
        self.install_handle(slot, description, process)
    }

    /// The slot of a live handle.
    ///
    /// # Errors
    /// `EBADF` for an unknown or stale id.
    pub fn slot(&self, id: HandleId) -> Result<usize, Errno> {
        let slot = (id & ((1 << GENERATION_SHIFT) - 1)) as usize;
        let generation = (id >> GENERATION_SHIFT) as u32;
        match (self.handles.get(slot), self.generations.get(slot)) {
            (Some(Some(_)), Some(&g)) if g == generation && id >> 48 == 0 => Ok(slot),
            _ => Err(Errno::EBADF),
        }
    }

    /// The handle `id` names.
    ///
    /// # Errors
    /// `EBADF` for an unknown or stale id.
    pub fn handle(&self, id: HandleId) -> Result<&Handle, Errno> {
        let slot = self.slot(id)?;
        self.handles[slot].as_ref().ok_or(Errno::EBADF)
    }

    /// The description handle `id` refers to.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn description(&mut self, id: HandleId) -> Result<&mut Description, Errno> {
        let index = self.handle(id)?.description;
        self.descriptions
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// The process holds one more copy of `id`.
    ///
    /// # Errors
    /// `EBADF`, `EMFILE` past [`MAX_COPIES`].
    pub fn dup(&mut self, id: HandleId) -> Result<(), Errno> {
        let slot = self.slot(id)?;
        let handle = self.handles[slot].as_mut().ok_or(Errno::EBADF)?;
        if handle.copies >= MAX_COPIES {
            return Err(Errno::EMFILE);
        }
        handle.copies += 1;
        Ok(())
    }

    /// The process holds one copy fewer of `id`; the last one ends the handle.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn close(&mut self, id: HandleId) -> Result<Option<Released>, Errno> {
        let slot = self.slot(id)?;
        let handle = self.handles[slot].as_mut().ok_or(Errno::EBADF)?;
        handle.copies -= 1;
        if handle.copies > 0 {
            return Ok(None);
        }
        Ok(Some(self.end_handle(slot)))
    }

    fn end_handle(&mut self, slot: usize) -> Released {
        let Some(handle) = self.handles[slot].take() else {
            return Released {
                slot,
                description: None,
            };
        };
        if let Some(count) = self.per_process.get_mut(&handle.process) {
            *count -= 1;
            if *count == 0 {
                self.per_process.remove(&handle.process);
            }
        }
        let mut description = None;
        if let Some(entry) = self.descriptions.get_mut(handle.description) {
            if let Some(d) = entry {
                d.handles -= 1;
                if d.handles == 0 {
                    description = entry.take();
                }
            }
        }
        Released { slot, description }
    }

    /// Ends every handle of `process`.
    pub fn process_exit(&mut self, process: u64) -> Vec<Released> {
        let mut released = Vec::new();
        for slot in 0..self.handles.len() {
            if matches!(&self.handles[slot], Some(h) if h.process == process) {
                released.push(self.end_handle(slot));
            }
        }
        released
    }

    /// Makes a pipe with one reader and one writer description to come; returns its index.
    ///
    /// # Errors
    /// `ENFILE` past [`MAX_PIPES`], `ENOMEM`.
    pub fn new_pipe(&mut self) -> Result<usize, Errno> {
        if self.pipe_count() >= MAX_PIPES {
            return Err(Errno::ENFILE);
        }
        let ring = PipeRing::new().ok_or(Errno::ENOMEM)?;
        let pipe = Pipe {
            ring,
            readers: 0,
            writers: 0,
            write_end_taken: false,
        };
        let index = match self.pipes.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.pipes.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                self.pipes.push(None);
                self.pipes.len() - 1
            }
        };
        self.pipes[index] = Some(pipe);
        Ok(index)
    }

    /// Pipe `index`.
    pub fn pipe(&mut self, index: usize) -> Option<&mut Pipe> {
        self.pipes.get_mut(index).and_then(Option::as_mut)
    }

    /// Frees pipe `index` if no description is open on either end and the write end has
    /// been handed out or never will be.
    pub fn collect_pipe(&mut self, index: usize) {
        if let Some(entry) = self.pipes.get_mut(index) {
            if matches!(entry, Some(p) if p.readers == 0 && p.writers == 0) {
                *entry = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_lives_while_a_handle_refers_to_it() {
        let mut t = Table::new();
        let a = t.open(Object::Node(3), 0, 1).unwrap();
        let b = t.share(a, 2).unwrap();
        assert_ne!(a, b);
        t.description(a).unwrap().offset = 42;
        assert_eq!(t.description(b).unwrap().offset, 42, "offsets are shared");
        let first = t.close(a).unwrap().unwrap();
        assert_eq!(first.description, None);
        let last = t.close(b).unwrap().unwrap();
        assert_eq!(last.description.unwrap().object, Object::Node(3));
        assert_eq!(t.description_count(), 0);
        assert_eq!(t.handle_count(), 0);
    }

    #[test]
    fn copies_count_down_before_the_handle_ends() {
        let mut t = Table::new();
        let a = t.open(Object::Node(1), 0, 1).unwrap();
        t.dup(a).unwrap();
        t.dup(a).unwrap();
        assert_eq!(t.close(a), Ok(None));
        assert_eq!(t.close(a), Ok(None));
        assert!(t.close(a).unwrap().is_some());
        assert_eq!(t.close(a), Err(Errno::EBADF), "a closed handle is stale");
    }

    #[test]
    fn a_reused_slot_does_not_answer_to_the_old_badge() {
        let mut t = Table::new();
        let a = t.open(Object::Node(1), 0, 1).unwrap();
        t.close(a).unwrap();
        let b = t.open(Object::Node(2), 0, 1).unwrap();
        assert_eq!(t.slot(a), Err(Errno::EBADF));
        assert_eq!(t.slot(b), Ok(0));
        assert_eq!(t.handle(u64::MAX), Err(Errno::EBADF));
    }

    #[test]
    fn per_process_and_global_limits_answer_emfile_and_enfile() {
        let mut t = Table::new();
        for _ in 0..MAX_HANDLES_PER_PROCESS {
            t.open(Object::Node(1), 0, 7).unwrap();
        }
        assert_eq!(t.open(Object::Node(1), 0, 7), Err(Errno::EMFILE));
        let mut process = 100;
        while t.handle_count() < MAX_HANDLES {
            if t.handles_of(process) == MAX_HANDLES_PER_PROCESS {
                process += 1;
            }
            t.open(Object::Node(1), 0, process).unwrap();
        }
        assert_eq!(t.open(Object::Node(1), 0, 9999), Err(Errno::ENFILE));
        assert_eq!(
            t.description_count(),
            MAX_HANDLES,
            "a refused open leaves nothing"
        );
    }

    #[test]
    fn process_exit_ends_all_its_handles_and_only_those() {
        let mut t = Table::new();
        let a = t.open(Object::Node(1), 0, 1).unwrap();
        t.dup(a).unwrap();
        let shared = t.share(a, 2).unwrap();
        t.open(Object::Node(2), 0, 1).unwrap();
        let released = t.process_exit(1);
        assert_eq!(released.len(), 2);
        assert_eq!(
            released.iter().filter(|r| r.description.is_some()).count(),
            1,
            "the shared description survives"
        );
        assert!(t.handle(shared).is_ok());
        assert_eq!(t.handles_of(1), 0);
    }

    #[test]
    fn pipes_are_limited_in_number() {
        let mut t = Table::new();
        for _ in 0..MAX_PIPES {
            t.new_pipe().unwrap();
        }
        assert_eq!(t.new_pipe(), Err(Errno::ENFILE));
        t.collect_pipe(0);
        assert!(t.new_pipe().is_ok(), "a freed pipe makes room");
    }

    #[test]
    fn a_pipe_goes_when_both_ends_are_closed() {
        let mut t = Table::new();
        let p = t.new_pipe().unwrap();
        t.pipe(p).unwrap().readers = 1;
        t.collect_pipe(p);
        assert_eq!(t.pipe_count(), 1);
        t.pipe(p).unwrap().readers = 0;
        t.collect_pipe(p);
        assert_eq!(t.pipe_count(), 0);
    }
}
