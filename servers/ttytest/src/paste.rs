//! Flow control: a paste longer than every buffer on the receive path arrives whole.

use crate::console::Console;
use crate::{check, say, Results, SELF};
use console_api::paste;
use ttycore::{cc, SetWhen};

/// Most yields to wait for the driver's receive ring to fill.
const FILL_YIELDS: u32 = 10_000_000;

/// The harness pastes [`paste::LENGTH`] bytes at the prompt. We take none until the
/// driver's receive ring is full (so the driver must hold the UART back and QEMU the rest
/// of the paste), then read them all and compare each byte.
pub fn paste(console: &mut Console, results: &mut Results) {
    let cooked = console.terminal().termios();
    let mut raw = cooked.make_raw();
    raw.cc[cc::VMIN] = 1;
    let set = console
        .terminal()
        .set_termios(&SELF, &raw, SetWhen::Now, &mut |_| {});
    say!(
        console,
        "ttytest: flow control: paste {} bytes: ",
        paste::LENGTH
    );
    console.drain();
    let page = console.page();
    let mut filled = false;
    let mut yields = 0;
    while yields < FILL_YIELDS {
        if page.rx.room() == 0 {
            filled = true;
            break;
        }
        console.idle_without_input();
        yields += 1;
    }
    let mut received = 0usize;
    let mut mismatches = 0usize;
    let mut buffer = [0u8; 512];
    while received < paste::LENGTH {
        let Ok(count) = console.read(&SELF, &mut buffer) else {
            break;
        };
        for (i, &byte) in buffer[..count].iter().enumerate() {
            if byte != paste::byte(received + i) {
                mismatches += 1;
            }
        }
        received += count;
    }
    let overruns = page.overruns.load(core::sync::atomic::Ordering::Relaxed);
    say!(
        console,
        "\nttytest: flow control: the receive ring filled: {filled}; received {received} \
         bytes, {mismatches} differ, {overruns} overruns\n"
    );
    say!(
        console,
        "ttytest: flow control: the ring filled after {yields} yields (at most {FILL_YIELDS})\n"
    );
    check(
        console,
        results,
        set.is_ok() && filled && received == paste::LENGTH && mismatches == 0 && overruns == 0,
        "a paste longer than every buffer arrives whole and in order",
    );
    let _ = console
        .terminal()
        .set_termios(&SELF, &cooked, SetWhen::Now, &mut |_| {});
}
