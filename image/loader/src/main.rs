//! `hatchery-loader`: Hatchery's direct-boot loader, the bare-metal binary.
//!
//! QEMU enters it through the PVH ELF note (`-kernel hatchery-loader -initrd bundle.cpio`),
//! GRUB through its multiboot2 header. It finds the kernel ELF and the boot archive, loads
//! the kernel at its higher-half link address, builds the Limine page tables and responses,
//! and enters the kernel in the Limine machine state. See `docs/boot.md`.
//!
//! Layout: `arch/` is everything that touches hardware (entry assembly, serial, IDT, fatal
//! stop, physical memory, the final jump); `boot.rs` is the one pass from boot information
//! to the jump; every decision in it is made by the host-tested `loader` library.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod boot;

/// Called by the entry assembly in long mode, on the loader's stack. `protocol` says which
/// entry point ran (PVH or multiboot2), `eax`/`ebx` are the registers found at entry.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn loader_main(protocol: u32, eax: u32, ebx: u32) -> ! {
    arch::serial::init();
    arch::idt::install();
    boot::run(protocol, eax, ebx)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fatal!("loader bug: {info}")
}

/// On the host the loader is a library; this binary does nothing there.
#[cfg(not(target_os = "none"))]
fn main() {}
