//! The client side of procsrv's protocol (`procsrv-api`): hatch, wait, kill, exit, ids, and
//! a [`Command`] builder in the spirit of `std::process::Command`.
//!
//! ```ignore
//! let mut child = Command::new(b"/bin/hatchtest").arg(b"exit").arg(b"3").setsid().spawn()?;
//! assert_eq!(child.wait()?, WaitStatus::Exited(3));
//! ```

use super::{FIRST_FREE_SLOT, SLOT_PROCSRV};
use crate::abi::MessageInfo;
use crate::cap::{CNode, Cap, Endpoint, Received, SlotPath};
use crate::syscall;
use core::sync::atomic::{AtomicU64, Ordering};
use procsrv_api::{
    encode_hatch, encode_hatch_paged, label, Errno, HatchRequest, WaitStatus, HATCH_HEADER_WORDS,
    MAX_REQUEST_BYTES, NO_OP, REPLY_OK, SMALL_REQUEST_BYTES, WNOHANG,
};

pub mod alt;
mod command;
mod pages;
pub use command::{Command, COMMAND_BYTES};

const PROCSRV: Cap<Endpoint> = Cap::from_cptr(SLOT_PROCSRV);

/// Slots `FIRST_FREE_SLOT..FIRST_FREE_SLOT + 128` of a hatched process, for caps it receives.
static SLOTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Takes a free slot of the process's own range.
pub fn alloc_slot() -> Option<u64> {
    for (w, word) in SLOTS.iter().enumerate() {
        let bits = word.load(Ordering::Relaxed);
        if bits != u64::MAX {
            let b = bits.trailing_ones() as u64;
            word.store(bits | 1 << b, Ordering::Relaxed);
            return Some(FIRST_FREE_SLOT + w as u64 * 64 + b);
        }
    }
    None
}

/// Deletes the cap in `slot` and gives the slot back.
pub fn free_slot(slot: u64) {
    let own: Cap<CNode> = Cap::from_cptr(super::SLOT_CNODE);
    let _ = own.delete(SlotPath::at(slot));
    if let Some(i) = slot.checked_sub(FIRST_FREE_SLOT).filter(|&i| i < 128) {
        SLOTS[(i / 64) as usize].fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
    }
}

/// Why a hatch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HatchError {
    /// The error.
    pub errno: Errno,
    /// The failing op's index, if an op is to blame.
    pub op_index: Option<u64>,
    /// The failing op's byte offset.
    pub op_offset: u64,
    /// The byte at fault (validation) or the op's offset.
    pub fault_offset: u64,
}

impl core::fmt::Display for HatchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.op_index {
            Some(i) => write!(f, "op {i} at byte {}: {}", self.op_offset, self.errno),
            None => write!(f, "{}", self.errno),
        }
    }
}

fn errno_of(word: u64) -> Errno {
    Errno::from_number(word).unwrap_or(Errno::EINVAL)
}

fn plain(errno: Errno) -> HatchError {
    HatchError {
        errno,
        op_index: None,
        op_offset: 0,
        fault_offset: 0,
    }
}

fn call(cap: Cap<Endpoint>, label: u64, n: u64, words: [u64; 4]) -> Result<Received, Errno> {
    let reply = cap
        .call(MessageInfo::new(label, n, 0), words)
        .map_err(|_| Errno::ESRCH)?;
    if reply.info.label() == REPLY_OK {
        Ok(reply)
    } else {
        Err(errno_of(reply.words[0]))
    }
}

/// Sends a hatch request; `caps` is a guard-0 CNode of `2^radix` slots (or `None`).
/// Returns the pid and the process handle.
///
/// # Errors
/// [`HatchError`]; the caller still holds every cap it sent.
pub fn hatch(
    request: &HatchRequest<'_>,
    caps: Option<Cap<CNode>>,
) -> Result<(u64, Cap<Endpoint>), HatchError> {
    if request.byte_len() > MAX_REQUEST_BYTES {
        return hatch_paged(request, caps);
    }
    let mut header = [0u64; HATCH_HEADER_WORDS];
    // The usual request is small: zeroing a 4 KiB buffer for it cost about 500 instructions.
    let mut small = [0u8; SMALL_REQUEST_BYTES];
    let mut big;
    let bytes: &mut [u8] = if request.byte_len() <= SMALL_REQUEST_BYTES {
        &mut small
    } else {
        big = [0u8; MAX_REQUEST_BYTES];
        &mut big
    };
    let n = encode_hatch(request, &mut header, bytes).map_err(|e| plain(e.errno()))?;
    for (i, chunk) in bytes[..n].chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        syscall::set_word(HATCH_HEADER_WORDS + i, u64::from_le_bytes(w));
    }
    let length = (HATCH_HEADER_WORDS + n.div_ceil(8)) as u64;
    hatch_call(&header, length, caps)
}

/// Words of one message (the IPC buffer's).
const MESSAGE_WORDS: usize = HATCH_HEADER_WORDS + MAX_REQUEST_BYTES / 8;

/// A hatch request encoded once ([`Command::prepare`]) and sent as it is by each
/// [`Prepared::spawn`]: for a parent that hatches the same child many times (a server's
/// workers, the hatch benchmark's rounds), the encoding is not repeated per hatch.
pub struct Prepared {
    /// The message: the header words, then the request's bytes eight to a word.
    words: [u64; MESSAGE_WORDS],
    /// Words of `words` used.
    len: usize,
    /// The CNode of the caps the egg's ops name.
    caps: Option<Cap<CNode>>,
}

impl Prepared {
    /// Encodes `request`, whose ops name the caps in `caps`.
    ///
    /// # Errors
    /// E2BIG when it does not fit one message; what [`encode_hatch`] refuses.
    pub fn new(
        request: &HatchRequest<'_>,
        caps: Option<Cap<CNode>>,
    ) -> Result<Prepared, HatchError> {
        if request.byte_len() > MAX_REQUEST_BYTES {
            return Err(plain(Errno::E2BIG));
        }
        let mut header = [0u64; HATCH_HEADER_WORDS];
        let mut bytes = [0u8; MAX_REQUEST_BYTES];
        let n = encode_hatch(request, &mut header, &mut bytes).map_err(|e| plain(e.errno()))?;
        let mut words = [0u64; MESSAGE_WORDS];
        words[..HATCH_HEADER_WORDS].copy_from_slice(&header);
        for (i, chunk) in bytes[..n].chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            words[HATCH_HEADER_WORDS + i] = u64::from_le_bytes(w);
        }
        Ok(Prepared {
            words,
            len: HATCH_HEADER_WORDS + n.div_ceil(8),
            caps,
        })
    }

    /// Hatches the child (as [`Command::spawn`] would).
    ///
    /// # Errors
    /// [`HatchError`].
    pub fn spawn(&self) -> Result<Child, HatchError> {
        for (i, &word) in self.words[..self.len]
            .iter()
            .enumerate()
            .skip(HATCH_HEADER_WORDS)
        {
            syscall::set_word(i, word);
        }
        let mut header = [0u64; HATCH_HEADER_WORDS];
        header.copy_from_slice(&self.words[..HATCH_HEADER_WORDS]);
        let (pid, handle) = hatch_call(&header, self.len as u64, self.caps)?;
        Ok(Child { pid, handle })
    }
}

/// [`hatch`] of a request too big for the IPC buffer: its bytes go in request pages
/// ([`pages`]), the message is the header alone.
fn hatch_paged(
    request: &HatchRequest<'_>,
    caps: Option<Cap<CNode>>,
) -> Result<(u64, Cap<Endpoint>), HatchError> {
    let given = caps.map(|c| (c, request.cap_radix));
    let lent = pages::lend(request.byte_len(), given).map_err(plain)?;
    let mut header = [0u64; HATCH_HEADER_WORDS];
    let sent = HatchRequest {
        cap_radix: lent.radix,
        ..*request
    };
    let encoded = encode_hatch_paged(&sent, lent.pages, &mut header, lent.bytes());
    let result = match encoded {
        Ok(_) => hatch_call(&header, HATCH_HEADER_WORDS as u64, Some(lent.cnode)),
        Err(e) => Err(plain(e.errno())),
    };
    lent.end();
    result
}

/// Sends the hatch message: `header` (words 4 and 5 go to the IPC buffer, the bytes
/// are there already or in pages), `length` words, the CNode of caps.
fn hatch_call(
    header: &[u64; HATCH_HEADER_WORDS],
    length: u64,
    caps: Option<Cap<CNode>>,
) -> Result<(u64, Cap<Endpoint>), HatchError> {
    syscall::set_word(4, header[4]);
    syscall::set_word(5, header[5]);
    hatch_message(
        label::HATCH,
        length,
        [header[0], header[1], header[2], header[3]],
        caps,
    )
}

/// Sends a message that hatches (`HATCH`, `LAUNCH_START`, `SPAWN_STRUCT`): words 0..4
/// from `words`, the rest already in the IPC buffer, and `caps` as extra cap 0.
pub(crate) fn hatch_message(
    label: u64,
    length: u64,
    words: [u64; 4],
    caps: Option<Cap<CNode>>,
) -> Result<(u64, Cap<Endpoint>), HatchError> {
    let slot = alloc_slot().ok_or(plain(Errno::ENOMEM))?;
    syscall::set_receive_slot(slot);
    let cap_count = match caps {
        Some(cnode) => {
            syscall::set_send_cap(0, cnode.cptr());
            1
        }
        None => 0,
    };
    let info = MessageInfo::new(label, length, cap_count);
    let reply = PROCSRV.call(info, words);
    syscall::set_receive_slot(0);
    let reply = match reply {
        Ok(r) => r,
        Err(_) => {
            free_slot(slot);
            return Err(plain(Errno::ESRCH));
        }
    };
    if reply.info.label() != REPLY_OK {
        free_slot(slot);
        let w = reply.words;
        return Err(HatchError {
            errno: errno_of(w[0]),
            op_index: (w[1] != NO_OP).then_some(w[1]),
            op_offset: w[2],
            fault_offset: w[3],
        });
    }
    Ok((reply.words[0], Cap::from_cptr(slot)))
}

/// Ends this process with `code`. Never returns.
pub fn exit(code: u8) -> ! {
    crate::rt::exit_with(code)
}

/// Waits for a child (`pid`, or [`procsrv_api::WAIT_ANY`]); `Ok(None)` with `nohang` when
/// none has ended.
///
/// # Errors
/// ECHILD when there is no such child.
pub fn wait(pid: u64, nohang: bool) -> Result<Option<(u64, WaitStatus)>, Errno> {
    wait_with(pid, if nohang { WNOHANG } else { 0 })
}

/// [`wait`] with the options word: [`WNOHANG`], [`procsrv_api::WUNTRACED`] (report a
/// child's stop, once, as [`WaitStatus::Stopped`]).
///
/// # Errors
/// ECHILD when there is no such child.
pub fn wait_with(pid: u64, options: u64) -> Result<Option<(u64, WaitStatus)>, Errno> {
    let r = call(PROCSRV, label::WAIT, 2, [pid, options, 0, 0])?;
    Ok((r.words[0] != 0).then(|| (r.words[0], WaitStatus::from_word(r.words[1]))))
}

/// Sends `signal` to `pid` (> 0), the caller's group (0) or group `-pid` (< 0).
///
/// # Errors
/// ESRCH, EPERM, EINVAL.
pub fn kill(pid: i64, signal: u32) -> Result<(), Errno> {
    call(PROCSRV, label::KILL, 2, [pid as u64, signal.into(), 0, 0]).map(drop)
}

/// This process's `(pid, ppid, pgid, sid)`.
///
/// # Errors
/// ESRCH if procsrv does not know the caller.
pub fn ids() -> Result<[u64; 4], Errno> {
    call(PROCSRV, label::IDS, 0, [0; 4]).map(|r| r.words)
}

/// What procsrv knows about this process: ids, credentials, umask, limits, scheduling,
/// signal state, name, working directory.
///
/// # Errors
/// ESRCH if procsrv does not know the caller.
pub fn info() -> Result<procsrv_api::ProcessInfo, Errno> {
    info_through(PROCSRV)
}

/// [`label::INFO`] through `cap`: the own endpoint or a process handle.
fn info_through(cap: Cap<Endpoint>) -> Result<procsrv_api::ProcessInfo, Errno> {
    let r = call(cap, label::INFO, 0, [0; 4])?;
    let mut words = [0u64; procsrv_api::ProcessInfo::WORDS];
    words[..4].copy_from_slice(&r.words);
    let received = (r.info.length() as usize).min(words.len());
    for (i, w) in words.iter_mut().enumerate().take(received).skip(4) {
        *w = syscall::word(i);
    }
    Ok(procsrv_api::ProcessInfo::from_words(&words))
}

/// The clock of this machine: the time-stamp counter's rate, from procsrv.
///
/// # Errors
/// ESRCH if procsrv does not know the caller.
pub fn clock() -> Result<crate::time::Clock, Errno> {
    call(PROCSRV, label::CLOCK, 0, [0; 4]).map(|r| crate::time::Clock::new(r.words[0]))
}

/// Tells procsrv this process's working directory (the absolute `path` its children
/// start in), after changing it at the file server.
///
/// # Errors
/// EINVAL for a path that is empty, relative, holds a NUL or is longer than
/// [`procsrv_api::INFO_CWD_BYTES`].
pub fn set_cwd(path: &[u8]) -> Result<(), Errno> {
    if path.is_empty() || path.len() > procsrv_api::INFO_CWD_BYTES {
        return Err(Errno::EINVAL);
    }
    let mut words = [0u64; 1 + procsrv_api::INFO_CWD_BYTES / 8];
    words[0] = path.len() as u64;
    for (i, chunk) in path.chunks(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        words[1 + i] = u64::from_le_bytes(bytes);
    }
    let n = 1 + path.len().div_ceil(8);
    for (i, &w) in words.iter().enumerate().take(n).skip(4) {
        syscall::set_word(i, w);
    }
    call(
        PROCSRV,
        label::SET_CWD,
        n as u64,
        [words[0], words[1], words[2], words[3]],
    )
    .map(drop)
}

/// Makes this process ignore the signals of `set` (bit n-1 = signal n); returns the
/// ignored set before.
///
/// # Errors
/// EINVAL when `set` holds SIGKILL or SIGSTOP.
pub fn sigignore(set: u64) -> Result<u64, Errno> {
    call(PROCSRV, label::SIGIGNORE, 1, [set, 0, 0, 0]).map(|r| r.words[0])
}

/// Sets this process's file mode creation mask; returns the one before.
///
/// # Errors
/// EINVAL for a mask above 0o777.
pub fn umask(mask: u32) -> Result<u32, Errno> {
    call(PROCSRV, label::UMASK, 1, [mask.into(), 0, 0, 0]).map(|r| r.words[0] as u32)
}

/// Sets this process's `(soft, hard)` limits of resource `resource` (`RLIMIT_*` number;
/// `u64::MAX` is no limit). Its children inherit them.
///
/// # Errors
/// EINVAL (soft above hard, unknown resource), EPERM (a raised hard limit, unprivileged).
pub fn setrlimit(resource: u64, soft: u64, hard: u64) -> Result<(), Errno> {
    call(PROCSRV, label::SETRLIMIT, 3, [resource, soft, hard, 0]).map(drop)
}

/// Whether procsrv supports egg opcode `n`.
pub fn supported(n: u64) -> bool {
    call(PROCSRV, label::SUPPORTED, 1, [n, 0, 0, 0]).is_ok_and(|r| r.words[0] == 1)
}

/// procsrv's usage: free blocks, free slots, process records.
///
/// # Errors
/// ESRCH if procsrv does not know the caller.
pub fn usage() -> Result<[u64; 3], Errno> {
    call(PROCSRV, label::USAGE, 0, [0; 4]).map(|r| [r.words[0], r.words[1], r.words[2]])
}

/// The process listing from pid `from` up: fills `out`, returns how many entries.
///
/// # Errors
/// ESRCH if procsrv does not know the caller.
pub fn list(from: u64, out: &mut [procsrv_api::PsEntry]) -> Result<usize, Errno> {
    let r = call(PROCSRV, label::LIST, 1, [from, 0, 0, 0])?;
    let n = (r.words[0] as usize).min(out.len());
    for (i, entry) in out[..n].iter_mut().enumerate() {
        let mut words = [0u64; procsrv_api::PsEntry::WORDS];
        for (k, w) in words.iter_mut().enumerate() {
            *w = syscall::word(4 + i * procsrv_api::PsEntry::WORDS + k);
        }
        *entry = procsrv_api::PsEntry::from_words(&words);
    }
    Ok(n)
}

/// Closes file descriptor `fd` of this process (deletes its cap; closing what is not open
/// is not an error).
///
/// # Errors
/// EBADF for an fd number out of range.
pub fn close(fd: u64) -> Result<(), Errno> {
    let slot = super::fd_slot(fd).ok_or(Errno::EBADF)?;
    let own: Cap<CNode> = Cap::from_cptr(super::SLOT_CNODE);
    own.delete(SlotPath::at(slot)).map_err(|_| Errno::EBADF)
}

/// A hatched child: its pid and handle.
#[derive(Debug)]
pub struct Child {
    pid: u64,
    handle: Cap<Endpoint>,
}

impl Child {
    /// The pid.
    pub fn id(&self) -> u64 {
        self.pid
    }

    /// The handle cap.
    pub fn handle(&self) -> Cap<Endpoint> {
        self.handle
    }

    /// Waits for it to end (and reaps it).
    ///
    /// # Errors
    /// ESRCH if it was already reaped.
    pub fn wait(&mut self) -> Result<WaitStatus, Errno> {
        let r = call(self.handle, label::WAIT, 2, [0, 0, 0, 0])?;
        Ok(WaitStatus::from_word(r.words[1]))
    }

    /// Its status if it has ended (and reaps it), else `None`.
    ///
    /// # Errors
    /// ESRCH if it was already reaped.
    pub fn try_wait(&mut self) -> Result<Option<WaitStatus>, Errno> {
        let r = call(self.handle, label::WAIT, 2, [0, WNOHANG, 0, 0])?;
        Ok((r.words[0] != 0).then(|| WaitStatus::from_word(r.words[1])))
    }

    /// Sends it `signal`.
    ///
    /// # Errors
    /// ESRCH once it is reaped, EINVAL for a bad signal.
    pub fn kill(&mut self, signal: u32) -> Result<(), Errno> {
        call(self.handle, label::KILL, 1, [signal.into(), 0, 0, 0]).map(drop)
    }

    /// Starts it when it was hatched with `start_suspended`.
    ///
    /// # Errors
    /// EINVAL when it is not suspended.
    pub fn resume(&mut self) -> Result<(), Errno> {
        call(self.handle, label::RESUME, 0, [0; 4]).map(drop)
    }

    /// What procsrv knows about it (see [`info`]).
    ///
    /// # Errors
    /// ESRCH if it was already reaped.
    pub fn info(&self) -> Result<procsrv_api::ProcessInfo, Errno> {
        info_through(self.handle)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        free_slot(self.handle.cptr());
    }
}

/// Makes one object of `object_type` from this process's own memory ([`super::SLOT_MEMORY`])
/// into a fresh slot of its own.
///
/// # Errors
/// ENOMEM when the memory or the slots are used up.
pub fn make_object(object_type: crate::object::ObjectType, size_arg: u64) -> Result<u64, Errno> {
    let slot = alloc_slot().ok_or(Errno::ENOMEM)?;
    let memory: Cap<crate::cap::Untyped> = Cap::from_cptr(super::SLOT_MEMORY);
    let own: Cap<CNode> = Cap::from_cptr(super::SLOT_CNODE);
    match memory.retype(object_type, size_arg, own, slot, 1) {
        Ok(()) => Ok(slot),
        Err(_) => {
            free_slot(slot);
            Err(Errno::ENOMEM)
        }
    }
}

/// The caps sent with a hatch request: a CNode of `2^radix` slots made from this process's
/// memory, filled with copies of its own caps. Index `i` of the egg's `cap`/`bind` ops is
/// slot `i`.
pub struct CapSet {
    cnode: Cap<CNode>,
    radix: u64,
    unguarded: u64,
}

impl CapSet {
    /// An empty set of `2^radix` caps.
    ///
    /// # Errors
    /// ENOMEM.
    pub fn new(radix: u64) -> Result<CapSet, Errno> {
        let cnode = make_object(crate::object::ObjectType::CNode, radix)?;
        let unguarded = alloc_slot().ok_or(Errno::ENOMEM)?;
        let own: Cap<CNode> = Cap::from_cptr(super::SLOT_CNODE);
        let guard = crate::object::CNodeGuard {
            guard: 0,
            guard_bits: 0,
        };
        if own
            .mint_guard(
                SlotPath::at(unguarded),
                SlotPath::at(super::SLOT_CNODE),
                guard,
            )
            .is_err()
        {
            free_slot(cnode);
            free_slot(unguarded);
            return Err(Errno::ENOMEM);
        }
        Ok(CapSet {
            cnode: Cap::from_cptr(cnode),
            radix,
            unguarded,
        })
    }

    /// Copies this process's cap `cap` into index `index` with `rights`.
    ///
    /// # Errors
    /// EINVAL for an index out of range or a cap that cannot be copied.
    pub fn put<T>(
        &self,
        index: u64,
        cap: Cap<T>,
        rights: crate::object::Rights,
    ) -> Result<(), Errno> {
        if index >= 1 << self.radix {
            return Err(Errno::EINVAL);
        }
        let root: Cap<CNode> = Cap::from_cptr(self.unguarded);
        let r = super::CNODE_RADIX;
        let dest = SlotPath {
            index: (self.cnode.cptr() << self.radix) | index,
            depth: r + self.radix,
        };
        let src = SlotPath {
            index: cap.cptr(),
            depth: r,
        };
        root.copy(dest, src, rights).map_err(|_| Errno::EINVAL)
    }

    /// The CNode and its radix, for [`Command::caps`].
    pub fn cnode(&self) -> (Cap<CNode>, u64) {
        (self.cnode, self.radix)
    }
}

impl Drop for CapSet {
    fn drop(&mut self) {
        free_slot(self.cnode.cptr());
        free_slot(self.unguarded);
    }
}

/// Makes and attaches this process's I/O window (`crate::fs::attach_window_from`) from
/// its own memory (`SLOT_MEMORY`) and slots of its own range, when it has a file server
/// (`SLOT_FS` holds a cap) and has no window yet. `crate::fs` calls it before the first
/// read, write or readdir; a program calls it itself only to choose when (the shell, before
/// its heap takes slots: the window wants consecutive ones).
///
/// # Errors
/// `ENOMEM` (no room), the file server's errno; `ENOSYS` without a file server.
pub fn attach_window() -> Result<(), fs_api::Errno> {
    use fs_api::Errno as FsErrno;
    if crate::fs::window_attached() {
        return Ok(());
    }
    let ns: Cap<Endpoint> = Cap::from_cptr(super::SLOT_FS);
    if ns.identify().is_err() {
        return Err(FsErrno::ENOSYS);
    }
    // The window takes WINDOW_PAGES frames and up to 3 page tables, in consecutive slots.
    let want = fs_api::WINDOW_PAGES as u64 + 3;
    let first = alloc_slot().ok_or(FsErrno::ENOMEM)?;
    let mut taken = 1;
    while taken < want {
        match alloc_slot() {
            Some(s) if s == first + taken => taken += 1,
            other => {
                if let Some(s) = other {
                    free_slot(s);
                }
                for s in first..first + taken {
                    free_slot(s);
                }
                return Err(FsErrno::ENOMEM);
            }
        }
    }
    crate::fs::attach_window_from(
        Cap::from_cptr(super::SLOT_MEMORY),
        super::MEMORY_BITS,
        first,
    )
}
