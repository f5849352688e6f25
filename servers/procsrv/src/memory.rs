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
//!
//! **Warm blocks.** When a recyclable process dies (`libsys::loader::Process::recyclable`)
//! only its life ends (`Process::end_life`: thread, CNode, IPC buffer and every cap to them,
//! and every copy of its VSpace cap), its memory half is revoked and its writable pages are
//! refilled; its address space, page tables, program frames and stack frame stay in the
//! block, which is free again but *warm* for that program. A hatch of the same program takes
//! a warm block first and only starts a new life in it (`Loader::rebirth`); otherwise a cold
//! block; otherwise a warm block of another program, whose process is destroyed first. Only
//! a process whose real, effective and saved uids are one uid is parked, and its block is
//! reused only for a hatch whose parent has that same sole uid. A
//! warm block counts as free, and the procsrv slots its process holds count as free slots in
//! [`Blocks::warm_slots`] (`USAGE`): any hatch can have them back.
//!
//! **Reserved blocks.** A system server too big for a block (the file server: an 8 MiB
//! image half with a CNode of 2^14 slots, and its heap) gets a block of its own, made
//! before the others are carved ([`Blocks::reserve`]) and tied to one program with its
//! [`Class`]: only a hatch of that program takes it, built as the class says, and it is
//! never parked warm nor counted in [`Blocks::free`] and [`Blocks::total`].

use libsys::alloc::Allocator;
use libsys::cap::{CNode, Cap, Endpoint, SlotPath, Untyped};
use libsys::object::ObjectType;
use libsys::object::Rights;

/// log2 of each half of a block (512 KiB).
pub const HALF_BITS: u32 = libsys::process::MEMORY_BITS;
/// Most blocks.
pub const MAX_BLOCKS: usize = 96;
const _: () = assert!(MAX_BLOCKS <= 128, "`Blocks::reserved` is a u128");
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

/// How the process of a reserved block is built, and for which program.
#[derive(Clone, Copy, Debug)]
pub struct Class {
    /// The one program (`/bin/NAME`) that may take the block.
    pub program: &'static [u8],
    /// log2 of the image half's size (the loader's `untyped_bits`).
    pub image_bits: u32,
    /// log2 of the slots of the process's CNode.
    pub cnode_radix: u64,
    /// Stack pages mapped before it starts: a server procsrv calls must never fault on
    /// its stack (procsrv, waiting for its answer, could not answer the fault).
    pub stack_pages: u64,
}

/// The blocks and which are free.
pub struct Blocks {
    /// The reserved blocks ([`Self::reserve`]): each one's index and class. Few, so that
    /// the bss of every program linking procsrv (a hatched test driver's block holds it)
    /// stays as it was.
    classes: [Option<(usize, Class)>; MAX_RESERVED],
    /// Bit `i`: block `i` is reserved.
    reserved: u128,
    blocks: [Option<Block>; MAX_BLOCKS],
    used: [bool; MAX_BLOCKS],
    count: usize,
    /// The program (its ELF in the boot archive) the process of each block runs or ran.
    programs: [Option<&'static [u8]>; MAX_BLOCKS],
    /// The one uid (real, effective and saved alike) the process of each block runs or ran
    /// as, `None` when they differ: a warm block is reused only for the same program and
    /// the same sole uid.
    owners: [Option<u32>; MAX_BLOCKS],
    /// The free warm blocks (their processes are kept in `Table::objects`).
    warm: [Option<usize>; MAX_WARM],
}

/// Most reserved blocks.
pub const MAX_RESERVED: usize = 2;

/// Most warm blocks (each keeps its process's objects, the procsrv slots they hold
/// included, for the next hatch of its program).
pub const MAX_WARM: usize = 8;

/// What [`Blocks::take_for`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// A warm block of the program asked for: its process (in `Table::objects`) is between
    /// two lives.
    Warm,
    /// A cold block.
    Cold,
    /// A warm block of another program or owner: its process must be destroyed first.
    Evict,
}

// No `Default`: the value lives in a static (it is too big for a stack), built by the const
// `new` in place.
#[allow(clippy::new_without_default)]
impl Blocks {
    /// No blocks.
    pub const fn new() -> Blocks {
        Blocks {
            classes: [None; MAX_RESERVED],
            reserved: 0,
            blocks: [None; MAX_BLOCKS],
            used: [false; MAX_BLOCKS],
            count: 0,
            programs: [None; MAX_BLOCKS],
            owners: [None; MAX_BLOCKS],
            warm: [const { None }; MAX_WARM],
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

    /// Adds a reserved block of `class` made of `image` and `memory` (untyped caps procsrv
    /// owns); its fault endpoint is a mint of `endpoint`. Call before [`Self::carve`].
    ///
    /// # Errors
    /// What was missing: room for a block, or a slot.
    pub fn reserve(
        &mut self,
        alloc: &mut Allocator,
        endpoint: Cap<Endpoint>,
        (image, memory): (Cap<Untyped>, Cap<Untyped>),
        class: Class,
    ) -> Result<(), &'static str> {
        let Some(place) = self.classes.iter().position(Option::is_none) else {
            return Err("no room for another reserved block");
        };
        if self.count >= MAX_BLOCKS {
            return Err("no room for a block");
        }
        let root: Cap<CNode> = Cap::from_cptr(libsys::bootinfo::SLOT_CNODE);
        let fault = alloc.slot().map_err(|_| "no slot")?;
        let badge = procsrv_api::badge::FAULT | self.count as u64;
        if root
            .mint(SlotPath::at(fault), endpoint.slot(), Rights::WRITE, badge)
            .is_err()
        {
            alloc.slots.free(fault);
            return Err("cannot mint its fault endpoint");
        }
        self.blocks[self.count] = Some(Block {
            image,
            memory,
            fault: Cap::from_cptr(fault),
        });
        self.classes[place] = Some((self.count, class));
        self.reserved |= 1 << self.count;
        self.count += 1;
        Ok(())
    }

    /// Takes the free reserved block of `program` (`/bin/NAME`), if it has one: its index,
    /// halves and class. It is taken cold and never gets an owner (never parked).
    pub fn take_reserved(&mut self, program: &[u8]) -> Option<(usize, Block, Class)> {
        if self.reserved == 0 {
            return None;
        }
        let (index, class) = self
            .classes
            .iter()
            .flatten()
            .find(|(i, c)| !self.used[*i] && c.program == program)
            .copied()?;
        let block = self.blocks[index]?;
        self.used[index] = true;
        self.programs[index] = None;
        self.owners[index] = None;
        Some((index, block, class))
    }

    /// Whether block `index` is reserved for one program.
    pub fn is_reserved(&self, index: usize) -> bool {
        index < MAX_BLOCKS && self.reserved >> index & 1 != 0
    }

    /// Takes a free block for `program` to run as `owner` (its sole uid, if it has one): a
    /// warm one of that program and owner, else a cold one, else a warm one of another
    /// program or owner. Returns its index, halves and what it held.
    pub fn take_for(
        &mut self,
        program: &'static [u8],
        owner: Option<u32>,
    ) -> Option<(usize, Block, Taken)> {
        let same = self.warm.iter().position(|w| {
            w.is_some_and(|i| {
                same_program(self.programs[i], program)
                    && owner.is_some()
                    && self.owners[i] == owner
            })
        });
        let (index, taken) = match same {
            Some(w) => (self.warm[w].take()?, Taken::Warm),
            None => match (0..self.count)
                .find(|&i| !self.used[i] && !self.is_warm(i) && !self.is_reserved(i))
            {
                Some(i) => (i, Taken::Cold),
                None => {
                    let w = self.warm.iter().position(Option::is_some)?;
                    (self.warm[w].take()?, Taken::Evict)
                }
            },
        };
        let block = self.blocks[index]?;
        self.used[index] = true;
        self.programs[index] = Some(program);
        self.owners[index] = owner;
        Some((index, block, taken))
    }

    fn is_warm(&self, index: usize) -> bool {
        self.warm.iter().flatten().any(|&i| i == index)
    }

    /// Gives block `index` back cold (its halves must have been revoked).
    pub fn give_back(&mut self, index: usize) {
        if index < self.count {
            self.used[index] = false;
            self.programs[index] = None;
            self.owners[index] = None;
        }
    }

    /// Whether [`Self::park`] has room (at most [`MAX_WARM`] warm blocks).
    pub fn can_park(&self) -> bool {
        self.warm.iter().any(Option::is_none)
    }

    /// Gives block `index` back warm: its process (between two lives, in
    /// `Table::objects`) stays in it for the next hatch of the same program. Without room
    /// ([`Self::can_park`]) nothing happens: check first.
    pub fn park(&mut self, index: usize) {
        if let Some(place) = self.warm.iter_mut().find(|w| w.is_none()) {
            if index < self.count {
                *place = Some(index);
                self.used[index] = false;
            }
        }
    }

    /// Sets the sole uid the process of block `index` ran as (`None`: not one uid; the
    /// block is not parked warm).
    pub fn set_owner(&mut self, index: usize, owner: Option<u32>) {
        if self.is_reserved(index) {
            return;
        }
        if let Some(o) = self.owners.get_mut(index) {
            *o = owner;
        }
    }

    /// The sole uid the process of block `index` runs or ran as.
    pub fn owner(&self, index: usize) -> Option<u32> {
        self.owners.get(index).copied().flatten()
    }

    /// The program block `index` runs or ran.
    pub fn program(&self, index: usize) -> Option<&'static [u8]> {
        self.programs.get(index).copied().flatten()
    }

    /// The warm blocks (their processes' objects are in `Table::objects`).
    pub fn warm_blocks(&self) -> impl Iterator<Item = usize> + '_ {
        self.warm.iter().flatten().copied()
    }

    /// Warm blocks.
    pub fn warm(&self) -> usize {
        self.warm.iter().flatten().count()
    }

    /// The halves of block `index`.
    pub fn get(&self, index: usize) -> Option<Block> {
        self.blocks.get(index).copied().flatten()
    }

    /// Free blocks, warm ones included (reserved ones not).
    pub fn free(&self) -> usize {
        (0..self.count)
            .filter(|&i| !self.used[i] && !self.is_reserved(i))
            .count()
    }

    /// All blocks but the reserved ones.
    pub fn total(&self) -> usize {
        (0..self.count).filter(|&i| !self.is_reserved(i)).count()
    }
}

fn same_program(held: Option<&'static [u8]>, program: &'static [u8]) -> bool {
    held.is_some_and(|p| core::ptr::eq(p, program))
}
