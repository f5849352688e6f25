//! Thread control blocks.

use crate::arch::gdt;
use crate::arch::trap::TrapFrame;
use crate::mem::paging::PageTable;
use core::ptr::null_mut;

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Never started, or stopped for good.
    Inactive,
    /// Runnable or running.
    Running,
    /// Stopped by a suspend invocation or an unhandled fault; can be resumed.
    Suspended,
}

/// Longest thread name kept (for logs).
pub const NAME_LENGTH: usize = 16;

/// A thread.
pub struct Tcb {
    /// Saved user registers while not running.
    pub context: TrapFrame,
    /// Scheduling state.
    pub state: ThreadState,
    /// Priority, 0..=255.
    pub priority: u8,
    /// Address space.
    pub vspace: PageTable,
    /// Virtual address of the IPC buffer (0 = none).
    pub ipc_buffer: u64,
    /// Name for the log.
    pub name: [u8; NAME_LENGTH],
    /// Ready-queue links (owned by the scheduler).
    pub sched_next: *mut Tcb,
    /// Ready-queue links (owned by the scheduler).
    pub sched_prev: *mut Tcb,
    /// Whether the thread is in a ready queue.
    pub queued: bool,
}

impl Tcb {
    /// A new inactive thread that will start at `entry` with stack `stack` in `vspace`.
    pub fn new(name: &str, vspace: PageTable, entry: u64, stack: u64, priority: u8) -> Tcb {
        let mut n = [0u8; NAME_LENGTH];
        let len = name.len().min(NAME_LENGTH);
        n[..len].copy_from_slice(&name.as_bytes()[..len]);
        Tcb {
            context: TrapFrame {
                rip: entry,
                rsp: stack,
                cs: u64::from(gdt::USER_CS),
                ss: u64::from(gdt::USER_DS),
                rflags: 0x202,
                ..TrapFrame::default()
            },
            state: ThreadState::Inactive,
            priority,
            vspace,
            ipc_buffer: 0,
            name: n,
            sched_next: null_mut(),
            sched_prev: null_mut(),
            queued: false,
        }
    }

    /// The name as text.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LENGTH);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}
