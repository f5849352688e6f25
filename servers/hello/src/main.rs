//! The first userspace program: proves that the kernel can load a program from the boot
//! archive, run it in ring 3, take its system calls and let it exit.
#![no_std]
#![no_main]

use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC};
use libsys::println;

libsys::entry!(main);

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root task.
    let info = unsafe { &*(boot_info as *const BootInfo) };
    let magic_ok = info.magic == BOOT_INFO_MAGIC;
    println!(
        "hello: hello from userspace (ring 3), boot info at {boot_info:#x}, magic {}",
        if magic_ok { "ok" } else { "BAD" }
    );
    let mut sum = 0u64;
    for i in 1..=100u64 {
        sum += i;
    }
    println!("hello: sum 1..=100 = {sum}; exiting");
}
