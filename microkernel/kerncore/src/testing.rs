//! A slot store for tests: a sparse map from slot address to slot, where an address that was
//! never written reads as an empty slot (like zero-filled memory).

extern crate std;

use std::collections::BTreeMap;
use std::vec::Vec;

use crate::slot::{Slot, SlotAddr, SlotStore};

static EMPTY: Slot = Slot::EMPTY;

/// Test memory: every slot-aligned non-zero address is a slot.
#[derive(Clone, Default)]
pub(crate) struct MapStore {
    slots: BTreeMap<u64, Slot>,
}

impl MapStore {
    pub(crate) fn new() -> Self {
        MapStore::default()
    }

    /// Zero-fills `[base, base + len)`, as the kernel does to a new object. Panics if the
    /// memory still holds a capability: kerncore must never hand out memory in use.
    pub(crate) fn zero_fill(&mut self, base: u64, len: u64) {
        let end = base.saturating_add(len);
        let live: Vec<u64> = self
            .slots
            .range(base..end)
            .filter(|(_, s)| !s.is_empty())
            .map(|(a, _)| *a)
            .collect();
        assert!(
            live.is_empty(),
            "retype handed out memory holding caps at {live:x?}"
        );
        let dead: Vec<u64> = self.slots.range(base..end).map(|(a, _)| *a).collect();
        for a in dead {
            self.slots.remove(&a);
        }
    }

    /// Every full slot, in address order.
    pub(crate) fn full_slots(&self) -> Vec<(SlotAddr, Slot)> {
        self.slots
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(a, s)| (SlotAddr(*a), *s))
            .collect()
    }

    /// Checks that the list links are consistent, that empty slots are all zero, and that
    /// the lists are acyclic.
    pub(crate) fn check_links(&self) {
        let full = self.full_slots();
        for (a, s) in self.slots.iter() {
            if s.is_empty() {
                assert_eq!(*s, Slot::EMPTY, "empty slot {a:#x} is not all zero");
            }
        }
        for (a, s) in &full {
            if let Some(n) = s.next() {
                let ns = self.slot(n);
                assert!(!ns.is_empty(), "{:#x}.next = {:#x} is empty", a.0, n.0);
                assert_eq!(ns.prev(), Some(*a), "{:#x}.next.prev", a.0);
            }
            if let Some(p) = s.prev() {
                let ps = self.slot(p);
                assert!(!ps.is_empty(), "{:#x}.prev = {:#x} is empty", a.0, p.0);
                assert_eq!(ps.next(), Some(*a), "{:#x}.prev.next", a.0);
            }
        }
        let mut seen = 0;
        for (a, s) in &full {
            if s.prev().is_none() {
                let mut at = Some(*a);
                while let Some(x) = at {
                    seen += 1;
                    assert!(seen <= full.len(), "derivation list has a cycle");
                    at = self.slot(x).next();
                }
            }
        }
        assert_eq!(
            seen,
            full.len(),
            "some slots are on no list (a cycle without a head)"
        );
    }
}

impl SlotStore for MapStore {
    fn slot(&self, at: SlotAddr) -> &Slot {
        assert!(
            at.0 != 0 && at.0.is_multiple_of(64),
            "kerncore used a bad slot address {:#x}",
            at.0
        );
        self.slots.get(&at.0).unwrap_or(&EMPTY)
    }
    fn slot_mut(&mut self, at: SlotAddr) -> &mut Slot {
        assert!(
            at.0 != 0 && at.0.is_multiple_of(64),
            "kerncore used a bad slot address {:#x}",
            at.0
        );
        self.slots.entry(at.0).or_insert(Slot::EMPTY)
    }
}
