//! Pipes: end of file, EPIPE (and the SIGPIPE event), 10 MiB streamed from a child, atomic
//! 4 KiB writes from two children at once, a blocked writer woken by EPIPE, a blocked
//! writer destroyed mid-write.

use crate::check::Checks;
use crate::child::{
    stream_byte, RECORD, RECORDS, STREAM_BYTES, WRITE_RECORDS, WRITE_STREAM, WRITE_UNTIL_ERROR,
};
use crate::setup::World;
use fs_api::mode;
use libsys::cap::{Cap, Endpoint};
use libsys::fs::*;

static mut BUFFER: [u8; 64 * 1024] = [0; 64 * 1024];

fn buffer() -> &'static mut [u8; 64 * 1024] {
    // SAFETY: the test is one thread and takes this reference once per function, never
    // two at a time.
    unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) }
}

pub fn run(world: &mut World, c: &mut Checks) {
    let before = c.counts();
    in_one_process(c);
    match world.alloc.make::<Endpoint>() {
        Ok(report) => {
            stream(world, c, report);
            atomic(world, c, report);
            epipe_wakes_a_writer(world, c, report);
            a_writer_dies_while_blocked(world, c, report);
        }
        Err(_) => c.check("report endpoint", false, format_args!("no memory")),
    }
    c.eq(
        "no handles left",
        namespace().statistics().map(|s| s.handles),
        Ok(crate::out::handles()),
    );
    c.section("pipes", before);
}

fn in_one_process(c: &mut Checks) {
    let Ok((r, w)) = pipe() else {
        c.check("pipe", false, format_args!("refused"));
        return;
    };
    let mut buf = [0u8; 16];
    c.eq("pipe write", write(w, b"abc"), Ok(3));
    c.eq(
        "pipe stat",
        fstat(r).map(|s| (s.mode, s.size)),
        Ok((mode::S_IFIFO | 0o600, 3)),
    );
    c.eq("pipe seek", lseek(r, 0, SEEK_SET), Err(Errno::ESPIPE));
    c.eq("write to the read end", write(r, b"x"), Err(Errno::EBADF));
    c.eq("read the write end", read(w, &mut buf), Err(Errno::EBADF));
    c.eq(
        "pipe read",
        read(r, &mut buf).map(|n| &buf[..n] == b"abc"),
        Ok(true),
    );
    c.eq("nonblocking", set_flags(r, O_NONBLOCK), Ok(()));
    c.eq(
        "empty pipe, O_NONBLOCK",
        read(r, &mut buf),
        Err(Errno::EAGAIN),
    );
    let _ = set_flags(r, 0);
    // A dup of the write end keeps the pipe open.
    let w2 = dup(w).unwrap_or(Fd(99));
    let _ = close(w);
    c.eq("written through the dup", write(w2, b"z"), Ok(1));
    let _ = close(w2);
    c.eq("data before EOF", read(r, &mut buf), Ok(1));
    c.eq("EOF when every writer is gone", read(r, &mut buf), Ok(0));
    let _ = close(r);

    let Ok((r, w)) = pipe() else { return };
    let _ = close(r);
    c.eq(
        "EPIPE when every reader is gone",
        write(w, b"x"),
        Err(Errno::EPIPE),
    );
    let _ = close(w);
}

/// Waits for a child's report `(mode, errno, value)`.
fn report(endpoint: Cap<Endpoint>) -> (u64, u64, u64) {
    match endpoint.recv() {
        Ok(m) => {
            let _ = libsys::cap::reply(libsys::abi::MessageInfo::new(0, 0, 0), [0; 4]);
            (m.words[0], m.words[1], m.words[2])
        }
        Err(_) => (0, u64::MAX, 0),
    }
}

/// Registers process `id` (as procsrv does before it hatches) and shares `fd` with it.
fn hand_over(world: &mut World, c: &mut Checks, fd: Fd, id: u64) -> Option<u64> {
    if let Err(e) = world.set_credentials(id, 0, 0, 0o022, &[]) {
        c.check("register a child", false, format_args!("{e}"));
        return None;
    }
    match world.share(fd, id) {
        Ok(slot) => Some(slot),
        Err(e) => {
            c.check("share a pipe end", false, format_args!("{e}"));
            None
        }
    }
}

fn stream(world: &mut World, c: &mut Checks, reporter: Cap<Endpoint>) {
    let Ok((r, w)) = pipe() else { return };
    let id = 10;
    let Some(slot) = hand_over(world, c, w, id) else {
        return;
    };
    let child = world.spawn(WRITE_STREAM, id, &[(slot, 1)], reporter);
    world.drop_slot(slot);
    let _ = close(w);
    let Ok(child) = child else {
        c.check("spawn the writer", false, format_args!("{:?}", child.err()));
        return;
    };
    let buf = buffer();
    let mut total = 0usize;
    let mut bad = None;
    loop {
        match read(r, buf) {
            Ok(0) => break,
            Ok(n) => {
                if bad.is_none() {
                    bad = (0..n)
                        .find(|&i| buf[i] != stream_byte(total + i))
                        .map(|i| total + i);
                }
                total += n;
            }
            Err(e) => {
                c.check(
                    "stream read",
                    false,
                    format_args!("{e} after {total} bytes"),
                );
                break;
            }
        }
    }
    c.eq("10 MiB streamed, then EOF", total, STREAM_BYTES);
    c.eq("every byte in order", bad, None);
    c.eq(
        "writer's report",
        report(reporter),
        (WRITE_STREAM, 0, STREAM_BYTES as u64),
    );
    let _ = close(r);
    let _ = child.destroy(&mut world.alloc);
    c.eq("writer's exit", world.process_exit(id), Ok(()));
    crate::say!(
        "fstest: a child streamed 10 MiB through a pipe; every byte arrived in order, then EOF"
    );
}

fn atomic(world: &mut World, c: &mut Checks, reporter: Cap<Endpoint>) {
    let Ok((r, w)) = pipe() else { return };
    let mut children = [None, None];
    for (i, child) in children.iter_mut().enumerate() {
        let id = 11 + i as u64;
        let Some(slot) = hand_over(world, c, w, id) else {
            return;
        };
        let mode = WRITE_RECORDS | ((b'A' + i as u8) as u64) << 8;
        *child = world.spawn(mode, id, &[(slot, 1)], reporter).ok();
        world.drop_slot(slot);
    }
    let _ = close(w);
    let buf = buffer();
    let mut record = [0u8; RECORD];
    let (mut filled, mut counts, mut torn, mut total) = (0, [0usize; 2], 0, 0);
    loop {
        let n = match read(r, &mut buf[..5000]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        total += n;
        let mut at = 0;
        while at < n {
            let take = (RECORD - filled).min(n - at);
            record[filled..filled + take].copy_from_slice(&buf[at..at + take]);
            filled += take;
            at += take;
            if filled == RECORD {
                filled = 0;
                let first = record[0];
                if record.iter().any(|&b| b != first) || !(b'A'..=b'B').contains(&first) {
                    torn += 1;
                } else {
                    counts[(first - b'A') as usize] += 1;
                }
            }
        }
    }
    c.eq("two writers' bytes", total, 2 * RECORDS * RECORD);
    c.eq("no 4 KiB write torn", torn, 0);
    c.eq("each writer's records", counts, [RECORDS, RECORDS]);
    for _ in 0..2 {
        let (mode, error, value) = report(reporter);
        c.eq(
            "record writer's report",
            (mode, error, value),
            (WRITE_RECORDS, 0, RECORDS as u64),
        );
    }
    let _ = close(r);
    for (i, child) in children.into_iter().enumerate() {
        if let Some(child) = child {
            let _ = child.destroy(&mut world.alloc);
        }
        let _ = world.process_exit(11 + i as u64);
    }
}

/// Waits (yielding) until `r`'s pipe holds `bytes`.
fn wait_for_size(r: Fd, bytes: usize) {
    for _ in 0..1_000_000 {
        if fstat(r).is_ok_and(|s| s.size as usize == bytes) {
            return;
        }
        libsys::syscall::yield_now();
    }
}

fn a_writer_dies_while_blocked(world: &mut World, c: &mut Checks, reporter: Cap<Endpoint>) {
    let Ok((r, w)) = pipe() else { return };
    let id = 15;
    let Some(slot) = hand_over(world, c, w, id) else {
        return;
    };
    let child = world.spawn(WRITE_UNTIL_ERROR, id, &[(slot, 1)], reporter);
    world.drop_slot(slot);
    let _ = close(w);
    // The writer fills the pipe and waits in the server; then it is destroyed, as procsrv
    // destroys a killed process, and procsrv says so.
    wait_for_size(r, fs_api::PIPE_CAPACITY);
    if let Ok(child) = child {
        let _ = child.destroy(&mut world.alloc);
    }
    c.eq("the dead writer's exit", world.process_exit(id), Ok(()));
    let buf = buffer();
    let mut total = 0;
    loop {
        match read(r, buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    c.eq("what it wrote, then EOF", total, fs_api::PIPE_CAPACITY);
    let _ = close(r);
    c.eq(
        "nothing waits any more",
        namespace().statistics().map(|s| s.handles),
        Ok(crate::out::handles()),
    );
}

fn epipe_wakes_a_writer(world: &mut World, c: &mut Checks, reporter: Cap<Endpoint>) {
    // Forget earlier events (the EPIPE of `in_one_process` posted one).
    while world.ctl().events().is_ok_and(|(_, count)| count > 0) {}
    let Ok((r, w)) = pipe() else { return };
    let id = 13;
    let Some(slot) = hand_over(world, c, w, id) else {
        return;
    };
    let child = world.spawn(WRITE_UNTIL_ERROR, id, &[(slot, 1)], reporter);
    world.drop_slot(slot);
    let _ = close(w);
    let buf = buffer();
    // Let the writer fill the pipe and block, take a little, then close the read end.
    wait_for_size(r, fs_api::PIPE_CAPACITY);
    let got = read(r, &mut buf[..1000]);
    c.eq("a first read", got, Ok(1000));
    let _ = close(r);
    let (mode, error, total) = report(reporter);
    c.eq(
        "blocked writer gets EPIPE",
        (mode, error),
        (WRITE_UNTIL_ERROR, Errno::EPIPE as u64),
    );
    c.eq(
        "it filled the pipe first",
        total as usize,
        fs_api::PIPE_CAPACITY,
    );
    let first = world
        .ctl()
        .events()
        .map(|(e, count)| (count, e[0].target, e[0].what));
    c.eq("SIGPIPE event for procsrv", first, Ok((1, id, 13)));
    if let Ok(child) = child {
        let _ = child.destroy(&mut world.alloc);
    }
    let _ = world.process_exit(id);
}
