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
}

impl Deletion {
    /// Starts deleting the cap in `slot` (an empty slot is a no-op). Deletion cannot fail.
    pub const fn new(slot: SlotAddr) -> Deletion {
        Deletion {
            target: slot.0,
            zombies: 0,
            keep: 0,
            kept_in_dead_object: false,
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
        }
    }

    /// Does one unit of work.
    pub fn step<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        if self.target != 0 {
            return self.empty_target(store);
        }
        if self.zombies != 0 {
            self.reduce_top_zombie(store);
            return Step::Working;
        }
        Step::Finished
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
                let zombie = Cap::Zombie {
                    object: home.0,
                    remaining: count,
                    next: self.zombies,
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
    fn reduce_top_zombie<S: SlotStore + ?Sized>(&mut self, store: &mut S) {
        let home = SlotAddr(self.zombies);
        let Cap::Zombie {
            object,
            mut remaining,
            next,
        } = *store.slot(home).cap()
        else {
            // Not reachable while the invariants hold; stop rather than loop.
            self.zombies = 0;
            return;
        };
        if remaining <= 1 {
            slot::unlink(store, home);
            self.zombies = next;
            return;
        }
        let mut passed = 0;
        loop {
            let last = SlotAddr::in_object(object, remaining - 1);
            if last.is_some_and(|last| last.0 == self.keep) {
                self.kept_in_dead_object = true;
            }
            let full = last.filter(|last| {
                last.0 != self.keep
                    && !matches!(store.slot(*last).cap(), Cap::Null | Cap::Zombie { .. })
            });
            if let Some(last) = full {
                // Emptied next; the zombie's count drops when it is found empty.
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
            };
            slot::set_cap(store, home, zombie);
        }
    }
}

/// Most empty slots of a dying object one step of a [`Deletion`] passes over.
pub const EMPTY_SLOTS_PER_STEP: u64 = 64;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    parent: SlotAddr,
    current: Option<Deletion>,
    /// The revoked cap lives in an object already destroyed: delete it after the children.
    parent_in_dead_object: bool,
}

impl Revocation {
    /// Starts revoking the cap in `slot` (an empty slot or a cap without children is a
    /// no-op). Revocation cannot fail.
    pub const fn new(slot: SlotAddr) -> Revocation {
        Revocation {
            parent: slot,
            current: None,
            parent_in_dead_object: false,
        }
    }

    /// Does one unit of work.
    pub fn step<S: SlotStore + ?Sized>(&mut self, store: &mut S) -> Step {
        if let Some(deletion) = &mut self.current {
            let step = deletion.step(store);
            if deletion.keep != 0 {
                self.parent = SlotAddr(deletion.keep);
                self.parent_in_dead_object |= deletion.kept_in_dead_object;
            }
            match step {
                Step::Finished => self.current = None,
                other => return other,
            }
        }
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
                object, remaining, ..
            } => {
                slot::set_cap(
                    store,
                    child,
                    Cap::Zombie {
                        object,
                        remaining,
                        next: 0,
                    },
                );
                Deletion {
                    target: 0,
                    zombies: child.0,
                    keep: self.parent.0,
                    kept_in_dead_object: false,
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
