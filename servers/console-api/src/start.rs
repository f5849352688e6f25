//! The parent's side: everything a root task (procsrv, `ttytest`) does to start the
//! driver, and the terminal server's end of the link it gets back.
//!
//! The one `unsafe` of the crate is here: turning the mapped shared page into a reference.
#![allow(unsafe_code)]

use crate::{slot, SharedPage, BADGE_WORK, COM1_BASE, COM1_IRQ, STATE_FAILED, UART_PORTS};
use core::sync::atomic::Ordering;
use libsys::alloc::Allocator;
use libsys::bootinfo::{SLOT_CNODE, SLOT_IO_PORT_CONTROL, SLOT_IRQ_CONTROL, SLOT_VSPACE};
use libsys::cap::SlotPath;
use libsys::cap::{CNode, Cap, Frame, InvocationError, IoPortControl, IrqControl, Notification};
use libsys::loader::{LoadError, Loader, ProcessConfig};
use libsys::object::Rights;

/// The driver program in the boot archive.
pub const PROGRAM: &str = "bin/console";
/// log2 of the memory the driver gets (its image, stack, tables).
pub const UNTYPED_BITS: u32 = 20;
/// How many yields to wait for the driver to say it runs.
const START_YIELDS: u32 = 100_000;

/// Why the driver could not be started.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// No free slot or memory in the parent.
    Resources,
    /// The kernel refused COM1's ports (issued already?).
    Ports(InvocationError),
    /// The kernel refused COM1's IRQ (a handler exists already?).
    Irq(InvocationError),
    /// Copying, badging or mapping a cap failed.
    Caps(InvocationError),
    /// Loading `bin/console` or giving it its caps failed.
    Load(LoadError),
    /// The driver set `STATE_FAILED` (it printed why).
    DriverFailed,
    /// The driver did not reach `STATE_RUNNING` in time.
    DriverSilent,
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::Resources => write!(f, "out of slots or memory"),
            StartError::Ports(e) => write!(f, "COM1's ports were refused: {e}"),
            StartError::Irq(e) => write!(f, "COM1's IRQ was refused: {e}"),
            StartError::Caps(e) => write!(f, "a cap operation failed: {e}"),
            StartError::Load(e) => write!(f, "cannot load {PROGRAM}: {e}"),
            StartError::DriverFailed => write!(f, "the driver failed (see its line)"),
            StartError::DriverSilent => write!(f, "the driver did not start"),
        }
    }
}

/// The terminal server's end of a running driver. A parent that is not itself the
/// terminal server (procsrv, starting the driver for the file server) hands on copies of
/// `frame` (the server maps its own copy), `work` and `wake`.
pub struct ServerEnd {
    /// The shared page (mapped in the parent at the address given to [`start`]).
    pub page: &'static SharedPage,
    /// The parent's cap to the shared frame (mapped at that address; copy it to map the
    /// page elsewhere).
    pub frame: Cap<Frame>,
    /// Signal this (it carries [`BADGE_WORK`]) after putting output in the transmit ring
    /// or taking input from the receive ring.
    pub work: Cap<Notification>,
    /// The driver signals this when bytes arrived or output room appeared.
    pub wake: Cap<Notification>,
}

/// Starts the driver from the boot archive with COM1's ports and IRQ 4, at `priority`,
/// and maps the shared page at `page_addr` in the caller's address space (a page whose
/// page table exists: in a root task, [`crate::SHARED_PAGE_ADDR`], next to its IPC
/// buffer). The driver signals the returned `wake` notification with `client_badge`.
/// Waits (yielding) until the driver runs.
///
/// # Errors
/// Any refused step ([`StartError`]); what was made so far stays (a root task that cannot
/// start its console has nothing better to do with it).
pub fn start(
    alloc: &mut Allocator,
    loader: &mut Loader,
    archive_length: u64,
    priority: u64,
    client_badge: u64,
    page_addr: u64,
) -> Result<ServerEnd, StartError> {
    let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
    let port_control: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let irq_control: Cap<IrqControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
    let mut slot = || {
        alloc
            .slot()
            .map(SlotPath::at)
            .map_err(|_| StartError::Resources)
    };

    let first = u64::from(COM1_BASE);
    let last = first + u64::from(UART_PORTS) - 1;
    let ports = port_control
        .issue(first, last, slot()?)
        .map_err(StartError::Ports)?;
    let irq = irq_control
        .get(COM1_IRQ, slot()?)
        .map_err(StartError::Irq)?;
    let own_frame: Cap<Frame> = Cap::from_cptr(slot()?.index);
    let work: Cap<Notification> = Cap::from_cptr(slot()?.index);
    let driver_notification: Cap<Notification> = alloc.make().map_err(|_| StartError::Resources)?;
    let wake: Cap<Notification> = alloc.make().map_err(|_| StartError::Resources)?;
    let frame: Cap<Frame> = alloc.make().map_err(|_| StartError::Resources)?;

    // A frame cap maps once: the parent maps a copy.
    root.copy(own_frame.slot(), frame.slot(), Rights::ALL)
        .map_err(StartError::Caps)?;
    let read_write = Rights::READ.union(Rights::WRITE);
    own_frame
        .map(Cap::from_cptr(SLOT_VSPACE), page_addr, read_write)
        .map_err(StartError::Caps)?;
    root.mint(
        work.slot(),
        driver_notification.slot(),
        Rights::WRITE,
        BADGE_WORK,
    )
    .map_err(StartError::Caps)?;

    let image = Loader::archive_file(archive_length, PROGRAM).map_err(StartError::Load)?;
    let config = ProcessConfig {
        untyped_bits: UNTYPED_BITS,
        priority,
        ..ProcessConfig::default()
    };
    let driver = loader
        .load(alloc, image, &config)
        .map_err(StartError::Load)?;
    driver
        .give(loader, ports, slot::IO_PORTS, Rights::ALL)
        .and_then(|()| driver.give(loader, irq, slot::IRQ_HANDLER, Rights::ALL))
        .and_then(|()| driver.give(loader, driver_notification, slot::NOTIFICATION, Rights::ALL))
        .and_then(|()| driver.give_badged(loader, wake, slot::CLIENT, Rights::WRITE, client_badge))
        .and_then(|()| driver.give(loader, frame, slot::SHARED_FRAME, Rights::ALL))
        .and_then(|()| driver.start(0))
        .map_err(StartError::Load)?;

    // SAFETY: the shared frame is mapped read-write at `page_addr` in this address space
    // (above) and never unmapped; SharedPage is a repr(C) struct of atomics no larger than
    // a page, valid for any bit pattern and sound to share through `&` with the driver,
    // which maps the same frame; `page_addr` is page-aligned (the map succeeded).
    let page: &'static SharedPage = unsafe { &*(page_addr as *const SharedPage) };
    for _ in 0..START_YIELDS {
        if page.running() {
            return Ok(ServerEnd {
                page,
                frame: own_frame,
                work,
                wake,
            });
        }
        if page.state.load(Ordering::Acquire) == STATE_FAILED {
            return Err(StartError::DriverFailed);
        }
        libsys::syscall::yield_now();
    }
    Err(StartError::DriverSilent)
}
