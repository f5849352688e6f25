//! procsrv, the process server: the root task. It owns all memory and every process, and
//! starts every program in the system by hatching it from an egg — the programs of its
//! boot table included, so that boot uses the path users use.
//!
//! Design (docs/procsrv.md has the whole protocol):
//!
//! 1. **One endpoint, three kinds of badge.** Each process's own procsrv cap, each process
//!    handle and each thread's fault endpoint are mints of one endpoint; the badge says
//!    which kind and which pid ([`procsrv_api::badge`]). procsrv never trusts a pid a
//!    caller sends about itself.
//! 2. **Validate, then build, then run the egg, then start.** Nothing can fail after the
//!    child's thread is started; any failure before undoes everything (one revoke per
//!    block half), so procsrv's free memory is exactly what it was.
//! 3. **Fixed memory blocks** ([`memory`]): a dead process's memory returns at once.
//! 4. **procsrv never panics on a message**: every request is decoded and checked first.
#![no_std]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod alt;
mod cpu;
pub mod files;
pub mod fsrv;
pub mod hatch;
mod lifecycle;
pub mod memory;
pub mod ops;
pub mod phases;
mod request_pages;
mod serve;
pub mod table;
pub mod testfiles;

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use files::{FileServer, NoFileServer};
use libsys::alloc::Allocator;
use libsys::bootinfo::{BootInfo, BOOT_INFO_MAGIC};
use libsys::cap::{Cap, Endpoint};
use libsys::loader::Loader;
use libsys::println;
use memory::Blocks;
use ops::RequestCaps;
use procsrv_api::HatchRequest;
use table::{Table, MAX_PROCS};

/// A program procsrv hatches at boot.
#[derive(Clone, Copy, Debug)]
pub struct BootProgram {
    /// The program, `/bin/NAME`.
    pub program: &'static [u8],
    /// Its arguments, each followed by a NUL.
    pub argv: &'static [u8],
    /// Its environment, each `NAME=value` followed by a NUL.
    pub envp: &'static [u8],
    /// Its egg.
    pub egg: &'static [u8],
}

/// How procsrv runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Answer `INJECT` (tests of the rollback at every step; never in the real system).
    pub fault_injection: bool,
    /// Start the console driver and the file server at boot ([`fsrv::FsLink`]); test root
    /// tasks run without them.
    pub file_server: bool,
}

/// A value only procsrv's one thread touches.
pub(crate) struct Global<T>(pub(crate) UnsafeCell<T>);

// SAFETY: procsrv has exactly one thread; the value is reached only through `take`, once.
unsafe impl<T> Sync for Global<T> {}

/// Where procsrv maps its process table, made at start from its own memory rather than
/// kept in `.bss`: the programs that link procsrv's library to test it (`hatchtest`,
/// `hatchbench`) run hatched copies of themselves, and a hatched process's `.bss` and
/// stack both come from its block's 512 KiB image half; a table there (about 280 KiB,
/// unused by the copy) left their stacks under 100 KiB to grow in.
const TABLE_ADDR: u64 = 0x7ffa_0000_0000;
/// Where the buffers of a hatch's draft are mapped (`ops::Scratch`), for the same reason.
const SCRATCH_ADDR: u64 = 0x7ffa_4000_0000;
static BLOCKS: Global<Blocks> = Global(UnsafeCell::new(Blocks::new()));
static NO_FILE_SERVER: Global<NoFileServer> = Global(UnsafeCell::new(NoFileServer));
static TEST_FILES: Global<testfiles::TestFiles> = Global(UnsafeCell::new(
    testfiles::TestFiles::new(libsys::time::Clock::new(1)),
));
pub(crate) static FILE_SERVER: Global<Option<fsrv::FsLink>> = Global(UnsafeCell::new(None));

/// The server's state.
pub struct Server {
    alloc: Allocator,
    loader: Loader,
    endpoint: Cap<Endpoint>,
    table: &'static mut Table,
    /// The buffers of the hatch being built (`ops::Scratch`).
    scratch: &'static mut ops::Scratch,
    blocks: &'static mut Blocks,
    files: &'static mut dyn FileServer,
    archive_length: u64,
    /// The time-stamp counter's rate (boot info), for [`procsrv_api::label::CLOCK`].
    tsc_hz: u64,
    /// Where a request's cap arrives.
    receive_slot: u64,
    /// The other receive slot: a request's cap is deleted after the reply (with the
    /// reply's own cap, in one call), so the next message arrives in this one.
    other_receive_slot: u64,
    /// `wait_replies[i]`: the saved reply of record `i`'s process waiting for a child.
    wait_replies: u64,
    /// `handle_replies[i]`: the saved reply of a caller waiting on record `i` by handle.
    handle_replies: u64,
    /// Programs found in the archive before.
    programs: [Option<hatch::KnownProgram>; hatch::KNOWN_PROGRAMS],
    /// Bit `i`: a caller waits on record `i` by handle (its reply in `handle_replies + i`).
    handle_waiters: u128,
    /// Free memory and slots right after start, for the usage report.
    pub baseline: (usize, u64),
    /// How it runs.
    pub options: Options,
    /// The file server, loaded at start and started after the boot table's first hatch.
    pending_files: Option<fsrv::Pending>,
    /// Open launches of the chatty way ([`alt`]).
    launches: &'static mut alt::Launches,
    /// Instruction totals of the hatch phases (`PHASES`).
    pub(crate) phases: phases::Phases,
    /// Tests only (`INJECT` word 1): hatches neither take nor park warm blocks.
    pub(crate) build_cold: bool,
    /// When to look at the CPU times of the processes with a finite RLIMIT_CPU next (a
    /// time-stamp counter value); `None` while no process has one ([`cpu`]).
    cpu_deadline: Option<u64>,
    /// The file server and console driver hatched at boot, while the file server runs.
    pub(crate) system: Option<fsrv::System>,
}

/// Why procsrv could not start.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// The boot info page is not one.
    BadBootInfo,
    /// Making its own objects failed.
    OutOfMemory,
}

impl Server {
    /// Sets procsrv up from the boot info at `boot_info`.
    ///
    /// # Errors
    /// [`StartError`].
    pub fn start(boot_info: u64) -> Result<Server, StartError> {
        Self::start_with(boot_info, Options::default())
    }

    /// [`Server::start`] with `options` (the file server starts before memory is carved).
    ///
    /// # Errors
    /// [`StartError`].
    pub fn start_with(boot_info: u64, options: Options) -> Result<Server, StartError> {
        // SAFETY: the kernel maps the boot info page read-only at this address for the root
        // task's whole life.
        let info: &'static BootInfo = unsafe { &*(boot_info as *const BootInfo) };
        if info.magic != BOOT_INFO_MAGIC {
            return Err(StartError::BadBootInfo);
        }
        let mut alloc = Allocator::from_boot_info(info);
        // Every address space procsrv makes gets its ASID from the boot ASID pool.
        let mut loader = Loader::new(
            &mut alloc,
            info.cnode_radix,
            Cap::from_cptr(libsys::bootinfo::SLOT_ASID_POOL),
        )
        .map_err(|_| StartError::OutOfMemory)?;
        // Read-only segments are shared between the processes of one program.
        loader.share_text();
        let pending = if options.file_server {
            match fsrv::FsLink::prepare(&mut alloc, &loader, info) {
                Ok(link) => Some(link),
                Err(why) => {
                    println!("procsrv: no file server: {why}");
                    None
                }
            }
        } else {
            None
        };
        let endpoint: Cap<Endpoint> = alloc.make().map_err(|_| StartError::OutOfMemory)?;
        let receive_slot = alloc.slot().map_err(|_| StartError::OutOfMemory)?;
        let other_receive_slot = alloc.slot().map_err(|_| StartError::OutOfMemory)?;
        let replies = alloc
            .retype(libsys::object::ObjectType::Reply, 0, 2 * MAX_PROCS as u64)
            .map_err(|_| StartError::OutOfMemory)?;
        let table_memory = map_fresh::<Table>(&mut alloc, TABLE_ADDR)?;
        let scratch =
            map_fresh::<ops::Scratch>(&mut alloc, SCRATCH_ADDR)?.write(ops::Scratch::new());
        // SAFETY: `start` runs once, on procsrv's only thread; these are the only
        // references ever made to the statics.
        let (table, blocks, files, launches) = unsafe {
            let files: &'static mut dyn FileServer = if options.fault_injection {
                let test_files = &mut *TEST_FILES.0.get();
                *test_files = testfiles::TestFiles::new(libsys::time::Clock::new(info.tsc_hz));
                test_files
            } else {
                &mut *NO_FILE_SERVER.0.get()
            };
            (
                Table::init_in_place(table_memory),
                &mut *BLOCKS.0.get(),
                files,
                &mut *alt::LAUNCHES.0.get(),
            )
        };
        // SAFETY: as above: the only reference ever made to the scratch buffers.
        launches.set_scratch(unsafe { &mut *alt::SCRATCH.0.get() });
        table.init();
        // The file server's block first, reserved for it (`memory::Class`).
        let pending = pending.and_then(|p| {
            match blocks.reserve(&mut alloc, endpoint, p.block, fsrv::FSRV_CLASS) {
                Ok(()) => Some(p),
                Err(why) => {
                    println!("procsrv: no file server: cannot reserve its block: {why}");
                    None
                }
            }
        });
        blocks.carve(&mut alloc, endpoint);
        let mut server = Server {
            alloc,
            loader,
            endpoint,
            table,
            scratch,
            blocks,
            files,
            archive_length: info.archive_length,
            tsc_hz: info.tsc_hz,
            receive_slot,
            other_receive_slot,
            wait_replies: replies,
            handle_replies: replies + MAX_PROCS as u64,
            handle_waiters: 0,
            programs: [None; hatch::KNOWN_PROGRAMS],
            baseline: (0, 0),
            options,
            pending_files: pending,
            launches,
            phases: phases::Phases::new(),
            build_cold: false,
            cpu_deadline: None,
            system: None,
        };
        server.baseline = server.usage();
        Ok(server)
    }

    /// Free blocks and free procsrv slots (warm blocks and the slots their processes hold
    /// count as free: any hatch can have them back; see [`memory`]).
    pub fn usage(&self) -> (usize, u64) {
        (
            self.blocks.free(),
            self.alloc.slots.free_count()
                + self
                    .blocks
                    .warm_blocks()
                    .filter_map(|i| self.table.objects(i))
                    .map(libsys::loader::Process::parent_slots)
                    .sum::<u64>(),
        )
    }

    /// Hatches the boot table's programs (children of procsrv, pid 0).
    pub fn hatch_boot_programs(&mut self, programs: &[BootProgram]) {
        for p in programs {
            let request = HatchRequest {
                program: p.program,
                argv: p.argv,
                envp: p.envp,
                egg: p.egg,
                cap_radix: 0,
                timeout_ms: 0,
            };
            let none = RequestCaps { slot: 0, radix: 0 };
            let name = core::str::from_utf8(p.program).unwrap_or("?");
            match self.hatch(0, &request, none) {
                Ok(pid) => println!("procsrv: hatched {name} as pid {pid}"),
                Err(f) => println!("procsrv: cannot hatch {name}: {}", f.errno),
            }
        }
    }
}

/// procsrv's whole life: start, hatch `boot`, serve.
pub fn run(boot_info: u64, boot: &[BootProgram]) {
    run_with(boot_info, boot, Options::default());
}

/// [`run`] with `options`.
pub fn run_with(boot_info: u64, boot: &[BootProgram], options: Options) {
    let mut server = match Server::start_with(boot_info, options) {
        Ok(server) => server,
        Err(e) => {
            println!("procsrv: cannot start: {e:?}");
            return;
        }
    };
    println!(
        "procsrv: {} process blocks of {} KiB, {} free slots",
        server.blocks.total(),
        (2u64 << memory::HALF_BITS) >> 10,
        server.alloc.slots.free_count()
    );
    // init first (pid 1), then the console driver hatched from its egg and the file
    // server; init's first request is served after both.
    let (first, rest) = boot.split_at(boot.len().min(1));
    server.hatch_boot_programs(first);
    if let Some(pending) = server.pending_files.take() {
        server.start_file_server(pending);
    }
    server.hatch_boot_programs(rest);
    server.serve();
}

/// Whether the boot archive's manifest has a `root-args` line with the word `exit` (what
/// `cargo xtask run` without a terminal and the tests add beside the kernel's `exit`): init
/// then ends the system when the console shell exits instead of starting another.
pub fn root_args_say_exit(boot_info: u64) -> bool {
    root_args_have(boot_info, "exit")
}

/// Whether the boot archive's manifest has a `root-args` line with the word `word`.
pub fn root_args_have(boot_info: u64, word: &str) -> bool {
    // SAFETY: the kernel maps the boot info page read-only at this address for the root
    // task's whole life.
    let info: &BootInfo = unsafe { &*(boot_info as *const BootInfo) };
    if info.magic != BOOT_INFO_MAGIC {
        return false;
    }
    let Ok(text) = Loader::archive_file(info.archive_length, "manifest") else {
        return false;
    };
    let Ok(manifest) = bootfmt::manifest::Manifest::parse(text) else {
        return false;
    };
    manifest
        .lines()
        .filter(|line| line.key == "root-args")
        .any(|line| line.rest.split_ascii_whitespace().any(|w| w == word))
}

/// Maps fresh zeroed frames for a `T` at `addr` in procsrv's own address space and returns
/// that memory (the process table at [`TABLE_ADDR`], the draft's buffers at
/// [`SCRATCH_ADDR`]; once each: [`Server::start_with`] runs once).
///
/// # Errors
/// [`StartError::OutOfMemory`]: no memory or slots for the frames or their page tables.
fn map_fresh<T>(
    alloc: &mut Allocator,
    addr: u64,
) -> Result<&'static mut MaybeUninit<T>, StartError> {
    use libsys::object::{ObjectType, Rights};
    const PAGE: u64 = 4096;
    let pages = (core::mem::size_of::<T>() as u64).div_ceil(PAGE);
    let first = alloc
        .retype(ObjectType::Frame4K, 0, pages)
        .map_err(|_| StartError::OutOfMemory)?;
    let vspace = Cap::<libsys::cap::VSpace>::from_cptr(libsys::bootinfo::SLOT_VSPACE);
    let rw = Rights::READ.union(Rights::WRITE).bits();
    for i in 0..pages {
        let frame = Cap::<libsys::cap::Frame>::from_cptr(first + i);
        libsys::vspace::map_frame(alloc, vspace, frame, addr + i * PAGE, rw, false)
            .map_err(|_| StartError::OutOfMemory)?;
    }
    // SAFETY: `pages` frames, mapped read-write at `addr` just above (page-aligned, so
    // aligned for any `T` of procsrv's), cover a `T`; nothing else is mapped there or
    // refers to that memory (each caller passes its own address, once), so the returned
    // reference is the only one. `MaybeUninit` makes no claim on the bytes.
    Ok(unsafe { &mut *(addr as *mut MaybeUninit<T>) })
}
