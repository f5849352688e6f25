//! fsrv's memory: a heap that grows by mapping 2 MiB frames from its untyped, and the
//! mapping of other frames (the processes' I/O windows, the boot archive) into its own
//! address space.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use fs_api::server::{FIRST_FREE_SLOT, HEAP_ADDR, SLOT_UNTYPED};
use libsys::alloc::{Allocator, SlotAllocator, UntypedPool};
use libsys::bootinfo::{SLOT_CNODE, SLOT_VSPACE};
use libsys::cap::{Cap, Frame, SlotPath};
use libsys::object::{ObjectType, Rights};
use libsys::vspace::map_frame;
use linked_list_allocator::Heap;
use spin::Mutex;

/// A 2 MiB heap step.
const LARGE_PAGE: u64 = 2 << 20;
/// The slots fsrv allocates from end here (the boot archive's frames sit above).
pub const LAST_ALLOCATED_SLOT: u64 = 4096;

/// The slots and untyped memory fsrv makes objects from.
static OBJECTS: Mutex<Option<Allocator>> = Mutex::new(None);

/// Sets up the object allocator over fsrv's untyped of `2^untyped_bits` bytes.
pub fn init(untyped_bits: u32) {
    let mut untyped = UntypedPool::new();
    untyped.add(SLOT_UNTYPED, untyped_bits, false);
    *OBJECTS.lock() = Some(Allocator {
        cnode: Cap::from_cptr(SLOT_CNODE),
        slots: SlotAllocator::new(FIRST_FREE_SLOT, LAST_ALLOCATED_SLOT),
        untyped,
    });
}

/// Runs `f` with the object allocator (`None` before [`init`]).
pub fn with_objects<T>(f: impl FnOnce(&mut Allocator) -> Option<T>) -> Option<T> {
    OBJECTS.lock().as_mut().and_then(f)
}

/// Maps the frame at `slot` (4 KiB) read-write (or read-only) at `vaddr` in fsrv.
pub fn map_page(slot: u64, vaddr: u64, writable: bool) -> bool {
    let rights = if writable {
        Rights::READ.union(Rights::WRITE)
    } else {
        Rights::READ
    };
    with_objects(|objects| {
        map_frame(
            objects,
            Cap::from_cptr(SLOT_VSPACE),
            Cap::<Frame>::from_cptr(slot),
            vaddr,
            rights.bits(),
            false,
        )
        .ok()
    })
    .is_some()
}

/// Takes a free slot.
pub fn take_slot() -> Option<u64> {
    with_objects(|objects| objects.slot().ok())
}

/// Deletes the cap in `slot` and gives the slot back.
pub fn free_slot(slot: u64) {
    with_objects(|objects| objects.free_slot(slot).ok());
}

/// Deletes whatever cap `slot` holds (a fixed slot: it stays fsrv's).
pub fn free_slot_keep(slot: u64) {
    let root: Cap<libsys::cap::CNode> = Cap::from_cptr(SLOT_CNODE);
    let _ = root.delete(SlotPath::at(slot));
}

/// Moves the cap in `from` into a fresh slot; returns it.
pub fn keep(from: u64) -> Option<u64> {
    let slot = take_slot()?;
    let root: Cap<libsys::cap::CNode> = Cap::from_cptr(SLOT_CNODE);
    if root
        .move_cap(SlotPath::at(slot), SlotPath::at(from))
        .is_err()
    {
        free_slot(slot);
        return None;
    }
    Some(slot)
}

/// The heap: a first-fit allocator over `[HEAP_ADDR, top)`, grown 2 MiB at a time.
struct GrowingHeap {
    heap: Mutex<Heap>,
}

// SAFETY: every method hands out memory only from the heap, whose pages are mapped
// read-write in this address space before `Heap` learns of them (`grow`), and the heap is
// behind a lock.
unsafe impl GlobalAlloc for GrowingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.heap.lock();
        loop {
            if let Ok(block) = heap.allocate_first_fit(layout) {
                return block.as_ptr();
            }
            if !grow(&mut heap, layout.size() as u64 + layout.align() as u64) {
                return core::ptr::null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
            unsafe { self.heap.lock().deallocate(ptr, layout) };
        }
    }
}

/// Maps enough 2 MiB frames at the heap's top for `at_least` more bytes and hands them to
/// the heap. Returns whether it grew.
fn grow(heap: &mut Heap, at_least: u64) -> bool {
    let bottom = HEAP_ADDR;
    let top = if heap.size() == 0 {
        bottom
    } else {
        heap.top() as u64
    };
    let bytes = at_least.next_multiple_of(LARGE_PAGE);
    let mut mapped = 0;
    while mapped < bytes {
        let ok = with_objects(|objects| {
            let frame = objects.retype(ObjectType::Frame2M, 0, 1).ok()?;
            let rights = Rights::READ.union(Rights::WRITE).bits();
            let vspace = Cap::from_cptr(SLOT_VSPACE);
            if map_frame(
                objects,
                vspace,
                Cap::from_cptr(frame),
                top + mapped,
                rights,
                true,
            )
            .is_err()
            {
                let _ = objects.free_slot(frame);
                return None;
            }
            Some(())
        });
        if ok.is_none() {
            break;
        }
        mapped += LARGE_PAGE;
    }
    if mapped == 0 {
        return false;
    }
    if heap.size() == 0 {
        // SAFETY: [bottom, bottom + mapped) was just mapped read-write for the heap alone.
        unsafe { heap.init(bottom as *mut u8, mapped as usize) };
    } else {
        // SAFETY: [top, top + mapped) was just mapped right after the heap's end.
        unsafe { heap.extend(mapped as usize) };
    }
    true
}

#[global_allocator]
static HEAP: GrowingHeap = GrowingHeap {
    heap: Mutex::new(Heap::empty()),
};

/// `(bytes in use, bytes mapped)` of the heap.
pub fn heap_usage() -> (u64, u64) {
    let heap = HEAP.heap.lock();
    (heap.used() as u64, heap.size() as u64)
}
