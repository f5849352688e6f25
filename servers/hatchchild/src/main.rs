//! `hatchchild`: the children procsrv's in-system tests (`servers/hatchtest`) hatch, one
//! role per argv\[1\]. A program of its own, small, so that many can run at once (each
//! process costs procsrv slots for its pages).
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::object::CapKind;
use libsys::process::client::exit;
use libsys::process::Startup;

/// Where tests put an endpoint for the child (`cap 16 0 ...`).
const SLOT_GIVEN: u64 = 16;

fn number(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        })
}

libsys::entry!(main);

fn main(stack: u64) {
    // SAFETY: procsrv starts every hatched process with `rdi` pointing at its System V
    // initial stack, which stays untouched above the running stack.
    let start = unsafe { Startup::from_stack(stack) };
    run(start.arg(1).unwrap_or(b""), &start);
}

/// Runs child role `role`.
fn run(role: &[u8], start: &Startup) {
    match role {
        b"echo" => echo(),
        b"exit" => exit(number(start.arg(2).unwrap_or(b"0")) as u8),
        b"fault" => fault(),
        b"spin" => loop {
            core::hint::spin_loop();
        },
        b"probe" => probe(start),
        b"env" => env(start),
        b"orphan" => orphan(),
        b"hatcher" => hatcher(),
        b"hold" => hold(),
        b"stallfs" => stall_file_server(start.arg(2) == Some(b"all")),
        b"pinger" => pinger(start.pid()),
        b"stack" => {
            let kib = number(start.arg(2).unwrap_or(b"0"));
            exit(if deep(kib / 4) == kib / 4 { 0 } else { 1 })
        }
        _ => exit(127),
    }
}

/// Answers one call on the endpoint in slot 16 with each word plus one, then exits.
fn echo() {
    let endpoint: Cap<Endpoint> = Cap::from_cptr(SLOT_GIVEN);
    if let Ok(m) = endpoint.recv() {
        let words = [m.words[0] + 1, m.words[1] + 1, 0, 0];
        let _ = libsys::cap::reply(MessageInfo::new(0, 2, 0), words);
    }
}

fn fault() {
    // SAFETY: not safe at all, on purpose: this child exists to fault on a null read so the
    // test sees procsrv report and reap it.
    let value = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
    exit(value as u8);
}

/// Probes every slot of its CNode: exits 0 when it finds exactly the fixed slots plus the
/// slots named in argv[2..] ("slot:rights"), each with exactly those rights.
fn probe(start: &Startup) {
    const FIXED: [u64; 6] = [1, 2, 3, 4, 8, libsys::process::SLOT_MEMORY];
    let mut ok = true;
    for slot in 0..1u64 << libsys::process::CNODE_RADIX {
        let id = Cap::<Endpoint>::from_cptr(slot).identify();
        let expected = start.args().skip(2).find_map(|a| {
            let mut parts = a.split(|&b| b == b':');
            let s = number(parts.next()?);
            (s == slot).then(|| number(parts.next().unwrap_or(b"0")))
        });
        let good = match (id, expected) {
            (Err(_), None) => !FIXED.contains(&slot),
            // The kernel's debug console may be given by the loader (not an endpoint).
            (Ok(id), None) if slot == libsys::process::SLOT_DEBUG_CONSOLE => {
                id.cap_kind() != Some(CapKind::Endpoint)
            }
            (Ok(_), None) => FIXED.contains(&slot),
            (Ok(id), Some(rights)) => {
                id.cap_kind() == Some(CapKind::Endpoint) && id.rights == rights
            }
            (Err(_), Some(_)) => false,
        };
        if !good {
            libsys::println!("hatchchild: probe: slot {slot} is not as expected ({id:?})");
            ok = false;
        }
    }
    exit(if ok { 0 } else { 1 });
}

/// Exits 0 when its environment is exactly argv[2..].
fn env(start: &Startup) {
    let same = start.env().eq(start.args().skip(2));
    if !same {
        for e in start.env() {
            libsys::println!(
                "hatchchild: env has {}",
                core::str::from_utf8(e).unwrap_or("?")
            );
        }
    }
    exit(if same { 0 } else { 1 });
}

/// Parked replies of [`stall_file_server`] (each Reply object holds one).
const PARKED: usize = 8;

/// A file server that never answers: receives on the endpoint in slot 16 and parks the
/// reply of every `CtlOpenOnBehalf` (of every call, with `all`) in a Reply object, never
/// to answer it; answers any other call with success and no words (no events). Runs
/// until killed.
fn stall_file_server(all: bool) {
    let endpoint: Cap<Endpoint> = Cap::from_cptr(SLOT_GIVEN);
    let mut parked: [Option<Cap<libsys::cap::Reply>>; PARKED] = [None; PARKED];
    for p in parked.iter_mut() {
        *p = libsys::process::client::make_object(libsys::object::ObjectType::Reply, 0)
            .ok()
            .map(Cap::from_cptr);
    }
    let mut next = 0;
    loop {
        let Ok(m) = endpoint.recv() else {
            continue;
        };
        if all || m.info.label() == fs_api::Label::CtlOpenOnBehalf as u64 {
            // Parked, never answered; the oldest parked reply is dropped (its caller has
            // long given up) when all are taken.
            if let Some(reply) = parked[next % PARKED] {
                let _ = reply.send(MessageInfo::new(0, 0, 0), [0; 4]);
                let _ = reply.save();
            }
            next += 1;
        } else {
            let _ = libsys::cap::reply(MessageInfo::new(0, 1, 0), [0; 4]);
        }
    }
}

/// Yields for a while (so that the test's stalled hatch is under way), then asks procsrv
/// for its ids and sends the counter values before and after the call, and whether the
/// answer named it, to the endpoint in slot 16.
fn pinger(pid: u64) {
    for _ in 0..PINGER_YIELDS {
        libsys::syscall::yield_now();
    }
    let before = libsys::time::now();
    let ids = libsys::process::client::ids();
    let after = libsys::time::now();
    let named = ids.is_ok_and(|ids| ids[0] == pid);
    let endpoint: Cap<Endpoint> = Cap::from_cptr(SLOT_GIVEN);
    let _ = endpoint.send(
        MessageInfo::new(0, 3, 0),
        [before, after, u64::from(named), 0],
    );
    exit(0);
}

/// Yields of [`pinger`] before its call.
const PINGER_YIELDS: u32 = 2_000;

/// Hatches `hatchchild exit 9` and exits at once without waiting: the grandchild becomes an
/// orphan, which procsrv gives to pid 1.
fn orphan() {
    let child = libsys::process::Command::new(b"/bin/hatchchild")
        .arg(b"hatchchild")
        .arg(b"exit")
        .arg(b"9")
        .spawn();
    exit(if child.is_ok() { 0 } else { 1 });
}

/// Hatches `/bin/tiny` [`HATCHER_ROUNDS`] times, waiting for each; exits 0 when every one
/// hatched and exited 0 (many of these run at once).
fn hatcher() {
    let tiny = libsys::process::Command::new(b"/bin/tiny");
    let mut ok = true;
    for _ in 0..HATCHER_ROUNDS {
        ok &= tiny
            .spawn()
            .is_ok_and(|mut c| c.wait() == Ok(procsrv_api::WaitStatus::Exited(0)));
    }
    exit(if ok { 0 } else { 1 });
}

/// How long [`hold`] keeps its suspended child (ms): long enough that every holder the
/// test starts has its child at the same time.
const HOLD_MS: u64 = 300;

/// Sleeps `ms` milliseconds.
fn nap(ms: u64) {
    if let Ok(clock) = libsys::process::client::clock() {
        let now = libsys::time::now();
        libsys::syscall::sleep_until(clock.deadline_after(now, ms * 1_000_000));
    }
}

/// Hatches `/bin/tiny` suspended and holds it [`HOLD_MS`] (so that the children of many
/// holders are alive at once), then resumes it and waits for it. Exits 0 when it hatched
/// and exited 0; 2 when procsrv refused the hatch cleanly (EAGAIN or ENOMEM: no free
/// process record, memory block or slots); 1 for anything else.
fn hold() {
    use procsrv_api::Errno;
    let code = match libsys::process::Command::new(b"/bin/tiny")
        .start_suspended()
        .spawn()
    {
        Ok(mut child) => {
            nap(HOLD_MS);
            let ran =
                child.resume().is_ok() && child.wait() == Ok(procsrv_api::WaitStatus::Exited(0));
            if ran {
                0
            } else {
                1
            }
        }
        Err(e) if e.errno == Errno::EAGAIN || e.errno == Errno::ENOMEM => {
            nap(HOLD_MS);
            2
        }
        Err(_) => 1,
    };
    exit(code);
}

/// Hatches per [`hatcher`].
const HATCHER_ROUNDS: u32 = 50;

/// Uses about `frames` × 4 KiB of stack (each call holds a page-sized array), so that the
/// stack grows page by page through procsrv's fault handler.
fn deep(frames: u64) -> u64 {
    let mut page = [0u8; 4096];
    page[0] = 1;
    let page = core::hint::black_box(page);
    if frames == 0 {
        return u64::from(page[0]) - 1;
    }
    deep(frames - 1) + u64::from(page[4095]) + 1
}
