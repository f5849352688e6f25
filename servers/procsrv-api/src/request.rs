//! The hatch request: a header of [`HATCH_HEADER_WORDS`] message words, then the bytes of
//! the program path, argv, envp and the egg, packed little-endian into the following words.
//!
//! | word | meaning |
//! |---|---|
//! | 0 | program path length in bytes |
//! | 1 | argv length in bytes: each argument followed by a NUL |
//! | 2 | envp length in bytes: each `NAME=value` followed by a NUL |
//! | 3 | egg length in bytes |
//! | 4 | bits 0..8: radix of the CNode sent as extra cap 0 (its caps are the egg's cap indices; 0: no caps); bits 8..16: request pages *n* (0: the bytes follow in the message); bits 16..32: the CNode index of the first request page |
//! | 5 | bound of each file-server call in milliseconds (0: the default) |
//! | 6.. | the bytes: path, argv, envp, egg, one after another, 8 per word |
//!
//! The message is `6 + ceil(bytes / 8)` words, at most 512: so at most
//! [`MAX_REQUEST_BYTES`] bytes in all. A bigger request travels in *request pages*
//! ([`RequestPages`]): up to [`MAX_REQUEST_PAGES`] 4 KiB frames the caller shares for the
//! call, at consecutive indices of the CNode it sends, the bytes one after another from
//! the first page's offset 0; the message is then the header alone. Still one round trip.

use crate::Errno;

/// Words of the request header.
pub const HATCH_HEADER_WORDS: usize = 6;
/// Most bytes of path, argv, envp and egg together.
pub const MAX_REQUEST_BYTES: usize = (512 - HATCH_HEADER_WORDS) * 8;
/// Requests of at most this many bytes (program, argv, envp, egg: the usual hatch) are
/// encoded and decoded in buffers of this size by libsys's client and procsrv, which then
/// zero 512 bytes rather than 4 KiB per call.
pub const SMALL_REQUEST_BYTES: usize = 512;
/// Most argv strings, and most envp strings.
pub const MAX_STRINGS: usize = 256;
/// Largest CNode radix a request may send.
pub const MAX_CAP_RADIX: u64 = 12;
/// Most request pages.
pub const MAX_REQUEST_PAGES: u64 = 8;
/// Most bytes of a request that travels in request pages.
pub const MAX_PAGED_REQUEST_BYTES: usize = MAX_REQUEST_PAGES as usize * 4096;

/// Where the request pages are mapped: in the caller (libsys) while it writes them, and in
/// procsrv while it reads them (below the loader's scratch window,
/// `libsys::loader::SCRATCH_ADDR`).
pub const REQUEST_PAGES_ADDR: u64 = 0x7ffb_0000_0000;

/// Where a request's bytes are: header word 4 past the radix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestPages {
    /// How many pages (0: the bytes are in the message).
    pub count: u64,
    /// The CNode index of the first.
    pub first: u64,
}

impl RequestPages {
    /// Header word 4 with radix `radix` and these pages.
    pub const fn word(self, radix: u64) -> u64 {
        radix | self.count << 8 | self.first << 16
    }

    /// The radix and the pages of header word 4.
    ///
    /// # Errors
    /// [`RequestError::BadCapRadix`] for a radix above [`MAX_CAP_RADIX`] or bits past 32;
    /// [`RequestError::BadPages`] for more than [`MAX_REQUEST_PAGES`] pages, pages
    /// without a CNode, or pages past its end.
    pub const fn from_word(word: u64) -> Result<(u64, RequestPages), RequestError> {
        let radix = word & 0xff;
        let pages = RequestPages {
            count: word >> 8 & 0xff,
            first: word >> 16 & 0xffff,
        };
        if radix > MAX_CAP_RADIX || word >> 32 != 0 {
            return Err(RequestError::BadCapRadix);
        }
        if pages.count > MAX_REQUEST_PAGES
            || (pages.count > 0 && (radix == 0 || pages.first + pages.count > 1 << radix))
        {
            return Err(RequestError::BadPages);
        }
        Ok((radix, pages))
    }
}

/// A decoded hatch request; the strings borrow from the message bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HatchRequest<'a> {
    /// The program (`/bin/NAME`).
    pub program: &'a [u8],
    /// The arguments, each ended by a NUL.
    pub argv: &'a [u8],
    /// The environment, each `NAME=value` ended by a NUL.
    pub envp: &'a [u8],
    /// The egg.
    pub egg: &'a [u8],
    /// Radix of the CNode of caps sent, 0 for none.
    pub cap_radix: u64,
    /// Bound of each file-server call in milliseconds, 0 for the default.
    pub timeout_ms: u64,
}

/// Why a request is malformed (before anything is created).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The message is shorter than its header says.
    Truncated,
    /// More bytes than [`MAX_REQUEST_BYTES`], or more than [`MAX_STRINGS`] strings.
    TooBig,
    /// The program path is empty or holds a NUL.
    BadProgram,
    /// argv or envp does not end with a NUL, or an environment string has no `=`.
    BadStrings,
    /// The cap radix is above [`MAX_CAP_RADIX`].
    BadCapRadix,
    /// The request pages are too many or not in the CNode sent.
    BadPages,
}

impl RequestError {
    /// The errno a client sees.
    pub const fn errno(self) -> Errno {
        match self {
            RequestError::Truncated => Errno::EFAULT,
            RequestError::TooBig => Errno::E2BIG,
            RequestError::BadProgram => Errno::ENOENT,
            RequestError::BadStrings | RequestError::BadCapRadix | RequestError::BadPages => {
                Errno::EINVAL
            }
        }
    }
}

impl<'a> HatchRequest<'a> {
    /// Total bytes of the strings and the egg.
    pub fn byte_len(&self) -> usize {
        self.program.len() + self.argv.len() + self.envp.len() + self.egg.len()
    }

    /// Message length in words.
    pub fn message_words(&self) -> usize {
        HATCH_HEADER_WORDS + self.byte_len().div_ceil(8)
    }

    /// The argument strings, without their NULs.
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + Clone {
        strings(self.argv)
    }

    /// The environment strings, without their NULs.
    pub fn env(&self) -> impl Iterator<Item = &'a [u8]> + Clone {
        strings(self.envp)
    }
}

/// The NUL-terminated strings of `area`.
pub fn strings(area: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    let area = area.strip_suffix(&[0]).unwrap_or(area);
    area.split(|&b| b == 0).filter(move |_| !area.is_empty())
}

fn check_strings(area: &[u8], env: bool) -> Result<(), RequestError> {
    if area.is_empty() {
        return Ok(());
    }
    if area.last() != Some(&0) {
        return Err(RequestError::BadStrings);
    }
    if strings(area).count() > MAX_STRINGS {
        return Err(RequestError::TooBig);
    }
    if env && strings(area).any(|s| !s.contains(&b'=') || s.first() == Some(&b'=')) {
        return Err(RequestError::BadStrings);
    }
    Ok(())
}

/// Decodes a request from its header words and its bytes (the words after the header,
/// as little-endian bytes: `bytes` may be longer than the request).
///
/// # Errors
/// [`RequestError`] for anything malformed.
pub fn decode_hatch<'a>(
    header: &[u64; HATCH_HEADER_WORDS],
    bytes: &'a [u8],
) -> Result<HatchRequest<'a>, RequestError> {
    let lens = [header[0], header[1], header[2], header[3]];
    let mut total: u64 = 0;
    for len in lens {
        total = total.checked_add(len).ok_or(RequestError::TooBig)?;
    }
    let (radix, pages) = RequestPages::from_word(header[4])?;
    let most = if pages.count == 0 {
        MAX_REQUEST_BYTES
    } else {
        MAX_PAGED_REQUEST_BYTES.min(pages.count as usize * 4096)
    };
    if total > most as u64 {
        return Err(RequestError::TooBig);
    }
    if total > bytes.len() as u64 {
        return Err(RequestError::Truncated);
    }
    let mut at = 0usize;
    let mut take = |len: u64| {
        let part = &bytes[at..at + len as usize];
        at += len as usize;
        part
    };
    let request = HatchRequest {
        program: take(lens[0]),
        argv: take(lens[1]),
        envp: take(lens[2]),
        egg: take(lens[3]),
        cap_radix: radix,
        timeout_ms: header[5],
    };
    check_request(&request)?;
    Ok(request)
}

/// The checks of [`decode_hatch`] after the lengths: program, strings, cap radix.
pub(crate) fn check_request(request: &HatchRequest<'_>) -> Result<(), RequestError> {
    if request.program.is_empty() || request.program.contains(&0) {
        return Err(RequestError::BadProgram);
    }
    check_strings(request.argv, false)?;
    check_strings(request.envp, true)?;
    if request.cap_radix > MAX_CAP_RADIX {
        return Err(RequestError::BadCapRadix);
    }
    Ok(())
}

/// Encodes `request`: fills `header` and writes the bytes to `bytes`; returns how many
/// bytes were written.
///
/// # Errors
/// [`RequestError::TooBig`] if the request does not fit `bytes` or the message.
pub fn encode_hatch(
    request: &HatchRequest<'_>,
    header: &mut [u64; HATCH_HEADER_WORDS],
    bytes: &mut [u8],
) -> Result<usize, RequestError> {
    encode_hatch_paged(request, RequestPages { count: 0, first: 0 }, header, bytes)
}

/// [`encode_hatch`] for a request whose bytes go into `pages` (`bytes` is their contents;
/// with no pages, the message).
///
/// # Errors
/// [`RequestError::TooBig`] if the request does not fit `bytes` or the pages.
pub fn encode_hatch_paged(
    request: &HatchRequest<'_>,
    pages: RequestPages,
    header: &mut [u64; HATCH_HEADER_WORDS],
    bytes: &mut [u8],
) -> Result<usize, RequestError> {
    let total = request.byte_len();
    let most = if pages.count == 0 {
        MAX_REQUEST_BYTES
    } else {
        MAX_PAGED_REQUEST_BYTES.min(pages.count as usize * 4096)
    };
    if total > most || total > bytes.len() {
        return Err(RequestError::TooBig);
    }
    *header = [
        request.program.len() as u64,
        request.argv.len() as u64,
        request.envp.len() as u64,
        request.egg.len() as u64,
        pages.word(request.cap_radix),
        request.timeout_ms,
    ];
    let mut at = 0;
    for part in [request.program, request.argv, request.envp, request.egg] {
        bytes[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HatchRequest<'static> {
        HatchRequest {
            program: b"/bin/hello",
            argv: b"hello\0world\0",
            envp: b"TERM=vt100\0",
            egg: b"\x06",
            cap_radix: 2,
            timeout_ms: 50,
        }
    }

    #[test]
    fn hatch_requests_round_trip() {
        let mut header = [0; HATCH_HEADER_WORDS];
        let mut bytes = [0u8; 64];
        let n = encode_hatch(&sample(), &mut header, &mut bytes).unwrap();
        assert_eq!(n, sample().byte_len());
        let decoded = decode_hatch(&header, &bytes).unwrap();
        assert_eq!(decoded, sample());
        let args: [&[u8]; 2] = [b"hello", b"world"];
        assert!(decoded.args().eq(args));
        assert_eq!(decoded.env().count(), 1);
    }

    #[test]
    fn malformed_hatch_requests_are_refused() {
        let mut header = [0; HATCH_HEADER_WORDS];
        let mut bytes = [0u8; 64];
        encode_hatch(&sample(), &mut header, &mut bytes).unwrap();
        let mut h = header;
        h[3] = 100;
        assert_eq!(decode_hatch(&h, &bytes), Err(RequestError::Truncated));
        h[3] = u64::MAX;
        assert_eq!(decode_hatch(&h, &bytes), Err(RequestError::TooBig));
        h = header;
        h[0] = 0;
        assert_eq!(decode_hatch(&h, &bytes), Err(RequestError::BadProgram));
        h = header;
        h[4] = 13;
        assert_eq!(decode_hatch(&h, &bytes), Err(RequestError::BadCapRadix));
        let mut bad = sample();
        bad.envp = b"NOEQUALS\0";
        encode_hatch(&bad, &mut h, &mut bytes).unwrap();
        assert_eq!(decode_hatch(&h, &bytes), Err(RequestError::BadStrings));
        bad.envp = b"";
        bad.argv = b"unterminated";
        encode_hatch(&bad, &mut h, &mut bytes).unwrap();
        assert_eq!(decode_hatch(&h, &bytes), Err(RequestError::BadStrings));
    }

    #[test]
    fn requests_in_pages_round_trip_and_are_bounded_by_them() {
        let big = [b'a'; 3 * 4096];
        let mut r = sample();
        r.argv = b"x\0";
        r.egg = &big;
        let pages = RequestPages { count: 3, first: 1 };
        let mut header = [0; HATCH_HEADER_WORDS];
        let mut bytes = [0u8; MAX_PAGED_REQUEST_BYTES];
        assert_eq!(
            encode_hatch_paged(&r, pages, &mut header, &mut bytes),
            Err(RequestError::TooBig),
            "3 pages hold 12 KiB, not 12 KiB and the strings"
        );
        r.egg = &big[..2 * 4096];
        let n = encode_hatch_paged(&r, pages, &mut header, &mut bytes).unwrap();
        assert_eq!(RequestPages::from_word(header[4]), Ok((2, pages)));
        assert_eq!(decode_hatch(&header, &bytes[..n]), Ok(r));
    }

    #[test]
    fn request_pages_must_lie_in_the_cnode_sent() {
        let at = |count, first| RequestPages { count, first };
        assert_eq!(
            RequestPages::from_word(at(2, 3).word(2)),
            Err(RequestError::BadPages)
        );
        assert_eq!(
            RequestPages::from_word(at(1, 0).word(0)),
            Err(RequestError::BadPages)
        );
        assert_eq!(
            RequestPages::from_word(at(MAX_REQUEST_PAGES + 1, 0).word(12)),
            Err(RequestError::BadPages)
        );
        assert_eq!(
            RequestPages::from_word(1 << 40),
            Err(RequestError::BadCapRadix)
        );
        assert_eq!(RequestPages::from_word(at(2, 2).word(2)), Ok((2, at(2, 2))));
    }

    #[test]
    fn oversized_requests_do_not_encode() {
        let big = [b'a'; MAX_REQUEST_BYTES + 1];
        let mut r = sample();
        r.egg = &big;
        let mut header = [0; HATCH_HEADER_WORDS];
        let mut bytes = [0u8; MAX_REQUEST_BYTES + 64];
        assert_eq!(
            encode_hatch(&r, &mut header, &mut bytes),
            Err(RequestError::TooBig)
        );
    }
}
