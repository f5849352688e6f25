//! `egg`: the egg's text form (docs/egg.md) on the target, printing what `cargo xtask egg`
//! prints on the host, from the same `egg` crate.
//!
//! ```text
//! egg asm [FILE | -]      assemble egg text (a file; none or - reads standard input), print hex
//! egg disasm HEX... | -   disassemble a program in hex (spaces allowed; - reads standard input)
//! egg ops                 the supported opcodes: number, mnemonic, operands and meaning
//! ```
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use libsys::fs::{self, Fd, O_RDONLY};
use linked_list_allocator::LockedHeap;
use userland::Output;

libsys::entry!(main);

/// Bytes of heap (a static array: the program and its heap fit procsrv's program block).
const HEAP_BYTES: usize = 96 * 1024;
/// Most bytes of input read.
const MAX_INPUT: usize = 32 * 1024;

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

static mut HEAP: [u8; HEAP_BYTES] = [0; HEAP_BYTES];

/// Prints `egg: message` on standard error and exits with status 1.
fn fail(message: &str) -> ! {
    let _ = userland::write_all(Fd::STDERR, b"egg: ");
    let _ = userland::write_all(Fd::STDERR, message.as_bytes());
    let _ = userland::write_all(Fd::STDERR, b"\n");
    userland::exit(1)
}

/// The whole of `path` (or standard input for `-`), at most [`MAX_INPUT`] bytes.
fn read_input(path: &[u8]) -> Vec<u8> {
    let fd = if path == b"-" {
        Fd::STDIN
    } else {
        fs::namespace().open(path, O_RDONLY, 0).unwrap_or_else(|e| {
            let mut m = String::new();
            let _ = write!(m, "{}: {}", String::from_utf8_lossy(path), e.name());
            fail(&m)
        })
    };
    let mut text = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match fs::read(fd, &mut buffer) {
            Ok(0) => break,
            Ok(n) if text.len() + n <= MAX_INPUT => text.extend_from_slice(&buffer[..n]),
            Ok(_) => fail("input longer than 32 KiB"),
            Err(e) => fail(e.name()),
        }
    }
    text
}

/// Hex digits to bytes; whitespace between digits is ignored.
fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    let trimmed = hex.trim();
    if trimmed.starts_with("0x") || trimmed.starts_with("0X") {
        let mut m = String::new();
        let _ = write!(
            m,
            "`{trimmed}`: disasm takes bare hex digits, without 0x (try `{}`)",
            &trimmed[2..]
        );
        return Err(m);
    }
    let digits: Vec<(usize, char)> = hex
        .chars()
        .enumerate()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    if let Some(&(at, c)) = digits.iter().find(|(_, c)| !c.is_ascii_hexdigit()) {
        let mut m = String::new();
        let _ = write!(m, "`{c}` at character {} is not a hex digit", at + 1);
        return Err(m);
    }
    if !digits.len().is_multiple_of(2) {
        let mut m = String::new();
        let _ = write!(
            m,
            "hex has an odd number of digits ({}): each byte is two",
            digits.len()
        );
        return Err(m);
    }
    Ok(digits
        .chunks(2)
        .map(|pair| {
            let nibble = |c: char| c.to_digit(16).unwrap_or(0) as u8;
            nibble(pair[0].1) << 4 | nibble(pair[1].1)
        })
        .collect())
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    // SAFETY: HEAP is used by nothing else, and the allocator is initialised once, here,
    // before any allocation.
    unsafe {
        ALLOCATOR
            .lock()
            .init(core::ptr::addr_of_mut!(HEAP).cast::<u8>(), HEAP_BYTES)
    };
    let mut o = Output::new();
    let mut args = start.args().skip(1);
    match args.next() {
        Some(b"asm") => {
            let bytes = read_input(args.next().unwrap_or(b"-"));
            let Ok(text) = core::str::from_utf8(&bytes) else {
                fail("the egg text is not UTF-8")
            };
            let program = egg::assemble(text).unwrap_or_else(|e| {
                let mut m = String::new();
                let _ = write!(m, "{e}");
                fail(&m)
            });
            for byte in program {
                let _ = write!(o, "{byte:02x}");
            }
            o.bytes(b"\n");
        }
        Some(b"disasm") => {
            let mut hex = Vec::new();
            for (i, word) in args.enumerate() {
                if i > 0 {
                    hex.push(b' ');
                }
                hex.extend_from_slice(word);
            }
            if hex.is_empty() || hex == b"-" {
                hex = read_input(b"-");
            }
            let hex = String::from_utf8_lossy(&hex);
            let program = from_hex(&hex).unwrap_or_else(|m| fail(&m));
            match egg::disassemble(&program) {
                Ok(text) => o.bytes(text.as_bytes()),
                Err(e) => {
                    let mut m = String::new();
                    let _ = write!(m, "invalid egg: {e}");
                    fail(&m)
                }
            }
        }
        Some(b"ops") => {
            for opcode in egg::supported() {
                let mut line = String::new();
                let _ = write!(line, "{:>3} {}", opcode.number(), opcode.mnemonic());
                for operand in opcode.operands() {
                    let _ = write!(line, " {}:{}", operand.name, operand.kind.name());
                }
                let _ = writeln!(o, "{line:<56} {}", opcode.summary());
            }
        }
        _ => {
            let _ = userland::write_all(
                Fd::STDERR,
                b"usage: egg asm [FILE | -] | egg disasm HEX... | - | egg ops\n",
            );
            userland::exit(2)
        }
    }
    o.flush();
    userland::exit(0)
}
