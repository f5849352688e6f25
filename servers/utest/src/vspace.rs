//! Frames and page tables: `FrameMap(vspace 0, vaddr 1, rights 2)`, `FrameUnmap`,
//! `FrameGetAddress`, `PageTableMap(vspace 0, vaddr 1)`, `PageTableUnmap`.
//!
//! Mappings in our own address space go at [`TEST_BASE`] and up, where nothing else lives;
//! the page tables come from the test untyped and vanish with it after each test.

use crate::check::{Fail, TestResult, MISSING_CAP, OUT_OF_RANGE, WRONG_INVOKED};
use crate::{ensure, expect_any, expect_err, ok, Ctx, Test, ROOT};
use libsys::abi::Error;
use libsys::bootinfo::{BOOT_INFO_ADDR, IPC_BUFFER_ADDR, SLOT_VSPACE};
use libsys::cap::{Cap, Endpoint, Frame, PageDirectory, PageTable, Pdpt, VSpace, INVOKED_CAP};
use libsys::object::{ObjectType, Rights};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    mapped_frames_show_the_same_memory,
    frame_map_names_each_bad_argument,
    frame_rights_limit_the_mapping,
    executable_mappings_run_and_others_do_not,
    frame_addresses_are_aligned_physical_addresses,
    large_frames_map_at_2mib_boundaries,
    page_table_map_names_each_bad_argument,
    unmapping_a_page_table_removes_what_it_mapped,
    deleting_a_mapped_frame_unmaps_it,
    another_address_space_gets_its_own_tables,
    frame_and_table_invocations_need_the_right_cap,
];

/// Where tests map frames in our own address space (PML4 entry 160, otherwise unused).
pub const TEST_BASE: u64 = 0x5000_0000_0000;
const OWN: Cap<VSpace> = Cap::from_cptr(SLOT_VSPACE);
const RW: Rights = Rights::READ.union(Rights::WRITE);
/// The bytes `b8 2a 00 00 00 c3` (`mov eax, 42; ret`) as a little-endian word.
const MOV_EAX_42_RET: u64 = 0xc3_00_00_00_2a_b8;

/// The page tables [`map_tables`] made.
pub struct Tables {
    /// The PDPT.
    pub pdpt: Cap<Pdpt>,
    /// The page directory.
    pub pd: Cap<PageDirectory>,
    /// The page table.
    pub pt: Cap<PageTable>,
}

/// Makes and maps the PDPT, PD and PT that cover `vaddr` in `vspace`.
pub fn map_tables(ctx: &mut Ctx, vspace: Cap<VSpace>, vaddr: u64) -> Result<Tables, Fail> {
    let pdpt: Cap<Pdpt> = ctx.make()?;
    ok!(pdpt.map(vspace, vaddr));
    let pd: Cap<PageDirectory> = ctx.make()?;
    ok!(pd.map(vspace, vaddr));
    let pt: Cap<PageTable> = ctx.make()?;
    ok!(pt.map(vspace, vaddr));
    Ok(Tables { pdpt, pd, pt })
}

fn write(vaddr: u64, value: u64) {
    // SAFETY: callers map a frame read-write at `vaddr` first; it is our own test memory,
    // referenced by no Rust object.
    unsafe { (vaddr as *mut u64).write_volatile(value) }
}

fn read(vaddr: u64) -> u64 {
    // SAFETY: callers map a frame readable at `vaddr` first.
    unsafe { (vaddr as *const u64).read_volatile() }
}

fn mapped_frames_show_the_same_memory(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, TEST_BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(OWN, TEST_BASE, RW));
    ensure!(read(TEST_BASE + 8) == 0, "fresh frame not zero");
    write(TEST_BASE, 0xdead_beef);
    ok!(frame.unmap());
    ok!(frame.map(OWN, TEST_BASE + 0x1000, RW));
    ensure!(
        read(TEST_BASE + 0x1000) == 0xdead_beef,
        "data did not follow the frame"
    );
    // A copy of the cap maps the same memory a second time.
    let copy = ctx.mint(frame, Rights::ALL, 0)?;
    ok!(copy.map(OWN, TEST_BASE + 0x2000, RW));
    write(TEST_BASE + 0x2008, 77);
    ensure!(read(TEST_BASE + 0x1008) == 77, "shared mapping not shared");
    ensure!(
        ok!(copy.get_address()) == ok!(frame.get_address()),
        "copy has another address"
    );
    Ok(())
}

fn frame_map_names_each_bad_argument(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, TEST_BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let empty = ctx.slot()?;
    expect_err!(frame.map(OWN, TEST_BASE + 8, RW), Error::AlignmentError, 1);
    expect_err!(
        frame.map(OWN, TEST_BASE + 0x800, RW),
        Error::AlignmentError,
        1
    );
    for vaddr in [
        0xffff_8000_0000_0000,
        0xffff_ffff_ffff_f000,
        0x0000_8000_0000_0000,
    ] {
        expect_any!(frame.map(OWN, vaddr, RW), OUT_OF_RANGE, 1);
    }
    expect_err!(
        frame.map(endpoint.cast(), TEST_BASE, RW),
        Error::InvalidCapability,
        0
    );
    expect_any!(
        frame.map(Cap::from_cptr(empty), TEST_BASE, RW),
        MISSING_CAP,
        0
    );
    for rights in [0x20, 0x100, u64::MAX] {
        expect_any!(frame.map_raw(OWN, TEST_BASE, rights), OUT_OF_RANGE, 2);
    }
    // No page table there.
    expect_err!(
        frame.map(OWN, TEST_BASE + (1 << 39), RW),
        Error::FailedLookup,
        1
    );
    expect_err!(
        frame.map(OWN, TEST_BASE + (1 << 21), RW),
        Error::FailedLookup,
        1
    );
    // Something is mapped there already.
    expect_err!(frame.map(OWN, IPC_BUFFER_ADDR, RW), Error::DeleteFirst, 1);
    expect_err!(
        frame.map(OWN, BOOT_INFO_ADDR, Rights::READ),
        Error::DeleteFirst,
        1
    );
    ok!(frame.map(OWN, TEST_BASE, RW));
    let other: Cap<Frame> = ctx.make()?;
    expect_err!(other.map(OWN, TEST_BASE, RW), Error::DeleteFirst, 1);
    // This cap is mapped already: one mapping per cap.
    let result = frame.map(OWN, TEST_BASE + 0x1000, RW);
    expect_any!(
        result,
        [
            Error::RevokeFirst,
            Error::IllegalOperation,
            Error::InvalidCapability
        ],
        INVOKED_CAP
    );
    Ok(())
}

fn frame_rights_limit_the_mapping(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, TEST_BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(OWN, TEST_BASE, RW));
    write(TEST_BASE, 5);
    let read_only = ctx.mint(frame, Rights::READ, 0)?;
    expect_err!(
        read_only.map(OWN, TEST_BASE + 0x1000, RW),
        Error::InsufficientRights,
        2
    );
    ok!(read_only.map(OWN, TEST_BASE + 0x1000, Rights::READ));
    ensure!(read(TEST_BASE + 0x1000) == 5, "read-only view differs");
    let nothing = ctx.mint(frame, Rights::NONE, 0)?;
    let result = nothing.map(OWN, TEST_BASE + 0x2000, Rights::READ);
    expect_err!(result, Error::InsufficientRights, 2);
    Ok(())
}

fn executable_mappings_run_and_others_do_not(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, TEST_BASE)?;
    let code: Cap<Frame> = ctx.make()?;
    ok!(code.map(OWN, TEST_BASE, RW));
    // mov eax, 0x2a; ret
    write(TEST_BASE, MOV_EAX_42_RET);
    ok!(code.unmap());
    ok!(code.map_executable(OWN, TEST_BASE + 0x1000, Rights::READ));
    // SAFETY: the page at TEST_BASE + 0x1000 is mapped executable and holds exactly the
    // five bytes `mov eax, 42; ret`, a complete function with the C ABI.
    let function: extern "C" fn() -> u32 = unsafe { core::mem::transmute(TEST_BASE + 0x1000) };
    ensure!(function() == 42, "the code did not run");
    // A thread jumping into a mapping without MAP_EXECUTABLE faults on the fetch.
    let data: Cap<Frame> = ctx.make()?;
    ok!(data.map(OWN, TEST_BASE + 0x2000, RW));
    write(TEST_BASE + 0x2000, MOV_EAX_42_RET);
    let faults: Cap<Endpoint> = ctx.make()?;
    let thread = crate::tcb::helper_with_fault_endpoint(ctx, 0, faults)?;
    let mut registers = ok!(thread.read_registers());
    registers.rip = TEST_BASE + 0x2000;
    ok!(thread.write_registers(true, &registers));
    let fault = crate::fault::await_message(faults, 1000)?;
    ensure!(fault.words[0] == 14, "vector {}", fault.words[0]);
    ensure!(
        fault.words[1] & 0x10 != 0,
        "not an instruction fetch: error {:#x}",
        fault.words[1]
    );
    ensure!(
        fault.words[2] == TEST_BASE + 0x2000,
        "fault address {:#x}",
        fault.words[2]
    );
    ok!(thread.suspend());
    Ok(())
}

fn frame_addresses_are_aligned_physical_addresses(ctx: &mut Ctx) -> TestResult {
    let small: Cap<Frame> = ctx.make()?;
    let large: Cap<Frame> = Cap::from_cptr(ctx.retype(ObjectType::Frame2M, 0, 1)?);
    let a = ok!(small.get_address());
    let b = ok!(large.get_address());
    ensure!(a != 0 && a % 4096 == 0, "4 KiB frame at {a:#x}");
    ensure!(b != 0 && b % (2 << 20) == 0, "2 MiB frame at {b:#x}");
    let ipc = ok!(Cap::<Frame>::from_cptr(libsys::bootinfo::SLOT_IPC_BUFFER).get_address());
    ensure!(
        ipc != 0 && ipc % 4096 == 0 && ipc != a,
        "IPC buffer frame at {ipc:#x}"
    );
    Ok(())
}

fn large_frames_map_at_2mib_boundaries(ctx: &mut Ctx) -> TestResult {
    let pdpt: Cap<Pdpt> = ctx.make()?;
    ok!(pdpt.map(OWN, TEST_BASE));
    let pd: Cap<PageDirectory> = ctx.make()?;
    ok!(pd.map(OWN, TEST_BASE));
    let large: Cap<Frame> = Cap::from_cptr(ctx.retype(ObjectType::Frame2M, 0, 1)?);
    expect_err!(
        large.map(OWN, TEST_BASE + 0x1000, RW),
        Error::AlignmentError,
        1
    );
    ok!(large.map(OWN, TEST_BASE + (2 << 20), RW));
    let top = TEST_BASE + (4 << 20) - 8;
    write(top, 99);
    ensure!(read(top) == 99, "end of the 2 MiB page");
    // A page table cannot go where the large page is.
    let pt: Cap<PageTable> = ctx.make()?;
    expect_err!(pt.map(OWN, TEST_BASE + (2 << 20)), Error::DeleteFirst, 1);
    ok!(pt.map(OWN, TEST_BASE));
    Ok(())
}

fn page_table_map_names_each_bad_argument(ctx: &mut Ctx) -> TestResult {
    let pdpt: Cap<Pdpt> = ctx.make()?;
    let pd: Cap<PageDirectory> = ctx.make()?;
    let pt: Cap<PageTable> = ctx.make()?;
    let endpoint: Cap<Endpoint> = ctx.make()?;
    // Lower levels first: their parent table is missing.
    expect_err!(pd.map(OWN, TEST_BASE), Error::FailedLookup, 1);
    expect_err!(pt.map(OWN, TEST_BASE), Error::FailedLookup, 1);
    for vaddr in [0xffff_8000_0000_0000, 0x0000_8000_0000_0000, u64::MAX] {
        expect_any!(pdpt.map(OWN, vaddr), OUT_OF_RANGE, 1);
    }
    expect_err!(
        pdpt.map(endpoint.cast(), TEST_BASE),
        Error::InvalidCapability,
        0
    );
    ok!(pdpt.map(OWN, TEST_BASE));
    // Already present: the PDPT that covers the IPC buffer, and the one just mapped.
    let second: Cap<Pdpt> = ctx.make()?;
    expect_err!(second.map(OWN, TEST_BASE), Error::DeleteFirst, 1);
    expect_err!(second.map(OWN, IPC_BUFFER_ADDR), Error::DeleteFirst, 1);
    // Mapped already elsewhere: one mapping per table.
    let result = pdpt.map(OWN, TEST_BASE + (1 << 39));
    expect_any!(
        result,
        [
            Error::RevokeFirst,
            Error::IllegalOperation,
            Error::InvalidCapability
        ],
        INVOKED_CAP
    );
    ok!(pd.map(OWN, TEST_BASE + 0x1234_5000));
    ok!(pt.map(OWN, TEST_BASE + 0x1234_5000));
    // Unaligned addresses are rounded to the table's span (seL4 does the same) or refused.
    let pt2: Cap<PageTable> = ctx.make()?;
    let result = pt2.map(OWN, TEST_BASE + 0x1240_0123);
    if result.is_err() {
        expect_err!(result, Error::AlignmentError, 1);
    }
    Ok(())
}

fn unmapping_a_page_table_removes_what_it_mapped(ctx: &mut Ctx) -> TestResult {
    let pt = map_tables(ctx, OWN, TEST_BASE)?.pt;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(OWN, TEST_BASE, RW));
    write(TEST_BASE, 1);
    ok!(pt.unmap());
    let other: Cap<Frame> = ctx.make()?;
    expect_err!(
        other.map(OWN, TEST_BASE + 0x1000, RW),
        Error::FailedLookup,
        1
    );
    // Unmapping twice, and unmapping the frame of a vanished table, are harmless.
    ok!(pt.unmap());
    ok!(frame.unmap());
    ok!(pt.map(OWN, TEST_BASE));
    ok!(other.map(OWN, TEST_BASE + 0x1000, RW));
    ok!(frame.map(OWN, TEST_BASE, RW));
    ensure!(read(TEST_BASE) == 1, "frame lost its data");
    Ok(())
}

fn deleting_a_mapped_frame_unmaps_it(ctx: &mut Ctx) -> TestResult {
    map_tables(ctx, OWN, TEST_BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(OWN, TEST_BASE, RW));
    ok!(ROOT.delete(frame.slot()));
    let other: Cap<Frame> = ctx.make()?;
    ok!(other.map(OWN, TEST_BASE, RW));
    ensure!(read(TEST_BASE) == 0, "a new frame is not zero");
    // Deleting a mapped page table unmaps it too.
    let pt: Cap<PageTable> = ctx.make()?;
    ok!(pt.map(OWN, TEST_BASE + (2 << 20)));
    ok!(ROOT.delete(pt.slot()));
    let pt2: Cap<PageTable> = ctx.make()?;
    ok!(pt2.map(OWN, TEST_BASE + (2 << 20)));
    Ok(())
}

fn another_address_space_gets_its_own_tables(ctx: &mut Ctx) -> TestResult {
    let vspace = crate::vspace_quota::make_vspace(ctx)?;
    let tables = map_tables(ctx, vspace, TEST_BASE)?;
    let frame: Cap<Frame> = ctx.make()?;
    ok!(frame.map(vspace, TEST_BASE, RW));
    // Our own address space has no table there.
    let other: Cap<Frame> = ctx.make()?;
    expect_err!(other.map(OWN, TEST_BASE, RW), Error::FailedLookup, 1);
    // The user half is empty in a new address space, even where ours has mappings.
    let low: Cap<Frame> = ctx.make()?;
    expect_err!(low.map(vspace, IPC_BUFFER_ADDR, RW), Error::FailedLookup, 1);
    // Deleting the address space unmaps its tables; they can go into another one.
    ok!(ROOT.delete(vspace.slot()));
    ok!(tables.pdpt.map(OWN, TEST_BASE));
    ok!(tables.pd.map(OWN, TEST_BASE));
    ok!(tables.pt.map(OWN, TEST_BASE));
    ok!(frame.unmap());
    ok!(frame.map(OWN, TEST_BASE, RW));
    Ok(())
}

fn frame_and_table_invocations_need_the_right_cap(ctx: &mut Ctx) -> TestResult {
    let not_frame: Cap<Frame> = ctx.make::<PageTable>()?.cast();
    expect_any!(
        not_frame.map(OWN, TEST_BASE, RW),
        WRONG_INVOKED,
        INVOKED_CAP
    );
    expect_any!(not_frame.unmap(), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_frame.get_address(), WRONG_INVOKED, INVOKED_CAP);
    let not_table: Cap<PageTable> = ctx.make::<Frame>()?.cast();
    expect_any!(not_table.map(OWN, TEST_BASE), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(not_table.unmap(), WRONG_INVOKED, INVOKED_CAP);
    let pml4: Cap<PageTable> = Cap::from_cptr(SLOT_VSPACE);
    expect_any!(pml4.map(OWN, TEST_BASE), WRONG_INVOKED, INVOKED_CAP);
    expect_any!(pml4.unmap(), WRONG_INVOKED, INVOKED_CAP);
    Ok(())
}
