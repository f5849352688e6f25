//! CNode invocations that place caps: copy, mint, move, mutate; and the kernel-side ways
//! caps come into being without a source cap (boot roots) or from a control cap (IRQ
//! handlers, I/O ports).
//!
//! Each function validates everything first and returns a [`CapError`] without touching
//! the store, or performs the whole operation; none can fail halfway. Slot arguments are
//! slots the kernel found with [`crate::cspace`]; every other argument may be any value a
//! user passed.
//!
//! # Derivation rules (what copy and mint may produce)
//!
//! | source cap               | copy / mint                                                  |
//! |--------------------------|--------------------------------------------------------------|
//! | empty (or zombie)        | `SourceEmpty`                                                |
//! | IRQ / I/O port control   | `NotDerivable` (they can be moved)                           |
//! | untyped                  | only without children (`UntypedHasChildren`); the source's watermark is set to full, so only the copy hands out memory until the copy is gone |
//! | endpoint, notification   | rights masked; mint may badge an unbadged cap (`AlreadyBadged` otherwise) |
//! | CNode                    | mint sets the guard from the data word ([`CNodeGuard`])      |
//! | frame                    | rights masked; the copy is unmapped                          |
//! | PDPT, PD, PT             | only when mapped (`PageTableNotMapped`): a table has one mapping, held by all its caps |
//! | reply                    | grant kept only if the mask has `GRANT`                      |
//! | TCB, PML4, IRQ handler, I/O port | unchanged                                            |
//!
//! A non-zero data word for a cap that carries no badge or guard is `DataNotApplicable`.

use libsys::object::{CNodeGuard, CapKind, Rights, ASID_POOL_SIZE_BITS};

use crate::cap::{Cap, Mapping, PhysAddr};
use crate::cdt::{derived_is_revocable, has_children};
use crate::error::{Argument, CapError};
use crate::slot::{self, SlotAddr, SlotStore};

/// Copies the cap in `src` to the empty slot `dest`, keeping only the rights in `rights`.
///
/// # Returns
/// `Ok(())` when the copy is in place (as a child of `src` if `src` is revocable, else as
/// its sibling); a [`CapError`] naming the bad argument otherwise (see the module table).
pub fn cnode_copy<S: SlotStore + ?Sized>(
    store: &mut S,
    src: SlotAddr,
    dest: SlotAddr,
    rights: Rights,
) -> Result<(), CapError> {
    let derived = check_derivation(store, src, dest, rights, None)?;
    commit_derivation(store, src, dest, derived);
    Ok(())
}

/// Like [`cnode_copy`], and also applies `data`: the badge of an endpoint or notification
/// cap (0 keeps the current badge; an already badged cap cannot get a new one), or the guard
/// word of a CNode cap ([`CNodeGuard`], always applied).
pub fn cnode_mint<S: SlotStore + ?Sized>(
    store: &mut S,
    src: SlotAddr,
    dest: SlotAddr,
    rights: Rights,
    data: u64,
) -> Result<(), CapError> {
    let derived = check_derivation(store, src, dest, rights, Some(data))?;
    commit_derivation(store, src, dest, derived);
    Ok(())
}

/// Moves the cap in `src` to the empty slot `dest`. Its place in the derivation tree, its
/// badge and its rights do not change.
pub fn cnode_move<S: SlotStore + ?Sized>(
    store: &mut S,
    src: SlotAddr,
    dest: SlotAddr,
) -> Result<(), CapError> {
    check_source_and_destination(store, src, dest)?;
    slot::transfer(store, src, dest);
    Ok(())
}

/// Moves the cap in `src` to the empty slot `dest`, setting the guard of a CNode cap from
/// `data`. For every other cap `data` must be 0 (badges are only set by minting, so the
/// derivation tree never has to change shape under a moved cap).
pub fn cnode_mutate<S: SlotStore + ?Sized>(
    store: &mut S,
    src: SlotAddr,
    dest: SlotAddr,
    data: u64,
) -> Result<(), CapError> {
    let cap = check_source_and_destination(store, src, dest)?;
    let mutated = match cap {
        Cap::CNode { .. } => with_guard(cap, data)?,
        _ if data == 0 => cap,
        _ => return Err(CapError::DataNotApplicable { kind: cap.kind() }),
    };
    slot::transfer(store, src, dest);
    slot::set_cap(store, dest, mutated);
    Ok(())
}

/// Records where the frame or page-table cap at `at` is mapped (`Some`) or that it was
/// unmapped (`None`). The kernel calls this after changing the page tables; whether the
/// mapping is allowed (rights, alignment, the cap being unmapped before) is its decision.
pub fn set_mapping<S: SlotStore + ?Sized>(
    store: &mut S,
    at: SlotAddr,
    mapping: Option<Mapping>,
) -> Result<(), CapError> {
    let (vspace, vaddr) = mapping.map_or((0, 0), |m| (m.vspace, m.vaddr));
    let mut cap = *store.slot(at).cap();
    match &mut cap {
        Cap::Frame {
            mapped_vspace,
            mapped_vaddr,
            ..
        }
        | Cap::Pdpt {
            mapped_vspace,
            mapped_vaddr,
            ..
        }
        | Cap::Pd {
            mapped_vspace,
            mapped_vaddr,
            ..
        }
        | Cap::Pt {
            mapped_vspace,
            mapped_vaddr,
            ..
        } => {
            *mapped_vspace = vspace;
            *mapped_vaddr = vaddr;
        }
        other => {
            return Err(CapError::WrongKind {
                argument: Argument::Source,
                expected: CapKind::Frame,
                found: other.kind(),
            })
        }
    }
    slot::set_cap(store, at, cap);
    Ok(())
}

/// Boot only: places `cap` in the empty slot `dest` as the root of its own derivation tree
/// (no parent; revocable). The kernel uses this for the caps it gives the root task: the
/// root CNode, TCB and VSpace, the untyped regions, the IRQ and I/O port control caps and
/// the boot frames. Untyped roots should be aligned to their size and must not start at
/// physical address 0.
pub fn insert_root<S: SlotStore + ?Sized>(
    store: &mut S,
    dest: SlotAddr,
    cap: Cap,
) -> Result<(), CapError> {
    if !store.slot(dest).is_empty() {
        return Err(CapError::DestinationOccupied);
    }
    if matches!(cap, Cap::Null | Cap::Zombie { .. }) {
        return Err(CapError::SourceEmpty);
    }
    slot::insert_unlinked(store, dest, cap);
    Ok(())
}

/// Issues a cap to handle interrupt line `irq` from the IRQ control cap in `control` into
/// the empty slot `dest`, as a child of the control cap.
///
/// `irq_count` is the number of lines the machine has. The kernel must also check that no
/// handler cap for `irq` exists yet (it keeps that table) and clear it when the handler's
/// final cap is deleted.
pub fn irq_control_get<S: SlotStore + ?Sized>(
    store: &mut S,
    control: SlotAddr,
    dest: SlotAddr,
    irq: u64,
    irq_count: u32,
) -> Result<(), CapError> {
    check_control(store, control, dest, Cap::IrqControl)?;
    let irq = match u32::try_from(irq) {
        Ok(irq) if irq < irq_count => irq,
        _ => return Err(CapError::InvalidIrq { irq }),
    };
    slot::insert_after(store, control, dest, Cap::IrqHandler { irq }, true);
    Ok(())
}

/// Issues a cap for the I/O ports `first..=last` from the I/O port control cap in
/// `control` into the empty slot `dest`, as a child of the control cap.
///
/// The kernel must also check that the range overlaps no issued range (it keeps that
/// bitmap) and release it when the range's final cap is deleted.
pub fn io_port_control_issue<S: SlotStore + ?Sized>(
    store: &mut S,
    control: SlotAddr,
    dest: SlotAddr,
    first: u64,
    last: u64,
) -> Result<(), CapError> {
    check_control(store, control, dest, Cap::IoPortControl)?;
    let (first, last) = match (u16::try_from(first), u16::try_from(last)) {
        (Ok(f), Ok(l)) if f <= l => (f, l),
        _ => return Err(CapError::InvalidPortRange { first, last }),
    };
    slot::insert_after(store, control, dest, Cap::IoPort { first, last }, true);
    Ok(())
}

/// Turns the unused 4 KiB untyped in `untyped` into an ASID pool for ASIDs
/// `first_asid..`, with its cap in the empty slot `dest` as the untyped's child (so that
/// revoking the untyped destroys the pool). Returns the pool's address; the kernel zeroes
/// it and records it in its table of pools (which chose `first_asid`).
pub fn asid_control_make_pool<S: SlotStore + ?Sized>(
    store: &mut S,
    untyped: SlotAddr,
    dest: SlotAddr,
    first_asid: u64,
) -> Result<PhysAddr, CapError> {
    let found = *store.slot(untyped).cap();
    let Cap::Untyped {
        base,
        size_bits,
        device,
        ..
    } = found
    else {
        return Err(CapError::WrongKind {
            argument: Argument::Source,
            expected: CapKind::Untyped,
            found: found.kind(),
        });
    };
    if u32::from(size_bits) != ASID_POOL_SIZE_BITS || device {
        return Err(CapError::NotAPoolUntyped);
    }
    if has_children(store, untyped) {
        return Err(CapError::UntypedHasChildren);
    }
    if !store.slot(dest).is_empty() {
        return Err(CapError::DestinationOccupied);
    }
    slot::set_cap(
        store,
        untyped,
        Cap::Untyped {
            base,
            free_index: 1 << ASID_POOL_SIZE_BITS,
            size_bits,
            device,
        },
    );
    let pool = Cap::AsidPool {
        object: base,
        first_asid,
    };
    slot::insert_after(store, untyped, dest, pool, true);
    Ok(base)
}

/// Records `asid` in the PML4 cap in `vspace`, which must have none yet (and so is the only
/// cap to its PML4).
pub fn set_vspace_asid<S: SlotStore + ?Sized>(
    store: &mut S,
    vspace: SlotAddr,
    asid: u64,
) -> Result<(), CapError> {
    match *store.slot(vspace).cap() {
        Cap::Pml4 { object, asid: 0 } => {
            slot::set_cap(store, vspace, Cap::Pml4 { object, asid });
            Ok(())
        }
        Cap::Pml4 { .. } => Err(CapError::VSpaceHasAsid),
        other => Err(CapError::WrongKind {
            argument: Argument::Source,
            expected: CapKind::Pml4,
            found: other.kind(),
        }),
    }
}

/// Checks that `src` holds a user-visible cap and `dest` is empty; returns the source cap.
fn check_source_and_destination<S: SlotStore + ?Sized>(
    store: &S,
    src: SlotAddr,
    dest: SlotAddr,
) -> Result<Cap, CapError> {
    let cap = *store.slot(src).cap();
    if matches!(cap, Cap::Null | Cap::Zombie { .. }) {
        return Err(CapError::SourceEmpty);
    }
    if !store.slot(dest).is_empty() {
        return Err(CapError::DestinationOccupied);
    }
    Ok(cap)
}

/// Checks that `control` holds `expected` and `dest` is empty.
fn check_control<S: SlotStore + ?Sized>(
    store: &S,
    control: SlotAddr,
    dest: SlotAddr,
    expected: Cap,
) -> Result<(), CapError> {
    let found = *store.slot(control).cap();
    if found != expected {
        return Err(CapError::WrongKind {
            argument: Argument::Source,
            expected: expected.kind(),
            found: found.kind(),
        });
    }
    if !store.slot(dest).is_empty() {
        return Err(CapError::DestinationOccupied);
    }
    Ok(())
}

/// Decides what deriving from `src` gives, without changing anything.
fn check_derivation<S: SlotStore + ?Sized>(
    store: &S,
    src: SlotAddr,
    dest: SlotAddr,
    mask: Rights,
    data: Option<u64>,
) -> Result<Cap, CapError> {
    let cap = check_source_and_destination(store, src, dest)?;
    let no_data = |cap: Cap| match data {
        Some(d) if d != 0 => Err(CapError::DataNotApplicable { kind: cap.kind() }),
        _ => Ok(cap),
    };
    match cap {
        Cap::Null | Cap::Zombie { .. } => Err(CapError::SourceEmpty),
        Cap::IrqControl | Cap::IoPortControl | Cap::AsidControl => {
            Err(CapError::NotDerivable { kind: cap.kind() })
        }
        Cap::Pml4 { asid: 0, .. } => Err(CapError::VSpaceWithoutAsid),
        Cap::Untyped { .. } if has_children(store, src) => Err(CapError::UntypedHasChildren),
        Cap::Endpoint {
            object,
            badge,
            rights,
        } => {
            let badge = new_badge(badge, data)?;
            Ok(Cap::Endpoint {
                object,
                badge,
                rights: rights.intersection(mask),
            })
        }
        Cap::Notification {
            object,
            badge,
            rights,
        } => {
            let badge = new_badge(badge, data)?;
            Ok(Cap::Notification {
                object,
                badge,
                rights: rights.intersection(mask),
            })
        }
        Cap::CNode { .. } => match data {
            Some(word) => with_guard(cap, word),
            None => Ok(cap),
        },
        Cap::Reply { object, can_grant } => no_data(Cap::Reply {
            object,
            can_grant: can_grant && mask.contains(Rights::GRANT),
        }),
        Cap::Frame {
            object,
            size,
            rights,
            device,
            ..
        } => no_data(Cap::Frame {
            object,
            mapped_vspace: 0,
            mapped_vaddr: 0,
            size,
            rights: rights.intersection(mask),
            device,
        }),
        Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. } if cap.mapping().is_none() => {
            Err(CapError::PageTableNotMapped)
        }
        Cap::Untyped { .. }
        | Cap::Tcb { .. }
        | Cap::Pml4 { .. }
        | Cap::Pdpt { .. }
        | Cap::Pd { .. }
        | Cap::Pt { .. }
        | Cap::IrqHandler { .. }
        | Cap::IoPort { .. }
        | Cap::AsidPool { .. }
        | Cap::DebugConsole => no_data(cap),
    }
}

/// Inserts a checked derivation after its source. Copying an untyped fills the source's
/// watermark, so the source cannot hand out memory the copy may also hand out.
fn commit_derivation<S: SlotStore + ?Sized>(
    store: &mut S,
    src: SlotAddr,
    dest: SlotAddr,
    derived: Cap,
) {
    let src_cap = *store.slot(src).cap();
    if let Cap::Untyped {
        base,
        size_bits,
        device,
        ..
    } = src_cap
    {
        let full = 1u64.checked_shl(size_bits as u32).unwrap_or(u64::MAX);
        slot::set_cap(
            store,
            src,
            Cap::Untyped {
                base,
                free_index: full,
                size_bits,
                device,
            },
        );
    }
    let revocable = derived_is_revocable(&derived, &src_cap);
    slot::insert_after(store, src, dest, derived, revocable);
}

/// The badge a derivation gets: a mint's non-zero data badges an unbadged cap.
fn new_badge(current: u64, data: Option<u64>) -> Result<u64, CapError> {
    match data {
        Some(d) if d != 0 && current != 0 => Err(CapError::AlreadyBadged { badge: current }),
        Some(d) if d != 0 => Ok(d),
        _ => Ok(current),
    }
}

/// The CNode cap `cap` with the guard in `word`, if it fits.
fn with_guard(cap: Cap, word: u64) -> Result<Cap, CapError> {
    let Cap::CNode {
        object, radix_bits, ..
    } = cap
    else {
        return Err(CapError::DataNotApplicable { kind: cap.kind() });
    };
    let CNodeGuard { guard, guard_bits } = CNodeGuard::from_word(word);
    let fits = guard_bits + radix_bits as u32 <= 64 && guard.checked_shr(guard_bits) == Some(0);
    if !fits {
        return Err(CapError::InvalidGuard { guard, guard_bits });
    }
    Ok(Cap::CNode {
        object,
        guard,
        radix_bits,
        guard_bits: guard_bits as u8,
    })
}
