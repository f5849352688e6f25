//! The cpio "newc" archive format (SVR4 portable ASCII, as used by Linux initramfs).
//!
//! An archive is a sequence of entries. Each entry is a 110-byte ASCII header (magic `070701`
//! then 13 fields of 8 hexadecimal digits), the NUL-terminated name, padding to a 4-byte
//! boundary, the file data, and padding to a 4-byte boundary. The entry named `TRAILER!!!`
//! ends the archive; bytes after it are ignored.
//!
//! The reader ([`CpioArchive`]) borrows the input and never allocates. The writer
//! ([`CpioWriter`], feature `alloc`) produces archives the reader (and GNU cpio) accept.
//!
//! ```
//! use bootfmt::cpio::CpioArchive;
//! # fn demo(bytes: &[u8]) -> Result<(), bootfmt::cpio::CpioError> {
//! for entry in CpioArchive::new(bytes).entries() {
//!     let entry = entry?;
//!     let _ = (entry.name(), entry.data());
//! }
//! let kernel = CpioArchive::new(bytes).find("kernel")?;
//! # let _ = kernel; Ok(()) }
//! ```

use core::fmt;

/// Length of a newc header in bytes.
pub const HEADER_LEN: usize = 110;
/// Magic of a newc header without checksums.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of a newc header with checksums ("crc" format); accepted, checksum not verified.
pub const MAGIC_NEWC_CRC: &[u8; 6] = b"070702";
/// The name of the entry that ends an archive.
pub const TRAILER_NAME: &str = "TRAILER!!!";
/// File type bits of a regular file in `mode`.
pub const MODE_REGULAR_FILE: u32 = 0o100000;
/// Mask of the file type bits in `mode`.
pub const MODE_TYPE_MASK: u32 = 0o170000;

/// The 13 hexadecimal header fields, in order.
const FIELD_NAMES: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];
const FIELD_MODE: usize = 1;
const FIELD_FILESIZE: usize = 6;
const FIELD_NAMESIZE: usize = 11;

/// Why a byte slice is not a valid cpio newc archive. Offsets are from the archive start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpioError {
    /// The header at `offset` does not start with `070701` (or `070702`).
    BadMagic {
        /// Offset of the header.
        offset: usize,
    },
    /// Fewer than 110 bytes remain for the header at `offset`.
    HeaderTruncated {
        /// Offset of the header.
        offset: usize,
    },
    /// A header field is not 8 hexadecimal digits.
    BadHexField {
        /// Offset of the header.
        offset: usize,
        /// Name of the field (`filesize`, `namesize`, ...).
        field: &'static str,
    },
    /// `namesize` is zero: a name needs at least its terminating NUL.
    EmptyName {
        /// Offset of the header.
        offset: usize,
    },
    /// The name runs past the end of the input.
    NameTruncated {
        /// Offset of the header.
        offset: usize,
    },
    /// The name's last byte (per `namesize`) is not NUL, or it has a NUL inside.
    NameNotTerminated {
        /// Offset of the header.
        offset: usize,
    },
    /// The name is not UTF-8.
    NameNotUtf8 {
        /// Offset of the header.
        offset: usize,
    },
    /// The file data runs past the end of the input.
    DataTruncated {
        /// Offset of the header.
        offset: usize,
        /// `filesize` from the header.
        size: u32,
    },
    /// The input ended without a `TRAILER!!!` entry.
    MissingTrailer {
        /// Where the next header was expected.
        offset: usize,
    },
}

impl CpioError {
    /// True if this error says the input is not a cpio archive at all (bad magic at the very
    /// start), as opposed to a damaged one.
    pub fn is_not_cpio(&self) -> bool {
        matches!(self, CpioError::BadMagic { offset: 0 })
    }
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CpioError::BadMagic { offset: 0 } => {
                write!(f, "not a cpio newc archive (no 070701 magic at its start)")
            }
            CpioError::BadMagic { offset } => {
                write!(f, "cpio entry at offset {offset}: bad magic (want 070701)")
            }
            CpioError::HeaderTruncated { offset } => {
                write!(f, "cpio entry at offset {offset}: header truncated")
            }
            CpioError::BadHexField { offset, field } => {
                write!(
                    f,
                    "cpio entry at offset {offset}: field {field} is not 8 hex digits"
                )
            }
            CpioError::EmptyName { offset } => {
                write!(f, "cpio entry at offset {offset}: namesize is 0")
            }
            CpioError::NameTruncated { offset } => {
                write!(
                    f,
                    "cpio entry at offset {offset}: name runs past end of archive"
                )
            }
            CpioError::NameNotTerminated { offset } => {
                write!(
                    f,
                    "cpio entry at offset {offset}: name is not NUL-terminated"
                )
            }
            CpioError::NameNotUtf8 { offset } => {
                write!(f, "cpio entry at offset {offset}: name is not UTF-8")
            }
            CpioError::DataTruncated { offset, size } => write!(
                f,
                "cpio entry at offset {offset}: {size} bytes of data run past end of archive"
            ),
            CpioError::MissingTrailer { offset } => write!(
                f,
                "cpio archive ends at offset {offset} without a TRAILER!!! entry"
            ),
        }
    }
}

/// One file (or directory, or other node) in an archive. Borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpioEntry<'a> {
    name: &'a str,
    data: &'a [u8],
    mode: u32,
    offset: usize,
}

impl<'a> CpioEntry<'a> {
    /// The name as stored (without the NUL), e.g. `kernel` or `./bin/init`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name without a leading `./` or `/`: the form [`CpioArchive::find`] matches.
    pub fn path(&self) -> &'a str {
        normalize(self.name)
    }

    /// The file's contents.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The `mode` field: file type bits and permissions.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// True if the type bits say regular file.
    pub fn is_file(&self) -> bool {
        self.mode & MODE_TYPE_MASK == MODE_REGULAR_FILE
    }

    /// Offset of this entry's header from the start of the archive.
    pub fn header_offset(&self) -> usize {
        self.offset
    }

    /// Offset of this entry's data from the start of the archive.
    pub fn data_offset(&self) -> usize {
        self.offset + align4(HEADER_LEN + self.name.len() + 1)
    }
}

/// Strips one leading `./` or `/` (any number of them) from an archive path.
fn normalize(mut name: &str) -> &str {
    loop {
        if let Some(rest) = name.strip_prefix("./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix('/') {
            name = rest;
        } else {
            return name;
        }
    }
}

/// Rounds up to a multiple of 4.
const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A cpio newc archive in memory. Construction never fails; errors surface while iterating.
#[derive(Debug, Clone, Copy)]
pub struct CpioArchive<'a> {
    bytes: &'a [u8],
}

impl<'a> CpioArchive<'a> {
    /// Wraps `bytes`; nothing is checked until [`entries`](Self::entries) runs.
    pub fn new(bytes: &'a [u8]) -> Self {
        CpioArchive { bytes }
    }

    /// Iterates over the entries up to (not including) the trailer. Yields at most one error,
    /// then ends.
    pub fn entries(&self) -> CpioEntries<'a> {
        CpioEntries {
            bytes: self.bytes,
            offset: 0,
            done: false,
        }
    }

    /// Checks the whole archive: every header, name and data range, and the trailer.
    pub fn validate(&self) -> Result<(), CpioError> {
        self.entries().try_for_each(|entry| entry.map(|_| ()))
    }

    /// Finds the first entry whose [`path`](CpioEntry::path) equals `path` with any leading
    /// `./` or `/` removed. Stops at the first error before the entry is found.
    pub fn find(&self, path: &str) -> Result<Option<CpioEntry<'a>>, CpioError> {
        let wanted = normalize(path);
        for entry in self.entries() {
            let entry = entry?;
            if entry.path() == wanted {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }
}

/// Iterator over the entries of a [`CpioArchive`].
#[derive(Debug, Clone)]
pub struct CpioEntries<'a> {
    bytes: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> CpioEntries<'a> {
    /// Parses the entry at `self.offset`. `Ok(None)` is the trailer.
    fn parse_next(&mut self) -> Result<Option<CpioEntry<'a>>, CpioError> {
        let offset = self.offset;
        let rest = &self.bytes[offset.min(self.bytes.len())..];
        if rest.is_empty() {
            return Err(CpioError::MissingTrailer { offset });
        }
        let magic = rest.get(..6);
        if magic != Some(MAGIC_NEWC) && magic != Some(MAGIC_NEWC_CRC) {
            if rest.len() < 6 && (MAGIC_NEWC.starts_with(rest) || MAGIC_NEWC_CRC.starts_with(rest))
            {
                return Err(CpioError::HeaderTruncated { offset });
            }
            return Err(CpioError::BadMagic { offset });
        }
        let header = rest
            .get(..HEADER_LEN)
            .ok_or(CpioError::HeaderTruncated { offset })?;
        let field = |index: usize| -> Result<u32, CpioError> {
            let start = 6 + 8 * index;
            parse_hex8(&header[start..start + 8]).ok_or(CpioError::BadHexField {
                offset,
                field: FIELD_NAMES[index],
            })
        };
        for index in 0..FIELD_NAMES.len() {
            field(index)?;
        }
        let mode = field(FIELD_MODE)?;
        let filesize = field(FIELD_FILESIZE)?;
        let namesize = field(FIELD_NAMESIZE)? as usize;
        if namesize == 0 {
            return Err(CpioError::EmptyName { offset });
        }
        let name_bytes = rest
            .get(HEADER_LEN..HEADER_LEN + namesize)
            .ok_or(CpioError::NameTruncated { offset })?;
        let (last, name_bytes) = name_bytes
            .split_last()
            .ok_or(CpioError::EmptyName { offset })?;
        if *last != 0 || name_bytes.contains(&0) {
            return Err(CpioError::NameNotTerminated { offset });
        }
        let name =
            core::str::from_utf8(name_bytes).map_err(|_| CpioError::NameNotUtf8 { offset })?;
        let data_start = align4(HEADER_LEN + namesize);
        let data = rest
            .get(data_start..)
            .and_then(|tail| tail.get(..filesize as usize))
            .ok_or(CpioError::DataTruncated {
                offset,
                size: filesize,
            })?;
        if name == TRAILER_NAME {
            return Ok(None);
        }
        // Next header: data padded to 4 bytes. Saturate: a huge value only leads to a
        // MissingTrailer error on the next call.
        self.offset = offset
            .saturating_add(data_start)
            .saturating_add(align4(filesize as usize));
        Ok(Some(CpioEntry {
            name,
            data,
            mode,
            offset,
        }))
    }
}

impl<'a> Iterator for CpioEntries<'a> {
    type Item = Result<CpioEntry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.parse_next() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

impl core::iter::FusedIterator for CpioEntries<'_> {}

/// Parses exactly 8 hexadecimal digits (either case).
fn parse_hex8(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |value, &digit| {
        let nibble = (digit as char).to_digit(16)?;
        Some((value << 4) | nibble)
    })
}

#[cfg(feature = "alloc")]
pub use writer::CpioWriter;

#[cfg(feature = "alloc")]
mod writer {
    use super::{align4, MODE_REGULAR_FILE, MODE_TYPE_MASK, TRAILER_NAME};
    use alloc::vec::Vec;

    /// Builds a cpio newc archive in memory.
    ///
    /// ```
    /// # #[cfg(feature = "alloc")] {
    /// use bootfmt::cpio::{CpioArchive, CpioWriter};
    /// let bytes = CpioWriter::new().file("manifest", b"root procsrv\n", 0o644).finish();
    /// let entry = CpioArchive::new(&bytes).find("manifest").unwrap().unwrap();
    /// assert_eq!(entry.data(), b"root procsrv\n");
    /// # }
    /// ```
    #[derive(Debug, Clone, Default)]
    pub struct CpioWriter {
        bytes: Vec<u8>,
        next_inode: u32,
    }

    impl CpioWriter {
        /// An empty archive.
        pub fn new() -> Self {
            CpioWriter {
                bytes: Vec::new(),
                next_inode: 1,
            }
        }

        /// Appends a regular file. `mode` is the permission bits (e.g. `0o755`); the
        /// regular-file type bits are added when `mode` has no type bits.
        ///
        /// # Panics
        /// If `name` contains a NUL byte or `data` is 4 GiB or larger (the format's limit).
        pub fn file(mut self, name: &str, data: &[u8], mode: u32) -> Self {
            let mode = if mode & MODE_TYPE_MASK == 0 {
                mode | MODE_REGULAR_FILE
            } else {
                mode
            };
            let inode = self.next_inode;
            self.next_inode += 1;
            self.entry(inode, mode, 1, name, data);
            self
        }

        /// Appends the trailer and returns the archive.
        pub fn finish(mut self) -> Vec<u8> {
            self.entry(0, 0, 1, TRAILER_NAME, &[]);
            self.bytes
        }

        fn entry(&mut self, inode: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) {
            assert!(!name.as_bytes().contains(&0), "cpio name contains NUL");
            let filesize = u32::try_from(data.len()).expect("cpio file of 4 GiB or more");
            let namesize = u32::try_from(name.len() + 1).expect("cpio name too long");
            let fields = [
                inode, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0,
            ];
            self.bytes.extend_from_slice(super::MAGIC_NEWC);
            for value in fields {
                for shift in (0..8).rev() {
                    let nibble = (value >> (shift * 4)) & 0xf;
                    self.bytes.push(b"0123456789abcdef"[nibble as usize]);
                }
            }
            self.bytes.extend_from_slice(name.as_bytes());
            self.bytes.push(0);
            self.pad();
            self.bytes.extend_from_slice(data);
            self.pad();
        }

        /// Pads with NULs to a 4-byte boundary (relative to the archive start, which is also
        /// where every header starts).
        fn pad(&mut self) {
            let target = align4(self.bytes.len());
            self.bytes.resize(target, 0);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use std::vec::Vec;

    /// A whole archive of regular files, built by hand (independent of the writer).
    pub(crate) fn build_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            raw_entry(&mut out, name, data, 0o100644);
        }
        raw_entry(&mut out, TRAILER_NAME, b"", 0);
        out
    }

    /// Appends one raw newc entry, built by hand (independent of the writer).
    fn raw_entry(out: &mut Vec<u8>, name: &str, data: &[u8], mode: u32) {
        out.extend_from_slice(b"070701");
        let namesize = name.len() as u32 + 1;
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            namesize,
            0,
        ];
        for value in fields {
            out.extend_from_slice(std::format!("{value:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }

    /// An archive of three entries and a trailer, plus 4 KiB of zero slack after it.
    fn sample() -> (Vec<u8>, usize) {
        let mut buf = Vec::new();
        raw_entry(&mut buf, "kernel", b"\x7fELF...", 0o100755);
        raw_entry(&mut buf, "./archive", b"abc", 0o100644);
        raw_entry(&mut buf, "dir", b"", 0o040755);
        raw_entry(&mut buf, TRAILER_NAME, b"", 0);
        let len = buf.len();
        buf.resize(len + 4096, 0);
        (buf, len)
    }

    #[test]
    fn reads_entries_in_order_with_names_data_and_modes() {
        let (buf, len) = sample();
        let archive = CpioArchive::new(&buf[..len]);
        let mut entries = archive.entries();
        let kernel = entries.next().unwrap().unwrap();
        assert_eq!(kernel.name(), "kernel");
        assert_eq!(kernel.data(), b"\x7fELF...");
        assert!(kernel.is_file());
        assert_eq!(kernel.header_offset(), 0);
        assert_eq!(kernel.data_offset(), 120);
        let archive_entry = entries.next().unwrap().unwrap();
        assert_eq!(archive_entry.name(), "./archive");
        assert_eq!(archive_entry.path(), "archive");
        let dir = entries.next().unwrap().unwrap();
        assert!(!dir.is_file());
        assert!(entries.next().is_none());
        assert!(entries.next().is_none());
        assert_eq!(archive.validate(), Ok(()));
    }

    #[test]
    fn find_ignores_leading_dot_slash_and_slash() {
        let (buf, len) = sample();
        let archive = CpioArchive::new(&buf[..len]);
        assert_eq!(archive.find("archive").unwrap().unwrap().data(), b"abc");
        assert_eq!(archive.find("/kernel").unwrap().unwrap().name(), "kernel");
        assert_eq!(archive.find("missing").unwrap(), None);
    }

    #[test]
    fn bytes_after_trailer_are_ignored() {
        let (mut buf, len) = sample();
        buf[len..len + 4].copy_from_slice(b"junk");
        assert_eq!(CpioArchive::new(&buf[..len + 4]).validate(), Ok(()));
    }

    #[test]
    fn empty_input_has_no_trailer() {
        assert_eq!(
            CpioArchive::new(b"").validate(),
            Err(CpioError::MissingTrailer { offset: 0 })
        );
    }

    #[test]
    fn wrong_magic_at_start_is_not_cpio() {
        let error = CpioArchive::new(b"\x7fELF\x02\x01\x01\0\0\0")
            .validate()
            .unwrap_err();
        assert_eq!(error, CpioError::BadMagic { offset: 0 });
        assert!(error.is_not_cpio());
        assert_eq!(
            std::format!("{error}"),
            "not a cpio newc archive (no 070701 magic at its start)"
        );
    }

    #[test]
    fn wrong_magic_later_reports_its_offset() {
        let (mut buf, _) = sample();
        buf[120 + 8] = b'X'; // second header starts at 128
        let error = CpioArchive::new(&buf).validate().unwrap_err();
        assert_eq!(error, CpioError::BadMagic { offset: 128 });
        assert!(!error.is_not_cpio());
    }

    #[test]
    fn short_header_is_truncated() {
        let (buf, _) = sample();
        assert_eq!(
            CpioArchive::new(&buf[..50]).validate(),
            Err(CpioError::HeaderTruncated { offset: 0 })
        );
        assert_eq!(
            CpioArchive::new(&buf[..3]).validate(),
            Err(CpioError::HeaderTruncated { offset: 0 })
        );
    }

    #[test]
    fn non_hex_field_is_named() {
        let (mut buf, len) = sample();
        buf[6 + 8 * 6 + 3] = b'g'; // filesize
        assert_eq!(
            CpioArchive::new(&buf[..len]).validate(),
            Err(CpioError::BadHexField {
                offset: 0,
                field: "filesize"
            })
        );
        buf[6 + 8 * 6 + 3] = b'0';
        buf[6 + 8 * 12] = b' '; // check
        assert_eq!(
            CpioArchive::new(&buf[..len]).validate(),
            Err(CpioError::BadHexField {
                offset: 0,
                field: "check"
            })
        );
    }

    #[test]
    fn zero_namesize_is_rejected() {
        let (mut buf, len) = sample();
        buf[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000000");
        assert_eq!(
            CpioArchive::new(&buf[..len]).validate(),
            Err(CpioError::EmptyName { offset: 0 })
        );
    }

    #[test]
    fn name_past_end_is_truncated() {
        let (buf, _) = sample();
        assert_eq!(
            CpioArchive::new(&buf[..113]).validate(),
            Err(CpioError::NameTruncated { offset: 0 })
        );
    }

    #[test]
    fn name_without_nul_is_rejected() {
        let (mut buf, len) = sample();
        buf[110 + 6] = b'x';
        assert_eq!(
            CpioArchive::new(&buf[..len]).validate(),
            Err(CpioError::NameNotTerminated { offset: 0 })
        );
    }

    #[test]
    fn non_utf8_name_is_rejected() {
        let (mut buf, len) = sample();
        buf[110] = 0xff;
        assert_eq!(
            CpioArchive::new(&buf[..len]).validate(),
            Err(CpioError::NameNotUtf8 { offset: 0 })
        );
    }

    #[test]
    fn data_past_end_is_truncated() {
        let (buf, _) = sample();
        assert_eq!(
            CpioArchive::new(&buf[..122]).validate(),
            Err(CpioError::DataTruncated { offset: 0, size: 7 })
        );
    }

    #[test]
    fn archive_without_trailer_is_rejected() {
        let (buf, _) = sample();
        // The kernel entry is 128 bytes, the archive entry 120 + 4: it ends at 252.
        let error = CpioArchive::new(&buf[..252]).validate().unwrap_err();
        assert_eq!(error, CpioError::MissingTrailer { offset: 252 });
    }

    #[test]
    fn find_reports_errors_before_the_match() {
        assert_eq!(
            CpioArchive::new(b"nope").find("kernel"),
            Err(CpioError::BadMagic { offset: 0 })
        );
    }
}
