//! `hatchtest`: the in-system tests of procsrv.
//!
//! Started as the root task (the `hatch` scenario of `cargo xtask test`), it runs procsrv's
//! own code ([`procsrv::run`]) with a boot table that hatches `/bin/hatchtest driver`; the
//! driver, an ordinary hatched process, runs the tests ([`tests`]) against procsrv and
//! prints `hatchtest: N passed, M failed`. The children the tests hatch are
//! `servers/hatchchild` (and `servers/tiny`).
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

mod big_requests;
mod cpu_limits;
mod file_server;
mod leaks;
mod random_messages;
mod tests;

use libsys::bootinfo::BOOT_INFO_ADDR;
use libsys::process::Startup;
use procsrv::BootProgram;

libsys::entry!(main);

const BOOT: &[BootProgram] = &[BootProgram {
    program: b"/bin/hatchtest",
    argv: b"hatchtest\0driver\0",
    envp: b"HOME=/\0",
    egg: &[],
}];

/// With the root argument `requests` (the `hatch-requests` scenario): only the tests of
/// procsrv's calls to a file server that does not answer ([`file_server`]) and of requests
/// too big for the IPC buffer ([`big_requests`]).
const BOOT_REQUESTS: &[BootProgram] = &[BootProgram {
    program: b"/bin/hatchtest",
    argv: b"hatchtest\0driver\0requests\0",
    envp: b"HOME=/\0",
    egg: &[],
}];

fn main(arg: u64) {
    if arg == BOOT_INFO_ADDR {
        let options = procsrv::Options {
            fault_injection: true,
            ..procsrv::Options::default()
        };
        let boot = if procsrv::root_args_have(arg, "requests") {
            BOOT_REQUESTS
        } else {
            BOOT
        };
        procsrv::run_with(arg, boot, options);
        return;
    }
    // SAFETY: procsrv starts every hatched process with `rdi` pointing at its System V
    // initial stack, which stays untouched above the running stack.
    let start = unsafe { Startup::from_stack(arg) };
    match start.arg(1) {
        Some(b"driver") => tests::run(&start),
        _ => libsys::println!("hatchtest: hatched without the role `driver`"),
    }
}
