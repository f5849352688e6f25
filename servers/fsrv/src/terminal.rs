//! Terminals: the console and pseudo-terminals, each a `ttycore::Terminal` (the line
//! discipline) embedded here beside the open file descriptions (docs/servers.md).
//!
//! A terminal is `Object::Terminal(index, node)`: index 0 is the console, `n + 1` the slave
//! of pty `n` (`/dev/pts/n`); `Object::PtyMaster(n)` is a master. Reads and writes that
//! cannot proceed keep their reply in a Reply object, as pipe requests do, and are retried
//! on the terminal's events. Who is calling (pid, group, session) comes from procsrv
//! (`CtlSetJob`), never from the request; whether a session already has a terminal is
//! known here, where every terminal lives. Signals and changes of controlling terminal go
//! to procsrv as events (`fs_api::event`).
//!
//! The console is the serial console driver's (`servers/console`) when the starter gave
//! fsrv the driver's shared page (`fs_api::server::SLOT_CONSOLE_PAGE`): received bytes
//! are its input and its output goes to the transmit ring, through a
//! `console_api::TerminalLink`; the driver's signals arrive as notification messages on
//! fsrv's endpoint. Without a driver the console's output goes to the kernel's debug console
//! and it has no input (a read waits, or with `O_NONBLOCK` fails with `EAGAIN`).

use crate::memory;
use crate::server::{Outcome, Reply, Server};
use alloc::boxed::Box;
use alloc::vec::Vec;
use console_api::{SharedPage, TerminalLink};
use fs_api::server;
use fs_api::{event, Errno};
use fscore::fs::{Device, NodeId};
use fscore::perm::Credentials;
use fscore::table::{HandleId, Object};
use libsys::bootinfo::{SLOT_TCB, SLOT_VSPACE};
use libsys::cap::{Cap, Frame, Notification, Reply as ReplyObject, Tcb};
use libsys::object::Rights;
use ttycore::{Caller, Event, Pty, Target, Terminal, TtyError};

/// The console's terminal index.
pub const CONSOLE: usize = 0;
/// Most ptys at once.
pub const MAX_PTYS: usize = 16;
/// Most terminal requests waiting at once.
pub const MAX_WAITING: usize = 64;

/// The time-stamp counter's rate (from the start argument), for `VTIME`.
static CLOCK_HZ: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Sets the time-stamp counter's rate `VTIME` timers count in (at start).
pub fn set_clock(tsc_hz: u64) {
    CLOCK_HZ.store(tsc_hz, core::sync::atomic::Ordering::Relaxed);
}

/// The deadline `tenths` tenths of a second from now.
fn deadline_in(tenths: u8) -> u64 {
    let clock = libsys::time::Clock::new(CLOCK_HZ.load(core::sync::atomic::Ordering::Relaxed));
    clock.deadline_after(libsys::time::now(), u64::from(tenths) * 100_000_000)
}

/// What a waiting terminal request wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyOp {
    /// A read of terminal `on`.
    Read,
    /// A write to terminal `on`.
    Write,
    /// A read of pty master `on`.
    MasterRead,
    /// A write to pty master `on`.
    MasterWrite,
}

/// A terminal request waiting for input, output room or the device.
pub struct TtyWait {
    reply: Cap<ReplyObject>,
    process: u64,
    /// The handle's slot (a closed handle cancels it).
    pub handle_slot: usize,
    on: usize,
    op: TtyOp,
    length: usize,
    /// A non-canonical read with `VTIME`: when its timer fires (a time-stamp counter
    /// value), `None` while it runs none (with `VMIN` above 0, until a byte is there).
    deadline: Option<u64>,
    /// Bytes readable when the timer was last started (each new byte restarts it when
    /// `VMIN` is above 0: POSIX's inter-byte timer).
    seen: usize,
}

impl TtyWait {
    /// The process that asked.
    pub fn process(&self) -> u64 {
        self.process
    }
}

/// The serial console driver, when one runs.
struct ConsoleDevice {
    page: &'static SharedPage,
    link: TerminalLink,
    driver: Cap<Notification>,
}

/// Every terminal.
pub struct Terminals {
    console: Box<Terminal>,
    device: Option<ConsoleDevice>,
    ptys: Vec<Option<Box<Pty>>>,
    /// Requests waiting on terminals.
    pub waiting: Vec<TtyWait>,
}

impl Terminals {
    /// The console (cooked, 80x24) and no ptys.
    ///
    /// # Errors
    /// `ENOMEM`.
    pub fn new() -> Result<Self, Errno> {
        let mut ptys = Vec::new();
        ptys.try_reserve_exact(MAX_PTYS)
            .map_err(|_| Errno::ENOMEM)?;
        let mut waiting = Vec::new();
        waiting
            .try_reserve_exact(MAX_WAITING)
            .map_err(|_| Errno::ENOMEM)?;
        Ok(Terminals {
            console: Box::new(Terminal::new()),
            device: connect_console(),
            ptys,
            waiting,
        })
    }

    pub(crate) fn terminal(&mut self, index: usize) -> Option<&mut Terminal> {
        match index {
            CONSOLE => Some(&mut self.console),
            n => self
                .ptys
                .get_mut(n - 1)
                .and_then(Option::as_mut)
                .map(|p| &mut p.slave),
        }
    }

    fn pty(&mut self, n: usize) -> Option<&mut Pty> {
        self.ptys
            .get_mut(n)
            .and_then(Option::as_mut)
            .map(|p| &mut **p)
    }

    /// Whether `session` already has a controlling terminal here.
    pub(crate) fn session_has_terminal(&self, session: ttycore::SessionId) -> bool {
        self.console.controlling_session() == Some(session)
            || self
                .ptys
                .iter()
                .flatten()
                .any(|p| p.slave.controlling_session() == Some(session))
    }

    /// The terminal index controlling `session`.
    fn controlling(&self, session: ttycore::SessionId) -> Option<usize> {
        if self.console.controlling_session() == Some(session) {
            return Some(CONSOLE);
        }
        self.ptys.iter().enumerate().find_map(|(n, p)| {
            p.as_ref()
                .filter(|p| p.slave.controlling_session() == Some(session))
                .map(|_| n + 1)
        })
    }
}

pub(crate) fn errno(error: TtyError) -> Errno {
    Errno::try_from(u64::from(error.errno())).unwrap_or(Errno::EIO)
}

impl Server {
    /// The caller's identity for the terminal rules (from `CtlSetJob`).
    pub(crate) fn tty_caller(&self, process: u64) -> Caller {
        match self.processes.get(&process) {
            Some(p) => p.job,
            None => Caller::new(0, 0, 0),
        }
    }

    /// Hands terminal events to procsrv and retries what they may unblock.
    pub(crate) fn tty_events(&mut self, terminal: usize, events: Vec<Event>) {
        for e in events {
            self.tty_event(terminal, e);
        }
        self.retry_terminals();
    }

    /// Acts on one event of `terminal`, except retrying waiting requests.
    fn tty_event(&mut self, terminal: usize, e: Event) {
        match e {
            Event::Signal { target, signal } => {
                let (kind, id) = match target {
                    Target::Group(g) => (event::GROUP, u64::from(g.0)),
                    Target::Process(p) => (event::PROCESS, u64::from(p.0)),
                };
                self.post_event(kind | id, u64::from(signal.number()));
            }
            Event::ControlLost { session } => {
                self.post_event(event::CONTROL_LOST | u64::from(session.0), 0);
            }
            Event::OutputReady => self.drain_console(terminal),
            Event::InputReady | Event::OutputSpace | Event::InputSpace => {}
        }
    }

    /// The console driver signalled (bytes arrived, or room to send): moves input into
    /// the console and output out of it, and retries what waits.
    pub fn console_interrupt(&mut self) {
        self.drain_console(CONSOLE);
        self.retry_terminals();
    }

    /// Moves the console's output to the driver's transmit ring (and received bytes in),
    /// or without a driver to the kernel's debug console.
    fn drain_console(&mut self, terminal: usize) {
        if terminal != CONSOLE {
            return;
        }
        if let Some(device) = self.terminals.device.as_mut() {
            let mut events = Vec::new();
            let pumped = device
                .link
                .pump(device.page, &mut self.terminals.console, &mut |e| {
                    events.push(e)
                });
            if pumped.signal_driver {
                // Signalling never blocks.
                let _ = device.driver.signal();
            }
            for e in events {
                if !matches!(e, Event::OutputReady) {
                    self.tty_event(CONSOLE, e);
                }
            }
            return;
        }
        let mut buffer = [0u8; 512];
        loop {
            let n = self.terminals.console.take_output(&mut buffer, &mut |_| {});
            if n == 0 {
                break;
            }
            let _ = libsys::syscall::debug_write(&buffer[..n]);
        }
    }

    /// Opens terminal device `device` (node `node`) for `process`: the console, the
    /// caller's controlling terminal, a new pty master, or a pty slave. Returns the object.
    ///
    /// # Errors
    /// `ENXIO` (no controlling terminal, no such pty), `EIO` (a closed pty), `ENOSPC` (too
    /// many ptys), `ENOMEM`.
    pub fn open_terminal(
        &mut self,
        process: u64,
        device: Device,
        node: NodeId,
        flags: u64,
    ) -> Result<Object, Errno> {
        let caller = self.tty_caller(process);
        let no_ctty = flags & fs_api::flags::O_NOCTTY != 0;
        let has = self.terminals.session_has_terminal(caller.session);
        let (index, outcome) = match device {
            Device::Tty => {
                let index = self
                    .terminals
                    .controlling(caller.session)
                    .ok_or(Errno::ENXIO)?;
                if index > CONSOLE {
                    // A slave description like any other: counted until it closes.
                    let pty = self.terminals.pty(index - 1).ok_or(Errno::ENXIO)?;
                    pty.slave_open(&caller, true, has).map_err(errno)?;
                }
                return Ok(Object::Terminal(index, node));
            }
            Device::Console => (CONSOLE, self.terminals.console.open(&caller, no_ctty, has)),
            Device::PtySlave(n) => {
                let pty = self.terminals.pty(n as usize).ok_or(Errno::ENXIO)?;
                let outcome = pty.slave_open(&caller, no_ctty, has).map_err(errno)?;
                (n as usize + 1, outcome)
            }
            Device::Ptmx => return self.new_pty(process).map(Object::PtyMaster),
            _ => return Err(Errno::ENXIO),
        };
        if outcome.acquired {
            self.post_event(
                event::CONTROL_ACQUIRED | u64::from(caller.session.0),
                index as u64,
            );
        }
        Ok(Object::Terminal(index, node))
    }

    /// Makes pty `n` and its `/dev/pts/n`, owned by the caller.
    fn new_pty(&mut self, process: u64) -> Result<usize, Errno> {
        let n = match self.terminals.ptys.iter().position(Option::is_none) {
            Some(n) => n,
            None if self.terminals.ptys.len() < MAX_PTYS => {
                self.terminals.ptys.push(None);
                self.terminals.ptys.len() - 1
            }
            None => return Err(Errno::ENOSPC),
        };
        let owner = self
            .processes
            .get(&process)
            .map(|p| p.credentials.clone())
            .unwrap_or_else(Credentials::root);
        let pts = self.pts_dir()?;
        let mut name = [0u8; 4];
        let name = decimal(n, &mut name);
        self.fs
            .add_device(pts, name, Device::PtySlave(n as u32), 0o620, &owner)?;
        self.terminals.ptys[n] = Some(Box::new(Pty::new()));
        Ok(n)
    }

    fn pts_dir(&self) -> Result<NodeId, Errno> {
        let root = Credentials::root();
        let caller = fscore::fs::Caller {
            who: &root,
            cwd: fscore::fs::ROOT,
        };
        self.fs.lookup(caller, b"/dev/pts")
    }

    /// The last description of terminal `index` or of master `master` is gone.
    pub fn terminal_closed(&mut self, object: Object) {
        let mut events = Vec::new();
        let mut finished = None;
        match object {
            Object::Terminal(index, _) if index > CONSOLE => {
                if let Some(pty) = self.terminals.pty(index - 1) {
                    pty.slave_close(&mut |e| events.push(e));
                    finished = pty.is_finished().then_some(index - 1);
                }
            }
            Object::PtyMaster(n) => {
                if let Some(pty) = self.terminals.pty(n) {
                    pty.master_close(&mut |e| events.push(e));
                    finished = pty.is_finished().then_some(n);
                }
                // The slave's waiting readers see the hangup.
                self.tty_events(n + 1, core::mem::take(&mut events));
                if let Ok(pts) = self.pts_dir() {
                    let mut name = [0u8; 4];
                    self.fs.remove_entry(pts, decimal(n, &mut name));
                }
            }
            _ => {}
        }
        if let Some(n) = finished {
            self.terminals.ptys[n] = None;
        }
        self.tty_events(CONSOLE, events);
    }

    /// Parks the current request on a terminal.
    fn tty_park(
        &mut self,
        handle: HandleId,
        process: u64,
        on: usize,
        op: TtyOp,
        length: usize,
    ) -> Outcome {
        let parked = (|| {
            if self.terminals.waiting.len() >= MAX_WAITING {
                return Err(Errno::EAGAIN);
            }
            let handle_slot = self.table.slot(handle)?;
            let reply = match self.replies.pop() {
                Some(reply) => reply,
                None => {
                    memory::with_objects(|o| o.make::<ReplyObject>().ok()).ok_or(Errno::EAGAIN)?
                }
            };
            if reply.save().is_err() {
                self.replies.push(reply);
                return Err(Errno::EIO);
            }
            let (deadline, seen) = self.read_timer(on, op);
            self.terminals.waiting.push(TtyWait {
                reply,
                process,
                handle_slot,
                on,
                op,
                length,
                deadline,
                seen,
            });
            Ok(())
        })();
        match parked {
            Ok(()) => Outcome::Deferred,
            Err(e) => Outcome::Reply(Reply::error(e)),
        }
    }

    /// The `VTIME` timer of a read of terminal `on` that must wait, as POSIX has it: with
    /// `VMIN` 0 it runs from the read; with `VMIN` above 0 from the first byte (and each
    /// new byte restarts it); none without `VTIME` or in canonical mode. Returns the
    /// deadline and the bytes readable now.
    fn read_timer(&mut self, on: usize, op: TtyOp) -> (Option<u64>, usize) {
        let Some(terminal) = self.terminals.terminal(on).filter(|_| op == TtyOp::Read) else {
            return (None, 0);
        };
        let termios = terminal.termios();
        let (time, minimum) = (
            termios.cc[ttycore::cc::VTIME],
            termios.cc[ttycore::cc::VMIN],
        );
        let readable = terminal.readable();
        if termios.canonical() || time == 0 || (minimum > 0 && readable == 0) {
            return (None, readable);
        }
        (Some(deadline_in(time)), readable)
    }

    /// The earliest `VTIME` deadline of the waiting reads.
    pub fn next_deadline(&self) -> Option<u64> {
        self.terminals
            .waiting
            .iter()
            .filter_map(|w| w.deadline)
            .min()
    }

    /// Ends the waiting reads whose `VTIME` timer has fired (`Terminal::read_expired`:
    /// what is there, even nothing); one with `VMIN` above 0 and nothing there waits on
    /// without a timer.
    pub fn expire_terminal_reads(&mut self) {
        let now = libsys::time::now();
        let mut i = 0;
        while i < self.terminals.waiting.len() {
            let w = &self.terminals.waiting[i];
            if w.deadline.is_none_or(|d| d > now) {
                i += 1;
                continue;
            }
            let (process, on, op, length) = (w.process, w.on, w.op, w.length);
            match self.tty_attempt_timed(process, on, op, length, true) {
                Ok(Some(count)) => self.tty_complete(i, Reply::ok(&[count as u64])),
                Err(e) => self.tty_complete(i, Reply::error(e)),
                Ok(None) => {
                    self.terminals.waiting[i].deadline = None;
                    i += 1;
                }
            }
        }
        self.retry_terminals();
    }

    /// One attempt at a terminal request: `Ok(Some(count))` done, `Ok(None)` must wait.
    fn tty_attempt(
        &mut self,
        process: u64,
        on: usize,
        op: TtyOp,
        length: usize,
    ) -> Result<Option<usize>, Errno> {
        self.tty_attempt_timed(process, on, op, length, false)
    }

    /// [`Self::tty_attempt`]; a read whose `VTIME` timer fired when `expired`.
    fn tty_attempt_timed(
        &mut self,
        process: u64,
        on: usize,
        op: TtyOp,
        length: usize,
        expired: bool,
    ) -> Result<Option<usize>, Errno> {
        let window = self.window_ptr(process, length)?;
        let caller = self.tty_caller(process);
        let mut events = Vec::new();
        let mut push = |e| events.push(e);
        // SAFETY: `window` is the process's mapped window (see `window_ptr`); the terminal
        // state is heap memory, so the two never overlap, and no other reference to the
        // window lives during the call.
        let window = unsafe { &mut *window };
        let result = match op {
            TtyOp::Read if expired => self
                .terminals
                .terminal(on)
                .ok_or(Errno::EIO)?
                .read_expired(&caller, window, &mut push),
            TtyOp::Read => self
                .terminals
                .terminal(on)
                .ok_or(Errno::EIO)?
                .read(&caller, window, &mut push),
            TtyOp::Write => self
                .terminals
                .terminal(on)
                .ok_or(Errno::EIO)?
                .write(&caller, window, &mut push),
            TtyOp::MasterRead => self
                .terminals
                .pty(on)
                .ok_or(Errno::EIO)?
                .master_read(window, &mut push),
            TtyOp::MasterWrite => self
                .terminals
                .pty(on)
                .ok_or(Errno::EIO)?
                .master_write(window, &mut push),
        };
        let terminal = match op {
            TtyOp::Read | TtyOp::Write => on,
            TtyOp::MasterRead | TtyOp::MasterWrite => on + 1,
        };
        for e in events {
            self.tty_event(terminal, e);
        }
        match result {
            Ok(0) if length > 0 && matches!(op, TtyOp::Write | TtyOp::MasterWrite) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(TtyError::WouldBlock) => Ok(None),
            Err(e) => Err(errno(e)),
        }
    }

    /// A read or write of a terminal or a pty master.
    pub fn tty_io(
        &mut self,
        handle: HandleId,
        process: u64,
        object: Object,
        write: bool,
        length: usize,
        flags: u64,
    ) -> Outcome {
        let (on, op) = match (object, write) {
            (Object::Terminal(index, _), false) => (index, TtyOp::Read),
            (Object::Terminal(index, _), true) => (index, TtyOp::Write),
            (Object::PtyMaster(n), false) => (n, TtyOp::MasterRead),
            (Object::PtyMaster(n), true) => (n, TtyOp::MasterWrite),
            _ => return Outcome::Reply(Reply::error(Errno::EBADF)),
        };
        let result = self.tty_attempt(process, on, op, length);
        self.retry_terminals();
        match result {
            Ok(Some(count)) => Outcome::Reply(Reply::ok(&[count as u64])),
            Ok(None) if flags & fs_api::flags::O_NONBLOCK != 0 => {
                Outcome::Reply(Reply::error(Errno::EAGAIN))
            }
            Ok(None) => self.tty_park(handle, process, on, op, length),
            Err(e) => Outcome::Reply(Reply::error(e)),
        }
    }

    /// Retries every waiting terminal request until none makes progress.
    pub fn retry_terminals(&mut self) {
        loop {
            let mut progress = false;
            let mut i = 0;
            while i < self.terminals.waiting.len() {
                let w = &self.terminals.waiting[i];
                let (process, on, op, length, seen) = (w.process, w.on, w.op, w.length, w.seen);
                match self.tty_attempt(process, on, op, length) {
                    Ok(None) => {
                        // New bytes (re)start a read's timer (VMIN above 0).
                        let (deadline, readable) = self.read_timer(on, op);
                        let w = &mut self.terminals.waiting[i];
                        if readable > seen || w.deadline.is_none() {
                            w.deadline = deadline;
                        }
                        w.seen = readable;
                        i += 1;
                    }
                    Ok(Some(count)) => {
                        self.tty_complete(i, Reply::ok(&[count as u64]));
                        progress = true;
                    }
                    Err(e) => {
                        self.tty_complete(i, Reply::error(e));
                        progress = true;
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }

    fn tty_complete(&mut self, index: usize, reply: Reply) {
        let w = self.terminals.waiting.remove(index);
        let info = reply.prepare();
        let _ = w.reply.send(info, reply.registers());
        self.replies.push(w.reply);
    }

    /// Answers every waiting terminal request that `matches` with `EBADF`.
    pub fn cancel_terminal_waits(&mut self, matches: impl Fn(&TtyWait) -> bool) {
        let mut i = 0;
        while i < self.terminals.waiting.len() {
            if matches(&self.terminals.waiting[i]) {
                self.tty_complete(i, Reply::error(Errno::EBADF));
            } else {
                i += 1;
            }
        }
    }
}

impl Server {
    /// A process that led its session is gone: its terminal is free for another session,
    /// and the foreground group gets SIGHUP and SIGCONT.
    pub fn session_leader_gone(&mut self, process: u64) {
        let Some(p) = self.processes.get(&process) else {
            return;
        };
        let caller = p.job;
        if !caller.is_session_leader() || caller.session.0 == 0 {
            return;
        }
        let Some(index) = self.terminals.controlling(caller.session) else {
            return;
        };
        let mut events = Vec::new();
        if let Some(terminal) = self.terminals.terminal(index) {
            terminal.session_leader_exited(caller.session, &mut |e| events.push(e));
        }
        self.tty_events(index, events);
    }
}

/// Maps the driver's shared page and binds the driver's notification to this thread, if
/// the starter gave them; `None` otherwise.
fn connect_console() -> Option<ConsoleDevice> {
    let frame: Cap<Frame> = Cap::from_cptr(server::SLOT_CONSOLE_PAGE);
    let is_frame = frame
        .identify()
        .is_ok_and(|id| id.kind == libsys::object::CapKind::Frame as u64);
    if !is_frame {
        return None;
    }
    let rw = Rights::READ.union(Rights::WRITE);
    frame
        .map(Cap::from_cptr(SLOT_VSPACE), server::CONSOLE_PAGE_ADDR, rw)
        .ok()?;
    let tcb: Cap<Tcb> = Cap::from_cptr(SLOT_TCB);
    tcb.bind_notification(Cap::from_cptr(server::SLOT_CONSOLE_WAKE))
        .ok()?;
    // SAFETY: the frame was just mapped read-write at CONSOLE_PAGE_ADDR and is never
    // unmapped; SharedPage is a repr(C) struct of atomics no larger than a page, valid for
    // any bit pattern and meant to be shared through `&` with the driver, which maps the
    // same frame.
    let page: &'static SharedPage = unsafe { &*(server::CONSOLE_PAGE_ADDR as *const SharedPage) };
    Some(ConsoleDevice {
        page,
        link: TerminalLink::new(),
        driver: Cap::from_cptr(server::SLOT_CONSOLE_DRIVER),
    })
}

/// `n` in decimal (at most 4 digits) in `buffer`.
fn decimal(n: usize, buffer: &mut [u8; 4]) -> &[u8] {
    let mut digits = 0;
    let mut value = n;
    loop {
        digits += 1;
        value /= 10;
        if value == 0 || digits == 4 {
            break;
        }
    }
    let mut value = n;
    for i in (0..digits).rev() {
        buffer[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    &buffer[..digits]
}
