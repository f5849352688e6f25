//! `cargo xtask`: build, image, run and test Hatchery.
//!
//! One file per subcommand (`build.rs`, `image_cmd.rs`, `run.rs`, `test.rs`, `clippy.rs`,
//! `fmt.rs`, `egg_cmd.rs`), plus the pieces they share:
//! - `steps.rs`: progress lines (`xtask: build kernel ...`) and the wall time of each step.
//! - `tools.rs`: finds the host tools and installs missing ones with apt-get.
//! - `serial.rs`: reads a serial log and judges a boot against what it must show.
//! - `qemu.rs`, `bochs.rs`: command lines for the emulators and the watcher that runs one
//!   with a timeout and reads its serial output as it comes.
//! - `limine_fetch.rs`: finds Limine, or downloads the pinned release and verifies it.
//!
//! Artifacts go to `target/kernel` (kernel), `target/user` (loader, servers) and
//! `build/<profile>/` (archive, bundle, ISOs, logs).
#![deny(unsafe_code)]

use clap::{Parser, Subcommand};

mod bench;
mod bench_chart;
mod bench_gate;
mod bench_hatch;
mod bench_linux;
mod bench_report;
mod bochs;
mod build;
mod clippy;
mod egg_cmd;
mod fmt;
mod image_cmd;
mod limine_fetch;
mod qemu;
mod run;
mod serial;
mod steps;
mod test;
mod tools;

/// Hatchery's build tool.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel, the direct-boot loader and the userspace servers.
    Build(build::BuildArgs),
    /// Build the boot archive and bundle, or a bootable ISO (`--iso limine|grub`).
    Image(image_cmd::ImageArgs),
    /// Boot Hatchery in QEMU (or Bochs with `--bochs`) and show its serial console.
    Run(run::RunArgs),
    /// Host unit tests, QEMU boot scenarios and one Bochs boot; ends with `N passed, M failed`.
    Test(test::TestArgs),
    /// Clippy with -D warnings on the host crates and the target crates.
    Clippy(clippy::ClippyArgs),
    /// rustfmt over the workspace (`--check` to only check).
    Fmt(fmt::FmtArgs),
    /// Benchmarks (`ipc`, `hatch [--linux]`): instruction counts under QEMU `-icount shift=0`.
    Bench(bench::BenchArgs),
    /// Assemble or disassemble eggs (the hatch byte code).
    Egg(egg_cmd::EggArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Image(args) => image_cmd::run(args),
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::run(args),
        Command::Clippy(args) => clippy::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Egg(args) => egg_cmd::run(args),
    };
    if let Err(message) = result {
        eprintln!("xtask: error: {message}");
        std::process::exit(1);
    }
}
