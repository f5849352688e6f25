//! Kernel objects and their invocations: one file per object.
//!
//! Every invocation is a `Call` on a capability. [`invoke`] looks the capability up in the
//! caller's CSpace, reads the message, and hands it to the object's file, which decodes and
//! validates every argument (an [`InvocationError`] names the bad one) before it changes
//! anything, then performs the operation with code that cannot fail halfway.
//!
//! Capability slots live in physical memory (CNodes and TCBs carved from untyped memory);
//! [`KernelSlots`] lets the pure capability logic in `kerncore` reach them through the HHDM.

pub mod asid;
pub mod cnode;
pub mod endpoint;
pub mod ioport;
pub mod irq;
pub mod notification;
pub mod pending;
pub mod reply;
pub mod tcb;
pub mod untyped;
pub mod vspace;

use crate::ipc::{Endpoint, Notification};
use crate::mem::phys_to_virt;
use crate::thread::{TcbPtr, TCB_SLOT_CSPACE};
use core::mem::MaybeUninit;
use kerncore::{
    Argument, Cap, CapError, Finalise, LookupError, RetypeError, Slot, SlotAddr, SlotStore,
};
use libsys::abi::{Error, Label, MessageInfo};
use libsys::ipc::IpcBuffer;

/// The kernel's view of slot memory: slots are reached through the HHDM.
pub struct KernelSlots;

impl SlotStore for KernelSlots {
    fn slot(&self, at: SlotAddr) -> &Slot {
        // SAFETY: kerncore only passes addresses of slots the kernel found through caps
        // (CNode and TCB objects, which stay allocated while a cap names them); the HHDM
        // maps all RAM and `Slot` is valid for any bytes kerncore wrote.
        unsafe { &*(phys_to_virt(at.0) as *const Slot) }
    }

    fn slot_mut(&mut self, at: SlotAddr) -> &mut Slot {
        // Any slot may be a thread's CSpace slot: the fast path's decoded copies go stale.
        crate::fastpath::slot_written();
        // SAFETY: as above; one CPU with interrupts off, and kerncore drops each slot
        // reference before it takes the next. No other reference to a slot is live: CNode
        // slots are only reached through this store, and TCBs (whose first slots these
        // may be) are reached through `TcbPtr` handles, which make no reference to the
        // TCB, while kerncore runs (the fast path's short-lived `&Tcb` reads one slot and
        // runs no capability operation).
        unsafe { &mut *(phys_to_virt(at.0) as *mut Slot) }
    }

    fn clear(&mut self, at: SlotAddr) {
        crate::fastpath::slot_written();
        // SAFETY: as in `slot_mut`; all 64 bytes are written as zero (the empty slot, and a
        // CNode whose slots are all empty is all zero: `untyped::start_over_after_revoke`
        // relies on it), through a raw pointer while no reference to the slot is live.
        unsafe {
            core::ptr::write_bytes(
                phys_to_virt(at.0) as *mut u8,
                0,
                1 << libsys::object::SLOT_SIZE_BITS,
            )
        };
    }

    fn highest_full(&self, bottom: SlotAddr, top: SlotAddr) -> Option<SlotAddr> {
        // A dying CNode is mostly empty: one tag test per slot, four slots per turn, the
        // HHDM offset read once.
        const SLOT: u64 = 1 << libsys::object::SLOT_SIZE_BITS;
        let offset = crate::mem::hhdm_offset();
        // SAFETY: as in `slot`: kerncore passes slots of one object it found through a cap
        // (`bottom..=top`, 64 bytes apart), and only those are read; each reference lives
        // for the one test.
        let full = |at: u64| !unsafe { &*((at + offset) as *const Slot) }.is_empty();
        let mut at = top.0;
        let mut left = top.0.saturating_sub(bottom.0) / SLOT + 1;
        while left >= 4 {
            for below in 0..4 {
                if full(at - below * SLOT) {
                    return Some(SlotAddr(at - below * SLOT));
                }
            }
            at = at.wrapping_sub(4 * SLOT);
            left -= 4;
        }
        while left > 0 {
            if full(at) {
                return Some(SlotAddr(at));
            }
            at = at.wrapping_sub(SLOT);
            left -= 1;
        }
        None
    }
}

/// A failed invocation: the error code and the index of the bad argument (message word
/// number, or [`INVOKED_CAP`] for the invoked capability itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvocationError {
    /// The error code returned in `rax`.
    pub error: Error,
    /// The bad argument, returned in `rdx`.
    pub argument: u64,
}

/// Argument index meaning "the invoked capability".
pub const INVOKED_CAP: u64 = u64::MAX;

impl InvocationError {
    /// An error about message word `argument`.
    pub const fn new(error: Error, argument: u64) -> Self {
        InvocationError { error, argument }
    }

    /// An error about the invoked capability.
    pub const fn cap(error: Error) -> Self {
        InvocationError {
            error,
            argument: INVOKED_CAP,
        }
    }
}

/// Result of an invocation: the words it returns.
pub type InvocationResult = Result<Output, InvocationError>;

/// Most words an invocation reads.
pub const MAX_ARGS: usize = 24;

/// The words of a message that travel in registers (`rdx`, `r8`, `r9`, `r10`).
const REGISTER_WORDS: usize = 4;

/// Room for the words of an invocation's message: filled by [`Args::read`], which returns
/// a view of the words the message has. Nothing is zeroed.
pub type ArgsStorage = MaybeUninit<[u64; MAX_ARGS]>;

/// The arguments of an invocation, copied out of the caller's registers and IPC buffer
/// into an [`ArgsStorage`] on the kernel stack: only the words the message has (a word
/// past them is an `InvalidArgument` error through [`Args::get`]), and the view is small,
/// so nothing big is zeroed or moved per invocation.
pub struct Args<'a> {
    words: &'a [u64],
    /// The length the message said (`words` holds at most [`MAX_ARGS`] of it).
    sent: usize,
    /// The label.
    pub label: u64,
}

impl<'a> Args<'a> {
    /// Reads the message the current thread sent into `storage`.
    #[inline(always)]
    pub fn read(tcb: TcbPtr, storage: &'a mut ArgsStorage) -> Args<'a> {
        let info = MessageInfo(tcb.read_context(|c| c.rsi));
        let sent = info.length() as usize;
        let mut length = sent.min(MAX_ARGS);
        let words = storage.as_mut_ptr().cast::<u64>();
        // SAFETY: `words` points at the MAX_ARGS (> 4) words of `storage`; the first
        // four are written.
        unsafe {
            words
                .cast::<[u64; REGISTER_WORDS]>()
                .write(tcb.message_registers())
        };
        if length > REGISTER_WORDS {
            let buffer = ipc_buffer_ptr(tcb);
            if buffer.is_null() {
                length = REGISTER_WORDS;
            } else {
                // SAFETY: the buffer frame is allocated while its cap is in the TCB's slot;
                // it is user-writable memory, so it is copied through a raw pointer (no
                // reference) and any bytes are valid words. At most MAX_ARGS - 4 words are
                // read, inside `msg`, and written into `storage` after the registers
                // (`rep movsq`: a few words, no call to `memcpy`; DF is clear in the
                // kernel, as the ABI requires).
                unsafe {
                    core::arch::asm!(
                        "rep movsq",
                        inout("rcx") length - REGISTER_WORDS => _,
                        inout("rsi") core::ptr::addr_of!((*buffer).msg).cast::<u64>() => _,
                        inout("rdi") words.add(REGISTER_WORDS) => _,
                        options(nostack, preserves_flags)
                    )
                };
            }
        }
        // SAFETY: the first `length` words of `storage` are initialised (the registers
        // always; above four, the buffer words just copied, or `length` is four), and
        // `storage` stays mutably borrowed (so unchanged) while the view lives.
        let words = unsafe { core::slice::from_raw_parts(words, length) };
        Args {
            words,
            sent,
            label: info.label(),
        }
    }

    /// The number of words the message said it has (words past [`MAX_ARGS`] are not read).
    pub fn sent_len(&self) -> usize {
        self.sent
    }

    /// Word `i`, or `InvalidArgument` naming `i` when the message is too short.
    #[inline]
    pub fn get(&self, i: usize) -> Result<u64, InvocationError> {
        self.words
            .get(i)
            .copied()
            .ok_or(InvocationError::new(Error::InvalidArgument, i as u64))
    }
}

/// What an invocation returns to its caller, written into the caller's message registers
/// (and IPC buffer) by [`Output::write_to`]. Small (it travels back through every `?` of
/// an invocation): at most four words, or the one long answer, a thread's registers, read
/// when written out. (Named apart from the Reply object, `reply::Reply`, and from the
/// `Reply` system call, `ipc::reply_to_caller`.)
pub struct Output(OutputWords);

enum OutputWords {
    /// The first `length` words of `words` (in the message registers).
    Registers {
        words: [u64; REGISTER_WORDS],
        length: usize,
    },
    /// The saved registers of a thread (`TcbReadRegisters`): message registers and IPC
    /// buffer.
    ThreadRegisters(TcbPtr),
}

impl Output {
    /// No words.
    #[inline(always)]
    pub fn empty() -> Output {
        Output(OutputWords::Registers {
            words: [0; REGISTER_WORDS],
            length: 0,
        })
    }

    /// The given words (at most four: they travel in the message registers; checked at
    /// compile time).
    #[inline(always)]
    pub fn words<const N: usize>(given: &[u64; N]) -> Output {
        const { assert!(N <= REGISTER_WORDS) };
        let mut words = [0; REGISTER_WORDS];
        words[..N].copy_from_slice(given);
        Output(OutputWords::Registers { words, length: N })
    }

    /// The saved registers of thread `target`, in `TcbWriteRegisters` order, read when
    /// the output is written (at once, by the same system call).
    pub fn thread_registers(target: TcbPtr) -> Output {
        Output(OutputWords::ThreadRegisters(target))
    }

    /// Writes the words into the caller's registers and IPC buffer, with `rax` = 0.
    #[inline]
    pub fn write_to(&self, tcb: TcbPtr) {
        let length = match self.0 {
            OutputWords::Registers { words, length } => {
                tcb.set_message_registers(&words[..length]);
                length
            }
            OutputWords::ThreadRegisters(target) => write_thread_registers(tcb, target),
        };
        tcb.update_context(|c| {
            c.rax = 0;
            c.rsi = MessageInfo::new(0, length as u64, 0).0;
        });
    }
}

/// Writes the saved registers of `target` into `tcb`'s message registers and IPC buffer
/// (out of line: the usual answer, a few register words, needs no room for them); returns
/// how many words were written.
#[inline(never)]
fn write_thread_registers(tcb: TcbPtr, target: TcbPtr) -> usize {
    write_long(tcb, &tcb::read_registers(target))
}

/// Writes `words` (at most [`MAX_ARGS`]) into the thread's message registers and IPC
/// buffer; returns how many were written (four when it has no buffer).
fn write_long(tcb: TcbPtr, words: &[u64]) -> usize {
    let mut length = words.len().min(MAX_ARGS);
    tcb.set_message_registers(&words[..length.min(REGISTER_WORDS)]);
    if length > REGISTER_WORDS {
        let buffer = ipc_buffer_ptr(tcb);
        if buffer.is_null() {
            length = REGISTER_WORDS;
        } else {
            // SAFETY: as in `Args::read`; at most MAX_ARGS - 4 words, inside `msg`.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    words[REGISTER_WORDS..length].as_ptr(),
                    core::ptr::addr_of_mut!((*buffer).msg).cast::<u64>(),
                    length - REGISTER_WORDS,
                )
            };
        }
    }
    length
}

/// A thread's IPC buffer as a raw pointer (null if it has none). The buffer is a frame the
/// user maps and other threads may share, so the kernel never makes a reference to it: it
/// reads and writes words through this pointer.
pub fn ipc_buffer_ptr(tcb: TcbPtr) -> *mut IpcBuffer {
    match tcb.ipc_buffer_frame() {
        0 => core::ptr::null_mut(),
        frame => phys_to_virt(frame) as *mut IpcBuffer,
    }
}

/// The thread's CSpace root cap (null if unconfigured).
pub fn cspace_root(tcb: TcbPtr) -> Cap {
    tcb.slot_cap(TCB_SLOT_CSPACE)
}

/// Looks up `cptr` (at depth 64) in the thread's CSpace.
pub fn lookup(tcb: TcbPtr, cptr: u64) -> Result<(SlotAddr, Cap), LookupError> {
    // A lookup only reads slots.
    tcb.read_slot_cap(TCB_SLOT_CSPACE, |root| {
        kerncore::lookup_cap(&KernelSlots, root, cptr)
    })
}

/// Finds the slot `(index, depth)` relative to the CNode cap `root` (argument `arg`).
pub fn resolve_slot(
    root: &Cap,
    index: u64,
    depth: u64,
    arg: u64,
) -> Result<SlotAddr, InvocationError> {
    let depth =
        u32::try_from(depth).map_err(|_| InvocationError::new(Error::RangeError, arg + 1))?;
    kerncore::resolve(&KernelSlots, root, index, depth).map_err(|e| match e {
        // A bad depth is the fault of the depth argument, which follows the index.
        LookupError::InvalidDepth { .. } => InvocationError::new(e.code(), arg + 1),
        _ => lookup_error(e, arg),
    })
}

/// Maps a lookup failure for argument `arg` to an invocation error.
pub fn lookup_error(e: LookupError, arg: u64) -> InvocationError {
    InvocationError::new(e.code(), arg)
}

/// A kerncore error: its ABI code and the argument it is about.
pub trait CoreError {
    /// The ABI error code.
    fn code(&self) -> Error;
    /// The argument at fault.
    fn argument(&self) -> Argument;
}

impl CoreError for CapError {
    fn code(&self) -> Error {
        CapError::code(self)
    }
    fn argument(&self) -> Argument {
        CapError::argument(self)
    }
}

impl CoreError for RetypeError {
    fn code(&self) -> Error {
        RetypeError::code(self)
    }
    fn argument(&self) -> Argument {
        RetypeError::argument(self)
    }
}

/// Maps a kerncore error to an invocation error, given the message word of each argument
/// kind (`None` = the invoked cap).
pub fn cap_error(e: impl CoreError, position: impl Fn(Argument) -> Option<u64>) -> InvocationError {
    InvocationError {
        error: e.code(),
        argument: position(e.argument()).unwrap_or(INVOKED_CAP),
    }
}

/// Performs a Call on a non-endpoint capability (an invocation).
pub fn invoke(tcb: TcbPtr, slot: SlotAddr, cap: Cap) -> InvocationResult {
    let mut storage = ArgsStorage::uninit();
    let args = Args::read(tcb, &mut storage);
    let label =
        Label::try_from(args.label).map_err(|_| InvocationError::cap(Error::IllegalOperation))?;
    match cap {
        Cap::Untyped { .. } => untyped::invoke(tcb, slot, label, &args),
        Cap::CNode { .. } => cnode::invoke(tcb, &cap, label, &args),
        Cap::Tcb { object } => tcb::invoke(tcb, slot, object, label, &args),
        Cap::Frame { .. } | Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. } => {
            vspace::invoke(tcb, slot, cap, label, &args)
        }
        Cap::Reply { object, .. } => reply::invoke(tcb, object, label),
        Cap::IrqControl | Cap::IrqHandler { .. } => irq::invoke(tcb, slot, cap, label, &args),
        Cap::IoPortControl | Cap::IoPort { .. } => ioport::invoke(tcb, slot, cap, label, &args),
        Cap::AsidControl | Cap::AsidPool { .. } => asid::invoke(tcb, cap, label, &args),
        Cap::DebugConsole if label == Label::DebugConsoleLongestEntry => {
            Ok(Output::words(&[crate::syscall::take_longest_entry()]))
        }
        #[cfg(feature = "counters")]
        Cap::DebugConsole if label == Label::DebugConsoleCounters => {
            Ok(Output::words(&crate::counters::read()))
        }
        Cap::DebugConsole if label == Label::DebugConsoleFastPath => Ok(Output::words(
            &crate::fastpath::set_enabled(args.get(0)? != 0),
        )),
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// The Identify system call's answer: kind, rights, badge.
pub fn identify(cap: &Cap) -> Output {
    let rights = match cap {
        Cap::Endpoint { rights, .. }
        | Cap::Notification { rights, .. }
        | Cap::Frame { rights, .. } => rights.bits(),
        _ => 0,
    };
    Output::words(&[cap.kind() as u64, rights, cap.badge()])
}

/// Tears down what an object's last capability kept alive, and undoes mappings recorded
/// in any deleted frame or page-table cap. Called for every cap a delete or revoke removes.
#[inline(always)]
pub fn finalise(f: Finalise) {
    // Most removed caps are neither the last to their object nor a frame or table cap
    // with a mapping: nothing to do, decided here without a call.
    if f.is_final
        || matches!(
            f.cap,
            Cap::Frame { .. } | Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. }
        )
    {
        finalise_object(f);
    }
}

/// [`finalise`]'s work (out of line).
#[inline(never)]
fn finalise_object(f: Finalise) {
    match f.cap {
        // Each frame cap has its own mapping.
        Cap::Frame { .. } => vspace::unmap_deleted(&f.cap),
        // A table has one mapping, shared by all its caps: undone with the last one.
        Cap::Pdpt { .. } | Cap::Pd { .. } | Cap::Pt { .. } if f.is_final => {
            vspace::unmap_deleted(&f.cap)
        }
        _ => {}
    }
    if !f.is_final {
        return;
    }
    match f.cap {
        // SAFETY: the cap named a live endpoint/notification until now; it is still
        // allocated (its memory returns only when its untyped is retyped again), and the
        // reference lasts for the one call (which reaches only TCBs).
        Cap::Endpoint { object, .. } => unsafe { (*Endpoint::at(object)).cancel_all() },
        Cap::Notification { object, .. } => {
            irq::release_notification(object);
            // SAFETY: as above.
            unsafe { (*Notification::at(object)).cancel_all() };
        }
        Cap::Tcb { object } => tcb::destroy(object),
        // SAFETY: as above.
        Cap::Reply { object, .. } => unsafe { (*reply::Reply::at(object)).cancel() },
        Cap::Pml4 { object, asid } => vspace::destroy_vspace(object, asid),
        Cap::AsidPool { object, first_asid } => asid::destroy_pool(object, first_asid),
        Cap::IrqHandler { irq } => irq::release_irq(irq),
        Cap::IoPort { first, last } => ioport::release_ports(first, last),
        _ => {}
    }
}

/// Transfers up to `count` extra caps named in the sender's IPC buffer to the receiver
/// (seL4 rules: a badged cap to the endpoint being received on is unwrapped to its badge;
/// otherwise one cap can go into the receiver's receive slot, if the sender may grant).
/// Returns (caps transferred or unwrapped, unwrapped mask).
pub fn transfer_caps(
    sender: TcbPtr,
    receiver: TcbPtr,
    count: u64,
    can_grant: bool,
    endpoint: u64,
) -> (u64, u64) {
    let (sbuf, rbuf) = (ipc_buffer_ptr(sender), ipc_buffer_ptr(receiver));
    if sbuf.is_null() || rbuf.is_null() {
        return (0, 0);
    }
    // SAFETY: both point at live IPC buffer frames (held by the TCBs' buffer slots); they
    // may be the same frame, so only raw reads and writes are used.
    let (send_caps, mut receive_slot) = unsafe {
        (
            core::ptr::read(core::ptr::addr_of!((*sbuf).caps)),
            core::ptr::read(core::ptr::addr_of!((*rbuf).receive_slot)),
        )
    };
    let mut unwrapped = 0;
    let mut done = 0;
    let count = count.min(MessageInfo::MAX_CAPS) as usize;
    for (i, &cptr) in send_caps.iter().enumerate().take(count) {
        let Ok((src, cap)) = lookup(sender, cptr) else {
            break;
        };
        if let Cap::Endpoint { object, badge, .. } = cap {
            if object == endpoint && endpoint != 0 && badge != 0 {
                // SAFETY: as above.
                unsafe { core::ptr::write(core::ptr::addr_of_mut!((*rbuf).caps[i]), badge) };
                unwrapped |= 1 << i;
                done += 1;
                continue;
            }
        }
        if !can_grant || receive_slot == 0 {
            break;
        }
        // Resolving only reads slots.
        let resolved = receiver.read_slot_cap(TCB_SLOT_CSPACE, |root| {
            kerncore::resolve(&KernelSlots, root, receive_slot, 64)
        });
        let Ok(dest) = resolved else {
            break;
        };
        if kerncore::cnode_copy(&mut KernelSlots, src, dest, libsys::object::Rights::ALL).is_err() {
            break;
        }
        receive_slot = 0;
        done += 1;
    }
    (done, unwrapped)
}
