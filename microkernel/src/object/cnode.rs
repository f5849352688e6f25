//! CNode invocations: copy, mint, move, mutate, delete, revoke.
//!
//! Slots are named seL4-style by `(index, depth)` relative to the invoked CNode cap.
//! Argument words: copy/mint/move/mutate take `dest_index, dest_depth, src_index,
//! src_depth` then rights and/or data; delete/revoke take `index, depth`.

use super::pending::{self, Work};
use super::{
    cap_error, resolve_slot, Args, InvocationError, InvocationResult, KernelSlots, Output,
};
use crate::thread::TcbPtr;
use kerncore::{Argument, Cap, SlotStore};
use libsys::abi::{Error, Label};
use libsys::object::Rights;

/// Dispatches an invocation on the CNode cap `root`.
pub fn invoke(caller: TcbPtr, root: &Cap, label: Label, args: &Args) -> InvocationResult {
    match label {
        Label::CNodeCopy | Label::CNodeMint | Label::CNodeMove | Label::CNodeMutate => {
            let dest = resolve_slot(root, args.get(0)?, args.get(1)?, 0)?;
            // As in seL4, an occupied destination is reported before the source is looked at.
            if !KernelSlots.slot(dest).is_empty() {
                return Err(InvocationError::new(Error::DeleteFirst, 0));
            }
            let src = resolve_slot(root, args.get(2)?, args.get(3)?, 2)?;
            let position = |a: Argument| match a {
                Argument::Destination => Some(0),
                Argument::Source => Some(2),
                Argument::Rights => Some(4),
                Argument::Data => Some(if label == Label::CNodeMutate { 4 } else { 5 }),
                _ => None,
            };
            let rights = |i: usize| -> Result<Rights, InvocationError> {
                Rights::from_bits(args.get(i)?)
                    .ok_or(InvocationError::new(Error::InvalidArgument, i as u64))
            };
            let result = match label {
                Label::CNodeCopy => kerncore::cnode_copy(&mut KernelSlots, src, dest, rights(4)?),
                Label::CNodeMint => {
                    kerncore::cnode_mint(&mut KernelSlots, src, dest, rights(4)?, args.get(5)?)
                }
                Label::CNodeMove => kerncore::cnode_move(&mut KernelSlots, src, dest),
                _ => kerncore::cnode_mutate(&mut KernelSlots, src, dest, args.get(4)?),
            };
            result.map_err(|e| cap_error(e, position))?;
            Ok(Output::empty())
        }
        Label::CNodeDelete | Label::CNodeRevoke => {
            let slot = resolve_slot(root, args.get(0)?, args.get(1)?, 0)?;
            let work = if label == Label::CNodeDelete {
                Work::Delete(kerncore::cnode_delete(slot))
            } else {
                Work::Revoke(kerncore::cnode_revoke(slot))
            };
            // Long work goes on in bounded steps: the call is restarted meanwhile.
            pending::perform(caller.as_raw(), work, pending::After::CallDone)
                .map_err(|()| crate::syscall::restart())?;
            Ok(Output::empty())
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}
