//! A single-producer single-consumer byte ring in memory two processes share.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// `N` bytes (a power of two) with two free-running counters: `head` counts bytes ever
/// produced, `tail` bytes ever consumed; the byte at count `c` lives in `data[c % N]`.
/// Only the producer writes `head` and `data`, only the consumer writes `tail`. Each side
/// reads the other's counter as an untrusted number: a difference above `N` is clamped.
#[repr(C)]
pub struct Ring<const N: usize> {
    head: AtomicU32,
    tail: AtomicU32,
    data: [AtomicU8; N],
}

impl<const N: usize> Ring<N> {
    const CHECK: () = assert!(N.is_power_of_two() && N <= 1 << 31);

    /// An empty ring.
    pub const fn new() -> Self {
        let () = Self::CHECK;
        Ring {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            data: [const { AtomicU8::new(0) }; N],
        }
    }

    /// The ring's size.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Bytes waiting (clamped to `N`).
    pub fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        (head.wrapping_sub(tail) as usize).min(N)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free bytes.
    pub fn room(&self) -> usize {
        N - self.len()
    }

    /// The two counters (`head`, `tail`) as the other process sees them, and may write
    /// them: for tests that play a confused or hostile peer.
    pub fn counters(&self) -> (&AtomicU32, &AtomicU32) {
        (&self.head, &self.tail)
    }

    /// Producer: appends as many of `bytes` as fit; returns how many.
    pub fn push(&self, bytes: &[u8]) -> usize {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let used = (head.wrapping_sub(tail) as usize).min(N);
        let count = bytes.len().min(N - used);
        for (i, &b) in bytes[..count].iter().enumerate() {
            let at = head.wrapping_add(i as u32) as usize % N;
            self.data[at].store(b, Ordering::Relaxed);
        }
        self.head
            .store(head.wrapping_add(count as u32), Ordering::Release);
        count
    }

    /// Consumer: moves up to `out.len()` bytes out; returns how many.
    pub fn pop(&self, out: &mut [u8]) -> usize {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        let available = (head.wrapping_sub(tail) as usize).min(N);
        let count = out.len().min(available);
        for (i, slot) in out[..count].iter_mut().enumerate() {
            let at = tail.wrapping_add(i as u32) as usize % N;
            *slot = self.data[at].load(Ordering::Relaxed);
        }
        self.tail
            .store(tail.wrapping_add(count as u32), Ordering::Release);
        count
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn bytes_come_out_in_order_across_the_wrap() {
        let ring: Ring<8> = Ring::new();
        let mut out = [0u8; 8];
        for round in 0..20u8 {
            let bytes = [round, round + 1, round + 2, round + 3, round + 4];
            assert_eq!(ring.push(&bytes), 5);
            assert_eq!(ring.len(), 5);
            assert_eq!(ring.pop(&mut out), 5);
            assert_eq!(&out[..5], &bytes);
            assert!(ring.is_empty());
        }
    }

    #[test]
    fn a_full_ring_takes_nothing_more_and_a_pop_makes_room() {
        let ring: Ring<4> = Ring::new();
        assert_eq!(ring.push(b"abcdef"), 4);
        assert_eq!(ring.room(), 0);
        assert_eq!(ring.push(b"x"), 0);
        let mut out = [0u8; 1];
        assert_eq!(ring.pop(&mut out), 1);
        assert_eq!(&out, b"a");
        assert_eq!(ring.push(b"xy"), 1);
        let mut rest = [0u8; 8];
        assert_eq!(ring.pop(&mut rest), 4);
        assert_eq!(&rest[..4], b"bcdx");
    }

    #[test]
    fn a_corrupt_peer_counter_is_clamped_not_trusted() {
        let ring: Ring<4> = Ring::new();
        // The consumer's counter jumps far ahead, as a confused peer might write it.
        ring.tail.store(1_000_000, Ordering::Relaxed);
        assert!(ring.len() <= 4);
        let mut out = [0u8; 64];
        assert!(ring.pop(&mut out) <= 4);
        assert!(ring.push(b"abcdefgh") <= 4);
        ring.head.store(u32::MAX, Ordering::Relaxed);
        assert!(ring.len() <= 4);
        assert!(ring.pop(&mut out) <= 4);
    }

    #[test]
    fn a_producer_and_a_consumer_thread_move_a_stream_unchanged() {
        let ring: Ring<64> = Ring::new();
        let total = 200_000usize;
        let received = std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut sent = 0usize;
                while sent < total {
                    let chunk: Vec<u8> = (sent..(sent + 37).min(total)).map(|i| i as u8).collect();
                    sent += ring.push(&chunk);
                }
            });
            let mut received = Vec::with_capacity(total);
            let mut buffer = [0u8; 29];
            while received.len() < total {
                let n = ring.pop(&mut buffer);
                received.extend_from_slice(&buffer[..n]);
            }
            received
        });
        assert!(received.iter().enumerate().all(|(i, &b)| b == i as u8));
    }
}
