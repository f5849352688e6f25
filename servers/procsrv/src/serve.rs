//! The receive loop: decode each message, answer it (or save the reply to answer later).

use crate::ops::RequestCaps;
use crate::Server;
use libsys::abi::MessageInfo;
use libsys::cap::{CNode, Cap, Received, SlotPath};
use libsys::object::CapKind;
use libsys::syscall;
use libsys::time::now;
use procsrv_api::{
    badge, decode_hatch, label, phase, Errno, RequestPages, HATCH_HEADER_WORDS,
    MAX_PAGED_REQUEST_BYTES, MAX_REQUEST_BYTES, NO_OP, REPLY_ERROR, REPLY_OK, SMALL_REQUEST_BYTES,
};

/// What to answer.
pub enum Answer {
    /// Reply with words 0..n (n ≤ 4) and label.
    Words(u64, usize, [u64; 4]),
    /// Reply with words and one cap (a procsrv slot, deleted after the reply).
    WithCap(u64, usize, [u64; 4], u64),
    /// Reply with `n` words, those past 3 already in the IPC buffer.
    Long(u64, usize, [u64; 4]),
    /// No reply now (saved, or the caller is gone).
    Nothing,
}

/// An error answer.
pub fn error(errno: Errno) -> Answer {
    Answer::Words(REPLY_ERROR, 4, [errno.number(), NO_OP, 0, 0])
}

/// A success answer with `n` words.
pub fn ok(n: usize, words: [u64; 4]) -> Answer {
    Answer::Words(REPLY_OK, n, words)
}

impl Server {
    /// Serves forever.
    pub fn serve(&mut self) -> ! {
        let mut answer = Answer::Nothing;
        let mut leftover_cap = 0u64;
        // The slot the last request's cap arrived in, emptied after the reply; the next
        // message is received in the other one (`Server::receive_slots`).
        let mut spent_receive_slot = 0u64;
        loop {
            syscall::set_receive_slot(self.receive_slot);
            let received = match (answer, self.cpu_deadline) {
                (Answer::Nothing, None) => self.endpoint.recv(),
                (Answer::Words(label, n, words) | Answer::Long(label, n, words), None) => self
                    .endpoint
                    .reply_recv(MessageInfo::new(label, n as u64, 0), words),
                (Answer::WithCap(label, n, words, cap), None) => {
                    syscall::set_send_cap(0, cap);
                    leftover_cap = cap;
                    self.endpoint
                        .reply_recv(MessageInfo::new(label, n as u64, 1), words)
                }
                // A process has a finite RLIMIT_CPU: reply, then wait no later than its
                // next check (`crate::cpu`).
                (answer, Some(deadline)) => {
                    match answer {
                        Answer::Nothing => {}
                        Answer::Words(label, n, words) | Answer::Long(label, n, words) => {
                            let _ = libsys::cap::reply(MessageInfo::new(label, n as u64, 0), words);
                        }
                        Answer::WithCap(label, n, words, cap) => {
                            syscall::set_send_cap(0, cap);
                            leftover_cap = cap;
                            let _ = libsys::cap::reply(MessageInfo::new(label, n as u64, 1), words);
                        }
                    }
                    self.endpoint.recv_timeout(deadline)
                }
            };
            let t = now();
            // What the last reply sent (a handle: the parent has its copy) and the cap the
            // last request brought: both emptied with one `CNodeDeleteBatch`.
            let spent = [leftover_cap, spent_receive_slot];
            let mut slots = [SlotPath::at(0); 2];
            let mut count = 0;
            for slot in spent.into_iter().filter(|&s| s != 0) {
                slots[count] = SlotPath::at(slot);
                count += 1;
            }
            if count > 0 {
                let root = Cap::<CNode>::from_cptr(libsys::bootinfo::SLOT_CNODE);
                let _ = root.delete_batch(&slots[..count]);
            }
            if leftover_cap != 0 {
                self.alloc.slots.free(leftover_cap);
                leftover_cap = 0;
            }
            spent_receive_slot = 0;
            self.phases.add(phase::LOOP, t);
            let mut cap_arrived = false;
            answer = match received {
                Ok(message) => {
                    cap_arrived = message.info.caps() > message.info.caps_unwrapped();
                    self.dispatch(&message)
                }
                Err(_) => Answer::Nothing,
            };
            if self.table.cpu_limits_changed || self.cpu_deadline.is_some_and(|d| now() >= d) {
                self.enforce_cpu_limits();
            }
            // A request's cap is used only during its call (a message that brought none left
            // the slot empty): emptied after the reply, above, while the next message
            // arrives in the other slot.
            if cap_arrived {
                spent_receive_slot = self.receive_slot;
                core::mem::swap(&mut self.receive_slot, &mut self.other_receive_slot);
            }
        }
    }

    fn dispatch(&mut self, m: &Received) -> Answer {
        let pid = m.badge & badge::PID_MASK;
        match m.badge & badge::KIND_MASK {
            badge::FAULT => match self.table.pid_of_block(pid as usize) {
                Some(pid) => self.fault(pid, m),
                None => Answer::Nothing,
            },
            badge::PROCESS => self.own_call(pid, m),
            badge::HANDLE => self.handle_call(pid, m),
            crate::fsrv::EVENTS_BADGE => {
                self.file_events();
                Answer::Nothing
            }
            _ => error(Errno::EACCES),
        }
    }

    fn own_call(&mut self, pid: u64, m: &Received) -> Answer {
        if self.table.get(pid).is_none() {
            return error(Errno::ESRCH);
        }
        let w = m.words;
        match m.info.label() {
            label::HATCH => self.hatch_call(pid, m),
            label::LAUNCH_CREATE => self.launch_create(pid, m),
            label::LAUNCH_ADD => self.launch_add(pid, m),
            label::LAUNCH_START => self.launch_start(pid, m),
            label::SPAWN_STRUCT => self.spawn_struct(pid, m),
            label::EXIT => self.exit(pid, w[0]),
            label::WAIT => self.wait(pid, w[0], w[1]),
            label::KILL => self.kill_call(pid, w[0] as i64, w[1]),
            label::IDS => self.ids(pid),
            label::INFO => self.info(pid),
            label::CLOCK => ok(1, [self.tsc_hz, 0, 0, 0]),
            label::SET_CWD => self.set_cwd(pid, m),
            label::SIGIGNORE => self.sigignore(pid, w[0]),
            label::UMASK => self.set_umask(pid, w[0]),
            label::SETRLIMIT => self.set_rlimit(pid, w[0], w[1], w[2]),
            label::SUPPORTED => ok(1, [u64::from(egg::is_supported(w[0])), 0, 0, 0]),
            label::LIMITS => self.limits(),
            label::LIST => self.list(w[0]),
            label::INJECT if self.options.fault_injection => {
                let step = u32::try_from(w[0]).ok();
                self.loader.fail_allocation(step);
                self.build_cold = w[1] != 0;
                ok(0, [0; 4])
            }
            label::TEST_FILE_SERVER if self.options.fault_injection => self.test_file_server(m),
            label::PHASES => self.phases_call(w[0]),
            label::USAGE => {
                let (blocks, slots) = self.usage();
                ok(
                    3,
                    [blocks as u64, slots, self.table.iter().count() as u64, 0],
                )
            }
            _ => error(Errno::ENOSYS),
        }
    }

    fn handle_call(&mut self, pid: u64, m: &Received) -> Answer {
        if self.table.get(pid).is_none() {
            return error(Errno::ESRCH);
        }
        match m.info.label() {
            label::WAIT => self.wait_handle(pid, m.words[1]),
            label::KILL => self.kill_one(None, pid, m.words[0]),
            label::RESUME => self.resume(pid),
            label::IDS => self.ids(pid),
            label::INFO => self.info(pid),
            _ => error(Errno::ENOSYS),
        }
    }

    /// `TEST_FILE_SERVER`: the endpoint cap sent (or none) becomes the file server.
    fn test_file_server(&mut self, m: &Received) -> Answer {
        let endpoint = if m.info.caps() == 1 && m.info.caps_unwrapped() == 0 {
            let Ok(slot) = self.alloc.slot() else {
                return error(Errno::ENOMEM);
            };
            let root = Cap::<CNode>::from_cptr(libsys::bootinfo::SLOT_CNODE);
            let is_endpoint = matches!(
                Cap::<CNode>::from_cptr(self.receive_slot).identify(),
                Ok(id) if id.cap_kind() == Some(CapKind::Endpoint)
            );
            if !is_endpoint
                || root
                    .move_cap(SlotPath::at(slot), SlotPath::at(self.receive_slot))
                    .is_err()
            {
                self.alloc.slots.free(slot);
                return error(Errno::EBADF);
            }
            Some(slot)
        } else {
            None
        };
        match self.files.replace_test_server(&mut self.alloc, endpoint) {
            Ok(()) => ok(0, [0; 4]),
            Err(e) => {
                if let Some(slot) = endpoint {
                    let _ = self.alloc.free_slot(slot);
                }
                error(e)
            }
        }
    }

    fn limits(&self) -> Answer {
        let mut bitmap = 0u64;
        for n in 1..64 {
            if egg::is_supported(n) {
                bitmap |= 1 << n;
            }
        }
        syscall::set_word(4, bitmap);
        Answer::Long(
            REPLY_OK,
            5,
            [
                u64::MAX,
                1 << procsrv_api::MAX_CAP_RADIX,
                MAX_PAGED_REQUEST_BYTES as u64,
                crate::table::MAX_PROCS as u64,
            ],
        )
    }

    /// What procsrv knows about process `pid` ([`label::INFO`]).
    fn info(&self, pid: u64) -> Answer {
        let Some(p) = self.table.get(pid) else {
            return error(Errno::ESRCH);
        };
        let mut info = p.info();
        // The controlling terminal is kept on the session leader.
        info.ctty = self
            .table
            .get(p.sid.into())
            .map_or(p.ctty, |leader| leader.ctty);
        let words = info.to_words();
        for (i, &w) in words.iter().enumerate().skip(4) {
            syscall::set_word(i, w);
        }
        Answer::Long(
            REPLY_OK,
            procsrv_api::ProcessInfo::WORDS,
            [words[0], words[1], words[2], words[3]],
        )
    }

    /// Sets process `pid`'s working directory ([`label::SET_CWD`]).
    fn set_cwd(&mut self, pid: u64, m: &Received) -> Answer {
        let length = m.words[0] as usize;
        let words = length.div_ceil(8);
        if length == 0 || length > crate::table::CWD_LEN || m.info.length() as usize != 1 + words {
            return error(Errno::EINVAL);
        }
        let mut path = [0u8; crate::table::CWD_LEN];
        for (i, chunk) in path.chunks_mut(8).take(words).enumerate() {
            let w = if i < 3 {
                m.words[1 + i]
            } else {
                syscall::word(1 + i)
            };
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        if path[0] != b'/' || path[..length].contains(&0) {
            return error(Errno::EINVAL);
        }
        path[length..].fill(0);
        match self.table.get_mut(pid) {
            Some(p) => {
                p.cwd = path;
                p.cwd_len = length;
                ok(0, [0; 4])
            }
            None => error(Errno::ESRCH),
        }
    }

    /// Adds `set` to process `pid`'s ignored signals ([`label::SIGIGNORE`]); the file
    /// server learns it (a terminal treats a group that ignores SIGTTOU or SIGTTIN apart).
    fn sigignore(&mut self, pid: u64, set: u64) -> Answer {
        use procsrv_api::signal::{SIGKILL, SIGSTOP};
        let unignorable = 1 << (SIGKILL - 1) | 1 << (SIGSTOP - 1);
        if set & unignorable != 0 {
            return error(Errno::EINVAL);
        }
        let Some(p) = self.table.get_mut(pid) else {
            return error(Errno::ESRCH);
        };
        let before = p.sigignore;
        p.sigignore |= set;
        p.pending &= !set;
        if let Some(p) = self.table.get(pid) {
            if let Err(e) = self.files.register(p) {
                return error(e);
            }
        }
        ok(1, [before, 0, 0, 0])
    }

    /// Sets process `pid`'s umask ([`label::UMASK`]); the file server learns it.
    fn set_umask(&mut self, pid: u64, mask: u64) -> Answer {
        let Ok(mask) =
            u32::try_from(mask).map_err(drop).and_then(
                |m| {
                    if m <= 0o777 {
                        Ok(m)
                    } else {
                        Err(())
                    }
                },
            )
        else {
            return error(Errno::EINVAL);
        };
        let Some(p) = self.table.get_mut(pid) else {
            return error(Errno::ESRCH);
        };
        let before = p.umask;
        p.umask = mask;
        if let Some(p) = self.table.get(pid) {
            if let Err(e) = self.files.register(p) {
                return error(e);
            }
        }
        ok(1, [before.into(), 0, 0, 0])
    }

    /// Sets process `pid`'s limits of `resource` ([`label::SETRLIMIT`]), POSIX's rules: the
    /// soft limit at most the hard one, the hard one raised only when privileged.
    fn set_rlimit(&mut self, pid: u64, resource: u64, soft: u64, hard: u64) -> Answer {
        let Some(index) = usize::try_from(resource)
            .ok()
            .filter(|&i| i < crate::table::RLIMITS)
        else {
            return error(Errno::EINVAL);
        };
        if soft > hard {
            return error(Errno::EINVAL);
        }
        let Some(p) = self.table.get_mut(pid) else {
            return error(Errno::ESRCH);
        };
        if hard > p.limits[index].1 && !p.creds.privileged() {
            return error(Errno::EPERM);
        }
        p.limits[index] = (soft, hard);
        if index == crate::table::RLIMIT_CPU {
            self.table.cpu_limits_changed = true;
        }
        ok(0, [0; 4])
    }

    fn list(&self, from: u64) -> Answer {
        /// Entries that fit a message (512 words, 4 before them).
        const PER_REPLY: usize = (512 - 4) / procsrv_api::PsEntry::WORDS;
        let mut n = 0;
        let mut pids: [u64; PER_REPLY] = [u64::MAX; PER_REPLY];
        for p in self.table.iter().filter(|p| u64::from(p.pid) >= from) {
            if n < PER_REPLY {
                pids[n] = p.pid.into();
                n += 1;
            }
        }
        pids[..n].sort_unstable();
        for (i, &pid) in pids[..n].iter().enumerate() {
            if let Some(p) = self.table.get(pid) {
                let mut entry = p.entry();
                // The session's terminal is kept on its leader.
                entry.tty = self
                    .table
                    .get(p.sid.into())
                    .filter(|leader| leader.ctty)
                    .map_or(0, |leader| leader.tty);
                for (k, w) in entry.to_words().iter().enumerate() {
                    syscall::set_word(4 + i * procsrv_api::PsEntry::WORDS + k, *w);
                }
            }
        }
        let words = 4 + n * procsrv_api::PsEntry::WORDS;
        Answer::Long(REPLY_OK, words, [n as u64, 0, 0, 0])
    }

    fn phases_call(&mut self, reset: u64) -> Answer {
        if reset != 0 {
            self.phases.reset();
        }
        for i in 4..phase::REPLY_WORDS {
            syscall::set_word(i, self.phases.word(i));
        }
        let first = [0, 1, 2, 3].map(|i| self.phases.word(i));
        Answer::Long(REPLY_OK, phase::REPLY_WORDS, first)
    }

    fn hatch_call(&mut self, pid: u64, m: &Received) -> Answer {
        let t = now();
        let length = m.info.length() as usize;
        if length < HATCH_HEADER_WORDS {
            return error(Errno::EFAULT);
        }
        let mut header = [0u64; HATCH_HEADER_WORDS];
        header[..4].copy_from_slice(&m.words);
        header[4] = syscall::word(4);
        header[5] = syscall::word(5);
        let (radix, pages) = match RequestPages::from_word(header[4]) {
            Ok(p) => p,
            Err(e) => return error(e.errno()),
        };
        let caps = match self.request_caps(m, radix) {
            Ok(c) => c,
            Err(e) => return error(e),
        };
        // A small request (the usual: a program, a few arguments, an egg of tens of bytes)
        // is copied into a small buffer: zeroing the whole 4 KiB one cost about 500
        // instructions per hatch.
        let mut small = [0u8; SMALL_REQUEST_BYTES];
        let mut big;
        let paged;
        let request_bytes: &[u8] = if pages.count == 0 {
            let words = (length - HATCH_HEADER_WORDS).min(MAX_REQUEST_BYTES / 8);
            let bytes: &mut [u8] = if words * 8 <= SMALL_REQUEST_BYTES {
                &mut small
            } else {
                big = [0u8; MAX_REQUEST_BYTES];
                &mut big
            };
            for i in 0..words {
                let w = syscall::word(HATCH_HEADER_WORDS + i).to_le_bytes();
                bytes[i * 8..i * 8 + 8].copy_from_slice(&w);
            }
            &bytes[..words * 8]
        } else {
            // A request too big for the IPC buffer: its bytes are in pages of the CNode.
            paged = match self.read_request_pages(caps.slot, radix, pages) {
                Ok(b) => b,
                Err(e) => return error(e),
            };
            paged
        };
        let request = match decode_hatch(&header, request_bytes) {
            Ok(r) => r,
            Err(e) => return error(e.errno()),
        };
        self.phases.add(phase::REQUEST, t);
        let result = self.hatch_with_handle(pid as u32, &request, caps);
        self.hatch_answer(result)
    }

    /// The reply to a hatch: the pid and its handle, or the failure.
    pub(crate) fn hatch_answer(
        &mut self,
        result: Result<crate::hatch::Hatched, crate::hatch::HatchFailure>,
    ) -> Answer {
        match result {
            Ok(hatched) => {
                let t = now();
                let words = [hatched.pid.into(), 0, 0, 0];
                let answer = match hatched.handle {
                    Some(slot) => Answer::WithCap(REPLY_OK, 1, words, slot),
                    None => Answer::Words(REPLY_OK, 1, words),
                };
                self.phases.add(phase::HANDLE, t);
                answer
            }
            Err(f) => Answer::Words(
                REPLY_ERROR,
                4,
                [f.errno.number(), f.op_index, f.op_offset, f.fault_offset],
            ),
        }
    }

    /// The CNode of caps a request sent, checked.
    pub(crate) fn request_caps(&self, m: &Received, radix: u64) -> Result<RequestCaps, Errno> {
        if radix == 0 {
            return Ok(RequestCaps { slot: 0, radix: 0 });
        }
        let transferred = m.info.caps() == 1 && m.info.caps_unwrapped() == 0;
        if !transferred {
            return Err(Errno::EBADF);
        }
        let cap = Cap::<CNode>::from_cptr(self.receive_slot);
        match cap.identify() {
            Ok(id) if id.cap_kind() == Some(CapKind::CNode) => Ok(RequestCaps {
                slot: self.receive_slot,
                radix,
            }),
            _ => Err(Errno::EBADF),
        }
    }
}
