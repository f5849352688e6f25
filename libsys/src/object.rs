//! Kernel objects, their sizes, and capability rights.
//!
//! Every object that userspace uses is carved out of untyped memory by `UntypedRetype`,
//! naming an [`ObjectType`] (and, for the variable-size types, a size argument). The size of
//! each object is part of the ABI because userspace accounts for its own memory: it must know
//! how much of an untyped region a retype will consume. Objects are aligned to their size.
//!
//! | type           | size                         | size argument            |
//! |----------------|------------------------------|--------------------------|
//! | `Untyped`      | 2^n bytes                    | n in 4..=47              |
//! | `Tcb`          | 2 KiB (2^11)                 | ignored                  |
//! | `Endpoint`     | 16 B (2^4)                   | ignored                  |
//! | `Notification` | 32 B (2^5)                   | ignored                  |
//! | `Reply`        | 32 B (2^5)                   | ignored                  |
//! | `CNode`        | 2^(r+6) bytes (2^r slots)    | radix r in 1..=20        |
//! | `Frame4K`      | 4 KiB (2^12)                 | ignored                  |
//! | `Frame2M`      | 2 MiB (2^21)                 | ignored                  |
//! | `Pml4`..`Pt`   | 4 KiB (2^12)                 | ignored                  |

use crate::abi::abi_enum;

abi_enum! {
    /// The type of object to make out of untyped memory (the `UntypedRetype` argument).
    ///
    /// Numbering starts at 1 so that a forgotten (zero) argument is an error, not `Untyped`.
    pub enum ObjectType {
        /// Untyped memory: a power-of-two region that can be retyped further.
        Untyped = 1,
        /// A thread control block: registers, FPU state, scheduling and IPC state.
        Tcb = 2,
        /// A synchronous IPC rendezvous point.
        Endpoint = 3,
        /// An asynchronous signal word with a wait queue.
        Notification = 4,
        /// The object a caller waits on for its reply.
        Reply = 5,
        /// A table of capability slots (part of a CSpace).
        CNode = 6,
        /// A 4 KiB page of memory.
        Frame4K = 7,
        /// A 2 MiB page of memory.
        Frame2M = 8,
        /// The top-level page table: the root of an address space (VSpace).
        Pml4 = 9,
        /// A page-directory-pointer table (level 3).
        Pdpt = 10,
        /// A page directory (level 2).
        Pd = 11,
        /// A page table (level 1).
        Pt = 12,
    }
}

/// log2 of the size of a capability slot: 64 bytes (a capability and its derivation links).
pub const SLOT_SIZE_BITS: u32 = 6;
/// Smallest untyped object: 16 bytes.
pub const UNTYPED_MIN_BITS: u32 = 4;
/// Largest untyped object: 128 TiB, the size of the canonical lower half.
pub const UNTYPED_MAX_BITS: u32 = 47;
/// A TCB is 2 KiB: its first slots hold the thread's capabilities (CSpace root, VSpace,
/// IPC buffer, fault endpoint); the rest holds registers, FPU state, scheduling and IPC
/// state.
pub const TCB_SIZE_BITS: u32 = 11;
/// An endpoint is 16 bytes: a queue head and tail with a state tag.
pub const ENDPOINT_SIZE_BITS: u32 = 4;
/// A notification is 32 bytes: the signal word, a wait queue and the bound TCB.
pub const NOTIFICATION_SIZE_BITS: u32 = 5;
/// A reply object is 32 bytes: the waiting caller and its grant right.
pub const REPLY_SIZE_BITS: u32 = 5;
/// Smallest CNode radix: 2 slots.
pub const CNODE_MIN_RADIX_BITS: u32 = 1;
/// Largest CNode radix: 2^20 slots (64 MiB).
pub const CNODE_MAX_RADIX_BITS: u32 = 20;
/// A 4 KiB frame.
pub const FRAME_4K_SIZE_BITS: u32 = 12;
/// A 2 MiB frame.
pub const FRAME_2M_SIZE_BITS: u32 = 21;
/// Every page-table level (PML4, PDPT, PD, PT) is one 4 KiB page of 512 entries.
pub const PAGE_TABLE_SIZE_BITS: u32 = 12;
/// Most objects one `UntypedRetype` can create.
pub const MAX_RETYPE_COUNT: u64 = 256;

impl ObjectType {
    /// The object's size in bits (log2 bytes) for the given size argument, or `None` if
    /// the argument is out of range for this type. Fixed-size types ignore the argument.
    pub const fn size_bits(self, size_arg: u64) -> Option<u32> {
        match self {
            ObjectType::Untyped => {
                if size_arg >= UNTYPED_MIN_BITS as u64 && size_arg <= UNTYPED_MAX_BITS as u64 {
                    Some(size_arg as u32)
                } else {
                    None
                }
            }
            ObjectType::CNode => {
                if size_arg >= CNODE_MIN_RADIX_BITS as u64
                    && size_arg <= CNODE_MAX_RADIX_BITS as u64
                {
                    Some(size_arg as u32 + SLOT_SIZE_BITS)
                } else {
                    None
                }
            }
            ObjectType::Tcb => Some(TCB_SIZE_BITS),
            ObjectType::Endpoint => Some(ENDPOINT_SIZE_BITS),
            ObjectType::Notification => Some(NOTIFICATION_SIZE_BITS),
            ObjectType::Reply => Some(REPLY_SIZE_BITS),
            ObjectType::Frame4K => Some(FRAME_4K_SIZE_BITS),
            ObjectType::Frame2M => Some(FRAME_2M_SIZE_BITS),
            ObjectType::Pml4 | ObjectType::Pdpt | ObjectType::Pd | ObjectType::Pt => {
                Some(PAGE_TABLE_SIZE_BITS)
            }
        }
    }

    /// Whether this object may be made from device memory (memory-mapped I/O regions).
    /// Only frames and smaller device untypeds can: the kernel never stores its own state
    /// in device memory.
    pub const fn allowed_in_device_memory(self) -> bool {
        matches!(
            self,
            ObjectType::Untyped | ObjectType::Frame4K | ObjectType::Frame2M
        )
    }
}

abi_enum! {
    /// The kind of capability in a slot, as reported to userspace (cap identify).
    /// Zero is the empty slot.
    pub enum CapKind {
        /// An empty slot.
        Null = 0,
        /// Untyped memory.
        Untyped = 1,
        /// An endpoint.
        Endpoint = 2,
        /// A notification.
        Notification = 3,
        /// A reply object.
        Reply = 4,
        /// A CNode.
        CNode = 5,
        /// A thread control block.
        Tcb = 6,
        /// A 4 KiB or 2 MiB frame.
        Frame = 7,
        /// A PML4 (address space root).
        Pml4 = 8,
        /// A PDPT.
        Pdpt = 9,
        /// A page directory.
        Pd = 10,
        /// A page table.
        Pt = 11,
        /// The right to create IRQ handler capabilities.
        IrqControl = 12,
        /// The right to handle one IRQ.
        IrqHandler = 13,
        /// The right to create I/O port capabilities.
        IoPortControl = 14,
        /// The right to use a range of I/O ports.
        IoPort = 15,
        /// The right to turn 4 KiB untyped objects into ASID pools.
        AsidControl = 16,
        /// An ASID pool: room for [`ASIDS_PER_POOL`] address spaces.
        AsidPool = 17,
        /// The right to print on the kernel's debug console (`DebugWrite`).
        DebugConsole = 18,
    }
}

/// log2 of the size of an ASID pool (made from a 4 KiB untyped by `AsidControlMakePool`).
pub const ASID_POOL_SIZE_BITS: u32 = 12;
/// Address spaces one ASID pool can hold.
pub const ASIDS_PER_POOL: u64 = 512;
/// Most ASID pools the system can have (the kernel's table of pools; pools are made only
/// through the ASID control cap the root task holds).
pub const MAX_ASID_POOLS: u64 = 128;

/// Access rights carried by a capability, as bit flags.
///
/// What each right means depends on the object:
///
/// | right         | endpoint                    | notification | frame        | reply       |
/// |---------------|-----------------------------|--------------|--------------|-------------|
/// | `READ`        | receive                     | wait, poll   | map readable | -           |
/// | `WRITE`       | send                        | signal       | map writable | -           |
/// | `GRANT`       | send capabilities           | -            | -            | reply with caps |
/// | `GRANT_REPLY` | call (the callee may grant) | -            | -            | -           |
///
/// Other capabilities carry no rights. Invariant: only the four defined bits are ever set.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(u8);

impl Rights {
    /// No rights.
    pub const NONE: Rights = Rights(0);
    /// Receive / wait / map readable.
    pub const READ: Rights = Rights(1);
    /// Send / signal / map writable.
    pub const WRITE: Rights = Rights(2);
    /// Send capabilities with a message.
    pub const GRANT: Rights = Rights(4);
    /// Call, letting the callee send capabilities in its reply.
    pub const GRANT_REPLY: Rights = Rights(8);
    /// Every right.
    pub const ALL: Rights = Rights(0xf);

    /// The rights as an ABI word.
    pub const fn bits(self) -> u64 {
        self.0 as u64
    }
    /// Rights from an ABI word, or `None` if it sets undefined bits.
    pub const fn from_bits(bits: u64) -> Option<Rights> {
        if bits & !Rights::ALL.bits() == 0 {
            Some(Rights(bits as u8))
        } else {
            None
        }
    }
    /// Whether every right in `other` is also in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
    /// The rights in both `self` and `other` (how a mint masks rights).
    pub const fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
    /// The rights in either `self` or `other`.
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
}

impl TryFrom<u64> for Rights {
    type Error = u64;
    fn try_from(bits: u64) -> Result<Rights, u64> {
        Rights::from_bits(bits).ok_or(bits)
    }
}

/// The guard of a CNode capability, set by minting or mutating a CNode cap.
///
/// On the wire it is one word: bits 0..6 hold the guard size in bits, bits 6..64 the guard
/// value, so a guard value is at most 58 bits wide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CNodeGuard {
    /// The bits a capability pointer must match at this level.
    pub guard: u64,
    /// How many bits the guard takes (0..=63).
    pub guard_bits: u32,
}

impl CNodeGuard {
    const SIZE_FIELD_BITS: u32 = 6;

    /// Packs the guard into its ABI word. The value is truncated to 58 bits and the size
    /// to 6 bits.
    pub const fn to_word(self) -> u64 {
        (self.guard << Self::SIZE_FIELD_BITS)
            | (self.guard_bits as u64 & ((1 << Self::SIZE_FIELD_BITS) - 1))
    }
    /// Unpacks an ABI word. Every word is a well-formed pair; whether the guard fits its
    /// CNode is checked when it is applied.
    pub const fn from_word(word: u64) -> CNodeGuard {
        CNodeGuard {
            guard: word >> Self::SIZE_FIELD_BITS,
            guard_bits: (word & ((1 << Self::SIZE_FIELD_BITS) - 1)) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_type_table_and_enum_agree() {
        for t in ObjectType::ALL {
            assert_eq!(ObjectType::try_from(*t as u64), Ok(*t));
        }
        assert_eq!(ObjectType::try_from(0), Err(0));
        assert_eq!(ObjectType::try_from(13), Err(13));
        assert_eq!(ObjectType::try_from(u64::MAX), Err(u64::MAX));
    }

    #[test]
    fn cap_kind_table_and_enum_agree_and_null_is_zero() {
        for (i, k) in CapKind::ALL.iter().enumerate() {
            assert_eq!(CapKind::try_from(*k as u64), Ok(*k));
            assert_eq!(*k as u64, i as u64, "{} is numbered in order", k.name());
        }
        assert_eq!(CapKind::Null as u64, 0);
    }

    #[test]
    fn fixed_size_objects_ignore_the_size_argument() {
        assert_eq!(ObjectType::Tcb.size_bits(0), Some(11));
        assert_eq!(ObjectType::Tcb.size_bits(u64::MAX), Some(11));
        assert_eq!(ObjectType::Endpoint.size_bits(7), Some(4));
        assert_eq!(ObjectType::Frame2M.size_bits(0), Some(21));
        assert_eq!(ObjectType::Pt.size_bits(0), Some(12));
    }

    #[test]
    fn variable_size_objects_check_their_bounds() {
        assert_eq!(ObjectType::Untyped.size_bits(3), None);
        assert_eq!(ObjectType::Untyped.size_bits(4), Some(4));
        assert_eq!(ObjectType::Untyped.size_bits(47), Some(47));
        assert_eq!(ObjectType::Untyped.size_bits(48), None);
        assert_eq!(ObjectType::Untyped.size_bits(u64::MAX), None);
        assert_eq!(ObjectType::CNode.size_bits(0), None);
        assert_eq!(ObjectType::CNode.size_bits(1), Some(7));
        assert_eq!(ObjectType::CNode.size_bits(20), Some(26));
        assert_eq!(ObjectType::CNode.size_bits(21), None);
    }

    #[test]
    fn only_frames_and_untyped_come_from_device_memory() {
        let allowed: [ObjectType; 3] = [
            ObjectType::Untyped,
            ObjectType::Frame4K,
            ObjectType::Frame2M,
        ];
        for t in ObjectType::ALL {
            assert_eq!(
                t.allowed_in_device_memory(),
                allowed.contains(t),
                "{}",
                t.name()
            );
        }
    }

    #[test]
    fn rights_reject_undefined_bits() {
        assert_eq!(Rights::try_from(0xf), Ok(Rights::ALL));
        assert_eq!(Rights::try_from(0x10), Err(0x10));
        assert_eq!(Rights::try_from(u64::MAX), Err(u64::MAX));
        let rw = Rights::READ.union(Rights::WRITE);
        assert!(rw.contains(Rights::READ) && !rw.contains(Rights::GRANT));
        assert_eq!(rw.intersection(Rights::WRITE), Rights::WRITE);
    }

    #[test]
    fn cnode_guard_round_trips() {
        let g = CNodeGuard {
            guard: 0x2a,
            guard_bits: 7,
        };
        assert_eq!(CNodeGuard::from_word(g.to_word()), g);
        assert_eq!(CNodeGuard::from_word(u64::MAX).guard_bits, 63);
    }
}
