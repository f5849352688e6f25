//! What the loader was given, whichever way it was entered: command line, firmware memory
//! map, modules, RSDP, and the physical ranges of the boot structures themselves (which must
//! not be reused before they have been read).

use crate::fixed::FixedVec;
use crate::memmap::{FirmwareMap, Range};

/// Most modules the loader looks at.
pub const MAX_MODULES: usize = 16;
/// Most boot-structure ranges the loader protects.
pub const MAX_BOOT_RANGES: usize = 8 + MAX_MODULES;

/// Read access to physical memory below 4 GiB (identity-mapped in the loader; a buffer in
/// host tests).
pub trait PhysicalMemory {
    /// `len` bytes at physical `addr`, or `None` if that is not readable.
    fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]>;

    /// Little-endian u32 at `addr`.
    fn u32_at(&self, addr: u64) -> Option<u32> {
        let raw = self.bytes(addr, 4)?;
        Some(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    /// Little-endian u64 at `addr`.
    fn u64_at(&self, addr: u64) -> Option<u64> {
        let raw = self.bytes(addr, 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(raw);
        Some(u64::from_le_bytes(word))
    }

    /// The NUL-terminated string at `addr` (at most `max` bytes are searched).
    fn c_string(&self, addr: u64, max: usize) -> Option<&[u8]> {
        // Find the readable length by halving: the string may sit near the end of memory.
        let mut len = max;
        let bytes = loop {
            if let Some(bytes) = self.bytes(addr, len) {
                break bytes;
            }
            if len == 0 {
                return None;
            }
            len /= 2;
        };
        let end = bytes.iter().position(|&b| b == 0)?;
        Some(&bytes[..end])
    }
}

/// Longest command line or module string the loader reads.
pub const MAX_STRING: usize = 4096;

/// A module as the boot protocol describes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputModule {
    /// Physical range of its contents.
    pub range: Range,
    /// Physical address of its string (NUL-terminated), 0 if none.
    pub string_addr: u64,
}

/// Which protocol entered the loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryProtocol {
    /// Xen PVH (QEMU `-kernel`).
    Pvh,
    /// Multiboot2 (GRUB).
    Multiboot2,
}

/// Everything the loader was handed.
#[derive(Debug, Clone, Default)]
pub struct BootInputs {
    /// Physical address of the command line (0: none).
    pub cmdline_addr: u64,
    /// The firmware memory map.
    pub memory: FirmwareMap,
    /// The modules, in order.
    pub modules: FixedVec<InputModule, MAX_MODULES>,
    /// Physical address of the RSDP, if the protocol gave one.
    pub rsdp: Option<u64>,
    /// A copy of the RSDP handed over inside the boot information (multiboot2), to be used
    /// when the firmware's own cannot be found.
    pub rsdp_copy: Option<Range>,
    /// The boot structures (info block, module list, strings, memory map table).
    pub boot_ranges: FixedVec<Range, MAX_BOOT_RANGES>,
    /// True if the firmware is UEFI (multiboot2 EFI tags).
    pub uefi: bool,
}

/// Why the boot information cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootInfoError {
    /// PVH: `hvm_start_info` magic is wrong.
    BadPvhMagic {
        /// The value found.
        found: u32,
    },
    /// Multiboot2: `eax` is not the bootloader magic.
    BadMultibootMagic {
        /// The value found.
        found: u32,
    },
    /// A structure lies outside readable memory or is malformed.
    Unreadable(&'static str),
    /// No memory map.
    NoMemoryMap,
    /// More firmware memory regions than the loader keeps.
    TooManyRegions,
    /// More modules than the loader keeps.
    TooManyModules,
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootInfoError::BadPvhMagic { found } => write!(
                f,
                "PVH start info magic is {found:#x}, want 0x336ec578 (not entered through PVH?)"
            ),
            BootInfoError::BadMultibootMagic { found } => {
                write!(f, "multiboot2 magic in eax is {found:#x}, want 0x36d76289")
            }
            BootInfoError::Unreadable(what) => write!(f, "boot information: {what} is unreadable"),
            BootInfoError::NoMemoryMap => write!(f, "boot information has no memory map"),
            BootInfoError::TooManyRegions => write!(
                f,
                "firmware memory map has more than {} entries",
                crate::memmap::MAX_FIRMWARE_REGIONS
            ),
            BootInfoError::TooManyModules => {
                write!(f, "more than {MAX_MODULES} boot modules")
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::PhysicalMemory;
    use std::vec::Vec;

    /// Physical memory `[base, base + bytes.len())` in a vector.
    pub(crate) struct HostMemory {
        pub base: u64,
        pub bytes: Vec<u8>,
    }

    impl HostMemory {
        pub(crate) fn new(base: u64, len: usize) -> Self {
            HostMemory {
                base,
                bytes: std::vec![0; len],
            }
        }
        pub(crate) fn put(&mut self, addr: u64, data: &[u8]) {
            let at = (addr - self.base) as usize;
            self.bytes[at..at + data.len()].copy_from_slice(data);
        }
    }

    impl PhysicalMemory for HostMemory {
        fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
            let at = usize::try_from(addr.checked_sub(self.base)?).ok()?;
            self.bytes.get(at..at.checked_add(len)?)
        }
    }

    #[test]
    fn c_string_near_the_end_of_memory() {
        let mut memory = HostMemory::new(0x1000, 64);
        memory.put(0x1000 + 60, b"abc\0");
        assert_eq!(memory.c_string(0x1000 + 60, 4096), Some(&b"abc"[..]));
        assert_eq!(memory.c_string(0x9000, 16), None);
    }
}
