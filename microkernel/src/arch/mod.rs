//! x86_64 specifics behind a fixed set of names: `serial`, `gdt`, `trap`, `syscall`,
//! `apic`, `power`.

pub mod apic;
pub mod gdt;
pub mod power;
pub mod serial;
pub mod syscall;
pub mod trap;
