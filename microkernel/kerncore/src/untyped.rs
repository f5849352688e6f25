//! Untyped retype: carving objects out of untyped memory.
//!
//! An untyped cap covers `[base, base + 2^size_bits)` and has a watermark, `free_index`:
//! objects are allocated upwards from it, each aligned to its own size. Memory is never
//! freed object by object. When an untyped has no children left in the derivation tree
//! (they were deleted or revoked), nothing can refer to its memory any more, and the next
//! retype starts again from offset 0. This is how memory returns: revoke the untyped, then
//! retype it.

use libsys::object::{ObjectType, Rights, MAX_RETYPE_COUNT};

use crate::cap::{Cap, FrameSize, PhysAddr};
use crate::cdt::has_children;
use crate::error::RetypeError;
use crate::slot::{self, SlotAddr, SlotStore};

/// The arguments of an `UntypedRetype` invocation, as the user passed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetypeArgs {
    /// An [`ObjectType`] number.
    pub object_type: u64,
    /// Size argument: log2 bytes for untyped, radix for CNodes; ignored otherwise.
    pub size: u64,
    /// Index of the first destination slot in the destination CNode.
    pub dest_offset: u64,
    /// Number of objects (1..=[`MAX_RETYPE_COUNT`]), one per consecutive destination slot.
    pub count: u64,
}

/// What a retype created, for the kernel to initialise: `count` objects of `object_type`,
/// each `2^size_bits` bytes, the i-th at `first + (i << size_bits)`.
///
/// The kernel must zero-fill each object unless `device` (new CNodes and TCB slot areas
/// must read as empty slots) and then construct it (TCB defaults, the kernel half of a new
/// PML4...), before the caller runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retyped {
    /// The type of the objects.
    pub object_type: ObjectType,
    /// Address of the first object.
    pub first: PhysAddr,
    /// log2 of each object's size in bytes.
    pub size_bits: u32,
    /// Number of objects.
    pub count: u64,
    /// Made from device memory: do not zero it.
    pub device: bool,
}

impl Retyped {
    /// The address of each new object.
    pub fn objects(&self) -> impl Iterator<Item = PhysAddr> {
        let (first, bits) = (self.first, self.size_bits);
        (0..self.count).map(move |i| first + (i << bits))
    }
}

/// Creates `args.count` objects from the untyped cap in `untyped`, placing their caps in
/// the consecutive empty slots `args.dest_offset..` of the CNode named by `dest_cnode`.
///
/// Checks, in order: the cap is untyped; the type, size and count; device memory holds
/// only frames and untypeds; the destination is a CNode cap, the range fits it, and every
/// destination slot is empty; there is room above the watermark (reset to 0 first if the
/// untyped has no children). Then it advances the watermark and inserts the new caps as
/// children of the untyped.
///
/// # Returns
/// The objects the kernel must initialise, or the first failed check (nothing changed).
pub fn untyped_retype<S: SlotStore + ?Sized>(
    store: &mut S,
    untyped: SlotAddr,
    dest_cnode: &Cap,
    args: RetypeArgs,
) -> Result<Retyped, RetypeError> {
    let plan = plan(store, untyped, dest_cnode, args)?;
    let Plan {
        made,
        base,
        size_bits,
        device,
        dest,
    } = plan;
    let end_offset = (made.first - base) + (made.count << made.size_bits);
    slot::set_cap(
        store,
        untyped,
        Cap::Untyped {
            base,
            free_index: end_offset,
            size_bits,
            device,
        },
    );
    // Insert in reverse so the list reads untyped, object 0, object 1, ...
    for i in (0..made.count).rev() {
        let object = made.first + (i << made.size_bits);
        let cap = new_cap(made.object_type, object, args.size, device);
        slot::insert_after(store, untyped, SlotAddr(dest + (i << 6)), cap, true);
    }
    Ok(made)
}

/// The memory an untyped with no children must zero before it is used from offset 0
/// again: `(base, free_index)` when it has no children and a non-zero watermark (so
/// `[base, base + free_index)` may hold old objects' bytes), else `None`.
///
/// The kernel keeps the memory above every untyped's watermark zero, so new objects need
/// no zero-filling; it zeroes an untyped's used part when the untyped starts over, from
/// the top down in bounded steps ([`untyped_lower_watermark`]), and may stop between steps.
pub fn untyped_reset_needed<S: SlotStore + ?Sized>(
    store: &S,
    untyped: SlotAddr,
) -> Option<(PhysAddr, u64)> {
    match *store.slot(untyped).cap() {
        Cap::Untyped {
            base,
            free_index,
            device: false,
            ..
        } if free_index > 0 && !has_children(store, untyped) => Some((base, free_index)),
        _ => None,
    }
}

/// After a revocation of the untyped in `untyped` left its memory from the base to
/// `zeroed_end` all zero ([`crate::Revocation::zeroed_prefix`]): the rest of what it
/// handed out, `(address, bytes)`, which the kernel zeroes before it lowers the watermark
/// to 0 ([`untyped_lower_watermark`]) — when the untyped needs a reset
/// ([`untyped_reset_needed`]) and that rest is at most `limit` bytes; else `None` (the
/// untyped is reset in full, later, as any other).
pub fn untyped_rest_after_zeroed<S: SlotStore + ?Sized>(
    store: &S,
    untyped: SlotAddr,
    zeroed_end: u64,
    limit: u64,
) -> Option<(PhysAddr, u64)> {
    let (base, free_index) = untyped_reset_needed(store, untyped)?;
    let zeroed = zeroed_end.checked_sub(base)?.min(free_index);
    let rest = free_index - zeroed;
    (rest <= limit).then_some((base + zeroed, rest))
}

/// Lowers the watermark of the untyped in `untyped` to `free_index` (the kernel has zeroed
/// the memory above it). Only a lower watermark of an untyped with no children is taken;
/// returns whether it was.
pub fn untyped_lower_watermark<S: SlotStore + ?Sized>(
    store: &mut S,
    untyped: SlotAddr,
    free_index: u64,
) -> bool {
    let Cap::Untyped {
        base,
        free_index: old,
        size_bits,
        device,
    } = *store.slot(untyped).cap()
    else {
        return false;
    };
    if free_index > old || has_children(store, untyped) {
        return false;
    }
    slot::set_cap(
        store,
        untyped,
        Cap::Untyped {
            base,
            free_index,
            size_bits,
            device,
        },
    );
    true
}

/// A checked retype, ready to apply.
struct Plan {
    made: Retyped,
    base: PhysAddr,
    size_bits: u8,
    device: bool,
    /// Address of the first destination slot.
    dest: u64,
}

/// Validates a retype without changing anything.
fn plan<S: SlotStore + ?Sized>(
    store: &S,
    untyped: SlotAddr,
    dest_cnode: &Cap,
    args: RetypeArgs,
) -> Result<Plan, RetypeError> {
    let Cap::Untyped {
        base,
        free_index,
        size_bits,
        device,
    } = *store.slot(untyped).cap()
    else {
        return Err(RetypeError::NotUntyped {
            found: store.slot(untyped).cap().kind(),
        });
    };
    let object_type = ObjectType::try_from(args.object_type)
        .map_err(|value| RetypeError::InvalidObjectType { value })?;
    let object_bits = object_type
        .size_bits(args.size)
        .ok_or(RetypeError::InvalidSize {
            object_type,
            size: args.size,
        })?;
    if device && !object_type.allowed_in_device_memory() {
        return Err(RetypeError::DeviceMemory { object_type });
    }
    let count = args.count;
    if count == 0 || count > MAX_RETYPE_COUNT {
        return Err(RetypeError::InvalidCount { count });
    }
    let dest = check_destination(store, dest_cnode, args.dest_offset, count)?;

    let watermark = if has_children(store, untyped) {
        free_index
    } else {
        0
    };
    let (start, available) = region_above(base, size_bits as u32, watermark);
    let needed = align_up(start, object_bits)
        .and_then(|first| Some((first, first.checked_sub(start)?)))
        .and_then(|(first, pad)| {
            let bytes = count.checked_mul(1u64.checked_shl(object_bits)?)?;
            first.checked_add(bytes)?;
            Some((first, pad.checked_add(bytes)?))
        });
    match needed {
        Some((first, needed)) if needed <= available => Ok(Plan {
            made: Retyped {
                object_type,
                first,
                size_bits: object_bits,
                count,
                device,
            },
            base,
            size_bits,
            device,
            dest,
        }),
        other => Err(RetypeError::NotEnoughMemory {
            needed: other.map_or(u64::MAX, |(_, n)| n),
            available,
        }),
    }
}

/// Checks the destination range and returns the address of its first slot.
fn check_destination<S: SlotStore + ?Sized>(
    store: &S,
    dest_cnode: &Cap,
    offset: u64,
    count: u64,
) -> Result<u64, RetypeError> {
    let Cap::CNode {
        object, radix_bits, ..
    } = *dest_cnode
    else {
        return Err(RetypeError::DestinationNotCNode {
            found: dest_cnode.kind(),
        });
    };
    let slots = 1u64.checked_shl(radix_bits as u32).unwrap_or(u64::MAX);
    let in_range = offset.checked_add(count).is_some_and(|end| end <= slots);
    let first = SlotAddr::in_object(object, offset);
    let last = count
        .checked_sub(1)
        .and_then(|n| SlotAddr::in_object(object, offset.checked_add(n)?));
    let (true, Some(first), Some(_)) = (in_range, first, last) else {
        return Err(RetypeError::DestinationOutOfRange {
            offset,
            count,
            slots,
        });
    };
    for i in 0..count {
        // In range of the CNode, so the address cannot overflow.
        if !store.slot(SlotAddr(first.0 + (i << 6))).is_empty() {
            return Err(RetypeError::DestinationOccupied { index: offset + i });
        }
    }
    Ok(first.0)
}

/// The free part of an untyped: its start address and length, given the watermark.
fn region_above(base: PhysAddr, size_bits: u32, watermark: u64) -> (u64, u64) {
    let size = 1u64.checked_shl(size_bits).unwrap_or(u64::MAX);
    let watermark = watermark.min(size);
    (base.saturating_add(watermark), size - watermark)
}

/// `addr` rounded up to a multiple of `2^bits`, or `None` on overflow.
fn align_up(addr: u64, bits: u32) -> Option<u64> {
    let mask = 1u64.checked_shl(bits)?.checked_sub(1)?;
    Some(addr.checked_add(mask)? & !mask)
}

/// The original cap to a new object: all rights, no badge, unmapped, no guard.
fn new_cap(object_type: ObjectType, object: PhysAddr, size: u64, device: bool) -> Cap {
    let frame = |size| Cap::Frame {
        object,
        mapped_vspace: 0,
        mapped_vaddr: 0,
        size,
        rights: Rights::ALL,
        device,
    };
    match object_type {
        ObjectType::Untyped => Cap::Untyped {
            base: object,
            free_index: 0,
            size_bits: size as u8,
            device,
        },
        ObjectType::Tcb => Cap::Tcb { object },
        ObjectType::Endpoint => Cap::Endpoint {
            object,
            badge: 0,
            rights: Rights::ALL,
        },
        ObjectType::Notification => Cap::Notification {
            object,
            badge: 0,
            rights: Rights::ALL,
        },
        ObjectType::Reply => Cap::Reply {
            object,
            can_grant: true,
        },
        ObjectType::CNode => Cap::CNode {
            object,
            guard: 0,
            radix_bits: size as u8,
            guard_bits: 0,
        },
        ObjectType::Frame4K => frame(FrameSize::Small),
        ObjectType::Frame2M => frame(FrameSize::Large),
        ObjectType::Pml4 => Cap::Pml4 { object, asid: 0 },
        ObjectType::Pdpt => Cap::Pdpt {
            object,
            mapped_vspace: 0,
            mapped_vaddr: 0,
        },
        ObjectType::Pd => Cap::Pd {
            object,
            mapped_vspace: 0,
            mapped_vaddr: 0,
        },
        ObjectType::Pt => Cap::Pt {
            object,
            mapped_vspace: 0,
            mapped_vaddr: 0,
        },
    }
}
