//! Whole-store invariants, checked after every operation of the property tests.
//!
//! They are stated independently of the code under test where possible: object identity
//! is a key computed here, not `same_object_as`; the tree is rebuilt from the lists with a
//! stack, then compared with the "maximal run" definition that revoke uses.

extern crate std;

use std::collections::BTreeMap;
use std::vec::Vec;

use crate::testing::MapStore;
use crate::{is_parent_of, Cap, Slot, SlotAddr, SlotStore, TCB_SLOT_COUNT};

/// What makes two caps name the same object.
pub(super) type ObjectKey = (u8, u64, u64);

/// The identity of the object a cap names (`None` for an empty slot or zombie).
pub(super) fn object_key(cap: &Cap) -> Option<ObjectKey> {
    let kind = cap.kind() as u8;
    Some(match *cap {
        Cap::Null | Cap::Zombie { .. } => return None,
        Cap::Untyped {
            base,
            size_bits,
            device,
            ..
        } => (kind, base, size_bits as u64 | (device as u64) << 8),
        Cap::CNode {
            object, radix_bits, ..
        } => (kind, object, radix_bits as u64),
        Cap::Frame { object, size, .. } => (kind, object, size as u64),
        Cap::Endpoint { object, .. }
        | Cap::Notification { object, .. }
        | Cap::Reply { object, .. }
        | Cap::Tcb { object }
        | Cap::Pml4 { object, .. }
        | Cap::Pdpt { object, .. }
        | Cap::Pd { object, .. }
        | Cap::Pt { object, .. }
        | Cap::AsidPool { object, .. } => (kind, object, 0),
        Cap::IrqControl | Cap::IoPortControl | Cap::AsidControl | Cap::DebugConsole => (kind, 0, 0),
        Cap::IrqHandler { irq } => (kind, irq as u64, 0),
        Cap::IoPort { first, last } => (kind, first as u64, last as u64),
    })
}

/// How many caps name each object.
pub(super) fn object_counts(store: &MapStore) -> BTreeMap<ObjectKey, usize> {
    let mut counts = BTreeMap::new();
    for (_, slot) in store.full_slots() {
        if let Some(key) = object_key(slot.cap()) {
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// The derivation forest: for each full slot, its parent slot.
pub(super) struct Forest {
    /// Full slots in list order, list after list.
    pub order: Vec<SlotAddr>,
    pub parent: BTreeMap<SlotAddr, Option<SlotAddr>>,
}

impl Forest {
    /// Rebuilds the tree from the lists: a preorder walk with a stack of open ancestors.
    pub(super) fn build(store: &MapStore) -> Forest {
        let mut order = Vec::new();
        let mut parent = BTreeMap::new();
        for (head, slot) in store.full_slots() {
            if slot.prev().is_some() {
                continue;
            }
            let mut stack: Vec<SlotAddr> = Vec::new();
            let mut at = Some(head);
            while let Some(x) = at {
                let this = store.slot(x);
                while let Some(top) = stack.last() {
                    if is_parent_of(store.slot(*top), this) {
                        break;
                    }
                    stack.pop();
                }
                parent.insert(x, stack.last().copied());
                stack.push(x);
                order.push(x);
                at = this.next();
            }
        }
        Forest { order, parent }
    }

    pub(super) fn is_ancestor(&self, ancestor: SlotAddr, mut x: SlotAddr) -> bool {
        while let Some(Some(p)) = self.parent.get(&x) {
            if *p == ancestor {
                return true;
            }
            x = *p;
        }
        false
    }

    pub(super) fn root_of(&self, mut x: SlotAddr) -> SlotAddr {
        while let Some(Some(p)) = self.parent.get(&x) {
            x = *p;
        }
        x
    }

    /// Descendants of `a`, as the tree says.
    pub(super) fn descendants(&self, a: SlotAddr) -> Vec<SlotAddr> {
        self.order
            .iter()
            .copied()
            .filter(|x| self.is_ancestor(a, *x))
            .collect()
    }
}

/// Descendants of `a`, as revoke sees them: the run after `a` that `is_parent_of(a, _)`.
fn run_after(store: &MapStore, a: SlotAddr) -> Vec<SlotAddr> {
    let mut run = Vec::new();
    let mut at = store.slot(a).next();
    while let Some(x) = at {
        if !is_parent_of(store.slot(a), store.slot(x)) {
            break;
        }
        run.push(x);
        at = store.slot(x).next();
    }
    run
}

/// Checks every invariant. `boot` are the boot caps' slots: the only roots allowed.
pub(super) fn check_all(store: &MapStore, boot: &[SlotAddr]) {
    store.check_links();
    let full = store.full_slots();
    for (at, slot) in &full {
        assert!(
            !matches!(slot.cap(), Cap::Zombie { .. }),
            "zombie left at {:#x}",
            at.0
        );
    }
    let forest = Forest::build(store);
    for (at, _) in &full {
        let root = forest.root_of(*at);
        assert!(
            boot.contains(&root),
            "{:#x} descends from non-boot root {:#x}",
            at.0,
            root.0
        );
        assert_eq!(
            forest.descendants(*at),
            run_after(store, *at),
            "subtree of {:#x}",
            at.0
        );
    }
    check_memory(store, &full, &forest);
    check_slots_live_in_live_containers(store, &full, boot);
}

/// Distinct live objects never overlap, and every descendant of an untyped lies below its
/// watermark (so the next retype cannot hand out its memory).
fn check_memory(store: &MapStore, full: &[(SlotAddr, Slot)], forest: &Forest) {
    let mut objects: BTreeMap<ObjectKey, (u64, u128)> = BTreeMap::new();
    for (_, slot) in full {
        let cap = slot.cap();
        if let (Some(key), Some((base, bits)), false) = (
            object_key(cap),
            cap.region(),
            matches!(cap, Cap::Untyped { .. }),
        ) {
            objects.insert(key, (base, base as u128 + (1u128 << bits)));
        }
    }
    let mut spans: Vec<(u64, u128, ObjectKey)> =
        objects.iter().map(|(k, (b, e))| (*b, *e, *k)).collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0 as u128,
            "objects overlap: {:x?} and {:x?}",
            pair[0],
            pair[1]
        );
    }
    for (at, slot) in full {
        let Cap::Untyped {
            base,
            free_index,
            size_bits,
            ..
        } = *slot.cap()
        else {
            continue;
        };
        assert!(
            free_index <= 1 << size_bits,
            "watermark past the end at {:#x}",
            at.0
        );
        let watermark_end = base as u128 + free_index as u128;
        for d in forest.descendants(*at) {
            let (b, bits) = store
                .slot(d)
                .cap()
                .region()
                .expect("untyped child has a region");
            let end = b as u128 + (1u128 << bits);
            assert!(
                b >= base && end <= watermark_end,
                "child {:#x} of untyped {:#x} is above its watermark",
                d.0,
                at.0
            );
        }
    }
}

/// Every full slot lies in the root CNode or in a CNode or TCB that still has a cap (no cap
/// is stranded in a destroyed object).
fn check_slots_live_in_live_containers(
    store: &MapStore,
    full: &[(SlotAddr, Slot)],
    boot: &[SlotAddr],
) {
    let mut areas: Vec<(u64, u64)> = Vec::new();
    for (_, slot) in full {
        match *slot.cap() {
            Cap::CNode {
                object, radix_bits, ..
            } => areas.push((object, object + (64 << radix_bits))),
            Cap::Tcb { object } => areas.push((object, object + 64 * TCB_SLOT_COUNT)),
            _ => {}
        }
    }
    let _ = store;
    for (at, _) in full {
        let inside = areas.iter().any(|(b, e)| at.0 >= *b && at.0 < *e);
        assert!(
            inside || boot.contains(at),
            "cap at {:#x} is in no live container",
            at.0
        );
    }
}
