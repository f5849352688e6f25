//! Address spaces: PML4 roots, page tables and frames.
//!
//! A VSpace is a PML4 object whose upper half is the kernel's. Userspace builds the lower
//! half itself: `PageTableMap` installs a PDPT, PD or PT object at the level its type
//! implies, and `FrameMap` installs a frame (a 4 KiB frame in a PT, a 2 MiB frame in a PD).
//! Each frame or table cap records its one mapping, so unmapping (or deleting the cap)
//! removes exactly that entry. A mapping names its address space by ASID (`asid.rs`), which
//! stops naming anything when the address space is destroyed, so a cap whose VSpace is gone
//! never makes the kernel touch freed memory. A PML4 needs an ASID before anything is mapped
//! in it.

use super::{lookup, Args, InvocationError, InvocationResult, KernelSlots, Output};
use crate::mem::paging::{
    index, next_table, walk, PageTable, ADDRESS_MASK, HUGE, NO_EXECUTE, PRESENT, USER, WRITABLE,
};
use crate::mem::WordPage;
use crate::thread::TcbPtr;
use crate::uaccess::USER_END;
use kerncore::{Cap, FrameSize, Mapping, SlotAddr};
use libsys::abi::{Error, Label};
use libsys::object::Rights;

/// Prepares a fresh PML4 object: shares the kernel half.
pub fn init_vspace(pml4: u64) {
    PageTable { pml4 }.share_kernel_half(&crate::kmem::kernel_table());
}

/// A VSpace's last cap is gone: its ASID names nothing from now on, and every table that
/// was mapped in it is emptied.
pub fn destroy_vspace(pml4: u64, asid: u64) {
    let mut teardown = begin_destroy(pml4, asid);
    while !teardown.step() {}
}

/// Starts destroying an address space whose last cap is gone: releases its ASID and stops
/// using it; the returned [`Teardown`] then empties its tables in bounded steps.
pub fn begin_destroy(pml4: u64, asid: u64) -> Teardown {
    if asid != 0 {
        super::asid::release(asid, pml4);
    }
    Teardown::new(pml4)
}

/// Emptying an address space's tables and unhooking them, in bounded steps (the tables are
/// separate objects whose caps may map them elsewhere later; their old entries must not
/// come along). A step empties one page table, or finishes one page directory or PDPT (at
/// most about a thousand entries); the total is bounded by the tables userspace made. The
/// address space is not loaded in any CPU from the start.
#[derive(Clone, Copy)]
pub struct Teardown {
    pml4: u64,
    /// Cursor: PML4, PDPT and page-directory entry next looked at.
    i4: usize,
    i3: usize,
    i2: usize,
}

impl Teardown {
    /// Starts emptying the address space at `pml4` (no longer loaded from here on).
    pub fn new(pml4: u64) -> Teardown {
        // Stop using it before any of its tables change, let alone its memory is reused.
        if crate::mem::paging::PageTable::current_pml4() == pml4 {
            // SAFETY: the kernel table maps the kernel like every address space does.
            unsafe { crate::kmem::kernel_table().activate() };
        }
        Teardown {
            pml4,
            i4: 0,
            i3: 0,
            i2: 0,
        }
    }

    /// Does one bounded part of the work; true when all is done.
    pub fn step(&mut self) -> bool {
        // SAFETY: the PML4 of a VSpace whose last cap is being deleted (still allocated:
        // its memory returns only when its untyped is retyped again), and the tables its
        // entries point at.
        let table = |phys: u64| unsafe { WordPage::at(phys) };
        let pml4 = table(self.pml4);
        while self.i4 < 256 {
            let Some(pdpt) = next_table(pml4.get(self.i4)).map(table) else {
                pml4.set(self.i4, 0);
                self.i4 += 1;
                continue;
            };
            while self.i3 < 512 {
                let Some(pd) = next_table(pdpt.get(self.i3)).map(table) else {
                    self.i3 += 1;
                    continue;
                };
                while self.i2 < 512 {
                    let pt = next_table(pd.get(self.i2)).map(table);
                    self.i2 += 1;
                    if let Some(pt) = pt {
                        pt.clear();
                        return false;
                    }
                }
                pd.clear();
                self.i2 = 0;
                self.i3 += 1;
                return false;
            }
            pdpt.clear();
            pml4.set(self.i4, 0);
            self.i3 = 0;
            self.i4 += 1;
            return false;
        }
        true
    }
}

/// The table at `level` covering `vaddr` (4 = the PML4) in the live address space at
/// `pml4`, if the tables above it are mapped.
fn table_at(pml4: u64, vaddr: u64, level: u32) -> Option<WordPage> {
    walk(pml4, vaddr, level, |table, i, _| {
        next_table(table.get(i)).ok_or(())
    })
    .ok()
}

fn flush(pml4: u64, vaddr: u64) {
    let current = crate::mem::paging::PageTable::current_pml4();
    if current == pml4 {
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(vaddr));
    }
}

/// Removes the entry at `level` for `vaddr` if it still points at `object`. A table is also
/// emptied (as seL4 does) — always, even when it is no longer reachable from the address
/// space (its parent was unmapped, or the address space is gone): its entries may name
/// frames that are deleted meanwhile, and must never be reachable again.
fn clear_entry(asid: u64, vaddr: u64, level: u32, object: u64, is_table: bool) {
    if is_table {
        // SAFETY: a page-table object whose (last) cap is being unmapped or deleted: still
        // allocated, and kept as a table.
        unsafe { WordPage::at(object) }.clear();
    }
    let pml4 = super::asid::pml4_of(asid);
    if pml4 == 0 {
        return;
    }
    if let Some(table) = table_at(pml4, vaddr, level) {
        let i = index(vaddr, level);
        let e = table.get(i);
        if e & PRESENT != 0 && e & ADDRESS_MASK == object {
            table.set(i, 0);
        }
    }
    if is_table {
        flush_all(pml4);
    } else {
        flush(pml4, vaddr);
    }
}

fn flush_all(pml4: u64) {
    let current = crate::mem::paging::PageTable::current_pml4();
    if current == pml4 {
        x86_64::instructions::tlb::flush_all();
    }
}

/// Level at which a cap of this kind is installed, and its alignment.
fn placement(cap: &Cap) -> Option<(u32, u64)> {
    match cap {
        Cap::Frame {
            size: FrameSize::Small,
            ..
        } => Some((1, 1 << 12)),
        Cap::Frame {
            size: FrameSize::Large,
            ..
        } => Some((2, 1 << 21)),
        Cap::Pt { .. } => Some((2, 1 << 21)),
        Cap::Pd { .. } => Some((3, 1 << 30)),
        Cap::Pdpt { .. } => Some((4, 1 << 39)),
        _ => None,
    }
}

/// Undoes the mapping recorded in a frame or table cap (being unmapped or deleted).
pub fn unmap_deleted(cap: &Cap) {
    if let (Some(m), Some((level, _))) = (cap.mapping(), placement(cap)) {
        let object = cap.region().map(|(o, _)| o).unwrap_or(0);
        clear_entry(
            m.vspace,
            m.vaddr,
            level,
            object,
            !matches!(cap, Cap::Frame { .. }),
        );
    }
}

/// Dispatches frame and page-table invocations.
pub fn invoke(
    caller: TcbPtr,
    slot: SlotAddr,
    cap: Cap,
    label: Label,
    args: &Args,
) -> InvocationResult {
    match (label, cap) {
        (Label::FrameGetAddress, Cap::Frame { object, .. }) => Ok(Output::words(&[object])),
        (Label::FrameMap, Cap::Frame { .. }) => map(caller, slot, cap, label, args),
        (Label::PageTableMap, Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. }) => {
            only_cap(slot)?;
            map(caller, slot, cap, label, args)
        }
        (Label::PageTableUnmap, Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. }) => {
            only_cap(slot)?;
            unmap_deleted(&cap);
            // Cannot fail: the cap is a table cap.
            let _ = kerncore::set_mapping(&mut KernelSlots, slot, None);
            Ok(Output::empty())
        }
        (Label::FrameUnmap, Cap::Frame { .. }) => {
            unmap_deleted(&cap);
            // Cannot fail: the cap is a frame or table cap.
            let _ = kerncore::set_mapping(&mut KernelSlots, slot, None);
            Ok(Output::empty())
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// A table has one mapping, recorded in every cap to it: it may change only while exactly
/// one cap exists, so that the last cap's record is always the table's real mapping.
fn only_cap(slot: SlotAddr) -> Result<(), InvocationError> {
    if kerncore::is_final(&KernelSlots, slot) {
        Ok(())
    } else {
        Err(InvocationError::cap(Error::RevokeFirst))
    }
}

/// FrameMap(vspace, vaddr, rights) / PageTableMap(vspace, vaddr).
fn map(caller: TcbPtr, slot: SlotAddr, cap: Cap, label: Label, args: &Args) -> InvocationResult {
    let plan = decode_map(caller, cap, label, args)?;
    apply_map(slot, &plan);
    Ok(Output::empty())
}

/// A checked `FrameMap` or `PageTableMap`: everything `apply_map` needs, which cannot fail.
struct MapPlan {
    /// The page-table page that gets the entry, and the entry's index in it.
    table: WordPage,
    index: usize,
    /// The entry: the object's address and the flags.
    entry: u64,
    /// The object is a page table (installed empty).
    is_table: bool,
    /// The object's address.
    object: u64,
    /// What the cap records.
    mapping: Mapping,
}

/// Checks a `FrameMap(vspace, vaddr, rights)` or `PageTableMap(vspace, vaddr)` of `cap`
/// without changing anything.
fn decode_map(
    caller: TcbPtr,
    cap: Cap,
    label: Label,
    args: &Args,
) -> Result<MapPlan, InvocationError> {
    let (vspace, vaddr) = (args.get(0)?, args.get(1)?);
    let (_, vcap) = lookup(caller, vspace).map_err(|e| super::lookup_error(e, 0))?;
    // The address space needs its ASID (assigned, and its pool still there).
    let Cap::Pml4 { object: pml4, asid } = vcap else {
        return Err(InvocationError::new(Error::InvalidCapability, 0));
    };
    if asid == 0 || super::asid::pml4_of(asid) != pml4 {
        return Err(InvocationError::new(Error::InvalidCapability, 0));
    }
    // A cap mapped in an address space that is gone counts as unmapped.
    if cap
        .mapping()
        .is_some_and(|m| super::asid::pml4_of(m.vspace) != 0)
    {
        return Err(InvocationError::cap(Error::RevokeFirst));
    }
    let Some((level, align)) = placement(&cap) else {
        return Err(InvocationError::cap(Error::IllegalOperation));
    };
    // A table covers an aligned region: any address inside it names it (as in seL4).
    // A frame must be mapped at an address aligned to its size.
    let vaddr = if label == Label::PageTableMap {
        vaddr & !(align - 1)
    } else {
        vaddr
    };
    if vaddr % align != 0 {
        return Err(InvocationError::new(Error::AlignmentError, 1));
    }
    if vaddr >= USER_END {
        return Err(InvocationError::new(Error::InvalidArgument, 1));
    }
    let flags = match cap {
        Cap::Frame { rights, .. } if label == Label::FrameMap => {
            frame_flags(rights, args.get(2)?, level)?
        }
        Cap::Frame { .. } => return Err(InvocationError::cap(Error::IllegalOperation)),
        _ => PRESENT | USER | WRITABLE,
    };
    let table = table_at(pml4, vaddr, level).ok_or(InvocationError::new(Error::FailedLookup, 1))?;
    let index = index(vaddr, level);
    if table.get(index) & PRESENT != 0 {
        return Err(InvocationError::new(Error::DeleteFirst, 1));
    }
    let object = cap.region().map(|(o, _)| o).unwrap_or(0);
    Ok(MapPlan {
        table,
        index,
        entry: object | flags,
        is_table: label == Label::PageTableMap,
        object,
        mapping: Mapping {
            vspace: asid,
            vaddr,
        },
    })
}

/// The entry flags of a frame mapping asked for by the `rights` word (`READ` required,
/// `WRITE`, `MAP_EXECUTABLE`), within what the cap allows.
fn frame_flags(cap_rights: Rights, word: u64, level: u32) -> Result<u64, InvocationError> {
    let executable = word & libsys::abi::MAP_EXECUTABLE != 0;
    let asked = Rights::from_bits(word & !libsys::abi::MAP_EXECUTABLE)
        .ok_or(InvocationError::new(Error::InvalidArgument, 2))?;
    if !asked.contains(Rights::READ) {
        return Err(InvocationError::new(Error::InvalidArgument, 2));
    }
    if !cap_rights.contains(asked) {
        return Err(InvocationError::new(Error::InsufficientRights, 2));
    }
    let mut flags = PRESENT | USER;
    if asked.contains(Rights::WRITE) {
        flags |= WRITABLE;
    }
    if !executable {
        flags |= NO_EXECUTE;
    }
    if level == 2 {
        flags |= HUGE;
    }
    Ok(flags)
}

/// Performs a checked mapping; cannot fail.
fn apply_map(slot: SlotAddr, plan: &MapPlan) {
    if plan.is_table {
        // A table goes in empty, whatever it held while it was detached.
        // SAFETY: the cap names a page-table object (checked in `decode_map`).
        unsafe { WordPage::at(plan.object) }.clear();
    }
    plan.table.set(plan.index, plan.entry);
    // Cannot fail: the cap is a frame or table cap.
    let _ = kerncore::set_mapping(&mut KernelSlots, slot, Some(plan.mapping));
}
