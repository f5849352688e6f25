//! The input and output queues: fixed rings indexed by wrapping positions.

/// Bytes of input a terminal holds (read but unclaimed lines plus the line being edited).
pub const INPUT_CAPACITY: usize = 4096;
/// The longest line canonical mode edits; one byte of [`INPUT_CAPACITY`] stays free so that
/// a line at this length can still be ended.
pub const MAX_CANON: usize = INPUT_CAPACITY - 1;
/// Bytes of output a terminal holds for its device (echo and written bytes).
pub const OUTPUT_CAPACITY: usize = 4096;

const _: () = assert!(INPUT_CAPACITY.is_power_of_two() && OUTPUT_CAPACITY.is_power_of_two());
const MARK_WORDS: usize = INPUT_CAPACITY / 64;

/// Input: `[read, committed)` may be read; `[committed, write)` is the line being edited
/// (always empty in non-canonical mode). Positions wrap; a position's slot is
/// `position % INPUT_CAPACITY`. A delimiter mark ends a line; an end-of-file mark on a
/// delimiter means the byte is not delivered.
pub(crate) struct InputQueue {
    bytes: [u8; INPUT_CAPACITY],
    delimiter: [u64; MARK_WORDS],
    end_of_file: [u64; MARK_WORDS],
    read: usize,
    committed: usize,
    write: usize,
}

fn slot(position: usize) -> usize {
    position % INPUT_CAPACITY
}

fn mark(bits: &mut [u64; MARK_WORDS], position: usize, on: bool) {
    let s = slot(position);
    let bit = 1u64 << (s % 64);
    if on {
        bits[s / 64] |= bit;
    } else {
        bits[s / 64] &= !bit;
    }
}

fn marked(bits: &[u64; MARK_WORDS], position: usize) -> bool {
    let s = slot(position);
    bits[s / 64] & (1 << (s % 64)) != 0
}

impl InputQueue {
    pub(crate) const fn new() -> Self {
        InputQueue {
            bytes: [0; INPUT_CAPACITY],
            delimiter: [0; MARK_WORDS],
            end_of_file: [0; MARK_WORDS],
            read: 0,
            committed: 0,
            write: 0,
        }
    }

    /// Bytes held (readable plus editing).
    pub(crate) fn len(&self) -> usize {
        self.write.wrapping_sub(self.read)
    }

    /// Bytes a reader may take.
    pub(crate) fn readable(&self) -> usize {
        self.committed.wrapping_sub(self.read)
    }

    /// Bytes of the line being edited.
    pub(crate) fn editing(&self) -> usize {
        self.write.wrapping_sub(self.committed)
    }

    /// Free bytes.
    pub(crate) fn room(&self) -> usize {
        INPUT_CAPACITY - self.len()
    }

    /// Appends a byte to the line being edited; `false` (and nothing stored) when full.
    pub(crate) fn push(&mut self, byte: u8, delimiter: bool, end_of_file: bool) -> bool {
        if self.room() == 0 {
            return false;
        }
        self.bytes[slot(self.write)] = byte;
        mark(&mut self.delimiter, self.write, delimiter);
        mark(&mut self.end_of_file, self.write, end_of_file);
        self.write = self.write.wrapping_add(1);
        true
    }

    /// Makes everything stored readable (a line ended, or non-canonical input).
    pub(crate) fn commit(&mut self) {
        self.committed = self.write;
    }

    /// Removes and returns the last byte of the line being edited.
    pub(crate) fn pop_edit(&mut self) -> Option<u8> {
        if self.editing() == 0 {
            return None;
        }
        self.write = self.write.wrapping_sub(1);
        Some(self.bytes[slot(self.write)])
    }

    /// The `index`th byte of the line being edited.
    pub(crate) fn edit_byte(&self, index: usize) -> u8 {
        self.bytes[slot(self.committed.wrapping_add(index))]
    }

    /// The last byte of the line being edited.
    pub(crate) fn last_edit(&self) -> Option<u8> {
        (self.editing() > 0).then(|| self.bytes[slot(self.write.wrapping_sub(1))])
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.read = self.write;
        self.committed = self.write;
    }

    /// Canonical read: copies at most one line (up to and including its delimiter, which
    /// an end-of-file mark keeps back) into `buffer`; returns the count copied. A line
    /// longer than `buffer` is read in parts.
    pub(crate) fn read_line(&mut self, buffer: &mut [u8]) -> usize {
        let mut copied = 0;
        while self.read != self.committed {
            let at = self.read;
            let delimiter = marked(&self.delimiter, at);
            if delimiter && marked(&self.end_of_file, at) {
                self.read = self.read.wrapping_add(1);
                break;
            }
            let Some(out) = buffer.get_mut(copied) else {
                break;
            };
            *out = self.bytes[slot(at)];
            copied += 1;
            self.read = self.read.wrapping_add(1);
            if delimiter {
                break;
            }
        }
        copied
    }

    /// Non-canonical read: copies what is readable, up to `buffer`'s length, skipping
    /// end-of-file marks left by canonical mode.
    pub(crate) fn read_bytes(&mut self, buffer: &mut [u8]) -> usize {
        let mut copied = 0;
        while self.read != self.committed && copied < buffer.len() {
            let at = self.read;
            self.read = self.read.wrapping_add(1);
            if marked(&self.delimiter, at) && marked(&self.end_of_file, at) {
                continue;
            }
            buffer[copied] = self.bytes[slot(at)];
            copied += 1;
        }
        copied
    }
}

/// Output for the device: a ring of [`OUTPUT_CAPACITY`] bytes.
pub(crate) struct OutputQueue {
    bytes: [u8; OUTPUT_CAPACITY],
    read: usize,
    write: usize,
}

impl OutputQueue {
    pub(crate) const fn new() -> Self {
        OutputQueue {
            bytes: [0; OUTPUT_CAPACITY],
            read: 0,
            write: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.write.wrapping_sub(self.read)
    }

    pub(crate) fn room(&self) -> usize {
        OUTPUT_CAPACITY - self.len()
    }

    /// Appends `bytes` whole, or nothing when they do not all fit; returns whether they did.
    pub(crate) fn push_all(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.room() {
            return false;
        }
        for &b in bytes {
            self.bytes[self.write % OUTPUT_CAPACITY] = b;
            self.write = self.write.wrapping_add(1);
        }
        true
    }

    /// Moves up to `buffer.len()` bytes out; returns the count.
    pub(crate) fn take(&mut self, buffer: &mut [u8]) -> usize {
        let count = self.len().min(buffer.len());
        for out in &mut buffer[..count] {
            *out = self.bytes[self.read % OUTPUT_CAPACITY];
            self.read = self.read.wrapping_add(1);
        }
        count
    }

    pub(crate) fn clear(&mut self) {
        self.read = self.write;
    }
}
