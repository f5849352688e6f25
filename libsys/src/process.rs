//! The fixed slots of a hatched process's CSpace (see docs/userspace.md).
//!
//! Every process procsrv hatches has a one-level CSpace whose guard makes a slot's cptr equal
//! to its index. These constants are the only place the numbers are written; procsrv, the
//! servers and the runtime all use them.

/// Slot 0 is always empty (a null cptr).
pub const SLOT_NULL: u64 = 0;
/// The process's own TCB.
pub const SLOT_TCB: u64 = 1;
/// The process's own CNode (its CSpace root).
pub const SLOT_CNODE: u64 = 2;
/// The process's own VSpace (PML4).
pub const SLOT_VSPACE: u64 = 3;
/// The frame of the process's IPC buffer.
pub const SLOT_IPC_BUFFER: u64 = 4;
/// Endpoint to procsrv, badged by procsrv with the process's identity.
pub const SLOT_PROCSRV: u64 = 8;
/// Endpoint to the file server's namespace, badged with the process's identity.
pub const SLOT_FS: u64 = 9;
/// The kernel's debug console, if the process may print (`print!` writes through it); the
/// first of the runtime's reserved slots 10..=15.
pub const SLOT_DEBUG_CONSOLE: u64 = 10;
/// First slot the egg's `cap` and `bind` ops may fill.
pub const FIRST_USER_SLOT: u64 = 16;
/// Slot of file descriptor 0.
pub const FD_SLOT_BASE: u64 = 64;
/// Most file descriptors a process can have (fd numbers are below this).
pub const MAX_FDS: u64 = 64;
/// First slot after the descriptors: the process's own allocations start here.
pub const FIRST_FREE_SLOT: u64 = FD_SLOT_BASE + MAX_FDS;

/// The slot holding file descriptor `fd`, or `None` when `fd` is out of range.
pub const fn fd_slot(fd: u64) -> Option<u64> {
    if fd < MAX_FDS {
        Some(FD_SLOT_BASE + fd)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_slots_sit_between_the_user_slots_and_the_free_ones() {
        assert_eq!(fd_slot(0), Some(FD_SLOT_BASE));
        assert_eq!(fd_slot(MAX_FDS - 1), Some(FIRST_FREE_SLOT - 1));
        assert_eq!(fd_slot(MAX_FDS), None);
        const { assert!(FIRST_USER_SLOT < FD_SLOT_BASE) };
        const { assert!(SLOT_PROCSRV < FIRST_USER_SLOT && SLOT_FS < FIRST_USER_SLOT) };
        const { assert!(SLOT_FS < SLOT_DEBUG_CONSOLE && SLOT_DEBUG_CONSOLE < FIRST_USER_SLOT) };
        const { assert!(SLOT_DEBUG_CONSOLE == crate::bootinfo::SLOT_DEBUG_CONSOLE) };
    }
}
