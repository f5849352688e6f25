//! The driver: hatches children through procsrv and checks what comes back.

use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::alt::{Chatty, Struct, StructError};
use libsys::process::client::{self, make_object, HatchError};
use libsys::process::{CapSet, Child, Command, Startup};
use procsrv_api::signal::{SIGKILL, SIGSEGV};
use procsrv_api::{label, Errno, HatchRequest, WaitStatus, WAIT_ANY};

pub(crate) struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    pub(crate) fn check(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            println!("hatchtest: FAILED: {name}");
        }
    }
}

pub(crate) fn cmd(role: &'static [u8]) -> Command<'static> {
    Command::new(b"/bin/hatchchild")
        .arg(b"hatchchild")
        .arg(role)
}

pub(crate) fn run_to_end(c: &Command<'_>) -> Result<WaitStatus, HatchError> {
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
pub fn run(start: &Startup) {
    let mut t = Tally {
        passed: 0,
        failed: 0,
    };
    if start.arg(2) == Some(b"requests") {
        crate::file_server::timeouts(&mut t);
        crate::big_requests::run(&mut t);
        crate::random_messages::run(&mut t);
        println!("hatchtest: {} passed, {} failed", t.passed, t.failed);
        return;
    }
    lifecycle(&mut t);
    signals(&mut t);
    order_rules(&mut t);
    bad_requests(&mut t);
    confinement(&mut t);
    environment(&mut t);
    alternatives(&mut t);
    own_state(&mut t);
    crate::cpu_limits::cpu_limits(&mut t);
    crate::leaks::leaks(&mut t);
    crate::leaks::many_hatchers(&mut t);
    crate::leaks::many_holders(&mut t);
    crate::leaks::out_of_memory(&mut t);
    crate::leaks::random_eggs(&mut t);
    println!("hatchtest: {} passed, {} failed", t.passed, t.failed);
}

#[inline(never)]
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

    let deep = cmd(b"stack").arg(b"256");
    t.check(
        "a stack grown to 256 KiB, page by page",
        run_to_end(&deep) == Ok(WaitStatus::Exited(0)),
    );
    let too_deep = cmd(b"stack").arg(b"2048");
    t.check(
        "a stack past its 1 MiB is SIGSEGV",
        run_to_end(&too_deep) == Ok(WaitStatus::Signaled(SIGSEGV)),
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

#[inline(never)]
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

#[inline(never)]
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

#[inline(never)]
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

#[inline(never)]
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
        "an empty cap index is EBADF at its op",
        empty.is_some_and(|e| e.errno == Errno::EBADF && e.op_index == Some(0)),
    );
    // procsrv makes the egg's copies in batches (docs/procsrv.md, "The ops"): a failed copy
    // is still reported at its own op, before any later op's failure.
    let late = cmd(b"exit")
        .caps(cnode, radix)
        .umask(0)
        .cap(16, 3, 3, 0)
        .umask(0o22)
        .sigsetmask(0);
    t.check(
        "an empty cap index is EBADF at its op when later ops succeed",
        fails_at(&late, 1, Errno::EBADF),
    );
    let first = cmd(b"exit")
        .caps(cnode, radix)
        .setsid()
        .cap(17, 3, 3, 0)
        .setpgid(0);
    t.check(
        "a failed copy is reported before a later op's failure",
        fails_at(&first, 1, Errno::EBADF),
    );
    let closed = cmd(b"exit")
        .caps(cnode, radix)
        .cap(64, 0, 3, 0)
        .cap(65, 3, 3, 0)
        .close(64);
    t.check(
        "a failed copy is reported at its op when a later close makes the copies",
        fails_at(&closed, 1, Errno::EBADF),
    );
    const SIXTEEN: [&[u8]; 16] = [
        b"16:3", b"17:3", b"18:3", b"19:3", b"20:3", b"21:3", b"22:3", b"23:3", b"24:3", b"25:3",
        b"26:3", b"27:3", b"28:3", b"29:3", b"30:3", b"31:3",
    ];
    let mut many = cmd(b"probe").caps(cnode, radix);
    for (slot, arg) in (16..32u64).zip(SIXTEEN) {
        many = many.cap(slot, 0, 3, 0).arg(arg);
    }
    t.check(
        "16 cap ops (more than a batch holds) all reach the child",
        run_to_end(&many) == Ok(WaitStatus::Exited(0)),
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

#[inline(never)]
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
    // procsrv skips looking for a name the environment cannot hold (a set of name hashes):
    // a name of the request's environment and one an earlier setenv made are still replaced.
    let replaced = cmd(b"env")
        .env(b"A", b"1")
        .arg(b"A=2")
        .arg(b"D=5")
        .setenv(b"A", b"2")
        .setenv(b"D", b"4")
        .setenv(b"D", b"5");
    t.check(
        "setenv replaces a request's variable and one an earlier setenv made",
        run_to_end(&replaced) == Ok(WaitStatus::Exited(0)),
    );
    let after_clear = cmd(b"env")
        .env(b"A", b"1")
        .arg(b"A=3")
        .clearenv()
        .setenv(b"A", b"3");
    t.check(
        "setenv after clearenv leaves one variable",
        run_to_end(&after_clear) == Ok(WaitStatus::Exited(0)),
    );
    let cleared = cmd(b"env").env(b"A", b"1").clearenv();
    t.check(
        "clearenv empties the environment",
        run_to_end(&cleared) == Ok(WaitStatus::Exited(0)),
    );
}

/// Hatches `c` the chatty way and the struct way; both exit statuses. Each way has a
/// function of its own, never inlined, so that only one description (about 20 KiB) is on
/// the stack at a time: a hatched process's stack grows from its block's memory.
fn both_ways(c: &Command<'_>) -> [Result<WaitStatus, &'static str>; 2] {
    [chatty_way(c), struct_way(c)]
}

/// The child's end: how it exited, or why it never ran.
fn end(child: Result<Child, HatchError>) -> Result<WaitStatus, &'static str> {
    let mut child = child.map_err(|_| "hatch refused")?;
    child.wait().map_err(|_| "wait failed")
}

/// Hatches `c` the chatty way.
#[inline(never)]
fn chatty_way(c: &Command<'_>) -> Result<WaitStatus, &'static str> {
    match Chatty::new(c) {
        Ok(chatty) => end(chatty.spawn()),
        Err(_) => Err("no chatty calls"),
    }
}

/// Hatches `c` the struct way.
#[inline(never)]
fn struct_way(c: &Command<'_>) -> Result<WaitStatus, &'static str> {
    match Struct::new(c) {
        Ok(s) => end(s.spawn()),
        Err(_) => Err("not expressible"),
    }
}

/// The chatty and struct ways (procsrv_api::alt) build the same children as the egg, and
/// procsrv refuses what is wrong in them.
#[inline(never)]
fn alternatives(t: &mut Tally) {
    const OK: Result<WaitStatus, &str> = Ok(WaitStatus::Exited(0));
    let env = cmd(b"env")
        .env(b"A", b"1")
        .env(b"C", b"0")
        .arg(b"A=1")
        .arg(b"C=3")
        .setsid()
        .umask(0o22)
        .setenv(b"C", b"3");
    t.check(
        "chatty and struct: the environment the egg would give",
        both_ways(&env) == [OK, OK],
    );
    if let (Ok(ep), Ok(caps)) = (make_object(ObjectType::Endpoint, 0), CapSet::new(1)) {
        let endpoint: Cap<Endpoint> = Cap::from_cptr(ep);
        let put = caps.put(0, endpoint, Rights::ALL).is_ok();
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
            "chatty and struct: exactly the slots the egg would give",
            put && both_ways(&probe) == [OK, OK],
        );
        client::free_slot(ep);
    } else {
        t.check("make an endpoint and a cap set", false);
    }
    let exit3 = cmd(b"exit").arg(b"3").setname(b"three");
    t.check(
        "chatty and struct: the exit status comes back",
        both_ways(&exit3) == [Ok(WaitStatus::Exited(3)); 2],
    );
    // The struct cannot say a setpgid before setsid (nor a controlling terminal).
    let ordered = cmd(b"exit").setpgid(0).setsid();
    t.check(
        "the struct refuses an order it cannot say",
        matches!(Struct::new(&ordered), Err(StructError::NotExpressible(e)) if e.op_index == 1),
    );
    let procsrv: Cap<Endpoint> = Cap::from_cptr(libsys::process::SLOT_PROCSRV);
    let errno = |label: u64, n: u64, words: [u64; 4]| match procsrv
        .call(MessageInfo::new(label, n, 0), words)
    {
        Ok(r) if r.info.label() == procsrv_api::REPLY_OK => None,
        Ok(r) => Errno::from_number(r.words[0]),
        Err(_) => Some(Errno::ESRCH),
    };
    t.check(
        "LAUNCH_ADD to a launch that is not open is ESRCH",
        errno(label::LAUNCH_ADD, 2, [12345, 6, 0, 0]) == Some(Errno::ESRCH),
    );
    t.check(
        "SPAWN_STRUCT of another version is EINVAL",
        errno(label::SPAWN_STRUCT, 16, [2, 0, 0, 0]) == Some(Errno::EINVAL),
    );
    // A launch: an unknown attribute is refused and closes the launch.
    libsys::syscall::set_word(4, 0);
    libsys::syscall::set_word(5, 0);
    libsys::syscall::set_word(6, u64::from_le_bytes(*b"/bin/tin"));
    libsys::syscall::set_word(7, u64::from(b'y'));
    let created = procsrv.call(MessageInfo::new(label::LAUNCH_CREATE, 8, 0), [9, 0, 0, 0]);
    match created {
        Ok(r) if r.info.label() == procsrv_api::REPLY_OK => {
            let id = r.words[0];
            t.check(
                "an unknown attribute is EINVAL",
                errno(label::LAUNCH_ADD, 2, [id, 999, 0, 0]) == Some(Errno::EINVAL),
            );
            t.check(
                "a refused attribute closes the launch",
                errno(label::LAUNCH_START, 2, [id, 0, 0, 0]) == Some(Errno::ESRCH),
            );
        }
        _ => t.check("LAUNCH_CREATE opens a launch", false),
    }
}

/// What a process reads and sets of itself through procsrv (INFO, CLOCK, SET_CWD,
/// SIGIGNORE, UMASK, SETRLIMIT), a child's state through its handle, and stop reports.
#[inline(never)]
fn own_state(t: &mut Tally) {
    const SIGSTOP: u32 = 19;
    const SIGCONT: u32 = 18;
    const SIGUSR1: u32 = 10;
    const RLIMIT_NOFILE: u64 = 7;
    const RLIMIT_CORE: u64 = 4;
    let info = client::info();
    let ids = client::ids();
    t.check(
        "INFO names the caller as IDS does",
        matches!((info, ids), (Ok(i), Ok(ids)) if [i.pid, i.ppid, i.pgid, i.sid] == ids),
    );
    t.check(
        "CLOCK gives the counter's rate",
        client::clock().is_ok_and(|c| c.hz() > 1),
    );
    let before = client::umask(0o77);
    t.check(
        "UMASK sets the mask and returns the old one",
        before.is_ok() && client::info().is_ok_and(|i| i.umask == 0o77),
    );
    t.check(
        "UMASK refuses bits above 0o777",
        client::umask(0o1000) == Err(Errno::EINVAL),
    );
    let _ = client::umask(before.unwrap_or(0o22));
    t.check(
        "SETRLIMIT refuses a soft limit above the hard one",
        client::setrlimit(RLIMIT_CORE, 2, 1) == Err(Errno::EINVAL),
    );
    t.check(
        "SETRLIMIT refuses an unknown resource",
        client::setrlimit(99, 0, 0) == Err(Errno::EINVAL),
    );
    t.check(
        "SETRLIMIT sets the caller's limits",
        client::setrlimit(RLIMIT_CORE, 0, 0).is_ok()
            && client::info().is_ok_and(|i| i.limits[RLIMIT_CORE as usize] == (0, 0)),
    );
    let _ = client::setrlimit(RLIMIT_CORE, u64::MAX, u64::MAX);
    t.check(
        "SET_CWD keeps an absolute directory",
        client::set_cwd(b"/bin").is_ok()
            && client::info().is_ok_and(|i| &i.cwd[..i.cwd_len] == b"/bin"),
    );
    t.check(
        "SET_CWD refuses a relative path",
        client::set_cwd(b"bin") == Err(Errno::EINVAL),
    );
    let _ = client::set_cwd(b"/");
    t.check(
        "SIGIGNORE refuses SIGKILL",
        client::sigignore(1 << (SIGKILL - 1)) == Err(Errno::EINVAL),
    );
    let usr1 = 1u64 << (SIGUSR1 - 1);
    t.check(
        "SIGIGNORE adds to the ignored set",
        client::sigignore(usr1).is_ok() && client::info().is_ok_and(|i| i.sigignore & usr1 != 0),
    );
    let egg = cmd(b"spin")
        .umask(0o27)
        .setgroups(&[4, 5])
        .setrlimit(RLIMIT_NOFILE, 32, 32);
    if let Ok(mut c) = egg.spawn() {
        let child = c.info();
        t.check(
            "INFO through a handle: what the egg set",
            child.is_ok_and(|i| {
                i.umask == 0o27
                    && i.groups[..i.ngroups] == [4, 5]
                    && i.limits[RLIMIT_NOFILE as usize] == (32, 32)
                    && i.name.starts_with(b"hatchchild")
                    && info.is_ok_and(|me| me.pid == i.ppid)
            }),
        );
        let pid = c.id();
        let options = procsrv_api::WNOHANG | procsrv_api::WUNTRACED;
        let _ = c.kill(SIGSTOP);
        t.check(
            "WUNTRACED reports a stop",
            client::wait_with(pid, options) == Ok(Some((pid, WaitStatus::Stopped(SIGSTOP)))),
        );
        t.check(
            "a stop is reported once",
            client::wait_with(pid, options) == Ok(None),
        );
        t.check(
            "without WUNTRACED a stop is not reported",
            client::wait(pid, true) == Ok(None),
        );
        let _ = c.kill(SIGCONT);
        let _ = c.kill(SIGKILL);
        t.check(
            "the stopped and continued child dies of SIGKILL",
            c.wait() == Ok(WaitStatus::Signaled(SIGKILL)),
        );
    }
}
