//! Credentials and POSIX permission checks.

use alloc::vec::Vec;

/// Read permission (the `r` bit of a class).
pub const READ: u16 = 4;
/// Write permission.
pub const WRITE: u16 = 2;
/// Execute (search, for directories) permission.
pub const EXECUTE: u16 = 1;

/// Who a process is, as procsrv told the file server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// File mode creation mask.
    pub umask: u16,
}

impl Credentials {
    /// The superuser with umask 022.
    pub fn root() -> Self {
        Credentials {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            umask: 0o022,
        }
    }

    /// A user in one group with umask 022.
    pub fn user(uid: u32, gid: u32) -> Self {
        Credentials {
            uid,
            gid,
            groups: Vec::new(),
            umask: 0o022,
        }
    }

    /// Whether the process is in group `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// Whether `who` may access a file of mode `mode` (permission bits), owner `uid` and group
/// `gid`, for every access in `want` ([`READ`] | [`WRITE`] | [`EXECUTE`]).
///
/// POSIX: the superuser may read and write anything, and execute anything with at least one
/// execute bit (directories: always search); others get the owner's, the group's or the
/// others' bits, the first class that matches.
pub fn may_access(
    who: &Credentials,
    mode: u16,
    uid: u32,
    gid: u32,
    is_dir: bool,
    want: u16,
) -> bool {
    if who.uid == 0 {
        return want & EXECUTE == 0 || is_dir || mode & 0o111 != 0;
    }
    let bits = if who.uid == uid {
        mode >> 6
    } else if who.in_group(gid) {
        mode >> 3
    } else {
        mode
    } & 0o7;
    bits & want == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_group_and_others_use_their_own_bits() {
        let alice = Credentials::user(1000, 100);
        let bob = Credentials::user(1001, 100);
        let eve = Credentials::user(1002, 200);
        let mode = 0o640;
        assert!(may_access(&alice, mode, 1000, 100, false, READ | WRITE));
        assert!(may_access(&bob, mode, 1000, 100, false, READ));
        assert!(!may_access(&bob, mode, 1000, 100, false, WRITE));
        assert!(!may_access(&eve, mode, 1000, 100, false, READ));
    }

    #[test]
    fn the_first_matching_class_decides_even_if_others_allow_more() {
        let alice = Credentials::user(1000, 100);
        assert!(!may_access(&alice, 0o077, 1000, 100, false, READ));
    }

    #[test]
    fn supplementary_groups_count() {
        let mut carol = Credentials::user(1003, 300);
        assert!(!may_access(&carol, 0o070, 0, 100, false, READ));
        carol.groups.push(100);
        assert!(may_access(&carol, 0o070, 0, 100, false, READ));
    }

    #[test]
    fn root_reads_and_writes_anything_but_executes_only_with_an_x_bit() {
        let root = Credentials::root();
        assert!(may_access(&root, 0o000, 5, 5, false, READ | WRITE));
        assert!(!may_access(&root, 0o600, 5, 5, false, EXECUTE));
        assert!(may_access(&root, 0o100, 5, 5, false, EXECUTE));
        assert!(may_access(&root, 0o000, 5, 5, true, EXECUTE));
    }
}
