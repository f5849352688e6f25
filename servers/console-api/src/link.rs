//! The terminal server's half of the console protocol: between the shared rings and a
//! [`ttycore::Terminal`].

use crate::{SharedPage, RX_CAPACITY, TX_CAPACITY};
use ttycore::{Event, Terminal};

/// Bytes moved between a ring and the terminal per step.
pub const LINK_CHUNK: usize = 256;

/// What one [`TerminalLink::pump`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pumped {
    /// Bytes the terminal took as input.
    pub input: usize,
    /// Bytes moved from the terminal's output to the transmit ring.
    pub output: usize,
    /// The driver has work (output to send, or room in the receive ring): signal its
    /// notification with [`crate::BADGE_WORK`].
    pub signal_driver: bool,
}

/// Received bytes taken from the receive ring but not yet by the terminal (it refuses
/// input while its queue is full of unread input; they wait here, and the ring fills
/// behind them, so the driver holds the UART back).
pub struct TerminalLink {
    held: [u8; LINK_CHUNK],
    held_at: usize,
    held_len: usize,
}

impl TerminalLink {
    /// A link with nothing held.
    pub const fn new() -> Self {
        TerminalLink {
            held: [0; LINK_CHUNK],
            held_at: 0,
            held_len: 0,
        }
    }

    /// Received bytes waiting for the terminal to accept them.
    pub fn held(&self) -> usize {
        self.held_len - self.held_at
    }

    /// Feeds received bytes to `terminal` while it takes them, then moves its output into
    /// the transmit ring while there is room. Call it when the driver signals, and after
    /// the terminal reports [`Event::OutputReady`] or [`Event::InputSpace`]. `events`
    /// receives the terminal's events from its input processing.
    ///
    /// Each call moves at most one ring's worth each way ([`RX_CAPACITY`] in,
    /// [`TX_CAPACITY`] out), so a driver that writes garbage counters into the shared page
    /// cannot keep the server in here.
    pub fn pump(
        &mut self,
        page: &SharedPage,
        terminal: &mut Terminal,
        events: &mut dyn FnMut(Event),
    ) -> Pumped {
        let mut pumped = Pumped::default();
        let mut popped = 0;
        loop {
            if self.held() == 0 {
                if popped >= RX_CAPACITY {
                    break;
                }
                self.held_len = page.rx.pop(&mut self.held);
                self.held_at = 0;
                popped += self.held_len;
                if self.held_len == 0 {
                    break;
                }
                pumped.signal_driver = true;
            }
            let taken = terminal.input(&self.held[self.held_at..self.held_len], events);
            self.held_at += taken;
            pumped.input += taken;
            if taken == 0 {
                break;
            }
        }
        let mut chunk = [0u8; LINK_CHUNK];
        while pumped.output < TX_CAPACITY {
            let room = page.tx.room().min(LINK_CHUNK);
            let count = terminal.take_output(&mut chunk[..room], &mut |_| {});
            if count == 0 {
                break;
            }
            pumped.output += page.tx.push(&chunk[..count]);
            pumped.signal_driver = true;
        }
        pumped
    }
}

impl Default for TerminalLink {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;
    use ttycore::{Caller, SetWhen, TtyError, INPUT_CAPACITY};

    const SHELL: Caller = Caller::new(1, 1, 1);

    /// The driver's side, simulated: what it would put in the receive ring and take from
    /// the transmit ring.
    fn sent_to_uart(page: &SharedPage) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buffer = [0u8; 64];
        loop {
            let n = page.tx.pop(&mut buffer);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buffer[..n]);
        }
    }

    #[test]
    fn typed_bytes_become_a_line_and_their_echo_goes_to_the_uart() {
        let page = Box::new(SharedPage::new());
        let mut terminal = Terminal::new();
        let mut link = TerminalLink::new();
        page.rx.push(b"hi\x7f\x7fok\r");
        let pumped = link.pump(&page, &mut terminal, &mut |_| {});
        assert_eq!(pumped.input, 7);
        assert!(pumped.signal_driver);
        assert_eq!(sent_to_uart(&page), b"hi\x08 \x08\x08 \x08ok\r\n");
        let mut line = [0u8; 16];
        assert_eq!(terminal.read(&SHELL, &mut line, &mut |_| {}), Ok(3));
        assert_eq!(&line[..3], b"ok\n");
    }

    #[test]
    fn a_quiet_pump_asks_nothing_of_the_driver() {
        let page = Box::new(SharedPage::new());
        let mut terminal = Terminal::new();
        let pumped = TerminalLink::new().pump(&page, &mut terminal, &mut |_| {});
        assert_eq!(pumped, Pumped::default());
    }

    #[test]
    fn output_beyond_the_transmit_ring_waits_in_the_terminal() {
        let page = Box::new(SharedPage::new());
        let mut terminal = Terminal::new();
        let mut link = TerminalLink::new();
        let text = [b'o'; 4000];
        assert_eq!(terminal.write(&SHELL, &text[..4000], &mut |_| {}), Ok(4000));
        let first = link.pump(&page, &mut terminal, &mut |_| {});
        assert_eq!(first.output, TX_CAPACITY);
        assert_eq!(terminal.pending_output(), 4000 - TX_CAPACITY);
        assert_eq!(sent_to_uart(&page).len(), TX_CAPACITY);
        let second = link.pump(&page, &mut terminal, &mut |_| {});
        assert_eq!(second.output, 4000 - TX_CAPACITY);
    }

    #[test]
    fn input_the_terminal_refuses_is_held_and_the_receive_ring_fills_behind_it() {
        let page = Box::new(SharedPage::new());
        let mut terminal = Terminal::new();
        let raw = terminal.termios().make_raw();
        terminal
            .set_termios(&SHELL, &raw, SetWhen::Now, &mut |_| {})
            .unwrap();
        let mut link = TerminalLink::new();
        // The "driver" keeps the receive ring full; nobody reads the terminal.
        let mut produced = 0usize;
        for _ in 0..20 {
            let chunk: Vec<u8> = (produced..produced + RX_CAPACITY)
                .map(|i| i as u8)
                .collect();
            produced += page.rx.push(&chunk);
            link.pump(&page, &mut terminal, &mut |_| {});
        }
        assert_eq!(terminal.readable(), INPUT_CAPACITY);
        assert_eq!(link.held(), LINK_CHUNK);
        assert_eq!(
            page.rx.room(),
            0,
            "the ring fills: the driver must hold back"
        );
        // Reading everything and pumping again delivers every byte, in order.
        let mut got = Vec::new();
        let mut buffer = [0u8; 700];
        loop {
            link.pump(&page, &mut terminal, &mut |_| {});
            match terminal.read(&SHELL, &mut buffer, &mut |_| {}) {
                Ok(n) => got.extend_from_slice(&buffer[..n]),
                Err(TtyError::WouldBlock) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got.len(), produced);
        assert!(got.iter().enumerate().all(|(i, &b)| b == i as u8));
    }
}
