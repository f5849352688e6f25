//! Finding the kernel's Limine requests: a scan of the loaded image for the common request
//! magic and the base revision tag on 8-byte boundaries, within the requests delimiters when
//! the kernel has them.

/// First two words of every request ID.
pub const COMMON_MAGIC: [u64; 2] = [0xc7b1dd30df4c8b88, 0x0a82e883a194f07b];
/// First two words of the base revision tag (the second is overwritten with the revision
/// the loader used).
pub const BASE_REVISION_MAGIC: [u64; 2] = [0xf9562b2d5c95a6c8, 0x6a7b384944536bdc];
/// The requests start marker.
pub const START_MARKER: [u64; 4] = [
    0xf6b8f4b39de7d1ae,
    0xfab91a6940fcb9cf,
    0x785c6ed015d3e316,
    0x181e920a7852b9d9,
];
/// The requests end marker.
pub const END_MARKER: [u64; 2] = [0xadc0e0531bb10d03, 0x9572709f31764c62];
/// Highest base revision this loader implements.
pub const MAX_BASE_REVISION: u64 = 3;
/// Offset of the `response` pointer in every request.
pub const RESPONSE_FIELD_OFFSET: usize = 40;

/// The requests the loader knows. Each variant's ID is in [`RequestKind::ID_TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Bootloader name and version.
    BootloaderInfo,
    /// Firmware type.
    FirmwareType,
    /// Stack size.
    StackSize,
    /// Higher-half direct map offset.
    Hhdm,
    /// Framebuffers (not answered).
    Framebuffer,
    /// Paging mode.
    PagingMode,
    /// Multiprocessor start-up (not answered).
    Mp,
    /// Memory map.
    MemoryMap,
    /// Entry point override.
    EntryPoint,
    /// The executable (kernel) file.
    ExecutableFile,
    /// Modules.
    Module,
    /// ACPI RSDP.
    Rsdp,
    /// SMBIOS (not answered).
    Smbios,
    /// EFI system table (not answered).
    EfiSystemTable,
    /// EFI memory map (not answered).
    EfiMemoryMap,
    /// Date at boot (not answered).
    DateAtBoot,
    /// Executable physical and virtual base.
    ExecutableAddress,
    /// Executable command line.
    ExecutableCmdline,
    /// Device tree blob (not answered).
    DeviceTreeBlob,
}

/// Number of [`RequestKind`]s.
pub const REQUEST_KINDS: usize = 19;

impl RequestKind {
    /// Every kind with the last two words of its ID: the one table of IDs.
    pub const ID_TABLE: [(RequestKind, [u64; 2]); REQUEST_KINDS] = [
        (
            RequestKind::BootloaderInfo,
            [0xf55038d8e2a1202f, 0x279426fcf5f59740],
        ),
        (
            RequestKind::FirmwareType,
            [0x8c2f75d90bef28a8, 0x7045a4688eac00c3],
        ),
        (
            RequestKind::StackSize,
            [0x224ef0460a8e8926, 0xe1cb0fc25f46ea3d],
        ),
        (RequestKind::Hhdm, [0x48dcf1cb8ad2b852, 0x63984e959a98244b]),
        (
            RequestKind::Framebuffer,
            [0x9d5827dcd881dd75, 0xa3148604f6fab11b],
        ),
        (
            RequestKind::PagingMode,
            [0x95c1a0edab0944cb, 0xa4e5cb3842f7488a],
        ),
        (RequestKind::Mp, [0x95a67b819a1b857e, 0xa0b61b723b6a73e0]),
        (
            RequestKind::MemoryMap,
            [0x67cf3d9d378a806f, 0xe304acdfc50c3c62],
        ),
        (
            RequestKind::EntryPoint,
            [0x13d86c035a1cd3e1, 0x2b0caa89d8f3026a],
        ),
        (
            RequestKind::ExecutableFile,
            [0xad97e90e83f1ed67, 0x31eb5d1c5ff23b69],
        ),
        (
            RequestKind::Module,
            [0x3e7e279702be32af, 0xca1c4f3bd1280cee],
        ),
        (RequestKind::Rsdp, [0xc5e77b6b397e7b43, 0x27637845accdcf3c]),
        (
            RequestKind::Smbios,
            [0x9e9046f11e095391, 0xaa4a520fefbde5ee],
        ),
        (
            RequestKind::EfiSystemTable,
            [0x5ceba5163eaaf6d6, 0x0a6981610cf65fcc],
        ),
        (
            RequestKind::EfiMemoryMap,
            [0x7df62a431d6872d5, 0xa4fcdfb3e57306c8],
        ),
        (
            RequestKind::DateAtBoot,
            [0x502746e184c088aa, 0xfbc5ec83e6327893],
        ),
        (
            RequestKind::ExecutableAddress,
            [0x71ba76863cc55f63, 0xb2644a48c516a487],
        ),
        (
            RequestKind::ExecutableCmdline,
            [0x4b161536e598651e, 0xb390ad4a2f1f303a],
        ),
        (
            RequestKind::DeviceTreeBlob,
            [0xb40ddb48fb54bac7, 0x545081493f81ffb7],
        ),
    ];

    /// The kind whose ID ends in `tail`.
    pub fn from_id_tail(tail: [u64; 2]) -> Option<RequestKind> {
        Self::ID_TABLE
            .iter()
            .find(|(_, id)| *id == tail)
            .map(|(kind, _)| *kind)
    }

    /// Position in [`Self::ID_TABLE`].
    pub fn table_index(self) -> usize {
        Self::ID_TABLE
            .iter()
            .position(|(kind, _)| *kind == self)
            .unwrap_or(0)
    }

    /// A human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::BootloaderInfo => "bootloader info",
            RequestKind::FirmwareType => "firmware type",
            RequestKind::StackSize => "stack size",
            RequestKind::Hhdm => "HHDM",
            RequestKind::Framebuffer => "framebuffer",
            RequestKind::PagingMode => "paging mode",
            RequestKind::Mp => "MP",
            RequestKind::MemoryMap => "memory map",
            RequestKind::EntryPoint => "entry point",
            RequestKind::ExecutableFile => "executable file",
            RequestKind::Module => "module",
            RequestKind::Rsdp => "RSDP",
            RequestKind::Smbios => "SMBIOS",
            RequestKind::EfiSystemTable => "EFI system table",
            RequestKind::EfiMemoryMap => "EFI memory map",
            RequestKind::DateAtBoot => "date at boot",
            RequestKind::ExecutableAddress => "executable address",
            RequestKind::ExecutableCmdline => "executable cmdline",
            RequestKind::DeviceTreeBlob => "device tree blob",
        }
    }
}

/// Why the kernel's requests cannot be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// The same request appears twice (the protocol says: refuse to boot).
    DuplicateRequest(RequestKind),
    /// Two base revision tags.
    DuplicateBaseRevision,
    /// A base revision above what this loader implements.
    UnsupportedBaseRevision(u64),
}

impl core::fmt::Display for ScanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ScanError::DuplicateRequest(kind) => {
                write!(f, "kernel has two {} requests", kind.name())
            }
            ScanError::DuplicateBaseRevision => write!(f, "kernel has two base revision tags"),
            ScanError::UnsupportedBaseRevision(revision) => write!(
                f,
                "kernel requests Limine base revision {revision}; this loader supports 0 to {MAX_BASE_REVISION}"
            ),
        }
    }
}

/// Where the requests are, as byte offsets into the loaded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FoundRequests {
    /// Offset of each known request, indexed by [`RequestKind::table_index`].
    offsets: [Option<usize>; REQUEST_KINDS],
    /// Offset of the base revision tag, if any.
    pub base_revision_tag: Option<usize>,
    /// The base revision in effect: the tag's, or 0 without a tag.
    pub base_revision: u64,
    /// Requests with the common magic but an ID this loader does not know.
    pub unknown: usize,
}

impl FoundRequests {
    /// Offset of the `kind` request, if the kernel has one.
    pub fn offset(&self, kind: RequestKind) -> Option<usize> {
        self.offsets[kind.table_index()]
    }
}

/// Little-endian u64 at byte offset `at`, if in bounds.
pub fn read_u64(image: &[u8], at: usize) -> Option<u64> {
    let bytes = image.get(at..at.checked_add(8)?)?;
    let mut raw = [0u8; 8];
    raw.copy_from_slice(bytes);
    Some(u64::from_le_bytes(raw))
}

fn matches_words(image: &[u8], at: usize, words: &[u64]) -> bool {
    words
        .iter()
        .enumerate()
        .all(|(i, word)| read_u64(image, at + 8 * i) == Some(*word))
}

/// The byte range to search: after the last start marker, up to the first end marker after
/// it; the whole image without markers.
fn search_window(image: &[u8]) -> (usize, usize) {
    let aligned = (0..image.len()).step_by(8);
    let start = aligned
        .clone()
        .rev()
        .find(|&at| matches_words(image, at, &START_MARKER))
        .map_or(0, |at| at + 32);
    let end = aligned
        .into_iter()
        .find(|&at| at >= start && matches_words(image, at, &END_MARKER))
        .unwrap_or(image.len());
    (start, end)
}

/// Scans `image` (the kernel as loaded, from its lowest segment) for requests.
pub fn scan(image: &[u8]) -> Result<FoundRequests, ScanError> {
    let (start, end) = search_window(image);
    let window = &image[..end];
    let mut found = FoundRequests::default();
    let mut at = start;
    while at + 16 <= end {
        if matches_words(window, at, &COMMON_MAGIC) {
            let tail = [read_u64(window, at + 16), read_u64(window, at + 24)];
            if let [Some(a), Some(b)] = tail {
                match RequestKind::from_id_tail([a, b]) {
                    Some(kind) => {
                        let slot = &mut found.offsets[kind.table_index()];
                        if slot.is_some() {
                            return Err(ScanError::DuplicateRequest(kind));
                        }
                        *slot = Some(at);
                    }
                    None => found.unknown += 1,
                }
                at += 32;
                continue;
            }
        }
        if matches_words(window, at, &BASE_REVISION_MAGIC) {
            if let Some(revision) = read_u64(window, at + 16) {
                if found.base_revision_tag.is_some() {
                    return Err(ScanError::DuplicateBaseRevision);
                }
                found.base_revision_tag = Some(at);
                found.base_revision = revision;
                at += 24;
                continue;
            }
        }
        at += 8;
    }
    if found.base_revision > MAX_BASE_REVISION {
        return Err(ScanError::UnsupportedBaseRevision(found.base_revision));
    }
    Ok(found)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    /// An image of `words`, as bytes.
    pub(crate) fn image(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A request of `kind`: 4 ID words, revision, null response, then `extra` words.
    pub(crate) fn request(kind: RequestKind, extra: &[u64]) -> Vec<u64> {
        let tail = RequestKind::ID_TABLE[kind.table_index()].1;
        let mut words = std::vec![COMMON_MAGIC[0], COMMON_MAGIC[1], tail[0], tail[1], 0, 0];
        words.extend_from_slice(extra);
        words
    }

    #[test]
    fn finds_requests_and_base_revision() {
        let mut words = std::vec![0xdead, 0xbeef];
        words.extend(request(RequestKind::Hhdm, &[]));
        words.extend([BASE_REVISION_MAGIC[0], BASE_REVISION_MAGIC[1], 3]);
        words.extend(request(RequestKind::StackSize, &[0x10000]));
        let found = scan(&image(&words)).unwrap();
        assert_eq!(found.offset(RequestKind::Hhdm), Some(16));
        assert_eq!(found.offset(RequestKind::StackSize), Some(16 + 48 + 24));
        assert_eq!(found.offset(RequestKind::MemoryMap), None);
        assert_eq!(found.base_revision_tag, Some(16 + 48));
        assert_eq!(found.base_revision, 3);
    }

    #[test]
    fn no_tag_means_revision_zero() {
        let found = scan(&image(&request(RequestKind::Rsdp, &[]))).unwrap();
        assert_eq!(found.base_revision, 0);
        assert_eq!(found.base_revision_tag, None);
    }

    #[test]
    fn unknown_ids_are_counted_not_answered() {
        let words = [COMMON_MAGIC[0], COMMON_MAGIC[1], 1, 2, 0, 0];
        let found = scan(&image(&words)).unwrap();
        assert_eq!(found.unknown, 1);
    }

    #[test]
    fn duplicate_requests_are_refused() {
        let mut words = request(RequestKind::MemoryMap, &[]);
        words.extend(request(RequestKind::MemoryMap, &[]));
        assert_eq!(
            scan(&image(&words)),
            Err(ScanError::DuplicateRequest(RequestKind::MemoryMap))
        );
    }

    #[test]
    fn revision_above_three_is_refused_with_a_clear_message() {
        let words = [BASE_REVISION_MAGIC[0], BASE_REVISION_MAGIC[1], 99];
        let error = scan(&image(&words)).unwrap_err();
        assert_eq!(error, ScanError::UnsupportedBaseRevision(99));
        assert_eq!(
            std::format!("{error}"),
            "kernel requests Limine base revision 99; this loader supports 0 to 3"
        );
    }

    #[test]
    fn markers_limit_the_search() {
        let mut words = request(RequestKind::Hhdm, &[]); // before the start marker: ignored
        words.extend(START_MARKER);
        words.extend(request(RequestKind::MemoryMap, &[]));
        words.extend(END_MARKER);
        words.extend(request(RequestKind::Rsdp, &[])); // after the end marker: ignored
        words.extend([BASE_REVISION_MAGIC[0], BASE_REVISION_MAGIC[1], 99]);
        let found = scan(&image(&words)).unwrap();
        assert_eq!(found.offset(RequestKind::Hhdm), None);
        assert_eq!(found.offset(RequestKind::MemoryMap), Some(48 + 32));
        assert_eq!(found.offset(RequestKind::Rsdp), None);
        assert_eq!(found.base_revision, 0);
    }

    #[test]
    fn misaligned_magic_is_ignored_and_truncated_tags_are_safe() {
        let mut bytes = std::vec![0u8; 4];
        bytes.extend(image(&request(RequestKind::Hhdm, &[])));
        assert_eq!(scan(&bytes).unwrap().offset(RequestKind::Hhdm), None);
        let cut = image(&request(RequestKind::Hhdm, &[]));
        assert_eq!(scan(&cut[..20]).unwrap(), FoundRequests::default());
    }

    #[test]
    fn id_table_has_no_duplicates() {
        for (i, (kind, id)) in RequestKind::ID_TABLE.iter().enumerate() {
            assert_eq!(kind.table_index(), i);
            assert_eq!(RequestKind::from_id_tail(*id), Some(*kind));
        }
    }
}
