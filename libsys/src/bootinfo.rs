//! The boot info page the kernel hands the root task, and the root task's initial slots.
//!
//! The kernel maps one read-only page at [`BOOT_INFO_ADDR`] in the root task's address space
//! and passes its address in `rdi` at entry. The root task's CSpace is one CNode of
//! [`ROOT_CNODE_RADIX`] bits whose guard makes a slot's cptr equal to its index (resolved at
//! depth 64). Fixed slots hold the caps below; the untyped memory and boot archive frames
//! follow in the ranges the boot info gives.

/// Virtual address of the boot info page in the root task.
pub const BOOT_INFO_ADDR: u64 = 0x7fff_0000_0000;
/// `magic` field value: "HATCHBI1".
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"HATCHBI1");
/// Most untyped regions described.
pub const MAX_UNTYPED: usize = 128;

/// The root CNode has 2^12 = 4096 slots.
pub const ROOT_CNODE_RADIX: u64 = 12;
/// Slot 0 is always empty (a null cptr).
pub const SLOT_NULL: u64 = 0;
/// The root task's own TCB.
pub const SLOT_TCB: u64 = 1;
/// The root task's CNode (its CSpace root).
pub const SLOT_CNODE: u64 = 2;
/// The root task's VSpace (PML4).
pub const SLOT_VSPACE: u64 = 3;
/// The frame of the root task's IPC buffer.
pub const SLOT_IPC_BUFFER: u64 = 4;
/// IRQ control: makes IRQ handler caps.
pub const SLOT_IRQ_CONTROL: u64 = 5;
/// I/O port control: makes I/O port caps.
pub const SLOT_IO_PORT_CONTROL: u64 = 6;
/// The frame holding this boot info page.
pub const SLOT_BOOT_INFO_FRAME: u64 = 7;
/// ASID control: makes ASID pools from 4 KiB untyped objects.
pub const SLOT_ASID_CONTROL: u64 = 8;
/// The ASID pool holding the root task's own address space, with room for more.
pub const SLOT_ASID_POOL: u64 = 9;
/// The kernel's debug console (`DebugWrite`); the same slot as
/// [`crate::process::SLOT_DEBUG_CONSOLE`], so one runtime serves both.
pub const SLOT_DEBUG_CONSOLE: u64 = 10;
/// First slot of the variable part (untyped, then archive frames, then free); slots
/// 11..16 are reserved for more boot caps.
pub const SLOT_FIRST_VARIABLE: u64 = 16;

/// Virtual address of the root task's IPC buffer.
pub const IPC_BUFFER_ADDR: u64 = 0x7ffe_0000_0000;
/// One past the top of the root task's initial stack.
pub const ROOT_STACK_TOP: u64 = 0x7fff_ffff_f000;
/// Size of the root task's initial stack.
pub const ROOT_STACK_SIZE: u64 = 64 * 1024;
/// Where the kernel maps the boot archive (read-only) in the root task.
pub const ARCHIVE_ADDR: u64 = 0x7ffd_0000_0000;

/// One untyped region given to the root task.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UntypedDesc {
    /// Physical base address.
    pub phys: u64,
    /// Size is `1 << size_bits` bytes.
    pub size_bits: u8,
    /// Device memory (MMIO): can only become frames.
    pub is_device: u8,
    /// Padding.
    pub reserved: [u8; 6],
}

/// A half-open range of slots `[start, end)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub start: u64,
    /// One past the last slot.
    pub end: u64,
}

/// The boot info page.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// Always [`BOOT_INFO_MAGIC`].
    pub magic: u64,
    /// Size in bytes of this structure (lets later fields be added).
    pub size: u64,
    /// Radix of the root CNode ([`ROOT_CNODE_RADIX`]).
    pub cnode_radix: u64,
    /// First empty slot in the root CNode.
    pub first_free_slot: u64,
    /// Slots holding untyped caps; `untyped[i]` describes slot `untyped_slots.start + i`.
    pub untyped_slots: SlotRange,
    /// Slots holding 4 KiB frame caps of the boot archive, in order.
    pub archive_slots: SlotRange,
    /// Length of the boot archive in bytes (mapped read-only at [`ARCHIVE_ADDR`]).
    pub archive_length: u64,
    /// Priority of the root task (also the highest it may give).
    pub priority: u64,
    /// Descriptions of the untyped caps.
    pub untyped: [UntypedDesc; MAX_UNTYPED],
    /// Time-stamp counter ticks per second, as the kernel measured it at boot (against the
    /// PIT); the unit of every deadline ([`crate::time`]).
    pub tsc_hz: u64,
}

const _: () = assert!(core::mem::size_of::<BootInfo>() <= 4096);
