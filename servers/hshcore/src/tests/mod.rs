//! Host tests, filed by what they cover. `fake.rs` is the simulated system they drive.

mod bad_input;
mod builtins;
mod construct_eggs;
mod fake;
mod hatch_builtin;
mod job_control;
mod lexer_and_parser;
mod line_editing;
mod paths;

use crate::Shell;
use fake::Fake;

/// A shell on a fake system; `tty` turns job control on.
fn shell(tty: bool) -> Shell<Fake> {
    Shell::new(Fake::new(tty), &[b"HOME=/tmp".to_vec()])
}

/// Runs `line`; returns the status.
fn run(sh: &mut Shell<Fake>, line: &str) -> u8 {
    assert_eq!(
        sh.run_line(line.as_bytes()),
        None,
        "the line exited the shell"
    );
    sh.last_status()
}

/// The bytes of egg text, through the egg crate's assembler.
fn asm(text: &str) -> Vec<u8> {
    egg::assemble(text).unwrap()
}

/// The three descriptor caps every command's egg starts with.
const STDIO: &str = "cap 64 0 READ|WRITE|GRANT|GRANT_REPLY 0\n\
                     cap 65 1 READ|WRITE|GRANT|GRANT_REPLY 0\n\
                     cap 66 2 READ|WRITE|GRANT|GRANT_REPLY 0\n";
