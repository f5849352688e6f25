//! The identities a terminal's rules depend on, as the server learned them from procsrv.

/// A process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(pub u32);

/// A process group id (the pid of the group's leader).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// A session id (the pid of the session's leader).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u32);

/// Who is calling, as trusted values: the server fills them in from procsrv's record of
/// the badge the request came on, never from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The calling process.
    pub process: ProcessId,
    /// Its process group.
    pub group: GroupId,
    /// Its session.
    pub session: SessionId,
    /// It ignores or blocks SIGTTIN: a background read fails with `EIO` instead.
    pub ignores_ttin: bool,
    /// It ignores or blocks SIGTTOU: a background write or setting change goes ahead.
    pub ignores_ttou: bool,
    /// Its process group is orphaned (no parent in another group of the same session): a
    /// job-control stop would never be undone, so the call fails with `EIO` instead.
    pub orphaned: bool,
}

impl Caller {
    /// A caller with these ids, catching job-control signals, in a group that is not
    /// orphaned.
    pub const fn new(process: u32, group: u32, session: u32) -> Self {
        Caller {
            process: ProcessId(process),
            group: GroupId(group),
            session: SessionId(session),
            ignores_ttin: false,
            ignores_ttou: false,
            orphaned: false,
        }
    }

    /// Whether the caller leads its session (a session's id is its leader's pid).
    pub const fn is_session_leader(&self) -> bool {
        self.process.0 == self.session.0
    }
}
