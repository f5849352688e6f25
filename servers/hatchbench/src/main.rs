//! `hatchbench`: `cargo xtask bench hatch`.
//!
//! As the root task it runs procsrv's code ([`procsrv::run`]) with a boot table that
//! hatches `/bin/hatchbench driver`. The driver times, with `rdtsc`, [`ROUNDS`] rounds of:
//! hatch `/bin/tiny` (one page of code; it exits at once) with an egg, then wait for it
//! through its handle: the whole life of a child, both sides and the kernel included.
//! Under QEMU TCG with `-icount shift=0` one tick is one executed instruction.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use libsys::abi::MessageInfo;
use libsys::bootinfo::BOOT_INFO_ADDR;
use libsys::cap::{Cap, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::make_object;
use libsys::process::SLOT_PROCSRV;
use libsys::process::{CapSet, Command};
use libsys::time::now;
use procsrv::BootProgram;
use procsrv_api::{label, phase, WaitStatus, REPLY_OK};

libsys::entry!(main);

/// Timed rounds per figure.
const ROUNDS: u64 = 1000;
/// Untimed rounds first (the first hatch of a program fills its shared text).
const WARM_UP: u64 = 20;

const BOOT: &[BootProgram] = &[BootProgram {
    program: b"/bin/hatchbench",
    argv: b"hatchbench\0driver\0",
    envp: b"",
    egg: &[],
}];

fn main(arg: u64) {
    if arg == BOOT_INFO_ADDR {
        procsrv::run(arg, BOOT);
        return;
    }
    if let Err(why) = driver() {
        println!("bench: failed: {why}");
    }
}

/// What [`time`] measured, in ticks per round.
struct Figures {
    mean: u64,
    median: u64,
    fastest: u64,
}

/// Rounds of hatch + wait of `command`.
fn time(command: &Command<'_>) -> Result<Figures, &'static str> {
    let mut rounds = [0u64; ROUNDS as usize];
    for round in 0..WARM_UP + ROUNDS {
        let start = now();
        let mut child = command.spawn().map_err(|_| "hatch refused")?;
        let status = child.wait().map_err(|_| "wait failed")?;
        let took = now() - start;
        if status != WaitStatus::Exited(0) {
            return Err("the child did not exit 0");
        }
        if let Some(slot) = round.checked_sub(WARM_UP) {
            rounds[slot as usize] = took;
        }
    }
    let mean = rounds.iter().sum::<u64>() / ROUNDS;
    rounds.sort_unstable();
    Ok(Figures {
        mean,
        median: rounds[rounds.len() / 2],
        fastest: rounds[0],
    })
}

/// Prints a figure as a line for people and as a `bench-row:` line for
/// `cargo xtask bench hatch`'s report.
fn report(what: &str, ops: u32, f: &Figures) {
    println!(
        "bench: hatch + exit + wait, one-page static child, {what}: {} instructions (median {}, fastest {})",
        f.mean, f.median, f.fastest
    );
    println!(
        "bench-row: method=egg ops={ops} runs={ROUNDS} instructions={}",
        f.median
    );
}

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
    let empty = Command::new(b"/bin/tiny");
    // Ten ops: a session, three descriptors (a cap standing for an open file, as the file
    // server's would), the directory, the mask, signals, the environment, the name, a limit.
    let ten = Command::new(b"/bin/tiny")
        .caps(cnode, radix)
        .setsid()
        .cap(64, 0, Rights::READ.union(Rights::WRITE).bits(), 0)
        .dup2(0, 1)
        .dup2(0, 2)
        .egg_bytes(&[9, 1, b'/'])
        .umask(0o22)
        .sigsetmask(0)
        .setenv(b"TERM", b"vt100")
        .setname(b"sh")
        .setrlimit(7, 64, 64);
    report("empty egg", 0, &time(&empty)?);
    println!("bench: the 10-op egg is {} bytes", ten.egg().len());
    phases(true)?;
    let figures = time(&ten)?;
    let totals = phases(false)?;
    report_phases(&totals, &figures);
    report("10-op egg", 10, &figures);
    Ok(())
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
