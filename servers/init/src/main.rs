//! `init`, pid 1, hatched by procsrv at boot.
//!
//! It starts the shell on the console as a new session whose controlling terminal is the
//! console (the egg `setsid; sigignore SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU; open 0
//! "/dev/console" O_RDWR 0; dup2 0 1; dup2 0 2`), reaps
//! every child that ends (orphans come to pid 1), and when the shell exits either ends
//! (argument `exit`: the system then has nothing left to run and the kernel, told `exit`,
//! powers off) or starts a new shell.
//!
//! With `exit` init ends with the shell's status, a signal death as 128 + the signal (as
//! shells report it); procsrv prints a line when pid 1 ends with anything but 0, and
//! `cargo xtask run` fails with that status.
//!
//! init's own messages reach the console through a hatched `/bin/echo` whose egg opens
//! `/dev/console` (`O_NOCTTY`: init takes no terminal), or, with no file server, the
//! kernel's debug console, which prints while no driver holds COM1.
//!
//! With `exit` init waits without blocking (a wait with WNOHANG, then a yield): the kernel
//! powers off as soon as no thread is runnable, and a shell waiting for typed input must
//! not count as the end.
#![no_std]
#![no_main]

use libsys::process::client::{exit, wait, Command};
use libsys::process::Startup;
use procsrv_api::{WaitStatus, WAIT_ANY};

libsys::entry!(main);

/// The shell.
const SHELL: &[u8] = b"/bin/hsh";
/// Linux's `O_RDWR`.
const O_RDWR: u64 = 2;
/// Linux's `O_WRONLY`.
const O_WRONLY: u64 = 1;
/// Linux's `O_NOCTTY`: opening a terminal does not make it the controlling terminal.
const O_NOCTTY: u64 = 0x100;
/// What an interactive shell ignores (SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU: bit
/// `n - 1` for signal `n`); the shell hands them back to its commands with `sigdefault`.
/// An interactive hsh also asks for this itself; the egg makes it so from its first
/// instruction.
const JOB_CONTROL_SIGNALS: u64 = 1 << 1 | 1 << 2 | 1 << 19 | 1 << 20 | 1 << 21;

fn main(arg: u64) {
    // SAFETY: procsrv starts every hatched process with `rdi` pointing at its System V
    // initial stack, which stays untouched above the running stack.
    let start = unsafe { Startup::from_stack(arg) };
    let end_with_shell = start.args().any(|a| a == b"exit");
    loop {
        let shell = Command::new(SHELL)
            .arg(b"hsh")
            .env(b"PATH", b"/bin")
            .env(b"HOME", b"/")
            .env(b"TERM", b"vt100")
            .setsid()
            .sigignore(JOB_CONTROL_SIGNALS)
            .open(0, b"/dev/console", O_RDWR, 0)
            .dup2(0, 1)
            .dup2(0, 2)
            .spawn();
        let shell = match shell {
            Ok(child) => child.id(),
            Err(e) => {
                report(format_args!("init: cannot hatch /bin/hsh: {e:?}"));
                exit(1);
            }
        };
        // Reap whatever ends until the shell does.
        let mut shell_status = WaitStatus::Exited(0);
        loop {
            match wait(WAIT_ANY, end_with_shell) {
                Ok(Some((pid, status))) if pid == shell => {
                    shell_status = status;
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) => libsys::syscall::yield_now(),
                Err(_) => break,
            }
        }
        if let WaitStatus::Signaled(signal) = shell_status {
            let next = if end_with_shell {
                ""
            } else {
                "; a new one starts"
            };
            report(format_args!(
                "init: the shell (pid {shell}) was killed by signal {signal}{next}"
            ));
        }
        if end_with_shell {
            exit(exit_code(shell_status));
        }
    }
}

/// A message of init's own, where a person at the console sees it. init has no
/// descriptors and no file server endpoint (procsrv hatches it before it starts the file
/// server), so it hatches `/bin/echo MESSAGE` with the egg `open 1 "/dev/console"
/// O_WRONLY|O_NOCTTY 0` and waits for it; when that fails (no file server) the message
/// goes to the kernel's debug console, which prints while no driver holds COM1.
fn report(message: core::fmt::Arguments<'_>) {
    let mut line = Line {
        bytes: [0; 160],
        used: 0,
    };
    let _ = core::fmt::write(&mut line, message);
    let text = &line.bytes[..line.used];
    let echo = Command::new(b"/bin/echo")
        .arg(b"echo")
        .arg(text)
        .open(1, b"/dev/console", O_WRONLY | O_NOCTTY, 0)
        .dup2(1, 2)
        .spawn();
    if let Ok(child) = echo {
        if matches!(
            wait(child.id(), false),
            Ok(Some((_, WaitStatus::Exited(0))))
        ) {
            return;
        }
    }
    libsys::println!(
        "{}",
        core::str::from_utf8(text).unwrap_or("init: (a message)")
    );
}

/// A message being formatted (cut at its capacity).
struct Line {
    bytes: [u8; 160],
    used: usize,
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.used;
        let n = s.len().min(room);
        self.bytes[self.used..self.used + n].copy_from_slice(&s.as_bytes()[..n]);
        self.used += n;
        Ok(())
    }
}

/// The exit code that reports `status` the way a shell does: the code itself, or 128 +
/// the signal for a signal death.
fn exit_code(status: WaitStatus) -> u8 {
    match status {
        WaitStatus::Exited(code) => code,
        // init waits without WUNTRACED: a stop is never reported to it.
        WaitStatus::Signaled(signal) | WaitStatus::Stopped(signal) => {
            128u32.saturating_add(signal).min(255) as u8
        }
    }
}
