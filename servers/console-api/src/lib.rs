//! The protocol between the serial console driver (`servers/console`) and the server that
//! owns the console terminal (the file server; in tests, `ttytest`).
//!
//! Neither side ever blocks on the other. They share one 4 KiB page holding two
//! single-producer single-consumer byte rings ([`SharedPage`]) and signal each other's
//! notifications, which never blocks the signaller:
//!
//! ```text
//!   UART ──IRQ──► driver ──rx ring──► terminal server   (then signals the server's notification)
//!   UART ◄─────── driver ◄──tx ring── terminal server   (then signals the driver's notification, badge WORK)
//! ```
//!
//! - **Receive.** On its IRQ the driver moves bytes from the UART's FIFO into the rx ring
//!   and signals the server. When the ring is full it stops taking bytes (disables the
//!   receive interrupt) and leaves them in the UART, which holds further bytes back from
//!   the line; the server signals [`BADGE_WORK`] after it takes bytes out, and the driver
//!   starts receiving again. So input is bounded at each step and nothing is lost inside
//!   the system.
//! - **Transmit.** The server puts output bytes in the tx ring and signals [`BADGE_WORK`].
//!   The driver fills the UART's transmit FIFO and, while bytes remain, enables the
//!   transmit-empty interrupt to continue; it signals the server when it took bytes (room
//!   in the ring for more output).
//! - **Idle.** With nothing to receive or send the driver waits on its notification: no
//!   polling.
//!
//! The parent that starts the driver (procsrv, or a test root task) puts the caps below in
//! its CSpace; the driver maps the shared frame itself at [`SHARED_PAGE_ADDR`].
//!
//! The server's half of the protocol is [`TerminalLink`]: it moves bytes between the
//! rings and a [`ttycore::Terminal`] and says when to signal the driver.
//!
//! Everything in the shared page is an atomic: each side treats the other's indices as
//! untrusted numbers (reduced modulo the ring size, lengths clamped), so a confused peer
//! can garble bytes but never make the other side fault or loop.
#![no_std]
#![warn(missing_docs)]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod driver;
mod link;
mod ring;
#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod start;

pub use link::{Pumped, TerminalLink, LINK_CHUNK};
pub use ring::Ring;

use core::sync::atomic::{AtomicU32, Ordering};

/// I/O port base of COM1.
pub const COM1_BASE: u16 = 0x3f8;
/// Number of I/O ports a 16550 UART occupies.
pub const UART_PORTS: u16 = 8;
/// COM1's ISA interrupt line.
pub const COM1_IRQ: u64 = 4;

/// Slots of the driver's CSpace that its parent fills (cptr = slot, as for every process).
pub mod slot {
    /// The UART's I/O ports ([`super::COM1_BASE`], [`super::UART_PORTS`] of them).
    pub const IO_PORTS: u64 = 16;
    /// The IRQ handler of the UART's interrupt line.
    pub const IRQ_HANDLER: u64 = 17;
    /// The notification the driver waits on (read right). Its IRQ handler signals it with
    /// [`super::BADGE_IRQ`]; the terminal server holds a copy minted with
    /// [`super::BADGE_WORK`].
    pub const NOTIFICATION: u64 = 18;
    /// The terminal server's notification (write right, badge of the server's choosing):
    /// the driver signals it when bytes arrived or output room appeared.
    pub const CLIENT: u64 = 19;
    /// The frame of the [`super::SharedPage`].
    pub const SHARED_FRAME: u64 = 20;
}

/// Badge bit of the driver's notification: the UART interrupted.
pub const BADGE_IRQ: u64 = 1;
/// Badge bit of the driver's notification: the terminal server put output in the tx ring
/// or took input out of the rx ring.
pub const BADGE_WORK: u64 = 2;

/// Where the driver maps the shared page: the page after its IPC buffer, whose page table
/// every process already has, so the mapping needs no new table.
pub const SHARED_PAGE_ADDR: u64 = libsys::bootinfo::IPC_BUFFER_ADDR + PAGE_SIZE as u64;

/// Bytes of the receive ring (driver to server).
pub const RX_CAPACITY: usize = 1024;
/// Bytes of the transmit ring (server to driver).
pub const TX_CAPACITY: usize = 2048;

/// [`SharedPage::state`] before the driver has set the UART up.
pub const STATE_STARTING: u32 = 0;
/// [`SharedPage::state`] once the driver runs: interrupts on, the rings are served.
pub const STATE_RUNNING: u32 = 0x5e41_0001;
/// [`SharedPage::state`] when the driver gave up (it printed why on the kernel console).
pub const STATE_FAILED: u32 = 0xdead_0001;

/// The page the driver and the terminal server share.
#[repr(C)]
pub struct SharedPage {
    /// [`STATE_STARTING`], [`STATE_RUNNING`] or [`STATE_FAILED`], written by the driver.
    pub state: AtomicU32,
    /// Receive overruns the UART reported (bytes lost on the line before the driver read
    /// them), counted by the driver.
    pub overruns: AtomicU32,
    /// Interrupts the driver handled (for tests and diagnostics).
    pub interrupts: AtomicU32,
    /// Times the driver woke from waiting on its notification (an idle driver does not
    /// wake: tests check that it does not poll).
    pub wakeups: AtomicU32,
    /// Bytes the driver wrote to the UART.
    pub transmitted: AtomicU32,
    /// Bytes from the UART, for the server.
    pub rx: Ring<RX_CAPACITY>,
    /// Bytes for the UART, from the server.
    pub tx: Ring<TX_CAPACITY>,
}

/// Size of a page.
pub const PAGE_SIZE: usize = 4096;

const _: () = assert!(core::mem::size_of::<SharedPage>() <= PAGE_SIZE);
const _: () = assert!(SHARED_PAGE_ADDR.is_multiple_of(PAGE_SIZE as u64));

impl SharedPage {
    /// A page as a fresh (zeroed) frame holds it.
    pub const fn new() -> Self {
        SharedPage {
            state: AtomicU32::new(STATE_STARTING),
            overruns: AtomicU32::new(0),
            interrupts: AtomicU32::new(0),
            wakeups: AtomicU32::new(0),
            transmitted: AtomicU32::new(0),
            rx: Ring::new(),
            tx: Ring::new(),
        }
    }

    /// Whether the driver is serving the rings.
    pub fn running(&self) -> bool {
        self.state.load(Ordering::Acquire) == STATE_RUNNING
    }
}

impl Default for SharedPage {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers of a 16550 UART, as offsets from its base port.
pub mod uart {
    /// Receive buffer (read) / transmit holding (write); divisor low byte with DLAB.
    pub const DATA: u16 = 0;
    /// Interrupt enable; divisor high byte with DLAB.
    pub const INTERRUPT_ENABLE: u16 = 1;
    /// Interrupt identification (read) / FIFO control (write).
    pub const INTERRUPT_ID: u16 = 2;
    /// FIFO control (write).
    pub const FIFO_CONTROL: u16 = 2;
    /// Line control.
    pub const LINE_CONTROL: u16 = 3;
    /// Modem control.
    pub const MODEM_CONTROL: u16 = 4;
    /// Line status.
    pub const LINE_STATUS: u16 = 5;
    /// Modem status.
    pub const MODEM_STATUS: u16 = 6;

    /// Interrupt enable: received data available (and the FIFO's character timeout).
    pub const IER_RECEIVED: u8 = 0x01;
    /// Interrupt enable: transmit holding register empty.
    pub const IER_TRANSMIT_EMPTY: u8 = 0x02;
    /// Interrupt enable: receiver line status (overrun, parity, framing, break).
    pub const IER_LINE_STATUS: u8 = 0x04;

    /// Interrupt id: no interrupt pending (bit 0 set).
    pub const IIR_NONE: u8 = 0x01;
    /// Interrupt id (bits 1..3): modem status.
    pub const IIR_MODEM_STATUS: u8 = 0;
    /// Interrupt id: transmit holding register empty.
    pub const IIR_TRANSMIT_EMPTY: u8 = 1;
    /// Interrupt id: received data available.
    pub const IIR_RECEIVED: u8 = 2;
    /// Interrupt id: receiver line status.
    pub const IIR_LINE_STATUS: u8 = 3;
    /// Interrupt id: character timeout (bytes wait in the FIFO below its trigger level).
    pub const IIR_TIMEOUT: u8 = 6;

    /// FIFO control: enable and clear both FIFOs, interrupt at 1 byte.
    pub const FCR_ENABLE_CLEAR_1: u8 = 0x07;
    /// Line control: 8 data bits, no parity, 1 stop bit.
    pub const LCR_8N1: u8 = 0x03;
    /// Line control: the divisor latch (DATA and INTERRUPT_ENABLE become the divisor).
    pub const LCR_DIVISOR_LATCH: u8 = 0x80;
    /// The divisor of 115200 baud (the UART's clock is 1.8432 MHz / 16).
    pub const DIVISOR_115200: u8 = 1;
    /// Modem control: DTR, RTS and OUT2 (which gates the interrupt line on PCs).
    pub const MCR_DTR_RTS_OUT2: u8 = 0x0b;

    /// Line status: a received byte is ready.
    pub const LSR_DATA_READY: u8 = 0x01;
    /// Line status: a received byte was lost (overrun).
    pub const LSR_OVERRUN: u8 = 0x02;
    /// Line status: the transmit holding register (and FIFO) is empty.
    pub const LSR_TRANSMIT_EMPTY: u8 = 0x20;

    /// Bytes the transmit FIFO holds.
    pub const TRANSMIT_FIFO: usize = 16;

    /// What the interrupt identification register says (`None`: nothing pending).
    pub const fn interrupt_kind(iir: u8) -> Option<u8> {
        if iir & IIR_NONE != 0 {
            None
        } else {
            Some((iir >> 1) & 0x7)
        }
    }
}

/// The bytes the `console` test scenario pastes into the serial port to check flow
/// control: the harness (`xtask`) types them, `ttytest` checks each one, so both take them
/// from here.
pub mod paste {
    /// How many bytes are pasted: more than the receive ring and the UART's FIFO hold
    /// together, so the driver must hold the UART back and lose nothing.
    pub const LENGTH: usize = 4096;

    /// Byte `index` of the paste: printable, with no short period (a lost or doubled byte
    /// shows at once).
    pub const fn byte(index: usize) -> u8 {
        ((index * 7 + index / 251) % 94 + 33) as u8
    }

    /// The whole paste.
    pub const fn bytes() -> [u8; LENGTH] {
        let mut all = [0u8; LENGTH];
        let mut i = 0;
        while i < LENGTH {
            all[i] = byte(i);
            i += 1;
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paste_is_printable_and_longer_than_the_receive_path() {
        const { assert!(paste::LENGTH > RX_CAPACITY + uart::TRANSMIT_FIFO) };
        let all = paste::bytes();
        assert!(all.iter().all(|b| (33..127).contains(b)));
        assert!(all.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn the_shared_page_fits_a_page_and_starts_not_running() {
        let page = SharedPage::new();
        assert!(!page.running());
        page.state.store(STATE_RUNNING, Ordering::Release);
        assert!(page.running());
        assert!(core::mem::size_of::<SharedPage>() <= PAGE_SIZE);
    }

    #[test]
    fn interrupt_identification_decodes_each_cause() {
        assert_eq!(uart::interrupt_kind(0x01), None);
        assert_eq!(uart::interrupt_kind(0xc1), None);
        assert_eq!(uart::interrupt_kind(0xc4), Some(uart::IIR_RECEIVED));
        assert_eq!(uart::interrupt_kind(0xcc), Some(uart::IIR_TIMEOUT));
        assert_eq!(uart::interrupt_kind(0xc2), Some(uart::IIR_TRANSMIT_EMPTY));
        assert_eq!(uart::interrupt_kind(0xc6), Some(uart::IIR_LINE_STATUS));
        assert_eq!(uart::interrupt_kind(0xc0), Some(uart::IIR_MODEM_STATUS));
    }

    #[test]
    fn the_driver_slots_are_user_slots_below_the_descriptors() {
        for s in [
            slot::IO_PORTS,
            slot::IRQ_HANDLER,
            slot::NOTIFICATION,
            slot::CLIENT,
            slot::SHARED_FRAME,
        ] {
            assert!((16..64).contains(&s));
        }
        assert_eq!(BADGE_IRQ & BADGE_WORK, 0);
    }
}
