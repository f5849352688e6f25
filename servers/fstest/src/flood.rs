//! 100,000 random messages at the file server through a namespace cap and fd caps of a
//! process of its own; afterwards the server must still answer correctly and, once that
//! process has exited, hold no more memory, handles, descriptions or nodes than before.

use crate::check::Checks;
use crate::setup::World;
use fs_api::{Label, ServerStats, MESSAGE_WORDS};
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::fs::*;
use libsys::syscall;

/// Messages in the flood.
const MESSAGES: u32 = 100_000;
/// Messages of the warm-up round, which also holds as many pipes as a process may: the
/// most heap one process can make the server map (the heap never shrinks). 2,000 were
/// enough until the system's merges put 4 KiB more in the heap (188,160 bytes in use at
/// the flood, was 184,000): then the flood's own peak mapped 2 MiB more than the warm-up's.
const WARM_UP: u32 = 20_000;
const FLOODER: u64 = 60;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn run(world: &mut World, c: &mut Checks) {
    let before = c.counts();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    if let Err(e) = flood(world, &mut rng, WARM_UP) {
        c.check("warm-up", false, format_args!("{e}"));
        return;
    }
    let baseline = namespace().statistics().unwrap_or_default();
    let answered = flood(world, &mut rng, MESSAGES);
    let after = namespace().statistics().unwrap_or_default();
    c.eq("every message answered", answered, Ok(MESSAGES));
    c.eq(
        "same memory, handles, descriptions and nodes",
        strip(after),
        strip(baseline),
    );
    c.check(
        "the server counted the flood",
        after.requests >= baseline.requests + u64::from(MESSAGES),
        format_args!("{} -> {}", baseline.requests, after.requests),
    );
    // And it still answers correctly.
    c.eq(
        "stat after the flood",
        stat("/tmp").map(|s| s.mode & 0o7777),
        Ok(0o1777),
    );
    let fd = open("/tmp/after", O_CREAT | O_RDWR, 0o600);
    if let Ok(fd) = fd {
        c.eq("write after the flood", write(fd, b"fine"), Ok(4));
        let _ = close(fd);
        let _ = unlink("/tmp/after");
    }
    crate::say!(
        "fstest: {MESSAGES} random messages answered; heap {} bytes in use before and after",
        after.heap_bytes
    );
    c.section("flood", before);
}

fn strip(s: ServerStats) -> ServerStats {
    ServerStats { requests: 0, ..s }
}

/// Fires `count` random messages as a fresh process, which then exits; returns how many
/// got an answer.
fn flood(world: &mut World, rng: &mut Rng, count: u32) -> Result<u32> {
    let ns = world.identity(FLOODER, 1500, 1500, &[])?;
    let previous = namespace();
    // Some fd caps of the flooder's to aim at: a file, a directory, a pipe, a device.
    libsys::fs::set_namespace(ns.0.cptr());
    let mut targets = [ns.0; 6];
    let opened = [
        open("/tmp/flood", O_CREAT | O_RDWR, 0o600),
        open("/tmp", O_RDONLY, 0),
        open("/dev/null", O_RDWR, 0),
    ];
    let pipe_ends = pipe();
    if count == WARM_UP {
        // As many pipe rings as one process may hold (its own EMFILE ends this).
        while let Ok((r, w)) = pipe() {
            for fd in [r, w] {
                let _ = world
                    .alloc
                    .cnode
                    .delete(libsys::cap::SlotPath::at(fd_slot(fd).unwrap_or(0)));
            }
        }
    }
    libsys::fs::set_namespace(previous.0.cptr());
    let mut fds = [None; 5];
    for (i, fd) in opened.iter().enumerate() {
        fds[i] = fd.ok();
    }
    if let Ok((r, w)) = pipe_ends {
        fds[3] = Some(r);
        fds[4] = Some(w);
    }
    for (i, fd) in fds.iter().enumerate() {
        if let Some(slot) = fd.and_then(fd_slot) {
            targets[i + 1] = Cap::from_cptr(slot);
        }
    }
    let labels: &[Label] = Label::ALL;
    let mut answered = 0;
    for _ in 0..count {
        let target: Cap<Endpoint> = targets[rng.below(targets.len() as u64) as usize];
        let label = match rng.below(10) {
            0 => rng.below(0x400),
            1 => rng.next() & ((1 << 49) - 1),
            _ => labels[rng.below(labels.len() as u64) as usize] as u64,
        };
        // Never close or dup our targets (that is the flooder's own business), nor wait on
        // a pipe (nobody would wake us).
        let label = match Label::try_from(label) {
            Ok(Label::FdClose | Label::FdDup | Label::FdRead | Label::FdWrite) => {
                Label::FdStat as u64
            }
            _ => label,
        };
        let length = match rng.below(4) {
            0 => rng.below(5),
            1 => rng.below(MESSAGE_WORDS as u64 + 1),
            _ => rng.below(12),
        };
        for i in 4..length.min(MESSAGE_WORDS as u64) as usize {
            syscall::set_word(
                i,
                if rng.below(3) == 0 {
                    rng.below(64)
                } else {
                    rng.next()
                },
            );
        }
        let mut words = [0u64; 4];
        for w in words.iter_mut() {
            *w = match rng.below(4) {
                0 => rng.next(),
                1 => rng.below(2048),
                2 => 0,
                _ => rng.below(16),
            };
        }
        let info = MessageInfo::new(label, length, 0);
        syscall::set_receive_slot(world.spare);
        if target.call(info, words).is_ok() {
            answered += 1;
        }
        syscall::set_receive_slot(0);
        // A reply may have brought a cap (an open that succeeded): drop it, the handle
        // stays the flooder's until it exits.
        let _ = world
            .alloc
            .cnode
            .delete(libsys::cap::SlotPath::at(world.spare));
    }
    for fd in fds.iter().flatten() {
        let _ = world
            .alloc
            .cnode
            .delete(libsys::cap::SlotPath::at(fd_slot(*fd).unwrap_or(0)));
    }
    let _ = unlink("/tmp/flood");
    world.process_exit(FLOODER)?;
    world.drop_slot(ns.0.cptr());
    Ok(answered)
}
