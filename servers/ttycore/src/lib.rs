//! The terminal line discipline as pure, host-tested logic.
//!
//! A [`Terminal`] is the state of one terminal (the serial console, or the slave side of a
//! pseudo-terminal): its input queue with the line being edited, its output queue, its
//! [`Termios`] settings and [`WindowSize`], and which session and foreground process group
//! it belongs to. The server that owns terminals (the file server) embeds one value per
//! terminal and drives it:
//!
//! - bytes from the device go to [`Terminal::input`]; echo and processed output collect in
//!   the output queue, which the server drains with [`Terminal::take_output`] and sends to
//!   the device (the console driver, or a pty master's reader);
//! - a client's read and write become [`Terminal::read`] and [`Terminal::write`];
//! - termios, window size, `tcsetpgrp`/`tcgetpgrp`, `TIOCSCTTY`/`TIOCNOTTY` and the
//!   controlling-terminal rule of `open` are methods too, and a client's ioctl-style
//!   request (by Linux number, arguments in message words) goes through
//!   [`request::Request::decode`] and [`Terminal::request`].
//!
//! Every call reports what the server must do next as [`Event`]s through a callback:
//! "send SIGINT to process group P", "readers may proceed", "output is waiting for the
//! device". Nothing here blocks: a read with nothing to return answers
//! [`TtyError::WouldBlock`] and the server parks the reader (a saved Reply) until
//! [`Event::InputReady`].
//!
//! **Identity is given, never claimed.** Each call that depends on who asks takes a
//! [`Caller`] the server fills in from what procsrv told it about the badge the request
//! arrived on; a client never supplies its own pid, group or session.
//!
//! [`Pty`] pairs a terminal (the slave) with a master side: what the master writes is the
//! slave's input, what the slave writes is read from the master.
//!
//! Design principles:
//! 1. No allocation, no panics on any input: every queue is a fixed array with a named
//!    capacity, and every index is reduced modulo it.
//! 2. Linux's numbering (termios flag bits, control-character indices, signal numbers), so
//!    that programs written against POSIX terminals read the same here.
//! 3. The rules of POSIX and Linux for sessions and job control, as pure functions of the
//!    terminal's state and the caller's trusted identity.
#![no_std]
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod error;
mod event;
mod identity;
mod input;
mod pty;
mod queue;
pub mod request;
mod session;
mod terminal;
mod termios;

pub use error::TtyError;
pub use event::{Event, Signal, Target};
pub use identity::{Caller, GroupId, ProcessId, SessionId};
pub use pty::Pty;
pub use queue::{INPUT_CAPACITY, MAX_CANON, OUTPUT_CAPACITY};
pub use session::OpenOutcome;
pub use terminal::{Flush, Terminal};
pub use termios::{cc, iflag, lflag, oflag, SetWhen, Termios, WindowSize, NCCS, TERMIOS_WORDS};
