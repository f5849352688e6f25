//! `ttytest`: the in-system test of the serial console driver and the line discipline.
//!
//! As root task it starts `bin/console` with `console_api::start` (over
//! [`libsys::loader`]), which gives it COM1's I/O ports, IRQ 4, a notification to wait on,
//! a notification of ours to signal, and the shared page of `console-api`. It then plays the part the file server will play for
//! `/dev/console`: it embeds a [`ttycore::Terminal`], feeds it what the driver received and
//! hands the driver what the terminal outputs. Every line it prints after the driver
//! starts goes through the terminal and the driver, not through the kernel.
//!
//! The test harness (`cargo xtask test`, scenario `console`) types into QEMU's serial port
//! when it sees each prompt, and checks the echo and the lines read: canonical editing
//! (erase, word erase, kill), end of file, ^C as SIGINT for the foreground group, SIGTTIN
//! for a background read, raw mode, a paste longer than every buffer (flow control), and a
//! pty driven from the console as a terminal emulator drives one (canonical, ^C, raw,
//! hangup).
//!
//! While it waits for keys this program yields in a loop rather than blocking on its
//! notification: with `exit` on the kernel command line the kernel powers the machine off
//! as soon as no thread is runnable, which would end the test before the harness types.
//! The driver itself never polls: it blocks on its notification.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

mod console;
mod flood;
mod paste;
mod pty;

use console::Console;
use console_api::start::StartError;
use console_api::SHARED_PAGE_ADDR;
use core::sync::atomic::Ordering;
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC};
use libsys::cap::Cap;
use libsys::loader::Loader;
use libsys::println;
use ttycore::{cc, Caller, GroupId, SetWhen, Signal, Target, TtyError};

libsys::entry!(main);

/// The badge of the driver's cap to our notification.
const CLIENT_BADGE: u64 = 1;

/// The test program is the leader of session 1, in process group 1.
pub(crate) const SELF: Caller = Caller::new(1, 1, 1);

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        println!("ttytest: the boot info page has a bad magic number; stopping");
        return;
    }
    let mut console = match start_driver(info) {
        Ok(console) => console,
        Err(why) => {
            println!("ttytest: FAILED to start the console driver: {why}");
            return;
        }
    };
    let mut results = Results::default();
    idle(&mut console, &mut results);
    session(&mut console, &mut results);
    canonical(&mut console, &mut results);
    signals(&mut console, &mut results);
    raw(&mut console, &mut results);
    paste::paste(&mut console, &mut results);
    pty::pty(&mut console, &mut results);
    leader_exit(&mut console, &mut results);
    flood::flood(&mut console, &mut results);
    let page = console.page();
    say!(
        console,
        "ttytest: the driver handled {} interrupts, transmitted {} bytes, saw {} overruns\n",
        page.interrupts.load(Ordering::Relaxed),
        page.transmitted.load(Ordering::Relaxed),
        page.overruns.load(Ordering::Relaxed)
    );
    say!(
        console,
        "ttytest: {} passed, {} failed\n",
        results.passed,
        results.failed
    );
    console.drain();
}

/// Starts `bin/console` (`console_api::start`) and returns our side of the link.
fn start_driver(info: &BootInfo) -> Result<Console, StartError> {
    let mut alloc = Allocator::from_boot_info(info);
    let mut loader = Loader::new(
        &mut alloc,
        info.cnode_radix,
        Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
    )
    .map_err(|_| StartError::Resources)?;
    let end = console_api::start::start(
        &mut alloc,
        &mut loader,
        info.archive_length,
        info.priority,
        CLIENT_BADGE,
        SHARED_PAGE_ADDR,
    )?;
    Ok(Console::new(end.page, end.work, end.wake))
}

/// Counts of checks.
#[derive(Default)]
pub(crate) struct Results {
    passed: u32,
    failed: u32,
}

/// Records one check and prints it (through the console).
pub(crate) fn check(console: &mut Console, results: &mut Results, ok: bool, what: &str) {
    if ok {
        results.passed += 1;
        say!(console, "ttytest: {what} ... ok\n");
    } else {
        results.failed += 1;
        say!(console, "ttytest: {what} ... FAILED\n");
    }
}

/// Yields this many times to see the driver stay asleep.
const IDLE_YIELDS: u32 = 100_000;

/// With nothing to send or receive the driver sleeps on its notification: it does not
/// wake while we yield many times without signalling it.
fn idle(console: &mut Console, results: &mut Results) {
    console.drain();
    // Let the driver finish with what is in flight (the last transmit-empty interrupt, a
    // signal already pending) before watching it.
    for _ in 0..IDLE_YIELDS / 10 {
        console.idle_without_input();
    }
    let page = console.page();
    let before = page.wakeups.load(Ordering::Relaxed);
    for _ in 0..IDLE_YIELDS {
        console.idle_without_input();
    }
    let woken = page.wakeups.load(Ordering::Relaxed) - before;
    say!(
        console,
        "ttytest: the driver woke {woken} times while we yielded {IDLE_YIELDS} times\n"
    );
    check(
        console,
        results,
        woken == 0,
        "the idle driver sleeps on its notification (no polling)",
    );
}

/// The session rule: as a session leader without a terminal, opening the console makes it
/// our controlling terminal.
fn session(console: &mut Console, results: &mut Results) {
    let acquired = console.terminal().open(&SELF, false, false).acquired;
    check(
        console,
        results,
        acquired,
        "opening the console as a session leader makes it the controlling terminal",
    );
    let foreground = console.terminal().foreground(&SELF);
    check(
        console,
        results,
        foreground == Ok(GroupId(1)),
        "tcgetpgrp names our process group",
    );
}

/// Canonical mode: editing, kill, end of file; the echo is on the wire for the harness.
fn canonical(console: &mut Console, results: &mut Results) {
    let mut buffer = [0u8; 128];
    say!(console, "ttytest: canonical mode: type a line: ");
    let read = console.read(&SELF, &mut buffer);
    report_read(console, results, read, &buffer, "echo hello world\n");

    say!(console, "ttytest: canonical mode: kill the line: ");
    let read = console.read(&SELF, &mut buffer);
    report_read(console, results, read, &buffer, "ls -l\n");

    say!(console, "ttytest: canonical mode: end of file: ");
    let read = console.read(&SELF, &mut buffer);
    say!(console, "\n");
    check(
        console,
        results,
        read == Ok(0),
        "end of file on an empty line reads 0 bytes",
    );
}

fn report_read(
    console: &mut Console,
    results: &mut Results,
    read: Result<usize, TtyError>,
    buffer: &[u8],
    expected: &str,
) {
    match read {
        Ok(n) => {
            let text = core::str::from_utf8(&buffer[..n]).unwrap_or("(not UTF-8)");
            say!(console, "ttytest: read {text:?}\n");
            check(
                console,
                results,
                text == expected,
                "the edited line arrives as typed",
            );
        }
        Err(e) => check(console, results, false, e.errno_name()),
    }
}

/// ^C: SIGINT for the foreground group, and SIGTTIN for a background reader.
fn signals(console: &mut Console, results: &mut Results) {
    say!(console, "ttytest: canonical mode: interrupt: ");
    let signal = console.wait_for_signal();
    say!(console, "\n");
    if let (Target::Group(group), signal) = signal {
        say!(
            console,
            "ttytest: {} for process group {}\n",
            signal.name(),
            group.0
        );
    }
    check(
        console,
        results,
        signal == (Target::Group(GroupId(1)), Signal::Interrupt),
        "^C sends SIGINT to the foreground group",
    );
    let discarded = console.terminal().readable() == 0;
    check(
        console,
        results,
        discarded,
        "^C discards the line being typed",
    );

    // With another group in the foreground, our read is a background read.
    let mut buffer = [0u8; 8];
    let moved = console
        .terminal()
        .set_foreground(&SELF, GroupId(2), true, &mut |_| {});
    let read = console.read(&SELF, &mut buffer);
    let sent = console.take_signal();
    if let Some((Target::Group(group), signal)) = sent {
        say!(
            console,
            "ttytest: a background read sends {} to process group {}\n",
            signal.name(),
            group.0
        );
    }
    check(
        console,
        results,
        moved.is_ok()
            && read == Err(TtyError::Interrupted)
            && sent == Some((Target::Group(GroupId(1)), Signal::TerminalInput)),
        "a background read gets SIGTTIN",
    );
    // Now we are in the background: tcsetpgrp sends us SIGTTOU, unless we ignore it (as a
    // shell does when it takes the terminal back).
    let refused = console
        .terminal()
        .set_foreground(&SELF, GroupId(1), true, &mut |_| {});
    let ignoring = Caller {
        ignores_ttou: true,
        ..SELF
    };
    let back = console
        .terminal()
        .set_foreground(&ignoring, GroupId(1), true, &mut |_| {});
    check(
        console,
        results,
        refused == Err(TtyError::Interrupted) && back.is_ok(),
        "tcsetpgrp from the background needs SIGTTOU ignored, then gives the terminal back",
    );
}

/// Raw mode: bytes arrive as typed, control characters included, without echo.
fn raw(console: &mut Console, results: &mut Results) {
    let cooked = console.terminal().termios();
    let mut raw = cooked.make_raw();
    raw.cc[cc::VMIN] = 4;
    let set = console
        .terminal()
        .set_termios(&SELF, &raw, SetWhen::Now, &mut |_| {});
    say!(console, "ttytest: raw mode: type 4 bytes: ");
    console.drain();
    let before = console.moved();
    let mut buffer = [0u8; 16];
    let read = console.read(&SELF, &mut buffer);
    console.pump();
    let echoed = console.moved() - before;
    let count = read.unwrap_or(0);
    say!(console, "\nttytest: raw read");
    for byte in &buffer[..count] {
        say!(console, " {byte:02x}");
    }
    say!(console, ", echoed {echoed} bytes\n");
    check(
        console,
        results,
        set.is_ok() && buffer[..count] == *b"\x1b[A\x03" && echoed == 0,
        "raw mode delivers the bytes as typed, without echo or signals",
    );
    let restored = console
        .terminal()
        .set_termios(&SELF, &cooked, SetWhen::Now, &mut |_| {});
    let canonical = console.terminal().termios().canonical();
    check(
        console,
        results,
        restored.is_ok() && canonical,
        "the cooked settings come back",
    );
}

/// The session leader exits: the foreground group is hung up and the console is free; then
/// the controlling-terminal rule both ways round (`open` then `setsid` does not acquire it,
/// `setsid` then `open` does).
fn leader_exit(console: &mut Console, results: &mut Results) {
    let mut sent = [None; 4];
    let mut count = 0;
    console
        .terminal()
        .session_leader_exited(SELF.session, &mut |event| {
            if let ttycore::Event::Signal { target, signal } = event {
                if let Some(slot) = sent.get_mut(count) {
                    *slot = Some((target, signal));
                    count += 1;
                }
            }
        });
    let hangup = sent.contains(&Some((Target::Group(GroupId(1)), Signal::Hangup)));
    let free = console.terminal().controlling_session().is_none();
    say!(
        console,
        "ttytest: session 1's leader exited: SIGHUP to its foreground group: {hangup}; the console is free: {free}\n"
    );
    check(
        console,
        results,
        hangup && free,
        "the session leader's exit hangs up the foreground group and frees the terminal",
    );
    // Process 8 of session 1 opens the console, then calls setsid: no terminal.
    let before_setsid = Caller::new(8, 1, 1);
    let opened_first = console
        .terminal()
        .open(&before_setsid, false, false)
        .acquired;
    let after_setsid = Caller::new(8, 8, 8);
    let still_none = console.terminal().controlling_session().is_none();
    // Then it opens the console again as the leader of its new session: acquired.
    let opened_after = console
        .terminal()
        .open(&after_setsid, false, false)
        .acquired;
    say!(
        console,
        "ttytest: open then setsid acquires: {}; setsid then open acquires: {opened_after}\n",
        opened_first || !still_none
    );
    check(
        console,
        results,
        !opened_first && still_none && opened_after,
        "open then setsid does not acquire the terminal; setsid then open does",
    );
}

/// Short names for read errors in failure lines.
trait ErrnoName {
    fn errno_name(self) -> &'static str;
}

impl ErrnoName for TtyError {
    fn errno_name(self) -> &'static str {
        match self {
            TtyError::WouldBlock => "read: EAGAIN",
            TtyError::Interrupted => "read: EINTR",
            TtyError::Io => "read: EIO",
            TtyError::NotControlling => "read: ENOTTY",
            TtyError::NotPermitted => "read: EPERM",
            TtyError::Invalid => "read: EINVAL",
            TtyError::UnknownRequest => "read: ENOTTY (unknown request)",
        }
    }
}
