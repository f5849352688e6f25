//! `cargo xtask egg asm|disasm`.

/// Arguments of `cargo xtask egg`.
#[derive(clap::Args)]
pub struct EggArgs {}

/// Runs `cargo xtask egg`.
pub fn run(_args: EggArgs) -> Result<(), String> {
    Err("egg: not built yet".into())
}
