//! `ptyrun CMD [ARG...]`: a tiny terminal emulator. Opens `/dev/ptmx` (a new pty's
//! master), hatches CMD (`/bin/CMD` unless it holds a `/`) on the slave with the egg
//! `setsid; open 0 "/dev/pts/N" O_RDWR 0; dup2 0 1; dup2 0 2` (a new session whose
//! controlling terminal is the pty), and relays bytes both ways (standard input to the
//! master, the master to standard output) until CMD exits; its status is ptyrun's.
//!
//! While it runs, a terminal on standard input is put in raw mode, so that the pty's own
//! line discipline edits and echoes (^C becomes the pty's SIGINT for CMD's foreground
//! group); both descriptors are non-blocking and ptyrun sleeps a tick when neither has
//! bytes. The terminal's modes and the descriptor flags are put back at the end.
#![no_std]
#![no_main]

use core::fmt::Write;

use libsys::fs::{self, terminal, Errno, Fd, O_NONBLOCK, O_RDWR};
use libsys::process::client::{self, Command};
use procsrv_api::WaitStatus;
use ttycore::Termios;

libsys::entry!(main);

/// How long ptyrun sleeps when neither side has bytes (one kernel tick).
const IDLE_NANOS: u64 = 10_000_000;

static mut BUFFER: [u8; 4096] = [0; 4096];

fn fail(what: &[u8], errno: Errno) -> ! {
    userland::complain("ptyrun", what, errno);
    userland::exit(1)
}

/// Moves what `from` has now to `to`: `Ok(true)` if bytes moved, `Ok(false)` if none were
/// there, `Err` at end of file or an error.
fn relay(from: Fd, to: Fd, buffer: &mut [u8]) -> Result<bool, Errno> {
    match fs::read(from, buffer) {
        Ok(0) => Err(Errno::EIO),
        Ok(n) => userland::write_all(to, &buffer[..n]).map(|()| true),
        Err(Errno::EAGAIN) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What to put back at the end: stdin's termios and flags.
struct Restore {
    termios: Option<[u64; terminal::TERMIOS_WORDS]>,
    stdin_flags: Option<u64>,
}

impl Restore {
    fn apply(&self) {
        if let Some(words) = &self.termios {
            let _ = terminal::set_attributes(Fd::STDIN, terminal::TCSETSW, words);
        }
        if let Some(flags) = self.stdin_flags {
            let _ = fs::set_flags(Fd::STDIN, flags);
        }
    }
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let Some(name) = start.arg(1) else {
        let _ = userland::write_all(Fd::STDERR, b"usage: ptyrun CMD [ARG...]\n");
        userland::exit(2)
    };
    let mut path = [0u8; 256];
    let program = if name.contains(&b'/') {
        name
    } else {
        let prefix = b"/bin/";
        let Some(dest) = path.get_mut(prefix.len()..prefix.len() + name.len()) else {
            fail(name, Errno::ENAMETOOLONG)
        };
        dest.copy_from_slice(name);
        path[..prefix.len()].copy_from_slice(prefix);
        &path[..prefix.len() + name.len()]
    };
    let master = fs::namespace()
        .open(b"/dev/ptmx", O_RDWR, 0)
        .unwrap_or_else(|e| fail(b"/dev/ptmx", e));
    let number = terminal::pty_number(master).unwrap_or_else(|e| fail(b"TIOCGPTN", e));
    let mut slave = [0u8; 32];
    let prefix = b"/dev/pts/";
    slave[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 20];
    let digits = userland::decimal(number, &mut digits);
    slave[prefix.len()..prefix.len() + digits.len()].copy_from_slice(digits);
    let slave = &slave[..prefix.len() + digits.len()];

    let mut command = Command::new(program)
        .setsid()
        .open(0, slave, O_RDWR, 0)
        .dup2(0, 1)
        .dup2(0, 2);
    for a in start.args().skip(1) {
        command = command.arg(a);
    }
    for e in start.env() {
        if let Some(eq) = e.iter().position(|&b| b == b'=') {
            command = command.env(&e[..eq], &e[eq + 1..]);
        }
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = fs::close(master);
            let mut o = userland::Output::new();
            o.bytes(b"ptyrun: ");
            o.bytes(program);
            let _ = writeln!(o, ": {e}");
            o.flush();
            userland::exit(if e.errno == procsrv_api::Errno::ENOENT {
                127
            } else {
                126
            })
        }
    };

    let saved = terminal::get_attributes(Fd::STDIN).ok();
    let restore = Restore {
        termios: saved,
        stdin_flags: fs::get_flags(Fd::STDIN).ok(),
    };
    if let Some(words) = &saved {
        if let Ok(t) = Termios::from_words(words) {
            let _ =
                terminal::set_attributes(Fd::STDIN, terminal::TCSETSW, &t.make_raw().to_words());
        }
    }
    let _ = fs::set_flags(Fd::STDIN, restore.stdin_flags.unwrap_or(0) | O_NONBLOCK);
    let _ = fs::set_flags(master, O_NONBLOCK);

    let clock = client::clock().ok();
    // SAFETY: the program has one thread and this is the only reference to BUFFER.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    let mut input_open = true;
    let status = loop {
        let mut moved = relay(master, Fd::STDOUT, buffer).unwrap_or(false);
        if input_open {
            match relay(Fd::STDIN, master, buffer) {
                Ok(m) => moved |= m,
                // End of our input: CMD keeps its terminal; only the relay that way ends.
                Err(_) => input_open = false,
            }
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(_) => break WaitStatus::Exited(1),
        }
        if !moved {
            match clock {
                Some(clock) => libsys::syscall::sleep_until(
                    clock.deadline_after(libsys::time::now(), IDLE_NANOS),
                ),
                None => libsys::syscall::yield_now(),
            }
        }
    };
    // What CMD wrote before it ended.
    while let Ok(true) = relay(master, Fd::STDOUT, buffer) {}
    restore.apply();
    let _ = fs::close(master);
    userland::exit(match status {
        WaitStatus::Exited(code) => code,
        WaitStatus::Signaled(signal) | WaitStatus::Stopped(signal) => {
            128u8.wrapping_add(signal as u8)
        }
    })
}
