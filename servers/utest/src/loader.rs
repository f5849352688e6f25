//! The libsys loader: finding programs in the boot archive, building a process, failing
//! cleanly, and destroying processes.

use crate::check::TestResult;
use crate::{ensure, fail, ok, Ctx, Test};
use ipcpeer::{label, mode};
use libsys::abi::MessageInfo;
use libsys::bootinfo::{SLOT_CNODE, SLOT_IPC_BUFFER, SLOT_TCB, SLOT_VSPACE};
use libsys::cap::{Cap, Endpoint};
use libsys::loader::{LoadError, Loader, Process, ProcessConfig};
use libsys::object::{CapKind, Rights};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    programs_are_found_by_archive_path,
    non_elf_files_are_refused_without_leaking,
    a_load_without_enough_memory_leaks_nothing,
    a_new_process_holds_its_own_caps_in_the_fixed_slots,
    processes_come_and_go,
];

fn programs_are_found_by_archive_path(ctx: &mut Ctx) -> TestResult {
    let length = ctx.info.archive_length;
    let peer = Loader::archive_file(length, "bin/ipcpeer").map_err(|e| fail!("{e}"))?;
    ensure!(peer.starts_with(b"\x7fELF"), "bin/ipcpeer is not an ELF");
    let missing = Loader::archive_file(length, "bin/no-such-program");
    ensure!(
        matches!(missing, Err(LoadError::NotFound)),
        "missing program: {missing:?}"
    );
    Ok(())
}

fn non_elf_files_are_refused_without_leaking(ctx: &mut Ctx) -> TestResult {
    let length = ctx.info.archive_length;
    let manifest = Loader::archive_file(length, "manifest").map_err(|e| fail!("{e}"))?;
    let free = ctx.alloc.slots.free_count();
    let config = ctx.peer_config();
    let result = ctx.loader.load(&mut ctx.alloc, manifest, &config);
    ensure!(
        matches!(result, Err(LoadError::Elf(_))),
        "loading the manifest: {:?}",
        result.err()
    );
    ensure!(ctx.alloc.slots.free_count() == free, "slots leaked");
    Ok(())
}

fn a_load_without_enough_memory_leaks_nothing(ctx: &mut Ctx) -> TestResult {
    let image =
        Loader::archive_file(ctx.info.archive_length, "bin/ipcpeer").map_err(|e| fail!("{e}"))?;
    let free = ctx.alloc.slots.free_count();
    for bits in [12, 14, 16] {
        let config = ProcessConfig {
            untyped_bits: bits,
            ..ctx.peer_config()
        };
        let result = ctx.loader.load(&mut ctx.alloc, image, &config);
        ensure!(result.is_err(), "a process fit in 2^{bits} bytes?");
        let now = ctx.alloc.slots.free_count();
        ensure!(now == free, "2^{bits}: {} slots leaked", free - now);
    }
    // And a load that fits still works afterwards.
    let config = ctx.peer_config();
    let process = ctx.loader.load(&mut ctx.alloc, image, &config);
    ensure!(process.is_ok(), "load after failures: {:?}", process.err());
    Ok(())
}

fn a_new_process_holds_its_own_caps_in_the_fixed_slots(ctx: &mut Ctx) -> TestResult {
    let config = ctx.peer_config();
    let process = ctx.peer(&config)?;
    for (slot, kind, own) in [
        (SLOT_TCB, CapKind::Tcb, process.tcb.cptr()),
        (SLOT_CNODE, CapKind::CNode, process.cspace.cptr()),
        (SLOT_VSPACE, CapKind::Pml4, process.vspace.cptr()),
        (SLOT_IPC_BUFFER, CapKind::Frame, process.ipc_buffer.cptr()),
    ] {
        let out = ctx.slot()?;
        let from = process.child_path(&ctx.loader, slot);
        let to = Process::parent_path(&ctx.loader, out);
        ok!(ctx.loader.root_unguarded.copy(to, from, Rights::ALL));
        let found = ctx.kind(out)?;
        ensure!(found == kind, "child slot {slot}: {found:?}, want {kind:?}");
        ensure!(ctx.kind(own)? == kind, "our cap for child slot {slot}");
    }
    let empty = process.child_path(&ctx.loader, process.first_free_slot());
    let out = ctx.slot()?;
    let to = Process::parent_path(&ctx.loader, out);
    let copied = ctx.loader.root_unguarded.copy(to, empty, Rights::ALL);
    ensure!(copied.is_err(), "the first free child slot is not empty");
    Ok(())
}

fn processes_come_and_go(ctx: &mut Ctx) -> TestResult {
    let free = ctx.alloc.slots.free_count();
    let endpoint: Cap<Endpoint> = ctx.make()?;
    for round in 0..5u64 {
        let config = ctx.peer_config();
        let process = ctx.peer(&config)?;
        crate::give(&process, &ctx.loader, endpoint, ipcpeer::SLOT_ENDPOINT)?;
        process
            .start(mode::SERVER)
            .map_err(|e| fail!("start: {e}"))?;
        let reply = ok!(endpoint.call(MessageInfo::new(label::ECHO, 1, 0), [round, 0, 0, 0]));
        ensure!(
            reply.words[0] == round + 1,
            "round {round}: echo {}",
            reply.words[0]
        );
        process
            .destroy(&mut ctx.alloc)
            .map_err(|e| fail!("destroy: {e}"))?;
    }
    ensure!(
        ctx.alloc.slots.free_count() + 1 == free,
        "slots leaked over five processes"
    );
    Ok(())
}
