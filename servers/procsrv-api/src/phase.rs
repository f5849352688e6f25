//! The phases of a hatch that procsrv times (label [`crate::label::PHASES`]), for
//! `cargo xtask bench hatch`'s breakdown (docs/benchmarks.md, "Where a hatch goes").
//!
//! procsrv reads the time-stamp counter (`libsys::time::now`) at the boundaries of each
//! phase and adds the difference to that phase's total; under QEMU with `-icount shift=0`
//! one tick is one executed instruction. The totals cover every hatch, exit and wait since
//! the last reset, so a benchmark resets them, runs its rounds and divides by their number.
//!
//! The reply to `PHASES` is [`REPLY_WORDS`] words: word 0 the hatches since the reset, then
//! the total of each phase in [`NAMES`] order, then the total of each opcode's ops (opcode n
//! at word [`OPS_AT`] + n, for n below [`OPCODES`]).

/// What each phase covers, in reply order.
pub const NAMES: [&str; COUNT] = [
    "request: decode the hatch request, check its caps",
    "validate: the egg, the program, the record, the limits",
    "build: a new life in a warm block, or objects and program load",
    "copies: the fixed caps, the egg's queued copies and the handle (CNodeCopyBatch)",
    "file server: registering the child (calls)",
    "stack: lay out and write the initial stack",
    "start: registers and resume",
    "record and handle: insert the record, answer with the handle",
    "exit: the exit call, less destroying the objects",
    "destroy: end the life (or revoke the block's halves)",
    "wait: the wait call and its answer",
    "receive loop: delete the handle sent and the cap received (CNodeDeleteBatch)",
];
/// How many phases.
pub const COUNT: usize = 12;
/// Opcodes timed one by one (opcode n below this has its own total).
pub const OPCODES: usize = 64;
/// Word of the reply where the opcode totals start.
pub const OPS_AT: usize = 1 + COUNT;
/// Words of the reply.
pub const REPLY_WORDS: usize = OPS_AT + OPCODES;

/// Index of the `request` phase.
pub const REQUEST: usize = 0;
/// Index of the `validate` phase.
pub const VALIDATE: usize = 1;
/// Index of the `build` phase.
pub const BUILD: usize = 2;
/// Index of the `fixed caps` phase.
pub const FIXED_CAPS: usize = 3;
/// Index of the `file server` phase.
pub const FILE_SERVER: usize = 4;
/// Index of the `stack` phase.
pub const STACK: usize = 5;
/// Index of the `start` phase.
pub const START: usize = 6;
/// Index of the `record and handle` phase.
pub const HANDLE: usize = 7;
/// Index of the `exit` phase.
pub const EXIT: usize = 8;
/// Index of the `destroy` phase.
pub const DESTROY: usize = 9;
/// Index of the `wait` phase.
pub const WAIT: usize = 10;
/// Index of the `receive loop` phase.
pub const LOOP: usize = 11;
