//! `cargo xtask fmt`: rustfmt over every workspace crate (`--check` only reports).

use std::process::Command;

use crate::steps::{run_command, workspace_root};

/// Arguments of `cargo xtask fmt`.
#[derive(clap::Args)]
pub struct FmtArgs {
    /// Report unformatted files instead of rewriting them; fails if there are any.
    #[arg(long)]
    check: bool,
}

/// Runs `cargo xtask fmt`.
pub fn run(args: FmtArgs) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args(["fmt", "--all"]);
    if args.check {
        command.args(["--", "--check"]);
    }
    println!("xtask: fmt{} ...", if args.check { " --check" } else { "" });
    run_command(&mut command)
}
