//! Capability slots, the memory they live in, and the list primitives of the derivation tree.
//!
//! A [`Slot`] is 64 bytes: a [`Cap`] (40 bytes), the previous and next slot in the
//! derivation list (physical slot addresses, 0 = none) and two flags. All-zero bytes are an
//! empty slot with no links, so a CNode carved from zero-filled memory is ready to use.
//!
//! The list primitives here keep the doubly-linked list consistent (every `prev`/`next`
//! agrees with its neighbour); which *position* a cap goes to is decided in [`crate::cdt`].

use crate::cap::{Cap, PhysAddr};
use libsys::object::SLOT_SIZE_BITS;

/// The physical address of a slot. A CNode's slot `i` is at `object + (i << 6)`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotAddr(pub u64);

impl SlotAddr {
    /// Slot `index` of the CNode (or TCB slot area) whose slot 0 is at `object`, or `None`
    /// if the address overflows.
    pub fn in_object(object: PhysAddr, index: u64) -> Option<SlotAddr> {
        let offset = index.checked_mul(1 << SLOT_SIZE_BITS)?;
        object.checked_add(offset).map(SlotAddr)
    }

    /// The highest slot index that has an address in an object whose slot 0 is at
    /// `object`: [`SlotAddr::in_object`] is `Some` for exactly the indices up to it.
    pub const fn last_index_in(object: PhysAddr) -> u64 {
        (u64::MAX - object) >> SLOT_SIZE_BITS
    }

    /// `None` for the null link 0.
    const fn from_link(link: u64) -> Option<SlotAddr> {
        if link == 0 {
            None
        } else {
            Some(SlotAddr(link))
        }
    }
}

/// Bit in [`Slot`] flags: this cap can have children in the derivation tree.
const REVOCABLE: u8 = 1 << 0;
/// Bit in [`Slot`] flags: this badged cap starts a new group of same-badge caps, so it is
/// not a child of an earlier cap with the same badge.
const FIRST_BADGED: u8 = 1 << 1;

/// A capability table entry: a capability and its place in the derivation tree.
///
/// Invariant (kept by this crate): an empty slot is all zeroes; a full slot's `prev` and
/// `next` name full slots whose `next` and `prev` name it back.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    cap: Cap,
    prev: u64,
    next: u64,
    flags: u8,
}

const _: () = assert!(core::mem::size_of::<Slot>() == 1 << SLOT_SIZE_BITS);
const _: () = assert!(core::mem::align_of::<Slot>() == 8);

impl Slot {
    /// The empty slot (all zeroes in memory).
    pub const EMPTY: Slot = Slot {
        cap: Cap::Null,
        prev: 0,
        next: 0,
        flags: 0,
    };

    /// The capability in the slot.
    pub const fn cap(&self) -> &Cap {
        &self.cap
    }
    /// Whether the slot holds no capability. A zombie counts as full.
    pub const fn is_empty(&self) -> bool {
        self.cap.is_null()
    }
    /// Whether the slot holds a cap that a deletion must empty: neither empty nor a zombie
    /// (one test of the cap's tag).
    pub const fn holds_live_cap(&self) -> bool {
        !matches!(self.cap, Cap::Null | Cap::Zombie { .. })
    }
    /// The previous slot in the derivation list.
    pub const fn prev(&self) -> Option<SlotAddr> {
        SlotAddr::from_link(self.prev)
    }
    /// The next slot in the derivation list.
    pub const fn next(&self) -> Option<SlotAddr> {
        SlotAddr::from_link(self.next)
    }
    /// Whether this cap can have children.
    pub const fn is_revocable(&self) -> bool {
        self.flags & REVOCABLE != 0
    }
    /// Whether this cap heads its own group of same-badge caps.
    pub const fn is_first_badged(&self) -> bool {
        self.flags & FIRST_BADGED != 0
    }
}

/// The memory that slots live in.
///
/// The kernel implements this over its direct map of physical memory (unsafe inside: it
/// trusts that kerncore only passes addresses of slots it was given or found in caps);
/// tests implement it over a map. Implementations may panic on an address that is not a
/// slot: kerncore never produces one.
pub trait SlotStore {
    /// The slot at `at`.
    fn slot(&self, at: SlotAddr) -> &Slot;
    /// The slot at `at`, for writing.
    fn slot_mut(&mut self, at: SlotAddr) -> &mut Slot;

    /// Empties the slot at `at`: [`Slot::EMPTY`], every byte of it zero. kerncore empties
    /// slots only through this, so in a store that zeroes all 64 bytes (the kernel's does:
    /// assigning `Slot::EMPTY` need not write padding or the unused bytes of the cap) a
    /// CNode whose slots are all empty is all zero, as it was when it was made.
    fn clear(&mut self, at: SlotAddr) {
        *self.slot_mut(at) = Slot::EMPTY;
    }

    /// The highest full slot (see [`Slot::is_empty`]) among `top`, `top - 64`, ... down to
    /// `bottom`, or `None` if all are empty. `bottom <= top` are slots of one object, a
    /// multiple of 64 bytes apart. A store whose slots are contiguous memory may walk them
    /// faster than this default, which asks [`SlotStore::slot`] for each.
    fn highest_full(&self, bottom: SlotAddr, top: SlotAddr) -> Option<SlotAddr> {
        let mut at = top.0;
        loop {
            if !self.slot(SlotAddr(at)).is_empty() {
                return Some(SlotAddr(at));
            }
            if at <= bottom.0 {
                return None;
            }
            at -= 1 << SLOT_SIZE_BITS;
        }
    }
}

/// Writes a cap into a full or empty slot, keeping its links and flags.
pub(crate) fn set_cap<S: SlotStore + ?Sized>(store: &mut S, at: SlotAddr, cap: Cap) {
    store.slot_mut(at).cap = cap;
}

/// Puts `cap` into the empty slot `dest` as a list root: no neighbours, revocable.
pub(crate) fn insert_unlinked<S: SlotStore + ?Sized>(store: &mut S, dest: SlotAddr, cap: Cap) {
    *store.slot_mut(dest) = Slot {
        cap,
        prev: 0,
        next: 0,
        flags: REVOCABLE | FIRST_BADGED,
    };
}

/// Puts `cap` into the empty slot `dest`, directly after `after` in the list. A revocable
/// cap also heads its badge group (it was just minted or created).
pub(crate) fn insert_after<S: SlotStore + ?Sized>(
    store: &mut S,
    after: SlotAddr,
    dest: SlotAddr,
    cap: Cap,
    revocable: bool,
) {
    let next = store.slot(after).next;
    let flags = if revocable {
        REVOCABLE | FIRST_BADGED
    } else {
        0
    };
    *store.slot_mut(dest) = Slot {
        cap,
        prev: after.0,
        next,
        flags,
    };
    store.slot_mut(after).next = dest.0;
    if let Some(n) = SlotAddr::from_link(next) {
        store.slot_mut(n).prev = dest.0;
    }
}

/// Empties `at`, joining its neighbours. If the removed cap headed a badge group, its
/// successor inherits that role, so it does not become a child of an earlier same-badge
/// cap. Returns what the slot held.
pub(crate) fn unlink<S: SlotStore + ?Sized>(store: &mut S, at: SlotAddr) -> Slot {
    let old = *store.slot(at);
    if let Some(p) = old.prev() {
        store.slot_mut(p).next = old.next;
    }
    if let Some(n) = old.next() {
        let next = store.slot_mut(n);
        next.prev = old.prev;
        next.flags |= old.flags & FIRST_BADGED;
    }
    store.clear(at);
    old
}

/// Moves the content of `src` (cap, links, flags) to the empty slot `dest`; `src` becomes
/// empty. The cap keeps its place in the list.
pub(crate) fn transfer<S: SlotStore + ?Sized>(store: &mut S, src: SlotAddr, dest: SlotAddr) {
    let moved = *store.slot(src);
    store.clear(src);
    *store.slot_mut(dest) = moved;
    relink_neighbours(store, dest);
}

/// Exchanges the contents of two slots; each cap keeps its place in the list.
pub(crate) fn swap<S: SlotStore + ?Sized>(store: &mut S, a: SlotAddr, b: SlotAddr) {
    if a == b {
        return;
    }
    let rename = |link: u64| match link {
        l if l == a.0 => b.0,
        l if l == b.0 => a.0,
        l => l,
    };
    let (mut in_a, mut in_b) = (*store.slot(a), *store.slot(b));
    for s in [&mut in_a, &mut in_b] {
        if !s.is_empty() {
            s.prev = rename(s.prev);
            s.next = rename(s.next);
        }
    }
    for (at, content) in [(a, in_b), (b, in_a)] {
        if content.is_empty() {
            store.clear(at);
        } else {
            *store.slot_mut(at) = content;
        }
    }
    relink_neighbours(store, a);
    relink_neighbours(store, b);
}

/// Points the neighbours of the full slot `at` back at it.
fn relink_neighbours<S: SlotStore + ?Sized>(store: &mut S, at: SlotAddr) {
    let s = *store.slot(at);
    if let Some(p) = s.prev() {
        store.slot_mut(p).next = at.0;
    }
    if let Some(n) = s.next() {
        store.slot_mut(n).prev = at.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MapStore;

    fn ep(object: u64) -> Cap {
        Cap::Endpoint {
            object,
            badge: 0,
            rights: libsys::object::Rights::ALL,
        }
    }

    #[test]
    fn empty_slot_has_no_cap_links_or_flags() {
        assert_eq!(core::mem::size_of::<Slot>(), 64);
        let zero = Slot::EMPTY;
        assert!(zero.is_empty() && zero.prev().is_none() && zero.next().is_none());
        assert!(!zero.is_revocable() && !zero.is_first_badged());
    }

    #[test]
    fn slot_in_object_overflow_is_none() {
        assert_eq!(SlotAddr::in_object(0x1000, 3), Some(SlotAddr(0x10c0)));
        assert_eq!(SlotAddr::in_object(u64::MAX - 63, 1), None);
        assert_eq!(SlotAddr::in_object(0, u64::MAX), None);
    }

    #[test]
    fn last_index_in_is_the_last_index_with_an_address() {
        for object in [
            0,
            0x1000,
            u64::MAX - 64,
            u64::MAX - 63,
            u64::MAX - 127,
            u64::MAX,
        ] {
            let last = SlotAddr::last_index_in(object);
            assert!(SlotAddr::in_object(object, last).is_some(), "{object:#x}");
            assert_eq!(SlotAddr::in_object(object, last + 1), None, "{object:#x}");
        }
    }

    #[test]
    fn swap_of_adjacent_slots_keeps_the_list_order() {
        let mut s = MapStore::new();
        let (a, b, c) = (SlotAddr(0x1000), SlotAddr(0x1040), SlotAddr(0x1080));
        insert_unlinked(&mut s, a, ep(1));
        insert_after(&mut s, a, b, ep(2), false);
        insert_after(&mut s, b, c, ep(3), false);
        swap(&mut s, a, b);
        // List order is still ep1, ep2, ep3; ep1 now lives at b, ep2 at a.
        assert_eq!(s.slot(b).cap(), &ep(1));
        assert_eq!(s.slot(b).next(), Some(a));
        assert_eq!(s.slot(a).prev(), Some(b));
        assert_eq!(s.slot(a).next(), Some(c));
        assert_eq!(s.slot(c).prev(), Some(a));
        s.check_links();
    }

    #[test]
    fn swap_with_an_empty_slot_is_a_move() {
        let mut s = MapStore::new();
        let (a, b, e) = (SlotAddr(0x1000), SlotAddr(0x1040), SlotAddr(0x2000));
        insert_unlinked(&mut s, a, ep(1));
        insert_after(&mut s, a, b, ep(2), false);
        swap(&mut s, b, e);
        assert!(s.slot(b).is_empty() && *s.slot(b) == Slot::EMPTY);
        assert_eq!(s.slot(a).next(), Some(e));
        s.check_links();
    }

    #[test]
    fn unlink_passes_first_badged_to_the_successor() {
        let mut s = MapStore::new();
        let (a, b, c) = (SlotAddr(0x1000), SlotAddr(0x1040), SlotAddr(0x1080));
        insert_unlinked(&mut s, a, ep(1));
        insert_after(&mut s, a, b, ep(1), true);
        insert_after(&mut s, b, c, ep(1), false);
        assert!(!s.slot(c).is_first_badged());
        unlink(&mut s, b);
        assert!(s.slot(c).is_first_badged());
        assert_eq!(s.slot(a).next(), Some(c));
        s.check_links();
    }
}
