//! The shell's heap: a fixed region in its own image (the lines, words, eggs and job table
//! it keeps are small; a line is at most `hshcore::shell::MAX_LINE` bytes).

use core::ptr::addr_of_mut;

use linked_list_allocator::LockedHeap;

/// Bytes of heap.
const HEAP_SIZE: usize = 128 * 1024;

/// The heap's memory.
static mut HEAP_SPACE: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hands the heap region to the allocator; called once, first thing in `main`.
pub fn init() {
    // SAFETY: `HEAP_SPACE` is used by nothing but this allocator, and `init` runs once,
    // before any allocation.
    unsafe {
        ALLOCATOR
            .lock()
            .init(addr_of_mut!(HEAP_SPACE).cast::<u8>(), HEAP_SIZE)
    };
}
