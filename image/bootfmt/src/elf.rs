//! ELF64 executables for x86_64: header checks, program headers, `PT_LOAD` segments.
//!
//! [`ElfFile::parse`] checks everything once (header fields, that the program header table and
//! every `PT_LOAD` segment's file bytes lie inside the input, that addresses do not overflow),
//! so the accessors afterwards cannot fail.
//!
//! ```
//! use bootfmt::elf::ElfFile;
//! # fn demo(bytes: &[u8]) -> Result<(), bootfmt::elf::ElfError> {
//! let elf = ElfFile::parse(bytes)?;
//! for segment in elf.load_segments() {
//!     let _bytes = elf.segment_data(&segment); // `filesz` bytes; zero-fill up to `memsz`
//!     let _ = (segment.vaddr, segment.memsz, segment.is_writable(), segment.is_executable());
//! }
//! let _entry = elf.entry();
//! # Ok(()) }
//! ```

use core::fmt;

/// Size of the ELF64 file header.
pub const HEADER_LEN: usize = 64;
/// Size of one ELF64 program header.
pub const PROGRAM_HEADER_LEN: usize = 56;
/// `e_machine` of x86_64.
pub const MACHINE_X86_64: u16 = 62;
/// `e_type` of an executable (not relocatable, not shared object).
pub const TYPE_EXEC: u16 = 2;
/// `p_type` of a loadable segment.
pub const PT_LOAD: u32 = 1;
/// `p_flags` bit: executable.
pub const PF_X: u32 = 1;
/// `p_flags` bit: writable.
pub const PF_W: u32 = 2;
/// `p_flags` bit: readable.
pub const PF_R: u32 = 4;

/// Why a byte slice is not an ELF64 x86_64 executable we can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than the 64-byte ELF header.
    HeaderTruncated,
    /// Does not start with `\x7fELF`.
    BadMagic,
    /// `EI_CLASS` is not 2 (64-bit).
    NotElf64 {
        /// The class byte found.
        class: u8,
    },
    /// `EI_DATA` is not 1 (little-endian).
    NotLittleEndian {
        /// The data byte found.
        data: u8,
    },
    /// `EI_VERSION` or `e_version` is not 1.
    BadVersion,
    /// `e_machine` is not x86_64.
    WrongMachine {
        /// The machine found.
        machine: u16,
    },
    /// `e_type` is not `ET_EXEC`.
    NotExecutable {
        /// The type found.
        elf_type: u16,
    },
    /// `e_phentsize` is not 56 (and there are program headers).
    BadProgramHeaderSize {
        /// The size found.
        size: u16,
    },
    /// The program header table runs past the end of the file.
    ProgramHeadersTruncated,
    /// A `PT_LOAD` segment's file bytes run past the end of the file.
    SegmentTruncated {
        /// Index of the program header.
        index: usize,
    },
    /// A `PT_LOAD` segment has `p_filesz > p_memsz`.
    SegmentFileSizeExceedsMemorySize {
        /// Index of the program header.
        index: usize,
    },
    /// A `PT_LOAD` segment's `p_vaddr + p_memsz` overflows.
    SegmentAddressOverflow {
        /// Index of the program header.
        index: usize,
    },
    /// No `PT_LOAD` segment at all.
    NoLoadableSegments,
}

impl ElfError {
    /// True for the errors that mean "the file is cut short", so a caller can print
    /// "kernel ELF truncated: ..." rather than "kernel ELF: ...".
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            ElfError::HeaderTruncated
                | ElfError::ProgramHeadersTruncated
                | ElfError::SegmentTruncated { .. }
        )
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ElfError::HeaderTruncated => write!(f, "truncated: shorter than the 64-byte header"),
            ElfError::BadMagic => write!(f, "bad magic"),
            ElfError::NotElf64 { class } => write!(f, "not 64-bit (class {class})"),
            ElfError::NotLittleEndian { data } => {
                write!(f, "not little-endian (data encoding {data})")
            }
            ElfError::BadVersion => write!(f, "bad ELF version"),
            ElfError::WrongMachine { machine } => {
                write!(f, "not x86_64 (machine {machine})")
            }
            ElfError::NotExecutable { elf_type } => {
                write!(f, "not an executable (type {elf_type}, want 2 = EXEC)")
            }
            ElfError::BadProgramHeaderSize { size } => {
                write!(f, "program header size {size}, want 56")
            }
            ElfError::ProgramHeadersTruncated => {
                write!(f, "truncated: program headers extend past end of file")
            }
            ElfError::SegmentTruncated { index } => {
                write!(f, "truncated: segment {index} extends past end of file")
            }
            ElfError::SegmentFileSizeExceedsMemorySize { index } => {
                write!(f, "segment {index} has file size larger than memory size")
            }
            ElfError::SegmentAddressOverflow { index } => {
                write!(f, "segment {index} address range overflows")
            }
            ElfError::NoLoadableSegments => write!(f, "no PT_LOAD segments"),
        }
    }
}

/// One program header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    /// Index in the program header table.
    pub index: usize,
    /// `p_type` (`PT_LOAD` = 1, ...).
    pub p_type: u32,
    /// `p_flags` (`PF_R`, `PF_W`, `PF_X`).
    pub flags: u32,
    /// Offset of the segment's bytes in the file.
    pub offset: u64,
    /// Virtual address.
    pub vaddr: u64,
    /// Physical address (as linked; loaders usually ignore it).
    pub paddr: u64,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory (the rest past `filesz` is zero).
    pub memsz: u64,
    /// Alignment.
    pub align: u64,
}

impl ProgramHeader {
    /// True for `PT_LOAD`.
    pub fn is_load(&self) -> bool {
        self.p_type == PT_LOAD
    }

    /// True if `PF_W` is set.
    pub fn is_writable(&self) -> bool {
        self.flags & PF_W != 0
    }

    /// True if `PF_X` is set.
    pub fn is_executable(&self) -> bool {
        self.flags & PF_X != 0
    }

    /// One past the last virtual address (checked at parse time for `PT_LOAD`).
    pub fn vaddr_end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// A checked ELF64 x86_64 executable, borrowed from its bytes.
#[derive(Debug, Clone, Copy)]
pub struct ElfFile<'a> {
    bytes: &'a [u8],
    entry: u64,
    phoff: usize,
    phnum: usize,
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(raw)
}

impl<'a> ElfFile<'a> {
    /// Checks the header, the program header table and every `PT_LOAD` segment.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ElfError> {
        if bytes.len() >= 4 && bytes[..4] != *b"\x7fELF" {
            return Err(ElfError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(if b"\x7fELF".starts_with(bytes) || bytes.len() >= 4 {
                ElfError::HeaderTruncated
            } else {
                ElfError::BadMagic
            });
        }
        if bytes[4] != 2 {
            return Err(ElfError::NotElf64 { class: bytes[4] });
        }
        if bytes[5] != 1 {
            return Err(ElfError::NotLittleEndian { data: bytes[5] });
        }
        if bytes[6] != 1 || u32_at(bytes, 20) != 1 {
            return Err(ElfError::BadVersion);
        }
        let elf_type = u16_at(bytes, 16);
        let machine = u16_at(bytes, 18);
        if machine != MACHINE_X86_64 {
            return Err(ElfError::WrongMachine { machine });
        }
        if elf_type != TYPE_EXEC {
            return Err(ElfError::NotExecutable { elf_type });
        }
        let entry = u64_at(bytes, 24);
        let phoff = u64_at(bytes, 32);
        let phentsize = u16_at(bytes, 54);
        let phnum = usize::from(u16_at(bytes, 56));
        if phnum > 0 && usize::from(phentsize) != PROGRAM_HEADER_LEN {
            return Err(ElfError::BadProgramHeaderSize { size: phentsize });
        }
        let table_len = phnum * PROGRAM_HEADER_LEN;
        let phoff = usize::try_from(phoff).map_err(|_| ElfError::ProgramHeadersTruncated)?;
        let table_end = phoff
            .checked_add(table_len)
            .ok_or(ElfError::ProgramHeadersTruncated)?;
        if table_end > bytes.len() {
            return Err(ElfError::ProgramHeadersTruncated);
        }
        let elf = ElfFile {
            bytes,
            entry,
            phoff,
            phnum,
        };
        let mut loads = 0;
        for header in elf.program_headers().filter(ProgramHeader::is_load) {
            loads += 1;
            let index = header.index;
            let file_end = header.offset.checked_add(header.filesz);
            if file_end.is_none_or(|end| end > bytes.len() as u64) {
                return Err(ElfError::SegmentTruncated { index });
            }
            if header.filesz > header.memsz {
                return Err(ElfError::SegmentFileSizeExceedsMemorySize { index });
            }
            if header.vaddr.checked_add(header.memsz).is_none() {
                return Err(ElfError::SegmentAddressOverflow { index });
            }
        }
        if loads == 0 {
            return Err(ElfError::NoLoadableSegments);
        }
        Ok(elf)
    }

    /// The entry point (`e_entry`).
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// All program headers, in table order.
    pub fn program_headers(&self) -> impl Iterator<Item = ProgramHeader> + 'a {
        let bytes = self.bytes;
        let phoff = self.phoff;
        (0..self.phnum).map(move |index| {
            let at = phoff + index * PROGRAM_HEADER_LEN;
            ProgramHeader {
                index,
                p_type: u32_at(bytes, at),
                flags: u32_at(bytes, at + 4),
                offset: u64_at(bytes, at + 8),
                vaddr: u64_at(bytes, at + 16),
                paddr: u64_at(bytes, at + 24),
                filesz: u64_at(bytes, at + 32),
                memsz: u64_at(bytes, at + 40),
                align: u64_at(bytes, at + 48),
            }
        })
    }

    /// The `PT_LOAD` program headers, in table order (at least one).
    pub fn load_segments(&self) -> impl Iterator<Item = ProgramHeader> + 'a {
        self.program_headers().filter(ProgramHeader::is_load)
    }

    /// The file bytes of a `PT_LOAD` segment of this file (`filesz` long).
    ///
    /// # Panics
    /// If `segment` is not a `PT_LOAD` header of this file (bounds were checked at parse time
    /// for those only).
    pub fn segment_data(&self, segment: &ProgramHeader) -> &'a [u8] {
        let start = segment.offset as usize;
        &self.bytes[start..start + segment.filesz as usize]
    }

    /// Lowest `p_vaddr` and highest `p_vaddr + p_memsz` over the `PT_LOAD` segments.
    pub fn load_bounds(&self) -> (u64, u64) {
        self.load_segments()
            .fold((u64::MAX, 0), |(low, high), segment| {
                (low.min(segment.vaddr), high.max(segment.vaddr_end()))
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    /// Builds a minimal valid ELF: header + `segments` program headers + their data.
    /// Each segment is (flags, vaddr, data, memsz).
    pub(crate) fn build_elf(entry: u64, segments: &[(u32, u64, &[u8], u64)]) -> Vec<u8> {
        let mut out = std::vec![0u8; HEADER_LEN];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[16..18].copy_from_slice(&TYPE_EXEC.to_le_bytes());
        out[18..20].copy_from_slice(&MACHINE_X86_64.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&(HEADER_LEN as u64).to_le_bytes());
        out[52..54].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out[54..56].copy_from_slice(&(PROGRAM_HEADER_LEN as u16).to_le_bytes());
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let mut data_offset = HEADER_LEN + segments.len() * PROGRAM_HEADER_LEN;
        for &(flags, vaddr, data, memsz) in segments {
            let mut ph = [0u8; PROGRAM_HEADER_LEN];
            ph[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&(data_offset as u64).to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[24..32].copy_from_slice(&vaddr.to_le_bytes());
            ph[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
            ph[40..48].copy_from_slice(&memsz.to_le_bytes());
            ph[48..56].copy_from_slice(&4096u64.to_le_bytes());
            out.extend_from_slice(&ph);
            data_offset += data.len();
        }
        for &(_, _, data, _) in segments {
            out.extend_from_slice(data);
        }
        out
    }

    const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

    fn sample() -> Vec<u8> {
        build_elf(
            KERNEL_BASE + 0x10,
            &[
                (PF_R | PF_X, KERNEL_BASE, b"code", 4),
                (PF_R | PF_W, KERNEL_BASE + 0x1000, b"data", 0x2000),
            ],
        )
    }

    #[test]
    fn parses_entry_and_load_segments() {
        let bytes = sample();
        let elf = ElfFile::parse(&bytes).unwrap();
        assert_eq!(elf.entry(), KERNEL_BASE + 0x10);
        let segments: Vec<_> = elf.load_segments().collect();
        assert_eq!(segments.len(), 2);
        assert!(segments[0].is_executable() && !segments[0].is_writable());
        assert!(segments[1].is_writable() && !segments[1].is_executable());
        assert_eq!(elf.segment_data(&segments[0]), b"code");
        assert_eq!(elf.segment_data(&segments[1]), b"data");
        assert_eq!(elf.load_bounds(), (KERNEL_BASE, KERNEL_BASE + 0x3000));
    }

    #[test]
    fn rejects_bad_magic() {
        let mut bytes = sample();
        bytes[0] = 0;
        assert_eq!(ElfFile::parse(&bytes).unwrap_err(), ElfError::BadMagic);
        assert_eq!(ElfFile::parse(b"MZ").unwrap_err(), ElfError::BadMagic);
        assert_eq!(std::format!("{}", ElfError::BadMagic), "bad magic");
    }

    #[test]
    fn rejects_short_header() {
        let bytes = sample();
        let error = ElfFile::parse(&bytes[..40]).unwrap_err();
        assert_eq!(error, ElfError::HeaderTruncated);
        assert!(error.is_truncation());
        assert_eq!(ElfFile::parse(b"").unwrap_err(), ElfError::HeaderTruncated);
    }

    #[test]
    fn rejects_32_bit_class() {
        let mut bytes = sample();
        bytes[4] = 1;
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::NotElf64 { class: 1 }
        );
    }

    #[test]
    fn rejects_big_endian() {
        let mut bytes = sample();
        bytes[5] = 2;
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::NotLittleEndian { data: 2 }
        );
    }

    #[test]
    fn rejects_bad_version() {
        let mut bytes = sample();
        bytes[20] = 2;
        assert_eq!(ElfFile::parse(&bytes).unwrap_err(), ElfError::BadVersion);
    }

    #[test]
    fn rejects_other_machines() {
        let mut bytes = sample();
        bytes[18] = 183; // aarch64
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::WrongMachine { machine: 183 }
        );
    }

    #[test]
    fn rejects_shared_objects() {
        let mut bytes = sample();
        bytes[16] = 3;
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::NotExecutable { elf_type: 3 }
        );
    }

    #[test]
    fn rejects_odd_program_header_size() {
        let mut bytes = sample();
        bytes[54] = 32;
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::BadProgramHeaderSize { size: 32 }
        );
    }

    #[test]
    fn rejects_program_headers_past_end() {
        let bytes = sample();
        assert_eq!(
            ElfFile::parse(&bytes[..HEADER_LEN + 60]).unwrap_err(),
            ElfError::ProgramHeadersTruncated
        );
        let mut huge = sample();
        huge[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            ElfFile::parse(&huge).unwrap_err(),
            ElfError::ProgramHeadersTruncated
        );
    }

    #[test]
    fn rejects_segment_past_end_and_names_it() {
        let bytes = sample();
        let error = ElfFile::parse(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(error, ElfError::SegmentTruncated { index: 1 });
        assert!(error.is_truncation());
        assert_eq!(
            std::format!("{error}"),
            "truncated: segment 1 extends past end of file"
        );
    }

    #[test]
    fn rejects_file_size_above_memory_size() {
        let bytes = build_elf(KERNEL_BASE, &[(PF_R, KERNEL_BASE, b"abcd", 2)]);
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::SegmentFileSizeExceedsMemorySize { index: 0 }
        );
    }

    #[test]
    fn rejects_address_overflow() {
        let bytes = build_elf(0, &[(PF_R, u64::MAX - 1, b"", 4)]);
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::SegmentAddressOverflow { index: 0 }
        );
    }

    #[test]
    fn rejects_no_load_segments() {
        let bytes = build_elf(0, &[]);
        assert_eq!(
            ElfFile::parse(&bytes).unwrap_err(),
            ElfError::NoLoadableSegments
        );
    }
}
