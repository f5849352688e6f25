//! The kernel log: levelled lines on COM1.
//!
//! `error!`, `warn!`, `info!`, `debug!`, `trace!` print one line each, prefixed with the
//! level unless it is `info`. The level is chosen at boot with `log=LEVEL` on the kernel
//! command line (default `info`).
//!
//! **Console hand-off.** COM1 is the kernel's until a userspace serial driver is issued
//! any of its ports (`IoPortControlIssue`, see `object/ioport.rs`). From then on the kernel
//! writes only `error` lines there (kernel exception reports, panics, `fatal:` lines: what
//! is printed when the kernel stops) and DebugWrite prints nothing; everything else is
//! dropped. Boot lines, `HATCHERY READY` last, are all printed before the root task runs,
//! so before any hand-off can happen. When the last cap covering COM1 is deleted the
//! kernel logs there again.

use crate::arch::serial::Serial;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use spin::Mutex;

/// Message severity, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Something failed.
    Error = 0,
    /// Something is odd but boot goes on.
    Warn = 1,
    /// Normal progress.
    Info = 2,
    /// Details for kernel developers.
    Debug = 3,
    /// Everything.
    Trace = 4,
}

impl Level {
    /// Parses `error|warn|info|debug|trace`.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "error" => Level::Error,
            "warn" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }
}

/// COM1 was handed to a userspace driver: only errors are printed.
static HANDED_OFF: AtomicBool = AtomicBool::new(false);
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
/// The console. Taken with interrupts off (the kernel never enables them outside idle).
pub static CONSOLE: Mutex<Serial> = Mutex::new(Serial::com1());

/// Programs the UART.
pub fn init() {
    CONSOLE.lock().init();
}

/// Sets the most verbose level that is printed.
pub fn set_level(level: Level) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether messages at `level` are printed.
pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
        && (level == Level::Error || !HANDED_OFF.load(Ordering::Relaxed))
}

/// A userspace driver was issued COM1's ports: from now on print only errors. Says so in
/// one last line first.
pub fn hand_off_console() {
    if !HANDED_OFF.load(Ordering::Relaxed) {
        crate::info!(
            "console: COM1 handed to a userspace driver; the kernel now prints only errors there"
        );
        HANDED_OFF.store(true, Ordering::Relaxed);
    }
}

/// No cap covers COM1's ports any more: the kernel's console is back.
pub fn reclaim_console() {
    if HANDED_OFF.swap(false, Ordering::Relaxed) {
        crate::info!("console: COM1 is the kernel's again");
    }
}

/// Prints one log line (used by the macros).
pub fn write_line(level: Level, args: core::fmt::Arguments) {
    if !enabled(level) {
        return;
    }
    let mut console = CONSOLE.lock();
    let _ = writeln!(console, "{}{args}", prefix(level));
}

fn prefix(level: Level) -> &'static str {
    match level {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        Level::Info => "",
        Level::Debug => "debug: ",
        Level::Trace => "trace: ",
    }
}

/// Prints one log line only if the console is free right now (for NMIs, which may have
/// interrupted a line being printed: waiting for the lock would never end).
pub fn try_write_line(level: Level, args: core::fmt::Arguments) {
    if !enabled(level) {
        return;
    }
    if let Some(mut console) = CONSOLE.try_lock() {
        let _ = writeln!(console, "{}{args}", prefix(level));
    }
}

/// Writes raw bytes to the console (the debug syscall).
pub fn write_raw(bytes: &[u8]) {
    if HANDED_OFF.load(Ordering::Relaxed) {
        return;
    }
    CONSOLE.lock().write_bytes(bytes);
}

/// Breaks the console lock: only for the panic path, which never returns.
///
/// # Safety
/// No other code may be using the console concurrently (single CPU, interrupts off).
pub unsafe fn force_unlock() {
    // SAFETY: the caller guarantees nobody else holds the lock.
    unsafe { CONSOLE.force_unlock() };
}

/// Logs at error level.
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::write_line($crate::log::Level::Error, format_args!($($t)*)) }; }
/// Logs at warning level.
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::write_line($crate::log::Level::Warn, format_args!($($t)*)) }; }
/// Logs at info level.
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::write_line($crate::log::Level::Info, format_args!($($t)*)) }; }
/// Logs at debug level.
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { $crate::log::write_line($crate::log::Level::Debug, format_args!($($t)*)) }; }
/// Logs at trace level.
#[macro_export]
macro_rules! trace { ($($t:tt)*) => { $crate::log::write_line($crate::log::Level::Trace, format_args!($($t)*)) }; }
