//! The driver's logic over any 16550-like UART, so that it can be tested on the host
//! against a simulated UART. `servers/console` runs it over COM1's I/O-port cap.

use crate::uart::{self, interrupt_kind};
use crate::SharedPage;
use core::sync::atomic::Ordering;

/// Most bytes taken from the UART per pass (its FIFO holds 16; a UART that always says
/// "data ready" must not keep the driver forever).
pub const RECEIVE_BATCH: usize = 64;
/// Most line-status reads [`Driver::announce`] makes waiting for the transmitter.
pub const ANNOUNCE_POLLS: u32 = 100_000;
/// Most interrupt causes handled per pass.
pub const MAX_CAUSES: usize = 32;

/// Access to a UART's registers (offsets from its base port).
pub trait Uart {
    /// Why an access failed (for the driver: the kernel refused the port invocation).
    type Error;
    /// Reads register `register`.
    ///
    /// # Errors
    /// When the access is refused.
    fn read(&mut self, register: u16) -> Result<u8, Self::Error>;
    /// Writes `value` to register `register`.
    ///
    /// # Errors
    /// When the access is refused.
    fn write(&mut self, register: u16, value: u8) -> Result<(), Self::Error>;
}

/// The driver's state: which UART interrupts are on, and whether receiving is held back
/// because the receive ring is full.
pub struct Driver<U: Uart> {
    uart: U,
    interrupt_enable: u8,
    receive_held: bool,
}

impl<U: Uart> Driver<U> {
    /// A driver for `uart` (not yet programmed).
    pub const fn new(uart: U) -> Self {
        Driver {
            uart,
            interrupt_enable: 0,
            receive_held: false,
        }
    }

    /// The UART (for tests).
    pub fn uart(&mut self) -> &mut U {
        &mut self.uart
    }

    /// What the interrupt-enable register holds.
    pub fn interrupt_enable(&self) -> u8 {
        self.interrupt_enable
    }

    /// Whether receiving is held back (the receive ring was full).
    pub fn receive_held(&self) -> bool {
        self.receive_held
    }

    /// Programs the UART: interrupts off, 115200 baud 8N1, FIFOs on and cleared with a
    /// one-byte trigger, DTR/RTS/OUT2; clears what it had pending.
    ///
    /// # Errors
    /// The first refused register access.
    pub fn init(&mut self) -> Result<(), U::Error> {
        let u = &mut self.uart;
        u.write(uart::INTERRUPT_ENABLE, 0)?;
        u.write(uart::LINE_CONTROL, uart::LCR_DIVISOR_LATCH)?;
        u.write(uart::DATA, uart::DIVISOR_115200)?;
        u.write(uart::INTERRUPT_ENABLE, 0)?;
        u.write(uart::LINE_CONTROL, uart::LCR_8N1)?;
        u.write(uart::FIFO_CONTROL, uart::FCR_ENABLE_CLEAR_1)?;
        u.write(uart::MODEM_CONTROL, uart::MCR_DTR_RTS_OUT2)?;
        u.read(uart::LINE_STATUS)?;
        u.read(uart::MODEM_STATUS)?;
        u.read(uart::INTERRUPT_ID)?;
        self.interrupt_enable = 0;
        Ok(())
    }

    /// Turns on the received-data and line-status interrupts.
    ///
    /// # Errors
    /// A refused register access.
    pub fn enable(&mut self) -> Result<(), U::Error> {
        self.set_interrupts(uart::IER_RECEIVED | uart::IER_LINE_STATUS)
    }

    fn set_interrupts(&mut self, enable: u8) -> Result<(), U::Error> {
        if enable != self.interrupt_enable {
            self.uart.write(uart::INTERRUPT_ENABLE, enable)?;
            self.interrupt_enable = enable;
        }
        Ok(())
    }

    /// Handles every pending UART interrupt cause (bounded), restarts held-back receiving
    /// when the ring has room, and moves output. Returns whether the terminal server
    /// should be signalled (bytes arrived, or output was taken).
    ///
    /// # Errors
    /// A refused register access.
    pub fn service(&mut self, page: &SharedPage) -> Result<bool, U::Error> {
        let mut signal = false;
        for _ in 0..MAX_CAUSES {
            let Some(cause) = interrupt_kind(self.uart.read(uart::INTERRUPT_ID)?) else {
                break;
            };
            match cause {
                uart::IIR_RECEIVED | uart::IIR_TIMEOUT => {
                    let (received, held) = self.receive(page)?;
                    signal |= received;
                    if held {
                        break;
                    }
                }
                uart::IIR_LINE_STATUS => {
                    self.line_status(page)?;
                }
                uart::IIR_TRANSMIT_EMPTY => signal |= self.transmit(page)?,
                uart::IIR_MODEM_STATUS => {
                    self.uart.read(uart::MODEM_STATUS)?;
                }
                _ => break,
            }
        }
        if self.receive_held && page.rx.room() > 0 {
            self.receive_held = false;
            self.set_interrupts(self.interrupt_enable | uart::IER_RECEIVED)?;
            signal |= self.receive(page)?.0;
        }
        signal |= self.transmit(page)?;
        Ok(signal)
    }

    fn line_status(&mut self, page: &SharedPage) -> Result<u8, U::Error> {
        let status = self.uart.read(uart::LINE_STATUS)?;
        if status & uart::LSR_OVERRUN != 0 {
            page.overruns.fetch_add(1, Ordering::Relaxed);
        }
        Ok(status)
    }

    /// Moves received bytes into the receive ring; when it is full, turns the
    /// received-data interrupt off and leaves the rest in the UART. Returns (bytes were
    /// received, receiving is now held back).
    fn receive(&mut self, page: &SharedPage) -> Result<(bool, bool), U::Error> {
        let mut received = 0;
        let mut held = false;
        for _ in 0..RECEIVE_BATCH {
            if self.line_status(page)? & uart::LSR_DATA_READY == 0 {
                break;
            }
            if page.rx.room() == 0 {
                held = true;
                break;
            }
            let byte = self.uart.read(uart::DATA)?;
            received += page.rx.push(&[byte]);
        }
        if held {
            self.receive_held = true;
            self.set_interrupts(self.interrupt_enable & !uart::IER_RECEIVED)?;
        }
        Ok((received > 0, held))
    }

    /// Fills the UART's transmit FIFO from the transmit ring when it is empty; keeps the
    /// transmit-empty interrupt on exactly while bytes remain. Returns whether it took
    /// bytes.
    /// Writes `bytes` straight to the UART, one FIFO load at a time, reading the line status
    /// at most [`ANNOUNCE_POLLS`] times per load: for the driver's start-up line, written
    /// before it serves the rings (the kernel no longer prints for programs once the
    /// driver holds COM1). Returns how many bytes went out; a transmitter that never
    /// empties stops it early instead of holding the driver.
    ///
    /// # Errors
    /// When a register access is refused.
    pub fn announce(&mut self, bytes: &[u8]) -> Result<usize, U::Error> {
        let mut sent = 0;
        for chunk in bytes.chunks(uart::TRANSMIT_FIFO) {
            let mut polls = 0;
            while self.uart.read(uart::LINE_STATUS)? & uart::LSR_TRANSMIT_EMPTY == 0 {
                polls += 1;
                if polls == ANNOUNCE_POLLS {
                    return Ok(sent);
                }
            }
            for &byte in chunk {
                self.uart.write(uart::DATA, byte)?;
            }
            sent += chunk.len();
        }
        Ok(sent)
    }

    fn transmit(&mut self, page: &SharedPage) -> Result<bool, U::Error> {
        let mut took = false;
        if !page.tx.is_empty() && self.uart.read(uart::LINE_STATUS)? & uart::LSR_TRANSMIT_EMPTY != 0
        {
            let mut chunk = [0u8; uart::TRANSMIT_FIFO];
            let count = page.tx.pop(&mut chunk);
            for &byte in &chunk[..count] {
                self.uart.write(uart::DATA, byte)?;
            }
            page.transmitted.fetch_add(count as u32, Ordering::Relaxed);
            took = count > 0;
        }
        let enable = if page.tx.is_empty() {
            self.interrupt_enable & !uart::IER_TRANSMIT_EMPTY
        } else {
            self.interrupt_enable | uart::IER_TRANSMIT_EMPTY
        };
        self.set_interrupts(enable)?;
        Ok(took)
    }
}
