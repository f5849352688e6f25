//! `hatchbench`: `cargo xtask bench hatch`.
//!
//! As the root task it runs procsrv's code ([`procsrv::run`]) with a boot table that
//! hatches `/bin/hatchbench driver`. The driver times, with `rdtsc`, [`ROUNDS`] rounds of:
//! hatch `/bin/tiny` (one page of code; it exits at once), then wait for it through its
//! handle: the whole life of a child, both sides and the kernel included. It does so for
//! each op count of [`OP_COUNTS`] and each way of describing the child: an egg, the
//! chatty calls and the struct (`procsrv_api::alt`), all three built from one `Command`.
//! Under QEMU TCG with `-icount shift=0` one tick is one executed instruction.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use libsys::abi::MessageInfo;
use libsys::bootinfo::BOOT_INFO_ADDR;
use libsys::cap::{CNode, Cap, DebugConsole, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::alt::{Chatty, Struct};
use libsys::process::client::{make_object, Child, HatchError};
use libsys::process::{CapSet, Command, FD_SLOT_BASE, SLOT_DEBUG_CONSOLE, SLOT_PROCSRV};
use libsys::time::now;
use procsrv::BootProgram;
use procsrv_api::{label, phase, WaitStatus, REPLY_OK};

libsys::entry!(main);

/// Timed rounds per figure (docs/benchmarks.md: medians of at least 200).
const ROUNDS: usize = 200;
/// Untimed rounds first (the first hatch of a program fills its shared text).
const WARM_UP: usize = 20;
/// The op counts measured.
const OP_COUNTS: [usize; 8] = [0, 1, 2, 5, 10, 20, 50, 100];

const BOOT: &[BootProgram] = &[BootProgram {
    program: b"/bin/hatchbench",
    argv: b"hatchbench\0driver\0",
    envp: b"",
    egg: &[],
}];

fn main(arg: u64) {
    if arg == BOOT_INFO_ADDR {
        root_task(arg);
        return;
    }
    if let Err(why) = driver() {
        println!("bench: failed: {why}");
    }
}

/// The root task: procsrv. Out of line so that `main`'s frame, which the driver's stack
/// holds too, is small.
#[inline(never)]
fn root_task(arg: u64) {
    procsrv::run(arg, BOOT);
}

/// The three ways of describing a child.
#[derive(Clone, Copy)]
enum Method {
    Egg,
    Chatty,
    Struct,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Egg => "egg",
            Method::Chatty => "chatty",
            Method::Struct => "struct",
        }
    }
}

/// What [`time`] measured, in ticks per round.
struct Figures {
    mean: u64,
    median: u64,
    fastest: u64,
    /// Medians per round of the kernel's counters (a kernel built with `counters` only):
    /// entries, IPC messages, bytes copied, pages zeroed.
    counted: Option<[u64; 4]>,
}

/// The kernel's counters, when it counts (docs/benchmarks.md, "Counters").
fn counters() -> Option<[u64; 4]> {
    Cap::<DebugConsole>::from_cptr(SLOT_DEBUG_CONSOLE)
        .counters()
        .ok()
}

/// The median of `values` (sorted in place).
fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// Rounds of hatch + wait of the child `spawn` hatches; a failed round is printed as a
/// `bench-error:` line. Never inlined, nor are its callers ([`measure`]): a hatched
/// process's stack grows from its block, which this program's bss (procsrv's) mostly fills.
#[inline(never)]
fn time(
    spawn: &dyn Fn() -> Result<Child, HatchError>,
    method: Method,
    ops: usize,
) -> Option<Figures> {
    let mut rounds = [0u64; ROUNDS];
    let mut counts = [[0u64; ROUNDS]; 4];
    let counting = counters().is_some();
    let m = method.name();
    for round in 0..WARM_UP + ROUNDS {
        let before = if counting { counters() } else { None };
        let start = now();
        let mut child = match spawn() {
            Ok(c) => c,
            Err(e) => {
                println!("bench-error: method={m} ops={ops} run={round}: the hatch failed: {e}");
                return None;
            }
        };
        let status = match child.wait() {
            Ok(s) => s,
            Err(e) => {
                println!("bench-error: method={m} ops={ops} run={round}: the wait failed: {e}");
                return None;
            }
        };
        let took = now() - start;
        let after = if counting { counters() } else { None };
        if status != WaitStatus::Exited(0) {
            println!(
                "bench-error: method={m} ops={ops} run={round}: the child ended with {status:?}, not exit 0"
            );
            return None;
        }
        if let Some(slot) = round.checked_sub(WARM_UP) {
            rounds[slot] = took;
            if let (Some(b), Some(a)) = (before, after) {
                // The second read's own entry is the one entry that is not the round's.
                counts[0][slot] = (a[0] - b[0]).saturating_sub(1);
                counts[1][slot] = a[1] - b[1];
                counts[2][slot] = a[2] - b[2];
                counts[3][slot] = (a[3] - b[3]).div_ceil(4096);
            }
        }
    }
    let mean = rounds.iter().sum::<u64>() / ROUNDS as u64;
    let counted = counting.then(|| {
        let [e, i, b, p] = &mut counts;
        [median(e), median(i), median(b), median(p)]
    });
    Some(Figures {
        mean,
        median: median(&mut rounds),
        fastest: rounds[0],
        counted,
    })
}

/// Prints a figure as a line for people and as a `bench-row:` line for
/// `cargo xtask bench hatch`'s report.
fn report(method: Method, ops: usize, f: &Figures) {
    let m = method.name();
    println!(
        "bench: hatch + exit + wait, one-page static child, {m}, {ops} ops: mean {}, median {}, fastest {} instructions",
        f.mean, f.median, f.fastest
    );
    match f.counted {
        Some([entries, messages, bytes, pages]) => println!(
            "bench-row: method={m} ops={ops} runs={ROUNDS} instructions={} kernel_entries={entries} ipc_messages={messages} bytes_copied={bytes} pages_cleared={pages}",
            f.median
        ),
        None => println!(
            "bench-row: method={m} ops={ops} runs={ROUNDS} instructions={}",
            f.median
        ),
    }
}

/// One op of the mix.
#[derive(Clone, Copy)]
enum MixOp {
    Setsid,
    /// `cap` of request cap 0 onto descriptor `fd` (a cap standing for an open file).
    Cap(u64),
    Dup2(u64, u64),
    Close(u64),
    ChdirRoot,
    Umask,
    Sigsetmask,
    Setenv(usize),
    Setname,
    Setrlimit,
}

/// The first ten ops of the mix, in the order of a 10-op egg.
const TEN: [MixOp; 10] = [
    MixOp::Setsid,
    MixOp::Cap(0),
    MixOp::Dup2(0, 1),
    MixOp::Dup2(0, 2),
    MixOp::ChdirRoot,
    MixOp::Umask,
    MixOp::Sigsetmask,
    MixOp::Setenv(0),
    MixOp::Setname,
    MixOp::Setrlimit,
];

/// Names of the extra environment variables.
const ENV_NAMES: [&[u8]; 19] = [
    b"TERM", b"V01", b"V02", b"V03", b"V04", b"V05", b"V06", b"V07", b"V08", b"V09", b"V10",
    b"V11", b"V12", b"V13", b"V14", b"V15", b"V16", b"V17", b"V18",
];

/// The mix of `n` ops (docs/benchmarks.md, "The mix"): up to 10, the first `n` of [`TEN`];
/// above, the ten plus `n - 10` more cycling through `cap` onto a new descriptor, `dup2`
/// onto another, `close` of one not open, `chdir "/"` and `setenv` of a new variable, the
/// file actions placed among the ten's file actions and the variables after its `setenv`
/// (so that the struct way, whose order is fixed, can say every mix).
fn mix(n: usize, out: &mut [MixOp; 100]) -> usize {
    let mut len = 0;
    let mut push = |op| {
        out[len] = op;
        len += 1;
    };
    let extra = n.saturating_sub(10);
    let ten = &TEN[..n.min(10)];
    for &op in ten.iter().take(5) {
        push(op);
    }
    for k in 0..extra {
        let j = (k / 5) as u64;
        match k % 5 {
            0 => push(MixOp::Cap(3 + j)),
            1 => push(MixOp::Dup2(0, 21 + j)),
            2 => push(MixOp::Close(40 + j)),
            3 => push(MixOp::ChdirRoot),
            _ => {}
        }
    }
    for &op in ten.iter().skip(5).take(3) {
        push(op);
    }
    for k in (0..extra).filter(|k| k % 5 == 4) {
        push(MixOp::Setenv(1 + k / 5));
    }
    for &op in ten.iter().skip(8) {
        push(op);
    }
    len
}

fn command<'p>(ops: &[MixOp], cnode: Cap<CNode>, radix: u64) -> Command<'p> {
    let rw = Rights::READ.union(Rights::WRITE).bits();
    let mut c = Command::new(b"/bin/tiny").caps(cnode, radix);
    for &op in ops {
        c = match op {
            MixOp::Setsid => c.setsid(),
            MixOp::Cap(fd) => c.cap(FD_SLOT_BASE + fd, 0, rw, 0),
            MixOp::Dup2(from, to) => c.dup2(from, to),
            MixOp::Close(fd) => c.close(fd),
            MixOp::ChdirRoot => c.chdir(b"/"),
            MixOp::Umask => c.umask(0o22),
            MixOp::Sigsetmask => c.sigsetmask(0),
            MixOp::Setenv(i) => c.setenv(ENV_NAMES[i % ENV_NAMES.len()], b"vt100"),
            MixOp::Setname => c.setname(b"sh"),
            MixOp::Setrlimit => c.setrlimit(7, 64, 64),
        };
    }
    c
}

/// Measures each op count's child described each way. Each description is made (encoded,
/// before the timing) in a function of its own ([`measure`]), so that only one is on the
/// stack at a time: the driver is a hatched process whose stack grows from its block.
#[inline(never)]
fn driver() -> Result<(), &'static str> {
    let endpoint = make_object(ObjectType::Endpoint, 0).map_err(|_| "no endpoint")?;
    let caps = CapSet::new(1).map_err(|_| "no cap set")?;
    caps.put(
        0,
        libsys::cap::Cap::<libsys::cap::Endpoint>::from_cptr(endpoint),
        Rights::ALL,
    )
    .map_err(|_| "cannot fill the cap set")?;
    let (cnode, radix) = caps.cnode();
    let mut ops = [MixOp::Setsid; 100];
    for n in OP_COUNTS {
        let len = mix(n, &mut ops);
        let egg = command(&ops[..len], cnode, radix);
        let calls = chatty_calls(&egg)?;
        struct_says(&egg, n)?;
        println!(
            "bench: {n} ops: egg {} bytes, chatty {calls} calls",
            egg.egg().len(),
        );
        for method in [Method::Egg, Method::Chatty, Method::Struct] {
            // Where the instructions go: procsrv's phase totals over the 10-op egg's rounds.
            let breakdown = matches!(method, Method::Egg) && n == 10;
            if breakdown {
                phases(true)?;
            }
            match measure(&egg, method, n)? {
                Some(f) => {
                    if breakdown {
                        report_phases(&phases(false)?, &f);
                    }
                    report(method, n, &f)
                }
                None => return Err("a hatch failed"),
            }
        }
    }
    Ok(())
}

/// The number of chatty calls describing `egg`'s child.
#[inline(never)]
fn chatty_calls(egg: &Command<'_>) -> Result<usize, &'static str> {
    match &Chatty::new(egg) {
        Ok(chatty) => Ok(chatty.calls()),
        Err(_) => Err("the chatty calls do not fit"),
    }
}

/// Whether the struct can say `egg`'s child (a `bench-error:` line if not).
#[inline(never)]
fn struct_says(egg: &Command<'_>, n: usize) -> Result<(), &'static str> {
    match Struct::new(egg) {
        Ok(_) => Ok(()),
        Err(e) => {
            println!("bench-error: method=struct ops={n}: the struct cannot say the mix: {e:?}");
            Err("a mix the struct cannot say")
        }
    }
}

/// [`time`]s `egg`'s child described the `method` way (that description made before the
/// timing, in a function of its own).
fn measure(egg: &Command<'_>, method: Method, n: usize) -> Result<Option<Figures>, &'static str> {
    match method {
        Method::Egg => measure_egg(egg, n),
        Method::Chatty => measure_chatty(egg, n),
        Method::Struct => measure_struct(egg, n),
    }
}

/// [`measure`] of the egg: its request encoded once, before the timing, as the chatty
/// calls and the struct are ([`Command::prepare`]).
#[inline(never)]
fn measure_egg(egg: &Command<'_>, n: usize) -> Result<Option<Figures>, &'static str> {
    let prepared = egg
        .prepare()
        .map_err(|_| "the egg's request does not fit a message")?;
    Ok(time(&|| prepared.spawn(), Method::Egg, n))
}

/// [`measure`] of the chatty calls.
#[inline(never)]
fn measure_chatty(egg: &Command<'_>, n: usize) -> Result<Option<Figures>, &'static str> {
    // Used where it was made: a move would put a second copy (20 KiB) in the frame.
    match &Chatty::new(egg) {
        Ok(chatty) => Ok(time(&|| chatty.spawn(), Method::Chatty, n)),
        Err(_) => Err("the chatty calls do not fit"),
    }
}

/// [`measure`] of the struct.
#[inline(never)]
fn measure_struct(egg: &Command<'_>, n: usize) -> Result<Option<Figures>, &'static str> {
    let strukt = Struct::new(egg).map_err(|_| "a mix the struct cannot say")?;
    Ok(time(&|| strukt.spawn(), Method::Struct, n))
}

/// procsrv's phase totals ([`procsrv_api::phase`]), reset first when `reset`.
fn phases(reset: bool) -> Result<[u64; phase::REPLY_WORDS], &'static str> {
    let procsrv = Cap::<Endpoint>::from_cptr(SLOT_PROCSRV);
    let reply = procsrv
        .call(
            MessageInfo::new(label::PHASES, 1, 0),
            [u64::from(reset), 0, 0, 0],
        )
        .map_err(|_| "the phases query failed")?;
    if reply.info.label() != REPLY_OK || reply.info.length() < phase::REPLY_WORDS as u64 {
        return Err("procsrv refused the phases query");
    }
    let mut words = [0u64; phase::REPLY_WORDS];
    words[..4].copy_from_slice(&reply.words);
    for (i, w) in words.iter_mut().enumerate().skip(4) {
        *w = libsys::syscall::word(i);
    }
    Ok(words)
}

/// Prints where the rounds' instructions went, per hatch (the mean over the rounds): one
/// `bench-phase:` line per phase and per opcode used, then the rest (the kernel's IPC and
/// context switches, the driver's and the child's own code).
fn report_phases(totals: &[u64; phase::REPLY_WORDS], figures: &Figures) {
    let hatches = totals[0];
    if hatches == 0 {
        return;
    }
    let mut accounted = 0;
    let mut row = |kind: &str, name: &str, total: u64| {
        let mean = total / hatches;
        accounted += mean;
        println!("bench-phase: {mean} {kind}{name}");
    };
    for (i, name) in phase::NAMES.iter().enumerate() {
        row("", name, totals[1 + i]);
    }
    for n in 0..phase::OPCODES {
        let total = totals[phase::OPS_AT + n];
        if total != 0 {
            let mnemonic = egg::Opcode::from_number(n as u64).map_or("?", |o| o.mnemonic());
            row("op ", mnemonic, total);
        }
    }
    let rest = figures.mean.saturating_sub(accounted);
    println!(
        "bench-phase: {rest} outside procsrv: kernel (IPC, context switches), the driver's and the child's code"
    );
    println!(
        "bench-phase: {} total (mean of {hatches} hatches)",
        figures.mean
    );
}
