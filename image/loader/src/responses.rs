//! Limine responses: laid out in a buffer of bootloader-reclaimable memory (the "arena"),
//! then hooked into the kernel's requests.
//!
//! Everything here works on byte slices: the arena is a `&mut [u8]` with the physical
//! address it lives at, the kernel image is a `&mut [u8]` of the loaded kernel. Pointers
//! written are HHDM virtual addresses, as the protocol wants.

use crate::memmap::{MemoryKind, Region};
use crate::requests::{read_u64, FoundRequests, RequestKind, RESPONSE_FIELD_OFFSET};

/// The loader's name in the bootloader info response.
pub const BOOTLOADER_NAME: &str = "hatchery-loader";
/// The loader's version in the bootloader info response.
pub const BOOTLOADER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Path reported for the kernel file.
pub const KERNEL_PATH: &str = "/boot/hatchery";
/// Path reported for the boot archive module.
pub const ARCHIVE_PATH: &str = "/boot/archive.cpio";
/// String (cmdline) reported for the boot archive module.
pub const ARCHIVE_STRING: &str = "archive";
/// Size of a `struct limine_file`.
pub const FILE_STRUCT_LEN: usize = 112;
/// Size of a `struct limine_memmap_entry`.
pub const MEMMAP_ENTRY_LEN: usize = 24;
/// Stack size when the kernel does not ask (the protocol's minimum).
pub const DEFAULT_STACK_SIZE: u64 = 64 * 1024;
/// `LIMINE_FIRMWARE_TYPE_X86BIOS`.
pub const FIRMWARE_X86_BIOS: u64 = 0;
/// `LIMINE_FIRMWARE_TYPE_UEFI64`.
pub const FIRMWARE_UEFI64: u64 = 2;
/// `LIMINE_PAGING_MODE_X86_64_4LVL`.
pub const PAGING_MODE_4LEVEL: u64 = 0;

/// The arena is too small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaFull;

/// A bump allocator over a byte buffer at a known physical address.
pub struct Arena<'a> {
    bytes: &'a mut [u8],
    phys: u64,
    hhdm: u64,
    used: usize,
}

impl<'a> Arena<'a> {
    /// An arena over `bytes`, which live at physical `phys`; pointers get `hhdm` added.
    pub fn new(bytes: &'a mut [u8], phys: u64, hhdm: u64) -> Self {
        Arena {
            bytes,
            phys,
            hhdm,
            used: 0,
        }
    }

    /// Reserves `len` zeroed bytes aligned to 8; returns their offset and HHDM address.
    pub fn allocate(&mut self, len: usize) -> Result<(usize, u64), ArenaFull> {
        let start = self.used.next_multiple_of(8);
        let end = start.checked_add(len).ok_or(ArenaFull)?;
        self.bytes.get_mut(start..end).ok_or(ArenaFull)?.fill(0);
        self.used = end;
        Ok((start, self.hhdm + self.phys + start as u64))
    }

    /// Writes the u64 `words` at `offset`.
    pub fn write_words(&mut self, offset: usize, words: &[u64]) {
        for (i, word) in words.iter().enumerate() {
            let at = offset + 8 * i;
            self.bytes[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
    }

    /// A response made of `words`; its HHDM address.
    pub fn words(&mut self, words: &[u64]) -> Result<u64, ArenaFull> {
        let (offset, virt) = self.allocate(8 * words.len())?;
        self.write_words(offset, words);
        Ok(virt)
    }

    /// A NUL-terminated copy of `bytes` (cut at any NUL inside); its HHDM address.
    pub fn c_string(&mut self, bytes: &[u8]) -> Result<u64, ArenaFull> {
        let bytes = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
        let (offset, virt) = self.allocate(bytes.len() + 1)?;
        self.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
        Ok(virt)
    }

    /// A copy of raw bytes (e.g. an RSDP); its physical address.
    pub fn copy_bytes(&mut self, bytes: &[u8]) -> Result<u64, ArenaFull> {
        let (offset, _) = self.allocate(bytes.len())?;
        self.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
        Ok(self.phys + offset as u64)
    }

    /// A `struct limine_file`; its HHDM address.
    pub fn file(&mut self, file: &LoadedFile, cmdline: &[u8]) -> Result<u64, ArenaFull> {
        let path = self.c_string(file.path.as_bytes())?;
        let string = self.c_string(cmdline)?;
        let (offset, virt) = self.allocate(FILE_STRUCT_LEN)?;
        // revision, address, size, path, string; the rest (media type, partition, UUIDs)
        // stays zero: "generic media, unknown partition".
        self.write_words(offset, &[0, self.hhdm + file.phys, file.size, path, string]);
        Ok(virt)
    }

    /// Bytes used so far.
    pub fn used(&self) -> usize {
        self.used
    }
}

/// A file the loader placed in memory (page-aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedFile {
    /// Physical address.
    pub phys: u64,
    /// Size in bytes.
    pub size: u64,
    /// Path to report.
    pub path: &'static str,
}

/// What the responses say.
pub struct HandoverFacts<'a> {
    /// HHDM offset.
    pub hhdm: u64,
    /// The final memory map.
    pub memory_map: &'a [Region],
    /// The kernel file.
    pub kernel_file: LoadedFile,
    /// The boot archive, if there is one.
    pub archive: Option<LoadedFile>,
    /// The kernel command line.
    pub cmdline: &'a [u8],
    /// Physical address of the RSDP, if known.
    pub rsdp: Option<u64>,
    /// Physical base of the loaded kernel.
    pub kernel_phys: u64,
    /// Virtual base of the loaded kernel.
    pub kernel_virt: u64,
    /// Firmware type value.
    pub firmware_type: u64,
}

/// One pointer to store into the kernel image: `value` at byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Patch {
    /// Offset into the loaded image.
    pub offset: usize,
    /// The value.
    pub value: u64,
}

/// The patches, at most one per request kind plus two for the base revision tag.
pub type Patches = crate::fixed::FixedVec<Patch, { crate::requests::REQUEST_KINDS + 2 }>;

/// What the kernel asked for beyond "respond": read from the request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestParameters {
    /// Stack size to give (at least [`DEFAULT_STACK_SIZE`]).
    pub stack_size: u64,
    /// Entry point override, if the entry point request is present.
    pub entry_point: Option<u64>,
    /// The paging request's minimum mode (0 = 4-level), if present.
    pub paging_min_mode: u64,
}

/// Reads request bodies from the image: stack size, entry point, paging mode bounds.
pub fn request_parameters(image: &[u8], found: &FoundRequests) -> RequestParameters {
    let field = |kind: RequestKind, word: usize| {
        found
            .offset(kind)
            .and_then(|at| read_u64(image, at + RESPONSE_FIELD_OFFSET + 8 * word))
    };
    let revision = |kind: RequestKind| found.offset(kind).and_then(|at| read_u64(image, at + 32));
    let paging_min_mode = match revision(RequestKind::PagingMode) {
        // Revision 1 adds max_mode and min_mode after mode.
        Some(r) if r >= 1 => field(RequestKind::PagingMode, 3).unwrap_or(0),
        _ => 0,
    };
    RequestParameters {
        stack_size: field(RequestKind::StackSize, 1)
            .unwrap_or(0)
            .max(DEFAULT_STACK_SIZE),
        entry_point: field(RequestKind::EntryPoint, 1),
        paging_min_mode,
    }
}

/// Lays out a response for every request the loader answers and returns the patches that
/// hook them (and the base revision result) into the image.
pub fn build_responses(
    arena: &mut Arena<'_>,
    found: &FoundRequests,
    facts: &HandoverFacts<'_>,
) -> Result<Patches, ArenaFull> {
    let mut patches = Patches::new();
    let mut respond = |kind: RequestKind, value: u64| {
        if let Some(at) = found.offset(kind) {
            // Capacity covers every kind once.
            let _ = patches.push(Patch {
                offset: at + RESPONSE_FIELD_OFFSET,
                value,
            });
        }
    };
    let has = |kind: RequestKind| found.offset(kind).is_some();

    if has(RequestKind::BootloaderInfo) {
        let name = arena.c_string(BOOTLOADER_NAME.as_bytes())?;
        let version = arena.c_string(BOOTLOADER_VERSION.as_bytes())?;
        respond(
            RequestKind::BootloaderInfo,
            arena.words(&[0, name, version])?,
        );
    }
    if has(RequestKind::FirmwareType) {
        respond(
            RequestKind::FirmwareType,
            arena.words(&[0, facts.firmware_type])?,
        );
    }
    if has(RequestKind::StackSize) {
        respond(RequestKind::StackSize, arena.words(&[0])?);
    }
    if has(RequestKind::Hhdm) {
        respond(RequestKind::Hhdm, arena.words(&[0, facts.hhdm])?);
    }
    if has(RequestKind::PagingMode) {
        respond(
            RequestKind::PagingMode,
            arena.words(&[0, PAGING_MODE_4LEVEL])?,
        );
    }
    if has(RequestKind::EntryPoint) {
        respond(RequestKind::EntryPoint, arena.words(&[0])?);
    }
    if has(RequestKind::MemoryMap) {
        let count = facts.memory_map.len();
        let (entries, _) = arena.allocate(count * MEMMAP_ENTRY_LEN)?;
        let (pointers, pointers_virt) = arena.allocate(count * 8)?;
        for (i, region) in facts.memory_map.iter().enumerate() {
            let entry = entries + i * MEMMAP_ENTRY_LEN;
            arena.write_words(
                entry,
                &[region.range.start, region.range.len(), region.kind as u64],
            );
            let entry_virt = facts.hhdm + arena.phys + entry as u64;
            arena.write_words(pointers + 8 * i, &[entry_virt]);
        }
        respond(
            RequestKind::MemoryMap,
            arena.words(&[0, count as u64, pointers_virt])?,
        );
    }
    if has(RequestKind::ExecutableFile) {
        let file = arena.file(&facts.kernel_file, facts.cmdline)?;
        respond(RequestKind::ExecutableFile, arena.words(&[0, file])?);
    }
    if has(RequestKind::Module) {
        let (count, pointers_virt) = match &facts.archive {
            Some(archive) => {
                let file = arena.file(archive, ARCHIVE_STRING.as_bytes())?;
                (1, arena.words(&[file])?)
            }
            // An empty list still gets a valid (non-null) pointer, as Limine gives: a kernel
            // may build a slice from it.
            None => (0, arena.words(&[0])?),
        };
        // Response revision 0: internal modules are not honoured.
        respond(
            RequestKind::Module,
            arena.words(&[0, count, pointers_virt])?,
        );
    }
    if let (true, Some(rsdp)) = (has(RequestKind::Rsdp), facts.rsdp) {
        // Base revision 3 made this address physical; before, it was an HHDM pointer.
        let address = if found.base_revision >= 3 {
            rsdp
        } else {
            rsdp + facts.hhdm
        };
        respond(RequestKind::Rsdp, arena.words(&[0, address])?);
    }
    if has(RequestKind::ExecutableAddress) {
        respond(
            RequestKind::ExecutableAddress,
            arena.words(&[0, facts.kernel_phys, facts.kernel_virt])?,
        );
    }
    if has(RequestKind::ExecutableCmdline) {
        let cmdline = arena.c_string(facts.cmdline)?;
        respond(RequestKind::ExecutableCmdline, arena.words(&[0, cmdline])?);
    }
    if let Some(tag) = found.base_revision_tag {
        // Supported: the third word becomes 0 and the second says which revision we used.
        let _ = patches.push(Patch {
            offset: tag + 8,
            value: found.base_revision,
        });
        let _ = patches.push(Patch {
            offset: tag + 16,
            value: 0,
        });
    }
    Ok(patches)
}

/// Usable memory in the map, in MiB (for the boot line).
pub fn usable_mib(map: &[Region]) -> u64 {
    crate::memmap::total_of_kind(map, MemoryKind::Usable) >> 20
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memmap::Range;
    use crate::requests::tests::{image, request};
    use crate::requests::{scan, BASE_REVISION_MAGIC};
    use std::vec::Vec;

    const HHDM: u64 = 0xffff_8000_0000_0000;
    const ARENA_PHYS: u64 = 0x0020_0000;

    fn apply(image: &mut [u8], patches: &[Patch]) {
        for patch in patches {
            image[patch.offset..patch.offset + 8].copy_from_slice(&patch.value.to_le_bytes());
        }
    }

    /// Reads a u64 from the arena through an HHDM pointer.
    fn deref(arena: &[u8], virt: u64) -> u64 {
        read_u64(arena, (virt - HHDM - ARENA_PHYS) as usize).unwrap()
    }

    fn c_str(arena: &[u8], virt: u64) -> &[u8] {
        let start = (virt - HHDM - ARENA_PHYS) as usize;
        let len = arena[start..].iter().position(|&b| b == 0).unwrap();
        &arena[start..start + len]
    }

    fn facts(map: &[Region]) -> HandoverFacts<'_> {
        HandoverFacts {
            hhdm: HHDM,
            memory_map: map,
            kernel_file: LoadedFile {
                phys: 0x40_0000,
                size: 1234,
                path: KERNEL_PATH,
            },
            archive: Some(LoadedFile {
                phys: 0x50_0000,
                size: 99,
                path: ARCHIVE_PATH,
            }),
            cmdline: b"exit verbose",
            rsdp: Some(0xf5a40),
            kernel_phys: 0x30_0000,
            kernel_virt: 0xffff_ffff_8000_0000,
            firmware_type: FIRMWARE_X86_BIOS,
        }
    }

    fn kernel_image(revision: u64) -> Vec<u8> {
        let mut words = std::vec![BASE_REVISION_MAGIC[0], BASE_REVISION_MAGIC[1], revision];
        for kind in [
            RequestKind::BootloaderInfo,
            RequestKind::Hhdm,
            RequestKind::MemoryMap,
            RequestKind::Module,
            RequestKind::ExecutableFile,
            RequestKind::Rsdp,
            RequestKind::ExecutableAddress,
            RequestKind::ExecutableCmdline,
            RequestKind::Smbios,
        ] {
            words.extend(request(kind, &[]));
        }
        words.extend(request(RequestKind::StackSize, &[0x40000]));
        image(&words)
    }

    fn response(image: &[u8], found: &FoundRequests, kind: RequestKind) -> u64 {
        read_u64(image, found.offset(kind).unwrap() + RESPONSE_FIELD_OFFSET).unwrap()
    }

    #[test]
    fn responses_decode_as_the_limine_structs() {
        let map = [
            Region {
                range: Range::new(0x1000, 0x9e000),
                kind: MemoryKind::Usable,
            },
            Region {
                range: Range::new(0x10_0000, 0x700_0000),
                kind: MemoryKind::Usable,
            },
        ];
        let mut kernel = kernel_image(3);
        let found = scan(&kernel).unwrap();
        let mut buffer = std::vec![0xaau8; 8192];
        let mut arena = Arena::new(&mut buffer, ARENA_PHYS, HHDM);
        let patches = build_responses(&mut arena, &found, &facts(&map)).unwrap();
        apply(&mut kernel, &patches);
        let a = &buffer;

        // Base revision: supported (third word 0), loaded revision in the second.
        assert_eq!(read_u64(&kernel, 8), Some(3));
        assert_eq!(read_u64(&kernel, 16), Some(0));

        let info = response(&kernel, &found, RequestKind::BootloaderInfo);
        assert_eq!(c_str(a, deref(a, info + 8)), b"hatchery-loader");

        let hhdm = response(&kernel, &found, RequestKind::Hhdm);
        assert_eq!(deref(a, hhdm + 8), HHDM);

        let memmap = response(&kernel, &found, RequestKind::MemoryMap);
        assert_eq!(deref(a, memmap + 8), 2);
        let pointers = deref(a, memmap + 16);
        let second = deref(a, pointers + 8);
        assert_eq!(
            [
                deref(a, second),
                deref(a, second + 8),
                deref(a, second + 16)
            ],
            [0x10_0000, 0x700_0000, 0]
        );

        let modules = response(&kernel, &found, RequestKind::Module);
        assert_eq!(deref(a, modules), 0, "module response revision 0");
        assert_eq!(deref(a, modules + 8), 1);
        let file = deref(a, deref(a, modules + 16));
        assert_eq!(deref(a, file + 8), HHDM + 0x50_0000);
        assert_eq!(deref(a, file + 16), 99);
        assert_eq!(c_str(a, deref(a, file + 24)), b"/boot/archive.cpio");
        assert_eq!(c_str(a, deref(a, file + 32)), b"archive");

        let exe = deref(
            a,
            response(&kernel, &found, RequestKind::ExecutableFile) + 8,
        );
        assert_eq!(c_str(a, deref(a, exe + 24)), b"/boot/hatchery");
        assert_eq!(c_str(a, deref(a, exe + 32)), b"exit verbose");

        let rsdp = response(&kernel, &found, RequestKind::Rsdp);
        assert_eq!(deref(a, rsdp + 8), 0xf5a40, "physical in revision 3");

        let address = response(&kernel, &found, RequestKind::ExecutableAddress);
        assert_eq!(deref(a, address + 8), 0x30_0000);
        assert_eq!(deref(a, address + 16), 0xffff_ffff_8000_0000);

        let cmdline = response(&kernel, &found, RequestKind::ExecutableCmdline);
        assert_eq!(c_str(a, deref(a, cmdline + 8)), b"exit verbose");

        assert_ne!(response(&kernel, &found, RequestKind::StackSize), 0);
        assert_eq!(
            response(&kernel, &found, RequestKind::Smbios),
            0,
            "unknown stays null"
        );
        assert_eq!(request_parameters(&kernel, &found).stack_size, 0x40000);
    }

    #[test]
    fn rsdp_is_an_hhdm_pointer_before_revision_3() {
        let mut kernel = kernel_image(1);
        let found = scan(&kernel).unwrap();
        let mut buffer = std::vec![0u8; 8192];
        let mut arena = Arena::new(&mut buffer, ARENA_PHYS, HHDM);
        let patches = build_responses(&mut arena, &found, &facts(&[])).unwrap();
        apply(&mut kernel, &patches);
        let rsdp = response(&kernel, &found, RequestKind::Rsdp);
        assert_eq!(deref(&buffer, rsdp + 8), HHDM + 0xf5a40);
    }

    #[test]
    fn no_archive_gives_zero_modules_and_no_rsdp_gives_no_response() {
        let mut kernel = kernel_image(3);
        let found = scan(&kernel).unwrap();
        let mut facts = facts(&[]);
        facts.archive = None;
        facts.rsdp = None;
        let mut buffer = std::vec![0u8; 8192];
        let mut arena = Arena::new(&mut buffer, ARENA_PHYS, HHDM);
        let patches = build_responses(&mut arena, &found, &facts).unwrap();
        apply(&mut kernel, &patches);
        let modules = response(&kernel, &found, RequestKind::Module);
        assert_eq!(deref(&buffer, modules + 8), 0);
        assert_eq!(response(&kernel, &found, RequestKind::Rsdp), 0);
    }

    #[test]
    fn small_arena_reports_full() {
        let kernel = kernel_image(3);
        let found = scan(&kernel).unwrap();
        let mut buffer = std::vec![0u8; 64];
        let mut arena = Arena::new(&mut buffer, ARENA_PHYS, HHDM);
        assert!(build_responses(&mut arena, &found, &facts(&[])).is_err());
    }

    #[test]
    fn default_stack_is_64k_and_paging_min_mode_is_read() {
        let mut words = request(RequestKind::PagingMode, &[0, 1, 1]);
        words[4] = 1; // request revision 1
        let kernel = image(&words);
        let found = scan(&kernel).unwrap();
        let parameters = request_parameters(&kernel, &found);
        assert_eq!(parameters.stack_size, DEFAULT_STACK_SIZE);
        assert_eq!(parameters.paging_min_mode, 1);
        assert_eq!(parameters.entry_point, None);
    }
}
