//! The Xen PVH boot ABI as QEMU implements it: `ebx` points to `hvm_start_info`.
//!
//! ```text
//! hvm_start_info (56 bytes, version 1):
//!   0 magic u32 (0x336ec578)   4 version u32   8 flags u32   12 nr_modules u32
//!  16 modlist_paddr u64        24 cmdline_paddr u64          32 rsdp_paddr u64
//!  40 memmap_paddr u64         48 memmap_entries u32         52 reserved u32
//! module entry (32 bytes): paddr u64, size u64, cmdline_paddr u64, reserved u64
//! memmap entry (24 bytes): addr u64, size u64, type u32 (E820), reserved u32
//! ```

use crate::bootinfo::{BootInfoError, BootInputs, InputModule, PhysicalMemory, MAX_STRING};
use crate::memmap::{MemoryKind, Range, Region};

/// `hvm_start_info.magic`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;
const START_INFO_LEN: usize = 56;
const MODULE_ENTRY_LEN: u64 = 32;
const MEMMAP_ENTRY_LEN: u64 = 24;

/// Parses the start info at `info`.
pub fn parse(memory: &impl PhysicalMemory, info: u64) -> Result<BootInputs, BootInfoError> {
    let magic = memory
        .u32_at(info)
        .ok_or(BootInfoError::Unreadable("PVH start info"))?;
    if magic != START_INFO_MAGIC {
        return Err(BootInfoError::BadPvhMagic { found: magic });
    }
    let header = memory
        .bytes(info, START_INFO_LEN)
        .ok_or(BootInfoError::Unreadable("PVH start info"))?;
    let word = |at: usize| {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(raw)
    };
    let half = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = half(4);
    let module_count = u64::from(half(12));
    let modlist = word(16);
    let cmdline = word(24);
    let rsdp = word(32);

    let mut inputs = BootInputs {
        cmdline_addr: cmdline,
        rsdp: (rsdp != 0).then_some(rsdp),
        ..BootInputs::default()
    };
    let protect = |inputs: &mut BootInputs, range: Range| {
        if !range.is_empty() {
            inputs
                .boot_ranges
                .push(range)
                .map_err(|_| BootInfoError::TooManyModules)
        } else {
            Ok(())
        }
    };
    protect(&mut inputs, Range::new(info, START_INFO_LEN as u64))?;
    if cmdline != 0 {
        let len = memory.c_string(cmdline, MAX_STRING).map_or(0, <[u8]>::len);
        protect(&mut inputs, Range::new(cmdline, len as u64 + 1))?;
    }

    if module_count > 0 {
        let table_len = module_count * MODULE_ENTRY_LEN;
        protect(&mut inputs, Range::new(modlist, table_len))?;
        for index in 0..module_count {
            let entry = modlist + index * MODULE_ENTRY_LEN;
            let (Some(paddr), Some(size), Some(string)) = (
                memory.u64_at(entry),
                memory.u64_at(entry + 8),
                memory.u64_at(entry + 16),
            ) else {
                return Err(BootInfoError::Unreadable("PVH module list"));
            };
            let module = InputModule {
                range: Range::new(paddr, size),
                string_addr: string,
            };
            inputs
                .modules
                .push(module)
                .map_err(|_| BootInfoError::TooManyModules)?;
            protect(&mut inputs, module.range)?;
        }
    }

    // Version 0 has no memory map fields.
    let (memmap, entries) = if version >= 1 {
        (word(40), u64::from(half(48)))
    } else {
        (0, 0)
    };
    if memmap == 0 || entries == 0 {
        return Err(BootInfoError::NoMemoryMap);
    }
    protect(&mut inputs, Range::new(memmap, entries * MEMMAP_ENTRY_LEN))?;
    for index in 0..entries {
        let entry = memmap + index * MEMMAP_ENTRY_LEN;
        let (Some(base), Some(size), Some(kind)) = (
            memory.u64_at(entry),
            memory.u64_at(entry + 8),
            memory.u32_at(entry + 16),
        ) else {
            return Err(BootInfoError::Unreadable("PVH memory map"));
        };
        if size == 0 {
            continue; // qboot ends its table with an all-zero entry
        }
        inputs
            .memory
            .push(Region {
                range: Range::new(base, size),
                kind: MemoryKind::from_e820(kind),
            })
            .map_err(|_| BootInfoError::TooManyRegions)?;
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootinfo::tests::HostMemory;

    fn le64(v: u64) -> [u8; 8] {
        v.to_le_bytes()
    }

    /// A qboot-like layout: start info at 0x6000, module list at 0x7b7c, cmdline, memmap.
    fn sample() -> HostMemory {
        let mut memory = HostMemory::new(0, 0x10000);
        let info = 0x6000;
        memory.put(info, &START_INFO_MAGIC.to_le_bytes());
        memory.put(info + 4, &1u32.to_le_bytes());
        memory.put(info + 12, &1u32.to_le_bytes());
        memory.put(info + 16, &le64(0x7b7c));
        memory.put(info + 24, &le64(0x8000));
        memory.put(info + 32, &le64(0xf5a40));
        memory.put(info + 40, &le64(0x9000));
        memory.put(info + 48, &3u32.to_le_bytes());
        memory.put(0x7b7c, &le64(0x7f0_0000));
        memory.put(0x7b7c + 8, &le64(0x1234));
        memory.put(0x8000, b"exit verbose\0");
        // Unsorted, with a zero entry at the end.
        memory.put(0x9000, &le64(0x10_0000));
        memory.put(0x9008, &le64(0x7f0_0000));
        memory.put(0x9010, &1u32.to_le_bytes());
        memory.put(0x9018, &le64(0));
        memory.put(0x9020, &le64(0x9fc00));
        memory.put(0x9028, &1u32.to_le_bytes());
        memory
    }

    #[test]
    fn parses_modules_cmdline_memory_and_rsdp() {
        let memory = sample();
        let inputs = parse(&memory, 0x6000).unwrap();
        assert_eq!(
            memory.c_string(inputs.cmdline_addr, 100),
            Some(&b"exit verbose"[..])
        );
        assert_eq!(inputs.rsdp, Some(0xf5a40));
        assert_eq!(inputs.modules.len(), 1);
        assert_eq!(inputs.modules[0].range, Range::new(0x7f0_0000, 0x1234));
        assert_eq!(inputs.memory.len(), 2, "zero entry dropped");
        assert_eq!(inputs.memory[1].range, Range::new(0, 0x9fc00));
        assert!(inputs.boot_ranges.contains(&Range::new(0x7b7c, 32)));
        assert!(inputs.boot_ranges.contains(&Range::new(0x8000, 13)));
        assert!(inputs.boot_ranges.contains(&Range::new(0x7f0_0000, 0x1234)));
    }

    #[test]
    fn wrong_magic_is_reported_with_its_value() {
        let mut memory = sample();
        memory.put(0x6000, &0x2bad_b002u32.to_le_bytes());
        assert_eq!(
            parse(&memory, 0x6000).unwrap_err(),
            BootInfoError::BadPvhMagic { found: 0x2bad_b002 }
        );
    }

    #[test]
    fn missing_memory_map_is_an_error() {
        let mut memory = sample();
        memory.put(0x6000 + 48, &0u32.to_le_bytes());
        assert_eq!(
            parse(&memory, 0x6000).unwrap_err(),
            BootInfoError::NoMemoryMap
        );
    }

    #[test]
    fn unreadable_structures_are_errors_not_panics() {
        let memory = sample();
        assert!(parse(&memory, 0xfff0).is_err());
        assert!(parse(&memory, 0x10_0000).is_err());
        let mut bad_list = sample();
        bad_list.put(0x6000 + 16, &le64(0xfff0));
        assert_eq!(
            parse(&bad_list, 0x6000).unwrap_err(),
            BootInfoError::Unreadable("PVH module list")
        );
    }
}
