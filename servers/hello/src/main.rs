//! `hello`, the default root task: a short tour of what the kernel hands userspace.
//!
//! It reports what the root task was given (untyped memory, the boot archive), starts a
//! second process from the archive in its own address space with one capability (an
//! endpoint), calls it, destroys it with one revoke and shows that the memory came back,
//! and decodes an egg: the byte code that processes will be hatched from. Everything it
//! prints starts with `hello:`.
#![no_std]
#![no_main]

use ipcpeer::{label, mode};
use libsys::abi::MessageInfo;
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, ARCHIVE_ADDR, BOOT_INFO_MAGIC};
use libsys::cap::{Cap, Endpoint};
use libsys::loader::{Loader, ProcessConfig};
use libsys::object::Rights;
use libsys::println;

libsys::entry!(main);

/// An egg that sets up a login shell (assembled with `cargo xtask egg asm`):
///
/// ```text
/// setsid
/// open 0 "/dev/console" O_RDWR 0
/// setctty 0
/// dup2 0 1
/// dup2 0 2
/// cap 8 0 READ|WRITE 0x2a
/// chdir "/home/user"
/// setenv "TERM" "vt100"
/// setname "sh"
/// ```
const LOGIN_EGG: &[u8] = &[
    0x06, 0x01, 0x00, 0x0c, 0x2f, 0x64, 0x65, 0x76, 0x2f, 0x63, 0x6f, 0x6e, 0x73, 0x6f, 0x6c, 0x65,
    0x02, 0x00, 0x07, 0x00, 0x02, 0x00, 0x01, 0x02, 0x00, 0x02, 0x0b, 0x08, 0x00, 0x03, 0x2a, 0x09,
    0x0a, 0x2f, 0x68, 0x6f, 0x6d, 0x65, 0x2f, 0x75, 0x73, 0x65, 0x72, 0x18, 0x04, 0x54, 0x45, 0x52,
    0x4d, 0x05, 0x76, 0x74, 0x31, 0x30, 0x30, 0x17, 0x02, 0x73, 0x68,
];

/// log2 of the memory given to the second process.
const CHILD_UNTYPED_BITS: u32 = 20;

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        println!("hello: the boot info page has a bad magic number; stopping");
        return;
    }
    println!("hello: I am the root task, in ring 3, in my own address space");
    memory(info);
    archive(info);
    if let Err(why) = second_process(info) {
        println!("hello: the second process failed: {why}");
    }
    egg();
    println!("hello: that is the tour; exiting");
}

/// What untyped memory the kernel handed over.
fn memory(info: &BootInfo) {
    let count = (info.untyped_slots.end - info.untyped_slots.start) as usize;
    let total: u64 = info.untyped[..count.min(info.untyped.len())]
        .iter()
        .map(|u| 1u64 << u.size_bits)
        .sum();
    println!(
        "hello: the kernel gave me all free memory as {count} untyped capabilities ({} KiB); \
         every object anyone makes comes out of those",
        total >> 10
    );
}

/// What the boot archive holds.
fn archive(info: &BootInfo) {
    // SAFETY: the kernel maps the boot archive read-only at ARCHIVE_ADDR, this long.
    let bytes = unsafe {
        core::slice::from_raw_parts(ARCHIVE_ADDR as *const u8, info.archive_length as usize)
    };
    match bootfmt::archive::BootArchive::parse(bytes) {
        Ok(archive) => {
            println!("hello: the boot archive ({} bytes) holds:", bytes.len());
            for entry in archive.cpio().entries().flatten() {
                println!("hello:   {} ({} bytes)", entry.name(), entry.data().len());
            }
        }
        Err(e) => println!("hello: the boot archive does not parse: {e}"),
    }
}

/// Starts `ipcpeer` with one endpoint, calls it, destroys it.
fn second_process(info: &BootInfo) -> Result<(), &'static str> {
    let mut alloc = Allocator::from_boot_info(info);
    let mut loader = Loader::new(
        &mut alloc,
        info.cnode_radix,
        Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
    )
    .map_err(|_| "cannot prepare the loader")?;
    let image = Loader::archive_file(info.archive_length, "bin/ipcpeer")
        .map_err(|_| "no bin/ipcpeer in the archive")?;
    let config = ProcessConfig {
        untyped_bits: CHILD_UNTYPED_BITS,
        priority: info.priority,
        ..ProcessConfig::default()
    };
    let endpoint: Cap<Endpoint> = alloc.make().map_err(|_| "cannot make an endpoint")?;
    let process = loader
        .load(&mut alloc, image, &config)
        .map_err(|_| "cannot load ipcpeer")?;
    process
        .give(&loader, endpoint, ipcpeer::SLOT_ENDPOINT, Rights::ALL)
        .map_err(|_| "cannot give it the endpoint")?;
    process.start(mode::SERVER).map_err(|_| "cannot start it")?;
    println!(
        "hello: started ipcpeer in its own address space with {} KiB of memory and one \
         capability: an endpoint",
        (1u64 << CHILD_UNTYPED_BITS) >> 10
    );
    let reply = endpoint
        .call(MessageInfo::new(label::ECHO, 2, 0), [41, 99, 0, 0])
        .map_err(|_| "the call failed")?;
    println!(
        "hello: called it through the endpoint with (41, 99); it answered ({}, {})",
        reply.words[0], reply.words[1]
    );
    process
        .destroy(&mut alloc)
        .map_err(|_| "cannot destroy it")?;
    println!(
        "hello: destroyed it with one revoke of its untyped: its threads, tables and frames \
         are gone and the memory can be retyped again"
    );
    Ok(())
}

/// Decodes the login egg and prints it.
fn egg() {
    println!(
        "hello: processes will be hatched from eggs; this {}-byte one sets up a login shell:",
        LOGIN_EGG.len()
    );
    for op in egg::decode(LOGIN_EGG) {
        match op {
            Ok(op) => println!("hello:   {op}"),
            Err(e) => {
                println!("hello:   (invalid: {e})");
                break;
            }
        }
    }
}
