//! `cargo xtask bench ipc|console|hatch|egg`: boots a benchmark and prints its figures;
//! `ipc`'s go through the regression gate (bench_gate.rs). `hatch` is in bench_hatch.rs;
//! this file boots its Hatchery side the same way. `egg` runs on the host (bench_egg.rs).
//!
//! The benchmark is the root task. `ipc` (`servers/ipcbench`) starts a second thread in
//! another address space and times Call/ReplyRecv round trips with `rdtsc`; `console`
//! (`servers/consolebench`) times a program's write through the terminal and the serial
//! console driver to the UART. Under QEMU TCG
//! with `-icount shift=0` one tick of the time-stamp counter is one executed instruction,
//! so the figures are instruction counts: deterministic, and comparable with seL4 and
//! Linux measured the same way (docs/benchmarks.md). Note that under `-icount` each
//! iteration of a `rep` string instruction counts as one instruction. With `--kvm` (on
//! real hardware) the ticks are cycles instead.

use std::time::Duration;

use crate::build::build_all;
use crate::image_cmd::{archive_bytes, read, read_programs, write};
use crate::qemu::{run_watched, Boot, Qemu, Watch};
use crate::serial::Ending;
use crate::steps::{Profile, Steps};
use crate::tools::{Installer, QEMU};

/// Arguments of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which benchmark: `ipc` (IPC round trips in QEMU), `console` (a program's write
    /// through the terminal and the serial console driver), `fs` (the file server: 1 MiB
    /// read and write of a /tmp file, from `servers/fstest`), `hatch` (hatch + exit + wait)
    /// or `egg` (egg validate + decode on the host: instructions per byte under callgrind,
    /// and throughput).
    #[arg(value_parser = ["ipc", "console", "fs", "hatch", "egg"])]
    which: String,
    /// Use the debug build (the default is release).
    #[arg(long)]
    debug: bool,
    /// Run under KVM: ticks are cycles, not instructions (use on real hardware only).
    #[arg(long)]
    kvm: bool,
    /// Do not install missing tools; name their packages instead.
    #[arg(long)]
    no_install: bool,
    /// `hatch`: also boot Linux (a Debian kernel package) in the same QEMU and measure it.
    #[arg(long)]
    linux: bool,
    /// `hatch --linux`: the Debian kernel package, `NAME` or `NAME=VERSION` (default: the
    /// pinned one, see docs/benchmarks.md).
    #[arg(long, value_name = "PACKAGE", requires = "linux")]
    linux_package: Option<String>,
    /// Rewrite the committed baseline (bench/baseline/) from this run instead of
    /// comparing with it.
    #[arg(long)]
    update_baseline: bool,
}

/// How long the benchmark may take under TCG.
const TIMEOUT: Duration = Duration::from_secs(300);
/// Lines the benchmark prints start with this.
const PREFIX: &str = "bench:";

/// Runs `cargo xtask bench`.
pub fn run(args: BenchArgs) -> Result<(), String> {
    let mut steps = Steps::new();
    let installer = Installer::new(!args.no_install);
    if args.linux && args.which != "hatch" {
        return Err("--linux belongs to `cargo xtask bench hatch`".into());
    }
    if args.which == "egg" {
        if args.debug || args.kvm || args.update_baseline {
            return Err(
                "bench egg runs on the host, release build, with no baseline: no --debug, \
                 --kvm or --update-baseline"
                    .into(),
            );
        }
        return crate::bench_egg::run(&installer, &mut steps);
    }
    if args.kvm {
        crate::run::check_kvm_device()?;
    }
    steps.run("check tools", || installer.ensure(&[&QEMU]))?;
    // The baselines hold release-build instruction counts under TCG.
    let gated = !args.debug && !args.kvm;
    if args.linux && args.kvm {
        return Err(
            "--linux measures instructions under TCG; with --kvm the Hatchery figures would be cycles"
                .into(),
        );
    }
    if args.which == "hatch" {
        let kernel = match &args.linux_package {
            Some(text) => crate::bench_linux::KernelSpec::parse(text)?,
            None => crate::bench_linux::KernelSpec::pinned(),
        };
        let options = crate::bench_hatch::HatchOptions {
            linux: args.linux,
            kernel,
            update_baseline: args.update_baseline,
            gated,
        };
        return crate::bench_hatch::run(&options, &mut steps, |steps, counted| {
            boot_benchmark(&args, crate::bench_hatch::HATCH_PROGRAM, steps, counted)
        });
    }
    if args.which == "fs" {
        let log = boot_benchmark(&args, "fstest", &mut steps, false)?;
        steps.summary();
        // The file server's figures have no baseline yet: printed, not gated.
        log.lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| l.starts_with(PREFIX))
            .for_each(|line| println!("{line}"));
        return Ok(());
    }
    // clap accepts only the names handled here.
    let root = match args.which.as_str() {
        "console" => "consolebench",
        "fs" => "fstest",
        _ => "ipcbench",
    };
    let log = boot_benchmark(&args, root, &mut steps, false)?;
    steps.summary();
    let figures: Vec<&str> = log
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with(PREFIX))
        .collect();
    let gate = if args.which != "ipc" {
        Ok(())
    } else if gated {
        crate::bench_gate::check("ipc", &gate_figures(&figures), args.update_baseline)
            .and(check_longest_entries(&figures))
    } else {
        println!("xtask: gate skipped: the baseline is for the release build under TCG");
        Ok(())
    };
    // The benchmark prints its headline figure last; keep that order.
    for line in figures {
        println!("{line}");
    }
    gate
}

/// Issue 14's goal for the long kernel operations: no single kernel entry (interrupts off
/// throughout) longer than this many instructions.
pub const LONGEST_ENTRY_GOAL: u64 = 100_000;

/// The long operations' longest kernel entries (`bench: longop-NAME: longest kernel entry
/// N instructions ...`), by name.
fn longest_entries(lines: &[&str]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix(PREFIX)?.trim().split_once(": ")?;
            let name = name.strip_prefix("longop-")?;
            let count = rest
                .strip_prefix("longest kernel entry ")?
                .split_once(' ')?
                .0;
            Some((name.to_string(), count.parse().ok()?))
        })
        .collect()
}

/// Fails when a long operation held the kernel for [`LONGEST_ENTRY_GOAL`] instructions or
/// more in one entry, or when no long operation was reported.
fn check_longest_entries(lines: &[&str]) -> Result<(), String> {
    let entries = longest_entries(lines);
    if entries.is_empty() {
        return Err("no long-operation figures (bench: longop-...) were reported".into());
    }
    let over: Vec<String> = entries
        .iter()
        .filter(|(_, longest)| *longest >= LONGEST_ENTRY_GOAL)
        .map(|(name, longest)| format!("{name} ({longest})"))
        .collect();
    if over.is_empty() {
        println!(
            "xtask: gate ok: {} long operations, each kernel entry under {LONGEST_ENTRY_GOAL} instructions",
            entries.len()
        );
        Ok(())
    } else {
        Err(format!(
            "kernel entries of {LONGEST_ENTRY_GOAL} instructions or more: {}",
            over.join(", ")
        ))
    }
}

/// The gated figures among the benchmark's lines: `bench: NAME: N instructions ...` where
/// NAME is one word (the headline repeats `ipc-1word` in words and is left out).
fn gate_figures(lines: &[&str]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix(PREFIX)?.trim().split_once(": ")?;
            let (count, unit) = rest.split_once(' ')?;
            let is_word = !name.is_empty() && !name.contains(char::is_whitespace);
            (is_word && unit.starts_with("instructions"))
                .then(|| Some((name.to_string(), count.parse().ok()?)))
                .flatten()
        })
        .collect()
}

/// Builds everything, boots `root` as the root task under the benchmark's QEMU
/// configuration and returns its serial log once it powered off cleanly. `counted`: with
/// the kernel built with its `counters` feature instead of the normal one.
fn boot_benchmark(
    args: &BenchArgs,
    root: &str,
    steps: &mut Steps,
    counted: bool,
) -> Result<String, String> {
    let profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let artifacts = build_all(profile, steps)?;
    if !artifacts.servers.iter().any(|s| s.bin == root) {
        return Err(format!("no `{root}` program was built (servers/{root})"));
    }
    let kernel_path = if counted {
        crate::build::build_counted_kernel(profile, steps)?
    } else {
        artifacts.kernel.clone()
    };
    let bundle_path = steps.run("image benchmark bundle", || {
        let programs = read_programs(&artifacts)?;
        let archive = archive_bytes(&programs, root, "")?;
        let kernel = read(&kernel_path)?;
        let dir = artifacts.profile.build_dir()?.join("bench");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let suffix = if counted { ".counted" } else { "" };
        let path = dir.join(format!("{root}{suffix}.bundle.cpio"));
        write(&path, &image::bundle::build(&kernel, &archive))?;
        Ok(path)
    })?;
    let mut qemu = Qemu::new(Boot::Direct {
        loader: artifacts.loader.clone(),
        bundle: bundle_path,
        cmdline: "exit".into(),
    });
    // The long-operation figures need a free, aligned 64 MiB block of untyped memory.
    qemu.memory = "256M".into();
    if args.kvm {
        qemu.kvm = true;
        println!("xtask: --kvm: the figures are cycles of this CPU (meaningless under a software virtualizer)");
    } else {
        qemu.extra = vec!["-icount".into(), "shift=0".into()];
        println!("xtask: QEMU TCG with -icount shift=0: one tick = one executed instruction");
    }
    let watched = steps.run("run benchmark", || {
        run_watched(
            &mut qemu.command(),
            Watch {
                timeout: Some(TIMEOUT),
                ..Watch::default()
            },
        )
    })?;
    // A failed hatch or a wrong exit status: refuse, naming the run.
    if let Some(why) = watched
        .log
        .lines()
        .find_map(|l| l.strip_prefix(crate::bench_report::ERROR_PREFIX))
    {
        return Err(format!(
            "{root}: a run failed, no figures reported:{}",
            why.trim_end()
        ));
    }
    let reported = watched
        .log
        .lines()
        .any(|l| l.starts_with(PREFIX) || l.starts_with(crate::bench_report::ROW_PREFIX));
    if !reported
        || !matches!(
            watched.ending,
            Ending::Exited(Some(crate::serial::EXIT_SUCCESS))
        )
    {
        let tail: Vec<&str> = watched.log.lines().rev().take(30).collect();
        for line in tail.iter().rev() {
            println!("  | {line}");
        }
        return Err(format!(
            "the benchmark did not finish cleanly ({:?})",
            watched.ending
        ));
    }
    Ok(watched.log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_operation_of_100000_instructions_in_one_entry_fails_the_gate() {
        let lines = [
            "bench: ipc-1word: 358 instructions per round trip (10000 round trips)",
            "bench: longop-delete-cnode-4096: longest kernel entry 50640 instructions (whole call 1374776)",
            "bench: longop-configure-replacing-cnode-4096: longest kernel entry 1374900 instructions (whole call 1374900)",
        ];
        assert_eq!(
            longest_entries(&lines),
            [
                ("delete-cnode-4096".to_string(), 50640),
                ("configure-replacing-cnode-4096".to_string(), 1374900)
            ]
        );
        let error = check_longest_entries(&lines).unwrap_err();
        assert!(
            error.contains("configure-replacing-cnode-4096 (1374900)"),
            "{error}"
        );
        assert!(!error.contains("delete-cnode"), "{error}");
        assert!(check_longest_entries(&lines[..2]).is_ok());
        assert!(check_longest_entries(&lines[..1]).is_err());
    }

    #[test]
    fn gate_figures_are_the_one_word_instruction_lines() {
        let lines = [
            "bench: ipc-1word: 402 instructions per round trip (10000 round trips)",
            "bench: ipc-4KiB: 2214 instructions per round trip (10000 round trips)",
            "bench: note: ipc-4KiB carries 512 words each way",
            "bench: ipc round trip (1 word, fast path): 402 instructions",
        ];
        assert_eq!(
            gate_figures(&lines),
            [
                ("ipc-1word".to_string(), 402),
                ("ipc-4KiB".to_string(), 2214)
            ]
        );
    }
}
