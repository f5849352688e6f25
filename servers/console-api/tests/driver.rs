//! The console driver's logic against a simulated 16550: programming, receive, transmit
//! in FIFO bursts, holding the UART back while the receive ring is full, overruns, and a
//! stuck UART that cannot hold the driver.

use console_api::driver::{Driver, Uart, ANNOUNCE_POLLS, MAX_CAUSES, RECEIVE_BATCH};
use console_api::uart::*;
use console_api::{SharedPage, TerminalLink, RX_CAPACITY};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

/// A 16550 as QEMU models it: bytes on the line enter the receive FIFO (16 bytes) only
/// while it has room; a written byte is sent at once (so the transmit-empty interrupt
/// latches again).
#[derive(Default)]
struct Simulated {
    interrupt_enable: u8,
    line_control: u8,
    modem_control: u8,
    fifo_control: u8,
    divisor: u16,
    line: VecDeque<u8>,
    fifo: VecDeque<u8>,
    sent: Vec<u8>,
    transmit_empty_latched: bool,
    overrun: bool,
    reads: usize,
    /// Reports received data forever (a broken device).
    stuck: bool,
    /// The transmitter never empties (a broken device).
    transmit_busy: bool,
}

impl Simulated {
    fn refill(&mut self) {
        while self.fifo.len() < 16 {
            match self.line.pop_front() {
                Some(b) => self.fifo.push_back(b),
                None => break,
            }
        }
    }
    fn latch(&self) -> bool {
        self.line_control & LCR_DIVISOR_LATCH != 0
    }
    /// Whether the interrupt line is asserted.
    fn interrupting(&mut self) -> bool {
        let ier = self.interrupt_enable;
        self.stuck
            || (ier & IER_LINE_STATUS != 0 && self.overrun)
            || (ier & IER_RECEIVED != 0 && !self.fifo.is_empty())
            || (ier & IER_TRANSMIT_EMPTY != 0 && self.transmit_empty_latched)
    }
}

impl Uart for Simulated {
    type Error = ();
    fn read(&mut self, register: u16) -> Result<u8, ()> {
        self.reads += 1;
        if self.stuck {
            return Ok(match register {
                INTERRUPT_ID => 0xc4,
                LINE_STATUS => 0x61,
                _ => 0x41,
            });
        }
        Ok(match register {
            DATA if self.latch() => self.divisor as u8,
            DATA => {
                let byte = self.fifo.pop_front().unwrap_or(0);
                self.refill();
                byte
            }
            INTERRUPT_ENABLE => self.interrupt_enable,
            INTERRUPT_ID => {
                let ier = self.interrupt_enable;
                if ier & IER_LINE_STATUS != 0 && self.overrun {
                    0xc6
                } else if ier & IER_RECEIVED != 0 && !self.fifo.is_empty() {
                    0xc4
                } else if ier & IER_TRANSMIT_EMPTY != 0 && self.transmit_empty_latched {
                    self.transmit_empty_latched = false;
                    0xc2
                } else {
                    0xc1
                }
            }
            LINE_CONTROL => self.line_control,
            MODEM_CONTROL => self.modem_control,
            LINE_STATUS => {
                let status = u8::from(!self.fifo.is_empty())
                    | if self.overrun { LSR_OVERRUN } else { 0 }
                    | if self.transmit_busy {
                        0
                    } else {
                        LSR_TRANSMIT_EMPTY | 0x40
                    };
                self.overrun = false;
                status
            }
            _ => 0,
        })
    }
    fn write(&mut self, register: u16, value: u8) -> Result<(), ()> {
        match register {
            DATA if self.latch() => self.divisor = (self.divisor & 0xff00) | u16::from(value),
            DATA => {
                self.sent.push(value);
                self.transmit_empty_latched = true;
            }
            INTERRUPT_ENABLE if self.latch() => {
                self.divisor = (self.divisor & 0xff) | u16::from(value) << 8
            }
            INTERRUPT_ENABLE => {
                if value & IER_TRANSMIT_EMPTY != 0
                    && self.interrupt_enable & IER_TRANSMIT_EMPTY == 0
                {
                    self.transmit_empty_latched = true;
                }
                self.interrupt_enable = value;
            }
            FIFO_CONTROL => {
                self.fifo_control = value;
                if value & 0x02 != 0 {
                    self.fifo.clear();
                    self.refill();
                }
            }
            LINE_CONTROL => self.line_control = value,
            MODEM_CONTROL => self.modem_control = value,
            _ => {}
        }
        Ok(())
    }
}

fn ready(uart: Simulated) -> Driver<Simulated> {
    let mut driver = Driver::new(uart);
    driver.init().unwrap();
    driver.enable().unwrap();
    driver
}

/// Services while the simulated interrupt line is asserted (at most `limit` passes);
/// returns the passes made.
fn run_interrupts(driver: &mut Driver<Simulated>, page: &SharedPage, limit: usize) -> usize {
    let mut passes = 0;
    while passes < limit && driver.uart().interrupting() {
        driver.service(page).unwrap();
        passes += 1;
    }
    passes
}

#[test]
fn the_start_up_line_goes_out_whole_and_in_order() {
    let mut driver = ready(Simulated::default());
    let line = b"console: COM1 driver running (ports 0x3f8-0x3ff, IRQ 4)\n";
    assert_eq!(driver.announce(line).unwrap(), line.len());
    assert_eq!(driver.uart().sent, line);
}

#[test]
fn a_transmitter_that_never_empties_cannot_hold_the_start_up_line() {
    let mut driver = ready(Simulated::default());
    driver.uart().transmit_busy = true;
    let before = driver.uart().reads;
    assert_eq!(driver.announce(b"hello").unwrap(), 0);
    assert!(driver.uart().sent.is_empty());
    assert_eq!(driver.uart().reads - before, ANNOUNCE_POLLS as usize);
}

#[test]
fn init_programs_115200_8n1_with_fifos_and_out2_then_enable_turns_receive_on() {
    let mut stale = Simulated::default();
    stale.line.extend(b"before");
    stale.refill();
    let mut driver = Driver::new(stale);
    driver.init().unwrap();
    assert!(
        driver.uart().fifo.is_empty(),
        "bytes from before the driver are cleared"
    );
    let uart = driver.uart();
    assert_eq!(uart.divisor, 1);
    assert_eq!(uart.line_control, LCR_8N1);
    assert_eq!(uart.fifo_control, FCR_ENABLE_CLEAR_1);
    assert_eq!(uart.modem_control, MCR_DTR_RTS_OUT2);
    assert_eq!(uart.interrupt_enable, 0);
    driver.enable().unwrap();
    assert_eq!(
        driver.uart().interrupt_enable,
        IER_RECEIVED | IER_LINE_STATUS
    );
}

#[test]
fn received_bytes_reach_the_receive_ring_and_ask_for_a_signal() {
    let page = Box::new(SharedPage::new());
    let mut driver = ready(Simulated::default());
    driver.uart().line.extend(b"hello");
    driver.uart().refill();
    assert!(driver.service(&page).unwrap());
    let mut out = [0u8; 8];
    assert_eq!(page.rx.pop(&mut out), 5);
    assert_eq!(&out[..5], b"hello");
    assert!(!driver.uart().interrupting());
    assert!(!driver.service(&page).unwrap(), "nothing new: no signal");
}

#[test]
fn output_leaves_in_fifo_bursts_with_the_transmit_interrupt_on_while_bytes_remain() {
    let page = Box::new(SharedPage::new());
    let mut driver = ready(Simulated::default());
    let text: Vec<u8> = (0..40u8).collect();
    assert_eq!(page.tx.push(&text), 40);
    assert!(driver.service(&page).unwrap());
    assert_eq!(driver.uart().sent.len(), TRANSMIT_FIFO);
    assert_ne!(driver.interrupt_enable() & IER_TRANSMIT_EMPTY, 0);
    let passes = run_interrupts(&mut driver, &page, 10);
    assert!(passes <= 3, "{passes} passes");
    assert_eq!(driver.uart().sent, text);
    assert_eq!(driver.interrupt_enable() & IER_TRANSMIT_EMPTY, 0);
    assert_eq!(page.transmitted.load(Ordering::Relaxed), 40);
}

#[test]
fn a_full_receive_ring_holds_the_uart_back_and_no_byte_is_lost() {
    let page = Box::new(SharedPage::new());
    let paste: Vec<u8> = (0..5000usize).map(|i| (i * 7 % 251) as u8).collect();
    let mut driver = ready(Simulated::default());
    driver.uart().line.extend(&paste);
    driver.uart().refill();
    run_interrupts(&mut driver, &page, 1000);
    assert_eq!(page.rx.room(), 0);
    assert!(driver.receive_held());
    assert_eq!(driver.interrupt_enable() & IER_RECEIVED, 0);
    assert!(
        !driver.uart().interrupting(),
        "held back: the line is quiet"
    );
    assert_eq!(driver.uart().line.len(), 5000 - RX_CAPACITY - 16);

    // The server takes bytes and signals: receiving resumes, and so on to the end.
    let mut got = Vec::new();
    let mut buffer = [0u8; 300];
    for _ in 0..1000 {
        let n = page.rx.pop(&mut buffer);
        got.extend_from_slice(&buffer[..n]);
        driver.service(&page).unwrap(); // the server's BADGE_WORK
        run_interrupts(&mut driver, &page, 1000);
        if got.len() == paste.len() {
            break;
        }
    }
    assert_eq!(got, paste);
    assert!(!driver.receive_held());
    assert_eq!(page.overruns.load(Ordering::Relaxed), 0);
}

#[test]
fn overruns_the_uart_reports_are_counted() {
    let page = Box::new(SharedPage::new());
    let mut driver = ready(Simulated::default());
    driver.uart().overrun = true;
    run_interrupts(&mut driver, &page, 5);
    assert_eq!(page.overruns.load(Ordering::Relaxed), 1);
}

#[test]
fn a_uart_stuck_reporting_data_cannot_hold_the_driver() {
    let page = Box::new(SharedPage::new());
    let mut driver = ready(Simulated::default());
    driver.uart().stuck = true;
    let before = driver.uart().reads;
    driver.service(&page).unwrap();
    let reads = driver.uart().reads - before;
    assert!(
        reads <= MAX_CAUSES * (2 * RECEIVE_BATCH + 2) + 8,
        "{reads} reads in one pass"
    );
    // The ring filled, and the driver stopped taking bytes.
    assert_eq!(page.rx.room(), 0);
    assert!(driver.receive_held());
}

/// One thing that happens to the driver, its UART or its peer.
#[derive(Clone, Debug)]
enum Happening {
    /// Bytes arrive on the line.
    Line(Vec<u8>),
    /// The UART reports an overrun.
    Overrun,
    /// The driver services (an interrupt or the server's signal).
    Service,
    /// The terminal server pumps (a well-behaved peer).
    Pump,
    /// The peer writes a counter of the shared page with garbage.
    Corrupt(u8, u32),
}

fn happening() -> impl Strategy<Value = Happening> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..100).prop_map(Happening::Line),
        1 => Just(Happening::Overrun),
        4 => Just(Happening::Service),
        3 => Just(Happening::Pump),
        1 => (0..4u8, any::<u32>()).prop_map(|(w, v)| Happening::Corrupt(w, v)),
    ]
}

/// Reads one service pass may make at most.
const READS_PER_PASS: usize = MAX_CAUSES * (2 * RECEIVE_BATCH + 4) + 2 * RECEIVE_BATCH + 16;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_hostile_peer_and_random_line_traffic_never_make_the_driver_fault_or_spin(
        happenings in prop::collection::vec(happening(), 1..80)
    ) {
        let page = Box::new(SharedPage::new());
        let mut driver = ready(Simulated::default());
        let mut terminal = ttycore::Terminal::new();
        let mut link = TerminalLink::new();
        for happening in &happenings {
            match happening {
                Happening::Line(bytes) => {
                    driver.uart().line.extend(bytes);
                    driver.uart().refill();
                }
                Happening::Overrun => driver.uart().overrun = true,
                Happening::Service => {
                    let before = driver.uart().reads;
                    driver.service(&page).unwrap();
                    prop_assert!(driver.uart().reads - before <= READS_PER_PASS);
                }
                Happening::Pump => {
                    link.pump(&page, &mut terminal, &mut |_| {});
                    let mut buffer = [0u8; 64];
                    let _ = terminal.read(&ttycore::Caller::new(1, 1, 1), &mut buffer, &mut |_| {});
                }
                Happening::Corrupt(which, value) => {
                    let (rx_head, rx_tail) = page.rx.counters();
                    let (tx_head, tx_tail) = page.tx.counters();
                    [rx_head, rx_tail, tx_head, tx_tail][usize::from(*which)]
                        .store(*value, Ordering::Relaxed);
                }
            }
            prop_assert!(page.rx.len() <= page.rx.capacity());
            prop_assert!(page.tx.len() <= page.tx.capacity());
            prop_assert!(driver.uart().fifo.len() <= 16);
        }
    }
}
