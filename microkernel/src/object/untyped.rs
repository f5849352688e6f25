//! Untyped invocation: retype into new objects.
//!
//! `UntypedRetype(type, size_bits, dest_cnode, dest_offset, count)`: `dest_cnode` is a
//! cptr (depth 64) in the caller's CSpace naming a CNode cap; the new caps go into its
//! slots `dest_offset..dest_offset + count`, which must be empty.
//! `UntypedRetypeBatch(dest_cnode, (type, size_bits, dest_offset)...)` makes one object of
//! each triple into the same CNode in one call.

use super::{cap_error, lookup, Args, InvocationError, InvocationResult, KernelSlots, Output};
use crate::mem::phys_to_virt;
use crate::thread::TcbPtr;
use kerncore::{Argument, RetypeArgs, SlotAddr};
use libsys::abi::{Error, Label, RETYPE_BATCH_MAX};
use libsys::object::ObjectType;

/// Dispatches an invocation on the untyped cap in `slot`.
pub fn invoke(caller: TcbPtr, slot: SlotAddr, label: Label, args: &Args) -> InvocationResult {
    if label == Label::UntypedRetypeBatch {
        return retype_batch(caller, slot, args);
    }
    if label != Label::UntypedRetype {
        return Err(InvocationError::cap(Error::IllegalOperation));
    }
    let (object_type, size, cnode, offset, count) = (
        args.get(0)?,
        args.get(1)?,
        args.get(2)?,
        args.get(3)?,
        args.get(4)?,
    );
    let (_, dest_cnode) = lookup(caller, cnode).map_err(|e| super::lookup_error(e, 2))?;
    // An untyped starting over first zeroes what it handed out before (bounded work per
    // entry; the call is restarted until it is done).
    if !reset(slot) {
        return Err(crate::syscall::restart());
    }
    let retype = RetypeArgs {
        object_type,
        size,
        dest_offset: offset,
        count,
    };
    let position = |a: Argument| match a {
        Argument::ObjectType => Some(0),
        Argument::Size => Some(1),
        Argument::DestinationCNode => Some(2),
        Argument::DestinationOffset => Some(3),
        Argument::Count => Some(4),
        _ => None,
    };
    let made = kerncore::untyped_retype(&mut KernelSlots, slot, &dest_cnode, retype)
        .map_err(|e| cap_error(e, position))?;
    // The memory above the watermark is zero (see `reset`): new objects need no filling.
    for object in made.objects() {
        initialise(made.object_type, object);
    }
    Ok(Output::empty())
}

/// `UntypedRetypeBatch(dest_cnode, (type, size, dest_offset) × n)`: one object of each
/// triple, in order, each exactly as an `UntypedRetype` with a count of 1 (so a batch makes
/// what those calls would, in one kernel entry). The first refusal ends the call with its
/// error at the triple's word (`1 + 3k + 0..3`); the objects before it stay made. Each
/// object is a constant amount of work once the untyped's reset (restartable, as for
/// `UntypedRetype`) is done.
fn retype_batch(caller: TcbPtr, slot: SlotAddr, args: &Args) -> InvocationResult {
    let length = args.sent_len();
    if length < 4 || !(length - 1).is_multiple_of(3) || length > 1 + 3 * RETYPE_BATCH_MAX {
        return Err(InvocationError::new(Error::RangeError, 0));
    }
    let (_, dest_cnode) = lookup(caller, args.get(0)?).map_err(|e| super::lookup_error(e, 0))?;
    if !reset(slot) {
        return Err(crate::syscall::restart());
    }
    for k in 0..(length - 1) / 3 {
        let base = (1 + 3 * k) as u64;
        let retype = RetypeArgs {
            object_type: args.get(base as usize)?,
            size: args.get(base as usize + 1)?,
            dest_offset: args.get(base as usize + 2)?,
            count: 1,
        };
        let position = |a: Argument| match a {
            Argument::ObjectType => Some(base),
            Argument::Size => Some(base + 1),
            Argument::DestinationCNode => Some(0),
            Argument::DestinationOffset => Some(base + 2),
            _ => None,
        };
        let made = kerncore::untyped_retype(&mut KernelSlots, slot, &dest_cnode, retype)
            .map_err(|e| cap_error(e, position))?;
        for object in made.objects() {
            initialise(made.object_type, object);
        }
    }
    Ok(Output::empty())
}

/// Bytes zeroed in one step of a reset.
const RESET_CHUNK: u64 = 64 * 1024;
/// Reset steps in one kernel entry (256 KiB: about 33,000 instructions under `-icount`,
/// where each `rep stosq` iteration counts as one).
const RESET_CHUNKS_PER_ENTRY: u32 = 4;

/// Keeps the invariant that the memory above an untyped's watermark is zero: an untyped
/// with no children that handed out memory before zeroes it, from the top down, lowering
/// its watermark after each chunk so that the progress lives in the cap itself. Returns
/// false when the work is not finished within this entry's budget (the caller restarts
/// the system call; interrupts are taken in between).
fn reset(slot: SlotAddr) -> bool {
    for _ in 0..RESET_CHUNKS_PER_ENTRY {
        let Some((base, free_index)) = kerncore::untyped_reset_needed(&KernelSlots, slot) else {
            return true;
        };
        let low = free_index.saturating_sub(RESET_CHUNK) & !(RESET_CHUNK - 1);
        // SAFETY: `[base + low, base + free_index)` lies inside the untyped below its
        // watermark, and the untyped has no children: no object uses that memory any
        // more, and the HHDM maps it.
        unsafe {
            core::ptr::write_bytes(
                phys_to_virt(base + low) as *mut u8,
                0,
                (free_index - low) as usize,
            )
        };
        crate::counters::zeroed(free_index - low);
        kerncore::untyped_lower_watermark(&mut KernelSlots, slot, low);
    }
    kerncore::untyped_reset_needed(&KernelSlots, slot).is_none()
}

/// A revocation of the untyped in `slot` left its memory from the base to `zeroed_end`
/// all zero: the CNodes it destroyed there (every slot emptied, and the kernel empties a
/// slot by writing all 64 bytes zero, `KernelSlots::clear`; slots never written are zero
/// since the CNode was made from zero memory). When the rest of what the untyped handed
/// out is at most [`RESET_CHUNK`] (a process's life: its TCB and IPC buffer above its
/// CNode), it is zeroed now and the untyped starts over at once, so that its next retype
/// zeroes nothing: the CNode is not zeroed twice. Else the untyped is reset in full when
/// it is next retyped, as any other.
pub fn start_over_after_revoke(slot: SlotAddr, zeroed_end: u64) {
    let Some((from, bytes)) =
        kerncore::untyped_rest_after_zeroed(&KernelSlots, slot, zeroed_end, RESET_CHUNK)
    else {
        return;
    };
    // SAFETY: `[from, from + bytes)` lies inside the untyped below its watermark, and the
    // untyped has no children: no object uses that memory any more, and the HHDM maps it.
    unsafe { core::ptr::write_bytes(phys_to_virt(from) as *mut u8, 0, bytes as usize) };
    crate::counters::zeroed(bytes);
    kerncore::untyped_lower_watermark(&mut KernelSlots, slot, 0);
}

/// Gives a new (zero) object its initial state.
fn initialise(object_type: ObjectType, object: u64) {
    match object_type {
        ObjectType::Tcb => super::tcb::init_new(object),
        ObjectType::Pml4 => super::vspace::init_vspace(object),
        _ => {}
    }
}
