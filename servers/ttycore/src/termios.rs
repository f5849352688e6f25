//! Terminal settings (`struct termios`) and the window size, with Linux's numbering.

/// Number of control characters (Linux's kernel `termios`).
pub const NCCS: usize = 19;

/// Input flags (`c_iflag`).
pub mod iflag {
    /// Strip the eighth bit of input bytes.
    pub const ISTRIP: u32 = 0o40;
    /// Turn NL into CR on input.
    pub const INLCR: u32 = 0o100;
    /// Ignore CR on input.
    pub const IGNCR: u32 = 0o200;
    /// Turn CR into NL on input (unless `IGNCR`).
    pub const ICRNL: u32 = 0o400;
    /// `VSTOP`/`VSTART` stop and restart output.
    pub const IXON: u32 = 0o2000;
    /// Input is UTF-8 (word erase and erase treat a character's bytes as one).
    pub const IUTF8: u32 = 0o40000;
    /// Every flag this implementation acts on.
    pub const SUPPORTED: u32 = ISTRIP | INLCR | IGNCR | ICRNL | IXON | IUTF8;
}

/// Output flags (`c_oflag`).
pub mod oflag {
    /// Process output (the flags below apply only with it).
    pub const OPOST: u32 = 0o1;
    /// Turn NL into CR NL on output.
    pub const ONLCR: u32 = 0o4;
    /// Turn CR into NL on output.
    pub const OCRNL: u32 = 0o10;
    /// Every flag this implementation acts on.
    pub const SUPPORTED: u32 = OPOST | ONLCR | OCRNL;
}

/// Local flags (`c_lflag`).
pub mod lflag {
    /// `VINTR`, `VQUIT`, `VSUSP` send signals.
    pub const ISIG: u32 = 0o1;
    /// Canonical mode: input is edited and read a line at a time.
    pub const ICANON: u32 = 0o2;
    /// Echo input.
    pub const ECHO: u32 = 0o10;
    /// `VERASE` and `VWERASE` erase visibly ("\b \b").
    pub const ECHOE: u32 = 0o20;
    /// `VKILL` echoes a newline after the kill character (without `ECHOKE`).
    pub const ECHOK: u32 = 0o40;
    /// Echo NL even without `ECHO`.
    pub const ECHONL: u32 = 0o100;
    /// Do not flush the queues on `VINTR`, `VQUIT`, `VSUSP`.
    pub const NOFLSH: u32 = 0o200;
    /// A background group's write sends it SIGTTOU.
    pub const TOSTOP: u32 = 0o400;
    /// Echo control characters as `^X`.
    pub const ECHOCTL: u32 = 0o1000;
    /// `VKILL` erases the line visibly.
    pub const ECHOKE: u32 = 0o4000;
    /// `VWERASE`, `VLNEXT` and `VREPRINT` are active.
    pub const IEXTEN: u32 = 0o100000;
    /// Every flag this implementation acts on.
    pub const SUPPORTED: u32 =
        ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | NOFLSH | TOSTOP | ECHOCTL | ECHOKE | IEXTEN;
}

/// Indices of the control characters (`c_cc`). A value of 0 disables the character
/// (Linux's `_POSIX_VDISABLE`).
pub mod cc {
    /// Interrupt: SIGINT to the foreground group (default ^C).
    pub const VINTR: usize = 0;
    /// Quit: SIGQUIT (default ^\).
    pub const VQUIT: usize = 1;
    /// Erase one character (default DEL, 0x7f).
    pub const VERASE: usize = 2;
    /// Erase the line (default ^U).
    pub const VKILL: usize = 3;
    /// End of file: ends the line without itself; alone, a read returns 0 (default ^D).
    pub const VEOF: usize = 4;
    /// Non-canonical read timeout in tenths of a second.
    pub const VTIME: usize = 5;
    /// Non-canonical read minimum byte count.
    pub const VMIN: usize = 6;
    /// Restart output (default ^Q).
    pub const VSTART: usize = 8;
    /// Stop output (default ^S).
    pub const VSTOP: usize = 9;
    /// Suspend: SIGTSTP (default ^Z).
    pub const VSUSP: usize = 10;
    /// An extra end-of-line character (default disabled).
    pub const VEOL: usize = 11;
    /// Reprint the line being edited (default ^R).
    pub const VREPRINT: usize = 12;
    /// Erase one word (default ^W).
    pub const VWERASE: usize = 14;
    /// Take the next character literally (default ^V).
    pub const VLNEXT: usize = 15;
    /// A second extra end-of-line character (default disabled).
    pub const VEOL2: usize = 16;
}

/// When a settings change takes effect (`tcsetattr`'s `TCSANOW`, `TCSADRAIN`,
/// `TCSAFLUSH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetWhen {
    /// At once.
    Now,
    /// After the output queue drains (here: at once; the server may wait for the device
    /// first).
    Drain,
    /// At once, discarding unread input.
    Flush,
}

/// A terminal's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    /// Input flags ([`iflag`]).
    pub iflag: u32,
    /// Output flags ([`oflag`]).
    pub oflag: u32,
    /// Control flags (kept and reported; a serial line's speed and framing are the
    /// driver's business).
    pub cflag: u32,
    /// Local flags ([`lflag`]).
    pub lflag: u32,
    /// Control characters ([`cc`]).
    pub cc: [u8; NCCS],
}

/// Words a [`Termios`] takes in a message ([`Termios::to_words`]).
pub const TERMIOS_WORDS: usize = 5;

/// `B38400 | CS8 | CREAD | HUPCL`, Linux's default control flags.
const DEFAULT_CFLAG: u32 = 0o17 | 0o60 | 0o200 | 0o2000;

impl Termios {
    /// Linux's defaults for a new terminal ("cooked" mode): canonical input, echo with
    /// visible erase, signals, CR to NL on input, NL to CR NL on output; plus `IUTF8`,
    /// which a UTF-8 locale sets on Linux.
    pub const fn cooked() -> Self {
        let mut cc = [0u8; NCCS];
        cc[cc::VINTR] = 0x03;
        cc[cc::VQUIT] = 0x1c;
        cc[cc::VERASE] = 0x7f;
        cc[cc::VKILL] = 0x15;
        cc[cc::VEOF] = 0x04;
        cc[cc::VTIME] = 0;
        cc[cc::VMIN] = 1;
        cc[cc::VSTART] = 0x11;
        cc[cc::VSTOP] = 0x13;
        cc[cc::VSUSP] = 0x1a;
        cc[cc::VREPRINT] = 0x12;
        cc[cc::VWERASE] = 0x17;
        cc[cc::VLNEXT] = 0x16;
        Termios {
            iflag: iflag::ICRNL | iflag::IXON | iflag::IUTF8,
            oflag: oflag::OPOST | oflag::ONLCR,
            cflag: DEFAULT_CFLAG,
            lflag: lflag::ISIG
                | lflag::ICANON
                | lflag::ECHO
                | lflag::ECHOE
                | lflag::ECHOK
                | lflag::ECHOCTL
                | lflag::ECHOKE
                | lflag::IEXTEN,
            cc,
        }
    }

    /// These settings made raw as `cfmakeraw` does: no input or output processing, no
    /// echo, no signals, reads return each byte (`VMIN` 1, `VTIME` 0).
    pub const fn make_raw(mut self) -> Self {
        self.iflag &= !(iflag::ISTRIP | iflag::INLCR | iflag::IGNCR | iflag::ICRNL | iflag::IXON);
        self.oflag &= !oflag::OPOST;
        self.lflag &= !(lflag::ECHO | lflag::ECHONL | lflag::ICANON | lflag::ISIG | lflag::IEXTEN);
        self.cc[cc::VMIN] = 1;
        self.cc[cc::VTIME] = 0;
        self
    }

    /// Whether canonical mode is on.
    pub const fn canonical(&self) -> bool {
        self.lflag & lflag::ICANON != 0
    }

    /// Whether local flag `flag` is set.
    pub const fn local(&self, flag: u32) -> bool {
        self.lflag & flag != 0
    }

    /// Whether input flag `flag` is set.
    pub const fn input(&self, flag: u32) -> bool {
        self.iflag & flag != 0
    }

    /// Whether output is processed with flag `flag` (`OPOST` and `flag`).
    pub const fn output(&self, flag: u32) -> bool {
        self.oflag & oflag::OPOST != 0 && self.oflag & flag != 0
    }

    /// Whether byte `byte` is the (enabled) control character at `index`.
    pub const fn is(&self, index: usize, byte: u8) -> bool {
        self.cc[index] != 0 && self.cc[index] == byte
    }

    /// The settings packed into message words: flags two to a word, then the control
    /// characters eight to a word (little-endian).
    pub fn to_words(&self) -> [u64; TERMIOS_WORDS] {
        let mut words = [0u64; TERMIOS_WORDS];
        words[0] = u64::from(self.iflag) | u64::from(self.oflag) << 32;
        words[1] = u64::from(self.cflag) | u64::from(self.lflag) << 32;
        for (i, &c) in self.cc.iter().enumerate() {
            words[2 + i / 8] |= u64::from(c) << (8 * (i % 8));
        }
        words
    }

    /// The settings of [`Self::to_words`] words; bits beyond the control characters must
    /// be zero.
    ///
    /// # Errors
    /// [`crate::TtyError::Invalid`] when the padding bits of the last word are set.
    pub fn from_words(words: &[u64; TERMIOS_WORDS]) -> Result<Self, crate::TtyError> {
        let used_bits = 8 * (NCCS - 16);
        if words[4] >> used_bits != 0 {
            return Err(crate::TtyError::Invalid);
        }
        let mut cc = [0u8; NCCS];
        for (i, c) in cc.iter_mut().enumerate() {
            *c = (words[2 + i / 8] >> (8 * (i % 8))) as u8;
        }
        Ok(Termios {
            iflag: words[0] as u32,
            oflag: (words[0] >> 32) as u32,
            cflag: words[1] as u32,
            lflag: (words[1] >> 32) as u32,
            cc,
        })
    }
}

impl Default for Termios {
    fn default() -> Self {
        Self::cooked()
    }
}

/// A terminal's window size (`struct winsize`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSize {
    /// Rows of characters.
    pub rows: u16,
    /// Columns of characters.
    pub columns: u16,
    /// Width in pixels (informational).
    pub x_pixels: u16,
    /// Height in pixels (informational).
    pub y_pixels: u16,
}

impl WindowSize {
    /// The size packed into one message word (rows, columns, x pixels, y pixels; 16 bits
    /// each from the low end).
    pub const fn to_word(&self) -> u64 {
        self.rows as u64
            | (self.columns as u64) << 16
            | (self.x_pixels as u64) << 32
            | (self.y_pixels as u64) << 48
    }

    /// The size of a [`Self::to_word`] word.
    pub const fn from_word(word: u64) -> Self {
        WindowSize {
            rows: word as u16,
            columns: (word >> 16) as u16,
            x_pixels: (word >> 32) as u16,
            y_pixels: (word >> 48) as u16,
        }
    }
}
