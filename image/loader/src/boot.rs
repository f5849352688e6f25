//! The loader's one pass, from boot information to the jump. Each step either succeeds or
//! ends the boot with one `hatchery-loader: fatal: ...` line.

use crate::arch::entry::{loader_image, PROTOCOL_MULTIBOOT2, PROTOCOL_PVH};
use crate::arch::handover::{enter_kernel, Handover};
use crate::arch::physical::{self, IdentityMemory, TablePool, IDENTITY_LIMIT};
use crate::{fatal, print};
use bootfmt::cpio::CpioArchive;
use bootfmt::elf::ElfFile;
use loader::bootinfo::{BootInputs, PhysicalMemory, MAX_STRING};
use loader::bundle::{self, FileRef};
use loader::fixed::FixedVec;
use loader::memmap::{
    align_down, align_up, build_memory_map, FrameAllocator, MemoryKind, Overlays, Range, Region,
    MAX_MAP_ENTRIES, MAX_OVERLAYS, PAGE_SIZE,
};
use loader::paging::{AddressSpace, Permissions, SIZE_2M};
use loader::requests::{self, FoundRequests};
use loader::responses::{self, Arena, HandoverFacts, LoadedFile};
use loader::{cmdline, kernel, multiboot2, pvh, rsdp};

/// Where the HHDM starts (what Limine uses with 4-level paging).
pub const HHDM_OFFSET: u64 = 0xffff_8000_0000_0000;
/// The loader allocates between 1 MiB and 4 GiB (all identity-mapped).
const ALLOCATION_WINDOW: Range = Range {
    start: 1 << 20,
    end: IDENTITY_LIMIT,
};
/// Bytes of response arena beyond the memory map entries.
const ARENA_BASE_SIZE: u64 = 16 * 1024;
/// Page tables for the HHDM and identity map of the first 4 GiB and the kernel's first
/// tables; more are added for the kernel's size and memory above 4 GiB.
const BASE_TABLE_PAGES: u64 = 32;

/// Offset of `cmdline_paddr` in PVH's `hvm_start_info`.
const PVH_CMDLINE_FIELD: u64 = 24;

/// Honours `exit`/`test` for errors found while the boot information is still being read
/// (PVH only: its command line sits at a fixed place once the magic is right).
fn early_exit_flag(protocol: u32, info: u64) {
    let memory = IdentityMemory;
    if protocol != PROTOCOL_PVH || memory.u32_at(info) != Some(pvh::START_INFO_MAGIC) {
        return;
    }
    let command_line = memory
        .u64_at(info + PVH_CMDLINE_FIELD)
        .and_then(|addr| memory.c_string(addr, MAX_STRING));
    if let Some(command_line) = command_line {
        crate::arch::fatal::set_exit_on_fatal(cmdline::exit_on_fatal(command_line));
    }
}

/// Reads the boot information for the protocol we were entered through.
fn read_inputs(protocol: u32, eax: u32, info: u32) -> BootInputs {
    let memory = IdentityMemory;
    early_exit_flag(protocol, u64::from(info));
    let parsed = match protocol {
        PROTOCOL_PVH => pvh::parse(&memory, u64::from(info)),
        PROTOCOL_MULTIBOOT2 => multiboot2::parse(&memory, eax, u64::from(info)),
        other => fatal!("entered through unknown protocol {other}"),
    };
    parsed.unwrap_or_else(|error| fatal!("{error}"))
}

/// The bytes of a file handed over by the boot protocol.
fn file_bytes(file: FileRef, what: &str) -> &'static [u8] {
    let len = usize::try_from(file.size).unwrap_or(usize::MAX);
    IdentityMemory
        .bytes(file.phys, len)
        .map(|bytes| {
            // SAFETY: re-borrow for 'static: the boot structures are never written by the
            // loader (they are reserved from allocation).
            unsafe { core::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) }
        })
        .unwrap_or_else(|| fatal!("{what} at {:#x} lies outside readable memory", file.phys))
}

/// Copies `bytes` to a fresh page-aligned allocation of `kind`.
fn copy_to_new_pages(allocator: &mut FrameAllocator, bytes: &[u8], what: &str) -> u64 {
    let phys = allocator
        .allocate(
            bytes.len() as u64,
            PAGE_SIZE,
            MemoryKind::ExecutableAndModules,
        )
        .unwrap_or_else(|error| fatal!("{what}: {error}"));
    // SAFETY: a fresh allocation, owned here.
    unsafe { physical::slice_mut(phys, bytes.len()) }.copy_from_slice(bytes);
    phys
}

/// CPUID 0x80000001 EDX bit 20.
fn cpu_has_no_execute() -> bool {
    let extended = core::arch::x86_64::__cpuid(0x8000_0001);
    extended.edx & (1 << 20) != 0
}

/// The RSDP: the protocol's pointer, else the firmware's own copy found by scanning, else a
/// copy of the one in the boot information placed in reclaimable memory.
fn find_rsdp(inputs: &BootInputs, allocator: &mut FrameAllocator) -> Option<u64> {
    if inputs.rsdp.is_some() {
        return inputs.rsdp;
    }
    let memory = IdentityMemory;
    let scanned = rsdp::find(&memory);
    let Some(copy) = inputs.rsdp_copy else {
        return scanned;
    };
    let copy_bytes = memory.bytes(copy.start, copy.len() as usize)?;
    if !rsdp::is_valid(copy_bytes) {
        return scanned;
    }
    let same = scanned
        .and_then(|addr| memory.bytes(addr, 20))
        .is_some_and(|found| found == &copy_bytes[..20]);
    if same {
        return scanned;
    }
    let len = rsdp::length(copy_bytes).min(copy_bytes.len());
    let phys = allocator
        .allocate(len as u64, PAGE_SIZE, MemoryKind::BootloaderReclaimable)
        .ok()?;
    // SAFETY: a fresh allocation, owned here.
    unsafe { physical::slice_mut(phys, len) }.copy_from_slice(&copy_bytes[..len]);
    Some(phys)
}

/// Maps the HHDM (and, for base revision 0, the identity map): the first 4 GiB, then every
/// firmware region above it except, from revision 1 on, reserved and bad memory.
fn map_direct(
    space: &mut AddressSpace<'_, TablePool>,
    firmware: &[Region],
    base_revision: u64,
) -> Result<(), loader::paging::MapError> {
    let rwx = Permissions::RWX;
    space.map_range(HHDM_OFFSET, 0, IDENTITY_LIMIT, rwx, true)?;
    if base_revision == 0 {
        space.map_range(PAGE_SIZE, PAGE_SIZE, IDENTITY_LIMIT - PAGE_SIZE, rwx, true)?;
    }
    for region in firmware
        .iter()
        .filter(|region| maps_high_region(region, base_revision))
    {
        let start = align_down(region.range.start.max(IDENTITY_LIMIT), SIZE_2M);
        let end = align_up(region.range.end, SIZE_2M);
        space.map_range(HHDM_OFFSET + start, start, end - start, rwx, true)?;
        if base_revision == 0 {
            space.map_range(start, start, end - start, rwx, true)?;
        }
    }
    Ok(())
}

/// True if the direct maps cover `region` above 4 GiB (from revision 1 on, reserved and
/// bad memory are left out, as the protocol says).
fn maps_high_region(region: &Region, base_revision: u64) -> bool {
    region.range.end > IDENTITY_LIMIT
        && (base_revision == 0
            || !matches!(region.kind, MemoryKind::Reserved | MemoryKind::BadMemory))
}

/// Page-table pages to set aside: the fixed part, a PD (plus a PDPT) per GiB of each mapped
/// region above 4 GiB in both direct maps, a PT per 2 MiB of kernel.
fn table_pages(kernel_span: u64, firmware: &[Region], base_revision: u64) -> u64 {
    let high: u64 = firmware
        .iter()
        .filter(|region| maps_high_region(region, base_revision))
        .map(|region| 2 * (region.range.len().div_ceil(1 << 30) + 2))
        .sum();
    BASE_TABLE_PAGES + high + kernel_span.div_ceil(SIZE_2M) + 2
}

/// The loader's main line.
pub fn run(protocol: u32, eax: u32, info: u32) -> ! {
    let inputs = read_inputs(protocol, eax, info);
    let memory = IdentityMemory;
    let command_line: &[u8] = match inputs.cmdline_addr {
        0 => b"",
        addr => memory.c_string(addr, MAX_STRING).unwrap_or(b""),
    };
    crate::arch::fatal::set_exit_on_fatal(cmdline::exit_on_fatal(command_line));

    // The kernel and the archive.
    let files = bundle::select(&memory, &inputs.modules).unwrap_or_else(|error| fatal!("{error}"));
    let kernel_file = file_bytes(files.kernel, "kernel");
    let elf = ElfFile::parse(kernel_file).unwrap_or_else(|error| {
        let separator = if error.is_truncation() { " " } else { ": " };
        fatal!("kernel ELF{separator}{error}")
    });
    let layout = kernel::layout(&elf).unwrap_or_else(|error| fatal!("{error}"));
    let archive_file = files.archive.map(|archive| {
        let bytes = file_bytes(archive, "boot archive");
        if let Err(error) = CpioArchive::new(bytes).validate() {
            fatal!("boot archive: {error}");
        }
        (archive, bytes)
    });

    // Memory: everything the boot protocol handed over stays untouched until we are done.
    let (loader_start, loader_end) = loader_image();
    let loader_range = Range {
        start: loader_start,
        end: loader_end,
    };
    let mut reserved: FixedVec<Range, { MAX_OVERLAYS }> = FixedVec::new();
    for range in inputs.boot_ranges.iter().copied().chain([loader_range]) {
        if reserved.push(range).is_err() {
            fatal!("too many boot structures to protect");
        }
    }
    let mut allocator = FrameAllocator::new(&inputs.memory, &reserved, ALLOCATION_WINDOW)
        .unwrap_or_else(|error| fatal!("{error}"));

    // Load the kernel and find its requests.
    let kernel_phys = allocator
        .allocate(layout.span, layout.align, MemoryKind::ExecutableAndModules)
        .unwrap_or_else(|error| fatal!("kernel image: {error}"));
    // SAFETY: a fresh allocation of `span` bytes, owned here.
    let image = unsafe { physical::slice_mut(kernel_phys, layout.span as usize) };
    kernel::copy_segments(&elf, &layout, image);
    let found: FoundRequests = requests::scan(image).unwrap_or_else(|error| fatal!("{error}"));
    let parameters = responses::request_parameters(image, &found);
    if parameters.paging_min_mode > 0 {
        fatal!(
            "kernel requires paging mode {} or higher; this loader provides 4-level paging only",
            parameters.paging_min_mode
        );
    }
    let entry = parameters.entry_point.unwrap_or(layout.entry);
    kernel::check_entry(&elf, entry).unwrap_or_else(|error| fatal!("{error}"));

    // Files the kernel gets: the kernel file and the archive, page-aligned.
    let kernel_copy = copy_to_new_pages(&mut allocator, kernel_file, "kernel file");
    let archive = archive_file.map(|(file, bytes)| {
        let phys = if !files.from_bundle && file.phys % PAGE_SIZE == 0 {
            allocator
                .record(
                    Range::new(file.phys, file.size),
                    MemoryKind::ExecutableAndModules,
                )
                .unwrap_or_else(|error| fatal!("boot archive: {error}"));
            file.phys
        } else {
            copy_to_new_pages(&mut allocator, bytes, "boot archive")
        };
        LoadedFile {
            phys,
            size: file.size,
            path: responses::ARCHIVE_PATH,
        }
    });

    // Stack, responses, RSDP, page tables.
    let stack_size = align_up(parameters.stack_size, PAGE_SIZE);
    let stack = allocator
        .allocate(stack_size, PAGE_SIZE, MemoryKind::BootloaderReclaimable)
        .unwrap_or_else(|error| fatal!("kernel stack: {error}"));
    let arena_size = align_up(ARENA_BASE_SIZE + 32 * MAX_MAP_ENTRIES as u64, PAGE_SIZE);
    let arena_phys = allocator
        .allocate(arena_size, PAGE_SIZE, MemoryKind::BootloaderReclaimable)
        .unwrap_or_else(|error| fatal!("responses: {error}"));
    let rsdp = find_rsdp(&inputs, &mut allocator);
    let mut pool = TablePool::new(
        &mut allocator,
        table_pages(layout.span, &inputs.memory, found.base_revision),
    )
    .unwrap_or_else(|error| fatal!("page tables: {error}"));
    let cr3 = {
        let mut space = AddressSpace::new(&mut pool, cpu_has_no_execute())
            .unwrap_or_else(|error| fatal!("page tables: {error}"));
        map_direct(&mut space, &inputs.memory, found.base_revision)
            .unwrap_or_else(|error| fatal!("page tables: {error}"));
        kernel::map_segments(&mut space, &elf, &layout, kernel_phys)
            .unwrap_or_else(|error| fatal!("page tables: {error}"));
        space.root()
    };

    // The memory map, now that every allocation is made.
    let mut overlays = Overlays::new();
    let reclaimable = inputs.boot_ranges.iter().copied().chain([loader_range]);
    let overlay_regions = allocator
        .allocations()
        .iter()
        .copied()
        .chain(reclaimable.map(|range| Region {
            range: range.page_outer(),
            kind: MemoryKind::BootloaderReclaimable,
        }));
    for region in overlay_regions {
        if overlays.push(region).is_err() {
            fatal!("too many loader allocations for the memory map");
        }
    }
    let map = build_memory_map(&inputs.memory, &overlays).unwrap_or_else(|error| fatal!("{error}"));

    // Responses.
    // SAFETY: a fresh allocation of `arena_size` bytes, owned here.
    let arena_bytes = unsafe { physical::slice_mut(arena_phys, arena_size as usize) };
    let mut arena = Arena::new(arena_bytes, arena_phys, HHDM_OFFSET);
    let facts = HandoverFacts {
        hhdm: HHDM_OFFSET,
        memory_map: &map,
        kernel_file: LoadedFile {
            phys: kernel_copy,
            size: kernel_file.len() as u64,
            path: responses::KERNEL_PATH,
        },
        archive,
        cmdline: command_line,
        rsdp,
        kernel_phys,
        kernel_virt: layout.virt_base,
        firmware_type: if inputs.uefi {
            responses::FIRMWARE_UEFI64
        } else {
            responses::FIRMWARE_X86_BIOS
        },
    };
    let patches = responses::build_responses(&mut arena, &found, &facts)
        .unwrap_or_else(|_| fatal!("responses do not fit in {arena_size} bytes"));
    for patch in patches.iter() {
        image[patch.offset..patch.offset + 8].copy_from_slice(&patch.value.to_le_bytes());
    }

    print!(
        "hatchery-loader: booting kernel (entry {entry:#x}, {} modules, {} MiB usable)\n",
        usize::from(archive.is_some()),
        responses::usable_mib(&map)
    );
    let handover = Handover {
        cr3,
        stack_top: HHDM_OFFSET + stack + stack_size,
        entry,
        hhdm: HHDM_OFFSET,
    };
    // SAFETY: `cr3` maps the kernel at its link address, the HHDM over all of the first
    // 4 GiB (loader, GDT, stack, responses) and `entry` is inside an executable segment.
    unsafe { enter_kernel(&handover) }
}
