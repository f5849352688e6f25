//! A cpio "newc" writer: the format Linux initramfs and seL4 use.
//!
//! Each entry is a 110-byte ASCII header (`070701` and thirteen 8-digit hex fields), the
//! NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes. The archive ends
//! with an entry named `TRAILER!!!`.

/// Mode bits of a regular file that everyone may read.
pub const MODE_FILE: u32 = 0o100_644;
/// Mode bits of a regular file that everyone may read and execute.
pub const MODE_EXECUTABLE: u32 = 0o100_755;

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";

/// Builds a cpio newc archive in memory, entry by entry.
#[derive(Default)]
pub struct CpioWriter {
    bytes: Vec<u8>,
    next_inode: u32,
}

impl CpioWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a regular file named `name` with permission bits from `mode`.
    pub fn add_file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.next_inode += 1;
        let inode = self.next_inode;
        self.push_entry(name, inode, mode, 1, data);
        self
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.push_entry(TRAILER, 0, 0, 1, &[]);
        self.bytes
    }

    fn push_entry(&mut self, name: &str, inode: u32, mode: u32, links: u32, data: &[u8]) {
        let name_size = u32::try_from(name.len() + 1).expect("cpio name longer than 4 GiB");
        let file_size = u32::try_from(data.len()).expect("cpio newc holds files under 4 GiB");
        // Fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
        // rdevminor namesize check.
        let fields = [
            inode, mode, 0, 0, links, 0, file_size, 0, 0, 0, 0, name_size, 0,
        ];
        self.bytes.extend_from_slice(MAGIC.as_bytes());
        for field in fields {
            self.bytes
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

/// One entry read back by [`entries`]: name, mode and data.
#[cfg(test)]
pub type Entry<'a> = (&'a str, u32, &'a [u8]);

/// Reads an archive back (tests only; the real reader is in `bootfmt`).
#[cfg(test)]
pub fn entries(mut bytes: &[u8]) -> Vec<Entry<'_>> {
    let field = |header: &[u8], index: usize| {
        let start = 6 + index * 8;
        let text = std::str::from_utf8(&header[start..start + 8]).unwrap();
        u32::from_str_radix(text, 16).unwrap() as usize
    };
    let align = |n: usize| (n + 3) & !3;
    let mut out = Vec::new();
    loop {
        assert_eq!(&bytes[..6], MAGIC.as_bytes());
        let mode = field(bytes, 1) as u32;
        let size = field(bytes, 6);
        let name_size = field(bytes, 11);
        let name = std::str::from_utf8(&bytes[110..110 + name_size - 1]).unwrap();
        let data_start = align(110 + name_size);
        if name == TRAILER {
            assert_eq!(bytes.len(), data_start, "bytes after the trailer");
            return out;
        }
        out.push((name, mode, &bytes[data_start..data_start + size]));
        bytes = &bytes[align(data_start + size)..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_archive_is_just_the_trailer() {
        let bytes = CpioWriter::new().finish();
        assert!(entries(&bytes).is_empty());
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.starts_with(b"070701"));
    }

    #[test]
    fn entries_round_trip_with_padding() {
        let mut writer = CpioWriter::new();
        writer.add_file("a", MODE_FILE, b"xyz");
        writer.add_file("bin/hello", MODE_EXECUTABLE, b"");
        writer.add_file("four", MODE_FILE, b"1234");
        let bytes = writer.finish();
        assert_eq!(bytes.len() % 4, 0);
        let read = entries(&bytes);
        assert_eq!(
            read,
            vec![
                ("a", MODE_FILE, &b"xyz"[..]),
                ("bin/hello", MODE_EXECUTABLE, &b""[..]),
                ("four", MODE_FILE, &b"1234"[..]),
            ]
        );
    }

    #[test]
    fn header_fields_are_eight_hex_digits() {
        let mut writer = CpioWriter::new();
        writer.add_file("k", MODE_FILE, &[7; 0x1234]);
        let bytes = writer.finish();
        let header = std::str::from_utf8(&bytes[..110]).unwrap();
        // ino 1, mode 0o100644 = 0x81a4, filesize 0x1234, namesize 2.
        assert_eq!(&header[6..14], "00000001");
        assert_eq!(&header[14..22], "000081a4");
        assert_eq!(&header[54..62], "00001234");
        assert_eq!(&header[94..102], "00000002");
    }
}
