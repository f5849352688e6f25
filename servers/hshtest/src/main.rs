//! `hshtest`: the shell program running in the system.
//!
//! Started as the root task (the `hsh` scenario of `cargo xtask test`), it runs procsrv's
//! code with a boot table that hatches `/bin/hshtest driver`; the driver hatches
//! `/bin/hsh -c LINE` for each case and checks how it exits, then prints
//! `hshtest: N passed, M failed`. No file server runs here, so the shell has no
//! descriptors and finds no program: the cases cover what it does on its own and through
//! procsrv (its start, its heap growing from its own memory, its arguments, the language,
//! builtins, `hatch --query`, the status of commands it cannot find). Hatching from the shell is tested on the host
//! (`servers/hshcore`) until the file server and init run with procsrv.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use libsys::bootinfo::BOOT_INFO_ADDR;
use libsys::println;
use libsys::process::{Command, Startup};
use procsrv::BootProgram;
use procsrv_api::WaitStatus;

libsys::entry!(main);

const BOOT: &[BootProgram] = &[BootProgram {
    program: b"/bin/hshtest",
    argv: b"hshtest\0driver\0",
    envp: b"HOME=/\0",
    egg: &[],
}];

/// Each line for `hsh -c` and the status the shell must exit with.
const CASES: &[(&[u8], u8)] = &[
    (b"exit 3", 3),
    (b"", 0),
    (b"# only a comment", 0),
    (b"X=5; exit $X", 5),
    (b"exit 300", 44),
    (b"nosuch", 127),
    (b"nosuch || exit 4", 4),
    (b"nosuch && exit 4", 127),
    (b"hatch --query 6", 0),
    (b"hatch --query 99", 1),
    (b"hatch --egg 'bogus 1' nosuch", 2),
    (b"hatch", 2),
    (b"echo 'unterminated", 2),
    (b"| cat", 2),
    (b"cat 99>x", 1),
    (b"set -x; umask 8", 1),
    (b"false; exit", 127),
    // A 40,000-byte variable: the heap grows from the process's own memory.
    (
        b"A=0123456789; A=$A$A$A$A$A$A$A$A$A$A; A=$A$A$A$A$A$A$A$A$A$A; \
          A=$A$A$A$A$A$A$A$A$A$A; A=$A$A$A$A; B=$A$A; exit 9",
        9,
    ),
];

fn main(arg: u64) {
    if arg == BOOT_INFO_ADDR {
        procsrv::run(arg, BOOT);
        return;
    }
    // SAFETY: procsrv starts every hatched process with `rdi` pointing at its System V
    // initial stack, which stays untouched above the running stack.
    let start = unsafe { Startup::from_stack(arg) };
    if start.arg(1) != Some(b"driver") {
        println!("hshtest: no role");
        return;
    }
    let (mut passed, mut failed) = (0u32, 0u32);
    for &(line, expected) in CASES {
        let command = Command::new(b"/bin/hsh").arg(b"hsh").arg(b"-c").arg(line);
        let status = match command.spawn() {
            Ok(mut child) => child.wait().map_err(|errno| errno.name()),
            Err(error) => {
                println!("hshtest: hatch of hsh failed: {error}");
                Err("hatch failed")
            }
        };
        if status == Ok(WaitStatus::Exited(expected)) {
            passed += 1;
        } else {
            failed += 1;
            let text = core::str::from_utf8(line).unwrap_or("?");
            println!("hshtest: FAILED: hsh -c {text:?}: {status:?}, expected exit {expected}");
        }
    }
    println!("hshtest: {passed} passed, {failed} failed");
}
