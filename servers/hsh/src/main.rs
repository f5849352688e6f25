//! `hsh`: the shell program. The language, the eggs, the builtins and job control are
//! `hshcore` (host-tested, see docs/shell.md); this crate gives it the system: [`Libsys`],
//! the `hshcore::System` over procsrv's client (hatch, wait, kill, ids) and the file
//! server's (descriptors, pipes, paths).
//!
//! ```text
//! hsh                 read commands from descriptor 0 (a prompt and job control on a terminal)
//! hsh -c 'LINE'       run one line, exit with its status
//! ```
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod heap;
mod system;

use alloc::vec::Vec;

use hshcore::Shell;
use libsys::process::client::exit;
use libsys::process::Startup;

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: procsrv starts every hatched process with `rdi` pointing at its System V
    // initial stack, which stays untouched above the running stack.
    let start = unsafe { Startup::from_stack(arg) };
    // Its I/O window, before the heap takes slots (the window wants consecutive ones).
    // Without a file server (hshtest) there is none to attach.
    let _ = libsys::process::client::attach_window();
    let environ: Vec<Vec<u8>> = start.env().map(<[u8]>::to_vec).collect();
    let mut shell = Shell::new(system::Libsys::new(), &environ);
    let status = match (start.arg(1), start.arg(2)) {
        (Some(b"-c"), Some(line)) => shell.run_line(line).unwrap_or_else(|| shell.last_status()),
        _ => shell.run(),
    };
    exit(status)
}
