//! `cargo xtask bench ipc|hatch`: boots a benchmark and prints its figures (`hatch`:
//! `servers/hatchbench`, procsrv hatching and reaping a one-page child; see
//! docs/benchmarks.md).
//!
//! The benchmark (`servers/ipcbench`) is the root task: it starts a second thread in
//! another address space and times Call/ReplyRecv round trips with `rdtsc`. Under QEMU TCG
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
    /// Which benchmark: `ipc`, or `hatch` (procsrv: hatch + exit + wait of a small child).
    #[arg(value_parser = ["ipc", "hatch"])]
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
}

/// How long the benchmark may take under TCG.
const TIMEOUT: Duration = Duration::from_secs(300);
/// Lines the benchmark prints start with this.
const PREFIX: &str = "bench:";

/// Runs `cargo xtask bench`.
pub fn run(args: BenchArgs) -> Result<(), String> {
    let mut steps = Steps::new();
    let installer = Installer::new(!args.no_install);
    steps.run("check tools", || installer.ensure(&[&QEMU]))?;
    let profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let artifacts = build_all(profile, &mut steps)?;
    // clap accepts only these.
    let root = match args.which.as_str() {
        "hatch" => "hatchbench",
        _ => "ipcbench",
    };
    if !artifacts.servers.iter().any(|s| s.bin == root) {
        return Err(format!("no `{root}` program was built (servers/{root})"));
    }
    let bundle_path = steps.run("image benchmark bundle", || {
        let programs = read_programs(&artifacts)?;
        let archive = archive_bytes(&programs, root)?;
        let kernel = read(&artifacts.kernel)?;
        let dir = artifacts.profile.build_dir()?.join("bench");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{root}.bundle.cpio"));
        write(&path, &image::bundle::build(&kernel, &archive))?;
        Ok(path)
    })?;
    let mut qemu = Qemu::new(Boot::Direct {
        loader: artifacts.loader.clone(),
        bundle: bundle_path,
        cmdline: "exit".into(),
    });
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
    let figures: Vec<&str> = watched
        .log
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with(PREFIX))
        .collect();
    steps.summary();
    if figures.is_empty()
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
    // The benchmark prints its headline figure last; keep that order.
    for line in figures {
        println!("{line}");
    }
    Ok(())
}
