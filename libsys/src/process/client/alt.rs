//! The client side of the chatty and struct ways of hatching (`procsrv_api::alt`), made
//! from a [`Command`] so that the three ways describe the same child. Each is encoded once
//! ([`Chatty::new`], [`Struct::new`]); `spawn` only sends, as [`Command::spawn`] does.

use super::{call, hatch_message, plain, Child, Command, HatchError, PROCSRV};
use crate::cap::{CNode, Cap};
use crate::syscall;
use procsrv_api::alt::{attribute_words, NotExpressible, SpawnAttrs};
use procsrv_api::{
    encode_hatch, label, Errno, HatchRequest, HATCH_HEADER_WORDS, MAX_REQUEST_BYTES,
};

/// Most words of all the attributes of one [`Chatty`].
pub const CHATTY_WORDS: usize = 2048;
/// Most attribute calls of one [`Chatty`].
pub const CHATTY_CALLS: usize = 256;
/// Most words of one message.
const MESSAGE_WORDS: usize = 512;

/// Sends message words `from..` of `words` into the IPC buffer from word `at` on, and
/// returns the first four message words.
fn load(words: &[u64], at: usize) -> [u64; 4] {
    let mut first = [0u64; 4];
    for (i, &w) in words.iter().enumerate() {
        match first.get_mut(at + i) {
            Some(slot) => *slot = w,
            None => syscall::set_word(at + i, w),
        }
    }
    first
}

/// A child described the chatty way: `LAUNCH_CREATE`, one `LAUNCH_ADD` per egg op,
/// `LAUNCH_START`.
pub struct Chatty {
    create: [u64; 512],
    create_len: usize,
    attrs: [u64; CHATTY_WORDS],
    ends: [u16; CHATTY_CALLS],
    calls: usize,
    radix: u64,
    caps: Option<Cap<CNode>>,
}

impl Chatty {
    /// The calls that describe what `command` does.
    ///
    /// # Errors
    /// E2BIG when the calls do not fit.
    pub fn new(command: &Command<'_>) -> Result<Chatty, HatchError> {
        let (request, caps) = command.request()?;
        let mut c = Chatty::default();
        let me = &mut c;
        let create = HatchRequest {
            egg: &[],
            cap_radix: 0,
            ..request
        };
        let mut header = [0u64; HATCH_HEADER_WORDS];
        let mut bytes = [0u8; MAX_REQUEST_BYTES];
        let n = encode_hatch(&create, &mut header, &mut bytes).map_err(|e| plain(e.errno()))?;
        me.create[..HATCH_HEADER_WORDS].copy_from_slice(&header);
        for (i, chunk) in bytes[..n].chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            me.create[HATCH_HEADER_WORDS + i] = u64::from_le_bytes(w);
        }
        me.create_len = HATCH_HEADER_WORDS + n.div_ceil(8);
        let mut used = 0usize;
        for op in egg::decode(request.egg) {
            let op = op.map_err(|_| plain(Errno::EINVAL))?;
            let end = me.ends.get_mut(me.calls).ok_or(plain(Errno::E2BIG))?;
            let words = attribute_words(&op, &mut me.attrs[used..]).map_err(plain)?;
            // One message: the launch id and the attribute (a longer one would be cut).
            if 1 + words > MESSAGE_WORDS {
                return Err(plain(Errno::E2BIG));
            }
            used += words;
            *end = used as u16;
            me.calls += 1;
        }
        me.radix = request.cap_radix;
        me.caps = caps;
        Ok(c)
    }

    /// Number of calls a spawn makes (create, the attributes, start).
    pub fn calls(&self) -> usize {
        self.calls + 2
    }

    /// Hatches it: create, one call per attribute, start.
    ///
    /// # Errors
    /// [`HatchError`] (without an op index when an attribute was refused: its errno).
    pub fn spawn(&self) -> Result<Child, HatchError> {
        let first = load(&self.create[..self.create_len], 0);
        let reply =
            call(PROCSRV, label::LAUNCH_CREATE, self.create_len as u64, first).map_err(plain)?;
        let id = reply.words[0];
        let mut start = 0usize;
        for &end in &self.ends[..self.calls] {
            let attr = &self.attrs[start..end as usize];
            let mut first = load(attr, 1);
            first[0] = id;
            call(PROCSRV, label::LAUNCH_ADD, 1 + attr.len() as u64, first).map_err(plain)?;
            start = end as usize;
        }
        let words = [id, self.radix, 0, 0];
        let (pid, handle) = hatch_message(label::LAUNCH_START, 2, words, self.caps)?;
        Ok(Child { pid, handle })
    }
}

impl Default for Chatty {
    fn default() -> Self {
        Chatty {
            create: [0; 512],
            create_len: 0,
            attrs: [0; CHATTY_WORDS],
            ends: [0; CHATTY_CALLS],
            calls: 0,
            radix: 0,
            caps: None,
        }
    }
}

/// A child described the struct way: one `SPAWN_STRUCT` message.
pub struct Struct {
    words: [u64; 512],
    len: usize,
    caps: Option<Cap<CNode>>,
}

/// Why a [`Struct`] could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructError {
    /// The command's egg says something the struct cannot say.
    NotExpressible(NotExpressible),
    /// The message does not fit.
    TooBig(Errno),
}

impl Struct {
    /// The message that describes what `command` does.
    ///
    /// # Errors
    /// [`StructError`].
    pub fn new(command: &Command<'_>) -> Result<Struct, StructError> {
        let (request, caps) = command
            .request()
            .map_err(|e| StructError::TooBig(e.errno))?;
        let mut env = [0u8; MAX_REQUEST_BYTES];
        let (attrs, env_len) = SpawnAttrs::from_egg(request.egg, request.envp, &mut env)
            .map_err(StructError::NotExpressible)?;
        let request = HatchRequest {
            envp: &env[..env_len],
            ..request
        };
        let mut s = Struct {
            words: [0; 512],
            len: 0,
            caps,
        };
        s.len = attrs
            .encode(&request, &mut s.words)
            .map_err(StructError::TooBig)?;
        Ok(s)
    }

    /// Hatches it.
    ///
    /// # Errors
    /// [`HatchError`].
    pub fn spawn(&self) -> Result<Child, HatchError> {
        let first = load(&self.words[..self.len], 0);
        let (pid, handle) = hatch_message(label::SPAWN_STRUCT, self.len as u64, first, self.caps)?;
        Ok(Child { pid, handle })
    }
}
