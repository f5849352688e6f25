//! Program entry, exit, panics and `print!` for userspace programs.
//!
//! A program declares its entry with [`entry!`]: `libsys::entry!(main);` where
//! `fn main(boot_info: u64)`. The kernel (or the process server) starts the thread at
//! `_start` with the boot info address in `rdi`; `_start` aligns the stack, calls the
//! program's function, and exits the thread when it returns.

use crate::abi::{Label, MessageInfo};
use crate::bootinfo::SLOT_TCB;
use core::fmt::Write;

core::arch::global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
_start:
    andq $-16, %rsp
    xorl %ebp, %ebp
    call hatchery_program_main
    call hatchery_exit
    ud2
"#,
    options(att_syntax)
);

/// Declares the program's entry function, `fn(u64)` (the argument is the boot info or
/// startup message address).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn hatchery_program_main(arg: u64) {
            let f: fn(u64) = $main;
            f(arg)
        }
    };
}

/// Ends the program: a hatched process tells procsrv (through its endpoint in
/// [`crate::process::SLOT_PROCSRV`]) that it exited with status 0; the root task, which has
/// no such endpoint, suspends its own TCB. Never returns.
#[unsafe(no_mangle)]
pub extern "C" fn hatchery_exit() -> ! {
    exit_with(0)
}

/// Ends the program with status `code` (see [`hatchery_exit`]). Never returns.
pub fn exit_with(code: u8) -> ! {
    use crate::process::SLOT_PROCSRV;
    let procsrv = crate::cap::Cap::<crate::cap::Endpoint>::from_cptr(SLOT_PROCSRV);
    if procsrv
        .identify()
        .is_ok_and(|id| id.cap_kind() == Some(crate::object::CapKind::Endpoint))
    {
        let _ = procsrv.call(
            MessageInfo::new(procsrv_api::label::EXIT, 1, 0),
            [code.into(), 0, 0, 0],
        );
    }
    let _ = crate::syscall::call(
        SLOT_TCB,
        MessageInfo::new(Label::TcbSuspend as u64, 0, 0),
        [0; 4],
    );
    // Not reached unless the suspend was refused; keep out of the way.
    loop {
        crate::syscall::yield_now();
    }
}

/// A `fmt::Write` sink that buffers and flushes through `debug_write`.
pub struct DebugConsole {
    buffer: [u8; 256],
    used: usize,
}

impl DebugConsole {
    /// An empty console buffer.
    pub const fn new() -> Self {
        DebugConsole {
            buffer: [0; 256],
            used: 0,
        }
    }

    /// Sends what is buffered.
    pub fn flush(&mut self) {
        if self.used > 0 {
            let _ = crate::syscall::debug_write(&self.buffer[..self.used]);
            self.used = 0;
        }
    }
}

impl Default for DebugConsole {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for DebugConsole {
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

/// Formats and prints (used by `print!`): to fd 1 when it is open (see [`crate::fs`]),
/// else to the kernel debug console. If fd 1 refuses the text, the debug console gets it.
pub fn print_args(args: core::fmt::Arguments) {
    if crate::fs::stdout_is_open() {
        let mut out = StdoutBuffer {
            console: DebugConsole::new(),
            failed: false,
        };
        let _ = out.write_fmt(args);
        out.flush();
        return;
    }
    let mut console = DebugConsole::new();
    let _ = console.write_fmt(args);
    console.flush();
}

/// Buffers formatted text for fd 1; on a failed write, the text goes to the debug console.
struct StdoutBuffer {
    console: DebugConsole,
    failed: bool,
}

impl StdoutBuffer {
    fn flush(&mut self) {
        let used = self.console.used;
        if used == 0 {
            return;
        }
        if !self.failed {
            let bytes = &self.console.buffer[..used];
            if crate::fs::Write::write_all(&mut crate::fs::stdout(), bytes).is_ok() {
                self.console.used = 0;
                return;
            }
            self.failed = true;
        }
        self.console.flush();
    }
}

impl Write for StdoutBuffer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.console.used == self.console.buffer.len() {
                self.flush();
            }
            self.console.buffer[self.console.used] = b;
            self.console.used += 1;
        }
        Ok(())
    }
}

/// Prints to the kernel debug console.
#[macro_export]
macro_rules! print {
    ($($t:tt)*) => { $crate::rt::print_args(format_args!($($t)*)) };
}

/// Prints a line to the kernel debug console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($t:tt)*) => { $crate::rt::print_args(format_args!("{}\n", format_args!($($t)*))) };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    match info.location() {
        Some(l) => crate::println!("panic: {} at {}:{}", info.message(), l.file(), l.line()),
        None => crate::println!("panic: {}", info.message()),
    }
    exit_with(101)
}
