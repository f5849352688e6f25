//! `cargo xtask clippy`: clippy with `-D warnings` on the host crates (default members, all
//! targets), then on the kernel and on the loader and servers with their target flags.

use std::path::Path;
use std::process::Command;

use crate::build::{discover_servers, servers_built_alone};
use crate::steps::{run_command, workspace_root, Steps};
use crate::tools::{ensure_rust_target, TARGET};

/// Arguments of `cargo xtask clippy`.
#[derive(clap::Args)]
pub struct ClippyArgs {}

/// Runs `cargo xtask clippy`.
pub fn run(_args: ClippyArgs) -> Result<(), String> {
    ensure_rust_target()?;
    let root = workspace_root();
    let mut steps = Steps::new();
    steps.run("clippy host crates", || {
        run_command(cargo(None, None).args(["--all-targets", "--", "-D", "warnings"]))
    })?;
    steps.run("clippy kernel", || {
        run_command(
            cargo(
                Some(&root.join("target/kernel")),
                Some(crate::build::KERNEL_RUSTFLAGS),
            )
            .args(["-p", crate::build::KERNEL_PACKAGE, "--target", TARGET])
            .args(["--", "-D", "warnings"]),
        )
    })?;
    let servers = discover_servers(&root.join("servers"))?;
    let alone = servers_built_alone(&root.join("servers"))?;
    steps.run("clippy loader and servers", || {
        let user = || {
            cargo(
                Some(&root.join("target/user")),
                Some(crate::build::USER_RUSTFLAGS),
            )
        };
        let mut command = user();
        command.args(["-p", crate::build::LOADER_PACKAGE, "--target", TARGET]);
        for (package, _) in servers.iter().filter(|(p, _)| !alone.contains(p)) {
            command.args(["-p", package]);
        }
        run_command(command.args(["--", "-D", "warnings"]))?;
        // Each on its own, as `build` does (see `servers_built_alone`).
        for package in &alone {
            run_command(user().args(["-p", package, "--target", TARGET, "--", "-D", "warnings"]))?;
        }
        Ok(())
    })?;
    steps.summary();
    Ok(())
}

fn cargo(target_dir: Option<&Path>, rustflags: Option<&str>) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["clippy", "--quiet"]);
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    if let Some(flags) = rustflags {
        command.env("RUSTFLAGS", flags);
    }
    command
}
