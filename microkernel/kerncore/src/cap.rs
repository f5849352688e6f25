//! Capabilities: the value a slot holds.
//!
//! A [`Cap`] names one kernel object (by physical address) or one kernel-granted power
//! (IRQ control, an I/O port range), with the object-specific payload: rights, badge,
//! guard, mapping. It is plain data: the kernel looks at it to decide what an invocation
//! may do; kerncore looks at it to keep the derivation tree (see [`crate::cdt`]).

use libsys::object::{
    CapKind, Rights, ASID_POOL_SIZE_BITS, ENDPOINT_SIZE_BITS, FRAME_2M_SIZE_BITS,
    FRAME_4K_SIZE_BITS, NOTIFICATION_SIZE_BITS, PAGE_TABLE_SIZE_BITS, REPLY_SIZE_BITS,
    SLOT_SIZE_BITS, TCB_SIZE_BITS,
};

use crate::slot::SlotAddr;

/// A physical address. Address 0 is never an object: the kernel keeps page 0 out of the
/// untyped memory it hands out, so 0 can mean "none" in links and mappings.
pub type PhysAddr = u64;

/// Number of capability slots at the start of every TCB object (CSpace root, VSpace root,
/// IPC buffer frame, fault endpoint). Holding the thread's bindings as real capabilities
/// means deleting the last *other* cap to a CNode or VSpace cannot leave the thread with a
/// dangling pointer: the TCB's own copy keeps the object alive until the TCB goes.
pub const TCB_SLOT_COUNT: u64 = 4;

/// Tag of [`Cap::Zombie`]: outside [`CapKind`] because userspace never sees a zombie.
const ZOMBIE_TAG: u8 = 0xff;

/// The size of a frame.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameSize {
    /// 4 KiB.
    Small = 0,
    /// 2 MiB.
    Large = 1,
}

impl FrameSize {
    /// log2 of the size in bytes.
    pub const fn size_bits(self) -> u32 {
        match self {
            FrameSize::Small => FRAME_4K_SIZE_BITS,
            FrameSize::Large => FRAME_2M_SIZE_BITS,
        }
    }
}

/// Where a frame or page table is mapped: the address space (its ASID) and virtual address.
///
/// The address space is named by its ASID, not by its PML4's address: when the address
/// space is destroyed its ASID stops naming anything (its pool entry is cleared), while its
/// memory may become any other object. So a stale mapping can always be recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// ASID of the address space (never 0).
    pub vspace: u64,
    /// Virtual address of the mapping.
    pub vaddr: u64,
}

/// A capability.
///
/// `#[repr(C, u8)]`: one tag byte (the [`CapKind`] number; [`Cap::Null`] is 0, so zeroed
/// memory is a null cap), then the payload; 40 bytes in all. Every field is an integer,
/// bool or field-less enum, so any value this crate writes can be read back from raw memory.
/// Mapped-state fields use 0 for "not mapped".
#[repr(C, u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cap {
    /// An empty slot.
    Null = CapKind::Null as u8,
    /// Untyped memory `[base, base + 2^size_bits)`; `free_index` is the watermark in bytes
    /// from `base`: memory below it may hold objects, memory above it is free.
    Untyped {
        /// Physical base, aligned to the size.
        base: PhysAddr,
        /// Bytes from `base` already handed out (0..=2^size_bits).
        free_index: u64,
        /// log2 of the size in bytes.
        size_bits: u8,
        /// Device memory (MMIO): only frames and device untypeds can be made from it, and
        /// the kernel must not zero it.
        device: bool,
    } = CapKind::Untyped as u8,
    /// An endpoint. A badge of 0 means unbadged.
    Endpoint {
        /// The endpoint object.
        object: PhysAddr,
        /// Delivered to the receiver with each message sent through this cap.
        badge: u64,
        /// Read = receive, write = send, grant = send caps, grant-reply = call.
        rights: Rights,
    } = CapKind::Endpoint as u8,
    /// A notification. A badge of 0 means unbadged.
    Notification {
        /// The notification object.
        object: PhysAddr,
        /// OR-ed into the signal word by a signal through this cap.
        badge: u64,
        /// Read = wait/poll, write = signal.
        rights: Rights,
    } = CapKind::Notification as u8,
    /// A reply object.
    Reply {
        /// The reply object.
        object: PhysAddr,
        /// Whether the reply may carry capabilities.
        can_grant: bool,
    } = CapKind::Reply as u8,
    /// A CNode of 2^radix_bits slots, with the guard that CSpace lookups must match.
    CNode {
        /// Address of slot 0.
        object: PhysAddr,
        /// Guard value (only the low `guard_bits` bits may be set).
        guard: u64,
        /// log2 of the number of slots.
        radix_bits: u8,
        /// Bits of the guard; `radix_bits + guard_bits <= 64`.
        guard_bits: u8,
    } = CapKind::CNode as u8,
    /// A thread control block.
    Tcb {
        /// The TCB object; its first [`TCB_SLOT_COUNT`] slots hold the thread's caps.
        object: PhysAddr,
    } = CapKind::Tcb as u8,
    /// A frame of memory.
    Frame {
        /// The frame's physical address.
        object: PhysAddr,
        /// ASID of the address space this cap is mapped in, or 0.
        mapped_vspace: u64,
        /// Virtual address this cap is mapped at (meaningful when `mapped_vspace != 0`).
        mapped_vaddr: u64,
        /// 4 KiB or 2 MiB.
        size: FrameSize,
        /// Read and write: the most a mapping through this cap may allow.
        rights: Rights,
        /// Made from device memory.
        device: bool,
    } = CapKind::Frame as u8,
    /// An address space root.
    Pml4 {
        /// The PML4 page.
        object: PhysAddr,
        /// Its ASID, from an ASID pool (0 = none yet). A PML4 cap without one is the only
        /// cap to its PML4 (it cannot be copied), so assigning one reaches every cap.
        asid: u64,
    } = CapKind::Pml4 as u8,
    /// A page-directory-pointer table.
    Pdpt {
        /// The table page.
        object: PhysAddr,
        /// ASID of the address space it is mapped into, or 0.
        mapped_vspace: u64,
        /// Virtual address it covers.
        mapped_vaddr: u64,
    } = CapKind::Pdpt as u8,
    /// A page directory.
    Pd {
        /// The table page.
        object: PhysAddr,
        /// ASID of the address space it is mapped into, or 0.
        mapped_vspace: u64,
        /// Virtual address it covers.
        mapped_vaddr: u64,
    } = CapKind::Pd as u8,
    /// A page table.
    Pt {
        /// The table page.
        object: PhysAddr,
        /// ASID of the address space it is mapped into, or 0.
        mapped_vspace: u64,
        /// Virtual address it covers.
        mapped_vaddr: u64,
    } = CapKind::Pt as u8,
    /// The power to create IRQ handler caps.
    IrqControl = CapKind::IrqControl as u8,
    /// The power to handle one IRQ (GSI).
    IrqHandler {
        /// The interrupt line.
        irq: u32,
    } = CapKind::IrqHandler as u8,
    /// The power to create I/O port caps.
    IoPortControl = CapKind::IoPortControl as u8,
    /// The power to use the I/O ports `first..=last`.
    IoPort {
        /// First port.
        first: u16,
        /// Last port (inclusive).
        last: u16,
    } = CapKind::IoPort as u8,
    /// The power to make ASID pools from 4 KiB untyped objects.
    AsidControl = CapKind::AsidControl as u8,
    /// An ASID pool: ASIDs `first_asid..first_asid + ASIDS_PER_POOL`.
    AsidPool {
        /// The pool page (one PML4 address per ASID).
        object: PhysAddr,
        /// Its first ASID (its index in the kernel's table of pools times the pool size).
        first_asid: u64,
    } = CapKind::AsidPool as u8,
    /// The power to print on the kernel's debug console (`DebugWrite`).
    DebugConsole = CapKind::DebugConsole as u8,
    /// Kernel-internal: an object whose last cap was deleted and whose slots are being
    /// emptied (see [`crate::delete`]). It lives in the object's own slot 0 and is never
    /// visible to userspace, which sees an empty slot.
    Zombie {
        /// Address of the dying container's slot 0 (where this zombie lives).
        object: PhysAddr,
        /// Slots `0..remaining` are not yet known to be empty.
        remaining: u64,
        /// The next zombie waiting to be emptied, or 0.
        next: u64,
        /// For a CNode's zombie, log2 of the CNode's bytes (its radix + 6: the object is
        /// nothing but its slots, so once they are all empty it is all zero in the kernel,
        /// see [`crate::SlotStore::clear`]); 0 for a TCB's, which holds more than slots.
        cnode_bits: u8,
    } = ZOMBIE_TAG,
}

impl Cap {
    /// The kind userspace sees (a zombie looks like an empty slot).
    pub const fn kind(&self) -> CapKind {
        match self {
            Cap::Null | Cap::Zombie { .. } => CapKind::Null,
            Cap::Untyped { .. } => CapKind::Untyped,
            Cap::Endpoint { .. } => CapKind::Endpoint,
            Cap::Notification { .. } => CapKind::Notification,
            Cap::Reply { .. } => CapKind::Reply,
            Cap::CNode { .. } => CapKind::CNode,
            Cap::Tcb { .. } => CapKind::Tcb,
            Cap::Frame { .. } => CapKind::Frame,
            Cap::Pml4 { .. } => CapKind::Pml4,
            Cap::Pdpt { .. } => CapKind::Pdpt,
            Cap::Pd { .. } => CapKind::Pd,
            Cap::Pt { .. } => CapKind::Pt,
            Cap::IrqControl => CapKind::IrqControl,
            Cap::IrqHandler { .. } => CapKind::IrqHandler,
            Cap::IoPortControl => CapKind::IoPortControl,
            Cap::IoPort { .. } => CapKind::IoPort,
            Cap::AsidControl => CapKind::AsidControl,
            Cap::AsidPool { .. } => CapKind::AsidPool,
            Cap::DebugConsole => CapKind::DebugConsole,
        }
    }

    /// Whether this is the null cap.
    pub const fn is_null(&self) -> bool {
        matches!(self, Cap::Null)
    }

    /// The physical memory the object occupies, as `(base, size_bits)`, for caps that name
    /// memory. A zombie counts as one byte at its address so that its untyped keeps it as a
    /// child until it is gone.
    pub const fn region(&self) -> Option<(PhysAddr, u32)> {
        match *self {
            Cap::Untyped {
                base, size_bits, ..
            } => Some((base, size_bits as u32)),
            Cap::Endpoint { object, .. } => Some((object, ENDPOINT_SIZE_BITS)),
            Cap::Notification { object, .. } => Some((object, NOTIFICATION_SIZE_BITS)),
            Cap::Reply { object, .. } => Some((object, REPLY_SIZE_BITS)),
            Cap::CNode {
                object, radix_bits, ..
            } => Some((object, radix_bits as u32 + SLOT_SIZE_BITS)),
            Cap::Tcb { object } => Some((object, TCB_SIZE_BITS)),
            Cap::Frame { object, size, .. } => Some((object, size.size_bits())),
            Cap::AsidPool { object, .. } => Some((object, ASID_POOL_SIZE_BITS)),
            Cap::Pml4 { object, .. }
            | Cap::Pdpt { object, .. }
            | Cap::Pd { object, .. }
            | Cap::Pt { object, .. } => Some((object, PAGE_TABLE_SIZE_BITS)),
            Cap::Zombie { object, .. } => Some((object, 0)),
            Cap::Null
            | Cap::IrqControl
            | Cap::IrqHandler { .. }
            | Cap::IoPortControl
            | Cap::IoPort { .. }
            | Cap::AsidControl
            | Cap::DebugConsole => None,
        }
    }

    /// The capability slots inside the object, as `(slot 0, count)`, for objects that hold
    /// caps (CNodes and TCBs). Destroying such an object means emptying these first.
    pub fn slot_region(&self) -> Option<(SlotAddr, u64)> {
        match *self {
            Cap::CNode {
                object, radix_bits, ..
            } => Some((SlotAddr(object), 1u64.checked_shl(radix_bits as u32)?)),
            Cap::Tcb { object } if TCB_SLOT_COUNT > 0 => Some((SlotAddr(object), TCB_SLOT_COUNT)),
            _ => None,
        }
    }

    /// The badge of an endpoint or notification cap; 0 for every other cap.
    pub const fn badge(&self) -> u64 {
        match *self {
            Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => badge,
            _ => 0,
        }
    }

    /// Where this frame or page-table cap is mapped, if it is.
    pub const fn mapping(&self) -> Option<Mapping> {
        match *self {
            Cap::Frame {
                mapped_vspace,
                mapped_vaddr,
                ..
            }
            | Cap::Pdpt {
                mapped_vspace,
                mapped_vaddr,
                ..
            }
            | Cap::Pd {
                mapped_vspace,
                mapped_vaddr,
                ..
            }
            | Cap::Pt {
                mapped_vspace,
                mapped_vaddr,
                ..
            } if mapped_vspace != 0 => Some(Mapping {
                vspace: mapped_vspace,
                vaddr: mapped_vaddr,
            }),
            _ => None,
        }
    }

    /// Whether `other` may be derived from `self`: it names the same object, or (for an
    /// untyped) memory inside it, or (for a control cap) a power it grants. The first half
    /// of the parent test in [`crate::cdt::is_parent_of`].
    pub fn same_region_as(&self, other: &Cap) -> bool {
        match (*self, *other) {
            (
                Cap::Untyped {
                    base, size_bits, ..
                },
                _,
            ) => match other.region() {
                Some((b, bits)) => region_contains(base, size_bits as u32, b, bits),
                None => false,
            },
            (Cap::IrqControl, Cap::IrqControl | Cap::IrqHandler { .. }) => true,
            (Cap::IoPortControl, Cap::IoPortControl | Cap::IoPort { .. }) => true,
            _ => self.same_object_as(other),
        }
    }

    /// Whether `self` and `other` name the same object, so that deleting one of them is not
    /// deleting the object. Untyped caps name the same object when they cover the same
    /// region; zombies are never the same object as anything.
    pub fn same_object_as(&self, other: &Cap) -> bool {
        match (*self, *other) {
            (
                Cap::Untyped {
                    base: a,
                    size_bits: sa,
                    device: da,
                    ..
                },
                Cap::Untyped {
                    base: b,
                    size_bits: sb,
                    device: db,
                    ..
                },
            ) => a == b && sa == sb && da == db,
            (Cap::Endpoint { object: a, .. }, Cap::Endpoint { object: b, .. })
            | (Cap::Notification { object: a, .. }, Cap::Notification { object: b, .. })
            | (Cap::Reply { object: a, .. }, Cap::Reply { object: b, .. })
            | (Cap::Tcb { object: a }, Cap::Tcb { object: b })
            | (Cap::Pml4 { object: a, .. }, Cap::Pml4 { object: b, .. })
            | (Cap::AsidPool { object: a, .. }, Cap::AsidPool { object: b, .. })
            | (Cap::Pdpt { object: a, .. }, Cap::Pdpt { object: b, .. })
            | (Cap::Pd { object: a, .. }, Cap::Pd { object: b, .. })
            | (Cap::Pt { object: a, .. }, Cap::Pt { object: b, .. }) => a == b,
            (
                Cap::CNode {
                    object: a,
                    radix_bits: ra,
                    ..
                },
                Cap::CNode {
                    object: b,
                    radix_bits: rb,
                    ..
                },
            ) => a == b && ra == rb,
            (
                Cap::Frame {
                    object: a,
                    size: sa,
                    ..
                },
                Cap::Frame {
                    object: b,
                    size: sb,
                    ..
                },
            ) => a == b && sa == sb,
            (Cap::IrqControl, Cap::IrqControl)
            | (Cap::IoPortControl, Cap::IoPortControl)
            | (Cap::AsidControl, Cap::AsidControl)
            | (Cap::DebugConsole, Cap::DebugConsole) => true,
            (Cap::IrqHandler { irq: a }, Cap::IrqHandler { irq: b }) => a == b,
            (
                Cap::IoPort {
                    first: fa,
                    last: la,
                },
                Cap::IoPort {
                    first: fb,
                    last: lb,
                },
            ) => fa == fb && la == lb,
            _ => false,
        }
    }
}

/// Whether `[inner, inner + 2^inner_bits)` lies inside `[outer, outer + 2^outer_bits)`,
/// computed without overflow (regions may end at the top of the address space).
fn region_contains(outer: u64, outer_bits: u32, inner: u64, inner_bits: u32) -> bool {
    if inner < outer {
        return false;
    }
    if outer_bits < u64::BITS {
        // Every region a revocation or a derivation check compares (the parent is an
        // untyped smaller than the address space): `inner + 2^inner_bits <= outer +
        // 2^outer_bits` is `inner - outer <= 2^outer_bits - 2^inner_bits`, all in u64.
        return inner_bits <= outer_bits
            && inner - outer <= (1u64 << outer_bits) - (1u64 << inner_bits);
    }
    region_contains_wide(outer, outer_bits, inner, inner_bits)
}

/// [`region_contains`] in 128 bits, for regions of 2^64 bytes or more (a size of 2^128 or
/// more counts as 2^128 - 1, and the ends saturate there).
fn region_contains_wide(outer: u64, outer_bits: u32, inner: u64, inner_bits: u32) -> bool {
    let size = |bits: u32| 1u128.checked_shl(bits).unwrap_or(u128::MAX);
    let (outer, inner) = (outer as u128, inner as u128);
    inner >= outer
        && inner.saturating_add(size(inner_bits)) <= outer.saturating_add(size(outer_bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_contains_agrees_with_the_wide_computation() {
        let bases = [
            0,
            1,
            0x1000,
            0x1040,
            0x8000,
            0x10_0000,
            u64::MAX / 2,
            u64::MAX - 0xfff,
            u64::MAX,
        ];
        for outer in bases {
            for inner in bases {
                for outer_bits in [0, 1, 6, 12, 20, 47, 63, 64, 65, 127, 128, 200] {
                    for inner_bits in [0, 1, 6, 12, 13, 21, 47, 63, 64, 65, 128, 255] {
                        assert_eq!(
                            region_contains(outer, outer_bits, inner, inner_bits),
                            region_contains_wide(outer, outer_bits, inner, inner_bits),
                            "{outer:#x}/{outer_bits} {inner:#x}/{inner_bits}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn cap_is_forty_bytes_and_zero_is_null() {
        assert_eq!(core::mem::size_of::<Cap>(), 40);
        assert_eq!(Cap::Null.kind(), CapKind::Null);
    }

    #[test]
    fn untyped_contains_objects_inside_it_only() {
        let ut = Cap::Untyped {
            base: 0x10000,
            free_index: 0,
            size_bits: 16,
            device: false,
        };
        let inside = Cap::Tcb {
            object: 0x10000 + 0xf800,
        };
        let straddling = Cap::Tcb {
            object: 0x10000 + 0xfc00,
        };
        let below = Cap::Endpoint {
            object: 0xfff0,
            badge: 0,
            rights: Rights::ALL,
        };
        assert!(ut.same_region_as(&inside));
        assert!(!ut.same_region_as(&straddling));
        assert!(!ut.same_region_as(&below));
        assert!(!ut.same_region_as(&Cap::IrqControl));
    }

    #[test]
    fn region_at_the_top_of_memory_does_not_overflow() {
        let ut = Cap::Untyped {
            base: 1 << 63,
            free_index: 0,
            size_bits: 63,
            device: true,
        };
        let top = Cap::Frame {
            object: u64::MAX - 0xfff,
            mapped_vspace: 0,
            mapped_vaddr: 0,
            size: FrameSize::Small,
            rights: Rights::ALL,
            device: true,
        };
        assert!(ut.same_region_as(&top));
    }

    #[test]
    fn badged_and_unbadged_endpoint_caps_are_the_same_object() {
        let a = Cap::Endpoint {
            object: 0x1000,
            badge: 0,
            rights: Rights::ALL,
        };
        let b = Cap::Endpoint {
            object: 0x1000,
            badge: 9,
            rights: Rights::READ,
        };
        let other = Cap::Endpoint {
            object: 0x1010,
            badge: 0,
            rights: Rights::ALL,
        };
        assert!(a.same_object_as(&b) && !a.same_object_as(&other));
        let n = Cap::Notification {
            object: 0x1000,
            badge: 0,
            rights: Rights::ALL,
        };
        assert!(!a.same_object_as(&n));
    }

    #[test]
    fn control_caps_are_regions_of_their_handlers_but_not_the_same_object() {
        let h = Cap::IrqHandler { irq: 4 };
        assert!(Cap::IrqControl.same_region_as(&h));
        assert!(!Cap::IrqControl.same_object_as(&h));
        assert!(!h.same_region_as(&Cap::IrqHandler { irq: 5 }));
        let p = Cap::IoPort {
            first: 0x3f8,
            last: 0x3ff,
        };
        assert!(Cap::IoPortControl.same_region_as(&p));
        assert!(!Cap::IoPortControl.same_object_as(&p));
    }

    #[test]
    fn zombies_are_never_the_same_object() {
        let z = Cap::Zombie {
            object: 0x1000,
            remaining: 2,
            next: 0,
            cnode_bits: 7,
        };
        assert!(!z.same_object_as(&z));
        assert!(!z.same_region_as(&z));
        assert_eq!(z.kind(), CapKind::Null);
    }

    #[test]
    fn containers_report_their_slots() {
        let cn = Cap::CNode {
            object: 0x4000,
            guard: 0,
            radix_bits: 3,
            guard_bits: 0,
        };
        assert_eq!(cn.slot_region(), Some((SlotAddr(0x4000), 8)));
        assert_eq!(
            Cap::Tcb { object: 0x800 }.slot_region(),
            Some((SlotAddr(0x800), 4))
        );
        assert_eq!(
            Cap::Pml4 {
                object: 0x1000,
                asid: 0
            }
            .slot_region(),
            None
        );
    }

    #[test]
    fn mapping_is_none_when_vspace_is_zero() {
        let mut f = Cap::Frame {
            object: 0x1000,
            mapped_vspace: 0,
            mapped_vaddr: 0x4000,
            size: FrameSize::Small,
            rights: Rights::ALL,
            device: false,
        };
        assert_eq!(f.mapping(), None);
        if let Cap::Frame { mapped_vspace, .. } = &mut f {
            *mapped_vspace = 0x9000;
        }
        assert_eq!(
            f.mapping(),
            Some(Mapping {
                vspace: 0x9000,
                vaddr: 0x4000
            })
        );
    }
}
