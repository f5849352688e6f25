//! Tests of whole operations over a test store, as the kernel would call them. Unit tests
//! of the pieces sit beside the code.

extern crate std;

use std::vec::Vec;

use libsys::object::{ObjectType, Rights};

use crate::testing::MapStore;
use crate::{
    cnode_delete, cnode_revoke, insert_root, untyped_retype, Cap, Finalise, RetypeArgs,
    RetypeError, Retyped, Revocation, SlotAddr, SlotStore, Step,
};

mod cnode_ops;
mod delete;
mod invariants;
mod properties;
mod retype;

/// Slot 0 of the root CNode.
const ROOT_CNODE: u64 = 0x10_0000;
/// The root CNode has 2^8 slots.
const ROOT_RADIX: u8 = 8;
/// Base of the boot untyped.
const UNTYPED_BASE: u64 = 0x100_0000;
/// The boot untyped is 4 MiB, enough for one 2 MiB frame.
const UNTYPED_BITS: u8 = 22;

/// Root CNode slots of the boot caps.
const UT: u64 = 0;
const ROOT_CAP: u64 = 1;
const IRQ_CONTROL: u64 = 2;
const IO_PORT_CONTROL: u64 = 3;

/// A root task's world: a root CNode holding an untyped, a cap to itself and the control
/// caps, as the kernel would set it up at boot.
struct World {
    store: MapStore,
}

impl World {
    fn new() -> World {
        let mut store = MapStore::new();
        let boot = [
            (
                UT,
                Cap::Untyped {
                    base: UNTYPED_BASE,
                    free_index: 0,
                    size_bits: UNTYPED_BITS,
                    device: false,
                },
            ),
            (ROOT_CAP, World::root_cnode()),
            (IRQ_CONTROL, Cap::IrqControl),
            (IO_PORT_CONTROL, Cap::IoPortControl),
        ];
        for (index, cap) in boot {
            insert_root(&mut store, at(index), cap).unwrap();
        }
        World { store }
    }

    fn root_cnode() -> Cap {
        Cap::CNode {
            object: ROOT_CNODE,
            guard: 0,
            radix_bits: ROOT_RADIX,
            guard_bits: 0,
        }
    }

    fn cap(&self, slot: SlotAddr) -> Cap {
        *self.store.slot(slot).cap()
    }

    /// Retypes from the untyped in root slot `ut` into root slots `dest..`, zero-filling the
    /// new objects as the kernel does.
    fn retype_into(
        &mut self,
        ut: SlotAddr,
        dest_cnode: &Cap,
        object_type: ObjectType,
        size: u64,
        dest_offset: u64,
        count: u64,
    ) -> Result<Retyped, RetypeError> {
        let args = RetypeArgs {
            object_type: object_type as u64,
            size,
            dest_offset,
            count,
        };
        let made = untyped_retype(&mut self.store, ut, dest_cnode, args)?;
        if !made.device {
            for object in made.objects() {
                self.store.zero_fill(object, 1 << made.size_bits);
            }
        }
        Ok(made)
    }

    /// Retypes one object from the boot untyped into root slot `dest`.
    fn retype(&mut self, object_type: ObjectType, size: u64, dest: u64) -> Retyped {
        self.retype_into(at(UT), &World::root_cnode(), object_type, size, dest, 1)
            .unwrap()
    }

    /// Makes an endpoint in root slot `dest` and returns its address.
    fn endpoint(&mut self, dest: u64) -> u64 {
        self.retype(ObjectType::Endpoint, 0, dest).first
    }

    /// Makes a CNode of `radix` bits in root slot `dest` and returns its cap.
    fn cnode(&mut self, radix: u64, dest: u64) -> Cap {
        self.retype(ObjectType::CNode, radix, dest);
        self.cap(at(dest))
    }

    fn delete(&mut self, slot: SlotAddr) -> Vec<Finalise> {
        let mut removed = Vec::new();
        cnode_delete(slot).finish(&mut self.store, |_, f| removed.push(f));
        removed
    }

    /// Revokes the cap in `slot` and checks what the revocation says it left zero.
    fn revoke(&mut self, slot: SlotAddr) -> Vec<Finalise> {
        let mut removed = Vec::new();
        let mut revocation = cnode_revoke(slot);
        loop {
            match revocation.step(&mut self.store) {
                Step::Finished => break,
                Step::Removed(f) => removed.push(f),
                Step::Working => {}
            }
        }
        self.check_zeroed_prefix(&revocation);
        removed
    }

    /// The memory a finished revocation reports zero from its untyped's base holds no cap
    /// and no object (only untypeds covering it may name it), inside what the untyped
    /// handed out.
    fn check_zeroed_prefix(&self, revocation: &Revocation) {
        let Some((untyped, end)) = revocation.zeroed_prefix() else {
            return;
        };
        let Cap::Untyped {
            base, free_index, ..
        } = self.cap(untyped)
        else {
            panic!(
                "zeroed prefix of {untyped:?}, which holds {:?}",
                self.cap(untyped)
            );
        };
        assert!(
            base < end && end <= base + free_index,
            "{base:#x}..{end:#x}"
        );
        for (at, slot) in self.store.full_slots() {
            assert!(
                !(base..end).contains(&at.0),
                "{:?} lives at {at:?}, in the zeroed {base:#x}..{end:#x}",
                slot.cap()
            );
            if let (Some((b, bits)), false) = (
                slot.cap().region(),
                matches!(slot.cap(), Cap::Untyped { .. }),
            ) {
                let object_end = b.saturating_add(1u64.checked_shl(bits).unwrap_or(u64::MAX));
                assert!(
                    object_end <= base || b >= end,
                    "{:?} overlaps the zeroed {base:#x}..{end:#x}",
                    slot.cap()
                );
            }
        }
    }

    fn untyped_free_index(&self) -> u64 {
        match self.cap(at(UT)) {
            Cap::Untyped { free_index, .. } => free_index,
            other => panic!("boot untyped slot holds {other:?}"),
        }
    }
}

/// Slot `index` of the root CNode.
fn at(index: u64) -> SlotAddr {
    SlotAddr(ROOT_CNODE + index * 64)
}

/// Slot `index` of the CNode `cnode`.
fn in_cnode(cnode: &Cap, index: u64) -> SlotAddr {
    match cnode {
        Cap::CNode { object, .. } => SlotAddr(object + index * 64),
        other => panic!("not a CNode: {other:?}"),
    }
}

fn all_rights() -> Rights {
    Rights::ALL
}
