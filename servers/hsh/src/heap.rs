//! The shell's heap: pages made from the process's own memory (`SLOT_MEMORY`, 512 KiB) and
//! mapped on demand above [`HEAP_BASE`]. procsrv builds the program itself in a 512 KiB
//! half-block that the ~290 KiB debug build nearly fills, so the heap cannot live in the
//! image; it grows here instead, up to [`HEAP_MAX`] (the rest of the memory is for the
//! CNodes of caps each hatch sends, and page tables).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{null_mut, NonNull};

use libsys::abi::Error;
use libsys::cap::{Cap, Frame, PageDirectory, PageTable, Pdpt, VSpace};
use libsys::object::{ObjectType, Rights};
use libsys::process::client::{free_slot, make_object};
use libsys::process::SLOT_VSPACE;
use linked_list_allocator::Heap;
use spin::Mutex;

/// Where the heap starts: far from the program (low), the stack and the file server's
/// I/O window (high).
const HEAP_BASE: u64 = 0x0000_5000_0000_0000;
/// Most bytes of heap.
const HEAP_MAX: u64 = 320 * 1024;
/// The heap grows by at least this much at a time.
const GROW_MIN: u64 = 16 * 1024;
const PAGE: u64 = 4096;

struct State {
    heap: Heap,
    /// Bytes mapped from `HEAP_BASE` up.
    mapped: u64,
}

struct GrowingHeap {
    state: Mutex<State>,
}

#[global_allocator]
static ALLOCATOR: GrowingHeap = GrowingHeap {
    state: Mutex::new(State {
        heap: Heap::empty(),
        mapped: 0,
    }),
};

/// Makes a 4 KiB frame and maps it at `vaddr`, with the page tables it needs.
fn map_page(vaddr: u64) -> bool {
    let vspace: Cap<VSpace> = Cap::from_cptr(SLOT_VSPACE);
    let rights = Rights::READ.union(Rights::WRITE).bits();
    let Ok(slot) = make_object(ObjectType::Frame4K, 0) else {
        return false;
    };
    let frame: Cap<Frame> = Cap::from_cptr(slot);
    if frame.map_raw(vspace, vaddr, rights).is_ok() {
        return true;
    }
    for level in [ObjectType::Pdpt, ObjectType::Pd, ObjectType::Pt] {
        let Ok(table) = make_object(level, 0) else {
            free_slot(slot);
            return false;
        };
        let mapped = match level {
            ObjectType::Pdpt => Cap::<Pdpt>::from_cptr(table).map(vspace, vaddr),
            ObjectType::Pd => Cap::<PageDirectory>::from_cptr(table).map(vspace, vaddr),
            _ => Cap::<PageTable>::from_cptr(table).map(vspace, vaddr),
        };
        match mapped {
            Ok(()) => {}
            // This level is there already: the spare table goes.
            Err(e) if e.error == Error::DeleteFirst => free_slot(table),
            Err(_) => {
                free_slot(table);
                free_slot(slot);
                return false;
            }
        }
    }
    if frame.map_raw(vspace, vaddr, rights).is_ok() {
        true
    } else {
        free_slot(slot);
        false
    }
}

/// Maps at least `need` more bytes at the heap's top; false when nothing could be mapped.
fn grow(state: &mut State, need: u64) -> bool {
    let want = need.max(GROW_MIN).div_ceil(PAGE) * PAGE;
    let mut grown = 0;
    while grown < want && state.mapped + grown < HEAP_MAX {
        if !map_page(HEAP_BASE + state.mapped + grown) {
            break;
        }
        grown += PAGE;
    }
    if grown == 0 {
        return false;
    }
    if state.heap.size() == 0 {
        // SAFETY: [HEAP_BASE, HEAP_BASE + grown) was just mapped read-write, for the heap
        // alone.
        unsafe { state.heap.init(HEAP_BASE as *mut u8, grown as usize) };
    } else {
        // SAFETY: [HEAP_BASE + mapped, + grown) was just mapped read-write, right after the
        // heap's end.
        unsafe { state.heap.extend(grown as usize) };
    }
    state.mapped += grown;
    true
}

// SAFETY: allocation and deallocation go through one lock; memory handed out is mapped
// read-write and owned by the heap until it is given back.
unsafe impl GlobalAlloc for GrowingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut state = self.state.lock();
        loop {
            if let Ok(block) = state.heap.allocate_first_fit(layout) {
                return block.as_ptr();
            }
            let need = (layout.size() + layout.align()) as u64;
            if !grow(&mut state, need) {
                return null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(block) = NonNull::new(ptr) {
            // SAFETY: the caller gives back a block this allocator handed out with `layout`.
            unsafe { self.state.lock().heap.deallocate(block, layout) };
        }
    }
}
