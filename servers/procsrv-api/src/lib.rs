//! The process server's protocol, written once: labels, the hatch request and reply layout,
//! errno-style errors, wait statuses and the badges procsrv mints.
//!
//! This crate is pure (`no_std`, no system calls) so that procsrv, libsys's client side
//! (`libsys::process`) and host tests share one definition. docs/procsrv.md describes the
//! protocol in prose; the layout here is the authority.
#![no_std]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod alt;
pub mod cpu_limit;
mod errno;
mod info;
pub mod phase;
mod request;
mod status;

pub use errno::Errno;
pub use info::{ProcessInfo, INFO_CWD_BYTES, INFO_GROUPS, INFO_NAME_BYTES, INFO_RLIMITS};
pub use request::{
    decode_hatch, encode_hatch, encode_hatch_paged, strings, HatchRequest, RequestError,
    RequestPages, HATCH_HEADER_WORDS, MAX_CAP_RADIX, MAX_PAGED_REQUEST_BYTES, MAX_REQUEST_BYTES,
    MAX_REQUEST_PAGES, MAX_STRINGS, REQUEST_PAGES_ADDR, SMALL_REQUEST_BYTES,
};
pub use status::{signal, Signal, WaitStatus};

/// Labels of the calls procsrv answers. Calls through a process's own procsrv endpoint
/// (slot `SLOT_PROCSRV`) act on the caller; calls through a process handle act on the child
/// the handle names.
pub mod label {
    /// Hatch a child (own endpoint). See [`crate::encode_hatch`].
    pub const HATCH: u64 = 1;
    /// End the calling process with status word 0 (own endpoint). Never answered.
    pub const EXIT: u64 = 2;
    /// Wait for a child. Own endpoint: word 0 is the pid (or [`crate::WAIT_ANY`]), word 1
    /// the options ([`crate::WNOHANG`], [`crate::WUNTRACED`]). Handle: word 1 the options. Reply: pid, status word.
    pub const WAIT: u64 = 3;
    /// Send signal word 1 to pid word 0 (own endpoint) or to the handle's process (word 0).
    pub const KILL: u64 = 4;
    /// Start a child left suspended by `start_suspended` (handle).
    pub const RESUME: u64 = 5;
    /// The caller's (or the handle's process's) pid, ppid, process group and session.
    pub const IDS: u64 = 6;
    /// Is opcode word 0 supported? Reply word 0: 1 or 0.
    pub const SUPPORTED: u64 = 7;
    /// Limits: reply words most ops, most request caps, most request bytes, most processes;
    /// then in the IPC buffer words 4..: the supported opcode bitmap (bit n = opcode n).
    pub const LIMITS: u64 = 8;
    /// Process listing: entries from pid word 0 up (see [`crate::PsEntry`]).
    pub const LIST: u64 = 9;
    /// Diagnostic: free process memory blocks, free procsrv slots, live process records.
    pub const USAGE: u64 = 10;
    /// Tests only (ENOSYS unless procsrv was started with fault injection on): allocation
    /// step word 0 of the next hatches fails as if memory had run out; 2^64-1 turns it off.
    /// Word 1 nonzero: the next hatches build cold (no warm block is taken or parked).
    pub const INJECT: u64 = 11;
    /// What procsrv knows about the caller (own endpoint) or the handle's process: a
    /// [`crate::ProcessInfo`] in [`crate::ProcessInfo::WORDS`] reply words (the first 4 in
    /// registers, the rest from IPC buffer word 4 on).
    pub const INFO: u64 = 12;
    /// The time-stamp counter's rate: reply word 0, ticks per second (the boot info's
    /// `tsc_hz`), to turn times into the deadlines of `libsys::time`.
    pub const CLOCK: u64 = 13;
    /// Sets the working directory procsrv keeps for the caller (the one its children
    /// start in) after the caller changed its own at the file server: word 0 the length
    /// (at most [`crate::INFO_CWD_BYTES`]), the absolute path's bytes from word 1 on
    /// (little-endian, 8 a word). The file server checks it when a child uses it.
    pub const SET_CWD: u64 = 14;
    /// Makes the caller ignore the signals of set word 0 (bit n-1 = signal n), as an
    /// interactive shell ignores the job-control signals; SIGKILL and SIGSTOP cannot be
    /// ignored (EINVAL). Reply word 0: the ignored set before.
    pub const SIGIGNORE: u64 = 15;
    /// Sets the caller's file mode creation mask to word 0 (at most 0o777; EINVAL above);
    /// reply word 0: the mask before. The file server is told (it applies the mask).
    pub const UMASK: u64 = 16;
    /// Sets the caller's limits of resource word 0 (`RLIMIT_*` number) to soft word 1 and
    /// hard word 2 (`u64::MAX`: none): EINVAL for soft above hard or an unknown resource,
    /// EPERM for a raised hard limit unless privileged. Children inherit them.
    pub const SETRLIMIT: u64 = 17;
    /// Tests only (ENOSYS unless procsrv was started with fault injection on): with one
    /// endpoint cap sent, hatches from now on use the server receiving on it as their file
    /// server (a test's stand-in, e.g. one that never answers an open); with no cap, they
    /// have none again. Numbered far from the others so new labels do not collide.
    pub const TEST_FILE_SERVER: u64 = 64;
    /// Chatty way (own endpoint): open a launch from a hatch request whose egg is empty
    /// (caps are sent with `LAUNCH_START`). Reply word 0: the launch id. See [`crate::alt`].
    pub const LAUNCH_CREATE: u64 = 32;
    /// Chatty way: word 0 the launch id, then one attribute ([`crate::alt::attribute_words`]).
    pub const LAUNCH_ADD: u64 = 33;
    /// Chatty way: word 0 the launch id, word 1 the cap radix (the CNode as extra cap 0).
    /// Hatches what the launch says and closes it; replied as `HATCH`.
    pub const LAUNCH_START: u64 = 34;
    /// Struct way: one message holding [`crate::alt::SpawnAttrs`]; replied as `HATCH`.
    pub const SPAWN_STRUCT: u64 = 35;
    /// Diagnostic: the instruction totals of a hatch's phases ([`crate::phase`]); word 0
    /// nonzero resets them first.
    pub const PHASES: u64 = 65;
}

/// Reply label of a successful call.
pub const REPLY_OK: u64 = 0;
/// Reply label of a failed call: word 0 is the [`Errno`], word 1 the failing op index
/// ([`NO_OP`] when no op is to blame), word 2 its byte offset, word 3 the byte offset of
/// the fault itself (validation errors) or 0.
pub const REPLY_ERROR: u64 = 1;
/// The op index of an error that no op caused (a bad request, a missing program...).
pub const NO_OP: u64 = u64::MAX;

/// `wait` on any child (as `waitpid(-1, ...)`).
pub const WAIT_ANY: u64 = u64::MAX;
/// `wait` option: do not block; reply pid 0 when no child has ended.
pub const WNOHANG: u64 = 1;
/// `wait` option (own endpoint): report a child stopped by a signal (once per stop), as
/// [`WaitStatus::Stopped`], without reaping it.
pub const WUNTRACED: u64 = 2;

/// Badge bits procsrv mints into the endpoint caps it hands out. The low 32 bits are the
/// pid (for `FAULT`, the memory block); the kind sits above so one endpoint serves all three
/// kinds of caller.
pub mod badge {
    /// A process's own endpoint (slot `SLOT_PROCSRV`).
    pub const PROCESS: u64 = 1 << 40;
    /// A process handle (given to the parent by `hatch`).
    pub const HANDLE: u64 = 2 << 40;
    /// A thread's fault endpoint: the kernel sends fault messages through it. The low bits
    /// are procsrv's memory block of the process, not its pid (the cap is made once per
    /// block).
    pub const FAULT: u64 = 3 << 40;
    /// Mask of the kind bits.
    pub const KIND_MASK: u64 = 0xff << 40;
    /// Mask of the pid bits.
    pub const PID_MASK: u64 = 0xffff_ffff;
}

/// One entry of a process listing, [`PsEntry::WORDS`] words in the IPC buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PsEntry {
    /// Process id.
    pub pid: u64,
    /// Parent's pid.
    pub ppid: u64,
    /// Process group.
    pub pgid: u64,
    /// Session.
    pub sid: u64,
    /// Effective uid.
    pub uid: u64,
    /// State: 0 running, 1 suspended before its start, 2 stopped, 3 zombie.
    pub state: u64,
    /// The first 16 bytes of the name, NUL padded.
    pub name: [u8; 16],
    /// The controlling terminal of its session: 0 none (or not known), else 1 + the file
    /// server's terminal index (0 the console, n + 1 pty n): see [`PsEntry::tty_name`].
    pub tty: u64,
}

impl PsEntry {
    /// Words per entry.
    pub const WORDS: usize = 9;

    /// The name `ps` shows for [`PsEntry::tty`]: `?` (none), `console`, `pts/N`; the
    /// digits of N go into `buf`.
    pub fn tty_name(tty: u64, buf: &mut [u8; 24]) -> &[u8] {
        match tty {
            0 => b"?",
            1 => b"console",
            n => {
                let mut digits = [0u8; 20];
                let mut i = digits.len();
                let mut pty = n - 2;
                loop {
                    i -= 1;
                    digits[i] = b'0' + (pty % 10) as u8;
                    pty /= 10;
                    if pty == 0 {
                        break;
                    }
                }
                let len = 4 + digits.len() - i;
                buf[..4].copy_from_slice(b"pts/");
                buf[4..len].copy_from_slice(&digits[i..]);
                &buf[..len]
            }
        }
    }

    /// The entry as words.
    pub fn to_words(&self) -> [u64; Self::WORDS] {
        let (a, b) = self.name.split_at(8);
        [
            self.pid,
            self.ppid,
            self.pgid,
            self.sid,
            self.uid,
            self.state,
            u64::from_le_bytes(a.try_into().unwrap_or([0; 8])),
            u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
            self.tty,
        ]
    }

    /// The entry from words.
    pub fn from_words(w: &[u64; Self::WORDS]) -> Self {
        let mut name = [0; 16];
        name[..8].copy_from_slice(&w[6].to_le_bytes());
        name[8..].copy_from_slice(&w[7].to_le_bytes());
        PsEntry {
            pid: w[0],
            ppid: w[1],
            pgid: w[2],
            sid: w[3],
            uid: w[4],
            state: w[5],
            name,
            tty: w[8],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request label is its own (two branches once both took 16: `UMASK` and
    /// `PHASES`); a new label must be added here.
    #[test]
    fn request_labels_are_distinct() {
        use label::*;
        let all = [
            HATCH,
            EXIT,
            WAIT,
            KILL,
            RESUME,
            IDS,
            SUPPORTED,
            LIMITS,
            LIST,
            USAGE,
            INJECT,
            INFO,
            CLOCK,
            SET_CWD,
            SIGIGNORE,
            UMASK,
            SETRLIMIT,
            TEST_FILE_SERVER,
            LAUNCH_CREATE,
            LAUNCH_ADD,
            LAUNCH_START,
            SPAWN_STRUCT,
            PHASES,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "label {a} is used twice");
        }
    }

    #[test]
    fn ps_entries_round_trip_through_words() {
        let mut e = PsEntry {
            pid: 7,
            ppid: 1,
            pgid: 7,
            sid: 1,
            uid: 1000,
            state: 3,
            name: [0; 16],
            tty: 3,
        };
        e.name[..5].copy_from_slice(b"hello");
        assert_eq!(PsEntry::from_words(&e.to_words()), e);
    }

    #[test]
    fn tty_names_are_what_ps_shows() {
        let mut buf = [0; 24];
        assert_eq!(PsEntry::tty_name(0, &mut buf), b"?");
        assert_eq!(PsEntry::tty_name(1, &mut buf), b"console");
        assert_eq!(PsEntry::tty_name(2, &mut buf), b"pts/0");
        assert_eq!(PsEntry::tty_name(13, &mut buf), b"pts/11");
        assert_eq!(
            PsEntry::tty_name(u64::MAX, &mut buf),
            b"pts/18446744073709551613"
        );
    }

    #[test]
    fn badge_kinds_do_not_overlap_pids() {
        for kind in [badge::PROCESS, badge::HANDLE, badge::FAULT] {
            assert_eq!(kind & badge::PID_MASK, 0);
            assert_eq!(kind & badge::KIND_MASK, kind);
        }
    }
}
