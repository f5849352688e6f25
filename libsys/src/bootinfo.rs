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
