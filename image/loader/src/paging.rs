//! x86_64 4-level page tables, built over an abstract source of zeroed table frames so the
//! logic runs (and is tested) on the host.
//!
//! Mapping the same page twice is allowed when it maps the same frame: the permissions are
//! merged (writable if either is, executable if either is), which is what a loader wants
//! when two ELF segments share a page. Mapping a page to a different frame is an error.

/// Entry bit: present.
pub const PRESENT: u64 = 1 << 0;
/// Entry bit: writable.
pub const WRITABLE: u64 = 1 << 1;
/// Entry bit (PD/PDPT): this entry maps a large page.
pub const HUGE: u64 = 1 << 7;
/// Entry bit: no execute (needs EFER.NXE).
pub const NO_EXECUTE: u64 = 1 << 63;
/// Physical address bits of an entry.
pub const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// A 4 KiB page.
pub const SIZE_4K: u64 = 1 << 12;
/// A 2 MiB page.
pub const SIZE_2M: u64 = 1 << 21;
/// A 1 GiB page.
pub const SIZE_1G: u64 = 1 << 30;

/// Permissions of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

impl Permissions {
    /// Read, write, execute (the HHDM and identity maps).
    pub const RWX: Permissions = Permissions {
        write: true,
        execute: true,
    };
}

/// Where page-table frames come from and how to reach them.
pub trait TableFrames {
    /// A new zeroed, 4 KiB-aligned table; its physical address.
    fn allocate_table(&mut self) -> Option<u64>;
    /// The table at physical address `phys` (one this source allocated).
    fn table(&mut self, phys: u64) -> &mut [u64; 512];
}

/// Why a mapping failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// No frame for a table.
    OutOfTables,
    /// The virtual page is already mapped to another frame, or with another page size.
    Conflict {
        /// The virtual address.
        virt: u64,
    },
    /// Address or size not aligned to the page size, or not canonical.
    BadAddress {
        /// The virtual address.
        virt: u64,
    },
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::OutOfTables => write!(f, "out of memory for page tables"),
            MapError::Conflict { virt } => {
                write!(
                    f,
                    "virtual address {virt:#x} mapped twice to different frames"
                )
            }
            MapError::BadAddress { virt } => {
                write!(
                    f,
                    "virtual address {virt:#x} is misaligned or not canonical"
                )
            }
        }
    }
}

/// A 4-level address space under construction.
pub struct AddressSpace<'f, F: TableFrames> {
    root: u64,
    frames: &'f mut F,
    no_execute_supported: bool,
}

fn index(virt: u64, level: u32) -> usize {
    ((virt >> (12 + 9 * level)) & 0x1ff) as usize
}

fn is_canonical(virt: u64) -> bool {
    let top = virt >> 47;
    top == 0 || top == 0x1ffff
}

impl<'f, F: TableFrames> AddressSpace<'f, F> {
    /// A new, empty address space. `no_execute_supported` says whether NX bits may be set.
    pub fn new(frames: &'f mut F, no_execute_supported: bool) -> Result<Self, MapError> {
        let root = frames.allocate_table().ok_or(MapError::OutOfTables)?;
        Ok(AddressSpace {
            root,
            frames,
            no_execute_supported,
        })
    }

    /// Physical address of the PML4 (the CR3 value).
    pub fn root(&self) -> u64 {
        self.root
    }

    fn leaf_bits(&self, permissions: Permissions) -> u64 {
        let mut bits = PRESENT;
        if permissions.write {
            bits |= WRITABLE;
        }
        if !permissions.execute && self.no_execute_supported {
            bits |= NO_EXECUTE;
        }
        bits
    }

    /// The next-level table under entry `slot` of `table`, created if absent.
    fn descend(&mut self, table: u64, slot: usize, virt: u64) -> Result<u64, MapError> {
        let entry = self.frames.table(table)[slot];
        if entry & PRESENT != 0 {
            if entry & HUGE != 0 {
                return Err(MapError::Conflict { virt });
            }
            return Ok(entry & ADDRESS_MASK);
        }
        let next = self.frames.allocate_table().ok_or(MapError::OutOfTables)?;
        // Intermediate entries are permissive; leaves decide.
        self.frames.table(table)[slot] = next | PRESENT | WRITABLE;
        Ok(next)
    }

    /// Maps one page of `size` (4 KiB, 2 MiB or 1 GiB) at `virt` to `phys`.
    pub fn map_page(
        &mut self,
        virt: u64,
        phys: u64,
        size: u64,
        permissions: Permissions,
    ) -> Result<(), MapError> {
        if !virt.is_multiple_of(size) || !phys.is_multiple_of(size) || !is_canonical(virt) {
            return Err(MapError::BadAddress { virt });
        }
        let leaf_level = match size {
            SIZE_4K => 0,
            SIZE_2M => 1,
            SIZE_1G => 2,
            _ => return Err(MapError::BadAddress { virt }),
        };
        let mut table = self.root;
        for level in (leaf_level + 1..=3).rev() {
            table = self.descend(table, index(virt, level), virt)?;
        }
        let huge = if leaf_level > 0 { HUGE } else { 0 };
        let new = phys | huge | self.leaf_bits(permissions);
        let slot = &mut self.frames.table(table)[index(virt, leaf_level)];
        if *slot & PRESENT == 0 {
            *slot = new;
            return Ok(());
        }
        if *slot & (ADDRESS_MASK | HUGE) != new & (ADDRESS_MASK | HUGE) {
            return Err(MapError::Conflict { virt });
        }
        // Same frame again: merge permissions.
        let writable = (*slot | new) & WRITABLE;
        let no_execute = *slot & new & NO_EXECUTE;
        *slot = (*slot & !(WRITABLE | NO_EXECUTE)) | writable | no_execute;
        Ok(())
    }

    /// Maps `[virt, virt + len)` to `[phys, phys + len)` (both page-aligned, `len` rounded up
    /// to 4 KiB), with 2 MiB pages where `allow_large` and alignment allow, else 4 KiB.
    pub fn map_range(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        permissions: Permissions,
        allow_large: bool,
    ) -> Result<(), MapError> {
        let len = len.div_ceil(SIZE_4K) * SIZE_4K;
        let mut offset = 0;
        while offset < len {
            let (v, p) = (virt.wrapping_add(offset), phys + offset);
            let size =
                if allow_large && v % SIZE_2M == 0 && p % SIZE_2M == 0 && len - offset >= SIZE_2M {
                    SIZE_2M
                } else {
                    SIZE_4K
                };
            self.map_page(v, p, size, permissions)?;
            offset += size;
        }
        Ok(())
    }

    /// Walks the tables: the physical address and leaf entry `virt` maps to, if any.
    pub fn translate(&mut self, virt: u64) -> Option<(u64, u64)> {
        let mut table = self.root;
        for level in (0..=3).rev() {
            let entry = self.frames.table(table)[index(virt, level)];
            if entry & PRESENT == 0 {
                return None;
            }
            if level == 0 || entry & HUGE != 0 {
                let page = 1u64 << (12 + 9 * level);
                return Some((
                    (entry & ADDRESS_MASK & !(page - 1)) + (virt & (page - 1)),
                    entry,
                ));
            }
            table = entry & ADDRESS_MASK;
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    /// Tables in a host map, at fake physical addresses.
    pub(crate) struct HostFrames {
        pub tables: BTreeMap<u64, Vec<u64>>,
        next: u64,
        limit: usize,
    }

    impl HostFrames {
        pub(crate) fn new(limit: usize) -> Self {
            HostFrames {
                tables: BTreeMap::new(),
                next: 0x10_0000,
                limit,
            }
        }
    }

    impl TableFrames for HostFrames {
        fn allocate_table(&mut self) -> Option<u64> {
            if self.tables.len() == self.limit {
                return None;
            }
            let phys = self.next;
            self.next += SIZE_4K;
            self.tables.insert(phys, std::vec![0; 512]);
            Some(phys)
        }
        fn table(&mut self, phys: u64) -> &mut [u64; 512] {
            self.tables
                .get_mut(&phys)
                .expect("not a table")
                .as_mut_slice()
                .try_into()
                .unwrap()
        }
    }

    const KERNEL: u64 = 0xffff_ffff_8000_0000;
    const HHDM: u64 = 0xffff_8000_0000_0000;
    const RX: Permissions = Permissions {
        write: false,
        execute: true,
    };
    const RW: Permissions = Permissions {
        write: true,
        execute: false,
    };

    #[test]
    fn maps_4k_pages_with_permissions() {
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        space
            .map_range(KERNEL, 0x20_0000, 0x1800, RX, false)
            .unwrap();
        space
            .map_range(KERNEL + 0x2000, 0x20_2000, 0x1000, RW, false)
            .unwrap();
        let (phys, entry) = space.translate(KERNEL + 0x1234).unwrap();
        assert_eq!(phys, 0x20_1234);
        assert_eq!(entry & (WRITABLE | NO_EXECUTE), 0);
        let (phys, entry) = space.translate(KERNEL + 0x2008).unwrap();
        assert_eq!(phys, 0x20_2008);
        assert_eq!(entry & (WRITABLE | NO_EXECUTE), WRITABLE | NO_EXECUTE);
        assert_eq!(space.translate(KERNEL + 0x3000), None);
        assert_eq!(space.translate(0), None);
        // PML4 + PDPT + PD + PT.
        assert_eq!(frames.tables.len(), 4);
    }

    #[test]
    fn without_nx_support_no_nx_bits_are_set() {
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, false).unwrap();
        let ro = Permissions {
            write: false,
            execute: false,
        };
        space.map_page(KERNEL, 0x1000, SIZE_4K, ro).unwrap();
        assert_eq!(space.translate(KERNEL).unwrap().1 & NO_EXECUTE, 0);
    }

    #[test]
    fn shared_page_merges_permissions() {
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        space.map_page(KERNEL, 0x5000, SIZE_4K, RX).unwrap();
        space.map_page(KERNEL, 0x5000, SIZE_4K, RW).unwrap();
        let entry = space.translate(KERNEL).unwrap().1;
        assert_eq!(entry & WRITABLE, WRITABLE);
        assert_eq!(entry & NO_EXECUTE, 0);
    }

    #[test]
    fn remapping_to_another_frame_is_a_conflict() {
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        space
            .map_page(KERNEL, 0x5000, SIZE_4K, Permissions::RWX)
            .unwrap();
        assert_eq!(
            space.map_page(KERNEL, 0x6000, SIZE_4K, Permissions::RWX),
            Err(MapError::Conflict { virt: KERNEL })
        );
        space.map_page(HHDM, 0, SIZE_2M, Permissions::RWX).unwrap();
        assert_eq!(
            space.map_page(HHDM + 0x1000, 0x1000, SIZE_4K, Permissions::RWX),
            Err(MapError::Conflict {
                virt: HHDM + 0x1000
            })
        );
    }

    #[test]
    fn large_pages_where_aligned() {
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        // 4 GiB of HHDM with 2 MiB pages: PML4 + PDPT + 4 PDs.
        space
            .map_range(HHDM, 0, 1 << 32, Permissions::RWX, true)
            .unwrap();
        let (phys, entry) = space.translate(HHDM + 0xfee0_0000).unwrap();
        assert_eq!(phys, 0xfee0_0000);
        assert_ne!(entry & HUGE, 0);
        assert_eq!(frames.tables.len(), 6);
        // Unaligned start falls back to 4 KiB pages until aligned.
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        space
            .map_range(0x1000, 0x1000, SIZE_2M * 2 - 0x1000, Permissions::RWX, true)
            .unwrap();
        assert_eq!(space.translate(0x1000).unwrap().1 & HUGE, 0);
        assert_ne!(space.translate(SIZE_2M).unwrap().1 & HUGE, 0);
        assert_eq!(space.translate(0), None);
    }

    #[test]
    fn rejects_misaligned_and_non_canonical_addresses() {
        let mut frames = HostFrames::new(64);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        assert_eq!(
            space.map_page(0x1234, 0, SIZE_4K, Permissions::RWX),
            Err(MapError::BadAddress { virt: 0x1234 })
        );
        assert_eq!(
            space.map_page(0x0000_8000_0000_0000, 0, SIZE_4K, Permissions::RWX),
            Err(MapError::BadAddress {
                virt: 0x0000_8000_0000_0000
            })
        );
    }

    #[test]
    fn running_out_of_tables_is_reported() {
        let mut frames = HostFrames::new(2);
        let mut space = AddressSpace::new(&mut frames, true).unwrap();
        assert_eq!(
            space.map_page(KERNEL, 0, SIZE_4K, Permissions::RWX),
            Err(MapError::OutOfTables)
        );
    }
}
