//! `consumer`: reads standard input to its end, checks every byte against `producer`'s
//! pattern and prints `consumer: N bytes, M differ`; exits 0 only when none differ.
#![no_std]
#![no_main]

use libsys::fs::{self, Fd};
use userland::{decimal, out};

libsys::entry!(main);

static mut BUFFER: [u8; 32 * 1024] = [0; 32 * 1024];

/// Byte `i` of producer's stream.
fn pattern(i: u64) -> u8 {
    ((i.wrapping_mul(7) + i / 4096) % 251) as u8
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let _start = unsafe { userland::start(arg) };
    // SAFETY: the program has one thread and this is the only reference to BUFFER.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    let (mut at, mut differ) = (0u64, 0u64);
    loop {
        match fs::read(Fd::STDIN, buffer) {
            Ok(0) => break,
            Ok(n) => {
                for (k, &b) in buffer[..n].iter().enumerate() {
                    if b != pattern(at + k as u64) {
                        differ += 1;
                    }
                }
                at += n as u64;
            }
            Err(e) => {
                userland::complain("consumer", b"read", e);
                userland::exit(1);
            }
        }
    }
    let mut buf = [0u8; 20];
    out(b"consumer: ");
    out(decimal(at, &mut buf));
    out(b" bytes, ");
    out(decimal(differ, &mut buf));
    out(b" differ\n");
    userland::exit(u8::from(differ != 0))
}
