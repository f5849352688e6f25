//! The protocol between `ipcpeer` and the programs that start it (`utest`, `ipcbench`).
//!
//! The parent loads `bin/ipcpeer` with [`libsys::loader`], puts caps into the slots below,
//! and starts it with a [`mode`] as its argument (`rdi`). In [`mode::SERVER`] the peer
//! answers calls on [`SLOT_ENDPOINT`] according to their [`label`].
#![no_std]
#![warn(missing_docs)]

/// The endpoint the peer serves (receives on) or, in fault modes, reports on.
pub const SLOT_ENDPOINT: u64 = 8;
/// The endpoint the peer sends its reports to (`Send`, `NBSend` or `Call`).
pub const SLOT_REPORT: u64 = 9;
/// A notification the peer waits on (slot 10 is the debug console the loader gives).
pub const SLOT_NOTIFICATION: u64 = 12;
/// The empty slot where caps sent to the peer arrive.
pub const SLOT_RECEIVE: u64 = 13;

/// What the peer does, chosen by its start argument.
pub mod mode {
    /// Serve calls on `SLOT_ENDPOINT` by label (see [`crate::label`]).
    pub const SERVER: u64 = 0;
    /// Benchmark pong: `Recv`, then `ReplyRecv` echoing each message (same length).
    pub const PONG: u64 = 1;
    /// Like `PONG`, accepting one cap per message and deleting it before replying.
    pub const PONG_CAP: u64 = 2;
    /// Load through a null pointer in `r12`: a page fault. Reports `RESUMED` with the
    /// loaded value once the handler points `r12` somewhere readable and replies.
    pub const FAULT_NULL: u64 = 3;
    /// Execute `ud2`: an invalid-opcode fault. Reports `RESUMED` once the handler moves
    /// `rip` past it (2 bytes) and replies.
    pub const FAULT_UD2: u64 = 4;
    /// Divide 100 by `r12` = 0: a divide error. Reports `RESUMED` with the quotient once the
    /// handler sets `r12` and replies.
    pub const FAULT_DIVIDE: u64 = 5;
    /// Send `READY` to `SLOT_REPORT`, then block in `Recv` on `SLOT_ENDPOINT`; report
    /// `CANCELLED` with the error code when woken.
    pub const BLOCK_RECV: u64 = 6;
    /// Like `BLOCK_RECV`, blocking in `Send` on `SLOT_ENDPOINT`.
    pub const BLOCK_SEND: u64 = 7;
    /// Like `BLOCK_RECV`, blocking in a wait on `SLOT_NOTIFICATION`.
    pub const BLOCK_WAIT: u64 = 8;
    /// Like `BLOCK_RECV`, blocking in `Call` on `SLOT_ENDPOINT`.
    pub const BLOCK_CALL: u64 = 9;
    /// Benchmark one-way timing: `Recv`, then for each message read the time-stamp counter
    /// as soon as the call returns and `ReplyRecv` it (one word), so that the caller can
    /// time its `Call` alone (from before its system call to the receiver's return).
    pub const STAMP: u64 = 10;
    /// Like `STAMP`, accepting one cap per message: the counter is read before the cap is
    /// deleted, so the caller times the cap's transfer alone.
    pub const STAMP_CAP: u64 = 11;
}

/// Labels understood in [`mode::SERVER`], and labels of the peer's reports.
pub mod label {
    /// Reply with the same label and length, each word plus one.
    pub const ECHO: u64 = 1;
    /// Reply (length 8) with: the badge, `caps | unwrapped << 8` of the message info, the
    /// first unwrapped badge, the kind, badge and rights of the cap received in
    /// `SLOT_RECEIVE` (0s if none), and the second and third unwrapped badges; then delete
    /// the received cap.
    pub const INSPECT: u64 = 2;
    /// Reply (length 2) with the wrapping sum of all words of the message and its length.
    pub const SUM: u64 = 3;
    /// Reply (length 4) with the previous message's label, word 0, badge and length.
    pub const LAST: u64 = 4;
    /// Reply, then report on `SLOT_REPORT` with label `REPORT`, words 1..3 of the message,
    /// using `Send` (word 0 = 0), `NBSend` (1), `Call` (2), or `Call` then `Send` (3). The
    /// reply to a `Call` is remembered for `LAST`.
    pub const REPLY_THEN_SEND: u64 = 5;
    /// Reply, then wait on `SLOT_NOTIFICATION` and report the bits (label `REPORT`, `Send`).
    pub const REPLY_THEN_WAIT: u64 = 6;
    /// Reply, then exit.
    pub const EXIT: u64 = 7;
    /// Report: a fault was handled and the peer ran on (word 0: the value computed).
    pub const RESUMED: u64 = 8;
    /// Report: a blocking call ended with an error (word 0: the error code).
    pub const CANCELLED: u64 = 9;
    /// Report: about to block (modes `BLOCK_*`).
    pub const READY: u64 = 10;
    /// A report with data.
    pub const REPORT: u64 = 11;
    /// Reply label for an unknown request.
    pub const UNKNOWN: u64 = 0xbad;
}

/// The magic value the page-fault test places at [`FAULT_NULL_MAGIC_OFFSET`] of the peer's
/// IPC buffer, for the handler to point `r12` at.
pub const FAULT_NULL_MAGIC: u64 = 0x5eed_f00d;
/// Byte offset of the magic value in the peer's IPC buffer.
pub const FAULT_NULL_MAGIC_OFFSET: u64 = 8 * 100;
