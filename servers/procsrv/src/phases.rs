//! Where a hatch's instructions go: totals per phase ([`procsrv_api::phase`]), read with
//! the `PHASES` label. Each boundary is one read of the time-stamp counter
//! ([`libsys::time::now`], an inlined `rdtsc`), so the accounting itself costs a few
//! instructions per phase.

use procsrv_api::phase::{COUNT, OPCODES};

/// The totals since the last reset.
pub struct Phases {
    totals: [u64; COUNT],
    ops: [u64; OPCODES],
    hatches: u64,
}

// No `Default`: built once in `Server::start_with`.
#[allow(clippy::new_without_default)]
impl Phases {
    /// All zero.
    pub const fn new() -> Phases {
        Phases {
            totals: [0; COUNT],
            ops: [0; OPCODES],
            hatches: 0,
        }
    }

    /// Adds the time since `start` (a [`libsys::time::now`] value) to `phase`; returns now.
    pub fn add(&mut self, phase: usize, start: u64) -> u64 {
        let now = libsys::time::now();
        if let Some(total) = self.totals.get_mut(phase) {
            *total += now.wrapping_sub(start);
        }
        now
    }

    /// Adds `ticks` to `phase`.
    pub fn add_ticks(&mut self, phase: usize, ticks: u64) {
        if let Some(total) = self.totals.get_mut(phase) {
            *total = total.wrapping_add(ticks);
        }
    }

    /// The total of `phase` so far.
    pub fn total(&self, phase: usize) -> u64 {
        self.totals.get(phase).copied().unwrap_or(0)
    }

    /// Adds the time since `start` to the ops of `opcode`; returns now.
    pub fn add_op(&mut self, opcode: u64, start: u64) -> u64 {
        let now = libsys::time::now();
        if let Some(total) = self.ops.get_mut(opcode as usize) {
            *total += now.wrapping_sub(start);
        }
        now
    }

    /// Counts one successful hatch.
    pub fn hatched(&mut self) {
        self.hatches += 1;
    }

    /// Word `i` of the `PHASES` reply.
    pub fn word(&self, i: usize) -> u64 {
        match i {
            0 => self.hatches,
            _ if i < procsrv_api::phase::OPS_AT => self.totals[i - 1],
            _ => self
                .ops
                .get(i - procsrv_api::phase::OPS_AT)
                .copied()
                .unwrap_or(0),
        }
    }

    /// Back to zero.
    pub fn reset(&mut self) {
        *self = Phases::new();
    }
}
