//! The IPC fast path (not yet taken: every call goes through the general path).

use crate::arch::trap::TrapFrame;

/// Handles the call entirely if it qualifies for the fast path; returns the frame to
/// resume if it did.
pub fn try_fastpath(_frame: &mut TrapFrame) -> Option<*mut TrapFrame> {
    None
}
