//! Hatch requests too big for the IPC buffer: they travel in request pages the caller
//! shares for the call (libsys does it by itself), still one round trip; bad pages are a
//! clean error, and nothing leaks.

use crate::tests::{cmd, Tally};
use libsys::abi::MessageInfo;
use libsys::cap::{CNode, Cap, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::process::client::{self, make_object, usage};
use libsys::process::{CapSet, Command, SLOT_PROCSRV};
use procsrv_api::{label, Errno, RequestPages, WaitStatus, HATCH_HEADER_WORDS, REPLY_OK};

/// Bytes of the big eggs: well past the 4,048 a message holds.
const BIG_EGG: usize = 12_000;

/// An egg of about [`BIG_EGG`] bytes: `umask 0o22` over and over, then `tail`.
fn big_egg<'a>(buffer: &'a mut [u8; BIG_EGG + 256], tail: &[u8]) -> &'a [u8] {
    let probe = Command::new(b"/bin/tiny").umask(0o22);
    let op = probe.egg();
    let mut at = 0;
    while at + op.len() <= BIG_EGG {
        buffer[at..at + op.len()].copy_from_slice(op);
        at += op.len();
    }
    buffer[at..at + tail.len()].copy_from_slice(tail);
    &buffer[..at + tail.len()]
}

/// The name procsrv lists for `pid`.
fn listed_name(pid: u64) -> Option<[u8; 16]> {
    let mut entries = [procsrv_api::PsEntry::default(); 60];
    let n = client::list(pid, &mut entries).ok()?;
    entries[..n].iter().find(|e| e.pid == pid).map(|e| e.name)
}

/// A hatch message with `header` (the bytes elsewhere) and the CNode `caps`.
fn raw_hatch(header: [u64; HATCH_HEADER_WORDS], caps: Option<Cap<CNode>>) -> Option<Errno> {
    libsys::syscall::set_word(4, header[4]);
    libsys::syscall::set_word(5, header[5]);
    let count = match caps {
        Some(c) => {
            libsys::syscall::set_send_cap(0, c.cptr());
            1
        }
        None => 0,
    };
    let info = MessageInfo::new(label::HATCH, HATCH_HEADER_WORDS as u64, count);
    let words = [header[0], header[1], header[2], header[3]];
    let reply = Cap::<Endpoint>::from_cptr(SLOT_PROCSRV)
        .call(info, words)
        .ok()?;
    if reply.info.label() == REPLY_OK {
        // Not expected: end the child (its handle is not kept).
        let _ = client::kill(reply.words[0] as i64, procsrv_api::signal::SIGKILL);
        let _ = client::wait(reply.words[0], false);
        return None;
    }
    Errno::from_number(reply.words[0])
}

pub(crate) fn run(t: &mut Tally) {
    let mut buffer = [0u8; BIG_EGG + 256];
    let tail = Command::new(b"/bin/tiny")
        .setname(b"paged")
        .start_suspended();
    let egg = big_egg(&mut buffer, tail.egg());
    // The first paged request makes the pages (ours) and procsrv's page tables for them.
    let first = cmd(b"exit").egg_whole(egg).spawn();
    t.check(
        "a 12 KB egg travels in request pages and hatches",
        first.is_ok(),
    );
    if let Ok(mut child) = first {
        t.check(
            "its last op ran: the listing shows the name it set",
            listed_name(child.id()).is_some_and(|n| n.starts_with(b"paged")),
        );
        let _ = child.resume();
        t.check(
            "the child of a paged request runs",
            child.wait() == Ok(WaitStatus::Exited(0)),
        );
    }
    let before = usage();
    let mut ok = true;
    for _ in 0..100 {
        ok &= cmd(b"exit")
            .egg_whole(egg)
            .spawn()
            .is_ok_and(|mut c| c.resume().is_ok() && c.wait() == Ok(WaitStatus::Exited(0)));
    }
    t.check("100 paged hatches", ok);
    let bad_late = {
        let mut b = [0u8; BIG_EGG + 256];
        let tail = Command::new(b"/bin/tiny").setpgid(0).setsid();
        let egg = big_egg(&mut b, tail.egg());
        let ops = egg.len() / 2;
        cmd(b"exit")
            .egg_whole(egg)
            .spawn()
            .err()
            .map(|e| (e.errno, e.op_index, ops))
    };
    t.check(
        "a paged egg failing at its last op names it (setsid: EPERM)",
        bad_late.is_some_and(|(e, op, _)| e == Errno::EPERM && op.is_some_and(|i| i > 1000)),
    );
    with_caps(t, egg);
    bad_pages(t);
    t.check(
        "paged requests leave procsrv's memory, slots and records as they were",
        usage() == before,
    );
}

/// A paged request that also sends caps: the pages go into the last indices of the
/// caller's CNode for the call, and leave it after.
fn with_caps(t: &mut Tally, egg: &[u8]) {
    let (Ok(ep), Ok(set)) = (make_object(ObjectType::Endpoint, 0), CapSet::new(3)) else {
        t.check("make an endpoint and a cap set", false);
        return;
    };
    let endpoint: Cap<Endpoint> = Cap::from_cptr(ep);
    let _ = set.put(0, endpoint, Rights::ALL);
    let (cnode, radix) = set.cnode();
    // The big egg, then `cap 16 0 ALL 0`; no start_suspended (it is in `egg`: resume).
    let mut bytes = [0u8; BIG_EGG + 512];
    let cap_op = Command::new(b"/bin/tiny").cap(16, 0, 15, 0);
    let n = egg.len() + cap_op.egg().len();
    bytes[..egg.len()].copy_from_slice(egg);
    bytes[egg.len()..n].copy_from_slice(cap_op.egg());
    let mut ok = true;
    for round in 0..2 {
        let echo = cmd(b"echo")
            .caps(cnode, radix)
            .egg_whole(&bytes[..n])
            .spawn();
        let Ok(mut echo) = echo else {
            println_failed(round);
            ok = false;
            break;
        };
        let _ = echo.resume();
        let answer = endpoint.call(MessageInfo::new(1, 2, 0), [5, 6, 0, 0]);
        ok &= answer.is_ok_and(|r| r.words[..2] == [6, 7]);
        ok &= echo.wait() == Ok(WaitStatus::Exited(0));
    }
    t.check(
        "a paged request with caps: the cap reaches the child, twice (the pages left the set)",
        ok,
    );
    drop(set);
    client::free_slot(ep);
}

fn println_failed(round: u32) {
    libsys::println!("hatchtest: paged hatch with caps failed in round {round}");
}

/// Pages that are not there, not frames, too many, or past the CNode: clean errors.
fn bad_pages(t: &mut Tally) {
    let (Ok(ep), Ok(frame), Ok(set)) = (
        make_object(ObjectType::Endpoint, 0),
        make_object(ObjectType::Frame4K, 0),
        CapSet::new(2),
    ) else {
        t.check("make the caps of the bad page tests", false);
        return;
    };
    let _ = set.put(0, Cap::<Endpoint>::from_cptr(ep), Rights::ALL);
    let _ = set.put(1, Cap::<Endpoint>::from_cptr(frame), Rights::ALL);
    let (cnode, radix) = set.cnode();
    let header = |count, first| {
        let pages = RequestPages { count, first };
        [10, 6, 0, 0, pages.word(radix), 0]
    };
    t.check(
        "a request page that is an endpoint is EBADF",
        raw_hatch(header(1, 0), Some(cnode)) == Some(Errno::EBADF),
    );
    t.check(
        "an empty request page is EBADF",
        raw_hatch(header(2, 2), Some(cnode)) == Some(Errno::EBADF),
    );
    t.check(
        "request pages past the CNode are EINVAL",
        raw_hatch(header(2, 3), Some(cnode)) == Some(Errno::EINVAL),
    );
    t.check(
        "request pages in a CNode that was not sent are EBADF",
        raw_hatch(header(1, 1), None) == Some(Errno::EBADF),
    );
    let no_cnode = RequestPages { count: 1, first: 0 }.word(0);
    t.check(
        "request pages with no CNode radix are EINVAL",
        raw_hatch([10, 6, 0, 0, no_cnode, 0], None) == Some(Errno::EINVAL),
    );
    // A frame the caller never mapped (all zeros): read all the same, and refused as the
    // malformed request it is (a program path of NULs).
    t.check(
        "a page the caller has not mapped is read as it is: zeros, ENOENT",
        raw_hatch(header(1, 1), Some(cnode)) == Some(Errno::ENOENT),
    );
    drop(set);
    client::free_slot(ep);
    client::free_slot(frame);
}
