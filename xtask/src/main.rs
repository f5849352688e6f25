//! `cargo xtask`: build, image, run, test and benchmark Hatchery.
//!
//! One file per subcommand. Run `cargo xtask help` for the list.

use clap::{Parser, Subcommand};

mod egg_cmd;

/// Hatchery's build tool.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble or disassemble eggs (the hatch byte code).
    Egg(egg_cmd::EggArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Egg(args) => egg_cmd::run(args),
    };
    if let Err(message) = result {
        eprintln!("xtask: error: {message}");
        std::process::exit(1);
    }
}
