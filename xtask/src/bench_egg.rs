//! `cargo xtask bench egg`: validate + decode of the three benchmark eggs (docs/egg.md,
//! "Performance"), as instructions per byte and as throughput.
//!
//! Both come from `egg/examples/validate_loop.rs`, built with the release profile (the one
//! procsrv is built with). Instructions are counted by callgrind around
//! `validate_and_decode` only: they do not depend on the machine's speed or load, so they
//! are the figures to compare. Throughput is the median of timed batches on this machine,
//! per second of the thread's CPU time (steady under load) and per wall-clock second
//! (which moves with the load, printed with it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::steps::{describe, workspace_root, Steps};
use crate::tools::{Installer, VALGRIND};

/// The three eggs: the example's name for each, the name printed, and the runs counted
/// under callgrind (enough that start-up is noise, few enough to take seconds).
pub const EGGS: [(&str, &str, u32); 3] = [
    ("login", "10-op login shell", 2000),
    ("mixed", "64 KiB mixed", 50),
    ("small", "64 KiB small ops", 50),
];

/// Runs `cargo xtask bench egg`.
pub fn run(installer: &Installer, steps: &mut Steps) -> Result<(), String> {
    steps.run("check tools", || installer.ensure(&[&VALGRIND]))?;
    let example = steps.run("build egg benchmark (release)", build_example)?;
    let dir = workspace_root().join("build/release/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut lines = Vec::new();
    for (arg, name, runs) in EGGS {
        let counted = steps.run(&format!("count instructions: {arg}"), || {
            count_instructions(&example, arg, runs, &dir)
        })?;
        let timed = steps.run(&format!("time: {arg}"), || time(&example, arg))?;
        lines.push(format!(
            "bench: egg {name} ({} B): {:.1} instructions per byte (callgrind), {timed}",
            counted.bytes_per_run,
            counted.per_byte()
        ));
    }
    steps.summary();
    if let Some(load) = load_average() {
        println!("xtask: load average while timing: {load} (wall-clock figures move with it)");
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn build_example() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::steps::run_quiet(Command::new(cargo).current_dir(workspace_root()).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "egg",
        "--example",
        "validate_loop",
    ]))?;
    Ok(workspace_root().join("target/release/examples/validate_loop"))
}

/// Instructions callgrind counted inside `validate_and_decode`, and the bytes processed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counted {
    /// Instructions executed inside `validate_and_decode`.
    pub instructions: u64,
    /// Bytes validated and decoded in all.
    pub bytes: u64,
    /// The egg's size.
    pub bytes_per_run: u64,
}

impl Counted {
    /// Instructions per byte.
    pub fn per_byte(&self) -> f64 {
        self.instructions as f64 / self.bytes.max(1) as f64
    }
}

fn count_instructions(example: &Path, arg: &str, runs: u32, dir: &Path) -> Result<Counted, String> {
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            dir.join(format!("callgrind.{arg}")).display()
        ))
        .arg("--toggle-collect=*validate_and_decode*")
        .arg(example)
        .arg(arg)
        .arg(runs.to_string());
    let output = command
        .output()
        .map_err(|e| format!("cannot start {}: {e}", describe(&command)))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            describe(&command),
            output.status,
            stderr.lines().last().unwrap_or("")
        ));
    }
    parse_callgrind(&stdout, &stderr).ok_or_else(|| {
        format!(
            "no instruction count or byte count in the output of {}",
            describe(&command)
        )
    })
}

/// Reads `login: 70 bytes x 2000 runs = 140000 bytes, 20000 ops` (the example's stdout)
/// and `==123== Collected : 3202000` (callgrind's stderr).
pub fn parse_callgrind(stdout: &str, stderr: &str) -> Option<Counted> {
    let instructions = stderr
        .lines()
        .find_map(|line| line.split_once("Collected :"))
        .and_then(|(_, count)| count.trim().parse().ok())?;
    let (_, sizes) = stdout.trim().split_once(": ")?;
    let (per_run, rest) = sizes.split_once(" bytes x ")?;
    let (_, total) = rest.split_once(" = ")?;
    let (total, _) = total.split_once(" bytes")?;
    Some(Counted {
        instructions,
        bytes: total.parse().ok()?,
        bytes_per_run: per_run.parse().ok()?,
    })
}

/// The example's `--time` figures: `median 495 MiB/s per CPU second (min 480, max 506),
/// wall clock 160 MiB/s over 11 batches`.
fn time(example: &Path, arg: &str) -> Result<String, String> {
    let mut command = Command::new(example);
    command.arg(arg).arg("--time");
    let output = command
        .output()
        .map_err(|e| format!("cannot start {}: {e}", describe(&command)))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .trim()
        .split_once(" bytes, ")
        .map(|(_, figures)| figures.to_string())
        .filter(|_| output.status.success())
        .ok_or_else(|| format!("{} printed no throughput", describe(&command)))
}

/// The one-minute load average (`/proc/loadavg`).
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_and_example_output_give_instructions_per_byte() {
        let stdout = "login: 70 bytes x 200 runs = 14000 bytes, 2000 ops\n";
        let stderr = "==1== Callgrind, a call-graph generating cache profiler\n\
                      ==1== Events    : Ir\n==1== Collected : 320200\n==1==\n";
        let counted = parse_callgrind(stdout, stderr).unwrap();
        assert_eq!(
            counted,
            Counted {
                instructions: 320_200,
                bytes: 14_000,
                bytes_per_run: 70
            }
        );
        assert!((counted.per_byte() - 22.87).abs() < 0.01);
        assert_eq!(parse_callgrind(stdout, "==1== Events : Ir\n"), None);
        assert_eq!(parse_callgrind("garbage", stderr), None);
    }

    #[test]
    fn the_eggs_are_the_examples_three() {
        let source =
            std::fs::read_to_string(workspace_root().join("egg/examples/validate_loop.rs"))
                .unwrap();
        for (arg, _, runs) in EGGS {
            assert!(source.contains(&format!("\"{arg}\" =>")), "{arg}");
            assert!(runs > 0);
        }
    }
}
