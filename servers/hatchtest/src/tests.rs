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
    Command::new(b"/bin/hatchchild")
        .arg(b"hatchchild")
        .arg(role)
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
    signals(&mut t);
    order_rules(&mut t);
    bad_requests(&mut t);
    confinement(&mut t);
    environment(&mut t);
    leaks(&mut t);
    many_hatchers(&mut t);
    out_of_memory(&mut t);
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

fn signals(t: &mut Tally) {
    const SIGTERM: u32 = 15;
    const SIGSTOP: u32 = 19;
    const SIGCONT: u32 = 18;
    let term = 1u64 << (SIGTERM - 1);
    if let Ok(mut c) = cmd(b"spin").sigsetmask(term).spawn() {
        t.check("a blocked signal is sent", c.kill(SIGTERM).is_ok());
        t.check("a blocked signal stays pending", c.try_wait() == Ok(None));
        let _ = c.kill(SIGKILL);
        t.check(
            "SIGKILL cannot be blocked",
            c.wait() == Ok(WaitStatus::Signaled(SIGKILL)),
        );
    }
    if let Ok(mut c) = cmd(b"spin").sigignore(term).spawn() {
        let _ = c.kill(SIGTERM);
        t.check("an ignored signal does nothing", c.try_wait() == Ok(None));
        t.check("SIGSTOP stops it", c.kill(SIGSTOP).is_ok());
        t.check(
            "SIGCONT continues it",
            c.kill(SIGCONT).is_ok() && c.try_wait() == Ok(None),
        );
        let pid = c.id() as i64;
        t.check(
            "kill by pid through the own endpoint",
            client::kill(pid, SIGKILL).is_ok(),
        );
        t.check(
            "it died of SIGKILL",
            c.wait() == Ok(WaitStatus::Signaled(SIGKILL)),
        );
    }
    if let Ok(mut c) = cmd(b"spin").spawn() {
        let _ = c.kill(SIGTERM);
        t.check(
            "SIGTERM's default action kills",
            c.wait() == Ok(WaitStatus::Signaled(SIGTERM)),
        );
    }
    t.check(
        "kill of no such pid is ESRCH",
        client::kill(999_999, SIGTERM) == Err(Errno::ESRCH),
    );
    let orphan = run_to_end(&cmd(b"orphan"));
    t.check(
        "a parent that exits without waiting",
        orphan == Ok(WaitStatus::Exited(0)),
    );
    let adopted = client::wait(WAIT_ANY, false);
    t.check(
        "its orphan goes to pid 1, which reaps it",
        adopted.is_ok_and(|r| r.is_some_and(|(_, s)| s == WaitStatus::Exited(9))),
    );
    let mut entries = [procsrv_api::PsEntry::default(); 8];
    let n = client::list(0, &mut entries).unwrap_or(0);
    let me = entries[..n]
        .iter()
        .any(|e| e.pid == 1 && &e.name[..9] == b"hatchtest");
    t.check(
        "the process listing shows procsrv and this driver",
        n >= 2 && entries[0].pid == 0 && me,
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
    let most = cmd(b"exit")
        .chdir(b"/")
        .chdir(b"bin")
        .unsetenv(b"X")
        .sigdefault(1)
        .setaffinity(1)
        .setgroups(&[4, 24])
        .umask(0o27)
        .setpriority(100);
    t.check(
        "chdir, unsetenv, sigdefault, setaffinity, setgroups, umask, setpriority succeed",
        run_to_end(&most) == Ok(WaitStatus::Exited(0)),
    );
    t.check(
        "chdir to a directory that does not exist is ENOENT",
        fails_at(&cmd(b"exit").chdir(b"/nonexistent"), 0, Errno::ENOENT),
    );
    t.check(
        "fchdir of a closed fd is EBADF",
        fails_at(&cmd(b"exit").fchdir(3), 0, Errno::EBADF),
    );
    t.check(
        "tcsetpgrp of a closed fd is EBADF",
        fails_at(&cmd(b"exit").tcsetpgrp(0, 0), 0, Errno::EBADF),
    );
    let unprivileged = cmd(b"exit").setuid(1000).setgroups(&[1]);
    t.check(
        "setgroups needs privilege",
        fails_at(&unprivileged, 1, Errno::EPERM),
    );
    let big = cmd(b"exit")
        .setrlimit(7, 100, 100)
        .setrlimit(7, u64::MAX, u64::MAX);
    t.check(
        "limits above the fd slots and RLIM_INFINITY are accepted",
        run_to_end(&big) == Ok(WaitStatus::Exited(0)),
    );
    let lower = cmd(b"exit").egg_bytes(&[19, 0]).dup2(0, 0);
    t.check(
        "an unknown-fd dup2 after umask fails at op 1",
        fails_at(&lower, 1, Errno::EBADF),
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
    let lowered = cmd(b"exit")
        .caps(cnode, radix)
        .cap(67, 0, 3, 0)
        .setrlimit(7, 2, 2);
    t.check(
        "RLIMIT_NOFILE below an open fd is EMFILE",
        fails_at(&lowered, 1, Errno::EMFILE),
    );
    let bounded = cmd(b"exit")
        .caps(cnode, radix)
        .setrlimit(7, 4, 4)
        .cap(69, 0, 3, 0);
    t.check(
        "RLIMIT_NOFILE bounds fd numbers",
        fails_at(&bounded, 1, Errno::EMFILE),
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

/// `/bin/tiny` (one page of code that exits 0 at once): the cheap child of the long loops.
fn tiny() -> Command<'static> {
    Command::new(b"/bin/tiny")
}

fn leaks(t: &mut Tally) {
    let before = usage();
    let exit0 = tiny();
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
        tiny().setpgid(0).setsid(),
        tiny().egg_bytes(&[5, 0x80, 0x00]),
        Command::new(b"/bin/nosuchprogram"),
        tiny().setsid().setname(b"x").dup2(3, 4),
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

/// Asks procsrv to fail allocation step `step` of the next hatches (`None`: none).
fn inject(step: Option<u32>) -> bool {
    let procsrv: Cap<Endpoint> = Cap::from_cptr(libsys::process::SLOT_PROCSRV);
    let word = step.map_or(u64::MAX, u64::from);
    let info = libsys::abi::MessageInfo::new(procsrv_api::label::INJECT, 1, 0);
    procsrv
        .call(info, [word, 0, 0, 0])
        .is_ok_and(|r| r.info.label() == procsrv_api::REPLY_OK)
}

/// Out of memory at every step of a hatch: step 0, 1, 2... fails until the hatch needs
/// fewer steps than that; each failure is ENOMEM and leaves procsrv as it was.
fn out_of_memory(t: &mut Tally) {
    let Ok(ep) = make_object(ObjectType::Endpoint, 0) else {
        t.check("make an endpoint", false);
        return;
    };
    let Ok(caps) = CapSet::new(1) else {
        t.check("make a cap set", false);
        return;
    };
    t.check(
        "put a cap in the set",
        caps.put(0, Cap::<Endpoint>::from_cptr(ep), Rights::ALL)
            .is_ok(),
    );
    let (cnode, radix) = caps.cnode();
    let ten = tiny()
        .caps(cnode, radix)
        .setsid()
        .cap(64, 0, 3, 0)
        .dup2(0, 1)
        .dup2(0, 2)
        .chdir(b"/")
        .umask(0o22)
        .sigsetmask(0)
        .setenv(b"TERM", b"vt100")
        .setname(b"sh")
        .setrlimit(7, 64, 64);
    let before = usage();
    let (mut clean, mut steps, mut hatched) = (true, 0u32, false);
    while steps < 200 && !hatched {
        if !inject(Some(steps)) {
            clean = false;
            break;
        }
        match ten.spawn() {
            Ok(mut child) => {
                hatched = child.wait() == Ok(WaitStatus::Exited(0));
            }
            Err(e) => {
                clean &= e.errno == Errno::ENOMEM && usage() == before;
                steps += 1;
            }
        }
    }
    inject(None);
    println!("hatchtest: a hatch of tiny with a 10-op egg has {steps} allocation steps; each failed cleanly");
    t.check(
        "out of memory at every step of a hatch: ENOMEM, nothing left behind",
        clean && steps > 5,
    );
    t.check("with no step failing, the hatch then succeeds", hatched);
    t.check(
        "after the injected failures, procsrv's usage is as before",
        usage() == before,
    );
    drop(caps);
    client::free_slot(ep);
}

/// Hatchers running at once: each with a child of its own at times, they use 80 of
/// procsrv's 95 free blocks.
const HATCHERS: usize = 40;

fn many_hatchers(t: &mut Tally) {
    let before = usage();
    let hatcher = cmd(b"hatcher");
    let mut children: [Option<Child>; HATCHERS] = [const { None }; HATCHERS];
    let mut all = true;
    for (i, c) in children.iter_mut().enumerate() {
        match hatcher.spawn() {
            Ok(child) => *c = Some(child),
            Err(e) => {
                println!("hatchtest: hatcher {i}: {e}; usage {:?}", usage());
                all = false;
            }
        }
    }
    t.check("40 hatchers start", all);
    let mut ok = true;
    for c in children.iter_mut().flatten() {
        ok &= c.wait() == Ok(WaitStatus::Exited(0));
    }
    t.check("40 hatchers at once, 50 hatches each, all succeed", ok);
    drop(children);
    t.check("many hatchers leave no leak", usage() == before);
}

/// xorshift64*.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn random_eggs(t: &mut Tally) {
    let Ok(ep) = make_object(ObjectType::Endpoint, 0) else {
        t.check("make an endpoint", false);
        return;
    };
    let Ok(caps) = CapSet::new(2) else {
        t.check("make a cap set", false);
        return;
    };
    t.check(
        "put a cap in the set",
        caps.put(0, Cap::<Endpoint>::from_cptr(ep), Rights::ALL)
            .is_ok(),
    );
    let (cnode, radix) = caps.cnode();
    let before = usage();
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut answered = true;
    let (mut hatched, mut refused) = (0u32, 0u32);
    for i in 0..RANDOM_EGGS {
        let mut bytes = [0u8; 64];
        let len = if i % VALID_EVERY == 0 {
            random_valid_ops(&mut state, &mut bytes)
        } else {
            random_bytes(&mut state, &mut bytes)
        };
        match tiny().caps(cnode, radix).egg_bytes(&bytes[..len]).spawn() {
            Ok(mut child) => {
                hatched += 1;
                let _ = child.kill(SIGKILL);
                answered &= child.wait().is_ok();
            }
            Err(e) => {
                refused += 1;
                answered &= e.errno != Errno::ESRCH;
            }
        }
    }
    println!("hatchtest: random eggs: {hatched} hatched, {refused} refused");
    t.check("100,000 random eggs (random bytes, and random valid op sequences): procsrv answers every one", answered);
    t.check("random eggs leave no leak", usage() == before);
    drop(caps);
    client::free_slot(ep);
}

/// One random egg in ten is a sequence of valid ops (the rest are random bytes).
const VALID_EVERY: u32 = 10;

fn random_bytes(state: &mut u64, out: &mut [u8; 64]) -> usize {
    let len = (next(state) % 24) as usize;
    for b in &mut out[..len] {
        *b = (next(state) % 30) as u8;
    }
    len
}

/// Up to eight random ops, each well formed, with operands that may or may not make sense
/// for the child (so some hatches fail at a random op, some succeed).
fn random_valid_ops(state: &mut u64, out: &mut [u8; 64]) -> usize {
    let mut at = 0;
    let mut push = |bytes: &[u8], at: &mut usize| {
        if *at + bytes.len() <= out.len() {
            out[*at..*at + bytes.len()].copy_from_slice(bytes);
            *at += bytes.len();
        }
    };
    for _ in 0..next(state) % 8 {
        let r = next(state);
        let a = (r >> 8) as u8 % 4;
        let b = (r >> 16) as u8 % 4;
        match r % 14 {
            0 => push(&[6], &mut at),                                         // setsid
            1 => push(&[5, a], &mut at),                                      // setpgid 0..3
            2 => push(&[16, [0, 0x68, 0x69][b as usize % 3]], &mut at),       // setuid 0|104|105
            3 => push(&[17, [0, 0x68, 0x69][a as usize % 3]], &mut at),       // setgid
            4 => push(&[19, (r >> 24) as u8 & 0x7f], &mut at),                // umask
            5 => push(&[13, (r >> 24) as u8 & 0x7f], &mut at),                // sigsetmask
            6 => push(&[2, a, b], &mut at),                                   // dup2
            7 => push(&[3, a], &mut at),                                      // close
            8 => push(&[11, 0x40 + a, b, (r >> 24) as u8 & 0xf, 0], &mut at), // cap fd a
            9 => push(&[24, 1, b'V', 1, b'x'], &mut at),                      // setenv V x
            10 => push(&[25, 1, b'V'], &mut at),                              // unsetenv V
            11 => push(&[20, 7, a + 1, a + 2], &mut at),                      // setrlimit NOFILE
            12 => push(&[9, 4, b'/', b'b', b'i', b'n'], &mut at),             // chdir /bin
            _ => push(&[23, 1, b'r'], &mut at),                               // setname r
        }
    }
    debug_assert!(egg::validate(&out[..at]).is_ok());
    at
}
