//! procsrv's memory policy: every process is built from one fixed-size **block**.
//!
//! At start procsrv carves as many blocks as memory allows (keeping [`RESERVE_BITS`] for
//! itself) out of its boot untyped. A block is two untyped caps of 2^[`HALF_BITS`] bytes:
//! the *image* half, from which the loader makes the process's address space, CNode, TCB,
//! stack and loaded program, and the *memory* half, of which the process gets a copy in
//! slot `SLOT_MEMORY` for the objects it makes itself. When the process dies both halves
//! are revoked, which destroys everything made from them at once, and the block goes back
//! on the free list: the kernel hands an untyped without children out again from offset 0,
//! so free memory after any number of hatches is exactly what it was.

use libsys::alloc::Allocator;
use libsys::cap::{CNode, Cap, Endpoint, SlotPath, Untyped};
use libsys::object::ObjectType;
use libsys::object::Rights;

/// log2 of each half of a block (512 KiB).
pub const HALF_BITS: u32 = libsys::process::MEMORY_BITS;
/// Most blocks.
pub const MAX_BLOCKS: usize = 96;
/// log2 of the memory procsrv keeps for itself (page tables, reply objects, handles).
pub const RESERVE_BITS: u32 = 22;

/// One block: its two halves, and the fault endpoint of the threads built from it.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    /// The half the process is built from.
    pub image: Cap<Untyped>,
    /// The half the process is given.
    pub memory: Cap<Untyped>,
    /// procsrv's endpoint minted with `FAULT | block index` (made once: the process of the
    /// block is found from the index when a fault arrives).
    pub fault: Cap<Endpoint>,
}

/// The blocks and which are free.
pub struct Blocks {
    blocks: [Option<Block>; MAX_BLOCKS],
    used: [bool; MAX_BLOCKS],
    count: usize,
}

// No `Default`: the value lives in a static (it is too big for a stack), built by the const
// `new` in place.
#[allow(clippy::new_without_default)]
impl Blocks {
    /// No blocks.
    pub const fn new() -> Blocks {
        Blocks {
            blocks: [None; MAX_BLOCKS],
            used: [false; MAX_BLOCKS],
            count: 0,
        }
    }

    /// Carves blocks out of `alloc` until memory (less the reserve), slots or [`MAX_BLOCKS`]
    /// run out; each block's fault endpoint is a mint of `endpoint`.
    pub fn carve(&mut self, alloc: &mut Allocator, endpoint: Cap<Endpoint>) {
        let root: Cap<CNode> = Cap::from_cptr(libsys::bootinfo::SLOT_CNODE);
        let reserve = 1u64 << RESERVE_BITS;
        while self.count < MAX_BLOCKS && alloc.untyped.free_bytes() > reserve + (2 << HALF_BITS) {
            let Ok(first) = alloc.retype(ObjectType::Untyped, u64::from(HALF_BITS), 2) else {
                break;
            };
            let Ok(fault) = alloc.slot() else {
                break;
            };
            let badge = procsrv_api::badge::FAULT | self.count as u64;
            if root
                .mint(SlotPath::at(fault), endpoint.slot(), Rights::WRITE, badge)
                .is_err()
            {
                break;
            }
            self.blocks[self.count] = Some(Block {
                image: Cap::from_cptr(first),
                memory: Cap::from_cptr(first + 1),
                fault: Cap::from_cptr(fault),
            });
            self.count += 1;
        }
    }

    /// Takes a free block: its index and halves.
    pub fn take(&mut self) -> Option<(usize, Block)> {
        let i = (0..self.count).find(|&i| !self.used[i])?;
        self.used[i] = true;
        self.blocks[i].map(|b| (i, b))
    }

    /// Gives block `index` back (its halves must have been revoked).
    pub fn give_back(&mut self, index: usize) {
        if index < self.count {
            self.used[index] = false;
        }
    }

    /// The halves of block `index`.
    pub fn get(&self, index: usize) -> Option<Block> {
        self.blocks.get(index).copied().flatten()
    }

    /// Free blocks.
    pub fn free(&self) -> usize {
        (0..self.count).filter(|&i| !self.used[i]).count()
    }

    /// All blocks.
    pub fn total(&self) -> usize {
        self.count
    }
}
