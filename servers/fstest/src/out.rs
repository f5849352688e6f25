//! The test's own output: through the console (fsrv and the serial console driver) once
//! they run, else the kernel's debug console. Once a program holds COM1's ports the kernel
//! may keep its debug console quiet (the COM1 hand-off), so the console is the one output
//! that always reaches the serial log.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicU64, Ordering};
use libsys::fs::{write, Fd};

/// The descriptor the test prints to (`u64::MAX`: none yet).
static CONSOLE: AtomicU64 = AtomicU64::new(u64::MAX);
/// The descriptor number kept for it, out of the tests' way.
pub const CONSOLE_FD: Fd = Fd(63);

/// Prints through `fd` from now on.
pub fn use_console(fd: Fd) {
    CONSOLE.store(fd.0, Ordering::Relaxed);
}

/// Handles the test's output holds in the file server (the tests' "nothing left" checks
/// allow for them).
pub fn handles() -> u64 {
    u64::from(CONSOLE.load(Ordering::Relaxed) != u64::MAX)
}

struct Line {
    buffer: [u8; 256],
    used: usize,
    fd: Fd,
}

impl Line {
    fn flush(&mut self) {
        let _ = write(self.fd, &self.buffer[..self.used]);
        self.used = 0;
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.used == self.buffer.len() {
                self.flush();
            }
            self.buffer[self.used] = b;
            self.used += 1;
        }
        Ok(())
    }
}

/// Prints `args` (used by [`say!`]).
pub fn print(args: core::fmt::Arguments) {
    match CONSOLE.load(Ordering::Relaxed) {
        u64::MAX => libsys::rt::print_args(args),
        fd => {
            let mut line = Line {
                buffer: [0; 256],
                used: 0,
                fd: Fd(fd),
            };
            let _ = line.write_fmt(args);
            line.flush();
        }
    }
}

/// Prints a line of the test's output.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::out::print(format_args!("{}\n", format_args!($($t)*))) };
}
