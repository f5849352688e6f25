//! Hatchery's direct-boot loader, the pure part: everything that decides what goes where,
//! kept free of hardware access so it runs and is tested on the host.
//!
//! The loader is entered by QEMU through PVH or by GRUB through multiboot2, finds the kernel
//! ELF and the boot archive, and hands over to the kernel exactly as a Limine bootloader
//! would (see `docs/boot.md`). Design principles:
//! 1. One pass, no heap: fixed-capacity tables with named bounds ([`fixed::FixedVec`]).
//! 2. Every input is checked before it is trusted, and every failure is one clear line
//!    (each error type has a `Display` that reads as a sentence).
//! 3. Hardware access (serial, CPU state, physical memory, the jump) lives in the binary,
//!    `src/main.rs` and `src/arch/`; this library only computes.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod bootinfo;
pub mod bundle;
pub mod cmdline;
pub mod fixed;
pub mod kernel;
pub mod memmap;
pub mod multiboot2;
pub mod paging;
pub mod pvh;
pub mod requests;
pub mod responses;
pub mod rsdp;
