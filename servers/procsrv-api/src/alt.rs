//! The two other ways of describing a child that issue 10 measures against the egg. Both
//! end in the same hatch: procsrv turns what they say into egg ops and builds the child
//! through the same code as a `HATCH` request (docs/procsrv.md, "Chatty and struct").
//!
//! - **chatty** (as Fuchsia's process launcher): `LAUNCH_CREATE` (a hatch request with an
//!   empty egg) returns a launch id; then one `LAUNCH_ADD` per attribute, each holding one
//!   attribute as typed words ([`attribute_words`]); then `LAUNCH_START` with the caps.
//! - **struct** (as `posix_spawn` or `CreateProcess`): one `SPAWN_STRUCT` message holding a
//!   fixed, versioned attribute block plus a file-action array ([`SpawnAttrs`]). The struct
//!   applies its fields in one fixed order ([`SpawnAttrs::to_egg`]), so it cannot say
//!   everything an egg can: [`SpawnAttrs::from_egg`] refuses those eggs ([`NotExpressible`]).

use crate::{Errno, HatchRequest};
use egg::{Op, Opcode, OperandValue, Shape};

/// Launches procsrv keeps open at once (all callers together).
pub const MAX_LAUNCHES: usize = 4;
/// Most bytes of one string operand of a chatty attribute.
pub const MAX_ATTRIBUTE_STRING: u64 = 4096;
/// Version of the struct this procsrv reads.
pub const STRUCT_VERSION: u64 = 1;
/// Words of the struct's fixed header.
pub const STRUCT_HEADER_WORDS: usize = 16;
/// Most file actions of one struct.
pub const MAX_FILE_ACTIONS: usize = 128;
/// Most resource limits of one struct.
pub const MAX_RLIMITS: usize = 16;
/// Words of one file action.
pub const FILE_ACTION_WORDS: usize = 4;

/// Flag bits of the struct's word 1: which fixed attributes are set.
pub mod spawn_flags {
    /// `setsid` (first of all).
    pub const SETSID: u64 = 1;
    /// `setpgid(pgid)` (after `setsid`).
    pub const SETPGROUP: u64 = 1 << 1;
    /// Signal mask.
    pub const SETSIGMASK: u64 = 1 << 2;
    /// Signals reset to their default.
    pub const SETSIGDEF: u64 = 1 << 3;
    /// Signals ignored.
    pub const SETSIGIGN: u64 = 1 << 4;
    /// File mode creation mask (after the file actions).
    pub const SETUMASK: u64 = 1 << 5;
    /// Group id (after the limits).
    pub const SETGID: u64 = 1 << 6;
    /// User id (last but one: after the group id).
    pub const SETUID: u64 = 1 << 7;
    /// Process name.
    pub const SETNAME: u64 = 1 << 8;
    /// Leave the child suspended.
    pub const START_SUSPENDED: u64 = 1 << 9;
    /// Every flag this version knows.
    pub const ALL: u64 = (1 << 10) - 1;
}

/// Kinds of file action (word 0 of each, low 8 bits).
pub mod file_action {
    /// `open(path, flags, mode)` onto fd `a` (`b` flags, `c` mode).
    pub const OPEN: u64 = 1;
    /// `close(a)`.
    pub const CLOSE: u64 = 2;
    /// `dup2(a, b)`.
    pub const DUP2: u64 = 3;
    /// `closefrom(a)`.
    pub const CLOSEFROM: u64 = 4;
    /// `chdir(path)`.
    pub const CHDIR: u64 = 5;
    /// `fchdir(a)`.
    pub const FCHDIR: u64 = 6;
    /// Copy request cap `b` into child slot `a` with the rights of word 0 bits 24..32,
    /// minting badge `c` (Hatchery's handle inheritance, as `CreateProcess`'s list).
    pub const CAP: u64 = 7;
}

/// An egg op a struct cannot say, or cannot say in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotExpressible {
    /// Index of the op in the egg.
    pub op_index: usize,
    /// Why.
    pub why: &'static str,
}

/// Bytes written into a fixed buffer.
#[derive(Debug)]
pub struct ByteWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> ByteWriter<'a> {
    /// A writer at offset `len` of `buf`.
    pub fn new(buf: &'a mut [u8], len: usize) -> Self {
        let len = len.min(buf.len());
        ByteWriter { buf, len }
    }

    /// Bytes written (from the start of the buffer).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends `bytes`.
    ///
    /// # Errors
    /// E2BIG when the buffer is full.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        let dest = self
            .buf
            .get_mut(self.len..self.len + bytes.len())
            .ok_or(Errno::E2BIG)?;
        dest.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    /// Appends `n` as ULEB128 (the egg's numbers).
    ///
    /// # Errors
    /// E2BIG when the buffer is full.
    pub fn number(&mut self, mut n: u64) -> Result<(), Errno> {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                return self.push(&[byte]);
            }
            self.push(&[byte | 0x80])?;
        }
    }

    /// Appends an egg string: its length, then its bytes.
    ///
    /// # Errors
    /// E2BIG when the buffer is full.
    pub fn string(&mut self, s: &[u8]) -> Result<(), Errno> {
        self.number(s.len() as u64)?;
        self.push(s)
    }

    /// Appends one op in its egg encoding.
    ///
    /// # Errors
    /// E2BIG when the buffer is full.
    pub fn op(&mut self, op: &Op<'_>) -> Result<(), Errno> {
        self.number(op.opcode().number())?;
        for (_, value) in op.operands() {
            match value {
                OperandValue::Number(n) => self.number(n)?,
                OperandValue::String(s) => self.string(s.as_bytes())?,
                OperandValue::IdList(ids) => {
                    self.number(ids.len() as u64)?;
                    self.push(ids.encoded())?;
                }
            }
        }
        Ok(())
    }
}

/// Words written into a fixed buffer.
struct WordWriter<'a> {
    buf: &'a mut [u64],
    len: usize,
}

impl WordWriter<'_> {
    fn word(&mut self, w: u64) -> Result<(), Errno> {
        *self.buf.get_mut(self.len).ok_or(Errno::E2BIG)? = w;
        self.len += 1;
        Ok(())
    }

    /// `bytes` packed little-endian, 8 per word, the last word padded with zeros.
    fn bytes(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w))?;
        }
        Ok(())
    }
}

/// Words read from a message given as its little-endian bytes.
struct WordReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> WordReader<'a> {
    fn word(&mut self) -> Result<u64, Errno> {
        let b = self.bytes.get(self.at..self.at + 8).ok_or(Errno::EFAULT)?;
        self.at += 8;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }

    /// `len` bytes packed 8 per word (the reader moves on by whole words).
    fn bytes(&mut self, len: u64) -> Result<&'a [u8], Errno> {
        let len = usize::try_from(len).map_err(|_| Errno::E2BIG)?;
        let b = self
            .bytes
            .get(self.at..self.at + len)
            .ok_or(Errno::EFAULT)?;
        self.at += len.div_ceil(8) * 8;
        Ok(b)
    }
}

/// Writes `op` as the words of one chatty `LAUNCH_ADD` after the launch id: the opcode
/// number, then each operand: a number as one word, a string as its length and then its
/// bytes (8 per word), an id list as its count and then one word per id. Returns the words
/// written.
///
/// # Errors
/// E2BIG when `out` is too small.
pub fn attribute_words(op: &Op<'_>, out: &mut [u64]) -> Result<usize, Errno> {
    let mut w = WordWriter { buf: out, len: 0 };
    w.word(op.opcode().number())?;
    for (_, value) in op.operands() {
        match value {
            OperandValue::Number(n) => w.word(n)?,
            OperandValue::String(s) => {
                w.word(s.len() as u64)?;
                w.bytes(s.as_bytes())?;
            }
            OperandValue::IdList(ids) => {
                w.word(ids.len() as u64)?;
                for id in ids.iter() {
                    w.word(id.into())?;
                }
            }
        }
    }
    Ok(w.len)
}

/// Appends the egg encoding of the attribute in `message` (the words of a `LAUNCH_ADD`
/// after the launch id, as little-endian bytes) to `out`, checked as the egg's validator
/// checks an op.
///
/// # Errors
/// EINVAL for an unknown attribute, a value out of range or words left over; EFAULT when
/// the message is shorter than its operands; E2BIG when `out` is full.
pub fn attribute_to_egg(message: &[u8], out: &mut ByteWriter<'_>) -> Result<(), Errno> {
    let mut r = WordReader {
        bytes: message,
        at: 0,
    };
    let opcode = Opcode::from_number(r.word()?).ok_or(Errno::EINVAL)?;
    let start = out.len();
    out.number(opcode.number())?;
    for info in opcode.operands() {
        match info.kind.shape() {
            Shape::Number { .. } => out.number(r.word()?)?,
            Shape::String => {
                let len = r.word()?;
                if len > MAX_ATTRIBUTE_STRING {
                    return Err(Errno::E2BIG);
                }
                out.string(r.bytes(len)?)?;
            }
            Shape::IdList => {
                let count = r.word()?;
                if count > egg::MAX_GROUPS {
                    return Err(Errno::E2BIG);
                }
                out.number(count)?;
                for _ in 0..count {
                    out.number(r.word()?)?;
                }
            }
        }
    }
    if r.at != message.len() {
        return Err(Errno::EINVAL);
    }
    egg::validate(&out.bytes()[start..]).map_err(|_| Errno::EINVAL)?;
    Ok(())
}

/// One file action of a struct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileAction<'a> {
    /// One of [`file_action`].
    pub kind: u64,
    /// First operand.
    pub a: u64,
    /// Second operand.
    pub b: u64,
    /// Third operand.
    pub c: u64,
    /// Rights of a `CAP` action.
    pub rights: u8,
    /// Path of an `OPEN` or `CHDIR` action.
    pub path: &'a [u8],
}

/// The struct: fixed attributes and file actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnAttrs<'a> {
    /// [`spawn_flags`].
    pub flags: u64,
    /// Process group of `SETPGROUP`.
    pub pgid: u64,
    /// Signal mask of `SETSIGMASK`.
    pub sigmask: u64,
    /// Signals of `SETSIGDEF`.
    pub sigdefault: u64,
    /// Signals of `SETSIGIGN`.
    pub sigignore: u64,
    /// Mask of `SETUMASK`.
    pub umask: u64,
    /// User id of `SETUID`.
    pub uid: u64,
    /// Group id of `SETGID`.
    pub gid: u64,
    /// Name of `SETNAME`.
    pub name: &'a [u8],
    /// `(resource, soft, hard)` in order.
    pub rlimits: [(u64, u64, u64); MAX_RLIMITS],
    /// Used entries of `rlimits`.
    pub rlimit_count: usize,
    /// File actions in order.
    pub actions: [FileAction<'a>; MAX_FILE_ACTIONS],
    /// Used entries of `actions`.
    pub action_count: usize,
}

impl Default for SpawnAttrs<'_> {
    fn default() -> Self {
        SpawnAttrs {
            flags: 0,
            pgid: 0,
            sigmask: 0,
            sigdefault: 0,
            sigignore: 0,
            umask: 0,
            uid: 0,
            gid: 0,
            name: &[],
            rlimits: [(0, 0, 0); MAX_RLIMITS],
            rlimit_count: 0,
            actions: [FileAction::default(); MAX_FILE_ACTIONS],
            action_count: 0,
        }
    }
}

/// Where each op an egg can hold goes in the struct's fixed order; ops of a lower phase
/// may not follow ops of a higher one. `None`: a field that commutes with every other op.
fn phase(op: &Op<'_>) -> Result<Option<u8>, &'static str> {
    Ok(match op {
        Op::Setsid {} => Some(0),
        Op::Setpgid { .. } => Some(1),
        Op::Open { .. }
        | Op::Close { .. }
        | Op::Dup2 { .. }
        | Op::Closefrom { .. }
        | Op::Chdir { .. }
        | Op::Fchdir { .. }
        | Op::Cap { .. } => Some(2),
        Op::Umask { .. } => Some(3),
        Op::Setrlimit { .. } => Some(4),
        Op::Setgid { .. } => Some(5),
        Op::Setuid { .. } => Some(6),
        Op::Sigsetmask { .. }
        | Op::Sigdefault { .. }
        | Op::Sigignore { .. }
        | Op::Setname { .. }
        | Op::Setenv { .. }
        | Op::StartSuspended {} => None,
        Op::Setctty { .. } => return Err("no field for a controlling terminal"),
        Op::Tcsetpgrp { .. } => return Err("no field for a terminal's foreground group"),
        Op::Bind { .. } => return Err("no field for namespace bindings"),
        Op::Setgroups { .. } => return Err("no field for supplementary groups"),
        Op::Setpriority { .. } => return Err("no field for a priority"),
        Op::Setaffinity { .. } => return Err("no field for an affinity"),
        Op::Unsetenv { .. } | Op::Clearenv {} => {
            return Err("the environment is one array: nothing removes from it")
        }
    })
}

/// Removes `NAME=...` from the NUL-ended strings of `env` (its first `len` bytes); returns
/// the new length.
fn env_remove(env: &mut [u8], len: usize, name: &[u8]) -> usize {
    let mut at = 0;
    let mut len = len;
    while at < len {
        let end = env[at..len]
            .iter()
            .position(|&b| b == 0)
            .map_or(len, |e| at + e + 1);
        let s = &env[at..end];
        if s.len() > name.len() && s.starts_with(name) && s[name.len()] == b'=' {
            env.copy_within(end..len, at);
            len -= end - at;
        } else {
            at = end;
        }
    }
    len
}

impl<'a> SpawnAttrs<'a> {
    /// The struct that says what `egg` says, with the egg's `setenv`s applied to `envp`
    /// (written to `env_out`, whose used length is returned beside the struct).
    ///
    /// # Errors
    /// [`NotExpressible`]: an op without a field, an op out of the struct's fixed order
    /// (e.g. `setpgid` before `setsid`, `setuid` before `setgid`, an `open` after `umask`),
    /// a field set twice, or more file actions or limits than the struct holds.
    pub fn from_egg(
        egg: &'a [u8],
        envp: &[u8],
        env_out: &mut [u8],
    ) -> Result<(SpawnAttrs<'a>, usize), NotExpressible> {
        use spawn_flags as f;
        let mut s = SpawnAttrs::default();
        env_out
            .get_mut(..envp.len())
            .ok_or(NotExpressible {
                op_index: 0,
                why: "environment too big",
            })?
            .copy_from_slice(envp);
        let mut env_len = envp.len();
        let mut last = 0u8;
        for (index, op) in egg::decode(egg).enumerate() {
            let fail = |why| NotExpressible {
                op_index: index,
                why,
            };
            let op = op.map_err(|_| fail("not a valid egg"))?;
            if let Some(p) = phase(&op).map_err(fail)? {
                if p < last {
                    return Err(fail("out of the struct's fixed order"));
                }
                last = p;
            }
            let mut set = |flag: u64| {
                if s.flags & flag != 0 {
                    return Err(fail("the struct has one such field"));
                }
                s.flags |= flag;
                Ok(())
            };
            let mut action = FileAction::default();
            match op {
                Op::Setsid {} => set(f::SETSID)?,
                Op::Setpgid { pgid } => {
                    set(f::SETPGROUP)?;
                    s.pgid = pgid.into();
                }
                Op::Umask { mask } => {
                    set(f::SETUMASK)?;
                    s.umask = mask.into();
                }
                Op::Sigsetmask { signals } => {
                    set(f::SETSIGMASK)?;
                    s.sigmask = signals.0;
                }
                Op::Sigdefault { signals } => {
                    set(f::SETSIGDEF)?;
                    s.sigdefault = signals.0;
                }
                Op::Sigignore { signals } => {
                    set(f::SETSIGIGN)?;
                    s.sigignore = signals.0;
                }
                Op::Setname { name } => {
                    set(f::SETNAME)?;
                    s.name = name.as_bytes();
                }
                Op::Setgid { gid } => {
                    set(f::SETGID)?;
                    s.gid = gid.into();
                }
                Op::Setuid { uid } => {
                    set(f::SETUID)?;
                    s.uid = uid.into();
                }
                Op::StartSuspended {} => set(f::START_SUSPENDED)?,
                Op::Setrlimit {
                    resource,
                    soft,
                    hard,
                } => {
                    let slot = s
                        .rlimits
                        .get_mut(s.rlimit_count)
                        .ok_or(fail("more limits than the struct holds"))?;
                    *slot = (u64::from(resource), soft, hard);
                    s.rlimit_count += 1;
                }
                Op::Setenv { name, value } => {
                    let (name, value) = (name.as_bytes(), value.as_bytes());
                    env_len = env_remove(env_out, env_len, name);
                    let mut w = ByteWriter::new(env_out, env_len);
                    w.push(name)
                        .and_then(|()| w.push(b"="))
                        .and_then(|()| w.push(value))
                        .and_then(|()| w.push(&[0]))
                        .map_err(|_| fail("environment too big"))?;
                    env_len = w.len();
                }
                Op::Open {
                    fd,
                    path,
                    flags,
                    mode,
                } => {
                    action = FileAction {
                        kind: file_action::OPEN,
                        a: fd.into(),
                        b: flags.0.into(),
                        c: mode.into(),
                        rights: 0,
                        path: path.as_bytes(),
                    }
                }
                Op::Close { fd } => {
                    action.kind = file_action::CLOSE;
                    action.a = fd.into();
                }
                Op::Dup2 { from, to } => {
                    action.kind = file_action::DUP2;
                    action.a = from.into();
                    action.b = to.into();
                }
                Op::Closefrom { fd } => {
                    action.kind = file_action::CLOSEFROM;
                    action.a = fd.into();
                }
                Op::Chdir { path } => {
                    action.kind = file_action::CHDIR;
                    action.path = path.as_bytes();
                }
                Op::Fchdir { fd } => {
                    action.kind = file_action::FCHDIR;
                    action.a = fd.into();
                }
                Op::Cap {
                    slot,
                    source,
                    rights,
                    badge,
                } => {
                    action = FileAction {
                        kind: file_action::CAP,
                        a: slot.into(),
                        b: source.into(),
                        c: badge,
                        rights: rights.0,
                        path: &[],
                    }
                }
                _ => return Err(fail("no field")),
            }
            if action.kind != 0 {
                let slot = s
                    .actions
                    .get_mut(s.action_count)
                    .ok_or(fail("more file actions than the struct holds"))?;
                *slot = action;
                s.action_count += 1;
            }
        }
        Ok((s, env_len))
    }

    /// Encodes the `SPAWN_STRUCT` message for `request` (whose egg is ignored) into `out`;
    /// returns the words written.
    ///
    /// Layout: words 0..16 the header (version, flags, pgid, sigmask, sigdefault, sigignore,
    /// umask, uid, gid, cap radix, timeout, program length, argv length, envp length, name
    /// length, limit count | action count << 16), 3 words per limit, 4 per file action
    /// (kind | path length << 8 | rights << 24, a, b, c), then the bytes: program, argv,
    /// envp, name and the actions' paths, 8 per word.
    ///
    /// # Errors
    /// E2BIG when `out` is too small.
    pub fn encode(&self, request: &HatchRequest<'_>, out: &mut [u64]) -> Result<usize, Errno> {
        let mut w = WordWriter { buf: out, len: 0 };
        let counts = (self.rlimit_count as u64) | (self.action_count as u64) << 16;
        for word in [
            STRUCT_VERSION,
            self.flags,
            self.pgid,
            self.sigmask,
            self.sigdefault,
            self.sigignore,
            self.umask,
            self.uid,
            self.gid,
            request.cap_radix,
            request.timeout_ms,
            request.program.len() as u64,
            request.argv.len() as u64,
            request.envp.len() as u64,
            self.name.len() as u64,
            counts,
        ] {
            w.word(word)?;
        }
        for &(resource, soft, hard) in &self.rlimits[..self.rlimit_count] {
            w.word(resource)?;
            w.word(soft)?;
            w.word(hard)?;
        }
        for a in &self.actions[..self.action_count] {
            let len = a.path.len() as u64;
            if len >= 1 << 16 {
                return Err(Errno::E2BIG);
            }
            w.word(a.kind | len << 8 | u64::from(a.rights) << 24)?;
            w.word(a.a)?;
            w.word(a.b)?;
            w.word(a.c)?;
        }
        let mut bytes = [0u8; crate::MAX_REQUEST_BYTES];
        let mut b = ByteWriter::new(&mut bytes, 0);
        for part in [request.program, request.argv, request.envp, self.name] {
            b.push(part)?;
        }
        for a in &self.actions[..self.action_count] {
            b.push(a.path)?;
        }
        w.bytes(b.bytes())?;
        Ok(w.len)
    }

    /// Decodes a `SPAWN_STRUCT` message (`message`: its words as little-endian bytes) and
    /// writes the egg it stands for to `egg_out`, in the struct's fixed order: `setsid`,
    /// `setpgid`, the file actions in order, `umask`, the signal fields, the name, the
    /// limits in order, `setgid`, `setuid`, `start_suspended`. Returns the request, its egg
    /// being the bytes written to `egg_out` (the hatch validates them as any egg).
    ///
    /// # Errors
    /// EINVAL for another version, unknown flags or actions; EFAULT when the message is
    /// shorter than its header says; E2BIG when it holds too much; the errors of a hatch
    /// request's checks ([`crate::RequestError`]).
    pub fn to_egg<'m>(message: &'m [u8], egg_out: &'m mut [u8]) -> Result<HatchRequest<'m>, Errno> {
        use spawn_flags as f;
        let mut r = WordReader {
            bytes: message,
            at: 0,
        };
        let mut h = [0u64; STRUCT_HEADER_WORDS];
        for word in &mut h {
            *word = r.word()?;
        }
        if h[0] != STRUCT_VERSION || h[1] & !f::ALL != 0 {
            return Err(Errno::EINVAL);
        }
        let flags = h[1];
        let rlimit_count = (h[15] & 0xffff) as usize;
        let action_count = (h[15] >> 16) as usize;
        if rlimit_count > MAX_RLIMITS || action_count > MAX_FILE_ACTIONS {
            return Err(Errno::E2BIG);
        }
        let limits_at = r.at;
        let actions_at = limits_at + rlimit_count * 3 * 8;
        r.at = actions_at + action_count * FILE_ACTION_WORDS * 8;
        let mut total = 0u64;
        let mut actions = WordReader {
            bytes: message,
            at: actions_at,
        };
        for _ in 0..action_count {
            total += (actions.word()? >> 8) & 0xffff;
            actions.at += 3 * 8;
        }
        for len in [h[11], h[12], h[13], h[14]] {
            total = total.checked_add(len).ok_or(Errno::E2BIG)?;
        }
        if total > crate::MAX_REQUEST_BYTES as u64 {
            return Err(Errno::E2BIG);
        }
        let all = r.bytes(total)?;
        let mut at = 0usize;
        let mut take = |len: u64| {
            let part = &all[at..at + len as usize];
            at += len as usize;
            part
        };
        let (program, argv, envp, name) = (take(h[11]), take(h[12]), take(h[13]), take(h[14]));
        let mut egg = ByteWriter::new(egg_out, 0);
        let e = &mut egg;
        if flags & f::SETSID != 0 {
            put(e, Opcode::Setsid, &[])?;
        }
        if flags & f::SETPGROUP != 0 {
            put(e, Opcode::Setpgid, &[h[2]])?;
        }
        let mut actions = WordReader {
            bytes: message,
            at: actions_at,
        };
        for _ in 0..action_count {
            let w0 = actions.word()?;
            let (a, b, c) = (actions.word()?, actions.word()?, actions.word()?);
            let path = take((w0 >> 8) & 0xffff);
            match w0 & 0xff {
                file_action::OPEN => {
                    put(e, Opcode::Open, &[a])?;
                    e.string(path)?;
                    e.number(b)?;
                    e.number(c)?;
                }
                file_action::CLOSE => put(e, Opcode::Close, &[a])?,
                file_action::DUP2 => put(e, Opcode::Dup2, &[a, b])?,
                file_action::CLOSEFROM => put(e, Opcode::Closefrom, &[a])?,
                file_action::CHDIR => {
                    put(e, Opcode::Chdir, &[])?;
                    e.string(path)?;
                }
                file_action::FCHDIR => put(e, Opcode::Fchdir, &[a])?,
                file_action::CAP => put(e, Opcode::Cap, &[a, b, (w0 >> 24) & 0xff, c])?,
                _ => return Err(Errno::EINVAL),
            }
        }
        if flags & f::SETUMASK != 0 {
            put(e, Opcode::Umask, &[h[6]])?;
        }
        if flags & f::SETSIGMASK != 0 {
            put(e, Opcode::Sigsetmask, &[h[3]])?;
        }
        if flags & f::SETSIGDEF != 0 {
            put(e, Opcode::Sigdefault, &[h[4]])?;
        }
        if flags & f::SETSIGIGN != 0 {
            put(e, Opcode::Sigignore, &[h[5]])?;
        }
        if flags & f::SETNAME != 0 {
            put(e, Opcode::Setname, &[])?;
            e.string(name)?;
        }
        let mut limits = WordReader {
            bytes: message,
            at: limits_at,
        };
        for _ in 0..rlimit_count {
            let (resource, soft, hard) = (limits.word()?, limits.word()?, limits.word()?);
            put(e, Opcode::Setrlimit, &[resource, soft, hard])?;
        }
        if flags & f::SETGID != 0 {
            put(e, Opcode::Setgid, &[h[8]])?;
        }
        if flags & f::SETUID != 0 {
            put(e, Opcode::Setuid, &[h[7]])?;
        }
        if flags & f::START_SUSPENDED != 0 {
            put(e, Opcode::StartSuspended, &[])?;
        }
        let egg_len = egg.len();
        let egg_out: &'m [u8] = egg_out;
        let request = HatchRequest {
            program,
            argv,
            envp,
            egg: &egg_out[..egg_len],
            cap_radix: h[9],
            timeout_ms: h[10],
        };
        crate::request::check_request(&request).map_err(|e| e.errno())?;
        Ok(request)
    }
}

/// Appends an op with number operands only (string operands follow through `egg`).
fn put(egg: &mut ByteWriter<'_>, opcode: Opcode, operands: &[u64]) -> Result<(), Errno> {
    egg.number(opcode.number())?;
    for &o in operands {
        egg.number(o)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn asm(text: &str) -> Vec<u8> {
        egg::assemble(text).expect("assembles")
    }

    /// Message words as the little-endian bytes procsrv reads them from.
    fn le(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    const EVERY_KIND: &str = "setsid\nopen 3 \"/dev/null\" O_WRONLY|O_CREAT 0o644\n\
        cap 64 0 READ|WRITE 7\ndup2 3 1\nsetgroups 1 2 70000\nsetenv \"TERM\" \"vt100\"\n\
        setrlimit RLIMIT_NOFILE 64 64\nsigsetmask SIGINT|SIGTERM\nsetname \"a-longer-name\"";

    #[test]
    fn chatty_attributes_rebuild_the_egg_byte_for_byte() {
        let egg = asm(EVERY_KIND);
        let mut out = [0u8; 512];
        let mut w = ByteWriter::new(&mut out, 0);
        for op in egg::decode(&egg) {
            let mut words = [0u64; 64];
            let n = attribute_words(&op.unwrap(), &mut words).unwrap();
            attribute_to_egg(&le(&words[..n]), &mut w).unwrap();
        }
        assert_eq!(w.bytes(), &egg[..]);
    }

    #[test]
    fn bad_chatty_attributes_are_refused() {
        let mut out = [0u8; 64];
        let mut w = ByteWriter::new(&mut out, 0);
        // Unknown attribute, missing operand, words left over, a value out of range.
        assert_eq!(attribute_to_egg(&le(&[999]), &mut w), Err(Errno::EINVAL));
        assert_eq!(attribute_to_egg(&le(&[2, 1]), &mut w), Err(Errno::EFAULT));
        assert_eq!(
            attribute_to_egg(&le(&[2, 1, 2, 3]), &mut w),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            attribute_to_egg(&le(&[11, 64, 0, 16, 0]), &mut w),
            Err(Errno::EINVAL)
        );
        // A string longer than the message.
        assert_eq!(
            attribute_to_egg(&le(&[9, 100, 0]), &mut w),
            Err(Errno::EFAULT)
        );
        // Nothing is left of a refused attribute but the bytes past the writer's length.
        let mut small = [0u8; 2];
        let mut w = ByteWriter::new(&mut small, 0);
        assert_eq!(
            attribute_to_egg(&le(&[24, 1, 65, 1, 66]), &mut w),
            Err(Errno::E2BIG)
        );
    }

    fn through_struct(egg: &[u8], envp: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut env = [0u8; 256];
        let (attrs, env_len) = SpawnAttrs::from_egg(egg, envp, &mut env).expect("expressible");
        let request = HatchRequest {
            program: b"/bin/tiny",
            argv: b"tiny\0",
            envp: &env[..env_len],
            egg: &[],
            cap_radix: 1,
            timeout_ms: 5,
        };
        let mut words = [0u64; 512];
        let n = attrs.encode(&request, &mut words).unwrap();
        let message = le(&words[..n]);
        let mut out = [0u8; 512];
        let r = SpawnAttrs::to_egg(&message, &mut out).unwrap();
        assert_eq!(r.program, b"/bin/tiny");
        assert_eq!(r.argv, b"tiny\0");
        assert_eq!((r.cap_radix, r.timeout_ms), (1, 5));
        (r.egg.to_vec(), r.envp.to_vec())
    }

    #[test]
    fn the_struct_says_an_egg_in_its_order_with_setenv_moved_into_envp() {
        let ten = "setsid\ncap 64 0 READ|WRITE 0\ndup2 0 1\ndup2 0 2\nchdir \"/\"\numask 0o22\n\
                   sigsetmask 0\nsetenv \"TERM\" \"vt100\"\nsetname \"sh\"\n\
                   setrlimit RLIMIT_NOFILE 64 64";
        let (egg, env) = through_struct(&asm(ten), b"TERM=dumb\0HOME=/\0");
        // A value of the same length replaces the old one too.
        let (_, same_length) = through_struct(&asm(ten), b"TERM=vt220\0");
        assert_eq!(same_length, b"TERM=vt100\0");
        let without_setenv = ten.replace("setenv \"TERM\" \"vt100\"\n", "");
        assert_eq!(egg, asm(&without_setenv));
        // The variable is replaced, as the egg's setenv replaces it.
        assert_eq!(env, b"HOME=/\0TERM=vt100\0");
        // Every field and action kind, reordered as the struct orders them.
        let all = "setsid\nsetpgid 0\nopen 3 \"/dev/null\" O_RDONLY 0\nclose 4\ndup2 3 0\n\
                   closefrom 10\nchdir \"/tmp\"\nfchdir 3\ncap 20 0 READ 9\nsigdefault SIGINT\n\
                   umask 0o77\nsigignore SIGPIPE\nsetrlimit RLIMIT_NOFILE 32 64\n\
                   setgid 100\nsetuid 100\nstart_suspended";
        let expected = "setsid\nsetpgid 0\nopen 3 \"/dev/null\" O_RDONLY 0\nclose 4\ndup2 3 0\n\
                   closefrom 10\nchdir \"/tmp\"\nfchdir 3\ncap 20 0 READ 9\numask 0o77\n\
                   sigdefault SIGINT\nsigignore SIGPIPE\nsetrlimit RLIMIT_NOFILE 32 64\n\
                   setgid 100\nsetuid 100\nstart_suspended";
        assert_eq!(through_struct(&asm(all), b"").0, asm(expected));
    }

    #[test]
    fn eggs_the_struct_cannot_say_are_refused_with_the_op() {
        let cases = [
            ("setpgid 0\nsetsid", 1),
            ("setuid 5\nsetgid 5", 1),
            ("setsid\nopen 0 \"/dev/tty\" O_RDWR 0\nsetctty 0", 2),
            ("umask 0o22\nopen 3 \"/f\" O_WRONLY|O_CREAT 0o666", 1),
            ("setname \"a\"\nsetname \"b\"", 1),
            ("setenv \"A\" \"1\"\nunsetenv \"A\"", 1),
            ("setrlimit RLIMIT_NOFILE 8 8\ndup2 0 9", 1),
            ("bind \"/srv\" 0", 0),
            ("setpriority 3", 0),
        ];
        let mut env = [0u8; 64];
        for (text, index) in cases {
            let egg = asm(text);
            let e = SpawnAttrs::from_egg(&egg, b"", &mut env).expect_err(text);
            assert_eq!(e.op_index, index, "{text}: {}", e.why);
        }
    }

    #[test]
    fn malformed_structs_are_refused() {
        let mut env = [0u8; 16];
        let egg = asm("setsid\nclose 3");
        let (attrs, _) = SpawnAttrs::from_egg(&egg, b"", &mut env).unwrap();
        let request = HatchRequest {
            program: b"/bin/tiny",
            argv: b"",
            envp: b"",
            egg: &[],
            cap_radix: 0,
            timeout_ms: 0,
        };
        let mut words = [0u64; 64];
        let n = attrs.encode(&request, &mut words).unwrap();
        let mut out = [0u8; 64];
        let try_words = |w: &[u64], out: &mut [u8]| SpawnAttrs::to_egg(&le(w), out).map(|_| ());
        assert_eq!(try_words(&words[..n], &mut out), Ok(()));
        let mut bad = words;
        bad[0] = 2;
        assert_eq!(
            try_words(&bad[..n], &mut out),
            Err(Errno::EINVAL),
            "version"
        );
        bad = words;
        bad[1] = 1 << 40;
        assert_eq!(try_words(&bad[..n], &mut out), Err(Errno::EINVAL), "flags");
        assert_eq!(
            try_words(&words[..n - 1], &mut out),
            Err(Errno::EFAULT),
            "short"
        );
        assert_eq!(
            try_words(&words[..8], &mut out),
            Err(Errno::EFAULT),
            "header"
        );
        bad = words;
        bad[15] = 1000 << 16;
        assert_eq!(try_words(&bad[..n], &mut out), Err(Errno::E2BIG), "actions");
        bad = words;
        bad[16] = 99;
        assert_eq!(
            try_words(&bad[..n], &mut out),
            Err(Errno::EINVAL),
            "action kind"
        );
        bad = words;
        bad[11] = 0;
        bad[12] = 9;
        assert_eq!(
            try_words(&bad[..n], &mut out),
            Err(Errno::ENOENT),
            "no program"
        );
        let mut tiny = [0u8; 2];
        assert_eq!(
            try_words(&words[..n], &mut tiny),
            Err(Errno::E2BIG),
            "egg buffer"
        );
    }
}
