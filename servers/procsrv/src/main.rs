//! procsrv's program: start, hatch the boot table, serve (see the library).
#![no_std]
#![no_main]

use procsrv::BootProgram;

libsys::entry!(main);

/// What procsrv hatches at boot, in order. `hello` stands in for init (pid 1) until there
/// is one; the console driver, the file server and the shell join this table.
const BOOT: &[BootProgram] = &[BootProgram {
    program: b"/bin/hello",
    argv: b"hello\0",
    envp: b"PATH=/bin\0",
    egg: &[0x17, 0x05, b'h', b'e', b'l', b'l', b'o'],
}];

fn main(boot_info: u64) {
    procsrv::run(boot_info, BOOT);
}
