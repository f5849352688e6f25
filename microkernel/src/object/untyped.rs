//! Untyped invocation: retype into new objects.
//!
//! `UntypedRetype(type, size_bits, dest_cnode, dest_offset, count)`: `dest_cnode` is a
//! cptr (depth 64) in the caller's CSpace naming a CNode cap; the new caps go into its
//! slots `dest_offset..dest_offset + count`, which must be empty.

use super::{lookup, retype_error, Args, InvocationError, InvocationResult, KernelSlots, Reply};
use crate::mem::phys_to_virt;
use crate::thread::Tcb;
use kerncore::{Argument, RetypeArgs, SlotAddr};
use libsys::abi::{Error, Label};
use libsys::object::ObjectType;

/// Dispatches an invocation on the untyped cap in `slot`.
pub fn invoke(caller: &mut Tcb, slot: SlotAddr, label: Label, args: &Args) -> InvocationResult {
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
        .map_err(|e| retype_error(e, position))?;
    for object in made.objects() {
        // Objects are zero-filled, except untyped children: their memory is zeroed when
        // objects are made from them (filling them now would be work done twice, and one
        // call may ask for gigabytes of it).
        if !made.device && made.object_type != ObjectType::Untyped {
            // SAFETY: the object's memory was just carved from the untyped: no cap refers to
            // it except the new one, and the HHDM maps it.
            unsafe {
                core::ptr::write_bytes(phys_to_virt(object) as *mut u8, 0, 1usize << made.size_bits)
            };
        }
        initialise(made.object_type, object);
    }
    Ok(Reply::empty())
}

/// Gives a zero-filled object its initial state.
fn initialise(object_type: ObjectType, object: u64) {
    match object_type {
        ObjectType::Tcb => {
            // SAFETY: a fresh, zeroed TCB object.
            unsafe { super::tcb::at(object) }.init("thread", 0);
        }
        ObjectType::Pml4 => super::vspace::init_vspace(object),
        _ => {}
    }
}
