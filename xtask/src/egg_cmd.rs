//! `cargo xtask egg asm|disasm|ops`: the egg's text form on the command line.
//!
//! ```text
//! $ cargo xtask egg disasm 05000100092f6465762f6e756c6c0200
//! setpgid 0
//! open 0 "/dev/null" O_RDWR 0
//! $ cargo xtask egg disasm 0500010009... | cargo xtask egg asm -
//! 05000100092f6465762f6e756c6c0200
//! ```

use std::fmt::Write as _;
use std::io::Read;

/// Arguments of `cargo xtask egg`.
#[derive(clap::Args)]
pub struct EggArgs {
    #[command(subcommand)]
    command: EggCommand,
}

#[derive(clap::Subcommand)]
enum EggCommand {
    /// Assemble egg text (a file, or - for stdin) and print the program in hex.
    Asm {
        /// File of egg text, or - to read stdin.
        input: String,
    },
    /// Disassemble a program given in hex (spaces allowed; - reads stdin) and print its text.
    ///
    /// A bad program prints the error with its op index and byte offset and exits non-zero.
    Disasm {
        /// The program in hex, or - to read the hex from stdin.
        hex: String,
    },
    /// List the supported opcodes: number, mnemonic, operands and meaning.
    Ops,
}

/// Runs `cargo xtask egg`.
pub fn run(args: EggArgs) -> Result<(), String> {
    match args.command {
        EggCommand::Asm { input } => {
            let (name, text) = read_input(&input)?;
            let program = egg::assemble(&text).map_err(|e| format!("{name}: {e}"))?;
            println!("{}", to_hex(&program));
            Ok(())
        }
        EggCommand::Disasm { hex } => {
            let hex = if hex == "-" { read_input("-")?.1 } else { hex };
            let program = from_hex(&hex)?;
            let text = egg::disassemble(&program).map_err(|e| format!("invalid egg: {e}"))?;
            print!("{text}");
            Ok(())
        }
        EggCommand::Ops => {
            for opcode in egg::supported() {
                let mut line = format!("{:>3} {}", opcode.number(), opcode.mnemonic());
                for operand in opcode.operands() {
                    let _ = write!(line, " {}:{}", operand.name, operand.kind.name());
                }
                println!("{line:<56} {}", opcode.summary());
            }
            Ok(())
        }
    }
}

/// Reads `path` (or stdin for `-`); returns the name to show in errors and the text.
fn read_input(path: &str) -> Result<(String, String), String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading stdin: {e}"))?;
        Ok(("<stdin>".into(), text))
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        Ok((path.into(), text))
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// Hex digits to bytes; whitespace between digits is ignored.
fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<(usize, char)> = hex
        .chars()
        .enumerate()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "hex has an odd number of digits ({})",
            digits.len()
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let digit = |(at, c): (usize, char)| {
                c.to_digit(16)
                    .ok_or_else(|| format!("`{c}` at character {} is not a hex digit", at + 1))
            };
            Ok((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_tolerates_spaces() {
        assert_eq!(from_hex("05 00\n01").unwrap(), [5, 0, 1]);
        assert_eq!(to_hex(&[5, 0, 0x2f]), "05002f");
        assert!(from_hex("050").unwrap_err().contains("odd"));
        assert!(from_hex("0g").unwrap_err().contains("character 2"));
    }
}
