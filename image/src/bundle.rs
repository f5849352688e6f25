//! The bundle: what the direct-boot loader gets as its initrd (QEMU `-initrd`).
//!
//! A cpio newc archive with two entries: `kernel` (the kernel ELF) and `archive` (the boot
//! archive). Tests build bundles that lack one of them on purpose, so both are optional.

use bootfmt::cpio::CpioWriter;

use crate::{MODE_EXECUTABLE, MODE_FILE};

/// Name of the kernel entry.
pub const KERNEL_NAME: &str = "kernel";
/// Name of the boot archive entry.
pub const ARCHIVE_NAME: &str = "archive";

/// Builds a bundle holding the kernel and the boot archive.
pub fn build(kernel: &[u8], archive: &[u8]) -> Vec<u8> {
    build_partial(Some(kernel), Some(archive))
}

/// Builds a bundle with either entry left out (for the loader's error paths).
pub fn build_partial(kernel: Option<&[u8]>, archive: Option<&[u8]>) -> Vec<u8> {
    let mut writer = CpioWriter::new();
    if let Some(kernel) = kernel {
        writer = writer.file(KERNEL_NAME, kernel, MODE_EXECUTABLE);
    }
    if let Some(archive) = archive {
        writer = writer.file(ARCHIVE_NAME, archive, MODE_FILE);
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio_entries as entries;

    #[test]
    fn bundle_holds_kernel_then_archive() {
        let bytes = build(b"KERNEL", b"ARCHIVE");
        let read = entries(&bytes);
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[0].0.as_str(), &read[0].2[..]),
            ("kernel", &b"KERNEL"[..])
        );
        assert_eq!(
            (read[1].0.as_str(), &read[1].2[..]),
            ("archive", &b"ARCHIVE"[..])
        );
    }

    #[test]
    fn partial_bundles_leave_out_the_missing_entry() {
        let no_archive = build_partial(Some(b"K"), None);
        let names: Vec<String> = entries(&no_archive).into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["kernel"]);
        let no_kernel = build_partial(None, Some(b"A"));
        let names: Vec<String> = entries(&no_kernel).into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["archive"]);
    }
}
