//! `fsrv`, the file server: one namespace (`/bin` from the boot archive, `/dev`, `/tmp` and
//! the rest in RAM, `/etc`), every open file a badged endpoint cap, pipes, and the place
//! terminals plug in (see docs/servers.md).
//!
//! Its starter (procsrv, or a test root task) fills the slots of `fs_api::server` (the
//! boot archive's frames in a CNode in `SLOT_ARCHIVE`, which fsrv copies into its own slots
//! from [`ARCHIVE_FIRST_SLOT`] up) and starts it with `fs_api::server::start_argument`:
//! in `rdi` when it loads fsrv itself, as argument 1 (decimal) when procsrv hatches it. The logic lives in `fscore` (host-tested); this crate
//! adds the IPC: the receive loop ([`serve`]), badges, the I/O windows, blocking pipe
//! requests held in Reply objects.
#![no_std]
#![no_main]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod control;
mod fd;
mod memory;
mod namespace;
mod pipes;
mod server;
mod terminal;
mod tty_ioctl;

use fs_api::server::{
    archive_radix, parse_start_argument, ARCHIVE_ADDR, SLOT_ARCHIVE, SLOT_ENDPOINT, SLOT_RECEIVE,
};
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::syscall;
use server::{Outcome, Server};

libsys::entry!(main);

/// The first slot holding a boot archive frame (one per page, in order).
pub const ARCHIVE_FIRST_SLOT: u64 = memory::LAST_ALLOCATED_SLOT;

/// The users and groups of `/etc`.
const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/hsh\n\
alice:x:1000:1000:Alice:/home/alice:/bin/hsh\n\
bob:x:1001:1001:Bob:/home/bob:/bin/hsh\n\
carol:x:1002:1002:Carol:/home/carol:/bin/hsh\n";
const GROUP: &[u8] =
    b"root:x:0:\nalice:x:1000:\nbob:x:1001:\ncarol:x:1002:\nusers:x:100:alice,bob\n";

fn main(rdi: u64) {
    // Slot 65 (fd 1 elsewhere) may hold one of our own fd caps: never print through it.
    libsys::fs::set_print_to_debug_console(true);
    let Some(argument) = start_argument(rdi) else {
        libsys::println!("fsrv: no start argument (argument 1)");
        return;
    };
    let (archive_length, untyped_bits, tsc_khz) = parse_start_argument(argument);
    terminal::set_clock(tsc_khz.saturating_mul(1000));
    memory::init(untyped_bits);
    let archive = map_archive(archive_length);
    let mut server = match Server::new(archive) {
        Ok(server) => server,
        Err(e) => {
            libsys::println!("fsrv: cannot build the namespace: {e}");
            return;
        }
    };
    serve(&mut server);
}

/// The start argument: `rdi` when fsrv was loaded by a root task (it has no procsrv
/// endpoint), else argument 1 of the stack procsrv laid out (`rdi` points at it), in
/// decimal.
fn start_argument(rdi: u64) -> Option<u64> {
    let procsrv: Cap<Endpoint> = Cap::from_cptr(libsys::process::SLOT_PROCSRV);
    let hatched = procsrv
        .identify()
        .is_ok_and(|id| id.cap_kind() == Some(libsys::object::CapKind::Endpoint));
    if !hatched {
        return Some(rdi);
    }
    // SAFETY: a hatched process's `rdi` at entry is its initial stack, laid out by procsrv
    // with `build_stack`; nothing writes the strings above the entry stack pointer.
    let startup = unsafe { libsys::process::Startup::from_stack(rdi) };
    let digits = startup.arg(1)?;
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// Copies the boot archive's frames out of the CNode in `SLOT_ARCHIVE` into fsrv's slots
/// from [`ARCHIVE_FIRST_SLOT`] up (through a guard-0 alias of fsrv's root, so that a
/// two-level path reaches into that CNode), then deletes the CNode. False when a copy
/// fails.
fn take_archive_frames(pages: u64) -> bool {
    use libsys::bootinfo::SLOT_CNODE;
    use libsys::cap::{CNode, SlotPath};
    use libsys::object::{CNodeGuard, Rights};
    let radix = archive_radix(pages * 4096);
    let root: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);
    let Some(alias) = memory::take_slot() else {
        return false;
    };
    let unguarded = CNodeGuard {
        guard: 0,
        guard_bits: 0,
    };
    if root
        .mint_guard(SlotPath::at(alias), SlotPath::at(SLOT_CNODE), unguarded)
        .is_err()
    {
        memory::free_slot(alias);
        return false;
    }
    let alias: Cap<CNode> = Cap::from_cptr(alias);
    let copied = (0..pages).all(|page| {
        let dest = SlotPath {
            index: ARCHIVE_FIRST_SLOT + page,
            depth: fs_api::server::CNODE_RADIX,
        };
        let src = SlotPath {
            index: (SLOT_ARCHIVE << radix) | page,
            depth: fs_api::server::CNODE_RADIX + radix,
        };
        alias.copy(dest, src, Rights::READ).is_ok()
    });
    memory::free_slot(alias.cptr());
    memory::free_slot_keep(SLOT_ARCHIVE);
    copied
}

/// Maps the boot archive's frames read-only at `ARCHIVE_ADDR`; returns its bytes (empty
/// when there is none or a page cannot be mapped).
fn map_archive(length: u64) -> &'static [u8] {
    let pages = length.div_ceil(4096);
    if !take_archive_frames(pages) {
        libsys::println!("fsrv: cannot copy the boot archive's frames; /bin is empty");
        return &[];
    }
    for page in 0..pages {
        let vaddr = ARCHIVE_ADDR + page * 4096;
        if !memory::map_page(ARCHIVE_FIRST_SLOT + page, vaddr, false) {
            libsys::println!("fsrv: cannot map page {page} of the boot archive; /bin is empty");
            return &[];
        }
    }
    // SAFETY: `length` bytes at ARCHIVE_ADDR were just mapped read-only, and nothing ever
    // maps anything else there or writes them.
    unsafe { core::slice::from_raw_parts(ARCHIVE_ADDR as *const u8, length as usize) }
}

/// The receive loop: one request at a time, replying (with `ReplyRecv`) or leaving the
/// reply saved in a Reply object for later ([`Outcome::Deferred`]).
fn serve(server: &mut Server) -> ! {
    let endpoint: Cap<Endpoint> = Cap::from_cptr(SLOT_ENDPOINT);
    let mut outcome = Outcome::Deferred;
    loop {
        syscall::set_receive_slot(SLOT_RECEIVE);
        // A terminal read with VTIME waits at most until its timer fires.
        let deadline = server.next_deadline();
        let received = match (outcome, deadline) {
            (Outcome::Reply(reply), None) => {
                let info = reply.prepare();
                endpoint.reply_recv(info, reply.registers())
            }
            (Outcome::Reply(reply), Some(deadline)) => {
                let _ = libsys::cap::reply(reply.prepare(), reply.registers());
                endpoint.recv_timeout(deadline)
            }
            (Outcome::Deferred, None) => endpoint.recv(),
            (Outcome::Deferred, Some(deadline)) => endpoint.recv_timeout(deadline),
        };
        outcome = match received {
            Ok(message) if message.info.label() == libsys::abi::NOTIFICATION_LABEL => {
                // The console driver's notification (bound to this thread) was signalled.
                server.console_interrupt();
                Outcome::Deferred
            }
            Ok(message) => {
                let result = server.handle(&message);
                let info: MessageInfo = message.info;
                let unwrapped = info.caps_unwrapped();
                if info.caps() > 0 && unwrapped & 1 == 0 {
                    memory::free_slot_keep(SLOT_RECEIVE);
                }
                result
            }
            Err(e) => {
                if e.error == libsys::abi::Error::TimedOut {
                    server.expire_terminal_reads();
                }
                Outcome::Deferred
            }
        };
        if deadline.is_some() {
            // Timers that fired while a request was handled.
            if server
                .next_deadline()
                .is_some_and(|d| d <= libsys::time::now())
            {
                server.expire_terminal_reads();
            }
        }
    }
}
