//! The namespace protocol: requests through a process's namespace cap (`SLOT_FS`).

use crate::memory;
use crate::server::{caller_in, window_base, Reply, Request, Server};
use fs_api::server::SLOT_RECEIVE;
use fs_api::{words_for, Errno, Label, PATH_MAX, PATH_WORD, WINDOW_PAGES};
use fscore::table::Object;

impl Server {
    pub(crate) fn namespace(
        &mut self,
        process: u64,
        label: Label,
        request: &Request,
    ) -> Result<Reply, Errno> {
        let mut path = [0u8; PATH_MAX];
        caller_in(&self.processes, process)?;
        match label {
            Label::NsOpen => {
                request.need(3)?;
                let path = request.bytes(PATH_WORD, request.word(2), &mut path)?;
                self.open(process, path, request.word(0), request.word(1))
            }
            Label::NsStat => {
                request.need(1)?;
                let path = request.bytes(PATH_WORD, request.word(0), &mut path)?;
                let id = self.fs.lookup(caller_in(&self.processes, process)?, path)?;
                Ok(Reply::ok(&self.fs.stat(id)?.to_words()))
            }
            Label::NsMkdir => {
                request.need(2)?;
                let path = request.bytes(PATH_WORD, request.word(1), &mut path)?;
                let caller = caller_in(&self.processes, process)?;
                self.fs
                    .mkdir(caller, path, request.word(0))
                    .map(|_| Reply::ok(&[]))
            }
            Label::NsUnlink | Label::NsRmdir => {
                request.need(1)?;
                let path = request.bytes(PATH_WORD, request.word(0), &mut path)?;
                let caller = caller_in(&self.processes, process)?;
                if label == Label::NsUnlink {
                    self.fs.unlink(caller, path)?;
                } else {
                    if self
                        .processes
                        .values()
                        .any(|q| self.fs.lookup(caller, path).is_ok_and(|id| id == q.cwd))
                    {
                        return Err(Errno::EBUSY);
                    }
                    self.fs.rmdir(caller, path)?;
                }
                Ok(Reply::ok(&[]))
            }
            Label::NsRename => {
                request.need(2)?;
                let from = request.bytes(PATH_WORD, request.word(0), &mut path)?;
                let second = PATH_WORD + words_for(from.len());
                let mut to = [0u8; PATH_MAX];
                let to = request.bytes(second, request.word(1), &mut to)?;
                let caller = caller_in(&self.processes, process)?;
                self.fs.rename(caller, from, to).map(|_| Reply::ok(&[]))
            }
            Label::NsTruncate => {
                request.need(2)?;
                let path = request.bytes(PATH_WORD, request.word(1), &mut path)?;
                let caller = caller_in(&self.processes, process)?;
                self.fs
                    .truncate(caller, path, request.word(0))
                    .map(|_| Reply::ok(&[]))
            }
            Label::NsChdir => {
                request.need(1)?;
                let path = request.bytes(PATH_WORD, request.word(0), &mut path)?;
                self.chdir(process, path)
            }
            Label::NsPipe => self.pipe(process),
            Label::NsAttachWindow => self.attach_window(process, request),
            Label::NsStatistics => Ok(Reply::ok(&self.statistics().to_words())),
            _ if (label as u64) >> 8 == 2 => Err(Errno::EBADF),
            _ => Err(Errno::ENOSYS),
        }
    }

    pub(crate) fn chdir(&mut self, process: u64, path: &[u8]) -> Result<Reply, Errno> {
        let caller = caller_in(&self.processes, process)?;
        let id = self.fs.lookup(caller, path)?;
        self.fs.check_chdir(caller.who, id)?;
        if let Some(p) = self.processes.get_mut(&process) {
            p.cwd = id;
        }
        Ok(Reply::ok(&[]))
    }

    /// Opens `path` for `process` and replies with a new fd cap.
    pub(crate) fn open(
        &mut self,
        process: u64,
        path: &[u8],
        flags: u64,
        mode: u64,
    ) -> Result<Reply, Errno> {
        let caller = caller_in(&self.processes, process)?;
        if self.table.handles_of(process) >= fs_api::MAX_HANDLES_PER_PROCESS {
            return Err(Errno::EMFILE);
        }
        let (node, _) = self.fs.open(caller, path, flags, mode)?;
        let object = match self.fs.device(node) {
            Some(device) if device.is_terminal() => {
                let object = self.open_terminal(process, device, node, flags);
                if !matches!(object, Ok(Object::Terminal(..))) {
                    // A master (or a failure) holds no node.
                    self.fs.close(node);
                }
                object?
            }
            _ => Object::Node(node),
        };
        let id = match self
            .table
            .open(object, flags & !fs_api::flags::O_TRUNC, process)
        {
            Ok(id) => id,
            Err(e) => {
                self.close_object(object);
                return Err(e);
            }
        };
        self.reply_with_handle(id)
    }

    fn pipe(&mut self, process: u64) -> Result<Reply, Errno> {
        let pipe = self.table.new_pipe()?;
        match self
            .table
            .open(Object::PipeRead(pipe), fs_api::flags::O_RDONLY, process)
        {
            Ok(id) => {
                if let Some(p) = self.table.pipe(pipe) {
                    p.readers = 1;
                }
                self.reply_with_handle(id)
            }
            Err(e) => {
                self.table.collect_pipe(pipe);
                Err(e)
            }
        }
    }

    fn attach_window(&mut self, process: u64, request: &Request) -> Result<Reply, Errno> {
        request.need(1)?;
        if !request.got_cap() {
            return Err(Errno::EINVAL);
        }
        let page = request.word(0);
        let p = self.processes.get_mut(&process).ok_or(Errno::ESRCH)?;
        if page != p.pages as u64 || p.pages >= WINDOW_PAGES {
            return Err(Errno::EINVAL);
        }
        let slot = memory::keep(SLOT_RECEIVE).ok_or(Errno::ENOMEM)?;
        let vaddr = window_base(p.window) + page * 4096;
        if !memory::map_page(slot, vaddr, true) {
            memory::free_slot(slot);
            return Err(Errno::EFAULT);
        }
        p.frames[p.pages] = slot;
        p.pages += 1;
        Ok(Reply::ok(&[]))
    }
}
