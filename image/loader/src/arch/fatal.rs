//! Stopping: one line, then power off with failure (with `exit`/`test` on the command line)
//! or halt.

use super::port::outb;
use core::sync::atomic::{AtomicBool, Ordering};

/// QEMU isa-debug-exit port; writing 0x11 exits QEMU with status 35.
const DEBUG_EXIT_PORT: u16 = 0xf4;
const DEBUG_EXIT_FAILURE: u8 = 0x11;
/// Bochs: writing "Shutdown" here ends the simulation.
const BOCHS_SHUTDOWN_PORT: u16 = 0x8900;

static EXIT_ON_FATAL: AtomicBool = AtomicBool::new(false);

/// Sets whether a fatal error powers the VM off.
pub fn set_exit_on_fatal(exit: bool) {
    EXIT_ON_FATAL.store(exit, Ordering::Relaxed);
}

/// After the fatal line: exit (if asked) and halt forever.
pub fn stop() -> ! {
    if EXIT_ON_FATAL.load(Ordering::Relaxed) {
        outb(DEBUG_EXIT_PORT, DEBUG_EXIT_FAILURE);
        for byte in b"Shutdown" {
            outb(BOCHS_SHUTDOWN_PORT, *byte);
        }
    }
    loop {
        // SAFETY: cli; hlt stops this CPU; nothing else runs.
        unsafe {
            core::arch::asm!("cli", "hlt", options(nomem, nostack));
        }
    }
}

/// Prints `hatchery-loader: fatal: <message>` and stops.
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)*) => {{
        $crate::print!("hatchery-loader: fatal: ");
        $crate::print!($($arg)*);
        $crate::print!("\n");
        $crate::arch::fatal::stop()
    }};
}
