//! Runs validate + decode of one benchmark egg in a loop, for counting instructions, which
//! (unlike time) mean something on a virtualized machine:
//!
//! ```text
//! cargo build --release -p egg --example validate_loop
//! valgrind --tool=callgrind --toggle-collect='*validate_and_decode*' \
//!     target/release/examples/validate_loop login 1000
//! ```
//!
//! Arguments: `login`, `mixed` or `small`, then the number of runs. Prints the bytes
//! processed, to divide callgrind's instruction total by.

#[path = "../benches/eggs/mod.rs"]
mod eggs;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "login".into());
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
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
