//! A pipe's ring buffer.

use alloc::vec::Vec;
use fs_api::PIPE_CAPACITY;

/// A ring of [`PIPE_CAPACITY`] bytes.
///
/// Invariant: `len <= buffer.len()` and `head < buffer.len()`; the bytes buffered are
/// `buffer[head..]` then `buffer[..]` wrapping, `len` of them.
pub struct PipeRing {
    buffer: Vec<u8>,
    head: usize,
    len: usize,
}

impl PipeRing {
    /// An empty ring, or `None` if the memory cannot be had.
    pub fn new() -> Option<Self> {
        let mut buffer = Vec::new();
        buffer.try_reserve_exact(PIPE_CAPACITY).ok()?;
        buffer.resize(PIPE_CAPACITY, 0);
        Some(PipeRing {
            buffer,
            head: 0,
            len: 0,
        })
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left.
    pub fn free(&self) -> usize {
        self.buffer.len() - self.len
    }

    /// Appends as much of `data` as fits; returns how much.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let count = data.len().min(self.free());
        let capacity = self.buffer.len();
        let tail = (self.head + self.len) % capacity;
        let first = count.min(capacity - tail);
        self.buffer[tail..tail + first].copy_from_slice(&data[..first]);
        self.buffer[..count - first].copy_from_slice(&data[first..count]);
        self.len += count;
        count
    }

    /// Takes up to `out.len()` bytes from the front; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let count = out.len().min(self.len);
        let capacity = self.buffer.len();
        let first = count.min(capacity - self.head);
        out[..first].copy_from_slice(&self.buffer[self.head..self.head + first]);
        out[first..count].copy_from_slice(&self.buffer[..count - first]);
        self.head = (self.head + count) % capacity;
        self.len -= count;
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_out_in_order_across_the_wrap() {
        let mut ring = PipeRing::new().unwrap();
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        let mut chunk = [0u8; 5000];
        for round in 0..200 {
            let n = 1000 + (round * 37) % 4000;
            for b in chunk[..n].iter_mut() {
                *b = next_in;
                next_in = next_in.wrapping_add(1);
            }
            let written = ring.write(&chunk[..n]);
            assert_eq!(written, n, "room in round {round}");
            let mut out = [0u8; 4500];
            let got = ring.read(&mut out[..(n * 3 / 4).max(1)]);
            for &b in &out[..got] {
                assert_eq!(b, next_out);
                next_out = next_out.wrapping_add(1);
            }
            // Keep the ring from filling: drain to below half.
            while ring.len() > PIPE_CAPACITY / 2 {
                let got = ring.read(&mut out);
                for &b in &out[..got] {
                    assert_eq!(b, next_out);
                    next_out = next_out.wrapping_add(1);
                }
            }
        }
    }

    #[test]
    fn a_full_ring_takes_nothing_and_an_empty_one_gives_nothing() {
        let mut ring = PipeRing::new().unwrap();
        assert_eq!(ring.write(&[7u8; PIPE_CAPACITY + 10]), PIPE_CAPACITY);
        assert_eq!(ring.free(), 0);
        assert_eq!(ring.write(&[1]), 0);
        let mut out = [0u8; 100];
        assert_eq!(ring.read(&mut out), 100);
        assert_eq!(ring.free(), 100);
        let mut all = alloc::vec![0u8; PIPE_CAPACITY];
        assert_eq!(ring.read(&mut all), PIPE_CAPACITY - 100);
        assert!(ring.is_empty());
        assert_eq!(ring.read(&mut out), 0);
    }
}
