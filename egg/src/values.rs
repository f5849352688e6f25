//! Typed operand values: open flags, capability rights, signal sets, resource limits.
//!
//! Numbers follow Linux x86_64 (open flags, signal numbers, `RLIMIT_*`) so that code ported
//! from POSIX needs no translation table. Each type has one name table that both the
//! disassembler (printing) and the assembler (parsing) use.

use core::ops::BitOr;

/// Flags of the `open` op: an access mode in the low two bits and named option bits.
///
/// Invariant of a decoded value: the access mode is not 3 and no bit outside
/// [`OpenFlags::DEFINED`] is set (the validator rejects anything else).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpenFlags(pub u32);

/// Open for reading only (access mode 0).
pub const O_RDONLY: OpenFlags = OpenFlags(0);
/// Open for writing only (access mode 1).
pub const O_WRONLY: OpenFlags = OpenFlags(1);
/// Open for reading and writing (access mode 2).
pub const O_RDWR: OpenFlags = OpenFlags(2);
/// Create the file if it does not exist (uses the `mode` operand).
pub const O_CREAT: OpenFlags = OpenFlags(0x40);
/// With `O_CREAT`: fail if the file exists.
pub const O_EXCL: OpenFlags = OpenFlags(0x80);
/// Do not make a terminal the controlling terminal (only `setctty` does that in an egg).
pub const O_NOCTTY: OpenFlags = OpenFlags(0x100);
/// Truncate a regular file to length 0.
pub const O_TRUNC: OpenFlags = OpenFlags(0x200);
/// Every write appends.
pub const O_APPEND: OpenFlags = OpenFlags(0x400);
/// Non-blocking reads and writes.
pub const O_NONBLOCK: OpenFlags = OpenFlags(0x800);
/// Writes complete when the data is on stable storage.
pub const O_DSYNC: OpenFlags = OpenFlags(0x1000);
/// Fail unless the path is a directory.
pub const O_DIRECTORY: OpenFlags = OpenFlags(0x1_0000);
/// Fail if the last path component is a symbolic link.
pub const O_NOFOLLOW: OpenFlags = OpenFlags(0x2_0000);
/// Close the descriptor when the child replaces its image.
pub const O_CLOEXEC: OpenFlags = OpenFlags(0x8_0000);

impl OpenFlags {
    /// Mask of the access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`; 3 is reserved).
    pub const ACCESS_MODE: u32 = 3;
    /// Access modes by name, in value order.
    pub const ACCESS_NAMES: &'static [(&'static str, u64)] =
        &[("O_RDONLY", 0), ("O_WRONLY", 1), ("O_RDWR", 2)];
    /// Option bits by name, in bit order.
    pub const BIT_NAMES: &'static [(&'static str, u64)] = &[
        ("O_CREAT", O_CREAT.0 as u64),
        ("O_EXCL", O_EXCL.0 as u64),
        ("O_NOCTTY", O_NOCTTY.0 as u64),
        ("O_TRUNC", O_TRUNC.0 as u64),
        ("O_APPEND", O_APPEND.0 as u64),
        ("O_NONBLOCK", O_NONBLOCK.0 as u64),
        ("O_DSYNC", O_DSYNC.0 as u64),
        ("O_DIRECTORY", O_DIRECTORY.0 as u64),
        ("O_NOFOLLOW", O_NOFOLLOW.0 as u64),
        ("O_CLOEXEC", O_CLOEXEC.0 as u64),
    ];
    /// Every bit a valid value may have set.
    pub const DEFINED: u32 = Self::ACCESS_MODE
        | O_CREAT.0
        | O_EXCL.0
        | O_NOCTTY.0
        | O_TRUNC.0
        | O_APPEND.0
        | O_NONBLOCK.0
        | O_DSYNC.0
        | O_DIRECTORY.0
        | O_NOFOLLOW.0
        | O_CLOEXEC.0;

    /// The access mode bits (0, 1 or 2 in a valid value).
    pub const fn access_mode(self) -> u32 {
        self.0 & Self::ACCESS_MODE
    }

    /// Whether every bit of `other` is set in `self` (access mode compared exactly).
    pub const fn contains(self, other: OpenFlags) -> bool {
        self.access_mode() == other.access_mode()
            && (self.0 & !Self::ACCESS_MODE) & (other.0 & !Self::ACCESS_MODE)
                == other.0 & !Self::ACCESS_MODE
    }
}

impl BitOr for OpenFlags {
    type Output = OpenFlags;
    fn bitor(self, other: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | other.0)
    }
}

impl From<OpenFlags> for u64 {
    fn from(flags: OpenFlags) -> u64 {
        u64::from(flags.0)
    }
}

/// Rights of a capability: which operations its holder may invoke (seL4's four rights).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(pub u8);

impl Rights {
    /// No rights at all.
    pub const NONE: Rights = Rights(0);
    /// Receive on an endpoint, read a frame.
    pub const READ: Rights = Rights(1);
    /// Send on an endpoint, write a frame.
    pub const WRITE: Rights = Rights(2);
    /// Send capabilities with a message.
    pub const GRANT: Rights = Rights(4);
    /// Send capabilities with a reply.
    pub const GRANT_REPLY: Rights = Rights(8);
    /// All four rights: the cap is copied with the rights it was sent with.
    pub const ALL: Rights = Rights(15);
    /// Rights by name, in bit order.
    pub const NAMES: &'static [(&'static str, u64)] =
        &[("READ", 1), ("WRITE", 2), ("GRANT", 4), ("GRANT_REPLY", 8)];
}

impl BitOr for Rights {
    type Output = Rights;
    fn bitor(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
}

impl From<Rights> for u64 {
    fn from(rights: Rights) -> u64 {
        u64::from(rights.0)
    }
}

/// A set of signals 1..=64; signal `n` is bit `n - 1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SignalSet(pub u64);

impl SignalSet {
    /// No signal.
    pub const EMPTY: SignalSet = SignalSet(0);
    /// Every signal 1..=64.
    pub const ALL: SignalSet = SignalSet(u64::MAX);
    /// Highest signal number.
    pub const MAX_SIGNAL: u32 = 64;
    /// SIGKILL: cannot be caught, blocked or ignored.
    pub const SIGKILL: u32 = 9;
    /// SIGSTOP: cannot be caught, blocked or ignored.
    pub const SIGSTOP: u32 = 19;
    /// Names of signals 1..=31 (Linux x86_64 numbers); signal `n` is `NAMES[n - 1]`.
    /// Signals 32..=64 have no name and are written `SIG32` .. `SIG64`.
    pub const NAMES: [&'static str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];

    /// The set holding only `signal`; empty if `signal` is not in 1..=64.
    pub const fn of(signal: u32) -> SignalSet {
        if signal == 0 || signal > Self::MAX_SIGNAL {
            SignalSet(0)
        } else {
            SignalSet(1 << (signal - 1))
        }
    }

    /// This set with `signal` added (unchanged if `signal` is not in 1..=64).
    pub const fn with(self, signal: u32) -> SignalSet {
        SignalSet(self.0 | Self::of(signal).0)
    }

    /// Whether `signal` is in the set.
    pub const fn contains(self, signal: u32) -> bool {
        Self::of(signal).0 != 0 && self.0 & Self::of(signal).0 != 0
    }

    /// The signals in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (1..=Self::MAX_SIGNAL).filter(move |&signal| self.contains(signal))
    }
}

impl BitOr for SignalSet {
    type Output = SignalSet;
    fn bitor(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 | other.0)
    }
}

impl From<SignalSet> for u64 {
    fn from(set: SignalSet) -> u64 {
        set.0
    }
}

/// The limit value meaning "no limit".
pub const RLIM_INFINITY: u64 = u64::MAX;

macro_rules! resources {
    ($($(#[doc = $doc:literal])* $variant:ident = $number:literal $name:literal,)*) => {
        /// A resource whose limit `setrlimit` sets (Linux `RLIMIT_*` numbers).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Resource {
            $($(#[doc = $doc])* $variant = $number,)*
        }

        impl Resource {
            /// Every resource, in number order.
            pub const ALL: &'static [Resource] = &[$(Resource::$variant),*];
            /// Resources by name, in number order.
            pub const NAMES: &'static [(&'static str, u64)] = &[$(($name, $number)),*];

            /// The resource numbered `number`, if there is one.
            pub const fn from_number(number: u64) -> Option<Resource> {
                match number {
                    $($number => Some(Resource::$variant),)*
                    _ => None,
                }
            }

            /// The `RLIMIT_*` name.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Resource::$variant => $name,)*
                }
            }
        }
    };
}

resources! {
    /// CPU time in seconds.
    Cpu = 0 "RLIMIT_CPU",
    /// Largest file the process may create, in bytes.
    FileSize = 1 "RLIMIT_FSIZE",
    /// Data segment size in bytes.
    Data = 2 "RLIMIT_DATA",
    /// Stack size in bytes.
    Stack = 3 "RLIMIT_STACK",
    /// Core file size in bytes.
    Core = 4 "RLIMIT_CORE",
    /// Resident set size in bytes.
    ResidentSet = 5 "RLIMIT_RSS",
    /// Processes of the real user id.
    Processes = 6 "RLIMIT_NPROC",
    /// One more than the highest file descriptor number.
    OpenFiles = 7 "RLIMIT_NOFILE",
    /// Locked memory in bytes.
    LockedMemory = 8 "RLIMIT_MEMLOCK",
    /// Address space size in bytes.
    AddressSpace = 9 "RLIMIT_AS",
    /// File locks.
    Locks = 10 "RLIMIT_LOCKS",
    /// Queued signals.
    PendingSignals = 11 "RLIMIT_SIGPENDING",
    /// Bytes in message queues.
    MessageQueues = 12 "RLIMIT_MSGQUEUE",
    /// Ceiling of the nice value.
    Nice = 13 "RLIMIT_NICE",
    /// Ceiling of the real-time priority.
    RealtimePriority = 14 "RLIMIT_RTPRIO",
    /// Real-time CPU time in microseconds.
    RealtimeTime = 15 "RLIMIT_RTTIME",
}

impl From<Resource> for u64 {
    fn from(resource: Resource) -> u64 {
        resource as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flag_names_cover_exactly_the_defined_bits() {
        let named = OpenFlags::BIT_NAMES
            .iter()
            .fold(0, |all, &(_, bit)| all | bit);
        assert_eq!(named | 3, u64::from(OpenFlags::DEFINED));
        for &(_, bit) in OpenFlags::BIT_NAMES {
            assert_eq!(bit.count_ones(), 1);
        }
    }

    #[test]
    fn open_flags_contains_compares_access_mode_exactly() {
        let flags = O_WRONLY | O_CREAT | O_TRUNC;
        assert!(flags.contains(O_WRONLY | O_CREAT));
        assert!(!flags.contains(O_RDWR));
        assert!(!flags.contains(O_RDONLY | O_APPEND));
    }

    #[test]
    fn signal_sets_map_signal_n_to_bit_n_minus_one() {
        assert_eq!(SignalSet::of(1).0, 1);
        assert_eq!(SignalSet::of(64).0, 1 << 63);
        assert_eq!(SignalSet::of(0), SignalSet::EMPTY);
        assert_eq!(SignalSet::of(65), SignalSet::EMPTY);
        let set = SignalSet::EMPTY.with(2).with(15);
        assert!(set.contains(2) && set.contains(15) && !set.contains(9));
        assert!(set.iter().eq([2, 15]));
        assert_eq!(SignalSet::NAMES[SignalSet::SIGKILL as usize - 1], "SIGKILL");
        assert_eq!(SignalSet::NAMES[SignalSet::SIGSTOP as usize - 1], "SIGSTOP");
    }

    #[test]
    fn resources_are_numbered_densely() {
        for (index, &resource) in Resource::ALL.iter().enumerate() {
            assert_eq!(resource as usize, index);
            assert_eq!(Resource::from_number(index as u64), Some(resource));
            assert_eq!(Resource::NAMES[index].0, resource.name());
        }
        assert_eq!(Resource::from_number(16), None);
    }

    #[test]
    fn rights_names_are_the_four_bits() {
        let all = Rights::NAMES.iter().fold(0, |all, &(_, bit)| all | bit);
        assert_eq!(all, u64::from(Rights::ALL));
    }
}
