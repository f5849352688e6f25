//! The boot archive as a whole: a cpio newc archive holding a `manifest` and the ELF files
//! it names (see `docs/boot.md`).
//!
//! ```
//! # fn demo(bytes: &[u8]) -> Result<(), bootfmt::archive::ArchiveError> {
//! let archive = bootfmt::archive::BootArchive::parse(bytes)?;
//! let root_elf: &[u8] = archive.root_task();
//! let _ = (archive.manifest().root(), archive.cpio().find("bin/console"), root_elf);
//! # Ok(()) }
//! ```

use crate::cpio::{CpioArchive, CpioError};
use crate::manifest::{Manifest, ManifestError};
use core::fmt;

/// Path of the manifest inside the archive.
pub const MANIFEST_PATH: &str = "manifest";

/// Why a boot archive cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveError {
    /// The cpio structure is broken.
    Cpio(CpioError),
    /// There is no `manifest` file.
    MissingManifest,
    /// The manifest is invalid.
    Manifest(ManifestError),
    /// The manifest's `root` path is not in the archive.
    RootTaskMissing,
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Cpio(error) => write!(f, "{error}"),
            ArchiveError::MissingManifest => write!(f, "no `{MANIFEST_PATH}` file in archive"),
            ArchiveError::Manifest(error) => write!(f, "{error}"),
            ArchiveError::RootTaskMissing => {
                write!(f, "the manifest's root task is not in the archive")
            }
        }
    }
}

impl From<CpioError> for ArchiveError {
    fn from(error: CpioError) -> Self {
        ArchiveError::Cpio(error)
    }
}

impl From<ManifestError> for ArchiveError {
    fn from(error: ManifestError) -> Self {
        ArchiveError::Manifest(error)
    }
}

/// A checked boot archive: valid cpio (trailer included), valid manifest, root task present.
#[derive(Debug, Clone, Copy)]
pub struct BootArchive<'a> {
    cpio: CpioArchive<'a>,
    manifest: Manifest<'a>,
    root_task: &'a [u8],
}

impl<'a> BootArchive<'a> {
    /// Checks the whole archive and finds the manifest and root task.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ArchiveError> {
        let cpio = CpioArchive::new(bytes);
        cpio.validate()?;
        let manifest_entry = cpio
            .find(MANIFEST_PATH)?
            .ok_or(ArchiveError::MissingManifest)?;
        let manifest = Manifest::parse(manifest_entry.data())?;
        let root_task = cpio
            .find(manifest.root())?
            .ok_or(ArchiveError::RootTaskMissing)?
            .data();
        Ok(BootArchive {
            cpio,
            manifest,
            root_task,
        })
    }

    /// The cpio archive, for looking up other files.
    pub fn cpio(&self) -> CpioArchive<'a> {
        self.cpio
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> Manifest<'a> {
        self.manifest
    }

    /// The root task's file contents (an ELF, not checked here).
    pub fn root_task(&self) -> &'a [u8] {
        self.root_task
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::tests::build_archive;

    #[test]
    fn finds_manifest_and_root_task() {
        let bytes = build_archive(&[
            ("manifest", &b"root bin/procsrv\n"[..]),
            ("bin/procsrv", b"\x7fELF"),
        ]);
        let archive = BootArchive::parse(&bytes).unwrap();
        assert_eq!(archive.manifest().root(), "bin/procsrv");
        assert_eq!(archive.root_task(), b"\x7fELF");
    }

    #[test]
    fn missing_manifest_is_an_error() {
        let bytes = build_archive(&[("x", b"")]);
        assert_eq!(
            BootArchive::parse(&bytes).unwrap_err(),
            ArchiveError::MissingManifest
        );
    }

    #[test]
    fn missing_root_task_is_an_error() {
        let bytes = build_archive(&[("manifest", b"root nowhere\n")]);
        assert_eq!(
            BootArchive::parse(&bytes).unwrap_err(),
            ArchiveError::RootTaskMissing
        );
    }

    #[test]
    fn bad_manifest_and_bad_cpio_are_wrapped() {
        let bytes = build_archive(&[("manifest", b"")]);
        assert_eq!(
            BootArchive::parse(&bytes).unwrap_err(),
            ArchiveError::Manifest(ManifestError::MissingRoot)
        );
        assert_eq!(
            BootArchive::parse(b"garbage").unwrap_err(),
            ArchiveError::Cpio(CpioError::BadMagic { offset: 0 })
        );
    }
}
