//! The hardware-free heart of Hatchery's capability system, tested on the host.
//!
//! The kernel stores capabilities in slots in physical memory and calls into this crate to
//! find, derive, move, delete and revoke them and to carve objects out of untyped memory.
//! Nothing here touches hardware, allocates, or uses `unsafe`; the kernel supplies the
//! memory through [`SlotStore`] and acts on what the operations report.
//!
//! # Design principles
//!
//! 1. **Slots are plain memory.** A [`Slot`] is 64 bytes: a [`Cap`] and two derivation
//!    links (physical slot addresses). All-zero bytes are an empty slot, so a CNode carved
//!    from zero-filled memory needs no construction. Nothing in a slot is a pointer or a
//!    reference; every field is an integer.
//! 2. **Memory is the kernel's, through one trait.** Every operation takes a
//!    [`SlotStore`]: the kernel implements it over its direct map, tests over a map. The
//!    unsafe code lives in that one kernel impl.
//! 3. **Decode, then invoke.** Every operation checks all of its arguments first and either
//!    returns a typed error naming the bad argument ([`CapError`], [`LookupError`],
//!    [`RetypeError`], each with `code()` for the ABI) with nothing changed, or performs the
//!    whole operation. No input makes this crate panic or loop forever: arithmetic on user
//!    values is checked and every loop is bounded.
//! 4. **The derivation tree is a list.** As in seL4, caps are threaded in preorder through
//!    their slots and the tree is recovered by [`is_parent_of`] ([`cdt`] explains the
//!    rules). Copies go right after their source, so all caps to one object are adjacent
//!    and "is this the last cap?" looks only at two neighbours.
//! 5. **Nothing recurses on user-controlled depth.** CSpace lookups are loops bounded by
//!    the 64 pointer bits. Deleting the last cap to a CNode that holds the last caps to
//!    other CNodes (to any depth, in cycles) keeps its work list in the dying objects
//!    themselves as zombies, and runs as a resumable state machine ([`Deletion`],
//!    [`Revocation`]) that reports each removed cap as a [`Finalise`].
//! 6. **Memory returns through the untyped.** Retype allocates upwards from a watermark;
//!    an untyped with no children left starts again from 0 ([`untyped_retype`]). So
//!    revoking an untyped is how all its memory comes back, and nothing can still name
//!    it.
//! 7. **One ABI.** Object types, sizes, cap kinds and rights are defined once in
//!    [`libsys::object`] and used here and by userspace.
//!
//! # How the kernel calls it
//!
//! Find slots with [`resolve`] (CNode invocations, exact depth) or [`lookup_cap`] (the
//! invoked cap). Then [`cnode_copy`], [`cnode_mint`], [`cnode_move`], [`cnode_mutate`],
//! [`untyped_retype`] (initialise what [`Retyped`] lists), [`cnode_delete`] /
//! [`cnode_revoke`] (step to the end, acting on each [`Finalise`]). Boot caps go in with
//! [`insert_root`]; IRQ handler and I/O port caps with [`irq_control_get`] and
//! [`io_port_control_issue`]; mapping state with [`set_mapping`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cap;
pub mod cdt;
pub mod cnode;
pub mod cspace;
pub mod delete;
pub mod error;
pub mod slot;
pub mod untyped;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use cap::{Cap, FrameSize, Mapping, PhysAddr, TCB_SLOT_COUNT};
pub use cdt::{has_children, is_final, is_parent_of};
pub use cnode::{
    asid_control_make_pool, cnode_copy, cnode_mint, cnode_move, cnode_mutate, insert_root,
    io_port_control_issue, irq_control_get, set_mapping, set_vspace_asid,
};
pub use cspace::{lookup_cap, resolve, MAX_DEPTH};
pub use delete::{cnode_delete, cnode_revoke, Deletion, Finalise, Revocation, Step};
pub use error::{Argument, CapError, LookupError, RetypeError};
pub use slot::{Slot, SlotAddr, SlotStore};
pub use untyped::{
    untyped_lower_watermark, untyped_reset_needed, untyped_rest_after_zeroed, untyped_retype,
    RetypeArgs, Retyped,
};
