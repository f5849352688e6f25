//! The child side: started by the test with a mode, it writes into its fd 1 (a pipe) and
//! reports on the endpoint in `CHILD_SLOT_REPORT`.

use crate::setup::{
    CHILD_FIRST_FREE_SLOT, CHILD_MEMORY_BITS, CHILD_SLOT_MEMORY, CHILD_SLOT_REPORT,
};
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::fs::{attach_window_from, close, write, Errno, Fd};

/// Write [`STREAM_BYTES`] of [`stream_byte`] to fd 1 in window-sized writes, close it.
pub const WRITE_STREAM: u64 = 1;
/// Write [`RECORDS`] records of [`RECORD`] bytes, each all one byte (the argument's bits
/// 8..16), to fd 1.
pub const WRITE_RECORDS: u64 = 2;
/// Write 4 KiB at a time to fd 1 until a write fails; report the error and the total.
pub const WRITE_UNTIL_ERROR: u64 = 3;

/// Write [`LINE`] to fd 1 (a pty master: a typed line), close it.
pub const WRITE_LINE: u64 = 4;
/// What [`WRITE_LINE`] types.
pub const LINE: &[u8] = b"typed by another process\n";

/// Bytes the stream carries: 10 MiB.
pub const STREAM_BYTES: usize = 10 << 20;
/// One atomic record.
pub const RECORD: usize = 4096;
/// Records each writer sends.
pub const RECORDS: usize = 200;

/// The byte at offset `i` of the stream.
pub fn stream_byte(i: usize) -> u8 {
    (i % 251) as u8 ^ (i >> 16) as u8
}

static mut CHUNK: [u8; 32 * 1024] = [0; 32 * 1024];

fn chunk() -> &'static mut [u8; 32 * 1024] {
    // SAFETY: a child is one thread, and only this function makes a reference to CHUNK,
    // used by one caller at a time (each mode below takes it once).
    unsafe { &mut *core::ptr::addr_of_mut!(CHUNK) }
}

/// Runs the child in `argument`'s mode, reports `(mode, errno or 0, value)`.
pub fn run(argument: u64) {
    let mode = argument & 0xff;
    let memory = Cap::from_cptr(CHILD_SLOT_MEMORY);
    if let Err(e) = attach_window_from(memory, CHILD_MEMORY_BITS, CHILD_FIRST_FREE_SLOT) {
        let report: Cap<Endpoint> = Cap::from_cptr(CHILD_SLOT_REPORT);
        let _ = report.call(MessageInfo::new(0, 3, 0), [mode, e as u64, 0, 0]);
        return;
    }
    let (error, value) = match mode {
        WRITE_STREAM => stream(),
        WRITE_RECORDS => records((argument >> 8) as u8),
        WRITE_UNTIL_ERROR => until_error(),
        WRITE_LINE => match write(Fd::STDOUT, LINE) {
            Ok(n) => (
                close(Fd::STDOUT).map_or_else(|e| e as u64, |()| 0),
                n as u64,
            ),
            Err(e) => (e as u64, 0),
        },
        _ => (Errno::EINVAL as u64, 0),
    };
    let report: Cap<Endpoint> = Cap::from_cptr(CHILD_SLOT_REPORT);
    let _ = report.call(MessageInfo::new(0, 3, 0), [mode, error, value, 0]);
}

fn stream() -> (u64, u64) {
    let buf = chunk();
    let mut sent = 0;
    while sent < STREAM_BYTES {
        let n = buf.len().min(STREAM_BYTES - sent);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = stream_byte(sent + i);
        }
        match write(Fd::STDOUT, &buf[..n]) {
            Ok(written) if written == n => sent += n,
            Ok(written) => return (Errno::EIO as u64, (sent + written) as u64),
            Err(e) => return (e as u64, sent as u64),
        }
    }
    let closed = close(Fd::STDOUT).map_or_else(|e| e as u64, |()| 0);
    (closed, sent as u64)
}

fn records(byte: u8) -> (u64, u64) {
    let buf = chunk();
    buf[..RECORD].fill(byte);
    for i in 0..RECORDS {
        match write(Fd::STDOUT, &buf[..RECORD]) {
            Ok(RECORD) => {}
            Ok(_) => return (Errno::EIO as u64, i as u64),
            Err(e) => return (e as u64, i as u64),
        }
    }
    let closed = close(Fd::STDOUT).map_or_else(|e| e as u64, |()| 0);
    (closed, RECORDS as u64)
}

fn until_error() -> (u64, u64) {
    let buf = chunk();
    let mut total = 0u64;
    loop {
        match write(Fd::STDOUT, &buf[..4096]) {
            Ok(n) => total += n as u64,
            Err(e) => return (e as u64, total),
        }
    }
}
