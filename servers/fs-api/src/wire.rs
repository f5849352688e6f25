//! Badges, the words of a stat and the server's statistics, byte packing, the server's slots.

/// What a badge on fsrv's endpoint says the caller is. The top two bits give the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Badge {
    /// A process's namespace cap; the id procsrv gave the process.
    Namespace(u64),
    /// An fd cap: a handle fsrv minted (index and generation inside fsrv).
    Fd(u64),
    /// procsrv's control cap.
    Control,
}

const KIND_SHIFT: u32 = 62;
const KIND_NAMESPACE: u64 = 1;
const KIND_FD: u64 = 2;
const KIND_CONTROL: u64 = 3;
/// The payload bits of a badge.
pub const BADGE_PAYLOAD_MASK: u64 = (1 << KIND_SHIFT) - 1;

impl Badge {
    /// The badge word. The payload is cut to [`BADGE_PAYLOAD_MASK`].
    pub const fn to_word(self) -> u64 {
        match self {
            Badge::Namespace(id) => (KIND_NAMESPACE << KIND_SHIFT) | (id & BADGE_PAYLOAD_MASK),
            Badge::Fd(handle) => (KIND_FD << KIND_SHIFT) | (handle & BADGE_PAYLOAD_MASK),
            Badge::Control => KIND_CONTROL << KIND_SHIFT,
        }
    }

    /// The badge a word names, or `None` (0, the unbadged endpoint, is nobody).
    pub const fn from_word(word: u64) -> Option<Badge> {
        let payload = word & BADGE_PAYLOAD_MASK;
        match word >> KIND_SHIFT {
            KIND_NAMESPACE => Some(Badge::Namespace(payload)),
            KIND_FD => Some(Badge::Fd(payload)),
            KIND_CONTROL if payload == 0 => Some(Badge::Control),
            _ => None,
        }
    }
}

/// The kind of a file, as [`Stat::kind`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum FileKind {
    /// A regular file.
    Regular = 1,
    /// A directory.
    Directory = 2,
    /// A character device (`/dev/null`, terminals...).
    CharDevice = 3,
    /// A pipe.
    Fifo = 4,
}

impl FileKind {
    /// The kind a word names.
    pub const fn from_word(word: u64) -> Option<FileKind> {
        match word {
            1 => Some(FileKind::Regular),
            2 => Some(FileKind::Directory),
            3 => Some(FileKind::CharDevice),
            4 => Some(FileKind::Fifo),
            _ => None,
        }
    }
    /// The `S_IF*` bits of this kind.
    pub const fn mode_bits(self) -> u64 {
        match self {
            FileKind::Regular => crate::mode::S_IFREG,
            FileKind::Directory => crate::mode::S_IFDIR,
            FileKind::CharDevice => crate::mode::S_IFCHR,
            FileKind::Fifo => crate::mode::S_IFIFO,
        }
    }
}

/// What `stat` reports: eight reply words, in field order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// The inode number (unique while the file exists).
    pub inode: u64,
    /// `S_IF*` type bits and permission bits.
    pub mode: u64,
    /// Number of names (directories: 2 + subdirectories).
    pub links: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Size in bytes (pipes: bytes buffered).
    pub size: u64,
    /// Device number of a device node (major << 8 | minor), else 0.
    pub rdev: u64,
    /// A counter bumped by every change of the file (a modification time without a clock).
    pub version: u64,
}

impl Stat {
    /// Words in a stat reply.
    pub const WORDS: usize = 8;

    /// The reply words.
    pub const fn to_words(&self) -> [u64; Self::WORDS] {
        [
            self.inode,
            self.mode,
            self.links,
            self.uid,
            self.gid,
            self.size,
            self.rdev,
            self.version,
        ]
    }

    /// From reply words.
    pub const fn from_words(w: &[u64; Self::WORDS]) -> Stat {
        Stat {
            inode: w[0],
            mode: w[1],
            links: w[2],
            uid: w[3],
            gid: w[4],
            size: w[5],
            rdev: w[6],
            version: w[7],
        }
    }

    /// The kind the mode's type bits name.
    pub const fn kind(&self) -> Option<FileKind> {
        match self.mode & crate::mode::S_IFMT {
            crate::mode::S_IFREG => Some(FileKind::Regular),
            crate::mode::S_IFDIR => Some(FileKind::Directory),
            crate::mode::S_IFCHR => Some(FileKind::CharDevice),
            crate::mode::S_IFIFO => Some(FileKind::Fifo),
            _ => None,
        }
    }
}

/// What the server holds (the reply of [`crate::Label::NsStatistics`]), to check that bad
/// requests leak nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Bytes of heap in use.
    pub heap_bytes: u64,
    /// Pages mapped for the heap.
    pub heap_pages: u64,
    /// Live handles (fd caps minted and not closed).
    pub handles: u64,
    /// Live open file descriptions.
    pub descriptions: u64,
    /// Files and directories.
    pub nodes: u64,
    /// Requests answered since start.
    pub requests: u64,
}

impl ServerStats {
    /// Words in the reply.
    pub const WORDS: usize = 6;
    /// The reply words.
    pub const fn to_words(&self) -> [u64; Self::WORDS] {
        [
            self.heap_bytes,
            self.heap_pages,
            self.handles,
            self.descriptions,
            self.nodes,
            self.requests,
        ]
    }
    /// From reply words.
    pub const fn from_words(w: &[u64; Self::WORDS]) -> ServerStats {
        ServerStats {
            heap_bytes: w[0],
            heap_pages: w[1],
            handles: w[2],
            descriptions: w[3],
            nodes: w[4],
            requests: w[5],
        }
    }
}

/// The message word where packed path bytes start (the first word of the IPC buffer).
pub const PATH_WORD: usize = 4;
/// Most message words (4 in registers, 508 in the IPC buffer).
pub const MESSAGE_WORDS: usize = 512;

/// How many words `len` bytes take when packed.
pub const fn words_for(len: usize) -> usize {
    len.div_ceil(8)
}

/// Packs `bytes` into `words` (little-endian, the last word zero-padded); returns the
/// words used, or `None` if they do not fit.
pub fn pack_bytes(bytes: &[u8], words: &mut [u64]) -> Option<usize> {
    let needed = words_for(bytes.len());
    let out = words.get_mut(..needed)?;
    for (word, chunk) in out.iter_mut().zip(bytes.chunks(8)) {
        let mut buf = [0u8; 8];
        buf[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_le_bytes(buf);
    }
    Some(needed)
}

/// Unpacks `len` bytes from `words` into `out`; returns them, or `None` if `words` or `out`
/// is too short.
pub fn unpack_bytes<'a>(words: &[u64], len: usize, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let bytes = out.get_mut(..len)?;
    let words = words.get(..words_for(len))?;
    for (chunk, word) in bytes.chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    Some(bytes)
}

/// The slots of fsrv's own CSpace that its starter (procsrv, or a test root task) fills,
/// and the start argument. They sit in the range a process's egg may fill (from
/// `libsys::process::FIRST_USER_SLOT`), clear of the runtime's slots 8..16.
pub mod server {
    /// The endpoint fsrv receives on (the starter keeps the original, and mints the control
    /// and namespace caps from it).
    pub const SLOT_ENDPOINT: u64 = 16;
    /// Untyped memory fsrv makes its heap, page tables and Reply objects from.
    pub const SLOT_UNTYPED: u64 = 17;
    /// A notification fsrv signals when it has events for procsrv (may be empty).
    pub const SLOT_EVENTS: u64 = 18;
    /// The empty slot where caps sent to fsrv arrive.
    pub const SLOT_RECEIVE: u64 = 19;
    /// The frame of the serial console driver's shared page (`console_api::SharedPage`);
    /// empty when no driver runs (the console then writes to the kernel's debug console).
    pub const SLOT_CONSOLE_PAGE: u64 = 20;
    /// The driver's notification, minted with `console_api::BADGE_WORK` (write).
    pub const SLOT_CONSOLE_DRIVER: u64 = 21;
    /// The notification the driver signals (`console_api::slot::CLIENT`); fsrv binds it to
    /// its thread, so a signal arrives as a message on its endpoint.
    pub const SLOT_CONSOLE_WAKE: u64 = 22;
    /// Where fsrv maps the console's shared page: the page after its IPC buffer.
    pub const CONSOLE_PAGE_ADDR: u64 = 0x7ffe_0000_1000;
    /// A CNode of 2^`radix` slots holding read-only copies of the boot archive's frames,
    /// page *i* in slot *i*, `radix` the smallest that holds every page
    /// ([`archive_radix`]); fsrv copies them into its own slots from 4096 up and maps them
    /// at [`ARCHIVE_ADDR`].
    pub const SLOT_ARCHIVE: u64 = 23;
    /// First slot fsrv allocates from.
    pub const FIRST_FREE_SLOT: u64 = 24;
    /// log2 of the slots fsrv's CNode has: its own below 4096, the boot archive's frames
    /// from 4096 up.
    pub const CNODE_RADIX: u64 = 14;
    /// Where the starter maps the boot archive (read-only) in fsrv: `/bin` is read from it.
    pub const ARCHIVE_ADDR: u64 = 0x7ffd_0000_0000;
    /// Where fsrv's heap starts.
    pub const HEAP_ADDR: u64 = 0x10_0000_0000;
    /// Where fsrv maps the processes' I/O windows (each [`crate::WINDOW_SIZE`] apart).
    pub const WINDOWS_ADDR: u64 = 0x20_0000_0000;

    /// The start argument: the archive length in the low 32 bits, log2 of the untyped's
    /// size in bits 32..38, the time-stamp counter's rate in kHz (the boot info's `tsc_hz`
    /// / 1000; the clock of `VTIME`) in bits 38..64.
    pub const fn start_argument(archive_length: u64, untyped_bits: u32, tsc_khz: u64) -> u64 {
        (archive_length & 0xffff_ffff)
            | ((untyped_bits as u64 & 0x3f) << 32)
            | ((tsc_khz & ((1 << 26) - 1)) << 38)
    }
    /// log2 of the slots of the archive CNode ([`SLOT_ARCHIVE`]) for an archive of
    /// `archive_length` bytes: the smallest radix holding one slot per page (at least 1).
    pub const fn archive_radix(archive_length: u64) -> u64 {
        let pages = archive_length.div_ceil(4096);
        let mut radix = 1;
        while (1u64 << radix) < pages && radix < 63 {
            radix += 1;
        }
        radix
    }
    /// `(archive_length, untyped_bits, tsc_khz)` from the start argument.
    pub const fn parse_start_argument(argument: u64) -> (u64, u32, u64) {
        (
            argument & 0xffff_ffff,
            (argument >> 32) as u32 & 0x3f,
            argument >> 38,
        )
    }
}
