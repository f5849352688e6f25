//! `fstest`: the file server's in-system test, run as the root task (`cargo xtask test`,
//! scenario `fs`) and its benchmark (`cargo xtask bench fs`).
//!
//! As root task it starts `fsrv` with `libsys::loader` (as procsrv will), plays procsrv's
//! part (credentials of four users, fds shared with children, process exit), and checks
//! through `libsys::fs` and raw `fs-api` messages: every file operation and its errors
//! ([`files`]), permissions for three users ([`permissions`]), pipes between processes
//! ([`pipes`]: end of file, EPIPE, 10 MiB streamed, atomic 4 KiB writes), a pty
//! ([`terminals`]: canonical and raw mode, the controlling terminal, signals, hangup), bad and random
//! messages ([`flood`]), and the 1 MiB read benchmark ([`bench`]). Started with a small
//! number instead of the boot info address, the same program is a child that writes into a
//! pipe ([`child`]). The last line is `fstest: N passed, M failed`.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod bench;
mod check;
mod child;
mod console;
mod files;
mod flood;
mod out;
mod permissions;
mod pipes;
mod setup;
mod terminals;

use libsys::bootinfo::{BootInfo, BOOT_INFO_ADDR, BOOT_INFO_MAGIC};

libsys::entry!(main);

fn main(argument: u64) {
    if argument != BOOT_INFO_ADDR {
        child::run(argument);
        return;
    }
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(argument as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        crate::say!("fstest: bad boot info");
        return;
    }
    // The tests put pipes on fd 1: print to the debug console unless a test says otherwise.
    libsys::fs::set_print_to_debug_console(true);
    let mut world = match setup::World::start(info) {
        Ok(world) => world,
        Err(why) => {
            crate::say!("fstest: FAIL: cannot start fsrv: {why}");
            crate::say!("fstest: 0 passed, 1 failed");
            return;
        }
    };
    // From here the test prints through the console (see `out`).
    match libsys::fs::open(
        "/dev/console",
        libsys::fs::O_WRONLY | libsys::fs::O_NOCTTY,
        0,
    ) {
        Ok(fd) => {
            if libsys::fs::dup2(fd, out::CONSOLE_FD).is_ok() {
                out::use_console(out::CONSOLE_FD);
            }
            let _ = libsys::fs::close(fd);
        }
        Err(e) => say!("fstest: cannot open /dev/console: {e}"),
    }
    let mut checks = check::Checks::new();
    files::run(&mut world, &mut checks);
    permissions::run(&mut world, &mut checks);
    pipes::run(&mut world, &mut checks);
    terminals::run(&mut world, &mut checks);
    flood::run(&mut world, &mut checks);
    bench::run(&mut world, &mut checks);
    console::run(&mut checks);
    checks.summary();
}
