//! The console driver under a hostile terminal server: 100,000 rounds of random ring
//! states (the driver's own counters included: the transmit ring's tail, the receive
//! ring's head, which only the driver should move; now and then a transmit ring that
//! claims to hold 4 GiB) and a signal each. The driver must bound everything it reads
//! from the shared page, stay running, and write a line correctly afterwards. It makes no
//! objects and holds no heap, so there is no memory of its own that could grow.

use crate::console::Console;
use crate::{check, Results};
use console_api::STATE_RUNNING;
use core::sync::atomic::Ordering;

/// Rounds of random ring states.
const ROUNDS: u32 = 100_000;

/// xorshift64*.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

pub fn flood(console: &mut Console, results: &mut Results) {
    console.drain();
    let page = console.page();
    let (tx_head, tx_tail) = page.tx.counters();
    let (rx_head, rx_tail) = page.rx.counters();
    // What the driver may send of the rings below is old output: overwrite it first with
    // a harmless letter (written, then dropped before the driver can run).
    let empty_at = tx_tail.load(Ordering::Acquire);
    tx_head.store(empty_at, Ordering::Release);
    page.tx.push(&[b'z'; console_api::TX_CAPACITY]);
    tx_head.store(empty_at, Ordering::Release);
    let transmitted = page.transmitted.load(Ordering::Relaxed);
    let mut state = 0x7e57_c0de_u64;
    let mut claimed = 0u64;
    for round in 0..ROUNDS {
        let r = next(&mut state);
        let tail = r as u32;
        // Mostly an empty ring at a random place, sometimes one byte, now and then a
        // length far past the ring (the driver must clamp it to the ring's size).
        let length = match round % 10_000 {
            9_999 => u32::MAX - (r >> 40) as u32,
            _ if r >> 60 == 0 => 1,
            _ => 0,
        };
        tx_tail.store(tail, Ordering::Relaxed);
        tx_head.store(tail.wrapping_add(length), Ordering::Release);
        rx_head.store((r >> 32) as u32, Ordering::Relaxed);
        rx_tail.store((r >> 16) as u32, Ordering::Relaxed);
        console.signal_driver();
        libsys::syscall::yield_now();
        // The driver had one turn at it (a ring's worth at most); then the ring is empty
        // again wherever the driver left its tail.
        if length > 0 {
            claimed += 1;
        }
        tx_head.store(tx_tail.load(Ordering::Acquire), Ordering::Release);
    }
    // Back to a sane state: both rings empty where the driver's counters now are.
    for _ in 0..1000 {
        libsys::syscall::yield_now();
    }
    tx_head.store(tx_tail.load(Ordering::Acquire), Ordering::Release);
    rx_tail.store(rx_head.load(Ordering::Acquire), Ordering::Release);
    check(
        console,
        results,
        page.state.load(Ordering::Acquire) == STATE_RUNNING,
        "after 100,000 random ring states the driver still runs",
    );
    let sent = page
        .transmitted
        .load(Ordering::Relaxed)
        .wrapping_sub(transmitted);
    crate::say!(
        console,
        "\nttytest: flood: {claimed} rounds offered bytes, the driver sent {sent}\n"
    );
    console.drain();
    check(
        console,
        results,
        u64::from(sent) <= claimed * console_api::TX_CAPACITY as u64,
        "the driver sent at most a ring's worth per round that offered bytes (4 GiB claims clamped)",
    );
    crate::say!(
        console,
        "ttytest: the driver writes correctly after the flood\n"
    );
    console.drain();
}
