//! The receive loop: decode each message, answer it (or save the reply to answer later).

use crate::ops::RequestCaps;
use crate::Server;
use libsys::abi::MessageInfo;
use libsys::cap::{CNode, Cap, Received, SlotPath};
use libsys::object::{CapKind, Rights};
use libsys::syscall;
use libsys::time::now;
use procsrv_api::{
    badge, decode_hatch, label, phase, Errno, HATCH_HEADER_WORDS, MAX_REQUEST_BYTES, NO_OP,
    REPLY_ERROR, REPLY_OK,
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
        loop {
            syscall::set_receive_slot(self.receive_slot);
            let received = match answer {
                Answer::Nothing => self.endpoint.recv(),
                Answer::Words(label, n, words) | Answer::Long(label, n, words) => self
                    .endpoint
                    .reply_recv(MessageInfo::new(label, n as u64, 0), words),
                Answer::WithCap(label, n, words, cap) => {
                    syscall::set_send_cap(0, cap);
                    leftover_cap = cap;
                    self.endpoint
                        .reply_recv(MessageInfo::new(label, n as u64, 1), words)
                }
            };
            let t = now();
            if leftover_cap != 0 {
                let _ = self.alloc.free_slot(leftover_cap);
                leftover_cap = 0;
            }
            self.phases.add(phase::LOOP, t);
            let mut cap_arrived = false;
            answer = match received {
                Ok(message) => {
                    cap_arrived = message.info.caps() > message.info.caps_unwrapped();
                    self.dispatch(&message)
                }
                Err(_) => Answer::Nothing,
            };
            // A request's cap is used only during its call (a message that brought none left
            // the slot empty).
            if cap_arrived {
                let t = now();
                let root = Cap::<CNode>::from_cptr(libsys::bootinfo::SLOT_CNODE);
                let _ = root.delete(SlotPath::at(self.receive_slot));
                self.phases.add(phase::LOOP, t);
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
            label::EXIT => self.exit(pid, w[0]),
            label::WAIT => self.wait(pid, w[0], w[1]),
            label::KILL => self.kill_call(pid, w[0] as i64, w[1]),
            label::IDS => self.ids(pid),
            label::SUPPORTED => ok(1, [u64::from(egg::is_supported(w[0])), 0, 0, 0]),
            label::LIMITS => self.limits(),
            label::LIST => self.list(w[0]),
            label::INJECT if self.options.fault_injection => {
                let step = u32::try_from(w[0]).ok();
                self.loader.fail_allocation(step);
                self.build_cold = w[1] != 0;
                ok(0, [0; 4])
            }
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
            _ => error(Errno::ENOSYS),
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
                MAX_REQUEST_BYTES as u64,
                crate::table::MAX_PROCS as u64,
            ],
        )
    }

    fn list(&self, from: u64) -> Answer {
        const PER_REPLY: usize = 60;
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
                for (k, w) in p.entry().to_words().iter().enumerate() {
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
        let mut bytes = [0u8; MAX_REQUEST_BYTES];
        let words = (length - HATCH_HEADER_WORDS).min(MAX_REQUEST_BYTES / 8);
        for i in 0..words {
            let w = syscall::word(HATCH_HEADER_WORDS + i).to_le_bytes();
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w);
        }
        let request = match decode_hatch(&header, &bytes[..words * 8]) {
            Ok(r) => r,
            Err(e) => return error(e.errno()),
        };
        let caps = match self.request_caps(m, request.cap_radix) {
            Ok(c) => c,
            Err(e) => return error(e),
        };
        self.phases.add(phase::REQUEST, t);
        match self.hatch(pid as u32, &request, caps) {
            Ok(child) => {
                let t = now();
                let handle = badge::HANDLE | u64::from(child);
                let rights = Rights::WRITE.union(Rights::GRANT_REPLY);
                let answer = match self.mint_temporary(handle, rights) {
                    Ok(cap) => Answer::WithCap(REPLY_OK, 1, [child.into(), 0, 0, 0], cap.cptr()),
                    Err(_) => Answer::Words(REPLY_OK, 1, [child.into(), 0, 0, 0]),
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
    fn request_caps(&self, m: &Received, radix: u64) -> Result<RequestCaps, Errno> {
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
