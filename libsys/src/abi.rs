//! Numbers shared by the kernel and userspace.
//!
//! Each table is a `#[repr(u64)]` enum with a checked `TryFrom<u64>`; the macro that
//! defines them also produces `ALL`, so tests can check that the table and the enum agree
//! (one table, never two hand-kept copies).

/// Defines a `#[repr(u64)]` enum, its checked `TryFrom<u64>` and an `ALL` table.
macro_rules! abi_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)+ }) => {
        $(#[$meta])*
        #[repr(u64)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every value of this table, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The variant's name, as written in the docs.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                }
            }
        }

        impl TryFrom<u64> for $name {
            type Error = u64;
            fn try_from(value: u64) -> Result<Self, u64> {
                match value {
                    $(v if v == $value => Ok($name::$variant),)+
                    other => Err(other),
                }
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use abi_enum;

abi_enum! {
    /// System call numbers, passed in `rax`.
    ///
    /// Register convention (see docs/syscalls.md): `rdi` = capability pointer (or badge on
    /// return), `rsi` = [`MessageInfo`], `rdx`, `r8`, `r9`, `r10` = message registers 0..3;
    /// `rax` returns an [`Error`] code (0 = success). `rcx` and `r11` are clobbered.
    pub enum Syscall {
        /// Send a message to an endpoint and wait for the reply (or invoke a kernel object).
        Call = 1,
        /// Reply to the last caller, then wait on an endpoint.
        ReplyRecv = 2,
        /// Send, blocking until a receiver takes the message.
        Send = 3,
        /// Send if a receiver is waiting, else drop the message.
        NBSend = 4,
        /// Wait for a message on an endpoint or a signal on a notification.
        Recv = 5,
        /// Receive only if a message or signal is already pending.
        NBRecv = 6,
        /// Reply to the last caller.
        Reply = 7,
        /// Give up the rest of the timeslice.
        Yield = 8,
        /// Debug: write bytes (`rdi` = address, `rsi` = length) to the kernel console.
        DebugWrite = 9,
    }
}

abi_enum! {
    /// Error codes returned in `rax`. Zero is success and is not an `Error`.
    pub enum Error {
        /// The system call number is not one of [`Syscall`].
        InvalidSyscall = 1,
        /// An argument is out of range; the index of the bad argument is returned too.
        InvalidArgument = 2,
        /// The capability pointer does not name a capability.
        InvalidCapability = 3,
        /// The capability lacks a right that the operation needs.
        InsufficientRights = 4,
        /// The invocation label is not one that the object understands.
        IllegalOperation = 5,
        /// The user buffer is not mapped, not user memory, or not writable.
        BadAddress = 6,
        /// The destination slot is already occupied.
        DeleteFirst = 7,
        /// Not enough memory left in the untyped object.
        NotEnoughMemory = 8,
        /// A lookup failed part-way through a capability path.
        FailedLookup = 9,
        /// The object is in a state where this operation cannot proceed.
        RevokeFirst = 10,
        /// Range error: an argument exceeds an allowed range.
        RangeError = 11,
        /// Alignment error.
        AlignmentError = 12,
        /// Would block, and the call was non-blocking.
        WouldBlock = 13,
        /// The object the thread was waiting on was deleted.
        Cancelled = 14,
    }
}

abi_enum! {
    /// Invocation labels: the operation asked of a kernel object by a `Call` on its cap.
    pub enum Label {
        /// TCB: stop the thread (it can be resumed).
        TcbSuspend = 0x100,
        /// TCB: make a suspended thread runnable.
        TcbResume = 0x101,
    }
}

/// The message-info word carried in `rsi`: label, length in words, caps sent.
///
/// Layout: bits 0..7 length (words), bits 7..9 extra caps, bits 9..12 caps unwrapped,
/// bits 12..64 label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MessageInfo(pub u64);

impl MessageInfo {
    /// Most words in one message (the rest of the IPC buffer holds caps and receive info).
    pub const MAX_LENGTH: u64 = 120;
    /// Most caps transferred with one message.
    pub const MAX_CAPS: u64 = 3;

    /// Packs a message-info word. Out-of-range fields are clipped to their width.
    pub const fn new(label: u64, length: u64, caps: u64) -> Self {
        MessageInfo((label << 12) | ((caps & 0x3) << 7) | (length & 0x7f))
    }
    /// The label.
    pub const fn label(self) -> u64 {
        self.0 >> 12
    }
    /// The length in words.
    pub const fn length(self) -> u64 {
        self.0 & 0x7f
    }
    /// The number of caps sent.
    pub const fn caps(self) -> u64 {
        (self.0 >> 7) & 0x3
    }
    /// Bit mask of received caps that were unwrapped to their badge.
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 9) & 0x7
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_table_and_enum_agree() {
        for s in Syscall::ALL {
            assert_eq!(Syscall::try_from(*s as u64), Ok(*s));
        }
        assert_eq!(Syscall::try_from(0), Err(0));
        assert_eq!(Syscall::try_from(u64::MAX), Err(u64::MAX));
    }

    #[test]
    fn error_codes_are_unique_and_nonzero() {
        for (i, a) in Error::ALL.iter().enumerate() {
            assert_ne!(*a as u64, 0);
            for b in &Error::ALL[i + 1..] {
                assert_ne!(*a as u64, *b as u64, "{} and {}", a.name(), b.name());
            }
        }
    }

    #[test]
    fn message_info_round_trips_each_field() {
        let m = MessageInfo::new(0x1234, 17, 2);
        assert_eq!((m.label(), m.length(), m.caps()), (0x1234, 17, 2));
    }
}
