//! Leaving the machine: power off under QEMU and Bochs, or halt.

use x86_64::instructions::port::Port;

/// QEMU `isa-debug-exit` port: writing v exits QEMU with status `(v << 1) | 1`.
const QEMU_EXIT_PORT: u16 = 0xf4;
/// Value for success: QEMU exits 33.
pub const EXIT_SUCCESS: u32 = 0x10;
/// Value for failure: QEMU exits 35.
pub const EXIT_FAILURE: u32 = 0x11;
/// Bochs' shutdown port: the bytes "Shutdown" end the simulation.
const BOCHS_SHUTDOWN_PORT: u16 = 0x8900;

/// Halts this CPU forever with interrupts off.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Powers the virtual machine off with `code` (`EXIT_SUCCESS` or `EXIT_FAILURE`), then halts
/// (on hardware without these devices the writes do nothing).
pub fn exit_vm(code: u32) -> ! {
    // SAFETY: these ports belong to the emulators' exit devices; on other machines they
    // are unassigned and writes are ignored.
    unsafe {
        Port::<u32>::new(QEMU_EXIT_PORT).write(code);
        let mut bochs = Port::<u8>::new(BOCHS_SHUTDOWN_PORT);
        for b in b"Shutdown" {
            bochs.write(*b);
        }
    }
    halt_forever()
}
