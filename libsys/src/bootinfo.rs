//! The boot info page the kernel hands the root task.
//!
//! The kernel maps one read-only page at [`BOOT_INFO_ADDR`] in the root task's address space
//! and passes its address in `rdi` at entry.

/// Virtual address of the boot info page in the root task.
pub const BOOT_INFO_ADDR: u64 = 0x7fff_0000_0000;
/// `magic` field value: "HATCHBI1".
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"HATCHBI1");

/// The boot info page header.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// Always [`BOOT_INFO_MAGIC`].
    pub magic: u64,
    /// Size in bytes of this structure (lets later fields be added).
    pub size: u64,
}

/// Root CNode slot holding the root task's own TCB capability.
pub const SLOT_TCB: u64 = 1;
/// Root CNode slot holding the root task's CNode capability.
pub const SLOT_CNODE: u64 = 2;
/// Root CNode slot holding the root task's VSpace (PML4) capability.
pub const SLOT_VSPACE: u64 = 3;
/// Root CNode slot holding the root task's IPC buffer frame capability.
pub const SLOT_IPC_BUFFER: u64 = 4;

/// Virtual address of the root task's IPC buffer.
pub const IPC_BUFFER_ADDR: u64 = 0x7ffe_0000_0000;
/// One past the top of the root task's initial stack.
pub const ROOT_STACK_TOP: u64 = 0x7fff_ffff_f000;
/// Size of the root task's initial stack.
pub const ROOT_STACK_SIZE: u64 = 64 * 1024;
