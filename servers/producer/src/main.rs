//! `producer [BYTES]`: writes BYTES (default 1 MiB) of a known pattern to standard output
//! (byte `i` is `(i * 7 + i / 4096) mod 251`), in writes of up to 32 KiB; the other end of
//! the pipeline test (`producer | consumer`). Exits 1 when a write fails (quietly when
//! nobody reads any more: EPIPE, and SIGPIPE from procsrv).
#![no_std]
#![no_main]

use libsys::fs::Fd;

libsys::entry!(main);

static mut CHUNK: [u8; 32 * 1024] = [0; 32 * 1024];

/// Byte `i` of the stream.
fn pattern(i: u64) -> u8 {
    ((i.wrapping_mul(7) + i / 4096) % 251) as u8
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let total = start.arg(1).and_then(userland::parse).unwrap_or(1 << 20);
    // SAFETY: the program has one thread and this is the only reference to CHUNK.
    let chunk = unsafe { &mut *core::ptr::addr_of_mut!(CHUNK) };
    let mut at = 0u64;
    while at < total {
        let n = (total - at).min(chunk.len() as u64) as usize;
        for (k, b) in chunk[..n].iter_mut().enumerate() {
            *b = pattern(at + k as u64);
        }
        match userland::write_all(Fd::STDOUT, &chunk[..n]) {
            Ok(()) => {}
            // Nobody reads any more: SIGPIPE is on its way from procsrv; end quietly.
            Err(libsys::fs::Errno::EPIPE) => userland::exit(1),
            Err(e) => {
                userland::complain("producer", b"write", e);
                userland::exit(1);
            }
        }
        at += n as u64;
    }
    userland::exit(0)
}
