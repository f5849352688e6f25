//! Typed capability handles and the invocations on them.
//!
//! A [`Cap<T>`] is a capability pointer (cptr: a slot address resolved at full depth in the
//! caller's CSpace) tagged with the kind of object the program believes is there, a marker
//! type such as [`Endpoint`] or [`Untyped`]. The tag is a claim, not a proof: the kernel
//! checks every cap it is handed, so a wrong tag only earns an error (tests rely on that, and
//! build mismatched handles on purpose with [`Cap::cast`]).
//!
//! Every invocation is one method, a thin wrapper over one `Call` (see [`invoke`]) named
//! after its [`Label`]: `Label::UntypedRetype` is `Cap<Untyped>::retype`,
//! `Label::CNodeMint` is `Cap<CNode>::mint`, and so on. Arguments keep the order of the
//! label's doc comment. Failures come back as [`InvocationError`]: the [`Error`] and the
//! index of the argument at fault.
//!
//! IPC on endpoints and notifications is here too ([`Cap<Endpoint>::call`],
//! [`Cap<Notification>::signal`]...), over the stubs in [`crate::syscall`].

use crate::abi::{
    CopyBatchWord, Error, Label, MessageInfo, COPY_BATCH_MAX, COPY_BATCH_WORDS, REGISTER_COUNT,
    RETYPE_BATCH_MAX, REVOKE_BATCH_MAX,
};
use crate::object::{CNodeGuard, CapKind, ObjectType, Rights};
use crate::syscall::{self, Registers};
use core::fmt;
use core::marker::PhantomData;

pub use crate::syscall::{InvocationError, INVOKED_CAP};

/// Result of an invocation.
pub type InvocationResult<T = ()> = Result<T, InvocationError>;

/// A capability pointer tagged with the kind of capability it is believed to name.
///
/// Invariant: none; the kernel validates the cptr on every use. `Cap` is `Copy`: it is a
/// name, not ownership.
#[repr(transparent)]
pub struct Cap<T> {
    cptr: u64,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Cap<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Cap<T> {}
impl<T> PartialEq for Cap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cptr == other.cptr
    }
}
impl<T> Eq for Cap<T> {}
impl<T: CapType> fmt::Debug for Cap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cap<{}>({:#x})", T::KIND.name(), self.cptr)
    }
}

impl<T: CapType> fmt::Display for Cap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", T::KIND.name(), self.cptr)
    }
}

impl<T> Cap<T> {
    /// The handle for the cap at `cptr`.
    pub const fn from_cptr(cptr: u64) -> Self {
        Cap {
            cptr,
            kind: PhantomData,
        }
    }
    /// The null cap (cptr 0): "none" or "leave unchanged" where an argument allows it.
    pub const fn null() -> Self {
        Cap::from_cptr(0)
    }
    /// The capability pointer.
    pub const fn cptr(self) -> u64 {
        self.cptr
    }
    /// The same cptr with another tag (the kernel will judge whether it fits).
    pub const fn cast<U>(self) -> Cap<U> {
        Cap::from_cptr(self.cptr)
    }
    /// The slot this cap lives in, as a path at full depth (for CNode operations on the
    /// caller's CSpace root).
    pub const fn slot(self) -> SlotPath {
        SlotPath::at(self.cptr)
    }

    /// `Identify` (a system call): the kind, rights and badge of the capability in this slot.
    ///
    /// # Errors
    /// [`Error::FailedLookup`] if the slot is empty or the cptr does not resolve.
    pub fn identify(self) -> InvocationResult<Identity> {
        let reply = syscall::identify(self.cptr)?;
        Ok(Identity {
            kind: reply.words[0],
            rights: reply.words[1],
            badge: reply.words[2],
        })
    }
}

/// What `Identify` reports about a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The [`CapKind`] number.
    pub kind: u64,
    /// The [`Rights`] bits.
    pub rights: u64,
    /// The badge (0 when none, or for kinds without badges).
    pub badge: u64,
}

impl Identity {
    /// The kind, if the kernel reported a known one.
    pub fn cap_kind(&self) -> Option<CapKind> {
        CapKind::try_from(self.kind).ok()
    }
}

/// A slot named relative to a CNode, seL4-style: `index` resolved over `depth` bits.
///
/// In a CSpace whose root guard makes cptrs equal slot numbers (the root task's, and every
/// CSpace [`crate::loader`] builds), `SlotPath::at(slot)` (depth 64) names slot `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPath {
    /// The index (a cptr when `depth` is 64).
    pub index: u64,
    /// How many bits of `index` the lookup consumes (1..=64).
    pub depth: u64,
}

impl SlotPath {
    /// The full-depth path for a cptr.
    pub const fn at(cptr: u64) -> Self {
        SlotPath {
            index: cptr,
            depth: 64,
        }
    }
}

/// One entry of [`Cap::<CNode>::copy_batch`]: a copy (no badge) or a mint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchCopy {
    /// The slot the cap goes to.
    pub dest: SlotPath,
    /// The slot it comes from.
    pub src: SlotPath,
    /// The rights mask.
    pub rights: Rights,
    /// `Some(data)`: a mint with that badge or guard word; `None`: a copy.
    pub badge: Option<u64>,
}

/// The tag types name what a [`Cap`] points at.
pub trait CapType {
    /// The kind `Identify` reports for such a cap.
    const KIND: CapKind;
}

/// Tags of objects made by `UntypedRetype`.
pub trait ObjectKind: CapType {
    /// The object type argument for `UntypedRetype`.
    const OBJECT_TYPE: ObjectType;
}

/// Tags of the intermediate page-table levels (PDPT, PD, PT), which share one map/unmap.
pub trait PageTableLevel: ObjectKind {}

macro_rules! cap_types {
    ($($(#[$m:meta])* $name:ident => $kind:ident $(, $object:ident)?;)+) => {
        $(
            $(#[$m])*
            #[derive(Clone, Copy, Debug)]
            pub enum $name {}
            impl CapType for $name {
                const KIND: CapKind = CapKind::$kind;
            }
            $(impl ObjectKind for $name {
                const OBJECT_TYPE: ObjectType = ObjectType::$object;
            })?
        )+
    };
}

cap_types! {
    /// Untyped memory.
    Untyped => Untyped, Untyped;
    /// A CNode (a table of slots).
    CNode => CNode, CNode;
    /// A thread control block.
    Tcb => Tcb, Tcb;
    /// An IPC endpoint.
    Endpoint => Endpoint, Endpoint;
    /// A notification.
    Notification => Notification, Notification;
    /// A reply object.
    Reply => Reply, Reply;
    /// A 4 KiB frame (the object type for retype; 2 MiB frames share the handle type).
    Frame => Frame, Frame4K;
    /// A PML4: the root of an address space.
    Pml4 => Pml4, Pml4;
    /// A page-directory-pointer table.
    Pdpt => Pdpt, Pdpt;
    /// A page directory.
    PageDirectory => Pd, Pd;
    /// A page table.
    PageTable => Pt, Pt;
    /// IRQ control: makes IRQ handler caps.
    IrqControl => IrqControl;
    /// The right to handle one IRQ.
    IrqHandler => IrqHandler;
    /// I/O port control: makes I/O port caps.
    IoPortControl => IoPortControl;
    /// A range of I/O ports.
    IoPort => IoPort;
    /// ASID control: makes ASID pools.
    AsidControl => AsidControl;
    /// An ASID pool: the address spaces its holder may create.
    AsidPool => AsidPool;
    /// The kernel's debug console (`DebugWrite`).
    DebugConsole => DebugConsole;
}

/// An address space is named by its PML4.
pub type VSpace = Pml4;

impl PageTableLevel for Pdpt {}
impl PageTableLevel for PageDirectory {}
impl PageTableLevel for PageTable {}

/// Performs the invocation `label` on the cap at `cptr` with `args` as message words
/// (words 4 and up go through the IPC buffer). Returns the reply registers; reply words 4
/// and up are in the IPC buffer ([`syscall::word`]).
///
/// # Errors
/// The kernel's error and the index of the argument at fault.
pub fn invoke(cptr: u64, label: Label, args: &[u64]) -> InvocationResult<Registers> {
    let mut registers = [0u64; 4];
    for (index, &arg) in args.iter().enumerate() {
        match registers.get_mut(index) {
            Some(register) => *register = arg,
            None => syscall::set_word(index, arg),
        }
    }
    let info = MessageInfo::new(label as u64, args.len() as u64, 0);
    syscall::call(cptr, info, registers)
}

impl Cap<Untyped> {
    /// `UntypedRetype`: makes `count` objects of `object_type` (size argument `size_arg`:
    /// bits for untyped, radix for CNodes, ignored otherwise) into slots
    /// `dest_offset..dest_offset + count` of the CNode `dest_cnode`.
    ///
    /// # Errors
    /// `InvalidArgument` (bad type or size, index 0/1), `RangeError` (count), `FailedLookup`
    /// / `InvalidCapability` (destination CNode), `DeleteFirst` (an occupied destination),
    /// `NotEnoughMemory`.
    pub fn retype(
        self,
        object_type: ObjectType,
        size_arg: u64,
        dest_cnode: Cap<CNode>,
        dest_offset: u64,
        count: u64,
    ) -> InvocationResult {
        self.retype_raw(object_type as u64, size_arg, dest_cnode, dest_offset, count)
    }

    /// `UntypedRetypeBatch`: one object of each `(type, size_arg, dest_offset)` of `objects`
    /// into slot `dest_offset` of `dest_cnode`, in order, in one call (at most
    /// [`RETYPE_BATCH_MAX`]); each as [`Self::retype`] with a count of 1.
    ///
    /// # Errors
    /// `RangeError` (0) for no objects or more than [`RETYPE_BATCH_MAX`]; else the first
    /// refused object's error at its words (`1 + 3k + 0/1/2` for the `k`th: type, size,
    /// offset) or `NotEnoughMemory`; the objects before it are made.
    pub fn retype_batch(
        self,
        dest_cnode: Cap<CNode>,
        objects: &[(ObjectType, u64, u64)],
    ) -> InvocationResult {
        let mut args = [0u64; 1 + 3 * RETYPE_BATCH_MAX];
        if objects.is_empty() || objects.len() > RETYPE_BATCH_MAX {
            return Err(InvocationError {
                error: Error::RangeError,
                argument: 0,
            });
        }
        args[0] = dest_cnode.cptr();
        for (k, &(object_type, size, offset)) in objects.iter().enumerate() {
            args[1 + 3 * k..4 + 3 * k].copy_from_slice(&[object_type as u64, size, offset]);
        }
        invoke(
            self.cptr,
            Label::UntypedRetypeBatch,
            &args[..1 + 3 * objects.len()],
        )
        .map(drop)
    }

    /// [`Self::retype`] with the object type as a raw word (to test bad values).
    ///
    /// # Errors
    /// As for [`Self::retype`].
    pub fn retype_raw(
        self,
        object_type: u64,
        size_arg: u64,
        dest_cnode: Cap<CNode>,
        dest_offset: u64,
        count: u64,
    ) -> InvocationResult {
        let args = [object_type, size_arg, dest_cnode.cptr(), dest_offset, count];
        invoke(self.cptr, Label::UntypedRetype, &args).map(drop)
    }
}

impl Cap<CNode> {
    /// `CNodeCopy`: copies the cap at `src` into the empty slot `dest` with `rights` masked
    /// off (rights only ever shrink).
    ///
    /// # Errors
    /// `FailedLookup` (a path), `DeleteFirst` (dest occupied), `InvalidCapability` (src
    /// empty), `InvalidArgument` (rights).
    pub fn copy(self, dest: SlotPath, src: SlotPath, rights: Rights) -> InvocationResult {
        self.copy_raw(dest, src, rights.bits())
    }

    /// [`Self::copy`] with rights as a raw word.
    ///
    /// # Errors
    /// As for [`Self::copy`].
    pub fn copy_raw(self, dest: SlotPath, src: SlotPath, rights: u64) -> InvocationResult {
        let args = [dest.index, dest.depth, src.index, src.depth, rights];
        invoke(self.cptr, Label::CNodeCopy, &args).map(drop)
    }

    /// `CNodeMint`: like [`Self::copy`], also setting the badge (endpoints, notifications)
    /// or the guard word ([`CNodeGuard::to_word`], CNodes).
    ///
    /// # Errors
    /// As for [`Self::copy`]; also `InvalidArgument` for a guard that does not fit.
    pub fn mint(
        self,
        dest: SlotPath,
        src: SlotPath,
        rights: Rights,
        badge: u64,
    ) -> InvocationResult {
        let args = [
            dest.index,
            dest.depth,
            src.index,
            src.depth,
            rights.bits(),
            badge,
        ];
        invoke(self.cptr, Label::CNodeMint, &args).map(drop)
    }

    /// `CNodeCopyBatch`: the copies and mints of `entries`, in order, in one kernel call per
    /// [`COPY_BATCH_MAX`] entries (docs/syscalls.md). Each is what [`Self::copy`] or
    /// [`Self::mint`] would do.
    ///
    /// # Errors
    /// The first refusal, as [`Self::copy`] or [`Self::mint`] gives it, its `argument` the
    /// word of `entries` at fault (entry `argument / 4`; word `4k` the destination, `4k + 1`
    /// the source, `4k + 2` the depths and rights, `4k + 3` the data). The entries before it
    /// are done; none after it.
    pub fn copy_batch(self, entries: &[BatchCopy]) -> InvocationResult {
        for (chunk_index, chunk) in entries.chunks(COPY_BATCH_MAX).enumerate() {
            let mut args = [0u64; COPY_BATCH_MAX * COPY_BATCH_WORDS];
            for (i, e) in chunk.iter().enumerate() {
                let word = CopyBatchWord {
                    rights: e.rights.bits(),
                    dest_depth: e.dest.depth,
                    src_depth: e.src.depth,
                    mint: e.badge.is_some(),
                };
                args[i * COPY_BATCH_WORDS..(i + 1) * COPY_BATCH_WORDS].copy_from_slice(&[
                    e.dest.index,
                    e.src.index,
                    word.to_word(),
                    e.badge.unwrap_or(0),
                ]);
            }
            let words = chunk.len() * COPY_BATCH_WORDS;
            invoke(self.cptr, Label::CNodeCopyBatch, &args[..words]).map_err(|mut e| {
                if e.argument != INVOKED_CAP {
                    e.argument += (chunk_index * COPY_BATCH_MAX * COPY_BATCH_WORDS) as u64;
                }
                e
            })?;
        }
        Ok(())
    }

    /// `CNodeMint` of a CNode cap with a guard: the usual way to make a CSpace root whose
    /// cptrs equal slot numbers (`guard_bits = 64 - radix`).
    ///
    /// # Errors
    /// As for [`Self::mint`].
    pub fn mint_guard(self, dest: SlotPath, src: SlotPath, guard: CNodeGuard) -> InvocationResult {
        self.mint(dest, src, Rights::ALL, guard.to_word())
    }

    /// `CNodeMove`: moves the cap at `src` into the empty slot `dest`.
    ///
    /// # Errors
    /// As for [`Self::copy`].
    pub fn move_cap(self, dest: SlotPath, src: SlotPath) -> InvocationResult {
        let args = [dest.index, dest.depth, src.index, src.depth];
        invoke(self.cptr, Label::CNodeMove, &args).map(drop)
    }

    /// `CNodeMutate`: moves the cap at `src` into `dest`, setting its badge (or guard).
    ///
    /// # Errors
    /// As for [`Self::copy`].
    pub fn mutate(self, dest: SlotPath, src: SlotPath, badge: u64) -> InvocationResult {
        let args = [dest.index, dest.depth, src.index, src.depth, badge];
        invoke(self.cptr, Label::CNodeMutate, &args).map(drop)
    }

    /// `CNodeDelete`: empties the slot; deleting the last cap of an object destroys it.
    ///
    /// # Errors
    /// `FailedLookup` for a bad path. Deleting an empty slot succeeds.
    pub fn delete(self, slot: SlotPath) -> InvocationResult {
        invoke(self.cptr, Label::CNodeDelete, &[slot.index, slot.depth]).map(drop)
    }

    /// `CNodeRevoke`: deletes every cap derived from the one at `slot` (for an untyped,
    /// every object made from it), keeping that cap.
    ///
    /// # Errors
    /// `FailedLookup` for a bad path.
    pub fn revoke(self, slot: SlotPath) -> InvocationResult {
        invoke(self.cptr, Label::CNodeRevoke, &[slot.index, slot.depth]).map(drop)
    }

    /// `CNodeRevokeBatch`: [`Self::revoke`] of each of `slots` in order, in one call per
    /// [`REVOKE_BATCH_MAX`] slots (docs/syscalls.md).
    ///
    /// # Errors
    /// The first refused slot's error, at its words (`2k`, `2k + 1` for the `k`th of
    /// `slots`); the slots before it are revoked.
    pub fn revoke_batch(self, slots: &[SlotPath]) -> InvocationResult {
        self.slot_batch(Label::CNodeRevokeBatch, slots)
    }

    /// `CNodeDeleteBatch`: [`Self::delete`] of each of `slots` in order, as
    /// [`Self::revoke_batch`] revokes them.
    ///
    /// # Errors
    /// As for [`Self::revoke_batch`].
    pub fn delete_batch(self, slots: &[SlotPath]) -> InvocationResult {
        self.slot_batch(Label::CNodeDeleteBatch, slots)
    }

    fn slot_batch(self, label: Label, slots: &[SlotPath]) -> InvocationResult {
        for (chunk_index, chunk) in slots.chunks(REVOKE_BATCH_MAX).enumerate() {
            let mut args = [0u64; 2 * REVOKE_BATCH_MAX];
            for (i, slot) in chunk.iter().enumerate() {
                args[2 * i] = slot.index;
                args[2 * i + 1] = slot.depth;
            }
            invoke(self.cptr, label, &args[..2 * chunk.len()]).map_err(|mut e| {
                if e.argument != INVOKED_CAP {
                    e.argument += (chunk_index * 2 * REVOKE_BATCH_MAX) as u64;
                }
                e
            })?;
        }
        Ok(())
    }
}

/// The 18 user registers, in the order of `TcbReadRegisters` / `TcbWriteRegisters`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserRegisters {
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

const _: () = assert!(core::mem::size_of::<UserRegisters>() == REGISTER_COUNT * 8);

impl UserRegisters {
    /// The registers as ABI words.
    pub fn to_words(&self) -> [u64; REGISTER_COUNT] {
        [
            self.rip,
            self.rsp,
            self.rflags,
            self.rax,
            self.rbx,
            self.rcx,
            self.rdx,
            self.rsi,
            self.rdi,
            self.rbp,
            self.r8,
            self.r9,
            self.r10,
            self.r11,
            self.r12,
            self.r13,
            self.r14,
            self.r15,
        ]
    }
    /// Registers from ABI words.
    pub fn from_words(w: &[u64; REGISTER_COUNT]) -> Self {
        UserRegisters {
            rip: w[0],
            rsp: w[1],
            rflags: w[2],
            rax: w[3],
            rbx: w[4],
            rcx: w[5],
            rdx: w[6],
            rsi: w[7],
            rdi: w[8],
            rbp: w[9],
            r8: w[10],
            r9: w[11],
            r10: w[12],
            r11: w[13],
            r12: w[14],
            r13: w[15],
            r14: w[16],
            r15: w[17],
        }
    }
}

/// What [`Cap<Tcb>::configure`] binds; a null cap leaves that binding unchanged (for the
/// fault endpoint: none).
#[derive(Clone, Copy, Debug)]
pub struct TcbConfig {
    /// The CSpace root.
    pub cspace: Cap<CNode>,
    /// The address space.
    pub vspace: Cap<VSpace>,
    /// Virtual address of the IPC buffer in `vspace`.
    pub ipc_buffer_addr: u64,
    /// The frame holding the IPC buffer.
    pub ipc_buffer_frame: Cap<Frame>,
    /// Where faults are sent (resolved now in the caller's CSpace).
    pub fault_endpoint: Cap<Endpoint>,
}

impl Cap<Tcb> {
    /// `TcbConfigure`: binds CSpace, VSpace, IPC buffer and fault endpoint.
    ///
    /// # Errors
    /// `InvalidCapability` naming the argument of the wrong kind, `AlignmentError` /
    /// `InvalidArgument` for the IPC buffer address.
    pub fn configure(self, config: &TcbConfig) -> InvocationResult {
        let args = [
            config.cspace.cptr(),
            config.vspace.cptr(),
            config.ipc_buffer_addr,
            config.ipc_buffer_frame.cptr(),
            config.fault_endpoint.cptr(),
        ];
        invoke(self.cptr, Label::TcbConfigure, &args).map(drop)
    }

    /// `TcbConfigure` with its sixth word: also sets the priority (at most the caller's
    /// own), one system call where [`Self::configure`] and [`Self::set_priority`] are two.
    ///
    /// # Errors
    /// As for both; a refused priority is `RangeError` at argument 5, and then nothing
    /// was changed.
    pub fn configure_with_priority(self, config: &TcbConfig, priority: u64) -> InvocationResult {
        let args = [
            config.cspace.cptr(),
            config.vspace.cptr(),
            config.ipc_buffer_addr,
            config.ipc_buffer_frame.cptr(),
            config.fault_endpoint.cptr(),
            priority,
        ];
        invoke(self.cptr, Label::TcbConfigure, &args).map(drop)
    }

    /// `TcbSetPriority`: at most the caller's own priority.
    ///
    /// # Errors
    /// `RangeError` / `InvalidArgument` above the caller's priority.
    pub fn set_priority(self, priority: u64) -> InvocationResult {
        invoke(self.cptr, Label::TcbSetPriority, &[priority]).map(drop)
    }

    /// `TcbReadRegisters`: the thread's user registers (meaningful while it is stopped).
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a TCB, `IllegalOperation` where the kernel refuses
    /// (e.g. reading one's own running registers).
    pub fn read_registers(self) -> InvocationResult<UserRegisters> {
        let reply = invoke(self.cptr, Label::TcbReadRegisters, &[])?;
        let mut words = [0u64; REGISTER_COUNT];
        words[..4].copy_from_slice(&reply.words);
        for (index, word) in words.iter_mut().enumerate().skip(4) {
            *word = syscall::word(index);
        }
        Ok(UserRegisters::from_words(&words))
    }

    /// `TcbWriteRegisters`: sets the user registers; with `resume`, also makes the thread
    /// runnable.
    ///
    /// # Errors
    /// `InvalidArgument` naming a non-canonical `rip`/`rsp` or bad `rflags`.
    pub fn write_registers(self, resume: bool, registers: &UserRegisters) -> InvocationResult {
        let mut args = [0u64; REGISTER_COUNT + 1];
        args[0] = u64::from(resume);
        args[1..].copy_from_slice(&registers.to_words());
        invoke(self.cptr, Label::TcbWriteRegisters, &args).map(drop)
    }

    /// `TcbResume`: makes a suspended or new thread runnable.
    ///
    /// # Errors
    /// `IllegalOperation` / `RevokeFirst` if the thread is not configured.
    pub fn resume(self) -> InvocationResult {
        invoke(self.cptr, Label::TcbResume, &[]).map(drop)
    }

    /// `TcbSuspend`: stops the thread (cancelling any IPC it is blocked in).
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a TCB.
    pub fn suspend(self) -> InvocationResult {
        invoke(self.cptr, Label::TcbSuspend, &[]).map(drop)
    }

    /// `TcbBindNotification`: signals on `notification` wake the thread's `Recv` too.
    ///
    /// # Errors
    /// `InvalidCapability` (argument 0), `RevokeFirst` when either side is already bound.
    pub fn bind_notification(self, notification: Cap<Notification>) -> InvocationResult {
        invoke(
            self.cptr,
            Label::TcbBindNotification,
            &[notification.cptr()],
        )
        .map(drop)
    }

    /// `TcbUnbindNotification`.
    ///
    /// # Errors
    /// `IllegalOperation` / `RevokeFirst` when nothing is bound.
    pub fn unbind_notification(self) -> InvocationResult {
        invoke(self.cptr, Label::TcbUnbindNotification, &[]).map(drop)
    }

    /// `TcbSetTlsBase`: the thread's FS and GS bases (what `%fs:`/`%gs:` addresses are
    /// relative to), kept per thread by the kernel.
    ///
    /// # Errors
    /// `InvalidArgument` (0 or 1) for a base at or above 2^47.
    pub fn set_tls_base(self, fs_base: u64, gs_base: u64) -> InvocationResult {
        invoke(self.cptr, Label::TcbSetTlsBase, &[fs_base, gs_base]).map(drop)
    }

    /// `TcbReadCpuTime`: the time-stamp counter ticks the thread has run for (the
    /// kernel charges at each timer tick and each switch off the IPC fast path: see
    /// docs/syscalls.md for the granularity).
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a TCB.
    pub fn read_cpu_time(self) -> InvocationResult<u64> {
        invoke(self.cptr, Label::TcbReadCpuTime, &[]).map(|reply| reply.words[0])
    }
}

impl Cap<Frame> {
    /// `FrameMap`: maps the frame at `vaddr` in `vspace` with `rights` (READ, READ|WRITE),
    /// not executable.
    ///
    /// # Errors
    /// `AlignmentError` (vaddr), `InvalidArgument` (kernel half, bad rights), `FailedLookup`
    /// (a page-table level is missing), `DeleteFirst` (something is mapped there),
    /// `RevokeFirst` (this cap is already mapped).
    pub fn map(self, vspace: Cap<VSpace>, vaddr: u64, rights: Rights) -> InvocationResult {
        self.map_raw(vspace, vaddr, rights.bits())
    }

    /// [`Self::map`], executable (for code): rights plus [`crate::abi::MAP_EXECUTABLE`].
    ///
    /// # Errors
    /// As for [`Self::map`].
    pub fn map_executable(
        self,
        vspace: Cap<VSpace>,
        vaddr: u64,
        rights: Rights,
    ) -> InvocationResult {
        self.map_raw(vspace, vaddr, rights.bits() | crate::abi::MAP_EXECUTABLE)
    }

    /// [`Self::map`] with the rights word raw (rights bits, [`crate::abi::MAP_EXECUTABLE`]).
    ///
    /// # Errors
    /// As for [`Self::map`].
    pub fn map_raw(self, vspace: Cap<VSpace>, vaddr: u64, rights: u64) -> InvocationResult {
        invoke(self.cptr, Label::FrameMap, &[vspace.cptr(), vaddr, rights]).map(drop)
    }

    /// `FrameUnmap` (unmapping an unmapped frame succeeds).
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a frame.
    pub fn unmap(self) -> InvocationResult {
        invoke(self.cptr, Label::FrameUnmap, &[]).map(drop)
    }

    /// `FrameGetAddress`: the physical address.
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a frame.
    pub fn get_address(self) -> InvocationResult<u64> {
        invoke(self.cptr, Label::FrameGetAddress, &[]).map(|reply| reply.words[0])
    }
}

impl<T: PageTableLevel> Cap<T> {
    /// `PageTableMap`: installs this table in `vspace` so that it covers `vaddr`.
    ///
    /// # Errors
    /// `FailedLookup` (a higher level is missing), `DeleteFirst` (that level is present),
    /// `RevokeFirst` (this table is already mapped), `InvalidArgument` (kernel half).
    pub fn map(self, vspace: Cap<VSpace>, vaddr: u64) -> InvocationResult {
        invoke(self.cptr, Label::PageTableMap, &[vspace.cptr(), vaddr]).map(drop)
    }

    /// `PageTableUnmap`.
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a page table.
    pub fn unmap(self) -> InvocationResult {
        invoke(self.cptr, Label::PageTableUnmap, &[]).map(drop)
    }
}

impl Cap<IrqControl> {
    /// `IrqControlGet`: an IRQ handler cap for ISA IRQ `irq` (0..16) in slot `dest` of the
    /// caller's CSpace.
    ///
    /// # Errors
    /// `RangeError`/`InvalidArgument` (irq), `RevokeFirst` (a handler exists),
    /// `DeleteFirst` (dest occupied).
    pub fn get(self, irq: u64, dest: SlotPath) -> InvocationResult<Cap<IrqHandler>> {
        invoke(
            self.cptr,
            Label::IrqControlGet,
            &[irq, dest.index, dest.depth],
        )?;
        Ok(Cap::from_cptr(dest.index))
    }
}

impl Cap<IrqHandler> {
    /// `IrqHandlerSetNotification`: deliver the IRQ as a signal on `notification`.
    ///
    /// # Errors
    /// `InvalidCapability` (argument 0) / `InsufficientRights`.
    pub fn set_notification(self, notification: Cap<Notification>) -> InvocationResult {
        invoke(
            self.cptr,
            Label::IrqHandlerSetNotification,
            &[notification.cptr()],
        )
        .map(drop)
    }

    /// `IrqHandlerAck`: unmask the IRQ after handling it.
    ///
    /// # Errors
    /// `InvalidCapability` if this is not an IRQ handler.
    pub fn ack(self) -> InvocationResult {
        invoke(self.cptr, Label::IrqHandlerAck, &[]).map(drop)
    }

    /// `IrqHandlerClear`: stop delivering to the notification.
    ///
    /// # Errors
    /// `InvalidCapability` if this is not an IRQ handler.
    pub fn clear(self) -> InvocationResult {
        invoke(self.cptr, Label::IrqHandlerClear, &[]).map(drop)
    }
}

impl Cap<IoPortControl> {
    /// `IoPortControlIssue`: an I/O port cap for ports `first..=last` in slot `dest`.
    ///
    /// # Errors
    /// `InvalidArgument`/`RangeError` (range), `RevokeFirst` (overlaps an issued range),
    /// `DeleteFirst` (dest occupied).
    pub fn issue(self, first: u64, last: u64, dest: SlotPath) -> InvocationResult<Cap<IoPort>> {
        invoke(
            self.cptr,
            Label::IoPortControlIssue,
            &[first, last, dest.index, dest.depth],
        )?;
        Ok(Cap::from_cptr(dest.index))
    }
}

impl Cap<IoPort> {
    /// `IoPortIn`: reads `width` (1, 2 or 4) bytes from `port`.
    ///
    /// # Errors
    /// `InvalidArgument` (width), `RangeError` (port outside the cap's range).
    pub fn port_in(self, port: u64, width: u64) -> InvocationResult<u64> {
        invoke(self.cptr, Label::IoPortIn, &[port, width]).map(|reply| reply.words[0])
    }

    /// `IoPortOut`: writes `width` (1, 2 or 4) bytes of `value` to `port`.
    ///
    /// # Errors
    /// As for [`Self::port_in`].
    pub fn port_out(self, port: u64, width: u64, value: u64) -> InvocationResult {
        invoke(self.cptr, Label::IoPortOut, &[port, width, value]).map(drop)
    }
}

impl Cap<AsidControl> {
    /// `AsidControlMakePool`: turns the unused 4 KiB untyped `untyped` into an ASID pool in
    /// slot `dest` (relative to the caller's CSpace root).
    ///
    /// # Errors
    /// `FailedLookup`/`InvalidCapability` (0) (not an untyped), `InvalidArgument` (0) (not
    /// 4 KiB, or device memory), `RevokeFirst` (0) (the untyped has children),
    /// `DeleteFirst` (1) (destination occupied), `NotEnoughMemory` (MAX) (the kernel's
    /// table of pools is full).
    pub fn make_pool(
        self,
        untyped: Cap<Untyped>,
        dest: SlotPath,
    ) -> InvocationResult<Cap<AsidPool>> {
        invoke(
            self.cptr,
            Label::AsidControlMakePool,
            &[untyped.cptr(), dest.index, dest.depth],
        )?;
        Ok(Cap::from_cptr(dest.index))
    }
}

impl Cap<AsidPool> {
    /// `AsidPoolAssign`: gives the address space `vspace` an ASID from this pool. A PML4
    /// needs one before frames or tables are mapped in it, a thread is configured with it,
    /// or its cap is copied.
    ///
    /// # Errors
    /// `FailedLookup`/`InvalidCapability` (0) (not a PML4 cap), `IllegalOperation` (0)
    /// (it already has an ASID), `NotEnoughMemory` (MAX) (the pool is full: its holder's
    /// quota of address spaces is used up).
    pub fn assign(self, vspace: Cap<VSpace>) -> InvocationResult {
        invoke(self.cptr, Label::AsidPoolAssign, &[vspace.cptr()]).map(drop)
    }
}

impl Cap<DebugConsole> {
    /// `DebugConsoleLongestEntry`: the longest system call (off the IPC fast path) since the
    /// last query, in time-stamp counter ticks (instructions under `-icount`); starts a new
    /// measurement. The kernel times its entries from the first query on: that one
    /// replies 0.
    ///
    /// # Errors
    /// `IllegalOperation` if this is not a debug console cap.
    pub fn longest_entry(self) -> InvocationResult<u64> {
        invoke(self.cptr, Label::DebugConsoleLongestEntry, &[]).map(|reply| reply.words[0])
    }

    /// `DebugConsoleCounters`: the kernel's event counts since boot: kernel entries, IPC
    /// messages, bytes copied for them, bytes zeroed.
    ///
    /// # Errors
    /// `IllegalOperation` unless the kernel was built with its `counters` feature.
    pub fn counters(self) -> InvocationResult<[u64; 4]> {
        invoke(self.cptr, Label::DebugConsoleCounters, &[]).map(|reply| {
            let w = reply.words;
            [w[0], w[1], w[2], w[3]]
        })
    }

    /// `DebugConsoleFastPath`: turns the kernel's IPC fast path on or off (off, every
    /// `Call` and `ReplyRecv` takes the general path, which must give the same results);
    /// returns how many `Call`s and `ReplyRecv`s the fast path has taken since boot.
    ///
    /// # Errors
    /// `IllegalOperation` if this is not a debug console cap.
    pub fn set_fast_path(self, enabled: bool) -> InvocationResult<[u64; 2]> {
        invoke(
            self.cptr,
            Label::DebugConsoleFastPath,
            &[u64::from(enabled)],
        )
        .map(|reply| [reply.words[0], reply.words[1]])
    }
}

/// A message received by `Recv`, `NBRecv`, `Call` or `ReplyRecv`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// The sender's badge (0 for an unbadged cap, or a reply); for notifications, the
    /// signalled bits.
    pub badge: u64,
    /// Label, length and caps of the message.
    pub info: MessageInfo,
    /// Message words 0..3 (the rest are in the IPC buffer).
    pub words: [u64; 4],
}

impl From<Registers> for Received {
    fn from(r: Registers) -> Self {
        Received {
            badge: r.cptr,
            info: r.info,
            words: r.words,
        }
    }
}

impl Cap<Endpoint> {
    /// `Call`: sends and waits for the reply.
    ///
    /// # Errors
    /// `InvalidCapability`, `InsufficientRights` (no WRITE), `Cancelled` (the endpoint was
    /// deleted while waiting).
    pub fn call(self, info: MessageInfo, words: [u64; 4]) -> InvocationResult<Received> {
        syscall::call(self.cptr, info, words).map(Received::from)
    }

    /// `CallTimeout`: [`Self::call`] that gives up at `deadline` (a time-stamp counter
    /// value: [`crate::time`]).
    ///
    /// # Errors
    /// `TimedOut` when no reply came by the deadline (a server that never answers cannot
    /// hold the caller); otherwise as for [`Self::call`].
    pub fn call_timeout(
        self,
        info: MessageInfo,
        words: [u64; 4],
        deadline: u64,
    ) -> InvocationResult<Received> {
        syscall::call_timeout(self.cptr, info, words, deadline).map(Received::from)
    }

    /// `Send`: blocks until a receiver takes the message.
    ///
    /// # Errors
    /// As for [`Self::call`].
    pub fn send(self, info: MessageInfo, words: [u64; 4]) -> InvocationResult {
        syscall::send(self.cptr, info, words)
    }

    /// `NBSend`: delivers only if a receiver is waiting; otherwise drops the message.
    ///
    /// # Errors
    /// As for [`Self::call`].
    pub fn nb_send(self, info: MessageInfo, words: [u64; 4]) -> InvocationResult {
        syscall::nb_send(self.cptr, info, words)
    }

    /// `Recv`: waits for a message.
    ///
    /// # Errors
    /// `InvalidCapability`, `InsufficientRights` (no READ), `Cancelled`.
    pub fn recv(self) -> InvocationResult<Received> {
        syscall::recv(self.cptr).map(Received::from)
    }

    /// `RecvTimeout`: [`Self::recv`] that gives up at `deadline`.
    ///
    /// # Errors
    /// `TimedOut` when no message came by the deadline; otherwise as for [`Self::recv`].
    pub fn recv_timeout(self, deadline: u64) -> InvocationResult<Received> {
        syscall::recv_timeout(self.cptr, deadline).map(Received::from)
    }

    /// `NBRecv`: receives only if a sender is waiting.
    ///
    /// # Errors
    /// `WouldBlock` when none is, else as for [`Self::recv`].
    pub fn nb_recv(self) -> InvocationResult<Received> {
        syscall::nb_recv(self.cptr).map(Received::from)
    }

    /// `ReplyRecv`: replies to the last caller, then waits on this endpoint.
    ///
    /// # Errors
    /// As for [`Self::recv`].
    pub fn reply_recv(self, info: MessageInfo, words: [u64; 4]) -> InvocationResult<Received> {
        syscall::reply_recv(self.cptr, info, words).map(Received::from)
    }
}

impl Cap<Notification> {
    /// Signals: ORs this cap's badge into the notification word (a `Send`).
    ///
    /// # Errors
    /// `InvalidCapability`, `InsufficientRights` (no WRITE).
    pub fn signal(self) -> InvocationResult {
        syscall::send(self.cptr, MessageInfo::new(0, 0, 0), [0; 4])
    }

    /// Waits until the word is non-zero, then takes it (a `Recv`); returns the bits.
    ///
    /// # Errors
    /// `InvalidCapability`, `InsufficientRights` (no READ), `Cancelled`.
    pub fn wait(self) -> InvocationResult<u64> {
        syscall::recv(self.cptr).map(|r| r.cptr)
    }

    /// [`Self::wait`] that gives up at `deadline` (a `RecvTimeout`).
    ///
    /// # Errors
    /// `TimedOut` when no signal came by the deadline; otherwise as for [`Self::wait`].
    pub fn wait_timeout(self, deadline: u64) -> InvocationResult<u64> {
        syscall::recv_timeout(self.cptr, deadline).map(|r| r.cptr)
    }

    /// Takes the word if non-zero (an `NBRecv`).
    ///
    /// # Errors
    /// `WouldBlock` when the word is zero, else as for [`Self::wait`].
    pub fn poll(self) -> InvocationResult<u64> {
        syscall::nb_recv(self.cptr).map(|r| r.cptr)
    }
}

impl Cap<Reply> {
    /// `ReplySave`: moves the reply this thread owes (to the thread whose `Call` it received
    /// last) into this Reply object, to answer later with [`Self::send`].
    ///
    /// # Errors
    /// `IllegalOperation` if no reply is owed, `DeleteFirst` if the object holds one.
    pub fn save(self) -> InvocationResult {
        invoke(self.cptr, Label::ReplySave, &[]).map(drop)
    }

    /// `Send` on the Reply cap: the message becomes the saved caller's reply, and the
    /// object is empty again (sending on an empty one does nothing).
    ///
    /// # Errors
    /// `InvalidCapability` if this is not a Reply cap.
    pub fn send(self, info: MessageInfo, words: [u64; 4]) -> InvocationResult {
        syscall::send(self.cptr, info, words)
    }
}

/// Replies to the last caller (`Reply`).
///
/// # Errors
/// The kernel's error (e.g. no caller to reply to, if the kernel reports it).
pub fn reply(info: MessageInfo, words: [u64; 4]) -> InvocationResult {
    syscall::reply(info, words)
}

/// Whether `result` failed with `error` about argument `argument` (for tests).
pub fn failed_with<T>(result: &InvocationResult<T>, error: Error, argument: u64) -> bool {
    matches!(result, Err(e) if e.is(error, argument))
}
