//! The kernel keeps slots in zero-filled physical memory and reads them as `Slot`s. This
//! checks, from outside the `forbid(unsafe_code)` crate, that all-zero bytes really are the
//! empty slot, and the sizes the kernel relies on.

use kerncore::{Cap, Slot};

#[test]
fn all_zero_bytes_are_the_empty_slot() {
    // SAFETY: `Slot` is `repr(C)` made of a `repr(C, u8)` enum whose tag 0 is the field-less
    // `Cap::Null`, two `u64`s and a `u8`; all-zero bytes are a valid value of each.
    let zeroed: Slot = unsafe { core::mem::zeroed() };
    assert_eq!(zeroed, Slot::EMPTY);
    assert!(zeroed.is_empty() && zeroed.prev().is_none() && zeroed.next().is_none());
}

#[test]
fn slot_is_64_bytes_and_cap_is_40() {
    assert_eq!(core::mem::size_of::<Slot>(), 64);
    assert_eq!(core::mem::align_of::<Slot>(), 8);
    assert_eq!(core::mem::size_of::<Cap>(), 40);
}
