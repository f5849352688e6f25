//! `console`: the serial console driver (COM1, a 16550 UART).
//!
//! It holds the UART's I/O ports and its interrupt line as caps, and nothing else of the
//! machine. Bytes the UART receives go into the receive ring of the page it shares with
//! the terminal server; bytes the server puts in the transmit ring go out through the
//! UART's transmit FIFO. The protocol, the slots and the badges are in `console-api`.
//!
//! Design:
//! 1. Interrupt-driven both ways: received-data and line-status interrupts always on; the
//!    transmit-empty interrupt only while output waits. With nothing to do the driver
//!    waits on its notification.
//! 2. Never blocks on the terminal server: it signals the server's notification (which
//!    cannot block) and, when the receive ring is full, stops taking bytes from the UART
//!    until the server makes room.
//! 3. Every loop over the device is bounded, so a UART that misbehaves (or is absent and
//!    reads all ones) cannot hold the driver in a loop.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use console_api::uart::{self, interrupt_kind};
use console_api::{slot, SharedPage, BADGE_IRQ, COM1_BASE, SHARED_PAGE_ADDR};
use console_api::{STATE_FAILED, STATE_RUNNING};
use core::sync::atomic::Ordering;
use libsys::cap::{CNode, Cap, Frame, InvocationError, IoPort, IrqHandler, Notification, SlotPath};
use libsys::object::Rights;
use libsys::process::{SLOT_CNODE, SLOT_VSPACE};

libsys::entry!(main);

const PORTS: Cap<IoPort> = Cap::from_cptr(slot::IO_PORTS);
const IRQ: Cap<IrqHandler> = Cap::from_cptr(slot::IRQ_HANDLER);
const NOTIFICATION: Cap<Notification> = Cap::from_cptr(slot::NOTIFICATION);
const CLIENT: Cap<Notification> = Cap::from_cptr(slot::CLIENT);
const SHARED_FRAME: Cap<Frame> = Cap::from_cptr(slot::SHARED_FRAME);
const OWN_CNODE: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
/// A free slot of the driver's own: the copy of its notification, badged for the IRQ.
const IRQ_NOTIFICATION_SLOT: u64 = slot::SHARED_FRAME + 1;

/// Most bytes taken from the UART per pass (the FIFO holds 16; a UART that always says
/// "data ready" must not keep the driver forever).
const RECEIVE_BATCH: usize = 64;
/// Most interrupt causes handled per pass.
const MAX_CAUSES: usize = 32;

/// Why the driver stopped.
#[derive(Clone, Copy, Debug)]
enum Failure {
    MapSharedPage(InvocationError),
    Port(InvocationError),
    BadgeNotification(InvocationError),
    BindIrq(InvocationError),
    Wait(InvocationError),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::MapSharedPage(e) => write!(f, "cannot map the shared page: {e}"),
            Failure::Port(e) => write!(f, "an I/O port access was refused: {e}"),
            Failure::BadgeNotification(e) => write!(f, "cannot badge the IRQ notification: {e}"),
            Failure::BindIrq(e) => write!(f, "cannot bind the IRQ: {e}"),
            Failure::Wait(e) => write!(f, "waiting on the notification failed: {e}"),
        }
    }
}

fn main(_argument: u64) {
    let page = match map_shared_page() {
        Ok(page) => page,
        Err(failure) => {
            libsys::println!("console: {failure}");
            return;
        }
    };
    let mut driver = Driver {
        base: COM1_BASE,
        page,
        interrupt_enable: 0,
        receive_held: false,
    };
    if let Err(failure) = driver.run() {
        page.state.store(STATE_FAILED, Ordering::Release);
        libsys::println!("console: stopped: {failure}");
    }
}

/// Maps the frame the parent gave at [`SHARED_PAGE_ADDR`] and returns the page.
fn map_shared_page() -> Result<&'static SharedPage, Failure> {
    SHARED_FRAME
        .map(
            Cap::from_cptr(SLOT_VSPACE),
            SHARED_PAGE_ADDR,
            Rights::READ.union(Rights::WRITE),
        )
        .map_err(Failure::MapSharedPage)?;
    // SAFETY: the frame is now mapped read-write at SHARED_PAGE_ADDR and stays mapped for
    // the driver's whole life (nothing unmaps it); SharedPage is a page-sized-or-smaller
    // repr(C) struct of atomics, so every bit pattern is a valid value and shared access
    // through `&` (also by the other process mapping the frame) is sound; the address is
    // page-aligned, above any alignment SharedPage needs.
    Ok(unsafe { &*(SHARED_PAGE_ADDR as *const SharedPage) })
}

struct Driver {
    base: u16,
    page: &'static SharedPage,
    /// What the interrupt-enable register holds.
    interrupt_enable: u8,
    /// The receive ring was full: the received-data interrupt is off until it has room.
    receive_held: bool,
}

impl Driver {
    fn read(&self, register: u16) -> Result<u8, Failure> {
        PORTS
            .port_in(u64::from(self.base + register), 1)
            .map(|value| value as u8)
            .map_err(Failure::Port)
    }

    fn write(&self, register: u16, value: u8) -> Result<(), Failure> {
        PORTS
            .port_out(u64::from(self.base + register), 1, u64::from(value))
            .map_err(Failure::Port)
    }

    fn set_interrupts(&mut self, enable: u8) -> Result<(), Failure> {
        if enable != self.interrupt_enable {
            self.write(uart::INTERRUPT_ENABLE, enable)?;
            self.interrupt_enable = enable;
        }
        Ok(())
    }

    /// Programs the UART (115200 8N1, FIFOs with a 1-byte trigger), binds the interrupt,
    /// then serves forever.
    fn run(&mut self) -> Result<(), Failure> {
        self.write(uart::INTERRUPT_ENABLE, 0)?;
        self.write(uart::LINE_CONTROL, 0x80)?; // divisor latch
        self.write(uart::DATA, 1)?; // 115200 baud
        self.write(uart::INTERRUPT_ENABLE, 0)?;
        self.write(uart::LINE_CONTROL, uart::LCR_8N1)?;
        self.write(uart::FIFO_CONTROL, uart::FCR_ENABLE_CLEAR_1)?;
        self.write(uart::MODEM_CONTROL, uart::MCR_DTR_RTS_OUT2)?;
        // Clear whatever the UART had pending before it was ours.
        self.read(uart::LINE_STATUS)?;
        self.read(uart::MODEM_STATUS)?;
        self.read(uart::INTERRUPT_ID)?;

        let badged = SlotPath::at(IRQ_NOTIFICATION_SLOT);
        OWN_CNODE
            .mint(
                badged,
                NOTIFICATION.slot(),
                Rights::READ.union(Rights::WRITE),
                BADGE_IRQ,
            )
            .map_err(Failure::BadgeNotification)?;
        IRQ.set_notification(Cap::from_cptr(IRQ_NOTIFICATION_SLOT))
            .map_err(Failure::BindIrq)?;
        IRQ.ack().map_err(Failure::BindIrq)?;
        self.set_interrupts(uart::IER_RECEIVED | uart::IER_LINE_STATUS)?;
        self.page.state.store(STATE_RUNNING, Ordering::Release);
        libsys::println!(
            "console: COM1 driver running (ports {:#x}-{:#x}, IRQ {})",
            self.base,
            self.base + console_api::UART_PORTS - 1,
            console_api::COM1_IRQ
        );

        loop {
            // Each wake-up: whatever the UART has pending, the rings' work, then sleep.
            self.service()?;
            let bits = NOTIFICATION.wait().map_err(Failure::Wait)?;
            if bits & BADGE_IRQ != 0 {
                self.page.interrupts.fetch_add(1, Ordering::Relaxed);
                self.service()?;
                IRQ.ack().map_err(Failure::BindIrq)?;
            }
        }
    }

    /// Handles every pending UART interrupt cause, restarts held-back receiving when the
    /// ring has room, and moves output.
    fn service(&mut self) -> Result<(), Failure> {
        for _ in 0..MAX_CAUSES {
            let Some(cause) = interrupt_kind(self.read(uart::INTERRUPT_ID)?) else {
                break;
            };
            match cause {
                uart::IIR_RECEIVED | uart::IIR_TIMEOUT => {
                    if !self.receive()? {
                        break;
                    }
                }
                uart::IIR_LINE_STATUS => {
                    self.line_status()?;
                }
                uart::IIR_TRANSMIT_EMPTY => self.transmit()?,
                uart::IIR_MODEM_STATUS => {
                    self.read(uart::MODEM_STATUS)?;
                }
                _ => break,
            }
        }
        if self.receive_held && self.page.rx.room() > 0 {
            self.receive_held = false;
            self.set_interrupts(self.interrupt_enable | uart::IER_RECEIVED)?;
            self.receive()?;
        }
        self.transmit()
    }

    fn line_status(&self) -> Result<u8, Failure> {
        let status = self.read(uart::LINE_STATUS)?;
        if status & uart::LSR_OVERRUN != 0 {
            self.page.overruns.fetch_add(1, Ordering::Relaxed);
        }
        Ok(status)
    }

    /// Moves received bytes into the receive ring; when it is full, turns the
    /// received-data interrupt off and leaves the rest in the UART. Returns false when it
    /// held receiving back.
    fn receive(&mut self) -> Result<bool, Failure> {
        let mut received = 0;
        let mut held = false;
        for _ in 0..RECEIVE_BATCH {
            if self.line_status()? & uart::LSR_DATA_READY == 0 {
                break;
            }
            if self.page.rx.room() == 0 {
                held = true;
                break;
            }
            let byte = self.read(uart::DATA)?;
            received += self.page.rx.push(&[byte]);
        }
        if held {
            self.receive_held = true;
            self.set_interrupts(self.interrupt_enable & !uart::IER_RECEIVED)?;
        }
        if received > 0 {
            // Signalling never blocks; a failure (the server is gone) changes nothing here.
            let _ = CLIENT.signal();
        }
        Ok(!held)
    }

    /// Fills the UART's transmit FIFO from the transmit ring when it is empty; keeps the
    /// transmit-empty interrupt on exactly while bytes remain.
    fn transmit(&mut self) -> Result<(), Failure> {
        if !self.page.tx.is_empty() && self.read(uart::LINE_STATUS)? & uart::LSR_TRANSMIT_EMPTY != 0
        {
            let mut chunk = [0u8; uart::TRANSMIT_FIFO];
            let count = self.page.tx.pop(&mut chunk);
            for &byte in &chunk[..count] {
                self.write(uart::DATA, byte)?;
            }
            self.page
                .transmitted
                .fetch_add(count as u32, Ordering::Relaxed);
            if count > 0 {
                let _ = CLIENT.signal();
            }
        }
        let enable = if self.page.tx.is_empty() {
            self.interrupt_enable & !uart::IER_TRANSMIT_EMPTY
        } else {
            self.interrupt_enable | uart::IER_TRANSMIT_EMPTY
        };
        self.set_interrupts(enable)
    }
}
