//! The COM1 UART (16550), polled. The kernel's console until a userspace driver takes over.

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;
/// Bytes the 16550's transmit FIFO holds.
pub const FIFO_BYTES: usize = 16;

/// A 16550 UART at a fixed I/O base.
pub struct Serial {
    base: u16,
}

impl Serial {
    /// COM1.
    pub const fn com1() -> Self {
        Serial { base: COM1 }
    }

    /// Programs 115200 baud, 8N1, FIFOs on, interrupts off.
    ///
    /// First waits (bounded) until the bootloader's last bytes have left the UART:
    /// clearing the FIFO under them lost the loader's line end (Bochs wrote a NUL).
    pub fn init(&mut self) {
        let b = self.base;
        // SAFETY: COM1's registers are I/O ports owned by the kernel console; reading the
        // line status and writing the registers has no memory-safety effect.
        unsafe {
            let mut status = Port::<u8>::new(b + 5);
            for _ in 0..100_000 {
                if status.read() & 0x40 != 0 {
                    break; // transmitter empty
                }
                core::hint::spin_loop();
            }
            Port::<u8>::new(b + 1).write(0x00); // no interrupts
            Port::<u8>::new(b + 3).write(0x80); // DLAB on
            Port::<u8>::new(b).write(0x01); // divisor 1 = 115200 baud
            Port::<u8>::new(b + 1).write(0x00);
            Port::<u8>::new(b + 3).write(0x03); // 8N1, DLAB off
            Port::<u8>::new(b + 2).write(0xc7); // FIFO on, cleared, 14-byte threshold
            Port::<u8>::new(b + 4).write(0x03); // DTR + RTS
        }
    }

    /// Writes one byte, waiting (bounded) for the transmit holding register.
    pub fn write_byte(&mut self, byte: u8) {
        // SAFETY: reading the line status and writing the data register of COM1.
        unsafe {
            let mut status = Port::<u8>::new(self.base + 5);
            // Bounded: a missing UART reads 0xff (ready) or never becomes ready; give up.
            for _ in 0..100_000 {
                if status.read() & 0x20 != 0 {
                    break;
                }
                core::hint::spin_loop();
            }
            Port::<u8>::new(self.base).write(byte);
        }
    }

    /// Writes as many of `bytes` as the transmit FIFO takes without waiting (`\n` becomes
    /// `\r\n`); returns how many were taken. When the FIFO is empty (LSR bit 5) it takes
    /// [`FIFO_BYTES`] bytes, else none.
    pub fn write_bytes_now(&mut self, bytes: &[u8]) -> usize {
        // SAFETY: reading the line status register of COM1.
        let empty = unsafe { Port::<u8>::new(self.base + 5).read() } & 0x20 != 0;
        if !empty {
            return 0;
        }
        let mut room = FIFO_BYTES;
        let mut taken = 0;
        for &b in bytes {
            let needed = if b == b'\n' { 2 } else { 1 };
            if needed > room {
                break;
            }
            // SAFETY: writing the data register of COM1; the FIFO has room (it was empty
            // and fewer than FIFO_BYTES bytes went in since).
            unsafe {
                if b == b'\n' {
                    Port::<u8>::new(self.base).write(b'\r');
                }
                Port::<u8>::new(self.base).write(b);
            }
            room -= needed;
            taken += 1;
        }
        taken
    }

    /// Writes bytes, turning `\n` into `\r\n`.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }
}

impl core::fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}
