//! Delete and revoke: finality, the shape of the tree afterwards, containers (CNodes and
//! TCBs) emptied without recursion, cycles, and resumability.

use libsys::object::{ObjectType, Rights};

use super::*;
use crate::cnode_revoke;
use crate::{
    cnode_copy, cnode_mint, cnode_move, has_children, is_parent_of, set_mapping, Deletion, Mapping,
    Step, TCB_SLOT_COUNT,
};

fn finals(removed: &[Finalise]) -> Vec<Cap> {
    removed
        .iter()
        .filter(|f| f.is_final)
        .map(|f| f.cap)
        .collect()
}

#[test]
fn delete_of_last_cap_reports_final() {
    let mut w = World::new();
    let object = w.endpoint(10);
    let removed = w.delete(at(10));
    let cap = Cap::Endpoint {
        object,
        badge: 0,
        rights: Rights::ALL,
    };
    assert_eq!(
        removed,
        [Finalise {
            cap,
            is_final: true
        }]
    );
    assert!(w.cap(at(10)).is_null());
    assert!(!has_children(&w.store, at(UT)));
    w.store.check_links();
}

#[test]
fn delete_of_a_copy_is_not_final_until_the_last() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_mint(&mut w.store, at(10), at(11), Rights::ALL, 3).unwrap();
    cnode_copy(&mut w.store, at(11), at(12), Rights::ALL).unwrap();
    assert!(finals(&w.delete(at(10))).is_empty());
    assert!(finals(&w.delete(at(12))).is_empty());
    assert_eq!(finals(&w.delete(at(11))).len(), 1);
}

#[test]
fn delete_of_an_empty_slot_does_nothing() {
    let mut w = World::new();
    assert!(w.delete(at(100)).is_empty());
    let mut d = Deletion::new(at(100));
    assert_eq!(d.step(&mut w.store), Step::Working);
    assert_eq!(d.step(&mut w.store), Step::Finished);
    assert_eq!(d.step(&mut w.store), Step::Finished);
}

#[test]
fn deleting_a_parent_hands_its_children_to_the_grandparent() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_copy(&mut w.store, at(10), at(11), Rights::ALL).unwrap();
    w.delete(at(10));
    assert!(is_parent_of(w.store.slot(at(UT)), w.store.slot(at(11))));
    assert_eq!(finals(&w.revoke(at(UT))).len(), 1);
    assert!(w.cap(at(11)).is_null());
}

#[test]
fn deleting_a_badge_group_head_keeps_its_copies_out_of_a_later_group() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_mint(&mut w.store, at(10), at(11), Rights::ALL, 5).unwrap();
    cnode_copy(&mut w.store, at(11), at(12), Rights::ALL).unwrap();
    w.delete(at(11));
    // A fresh mint of badge 5 goes right after the original, before the orphaned copy.
    cnode_mint(&mut w.store, at(10), at(13), Rights::ALL, 5).unwrap();
    assert!(
        w.revoke(at(13)).is_empty(),
        "the earlier copy is not the new mint's child"
    );
    assert!(!w.cap(at(12)).is_null());
}

#[test]
fn revoke_removes_every_badged_descendant() {
    let mut w = World::new();
    w.endpoint(10);
    for (dest, badge) in [(11, 1), (12, 2), (13, 2)] {
        cnode_mint(&mut w.store, at(10), at(dest), Rights::ALL, badge).unwrap();
    }
    cnode_copy(&mut w.store, at(12), at(14), Rights::READ).unwrap();
    cnode_copy(&mut w.store, at(10), at(15), Rights::READ).unwrap();
    let removed = w.revoke(at(10));
    assert_eq!(removed.len(), 5);
    assert!(
        finals(&removed).is_empty(),
        "the original endpoint cap remains"
    );
    for slot in 11..=15 {
        assert!(w.cap(at(slot)).is_null(), "slot {slot}");
    }
    assert!(!has_children(&w.store, at(10)));
    w.store.check_links();
}

#[test]
fn revoke_of_a_badged_cap_removes_only_its_own_copies() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_mint(&mut w.store, at(10), at(11), Rights::ALL, 7).unwrap();
    cnode_mint(&mut w.store, at(10), at(12), Rights::ALL, 7).unwrap();
    cnode_copy(&mut w.store, at(11), at(13), Rights::ALL).unwrap();
    cnode_copy(&mut w.store, at(13), at(14), Rights::ALL).unwrap();
    assert_eq!(w.revoke(at(11)).len(), 2);
    assert!(w.cap(at(13)).is_null() && w.cap(at(14)).is_null());
    assert!(
        !w.cap(at(12)).is_null(),
        "a separate mint of the same badge survives"
    );
}

#[test]
fn revoke_of_a_cap_without_children_does_nothing() {
    let mut w = World::new();
    w.endpoint(10);
    assert!(w.revoke(at(10)).is_empty());
    assert!(w.revoke(at(200)).is_empty());
    assert!(!w.cap(at(10)).is_null());
}

#[test]
fn deleting_a_mapped_frame_copy_reports_its_mapping() {
    let mut w = World::new();
    w.retype(ObjectType::Frame4K, 0, 10);
    cnode_copy(&mut w.store, at(10), at(11), Rights::ALL).unwrap();
    let m = Mapping {
        vspace: 0x8000,
        vaddr: 0x1000,
    };
    set_mapping(&mut w.store, at(11), Some(m)).unwrap();
    let removed = w.delete(at(11));
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (removed[0].cap.mapping(), removed[0].is_final),
        (Some(m), false)
    );
}

#[test]
fn deleting_the_last_cap_to_a_cnode_deletes_the_caps_inside() {
    let mut w = World::new();
    let object = w.endpoint(10);
    let cn = w.cnode(3, 11);
    for i in [0, 5, 7] {
        cnode_copy(&mut w.store, at(10), in_cnode(&cn, i), Rights::ALL).unwrap();
    }
    let removed = w.delete(at(11));
    assert_eq!(removed.len(), 4);
    assert_eq!(
        removed[0],
        Finalise {
            cap: cn,
            is_final: true
        },
        "the CNode is reported first"
    );
    assert!(removed[1..]
        .iter()
        .all(|f| !f.is_final && f.cap.region() == Some((object, 4))));
    for i in 0..8 {
        assert!(w.store.slot(in_cnode(&cn, i)).is_empty());
    }
    assert!(w.cap(at(11)).is_null());
    w.store.check_links();
}

#[test]
fn a_deep_chain_of_cnodes_is_torn_down_without_recursion() {
    // Deep enough to overflow a recursive deletion's stack natively; shallower under Miri.
    const DEPTH: u64 = if cfg!(miri) { 24 } else { 200 };
    let mut w = World::new();
    let caps: Vec<Cap> = (0..DEPTH).map(|i| w.cnode(1, 10 + i)).collect();
    // Move each CNode's only cap into slot 1 of the one before it.
    for i in (1..DEPTH).rev() {
        cnode_move(
            &mut w.store,
            at(10 + i),
            in_cnode(&caps[(i - 1) as usize], 1),
        )
        .unwrap();
    }
    let removed = w.delete(at(10));
    assert_eq!(finals(&removed).len(), DEPTH as usize);
    assert_eq!(w.store.full_slots().len(), 4, "only the boot caps are left");
    assert_eq!(w.retype(ObjectType::Endpoint, 0, 10).first, UNTYPED_BASE);
}

#[test]
fn a_cnode_holding_its_own_last_cap_is_freed_by_revoking_its_untyped() {
    let mut w = World::new();
    let cn = w.cnode(2, 10);
    w.endpoint(11);
    cnode_copy(&mut w.store, at(11), in_cnode(&cn, 2), Rights::ALL).unwrap();
    cnode_move(&mut w.store, at(10), in_cnode(&cn, 3)).unwrap();
    let removed = w.revoke(at(UT));
    assert_eq!(finals(&removed).len(), 2, "the CNode and the endpoint");
    assert_eq!(w.store.full_slots().len(), 4);
    w.store.check_links();
}

#[test]
fn two_cnodes_holding_each_others_last_caps_are_freed_by_revoke() {
    let mut w = World::new();
    let a = w.cnode(2, 10);
    let b = w.cnode(2, 11);
    w.endpoint(12);
    cnode_copy(&mut w.store, at(12), in_cnode(&a, 0), Rights::ALL).unwrap();
    cnode_copy(&mut w.store, at(12), in_cnode(&b, 3), Rights::ALL).unwrap();
    cnode_move(&mut w.store, at(10), in_cnode(&b, 1)).unwrap();
    cnode_move(&mut w.store, at(11), in_cnode(&a, 2)).unwrap();
    let removed = w.revoke(at(UT));
    assert_eq!(finals(&removed).len(), 3);
    assert_eq!(removed.len(), 5);
    assert_eq!(w.store.full_slots().len(), 4);
    w.store.check_links();
}

#[test]
fn revoking_an_untyped_stored_inside_its_own_cnode_ends() {
    let mut w = World::new();
    let cn = w.cnode(2, 10);
    cnode_move(&mut w.store, at(UT), in_cnode(&cn, 1)).unwrap();
    let removed = w.revoke(in_cnode(&cn, 1));
    // The untyped's own cap was inside the CNode, so it went with it.
    assert_eq!(finals(&removed).len(), 2);
    assert_eq!(w.store.full_slots().len(), 3);
    w.store.check_links();
}

/// Issue 12, finding 3: the revoked cap's slot is emptied halfway (it lives in a CNode the
/// revoke destroys); the descendants listed after that CNode must still go.
#[test]
fn revoking_an_untyped_kept_in_a_cnode_made_from_it_deletes_every_descendant() {
    let mut w = World::new();
    w.retype(ObjectType::Untyped, 16, 10);
    let u = at(10);
    let root = World::root_cnode();
    let endpoint = w
        .retype_into(u, &root, ObjectType::Endpoint, 0, 11, 1)
        .unwrap();
    let tcb = w.retype_into(u, &root, ObjectType::Tcb, 0, 12, 1).unwrap();
    w.retype_into(u, &root, ObjectType::CNode, 2, 13, 1)
        .unwrap();
    let cn = w.cap(at(13));
    cnode_move(&mut w.store, u, in_cnode(&cn, 1)).unwrap();

    let removed = w.revoke(in_cnode(&cn, 1));

    let finals = finals(&removed);
    assert!(finals.contains(&Cap::Endpoint {
        object: endpoint.first,
        badge: 0,
        rights: Rights::ALL
    }));
    assert!(finals.contains(&Cap::Tcb { object: tcb.first }));
    assert!(finals.contains(&cn));
    assert!(finals
        .iter()
        .any(|c| matches!(c, Cap::Untyped { size_bits: 16, .. })));
    assert_eq!(finals.len(), 4, "{finals:?}");
    for slot in 11..=13 {
        assert!(w.cap(at(slot)).is_null(), "slot {slot}");
    }
    assert!(w.store.slot(in_cnode(&cn, 1)).is_empty());
    assert_eq!(w.store.full_slots().len(), 4, "only the boot caps are left");
    w.store.check_links();
}

/// The revoked cap sits in slot 0 of a CNode it is the ancestor of: the CNode's zombie
/// takes slot 0 and the revoked cap moves out to where the CNode's cap was, alive.
#[test]
fn revoking_an_untyped_kept_in_slot_0_of_its_cnode_moves_it_out_and_keeps_it() {
    let mut w = World::new();
    w.retype(ObjectType::Untyped, 16, 10);
    let root = World::root_cnode();
    w.retype_into(at(10), &root, ObjectType::CNode, 2, 11, 1)
        .unwrap();
    w.retype_into(at(10), &root, ObjectType::Endpoint, 0, 12, 1)
        .unwrap();
    let cn = w.cap(at(11));
    cnode_move(&mut w.store, at(10), in_cnode(&cn, 0)).unwrap();

    let mut revocation = cnode_revoke(in_cnode(&cn, 0));
    let mut finals = 0;
    loop {
        match revocation.step(&mut w.store) {
            Step::Finished => break,
            Step::Removed(f) => finals += usize::from(f.is_final),
            Step::Working => {}
        }
    }
    assert_eq!(finals, 2, "the CNode and the endpoint");
    assert!(matches!(w.cap(at(11)), Cap::Untyped { size_bits: 16, .. }));
    assert!(!has_children(&w.store, at(11)));
    assert!(w.cap(at(12)).is_null());
    assert_eq!(w.store.full_slots().len(), 5);
    w.store.check_links();
}

#[test]
fn tcb_slots_are_emptied_when_the_tcb_is_deleted() {
    let mut w = World::new();
    let tcb = w.retype(ObjectType::Tcb, 0, 10).first;
    let cn = w.cnode(2, 11);
    w.endpoint(12);
    let tcb_slot = |i| SlotAddr(tcb + i * 64);
    cnode_copy(&mut w.store, at(11), tcb_slot(0), Rights::ALL).unwrap();
    cnode_move(&mut w.store, at(12), tcb_slot(TCB_SLOT_COUNT - 1)).unwrap();
    let removed = w.delete(at(10));
    assert_eq!(
        removed[0],
        Finalise {
            cap: Cap::Tcb { object: tcb },
            is_final: true
        }
    );
    assert_eq!(
        finals(&removed).len(),
        2,
        "the TCB and the endpoint; the CNode has a cap left"
    );
    assert_eq!(w.cap(at(11)), cn);
    for i in 0..TCB_SLOT_COUNT {
        assert!(w.store.slot(tcb_slot(i)).is_empty());
    }
    w.store.check_links();
}

#[test]
fn deletion_can_pause_and_resume_between_steps() {
    let mut w = World::new();
    let cn = w.cnode(4, 10);
    w.endpoint(11);
    for i in 0..16 {
        cnode_copy(&mut w.store, at(11), in_cnode(&cn, i), Rights::ALL).unwrap();
    }
    let mut d = Deletion::new(at(10));
    let mut removed = 0;
    let mut steps = 0;
    loop {
        // The paused state is plain data: copy it, as the kernel would save it.
        let mut resumed = d;
        match resumed.step(&mut w.store) {
            Step::Finished => break,
            Step::Removed(_) => removed += 1,
            Step::Working => {}
        }
        d = resumed;
        steps += 1;
        assert!(steps < 1000);
    }
    assert_eq!(removed, 17);
    assert_eq!(w.store.full_slots().len(), 5);
}

#[test]
fn a_mostly_empty_cnode_is_emptied_in_few_steps_each_passing_a_bounded_run() {
    let mut w = World::new();
    // 2^8 slots, two of them full (at 3 and 200): the empty runs are passed over
    // `EMPTY_SLOTS_PER_STEP` at a time, not one step per slot.
    let cn = w.cnode(8, 10);
    w.endpoint(11);
    for i in [3, 200] {
        cnode_copy(&mut w.store, at(11), in_cnode(&cn, i), Rights::ALL).unwrap();
    }
    let mut d = Deletion::new(at(10));
    let (mut removed, mut steps) = (0, 0);
    loop {
        match d.step(&mut w.store) {
            Step::Finished => break,
            Step::Removed(_) => removed += 1,
            Step::Working => {}
        }
        steps += 1;
        assert!(steps < 1000);
    }
    assert_eq!(removed, 3, "the CNode and the two copies");
    let slots = 1 << 8;
    let bound = slots / crate::delete::EMPTY_SLOTS_PER_STEP as usize + 2 * 3 + 4;
    assert!(
        steps <= bound,
        "{steps} steps for {slots} slots (at most {bound})"
    );
    for i in 0..slots as u64 {
        assert!(w.store.slot(in_cnode(&cn, i)).is_empty());
    }
    w.store.check_links();
}

/// Revokes the untyped in `slot` step by step and returns the revocation, finished.
fn revoke_to_the_end(w: &mut World, slot: SlotAddr) -> crate::Revocation {
    let mut revocation = cnode_revoke(slot);
    while revocation.step(&mut w.store) != Step::Finished {}
    w.check_zeroed_prefix(&revocation);
    revocation
}

/// A process's life as procsrv makes it: a CNode first (at the untyped's base), then a TCB
/// and a frame; caps copied into the CNode.
fn life(w: &mut World) -> (SlotAddr, u64, Cap) {
    let base = w.retype(ObjectType::Untyped, 15, 10).first;
    let root = World::root_cnode();
    w.retype_into(at(10), &root, ObjectType::CNode, 8, 11, 1)
        .unwrap();
    w.retype_into(at(10), &root, ObjectType::Tcb, 0, 12, 1)
        .unwrap();
    w.retype_into(at(10), &root, ObjectType::Frame4K, 0, 13, 1)
        .unwrap();
    let cn = w.cap(at(11));
    for (i, src) in [(0, 12), (1, 13), (7, 11), (255, 12)] {
        cnode_copy(&mut w.store, at(src), in_cnode(&cn, i), Rights::ALL).unwrap();
    }
    (at(10), base, cn)
}

#[test]
fn revoking_an_untyped_whose_first_object_is_a_cnode_reports_the_cnode_zeroed() {
    let mut w = World::new();
    let (untyped, base, cn) = life(&mut w);
    let revocation = revoke_to_the_end(&mut w, untyped);
    let cnode_bytes = 256 * 64;
    assert_eq!(
        revocation.zeroed_prefix(),
        Some((untyped, base + cnode_bytes))
    );
    for i in 0..256 {
        assert!(w.store.slot(in_cnode(&cn, i)).is_empty());
    }
    let Cap::Untyped { free_index, .. } = w.cap(untyped) else {
        panic!("the untyped stays");
    };
    // What is left to zero: the TCB and the frame above the CNode.
    assert_eq!(
        crate::untyped_rest_after_zeroed(&w.store, untyped, base + cnode_bytes, 1 << 20),
        Some((base + cnode_bytes, free_index - cnode_bytes))
    );
    assert_eq!(
        crate::untyped_rest_after_zeroed(&w.store, untyped, base + cnode_bytes, 4096),
        None,
        "more than the limit is left to the reset"
    );
}

#[test]
fn an_untyped_whose_first_object_is_not_a_cnode_reports_nothing_zeroed() {
    let mut w = World::new();
    w.retype(ObjectType::Untyped, 15, 10);
    let root = World::root_cnode();
    w.retype_into(at(10), &root, ObjectType::Endpoint, 0, 11, 1)
        .unwrap();
    w.retype_into(at(10), &root, ObjectType::CNode, 4, 12, 1)
        .unwrap();
    let revocation = revoke_to_the_end(&mut w, at(10));
    assert_eq!(revocation.zeroed_prefix(), None);
}

#[test]
fn a_revoked_untyped_kept_inside_its_own_cnode_reports_nothing_zeroed() {
    let mut w = World::new();
    w.retype(ObjectType::Untyped, 15, 10);
    let root = World::root_cnode();
    w.retype_into(at(10), &root, ObjectType::CNode, 4, 11, 1)
        .unwrap();
    let cn = w.cap(at(11));
    cnode_move(&mut w.store, at(10), in_cnode(&cn, 3)).unwrap();
    // The CNode dies holding the revoked cap: its memory is not all zero until that cap
    // goes too, and the revoked untyped goes with it.
    let revocation = revoke_to_the_end(&mut w, in_cnode(&cn, 3));
    assert_eq!(revocation.zeroed_prefix(), None);
}

#[test]
fn revoking_a_cap_that_is_not_an_untyped_reports_nothing_zeroed() {
    let mut w = World::new();
    let cn = w.cnode(4, 10);
    w.endpoint(11);
    cnode_mint(&mut w.store, at(11), at(12), Rights::ALL, 5).unwrap();
    cnode_copy(&mut w.store, at(12), in_cnode(&cn, 1), Rights::ALL).unwrap();
    let revocation = revoke_to_the_end(&mut w, at(12));
    assert_eq!(revocation.zeroed_prefix(), None);
}
