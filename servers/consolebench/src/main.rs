//! `consolebench`: the console output benchmark, run as the root task by
//! `cargo xtask bench console`.
//!
//! It starts the serial console driver (`console_api::start`), embeds the console
//! terminal as the file server does (`ttycore::Terminal` and `console_api::TerminalLink`),
//! and times [`TOTAL`] bytes of text written by a program (lines of [`LINE`] bytes, so
//! output processing turns each newline into CR NL) from the first write until the driver
//! has put the last byte in the UART. For scale it also times one `IoPortOut` invocation
//! (on port 0x80, the POST port, which nothing uses). Under QEMU TCG with `-icount
//! shift=0` one `rdtsc` tick is one executed instruction; the figures count every
//! instruction of both processes and the kernel.
//!
//! While output is in flight this program yields rather than blocking (the file server
//! would block on its notification); its yields are part of the figure.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use console_api::{TerminalLink, SHARED_PAGE_ADDR};
use core::fmt::Write;
use core::sync::atomic::Ordering;
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC, SLOT_IO_PORT_CONTROL};
use libsys::cap::{Cap, IoPortControl, SlotPath};
use libsys::loader::Loader;
use libsys::println;
use libsys::time::now;
use ttycore::{Caller, Terminal, TtyError};

libsys::entry!(main);

/// Bytes a program writes.
const TOTAL: usize = 64 * 1024;
/// Bytes per line (the last is a newline).
const LINE: usize = 64;
/// Timed `IoPortOut` invocations.
const PORT_WRITES: u64 = 10_000;
/// The POST diagnostic port: writing it has no effect anything depends on.
const POST_PORT: u64 = 0x80;
/// The writer: the session leader of session 1.
const WRITER: Caller = Caller::new(1, 1, 1);

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        println!("consolebench: bad boot info");
        return;
    }
    if let Err(why) = run(info) {
        println!("consolebench: failed: {why}");
    }
}

/// The text written: `LINE`-byte lines of letters, each ending in a newline.
fn text_byte(index: usize) -> u8 {
    if index % LINE == LINE - 1 {
        b'\n'
    } else {
        b'a' + (index % 26) as u8
    }
}

fn run(info: &BootInfo) -> Result<(), &'static str> {
    let mut alloc = Allocator::from_boot_info(info);
    let mut loader = Loader::new(
        &mut alloc,
        info.cnode_radix,
        Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
    )
    .map_err(|_| "loader")?;
    let port_invocation = time_port_writes(&mut alloc)?;
    let end = console_api::start::start(
        &mut alloc,
        &mut loader,
        info.archive_length,
        info.priority,
        1,
        SHARED_PAGE_ADDR,
    )
    .map_err(|_| "cannot start the console driver")?;
    let page = end.page;
    let mut terminal = Terminal::new();
    let mut link = TerminalLink::new();
    let pump = |terminal: &mut Terminal, link: &mut TerminalLink| {
        if link.pump(page, terminal, &mut |_| {}).signal_driver {
            let _ = end.work.signal();
        }
    };

    let mut chunk = [0u8; 512];
    let sent_before = page.transmitted.load(Ordering::Relaxed);
    let start = now();
    let mut written = 0;
    while written < TOTAL {
        let count = chunk.len().min(TOTAL - written);
        for (i, byte) in chunk[..count].iter_mut().enumerate() {
            *byte = text_byte(written + i);
        }
        let mut at = 0;
        while at < count {
            match terminal.write(&WRITER, &chunk[at..count], &mut |_| {}) {
                Ok(n) => at += n,
                Err(TtyError::WouldBlock) => {
                    pump(&mut terminal, &mut link);
                    libsys::syscall::yield_now();
                }
                Err(_) => return Err("the terminal refused a write"),
            }
        }
        written += count;
        pump(&mut terminal, &mut link);
    }
    let expected = (TOTAL + TOTAL / LINE) as u32;
    while page
        .transmitted
        .load(Ordering::Relaxed)
        .wrapping_sub(sent_before)
        < expected
    {
        pump(&mut terminal, &mut link);
        libsys::syscall::yield_now();
    }
    let elapsed = now() - start;
    let sent = page
        .transmitted
        .load(Ordering::Relaxed)
        .wrapping_sub(sent_before);
    let tenths = (elapsed * 10 + u64::from(sent) / 2) / u64::from(sent);
    let interrupts = page.interrupts.load(Ordering::Relaxed);
    // The kernel prints nothing for programs while the driver holds COM1: the figures
    // go out through the terminal and the driver, as a program's output would.
    let mut report = Text::new();
    let _ = writeln!(report);
    let _ = writeln!(
        report,
        "bench: console-port-out: {port_invocation} instructions per IoPortOut invocation \
         ({PORT_WRITES} writes)"
    );
    let _ = writeln!(
        report,
        "bench: note: console-write includes both processes, the kernel, {interrupts} UART \
         interrupts and one IoPortOut per byte; the writer yields while output is in flight"
    );
    let _ = writeln!(
        report,
        "bench: console write ({TOTAL} bytes in {LINE}-byte lines, {sent} on the wire): {}.{} \
         instructions per byte",
        tenths / 10,
        tenths % 10
    );
    let before = page.transmitted.load(Ordering::Relaxed);
    let mut at = 0;
    let bytes = report.bytes();
    let mut wire = 0u32;
    while at < bytes.len() {
        match terminal.write(&WRITER, &bytes[at..], &mut |_| {}) {
            Ok(n) => {
                wire += bytes[at..at + n]
                    .iter()
                    .map(|&b| 1 + u32::from(b == b'\n'))
                    .sum::<u32>();
                at += n;
            }
            Err(TtyError::WouldBlock) => {
                pump(&mut terminal, &mut link);
                libsys::syscall::yield_now();
            }
            Err(_) => return Err("the terminal refused the report"),
        }
    }
    while page
        .transmitted
        .load(Ordering::Relaxed)
        .wrapping_sub(before)
        < wire
    {
        pump(&mut terminal, &mut link);
        libsys::syscall::yield_now();
    }
    Ok(())
}

/// Times [`PORT_WRITES`] `IoPortOut` invocations on the POST port; returns instructions
/// per invocation.
fn time_port_writes(alloc: &mut Allocator) -> Result<u64, &'static str> {
    let control: Cap<IoPortControl> = Cap::from_cptr(SLOT_IO_PORT_CONTROL);
    let slot = alloc.slot().map_err(|_| "out of slots")?;
    let port = control
        .issue(POST_PORT, POST_PORT, SlotPath::at(slot))
        .map_err(|_| "the POST port was refused")?;
    for _ in 0..100 {
        port.port_out(POST_PORT, 1, 0)
            .map_err(|_| "IoPortOut failed")?;
    }
    let start = now();
    for i in 0..PORT_WRITES {
        if port.port_out(POST_PORT, 1, i & 0xff).is_err() {
            return Err("IoPortOut failed");
        }
    }
    let elapsed = now() - start;
    Ok((elapsed + PORT_WRITES / 2) / PORT_WRITES)
}

/// The report, formatted before it is written through the terminal (longer text is cut).
struct Text {
    bytes: [u8; 1024],
    used: usize,
}

impl Text {
    const fn new() -> Self {
        Text {
            bytes: [0; 1024],
            used: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.used]
    }
}

impl Write for Text {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let take = text.len().min(self.bytes.len() - self.used);
        self.bytes[self.used..self.used + take].copy_from_slice(&text.as_bytes()[..take]);
        self.used += take;
        Ok(())
    }
}
