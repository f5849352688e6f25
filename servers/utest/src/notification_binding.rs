//! A notification bound to a thread delivers to that thread only: another thread may not
//! wait on it (it would steal the bound thread's signals), as in seL4.

use crate::check::TestResult;
use crate::{ensure, expect_err, ok, Ctx, Test};
use libsys::abi::Error;
use libsys::bootinfo::SLOT_TCB;
use libsys::cap::{Cap, Notification, Tcb, INVOKED_CAP};
use libsys::object::Rights;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    waiting_on_a_notification_bound_to_another_thread_is_refused,
    the_bound_thread_itself_may_wait_on_its_notification,
];

fn waiting_on_a_notification_bound_to_another_thread_is_refused(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let other: Cap<Tcb> = ctx.make()?;
    ok!(other.bind_notification(n));
    let badged = ctx.mint(n, Rights::ALL, 0x10)?;
    ok!(badged.signal());
    expect_err!(n.poll(), Error::IllegalOperation, INVOKED_CAP);
    expect_err!(n.wait(), Error::IllegalOperation, INVOKED_CAP);
    expect_err!(
        n.wait_timeout(libsys::time::now()),
        Error::IllegalOperation,
        INVOKED_CAP
    );
    // Once unbound, anyone may wait again, and the signal is still there.
    ok!(other.unbind_notification());
    let bits = n.poll();
    ensure!(bits == Ok(0x10), "after unbinding: {bits:?}");
    Ok(())
}

fn the_bound_thread_itself_may_wait_on_its_notification(ctx: &mut Ctx) -> TestResult {
    let own: Cap<Tcb> = Cap::from_cptr(SLOT_TCB);
    let n: Cap<Notification> = ctx.make()?;
    ok!(own.bind_notification(n));
    let badged = ctx.mint(n, Rights::ALL, 0x20)?;
    ok!(badged.signal());
    let bits = n.poll();
    ok!(own.unbind_notification());
    ensure!(bits == Ok(0x20), "poll by the bound thread: {bits:?}");
    Ok(())
}
