//! The chatty and struct ways of describing a child (issue 10; `procsrv_api::alt`): both
//! are turned into an egg here and hatched by [`Server::hatch`], the code a `HATCH`
//! request runs, so that the same child is built by the same work and only the
//! description differs.

use crate::serve::{error, ok, Answer};
use crate::table::State;
use crate::{Global, Server};
use core::cell::UnsafeCell;
use libsys::cap::Received;
use libsys::syscall;
use procsrv_api::alt::{attribute_to_egg, ByteWriter, SpawnAttrs, MAX_LAUNCHES};
use procsrv_api::{decode_hatch, Errno, HATCH_HEADER_WORDS, MAX_REQUEST_BYTES};

/// One open chatty launch: a hatch request being built up, its bytes laid out as a
/// `HATCH` request's (program, argv, envp, then the egg, which grows at the end).
struct Launch {
    /// Caller that opened it; `None`: free.
    owner: Option<u32>,
    /// Its id (never reused).
    id: u64,
    /// `[program, argv, envp, egg]` lengths.
    lens: [usize; 4],
    timeout_ms: u64,
    bytes: [u8; MAX_REQUEST_BYTES],
}

/// The open launches, and buffers for the requests being decoded.
pub(crate) struct Launches {
    open: [Launch; MAX_LAUNCHES],
    next_id: u64,
    /// Taken out while a request is decoded and hatched (the hatch needs all of the
    /// server); `None` only then.
    scratch: Option<&'static mut Scratch>,
}

/// Buffers too big for procsrv's stack (64 KiB, which a hatch already uses much of).
pub(crate) struct Scratch {
    message: [u8; 512 * 8],
    egg: [u8; MAX_REQUEST_BYTES],
}

/// procsrv's scratch buffers (one thread: used by one request at a time).
pub(crate) static SCRATCH: Global<Scratch> = Global(UnsafeCell::new(Scratch {
    message: [0; 512 * 8],
    egg: [0; MAX_REQUEST_BYTES],
}));

impl Launches {
    const fn new() -> Self {
        const FREE: Launch = Launch {
            owner: None,
            id: 0,
            lens: [0; 4],
            timeout_ms: 0,
            bytes: [0; MAX_REQUEST_BYTES],
        };
        Launches {
            open: [FREE; MAX_LAUNCHES],
            next_id: 1,
            scratch: None,
        }
    }

    /// Gives procsrv its scratch buffers (once, at start).
    pub(crate) fn set_scratch(&mut self, scratch: &'static mut Scratch) {
        self.scratch = Some(scratch);
    }
}

/// procsrv's launches (in a static: four request buffers are too big for its stack).
pub(crate) static LAUNCHES: Global<Launches> = Global(UnsafeCell::new(Launches::new()));

/// Word `i` of the message `m` (words 0..4 arrived in registers).
fn word(m: &Received, i: usize) -> u64 {
    match m.words.get(i) {
        Some(&w) => w,
        None => syscall::word(i),
    }
}

/// Words `from..` of `m` (at most as many as fit) as little-endian bytes in `out`;
/// returns the bytes written.
fn message_bytes(m: &Received, from: usize, out: &mut [u8]) -> usize {
    let length = m.info.length() as usize;
    let words = length.saturating_sub(from).min(out.len() / 8);
    for i in 0..words {
        out[i * 8..i * 8 + 8].copy_from_slice(&word(m, from + i).to_le_bytes());
    }
    words * 8
}

impl Server {
    fn launches(&mut self) -> &mut Launches {
        &mut *self.launches
    }

    /// `LAUNCH_CREATE`: a hatch request with an empty egg opens a launch.
    #[inline(never)]
    pub(crate) fn launch_create(&mut self, pid: u64, m: &Received) -> Answer {
        if (m.info.length() as usize) < HATCH_HEADER_WORDS {
            return error(Errno::EFAULT);
        }
        let mut header = [0u64; HATCH_HEADER_WORDS];
        for (i, h) in header.iter_mut().enumerate() {
            *h = word(m, i);
        }
        if header[3] != 0 || header[4] != 0 {
            // The egg is said by LAUNCH_ADDs, the caps come with LAUNCH_START.
            return error(Errno::EINVAL);
        }
        // Launches of processes that ended are closed first.
        let table = &*self.table;
        for l in &mut self.launches.open {
            let alive = l.owner.and_then(|o| table.get(o.into()));
            if !alive.is_some_and(|p| !matches!(p.state, State::Zombie(_))) {
                l.owner = None;
            }
        }
        let Some(slot) = self.launches.open.iter().position(|l| l.owner.is_none()) else {
            return error(Errno::EAGAIN);
        };
        let launches = self.launches();
        let id = launches.next_id;
        launches.next_id += 1;
        let l = &mut launches.open[slot];
        let n = message_bytes(m, HATCH_HEADER_WORDS, &mut l.bytes);
        let lens = match decode_hatch(&header, &l.bytes[..n]) {
            Ok(r) => [r.program.len(), r.argv.len(), r.envp.len(), 0],
            Err(e) => return error(e.errno()),
        };
        *l = Launch {
            owner: Some(pid as u32),
            id,
            lens,
            timeout_ms: header[5],
            ..*l
        };
        ok(1, [id, 0, 0, 0])
    }

    fn launch_of(&mut self, pid: u64, id: u64) -> Option<&mut Launch> {
        self.launches
            .open
            .iter_mut()
            .find(|l| l.owner == Some(pid as u32) && l.id == id)
    }

    /// `LAUNCH_ADD`: one attribute, appended to the launch's egg as one op.
    #[inline(never)]
    pub(crate) fn launch_add(&mut self, pid: u64, m: &Received) -> Answer {
        let Some(scratch) = self.launches.scratch.take() else {
            return error(Errno::ENOMEM);
        };
        let answer = self.launch_add_with(pid, m, &mut scratch.message);
        self.launches.scratch = Some(scratch);
        answer
    }

    fn launch_add_with(&mut self, pid: u64, m: &Received, message: &mut [u8]) -> Answer {
        let n = message_bytes(m, 1, message);
        let Some(l) = self.launch_of(pid, m.words[0]) else {
            return error(Errno::ESRCH);
        };
        let used: usize = l.lens.iter().sum();
        let mut egg = ByteWriter::new(&mut l.bytes, used);
        match attribute_to_egg(&message[..n], &mut egg) {
            Ok(()) => {
                l.lens[3] += egg.len() - used;
                ok(0, [0; 4])
            }
            Err(e) => {
                // A refused attribute closes the launch (the caller starts over).
                l.owner = None;
                error(e)
            }
        }
    }

    /// `LAUNCH_START`: hatches what the launch says, with the caps sent now, and closes it.
    #[inline(never)]
    pub(crate) fn launch_start(&mut self, pid: u64, m: &Received) -> Answer {
        let Some(scratch) = self.launches.scratch.take() else {
            return error(Errno::ENOMEM);
        };
        let answer = self.launch_start_with(pid, m, &mut scratch.egg);
        self.launches.scratch = Some(scratch);
        answer
    }

    fn launch_start_with(&mut self, pid: u64, m: &Received, bytes: &mut [u8]) -> Answer {
        let Some(l) = self.launch_of(pid, m.words[0]) else {
            return error(Errno::ESRCH);
        };
        l.owner = None;
        // The request is copied out of the launch: the hatch needs all of the server.
        let used: usize = l.lens.iter().sum();
        let (lens, timeout_ms) = (l.lens, l.timeout_ms);
        bytes[..used].copy_from_slice(&l.bytes[..used]);
        let header = [
            lens[0] as u64,
            lens[1] as u64,
            lens[2] as u64,
            lens[3] as u64,
            m.words[1],
            timeout_ms,
        ];
        let request = match decode_hatch(&header, &bytes[..used]) {
            Ok(r) => r,
            Err(e) => return error(e.errno()),
        };
        let caps = match self.request_caps(m, request.cap_radix) {
            Ok(c) => c,
            Err(e) => return error(e),
        };
        let result = self.hatch_with_handle(pid as u32, &request, caps);
        self.hatch_answer(result)
    }

    /// `SPAWN_STRUCT`: the struct turned into an egg in its fixed order, then hatched.
    #[inline(never)]
    pub(crate) fn spawn_struct(&mut self, pid: u64, m: &Received) -> Answer {
        let Some(scratch) = self.launches.scratch.take() else {
            return error(Errno::ENOMEM);
        };
        let Scratch { message, egg } = &mut *scratch;
        let answer = self.spawn_struct_with(pid, m, message, egg);
        self.launches.scratch = Some(scratch);
        answer
    }

    fn spawn_struct_with(
        &mut self,
        pid: u64,
        m: &Received,
        message: &mut [u8],
        egg: &mut [u8],
    ) -> Answer {
        let n = message_bytes(m, 0, message);
        let request = match SpawnAttrs::to_egg(&message[..n], egg) {
            Ok(r) => r,
            Err(e) => return error(e),
        };
        let caps = match self.request_caps(m, request.cap_radix) {
            Ok(c) => c,
            Err(e) => return error(e),
        };
        let result = self.hatch_with_handle(pid as u32, &request, caps);
        self.hatch_answer(result)
    }
}
