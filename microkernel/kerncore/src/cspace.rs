//! CSpace addressing: from a capability pointer to a slot.
//!
//! A CSpace is a tree of CNodes reached from a root CNode cap. A capability pointer is a
//! 64-bit word whose top `depth` bits (of the low `depth` bits) are consumed level by level,
//! most significant first: at each CNode cap, first `guard_bits` bits that must equal the
//! cap's guard, then `radix_bits` bits that index the CNode. If bits remain and the slot
//! holds another CNode cap, the walk goes on there. The walk is a loop, and each level
//! consumes at least one bit (radix >= 1), so it ends within 64 levels whatever the CNode
//! caps say.

use crate::cap::Cap;
use crate::error::LookupError;
use crate::slot::{SlotAddr, SlotStore};

/// Most bits a capability pointer has.
pub const MAX_DEPTH: u32 = u64::BITS;

/// Finds the slot named by the low `depth` bits of `cptr` in the CSpace rooted at `root`,
/// consuming exactly `depth` bits. This is how CNode invocations name their slots (source,
/// destination, the slot to delete or revoke); the slot may be empty.
///
/// # Returns
/// The slot, or the first failure: [`LookupError::InvalidDepth`] for a depth outside
/// 1..=64, [`LookupError::InvalidRoot`], a guard or depth mismatch, or a missing cap on the
/// way.
pub fn resolve<S: SlotStore + ?Sized>(
    store: &S,
    root: &Cap,
    cptr: u64,
    depth: u32,
) -> Result<SlotAddr, LookupError> {
    let (slot, bits_left) = walk(store, root, cptr, depth)?;
    if bits_left == 0 {
        return Ok(slot);
    }
    match store.slot(slot).cap() {
        Cap::Null | Cap::Zombie { .. } => Err(LookupError::MissingCapability { bits_left }),
        _ => Err(LookupError::DepthMismatch {
            bits_left,
            bits_found: 0,
        }),
    }
}

/// Finds the cap named by `cptr` (all 64 bits) in the CSpace rooted at `root`, stopping at
/// the first slot that does not hold a CNode cap. This is how the kernel finds the cap a
/// system call invokes.
///
/// # Returns
/// The slot and its cap, or the failure; an empty slot is
/// [`LookupError::MissingCapability`].
pub fn lookup_cap<S: SlotStore + ?Sized>(
    store: &S,
    root: &Cap,
    cptr: u64,
) -> Result<(SlotAddr, Cap), LookupError> {
    let (slot, bits_left) = walk(store, root, cptr, MAX_DEPTH)?;
    match *store.slot(slot).cap() {
        Cap::Null | Cap::Zombie { .. } => Err(LookupError::MissingCapability { bits_left }),
        cap => Ok((slot, cap)),
    }
}

/// Walks from `root` until `depth` bits are consumed or a non-CNode cap is reached.
/// Returns the last slot and the bits left unconsumed.
///
/// The usual CSpace is one CNode whose guard and radix cover all the bits (every process
/// the loader makes, the root task): [`one_level`] finds that slot in a few instructions;
/// everything else (and every failure) takes the general walk, [`walk_levels`].
#[inline(always)]
fn walk<S: SlotStore + ?Sized>(
    store: &S,
    root: &Cap,
    cptr: u64,
    depth: u32,
) -> Result<(SlotAddr, u32), LookupError> {
    match one_level(root, cptr, depth) {
        Some(slot) => Ok((slot, 0)),
        None => walk_levels(store, root, cptr, depth),
    }
}

/// The slot `cptr` names at `depth` when `root` is a CNode whose guard and radix consume
/// exactly `depth` bits and the guard matches: what [`walk_levels`]'s first (and then
/// only) level finds, without its general bit-field arithmetic. `None` when the case does
/// not apply or the lookup fails; the general walk then decides (and names the error).
///
/// The same slot, because at that level `bits_left == depth == radix + guard_bits`: the
/// guard compared is bits `radix..depth` of `cptr` (here `(cptr & mask(depth)) >> radix`),
/// the index its bits `0..radix`, the slot `object + index * 2^SLOT_SIZE_BITS` when that
/// does not overflow, and no bits are left. A radix of 58 or more (never made: CNodes have
/// at most `CNODE_MAX_RADIX_BITS`) is left to the general walk, so that `index << 6`
/// cannot overflow here.
#[inline(always)]
fn one_level(root: &Cap, cptr: u64, depth: u32) -> Option<SlotAddr> {
    let Cap::CNode {
        object,
        guard,
        radix_bits,
        guard_bits,
    } = *root
    else {
        return None;
    };
    let radix = u32::from(radix_bits);
    if radix + u32::from(guard_bits) != depth || depth == 0 || depth > MAX_DEPTH || radix >= 58 {
        return None;
    }
    // `depth` is 1..=64, so the shift is 0..=63.
    let bits = cptr & (u64::MAX >> (MAX_DEPTH - depth));
    // `radix` < 58.
    if bits >> radix != guard {
        return None;
    }
    let index = bits & ((1u64 << radix) - 1);
    object
        .checked_add(index << libsys::object::SLOT_SIZE_BITS)
        .map(SlotAddr)
}

/// The general walk: level by level from `root` until `depth` bits are consumed or a
/// non-CNode cap is reached. Returns the last slot and the bits left unconsumed.
fn walk_levels<S: SlotStore + ?Sized>(
    store: &S,
    root: &Cap,
    cptr: u64,
    depth: u32,
) -> Result<(SlotAddr, u32), LookupError> {
    if depth == 0 || depth > MAX_DEPTH {
        return Err(LookupError::InvalidDepth { depth });
    }
    let Cap::CNode {
        mut object,
        mut guard,
        mut radix_bits,
        mut guard_bits,
    } = *root
    else {
        return Err(LookupError::InvalidRoot);
    };
    let mut bits_left = depth;
    // Each level consumes at least one bit (checked below), so this bound is never hit.
    for _ in 0..MAX_DEPTH {
        let (radix, guard_width) = (u32::from(radix_bits), u32::from(guard_bits));
        let level = radix + guard_width;
        if level == 0 || level > bits_left {
            return Err(level_error(cptr, bits_left, guard, radix, guard_width));
        }
        // The level's bits, `bits_left - level .. bits_left` of `cptr` (`level` is 1..=64
        // and at most `bits_left`, so both shifts are 0..=63): the guard above the index.
        let field = (cptr >> (bits_left - level)) & (u64::MAX >> (MAX_DEPTH - level));
        if field.checked_shr(radix).unwrap_or(0) != guard {
            return Err(level_error(cptr, bits_left, guard, radix, guard_width));
        }
        let index = field & !u64::MAX.checked_shl(radix).unwrap_or(0);
        let slot = SlotAddr::in_object(object, index)
            .ok_or(LookupError::MissingCapability { bits_left })?;
        bits_left -= level;
        if bits_left == 0 {
            return Ok((slot, 0));
        }
        match *store.slot(slot).cap() {
            Cap::CNode {
                object: o,
                guard: g,
                radix_bits: r,
                guard_bits: b,
            } => (object, guard, radix_bits, guard_bits) = (o, g, r, b),
            _ => return Ok((slot, bits_left)),
        }
    }
    Err(LookupError::DepthMismatch {
        bits_left,
        bits_found: 0,
    })
}

/// Why a level of [`walk_levels`] cannot be taken (its bits do not fit in `bits_left`, it
/// has none, or the guard differs): a guard mismatch first (naming the bits found where
/// the guard should be, as many as are left), else a depth mismatch.
#[cold]
fn level_error(cptr: u64, bits_left: u32, guard: u64, radix: u32, guard_width: u32) -> LookupError {
    let guard_found = bit_field(cptr, bits_left, guard_width.min(bits_left));
    if guard_width > bits_left || guard_found != guard {
        return LookupError::GuardMismatch {
            bits_left,
            guard_found,
            guard_bits: guard_width,
        };
    }
    LookupError::DepthMismatch {
        bits_left,
        bits_found: radix + guard_width,
    }
}

/// The `width` bits of `word` just below bit `top` (bits `top - width .. top`).
/// Requires `width <= top <= 64`.
fn bit_field(word: u64, top: u32, width: u32) -> u64 {
    let shifted = word.checked_shr(top - width).unwrap_or(0);
    let mask = 1u64.checked_shl(width).map_or(u64::MAX, |b| b - 1);
    shifted & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnode::insert_root;
    use crate::testing::MapStore;
    use libsys::object::Rights;

    const ROOT: u64 = 0x10_0000;
    const INNER: u64 = 0x20_0000;

    fn cnode(object: u64, radix_bits: u8, guard: u64, guard_bits: u8) -> Cap {
        Cap::CNode {
            object,
            guard,
            radix_bits,
            guard_bits,
        }
    }

    fn ep() -> Cap {
        Cap::Endpoint {
            object: 0x30_0000,
            badge: 0,
            rights: Rights::ALL,
        }
    }

    /// Root: radix 8, no guard. Slot 3 holds an inner CNode (radix 4, guard 0b101 of 3 bits);
    /// inner slot 9 holds an endpoint. Slot 5 of the root holds the endpoint too.
    fn two_levels() -> (MapStore, Cap) {
        let mut s = MapStore::new();
        let root = cnode(ROOT, 8, 0, 0);
        let at = |base, i| SlotAddr::in_object(base, i).unwrap();
        insert_root(&mut s, at(ROOT, 3), cnode(INNER, 4, 0b101, 3)).unwrap();
        insert_root(&mut s, at(INNER, 9), ep()).unwrap();
        insert_root(&mut s, at(ROOT, 5), ep()).unwrap();
        (s, root)
    }

    #[test]
    fn resolve_one_level_names_the_indexed_slot() {
        let (s, root) = two_levels();
        assert_eq!(resolve(&s, &root, 5, 8), Ok(SlotAddr(ROOT + 5 * 64)));
        assert_eq!(resolve(&s, &root, 200, 8), Ok(SlotAddr(ROOT + 200 * 64)));
    }

    #[test]
    fn resolve_two_levels_matches_the_guard() {
        let (s, root) = two_levels();
        let cptr = (3 << 7) | (0b101 << 4) | 9;
        assert_eq!(resolve(&s, &root, cptr, 15), Ok(SlotAddr(INNER + 9 * 64)));
        let (slot, cap) = lookup_cap(&s, &root, cptr << 49).unwrap();
        assert_eq!((slot, cap), (SlotAddr(INNER + 9 * 64), ep()));
    }

    #[test]
    fn guard_mismatch_reports_the_bits_found() {
        let (s, root) = two_levels();
        let cptr = (3 << 7) | (0b100 << 4) | 9;
        assert_eq!(
            resolve(&s, &root, cptr, 15),
            Err(LookupError::GuardMismatch {
                bits_left: 7,
                guard_found: 0b100,
                guard_bits: 3
            })
        );
    }

    #[test]
    fn depth_too_short_for_a_level_is_a_depth_mismatch() {
        let (s, root) = two_levels();
        // 8 bits reach the inner CNode cap, 5 more cover its guard but not its radix.
        let cptr = (3 << 5) | (0b101 << 2) | 1;
        assert_eq!(
            resolve(&s, &root, cptr, 13),
            Err(LookupError::DepthMismatch {
                bits_left: 5,
                bits_found: 7
            })
        );
    }

    #[test]
    fn depth_past_a_leaf_cap_is_a_depth_mismatch() {
        let (s, root) = two_levels();
        assert_eq!(
            resolve(&s, &root, (5 << 4) | 1, 12),
            Err(LookupError::DepthMismatch {
                bits_left: 4,
                bits_found: 0
            })
        );
    }

    #[test]
    fn empty_slot_on_the_way_is_a_missing_capability() {
        let (s, root) = two_levels();
        assert_eq!(
            resolve(&s, &root, 6 << 4, 12),
            Err(LookupError::MissingCapability { bits_left: 4 })
        );
        assert_eq!(
            lookup_cap(&s, &root, 7 << 56),
            Err(LookupError::MissingCapability { bits_left: 56 })
        );
    }

    #[test]
    fn lookup_cap_stops_at_the_first_leaf() {
        let (s, root) = two_levels();
        assert_eq!(
            lookup_cap(&s, &root, (5 << 56) | 0xdead),
            Ok((SlotAddr(ROOT + 5 * 64), ep()))
        );
    }

    #[test]
    fn invalid_root_and_depth_are_rejected() {
        let (s, root) = two_levels();
        assert_eq!(resolve(&s, &ep(), 0, 8), Err(LookupError::InvalidRoot));
        assert_eq!(
            resolve(&s, &root, 0, 0),
            Err(LookupError::InvalidDepth { depth: 0 })
        );
        assert_eq!(
            resolve(&s, &root, 0, 65),
            Err(LookupError::InvalidDepth { depth: 65 })
        );
    }

    #[test]
    fn a_cnode_that_contains_itself_ends_after_64_bits() {
        let mut s = MapStore::new();
        let root = cnode(ROOT, 1, 0, 0);
        insert_root(&mut s, SlotAddr(ROOT), root).unwrap();
        assert_eq!(resolve(&s, &root, 0, 64), Ok(SlotAddr(ROOT)));
        assert_eq!(lookup_cap(&s, &root, 0), Ok((SlotAddr(ROOT), root)));
    }

    /// The walk as first written (bit fields with checked shifts, one level at a time),
    /// kept to check that the faster level arithmetic of `walk_levels` finds the same slot
    /// or names the same error.
    fn reference_walk(
        store: &MapStore,
        root: &Cap,
        cptr: u64,
        depth: u32,
    ) -> Result<(SlotAddr, u32), LookupError> {
        if depth == 0 || depth > MAX_DEPTH {
            return Err(LookupError::InvalidDepth { depth });
        }
        if !matches!(root, Cap::CNode { .. }) {
            return Err(LookupError::InvalidRoot);
        }
        let mut node = *root;
        let mut bits_left = depth;
        for _ in 0..MAX_DEPTH {
            let Cap::CNode {
                object,
                guard,
                radix_bits,
                guard_bits,
            } = node
            else {
                break;
            };
            let (radix, guard_bits) = (radix_bits as u32, guard_bits as u32);
            let level = radix + guard_bits;
            let guard_found = bit_field(cptr, bits_left, guard_bits.min(bits_left));
            if guard_bits > bits_left || guard_found != guard {
                return Err(LookupError::GuardMismatch {
                    bits_left,
                    guard_found,
                    guard_bits,
                });
            }
            if level > bits_left || level == 0 {
                return Err(LookupError::DepthMismatch {
                    bits_left,
                    bits_found: level,
                });
            }
            let index = bit_field(cptr, bits_left - guard_bits, radix);
            let slot = SlotAddr::in_object(object, index)
                .ok_or(LookupError::MissingCapability { bits_left })?;
            bits_left -= level;
            if bits_left == 0 {
                return Ok((slot, 0));
            }
            match *store.slot(slot).cap() {
                next @ Cap::CNode { .. } => node = next,
                _ => return Ok((slot, bits_left)),
            }
        }
        Err(LookupError::DepthMismatch {
            bits_left,
            bits_found: 0,
        })
    }

    #[test]
    fn level_arithmetic_agrees_with_the_reference_walk() {
        // Two levels (a root whose slot 3 holds an inner CNode) for many shapes of both
        // levels, depths and cptrs, errors included.
        let mut taken = 0;
        for (radix, guard_bits, guard) in [(8u8, 0u8, 0u64), (4, 3, 0b101), (1, 0, 0), (20, 44, 7)]
        {
            for (inner_radix, inner_guard_bits, inner_guard) in [
                (4u8, 3u8, 0b101u64),
                (0, 5, 3),
                (6, 0, 0),
                (64, 0, 0),
                (1, 63, 1),
                (0, 0, 0),
            ] {
                let mut s = MapStore::new();
                let root = cnode(ROOT, radix, guard, guard_bits);
                let inner = cnode(INNER, inner_radix, inner_guard, inner_guard_bits);
                let at = |base, i| SlotAddr::in_object(base, i).unwrap();
                insert_root(&mut s, at(ROOT, 1), inner).unwrap();
                insert_root(&mut s, at(INNER, 9), ep()).unwrap();
                for depth in [0u32, 1, 4, 8, 12, 15, 16, 20, 64, 65] {
                    for high in [0u64, 1, 3, 0b101, 7, u64::MAX] {
                        for low in [0u64, 1, 9, 0x59, 0xffff, u64::MAX] {
                            let level = u32::from(radix) + u32::from(guard_bits);
                            let top = (guard << radix) | 1;
                            let cptr = if depth > level && depth - level < 64 {
                                (top << (depth - level))
                                    | (high << (depth - level).saturating_sub(8)) ^ low
                            } else {
                                high ^ low
                            };
                            let expected = reference_walk(&s, &root, cptr, depth);
                            taken += usize::from(matches!(expected, Ok((_, 0))));
                            assert_eq!(
                                walk_levels(&s, &root, cptr, depth),
                                expected,
                                "{root:?} {inner:?} {cptr:#x} {depth}"
                            );
                        }
                    }
                }
            }
        }
        assert!(taken > 50, "only {taken} lookups succeeded");
    }

    #[test]
    fn one_level_case_finds_what_the_general_walk_finds() {
        // Every combination of radix, guard width, guard value, depth and cptr pattern
        // below: the one-level shortcut either declines or gives the general walk's slot.
        let s = MapStore::new();
        let mut taken = 0;
        for radix in [1u8, 2, 4, 8, 12, 20, 57, 58, 63, 64] {
            for guard_bits in [0u8, 1, 3, 44, 52, 56, 60, 62, 63, 64] {
                for guard in [0u64, 1, 0b101, (1 << 44) - 1, u64::MAX >> 8, u64::MAX] {
                    let root = cnode(ROOT, radix, guard, guard_bits);
                    for depth in [1u32, 8, 15, 48, 63, 64] {
                        for cptr in [0u64, 5, 0xff, guard << radix.min(63), u64::MAX] {
                            let cptr = cptr | (guard.wrapping_shl(u32::from(radix)) & !0xf);
                            let general = walk_levels(&s, &root, cptr, depth);
                            if let Some(slot) = one_level(&root, cptr, depth) {
                                assert_eq!(general, Ok((slot, 0)), "{root:?} {cptr:#x} {depth}");
                                taken += 1;
                            }
                            assert_eq!(walk(&s, &root, cptr, depth), general);
                        }
                    }
                }
            }
        }
        assert!(taken > 100, "the shortcut was taken {taken} times");
    }

    #[test]
    fn one_level_case_declines_a_slot_address_that_overflows() {
        let s = MapStore::new();
        let root = cnode(u64::MAX - 64, 8, 0, 56);
        assert_eq!(one_level(&root, 2, 64), None);
        assert_eq!(
            walk(&s, &root, 2, 64),
            Err(LookupError::MissingCapability { bits_left: 64 })
        );
    }

    #[test]
    fn full_width_guard_and_radix_use_all_64_bits() {
        let mut s = MapStore::new();
        let root = cnode(ROOT, 4, (1 << 58) - 1, 60);
        insert_root(&mut s, SlotAddr(ROOT + 64 * 0xf), ep()).unwrap();
        let err = resolve(&s, &root, u64::MAX, 64).unwrap_err();
        assert!(matches!(err, LookupError::GuardMismatch { .. }), "{err:?}");
        let ok = ((1u64 << 58) - 1) << 4 | 0xf;
        assert_eq!(
            lookup_cap(&s, &root, ok),
            Ok((SlotAddr(ROOT + 64 * 0xf), ep()))
        );
    }
}
