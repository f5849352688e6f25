//! The text form, printing side: `Display` for ops and strings, and the disassembler.
//!
//! One op per line: the mnemonic, then each operand after a space. Numbers print in the
//! way that reads best for their kind (flags and signal sets by name, modes in octal, masks
//! and badges in hex), and every form reads back to the same bytes through
//! [`assemble`](crate::assemble).

use core::fmt::{self, Write};

use crate::kinds::{OperandKind, OperandValue, Str};
use crate::opcodes::Op;
use crate::values::{OpenFlags, Resource, Rights, SignalSet, RLIM_INFINITY};

impl fmt::Display for Str<'_> {
    /// A double-quoted string; `"` `\` newline and tab escaped as `\"` `\\` `\n` `\t`, other
    /// control bytes, bytes that are not UTF-8 and non-ASCII characters that are not
    /// letters or digits as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for chunk in self.as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => f.write_str("\\\"")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\t' => f.write_str("\\t")?,
                    ' '..='~' => f.write_char(c)?,
                    c if !c.is_ascii() && c.is_alphanumeric() => f.write_char(c)?,
                    c => {
                        let mut buffer = [0; 4];
                        for byte in c.encode_utf8(&mut buffer).bytes() {
                            write!(f, "\\x{byte:02x}")?;
                        }
                    }
                }
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        f.write_char('"')
    }
}

impl fmt::Display for Op<'_> {
    /// The op's line of text, e.g. `open 0 "/dev/null" O_RDWR 0` (no newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.opcode().mnemonic())?;
        for (info, value) in self.operands() {
            match value {
                OperandValue::Number(number) => {
                    f.write_char(' ')?;
                    write_number(f, info.kind, number)?;
                }
                OperandValue::String(string) => write!(f, " {string}")?,
                OperandValue::IdList(ids) => {
                    for id in ids {
                        write!(f, " {id}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes `names` of the bits set in `value`, joined by `|`, then any other bits in hex.
fn write_bits(
    f: &mut fmt::Formatter<'_>,
    mut value: u64,
    names: impl Iterator<Item = (&'static str, u64)>,
    mut first: bool,
) -> fmt::Result {
    for (name, bit) in names {
        if value & bit != 0 {
            if !first {
                f.write_char('|')?;
            }
            f.write_str(name)?;
            value &= !bit;
            first = false;
        }
    }
    match (value, first) {
        (0, true) => f.write_char('0'),
        (0, false) => Ok(()),
        (rest, true) => write!(f, "{rest:#x}"),
        (rest, false) => write!(f, "|{rest:#x}"),
    }
}

/// Signal names with their bits: `SIGHUP`..`SIGSYS`, then `SIG32`..`SIG64`.
fn signal_bits(f: &mut fmt::Formatter<'_>, set: u64) -> fmt::Result {
    let mut first = true;
    for signal in SignalSet(set).iter() {
        if !first {
            f.write_char('|')?;
        }
        first = false;
        match SignalSet::NAMES.get(signal as usize - 1) {
            Some(name) => f.write_str(name)?,
            None => write!(f, "SIG{signal}")?,
        }
    }
    if first {
        f.write_char('0')?;
    }
    Ok(())
}

/// Writes a number operand of kind `kind`.
fn write_number(f: &mut fmt::Formatter<'_>, kind: OperandKind, value: u64) -> fmt::Result {
    match kind {
        OperandKind::Mode | OperandKind::Umask if value != 0 => write!(f, "0o{value:o}"),
        OperandKind::Badge | OperandKind::CpuMask if value != 0 => write!(f, "{value:#x}"),
        OperandKind::OpenFlags => {
            let access = value & u64::from(OpenFlags::ACCESS_MODE);
            match OpenFlags::ACCESS_NAMES.get(access as usize) {
                Some((name, _)) => f.write_str(name)?,
                // Access mode 3 never validates; print it so that it reads back the same.
                None => f.write_str("O_WRONLY|O_RDWR")?,
            }
            let rest = value & !u64::from(OpenFlags::ACCESS_MODE);
            if rest != 0 {
                f.write_char('|')?;
                write_bits(f, rest, OpenFlags::BIT_NAMES.iter().copied(), true)?;
            }
            Ok(())
        }
        OperandKind::Rights => write_bits(f, value, Rights::NAMES.iter().copied(), true),
        OperandKind::SignalSet => signal_bits(f, value),
        OperandKind::Resource => match Resource::from_number(value) {
            Some(resource) => f.write_str(resource.name()),
            None => write!(f, "{value}"),
        },
        OperandKind::Limit if value == RLIM_INFINITY => f.write_str("RLIM_INFINITY"),
        _ => write!(f, "{value}"),
    }
}

/// The text form of a whole program: one op per line, each ending in a newline.
///
/// # Errors
///
/// If the program is not valid: nothing is printed, the error says where and why.
#[cfg(feature = "alloc")]
pub fn disassemble(program: &[u8]) -> Result<alloc::string::String, crate::DecodeError> {
    crate::validate(program)?;
    let mut text = alloc::string::String::new();
    // Cannot fail: the program validated, and writing to a String does not fail.
    for op in crate::decode(program).flatten() {
        let _ = writeln!(text, "{op}");
    }
    Ok(text)
}
