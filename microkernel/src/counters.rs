//! Event counters for `cargo xtask bench hatch` (docs/benchmarks.md, "Counters"): kernel
//! entries, IPC messages, bytes the kernel copied for them, and bytes it zeroed. Only the
//! benchmark's counted boot turns them on (cargo feature `counters` of this crate); in
//! every other build each function below is empty and inlined, so no instruction is left
//! of it, and `DebugConsoleCounters` is an illegal operation.

#[cfg(feature = "counters")]
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// `[entries, messages, bytes copied, bytes zeroed]` since boot.
#[cfg(feature = "counters")]
static COUNTS: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

#[cfg(feature = "counters")]
#[inline(always)]
fn add(which: usize, n: u64) {
    COUNTS[which].fetch_add(n, Relaxed);
}

/// One kernel entry: a system call, an exception or an interrupt.
#[inline(always)]
pub fn entry() {
    #[cfg(feature = "counters")]
    add(0, 1);
}

/// One IPC message delivered, of `words` message words (the kernel copies each one, from
/// registers or from the sender's IPC buffer).
#[inline(always)]
pub fn message(words: u64) {
    #[cfg(feature = "counters")]
    {
        add(1, 1);
        add(2, words * 8);
    }
    #[cfg(not(feature = "counters"))]
    let _ = words;
}

/// `bytes` of memory zeroed.
#[inline(always)]
pub fn zeroed(bytes: u64) {
    #[cfg(feature = "counters")]
    add(3, bytes);
    #[cfg(not(feature = "counters"))]
    let _ = bytes;
}

/// The counts since boot: entries, messages, bytes copied, bytes zeroed.
#[cfg(feature = "counters")]
pub fn read() -> [u64; 4] {
    [
        COUNTS[0].load(Relaxed),
        COUNTS[1].load(Relaxed),
        COUNTS[2].load(Relaxed),
        COUNTS[3].load(Relaxed),
    ]
}
