//! `cargo xtask miri`: the kernel's host-tested crates (kerncore, intrusive-queue, and libsys, the ABI it
//! shares with userspace) under Miri, which checks every step of the tests for undefined
//! behaviour. (The egg crate's property tests take too long under Miri for CI.)
//!
//! Miri needs a nightly toolchain with the `miri` and `rust-src` components; without
//! `--no-install` they are installed with rustup (the project itself builds on stable).
//! The property tests run a few cases under Miri (`cfg(miri)`), since it is thousands of
//! times slower than native code.

use std::process::Command;

use crate::steps::{run_command, workspace_root};

/// Arguments of `cargo xtask miri`.
#[derive(clap::Args)]
pub struct MiriArgs {
    /// Do not install the nightly toolchain or its components; fail if they are missing.
    #[arg(long)]
    no_install: bool,
}

/// The crates whose host tests run under Miri.
const CRATES: &[&str] = &["kerncore", "intrusive-queue", "libsys"];

/// Runs `cargo xtask miri`.
pub fn run(args: MiriArgs) -> Result<(), String> {
    let present = Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        if args.no_install {
            return Err("Miri is not installed: rustup toolchain install nightly --profile minimal --component miri,rust-src --allow-downgrade".into());
        }
        println!("xtask: rustup: nightly with miri and rust-src ...");
        run_command(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
            "--component",
            "miri,rust-src",
            // A nightly without Miri built is skipped for the newest one that has it.
            "--allow-downgrade",
        ]))?;
    }
    let mut command = Command::new("cargo");
    command
        .current_dir(workspace_root())
        .args(["+nightly", "miri", "test"])
        // The tests use the clock and the environment only through the test harness.
        .env("MIRIFLAGS", "-Zmiri-disable-isolation")
        // `cargo xtask` runs with the pinned stable toolchain's variables; Miri must not
        // inherit them.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO");
    for krate in CRATES {
        command.args(["-p", krate]);
    }
    println!("xtask: miri test {} ...", CRATES.join(", "));
    run_command(&mut command)
}
