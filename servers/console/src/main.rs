//! `console`: the serial console driver (COM1, a 16550 UART).
//!
//! It holds the UART's I/O ports and its interrupt line as caps, and nothing else of the
//! machine. Bytes the UART receives go into the receive ring of the page it shares with
//! the terminal server; bytes the server puts in the transmit ring go out through the
//! UART's transmit FIFO. The protocol, the slots and the badges are in `console-api`, and
//! so is the driver's logic (`console_api::driver`, host-tested against a simulated UART);
//! this program binds it to COM1's ports, the IRQ and the notifications.
//!
//! Design:
//! 1. Interrupt-driven both ways: received-data and line-status interrupts always on; the
//!    transmit-empty interrupt only while output waits. With nothing to do the driver
//!    waits on its notification.
//! 2. Never blocks on the terminal server: it signals the server's notification (which
//!    cannot block) and, when the receive ring is full, stops taking bytes from the UART
//!    until the server makes room.
//! 3. Every loop over the device is bounded, so a UART that misbehaves cannot hold the
//!    driver in a loop.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use console_api::driver::{Driver, Uart};
use console_api::{slot, SharedPage, BADGE_IRQ, COM1_BASE, COM1_IRQ, SHARED_PAGE_ADDR};
use console_api::{STATE_FAILED, STATE_RUNNING, UART_PORTS};
use core::fmt::Write;
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
            Failure::BadgeNotification(e) => {
                write!(f, "cannot badge the IRQ notification: {e}")
            }
            Failure::BindIrq(e) => write!(f, "cannot bind the IRQ: {e}"),
            Failure::Wait(e) => write!(f, "waiting on the notification failed: {e}"),
        }
    }
}

/// COM1's registers through the I/O-port cap (each access is one invocation).
struct Com1;

impl Uart for Com1 {
    type Error = Failure;

    fn read(&mut self, register: u16) -> Result<u8, Failure> {
        PORTS
            .port_in(u64::from(COM1_BASE + register), 1)
            .map(|value| value as u8)
            .map_err(Failure::Port)
    }

    fn write(&mut self, register: u16, value: u8) -> Result<(), Failure> {
        PORTS
            .port_out(u64::from(COM1_BASE + register), 1, u64::from(value))
            .map_err(Failure::Port)
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
    if let Err(failure) = run(page) {
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
    // the driver's whole life (nothing unmaps it); SharedPage is a repr(C) struct of
    // atomics no larger than a page, so every bit pattern is a valid value and shared
    // access through `&` (also by the other process mapping the frame) is sound; the
    // address is page-aligned, above any alignment SharedPage needs.
    Ok(unsafe { &*(SHARED_PAGE_ADDR as *const SharedPage) })
}

/// Programs the UART, binds the interrupt, then serves forever.
fn run(page: &SharedPage) -> Result<(), Failure> {
    let mut driver = Driver::new(Com1);
    driver.init()?;
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
    driver.enable()?;
    page.state.store(STATE_RUNNING, Ordering::Release);
    // The kernel prints nothing for programs once COM1 is ours: say it on the UART itself.
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "console: COM1 driver running (ports {:#x}-{:#x}, IRQ {COM1_IRQ})",
        COM1_BASE,
        COM1_BASE + UART_PORTS - 1,
    );
    driver.announce(line.bytes())?;

    loop {
        // Each wake-up: what the UART has pending and the rings' work, then sleep. After
        // an interrupt the line is unmasked (ack) before the next look at the UART, so a
        // cause that arrived while it was masked is seen.
        serve(&mut driver, page)?;
        let bits = NOTIFICATION.wait().map_err(Failure::Wait)?;
        page.wakeups.fetch_add(1, Ordering::Relaxed);
        if bits & BADGE_IRQ != 0 {
            page.interrupts.fetch_add(1, Ordering::Relaxed);
            serve(&mut driver, page)?;
            IRQ.ack().map_err(Failure::BindIrq)?;
        }
    }
}

fn serve(driver: &mut Driver<Com1>, page: &SharedPage) -> Result<(), Failure> {
    if driver.service(page)? {
        // Signalling never blocks; a failure (the server is gone) changes nothing here.
        let _ = CLIENT.signal();
    }
    Ok(())
}

/// A start-up line formatted on the stack (longer text is cut).
struct Line {
    bytes: [u8; 96],
    used: usize,
}

impl Line {
    const fn new() -> Self {
        Line {
            bytes: [0; 96],
            used: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.used]
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.used;
        let take = text.len().min(room);
        self.bytes[self.used..self.used + take].copy_from_slice(&text.as_bytes()[..take]);
        self.used += take;
        Ok(())
    }
}
