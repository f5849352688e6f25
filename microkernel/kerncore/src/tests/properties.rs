//! Property tests: random sequences of operations, with arguments drawn from both
//! plausible and arbitrary values, keep every invariant of [`super::invariants`]; a refused
//! operation changes nothing; delete and revoke report a cap as final exactly when no
//! other cap to its object remains; and revoking the untyped makes all of it reusable.

extern crate std;

use std::collections::BTreeMap;
use std::vec::Vec;

use libsys::object::{ObjectType, Rights};
use proptest::prelude::*;
use proptest::sample::Index;

use super::invariants::{check_all, object_counts, object_key, Forest, ObjectKey};
use super::*;
use crate::testing::MapStore;
use crate::{
    cnode_copy, cnode_mint, cnode_move, cnode_mutate, io_port_control_issue, irq_control_get,
    lookup_cap, resolve, set_mapping, Mapping, TCB_SLOT_COUNT,
};

#[derive(Clone, Debug)]
enum Op {
    Retype {
        ut: Index,
        object_type: u64,
        size: u64,
        dest: Index,
        offset: u64,
        count: u64,
    },
    Copy {
        src: Index,
        dest: Index,
        rights: u64,
    },
    Mint {
        src: Index,
        dest: Index,
        rights: u64,
        data: u64,
    },
    Move {
        src: Index,
        dest: Index,
    },
    Mutate {
        src: Index,
        dest: Index,
        data: u64,
    },
    Delete {
        slot: Index,
    },
    Revoke {
        slot: Index,
    },
    IrqGet {
        dest: Index,
        irq: u64,
    },
    IoPortIssue {
        dest: Index,
        first: u64,
        last: u64,
    },
    Map {
        slot: Index,
        vaddr: u64,
    },
}

/// Mostly small values, sometimes anything.
fn small_or_any(small: u64) -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..=small, 1 => any::<u64>()]
}

/// Object types: containers often (they make deletion cascade), any value sometimes.
fn object_type() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => Just(ObjectType::CNode as u64),
        1 => Just(ObjectType::Tcb as u64),
        2 => Just(ObjectType::Endpoint as u64),
        1 => Just(ObjectType::Notification as u64),
        4 => small_or_any(13),
    ]
}

/// Mint data: few distinct badges, so that badge groups collide; sometimes anything.
fn badge() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 1..=2u64, 1 => small_or_any(3)]
}

/// Retype counts: mostly 1..=3, sometimes anything (0 and huge counts are errors).
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 1..=3u64, 1 => any::<u64>()]
}

/// An operation, and whether it picks its slots from all slots rather than plausible ones.
fn step() -> impl Strategy<Value = (Op, bool)> {
    (op(), prop::bool::weighted(0.15))
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<Index>;
    prop_oneof![
        4 => (i(), object_type(), small_or_any(12), i(), small_or_any(20), count())
            .prop_map(|(ut, object_type, size, dest, offset, count)| Op::Retype { ut, object_type, size, dest, offset, count }),
        3 => (i(), i(), small_or_any(15)).prop_map(|(src, dest, rights)| Op::Copy { src, dest, rights }),
        3 => (i(), i(), small_or_any(15), badge()).prop_map(|(src, dest, rights, data)| Op::Mint { src, dest, rights, data }),
        2 => (i(), i()).prop_map(|(src, dest)| Op::Move { src, dest }),
        1 => (i(), i(), small_or_any(0x1ff)).prop_map(|(src, dest, data)| Op::Mutate { src, dest, data }),
        3 => i().prop_map(|slot| Op::Delete { slot }),
        2 => i().prop_map(|slot| Op::Revoke { slot }),
        1 => (i(), small_or_any(30)).prop_map(|(dest, irq)| Op::IrqGet { dest, irq }),
        1 => (i(), small_or_any(8), small_or_any(8)).prop_map(|(dest, first, last)| Op::IoPortIssue { dest, first, last }),
        1 => (i(), small_or_any(0x10_0000)).prop_map(|(slot, vaddr)| Op::Map { slot, vaddr }),
    ]
}

/// Root CNode slots that operations may name (the rest stay free for the final retype).
const ROOT_SLOTS_USED: u64 = 24;
/// Slots named in each other CNode.
const SLOTS_PER_CNODE: u64 = 4;

/// Slots the operations can name: the first root slots, the first few slots of every live
/// CNode, and the slots of every live TCB. Recomputed before each operation.
fn candidates(w: &World) -> Vec<SlotAddr> {
    let mut slots: Vec<SlotAddr> = (0..ROOT_SLOTS_USED).map(at).collect();
    let mut containers: Vec<(u64, u64)> = Vec::new();
    for (_, slot) in w.store.full_slots() {
        match *slot.cap() {
            Cap::CNode {
                object, radix_bits, ..
            } if object != ROOT_CNODE => {
                containers.push((object, SLOTS_PER_CNODE.min(1 << radix_bits)));
            }
            Cap::Tcb { object } => containers.push((object, TCB_SLOT_COUNT)),
            _ => {}
        }
    }
    containers.sort();
    containers.dedup();
    for (object, n) in containers {
        slots.extend((0..n).map(|i| SlotAddr(object + i * 64)));
    }
    slots
}

fn boot_slots() -> [SlotAddr; 4] {
    [at(UT), at(ROOT_CAP), at(IRQ_CONTROL), at(IO_PORT_CONTROL)]
}

/// Chooses slots for an operation: usually a slot that makes the operation plausible
/// (a full source, an empty destination, an untyped to retype), sometimes any slot.
struct Picker {
    all: Vec<SlotAddr>,
    full: Vec<SlotAddr>,
    empty: Vec<SlotAddr>,
    untyped: Vec<SlotAddr>,
    cnodes: Vec<SlotAddr>,
    mappable: Vec<SlotAddr>,
    wild: bool,
}

impl Picker {
    fn new(w: &World, wild: bool) -> Picker {
        let all = candidates(w);
        let with = |f: &dyn Fn(&Cap) -> bool| -> Vec<SlotAddr> {
            all.iter()
                .copied()
                .filter(|s| f(w.store.slot(*s).cap()))
                .collect()
        };
        Picker {
            full: with(&|c| !c.is_null()),
            empty: with(&|c| c.is_null()),
            untyped: with(&|c| matches!(c, Cap::Untyped { .. })),
            cnodes: with(&|c| matches!(c, Cap::CNode { .. })),
            mappable: with(&|c| {
                matches!(
                    c,
                    Cap::Frame { .. } | Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. }
                )
            }),
            all,
            wild,
        }
    }

    fn from(&self, list: &[SlotAddr], i: &Index) -> SlotAddr {
        if self.wild || list.is_empty() {
            self.all[i.index(self.all.len())]
        } else {
            list[i.index(list.len())]
        }
    }
}

/// What an operation did, beyond changing the store.
#[derive(Default)]
struct Outcome {
    /// The caps a delete or revoke removed.
    removed: Option<Vec<Finalise>>,
    /// The slots a successful move or mutate took a cap from and to.
    moved: Option<(SlotAddr, SlotAddr)>,
}

/// Runs one operation.
fn apply(w: &mut World, op: &Op, wild: bool) -> Outcome {
    let mut outcome = Outcome::default();
    let p = Picker::new(w, wild);
    let (full, empty) = (
        |i: &Index| p.from(&p.full, i),
        |i: &Index| p.from(&p.empty, i),
    );
    let rights = |r: u64| Rights::from_bits(r & 0xf).unwrap();
    let protected = |s: SlotAddr| boot_slots().contains(&s);
    let before = w.store.full_slots();
    let refused = match op {
        Op::Retype {
            ut,
            object_type,
            size,
            dest,
            offset,
            count,
        } => {
            let dest_cnode = w.cap(p.from(&p.cnodes, dest));
            let ut = p.from(&p.untyped, ut);
            match ObjectType::try_from(*object_type) {
                Ok(t) => w
                    .retype_into(ut, &dest_cnode, t, *size, *offset, *count)
                    .is_err(),
                Err(value) => {
                    let args = RetypeArgs {
                        object_type: value,
                        size: *size,
                        dest_offset: *offset,
                        count: *count,
                    };
                    untyped_retype(&mut w.store, ut, &dest_cnode, args).is_err()
                }
            }
        }
        Op::Copy {
            src,
            dest,
            rights: r,
        } => cnode_copy(&mut w.store, full(src), empty(dest), rights(*r)).is_err(),
        Op::Mint {
            src,
            dest,
            rights: r,
            data,
        } => cnode_mint(&mut w.store, full(src), empty(dest), rights(*r), *data).is_err(),
        Op::Move { src, dest } if !protected(full(src)) => {
            let (src, dest) = (full(src), empty(dest));
            let r = cnode_move(&mut w.store, src, dest);
            outcome.moved = r.is_ok().then_some((src, dest));
            r.is_err()
        }
        Op::Mutate { src, dest, data } if !protected(full(src)) => {
            let (src, dest) = (full(src), empty(dest));
            let r = cnode_mutate(&mut w.store, src, dest, *data);
            outcome.moved = r.is_ok().then_some((src, dest));
            r.is_err()
        }
        Op::Delete { slot } if !protected(full(slot)) => {
            outcome.removed = Some(w.delete(full(slot)));
            false
        }
        Op::Revoke { slot } => {
            outcome.removed = Some(w.revoke(full(slot)));
            false
        }
        // The kernel keeps one handler per line and disjoint port ranges (its own tables);
        // model that by skipping requests it would refuse.
        Op::IrqGet { irq, .. }
            if issued(
                w,
                |c| matches!(c, Cap::IrqHandler { irq: i } if *i as u64 == *irq),
            ) =>
        {
            false
        }
        Op::IrqGet { dest, irq } => {
            irq_control_get(&mut w.store, at(IRQ_CONTROL), empty(dest), *irq, 24).is_err()
        }
        Op::IoPortIssue { first, last, .. }
            if issued(
                w,
                |c| matches!(c, Cap::IoPort { first: f, last: l } if *f as u64 <= *last && *first <= *l as u64),
            ) =>
        {
            false
        }
        Op::IoPortIssue { dest, first, last } => io_port_control_issue(
            &mut w.store,
            at(IO_PORT_CONTROL),
            empty(dest),
            *first,
            *last,
        )
        .is_err(),
        Op::Map { slot, vaddr } => {
            let mapping = (*vaddr != 0).then_some(Mapping {
                vspace: 0x7000_0000,
                vaddr: *vaddr,
            });
            set_mapping(&mut w.store, p.from(&p.mappable, slot), mapping).is_err()
        }
        Op::Move { .. } | Op::Mutate { .. } | Op::Delete { .. } => false,
    };
    if refused {
        assert_eq!(
            w.store.full_slots(),
            before,
            "a refused {op:?} changed the store"
        );
    }
    outcome
}

/// Whether any cap in the store matches.
fn issued(w: &World, f: impl Fn(&Cap) -> bool) -> bool {
    w.store.full_slots().iter().any(|(_, s)| f(s.cap()))
}

/// Delete and revoke report each object's last cap as final exactly once, and only then.
fn check_finality(
    before: &BTreeMap<ObjectKey, usize>,
    after: &BTreeMap<ObjectKey, usize>,
    removed: &[Finalise],
) {
    let mut events: BTreeMap<ObjectKey, (usize, usize)> = BTreeMap::new();
    for f in removed {
        let key = object_key(&f.cap).expect("a removed cap names an object");
        let e = events.entry(key).or_insert((0, 0));
        e.0 += 1;
        e.1 += f.is_final as usize;
    }
    for (key, n_before) in before {
        let n_after = after.get(key).copied().unwrap_or(0);
        let (removed, finals) = events.get(key).copied().unwrap_or((0, 0));
        assert_eq!(removed, n_before - n_after, "caps removed for {key:x?}");
        let gone = n_after == 0 && *n_before > 0 && removed > 0;
        assert_eq!(finals, gone as usize, "final reports for {key:x?}");
    }
    for key in events.keys() {
        assert!(
            before.contains_key(key),
            "removed a cap to {key:x?} that did not exist"
        );
    }
}

/// No operation reshapes the tree around the caps it does not add or remove: every cap
/// that survives has as parent its nearest surviving ancestor from before.
fn check_shape_kept(before: &MapStore, after: &MapStore, moved: Option<(SlotAddr, SlotAddr)>) {
    let rename = |x: SlotAddr| match moved {
        Some((src, dest)) if x == src => dest,
        _ => x,
    };
    let survives = |x: SlotAddr| {
        let y = rename(x);
        let (old, new) = (before.slot(x).cap(), after.slot(y).cap());
        // Same object: an untyped's watermark or a frame's mapping may have changed.
        !new.is_null() && object_key(old) == object_key(new)
    };
    let (old_tree, new_tree) = (Forest::build(before), Forest::build(after));
    for (x, _) in before.full_slots() {
        if !survives(x) {
            continue;
        }
        let mut expected = old_tree.parent[&x];
        while let Some(p) = expected {
            if survives(p) {
                break;
            }
            expected = old_tree.parent[&p];
        }
        let found = new_tree.parent[&rename(x)];
        assert_eq!(found, expected.map(rename), "parent of {:#x} changed", x.0);
    }
}

fn run(ops: &[(Op, bool)]) -> World {
    let mut w = World::new();
    for (op, wild) in ops {
        let counts = object_counts(&w.store);
        let before = w.store.clone();
        let outcome = apply(&mut w, op, *wild);
        if let Some(removed) = &outcome.removed {
            check_finality(&counts, &object_counts(&w.store), removed);
        }
        check_all(&w.store, &boot_slots());
        check_shape_kept(&before, &w.store, outcome.moved);
    }
    w
}

/// Longest generated operation sequence (short under Miri, which checks every step for
/// undefined behaviour and is thousands of times slower).
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 80 };

proptest! {
    // Under Miri (which checks every step for undefined behaviour, thousands of times
    // slower) a few cases are enough; natively, many.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 2048 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(step(), 1..MAX_OPS)) {
        run(&ops);
    }

    #[test]
    fn revoking_the_untyped_frees_all_of_it_for_reuse_from_offset_zero(
        ops in prop::collection::vec(step(), 1..MAX_OPS * 3 / 4)
    ) {
        let mut w = run(&ops);
        w.revoke(at(UT));
        check_all(&w.store, &boot_slots());
        assert!(!crate::has_children(&w.store, at(UT)));
        for (slot, s) in w.store.full_slots() {
            let inside = s.cap().region().is_some_and(|(b, _)| {
                (UNTYPED_BASE..UNTYPED_BASE + (1 << UNTYPED_BITS)).contains(&b)
            });
            assert!(!inside || slot == at(UT), "cap at {:#x} still in the untyped", slot.0);
        }
        let whole = w.retype(ObjectType::Untyped, UNTYPED_BITS as u64, 255);
        assert_eq!(whole.first, UNTYPED_BASE);
    }

    #[test]
    fn lookups_never_panic_and_stay_inside_the_cnodes(
        radix in 0u8..=70, guard_bits in 0u8..=70, guard in any::<u64>(),
        inner_radix in 0u8..=70, inner_guard_bits in 0u8..=70, inner_guard in any::<u64>(),
        cptr in any::<u64>(), depth in small_or_any(70),
    ) {
        let mut w = World::new();
        let root = Cap::CNode { object: 0x4000_0000, guard, radix_bits: radix, guard_bits };
        let inner = Cap::CNode { object: 0x8000_0000, guard: inner_guard, radix_bits: inner_radix, guard_bits: inner_guard_bits };
        // Every slot of both CNodes that the pointer could reach holds the inner CNode cap
        // or the root cap: fill the two slots the pointer's top bits pick, lazily, by
        // writing the inner cap at every index the walk might compute.
        for base in [0x4000_0000u64, 0x8000_0000] {
            for index in [0u64, 1, cptr & 0xff, cptr >> 56] {
                let _ = insert_root(&mut w.store, SlotAddr(base + index * 64), inner);
            }
        }
        let depth = depth.min(u32::MAX as u64) as u32;
        let in_cnodes = |s: SlotAddr| {
            [root, inner].iter().any(|c| match c {
                Cap::CNode { object, radix_bits, .. } => {
                    s.0 >= *object && (s.0 - object) >> 6 < 1u64.checked_shl(*radix_bits as u32).unwrap_or(u64::MAX)
                }
                _ => false,
            })
        };
        if let Ok(slot) = resolve(&w.store, &root, cptr, depth) {
            prop_assert!(in_cnodes(slot));
        }
        if let Ok((slot, _)) = lookup_cap(&w.store, &root, cptr) {
            prop_assert!(in_cnodes(slot));
        }
    }
}

/// Guards the generators: random sequences must actually succeed at every kind of
/// operation and make deletions cascade through containers, or the properties above would
/// hold vacuously.
#[test]
#[cfg_attr(
    miri,
    ignore = "a guard of the generators, not of kerncore: too slow under Miri"
)]
fn generated_sequences_exercise_every_operation_and_cascading_deletes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut changed: BTreeMap<std::string::String, usize> = BTreeMap::new();
    let mut cascades = 0;
    for _ in 0..256 {
        let steps = prop::collection::vec(step(), 1..80)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut w = World::new();
        for (op, wild) in &steps {
            let before = w.store.full_slots();
            let removed = apply(&mut w, op, *wild).removed;
            let finals: Vec<&Finalise> = removed.iter().flatten().filter(|f| f.is_final).collect();
            let containers = finals
                .iter()
                .filter(|f| f.cap.slot_region().is_some())
                .count();
            if containers > 0 && removed.as_ref().is_some_and(|r| r.len() > containers) {
                cascades += 1;
            }
            if w.store.full_slots() != before {
                let name = std::format!("{op:?}");
                let name = name.split([' ', '{']).next().unwrap_or_default();
                *changed.entry(name.into()).or_default() += 1;
            }
        }
    }
    let kinds = [
        "Retype",
        "Copy",
        "Mint",
        "Move",
        "Mutate",
        "Delete",
        "Revoke",
        "IrqGet",
        "IoPortIssue",
        "Map",
    ];
    for kind in kinds {
        assert!(
            changed.get(kind).copied().unwrap_or(0) >= 10,
            "{kind} rarely succeeds: {changed:?}"
        );
    }
    assert!(cascades >= 10, "only {cascades} deletions cascaded");
}
