//! The driver: hatches children through procsrv and checks what comes back.

use libsys::cap::{Cap, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::{self, make_object, usage, HatchError};
use libsys::process::{CapSet, Child, Command, Startup};
use procsrv_api::signal::{SIGKILL, SIGSEGV};
use procsrv_api::{Errno, HatchRequest, WaitStatus, WAIT_ANY};

/// Hatch + exit + wait cycles, and failing hatches, of the leak tests.
const CYCLES: u32 = 10_000;
/// Random eggs sent through procsrv.
const RANDOM_EGGS: u32 = 100_000;

struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn check(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            println!("hatchtest: FAILED: {name}");
        }
    }
}

fn cmd(role: &'static [u8]) -> Command<'static> {
    Command::new(b"/bin/hatchtest").arg(b"hatchtest").arg(role)
}

fn run_to_end(c: &Command<'_>) -> Result<WaitStatus, HatchError> {
    let mut child = c.spawn()?;
    let status = child.wait();
    if status != Ok(WaitStatus::Exited(0)) {
        println!("hatchtest: pid {} ended: {status:?}", child.id());
    }
    Ok(status.unwrap_or(WaitStatus::Exited(255)))
}

fn fails_at(c: &Command<'_>, op: u64, errno: Errno) -> bool {
    match c.spawn() {
        Err(e) => e.op_index == Some(op) && e.errno == errno,
        Ok(mut child) => {
            let _ = child.kill(SIGKILL);
            let _ = child.wait();
            false
        }
    }
}

/// Runs every test and prints the tally.
pub fn run(_start: &Startup) {
    let mut t = Tally {
        passed: 0,
        failed: 0,
    };
    lifecycle(&mut t);
    order_rules(&mut t);
    bad_requests(&mut t);
    confinement(&mut t);
    environment(&mut t);
    leaks(&mut t);
    random_eggs(&mut t);
    println!("hatchtest: {} passed, {} failed", t.passed, t.failed);
}

fn lifecycle(t: &mut Tally) {
    let exit3 = cmd(b"exit").arg(b"3");
    t.check(
        "exit status 3 comes back through wait",
        run_to_end(&exit3) == Ok(WaitStatus::Exited(3)),
    );
    let fault = run_to_end(&cmd(b"fault"));
    t.check(
        "a faulting child is killed by SIGSEGV and reaped",
        fault == Ok(WaitStatus::Signaled(SIGSEGV)),
    );

    let spinner = cmd(b"spin").spawn();
    t.check("a spinning child hatches", spinner.is_ok());
    if let Ok(mut spinner) = spinner {
        t.check("WNOHANG on a running child", spinner.try_wait() == Ok(None));
        t.check(
            "others run beside a spinner",
            run_to_end(&exit3) == Ok(WaitStatus::Exited(3)),
        );
        t.check("kill SIGKILL", spinner.kill(SIGKILL).is_ok());
        t.check(
            "a killed spinner reports SIGKILL",
            spinner.wait() == Ok(WaitStatus::Signaled(SIGKILL)),
        );
        t.check(
            "a reaped child is gone",
            spinner.wait() == Err(Errno::ESRCH),
        );
    }

    let suspended = cmd(b"exit").arg(b"5").start_suspended().spawn();
    t.check("start_suspended hatches", suspended.is_ok());
    if let Ok(mut child) = suspended {
        t.check(
            "a suspended child has not run",
            child.try_wait() == Ok(None),
        );
        t.check("resume starts it", child.resume().is_ok());
        t.check(
            "it then runs to its exit",
            child.wait() == Ok(WaitStatus::Exited(5)),
        );
    }

    let child = cmd(b"exit").arg(b"7").spawn();
    let pid = child.as_ref().map_or(0, Child::id);
    let any = client::wait(WAIT_ANY, false);
    println!("hatchtest: wait any: {any:?} for {pid}");
    t.check(
        "wait for any child",
        any == Ok(Some((pid, WaitStatus::Exited(7)))),
    );
    drop(child);
    t.check(
        "wait with no children is ECHILD",
        client::wait(WAIT_ANY, true) == Err(Errno::ECHILD),
    );

    let ids = client::ids();
    t.check(
        "getpid family",
        ids.is_ok_and(|[pid, ppid, _, _]| pid > 0 && ppid == 0),
    );
    t.check(
        "opcode 27 is supported, 28 is not",
        client::supported(27) && !client::supported(28),
    );
}

fn order_rules(t: &mut Tally) {
    t.check(
        "setpgid 0; setsid fails at op 1",
        fails_at(&cmd(b"exit").setpgid(0).setsid(), 1, Errno::EPERM),
    );
    t.check(
        "setsid alone works",
        run_to_end(&cmd(b"exit").setsid()) == Ok(WaitStatus::Exited(0)),
    );
    let wrong = cmd(b"exit").setuid(1000).setgid(1000);
    t.check(
        "setuid 1000; setgid 1000 fails at op 1",
        fails_at(&wrong, 1, Errno::EPERM),
    );
    let right = cmd(b"exit").setgid(1000).setuid(1000);
    t.check(
        "setgid 1000; setuid 1000 works",
        run_to_end(&right) == Ok(WaitStatus::Exited(0)),
    );
    let raise = cmd(b"exit")
        .setuid(1000)
        .setrlimit(7, 10, 10)
        .setrlimit(7, 10, 20);
    t.check(
        "an unprivileged child cannot raise a hard limit",
        fails_at(&raise, 2, Errno::EPERM),
    );
    let regain = cmd(b"exit").setuid(1000).setuid(0);
    t.check(
        "an unprivileged child cannot regain uid 0",
        fails_at(&regain, 1, Errno::EPERM),
    );
    t.check(
        "setaffinity must name an existing CPU",
        fails_at(&cmd(b"exit").egg_bytes(&[22, 2]), 0, Errno::EINVAL),
    );
    t.check(
        "dup2 of a closed fd is EBADF",
        fails_at(&cmd(b"exit").dup2(0, 1), 0, Errno::EBADF),
    );
    t.check(
        "open without a file server is ENOENT",
        fails_at(&cmd(b"exit").open(0, b"/dev/null", 2, 0), 0, Errno::ENOENT),
    );
    t.check(
        "setctty needs a session leader",
        fails_at(&cmd(b"exit").setctty(0), 0, Errno::EPERM),
    );
}

fn bad_requests(t: &mut Tally) {
    let bad = cmd(b"exit").egg_bytes(&[5, 0x80, 0x00]).spawn();
    let e = bad.err();
    t.check(
        "an invalid egg is refused before anything is made (op 0, fault byte 1)",
        e.is_some_and(|e| e.errno == Errno::EINVAL && e.op_index == Some(0) && e.fault_offset == 1),
    );
    let unknown = cmd(b"exit").egg_bytes(&[6, 99]).spawn().err();
    t.check(
        "an unknown opcode is a validation error at its op",
        unknown.is_some_and(|e| e.op_index == Some(1)),
    );
    let missing = Command::new(b"/bin/nosuchprogram").spawn().err();
    t.check(
        "a missing program is ENOENT",
        missing.is_some_and(|e| e.errno == Errno::ENOENT && e.op_index.is_none()),
    );
    let no_caps = cmd(b"exit").cap(16, 0, 3, 0).spawn().err();
    t.check(
        "a cap index with no caps sent is EBADF at its op",
        no_caps.is_some_and(|e| e.errno == Errno::EBADF && e.op_index == Some(0)),
    );
    let request = HatchRequest {
        program: b"/bin/hatchtest",
        argv: b"unterminated",
        envp: b"",
        egg: b"",
        cap_radix: 0,
        timeout_ms: 0,
    };
    let e = client::hatch(&request, None).err();
    t.check(
        "argv without its NUL is EINVAL",
        e.is_some_and(|e| e.errno == Errno::EINVAL),
    );
}

fn confinement(t: &mut Tally) {
    let Ok(ep) = make_object(ObjectType::Endpoint, 0) else {
        t.check("make an endpoint", false);
        return;
    };
    let endpoint: Cap<Endpoint> = Cap::from_cptr(ep);
    let Ok(caps) = CapSet::new(2) else {
        t.check("make a cap set", false);
        return;
    };
    t.check(
        "put a cap in the set",
        caps.put(0, endpoint, Rights::ALL).is_ok(),
    );
    let (cnode, radix) = caps.cnode();
    let probe = cmd(b"probe")
        .arg(b"16:1")
        .arg(b"64:3")
        .arg(b"65:3")
        .caps(cnode, radix)
        .cap(16, 0, 1, 0)
        .cap(64, 0, 3, 0x2a)
        .dup2(0, 1);
    t.check(
        "a child finds exactly its fixed slots and what the egg gave",
        run_to_end(&probe) == Ok(WaitStatus::Exited(0)),
    );
    let past = cmd(b"exit")
        .caps(cnode, radix)
        .cap(16, 4, 3, 0)
        .spawn()
        .err();
    t.check(
        "a cap index past the caps sent is EBADF",
        past.is_some_and(|e| e.errno == Errno::EBADF),
    );
    let empty = cmd(b"exit")
        .caps(cnode, radix)
        .cap(16, 3, 3, 0)
        .spawn()
        .err();
    t.check(
        "an empty cap index is EBADF",
        empty.is_some_and(|e| e.errno == Errno::EBADF),
    );
    let reserved = cmd(b"exit")
        .caps(cnode, radix)
        .cap(8, 0, 3, 0)
        .spawn()
        .err();
    t.check(
        "cap into a reserved slot is EINVAL",
        reserved.is_some_and(|e| e.errno == Errno::EINVAL),
    );
    let echo = cmd(b"echo").caps(cnode, radix).cap(16, 0, 15, 0).spawn();
    let answer = endpoint.call(libsys::abi::MessageInfo::new(1, 2, 0), [1, 2, 0, 0]);
    t.check(
        "a cap given by the egg works in the child",
        answer.is_ok_and(|r| r.words[..2] == [2, 3]),
    );
    if let Ok(mut echo) = echo {
        t.check("echo exits 0", echo.wait() == Ok(WaitStatus::Exited(0)));
    }
    drop(caps);
    client::free_slot(ep);
}

fn environment(t: &mut Tally) {
    let env = cmd(b"env")
        .env(b"A", b"1")
        .env(b"B", b"2")
        .arg(b"A=1")
        .arg(b"C=3")
        .setenv(b"C", b"3")
        .egg_bytes(&[25, 1, b'B']);
    t.check(
        "setenv and unsetenv change what the child sees",
        run_to_end(&env) == Ok(WaitStatus::Exited(0)),
    );
    let cleared = cmd(b"env").env(b"A", b"1").clearenv();
    t.check(
        "clearenv empties the environment",
        run_to_end(&cleared) == Ok(WaitStatus::Exited(0)),
    );
}

fn leaks(t: &mut Tally) {
    let before = usage();
    let exit0 = cmd(b"exit");
    let mut ok = true;
    for _ in 0..CYCLES {
        ok &= run_to_end(&exit0) == Ok(WaitStatus::Exited(0));
    }
    t.check("10,000 hatch + exit + wait cycles", ok);
    t.check(
        "procsrv's free memory and slots are as before the cycles",
        usage() == before,
    );
    let failing: [Command<'static>; 4] = [
        cmd(b"exit").setpgid(0).setsid(),
        cmd(b"exit").egg_bytes(&[5, 0x80, 0x00]),
        Command::new(b"/bin/nosuchprogram"),
        cmd(b"exit").setsid().setname(b"x").dup2(3, 4),
    ];
    let mut all_failed = true;
    for i in 0..CYCLES {
        all_failed &= failing[(i % 4) as usize].spawn().is_err();
    }
    t.check("10,000 failing hatches fail", all_failed);
    t.check(
        "procsrv's free memory and slots are as before the failures",
        usage() == before,
    );
    println!(
        "hatchtest: usage before and after: {before:?} {:?}",
        usage()
    );
}

/// xorshift64*.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn random_eggs(t: &mut Tally) {
    let before = usage();
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut survived = true;
    for _ in 0..RANDOM_EGGS {
        let mut bytes = [0u8; 24];
        let len = (next(&mut state) % 24) as usize;
        for b in &mut bytes[..len] {
            *b = (next(&mut state) % 30) as u8;
        }
        match cmd(b"exit").egg_bytes(&bytes[..len]).spawn() {
            Ok(mut child) => {
                let _ = child.kill(SIGKILL);
                let _ = child.wait();
            }
            Err(e) => survived &= e.errno != Errno::ESRCH,
        }
    }
    t.check("100,000 random eggs: procsrv answers every one", survived);
    t.check("random eggs leave no leak", usage() == before);
}
