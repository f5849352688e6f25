//! The IPC buffer: one 4 KiB page per thread, at an address the thread's TCB names.
//!
//! Message word `i` travels in a register for `i < 4` (`rdx`, `r8`, `r9`, `r10`) and in
//! `msg[i - 4]` otherwise, so a message holds up to 512 words (4 KiB).

/// Words of the message that live in the buffer (message words 4..512).
pub const BUFFER_WORDS: usize = 508;

/// Layout of the IPC buffer page.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IpcBuffer {
    /// Message words 4..512.
    pub msg: [u64; BUFFER_WORDS],
    /// Sending: cap pointers of the extra caps to transfer. Receiving: the badges of
    /// caps that were unwrapped (see `MessageInfo::caps_unwrapped`).
    pub caps: [u64; 3],
    /// Receiving: the cap pointer (resolved at depth 64 in the receiver's CSpace) of the
    /// empty slot where a received cap goes; 0 = accept no caps.
    pub receive_slot: u64,
}

const _: () = assert!(core::mem::size_of::<IpcBuffer>() == 4096);
