//! procsrv's calls to a file server that does not answer: every one is bounded (the hatch
//! request's `timeout_ms`, else 5,000 ms), a stalled `open` fails with ETIMEDOUT at its op
//! index, another client's call made meanwhile is answered once the bound has passed, and
//! a timed-out hatch leaves procsrv's memory, slots and records as they were.
//!
//! The file server here is a stand-in (`hatchchild stallfs`) that procsrv is told to use
//! with the tests-only `TEST_FILE_SERVER` label: it answers registrations and exits but
//! parks every open (or, `stallfs all`, every call) without ever answering.

use crate::tests::{cmd, Tally};
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::{self, make_object, usage, HatchError};
use libsys::process::{CapSet, Child, Command, SLOT_PROCSRV};
use procsrv_api::signal::SIGKILL;
use procsrv_api::{label, Errno, WaitStatus};

/// `O_RDONLY`.
const O_RDONLY: u64 = 0;

/// Makes the server receiving on the endpoint in our slot `endpoint` procsrv's file server
/// (`None`: none again).
fn use_file_server(endpoint: Option<u64>) -> bool {
    let caps = match endpoint {
        Some(slot) => {
            libsys::syscall::set_send_cap(0, slot);
            1
        }
        None => 0,
    };
    let procsrv: Cap<Endpoint> = Cap::from_cptr(SLOT_PROCSRV);
    let info = MessageInfo::new(label::TEST_FILE_SERVER, 0, caps);
    procsrv
        .call(info, [0; 4])
        .is_ok_and(|r| r.info.label() == procsrv_api::REPLY_OK)
}

/// An endpoint of our own and a cap set holding it (index 0).
fn endpoint_and_set() -> Option<(u64, CapSet)> {
    let ep = make_object(ObjectType::Endpoint, 0).ok()?;
    let set = CapSet::new(1).ok()?;
    set.put(0, Cap::<Endpoint>::from_cptr(ep), Rights::ALL)
        .ok()?;
    Some((ep, set))
}

/// Starts a stand-in file server (`stallfs`, with `all` never answering anything) on a new
/// endpoint of ours; returns the endpoint's slot and the server.
fn start_stall_server(all: bool) -> Option<(u64, Child)> {
    let (ep, set) = endpoint_and_set()?;
    let (cnode, radix) = set.cnode();
    let mut c = cmd(b"stallfs");
    if all {
        c = c.arg(b"all");
    }
    let child = c.caps(cnode, radix).cap(16, 0, 15, 0).spawn().ok()?;
    Some((ep, child))
}

/// Spawns `c` and returns what came back with the counter values before and after.
fn timed(c: &Command<'_>) -> (Result<Child, HatchError>, u64, u64) {
    let before = libsys::time::now();
    let r = c.spawn();
    (r, before, libsys::time::now())
}

fn timed_out_at(r: &Result<Child, HatchError>, op: Option<u64>) -> bool {
    match r {
        Err(e) => e.errno == Errno::ETIMEDOUT && e.op_index == op,
        Ok(_) => false,
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill(SIGKILL);
    let _ = child.wait();
}

/// The `open` of a hatch whose file server never answers.
fn stalled_open(timeout_ms: u64) -> Command<'static> {
    Command::new(b"/bin/tiny")
        .setsid()
        .open(0, b"/never/answered", O_RDONLY, 0)
        .timeout_ms(timeout_ms)
}

pub(crate) fn timeouts(t: &mut Tally) {
    let (Some((opens_ep, mut opens)), Some((silent_ep, mut silent))) =
        (start_stall_server(false), start_stall_server(true))
    else {
        t.check("start the stand-in file servers", false);
        return;
    };
    // The first hatch of a program keeps its shared frames: before the usage is taken.
    let warm = Command::new(b"/bin/tiny").spawn();
    t.check(
        "tiny hatches without a file server",
        warm.is_ok_and(|mut c| c.wait() == Ok(WaitStatus::Exited(0))),
    );
    let initial = usage();
    t.check(
        "procsrv takes a test's file server",
        use_file_server(Some(opens_ep)),
    );
    // A first hatch through the stand-in: registrations are answered, so a hatch without
    // an open works (and the program is known from now on).
    let plain = Command::new(b"/bin/tiny").timeout_ms(300);
    t.check(
        "a hatch whose file server answers registrations works",
        plain
            .spawn()
            .is_ok_and(|mut c| c.wait() == Ok(WaitStatus::Exited(0))),
    );
    let before = usage();

    let (r100, s100, e100) = timed(&stalled_open(100));
    t.check(
        "an unanswered open fails with ETIMEDOUT at its op index (1)",
        timed_out_at(&r100, Some(1)),
    );
    let (r400, s400, e400) = timed(&stalled_open(400));
    t.check(
        "a bound of 400 ms: ETIMEDOUT at op 1 too",
        timed_out_at(&r400, Some(1)),
    );
    let (d100, d400) = (e100 - s100, e400 - s400);
    // 100 ms and 400 ms, each up to one 10 ms timer tick late.
    t.check(
        "the bound is the request's (400 ms takes 3 to 5 times 100 ms)",
        d400 > 3 * d100 && d400 < 5 * d100,
    );
    let (r0, s0, e0) = timed(&stalled_open(0));
    t.check(
        "without a bound in the request the default (5,000 ms) holds",
        timed_out_at(&r0, Some(1)) && (e0 - s0) / d400 >= 11 && (e0 - s0) / d400 <= 13,
    );
    println!(
        "hatchtest: stalled opens: 100 ms bound {d100} ticks, 400 ms {d400}, default {}",
        e0 - s0
    );

    // Another client calls procsrv while a hatch waits for the file server.
    if let Some((ep, set)) = endpoint_and_set() {
        let (cnode, radix) = set.cnode();
        let pinger = cmd(b"pinger")
            .caps(cnode, radix)
            .cap(16, 0, Rights::WRITE.bits(), 0)
            .spawn();
        let (r, start, end) = timed(&stalled_open(400));
        let report = Cap::<Endpoint>::from_cptr(ep).recv();
        let answered = report.is_ok_and(|m| {
            let (asked, got, named) = (m.words[0], m.words[1], m.words[2]);
            let during = start < asked && asked < end;
            let waited = got - asked;
            if !during {
                println!("hatchtest: the pinger asked outside the stall");
            }
            // Answered once the stall's bound passed: no later than the stall took.
            during && named == 1 && waited <= end - start
        });
        t.check("the stalled hatch times out", timed_out_at(&r, Some(1)));
        t.check(
            "another client's call during a stalled open is answered within the bound",
            answered,
        );
        let exited = pinger.is_ok_and(|mut p| p.wait() == Ok(WaitStatus::Exited(0)));
        t.check("the pinger exits 0", exited);
        drop(set);
        client::free_slot(ep);
    }
    t.check(
        "timed-out hatches leave procsrv's memory, slots and records as they were",
        usage() == before,
    );

    // A file server that answers nothing: the registration before the egg is bounded too
    // (no op to blame), and so is the exit report of the undone hatch.
    t.check(
        "procsrv takes a silent file server",
        use_file_server(Some(silent_ep)),
    );
    let (r, s, e) = timed(&Command::new(b"/bin/tiny").timeout_ms(200));
    t.check(
        "a file server that answers nothing fails the hatch with ETIMEDOUT (no op)",
        timed_out_at(&r, None),
    );
    // The registration and the undone hatch's exit report: two bounds of 200 ms.
    t.check(
        "each call of the hatch is bounded (two bounds)",
        (e - s) / d100 >= 3 && (e - s) / d100 <= 5,
    );
    t.check(
        "a timed-out registration leaves procsrv as it was",
        usage() == before,
    );
    t.check(
        "procsrv drops the test's file server",
        use_file_server(None),
    );
    t.check(
        "dropping it gives back every slot its link took",
        usage() == initial,
    );
    stop(&mut opens);
    stop(&mut silent);
    client::free_slot(opens_ep);
    client::free_slot(silent_ep);
}
