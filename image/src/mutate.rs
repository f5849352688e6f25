//! Deliberately broken images, made from real ones, for the boot tests' error paths. Each
//! must make the loader or the kernel print one clear error line and stop.

use std::fmt;

/// The first two words of the Limine base revision tag (the third is the revision).
pub const BASE_REVISION_MAGIC: [u64; 2] = [0xf956_2b2d_5c95_a6c8, 0x6a7b_3849_4453_6bdc];

/// Why an image could not be mutated as asked.
#[derive(Debug, PartialEq, Eq)]
pub enum MutateError {
    /// The kernel holds no base revision tag.
    NoBaseRevisionTag,
    /// The kernel holds more than one base revision tag (count).
    SeveralBaseRevisionTags(usize),
    /// The file is shorter than the ELF magic.
    TooShort,
    /// The file is not an ELF the kernel-side reader accepts (its message).
    NotElf(String),
    /// The ELF has no `PT_LOAD` segment with bytes in the file.
    NoLoadedBytes,
}

impl fmt::Display for MutateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoBaseRevisionTag => write!(f, "the kernel has no Limine base revision tag"),
            Self::SeveralBaseRevisionTags(count) => {
                write!(
                    f,
                    "the kernel has {count} Limine base revision tags, expected one"
                )
            }
            Self::TooShort => write!(f, "the file is shorter than an ELF magic"),
            Self::NotElf(why) => write!(f, "not a loadable ELF: {why}"),
            Self::NoLoadedBytes => write!(f, "the ELF has no loadable bytes to cut"),
        }
    }
}

impl std::error::Error for MutateError {}

/// `elf` with its magic `\x7fELF` replaced by `\x7fXLF`.
///
/// # Errors
/// [`MutateError::TooShort`] when `elf` has fewer than 4 bytes.
pub fn corrupt_elf_magic(elf: &[u8]) -> Result<Vec<u8>, MutateError> {
    if elf.len() < 4 {
        return Err(MutateError::TooShort);
    }
    let mut out = elf.to_vec();
    out[1] = b'X';
    Ok(out)
}

/// The first `numerator / denominator` of `bytes` (at least one byte shorter).
pub fn truncate(bytes: &[u8], numerator: usize, denominator: usize) -> Vec<u8> {
    let keep = bytes.len() * numerator / denominator.max(1);
    bytes[..keep.min(bytes.len().saturating_sub(1))].to_vec()
}

/// `elf` cut in the middle of the bytes its `PT_LOAD` segments load, so that a loader
/// which checks segment bounds must refuse it. (Cutting the whole file in half would often
/// remove only debug sections, which lie after the loaded bytes.)
///
/// # Errors
/// [`MutateError`] when `elf` does not parse or loads no bytes from the file.
pub fn truncate_loaded(elf: &[u8]) -> Result<Vec<u8>, MutateError> {
    let parsed =
        bootfmt::elf::ElfFile::parse(elf).map_err(|e| MutateError::NotElf(e.to_string()))?;
    let (start, end) = parsed
        .load_segments()
        .filter(|segment| segment.filesz > 0)
        .map(|segment| (segment.offset, segment.offset + segment.filesz))
        .fold(
            None,
            |bounds: Option<(u64, u64)>, (start, end)| match bounds {
                None => Some((start, end)),
                Some((low, high)) => Some((low.min(start), high.max(end))),
            },
        )
        .ok_or(MutateError::NoLoadedBytes)?;
    let cut = usize::try_from(start + (end - start) / 2).unwrap_or(elf.len());
    Ok(elf[..cut.min(elf.len().saturating_sub(1))].to_vec())
}

/// `kernel` with the revision its Limine base revision tag asks for set to `revision`.
///
/// # Errors
/// [`MutateError`] unless the kernel holds exactly one tag.
pub fn set_base_revision(kernel: &[u8], revision: u64) -> Result<Vec<u8>, MutateError> {
    let mut magic = [0u8; 16];
    magic[..8].copy_from_slice(&BASE_REVISION_MAGIC[0].to_le_bytes());
    magic[8..].copy_from_slice(&BASE_REVISION_MAGIC[1].to_le_bytes());
    let found: Vec<usize> = kernel
        .windows(24)
        .enumerate()
        .filter(|(offset, window)| offset % 8 == 0 && window[..16] == magic)
        .map(|(offset, _)| offset)
        .collect();
    match found[..] {
        [] => Err(MutateError::NoBaseRevisionTag),
        [offset] => {
            let mut out = kernel.to_vec();
            out[offset + 16..offset + 24].copy_from_slice(&revision.to_le_bytes());
            Ok(out)
        }
        _ => Err(MutateError::SeveralBaseRevisionTags(found.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_with_tags(count: usize) -> Vec<u8> {
        let mut kernel = b"\x7fELF\x02\x01\x01\x00".to_vec();
        for _ in 0..count {
            kernel.extend_from_slice(&BASE_REVISION_MAGIC[0].to_le_bytes());
            kernel.extend_from_slice(&BASE_REVISION_MAGIC[1].to_le_bytes());
            kernel.extend_from_slice(&3u64.to_le_bytes());
        }
        kernel.extend_from_slice(&[0xaa; 8]);
        kernel
    }

    #[test]
    fn base_revision_is_rewritten_in_place() {
        let kernel = kernel_with_tags(1);
        let mutated = set_base_revision(&kernel, 99).unwrap();
        assert_eq!(mutated.len(), kernel.len());
        assert_eq!(mutated[24..32], 99u64.to_le_bytes());
        assert_eq!(mutated[..24], kernel[..24]);
        assert_eq!(mutated[32..], kernel[32..]);
    }

    #[test]
    fn base_revision_needs_exactly_one_tag() {
        assert_eq!(
            set_base_revision(&kernel_with_tags(0), 99),
            Err(MutateError::NoBaseRevisionTag)
        );
        assert_eq!(
            set_base_revision(&kernel_with_tags(2), 99),
            Err(MutateError::SeveralBaseRevisionTags(2))
        );
    }

    #[test]
    fn corrupt_magic_changes_only_the_magic() {
        let elf = b"\x7fELF\x02rest";
        let bad = corrupt_elf_magic(elf).unwrap();
        assert_eq!(&bad[..4], b"\x7fXLF");
        assert_eq!(&bad[4..], &elf[4..]);
        assert_eq!(corrupt_elf_magic(b"\x7fE"), Err(MutateError::TooShort));
    }

    /// A minimal ELF64 x86_64 executable: header, one program header, `loaded` bytes of
    /// segment data, then `trailing` bytes (standing in for debug sections).
    fn elf_with_segment(loaded: usize, trailing: usize) -> Vec<u8> {
        let mut elf = vec![0u8; 64 + 56];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // 64-bit
        elf[5] = 1; // little-endian
        elf[6] = 1; // version
        elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        elf[20..24].copy_from_slice(&1u32.to_le_bytes());
        elf[24..32].copy_from_slice(&0x40_0000u64.to_le_bytes()); // entry
        elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
        elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        let header = &mut elf[64..120];
        header[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        header[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
        header[8..16].copy_from_slice(&120u64.to_le_bytes()); // offset
        header[16..24].copy_from_slice(&0x40_0000u64.to_le_bytes()); // vaddr
        header[24..32].copy_from_slice(&0x40_0000u64.to_le_bytes()); // paddr
        header[32..40].copy_from_slice(&(loaded as u64).to_le_bytes()); // filesz
        header[40..48].copy_from_slice(&(loaded as u64).to_le_bytes()); // memsz
        header[48..56].copy_from_slice(&0x1000u64.to_le_bytes()); // align
        elf.extend(std::iter::repeat_n(0x90, loaded));
        elf.extend(std::iter::repeat_n(0xdb, trailing));
        elf
    }

    #[test]
    fn truncate_loaded_cuts_inside_the_segment_not_the_debug_tail() {
        let elf = elf_with_segment(1000, 100_000);
        let cut = truncate_loaded(&elf).unwrap();
        assert_eq!(cut.len(), 120 + 500);
        assert!(bootfmt::elf::ElfFile::parse(&elf).is_ok());
    }

    #[test]
    fn truncate_loaded_needs_an_elf() {
        assert!(matches!(
            truncate_loaded(b"not an elf at all"),
            Err(MutateError::NotElf(_))
        ));
    }

    #[test]
    fn truncate_always_drops_something() {
        assert_eq!(truncate(b"12345678", 1, 2), b"1234");
        assert_eq!(truncate(b"12", 1, 1), b"1");
        assert_eq!(truncate(b"", 1, 2), b"");
    }
}
