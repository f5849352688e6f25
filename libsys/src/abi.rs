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
        /// Debug: write bytes to the kernel console through the debug console cap at `rdi`
        /// (`rdx` = address, `r8` = length); returns in `rdx` how many bytes were taken
        /// (as many as the UART accepts now: the kernel never waits for it).
        DebugWrite = 9,
        /// Describe the capability at cptr `rdi`: replies with its kind (`CapKind`), rights
        /// and badge in message words 0..3. A system call rather than an invocation, because
        /// a `Call` on an endpoint or notification cap is IPC.
        Identify = 10,
        /// `Call` on an endpoint with a deadline in `r12` (a time-stamp counter value): if
        /// the reply has not arrived by then, the call ends with [`Error::TimedOut`] (the
        /// message is withdrawn if nobody took it; a later reply finds nobody waiting).
        CallTimeout = 11,
        /// `Recv` on an endpoint or notification with a deadline in `r12`: ends with
        /// [`Error::TimedOut`] if nothing arrived by then.
        RecvTimeout = 12,
        /// Wait until the time-stamp counter reaches `rdi`.
        Sleep = 13,
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
        /// The deadline of a `CallTimeout` or `RecvTimeout` passed first.
        TimedOut = 15,
    }
}

abi_enum! {
    /// Invocation labels: the operation asked of a kernel object by a `Call` on its cap.
    ///
    /// Arguments are message words `mr0, mr1, ...` (the first four in registers, the rest in
    /// the IPC buffer). Slots are named seL4-style by `(index, depth)` relative to the
    /// CNode that is invoked, or by a cap pointer resolved at full depth in the caller's
    /// CSpace where the docs say "cptr". docs/syscalls.md lists every argument and error.
    pub enum Label {
        /// Untyped: `retype(type, size_bits, dest_cnode cptr, dest_offset, count)`.
        UntypedRetype = 0x10,
        /// Untyped: `retype_batch(dest_cnode cptr, (type, size_bits, dest_offset)...)`: up to
        /// [`RETYPE_BATCH_MAX`] single objects of any types in one call, in order.
        UntypedRetypeBatch = 0x11,
        /// CNode: `copy(dest_index, dest_depth, src_index, src_depth, rights)`.
        CNodeCopy = 0x20,
        /// CNode: `mint(dest_index, dest_depth, src_index, src_depth, rights, badge)`.
        CNodeMint = 0x21,
        /// CNode: `move(dest_index, dest_depth, src_index, src_depth)`.
        CNodeMove = 0x22,
        /// CNode: `mutate(dest_index, dest_depth, src_index, src_depth, badge)`.
        CNodeMutate = 0x23,
        /// CNode: `delete(index, depth)`.
        CNodeDelete = 0x24,
        /// CNode: `revoke(index, depth)`: delete every cap derived from this one.
        CNodeRevoke = 0x25,
        /// CNode: `copy_batch(entries...)`: up to [`COPY_BATCH_MAX`] copies or mints in one
        /// call, each entry four words `dest_index, src_index, packed, data` (the packed
        /// word is a [`CopyBatchWord`]), done in order until one is refused.
        CNodeCopyBatch = 0x26,
        /// CNode: `revoke_batch(index, depth, ...)`: up to [`REVOKE_BATCH_MAX`] revokes in
        /// one call, in order (each as `CNodeRevoke`; a slot refused ends the call there).
        CNodeRevokeBatch = 0x27,
        /// CNode: `delete_batch(index, depth, ...)`: up to [`REVOKE_BATCH_MAX`] deletes in
        /// one call, in order (each as `CNodeDelete`; a slot refused ends the call there).
        CNodeDeleteBatch = 0x28,
        /// TCB: `configure(cspace cptr, vspace cptr, ipc_buffer_addr, ipc_buffer_frame cptr,
        /// fault_endpoint cptr)` (cptr 0 = leave unchanged / none for the fault endpoint).
        TcbConfigure = 0x30,
        /// TCB: `set_priority(priority)` (at most the caller's own priority).
        TcbSetPriority = 0x31,
        /// TCB: `read_registers()`: replies with the 18 user registers ([`REGISTER_COUNT`]).
        TcbReadRegisters = 0x32,
        /// TCB: `write_registers(resume, rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi,
        /// rbp, r8..r15)`.
        TcbWriteRegisters = 0x33,
        /// TCB: `resume()`: make a suspended or new thread runnable.
        TcbResume = 0x34,
        /// TCB: `suspend()`: stop the thread (it can be resumed).
        TcbSuspend = 0x35,
        /// TCB: `bind_notification(notification cptr)`.
        TcbBindNotification = 0x36,
        /// TCB: `unbind_notification()`.
        TcbUnbindNotification = 0x37,
        /// TCB: `set_tls_base(fs_base, gs_base)`: the thread's FS and GS segment bases
        /// (thread-local storage for a Rust or C runtime), each below 2^47.
        TcbSetTlsBase = 0x38,
        /// TCB: `read_cpu_time()`: replies with the time-stamp counter ticks the thread has
        /// run for (charged at each timer tick and each switch off the IPC fast path; see
        /// docs/syscalls.md for the granularity).
        TcbReadCpuTime = 0x39,
        /// Frame: `map(vspace cptr, vaddr, rights)`; rights = READ (1) | WRITE (2), plus
        /// [`MAP_EXECUTABLE`] for code. The frame cap must not be mapped already.
        FrameMap = 0x40,
        /// Frame: `unmap()`.
        FrameUnmap = 0x41,
        /// Frame: `get_address()`: replies with the physical address.
        FrameGetAddress = 0x42,
        /// Page table (PDPT, PD or PT): `map(vspace cptr, vaddr)`.
        PageTableMap = 0x50,
        /// Page table: `unmap()`.
        PageTableUnmap = 0x51,
        /// IRQ control: `get(irq, dest_index, dest_depth)`: an IRQ handler cap for one
        /// ISA IRQ (0..16) in the slot named relative to the caller's CSpace root.
        IrqControlGet = 0x60,
        /// IRQ handler: `set_notification(notification cptr)`.
        IrqHandlerSetNotification = 0x61,
        /// IRQ handler: `ack()`: unmask the IRQ after handling it.
        IrqHandlerAck = 0x62,
        /// IRQ handler: `clear()`: stop delivering to the notification.
        IrqHandlerClear = 0x63,
        /// Reply: `save()`: move the reply this thread owes (to the thread whose Call it
        /// received last) into the Reply object, to answer later with `Send` on the Reply cap.
        /// Errors: `IllegalOperation` if no reply is owed; `DeleteFirst` if the object already
        /// holds one.
        ReplySave = 0x68,
        /// I/O port control: `issue(first, last, dest_index, dest_depth)`: an I/O port
        /// cap for the range in the slot named relative to the caller's CSpace root.
        IoPortControlIssue = 0x70,
        /// I/O port: `in(port, width)` with width 1, 2 or 4; replies with the value.
        IoPortIn = 0x71,
        /// I/O port: `out(port, width, value)`.
        IoPortOut = 0x72,
        /// ASID control: `make_pool(untyped cptr, dest_index, dest_depth)`: turns an unused
        /// 4 KiB untyped into an ASID pool.
        AsidControlMakePool = 0x80,
        /// ASID pool: `assign(vspace cptr)`: gives an address space an ASID from this pool,
        /// which it needs before anything is mapped in it or a thread runs in it.
        AsidPoolAssign = 0x81,
        /// Debug console: `longest_entry()`: replies with the longest system call the
        /// kernel handled off its fast path since the last query (time-stamp counter ticks,
        /// interrupts off throughout), and starts a new measurement (the first query starts
        /// the timing, and replies 0).
        DebugConsoleLongestEntry = 0x90,
        /// Debug console: `fast_path(enable)`: turns the kernel's IPC fast path on (1) or
        /// off (0) for every thread (off: every call takes the general path, for tests that
        /// compare the two); replies with how many `Call`s and `ReplyRecv`s the fast path
        /// has taken since boot.
        DebugConsoleFastPath = 0x91,
        /// Debug console: `counters()`: replies with the kernel's event counts since boot:
        /// kernel entries, IPC messages, bytes copied for them, bytes of memory zeroed.
        /// Only a kernel built with its `counters` feature (the hatch benchmark's counted
        /// boot) answers; any other says `IllegalOperation`.
        DebugConsoleCounters = 0x92,
    }
}

/// Label of a fault message, sent to a thread's fault endpoint as a Call on its behalf.
/// Words: 0 = vector, 1 = error code, 2 = fault address (CR2 for page faults), 3 = rip;
/// with an IPC buffer also 4 = rsp, 5 = rflags. Replying resumes the thread (after the
/// handler has fixed it with `TcbWriteRegisters`, for example).
pub const FAULT_LABEL: u64 = 0x7_0000;
/// Label of a message that is a notification's signal bits (delivered to a thread
/// waiting on an endpoint while its bound notification was signalled); badge = the bits.
pub const NOTIFICATION_LABEL: u64 = 0x7_0001;

/// `FrameMap` rights word: add this bit to READ/WRITE to map the frame executable
/// (mappings are no-execute otherwise).
pub const MAP_EXECUTABLE: u64 = 0x10;

/// Most entries of one `CNodeCopyBatch` call: its four-word entries fill the kernel's 24
/// argument words.
pub const COPY_BATCH_MAX: usize = 6;
/// Most objects one `UntypedRetypeBatch` makes (three words each after the CNode's).
pub const RETYPE_BATCH_MAX: usize = 6;
/// Most slots one `CNodeRevokeBatch` revokes or one `CNodeDeleteBatch` empties (two words
/// each: `index, depth`).
pub const REVOKE_BATCH_MAX: usize = 8;
/// Words of one `CNodeCopyBatch` entry: `dest_index, src_index, packed, data`.
pub const COPY_BATCH_WORDS: usize = 4;

/// One entry of a `CNodeCopyBatch`, as the packed third word says it: the rights mask
/// (bits 0..8), the destination's and the source's depth (bits 8..16, 16..24) and whether
/// it is a mint setting `data` (bit 24) rather than a copy (whose `data` must be 0).
/// Bits 25..64 are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyBatchWord {
    /// The rights mask (as `CNodeCopy`'s).
    pub rights: u64,
    /// The destination's depth.
    pub dest_depth: u64,
    /// The source's depth.
    pub src_depth: u64,
    /// A mint (as `CNodeMint`, with the entry's `data`) rather than a copy.
    pub mint: bool,
}

impl CopyBatchWord {
    const MINT: u64 = 1 << 24;

    /// The packed word (depths above 255 and rights above 0xff do not fit: they are cut
    /// to 8 bits, which the kernel then refuses or resolves as given).
    pub const fn to_word(self) -> u64 {
        (self.rights & 0xff)
            | (self.dest_depth & 0xff) << 8
            | (self.src_depth & 0xff) << 16
            | if self.mint { Self::MINT } else { 0 }
    }

    /// Decodes a packed word; `None` when a reserved bit (25..64) is set.
    pub const fn from_word(word: u64) -> Option<CopyBatchWord> {
        if word >> 25 != 0 {
            return None;
        }
        Some(CopyBatchWord {
            rights: word & 0xff,
            dest_depth: (word >> 8) & 0xff,
            src_depth: (word >> 16) & 0xff,
            mint: word & Self::MINT != 0,
        })
    }
}

/// Number of registers `TcbReadRegisters` returns and `TcbWriteRegisters` takes.
pub const REGISTER_COUNT: usize = 18;

/// The message-info word carried in `rsi`: label, length in words, caps sent.
///
/// Layout: bits 0..10 length (words, at most [`MessageInfo::MAX_LENGTH`]), bits 10..12
/// extra caps, bits 12..15 caps unwrapped to badges (receive side), bits 15..64 label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MessageInfo(pub u64);

impl MessageInfo {
    /// Most words in one message: 4 in registers plus 508 in the IPC buffer (4 KiB).
    pub const MAX_LENGTH: u64 = 512;
    /// Message words passed in registers (`rdx`, `r8`, `r9`, `r10`).
    pub const REGISTER_WORDS: u64 = 4;
    /// Most caps transferred with one message.
    pub const MAX_CAPS: u64 = 3;

    /// Packs a message-info word. Out-of-range fields are clipped to their width.
    pub const fn new(label: u64, length: u64, caps: u64) -> Self {
        MessageInfo((label << 15) | ((caps & 0x3) << 10) | (length & 0x3ff))
    }
    /// The label.
    pub const fn label(self) -> u64 {
        self.0 >> 15
    }
    /// The length in words (as sent; the kernel clips it to [`Self::MAX_LENGTH`]).
    pub const fn length(self) -> u64 {
        self.0 & 0x3ff
    }
    /// The number of extra caps sent.
    pub const fn caps(self) -> u64 {
        (self.0 >> 10) & 0x3
    }
    /// Bit mask of received caps that were unwrapped to their badge.
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 12) & 0x7
    }
    /// The same word with the unwrapped mask set.
    pub const fn with_unwrapped(self, mask: u64) -> Self {
        MessageInfo((self.0 & !(0x7 << 12)) | ((mask & 0x7) << 12))
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
    fn copy_batch_word_round_trips_and_refuses_reserved_bits() {
        let w = CopyBatchWord {
            rights: 0xf,
            dest_depth: 64,
            src_depth: 12,
            mint: true,
        };
        assert_eq!(w.to_word(), 0xf | 64 << 8 | 12 << 16 | 1 << 24);
        assert_eq!(CopyBatchWord::from_word(w.to_word()), Some(w));
        let copy = CopyBatchWord { mint: false, ..w };
        assert_eq!(CopyBatchWord::from_word(copy.to_word()), Some(copy));
        assert_eq!(CopyBatchWord::from_word(1 << 25), None);
        assert_eq!(CopyBatchWord::from_word(1 << 63), None);
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
        let m = MessageInfo::new(0x1234, 512, 3).with_unwrapped(0b101);
        assert_eq!(
            (m.label(), m.length(), m.caps(), m.caps_unwrapped()),
            (0x1234, 512, 3, 0b101)
        );
    }

    #[test]
    fn labels_are_unique() {
        for (i, a) in Label::ALL.iter().enumerate() {
            for b in &Label::ALL[i + 1..] {
                assert_ne!(*a as u64, *b as u64, "{} and {}", a.name(), b.name());
            }
        }
    }
}
