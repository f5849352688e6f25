//! Multiboot2 as GRUB implements it: `eax` = 0x36d76289, `ebx` = the boot information,
//! a list of 8-byte-aligned tags after an 8-byte header (total_size u32, reserved u32).
//!
//! Tags used: 1 command line, 3 module (mod_start u32, mod_end u32, string), 6 memory map
//! (entry_size u32, entry_version u32, entries of base u64, length u64, type u32), 11/12 EFI
//! system table (only to report UEFI firmware), 14/15 ACPI old/new RSDP (a copy of it).

use crate::bootinfo::{BootInfoError, BootInputs, InputModule, PhysicalMemory};
use crate::memmap::{MemoryKind, Range, Region};

/// The magic GRUB leaves in `eax`.
pub const BOOTLOADER_MAGIC: u32 = 0x36d7_6289;
/// The header magic.
pub const HEADER_MAGIC: u32 = 0xe852_50d6;
/// Largest boot information the loader accepts.
const MAX_INFO_LEN: u32 = 1 << 20;

const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_MODULE: u32 = 3;
const TAG_MEMORY_MAP: u32 = 6;
const TAG_EFI32: u32 = 11;
const TAG_EFI64: u32 = 12;
const TAG_ACPI_OLD: u32 = 14;
const TAG_ACPI_NEW: u32 = 15;

/// Parses the boot information at `info`, entered with `eax` = `magic`.
pub fn parse(
    memory: &impl PhysicalMemory,
    magic: u32,
    info: u64,
) -> Result<BootInputs, BootInfoError> {
    if magic != BOOTLOADER_MAGIC {
        return Err(BootInfoError::BadMultibootMagic { found: magic });
    }
    let total = memory
        .u32_at(info)
        .ok_or(BootInfoError::Unreadable("multiboot2 information"))?;
    if !(16..=MAX_INFO_LEN).contains(&total) {
        return Err(BootInfoError::Unreadable("multiboot2 information"));
    }
    let block = memory
        .bytes(info, total as usize)
        .ok_or(BootInfoError::Unreadable("multiboot2 information"))?;
    let mut inputs = BootInputs::default();
    inputs
        .boot_ranges
        .push(Range::new(info, u64::from(total)))
        .map_err(|_| BootInfoError::TooManyModules)?;
    let u32_at = |at: usize| -> Option<u32> {
        let raw = block.get(at..at + 4)?;
        Some(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    };
    let u64_at = |at: usize| -> Option<u64> {
        let raw = block.get(at..at + 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(raw);
        Some(u64::from_le_bytes(word))
    };
    let unreadable = BootInfoError::Unreadable("multiboot2 tag list");
    let mut at = 8usize;
    let mut saw_memory_map = false;
    loop {
        let (Some(kind), Some(size)) = (u32_at(at), u32_at(at + 4)) else {
            return Err(unreadable);
        };
        let size = size as usize;
        if kind == TAG_END {
            break;
        }
        if size < 8 || at + size > block.len() {
            return Err(unreadable);
        }
        let tag_addr = info + at as u64;
        match kind {
            TAG_CMDLINE => inputs.cmdline_addr = tag_addr + 8,
            TAG_MODULE => {
                let (Some(start), Some(end)) = (u32_at(at + 8), u32_at(at + 12)) else {
                    return Err(unreadable);
                };
                let range = Range {
                    start: u64::from(start),
                    end: u64::from(end.max(start)),
                };
                inputs
                    .modules
                    .push(InputModule {
                        range,
                        string_addr: tag_addr + 16,
                    })
                    .map_err(|_| BootInfoError::TooManyModules)?;
                inputs
                    .boot_ranges
                    .push(range)
                    .map_err(|_| BootInfoError::TooManyModules)?;
            }
            TAG_MEMORY_MAP => {
                saw_memory_map = true;
                let entry_size = u32_at(at + 8).ok_or(unreadable)? as usize;
                if entry_size < 24 {
                    return Err(unreadable);
                }
                let mut entry = at + 16;
                while entry + entry_size <= at + size {
                    let (Some(base), Some(length), Some(kind)) =
                        (u64_at(entry), u64_at(entry + 8), u32_at(entry + 16))
                    else {
                        return Err(unreadable);
                    };
                    if length > 0 {
                        inputs
                            .memory
                            .push(Region {
                                range: Range::new(base, length),
                                kind: MemoryKind::from_e820(kind),
                            })
                            .map_err(|_| BootInfoError::TooManyRegions)?;
                    }
                    entry += entry_size;
                }
            }
            TAG_EFI32 | TAG_EFI64 => inputs.uefi = true,
            // The new (ACPI 2+) copy wins over the old one.
            TAG_ACPI_OLD | TAG_ACPI_NEW if inputs.rsdp_copy.is_none() || kind == TAG_ACPI_NEW => {
                inputs.rsdp_copy = Some(Range::new(tag_addr + 8, size as u64 - 8));
            }
            _ => {}
        }
        at += size.next_multiple_of(8);
    }
    if !saw_memory_map {
        return Err(BootInfoError::NoMemoryMap);
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootinfo::tests::HostMemory;
    use std::vec::Vec;

    fn tag(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((kind).to_le_bytes());
        out.extend(((8 + body.len()) as u32).to_le_bytes());
        out.extend(body);
        out.resize(out.len().next_multiple_of(8), 0);
        out
    }

    fn info(tags: &[Vec<u8>]) -> Vec<u8> {
        let mut body: Vec<u8> = tags.concat();
        body.extend(tag(TAG_END, &[]));
        let mut out = Vec::new();
        out.extend(((body.len() + 8) as u32).to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(body);
        out
    }

    fn memory_map_tag() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(24u32.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        for (base, len, kind) in [
            (0u64, 0x9fc00u64, 1u32),
            (0x10_0000, 0x7ee_0000, 1),
            (0xfffc_0000, 0x4_0000, 2),
        ] {
            body.extend(base.to_le_bytes());
            body.extend(len.to_le_bytes());
            body.extend(kind.to_le_bytes());
            body.extend(0u32.to_le_bytes());
        }
        tag(TAG_MEMORY_MAP, &body)
    }

    fn module_tag(start: u32, end: u32, name: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(start.to_le_bytes());
        body.extend(end.to_le_bytes());
        body.extend(name.as_bytes());
        body.push(0);
        tag(TAG_MODULE, &body)
    }

    #[test]
    fn parses_grub_style_information() {
        let block = info(&[
            tag(TAG_CMDLINE, b"exit\0"),
            module_tag(0x20_0000, 0x20_1000, "kernel"),
            module_tag(0x20_1000, 0x20_1800, "archive"),
            memory_map_tag(),
            tag(TAG_ACPI_OLD, &[b'R'; 20]),
            tag(TAG_ACPI_NEW, &[b'X'; 36]),
        ]);
        let mut memory = HostMemory::new(0x1_0000, 0x1000);
        memory.put(0x1_0000, &block);
        let inputs = parse(&memory, BOOTLOADER_MAGIC, 0x1_0000).unwrap();
        assert_eq!(memory.c_string(inputs.cmdline_addr, 64), Some(&b"exit"[..]));
        assert_eq!(inputs.modules.len(), 2);
        assert_eq!(inputs.modules[1].range, Range::new(0x20_1000, 0x800));
        assert_eq!(
            memory.c_string(inputs.modules[1].string_addr, 64),
            Some(&b"archive"[..])
        );
        assert_eq!(inputs.memory.len(), 3);
        assert_eq!(inputs.memory[2].kind, MemoryKind::Reserved);
        assert_eq!(inputs.rsdp_copy.unwrap().len(), 36);
        assert!(!inputs.uefi);
    }

    #[test]
    fn wrong_eax_is_reported() {
        let memory = HostMemory::new(0, 16);
        assert_eq!(
            parse(&memory, 0x2bad_b002, 0).unwrap_err(),
            BootInfoError::BadMultibootMagic { found: 0x2bad_b002 }
        );
    }

    #[test]
    fn missing_memory_map_is_an_error() {
        let block = info(&[tag(TAG_CMDLINE, b"\0")]);
        let mut memory = HostMemory::new(0, 0x1000);
        memory.put(0, &block);
        assert_eq!(
            parse(&memory, BOOTLOADER_MAGIC, 0).unwrap_err(),
            BootInfoError::NoMemoryMap
        );
    }

    #[test]
    fn malformed_tags_are_errors_not_panics() {
        let mut block = info(&[memory_map_tag()]);
        block[12..16].copy_from_slice(&4u32.to_le_bytes()); // tag size below 8
        let mut memory = HostMemory::new(0, 0x1000);
        memory.put(0, &block);
        assert!(parse(&memory, BOOTLOADER_MAGIC, 0).is_err());
        let mut truncated = info(&[memory_map_tag()]);
        let len = truncated.len() as u32 - 8;
        truncated[0..4].copy_from_slice(&len.to_le_bytes());
        let mut memory = HostMemory::new(0, 0x1000);
        memory.put(0, &truncated);
        assert!(parse(&memory, BOOTLOADER_MAGIC, 0).is_err());
    }
}
