//! ASID pools: address spaces paid for by their holder.
//!
//! A frame or page-table cap records the address space it is mapped in. It cannot record
//! the PML4's address: once the address space is destroyed that memory may become any
//! other object, and unmapping through a stale record would walk it as page tables. So an
//! address space is named by an ASID, as in seL4: an index into a pool of PML4 addresses,
//! cleared when the address space dies, so that a stale ASID names nothing.
//!
//! Pools are objects made from 4 KiB untyped memory (`AsidControlMakePool`, through the
//! ASID control cap the root task holds), each with room for [`ASIDS_PER_POOL`] address
//! spaces; `AsidPoolAssign` gives a new PML4 its ASID. So the number of address spaces a
//! holder can create is bounded by the pools it was given, and one holder filling its
//! pool takes nothing from another. The kernel's own table lists the pools
//! ([`MAX_ASID_POOLS`] entries); only the ASID control cap's holder can fill it.
//!
//! ASID 0 means "none": entry 0 of pool 0 (the boot pool, which holds the root task's
//! address space) is never handed out.

use super::{cap_error, lookup, Args, InvocationError, InvocationResult, KernelSlots, Output};
use crate::mem::WordPage;
use crate::thread::TcbPtr;
use kerncore::{Argument, Cap};
use libsys::abi::{Error, Label};
use libsys::object::{ASIDS_PER_POOL, ASID_POOL_SIZE_BITS, MAX_ASID_POOLS};
use spin::Mutex;

/// The pools, by index (physical address; 0 = free).
static POOLS: Mutex<[u64; MAX_ASID_POOLS as usize]> = Mutex::new([0; MAX_ASID_POOLS as usize]);

/// The entries of the pool at a physical address: one PML4 address per ASID (0 = free).
///
/// # Safety
/// `pool` must be an ASID pool object that stays allocated while the handle is used
/// (listed in [`POOLS`], or being made or torn down).
unsafe fn entries(pool: u64) -> WordPage {
    // SAFETY: forwarded from the caller: a pool is a 4 KiB page the kernel keeps as a
    // table of words.
    unsafe { WordPage::at(pool) }
}

const _: () = assert!(ASIDS_PER_POOL * 8 == 1 << ASID_POOL_SIZE_BITS);
const _: () = assert!(ASIDS_PER_POOL as usize == WordPage::WORDS);

/// The PML4 an ASID names, or 0 when it names none (never assigned, or its address space
/// or its pool is gone).
pub fn pml4_of(asid: u64) -> u64 {
    let pools = POOLS.lock();
    let Some(&pool) = pools.get((asid / ASIDS_PER_POOL) as usize) else {
        return 0;
    };
    if pool == 0 {
        return 0;
    }
    // SAFETY: listed pools are live; the lock is held.
    unsafe { entries(pool) }.get((asid % ASIDS_PER_POOL) as usize)
}

/// Makes the boot pool (pool 0, at `pool`, zeroed) and assigns ASID 1 to `pml4`; returns
/// the pool's cap and the ASID.
pub fn boot_pool(pool: u64, pml4: u64) -> (Cap, u64) {
    POOLS.lock()[0] = pool;
    // SAFETY: the pool was just listed and is zeroed; nothing else refers to it yet.
    unsafe { entries(pool) }.set(1, pml4);
    (
        Cap::AsidPool {
            object: pool,
            first_asid: 0,
        },
        1,
    )
}

/// An address space is destroyed: its ASID names nothing from now on.
pub fn release(asid: u64, pml4: u64) {
    let pools = POOLS.lock();
    if let Some(&pool) = pools.get((asid / ASIDS_PER_POOL) as usize) {
        if pool != 0 {
            // SAFETY: listed pools are live; the lock is held.
            let entries = unsafe { entries(pool) };
            let index = (asid % ASIDS_PER_POOL) as usize;
            if entries.get(index) == pml4 {
                entries.set(index, 0);
            }
        }
    }
}

/// A pool's last cap is gone: every address space in it is emptied (as if destroyed: its
/// tables are unhooked and emptied, so stale mappings can never be reached again) and its
/// ASIDs name nothing. The address spaces' PML4s live on, unassigned and empty. The work
/// is bounded by the tables userspace made.
pub fn destroy_pool(pool: u64, first_asid: u64) {
    let mut teardown = begin_destroy_pool(pool, first_asid);
    while !teardown.step() {}
}

/// Starts destroying a pool whose last cap is gone: its ASIDs name nothing from now on;
/// the returned [`PoolTeardown`] empties its address spaces in bounded steps.
pub fn begin_destroy_pool(pool: u64, first_asid: u64) -> PoolTeardown {
    let index = (first_asid / ASIDS_PER_POOL) as usize;
    let mut pools = POOLS.lock();
    let listed = pools.get(index) == Some(&pool);
    if listed {
        pools[index] = 0;
    }
    PoolTeardown {
        pool,
        next: if listed { 0 } else { ASIDS_PER_POOL as usize },
        current: None,
    }
}

/// Emptying the address spaces of a destroyed pool, one table per step.
#[derive(Clone, Copy)]
pub struct PoolTeardown {
    pool: u64,
    /// Next pool entry to look at.
    next: usize,
    /// The address space being emptied.
    current: Option<super::vspace::Teardown>,
}

impl PoolTeardown {
    /// Does one bounded part of the work; true when all is done.
    pub fn step(&mut self) -> bool {
        if let Some(teardown) = &mut self.current {
            if teardown.step() {
                self.current = None;
            }
            return false;
        }
        while self.next < ASIDS_PER_POOL as usize {
            // SAFETY: the pool object is still allocated (its memory returns only when its
            // untyped is retyped again, which no one can do before this finishes) and is no
            // longer listed, so nothing else reads it.
            let entries = unsafe { entries(self.pool) };
            let pml4 = entries.get(self.next);
            entries.set(self.next, 0);
            self.next += 1;
            if pml4 != 0 {
                self.current = Some(super::vspace::Teardown::new(pml4));
                return false;
            }
        }
        true
    }
}

/// Dispatches ASID control and ASID pool invocations.
pub fn invoke(caller: TcbPtr, cap: Cap, label: Label, args: &Args) -> InvocationResult {
    match (label, cap) {
        (Label::AsidControlMakePool, Cap::AsidControl) => make_pool(caller, args),
        (Label::AsidPoolAssign, Cap::AsidPool { object, first_asid }) => {
            assign(caller, object, first_asid, args)
        }
        _ => Err(InvocationError::cap(Error::IllegalOperation)),
    }
}

/// AsidControlMakePool(untyped cptr, dest_index, dest_depth).
fn make_pool(caller: TcbPtr, args: &Args) -> InvocationResult {
    let (untyped_cptr, index, depth) = (args.get(0)?, args.get(1)?, args.get(2)?);
    let (untyped, _) = lookup(caller, untyped_cptr).map_err(|e| super::lookup_error(e, 0))?;
    let root = super::cspace_root(caller);
    let dest = super::resolve_slot(&root, index, depth, 1)?;
    let mut pools = POOLS.lock();
    let free = pools
        .iter()
        .position(|p| *p == 0)
        .ok_or(InvocationError::cap(Error::NotEnoughMemory))?;
    let first_asid = free as u64 * ASIDS_PER_POOL;
    let position = |a: Argument| match a {
        Argument::Source => Some(0),
        Argument::Destination => Some(1),
        _ => None,
    };
    let pool = kerncore::asid_control_make_pool(&mut KernelSlots, untyped, dest, first_asid)
        .map_err(|e| cap_error(e, position))?;
    // SAFETY: the pool's memory was an untyped with no children: nothing refers to it.
    unsafe { entries(pool) }.clear();
    pools[free] = pool;
    Ok(Output::empty())
}

/// AsidPoolAssign(vspace cptr).
fn assign(caller: TcbPtr, pool: u64, first_asid: u64, args: &Args) -> InvocationResult {
    let (vslot, vcap) = lookup(caller, args.get(0)?).map_err(|e| super::lookup_error(e, 0))?;
    let Cap::Pml4 { object: pml4, asid } = vcap else {
        return Err(InvocationError::new(Error::InvalidCapability, 0));
    };
    if asid != 0 {
        return Err(InvocationError::new(Error::IllegalOperation, 0));
    }
    let _pools = POOLS.lock();
    // SAFETY: the invoked cap names a live pool, listed while it lives; the lock is held.
    let table = unsafe { entries(pool) };
    let free = (0..WordPage::WORDS)
        .find(|&i| table.get(i) == 0 && first_asid + i as u64 != 0)
        .ok_or(InvocationError::cap(Error::NotEnoughMemory))?;
    let asid = first_asid + free as u64;
    kerncore::set_vspace_asid(&mut KernelSlots, vslot, asid)
        .map_err(|e| cap_error(e, |_| Some(0)))?;
    table.set(free, pml4);
    Ok(Output::empty())
}
