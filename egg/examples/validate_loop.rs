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
//! [`BATCHES`] batches of at least [`BATCH_TIME`] each and prints the median throughput.

use std::time::{Duration, Instant};

#[path = "../benches/eggs/mod.rs"]
mod eggs;

/// Timed batches; the median is printed.
const BATCHES: usize = 11;
/// Least duration of one timed batch.
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

/// Prints `NAME: N bytes, median M MiB/s (min A, max B) over K batches`.
fn time(which: &str, program: &[u8]) {
    let mut rates: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            let mut runs = 0u64;
            while start.elapsed() < BATCH_TIME {
                for _ in 0..64 {
                    eggs::validate_and_decode(std::hint::black_box(program));
                }
                runs += 64;
            }
            let bytes = runs as f64 * program.len() as f64;
            bytes / start.elapsed().as_secs_f64() / f64::from(1 << 20)
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "{which}: {} bytes, median {:.0} MiB/s (min {:.0}, max {:.0}) over {BATCHES} batches",
        program.len(),
        rates[BATCHES / 2],
        rates[0],
        rates[BATCHES - 1]
    );
}
