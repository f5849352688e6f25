//! In-kernel tests, run at boot with `test` on the command line.
//!
//! Each test prints `ktest: <name> ... ok` or `... FAILED (<why>)`; the summary line is
//! `ktest: N passed, M failed`. A failure marks the run failed (QEMU exits 35).

use crate::mem::paging::{PageTable, NO_EXECUTE, USER, WRITABLE};
use crate::mem::{phys_to_virt, PAGE_SIZE};
use crate::uaccess::UserSlice;
use crate::{kmem, sched, thread};
use alloc::vec::Vec;
use libsys::abi::{Error, MessageInfo};

/// Why a test failed.
type Outcome = Result<(), &'static str>;

fn check(condition: bool, why: &'static str) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(why)
    }
}

/// A named test.
type Test = (&'static str, fn() -> Outcome);

const TESTS: &[Test] = &[
    (
        "frame_allocator_gives_zeroed_distinct_frames",
        frame_allocator_gives_zeroed_distinct_frames,
    ),
    (
        "paging_map_then_translate_round_trips",
        paging_map_then_translate_round_trips,
    ),
    ("paging_refuses_double_map", paging_refuses_double_map),
    (
        "uaccess_rejects_kernel_and_unmapped_addresses",
        uaccess_rejects_kernel_and_unmapped_addresses,
    ),
    (
        "uaccess_copies_across_page_boundary",
        uaccess_copies_across_page_boundary,
    ),
    (
        "uaccess_refuses_writes_to_read_only_pages",
        uaccess_refuses_writes_to_read_only_pages,
    ),
    ("heap_allocates_and_frees", heap_allocates_and_frees),
    (
        "scheduler_picks_highest_priority_first",
        scheduler_picks_highest_priority_first,
    ),
    ("message_info_packs_fields", message_info_packs_fields),
    (
        "scheduler_sees_ready_threads_above_a_priority",
        scheduler_sees_ready_threads_above_a_priority,
    ),
    (
        "cpu_init_turns_off_xsave_and_avx_the_firmware_left_on",
        cpu_init_turns_off_xsave_and_avx_the_firmware_left_on,
    ),
    (
        "ioapic_pins_serve_only_their_gsi_range",
        ioapic_pins_serve_only_their_gsi_range,
    ),
    (
        "an_nmi_while_the_console_is_locked_does_not_wait_for_it",
        an_nmi_while_the_console_is_locked_does_not_wait_for_it,
    ),
];

/// Runs every test and prints the summary.
pub fn run_all() {
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in TESTS {
        match test() {
            Ok(()) => {
                passed += 1;
                crate::info!("ktest: {name} ... ok");
            }
            Err(why) => {
                failed += 1;
                crate::info!("ktest: {name} ... FAILED ({why})");
            }
        }
    }
    crate::info!("ktest: {passed} passed, {failed} failed");
    if failed > 0 {
        crate::mark_failed();
    }
}

fn new_user_table() -> Result<PageTable, &'static str> {
    let table = PageTable {
        pml4: kmem::allocate_frame().ok_or("out of frames")?,
    };
    table.share_kernel_half(&kmem::kernel_table());
    Ok(table)
}

fn frame_allocator_gives_zeroed_distinct_frames() -> Outcome {
    let a = kmem::allocate_frame().ok_or("no frame")?;
    let b = kmem::allocate_frame().ok_or("no frame")?;
    check(a != b, "same frame twice")?;
    check(a % PAGE_SIZE == 0 && b % PAGE_SIZE == 0, "unaligned frame")?;
    // SAFETY: `b` is a fresh frame mapped in the HHDM.
    let bytes =
        unsafe { core::slice::from_raw_parts(phys_to_virt(b) as *const u8, PAGE_SIZE as usize) };
    check(bytes.iter().all(|&x| x == 0), "frame not zeroed")
}

fn paging_map_then_translate_round_trips() -> Outcome {
    let table = new_user_table()?;
    let frame = kmem::allocate_frame().ok_or("no frame")?;
    table
        .map(0x40_0000, frame, PAGE_SIZE, USER | WRITABLE, &mut || {
            kmem::allocate_frame()
        })
        .map_err(|_| "map failed")?;
    let (phys, flags) = table.translate(0x40_0123).ok_or("not mapped")?;
    check(phys == frame + 0x123, "wrong physical address")?;
    check(flags & USER != 0 && flags & WRITABLE != 0, "flags lost")?;
    check(
        table.translate(0x40_1000).is_none(),
        "neighbour page mapped",
    )
}

fn paging_refuses_double_map() -> Outcome {
    let table = new_user_table()?;
    let frame = kmem::allocate_frame().ok_or("no frame")?;
    let mut alloc = || kmem::allocate_frame();
    table
        .map(0x50_0000, frame, PAGE_SIZE, USER, &mut alloc)
        .map_err(|_| "first map failed")?;
    check(
        table
            .map(0x50_0000, frame, PAGE_SIZE, USER, &mut alloc)
            .is_err(),
        "double map accepted",
    )?;
    check(
        table
            .map(0x50_0001, frame, PAGE_SIZE, USER, &mut alloc)
            .is_err(),
        "unaligned map accepted",
    )
}

fn uaccess_rejects_kernel_and_unmapped_addresses() -> Outcome {
    let table = new_user_table()?;
    let mut buf = [0u8; 8];
    let kernel = UserSlice::new(table, 0xffff_ffff_8000_0000, 8).read(&mut buf);
    check(kernel == Err(Error::BadAddress), "kernel address accepted")?;
    let unmapped = UserSlice::new(table, 0x1000, 8).read(&mut buf);
    check(
        unmapped == Err(Error::BadAddress),
        "unmapped address accepted",
    )?;
    let wrapping = UserSlice::new(table, u64::MAX - 3, 8).read(&mut buf);
    check(
        wrapping == Err(Error::BadAddress),
        "wrapping range accepted",
    )
}

fn uaccess_copies_across_page_boundary() -> Outcome {
    let table = new_user_table()?;
    let mut alloc = || kmem::allocate_frame();
    for page in [0x60_0000u64, 0x60_1000] {
        let f = kmem::allocate_frame().ok_or("no frame")?;
        table
            .map(page, f, PAGE_SIZE, USER | WRITABLE | NO_EXECUTE, &mut alloc)
            .map_err(|_| "map")?;
    }
    let data = *b"across the boundary";
    UserSlice::new(table, 0x60_0ff8, data.len() as u64)
        .write(&data)
        .map_err(|_| "write failed")?;
    let mut back = [0u8; 19];
    UserSlice::new(table, 0x60_0ff8, 19)
        .read(&mut back)
        .map_err(|_| "read failed")?;
    check(back == data, "data changed in transit")
}

fn uaccess_refuses_writes_to_read_only_pages() -> Outcome {
    let table = new_user_table()?;
    let f = kmem::allocate_frame().ok_or("no frame")?;
    table
        .map(0x70_0000, f, PAGE_SIZE, USER, &mut || {
            kmem::allocate_frame()
        })
        .map_err(|_| "map")?;
    let r = UserSlice::new(table, 0x70_0000, 4).write(b"nope");
    check(
        r == Err(Error::BadAddress),
        "write to read-only page accepted",
    )
}

fn heap_allocates_and_frees() -> Outcome {
    let before = crate::mem::heap::used();
    let v: Vec<u64> = (0..1000).collect();
    check(v.iter().sum::<u64>() == 499_500, "vector contents wrong")?;
    check(crate::mem::heap::used() > before, "heap use did not grow")?;
    drop(v);
    check(crate::mem::heap::used() == before, "heap leaked")
}

fn scheduler_picks_highest_priority_first() -> Outcome {
    // SAFETY: an all-zero TCB is valid (see thread.rs); `init` then names it.
    let mut low: thread::Tcb = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut high: thread::Tcb = unsafe { core::mem::zeroed() };
    low.init("low", 10);
    high.init("high", 200);
    let mut s = sched::SCHEDULER.lock();
    // SAFETY: both TCBs live on this stack frame until they are dequeued below.
    unsafe {
        s.make_runnable(&mut low);
        s.make_runnable(&mut high);
    }
    let first_high = high.queued && low.queued;
    // SAFETY: as above.
    unsafe {
        s.remove(&mut high);
        s.remove(&mut low);
    }
    check(first_high, "threads not queued")?;
    check(
        !high.queued && !low.queued,
        "threads still queued after removal",
    )
}

fn message_info_packs_fields() -> Outcome {
    let m = MessageInfo::new(0x42, 3, 1);
    check(
        m.label() == 0x42 && m.length() == 3 && m.caps() == 1,
        "field mismatch",
    )
}

fn scheduler_sees_ready_threads_above_a_priority() -> Outcome {
    // SAFETY: an all-zero TCB is valid (see thread.rs); `init` then names it.
    let mut threads: [thread::Tcb; 4] = unsafe { core::mem::zeroed() };
    let priorities = [0u8, 63, 64, 200];
    let mut s = sched::SCHEDULER.lock();
    check(
        !s.has_ready_above(0),
        "an empty scheduler has ready threads",
    )?;
    let mut result = Ok(());
    for (t, &p) in threads.iter_mut().zip(&priorities) {
        t.init("p", p);
        // SAFETY: the TCBs live on this stack frame until they are removed below.
        unsafe { s.make_runnable(t) };
        for probe in [0u8, 1, 62, 63, 64, 65, 127, 199, 200, 201, 255] {
            let expected = priorities
                .iter()
                .take_while(|&&q| q <= p)
                .any(|&q| q > probe);
            if s.has_ready_above(probe) != expected {
                result = Err("has_ready_above disagrees with the queued priorities");
            }
        }
    }
    for t in threads.iter_mut() {
        // SAFETY: as above.
        unsafe { s.remove(t) };
    }
    result
}

/// An NMI can arrive in the middle of a log line. Holding the console lock, send one to
/// ourselves: the handler must count it and come back (if it waited for the lock, this
/// test would never end: the boot times out).
fn an_nmi_while_the_console_is_locked_does_not_wait_for_it() -> Outcome {
    let before = crate::trap::nmi_count();
    let console = crate::log::CONSOLE.lock();
    crate::arch::apic::send_self_nmi();
    let mut arrived = false;
    for _ in 0..1_000_000 {
        if crate::trap::nmi_count() != before {
            arrived = true;
            break;
        }
        core::hint::spin_loop();
    }
    drop(console);
    check(arrived, "the NMI never arrived")
}

/// A second I/O APIC (GSI base 24, 24 pins) serves GSIs 24..48 only, as pins 0..24; GSIs
/// without a vector (24 and up), or past every I/O APIC, are not routable: no truncation,
/// no vector overflow.
fn ioapic_pins_serve_only_their_gsi_range() -> Outcome {
    use crate::arch::apic::{pin_of, routable, IRQ_COUNT};
    check(pin_of(24, 24, 23).is_none(), "GSI 23 is below the base")?;
    check(pin_of(24, 24, 24) == Some(0), "GSI 24 is pin 0")?;
    check(pin_of(24, 24, 47) == Some(23), "GSI 47 is pin 23")?;
    check(pin_of(24, 24, 48).is_none(), "GSI 48 is past the pins")?;
    check(pin_of(0, 24, u32::MAX).is_none(), "GSI u32::MAX")?;
    check(
        routable(0),
        "GSI 0 (this machine's first I/O APIC) is routable",
    )?;
    for gsi in [u32::from(IRQ_COUNT), 255, 256, 4096, u32::MAX] {
        check(!routable(gsi), "a GSI without a vector is routable")?;
    }
    Ok(())
}

/// Firmware may leave CR4.OSXSAVE on with AVX enabled in XCR0; then VEX-encoded (AVX)
/// instructions run in user mode whatever CR0.EM says, and their registers leak between
/// threads. Where the CPU has XSAVE, turn it on as such firmware would, run the kernel's
/// CPU setup again, and check that it turned OSXSAVE off and CR0.TS on.
fn cpu_init_turns_off_xsave_and_avx_the_firmware_left_on() -> Outcome {
    use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
    let features = core::arch::x86_64::__cpuid(1).ecx;
    let (xsave, avx) = (features & (1 << 26) != 0, features & (1 << 28) != 0);
    if xsave {
        // x87 | SSE, plus AVX where the CPU has it: what an OS that uses AVX enables.
        let xcr0: u64 = if avx { 0b111 } else { 0b11 };
        // SAFETY: OSXSAVE may be set when CPUID reports XSAVE; XCR0 then takes any subset
        // of the supported state components that includes x87 (and SSE with AVX). Neither
        // the kernel nor userspace uses these registers; `cpu_init` runs again below.
        unsafe {
            Cr4::update(|f| f.insert(Cr4Flags::OSXSAVE));
            core::arch::asm!(
                "xsetbv",
                in("ecx") 0u32,
                in("eax") xcr0 as u32,
                in("edx") (xcr0 >> 32) as u32,
                options(nomem, nostack, preserves_flags)
            );
        }
    }
    crate::arch::cpu_init();
    check(
        !Cr4::read().contains(Cr4Flags::OSXSAVE),
        "CR4.OSXSAVE is still on",
    )?;
    check(
        Cr0::read().contains(Cr0Flags::TASK_SWITCHED | Cr0Flags::EMULATE_COPROCESSOR),
        "CR0.TS or CR0.EM is off",
    )
}
