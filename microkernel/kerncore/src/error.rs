//! Typed errors of the capability layer, each naming the argument it is about and mapping
//! to one [`libsys::abi::Error`] code.

use libsys::abi::Error;
use libsys::object::{CapKind, ObjectType};

/// Which argument of an operation was bad, so that the kernel can report its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Argument {
    /// The slot a cap is copied, minted or moved from (or the untyped being retyped).
    Source,
    /// The slot a cap goes to.
    Destination,
    /// The rights mask.
    Rights,
    /// The badge or guard word of a mint or mutate.
    Data,
    /// The object type of a retype.
    ObjectType,
    /// The size argument of a retype.
    Size,
    /// The number of objects of a retype.
    Count,
    /// The CNode that receives retyped caps.
    DestinationCNode,
    /// The first destination slot index of a retype.
    DestinationOffset,
    /// The IRQ number of an IRQ handler request.
    Irq,
    /// The port range of an I/O port request.
    Ports,
    /// The capability pointer or depth of a lookup.
    CapPointer,
}

/// Why a capability operation (copy, mint, move, mutate, issue) was refused. Nothing has
/// changed when one of these is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapError {
    /// The source slot is empty.
    SourceEmpty,
    /// The destination slot already holds a cap.
    DestinationOccupied,
    /// Caps of this kind cannot be copied (control caps; they can be moved).
    NotDerivable {
        /// The kind of the source cap.
        kind: CapKind,
    },
    /// An untyped cap with children cannot be copied: the copy could hand out memory the
    /// children use.
    UntypedHasChildren,
    /// An unmapped page-table cap cannot be copied: the copies could map one table twice.
    PageTableNotMapped,
    /// A PML4 cap without an ASID cannot be copied (it must stay the only cap to its PML4
    /// until `AsidPoolAssign` gives it one), nor be assigned a second one.
    VSpaceWithoutAsid,
    /// A PML4 that already has an ASID cannot be given another.
    VSpaceHasAsid,
    /// An ASID pool is made from an untyped of exactly 4 KiB of ordinary memory.
    NotAPoolUntyped,
    /// The source cap is already badged, and a badge cannot be replaced.
    AlreadyBadged {
        /// The badge it has.
        badge: u64,
    },
    /// A badge or guard word was given for a cap that carries neither, or a badge was
    /// given to mutate (only mint sets badges).
    DataNotApplicable {
        /// The kind of the source cap.
        kind: CapKind,
    },
    /// The guard does not fit: `radix_bits + guard_bits` exceeds 64, or the guard value
    /// has bits above `guard_bits`.
    InvalidGuard {
        /// The guard value asked for.
        guard: u64,
        /// Its size in bits.
        guard_bits: u32,
    },
    /// The cap is of the wrong kind for this operation.
    WrongKind {
        /// Which argument.
        argument: Argument,
        /// The kind wanted.
        expected: CapKind,
        /// The kind found.
        found: CapKind,
    },
    /// The IRQ number is not one of the machine's interrupt lines.
    InvalidIrq {
        /// The number given.
        irq: u64,
    },
    /// The I/O port range is empty (`first > last`) or past port 0xffff.
    InvalidPortRange {
        /// First port.
        first: u64,
        /// Last port.
        last: u64,
    },
}

impl CapError {
    /// The argument the error is about.
    pub const fn argument(&self) -> Argument {
        match self {
            CapError::SourceEmpty
            | CapError::NotDerivable { .. }
            | CapError::UntypedHasChildren
            | CapError::PageTableNotMapped
            | CapError::VSpaceWithoutAsid
            | CapError::VSpaceHasAsid
            | CapError::NotAPoolUntyped => Argument::Source,
            CapError::DestinationOccupied => Argument::Destination,
            CapError::AlreadyBadged { .. }
            | CapError::DataNotApplicable { .. }
            | CapError::InvalidGuard { .. } => Argument::Data,
            CapError::WrongKind { argument, .. } => *argument,
            CapError::InvalidIrq { .. } => Argument::Irq,
            CapError::InvalidPortRange { .. } => Argument::Ports,
        }
    }

    /// The ABI error code.
    pub const fn code(&self) -> Error {
        match self {
            CapError::SourceEmpty => Error::FailedLookup,
            CapError::DestinationOccupied => Error::DeleteFirst,
            CapError::NotDerivable { .. }
            | CapError::PageTableNotMapped
            | CapError::VSpaceWithoutAsid
            | CapError::VSpaceHasAsid => Error::IllegalOperation,
            CapError::NotAPoolUntyped => Error::InvalidArgument,
            CapError::UntypedHasChildren => Error::RevokeFirst,
            CapError::AlreadyBadged { .. } | CapError::DataNotApplicable { .. } => {
                Error::InvalidArgument
            }
            CapError::InvalidGuard { .. }
            | CapError::InvalidIrq { .. }
            | CapError::InvalidPortRange { .. } => Error::RangeError,
            CapError::WrongKind { .. } => Error::InvalidCapability,
        }
    }
}

/// Why a CSpace lookup failed (see [`crate::cspace`]). `bits_left` is how many bits of
/// the capability pointer were still unresolved when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupError {
    /// The depth is 0 or more than 64.
    InvalidDepth {
        /// The depth asked for.
        depth: u32,
    },
    /// The root cap is not a CNode cap.
    InvalidRoot,
    /// The pointer's bits at this level do not match the CNode's guard.
    GuardMismatch {
        /// Bits left before this level.
        bits_left: u32,
        /// The guard the pointer had in those bits.
        guard_found: u64,
        /// The CNode's guard size.
        guard_bits: u32,
    },
    /// The pointer ran out of bits inside a CNode level, or reached a non-CNode cap with
    /// bits left over.
    DepthMismatch {
        /// Bits left at that point.
        bits_left: u32,
        /// Bits the level needed (0 when a non-CNode cap was reached).
        bits_found: u32,
    },
    /// An empty slot was reached before the end of the lookup, or the slot looked up for
    /// its cap is empty.
    MissingCapability {
        /// Bits left at that point.
        bits_left: u32,
    },
}

impl LookupError {
    /// The ABI error code.
    pub const fn code(&self) -> Error {
        match self {
            LookupError::InvalidDepth { .. } => Error::RangeError,
            _ => Error::FailedLookup,
        }
    }
    /// The argument the error is about.
    pub const fn argument(&self) -> Argument {
        Argument::CapPointer
    }
}

/// Why an untyped retype was refused. Nothing has changed when one of these is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetypeError {
    /// The cap to retype is not an untyped cap.
    NotUntyped {
        /// The kind found.
        found: CapKind,
    },
    /// The object type number is not an [`ObjectType`].
    InvalidObjectType {
        /// The number given.
        value: u64,
    },
    /// The size argument is out of range for the type (untyped: 4..=47 bits; CNode radix:
    /// 1..=20).
    InvalidSize {
        /// The type.
        object_type: ObjectType,
        /// The size argument given.
        size: u64,
    },
    /// Only frames and untypeds can be made from device memory.
    DeviceMemory {
        /// The type asked for.
        object_type: ObjectType,
    },
    /// The count is 0 or more than [`libsys::object::MAX_RETYPE_COUNT`].
    InvalidCount {
        /// The count given.
        count: u64,
    },
    /// The destination is not a CNode cap.
    DestinationNotCNode {
        /// The kind found.
        found: CapKind,
    },
    /// `offset + count` runs past the end of the destination CNode.
    DestinationOutOfRange {
        /// First destination index.
        offset: u64,
        /// Number of objects.
        count: u64,
        /// Slots in the CNode.
        slots: u64,
    },
    /// A destination slot is occupied.
    DestinationOccupied {
        /// Index of the occupied slot in the destination CNode.
        index: u64,
    },
    /// Not enough free memory left in the untyped (after alignment).
    NotEnoughMemory {
        /// Bytes needed from the watermark, including alignment padding.
        needed: u64,
        /// Bytes free above the watermark.
        available: u64,
    },
}

impl RetypeError {
    /// The argument the error is about.
    pub const fn argument(&self) -> Argument {
        match self {
            RetypeError::NotUntyped { .. } | RetypeError::NotEnoughMemory { .. } => {
                Argument::Source
            }
            RetypeError::InvalidObjectType { .. } | RetypeError::DeviceMemory { .. } => {
                Argument::ObjectType
            }
            RetypeError::InvalidSize { .. } => Argument::Size,
            RetypeError::InvalidCount { .. } => Argument::Count,
            RetypeError::DestinationNotCNode { .. } => Argument::DestinationCNode,
            RetypeError::DestinationOutOfRange { .. } | RetypeError::DestinationOccupied { .. } => {
                Argument::DestinationOffset
            }
        }
    }

    /// The ABI error code.
    pub const fn code(&self) -> Error {
        match self {
            RetypeError::NotUntyped { .. } | RetypeError::DestinationNotCNode { .. } => {
                Error::InvalidCapability
            }
            RetypeError::InvalidObjectType { .. } | RetypeError::DeviceMemory { .. } => {
                Error::InvalidArgument
            }
            RetypeError::InvalidSize { .. }
            | RetypeError::InvalidCount { .. }
            | RetypeError::DestinationOutOfRange { .. } => Error::RangeError,
            RetypeError::DestinationOccupied { .. } => Error::DeleteFirst,
            RetypeError::NotEnoughMemory { .. } => Error::NotEnoughMemory,
        }
    }
}
