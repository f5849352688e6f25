//! Runs validate + decode of one benchmark egg in a loop, for counting instructions, which
//! (unlike time) mean something on a virtualized machine, or for timing it.
//! `cargo xtask bench egg` runs it both ways for the three eggs; by hand:
//!
//! ```text
//! cargo build --release -p egg --example validate_loop
//! valgrind --tool=callgrind --toggle-collect='*validate_and_decode*' \
//!     target/release/examples/validate_loop login 1000
//! target/release/examples/validate_loop login --time
//! ```
//!
//! Arguments: `login`, `mixed` or `small`, then the number of runs, or `--time`. A count
//! prints the bytes processed, to divide callgrind's instruction total by. `--time` runs
//! [`BATCHES`] batches of at least [`BATCH_TIME`] of CPU time each and prints the median
//! throughput per CPU second (and per wall-clock second).

use std::time::{Duration, Instant};

#[path = "../benches/eggs/mod.rs"]
mod eggs;

/// Timed batches; the median is printed.
const BATCHES: usize = 11;
/// Least CPU time of one timed batch.
const BATCH_TIME: Duration = Duration::from_millis(100);

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "login".into());
    let index = match which.as_str() {
        "login" => 0,
        "mixed" => 1,
        "small" => 2,
        other => {
            eprintln!("validate_loop: unknown egg `{other}` (login, mixed or small)");
            std::process::exit(2);
        }
    };
    let program = eggs::all()
        .into_iter()
        .nth(index)
        .map(|(_, program)| program)
        .unwrap_or_default();
    let mode = args.next().unwrap_or_else(|| "1000".into());
    if mode == "--time" {
        time(&which, &program);
        return;
    }
    let runs: usize = match mode.parse() {
        Ok(runs) => runs,
        Err(_) => {
            eprintln!("validate_loop: `{mode}` is neither a number of runs nor --time");
            std::process::exit(2);
        }
    };
    let mut ops = 0;
    for _ in 0..runs {
        ops += eggs::validate_and_decode(std::hint::black_box(&program));
    }
    let bytes = program.len() * runs;
    println!(
        "{which}: {} bytes x {runs} runs = {bytes} bytes, {ops} ops",
        program.len()
    );
}

/// Prints `NAME: N bytes, median M MiB/s per CPU second (min A, max B), wall clock W MiB/s
/// over K batches`.
///
/// Each batch runs until this thread has had [`BATCH_TIME`] of CPU time, and its
/// throughput counts that CPU time: on a machine shared with other work the thread waits
/// for a CPU part of the time, and wall-clock time would count the waiting. The median
/// wall-clock throughput is printed too.
fn time(which: &str, program: &[u8]) {
    let mut per_cpu = Vec::with_capacity(BATCHES);
    let mut per_wall = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let (cpu_start, wall_start) = (thread_cpu_time(), Instant::now());
        let mut runs = 0u64;
        while thread_cpu_time() - cpu_start < BATCH_TIME {
            for _ in 0..64 {
                eggs::validate_and_decode(std::hint::black_box(program));
            }
            runs += 64;
        }
        let mib = runs as f64 * program.len() as f64 / f64::from(1 << 20);
        per_cpu.push(mib / (thread_cpu_time() - cpu_start).as_secs_f64());
        per_wall.push(mib / wall_start.elapsed().as_secs_f64());
    }
    per_cpu.sort_by(f64::total_cmp);
    per_wall.sort_by(f64::total_cmp);
    println!(
        "{which}: {} bytes, median {:.0} MiB/s per CPU second (min {:.0}, max {:.0}), \
         wall clock {:.0} MiB/s over {BATCHES} batches",
        program.len(),
        per_cpu[BATCHES / 2],
        per_cpu[0],
        per_cpu[BATCHES - 1],
        per_wall[BATCHES / 2],
    );
}

/// CPU time (user + system) this thread has used.
fn thread_cpu_time() -> Duration {
    // SAFETY: `rusage` is plain old data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one `rusage` through the pointer, which is valid and
    // exclusive for the call.
    let status = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(status, 0, "getrusage(RUSAGE_THREAD) failed");
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}
