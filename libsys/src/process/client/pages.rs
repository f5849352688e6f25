//! Request pages: a hatch request too big for the IPC buffer travels in up to
//! `MAX_REQUEST_PAGES` frames this process shares for the call (`procsrv_api::RequestPages`).
//! The frames, the page tables that map them at `REQUEST_PAGES_ADDR`, a CNode of
//! 2^[`OWN_RADIX`] slots holding a copy of each, and an unguarded view of the process's
//! own CNode are made once, from the process's memory, at its first big request, and kept
//! for the next (memory a process makes is not given back before it exits).

use super::{alloc_slot, free_slot};
use crate::alloc::{Allocator, SlotAllocator, UntypedPool};
use crate::cap::{CNode, Cap, Frame, SlotPath};
use crate::object::{CNodeGuard, Rights};
use core::sync::atomic::{AtomicU64, Ordering};
use procsrv_api::{Errno, RequestPages, MAX_REQUEST_PAGES, REQUEST_PAGES_ADDR};

/// Radix of the CNode holding the pages when the request sends no caps of its own.
const OWN_RADIX: u64 = 3;
const _: () = assert!(MAX_REQUEST_PAGES <= 1 << OWN_RADIX);

/// Slots the pages take: the frames, up to 3 page tables, the CNode, the unguarded view.
const SLOTS: u64 = MAX_REQUEST_PAGES + 5;

/// The first of this process's [`SLOTS`] consecutive slots for the pages (0: not made yet).
static FIRST: AtomicU64 = AtomicU64::new(0);
/// The slot of frame 0; the others follow (the allocator hands out slots in order).
static FRAMES: AtomicU64 = AtomicU64::new(0);
/// The slot of the CNode of [`OWN_RADIX`].
static CNODE: AtomicU64 = AtomicU64::new(0);
/// The slot of the unguarded view of the process's CNode.
static UNGUARDED: AtomicU64 = AtomicU64::new(0);
/// 1 once the pages are made and mapped.
static READY: AtomicU64 = AtomicU64::new(0);

/// `n` consecutive free slots of the process's own range.
fn consecutive_slots(n: u64) -> Option<u64> {
    let first = alloc_slot()?;
    for taken in 1..n {
        match alloc_slot() {
            Some(s) if s == first + taken => {}
            other => {
                if let Some(s) = other {
                    free_slot(s);
                }
                for s in first..first + taken {
                    free_slot(s);
                }
                return None;
            }
        }
    }
    Some(first)
}

/// Makes the pages (once).
fn made() -> Result<(), Errno> {
    if READY.load(Ordering::Relaxed) != 0 {
        return Ok(());
    }
    if FIRST.load(Ordering::Relaxed) != 0 {
        // An earlier attempt failed half-way; its memory is not given back.
        return Err(Errno::ENOMEM);
    }
    let first = consecutive_slots(SLOTS).ok_or(Errno::ENOMEM)?;
    FIRST.store(first, Ordering::Relaxed);
    let mut untyped = UntypedPool::new();
    untyped.add(super::super::SLOT_MEMORY, super::super::MEMORY_BITS, false);
    let own: Cap<CNode> = Cap::from_cptr(super::super::SLOT_CNODE);
    let mut alloc = Allocator {
        cnode: own,
        slots: SlotAllocator::new(first, first + SLOTS),
        untyped,
    };
    let rw = Rights::READ.union(Rights::WRITE).bits();
    let vspace = Cap::from_cptr(crate::bootinfo::SLOT_VSPACE);
    let cnode = alloc.make_cnode(OWN_RADIX).map_err(|_| Errno::ENOMEM)?;
    let unguarded = alloc.slot().map_err(|_| Errno::ENOMEM)?;
    let guard = CNodeGuard {
        guard: 0,
        guard_bits: 0,
    };
    own.mint_guard(
        SlotPath::at(unguarded),
        SlotPath::at(super::super::SLOT_CNODE),
        guard,
    )
    .map_err(|_| Errno::ENOMEM)?;
    CNODE.store(cnode.cptr(), Ordering::Relaxed);
    UNGUARDED.store(unguarded, Ordering::Relaxed);
    for page in 0..MAX_REQUEST_PAGES {
        let frame: Cap<Frame> = alloc.make().map_err(|_| Errno::ENOMEM)?;
        if page == 0 {
            FRAMES.store(frame.cptr(), Ordering::Relaxed);
        } else if frame.cptr() != FRAMES.load(Ordering::Relaxed) + page {
            return Err(Errno::ENOMEM);
        }
    }
    // Then the page tables, in the slots left.
    for page in 0..MAX_REQUEST_PAGES {
        let frame: Cap<Frame> = Cap::from_cptr(FRAMES.load(Ordering::Relaxed) + page);
        let vaddr = REQUEST_PAGES_ADDR + page * 4096;
        crate::vspace::map_frame(&mut alloc, vspace, frame, vaddr, rw, false)
            .map_err(|_| Errno::ENOMEM)?;
        copy_frame(page, cnode, OWN_RADIX, page)?;
    }
    READY.store(1, Ordering::Relaxed);
    Ok(())
}

/// Copies frame `page` into index `index` of `cnode` (of `2^radix` slots).
fn copy_frame(page: u64, cnode: Cap<CNode>, radix: u64, index: u64) -> Result<(), Errno> {
    let root: Cap<CNode> = Cap::from_cptr(UNGUARDED.load(Ordering::Relaxed));
    let r = super::super::CNODE_RADIX;
    let dest = SlotPath {
        index: (cnode.cptr() << radix) | index,
        depth: r + radix,
    };
    let src = SlotPath {
        index: FRAMES.load(Ordering::Relaxed) + page,
        depth: r,
    };
    root.copy(dest, src, Rights::READ).map_err(|_| Errno::E2BIG)
}

/// Deletes index `index` of `cnode`.
fn clear(cnode: Cap<CNode>, radix: u64, index: u64) {
    let root: Cap<CNode> = Cap::from_cptr(UNGUARDED.load(Ordering::Relaxed));
    let path = SlotPath {
        index: (cnode.cptr() << radix) | index,
        depth: super::super::CNODE_RADIX + radix,
    };
    let _ = root.delete(path);
}

/// The request pages of one call, ready to be written.
pub(super) struct Lent {
    /// Where they are in the CNode sent.
    pub(super) pages: RequestPages,
    /// The CNode sent and its radix.
    pub(super) cnode: Cap<CNode>,
    /// Its radix.
    pub(super) radix: u64,
    /// Whether the frames were copied into the caller's CNode (deleted after the call).
    borrowed: bool,
}

impl Lent {
    /// The pages' bytes, mapped in this process.
    pub(super) fn bytes(&self) -> &'static mut [u8] {
        // SAFETY: the pages were mapped read-write at REQUEST_PAGES_ADDR by `made` and stay
        // mapped for the process's life; only this module's caller writes them, one
        // request at a time, and no other reference to them lives past a request.
        unsafe {
            core::slice::from_raw_parts_mut(
                REQUEST_PAGES_ADDR as *mut u8,
                self.pages.count as usize * 4096,
            )
        }
    }

    /// After the call: the frames leave the caller's CNode.
    pub(super) fn end(self) {
        if self.borrowed {
            for i in 0..self.pages.count {
                clear(self.cnode, self.radix, self.pages.first + i);
            }
        }
    }
}

/// Pages for `bytes` bytes: in the process's own CNode of pages when the request sends no
/// caps, else copied into the last indices of the caller's CNode (`caps`, of `2^radix`
/// slots), which must be empty.
///
/// # Errors
/// E2BIG (more than the pages hold, or no room in the caller's CNode), ENOMEM.
pub(super) fn lend(bytes: usize, caps: Option<(Cap<CNode>, u64)>) -> Result<Lent, Errno> {
    let count = bytes.div_ceil(4096) as u64;
    if count > MAX_REQUEST_PAGES {
        return Err(Errno::E2BIG);
    }
    made()?;
    match caps {
        None => Ok(Lent {
            pages: RequestPages { count, first: 0 },
            cnode: Cap::from_cptr(CNODE.load(Ordering::Relaxed)),
            radix: OWN_RADIX,
            borrowed: false,
        }),
        Some((cnode, radix)) => {
            let size = 1u64 << radix.min(procsrv_api::MAX_CAP_RADIX);
            let first = size.checked_sub(count).ok_or(Errno::E2BIG)?;
            for i in 0..count {
                if let Err(e) = copy_frame(i, cnode, radix, first + i) {
                    for j in 0..i {
                        clear(cnode, radix, first + j);
                    }
                    return Err(e);
                }
            }
            Ok(Lent {
                pages: RequestPages { count, first },
                cnode,
                radix,
                borrowed: true,
            })
        }
    }
}
