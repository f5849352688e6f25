//! `utest`: the root task of the kernel test run.
//!
//! Runs every test in [`GROUPS`] and prints `utest: <name> ... ok` or
//! `utest: <name> ... FAILED (<why>)` for each, then `utest: N passed, M failed`.
//!
//! Selection: when the boot archive's manifest has a `root-args` line (`cargo xtask test
//! --utest NAMES`, `cargo xtask run --root utest --root-args NAMES`), only the tests whose
//! names contain one of its words run; a selection that matches nothing fails.
//!
//! Isolation: before the tests, one untyped of [`TEST_UNTYPED_BITS`] is carved from the
//! boot memory. Each test makes its objects from it (through [`Ctx::alloc`]) and takes slots
//! from the root CNode. After each test the runner revokes that untyped (destroying every
//! object the test made, any thread included), deletes whatever caps are left in the slots
//! the test took, and then proves that the whole untyped is free again by retyping it as
//! one object. A test that leaks memory or caps fails there.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]
// A failure carries its message inline (no allocator here); failing is the cold path, so
// the size of `Err` does not matter.
#![allow(clippy::result_large_err)]

mod check;
mod cnode;
mod cnode_copy_batch;
mod cnode_revoke;
mod cnode_revoke_batch;
mod cpu;
mod cspace_and_message_edges;
mod fast_path_agreement;
mod fast_path_and_suspend;
mod fault;
mod ipc;
mod irq;
mod loader;
mod misc;
mod notification;
mod notification_binding;
mod object_lifetimes;
mod preemption;
mod revoke;
mod tcb;
mod timer;
mod untyped;
mod untyped_reset;
mod untyped_retype_batch;
mod vspace;
mod vspace_quota;

use check::{Fail, TestResult};
use libsys::abi::Error;
use libsys::alloc::{Allocator, UntypedPool};
use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC, SLOT_CNODE};
use libsys::cap::{CNode, Cap, Endpoint, Identity, ObjectKind, SlotPath, Untyped};
use libsys::loader::{Loader, Process, ProcessConfig};
use libsys::object::{CapKind, ObjectType, Rights};
use libsys::println;

libsys::entry!(main);

/// log2 of the untyped every test draws from.
pub const TEST_UNTYPED_BITS: u32 = 23;
/// log2 of the untyped of each peer process.
pub const PEER_UNTYPED_BITS: u32 = 20;

/// A test: a name and a function.
pub struct Test {
    /// Printed name.
    pub name: &'static str,
    /// The module that holds it (`utest::cpu`): a selection word can name a whole file.
    pub group: &'static str,
    /// The test.
    pub run: fn(&mut Ctx) -> TestResult,
}

/// Declares a list of tests from functions.
#[macro_export]
macro_rules! tests {
    ($($f:ident),+ $(,)?) => {
        &[$($crate::Test { name: stringify!($f), group: module_path!(), run: $f }),+]
    };
}

/// Everything a test may use.
pub struct Ctx {
    /// Slots of the root CNode and the test untyped.
    pub alloc: Allocator,
    /// Builds peer processes.
    pub loader: Loader,
    /// The boot info.
    pub info: &'static BootInfo,
    /// The untyped the tests draw from (revoked after each).
    pub test_untyped: Cap<Untyped>,
}

/// The root CNode.
pub const ROOT: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);

impl Ctx {
    /// What `Identify` says of `slot`, or `None` if it is empty.
    pub fn identity(&mut self, slot: u64) -> Result<Option<Identity>, Fail> {
        match Cap::<Untyped>::from_cptr(slot).identify() {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.error == Error::FailedLookup => Ok(None),
            Err(e) => Err(fail!("identify slot {slot}: {e}")),
        }
    }

    /// Whether `slot` is empty.
    pub fn is_empty(&mut self, slot: u64) -> Result<bool, Fail> {
        Ok(self.identity(slot)?.is_none())
    }

    /// The kind of cap in `slot` ([`CapKind::Null`] when empty).
    pub fn kind(&mut self, slot: u64) -> Result<CapKind, Fail> {
        match self.identity(slot)? {
            None => Ok(CapKind::Null),
            Some(id) => id.cap_kind().ok_or(fail!("unknown kind {}", id.kind)),
        }
    }

    /// Fails unless `slot` is empty.
    pub fn expect_empty(&mut self, slot: u64) -> TestResult {
        match self.identity(slot)? {
            None => Ok(()),
            Some(id) => Err(fail!("slot {slot} holds {id:?}")),
        }
    }

    /// A free slot of the root CNode.
    pub fn slot(&mut self) -> Result<u64, Fail> {
        self.alloc.slot().map_err(|e| fail!("no slot: {e}"))
    }

    /// `count` consecutive free slots of the root CNode; returns the first.
    pub fn slots(&mut self, count: u64) -> Result<u64, Fail> {
        self.alloc
            .slots
            .alloc_range(count)
            .ok_or(fail!("no {count} free slots"))
    }

    /// A new CNode of `2^radix` slots (guard 0).
    pub fn cnode(&mut self, radix: u64) -> Result<Cap<CNode>, Fail> {
        self.alloc
            .make_cnode(radix)
            .map_err(|e| fail!("make CNode: {e}"))
    }

    /// One new object of type `T`.
    pub fn make<T: ObjectKind>(&mut self) -> Result<Cap<T>, Fail> {
        self.alloc
            .make::<T>()
            .map_err(|e| fail!("make {:?}: {e}", T::OBJECT_TYPE))
    }

    /// A new untyped of `2^bits` bytes.
    pub fn untyped(&mut self, bits: u32) -> Result<Cap<Untyped>, Fail> {
        self.alloc
            .make_untyped(bits)
            .map_err(|e| fail!("make untyped: {e}"))
    }

    /// `count` objects of `object_type` in consecutive slots; returns the first.
    pub fn retype(&mut self, object_type: ObjectType, size: u64, count: u64) -> Result<u64, Fail> {
        self.alloc
            .retype(object_type, size, count)
            .map_err(|e| fail!("retype {object_type:?}: {e}"))
    }

    /// A copy of `cap` with `rights` (and `badge` if non-zero) in a fresh slot.
    pub fn mint<T>(&mut self, cap: Cap<T>, rights: Rights, badge: u64) -> Result<Cap<T>, Fail> {
        let slot = self.slot()?;
        ok!(ROOT.mint(SlotPath::at(slot), cap.slot(), rights, badge));
        Ok(Cap::from_cptr(slot))
    }

    /// Loads `bin/ipcpeer`, gives it `endpoint` (slot 8) and `report` (slot 9) if not
    /// null, and returns it unstarted.
    pub fn peer(&mut self, config: &ProcessConfig) -> Result<Process, Fail> {
        let image = Loader::archive_file(self.info.archive_length, "bin/ipcpeer")
            .map_err(|e| fail!("find ipcpeer: {e}"))?;
        self.loader
            .load(&mut self.alloc, image, config)
            .map_err(|e| fail!("load ipcpeer: {e}"))
    }

    /// The default configuration of a peer process.
    pub fn peer_config(&self) -> ProcessConfig {
        ProcessConfig {
            untyped_bits: PEER_UNTYPED_BITS,
            priority: self.info.priority,
            ..ProcessConfig::default()
        }
    }

    /// Loads and starts a peer in `mode` with `endpoint` and `report` in its slots 8 and 9.
    pub fn start_peer(
        &mut self,
        mode: u64,
        endpoint: Cap<Endpoint>,
        report: Cap<Endpoint>,
        config: &ProcessConfig,
    ) -> Result<Process, Fail> {
        let process = self.peer(config)?;
        if endpoint.cptr() != 0 {
            give(&process, &self.loader, endpoint, ipcpeer::SLOT_ENDPOINT)?;
        }
        if report.cptr() != 0 {
            give(&process, &self.loader, report, ipcpeer::SLOT_REPORT)?;
        }
        process
            .start(mode)
            .map_err(|e| fail!("start ipcpeer: {e}"))?;
        Ok(process)
    }
}

/// Copies `cap` into `slot` of `process`'s CSpace with all rights.
pub fn give<T>(process: &Process, loader: &Loader, cap: Cap<T>, slot: u64) -> TestResult {
    process
        .give(loader, cap, slot, Rights::ALL)
        .map_err(|e| fail!("give cap to peer: {e}"))
}

fn main(boot_info: u64) {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        println!("utest: boot info ... FAILED (bad magic {:#x})", info.magic);
        println!("utest: 0 passed, 1 failed");
        return;
    }
    let mut alloc = Allocator::from_boot_info(info);
    let setup = alloc
        .make_untyped(TEST_UNTYPED_BITS)
        .map_err(|e| fail!("carve the test untyped: {e}"))
        .and_then(|untyped| {
            let loader = Loader::new(
                &mut alloc,
                info.cnode_radix,
                Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
            )
            .map_err(|e| fail!("prepare the loader: {e}"))?;
            Ok((untyped, loader))
        });
    let (test_untyped, loader) = match setup {
        Ok(s) => s,
        Err(e) => {
            println!("utest: setup ... FAILED ({e})");
            println!("utest: 0 passed, 1 failed");
            return;
        }
    };
    // From here on, every object comes from the test untyped.
    alloc.untyped = UntypedPool::new();
    alloc
        .untyped
        .add(test_untyped.cptr(), TEST_UNTYPED_BITS, false);
    let mut ctx = Ctx {
        alloc,
        loader,
        info,
        test_untyped,
    };
    let words = selection(info);
    if !words.is_empty() {
        println!("utest: running only the tests whose names contain one of: {words}");
    }
    let chosen = |test: &&Test| {
        words.is_empty()
            || words
                .split_whitespace()
                .any(|w| test.name.contains(w) || test.group.contains(w))
    };
    let (mut passed, mut failed) = (0u32, 0u32);
    if GROUPS.iter().flat_map(|g| g.iter()).filter(chosen).count() == 0 {
        println!("utest: selection ... FAILED (no test name contains any of: {words})");
        failed += 1;
    }
    for group in GROUPS {
        for test in group.iter().filter(chosen) {
            if run_one(&mut ctx, test) {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }
    println!("utest: {passed} passed, {failed} failed");
}

/// The words of the archive manifest's `root-args` line (empty: run every test).
fn selection(info: &BootInfo) -> &'static str {
    let Ok(text) = Loader::archive_file(info.archive_length, "manifest") else {
        return "";
    };
    let Ok(manifest) = bootfmt::manifest::Manifest::parse(text) else {
        return "";
    };
    manifest
        .lines()
        .find(|line| line.key == "root-args")
        .map_or("", |line| line.rest)
}

/// Every group of tests, in the order they run.
const GROUPS: &[&[Test]] = &[
    misc::TESTS,
    untyped::TESTS,
    cnode::TESTS,
    cnode_copy_batch::TESTS,
    cnode_revoke_batch::TESTS,
    untyped_retype_batch::TESTS,
    tcb::TESTS,
    vspace::TESTS,
    irq::TESTS,
    ipc::TESTS,
    notification::TESTS,
    fault::TESTS,
    revoke::TESTS,
    cnode_revoke::TESTS,
    timer::TESTS,
    vspace_quota::TESTS,
    notification_binding::TESTS,
    untyped_reset::TESTS,
    preemption::TESTS,
    loader::TESTS,
    fast_path_and_suspend::TESTS,
    fast_path_agreement::TESTS,
    object_lifetimes::TESTS,
    cspace_and_message_edges::TESTS,
    cpu::TESTS,
];

/// Runs one test, then cleans up after it and checks that it leaked nothing.
fn run_one(ctx: &mut Ctx, test: &Test) -> bool {
    let slots_before = ctx.alloc.slots.clone();
    let result = (test.run)(ctx);
    let cleaned = clean_up(ctx, &slots_before);
    ctx.alloc.slots = slots_before;
    match (result, cleaned) {
        (Ok(()), Ok(())) => {
            println!("utest: {} ... ok", test.name);
            true
        }
        (Err(e), _) => {
            println!("utest: {} ... FAILED ({e})", test.name);
            false
        }
        (Ok(()), Err(e)) => {
            println!("utest: {} ... FAILED (after the test: {e})", test.name);
            false
        }
    }
}

/// Revokes the test untyped, empties the slots the test took, and proves the untyped is
/// entirely free again.
fn clean_up(ctx: &mut Ctx, slots_before: &libsys::alloc::SlotAllocator) -> TestResult {
    ok!(ROOT.revoke(ctx.test_untyped.slot()));
    let mut undeleted = 0;
    for slot in 0..libsys::alloc::MAX_SLOTS {
        let taken = slots_before.is_free(slot) && !ctx.alloc.slots.is_free(slot);
        if taken && ROOT.delete(SlotPath::at(slot)).is_err() {
            undeleted += 1;
        }
    }
    ctx.alloc.untyped.reset(0);
    ensure!(undeleted == 0, "{undeleted} slots could not be emptied");
    let slot = slots_before
        .clone()
        .alloc()
        .ok_or(fail!("no slot for the leak check"))?;
    let full = u64::from(TEST_UNTYPED_BITS);
    let retyped = ctx
        .test_untyped
        .retype(ObjectType::Untyped, full, ROOT, slot, 1);
    ensure!(
        retyped.is_ok(),
        "test untyped not entirely free: {}",
        retyped.unwrap_err()
    );
    ok!(ROOT.delete(SlotPath::at(slot)));
    ok!(ROOT.revoke(ctx.test_untyped.slot()));
    Ok(())
}
