//! Copy, mint, move, mutate and the cap-issuing operations: each success path and each
//! error path, checking that a refused operation changed nothing.

use libsys::abi::Error;
use libsys::object::{CNodeGuard, CapKind, ObjectType, Rights};

use super::*;
use crate::testing::MapStore;
use crate::{
    cnode_copy, cnode_mint, cnode_move, cnode_mutate, has_children, io_port_control_issue,
    irq_control_get, is_parent_of, set_mapping, Argument, CapError, Mapping,
};

/// The store's full slots, to compare before and after a refused operation.
fn snapshot(store: &MapStore) -> Vec<(SlotAddr, crate::Slot)> {
    store.full_slots()
}

#[test]
fn copy_of_an_original_endpoint_is_its_child_with_masked_rights() {
    let mut w = World::new();
    let object = w.endpoint(10);
    cnode_copy(&mut w.store, at(10), at(11), Rights::READ).unwrap();
    assert_eq!(
        w.cap(at(11)),
        Cap::Endpoint {
            object,
            badge: 0,
            rights: Rights::READ
        }
    );
    assert!(is_parent_of(w.store.slot(at(10)), w.store.slot(at(11))));
    assert!(!w.store.slot(at(11)).is_revocable());
}

#[test]
fn copy_of_a_copy_is_a_sibling_not_a_child() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_copy(&mut w.store, at(10), at(11), all_rights()).unwrap();
    cnode_copy(&mut w.store, at(11), at(12), all_rights()).unwrap();
    assert!(!is_parent_of(w.store.slot(at(11)), w.store.slot(at(12))));
    assert!(is_parent_of(w.store.slot(at(10)), w.store.slot(at(12))));
    // Revoking the original removes both.
    assert_eq!(w.revoke(at(10)).len(), 2);
    assert!(w.cap(at(11)).is_null() && w.cap(at(12)).is_null());
}

#[test]
fn copy_from_an_empty_slot_is_source_empty() {
    let mut w = World::new();
    let err = cnode_copy(&mut w.store, at(40), at(41), all_rights()).unwrap_err();
    assert_eq!(err, CapError::SourceEmpty);
    assert_eq!(
        (err.code(), err.argument()),
        (Error::FailedLookup, Argument::Source)
    );
}

#[test]
fn copy_into_an_occupied_slot_is_delete_first_and_changes_nothing() {
    let mut w = World::new();
    w.endpoint(10);
    w.endpoint(11);
    let before = snapshot(&w.store);
    let err = cnode_copy(&mut w.store, at(10), at(11), all_rights()).unwrap_err();
    assert_eq!(err, CapError::DestinationOccupied);
    assert_eq!(
        (err.code(), err.argument()),
        (Error::DeleteFirst, Argument::Destination)
    );
    assert_eq!(snapshot(&w.store), before);
    // A slot is occupied by itself, too.
    let err = cnode_copy(&mut w.store, at(10), at(10), all_rights()).unwrap_err();
    assert_eq!(err, CapError::DestinationOccupied);
}

#[test]
fn control_caps_cannot_be_copied_but_can_be_moved() {
    let mut w = World::new();
    for control in [IRQ_CONTROL, IO_PORT_CONTROL] {
        let err = cnode_copy(&mut w.store, at(control), at(20), all_rights()).unwrap_err();
        assert!(matches!(err, CapError::NotDerivable { .. }), "{err:?}");
        assert_eq!(err.code(), Error::IllegalOperation);
    }
    cnode_move(&mut w.store, at(IRQ_CONTROL), at(20)).unwrap();
    assert_eq!(w.cap(at(20)), Cap::IrqControl);
}

#[test]
fn untyped_with_children_cannot_be_copied() {
    let mut w = World::new();
    w.endpoint(10);
    let before = snapshot(&w.store);
    let err = cnode_copy(&mut w.store, at(UT), at(20), all_rights()).unwrap_err();
    assert_eq!(err, CapError::UntypedHasChildren);
    assert_eq!(err.code(), Error::RevokeFirst);
    assert_eq!(snapshot(&w.store), before);
}

#[test]
fn copying_an_untyped_fills_the_source_so_only_the_copy_allocates() {
    let mut w = World::new();
    cnode_copy(&mut w.store, at(UT), at(20), all_rights()).unwrap();
    assert_eq!(w.untyped_free_index(), 1 << UNTYPED_BITS);
    assert!(has_children(&w.store, at(UT)));
    // The original is full while the copy lives; the copy allocates from its base.
    let args = |dest| RetypeArgs {
        object_type: ObjectType::Endpoint as u64,
        size: 0,
        dest_offset: dest,
        count: 1,
    };
    let err = untyped_retype(&mut w.store, at(UT), &World::root_cnode(), args(30)).unwrap_err();
    assert!(
        matches!(err, RetypeError::NotEnoughMemory { available: 0, .. }),
        "{err:?}"
    );
    let made = untyped_retype(&mut w.store, at(20), &World::root_cnode(), args(30)).unwrap();
    assert_eq!(made.first, UNTYPED_BASE);
    // Once the copy is gone the original starts again from 0.
    w.delete(at(30));
    w.delete(at(20));
    let made = untyped_retype(&mut w.store, at(UT), &World::root_cnode(), args(30)).unwrap();
    assert_eq!(made.first, UNTYPED_BASE);
}

#[test]
fn copy_of_a_mapped_frame_is_unmapped() {
    let mut w = World::new();
    let object = w.retype(ObjectType::Frame4K, 0, 10).first;
    let mapping = Mapping {
        vspace: 0x7000_0000,
        vaddr: 0x40_0000,
    };
    set_mapping(&mut w.store, at(10), Some(mapping)).unwrap();
    cnode_copy(&mut w.store, at(10), at(11), Rights::READ).unwrap();
    assert_eq!(w.cap(at(10)).mapping(), Some(mapping));
    let copy = w.cap(at(11));
    assert_eq!(copy.mapping(), None);
    assert!(matches!(copy, Cap::Frame { object: o, rights: Rights::READ, .. } if o == object));
}

#[test]
fn page_tables_can_be_copied_only_when_mapped() {
    let mut w = World::new();
    w.retype(ObjectType::Pt, 0, 10);
    let err = cnode_copy(&mut w.store, at(10), at(11), all_rights()).unwrap_err();
    assert_eq!(err, CapError::PageTableNotMapped);
    let mapping = Mapping {
        vspace: 0x7000_0000,
        vaddr: 0x20_0000,
    };
    set_mapping(&mut w.store, at(10), Some(mapping)).unwrap();
    cnode_copy(&mut w.store, at(10), at(11), all_rights()).unwrap();
    assert_eq!(w.cap(at(11)).mapping(), Some(mapping));
}

#[test]
fn pml4_tcb_and_cnode_caps_copy_unchanged() {
    let mut w = World::new();
    w.retype(ObjectType::Pml4, 0, 10);
    crate::set_vspace_asid(&mut w.store, at(10), 7).unwrap();
    w.retype(ObjectType::Tcb, 0, 12);
    w.cnode(2, 14);
    for src in [10, 12, 14] {
        cnode_copy(&mut w.store, at(src), at(src + 1), Rights::NONE).unwrap();
        assert_eq!(w.cap(at(src + 1)), w.cap(at(src)));
    }
}

#[test]
fn copy_of_a_reply_keeps_grant_only_with_the_grant_right() {
    let mut w = World::new();
    let object = w.retype(ObjectType::Reply, 0, 10).first;
    cnode_copy(&mut w.store, at(10), at(11), Rights::GRANT).unwrap();
    cnode_copy(&mut w.store, at(10), at(12), Rights::READ).unwrap();
    assert_eq!(
        w.cap(at(11)),
        Cap::Reply {
            object,
            can_grant: true
        }
    );
    assert_eq!(
        w.cap(at(12)),
        Cap::Reply {
            object,
            can_grant: false
        }
    );
}

#[test]
fn mint_badges_an_unbadged_endpoint_and_starts_a_subtree() {
    let mut w = World::new();
    let object = w.endpoint(10);
    cnode_mint(&mut w.store, at(10), at(11), Rights::WRITE, 42).unwrap();
    assert_eq!(
        w.cap(at(11)),
        Cap::Endpoint {
            object,
            badge: 42,
            rights: Rights::WRITE
        }
    );
    let minted = w.store.slot(at(11));
    assert!(minted.is_revocable() && minted.is_first_badged());
    assert!(is_parent_of(w.store.slot(at(10)), minted));
    // Copies of the badged cap are its children.
    cnode_copy(&mut w.store, at(11), at(12), all_rights()).unwrap();
    assert!(is_parent_of(w.store.slot(at(11)), w.store.slot(at(12))));
}

#[test]
fn minting_a_badge_onto_a_badged_cap_is_refused() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_mint(&mut w.store, at(10), at(11), all_rights(), 42).unwrap();
    let before = snapshot(&w.store);
    let err = cnode_mint(&mut w.store, at(11), at(12), all_rights(), 7).unwrap_err();
    assert_eq!(err, CapError::AlreadyBadged { badge: 42 });
    assert_eq!(
        (err.code(), err.argument()),
        (Error::InvalidArgument, Argument::Data)
    );
    assert_eq!(snapshot(&w.store), before);
}

#[test]
fn mint_with_badge_zero_keeps_the_badge_and_masks_rights() {
    let mut w = World::new();
    let object = w.retype(ObjectType::Notification, 0, 10).first;
    cnode_mint(&mut w.store, at(10), at(11), all_rights(), 9).unwrap();
    cnode_mint(&mut w.store, at(11), at(12), Rights::WRITE, 0).unwrap();
    assert_eq!(
        w.cap(at(12)),
        Cap::Notification {
            object,
            badge: 9,
            rights: Rights::WRITE
        }
    );
    assert!(!w.store.slot(at(12)).is_revocable());
}

#[test]
fn rights_can_only_shrink() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_copy(&mut w.store, at(10), at(11), Rights::READ).unwrap();
    cnode_copy(&mut w.store, at(11), at(12), Rights::ALL).unwrap();
    assert!(matches!(
        w.cap(at(12)),
        Cap::Endpoint {
            rights: Rights::READ,
            ..
        }
    ));
}

#[test]
fn mint_sets_a_cnode_guard() {
    let mut w = World::new();
    let cn = w.cnode(4, 10);
    let word = CNodeGuard {
        guard: 0b1011,
        guard_bits: 4,
    }
    .to_word();
    cnode_mint(&mut w.store, at(10), at(11), all_rights(), word).unwrap();
    let object = match cn {
        Cap::CNode { object, .. } => object,
        _ => unreachable!(),
    };
    assert_eq!(
        w.cap(at(11)),
        Cap::CNode {
            object,
            guard: 0b1011,
            radix_bits: 4,
            guard_bits: 4
        }
    );
}

#[test]
fn a_guard_that_does_not_fit_is_a_range_error() {
    let mut w = World::new();
    w.cnode(4, 10);
    let too_wide = CNodeGuard {
        guard: 0b10000,
        guard_bits: 4,
    }
    .to_word();
    let too_deep = CNodeGuard {
        guard: 0,
        guard_bits: 61,
    }
    .to_word();
    for word in [too_wide, too_deep] {
        let err = cnode_mint(&mut w.store, at(10), at(11), all_rights(), word).unwrap_err();
        assert!(matches!(err, CapError::InvalidGuard { .. }), "{err:?}");
        assert_eq!(err.code(), Error::RangeError);
    }
    // 60 guard bits + 4 radix bits is exactly 64.
    let exact = CNodeGuard {
        guard: 1,
        guard_bits: 60,
    }
    .to_word();
    cnode_mint(&mut w.store, at(10), at(11), all_rights(), exact).unwrap();
}

#[test]
fn data_for_a_cap_without_badge_or_guard_is_refused() {
    let mut w = World::new();
    w.retype(ObjectType::Tcb, 0, 10);
    let err = cnode_mint(&mut w.store, at(10), at(11), all_rights(), 1).unwrap_err();
    assert_eq!(err, CapError::DataNotApplicable { kind: CapKind::Tcb });
    // Data 0 is a plain copy.
    cnode_mint(&mut w.store, at(10), at(11), all_rights(), 0).unwrap();
}

#[test]
fn move_keeps_the_cap_in_its_place_in_the_tree() {
    let mut w = World::new();
    w.endpoint(10);
    cnode_mint(&mut w.store, at(10), at(11), all_rights(), 5).unwrap();
    cnode_move(&mut w.store, at(11), at(50)).unwrap();
    assert!(w.cap(at(11)).is_null());
    assert!(is_parent_of(w.store.slot(at(10)), w.store.slot(at(50))));
    assert!(w.store.slot(at(50)).is_first_badged());
    assert_eq!(w.revoke(at(10)).len(), 1);
    assert!(w.cap(at(50)).is_null());
    w.store.check_links();
}

#[test]
fn move_checks_source_and_destination() {
    let mut w = World::new();
    w.endpoint(10);
    w.endpoint(11);
    assert_eq!(
        cnode_move(&mut w.store, at(30), at(31)),
        Err(CapError::SourceEmpty)
    );
    assert_eq!(
        cnode_move(&mut w.store, at(10), at(11)),
        Err(CapError::DestinationOccupied)
    );
    assert_eq!(
        cnode_move(&mut w.store, at(10), at(10)),
        Err(CapError::DestinationOccupied)
    );
}

#[test]
fn mutate_moves_a_cnode_cap_and_sets_its_guard() {
    let mut w = World::new();
    w.cnode(3, 10);
    let word = CNodeGuard {
        guard: 1,
        guard_bits: 1,
    }
    .to_word();
    cnode_mutate(&mut w.store, at(10), at(11), word).unwrap();
    assert!(w.cap(at(10)).is_null());
    assert!(matches!(
        w.cap(at(11)),
        Cap::CNode {
            guard: 1,
            guard_bits: 1,
            radix_bits: 3,
            ..
        }
    ));
    assert!(is_parent_of(w.store.slot(at(UT)), w.store.slot(at(11))));
}

#[test]
fn mutate_cannot_change_a_badge() {
    let mut w = World::new();
    w.endpoint(10);
    let before = snapshot(&w.store);
    let err = cnode_mutate(&mut w.store, at(10), at(11), 5).unwrap_err();
    assert_eq!(
        err,
        CapError::DataNotApplicable {
            kind: CapKind::Endpoint
        }
    );
    assert_eq!(snapshot(&w.store), before);
    cnode_mutate(&mut w.store, at(10), at(11), 0).unwrap();
    assert!(matches!(w.cap(at(11)), Cap::Endpoint { badge: 0, .. }));
}

#[test]
fn mutate_with_a_bad_guard_changes_nothing() {
    let mut w = World::new();
    w.cnode(3, 10);
    let before = snapshot(&w.store);
    let word = CNodeGuard {
        guard: 4,
        guard_bits: 2,
    }
    .to_word();
    let err = cnode_mutate(&mut w.store, at(10), at(11), word).unwrap_err();
    assert!(matches!(
        err,
        CapError::InvalidGuard {
            guard: 4,
            guard_bits: 2
        }
    ));
    assert_eq!(snapshot(&w.store), before);
}

#[test]
fn set_mapping_applies_only_to_frames_and_page_tables() {
    let mut w = World::new();
    w.endpoint(10);
    let err = set_mapping(&mut w.store, at(10), None).unwrap_err();
    assert!(matches!(
        err,
        CapError::WrongKind {
            found: CapKind::Endpoint,
            ..
        }
    ));
    w.retype(ObjectType::Pd, 0, 11);
    let m = Mapping {
        vspace: 0x9000,
        vaddr: 0x4000_0000,
    };
    set_mapping(&mut w.store, at(11), Some(m)).unwrap();
    assert_eq!(w.cap(at(11)).mapping(), Some(m));
    set_mapping(&mut w.store, at(11), None).unwrap();
    assert_eq!(w.cap(at(11)).mapping(), None);
}

#[test]
fn irq_control_issues_handlers_as_its_children() {
    let mut w = World::new();
    irq_control_get(&mut w.store, at(IRQ_CONTROL), at(20), 4, 24).unwrap();
    assert_eq!(w.cap(at(20)), Cap::IrqHandler { irq: 4 });
    assert!(is_parent_of(
        w.store.slot(at(IRQ_CONTROL)),
        w.store.slot(at(20))
    ));
    let removed = w.revoke(at(IRQ_CONTROL));
    assert_eq!(
        removed,
        [Finalise {
            cap: Cap::IrqHandler { irq: 4 },
            is_final: true
        }]
    );
}

#[test]
fn irq_control_get_checks_its_arguments() {
    let mut w = World::new();
    w.endpoint(10);
    let e = irq_control_get(&mut w.store, at(10), at(20), 4, 24).unwrap_err();
    assert!(matches!(
        e,
        CapError::WrongKind {
            expected: CapKind::IrqControl,
            found: CapKind::Endpoint,
            ..
        }
    ));
    for irq in [24, u64::MAX, 1 << 32] {
        let e = irq_control_get(&mut w.store, at(IRQ_CONTROL), at(20), irq, 24).unwrap_err();
        assert_eq!(
            (e, e.argument()),
            (CapError::InvalidIrq { irq }, Argument::Irq)
        );
    }
    let e = irq_control_get(&mut w.store, at(IRQ_CONTROL), at(10), 4, 24).unwrap_err();
    assert_eq!(e, CapError::DestinationOccupied);
}

#[test]
fn io_port_control_issues_ranges_and_checks_them() {
    let mut w = World::new();
    io_port_control_issue(&mut w.store, at(IO_PORT_CONTROL), at(20), 0x3f8, 0x3ff).unwrap();
    assert_eq!(
        w.cap(at(20)),
        Cap::IoPort {
            first: 0x3f8,
            last: 0x3ff
        }
    );
    cnode_copy(&mut w.store, at(20), at(21), all_rights()).unwrap();
    assert!(!crate::is_final(&w.store, at(20)));
    for (first, last) in [(5, 4), (0, 0x1_0000), (u64::MAX, u64::MAX)] {
        let e = io_port_control_issue(&mut w.store, at(IO_PORT_CONTROL), at(22), first, last);
        assert_eq!(e, Err(CapError::InvalidPortRange { first, last }));
    }
    let e = io_port_control_issue(&mut w.store, at(IRQ_CONTROL), at(22), 1, 2).unwrap_err();
    assert!(matches!(
        e,
        CapError::WrongKind {
            expected: CapKind::IoPortControl,
            ..
        }
    ));
}

#[test]
fn insert_root_refuses_occupied_slots_and_null_caps() {
    let mut w = World::new();
    assert_eq!(
        insert_root(&mut w.store, at(UT), Cap::IrqControl),
        Err(CapError::DestinationOccupied)
    );
    assert_eq!(
        insert_root(&mut w.store, at(30), Cap::Null),
        Err(CapError::SourceEmpty)
    );
}

#[test]
fn a_pml4_without_an_asid_cannot_be_copied_and_gets_one_asid_only() {
    let mut w = World::new();
    let object = w.retype(ObjectType::Pml4, 0, 10).first;
    assert_eq!(
        cnode_copy(&mut w.store, at(10), at(11), all_rights()),
        Err(CapError::VSpaceWithoutAsid)
    );
    crate::set_vspace_asid(&mut w.store, at(10), 3).unwrap();
    assert_eq!(w.cap(at(10)), Cap::Pml4 { object, asid: 3 });
    assert_eq!(
        crate::set_vspace_asid(&mut w.store, at(10), 4),
        Err(CapError::VSpaceHasAsid)
    );
    cnode_copy(&mut w.store, at(10), at(11), all_rights()).unwrap();
    assert_eq!(w.cap(at(11)), Cap::Pml4 { object, asid: 3 });
}

#[test]
fn an_asid_pool_is_made_from_an_unused_4k_untyped_and_dies_with_it() {
    let mut w = World::new();
    w.retype(ObjectType::Untyped, 13, 10);
    w.retype(ObjectType::Untyped, 12, 11);
    assert_eq!(
        crate::asid_control_make_pool(&mut w.store, at(10), at(20), 0),
        Err(CapError::NotAPoolUntyped),
        "8 KiB"
    );
    assert!(matches!(
        crate::asid_control_make_pool(&mut w.store, at(2), at(20), 0),
        Err(CapError::WrongKind { .. })
    ));
    let base = match w.cap(at(11)) {
        Cap::Untyped { base, .. } => base,
        other => panic!("{other:?}"),
    };
    let made = crate::asid_control_make_pool(&mut w.store, at(11), at(20), 512).unwrap();
    assert_eq!(made, base);
    assert_eq!(
        w.cap(at(20)),
        Cap::AsidPool {
            object: base,
            first_asid: 512
        }
    );
    assert!(crate::is_parent_of(
        w.store.slot(at(11)),
        w.store.slot(at(20))
    ));
    assert_eq!(
        crate::asid_control_make_pool(&mut w.store, at(11), at(21), 1024),
        Err(CapError::UntypedHasChildren),
        "the untyped is used up"
    );
    cnode_copy(&mut w.store, at(20), at(21), all_rights()).unwrap();
    let removed = w.revoke(at(11));
    assert_eq!(removed.iter().filter(|f| f.is_final).count(), 1);
    assert!(w.cap(at(20)).is_null() && w.cap(at(21)).is_null());
    w.store.check_links();
}
