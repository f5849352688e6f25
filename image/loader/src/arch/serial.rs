//! COM1 (0x3f8) at 115200 8N1, polled. A missing UART must not hang the loader: each wait
//! for the transmitter is bounded.

use super::port::{inb, outb};

const COM1: u16 = 0x3f8;
const LINE_STATUS: u16 = COM1 + 5;
const TRANSMIT_EMPTY: u8 = 0x20;
const MAX_WAIT: u32 = 100_000;

/// Programs the UART: no interrupts, divisor 1 (115200), 8N1, FIFOs on.
pub fn init() {
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x80);
    outb(COM1, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);
    outb(COM1 + 2, 0xc7);
    outb(COM1 + 4, 0x03);
}

fn write_byte(byte: u8) {
    for _ in 0..MAX_WAIT {
        if inb(LINE_STATUS) & TRANSMIT_EMPTY != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    outb(COM1, byte);
}

/// The serial port as a `fmt::Write`.
pub struct Serial;

impl core::fmt::Write for Serial {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        text.bytes().for_each(write_byte);
        Ok(())
    }
}

/// Prints formatted text to COM1.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::arch::serial::Serial, $($arg)*);
    }};
}
