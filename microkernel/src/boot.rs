//! What the bootloader tells us: the Limine requests and a checked summary of the answers.
//!
//! The kernel has exactly one entry path, the Limine protocol. These statics are the
//! requests; the bootloader (Limine itself or Hatchery's direct loader) finds them in the
//! loaded image and fills in their responses before jumping to [`crate::kmain`].

use heapless::Vec;
use limine::memory_map::EntryType;
use limine::request::{
    BootloaderInfoRequest, ExecutableAddressRequest, ExecutableCmdlineRequest, HhdmRequest,
    MemoryMapRequest, ModuleRequest, RequestsEndMarker, RequestsStartMarker, RsdpRequest,
    StackSizeRequest,
};
use limine::BaseRevision;

/// The Limine base revision this kernel is written against.
pub const LIMINE_BASE_REVISION: u64 = 3;
/// Boot stack the kernel asks for (it moves to its own stack early anyway).
const BOOT_STACK_SIZE: u64 = 64 * 1024;
/// Most memory map entries the kernel keeps.
pub const MAX_MEMORY_REGIONS: usize = 128;

#[used]
#[unsafe(link_section = ".requests_start_marker")]
static REQUESTS_START: RequestsStartMarker = RequestsStartMarker::new();
#[used]
#[unsafe(link_section = ".requests")]
static BASE_REVISION: BaseRevision = BaseRevision::with_revision(LIMINE_BASE_REVISION);
#[used]
#[unsafe(link_section = ".requests")]
static BOOTLOADER_INFO: BootloaderInfoRequest = BootloaderInfoRequest::new();
#[used]
#[unsafe(link_section = ".requests")]
static STACK_SIZE: StackSizeRequest = StackSizeRequest::new().with_size(BOOT_STACK_SIZE);
#[used]
#[unsafe(link_section = ".requests")]
static HHDM: HhdmRequest = HhdmRequest::new();
#[used]
#[unsafe(link_section = ".requests")]
static MEMORY_MAP: MemoryMapRequest = MemoryMapRequest::new();
#[used]
#[unsafe(link_section = ".requests")]
static MODULES: ModuleRequest = ModuleRequest::new();
#[used]
#[unsafe(link_section = ".requests")]
static EXECUTABLE_ADDRESS: ExecutableAddressRequest = ExecutableAddressRequest::new();
#[used]
#[unsafe(link_section = ".requests")]
static CMDLINE: ExecutableCmdlineRequest = ExecutableCmdlineRequest::new();
#[used]
#[unsafe(link_section = ".requests")]
static RSDP: RsdpRequest = RsdpRequest::new();
#[used]
#[unsafe(link_section = ".requests_end_marker")]
static REQUESTS_END: RequestsEndMarker = RequestsEndMarker::new();

/// Kind of a physical memory region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Free RAM.
    Usable,
    /// RAM the bootloader used (page tables, responses, boot stack): free once we stop
    /// reading the responses.
    BootloaderReclaimable,
    /// The kernel image and the modules.
    KernelAndModules,
    /// ACPI tables (readable, reclaimable after parsing).
    AcpiReclaimable,
    /// Anything else: firmware, MMIO holes, bad RAM, framebuffer.
    Reserved,
}

/// One physical memory region.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// Physical base.
    pub base: u64,
    /// Length in bytes.
    pub length: u64,
    /// What it is.
    pub kind: RegionKind,
}

/// A module (a file the bootloader loaded for us).
#[derive(Clone, Copy, Debug)]
pub struct Module {
    /// Physical address of its first byte.
    pub phys: u64,
    /// Length in bytes.
    pub length: u64,
}

/// The checked facts the rest of the kernel boots from.
pub struct BootFacts {
    /// Offset of the higher-half direct map: virtual = physical + offset.
    pub hhdm_offset: u64,
    /// The physical memory map, sorted by base.
    pub regions: Vec<Region, MAX_MEMORY_REGIONS>,
    /// Physical load address of the kernel image.
    pub kernel_phys: u64,
    /// Virtual (link) address of the kernel image.
    pub kernel_virt: u64,
    /// The boot archive module, if any.
    pub archive: Option<Module>,
    /// Physical address of the ACPI RSDP, if the bootloader found one.
    pub rsdp_phys: Option<u64>,
    /// The kernel command line.
    pub cmdline: &'static str,
    /// Bootloader name and version, for the log.
    pub bootloader: (&'static str, &'static str),
}

/// Why the boot cannot go on.
#[derive(Debug)]
pub enum BootError {
    /// The bootloader did not accept our base revision.
    UnsupportedBaseRevision,
    /// A response the kernel cannot boot without is missing.
    MissingResponse(&'static str),
    /// The memory map has more entries than the kernel keeps.
    TooManyRegions(usize),
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::UnsupportedBaseRevision => write!(
                f,
                "the bootloader does not support Limine base revision {LIMINE_BASE_REVISION}"
            ),
            BootError::MissingResponse(what) => {
                write!(f, "the bootloader gave no {what} response")
            }
            BootError::TooManyRegions(n) => write!(
                f,
                "memory map has {n} entries; the kernel keeps at most {MAX_MEMORY_REGIONS}"
            ),
        }
    }
}

/// The raw command line, read before anything else so that logging can be configured.
pub fn cmdline() -> &'static str {
    CMDLINE
        .get_response()
        .and_then(|r| r.cmdline().to_str().ok())
        .unwrap_or("")
}

/// Reads and checks every response.
pub fn collect() -> Result<BootFacts, BootError> {
    if !BASE_REVISION.is_supported() {
        return Err(BootError::UnsupportedBaseRevision);
    }
    let hhdm_offset = HHDM
        .get_response()
        .ok_or(BootError::MissingResponse("HHDM"))?
        .offset();
    let map = MEMORY_MAP
        .get_response()
        .ok_or(BootError::MissingResponse("memory map"))?;
    let mut regions: Vec<Region, MAX_MEMORY_REGIONS> = Vec::new();
    for entry in map.entries() {
        let kind = match entry.entry_type {
            EntryType::USABLE => RegionKind::Usable,
            EntryType::BOOTLOADER_RECLAIMABLE => RegionKind::BootloaderReclaimable,
            EntryType::EXECUTABLE_AND_MODULES => RegionKind::KernelAndModules,
            EntryType::ACPI_RECLAIMABLE => RegionKind::AcpiReclaimable,
            _ => RegionKind::Reserved,
        };
        let region = Region {
            base: entry.base,
            length: entry.length,
            kind,
        };
        regions
            .push(region)
            .map_err(|_| BootError::TooManyRegions(map.entries().len()))?;
    }
    regions.sort_unstable_by_key(|r| r.base);
    let address = EXECUTABLE_ADDRESS
        .get_response()
        .ok_or(BootError::MissingResponse("executable address"))?;
    let archive = MODULES
        .get_response()
        .filter(|r| module_list_is_valid(r))
        .and_then(|r| {
            r.modules()
                .iter()
                .find(|m| m.string().to_bytes() == b"archive" || r.modules().len() == 1)
                .map(|m| Module {
                    phys: (m.addr() as u64).wrapping_sub(hhdm_offset),
                    length: m.size(),
                })
        });
    // Base revision 3 passes the RSDP as a physical address; older ones as an HHDM pointer.
    let rsdp_phys = RSDP.get_response().map(|r| {
        let a = r.address() as u64;
        if a >= hhdm_offset {
            a - hhdm_offset
        } else {
            a
        }
    });
    let bootloader = BOOTLOADER_INFO
        .get_response()
        .map(|r| (r.name(), r.version()))
        .unwrap_or(("unknown bootloader", "?"));
    Ok(BootFacts {
        hhdm_offset,
        regions,
        kernel_phys: address.physical_base(),
        kernel_virt: address.virtual_base(),
        archive,
        rsdp_phys,
        cmdline: cmdline(),
        bootloader,
    })
}

/// Whether a module response can be turned into a slice: a bootloader may answer with no
/// modules and a null list pointer, which `ModuleResponse::modules` must not see.
fn module_list_is_valid(r: &limine::response::ModuleResponse) -> bool {
    // The response is `revision: u64, module_count: u64, modules: *const *const File`
    // (Limine protocol); the crate does not expose the raw fields.
    let raw = r as *const limine::response::ModuleResponse as *const u64;
    // SAFETY: the response is at least three words long (per the protocol), and we only
    // read it.
    let (count, list) = unsafe { (raw.add(1).read(), raw.add(2).read()) };
    count > 0 && list != 0
}

/// Options from the kernel command line (space-separated tokens).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `test`: run the in-kernel tests, then the userspace ones, then power off.
    pub test: bool,
    /// `exit`: power the VM off when the system goes idle or on a fatal error.
    pub exit: bool,
    /// `syscall=iretq`: return to user mode with iretq instead of sysretq.
    pub iretq: bool,
    /// `crash=pagefault`: a test hook; the kernel reads an unmapped address once boot is
    /// done, to exercise the kernel exception report.
    pub crash: bool,
    /// `crash=stack`: a test hook; the kernel recurses until its stack runs into the guard
    /// page, to show the overflow is caught (a double fault report) instead of corrupting
    /// the statics below the stack.
    pub crash_stack: bool,
    /// `stray-interrupt`: a test hook; the kernel sends itself an interrupt on a vector
    /// nothing routes ([`crate::arch::apic::STRAY_TEST_VECTOR`]) just before the root task
    /// starts, which must be acknowledged so that later interrupts still arrive.
    pub stray_interrupt: bool,
}

impl Options {
    /// Parses the command line; unknown tokens are reported and ignored.
    pub fn parse(cmdline: &str) -> Options {
        let mut o = Options::default();
        for token in cmdline.split_ascii_whitespace() {
            match token {
                "test" => {
                    o.test = true;
                    o.exit = true;
                }
                "exit" => o.exit = true,
                "syscall=iretq" => o.iretq = true,
                "syscall=sysret" => o.iretq = false,
                "crash=pagefault" => o.crash = true,
                "crash=stack" => o.crash_stack = true,
                "stray-interrupt" => o.stray_interrupt = true,
                t if t.starts_with("log=") => match crate::log::Level::parse(&t[4..]) {
                    Some(level) => crate::log::set_level(level),
                    None => crate::warn!("unknown log level in `{t}`; using info"),
                },
                t => crate::warn!("ignoring unknown command line token `{t}`"),
            }
        }
        o
    }
}
