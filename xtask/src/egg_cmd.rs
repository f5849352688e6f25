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

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// Hex digits to bytes; whitespace between digits is ignored. A bad digit is reported
/// before an odd count, with a hint for a `0x` prefix or a file name.
pub(crate) fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    let trimmed = hex.trim();
    if let Some(rest) = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        return Err(format!(
            "`{trimmed}`: disasm takes bare hex digits, without 0x (try `{rest}`)"
        ));
    }
    let digits: Vec<(usize, char)> = hex
        .chars()
        .enumerate()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    if let Some(&(at, c)) = digits.iter().find(|(_, c)| !c.is_ascii_hexdigit()) {
        let looks_like_a_file =
            trimmed.contains(['/', '.']) || std::path::Path::new(trimmed).is_file();
        if looks_like_a_file && !trimmed.contains(char::is_whitespace) {
            return Err(format!(
                "`{trimmed}` is not hex: disasm takes the program's hex digits, or - to read \
                 them from stdin (`cargo xtask egg disasm - < FILE`)"
            ));
        }
        return Err(format!("`{c}` at character {} is not a hex digit", at + 1));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "hex has an odd number of digits ({}): each byte is two",
            digits.len()
        ));
    }
    Ok(digits
        .chunks(2)
        .map(|pair| {
            let digit = |c: char| c.to_digit(16).unwrap_or(0);
            (digit(pair[0].1) * 16 + digit(pair[1].1)) as u8
        })
        .collect())
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

    #[test]
    fn not_hex_is_said_before_an_odd_count_with_hints() {
        assert_eq!(
            from_hex("xyz").unwrap_err(),
            "`x` at character 1 is not a hex digit"
        );
        assert_eq!(
            from_hex("0x0600").unwrap_err(),
            "`0x0600`: disasm takes bare hex digits, without 0x (try `0600`)"
        );
        for file in ["login.egg", "/tmp/egg", "eggs/a"] {
            let error = from_hex(file).unwrap_err();
            assert!(
                error.starts_with(&format!("`{file}` is not hex")),
                "{error}"
            );
            assert!(error.contains("disasm - < FILE"), "{error}");
        }
    }
}
