//! Our side of the console link: the terminal, the shared rings, the notifications.

use console_api::{SharedPage, TerminalLink};
use core::fmt::Write;
use libsys::cap::{Cap, Notification};
use ttycore::{Caller, Event, Signal, Target, Terminal, TtyError};

/// Formats and writes through the console terminal.
#[macro_export]
macro_rules! say {
    ($console:expr, $($t:tt)*) => {
        $console.say(format_args!($($t)*))
    };
}

/// Most signals remembered between two looks.
const SIGNALS: usize = 8;

/// The console terminal and its link to the driver.
pub struct Console {
    page: &'static SharedPage,
    work: Cap<Notification>,
    wake: Cap<Notification>,
    terminal: Terminal,
    link: TerminalLink,
    signals: [Option<(Target, Signal)>; SIGNALS],
    /// Bytes moved from the terminal to the transmit ring, ever.
    moved: usize,
}

fn record(signals: &mut [Option<(Target, Signal)>; SIGNALS], event: Event) {
    if let Event::Signal { target, signal } = event {
        if let Some(free) = signals.iter_mut().find(|s| s.is_none()) {
            *free = Some((target, signal));
        }
    }
}

impl Console {
    pub fn new(
        page: &'static SharedPage,
        work: Cap<Notification>,
        wake: Cap<Notification>,
    ) -> Self {
        Console {
            page,
            work,
            wake,
            terminal: Terminal::new(),
            link: TerminalLink::new(),
            signals: [None; SIGNALS],
            moved: 0,
        }
    }

    /// Signals the driver's notification (as the terminal server does when it put output
    /// in the transmit ring or made room in the receive ring).
    pub fn signal_driver(&self) {
        let _ = self.work.signal();
    }

    pub fn page(&self) -> &'static SharedPage {
        self.page
    }

    pub fn terminal(&mut self) -> &mut Terminal {
        &mut self.terminal
    }

    pub fn moved(&self) -> usize {
        self.moved
    }

    /// Moves received bytes into the terminal and the terminal's output to the driver
    /// (`console_api::TerminalLink`, as the file server does it).
    pub fn pump(&mut self) {
        let signals = &mut self.signals;
        let pumped = self
            .link
            .pump(self.page, &mut self.terminal, &mut |e| record(signals, e));
        self.moved += pumped.output;
        if pumped.signal_driver {
            // Signalling never blocks.
            let _ = self.work.signal();
        }
    }

    /// Lets the driver run (see the crate doc for why this yields instead of blocking).
    fn wait(&mut self) {
        self.pump();
        let _ = self.wake.poll();
        libsys::syscall::yield_now();
        self.pump();
    }

    /// Reads as `caller`, waiting while the terminal says "would block".
    pub fn read(&mut self, caller: &Caller, buffer: &mut [u8]) -> Result<usize, TtyError> {
        loop {
            self.pump();
            let signals = &mut self.signals;
            match self
                .terminal
                .read(caller, buffer, &mut |e| record(signals, e))
            {
                Err(TtyError::WouldBlock) => self.wait(),
                other => return other,
            }
        }
    }

    /// One read as `caller` without waiting.
    pub fn try_read(&mut self, caller: &Caller, buffer: &mut [u8]) -> Result<usize, TtyError> {
        self.pump();
        let signals = &mut self.signals;
        self.terminal
            .read(caller, buffer, &mut |e| record(signals, e))
    }

    /// Writes bytes through the terminal (as a program's `write`), waiting for room.
    pub fn write_all(&mut self, bytes: &[u8]) {
        let _ = self.write_str_bytes(bytes);
        self.pump();
    }

    fn write_str_bytes(&mut self, mut bytes: &[u8]) -> core::fmt::Result {
        while !bytes.is_empty() {
            match self.terminal.write(&super::SELF, bytes, &mut |_| {}) {
                Ok(n) => bytes = &bytes[n..],
                Err(TtyError::WouldBlock) => self.wait(),
                Err(_) => return Err(core::fmt::Error),
            }
        }
        Ok(())
    }

    /// Lets the driver run without taking its received bytes (to let the receive ring
    /// fill); `yield`s once.
    pub fn idle_without_input(&mut self) {
        libsys::syscall::yield_now();
    }

    /// Yields once after moving bytes both ways (for callers with their own wait loop).
    pub fn step(&mut self) {
        self.wait();
    }

    /// The oldest signal the terminal asked for, if any.
    pub fn take_signal(&mut self) -> Option<(Target, Signal)> {
        let first = self.signals[0].take();
        self.signals.rotate_left(1);
        first
    }

    /// Waits until the terminal asks for a signal.
    pub fn wait_for_signal(&mut self) -> (Target, Signal) {
        loop {
            self.pump();
            if let Some(signal) = self.take_signal() {
                return signal;
            }
            self.wait();
        }
    }

    /// Waits until everything written has reached the UART.
    pub fn drain(&mut self) {
        while self.terminal.pending_output() > 0 || !self.page.tx.is_empty() {
            self.wait();
        }
    }

    /// Writes formatted text through the terminal (output processing on).
    pub fn say(&mut self, args: core::fmt::Arguments) {
        let _ = self.write_fmt(args);
        self.pump();
    }
}

impl Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        self.write_str_bytes(text.as_bytes())
    }
}
