//! ULEB128 numbers, shortest form only.
//!
//! A number is little-endian groups of 7 bits, the high bit of each byte saying "more
//! follows". A u64 needs at most [`MAX_LEN`] bytes; the last of ten may only carry bit 63.
//! A trailing zero group (`0x80 0x00`) is an over-long encoding and is rejected, so every
//! value has exactly one encoding.

/// Longest encoding of a `u64`: nine 7-bit groups and one byte holding bit 63.
pub const MAX_LEN: usize = 10;

/// Why the bytes at some offset are not a shortest-form `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// The bytes end while the last byte read still says "more follows".
    Truncated,
    /// A longer encoding than the value needs (a zero last group, or more than ten bytes).
    Overlong,
    /// The value does not fit in 64 bits.
    TooWide,
}

/// Reads the number that starts at `bytes[pos]`; returns it and its length in bytes.
///
/// `pos` at or past the end is [`NumberError::Truncated`].
#[inline(always)]
pub fn read(bytes: &[u8], pos: usize) -> Result<(u64, usize), NumberError> {
    // Fast path, inlined: most numbers (fds, opcodes, lengths of short strings) are one byte.
    match bytes.get(pos) {
        Some(&byte) if byte < 0x80 => Ok((u64::from(byte), 1)),
        _ => read_long(bytes, pos),
    }
}

/// [`read`] for numbers of two bytes or more, and for the end of the bytes.
#[inline(never)]
fn read_long(bytes: &[u8], pos: usize) -> Result<(u64, usize), NumberError> {
    let rest = bytes.get(pos..).unwrap_or(&[]);
    let mut value = 0u64;
    for (index, &byte) in rest.iter().take(MAX_LEN).enumerate() {
        if index == MAX_LEN - 1 {
            // The tenth byte holds only bit 63: anything more is too long or too wide.
            if byte & 0x80 != 0 {
                return Err(NumberError::Overlong);
            }
            if byte > 1 {
                return Err(NumberError::TooWide);
            }
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            // A zero last group adds nothing: the value had a shorter encoding.
            if byte == 0 && index > 0 {
                return Err(NumberError::Overlong);
            }
            return Ok((value, index + 1));
        }
    }
    Err(NumberError::Truncated)
}

/// Encodes `value` into a fixed buffer; returns the buffer and how many bytes are used.
#[cfg(any(feature = "alloc", test))]
pub fn encode(mut value: u64) -> ([u8; MAX_LEN], usize) {
    let mut buffer = [0u8; MAX_LEN];
    let mut len = 0;
    for slot in buffer.iter_mut() {
        let group = (value & 0x7f) as u8;
        value >>= 7;
        len += 1;
        if value == 0 {
            *slot = group;
            break;
        }
        *slot = group | 0x80;
    }
    (buffer, len)
}

/// Appends the shortest encoding of `value` to `out`.
#[cfg(feature = "alloc")]
pub fn write(out: &mut alloc::vec::Vec<u8>, value: u64) {
    let (buffer, len) = encode(value);
    out.extend_from_slice(&buffer[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_boundaries_in_shortest_form() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for &(value, bytes) in cases {
            let (buffer, len) = encode(value);
            assert_eq!(&buffer[..len], bytes, "encode {value}");
            assert_eq!(read(bytes, 0), Ok((value, bytes.len())), "read {value}");
        }
    }

    #[test]
    fn rejects_truncated_numbers() {
        assert_eq!(read(&[], 0), Err(NumberError::Truncated));
        assert_eq!(read(&[0x80], 0), Err(NumberError::Truncated));
        assert_eq!(read(&[0xff, 0xff], 0), Err(NumberError::Truncated));
        assert_eq!(read(&[0x01], 1), Err(NumberError::Truncated));
    }

    #[test]
    fn rejects_overlong_numbers() {
        assert_eq!(read(&[0x80, 0x00], 0), Err(NumberError::Overlong));
        assert_eq!(read(&[0x81, 0x80, 0x00], 0), Err(NumberError::Overlong));
        let eleven = [
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        assert_eq!(read(&eleven, 0), Err(NumberError::Overlong));
    }

    #[test]
    fn rejects_numbers_wider_than_64_bits() {
        let wide = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(read(&wide, 0), Err(NumberError::TooWide));
    }

    #[test]
    fn reads_at_an_offset() {
        assert_eq!(read(&[0x05, 0xac, 0x02, 0x07], 1), Ok((300, 2)));
    }
}
