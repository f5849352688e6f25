//! The process table: one record per process, from hatch until a wait reaps it.

use crate::memory::MAX_BLOCKS;
use libsys::loader::Process;
use procsrv_api::{ProcessInfo, INFO_CWD_BYTES, INFO_GROUPS, INFO_NAME_BYTES};
use procsrv_api::{PsEntry, WaitStatus};

/// Most process records (live and zombie), procsrv's own pid 0 included.
pub const MAX_PROCS: usize = 128;
/// Entries of the table's pid hints (`Table::index`): pids are handed out in order, so the
/// live ones rarely share low bits.
const PID_HINTS: usize = 256;
const _: () = assert!(MAX_PROCS <= 256, "a hint is a u8");
/// Most supplementary groups.
pub const NGROUPS_MAX: usize = 32;
/// Bytes of a process name kept.
pub const NAME_LEN: usize = 32;
/// Bytes of a working directory kept.
pub const CWD_LEN: usize = 128;
/// Resource limits (RLIMIT_CPU..=RLIMIT_RTTIME).
pub const RLIMITS: usize = 16;
/// RLIMIT_STACK.
pub const RLIMIT_STACK: usize = 3;
/// RLIMIT_NPROC.
pub const RLIMIT_NPROC: usize = 6;
/// RLIMIT_NOFILE.
pub const RLIMIT_NOFILE: usize = 7;
/// RLIMIT_DATA.
pub const RLIMIT_DATA: usize = 2;
/// RLIMIT_AS.
pub const RLIMIT_AS: usize = 9;
/// RLIMIT_CPU (seconds of CPU time; procsrv enforces it: `crate::cpu`).
pub const RLIMIT_CPU: usize = 0;
/// No limit.
pub const INFINITY: u64 = u64::MAX;

/// Where a process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Hatched with `start_suspended`; not yet resumed.
    Suspended,
    /// Running (or blocked in a system call).
    Running,
    /// Stopped by SIGSTOP/SIGTSTP until SIGCONT.
    Stopped,
    /// Dead, waiting for its parent's wait.
    Zombie(WaitStatus),
}

impl State {
    /// The number a listing shows.
    pub fn number(self) -> u64 {
        match self {
            State::Running => 0,
            State::Suspended => 1,
            State::Stopped => 2,
            State::Zombie(_) => 3,
        }
    }
}

/// User and group ids, POSIX style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Real, effective, saved uid.
    pub uid: [u32; 3],
    /// Real, effective, saved gid.
    pub gid: [u32; 3],
    /// Supplementary groups.
    pub groups: [u32; NGROUPS_MAX],
    /// How many of `groups` are used.
    pub ngroups: usize,
}

impl Creds {
    /// uid 0, gid 0, no groups.
    pub const ROOT: Creds = Creds {
        uid: [0; 3],
        gid: [0; 3],
        groups: [0; NGROUPS_MAX],
        ngroups: 0,
    };

    /// Whether the effective uid is 0.
    pub fn privileged(&self) -> bool {
        self.uid[1] == 0
    }
}

/// Everything procsrv keeps about one process.
pub struct Proc {
    /// Process id (never reused while procsrv runs, up to 2^31).
    pub pid: u32,
    /// Parent's pid.
    pub ppid: u32,
    /// Process group.
    pub pgid: u32,
    /// Session.
    pub sid: u32,
    /// Whether its session has a controlling terminal (kept on the session leader).
    pub ctty: bool,
    /// Which, as `PsEntry::tty` numbers it (0: not known), from the file server's
    /// `CONTROL_ACQUIRED` event (kept on the session leader).
    pub tty: u64,
    /// Life state.
    pub state: State,
    /// Credentials.
    pub creds: Creds,
    /// File mode creation mask.
    pub umask: u32,
    /// `(soft, hard)` per resource.
    pub limits: [(u64, u64); RLIMITS],
    /// Thread priority.
    pub priority: u8,
    /// CPUs it may run on.
    pub affinity: u64,
    /// Blocked signals (bit n-1 = signal n).
    pub sigmask: u64,
    /// Ignored signals.
    pub sigignore: u64,
    /// Pending signals (blocked when sent).
    pub pending: u64,
    /// Name as listings show it.
    pub name: [u8; NAME_LEN],
    /// Working directory.
    pub cwd: [u8; CWD_LEN],
    /// Length of `cwd`.
    pub cwd_len: usize,
    /// Its objects are [`Table::objects`] of its block (false for zombies and procsrv
    /// itself): kept there, by block, whether the process lives or its block is warm, so
    /// that no hatch or death moves them (about 1.5 KiB).
    pub live: bool,
    /// It hatched a child or was given orphans: only then does its death look for its
    /// children (a scan of the table).
    pub had_children: bool,
    /// Index of its memory block.
    pub block: usize,
    /// Blocked in `wait` (its reply saved in its Reply object): for whom, or `None`.
    pub waiting_for: Option<u64>,
    /// Its `wait` (while `waiting_for`) asked for stops (`WUNTRACED`).
    pub waiting_untraced: bool,
    /// The signal of a stop no `WUNTRACED` wait has reported yet.
    pub unreported_stop: Option<procsrv_api::Signal>,
    /// It has been sent SIGXCPU for passing its soft RLIMIT_CPU (once, as POSIX asks at
    /// least; it then runs on to its hard limit if it ignores or blocks the signal).
    pub cpu_signalled: bool,
}

impl Proc {
    /// procsrv's own record: pid 0, root, session 0, nothing limited.
    pub fn procsrv() -> Proc {
        Proc {
            pid: 0,
            ppid: 0,
            pgid: 0,
            sid: 0,
            ctty: false,
            tty: 0,
            state: State::Running,
            creds: Creds::ROOT,
            umask: 0o022,
            limits: default_limits(),
            priority: 255,
            affinity: 1,
            sigmask: 0,
            sigignore: 0,
            pending: 0,
            name: name_bytes(b"procsrv"),
            cwd: cwd_bytes(b"/"),
            cwd_len: 1,
            live: false,
            had_children: false,
            block: usize::MAX,
            waiting_for: None,
            waiting_untraced: false,
            unreported_stop: None,
            cpu_signalled: false,
        }
    }

    /// A child of `parent` with pid `pid`: everything inherited (signal dispositions that
    /// were caught become default; procsrv knows no handlers yet, so only the ignored set
    /// and the mask carry over).
    pub fn child_of(parent: &Proc, pid: u32) -> Proc {
        Proc {
            pid,
            ppid: parent.pid,
            pgid: parent.pgid,
            sid: parent.sid,
            ctty: false,
            tty: 0,
            state: State::Running,
            creds: parent.creds,
            umask: parent.umask,
            limits: parent.limits,
            priority: parent.priority,
            affinity: parent.affinity,
            sigmask: parent.sigmask,
            sigignore: parent.sigignore,
            pending: 0,
            name: parent.name,
            cwd: parent.cwd,
            cwd_len: parent.cwd_len,
            live: false,
            had_children: false,
            block: usize::MAX,
            waiting_for: None,
            waiting_untraced: false,
            unreported_stop: None,
            cpu_signalled: false,
        }
    }

    /// The working directory.
    pub fn cwd(&self) -> &[u8] {
        &self.cwd[..self.cwd_len]
    }

    /// Its listing entry.
    pub fn entry(&self) -> PsEntry {
        let mut name = [0; 16];
        name.copy_from_slice(&self.name[..16]);
        PsEntry {
            pid: self.pid.into(),
            ppid: self.ppid.into(),
            pgid: self.pgid.into(),
            sid: self.sid.into(),
            uid: self.creds.uid[1].into(),
            state: self.state.number(),
            name,
            tty: 0,
        }
    }
}

impl Proc {
    /// What [`procsrv_api::label::INFO`] tells about this process.
    pub fn info(&self) -> ProcessInfo {
        let mut info = ProcessInfo {
            pid: self.pid.into(),
            ppid: self.ppid.into(),
            pgid: self.pgid.into(),
            sid: self.sid.into(),
            ctty: self.ctty,
            uid: self.creds.uid,
            gid: self.creds.gid,
            ngroups: self.creds.ngroups.min(INFO_GROUPS),
            umask: self.umask,
            priority: self.priority.into(),
            affinity: self.affinity,
            sigmask: self.sigmask,
            sigignore: self.sigignore,
            pending: self.pending,
            cwd_len: self.cwd_len.min(INFO_CWD_BYTES),
            ..ProcessInfo::default()
        };
        let groups = info.ngroups;
        info.groups[..groups].copy_from_slice(&self.creds.groups[..groups]);
        for (to, from) in info.limits.iter_mut().zip(self.limits.iter()) {
            *to = *from;
        }
        let name = self.name.len().min(INFO_NAME_BYTES);
        info.name[..name].copy_from_slice(&self.name[..name]);
        info.cwd[..info.cwd_len].copy_from_slice(&self.cwd[..info.cwd_len]);
        info
    }
}

/// No limits but NOFILE (the fd slots) and NPROC (the table).
pub fn default_limits() -> [(u64, u64); RLIMITS] {
    let mut limits = [(INFINITY, INFINITY); RLIMITS];
    limits[RLIMIT_NOFILE] = (libsys::process::MAX_FDS, libsys::process::MAX_FDS);
    limits[RLIMIT_NPROC] = (MAX_PROCS as u64, MAX_PROCS as u64);
    limits
}

/// `bytes` as a NUL-padded name (cut at [`NAME_LEN`]).
pub fn name_bytes(bytes: &[u8]) -> [u8; NAME_LEN] {
    let mut name = [0; NAME_LEN];
    let n = bytes.len().min(NAME_LEN);
    name[..n].copy_from_slice(&bytes[..n]);
    name
}

fn cwd_bytes(bytes: &[u8]) -> [u8; CWD_LEN] {
    let mut cwd = [0; CWD_LEN];
    let n = bytes.len().min(CWD_LEN);
    cwd[..n].copy_from_slice(&bytes[..n]);
    cwd
}

/// The records, indexed by slot; pids map to slots by search.
pub struct Table {
    procs: [Option<Proc>; MAX_PROCS],
    /// The objects of the process of each memory block: a live one's (its record has
    /// `live` and that block), or a warm block's between two lives
    /// (`crate::memory::Blocks`), or none.
    objects: [Option<Process>; MAX_BLOCKS],
    /// The last pid handed out (0 at first: the table is all zero, so it costs no file
    /// bytes, only bss).
    last_pid: u32,
    /// Where the record of a pid was stored, by its low bits ([`PID_HINTS`] of them): a
    /// hint checked against the record (a scan of the table otherwise; it was a scan of
    /// all 128 records per lookup, several per hatch).
    hints: [u8; PID_HINTS],
    /// A record with a finite RLIMIT_CPU was stored or given one since procsrv last looked
    /// (`crate::cpu`): the receive loop must start watching CPU times.
    pub cpu_limits_changed: bool,
}

impl Table {
    /// Makes an empty table in `slot` (a static's bss: the table is too big for a stack,
    /// and a const initializer would put its 140 KiB in the program file, because `None`
    /// of `Option<Proc>` is not all zero bytes) and returns it.
    pub fn init_in_place(slot: &mut core::mem::MaybeUninit<Table>) -> &mut Table {
        let table = slot.as_mut_ptr();
        for i in 0..MAX_PROCS {
            // SAFETY: `table` points at `slot`'s memory, which we may write; the field
            // pointer stays inside it and is written without reading the old bytes.
            unsafe { core::ptr::addr_of_mut!((*table).procs[i]).write(None) };
        }
        for i in 0..MAX_BLOCKS {
            // SAFETY: as above.
            unsafe { core::ptr::addr_of_mut!((*table).objects[i]).write(None) };
        }
        // SAFETY: as above.
        unsafe { core::ptr::addr_of_mut!((*table).last_pid).write(0) };
        // SAFETY: as above.
        unsafe { core::ptr::addr_of_mut!((*table).hints).write([0; PID_HINTS]) };
        // SAFETY: as above.
        unsafe { core::ptr::addr_of_mut!((*table).cpu_limits_changed).write(false) };
        // SAFETY: every field was just initialized.
        unsafe { slot.assume_init_mut() }
    }

    /// Puts procsrv's own record (pid 0) in.
    pub fn init(&mut self) {
        self.procs[0] = Some(Proc::procsrv());
    }

    /// The index of `pid`'s record.
    pub fn index(&self, pid: u64) -> Option<usize> {
        let has = |i: usize| {
            self.procs
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|p| u64::from(p.pid) == pid)
        };
        let hint = usize::from(self.hints[pid as usize % PID_HINTS]);
        if has(hint) {
            return Some(hint);
        }
        (0..MAX_PROCS).find(|&i| has(i))
    }

    /// The record of `pid`.
    pub fn get(&self, pid: u64) -> Option<&Proc> {
        self.index(pid).and_then(|i| self.procs[i].as_ref())
    }

    /// The record of `pid`, mutable.
    pub fn get_mut(&mut self, pid: u64) -> Option<&mut Proc> {
        let i = self.index(pid)?;
        self.procs[i].as_mut()
    }

    /// The live process built from memory block `block`.
    pub fn pid_of_block(&self, block: usize) -> Option<u64> {
        self.iter()
            .find(|p| p.block == block && p.live)
            .map(|p| u64::from(p.pid))
    }

    /// The objects kept in memory block `block` (a live or a warm process's).
    pub fn objects(&self, block: usize) -> Option<&Process> {
        self.objects.get(block)?.as_ref()
    }

    /// The objects kept in memory block `block`, mutable.
    pub fn objects_mut(&mut self, block: usize) -> Option<&mut Process> {
        self.objects.get_mut(block)?.as_mut()
    }

    /// Puts `objects` in block `block` (returning what it held); `None` empties it.
    pub fn set_objects(&mut self, block: usize, objects: Option<Process>) -> Option<Process> {
        match self.objects.get_mut(block) {
            Some(place) => core::mem::replace(place, objects),
            None => objects,
        }
    }

    /// The objects of `p` when it is live.
    pub fn process_of(&self, p: &Proc) -> Option<&Process> {
        if p.live {
            self.objects(p.block)
        } else {
            None
        }
    }

    /// The record of `pid`, mutable, with its objects when it is live.
    pub fn get_mut_with_objects(&mut self, pid: u64) -> Option<(&mut Proc, Option<&mut Process>)> {
        let i = self.index(pid)?;
        let Table { procs, objects, .. } = self;
        let p = procs[i].as_mut()?;
        let o = if p.live {
            objects.get_mut(p.block).and_then(Option::as_mut)
        } else {
            None
        };
        Some((p, o))
    }

    /// Every record, mutable, with its objects when it is live.
    pub fn iter_mut_with_objects(&mut self) -> impl Iterator<Item = (&mut Proc, Option<&Process>)> {
        let Table { procs, objects, .. } = self;
        let objects = &*objects;
        procs.iter_mut().flatten().map(move |p| {
            let o = if p.live {
                objects.get(p.block).and_then(Option::as_ref)
            } else {
                None
            };
            (p, o)
        })
    }

    /// A free record index, if any.
    pub fn free_index(&self) -> Option<usize> {
        self.procs.iter().position(Option::is_none)
    }

    /// The next pid (not yet taken).
    pub fn peek_pid(&self) -> u32 {
        match self.last_pid.wrapping_add(1) & 0x7fff_ffff {
            0 => 1,
            pid => pid,
        }
    }

    /// Stores a new record at `index` and advances the pid counter.
    pub fn insert(&mut self, index: usize, proc: Proc) {
        self.last_pid = self.peek_pid();
        if proc.limits[RLIMIT_CPU] != (INFINITY, INFINITY) {
            self.cpu_limits_changed = true;
        }
        self.hints[proc.pid as usize % PID_HINTS] = index as u8;
        self.procs[index] = Some(proc);
    }

    /// Removes and returns `pid`'s record.
    pub fn remove(&mut self, pid: u64) -> Option<Proc> {
        let i = self.index(pid)?;
        self.procs[i].take()
    }

    /// Every record.
    pub fn iter(&self) -> impl Iterator<Item = &Proc> {
        self.procs.iter().flatten()
    }

    /// Every record, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Proc> {
        self.procs.iter_mut().flatten()
    }

    /// Live (non-zombie) records.
    pub fn live(&self) -> usize {
        self.iter()
            .filter(|p| !matches!(p.state, State::Zombie(_)))
            .count()
    }
}

/// The one uid `creds` has when its real, effective and saved uids are the same (a warm
/// block is reused only for the same sole uid: `memory::Blocks::take_for`).
pub fn sole_uid(creds: &Creds) -> Option<u32> {
    let [real, effective, saved] = creds.uid;
    (real == effective && effective == saved).then_some(real)
}
