//! The benchmark: reading a 1 MiB file of `/tmp` into a buffer, end to end (libsys `read`,
//! the server, the window, both copies), timed with `rdtsc`. Under QEMU with
//! `-icount shift=0` (the `fs` scenario of `cargo xtask test`, and `cargo xtask bench fs`)
//! one tick is one instruction; the bound is 0.5 instructions per byte.

use crate::check::Checks;
use crate::setup::World;
use libsys::fs::*;
use libsys::time::now;

const SIZE: usize = 1 << 20;
/// Timed repetitions (the best is reported; the first warms the caches of the emulator).
const ROUNDS: usize = 5;

static mut DATA: [u8; SIZE] = [0; SIZE];

pub fn run(_world: &mut World, c: &mut Checks) {
    let before = c.counts();
    // SAFETY: the test is one thread; this is the only reference to DATA.
    let data = unsafe { &mut *core::ptr::addr_of_mut!(DATA) };
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i * 13 % 256) as u8;
    }
    let Ok(fd) = open("/tmp/big", O_CREAT | O_RDWR | O_TRUNC, 0o600) else {
        c.check("create /tmp/big", false, format_args!("refused"));
        return;
    };
    let start = now();
    let written = write(fd, data);
    let write_ticks = now() - start;
    c.eq("write 1 MiB", written, Ok(SIZE));
    data.fill(0);
    let mut best = u64::MAX;
    for _ in 0..ROUNDS {
        let _ = lseek(fd, 0, SEEK_SET);
        let start = now();
        let got = read(fd, data);
        let elapsed = now() - start;
        best = best.min(elapsed);
        c.eq("read 1 MiB", got, Ok(SIZE));
    }
    let intact = data
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i * 13 % 256) as u8);
    c.check(
        "the bytes read are the bytes written",
        intact,
        format_args!("differ"),
    );
    let _ = close(fd);
    let _ = unlink("/tmp/big");
    let per_byte_x1000 = best * 1000 / SIZE as u64;
    crate::say!(
        "bench: write of a 1 MiB /tmp file from a buffer: {write_ticks} ticks ({}.{:03} per byte)",
        write_ticks / SIZE as u64,
        write_ticks * 1000 / SIZE as u64 % 1000
    );
    crate::say!(
        "bench: read of a 1 MiB /tmp file into a buffer: {best} ticks ({}.{:03} per byte; ticks are instructions under -icount)",
        per_byte_x1000 / 1000,
        per_byte_x1000 % 1000
    );
    c.check(
        "1 MiB read at most 0.5 instructions per byte (under -icount)",
        per_byte_x1000 <= 500,
        format_args!("{best} ticks"),
    );
    c.section("bench", before);
}
