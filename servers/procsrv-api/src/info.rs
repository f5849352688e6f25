//! What procsrv knows about one process, as the [`crate::label::INFO`] reply carries it.

/// Supplementary groups an [`ProcessInfo`] carries (procsrv keeps at most this many).
pub const INFO_GROUPS: usize = 32;
/// Resource limits an [`ProcessInfo`] carries (`RLIMIT_CPU..=RLIMIT_RTTIME`).
pub const INFO_RLIMITS: usize = 16;
/// Bytes of the name an [`ProcessInfo`] carries.
pub const INFO_NAME_BYTES: usize = 32;
/// Bytes of the working directory an [`ProcessInfo`] carries.
pub const INFO_CWD_BYTES: usize = 128;

/// Everything procsrv keeps about a process that the process itself may read: its ids,
/// credentials, umask, limits, scheduling, signal state, name and working directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u64,
    /// Parent's pid.
    pub ppid: u64,
    /// Process group.
    pub pgid: u64,
    /// Session.
    pub sid: u64,
    /// Whether its session has a controlling terminal.
    pub ctty: bool,
    /// Real, effective and saved uid.
    pub uid: [u32; 3],
    /// Real, effective and saved gid.
    pub gid: [u32; 3],
    /// Supplementary groups, `ngroups` of them used.
    pub groups: [u32; INFO_GROUPS],
    /// How many of `groups` are used.
    pub ngroups: usize,
    /// File mode creation mask.
    pub umask: u32,
    /// `(soft, hard)` per resource, `u64::MAX` for no limit.
    pub limits: [(u64, u64); INFO_RLIMITS],
    /// Thread priority.
    pub priority: u64,
    /// CPUs it may run on (bit n = CPU n).
    pub affinity: u64,
    /// Blocked signals (bit n-1 = signal n).
    pub sigmask: u64,
    /// Ignored signals (bit n-1 = signal n).
    pub sigignore: u64,
    /// Pending (blocked when sent) signals (bit n-1 = signal n).
    pub pending: u64,
    /// Name, NUL padded.
    pub name: [u8; INFO_NAME_BYTES],
    /// Working directory, `cwd_len` bytes of it used.
    pub cwd: [u8; INFO_CWD_BYTES],
    /// How many bytes of `cwd` are used.
    pub cwd_len: usize,
}

impl Default for ProcessInfo {
    fn default() -> Self {
        ProcessInfo {
            pid: 0,
            ppid: 0,
            pgid: 0,
            sid: 0,
            ctty: false,
            uid: [0; 3],
            gid: [0; 3],
            groups: [0; INFO_GROUPS],
            ngroups: 0,
            umask: 0,
            limits: [(0, 0); INFO_RLIMITS],
            priority: 0,
            affinity: 0,
            sigmask: 0,
            sigignore: 0,
            pending: 0,
            name: [0; INFO_NAME_BYTES],
            cwd: [0; INFO_CWD_BYTES],
            cwd_len: 0,
        }
    }
}

/// Words before the groups: pid, ppid, pgid, sid, ctty, 3 uids, 3 gids, ngroups, umask,
/// priority, affinity, sigmask, sigignore, pending, cwd_len.
const FIXED_WORDS: usize = 17;
const GROUPS_AT: usize = FIXED_WORDS;
const LIMITS_AT: usize = GROUPS_AT + INFO_GROUPS / 2;
const NAME_AT: usize = LIMITS_AT + 2 * INFO_RLIMITS;
const CWD_AT: usize = NAME_AT + INFO_NAME_BYTES / 8;
const PENDING_AT: usize = CWD_AT + INFO_CWD_BYTES / 8;
const CWD_LEN_AT: usize = PENDING_AT + 1;

fn pack(bytes: &[u8], words: &mut [u64]) {
    for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_le_bytes(b);
    }
}

fn unpack(words: &[u64], bytes: &mut [u8]) {
    for (word, chunk) in words.iter().zip(bytes.chunks_mut(8)) {
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
}

impl ProcessInfo {
    /// Words of the reply (the first 4 in registers, the rest in the IPC buffer).
    pub const WORDS: usize = CWD_LEN_AT + 1;

    /// The info as words.
    pub fn to_words(&self) -> [u64; Self::WORDS] {
        let mut w = [0u64; Self::WORDS];
        let fixed = [
            self.pid,
            self.ppid,
            self.pgid,
            self.sid,
            u64::from(self.ctty),
            self.uid[0].into(),
            self.uid[1].into(),
            self.uid[2].into(),
            self.gid[0].into(),
            self.gid[1].into(),
            self.gid[2].into(),
            self.ngroups as u64,
            self.umask.into(),
            self.priority,
            self.affinity,
            self.sigmask,
            self.sigignore,
        ];
        w[..FIXED_WORDS].copy_from_slice(&fixed);
        // Two 32-bit groups a word.
        for (i, pair) in self.groups.chunks(2).enumerate() {
            w[GROUPS_AT + i] = u64::from(pair[0]) | u64::from(pair[1]) << 32;
        }
        for (i, &(soft, hard)) in self.limits.iter().enumerate() {
            w[LIMITS_AT + 2 * i] = soft;
            w[LIMITS_AT + 2 * i + 1] = hard;
        }
        pack(&self.name, &mut w[NAME_AT..CWD_AT]);
        pack(&self.cwd, &mut w[CWD_AT..PENDING_AT]);
        w[PENDING_AT] = self.pending;
        w[CWD_LEN_AT] = self.cwd_len as u64;
        w
    }

    /// The info from words (counts past their arrays are clamped).
    pub fn from_words(w: &[u64; Self::WORDS]) -> Self {
        let mut info = ProcessInfo {
            pid: w[0],
            ppid: w[1],
            pgid: w[2],
            sid: w[3],
            ctty: w[4] != 0,
            uid: [w[5] as u32, w[6] as u32, w[7] as u32],
            gid: [w[8] as u32, w[9] as u32, w[10] as u32],
            ngroups: (w[11] as usize).min(INFO_GROUPS),
            umask: w[12] as u32,
            priority: w[13],
            affinity: w[14],
            sigmask: w[15],
            sigignore: w[16],
            pending: w[PENDING_AT],
            cwd_len: (w[CWD_LEN_AT] as usize).min(INFO_CWD_BYTES),
            ..ProcessInfo::default()
        };
        for (i, pair) in info.groups.chunks_mut(2).enumerate() {
            pair[0] = w[GROUPS_AT + i] as u32;
            pair[1] = (w[GROUPS_AT + i] >> 32) as u32;
        }
        for (i, limit) in info.limits.iter_mut().enumerate() {
            *limit = (w[LIMITS_AT + 2 * i], w[LIMITS_AT + 2 * i + 1]);
        }
        unpack(&w[NAME_AT..CWD_AT], &mut info.name);
        unpack(&w[CWD_AT..PENDING_AT], &mut info.cwd);
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_info_round_trips_through_words() {
        let mut info = ProcessInfo {
            pid: 7,
            ppid: 3,
            pgid: 7,
            sid: 3,
            ctty: true,
            uid: [1000, 0, 1000],
            gid: [100, 101, 102],
            ngroups: 3,
            umask: 0o027,
            priority: 200,
            affinity: 1,
            sigmask: 1 << 1,
            sigignore: 1 << 19,
            pending: 1 << 14,
            cwd_len: 9,
            ..ProcessInfo::default()
        };
        info.groups[..3].copy_from_slice(&[4, 5, 0xffff_fffe]);
        info.limits[7] = (64, 64);
        info.limits[0] = (u64::MAX, u64::MAX);
        info.name[..9].copy_from_slice(b"procinfo\0");
        info.cwd[..9].copy_from_slice(b"/tmp/work");
        assert_eq!(ProcessInfo::from_words(&info.to_words()), info);
    }

    #[test]
    fn process_info_clamps_counts_it_cannot_hold() {
        let mut words = ProcessInfo::default().to_words();
        words[11] = 1000;
        words[CWD_LEN_AT] = u64::MAX;
        let info = ProcessInfo::from_words(&words);
        assert_eq!(info.ngroups, INFO_GROUPS);
        assert_eq!(info.cwd_len, INFO_CWD_BYTES);
    }
}
