//! CNode invocations: copy, mint, move, mutate, delete, revoke, and copies in a batch.
//!
//! Slots are named seL4-style by `(index, depth)` relative to the invoked CNode cap.
//! Argument words: copy/mint/move/mutate take `dest_index, dest_depth, src_index,
//! src_depth` then rights and/or data; delete/revoke take `index, depth`; the batches take
//! several entries of their call.

use super::pending::{self, Work};
use super::{
    cap_error, lookup_error, resolve_slot, Args, InvocationError, InvocationResult, KernelSlots,
    Output,
};
use crate::thread::TcbPtr;
use kerncore::{Argument, Cap, LookupError, SlotStore};
use libsys::abi::{
    CopyBatchWord, Error, Label, COPY_BATCH_MAX, COPY_BATCH_WORDS, REVOKE_BATCH_MAX,
};
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
        Label::CNodeCopyBatch => copy_batch(root, args),
        Label::CNodeRevokeBatch | Label::CNodeDeleteBatch => {
            slot_batch(caller, root, label == Label::CNodeRevokeBatch, args)
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// `CNodeRevokeBatch` (`revoke`) and `CNodeDeleteBatch`: each `(index, depth)` pair revoked
/// or deleted in order, as `CNodeRevoke`/`CNodeDelete` (every slot is resolved when its turn
/// comes: an earlier one may have emptied the CNode of a later one, which is then refused
/// there). Work that does not finish within this entry's budget is parked and the call
/// restarted; the restarted call runs from the start, and what is already done is quick:
/// a revoked cap has no descendants left, a deleted slot is empty. So the call needs no
/// state of its own beyond the parked operation.
fn slot_batch(caller: TcbPtr, root: &Cap, revoke: bool, args: &Args) -> InvocationResult {
    let length = args.sent_len();
    if length == 0 || !length.is_multiple_of(2) || length > 2 * REVOKE_BATCH_MAX {
        return Err(InvocationError::new(Error::RangeError, 0));
    }
    for k in 0..length / 2 {
        let at = 2 * k;
        let slot = resolve_slot(root, args.get(at)?, args.get(at + 1)?, at as u64)?;
        let work = if revoke {
            Work::Revoke(kerncore::cnode_revoke(slot))
        } else {
            Work::Delete(kerncore::cnode_delete(slot))
        };
        pending::perform(caller.as_raw(), work, pending::After::RunCallAgain)
            .map_err(|()| crate::syscall::restart())?;
    }
    Ok(Output::empty())
}

/// `CNodeCopyBatch`: the entries' packed words are all checked first; then each entry is
/// a `CNodeCopy` or `CNodeMint` (looked up when its turn comes), in order. The first
/// refusal ends the call with its error at the entry's word (entry `k`'s words are
/// `4k..4k+4`); the entries before it stay done. At most [`COPY_BATCH_MAX`] entries, each
/// a constant amount of work, so the call needs no preemption point.
fn copy_batch(root: &Cap, args: &Args) -> InvocationResult {
    let length = args.sent_len();
    if length == 0
        || !length.is_multiple_of(COPY_BATCH_WORDS)
        || length > COPY_BATCH_MAX * COPY_BATCH_WORDS
    {
        return Err(InvocationError::new(Error::RangeError, 0));
    }
    let entries = length / COPY_BATCH_WORDS;
    let mut decoded = [None; COPY_BATCH_MAX];
    for (k, entry) in decoded.iter_mut().enumerate().take(entries) {
        let base = k * COPY_BATCH_WORDS;
        let word = CopyBatchWord::from_word(args.get(base + 2)?).ok_or(InvocationError::new(
            Error::InvalidArgument,
            base as u64 + 2,
        ))?;
        let rights = Rights::from_bits(word.rights).ok_or(InvocationError::new(
            Error::InvalidArgument,
            base as u64 + 2,
        ))?;
        let data = args.get(base + 3)?;
        if !word.mint && data != 0 {
            return Err(InvocationError::new(
                Error::InvalidArgument,
                base as u64 + 3,
            ));
        }
        *entry = Some((word, rights, data));
    }
    for (k, entry) in decoded.iter().enumerate().take(entries) {
        let Some((word, rights, data)) = *entry else {
            break;
        };
        let base = (k * COPY_BATCH_WORDS) as u64;
        let resolve = |index: u64, depth: u64, arg: u64| {
            kerncore::resolve(&KernelSlots, root, index, depth as u32).map_err(|e| match e {
                // A bad depth is the fault of the packed word, which holds both depths.
                LookupError::InvalidDepth { .. } => InvocationError::new(e.code(), base + 2),
                _ => lookup_error(e, arg),
            })
        };
        let dest = resolve(args.get(base as usize)?, word.dest_depth, base)?;
        // As in seL4, an occupied destination is reported before the source is looked at.
        if !KernelSlots.slot(dest).is_empty() {
            return Err(InvocationError::new(Error::DeleteFirst, base));
        }
        let src = resolve(args.get(base as usize + 1)?, word.src_depth, base + 1)?;
        let position = |a: Argument| match a {
            Argument::Destination => Some(base),
            Argument::Source => Some(base + 1),
            Argument::Rights => Some(base + 2),
            Argument::Data => Some(base + 3),
            _ => None,
        };
        let result = if word.mint {
            kerncore::cnode_mint(&mut KernelSlots, src, dest, rights, data)
        } else {
            kerncore::cnode_copy(&mut KernelSlots, src, dest, rights)
        };
        result.map_err(|e| cap_error(e, position))?;
    }
    Ok(Output::empty())
}
