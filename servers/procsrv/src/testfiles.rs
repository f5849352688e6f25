//! The file server of a test procsrv (one started with `Options::fault_injection`): none
//! at first, as [`NoFileServer`]; `TEST_FILE_SERVER` makes it a link ([`FsLink::connect`])
//! to a server a test process runs, such as one that never answers an open, and back.
//! This is how `hatchtest` checks that every call procsrv makes to a file server during a
//! hatch is bounded (ETIMEDOUT at the op's index) and that a timed-out hatch leaks nothing.

use crate::files::{FileServer, NoFileServer, OpenContext, Opened};
use crate::fsrv::FsLink;
use crate::table::Proc;
use libsys::alloc::Allocator;
use libsys::cap::{CNode, Cap, Endpoint, SlotPath};
use libsys::fs::control::Event;
use libsys::object::Rights;
use libsys::time::Clock;
use procsrv_api::Errno;

/// No file server, or a test's.
pub struct TestFiles {
    link: Option<FsLink>,
    none: NoFileServer,
    clock: Clock,
}

impl TestFiles {
    /// No file server yet; calls to a later one are bounded on `clock`.
    pub const fn new(clock: Clock) -> TestFiles {
        TestFiles {
            link: None,
            none: NoFileServer,
            clock,
        }
    }

    /// Makes the server receiving on the endpoint in procsrv slot `endpoint` (owned from
    /// now on) the file server, or (`None`) has none; the link before is released.
    ///
    /// # Errors
    /// [`FsLink::connect`]'s.
    pub fn replace(&mut self, alloc: &mut Allocator, endpoint: Option<u64>) -> Result<(), Errno> {
        if let Some(old) = self.link.take() {
            old.release(alloc);
        }
        if let Some(endpoint) = endpoint {
            self.link = Some(FsLink::connect(alloc, endpoint, self.clock)?);
        }
        Ok(())
    }

    fn server(&mut self) -> &mut dyn FileServer {
        match &mut self.link {
            Some(link) => link,
            None => &mut self.none,
        }
    }
}

impl FileServer for TestFiles {
    fn open(
        &mut self,
        context: &OpenContext<'_>,
        path: &[u8],
        flags: u32,
        mode: u32,
        root: Cap<CNode>,
        dest: SlotPath,
    ) -> Result<Opened, Errno> {
        self.server().open(context, path, flags, mode, root, dest)
    }

    fn is_terminal(&self, fd: u32) -> bool {
        match &self.link {
            Some(link) => link.is_terminal(fd),
            None => self.none.is_terminal(fd),
        }
    }

    fn check_directory(&mut self, path: &[u8], timeout_ms: u64) -> Result<(), Errno> {
        self.server().check_directory(path, timeout_ms)
    }

    fn directory_path(&mut self, fd: u32, out: &mut [u8], timeout_ms: u64) -> Result<usize, Errno> {
        self.server().directory_path(fd, out, timeout_ms)
    }

    fn namespace_endpoint(&self) -> Option<Cap<Endpoint>> {
        self.link.as_ref().and_then(FsLink::namespace_endpoint)
    }

    fn begin(&mut self, timeout_ms: u64) {
        self.server().begin(timeout_ms);
    }

    fn end(&mut self, succeeded: bool) {
        self.server().end(succeeded);
    }

    fn register(&mut self, p: &Proc) -> Result<(), Errno> {
        self.server().register(p)
    }

    fn share(
        &mut self,
        pid: u32,
        fd: u32,
        root: Cap<CNode>,
        src: SlotPath,
        dest: SlotPath,
        rights: Rights,
    ) -> Result<bool, Errno> {
        self.server().share(pid, fd, root, src, dest, rights)
    }

    fn set_foreground(&mut self, p: &Proc, root: Cap<CNode>, fd: SlotPath) -> Result<(), Errno> {
        self.server().set_foreground(p, root, fd)
    }

    fn opened(&mut self, fd: u32, terminal: bool) {
        self.server().opened(fd, terminal);
    }

    fn copied(&mut self, from: u32, to: u32, root: Cap<CNode>, to_path: SlotPath) {
        self.server().copied(from, to, root, to_path);
    }

    fn closing(&mut self, fd: u32, root: Cap<CNode>, path: SlotPath) {
        self.server().closing(fd, root, path);
    }

    fn forget(&mut self, pid: u32) {
        self.server().forget(pid);
    }

    fn events(&mut self, out: &mut [Event; 3]) -> usize {
        self.server().events(out)
    }

    fn replace_test_server(
        &mut self,
        alloc: &mut Allocator,
        endpoint: Option<u64>,
    ) -> Result<(), Errno> {
        self.replace(alloc, endpoint)
    }
}
