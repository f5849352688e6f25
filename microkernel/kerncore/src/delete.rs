//! Delete and revoke, as resumable state machines.
//!
//! Deleting a cap is simple unless it is the last cap to an object that holds caps (a CNode
//! or a TCB): then every cap inside must be deleted first, and any of those may be the last
//! cap to another CNode, to any depth, in cycles (a CNode may hold the only cap to itself).
//! Recursion on that depth would let userspace overflow the kernel stack, so deletion keeps
//! its work list in the dying objects themselves:
//!
//! 1. When the last cap to a container is deleted, the kernel is told
//!    ([`Finalise`] with `is_final`) so it can detach the object (suspend the thread...),
//!    and the cap becomes a [`Cap::Zombie`] that keeps its place in the derivation tree
//!    (so its untyped still has a child and its memory cannot be reused yet).
//! 2. The zombie is swapped into the container's own slot 0; whatever was there moves to
//!    the slot being deleted and is deleted next. So every zombie lives inside the object
//!    it stands for, where no CSpace can reach it.
//! 3. Zombies form a stack (linked through [`Cap::Zombie::next`]). The top zombie's slots
//!    are emptied from the last to slot 1; each may push another zombie. When only its own
//!    slot 0 is left, the zombie is unlinked and popped: the object is gone and its memory
//!    is free once its untyped has no other children.
//!
//! Every [`Deletion::step`] does O(1) work. The whole operation is bounded by the number of
//! slots in the objects it destroys, all of which were paid for from untyped memory.
//!
//! [`Revocation`] deletes the descendants of a cap one [`Deletion`] at a time.
//!
//! The kernel drives both with a loop, acting on each [`Finalise`] between steps:
//!
//! ```
//! # use kerncore::{Deletion, Finalise, Step, SlotStore};
//! fn delete_slot(store: &mut impl SlotStore, slot: kerncore::SlotAddr) {
//!     let mut deletion = Deletion::new(slot);
//!     loop {
//!         match deletion.step(store) {
//!             Step::Finished => break,
//!             Step::Removed(f) => { /* tear down f.cap's object if f.is_final */ }
//!             Step::Working => {}
//!         }
//!     }
//! }
//! ```
//!
//! A paused `Deletion` or `Revocation` is a few words of plain data, so the kernel can
//! preempt between steps and resume later, as long as no other capability operation runs
//! in between (zombies only exist while one is in progress).

use crate::cap::Cap;
use crate::cdt::{is_final, is_parent_of};
use crate::slot::{self, SlotAddr, SlotStore};
use libsys::object::SLOT_SIZE_BITS;

/// A cap that was removed, for the kernel to act on.
///
/// What the kernel must do, by cap:
///
/// | cap                 | when                | kernel action                                       |
/// |---------------------|---------------------|-----------------------------------------------------|
/// | frame               | mapped (final or not) | unmap it from `mapping()`                         |
/// | PDPT / PD / PT      | final and mapped    | unhook the table from its parent table              |
/// | PML4                | final               | switch away from it if it is loaded                 |
/// | endpoint            | final               | wake every queued thread with `Cancelled`           |
/// | notification        | final               | wake waiters with `Cancelled`, unbind its TCB       |
/// | reply               | final               | fail the pending reply, wake the caller             |
/// | TCB                 | final               | suspend it and take it off every queue (its slots are emptied next, by kerncore) |
/// | IRQ handler         | final               | mask the line and forget its notification            |
/// | I/O port            | final               | release the range                                   |
/// | untyped, CNode, control caps | -          | nothing                                             |
///
/// The object's memory stays untouched until its untyped is retyped again, which cannot
/// happen before the kernel has acted on this. For a final TCB or CNode the report comes
/// before the object's slots are emptied, and its slot 0 already holds the zombie: the
/// kernel must detach the object without reading or writing its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finalise {
    /// The cap as it was in its slot.
    pub cap: Cap,
    /// No other cap to the object remains: the object is being destroyed.
    pub is_final: bool,
}

/// The result of one step of a [`Deletion`] or [`Revocation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The operation is complete.
    Finished,
    /// A cap was removed (or a container became a zombie); act on it, then step again.
    Removed(Finalise),
    /// Work was done; step again.
    Working,
}

/// Deletion of one slot, with everything the deleted cap was the last way to reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deletion {
    /// The slot being emptied, or 0 when the next zombie decides.
    target: u64,
    /// Slot of the top zombie, or 0.
    zombies: u64,
    /// A slot this deletion must not empty (the parent of a revocation, 0 for none),
    /// followed when a swap moves its cap.
    keep: u64,
    /// The kept slot was passed over inside an object this deletion destroyed: its cap now
    /// lives in dead memory and the revocation must delete it last.
    kept_in_dead_object: bool,
    /// Slot 0 of a CNode whose zombie the last step popped (the CNode is gone and all its
    /// slots are empty), or 0; the revocation takes it.
    popped_cnode: u64,
    /// log2 of that CNode's bytes.
    popped_cnode_bits: u8,
}

impl Deletion {
    /// Starts deleting the cap in `slot` (an empty slot is a no-op). Deletion cannot fail.
    pub const fn new(slot: SlotAddr) -> Deletion {
        Deletion {
            target: slot.0,
            zombies: 0,
            keep: 0,
            kept_in_dead_object: false,
            popped_cnode: 0,
            popped_cnode_bits: 0,
        }
    }

    /// As [`Deletion::new`], but leaves the cap in `keep` alone, even when it lives inside
    /// an object this deletion destroys (see [`Revocation`]).
    const fn keeping(slot: SlotAddr, keep: SlotAddr) -> Deletion {
        Deletion {
            target: slot.0,
            zombies: 0,
            keep: keep.0,
            kept_in_dead_object: false,
            popped_cnode: 0,
            popped_cnode_bits: 0,
        }
    }

    /// Does one unit of work: empties the target slot, or reduces the top zombie and, when
    /// that finds a full slot, empties it too (a bounded walk and one slot: still O(1), and
    /// a step reports at most one removed cap).
    pub fn step<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        if self.target == 0 {
            if self.zombies == 0 {
                return Step::Finished;
            }
            self.reduce_top_zombie(store);
            if self.target == 0 {
                return Step::Working;
            }
        }
        self.empty_target(store)
    }

    /// Runs the deletion to the end, passing each removed cap to `on_removed` together with
    /// the store.
    pub fn finish<S: SlotStore + ?Sized>(
        mut self,
        store: &mut S,
        mut on_removed: impl FnMut(&mut S, Finalise),
    ) {
        loop {
            match self.step(store) {
                Step::Finished => return,
                Step::Removed(f) => on_removed(store, f),
                Step::Working => {}
            }
        }
    }

    /// Empties the target slot, or turns its container cap into a zombie.
    fn empty_target<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        let at = SlotAddr(self.target);
        let cap = *store.slot(at).cap();
        if at.0 == self.keep || matches!(cap, Cap::Null | Cap::Zombie { .. }) {
            // Done; a zombie here is the one just parked in its own slot 0.
            self.target = 0;
            return Step::Working;
        }
        let final_ = is_final(store, at);
        match cap.slot_region() {
            Some((home, count)) if final_ => {
                let cnode_bits = match cap {
                    Cap::CNode { radix_bits, .. } => radix_bits + SLOT_SIZE_BITS as u8,
                    _ => 0,
                };
                let zombie = Cap::Zombie {
                    object: home.0,
                    remaining: count,
                    next: self.zombies,
                    cnode_bits,
                };
                slot::set_cap(store, at, zombie);
                // Park the zombie in its own slot 0; the target now holds what was there
                // (if anything), which is deleted next.
                slot::swap(store, at, home);
                if self.keep == home.0 {
                    // The kept cap was in the container's slot 0: it now lives where the
                    // container's cap was, outside the container, and stays there.
                    self.keep = at.0;
                }
                self.zombies = home.0;
            }
            _ => {
                slot::unlink(store, at);
                self.target = 0;
            }
        }
        Step::Removed(Finalise {
            cap,
            is_final: final_,
        })
    }

    /// Empties the last not-yet-empty slot of the top zombie, or pops it when only its own
    /// slot 0 is left. Passes over up to [`EMPTY_SLOTS_PER_STEP`] empty slots in one step (a
    /// dying CNode is mostly empty), so that a step's work stays bounded.
    ///
    /// The slots are walked from the top by address with [`SlotStore::highest_full`] (the
    /// kernel's walk tests one tag per slot), which stops at full slots only: an empty slot
    /// or a zombie (which lives in its own object's slot 0, emptied when that zombie is
    /// popped) is passed over, and so is the kept slot, which marks the kept cap as living
    /// in dead memory.
    fn reduce_top_zombie<S: SlotStore + ?Sized>(&mut self, store: &mut S) {
        let home = SlotAddr(self.zombies);
        let Cap::Zombie {
            object,
            remaining,
            next,
            cnode_bits,
        } = *store.slot(home).cap()
        else {
            // Not reachable while the invariants hold; stop rather than loop.
            self.zombies = 0;
            return;
        };
        if remaining <= 1 {
            slot::unlink(store, home);
            self.zombies = next;
            if cnode_bits != 0 {
                self.popped_cnode = object;
                self.popped_cnode_bits = cnode_bits;
            }
            return;
        }
        // This step looks at slots `remaining - 1` down to `lowest` (slot 0 is the zombie's
        // own). If all are empty, the zombie's count drops to `lowest`; a full one is
        // emptied next, and the count drops to just above it when it is found empty.
        let lowest = remaining.saturating_sub(EMPTY_SLOTS_PER_STEP).max(1);
        let mut left = lowest;
        // Passing over another object's zombie: the CNode will not be all zero when it is
        // popped, so its zombie forgets its size.
        let mut cnode_bits = cnode_bits;
        // Slots whose address would pass the end of the address space (no object has any)
        // are passed over as empty.
        let top = (remaining - 1).min(SlotAddr::last_index_in(object));
        if top >= lowest {
            // No overflow: `lowest <= top <= last_index_in(object)`, so both are addresses.
            let bottom = SlotAddr(object + (lowest << SLOT_SIZE_BITS));
            let mut top = SlotAddr(object + (top << SLOT_SIZE_BITS));
            // The empty slots are passed over by the store's walk; of the full ones, the
            // kept slot (which always holds the revoked cap: no step empties it) and other
            // objects' zombies are passed over too.
            while let Some(full) = store.highest_full(bottom, top) {
                if full.0 == self.keep {
                    self.kept_in_dead_object = true;
                } else if store.slot(full).holds_live_cap() {
                    self.target = full.0;
                    left = ((full.0 - object) >> SLOT_SIZE_BITS) + 1;
                    break;
                } else {
                    cnode_bits = 0;
                }
                if full == bottom {
                    break;
                }
                top = SlotAddr(full.0 - (1 << SLOT_SIZE_BITS));
            }
        }
        if left < remaining {
            let zombie = Cap::Zombie {
                object,
                remaining: left,
                next,
                cnode_bits,
            };
            slot::set_cap(store, home, zombie);
        }
    }
}

/// Most empty slots of a dying object one step of a [`Deletion`] passes over.
pub const EMPTY_SLOTS_PER_STEP: u64 = 256;

/// Revocation of a cap: deletion of all its descendants (the cap itself stays, unless it
/// lived inside an object the revocation destroyed).
///
/// The revoked cap may sit in a CNode that is one of its own descendants, or that only a
/// descendant reaches (an untyped moved into a CNode retyped from it). Deleting that CNode
/// would empty the revoked cap's slot halfway, and the descendants after it would be lost
/// from view. So each deletion is told to pass over the revoked cap's slot: the CNode
/// dies around it, every descendant is deleted, and the revoked cap, left in dead memory,
/// is deleted last. Nothing runs between the steps that could reuse that memory: its
/// untyped is the revoked cap or an ancestor of it.
///
/// A revoked untyped also learns which of its memory the revocation left all zero: the
/// CNodes it destroyed that lie one after the other from the untyped's base
/// ([`Revocation::zeroed_prefix`]), so that the kernel need not zero them again when the
/// untyped starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    parent: SlotAddr,
    current: Option<Deletion>,
    /// The revoked cap lives in an object already destroyed: delete it after the children.
    parent_in_dead_object: bool,
    /// The end of the revoked untyped's memory known to be zero from its base (the CNodes
    /// destroyed so far, each starting where the last ended); 0 for none yet,
    /// [`NOTHING_ZEROED`] once that can no longer be told.
    zeroed_end: u64,
}

/// [`Revocation::zeroed_end`] when no prefix is known zero: the revoked cap lives in dead
/// memory (its CNode died holding it), or the revoked cap is not an untyped.
const NOTHING_ZEROED: u64 = u64::MAX;

impl Revocation {
    /// Starts revoking the cap in `slot` (an empty slot or a cap without children is a
    /// no-op). Revocation cannot fail.
    pub const fn new(slot: SlotAddr) -> Revocation {
        Revocation {
            parent: slot,
            current: None,
            parent_in_dead_object: false,
            zeroed_end: 0,
        }
    }

    /// Does one unit of work: a step of the current deletion; when that one is finished
    /// (or none is under way), the next descendant is chosen and its deletion's first step
    /// taken at once (at most two deletion steps and one look at the list: still O(1), and
    /// a step reports at most one removed cap).
    pub fn step<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        if self.current.is_some() {
            match self.step_current(store) {
                Step::Finished => self.current = None,
                other => return other,
            }
        }
        match self.choose_next(store) {
            Step::Working => match self.step_current(store) {
                // Not reached (a new deletion's first step finds its full slot or zombie);
                // the next step chooses again.
                Step::Finished => {
                    self.current = None;
                    Step::Working
                }
                other => other,
            },
            other => other,
        }
    }

    /// One step of the current deletion, following the revoked cap if the step moved it.
    fn step_current<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        let Some(deletion) = &mut self.current else {
            return Step::Finished;
        };
        let step = deletion.step(store);
        if deletion.keep != 0 {
            self.parent = SlotAddr(deletion.keep);
            self.parent_in_dead_object |= deletion.kept_in_dead_object;
        }
        let popped = (deletion.popped_cnode, deletion.popped_cnode_bits);
        deletion.popped_cnode = 0;
        if self.parent_in_dead_object {
            self.zeroed_end = NOTHING_ZEROED;
        } else if popped.0 != 0 {
            self.note_zeroed(store, popped.0, popped.1);
        }
        step
    }

    /// A CNode of 2^`bits` bytes at `object` is gone, all its slots empty: if it starts
    /// where the revoked untyped's zero prefix ends, the prefix now ends after it.
    fn note_zeroed<S: SlotStore + ?Sized>(&mut self, store: &S, object: u64, bits: u8) {
        if self.zeroed_end == NOTHING_ZEROED {
            return;
        }
        let Cap::Untyped {
            base,
            device: false,
            ..
        } = *store.slot(self.parent).cap()
        else {
            self.zeroed_end = NOTHING_ZEROED;
            return;
        };
        let end = if self.zeroed_end == 0 {
            base
        } else {
            self.zeroed_end
        };
        if object == end {
            let size = 1u64.checked_shl(bits.into());
            if let Some(after) = size.and_then(|size| object.checked_add(size)) {
                self.zeroed_end = after;
            }
        }
    }

    /// The revoked untyped and the end of the memory from its base that the revocation
    /// left all zero (the CNodes it destroyed there, one after the other), when there is
    /// any: meaningful once the revocation is finished, when nothing can have written
    /// there since (a destroyed CNode's memory is reached by nothing until its untyped
    /// starts over).
    pub fn zeroed_prefix(&self) -> Option<(SlotAddr, u64)> {
        match self.zeroed_end {
            0 | NOTHING_ZEROED => None,
            end => Some((self.parent, end)),
        }
    }

    /// Starts the deletion of the next descendant (`Working`), of the revoked cap itself
    /// once it lives in dead memory and has no descendant left (`Working`), or ends the
    /// revocation (`Finished`).
    fn choose_next<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        let parent = store.slot(self.parent);
        let child = match parent.next() {
            Some(child) if is_parent_of(parent, store.slot(child)) => child,
            _ if self.parent_in_dead_object => {
                // Every descendant is gone; now the revoked cap itself.
                self.parent_in_dead_object = false;
                self.current = Some(Deletion::new(self.parent));
                return Step::Working;
            }
            _ => return Step::Finished,
        };
        self.current = Some(match *store.slot(child).cap() {
            // Only left behind by a deletion the kernel abandoned: finish that object alone.
            Cap::Zombie {
                object,
                remaining,
                cnode_bits,
                ..
            } => {
                slot::set_cap(
                    store,
                    child,
                    Cap::Zombie {
                        object,
                        remaining,
                        next: 0,
                        cnode_bits,
                    },
                );
                Deletion {
                    target: 0,
                    zombies: child.0,
                    keep: self.parent.0,
                    kept_in_dead_object: false,
                    popped_cnode: 0,
                    popped_cnode_bits: 0,
                }
            }
            _ => Deletion::keeping(child, self.parent),
        });
        Step::Working
    }

    /// Runs the revocation to the end, passing each removed cap to `on_removed`.
    pub fn finish<S: SlotStore + ?Sized>(
        mut self,
        store: &mut S,
        mut on_removed: impl FnMut(&mut S, Finalise),
    ) {
        loop {
            match self.step(store) {
                Step::Finished => return,
                Step::Removed(f) => on_removed(store, f),
                Step::Working => {}
            }
        }
    }
}

/// Starts deleting the cap in `slot`: see [`Deletion`].
pub const fn cnode_delete(slot: SlotAddr) -> Deletion {
    Deletion::new(slot)
}

/// Starts revoking the cap in `slot`: see [`Revocation`].
pub const fn cnode_revoke(slot: SlotAddr) -> Revocation {
    Revocation::new(slot)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::testing::MapStore;
    use libsys::object::Rights;
    use proptest::prelude::*;
    use std::vec::Vec;

    impl Deletion {
        /// The top zombie's reduction as it was written before the slots were walked by
        /// address (`SlotAddr::in_object` and two option tests per slot): the reference
        /// that [`Deletion::reduce_top_zombie`] must agree with, step by step.
        fn reduce_top_zombie_reference<S: SlotStore + ?Sized>(&mut self, store: &mut S) {
            let home = SlotAddr(self.zombies);
            let Cap::Zombie {
                object,
                mut remaining,
                next,
                cnode_bits,
            } = *store.slot(home).cap()
            else {
                self.zombies = 0;
                return;
            };
            if remaining <= 1 {
                slot::unlink(store, home);
                self.zombies = next;
                if cnode_bits != 0 {
                    self.popped_cnode = object;
                    self.popped_cnode_bits = cnode_bits;
                }
                return;
            }
            let mut passed = 0;
            let mut passed_a_zombie = false;
            loop {
                let last = SlotAddr::in_object(object, remaining - 1);
                if last.is_some_and(|last| last.0 == self.keep) {
                    self.kept_in_dead_object = true;
                }
                let full = last.filter(|last| {
                    last.0 != self.keep
                        && !matches!(store.slot(*last).cap(), Cap::Null | Cap::Zombie { .. })
                });
                if last.is_some_and(|last| {
                    last.0 != self.keep && matches!(store.slot(last).cap(), Cap::Zombie { .. })
                }) {
                    passed_a_zombie = true;
                }
                if let Some(last) = full {
                    self.target = last.0;
                    break;
                }
                remaining -= 1;
                passed += 1;
                if remaining <= 1 || passed == EMPTY_SLOTS_PER_STEP {
                    break;
                }
            }
            if passed > 0 {
                let zombie = Cap::Zombie {
                    object,
                    remaining,
                    next,
                    cnode_bits: if passed_a_zombie { 0 } else { cnode_bits },
                };
                slot::set_cap(store, home, zombie);
            }
        }
    }

    /// What a slot of the dying object holds in a test.
    #[derive(Clone, Copy, Debug)]
    enum Held {
        Empty,
        Live,
        /// Another object's zombie (passed over like an empty slot).
        Zombie,
    }

    /// A dying object whose slot 0 (at `object`) holds its zombie with `remaining`, and
    /// whose other slots hold `held` (slot `i` holds `held[i - 1]`).
    fn dying(object: u64, held: &[Held], remaining: u64) -> MapStore {
        let mut store = MapStore::new();
        let zombie = Cap::Zombie {
            object,
            remaining,
            next: 0,
            cnode_bits: 14,
        };
        slot::set_cap(&mut store, SlotAddr(object), zombie);
        for (i, h) in held.iter().enumerate() {
            let cap = match h {
                Held::Empty => continue,
                Held::Live => Cap::Endpoint {
                    object: 0x8000,
                    badge: 0,
                    rights: Rights::ALL,
                },
                Held::Zombie => Cap::Zombie {
                    object: 0x4000,
                    remaining: 1,
                    next: 0,
                    cnode_bits: 0,
                },
            };
            let at = SlotAddr::in_object(object, i as u64 + 1).expect("a slot with an address");
            slot::set_cap(&mut store, at, cap);
        }
        store
    }

    /// Reduces the zombie at `object` to the end with both the walk and the reference,
    /// emptying each target they name, and checks that they agree after every step.
    /// Returns the steps taken.
    fn reduce_both(object: u64, held: &[Held], remaining: u64, keep: u64) -> usize {
        let mut walk = dying(object, held, remaining);
        let mut reference = walk.clone();
        let start = Deletion {
            target: 0,
            zombies: object,
            keep,
            ..Deletion::new(SlotAddr(0))
        };
        let (mut d, mut r) = (start, start);
        let mut steps = 0;
        while d.zombies != 0 {
            d.reduce_top_zombie(&mut walk);
            r.reduce_top_zombie_reference(&mut reference);
            steps += 1;
            assert_eq!(d, r, "step {steps}");
            assert_eq!(walk.full_slots(), reference.full_slots(), "step {steps}");
            if d.target != 0 {
                slot::unlink(&mut walk, SlotAddr(d.target));
                slot::unlink(&mut reference, SlotAddr(r.target));
                (d.target, r.target) = (0, 0);
            }
            assert!(steps <= 2 * (held.len() + 2), "no progress");
        }
        // Left: the kept cap and the other objects' zombies, which this deletion passes over.
        for (at, left) in walk.full_slots() {
            assert!(
                at.0 == keep || matches!(left.cap(), Cap::Zombie { .. }),
                "{at:?}"
            );
        }
        steps
    }

    #[test]
    fn a_cnode_holding_another_objects_zombie_is_not_reported_zeroed() {
        let object = 0x10_0000;
        let mut held = [Held::Empty; 15];
        held[6] = Held::Zombie;
        let mut store = dying(object, &held, 16);
        let mut d = Deletion {
            target: 0,
            zombies: object,
            ..Deletion::new(SlotAddr(0))
        };
        while d.zombies != 0 {
            d.reduce_top_zombie(&mut store);
        }
        assert_eq!(d.popped_cnode, 0, "its memory still holds the zombie");
        let mut store = dying(object, &[Held::Empty; 15], 16);
        let mut d = Deletion {
            target: 0,
            zombies: object,
            ..Deletion::new(SlotAddr(0))
        };
        while d.zombies != 0 {
            d.reduce_top_zombie(&mut store);
        }
        assert_eq!((d.popped_cnode, d.popped_cnode_bits), (object, 14));
    }

    #[test]
    fn reducing_a_two_slot_cnode_agrees_with_the_reference() {
        for held in [Held::Empty, Held::Live, Held::Zombie] {
            reduce_both(0x1000, &[held], 2, 0);
        }
    }

    /// Slots of the CNodes of the tests below (fewer under Miri, where every step's
    /// comparison of the two stores is slow).
    const SLOTS: usize = if cfg!(miri) { 32 } else { 256 };

    #[test]
    fn reducing_a_cnode_with_every_slot_full_empties_one_slot_per_step() {
        let held = [Held::Live; SLOTS - 1];
        // A step per slot finds it full; one more finds slot 1 empty; then the pop.
        assert_eq!(reduce_both(0x10_0000, &held, SLOTS as u64, 0), SLOTS + 1);
    }

    #[test]
    fn reducing_an_empty_cnode_passes_a_bounded_run_per_step() {
        let held = [Held::Empty; SLOTS - 1];
        let steps = reduce_both(0x10_0000, &held, SLOTS as u64, 0);
        assert_eq!(
            steps as u64,
            (SLOTS as u64 - 1).div_ceil(EMPTY_SLOTS_PER_STEP) + 1
        );
    }

    #[test]
    fn the_kept_slot_inside_the_dying_cnode_is_passed_over_and_marked() {
        let object = 0x10_0000;
        let mut held = [Held::Empty; SLOTS - 1];
        // Slot k is kept; slot k + 1 holds a cap.
        let k = SLOTS as u64 / 2;
        held[k as usize - 1] = Held::Live;
        held[k as usize] = Held::Live;
        let keep = object + (k << SLOT_SIZE_BITS);
        let mut store = dying(object, &held, SLOTS as u64);
        let mut d = Deletion {
            target: 0,
            zombies: object,
            keep,
            ..Deletion::new(SlotAddr(0))
        };
        while d.zombies != 0 {
            d.reduce_top_zombie(&mut store);
            assert_ne!(d.target, keep, "the kept slot is never emptied");
            if d.target != 0 {
                slot::unlink(&mut store, SlotAddr(d.target));
                d.target = 0;
            }
        }
        assert!(d.kept_in_dead_object);
        assert_eq!(store.full_slots().len(), 1, "the kept cap is left");
        assert_eq!(store.full_slots()[0].0, SlotAddr(keep));
        reduce_both(object, &held, SLOTS as u64, keep);
    }

    #[test]
    fn slots_past_the_end_of_the_address_space_are_passed_over() {
        // Slot 0 at the last 4 slots of the address space: slots 4.. have no address.
        let object = u64::MAX - 255;
        let held = [Held::Live, Held::Empty, Held::Live];
        reduce_both(object, &held, 200, 0);
        reduce_both(object, &held, 4, object + 192);
    }

    fn held() -> impl Strategy<Value = Held> {
        prop_oneof![
            6 => Just(Held::Empty),
            3 => Just(Held::Live),
            1 => Just(Held::Zombie),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Any dying object (1 to 2^9 slots, slots empty, full or zombies, the kept slot
        /// anywhere or nowhere, the zombie's count at or below the object's slots, slot 0
        /// near the end of the address space or not) is reduced as the reference does.
        #[test]
        fn reduction_agrees_with_the_reference(
            radix in 0u32..=if cfg!(miri) { 5 } else { 9 },
            pattern in prop::collection::vec(held(), 512),
            cut in 0u64..=512,
            keep_index in prop::option::of(0u64..512),
            near_the_end in any::<bool>(),
        ) {
            let slots = 1u64 << radix;
            let object = if near_the_end { u64::MAX - 63 - (64 << 4) } else { 0x40_0000 };
            let held: Vec<Held> = pattern[..slots as usize - 1].to_vec();
            let remaining = slots - cut.min(slots - 1);
            let keep = keep_index
                .filter(|k| *k < slots)
                .and_then(|k| SlotAddr::in_object(object, k))
                .map_or(0, |k| k.0);
            let held: Vec<Held> = held
                .iter()
                .enumerate()
                .map(|(i, h)| match SlotAddr::in_object(object, i as u64 + 1) {
                    // Above the count: emptied by earlier steps.
                    _ if i as u64 + 1 >= remaining => Held::Empty,
                    Some(at) if at.0 != keep => *h,
                    Some(_) => Held::Live,
                    None => Held::Empty,
                })
                .collect();
            reduce_both(object, &held, remaining, keep);
        }
    }
}
