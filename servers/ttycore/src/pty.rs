//! The pseudo-terminal pair: a master side whose writes are the slave terminal's input and
//! whose reads are the slave terminal's output.

use crate::error::TtyError;
use crate::event::Event;
use crate::identity::Caller;
use crate::session::OpenOutcome;
use crate::terminal::Terminal;

/// One pty: the slave is a [`Terminal`] like the console; the master is its device.
pub struct Pty {
    /// The slave terminal (`/dev/pts/N`).
    pub slave: Terminal,
    master_open: bool,
    slave_opens: u32,
    slave_ever_opened: bool,
}

impl Pty {
    /// A new pair with its master open (as opening `/dev/ptmx` makes it) and the slave not
    /// yet opened.
    pub const fn new() -> Self {
        Pty {
            slave: Terminal::new(),
            master_open: true,
            slave_opens: 0,
            slave_ever_opened: false,
        }
    }

    /// Whether the master is still open.
    pub fn master_open(&self) -> bool {
        self.master_open
    }

    /// Open descriptions of the slave.
    pub fn slave_opens(&self) -> u32 {
        self.slave_opens
    }

    /// The master writes: the bytes are the slave's input (typed keys). Returns how many
    /// were taken.
    ///
    /// # Errors
    /// [`TtyError::WouldBlock`] when the slave's input queue is full of unread input (park
    /// the writer until [`Event::InputSpace`]); [`TtyError::Io`] when the master is closed.
    pub fn master_write(
        &mut self,
        bytes: &[u8],
        events: &mut dyn FnMut(Event),
    ) -> Result<usize, TtyError> {
        if !self.master_open {
            return Err(TtyError::Io);
        }
        let taken = self.slave.input(bytes, events);
        if taken == 0 && !bytes.is_empty() {
            return Err(TtyError::WouldBlock);
        }
        Ok(taken)
    }

    /// The master reads what the slave's side wrote and echoed.
    ///
    /// # Errors
    /// [`TtyError::WouldBlock`] when there is nothing (park until [`Event::OutputReady`]);
    /// [`TtyError::Io`] when every slave description that was opened is closed again and
    /// nothing is left, as Linux answers.
    pub fn master_read(
        &mut self,
        buffer: &mut [u8],
        events: &mut dyn FnMut(Event),
    ) -> Result<usize, TtyError> {
        if !self.master_open {
            return Err(TtyError::Io);
        }
        if buffer.is_empty() {
            return Ok(0);
        }
        let count = self.slave.take_output(buffer, events);
        if count > 0 {
            return Ok(count);
        }
        if self.slave_ever_opened && self.slave_opens == 0 {
            return Err(TtyError::Io);
        }
        Err(TtyError::WouldBlock)
    }

    /// The master's last description closed: the slave hangs up.
    pub fn master_close(&mut self, events: &mut dyn FnMut(Event)) {
        if self.master_open {
            self.master_open = false;
            self.slave.hangup(events);
        }
    }

    /// Opens the slave (with the controlling-terminal rule of [`Terminal::open`]).
    ///
    /// # Errors
    /// [`TtyError::Io`] when the master is closed.
    pub fn slave_open(
        &mut self,
        caller: &Caller,
        no_controlling_terminal: bool,
        session_has_terminal: bool,
    ) -> Result<OpenOutcome, TtyError> {
        if !self.master_open {
            return Err(TtyError::Io);
        }
        self.slave_opens = self.slave_opens.saturating_add(1);
        self.slave_ever_opened = true;
        Ok(self
            .slave
            .open(caller, no_controlling_terminal, session_has_terminal))
    }

    /// One slave description closed. When the last goes, a master reader is woken to see
    /// end of data ([`Event::OutputReady`]).
    pub fn slave_close(&mut self, events: &mut dyn FnMut(Event)) {
        self.slave_opens = self.slave_opens.saturating_sub(1);
        if self.slave_opens == 0 {
            events(Event::OutputReady);
        }
    }

    /// Whether the pair can be forgotten: master closed and no slave description left.
    pub fn is_finished(&self) -> bool {
        !self.master_open && self.slave_opens == 0
    }
}

impl Default for Pty {
    fn default() -> Self {
        Self::new()
    }
}
