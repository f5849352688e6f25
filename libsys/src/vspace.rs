//! Mapping a frame into an address space, making the page tables it needs on the way.
//!
//! [`map_frame`] first tries the mapping; only when that fails does it make the tables
//! top-down (PDPT, PD, and for 4 KiB frames a PT) from an [`Allocator`], keeping the ones
//! the kernel accepts. A level that already exists (`DeleteFirst`) costs the spare object's
//! slot back; its memory stays with the untyped until that is revoked.

use crate::abi::Error;
use crate::alloc::{AllocError, Allocator};
use crate::cap::{Cap, Frame, InvocationError, PageDirectory, PageTable, Pdpt, VSpace};
use crate::object::ObjectType;

/// Why a mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No memory or slot for a page table.
    Alloc(AllocError),
    /// The kernel refused the frame or a table.
    Kernel(InvocationError),
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::Alloc(e) => write!(f, "{e}"),
            MapError::Kernel(e) => write!(f, "{e}"),
        }
    }
}

/// Maps `frame` at `vaddr` in `vspace` with the `FrameMap` rights word `rights`; `large`
/// says the frame is 2 MiB (mapped in a page directory, no page table).
///
/// # Errors
/// [`MapError`]: no memory for a table, or the kernel's refusal of the frame mapping.
pub fn map_frame(
    alloc: &mut Allocator,
    vspace: Cap<VSpace>,
    frame: Cap<Frame>,
    vaddr: u64,
    rights: u64,
    large: bool,
) -> Result<(), MapError> {
    if frame.map_raw(vspace, vaddr, rights).is_ok() {
        return Ok(());
    }
    let levels: &[ObjectType] = if large {
        &[ObjectType::Pdpt, ObjectType::Pd]
    } else {
        &[ObjectType::Pdpt, ObjectType::Pd, ObjectType::Pt]
    };
    for &level in levels {
        let table = alloc.retype(level, 0, 1).map_err(MapError::Alloc)?;
        let mapped = match level {
            ObjectType::Pdpt => Cap::<Pdpt>::from_cptr(table).map(vspace, vaddr),
            ObjectType::Pd => Cap::<PageDirectory>::from_cptr(table).map(vspace, vaddr),
            _ => Cap::<PageTable>::from_cptr(table).map(vspace, vaddr),
        };
        match mapped {
            Ok(()) => {}
            Err(e) if e.error == Error::DeleteFirst => {
                let _ = alloc.free_slot(table);
            }
            Err(e) => {
                let _ = alloc.free_slot(table);
                return Err(MapError::Kernel(e));
            }
        }
    }
    frame
        .map_raw(vspace, vaddr, rights)
        .map_err(MapError::Kernel)
}
