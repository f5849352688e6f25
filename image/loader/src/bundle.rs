//! Finding the kernel and the boot archive among the boot modules.
//!
//! Two layouts are accepted:
//! - named modules (GRUB `module2 /boot/hatchery kernel`, `module2 /boot/archive.cpio
//!   archive`): the module whose string's first word is `kernel`, and the one whose first
//!   word is `archive`;
//! - a bundle (QEMU `-initrd bundle.cpio`, or a single GRUB module): the first module is a
//!   cpio newc archive holding files `kernel` and `archive`.
//!
//! The kernel is required; the archive is optional (the kernel reports its absence).

use crate::bootinfo::{InputModule, PhysicalMemory, MAX_STRING};
use bootfmt::cpio::{CpioArchive, CpioError};

/// Name of the kernel (bundle entry or module string).
pub const KERNEL_NAME: &str = "kernel";
/// Name of the boot archive (bundle entry or module string).
pub const ARCHIVE_NAME: &str = "archive";

/// A file somewhere in physical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRef {
    /// Physical address of its first byte.
    pub phys: u64,
    /// Size in bytes.
    pub size: u64,
}

/// The kernel ELF and the boot archive, where the boot protocol left them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootFiles {
    /// The kernel ELF.
    pub kernel: FileRef,
    /// The boot archive, if given.
    pub archive: Option<FileRef>,
    /// True if they came from a bundle (so they are not page-aligned in place).
    pub from_bundle: bool,
}

/// Why the kernel or archive cannot be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleError {
    /// No modules at all.
    NoModules,
    /// A module lies outside readable memory.
    Unreadable,
    /// The bundle is not a valid cpio archive.
    Bundle(CpioError),
    /// The bundle has no `kernel` file.
    NoKernelInBundle,
    /// Named modules, but none named `kernel`.
    NoKernelModule,
}

impl core::fmt::Display for BundleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BundleError::NoModules => write!(
                f,
                "no boot modules: give a bundle (cpio with `kernel` and `archive`) as the initrd, \
                 or multiboot2 modules named `kernel` and `archive`"
            ),
            BundleError::Unreadable => write!(f, "a boot module lies outside readable memory"),
            BundleError::Bundle(error) => write!(f, "boot bundle: {error}"),
            BundleError::NoKernelInBundle => write!(f, "no kernel module in boot bundle"),
            BundleError::NoKernelModule => {
                write!(f, "no boot module named `kernel` (module2 <file> kernel)")
            }
        }
    }
}

/// The first word of a module's string.
fn module_name<'m>(memory: &'m impl PhysicalMemory, module: &InputModule) -> &'m [u8] {
    if module.string_addr == 0 {
        return &[];
    }
    let string = memory
        .c_string(module.string_addr, MAX_STRING)
        .unwrap_or(&[]);
    string
        .split(|b| b.is_ascii_whitespace())
        .find(|word| !word.is_empty())
        .unwrap_or(&[])
}

/// Finds the kernel and the archive.
pub fn select(
    memory: &impl PhysicalMemory,
    modules: &[InputModule],
) -> Result<BootFiles, BundleError> {
    let first = modules.first().ok_or(BundleError::NoModules)?;
    let file_of = |module: &InputModule| FileRef {
        phys: module.range.start,
        size: module.range.len(),
    };
    let named = |name: &str| {
        modules
            .iter()
            .find(|module| module_name(memory, module) == name.as_bytes())
    };
    if named(KERNEL_NAME).is_some() || named(ARCHIVE_NAME).is_some() {
        let kernel = named(KERNEL_NAME).ok_or(BundleError::NoKernelModule)?;
        return Ok(BootFiles {
            kernel: file_of(kernel),
            archive: named(ARCHIVE_NAME).map(file_of),
            from_bundle: false,
        });
    }
    let size = usize::try_from(first.range.len()).map_err(|_| BundleError::Unreadable)?;
    let bytes = memory
        .bytes(first.range.start, size)
        .ok_or(BundleError::Unreadable)?;
    let bundle = CpioArchive::new(bytes);
    bundle.validate().map_err(BundleError::Bundle)?;
    let entry_file = |name: &str| -> Result<Option<FileRef>, BundleError> {
        let entry = bundle.find(name).map_err(BundleError::Bundle)?;
        Ok(entry.map(|entry| FileRef {
            phys: first.range.start + entry.data_offset() as u64,
            size: entry.data().len() as u64,
        }))
    };
    let kernel = entry_file(KERNEL_NAME)?.ok_or(BundleError::NoKernelInBundle)?;
    Ok(BootFiles {
        kernel,
        archive: entry_file(ARCHIVE_NAME)?,
        from_bundle: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootinfo::tests::HostMemory;
    use crate::memmap::Range;
    use bootfmt::cpio::CpioWriter;

    const BASE: u64 = 0x10_0000;

    fn memory_with(bundle: &[u8]) -> HostMemory {
        let mut memory = HostMemory::new(BASE, 0x10000);
        memory.put(BASE, bundle);
        memory.put(BASE + 0x8000, b"kernel --flag\0");
        memory.put(BASE + 0x8100, b"archive\0");
        memory.put(BASE + 0x8200, b"something\0");
        memory
    }

    fn module(start: u64, len: u64, string_addr: u64) -> InputModule {
        InputModule {
            range: Range::new(start, len),
            string_addr,
        }
    }

    #[test]
    fn bundle_yields_kernel_and_archive() {
        let bundle = CpioWriter::new()
            .file("kernel", b"ELF!", 0o755)
            .file("archive", b"CPIO", 0o644)
            .finish();
        let memory = memory_with(&bundle);
        let files = select(&memory, &[module(BASE, bundle.len() as u64, 0)]).unwrap();
        assert!(files.from_bundle);
        assert_eq!(memory.bytes(files.kernel.phys, 4), Some(&b"ELF!"[..]));
        let archive = files.archive.unwrap();
        assert_eq!(memory.bytes(archive.phys, 4), Some(&b"CPIO"[..]));
    }

    #[test]
    fn bundle_without_archive_is_fine_without_kernel_is_not() {
        let only_kernel = CpioWriter::new().file("kernel", b"K", 0o755).finish();
        let memory = memory_with(&only_kernel);
        let files = select(&memory, &[module(BASE, only_kernel.len() as u64, 0)]).unwrap();
        assert_eq!(files.archive, None);

        let only_archive = CpioWriter::new().file("archive", b"A", 0o644).finish();
        let memory = memory_with(&only_archive);
        let error = select(&memory, &[module(BASE, only_archive.len() as u64, 0)]).unwrap_err();
        assert_eq!(error, BundleError::NoKernelInBundle);
        assert_eq!(std::format!("{error}"), "no kernel module in boot bundle");
    }

    #[test]
    fn named_modules_are_matched_by_first_word() {
        let memory = memory_with(b"");
        let modules = [
            module(BASE + 0x1000, 0x10, BASE + 0x8100),
            module(BASE + 0x2000, 0x20, BASE + 0x8000),
        ];
        let files = select(&memory, &modules).unwrap();
        assert!(!files.from_bundle);
        assert_eq!(
            files.kernel,
            FileRef {
                phys: BASE + 0x2000,
                size: 0x20
            }
        );
        assert_eq!(
            files.archive,
            Some(FileRef {
                phys: BASE + 0x1000,
                size: 0x10
            })
        );
        let error = select(&memory, &modules[..1]).unwrap_err();
        assert_eq!(error, BundleError::NoKernelModule);
    }

    #[test]
    fn single_unnamed_module_that_is_not_cpio_is_a_bundle_error() {
        let memory = memory_with(b"\x7fELF not a bundle");
        let error = select(&memory, &[module(BASE, 17, BASE + 0x8200)]).unwrap_err();
        assert_eq!(
            error,
            BundleError::Bundle(CpioError::BadMagic { offset: 0 })
        );
    }

    #[test]
    fn no_modules_and_unreadable_modules_are_errors() {
        let memory = memory_with(b"");
        assert_eq!(select(&memory, &[]).unwrap_err(), BundleError::NoModules);
        assert_eq!(
            select(&memory, &[module(0x9000_0000, 16, 0)]).unwrap_err(),
            BundleError::Unreadable
        );
    }
}
