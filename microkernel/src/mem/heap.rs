//! The kernel heap: a fixed arena carved from boot memory, used only during boot.
//!
//! The heap never grows: objects that userspace asks for are made from untyped memory
//! that userspace holds, so a program cannot exhaust the kernel.

use linked_list_allocator::LockedHeap;

/// Size of the kernel heap.
pub const HEAP_SIZE: u64 = 256 * 1024;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Gives the heap its arena.
///
/// # Safety
/// `[start, start + size)` must be mapped, writable, unused memory that lives forever; call
/// once.
pub unsafe fn init(start: u64, size: u64) {
    // SAFETY: forwarded from the caller.
    unsafe { HEAP.lock().init(start as *mut u8, size as usize) };
}

/// Bytes in use.
pub fn used() -> usize {
    HEAP.lock().used()
}
