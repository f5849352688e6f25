//! Untyped retype: every check, alignment, the watermark and its reset.

use libsys::abi::Error;
use libsys::object::{CapKind, ObjectType, MAX_RETYPE_COUNT};

use super::*;
use crate::{has_children, is_parent_of, Argument};

fn args(object_type: u64, size: u64, dest_offset: u64, count: u64) -> RetypeArgs {
    RetypeArgs {
        object_type,
        size,
        dest_offset,
        count,
    }
}

fn try_retype(w: &mut World, a: RetypeArgs) -> Result<Retyped, RetypeError> {
    untyped_retype(&mut w.store, at(UT), &World::root_cnode(), a)
}

#[test]
fn retype_places_objects_in_consecutive_slots_as_children_of_the_untyped() {
    let mut w = World::new();
    let made = w
        .retype_into(at(UT), &World::root_cnode(), ObjectType::Endpoint, 0, 10, 3)
        .unwrap();
    assert_eq!(
        (made.first, made.size_bits, made.count),
        (UNTYPED_BASE, 4, 3)
    );
    let objects: Vec<u64> = made.objects().collect();
    assert_eq!(
        objects,
        [UNTYPED_BASE, UNTYPED_BASE + 16, UNTYPED_BASE + 32]
    );
    for (i, object) in objects.iter().enumerate() {
        let slot = at(10 + i as u64);
        assert_eq!(
            w.cap(slot),
            Cap::Endpoint {
                object: *object,
                badge: 0,
                rights: Rights::ALL
            }
        );
        assert!(is_parent_of(w.store.slot(at(UT)), w.store.slot(slot)));
    }
    assert_eq!(w.untyped_free_index(), 48);
    // The list reads untyped, object 0, object 1, object 2.
    assert_eq!(w.store.slot(at(UT)).next(), Some(at(10)));
    assert_eq!(w.store.slot(at(10)).next(), Some(at(11)));
}

#[test]
fn retype_aligns_each_object_to_its_size() {
    let mut w = World::new();
    w.endpoint(10);
    let tcb = w.retype(ObjectType::Tcb, 0, 11);
    assert_eq!(tcb.first, UNTYPED_BASE + 2048);
    let frame = w.retype(ObjectType::Frame2M, 0, 12);
    assert_eq!(frame.first, UNTYPED_BASE + (2 << 20));
    assert_eq!(w.untyped_free_index(), 4 << 20);
}

#[test]
fn every_object_type_can_be_made_with_its_documented_size() {
    let mut w = World::new();
    let sizes: [(ObjectType, u64, u32); 12] = [
        (ObjectType::Frame2M, 0, 21),
        (ObjectType::Untyped, 10, 10),
        (ObjectType::Tcb, 0, 11),
        (ObjectType::Endpoint, 0, 4),
        (ObjectType::Notification, 0, 5),
        (ObjectType::Reply, 0, 5),
        (ObjectType::CNode, 3, 9),
        (ObjectType::Frame4K, 0, 12),
        (ObjectType::Pml4, 0, 12),
        (ObjectType::Pdpt, 0, 12),
        (ObjectType::Pd, 0, 12),
        (ObjectType::Pt, 0, 12),
    ];
    for (i, (ty, size, bits)) in sizes.into_iter().enumerate() {
        let made = w.retype(ty, size, 20 + i as u64);
        assert_eq!(made.size_bits, bits, "{}", ty.name());
        let cap = w.cap(at(20 + i as u64));
        assert_eq!(cap.region(), Some((made.first, bits)), "{}", ty.name());
    }
}

#[test]
fn retype_of_a_non_untyped_cap_is_invalid_capability() {
    let mut w = World::new();
    w.endpoint(10);
    let e = untyped_retype(
        &mut w.store,
        at(10),
        &World::root_cnode(),
        args(3, 0, 20, 1),
    );
    let e = e.unwrap_err();
    assert_eq!(
        e,
        RetypeError::NotUntyped {
            found: CapKind::Endpoint
        }
    );
    assert_eq!(
        (e.code(), e.argument()),
        (Error::InvalidCapability, Argument::Source)
    );
}

#[test]
fn unknown_object_type_is_invalid_argument() {
    let mut w = World::new();
    for value in [0, 13, u64::MAX] {
        let e = try_retype(&mut w, args(value, 0, 20, 1)).unwrap_err();
        assert_eq!(e, RetypeError::InvalidObjectType { value });
        assert_eq!(
            (e.code(), e.argument()),
            (Error::InvalidArgument, Argument::ObjectType)
        );
    }
}

#[test]
fn out_of_range_sizes_are_range_errors() {
    let mut w = World::new();
    for (ty, size) in [
        (ObjectType::Untyped, 3),
        (ObjectType::Untyped, 48),
        (ObjectType::CNode, 0),
        (ObjectType::CNode, 21),
        (ObjectType::CNode, u64::MAX),
    ] {
        let e = try_retype(&mut w, args(ty as u64, size, 20, 1)).unwrap_err();
        assert_eq!(
            e,
            RetypeError::InvalidSize {
                object_type: ty,
                size
            }
        );
        assert_eq!(
            (e.code(), e.argument()),
            (Error::RangeError, Argument::Size)
        );
    }
}

#[test]
fn count_must_be_between_one_and_the_limit() {
    let mut w = World::new();
    for count in [0, MAX_RETYPE_COUNT + 1, u64::MAX] {
        let e = try_retype(&mut w, args(3, 0, 0, count)).unwrap_err();
        assert_eq!(e, RetypeError::InvalidCount { count });
        assert_eq!(e.argument(), Argument::Count);
    }
}

#[test]
fn device_untyped_makes_only_frames_and_untyped() {
    let mut w = World::new();
    let device = Cap::Untyped {
        base: 0xfe00_0000,
        free_index: 0,
        size_bits: 22,
        device: true,
    };
    insert_root(&mut w.store, at(5), device).unwrap();
    let dev = |w: &mut World, ty: ObjectType, dest| {
        untyped_retype(
            &mut w.store,
            at(5),
            &World::root_cnode(),
            args(ty as u64, 12, dest, 1),
        )
    };
    let e = dev(&mut w, ObjectType::Tcb, 20).unwrap_err();
    assert_eq!(
        e,
        RetypeError::DeviceMemory {
            object_type: ObjectType::Tcb
        }
    );
    assert_eq!(e.code(), Error::InvalidArgument);
    let frame = dev(&mut w, ObjectType::Frame4K, 20).unwrap();
    assert!(frame.device);
    assert!(matches!(w.cap(at(20)), Cap::Frame { device: true, .. }));
    dev(&mut w, ObjectType::Untyped, 21).unwrap();
    assert!(matches!(
        w.cap(at(21)),
        Cap::Untyped {
            device: true,
            size_bits: 12,
            ..
        }
    ));
}

#[test]
fn destination_must_be_a_cnode_cap() {
    let mut w = World::new();
    let ep = Cap::Endpoint {
        object: 0x5000,
        badge: 0,
        rights: Rights::ALL,
    };
    let e = untyped_retype(&mut w.store, at(UT), &ep, args(3, 0, 0, 1)).unwrap_err();
    assert_eq!(
        e,
        RetypeError::DestinationNotCNode {
            found: CapKind::Endpoint
        }
    );
    assert_eq!(e.argument(), Argument::DestinationCNode);
}

#[test]
fn destination_range_must_fit_the_cnode() {
    let mut w = World::new();
    for (offset, count) in [(256, 1), (250, 7), (u64::MAX, 1)] {
        let e = try_retype(&mut w, args(3, 0, offset, count)).unwrap_err();
        assert_eq!(
            e,
            RetypeError::DestinationOutOfRange {
                offset,
                count,
                slots: 256
            }
        );
        assert_eq!(e.code(), Error::RangeError);
    }
    try_retype(&mut w, args(3, 0, 250, 6)).unwrap();
}

#[test]
fn an_occupied_destination_slot_is_named_and_nothing_changes() {
    let mut w = World::new();
    w.endpoint(22);
    let free = w.untyped_free_index();
    let e = try_retype(&mut w, args(3, 0, 20, 4)).unwrap_err();
    assert_eq!(e, RetypeError::DestinationOccupied { index: 22 });
    assert_eq!(e.code(), Error::DeleteFirst);
    assert_eq!(w.untyped_free_index(), free);
    assert!(w.cap(at(20)).is_null() && w.cap(at(21)).is_null());
}

#[test]
fn not_enough_memory_reports_needed_and_available() {
    let mut w = World::new();
    w.endpoint(10);
    // A 4 MiB untyped must start on a 4 MiB boundary: padding of 4 MiB - 16, then 4 MiB.
    let e = try_retype(&mut w, args(ObjectType::Untyped as u64, 22, 20, 1)).unwrap_err();
    let (mib4, used) = (4u64 << 20, 16);
    assert_eq!(
        e,
        RetypeError::NotEnoughMemory {
            needed: 2 * mib4 - used,
            available: mib4 - used
        }
    );
    assert_eq!(
        (e.code(), e.argument()),
        (Error::NotEnoughMemory, Argument::Source)
    );
    assert!(w.cap(at(20)).is_null());
}

#[test]
fn untyped_bigger_than_its_parent_is_not_enough_memory() {
    let mut w = World::new();
    let e = try_retype(&mut w, args(ObjectType::Untyped as u64, 23, 20, 1)).unwrap_err();
    assert!(matches!(e, RetypeError::NotEnoughMemory { available, .. } if available == 4 << 20));
}

#[test]
fn retype_resets_watermark_when_untyped_has_no_children() {
    let mut w = World::new();
    w.endpoint(10);
    w.retype(ObjectType::Tcb, 0, 11);
    assert_eq!(w.untyped_free_index(), 4096);
    w.delete(at(10));
    w.delete(at(11));
    // The watermark stays up until the next retype looks.
    assert_eq!(w.untyped_free_index(), 4096);
    assert_eq!(w.retype(ObjectType::Endpoint, 0, 12).first, UNTYPED_BASE);
    assert_eq!(w.untyped_free_index(), 16);
}

#[test]
fn retype_does_not_reset_while_a_child_remains() {
    let mut w = World::new();
    w.endpoint(10);
    w.endpoint(11);
    w.delete(at(10));
    assert_eq!(
        w.retype(ObjectType::Endpoint, 0, 12).first,
        UNTYPED_BASE + 32
    );
}

#[test]
fn child_untyped_allocates_inside_itself_and_blocks_parent_reset() {
    let mut w = World::new();
    w.endpoint(9);
    let child = w.retype(ObjectType::Untyped, 12, 10);
    assert_eq!(child.first, UNTYPED_BASE + 4096);
    let made = w
        .retype_into(at(10), &World::root_cnode(), ObjectType::Endpoint, 0, 11, 2)
        .unwrap();
    assert_eq!(made.first, child.first);
    assert!(is_parent_of(w.store.slot(at(10)), w.store.slot(at(11))));
    w.delete(at(9));
    w.delete(at(10));
    // Endpoints from the child untyped are still children of the boot untyped, so it
    // neither resets nor allocates below the end of the child's region.
    assert!(has_children(&w.store, at(UT)));
    assert_eq!(
        w.retype(ObjectType::Endpoint, 0, 20).first,
        child.first + 4096
    );
}

#[test]
fn an_untyped_without_children_must_be_zeroed_down_from_its_watermark() {
    let mut w = World::new();
    assert_eq!(crate::untyped_reset_needed(&w.store, at(UT)), None, "fresh");
    let ep = w.retype(ObjectType::Endpoint, 0, 10);
    assert_eq!(
        crate::untyped_reset_needed(&w.store, at(UT)),
        None,
        "it has a child"
    );
    assert!(
        !crate::untyped_lower_watermark(&mut w.store, at(UT), 0),
        "not with a child"
    );
    w.delete(at(10));
    let used = ep.first - UNTYPED_BASE + 16;
    assert_eq!(
        crate::untyped_reset_needed(&w.store, at(UT)),
        Some((UNTYPED_BASE, used))
    );
    assert!(
        !crate::untyped_lower_watermark(&mut w.store, at(UT), used + 1),
        "only lower"
    );
    assert!(crate::untyped_lower_watermark(&mut w.store, at(UT), 8));
    assert_eq!(w.untyped_free_index(), 8);
    assert!(crate::untyped_lower_watermark(&mut w.store, at(UT), 0));
    assert_eq!(
        crate::untyped_reset_needed(&w.store, at(UT)),
        None,
        "all zeroed"
    );
}
