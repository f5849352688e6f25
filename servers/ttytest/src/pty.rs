//! A pseudo-terminal driven from the serial console, as a terminal emulator drives one.
//!
//! The console goes raw and becomes the emulator's window: what the harness types is
//! written to the pty's master, what the master reads is written to the console. A "shell"
//! (this program, as process 5 leading session 5, hatched as
//! `setsid; open 0 /dev/pts/0 O_RDWR 0; dup2 0 1; dup2 0 2` would make it) reads the slave.

use crate::console::Console;
use crate::{check, say, Results, SELF};
use ttycore::{cc, Caller, Event, GroupId, Pty, SetWhen, Signal, Target, TtyError};

/// The shell on the slave.
const SHELL: Caller = Caller::new(5, 5, 5);

/// The emulator: the console (raw) on one side, the pty master on the other.
struct Emulator<'a> {
    console: &'a mut Console,
    pty: Pty,
    signals: [Option<(Target, Signal)>; 4],
}

impl Emulator<'_> {
    /// Moves keys from the console to the master and the master's output to the console.
    fn forward(&mut self) {
        let mut keys = [0u8; 64];
        if let Ok(count @ 1..) = self.console.try_read(&SELF, &mut keys) {
            let signals = &mut self.signals;
            let mut record = |event| {
                if let Event::Signal { target, signal } = event {
                    if let Some(free) = signals.iter_mut().find(|s| s.is_none()) {
                        *free = Some((target, signal));
                    }
                }
            };
            let mut sent = 0;
            while sent < count {
                match self.pty.master_write(&keys[sent..count], &mut record) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
        }
        let mut screen = [0u8; 256];
        while let Ok(count @ 1..) = self.pty.master_read(&mut screen, &mut |_| {}) {
            self.console.write_all(&screen[..count]);
        }
    }

    /// The shell's read of the slave, the emulator forwarding meanwhile.
    fn shell_read(&mut self, buffer: &mut [u8]) -> Result<usize, TtyError> {
        loop {
            self.forward();
            match self.pty.slave.read(&SHELL, buffer, &mut |_| {}) {
                Err(TtyError::WouldBlock) => self.console.step(),
                other => return other,
            }
        }
    }

    /// The shell's write to the slave (shown on the console through the master).
    fn shell_say(&mut self, text: &str) {
        let _ = self.pty.slave.write(&SHELL, text.as_bytes(), &mut |_| {});
        self.forward();
    }

    fn wait_for_signal(&mut self) -> (Target, Signal) {
        loop {
            self.forward();
            if let Some(signal) = self.signals[0].take() {
                self.signals.rotate_left(1);
                return signal;
            }
            self.console.step();
        }
    }
}

pub fn pty(console: &mut Console, results: &mut Results) {
    let cooked = console.terminal().termios();
    let mut window = cooked.make_raw();
    window.cc[cc::VMIN] = 1;
    let _ = console
        .terminal()
        .set_termios(&SELF, &window, SetWhen::Now, &mut |_| {});
    let mut emulator = Emulator {
        console,
        pty: Pty::new(),
        signals: [None; 4],
    };
    let acquired = emulator
        .pty
        .slave_open(&SHELL, false, false)
        .is_ok_and(|outcome| outcome.acquired);
    say!(
        emulator.console,
        "ttytest: pty: the shell opened the slave\n"
    );
    check(
        emulator.console,
        results,
        acquired,
        "pty: setsid then open makes the slave the shell's controlling terminal",
    );

    // Canonical mode on the slave: the pty's echo comes back through the master.
    let mut line = [0u8; 64];
    emulator.shell_say("pty$ ");
    let read = emulator.shell_read(&mut line);
    let count = read.unwrap_or(0);
    let text = core::str::from_utf8(&line[..count]).unwrap_or("(not UTF-8)");
    say!(emulator.console, "ttytest: pty: the shell read {text:?}\n");
    check(
        emulator.console,
        results,
        text == "cat file\n",
        "pty: canonical editing on the slave",
    );

    // ^C typed into the emulator: SIGINT for the shell's foreground group.
    emulator.shell_say("pty interrupt: ");
    let signal = emulator.wait_for_signal();
    say!(
        emulator.console,
        "\nttytest: pty: {} for {:?}\n",
        signal.1.name(),
        signal.0
    );
    check(
        emulator.console,
        results,
        signal == (Target::Group(GroupId(5)), Signal::Interrupt),
        "pty: ^C reaches the slave's foreground group",
    );

    // Raw mode on the slave: bytes pass unchanged.
    let mut raw = emulator.pty.slave.termios().make_raw();
    raw.cc[cc::VMIN] = 3;
    let set = emulator
        .pty
        .slave
        .set_termios(&SHELL, &raw, SetWhen::Now, &mut |_| {});
    emulator.shell_say("pty raw: ");
    let read = emulator.shell_read(&mut line);
    let count = read.unwrap_or(0);
    say!(emulator.console, "\nttytest: pty: raw read");
    for byte in &line[..count] {
        say!(emulator.console, " {byte:02x}");
    }
    say!(emulator.console, "\n");
    check(
        emulator.console,
        results,
        set.is_ok() && line[..count] == *b"x\x03\x04",
        "pty: raw mode on the slave passes control characters as bytes",
    );

    // The emulator closes the master: the shell is hung up.
    let mut hangup = [None; 4];
    let mut index = 0;
    emulator.pty.master_close(&mut |event| {
        if let Event::Signal { target, signal } = event {
            if let Some(slot) = hangup.get_mut(index) {
                *slot = Some((target, signal));
                index += 1;
            }
        }
    });
    let after = emulator.pty.slave.read(&SHELL, &mut line, &mut |_| {});
    let hung_up = hangup.contains(&Some((Target::Group(GroupId(5)), Signal::Hangup)));
    say!(
        emulator.console,
        "ttytest: pty: master closed: SIGHUP sent: {hung_up}; the shell's read returns {after:?}\n"
    );
    check(
        emulator.console,
        results,
        hung_up && after == Ok(0),
        "pty: closing the master hangs up the slave",
    );
    let _ = emulator
        .console
        .terminal()
        .set_termios(&SELF, &cooked, SetWhen::Now, &mut |_| {});
}
