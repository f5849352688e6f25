//! The capability derivation tree (CDT).
//!
//! Every capability that is not a boot-time root was derived from another one: copied or
//! minted from a cap, created by retyping an untyped, or issued by a control cap. The tree
//! of those derivations is what makes revoke complete and memory reuse safe.
//!
//! As in seL4 the tree is not stored as a tree. The slots form doubly-linked lists in
//! preorder (a cap, then its descendants, then its next sibling), and the shape is
//! recovered from [`is_parent_of`]: the descendants of `a` are the longest run of slots
//! directly after `a` for which `is_parent_of(a, _)` holds. That costs two links per slot,
//! needs no allocation, and makes every operation O(1) except revoke (O(descendants)).
//!
//! Rules that keep the runs contiguous:
//! - a derived cap is inserted directly after its source; objects made by retype directly
//!   after their untyped;
//! - moves keep a cap's list position (only the slot changes);
//! - so all caps to one object are adjacent, and [`is_final`] needs only the two
//!   neighbours.

use crate::cap::Cap;
use crate::slot::{Slot, SlotAddr, SlotStore};

/// Whether `b` is a child of `a`, given that `b` follows `a`'s subtree position.
///
/// `a` must be revocable (originals, untypeds, newly minted badges and issued handlers are;
/// plain copies are not) and `b` must be derived from the same region (same object, or
/// memory inside an untyped, or a power of a control cap). For endpoints and notifications
/// the badge decides: an unbadged cap is the parent of every cap to the object; a badged
/// cap is the parent of the later copies with its badge, up to the next cap that was minted
/// with that badge afresh (`first_badged`).
pub fn is_parent_of(a: &Slot, b: &Slot) -> bool {
    if !a.is_revocable() || !a.cap().same_region_as(b.cap()) {
        return false;
    }
    match a.cap() {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } if *badge != 0 => {
            *badge == b.cap().badge() && !b.is_first_badged()
        }
        _ => true,
    }
}

/// Whether the cap at `at` has any descendant.
pub fn has_children<S: SlotStore + ?Sized>(store: &S, at: SlotAddr) -> bool {
    let slot = store.slot(at);
    match slot.next() {
        Some(n) => is_parent_of(slot, store.slot(n)),
        None => false,
    }
}

/// Whether the cap at `at` is the last one to its object: no neighbour in the list names
/// the same object (see [`Cap::same_object_as`]). An empty slot is not final.
pub fn is_final<S: SlotStore + ?Sized>(store: &S, at: SlotAddr) -> bool {
    let slot = store.slot(at);
    if slot.is_empty() {
        return false;
    }
    // Caps of different kinds never name the same object: the tags are compared first,
    // inline, and most neighbours of a cap being deleted differ there.
    let same = |n: Option<SlotAddr>| {
        n.is_some_and(|n| {
            let other = store.slot(n).cap();
            core::mem::discriminant(slot.cap()) == core::mem::discriminant(other)
                && slot.cap().same_object_as(other)
        })
    };
    !same(slot.prev()) && !same(slot.next())
}

/// Whether a cap derived from `src` as `derived` starts its own subtree: untyped copies,
/// and endpoint or notification caps whose badge differs from their source's (a fresh
/// mint). Other copies are leaves.
pub(crate) fn derived_is_revocable(derived: &Cap, src: &Cap) -> bool {
    match derived {
        Cap::Endpoint { .. } | Cap::Notification { .. } => derived.badge() != src.badge(),
        Cap::Untyped { .. } => true,
        Cap::IrqHandler { .. } => matches!(src, Cap::IrqControl),
        Cap::IoPort { .. } => matches!(src, Cap::IoPortControl),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::{insert_after, insert_unlinked};
    use crate::testing::MapStore;
    use libsys::object::Rights;

    fn ep(badge: u64) -> Cap {
        Cap::Endpoint {
            object: 0x8000,
            badge,
            rights: Rights::ALL,
        }
    }

    /// untyped, original endpoint, minted badge 5, copy of badge 5, fresh mint of badge 5.
    fn badge_tree() -> (MapStore, [SlotAddr; 5]) {
        let mut s = MapStore::new();
        let a = [0x1000, 0x1040, 0x1080, 0x10c0, 0x1100].map(SlotAddr);
        let ut = Cap::Untyped {
            base: 0x8000,
            free_index: 16,
            size_bits: 12,
            device: false,
        };
        insert_unlinked(&mut s, a[0], ut);
        insert_after(&mut s, a[0], a[1], ep(0), true);
        insert_after(&mut s, a[1], a[2], ep(5), true);
        insert_after(&mut s, a[2], a[3], ep(5), false);
        insert_after(&mut s, a[3], a[4], ep(5), true);
        (s, a)
    }

    #[test]
    fn unbadged_endpoint_is_parent_of_its_badged_mints() {
        let (s, a) = badge_tree();
        assert!(is_parent_of(s.slot(a[1]), s.slot(a[2])));
        assert!(is_parent_of(s.slot(a[1]), s.slot(a[4])));
    }

    #[test]
    fn badged_cap_is_parent_of_its_copies_but_not_of_a_fresh_mint() {
        let (s, a) = badge_tree();
        assert!(is_parent_of(s.slot(a[2]), s.slot(a[3])));
        assert!(!is_parent_of(s.slot(a[2]), s.slot(a[4])));
    }

    #[test]
    fn plain_copy_has_no_children() {
        let (s, a) = badge_tree();
        assert!(!is_parent_of(s.slot(a[3]), s.slot(a[4])));
        assert!(!has_children(&s, a[3]));
        assert!(has_children(&s, a[2]));
    }

    #[test]
    fn untyped_is_parent_of_objects_inside_it() {
        let (s, a) = badge_tree();
        for x in &a[1..] {
            assert!(is_parent_of(s.slot(a[0]), s.slot(*x)));
        }
        assert!(!is_final(&s, a[1]) && !is_final(&s, a[4]));
        assert!(is_final(&s, a[0]), "the only cap to the untyped");
    }

    #[test]
    fn only_fresh_badges_and_untyped_copies_are_revocable() {
        assert!(derived_is_revocable(&ep(3), &ep(0)));
        assert!(!derived_is_revocable(&ep(3), &ep(3)));
        assert!(!derived_is_revocable(
            &Cap::Tcb { object: 1 },
            &Cap::Tcb { object: 1 }
        ));
        let ut = Cap::Untyped {
            base: 0x8000,
            free_index: 0,
            size_bits: 12,
            device: false,
        };
        assert!(derived_is_revocable(&ut, &ut));
        let h = Cap::IrqHandler { irq: 1 };
        assert!(derived_is_revocable(&h, &Cap::IrqControl) && !derived_is_revocable(&h, &h));
    }
}
