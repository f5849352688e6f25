//! Revoke when the revoked cap lives inside an object the revoke destroys (issue 12,
//! finding 3): every descendant still goes.

use crate::check::TestResult;
use crate::{ok, Ctx, Test, ROOT};
use libsys::cap::{CNode, Cap, SlotPath};
use libsys::object::{ObjectType, Rights};

/// The tests of this file.
pub const TESTS: &[Test] =
    crate::tests![revoking_an_untyped_kept_in_a_cnode_made_from_it_deletes_every_descendant];

/// Untyped U (2^16); an endpoint E, a TCB T and a CNode C (radix 2) retyped from it into
/// root slots; U's cap moved into C[1]; revoke of C[1]. Deleting C empties C[1] halfway:
/// E and T must go as well, and U's cap with C.
fn revoking_an_untyped_kept_in_a_cnode_made_from_it_deletes_every_descendant(
    ctx: &mut Ctx,
) -> TestResult {
    let untyped = ctx.untyped(16)?;
    let [endpoint, tcb, cnode] = [ctx.slot()?, ctx.slot()?, ctx.slot()?];
    ok!(untyped.retype(ObjectType::Endpoint, 0, ROOT, endpoint, 1));
    ok!(untyped.retype(ObjectType::Tcb, 0, ROOT, tcb, 1));
    ok!(untyped.retype(ObjectType::CNode, 2, ROOT, cnode, 1));
    // A guardless copy of the root CNode cap reaches into C: 12 bits pick C's root slot,
    // 2 more pick a slot in C.
    let radix = ctx.info.cnode_radix;
    let unguarded: Cap<CNode> = ctx.mint(ROOT, Rights::ALL, 0)?;
    let in_root = |slot: u64| SlotPath {
        index: slot,
        depth: radix,
    };
    let u_via_root = SlotPath {
        index: (cnode << 2) | 1,
        depth: radix + 2,
    };
    ok!(unguarded.move_cap(u_via_root, in_root(untyped.cptr())));
    let c: Cap<CNode> = Cap::from_cptr(cnode);
    let u_in_c = SlotPath { index: 1, depth: 2 };
    ctx.expect_empty(untyped.cptr())?;

    ok!(c.revoke(u_in_c));

    ctx.expect_empty(cnode)?;
    ctx.expect_empty(endpoint)?;
    ctx.expect_empty(tcb)?;
    // U's own cap went with C (checked by Identify through C's slot, now empty) and the
    // runner's leak check proves that none of U's memory is still in use.
    Ok(())
}
