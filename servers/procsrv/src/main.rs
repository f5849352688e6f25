//! procsrv's program: start the console driver and the file server, hatch init, serve
//! (see the library).
#![no_std]
#![no_main]

use procsrv::{BootProgram, Options};

libsys::entry!(main);

/// What procsrv hatches at boot: init (pid 1), which starts the shell on the console.
/// `hello`, the tour, stays in `/bin`.
const BOOT: &[BootProgram] = &[BootProgram {
    program: b"/bin/init",
    argv: b"init\0",
    envp: b"PATH=/bin\0HOME=/\0TERM=vt100\0",
    egg: &[0x17, 0x04, b'i', b'n', b'i', b't'],
}];

/// init when the boot archive's manifest asks the system to end with its shell (`cargo
/// xtask run` without a terminal, tests: `root-args` holds `exit`).
const BOOT_EXIT: &[BootProgram] = &[BootProgram {
    program: b"/bin/init",
    argv: b"init\0exit\0",
    envp: b"PATH=/bin\0HOME=/\0TERM=vt100\0",
    egg: &[0x17, 0x04, b'i', b'n', b'i', b't'],
}];

fn main(boot_info: u64) {
    let options = Options {
        file_server: true,
        ..Options::default()
    };
    let boot = if procsrv::root_args_say_exit(boot_info) {
        BOOT_EXIT
    } else {
        BOOT
    };
    procsrv::run_with(boot_info, boot, options);
}
