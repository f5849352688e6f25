//! POSIX permissions for three users (alice and bob share the group `users`, carol does
//! not) and root, with umask and the sticky `/tmp`.

use crate::check::Checks;
use crate::setup::{World, ALICE, BOB, CAROL};
use fs_api::mode;
use libsys::fs::*;

pub fn run(world: &mut World, c: &mut Checks) {
    let before = c.counts();
    let users = (
        world.identity(ALICE, 1000, 100, &[]),
        world.identity(BOB, 1001, 100, &[]),
        world.identity(CAROL, 1002, 1002, &[]),
    );
    let (Ok(alice), Ok(bob), Ok(carol)) = users else {
        c.check("three identities", false, format_args!("refused"));
        return;
    };
    let root = namespace();
    let ok = |r: Result<Fd>| {
        r.map(|fd| {
            let _ = close(fd);
        })
    };

    c.eq(
        "alice creates",
        ok(alice.open(b"/tmp/alice", O_CREAT | O_WRONLY, 0o640)),
        Ok(()),
    );
    c.eq(
        "owner, group, mode",
        alice.stat(b"/tmp/alice").map(|s| (s.uid, s.gid, s.mode)),
        Ok((1000, 100, mode::S_IFREG | 0o640)),
    );
    c.eq(
        "alice writes",
        ok(alice.open(b"/tmp/alice", O_RDWR, 0)),
        Ok(()),
    );
    c.eq(
        "bob (group) reads",
        ok(bob.open(b"/tmp/alice", O_RDONLY, 0)),
        Ok(()),
    );
    c.eq(
        "bob (group) may not write",
        ok(bob.open(b"/tmp/alice", O_WRONLY, 0)),
        Err(Errno::EACCES),
    );
    c.eq(
        "carol (other) may not read",
        ok(carol.open(b"/tmp/alice", O_RDONLY, 0)),
        Err(Errno::EACCES),
    );
    c.eq(
        "root reads and writes",
        ok(root.open(b"/tmp/alice", O_RDWR, 0)),
        Ok(()),
    );
    c.eq(
        "bob may not truncate",
        bob.truncate(b"/tmp/alice", 0),
        Err(Errno::EACCES),
    );

    // umask: procsrv changes it; creation applies it.
    c.eq(
        "alice's umask 077",
        world.set_credentials(ALICE, 1000, 100, 0o077, &[]),
        Ok(()),
    );
    c.eq(
        "create under umask",
        ok(alice.open(b"/tmp/alice2", O_CREAT | O_WRONLY, 0o666)),
        Ok(()),
    );
    c.eq(
        "mode less umask",
        alice.stat(b"/tmp/alice2").map(|s| s.mode & 0o777),
        Ok(0o600),
    );
    c.eq(
        "bob may not read it",
        ok(bob.open(b"/tmp/alice2", O_RDONLY, 0)),
        Err(Errno::EACCES),
    );

    // A private directory: no search for others.
    c.eq(
        "alice mkdir 0700",
        alice.mkdir(b"/tmp/private", 0o700),
        Ok(()),
    );
    c.eq(
        "alice creates inside",
        ok(alice.open(b"/tmp/private/f", O_CREAT | O_WRONLY, 0o644)),
        Ok(()),
    );
    c.eq(
        "bob may not search",
        bob.stat(b"/tmp/private/f").map(drop),
        Err(Errno::EACCES),
    );
    c.eq(
        "bob may not create",
        ok(bob.open(b"/tmp/private/g", O_CREAT | O_WRONLY, 0o644)),
        Err(Errno::EACCES),
    );
    c.eq("root may", root.stat(b"/tmp/private/f").map(drop), Ok(()));

    // The sticky /tmp: only the owner (or root) removes or renames.
    c.eq(
        "bob may not unlink alice's",
        bob.unlink(b"/tmp/alice"),
        Err(Errno::EPERM),
    );
    c.eq(
        "bob may not rename alice's",
        bob.rename(b"/tmp/alice", b"/tmp/bobs"),
        Err(Errno::EPERM),
    );
    c.eq(
        "bob makes his own",
        ok(bob.open(b"/tmp/bob", O_CREAT | O_WRONLY, 0o666)),
        Ok(()),
    );
    c.eq(
        "bob renames his own",
        bob.rename(b"/tmp/bob", b"/tmp/bob2"),
        Ok(()),
    );
    c.eq("bob unlinks his own", bob.unlink(b"/tmp/bob2"), Ok(()));

    // The system's files.
    c.eq(
        "carol reads /etc/passwd",
        ok(carol.open(b"/etc/passwd", O_RDONLY, 0)),
        Ok(()),
    );
    c.eq(
        "carol may not write it",
        ok(carol.open(b"/etc/passwd", O_WRONLY, 0)),
        Err(Errno::EACCES),
    );
    c.eq(
        "carol may not create in /",
        carol.mkdir(b"/carol", 0o755),
        Err(Errno::EACCES),
    );
    c.eq(
        "carol may not enter /root",
        carol.stat(b"/root/x").map(drop),
        Err(Errno::EACCES),
    );
    c.eq("root creates in /", root.mkdir(b"/srv", 0o755), Ok(()));
    c.eq(
        "carol may not rmdir it",
        carol.rmdir(b"/srv"),
        Err(Errno::EACCES),
    );
    c.eq("root removes it", root.rmdir(b"/srv"), Ok(()));
    c.eq(
        "carol chdir /root",
        carol.chdir(b"/root"),
        Err(Errno::EACCES),
    );

    // Supplementary groups count.
    c.eq(
        "carol joins users",
        world.set_credentials(CAROL, 1002, 1002, 0o022, &[100]),
        Ok(()),
    );
    c.eq(
        "carol reads as group",
        ok(carol.open(b"/tmp/alice", O_RDONLY, 0)),
        Ok(()),
    );

    // procsrv opens for a child (the egg's `open`) with the child's credentials and umask,
    // and changes its directory (the egg's `chdir`).
    let slot = fd_slot(Fd(30)).unwrap_or(0);
    let opened =
        world
            .ctl()
            .open_on_behalf(ALICE, b"/tmp/by-procsrv", O_CREAT | O_WRONLY, 0o666, slot);
    c.eq("open on behalf of alice", opened, Ok(()));
    c.eq(
        "created as alice, under her umask",
        root.stat(b"/tmp/by-procsrv")
            .map(|s| (s.uid, s.mode & 0o777)),
        Ok((1000, 0o600)),
    );
    c.eq("the fd works", write(Fd(30), b"x"), Ok(1));
    c.eq("and closes", close(Fd(30)), Ok(()));
    let refused = world
        .ctl()
        .open_on_behalf(CAROL, b"/tmp/private/f", O_RDONLY, 0, slot);
    c.eq("carol's credentials apply", refused, Err(Errno::EACCES));
    c.eq(
        "chdir on behalf of alice",
        world.ctl().chdir(ALICE, b"/tmp"),
        Ok(()),
    );
    c.eq(
        "her relative paths start there",
        alice.stat(b"by-procsrv").map(|s| s.size),
        Ok(1),
    );
    c.eq(
        "not for carol into /root",
        world.ctl().chdir(CAROL, b"/root"),
        Err(Errno::EACCES),
    );
    c.eq(
        "nor for a stranger",
        world.ctl().chdir(999, b"/tmp"),
        Err(Errno::ESRCH),
    );
    let _ = alice.unlink(b"by-procsrv");

    // Clean up as the owners.
    let _ = alice.unlink(b"/tmp/private/f");
    let _ = alice.rmdir(b"/tmp/private");
    let _ = alice.unlink(b"/tmp/alice");
    let _ = alice.unlink(b"/tmp/alice2");
    c.eq(
        "no handles left",
        root.statistics().map(|s| s.handles),
        Ok(crate::out::handles()),
    );
    c.section("permissions", before);
}
