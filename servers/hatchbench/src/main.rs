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

use libsys::bootinfo::BOOT_INFO_ADDR;
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::make_object;
use libsys::process::{CapSet, Command};
use libsys::time::now;
use procsrv::BootProgram;
use procsrv_api::WaitStatus;

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
    report("10-op egg", 10, &time(&ten)?);
    Ok(())
}
