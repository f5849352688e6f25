//! Readers for the formats Hatchery boots from, shared by the kernel, the direct-boot
//! loader, the host image tool and the process server.
//!
//! Design rules:
//! 1. Everything here is `no_std` and `#![forbid(unsafe_code)]`: input comes from outside
//!    (an ISO, a bootloader, a user), so every parser works on a byte slice, checks every
//!    bound, and returns a typed error (an enum per format with a `Display` that reads as
//!    one clear sentence). No input panics; property tests hold us to that.
//! 2. Readers borrow: entries, names and segment data are slices of the input.
//! 3. Writers (only [`cpio::CpioWriter`] so far) need the `alloc` feature and are for host
//!    tools.
//!
//! Modules:
//! - [`cpio`]: the cpio "newc" archive format (boot archive and loader bundle).
//! - [`elf`]: ELF64 x86_64 executables (header, program headers, `PT_LOAD` segments).
//! - [`manifest`]: the boot archive's `manifest` text file (`root <path>` and more).
//! - [`archive`]: the boot archive as a whole: cpio + manifest + root task lookup.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod archive;
pub mod cpio;
pub mod elf;
pub mod manifest;

#[cfg(test)]
extern crate std;
