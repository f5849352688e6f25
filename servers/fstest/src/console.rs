//! The serial console driver for the file server's console: started here as procsrv will
//! (`bin/console` with COM1's ports and IRQ), its shared page and notifications handed to
//! fsrv; then a line typed through the real serial port by the test harness is read from
//! `/dev/console`.

use crate::check::Checks;
use console_api::{slot, BADGE_WORK, COM1_BASE, COM1_IRQ, UART_PORTS};
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, SLOT_IO_PORT_CONTROL, SLOT_IRQ_CONTROL};
use libsys::cap::{Cap, Frame, IoPortControl, IrqControl, Notification, SlotPath};
use libsys::fs::terminal::{self, TCSETS};
use libsys::fs::*;
use libsys::loader::{Loader, ProcessConfig};
use libsys::object::Rights;

/// log2 of the driver's memory.
const DRIVER_UNTYPED_BITS: u32 = 20;
/// The badge fsrv's notification carries when the driver signals it.
const WAKE_BADGE: u64 = 1;
/// The prompt the harness waits for (it then types "typed at the serial port" and a
/// carriage return, as a terminal sends: see the `fs` scenario in xtask/src/test.rs).
pub const PROMPT: &str = "fstest: console: type a line:";
/// The prompt for one key in raw mode (the harness types `k`).
pub const RAW_PROMPT: &str = "fstest: console: raw mode: press a key:";
const ICANON: u64 = 0o2;
const ECHO: u64 = 0o10;
/// How many times to poll the console before giving up.
const POLLS: u32 = 2_000_000;

/// The caps fsrv needs to serve the console through the driver.
pub struct DriverCaps {
    /// The shared page's frame (a copy for fsrv to map).
    pub page: Cap<Frame>,
    /// The driver's notification, minted with `BADGE_WORK`.
    pub work: Cap<Notification>,
    /// The notification the driver signals (fsrv binds it).
    pub wake: Cap<Notification>,
}

/// Starts `bin/console`.
pub fn start_driver(
    alloc: &mut Allocator,
    loader: &mut Loader,
    info: &BootInfo,
) -> core::result::Result<DriverCaps, &'static str> {
    let ports_control: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let irq_control: Cap<IrqControl> = Cap::from_cptr(SLOT_IRQ_CONTROL);
    let first = u64::from(COM1_BASE);
    let ports_slot = alloc.slot().map_err(|_| "slot")?;
    let ports = ports_control
        .issue(
            first,
            first + u64::from(UART_PORTS) - 1,
            SlotPath::at(ports_slot),
        )
        .map_err(|_| "COM1's ports were refused")?;
    let irq_slot = alloc.slot().map_err(|_| "slot")?;
    let irq = irq_control
        .get(COM1_IRQ, SlotPath::at(irq_slot))
        .map_err(|_| "COM1's IRQ was refused")?;
    let driver_notification: Cap<Notification> = alloc.make().map_err(|_| "notification")?;
    let wake: Cap<Notification> = alloc.make().map_err(|_| "notification")?;
    let page: Cap<Frame> = alloc.make().map_err(|_| "frame")?;
    let work: Cap<Notification> = Cap::from_cptr(alloc.slot().map_err(|_| "slot")?);
    alloc
        .cnode
        .mint(
            work.slot(),
            driver_notification.slot(),
            Rights::WRITE,
            BADGE_WORK,
        )
        .map_err(|_| "cannot badge the driver's notification")?;
    let image =
        Loader::archive_file(info.archive_length, "bin/console").map_err(|_| "no bin/console")?;
    let config = ProcessConfig {
        untyped_bits: DRIVER_UNTYPED_BITS,
        priority: info.priority,
        ..ProcessConfig::default()
    };
    let driver = loader
        .load(alloc, image, &config)
        .map_err(|_| "cannot load bin/console")?;
    let give = |r: core::result::Result<(), libsys::loader::LoadError>| {
        r.map_err(|_| "cannot give the driver its caps")
    };
    give(driver.give(loader, ports, slot::IO_PORTS, Rights::ALL))?;
    give(driver.give(loader, irq, slot::IRQ_HANDLER, Rights::ALL))?;
    give(driver.give(loader, driver_notification, slot::NOTIFICATION, Rights::ALL))?;
    give(driver.give_badged(loader, wake, slot::CLIENT, Rights::WRITE, WAKE_BADGE))?;
    give(driver.give(loader, page, slot::SHARED_FRAME, Rights::ALL))?;
    driver.start(0).map_err(|_| "cannot start the driver")?;
    Ok(DriverCaps { page, work, wake })
}

/// Reads a line typed through the serial port from `/dev/console`.
pub fn run(c: &mut Checks) {
    let before = c.counts();
    let Ok(console) = open("/dev/console", O_RDWR | O_NONBLOCK | O_NOCTTY, 0) else {
        c.check("open /dev/console", false, format_args!("refused"));
        return;
    };
    let text = b"fstest: console: output through the driver\n";
    c.eq("through the driver", write(console, text), Ok(text.len()));
    crate::say!("{PROMPT}");
    let mut line = [0u8; 64];
    let mut got = Err(Errno::EAGAIN);
    for _ in 0..POLLS {
        got = read(console, &mut line);
        if got != Err(Errno::EAGAIN) {
            break;
        }
        // Let the driver and fsrv run (a blocking read would leave nothing runnable, and a
        // test boot powers off when idle).
        libsys::syscall::yield_now();
    }
    let text = got.map(|n| &line[..n]);
    c.eq(
        "a line typed at the serial port",
        text,
        Ok(&b"typed at the serial port\n"[..]),
    );
    // Raw mode: one key, no line, no echo.
    let cooked = terminal::get_attributes(console);
    let raw = cooked.map(|mut t| {
        t[1] &= !((ICANON | ECHO) << 32);
        t
    });
    c.eq(
        "raw mode",
        raw.and_then(|t| terminal::set_attributes(console, TCSETS, &t)),
        Ok(()),
    );
    crate::say!("{RAW_PROMPT}");
    let mut got = Err(Errno::EAGAIN);
    for _ in 0..POLLS {
        got = read(console, &mut line);
        if got != Err(Errno::EAGAIN) {
            break;
        }
        libsys::syscall::yield_now();
    }
    c.eq("one key, as typed", got.map(|n| &line[..n]), Ok(&b"k"[..]));
    if let Ok(cooked) = cooked {
        let _ = terminal::set_attributes(console, TCSETS, &cooked);
    }
    let _ = close(console);
    c.section("console", before);
}
