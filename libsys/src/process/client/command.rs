//! [`Command`]: a process to hatch, built up as `std::process::Command` is.

use super::{hatch, plain, Child, HatchError, Prepared};
use crate::cap::{CNode, Cap};
use egg::Opcode;
use procsrv_api::{Errno, HatchRequest};

/// Bytes a [`Command`] keeps for argv, envp and the egg, each.
pub const COMMAND_BYTES: usize = 1024;

/// A fixed buffer of bytes.
#[derive(Clone, Copy)]
struct Bytes {
    data: [u8; COMMAND_BYTES],
    len: usize,
    overflow: bool,
}

impl Bytes {
    const fn new() -> Self {
        Bytes {
            data: [0; COMMAND_BYTES],
            len: 0,
            overflow: false,
        }
    }
    fn push(&mut self, bytes: &[u8]) {
        match self.data.get_mut(self.len..self.len + bytes.len()) {
            Some(dest) => {
                dest.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }
    fn number(&mut self, mut n: u64) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.push(&[byte]);
                return;
            }
            self.push(&[byte | 0x80]);
        }
    }
    fn string(&mut self, s: &[u8]) {
        self.number(s.len() as u64);
        self.push(s);
    }
    fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

/// A process to hatch: program, arguments, environment, the egg's ops, and caps.
#[derive(Clone)]
pub struct Command<'p> {
    program: &'p [u8],
    argv: Bytes,
    envp: Bytes,
    egg: Bytes,
    caps: Option<(Cap<CNode>, u64)>,
    timeout_ms: u64,
    /// An egg given whole ([`Command::egg_whole`]), used instead of the ops built.
    whole_egg: Option<&'p [u8]>,
}

macro_rules! numeric_ops {
    ($($(#[$m:meta])* $name:ident($($arg:ident),*) => $op:ident;)+) => {
        $(
            $(#[$m])*
            pub fn $name(mut self $(, $arg: u64)*) -> Self {
                self.egg.number(Opcode::$op.number());
                $(self.egg.number($arg);)*
                self
            }
        )+
    };
}

impl<'p> Command<'p> {
    /// A command for `program` (`/bin/NAME`), with no arguments (add argv\[0\] yourself),
    /// no environment and an empty egg.
    pub fn new(program: &'p [u8]) -> Self {
        Command {
            program,
            argv: Bytes::new(),
            envp: Bytes::new(),
            egg: Bytes::new(),
            caps: None,
            timeout_ms: 0,
            whole_egg: None,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: &[u8]) -> Self {
        self.argv.push(arg);
        self.argv.push(&[0]);
        self
    }

    /// Adds an environment variable of the request (the egg's `setenv` is [`Self::setenv`]).
    pub fn env(mut self, name: &[u8], value: &[u8]) -> Self {
        self.envp.push(name);
        self.envp.push(b"=");
        self.envp.push(value);
        self.envp.push(&[0]);
        self
    }

    /// Sends the caps of `cnode` (guard 0, `2^radix` slots): the egg's cap indices.
    pub fn caps(mut self, cnode: Cap<CNode>, radix: u64) -> Self {
        self.caps = Some((cnode, radix));
        self
    }

    /// Bounds each file-server call made for this hatch.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = ms;
        self
    }

    /// The egg is `egg`, whole, instead of the ops built with the other methods (before or
    /// after): for eggs past the builder's [`COMMAND_BYTES`]. A request bigger than the
    /// IPC buffer (4,048 bytes of path, argv, envp and egg) travels in request pages
    /// (`procsrv_api::RequestPages`), up to 32 KiB, still in one round trip.
    pub fn egg_whole(mut self, egg: &'p [u8]) -> Self {
        self.whole_egg = Some(egg);
        self
    }

    /// Appends raw egg bytes (any op, including ones this builder has no method for).
    pub fn egg_bytes(mut self, bytes: &[u8]) -> Self {
        self.egg.push(bytes);
        self
    }

    numeric_ops! {
        /// `dup2 from to`.
        dup2(from, to) => Dup2;
        /// `close fd`.
        close(fd) => Close;
        /// `closefrom fd`.
        closefrom(fd) => Closefrom;
        /// `setpgid pgid`.
        setpgid(pgid) => Setpgid;
        /// `tcsetpgrp fd pgid`.
        tcsetpgrp(fd, pgid) => Tcsetpgrp;
        /// `fchdir fd`.
        fchdir(fd) => Fchdir;
        /// `sigdefault signals`.
        sigdefault(signals) => Sigdefault;
        /// `setaffinity cpus`.
        setaffinity(cpus) => Setaffinity;
        /// `setsid`.
        setsid() => Setsid;
        /// `setctty fd`.
        setctty(fd) => Setctty;
        /// `cap slot source rights badge`.
        cap(slot, source, rights, badge) => Cap;
        /// `sigsetmask signals`.
        sigsetmask(signals) => Sigsetmask;
        /// `sigignore signals`.
        sigignore(signals) => Sigignore;
        /// `setuid uid`.
        setuid(uid) => Setuid;
        /// `setgid gid`.
        setgid(gid) => Setgid;
        /// `umask mask`.
        umask(mask) => Umask;
        /// `setrlimit resource soft hard`.
        setrlimit(resource, soft, hard) => Setrlimit;
        /// `setpriority priority`.
        setpriority(priority) => Setpriority;
        /// `start_suspended`.
        start_suspended() => StartSuspended;
        /// `clearenv`.
        clearenv() => Clearenv;
    }

    /// `open fd path flags mode`.
    pub fn open(mut self, fd: u64, path: &[u8], flags: u64, mode: u64) -> Self {
        self.egg.number(Opcode::Open.number());
        self.egg.number(fd);
        self.egg.string(path);
        self.egg.number(flags);
        self.egg.number(mode);
        self
    }

    /// `setenv name value`.
    pub fn setenv(mut self, name: &[u8], value: &[u8]) -> Self {
        self.egg.number(Opcode::Setenv.number());
        self.egg.string(name);
        self.egg.string(value);
        self
    }

    /// `chdir path`.
    pub fn chdir(mut self, path: &[u8]) -> Self {
        self.egg.number(Opcode::Chdir.number());
        self.egg.string(path);
        self
    }

    /// `unsetenv name`.
    pub fn unsetenv(mut self, name: &[u8]) -> Self {
        self.egg.number(Opcode::Unsetenv.number());
        self.egg.string(name);
        self
    }

    /// `setgroups ids...`.
    pub fn setgroups(mut self, groups: &[u32]) -> Self {
        self.egg.number(Opcode::Setgroups.number());
        self.egg.number(groups.len() as u64);
        for &g in groups {
            self.egg.number(g.into());
        }
        self
    }

    /// `setname name`.
    pub fn setname(mut self, name: &[u8]) -> Self {
        self.egg.number(Opcode::Setname.number());
        self.egg.string(name);
        self
    }

    /// `bind path source`.
    pub fn bind(mut self, path: &[u8], source: u64) -> Self {
        self.egg.number(Opcode::Bind.number());
        self.egg.string(path);
        self.egg.number(source);
        self
    }

    /// The egg built so far.
    pub fn egg(&self) -> &[u8] {
        self.egg.bytes()
    }

    /// The request [`Self::spawn`] sends, and the CNode of caps sent with it.
    ///
    /// # Errors
    /// E2BIG when the builder's buffers overflowed.
    pub fn request(&self) -> Result<(HatchRequest<'_>, Option<Cap<CNode>>), HatchError> {
        if self.argv.overflow || self.envp.overflow || self.egg.overflow {
            return Err(plain(Errno::E2BIG));
        }
        let request = HatchRequest {
            program: self.program,
            argv: self.argv.bytes(),
            envp: self.envp.bytes(),
            egg: self.whole_egg.unwrap_or(self.egg.bytes()),
            cap_radix: self.caps.map_or(0, |(_, r)| r),
            timeout_ms: self.timeout_ms,
        };
        Ok((request, self.caps.map(|(c, _)| c)))
    }

    /// Encodes the hatch request once, for a parent that hatches this same child many
    /// times ([`Prepared::spawn`] sends the words as they are).
    ///
    /// # Errors
    /// [`HatchError`]: E2BIG when the builder's buffers overflowed or the request does not
    /// fit one message (4,048 bytes: such a request travels in request pages, which only
    /// [`Self::spawn`] sends).
    pub fn prepare(&self) -> Result<Prepared, HatchError> {
        let (request, caps) = self.request()?;
        Prepared::new(&request, caps)
    }

    /// Hatches it.
    ///
    /// # Errors
    /// [`HatchError`] (E2BIG when the builder's buffers overflowed).
    pub fn spawn(&self) -> Result<Child, HatchError> {
        let (request, caps) = self.request()?;
        let (pid, handle) = hatch(&request, caps)?;
        Ok(Child { pid, handle })
    }
}
