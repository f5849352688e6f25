//! What procsrv needs from a file server, as a trait, so that hatching is complete and
//! testable before the file server exists (see docs/procsrv.md, "open").
//!
//! procsrv calls the file server on the child's behalf with the credentials, working
//! directory and umask *as the egg has set them so far* ([`OpenContext`]); the server puts
//! the open file's cap straight into the child's fd slot. Every call is bounded by the
//! request's timeout: a server that does not answer in time fails the op with ETIMEDOUT.

use crate::table::{Creds, Proc};
use libsys::cap::{CNode, Cap, Endpoint, SlotPath};
use libsys::fs::control::Event;
use libsys::object::Rights;
use procsrv_api::Errno;

/// Who is opening, as the egg has left the child so far.
pub struct OpenContext<'a> {
    /// Credentials.
    pub creds: &'a Creds,
    /// Working directory.
    pub cwd: &'a [u8],
    /// File mode creation mask.
    pub umask: u32,
    /// The child's pid, session and group (the server ties terminals to them).
    pub pid: u32,
    /// Session.
    pub sid: u32,
    /// Process group.
    pub pgid: u32,
    /// Bound of the call in milliseconds (0: the default).
    pub timeout_ms: u64,
    /// The whole record as the egg has left it so far.
    pub proc: &'a Proc,
}

/// What an open gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The file is a terminal.
    pub terminal: bool,
}

/// The file server as procsrv sees it.
pub trait FileServer {
    /// Opens `path` for the child; the cap goes to `dest` (a path relative to `root`).
    ///
    /// # Errors
    /// The server's errno, or ETIMEDOUT.
    fn open(
        &mut self,
        context: &OpenContext<'_>,
        path: &[u8],
        flags: u32,
        mode: u32,
        root: Cap<CNode>,
        dest: SlotPath,
    ) -> Result<Opened, Errno>;

    /// Whether descriptor `fd` of the child being built is a terminal.
    fn is_terminal(&self, fd: u32) -> bool;

    /// Checks that `path` names a directory the child may enter.
    ///
    /// # Errors
    /// The server's errno, or ETIMEDOUT.
    fn check_directory(&mut self, path: &[u8], timeout_ms: u64) -> Result<(), Errno>;

    /// Writes the path of the directory open on `fd` into `out`; returns its length.
    ///
    /// # Errors
    /// ENOTDIR-like errors as EBADF, or ETIMEDOUT.
    fn directory_path(&mut self, fd: u32, out: &mut [u8], timeout_ms: u64) -> Result<usize, Errno>;

    /// The endpoint children's namespace caps are minted from (`SLOT_FS`), if any.
    fn namespace_endpoint(&self) -> Option<Cap<Endpoint>> {
        None
    }

    /// A new child is being built (forget the last one's terminal fds); every call to the
    /// server until [`Self::end`] (and the [`Self::forget`] of an undone hatch) is bounded
    /// by `timeout_ms` (0: the default).
    fn begin(&mut self, _timeout_ms: u64) {}

    /// The child's hatch ends: `succeeded`, or undone, and then what it changed in the
    /// server (a terminal's foreground group) is put back.
    fn end(&mut self, _succeeded: bool) {}

    /// Tells the server who process `p` is (credentials, umask, group, session, whether it
    /// ignores or blocks SIGTTIN/SIGTTOU).
    ///
    /// # Errors
    /// The server's errno.
    fn register(&mut self, _p: &Proc) -> Result<(), Errno> {
        Ok(())
    }

    /// The egg's `cap` into fd slot `fd`: when the cap at `src` (relative to `root`) is one
    /// of the server's fds, gives child `pid` a handle of its own on the description at
    /// `dest` with `rights` and returns true; false for any other cap (copied as it is).
    ///
    /// # Errors
    /// `EBADF` (an empty source), `ENOMEM`.
    fn share(
        &mut self,
        _pid: u32,
        _fd: u32,
        _root: Cap<CNode>,
        _src: SlotPath,
        _dest: SlotPath,
        _rights: Rights,
    ) -> Result<bool, Errno> {
        Ok(false)
    }

    /// The egg's `tcsetpgrp`: with `p` registered as it is now, makes its group the
    /// foreground group of the terminal whose fd cap is at `fd` (relative to
    /// `root`).
    ///
    /// # Errors
    /// The server's errno.
    fn set_foreground(&mut self, _p: &Proc, _root: Cap<CNode>, _fd: SlotPath) -> Result<(), Errno> {
        Ok(())
    }

    /// The egg's `open` put the server's fd into fd `fd` of the child being built.
    fn opened(&mut self, _fd: u32, _terminal: bool) {}

    /// Whether fd `from` of the child being built is one of the server's (so that a copy of
    /// it is told to the server, [`Self::copied`], and must be made first).
    fn tracks(&self, _fd: u32) -> bool {
        false
    }

    /// The egg's `dup2` copied fd `from` to fd `to` (at `to_path`, relative to `root`): the
    /// child holds one more copy of a server fd (`FdDup`).
    fn copied(&mut self, _from: u32, _to: u32, _root: Cap<CNode>, _to_path: SlotPath) {}

    /// The egg is about to delete fd `fd` (at `path`): one copy fewer (`FdClose`).
    fn closing(&mut self, _fd: u32, _root: Cap<CNode>, _path: SlotPath) {}

    /// Process `pid` is gone (dead, or its hatch undone): its handles close.
    fn forget(&mut self, _pid: u32) {}

    /// Fetches up to 3 pending events (signals for groups and processes).
    fn events(&mut self, _out: &mut [Event; 3]) -> usize {
        0
    }

    /// Tests only (`crate::testfiles`): the file server becomes the one receiving on the
    /// endpoint in procsrv slot `endpoint` (owned from now on), or none.
    ///
    /// # Errors
    /// ENOSYS for every server but a test procsrv's.
    fn replace_test_server(
        &mut self,
        _alloc: &mut libsys::alloc::Allocator,
        _endpoint: Option<u64>,
    ) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
}

/// The file server before one exists: the boot archive's `/bin` is the only directory
/// known, no path can be opened (ENOENT) and no fd is a terminal.
pub struct NoFileServer;

impl FileServer for NoFileServer {
    fn open(
        &mut self,
        _context: &OpenContext<'_>,
        _path: &[u8],
        _flags: u32,
        _mode: u32,
        _root: Cap<CNode>,
        _dest: SlotPath,
    ) -> Result<Opened, Errno> {
        Err(Errno::ENOENT)
    }

    fn is_terminal(&self, _fd: u32) -> bool {
        false
    }

    fn check_directory(&mut self, path: &[u8], _timeout_ms: u64) -> Result<(), Errno> {
        match path {
            b"/" | b"/bin" | b"/bin/" => Ok(()),
            _ => Err(Errno::ENOENT),
        }
    }

    fn directory_path(
        &mut self,
        _fd: u32,
        _out: &mut [u8],
        _timeout_ms: u64,
    ) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
}
