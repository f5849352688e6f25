//! Files, pipes and terminals: the client side of the file server's protocol (`fs-api`).
//!
//! A file descriptor is a cap in slot [`fd_slot`]`(n)` (see docs/userspace.md): an fd cap
//! of the file server. [`open`] asks the namespace (the cap in [`namespace`], normally
//! `SLOT_FS`) for one; [`read()`] and [`write()`] move bytes through the process's **I/O
//! window**, the frames mapped at [`WINDOW_ADDR`] that the file server also maps; [`dup2`]
//! is a CNode copy and [`close`] a delete, each paired with a message that keeps the
//! server's count of this process's copies right (the server knows when every write end of
//! a pipe is gone from that count: docs/servers.md).
//!
//! [`File`], [`stdin`], [`stdout`] and [`stderr`] give [`Read`] and [`Write`], shaped like
//! `std::io`'s; `print!` writes to fd 1 when it is open and to the kernel's debug console
//! otherwise.
//!
//! Root tasks have other caps in the standard slots: they set [`set_fd_slot_base`] and
//! [`set_namespace`] before using this module.

use crate::abi::MessageInfo;
use crate::bootinfo::SLOT_CNODE;
use crate::cap::{CNode, Cap, Endpoint, Frame, Received, SlotPath};
use crate::object::{CapKind, Rights};
use crate::process::{FD_SLOT_BASE, MAX_FDS, SLOT_FS};
use crate::syscall;
use core::sync::atomic::{AtomicU64, Ordering};
pub use fs_api::flags::*;
pub use fs_api::{
    Errno, FileKind, Label, ServerStats, Stat, PIPE_BUF, SEEK_CUR, SEEK_END, SEEK_SET, WINDOW_ADDR,
    WINDOW_PAGES, WINDOW_SIZE,
};
pub use io::{stderr, stdin, stdout, File, Read, Stderr, Stdin, Stdout, Write};

pub mod control;
mod io;
pub mod terminal;

/// Result of a file operation.
pub type Result<T> = core::result::Result<T, Errno>;

static FD_BASE: AtomicU64 = AtomicU64::new(FD_SLOT_BASE);
static PRINT_TO_DEBUG_CONSOLE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// With `true`, `print!` goes to the kernel's debug console whatever fd 1 holds: for
/// servers (the file server must never call its own endpoint to print) and tests whose
/// fd 1 is a pipe of their own. `false` restores the default.
pub fn set_print_to_debug_console(always: bool) {
    PRINT_TO_DEBUG_CONSOLE.store(always, Ordering::Relaxed);
}
static NAMESPACE: AtomicU64 = AtomicU64::new(SLOT_FS);

/// Puts this process's descriptors at slots `base..base + MAX_FDS` (root tasks, whose
/// standard slots hold boot caps).
pub fn set_fd_slot_base(base: u64) {
    FD_BASE.store(base, Ordering::Relaxed);
}

/// Uses the namespace cap at `cptr` from now on.
pub fn set_namespace(cptr: u64) {
    NAMESPACE.store(cptr, Ordering::Relaxed);
}

/// The namespace cap in use.
pub fn namespace() -> Namespace {
    Namespace(Cap::from_cptr(NAMESPACE.load(Ordering::Relaxed)))
}

/// The slot of descriptor `fd`, or `None` when out of range.
pub fn fd_slot(fd: Fd) -> Option<u64> {
    (fd.0 < MAX_FDS).then(|| FD_BASE.load(Ordering::Relaxed) + fd.0)
}

/// A file descriptor number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fd(pub u64);

impl Fd {
    /// Standard input.
    pub const STDIN: Fd = Fd(0);
    /// Standard output.
    pub const STDOUT: Fd = Fd(1);
    /// Standard error.
    pub const STDERR: Fd = Fd(2);

    fn cap(self) -> Result<Cap<Endpoint>> {
        fd_slot(self).map(Cap::from_cptr).ok_or(Errno::EBADF)
    }
}

/// The window as a byte pointer.
fn window() -> *mut u8 {
    WINDOW_ADDR as *mut u8
}

/// Whether this process's I/O window is attached (a page of it went through
/// [`Namespace::attach_window`]).
static WINDOW_ATTACHED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether this process's I/O window is attached.
pub fn window_attached() -> bool {
    WINDOW_ATTACHED.load(Ordering::Relaxed)
}

/// Before a call that moves bytes through the window: attaches it first if nobody has
/// (`process::client::attach_window`, from the process's own memory), so that a program
/// reads and writes without setting anything up, and pays for the window only when it
/// does.
///
/// # Errors
/// What the attach fails with (`ENOMEM`, `ENOSYS` without a file server).
fn window_ready() -> Result<()> {
    if WINDOW_ATTACHED.load(Ordering::Relaxed) {
        return Ok(());
    }
    crate::process::client::attach_window()
}

/// Copies `len` bytes with `rep movsq` (and `rep movsb` for the tail): under `-icount`
/// each iteration counts one instruction, so moving 8 bytes costs one.
///
/// # Safety
/// `src` must be readable and `dst` writable for `len` bytes, and the ranges must not
/// overlap.
pub unsafe fn copy_bytes(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: the caller guarantees both ranges; `rep movs` with the direction flag clear
    // (the ABI's state at every call) copies forward within them.
    unsafe {
        core::arch::asm!(
            "rep movsq",
            "mov rcx, {tail}",
            "rep movsb",
            tail = in(reg) len & 7,
            inout("rcx") len / 8 => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
}

/// Sends `label` with `regs` (the first `count` words) and, from word [`fs_api::PATH_WORD`],
/// `bytes` packed; returns the reply or its errno.
fn request(
    cap: Cap<Endpoint>,
    label: Label,
    regs: [u64; 4],
    count: u64,
    bytes: &[&[u8]],
) -> Result<Received> {
    request_until(cap, label, regs, count, bytes, None)
}

/// [`request`] that gives up at `deadline` (a time-stamp counter value, [`crate::time`])
/// when there is one: `ETIMEDOUT` when no reply came by then (the kernel drops a later one).
fn request_until(
    cap: Cap<Endpoint>,
    label: Label,
    regs: [u64; 4],
    count: u64,
    bytes: &[&[u8]],
    deadline: Option<u64>,
) -> Result<Received> {
    let mut length = count;
    if !bytes.is_empty() {
        let mut word = fs_api::PATH_WORD;
        for part in bytes {
            for chunk in part.chunks(8) {
                let mut buf = [0u8; 8];
                buf[..chunk.len()].copy_from_slice(chunk);
                if word >= fs_api::MESSAGE_WORDS {
                    return Err(Errno::ENAMETOOLONG);
                }
                syscall::set_word(word, u64::from_le_bytes(buf));
                word += 1;
            }
        }
        length = word as u64;
    }
    let info = MessageInfo::new(label as u64, length, 0);
    let reply = loop {
        let reply = match deadline {
            Some(deadline) => cap.call_timeout(info, regs, deadline),
            None => cap.call(info, regs),
        };
        // A read is restarted when a stop cancelled its call (the kernel answers
        // `Cancelled` to a thread suspended in a system call, docs/kernel.md): a stopped
        // and continued job reads on, as a POSIX read restarts after SIGTSTP/SIGCONT.
        // Its registers are all it sends, so the same call is the same request.
        match reply {
            Err(e) if e.error == crate::abi::Error::Cancelled && label == Label::FdRead => {}
            reply => break reply,
        }
    };
    let mut reply = reply.map_err(|e| match e.error {
        crate::abi::Error::TimedOut => Errno::ETIMEDOUT,
        _ => Errno::EBADF,
    })?;
    Errno::check(reply.info.label())?;
    // Registers past the reply's length hold whatever they held: read them as 0.
    let sent = reply.info.length() as usize;
    for word in reply.words.iter_mut().skip(sent) {
        *word = 0;
    }
    Ok(reply)
}

/// A request whose reply carries a cap into slot `slot`.
fn request_cap(
    cap: Cap<Endpoint>,
    label: Label,
    regs: [u64; 4],
    count: u64,
    bytes: &[&[u8]],
    slot: u64,
) -> Result<Received> {
    request_cap_until(cap, label, regs, count, bytes, slot, None)
}

/// [`request_cap`] that gives up at `deadline` when there is one ([`request_until`]).
fn request_cap_until(
    cap: Cap<Endpoint>,
    label: Label,
    regs: [u64; 4],
    count: u64,
    bytes: &[&[u8]],
    slot: u64,
    deadline: Option<u64>,
) -> Result<Received> {
    syscall::set_receive_slot(slot);
    let reply = request_until(cap, label, regs, count, bytes, deadline);
    syscall::set_receive_slot(0);
    let reply = reply?;
    if reply.info.caps() == 0 {
        return Err(Errno::EIO);
    }
    Ok(reply)
}

fn slot_is_empty(slot: u64) -> bool {
    !matches!(Cap::<Endpoint>::from_cptr(slot).identify(), Ok(id) if id.kind != CapKind::Null as u64)
}

/// The lowest descriptor whose slot is empty.
fn lowest_free_fd() -> Result<Fd> {
    (0..MAX_FDS)
        .map(Fd)
        .find(|&fd| fd_slot(fd).is_some_and(slot_is_empty))
        .ok_or(Errno::EMFILE)
}

/// A namespace cap: the caller's identity for opening and naming files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespace(pub Cap<Endpoint>);

fn path_request(ns: Namespace, label: Label, first: &[u64], path: &[u8]) -> Result<Received> {
    let mut regs = [0u64; 4];
    regs[..first.len()].copy_from_slice(first);
    regs[first.len()] = path.len() as u64;
    request(ns.0, label, regs, first.len() as u64 + 1, &[path])
}

impl Namespace {
    /// Opens `path` as the lowest free descriptor.
    ///
    /// # Errors
    /// The server's errno; `EMFILE` when no descriptor is free.
    pub fn open(self, path: &[u8], flags: u64, mode: u64) -> Result<Fd> {
        let fd = lowest_free_fd()?;
        let slot = fd_slot(fd).ok_or(Errno::EMFILE)?;
        let regs = [flags, mode, path.len() as u64, 0];
        request_cap(self.0, Label::NsOpen, regs, 3, &[path], slot)?;
        Ok(fd)
    }

    /// The stat of `path`.
    ///
    /// # Errors
    /// The server's errno.
    pub fn stat(self, path: &[u8]) -> Result<Stat> {
        let reply = path_request(self, Label::NsStat, &[], path)?;
        Ok(stat_of(&reply))
    }

    /// Makes directory `path`.
    ///
    /// # Errors
    /// The server's errno.
    pub fn mkdir(self, path: &[u8], mode: u64) -> Result<()> {
        path_request(self, Label::NsMkdir, &[mode], path).map(drop)
    }

    /// Removes the file `path`.
    ///
    /// # Errors
    /// The server's errno.
    pub fn unlink(self, path: &[u8]) -> Result<()> {
        path_request(self, Label::NsUnlink, &[], path).map(drop)
    }

    /// Removes the empty directory `path`.
    ///
    /// # Errors
    /// The server's errno.
    pub fn rmdir(self, path: &[u8]) -> Result<()> {
        path_request(self, Label::NsRmdir, &[], path).map(drop)
    }

    /// Renames `from` to `to`.
    ///
    /// # Errors
    /// The server's errno.
    pub fn rename(self, from: &[u8], to: &[u8]) -> Result<()> {
        // Each path is packed from a word boundary: the second starts after the first's
        // last (zero-padded) word.
        let regs = [from.len() as u64, to.len() as u64, 0, 0];
        request(self.0, Label::NsRename, regs, 2, &[from, to]).map(drop)
    }

    /// Sets the size of the file `path`.
    ///
    /// # Errors
    /// The server's errno.
    pub fn truncate(self, path: &[u8], length: u64) -> Result<()> {
        path_request(self, Label::NsTruncate, &[length], path).map(drop)
    }

    /// Changes the working directory.
    ///
    /// # Errors
    /// The server's errno.
    pub fn chdir(self, path: &[u8]) -> Result<()> {
        path_request(self, Label::NsChdir, &[], path).map(drop)
    }

    /// Makes a pipe: `(read end, write end)` as the two lowest free descriptors.
    ///
    /// # Errors
    /// The server's errno; `EMFILE`.
    pub fn pipe(self) -> Result<(Fd, Fd)> {
        let read_end = lowest_free_fd()?;
        let slot = fd_slot(read_end).ok_or(Errno::EMFILE)?;
        request_cap(self.0, Label::NsPipe, [0; 4], 0, &[], slot)?;
        let write_end = match lowest_free_fd() {
            Ok(fd) => fd,
            Err(e) => {
                let _ = close(read_end);
                return Err(e);
            }
        };
        let write_slot = fd_slot(write_end).ok_or(Errno::EMFILE)?;
        if let Err(e) = request_cap(
            read_end.cap()?,
            Label::FdPipeWriteEnd,
            [0; 4],
            0,
            &[],
            write_slot,
        ) {
            let _ = close(read_end);
            return Err(e);
        }
        Ok((read_end, write_end))
    }

    /// Attaches page `page` of this process's I/O window: `frame` must be mapped at
    /// `WINDOW_ADDR + page * 4096` here (the server maps its copy).
    ///
    /// # Errors
    /// The server's errno.
    pub fn attach_window(self, page: u64, frame: Cap<Frame>) -> Result<()> {
        syscall::set_send_cap(0, frame.cptr());
        let info = MessageInfo::new(Label::NsAttachWindow as u64, 1, 1);
        let reply = self
            .0
            .call(info, [page, 0, 0, 0])
            .map_err(|_| Errno::EBADF)?;
        Errno::check(reply.info.label())?;
        WINDOW_ATTACHED.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// What the server holds (for tests).
    ///
    /// # Errors
    /// The server's errno.
    pub fn statistics(self) -> Result<ServerStats> {
        let reply = request(self.0, Label::NsStatistics, [0; 4], 0, &[])?;
        let mut words = [0u64; ServerStats::WORDS];
        for (i, w) in words.iter_mut().enumerate() {
            *w = reply_word(&reply, i);
        }
        Ok(ServerStats::from_words(&words))
    }
}

fn reply_word(reply: &Received, index: usize) -> u64 {
    match reply.words.get(index) {
        Some(&w) => w,
        None => syscall::word(index),
    }
}

fn stat_of(reply: &Received) -> Stat {
    let mut words = [0u64; Stat::WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = reply_word(reply, i);
    }
    Stat::from_words(&words)
}

/// Opens `path` ([`Namespace::open`] on [`namespace`]).
///
/// # Errors
/// The server's errno.
pub fn open(path: &str, flags: u64, mode: u64) -> Result<Fd> {
    namespace().open(path.as_bytes(), flags, mode)
}

/// The stat of `path`.
///
/// # Errors
/// The server's errno.
pub fn stat(path: &str) -> Result<Stat> {
    namespace().stat(path.as_bytes())
}

/// Makes a directory.
///
/// # Errors
/// The server's errno.
pub fn mkdir(path: &str, mode: u64) -> Result<()> {
    namespace().mkdir(path.as_bytes(), mode)
}

/// Removes a file.
///
/// # Errors
/// The server's errno.
pub fn unlink(path: &str) -> Result<()> {
    namespace().unlink(path.as_bytes())
}

/// Removes an empty directory.
///
/// # Errors
/// The server's errno.
pub fn rmdir(path: &str) -> Result<()> {
    namespace().rmdir(path.as_bytes())
}

/// Renames.
///
/// # Errors
/// The server's errno.
pub fn rename(from: &str, to: &str) -> Result<()> {
    namespace().rename(from.as_bytes(), to.as_bytes())
}

/// Makes a pipe: `(read end, write end)`.
///
/// # Errors
/// The server's errno.
pub fn pipe() -> Result<(Fd, Fd)> {
    namespace().pipe()
}

/// Reads up to `buf.len()` bytes. Regular files fill the buffer unless the file ends;
/// pipes and terminals return what one wait brings (at most one window's worth).
///
/// # Errors
/// The server's errno (`EBADF` for a descriptor that is not open).
pub fn read(fd: Fd, buf: &mut [u8]) -> Result<usize> {
    let cap = fd.cap()?;
    window_ready()?;
    let mut done = 0;
    while done < buf.len() {
        let want = (buf.len() - done).min(WINDOW_SIZE);
        // After the first chunk, ask the server not to wait for more.
        let dont_wait = u64::from(done > 0);
        let reply = match request(cap, Label::FdRead, [want as u64, dont_wait, 0, 0], 2, &[]) {
            Ok(reply) => reply,
            Err(Errno::EAGAIN) if done > 0 => break,
            Err(e) => return Err(e),
        };
        let count = (reply.words[0] as usize).min(want);
        // SAFETY: the window is mapped readable at WINDOW_ADDR for WINDOW_SIZE bytes (this
        // module's contract) and the server wrote `count <= want` bytes at its start; `buf`
        // has `want` bytes from `done`; they cannot overlap (the window is not Rust memory).
        unsafe { copy_bytes(buf.as_mut_ptr().add(done), window(), count) };
        done += count;
        if count < want {
            break;
        }
    }
    Ok(done)
}

/// Writes `buf`, a window's worth per request; returns the bytes written (fewer only when
/// the server wrote fewer).
///
/// # Errors
/// The server's errno (`EPIPE` when no reader is left, `EBADF`...), if nothing was written.
pub fn write(fd: Fd, buf: &[u8]) -> Result<usize> {
    let cap = fd.cap()?;
    window_ready()?;
    let mut done = 0;
    while done < buf.len() {
        let chunk = (buf.len() - done).min(WINDOW_SIZE);
        // SAFETY: the window is mapped writable at WINDOW_ADDR for WINDOW_SIZE bytes (this
        // module's contract); `buf` has `chunk` bytes from `done`; no overlap.
        unsafe { copy_bytes(window(), buf.as_ptr().add(done), chunk) };
        match request(cap, Label::FdWrite, [chunk as u64, 0, 0, 0], 1, &[]) {
            Ok(reply) => {
                let count = (reply.words[0] as usize).min(chunk);
                done += count;
                if count < chunk {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Moves the file offset; returns the new one.
///
/// # Errors
/// `ESPIPE` (pipes, terminals), `EINVAL` (bad whence or a negative result).
pub fn lseek(fd: Fd, offset: i64, whence: u64) -> Result<u64> {
    let reply = request(
        fd.cap()?,
        Label::FdSeek,
        [offset as u64, whence, 0, 0],
        2,
        &[],
    )?;
    Ok(reply.words[0])
}

/// The stat of an open file.
///
/// # Errors
/// The server's errno.
pub fn fstat(fd: Fd) -> Result<Stat> {
    let reply = request(fd.cap()?, Label::FdStat, [0; 4], 0, &[])?;
    Ok(stat_of(&reply))
}

/// Sets the size of an open file.
///
/// # Errors
/// The server's errno.
pub fn ftruncate(fd: Fd, length: u64) -> Result<()> {
    request(fd.cap()?, Label::FdTruncate, [length, 0, 0, 0], 1, &[]).map(drop)
}

/// One directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The inode number.
    pub inode: u64,
    /// The kind.
    pub kind: Option<FileKind>,
    /// The name's length (the name is in the buffer given to [`readdir`]).
    pub name_len: usize,
}

/// Entry `index` of the directory open on `fd` (0 is `.`, 1 is `..`), its name copied into
/// `name`; `None` past the last.
///
/// # Errors
/// `ENOTDIR`, `ENAMETOOLONG` (when `name` is too short), the server's errno.
pub fn readdir(fd: Fd, index: u64, name: &mut [u8]) -> Result<Option<DirEntry>> {
    window_ready()?;
    let reply = request(fd.cap()?, Label::FdReaddir, [index, 0, 0, 0], 1, &[])?;
    let name_len = reply.words[2] as usize;
    if name_len == 0 {
        return Ok(None);
    }
    if name_len > name.len() || name_len > WINDOW_SIZE {
        return Err(Errno::ENAMETOOLONG);
    }
    // SAFETY: the window is mapped at WINDOW_ADDR; the server wrote `name_len` bytes there.
    unsafe { copy_bytes(name.as_mut_ptr(), window(), name_len) };
    Ok(Some(DirEntry {
        inode: reply.words[0],
        kind: FileKind::from_word(reply.words[1]),
        name_len,
    }))
}

fn own_cnode() -> Cap<CNode> {
    Cap::from_cptr(SLOT_CNODE)
}

/// Closes `fd`: tells the server this copy is gone, then deletes the cap.
///
/// # Errors
/// `EBADF` when `fd` is not open.
pub fn close(fd: Fd) -> Result<()> {
    let slot = fd_slot(fd).ok_or(Errno::EBADF)?;
    if slot_is_empty(slot) {
        return Err(Errno::EBADF);
    }
    let _ = request(Cap::from_cptr(slot), Label::FdClose, [0; 4], 0, &[]);
    own_cnode()
        .delete(SlotPath::at(slot))
        .map_err(|_| Errno::EBADF)
}

/// Makes `new` a copy of `old` (closing `new` first); `old == new` only checks `old`.
///
/// # Errors
/// `EBADF`.
pub fn dup2(old: Fd, new: Fd) -> Result<Fd> {
    let from = fd_slot(old).ok_or(Errno::EBADF)?;
    let to = fd_slot(new).ok_or(Errno::EBADF)?;
    if slot_is_empty(from) {
        return Err(Errno::EBADF);
    }
    if old == new {
        return Ok(new);
    }
    if !slot_is_empty(to) {
        close(new)?;
    }
    request(Cap::from_cptr(from), Label::FdDup, [0; 4], 0, &[])?;
    if own_cnode()
        .copy(SlotPath::at(to), SlotPath::at(from), Rights::ALL)
        .is_err()
    {
        let _ = request(Cap::from_cptr(from), Label::FdClose, [0; 4], 0, &[]);
        return Err(Errno::EBADF);
    }
    Ok(new)
}

/// Copies `old` to the lowest free descriptor.
///
/// # Errors
/// `EBADF`, `EMFILE`.
pub fn dup(old: Fd) -> Result<Fd> {
    let new = lowest_free_fd()?;
    dup2(old, new)
}

/// Whether `fd` is a terminal.
pub fn isatty(fd: Fd) -> bool {
    fd.cap()
        .and_then(|cap| request(cap, Label::FdIsatty, [0; 4], 0, &[]))
        .is_ok_and(|reply| reply.words[0] == 1)
}

/// A terminal request (`ioctl`, see [`terminal`]); returns the server's answer word.
///
/// # Errors
/// `ENOTTY` for a file that is not a terminal, `EINVAL` for an unknown request.
pub fn ioctl(fd: Fd, request_code: u64, argument: u64) -> Result<u64> {
    let reply = request(
        fd.cap()?,
        Label::FdIoctl,
        [request_code, argument, 0, 0],
        2,
        &[],
    )?;
    Ok(reply.words[0])
}

/// The open flags of `fd`.
///
/// # Errors
/// `EBADF`.
pub fn get_flags(fd: Fd) -> Result<u64> {
    Ok(request(fd.cap()?, Label::FdGetFlags, [0; 4], 0, &[])?.words[0])
}

/// Sets `O_APPEND` and `O_NONBLOCK` of `fd` (other bits are ignored).
///
/// # Errors
/// `EBADF`.
pub fn set_flags(fd: Fd, flags: u64) -> Result<()> {
    request(fd.cap()?, Label::FdSetFlags, [flags, 0, 0, 0], 1, &[]).map(drop)
}

/// Whether fd 1 holds an endpoint cap (an open file), so that `print!` goes there.
pub fn stdout_is_open() -> bool {
    !PRINT_TO_DEBUG_CONSOLE.load(Ordering::Relaxed)
        && fd_slot(Fd::STDOUT).is_some_and(|slot| {
        matches!(Cap::<Endpoint>::from_cptr(slot).identify(), Ok(id) if id.kind == CapKind::Endpoint as u64)
    })
}

/// Makes this process's I/O window itself: [`WINDOW_PAGES`] frames (and the page tables
/// they need) retyped from the untyped `memory` (of `2^memory_bits` bytes) into slots
/// from `first_slot` up ([`WINDOW_PAGES`] + 3 of them), mapped at [`WINDOW_ADDR`] and
/// attached through the namespace cap. For a process that holds memory of its own (procsrv
/// gives each one an untyped), so that nobody pays for a window the process never uses:
/// call it before the first read or write.
///
/// # Errors
/// `ENOMEM` when the memory or the slots do not suffice, `EFAULT` when a mapping is
/// refused, the server's errno for the attach.
pub fn attach_window_from(
    memory: Cap<crate::cap::Untyped>,
    memory_bits: u32,
    first_slot: u64,
) -> Result<()> {
    use crate::alloc::{Allocator, SlotAllocator, UntypedPool};
    let mut untyped = UntypedPool::new();
    untyped.add(memory.cptr(), memory_bits, false);
    let mut alloc = Allocator {
        cnode: own_cnode(),
        slots: SlotAllocator::new(first_slot, first_slot + WINDOW_PAGES as u64 + 3),
        untyped,
    };
    let rw = Rights::READ.union(Rights::WRITE).bits();
    let vspace = Cap::from_cptr(crate::bootinfo::SLOT_VSPACE);
    for page in 0..WINDOW_PAGES as u64 {
        let frame: Cap<Frame> = alloc.make().map_err(|_| Errno::ENOMEM)?;
        let vaddr = WINDOW_ADDR + page * 4096;
        crate::vspace::map_frame(&mut alloc, vspace, frame, vaddr, rw, false)
            .map_err(|_| Errno::EFAULT)?;
        namespace().attach_window(page, frame)?;
    }
    Ok(())
}
