//! A pseudo-terminal as a terminal emulator and a shell use it: `/dev/ptmx`, `/dev/pts/N`,
//! canonical and raw mode, the controlling terminal (acquired by a session leader's open,
//! then `/dev/tty`), ^C to the foreground group, a reader parked until another process
//! types, and the hangup when the master closes.

use crate::check::Checks;
use crate::child::{LINE, WRITE_LINE};
use crate::setup::{World, ROOT};
use fs_api::{event, mode};
use libsys::cap::Endpoint;
use libsys::fs::terminal::{self, *};
use libsys::fs::*;

const ICANON: u64 = 0o2;
const ECHO: u64 = 0o10;
const ISIG: u64 = 0o1;
/// The ids the test gives itself: pid = group = session = 100 (a session leader).
const LEADER: u64 = 100;

fn events(world: &mut World) -> [(u64, u64); 3] {
    let mut out = [(0, 0); 3];
    if let Ok((events, count)) = world.ctl().events() {
        for (pair, e) in out.iter_mut().zip(&events[..count]) {
            *pair = (e.target, e.what);
        }
    }
    out
}

fn drain_events(world: &mut World) {
    while world.ctl().events().is_ok_and(|(_, count)| count > 0) {}
}

/// `raw` with `VTIME` = `time` tenths of a second and `VMIN` = `minimum`.
fn with_timer(raw: &[u64; 5], time: u8, minimum: u8) -> [u64; 5] {
    let mut t = *raw;
    let shift = |i: usize| 8 * (i % 8);
    for (i, v) in [(ttycore_cc::VTIME, time), (ttycore_cc::VMIN, minimum)] {
        t[2 + i / 8] = (t[2 + i / 8] & !(0xff << shift(i))) | u64::from(v) << shift(i);
    }
    t
}

/// The control characters' indices (as `ttycore::cc`).
mod ttycore_cc {
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
}

/// Non-canonical reads with `VTIME`, timed on the time-stamp counter: the file server's
/// clock ends them.
fn vtime(world: &mut World, c: &mut Checks, master: Fd, slave: Fd, raw: &[u64; 5]) {
    let hz = world.info.tsc_hz.max(1);
    let mut buf = [0u8; 64];
    let tenth = hz / 10;
    let _ = terminal::set_attributes(slave, TCSETS, &with_timer(raw, 2, 0));
    let start = libsys::time::now();
    let nothing = read(slave, &mut buf);
    let took = libsys::time::now() - start;
    c.eq("VMIN 0, VTIME 2, nothing typed: 0 bytes", nothing, Ok(0));
    c.check(
        "after the 0.2 s timer (less than 0.5 s)",
        took >= 2 * tenth && took < 5 * tenth,
        format_args!("{took} ticks at {hz} Hz"),
    );
    c.eq("type ab", write(master, b"ab"), Ok(2));
    c.eq(
        "VMIN 0, VTIME 2, bytes there: at once",
        read_text(slave, &mut buf),
        &b"ab"[..],
    );
    let _ = terminal::set_attributes(slave, TCSETS, &with_timer(raw, 1, 5));
    c.eq("type xy", write(master, b"xy"), Ok(2));
    let start = libsys::time::now();
    let short = read(slave, &mut buf);
    let took = libsys::time::now() - start;
    c.eq(
        "VMIN 5, VTIME 1, two bytes typed: the inter-byte timer gives 2",
        short,
        Ok(2),
    );
    c.check(
        "after the 0.1 s timer",
        took >= tenth && took < 4 * tenth,
        format_args!("{took} ticks at {hz} Hz"),
    );
    let _ = terminal::set_attributes(slave, TCSETS, raw);
}

fn read_text(fd: Fd, buf: &mut [u8]) -> &[u8] {
    match read(fd, buf) {
        Ok(n) => &buf[..n],
        Err(_) => b"<error>",
    }
}

pub fn run(world: &mut World, c: &mut Checks) {
    let before = c.counts();
    drain_events(world);
    let job = world
        .ctl()
        .set_job(ROOT, LEADER as u32, LEADER as u32, LEADER as u32, 0);
    c.eq("procsrv sets the job ids", job.map(drop), Ok(()));
    c.eq(
        "no controlling terminal yet",
        open("/dev/tty", O_RDWR, 0).map(drop),
        Err(Errno::ENXIO),
    );
    let Ok(master) = open("/dev/ptmx", O_RDWR | O_NOCTTY, 0) else {
        c.check("open /dev/ptmx", false, format_args!("refused"));
        return;
    };
    let n = terminal::pty_number(master).unwrap_or(99);
    let mut path = *b"/dev/pts/0";
    path[9] = b'0' + n as u8;
    let path = core::str::from_utf8(&path).unwrap_or("/dev/pts/0");
    c.eq(
        "/dev/pts/N appears",
        stat(path).map(|s| (s.mode, s.rdev)),
        Ok((mode::S_IFCHR | 0o620, (136 << 8) | n)),
    );
    c.eq("isatty master", isatty(master), true);
    c.eq(
        "seek a terminal",
        lseek(master, 0, SEEK_SET),
        Err(Errno::ESPIPE),
    );
    let Ok(slave) = open(path, O_RDWR, 0) else {
        c.check("open the slave", false, format_args!("refused"));
        return;
    };
    c.eq(
        "a session leader's open acquires it",
        events(world)[0],
        (event::CONTROL_ACQUIRED | LEADER, n + 1),
    );
    c.eq("tcgetpgrp", terminal::foreground_group(slave), Ok(LEADER));
    c.eq("TIOCGSID", ioctl(slave, TIOCGSID, 0), Ok(LEADER));
    c.eq(
        "tcgetpgrp on a master is not ours",
        terminal::foreground_group(master),
        Ok(LEADER),
    );
    c.eq(
        "tcsetpgrp to a group elsewhere",
        terminal::set_foreground_group(slave, 4242),
        Err(Errno::EPERM),
    );

    // Canonical mode: typed keys are edited, echoed (with ONLCR) and read as a line.
    let mut buf = [0u8; 128];
    c.eq("type", write(master, b"echo hellp\x7fo\n"), Ok(13));
    c.eq(
        "the slave reads the edited line",
        read_text(slave, &mut buf),
        &b"echo hello\n"[..],
    );
    c.eq(
        "the master reads the echo",
        read_text(master, &mut buf),
        &b"echo hellp\x08 \x08o\r\n"[..],
    );
    c.eq("output gets CR LF", write(slave, b"out\n"), Ok(4));
    c.eq(
        "the master reads it",
        read_text(master, &mut buf),
        &b"out\r\n"[..],
    );
    let _ = set_flags(slave, O_NONBLOCK);
    c.eq(
        "an unfinished line is not readable",
        (write(master, b"half"), read(slave, &mut buf)),
        (Ok(4), Err(Errno::EAGAIN)),
    );
    let _ = set_flags(slave, 0);
    c.eq(
        "^D ends it",
        (write(master, b"\x04"), read_text(slave, &mut buf)),
        (Ok(1), &b"half"[..]),
    );
    let _ = read(master, &mut buf);

    // ^C: SIGINT to the foreground group, for procsrv to deliver.
    drain_events(world);
    c.eq("^C", write(master, b"\x03"), Ok(1));
    c.eq(
        "SIGINT for the foreground group",
        events(world)[0],
        (event::GROUP | LEADER, 2),
    );
    let _ = read(master, &mut buf);

    // ^C reaches only the foreground group: make another group of the session the
    // foreground (procsrv registered its process), type ^C, and take the terminal back
    // (as a background process that ignores SIGTTOU).
    let other = 16;
    let registered = world
        .set_credentials(other, 0, 0, 0o022, &[])
        .and_then(|()| {
            world
                .ctl()
                .set_job(other, 101, 101, LEADER as u32, 0)
                .map(drop)
        });
    c.eq("a second group in the session", registered, Ok(()));
    c.eq(
        "tcsetpgrp to it",
        terminal::set_foreground_group(slave, 101),
        Ok(()),
    );
    drain_events(world);
    c.eq("^C again", write(master, b"\x03"), Ok(1));
    c.eq(
        "SIGINT only for the new foreground group",
        events(world),
        [(event::GROUP | 101, 2), (0, 0), (0, 0)],
    );
    let _ = read(master, &mut buf);
    drain_events(world);
    c.eq(
        "a background read",
        read(slave, &mut buf),
        Err(Errno::EINTR),
    );
    c.eq(
        "SIGTTIN for the background group",
        events(world)[0],
        (event::GROUP | LEADER, 21),
    );
    let ignores = world.ctl().set_job(
        ROOT,
        LEADER as u32,
        LEADER as u32,
        LEADER as u32,
        fs_api::job::IGNORES_TTOU,
    );
    c.eq("the leader ignores SIGTTOU", ignores.map(drop), Ok(()));
    c.eq(
        "and takes the terminal back",
        terminal::set_foreground_group(slave, LEADER),
        Ok(()),
    );
    let _ = world
        .ctl()
        .set_job(ROOT, LEADER as u32, LEADER as u32, LEADER as u32, 0);
    let _ = world.process_exit(other);

    // Window size.
    c.eq(
        "set the window size",
        terminal::set_window_size(master, 50 | 132 << 16),
        Ok(()),
    );
    c.eq(
        "the slave sees it",
        terminal::window_size(slave),
        Ok(50 | 132 << 16),
    );
    c.eq("SIGWINCH", events(world)[0], (event::GROUP | LEADER, 28));

    // Raw mode: no editing, no echo, no signals; bytes are readable at once.
    let raw = terminal::get_attributes(slave).map(|mut t| {
        t[1] &= !((ICANON | ECHO | ISIG) << 32);
        t
    });
    c.check("tcgetattr", raw.is_ok(), format_args!("{raw:?}"));
    let raw = raw.unwrap_or([0; 5]);
    c.eq(
        "tcsetattr raw",
        terminal::set_attributes(slave, TCSETS, &raw),
        Ok(()),
    );
    c.eq("type raw", write(master, b"x\x7f\x03"), Ok(3));
    c.eq(
        "raw bytes as typed",
        read_text(slave, &mut buf),
        &b"x\x7f\x03"[..],
    );
    let _ = set_flags(master, O_NONBLOCK);
    c.eq(
        "no echo in raw mode",
        read(master, &mut buf),
        Err(Errno::EAGAIN),
    );
    let _ = set_flags(master, 0);
    vtime(world, c, master, slave, &raw);
    let mut cooked = raw;
    cooked[1] |= (ICANON | ECHO | ISIG) << 32;
    let _ = terminal::set_attributes(slave, TCSETS, &cooked);

    // /dev/tty is now the pty.
    if let Ok(tty) = open("/dev/tty", O_WRONLY, 0) {
        c.eq("write through /dev/tty", write(tty, b"via tty\n"), Ok(8));
        c.eq(
            "it reaches the master",
            read_text(master, &mut buf),
            &b"via tty\r\n"[..],
        );
        let _ = close(tty);
    } else {
        c.check("/dev/tty after acquiring", false, format_args!("refused"));
    }

    // A reader parked until another process types on the master.
    parked_reader(world, c, master, slave);

    // Closing the master hangs the slave up: SIGHUP and SIGCONT, reads end, writes fail.
    drain_events(world);
    c.eq("close the master", close(master), Ok(()));
    c.eq(
        "SIGHUP to the session leader",
        events(world)[0],
        (event::PROCESS | LEADER, 1),
    );
    c.eq("a hung-up slave reads 0", read(slave, &mut buf), Ok(0));
    c.eq("and cannot be written", write(slave, b"x"), Err(Errno::EIO));
    c.eq(
        "/dev/pts/N is gone",
        stat(path).map(drop),
        Err(Errno::ENOENT),
    );
    let _ = close(slave);
    c.eq(
        "no handles left",
        namespace().statistics().map(|s| s.handles),
        Ok(crate::out::handles()),
    );
    open_then_setsid(world, c);
    let _ = world.ctl().set_job(ROOT, 1, 1, 0, 0);
    c.section("terminals", before);
}

/// The other way round: a process that opens a terminal and then leads a new session does
/// not get it (only an explicit TIOCSCTTY gives it).
fn open_then_setsid(world: &mut World, c: &mut Checks) {
    let _ = world
        .ctl()
        .set_job(ROOT, LEADER as u32, LEADER as u32, 7, 0);
    let Ok(master) = open("/dev/ptmx", O_RDWR, 0) else {
        c.check("a second pty", false, format_args!("refused"));
        return;
    };
    let n = terminal::pty_number(master).unwrap_or(99);
    let mut path = *b"/dev/pts/0";
    path[9] = b'0' + n as u8;
    let slave = open(
        core::str::from_utf8(&path).unwrap_or("/dev/pts/0"),
        O_RDWR,
        0,
    );
    c.check(
        "open before setsid",
        slave.is_ok(),
        format_args!("{slave:?}"),
    );
    let slave = slave.unwrap_or(Fd(99));
    // setsid: procsrv makes the process the leader of a new session.
    let _ = world
        .ctl()
        .set_job(ROOT, LEADER as u32, LEADER as u32, LEADER as u32, 0);
    c.eq(
        "open then setsid: no controlling terminal",
        terminal::foreground_group(slave),
        Err(Errno::ENOTTY),
    );
    c.eq(
        "/dev/tty",
        open("/dev/tty", O_RDWR, 0).map(drop),
        Err(Errno::ENXIO),
    );
    drain_events(world);
    c.eq(
        "TIOCSCTTY takes it explicitly",
        ioctl(slave, TIOCSCTTY, 0),
        Ok(0),
    );
    c.eq(
        "procsrv hears of it",
        events(world)[0],
        (event::CONTROL_ACQUIRED | LEADER, n + 1),
    );
    c.eq(
        "asking again changes nothing",
        ioctl(slave, TIOCSCTTY, 0),
        Ok(0),
    );
    c.eq("and tells nobody", events(world)[0], (0, 0));
    c.eq("now it is", terminal::foreground_group(slave), Ok(LEADER));
    let _ = close(master);
    let _ = close(slave);
}

fn parked_reader(world: &mut World, c: &mut Checks, master: Fd, slave: Fd) {
    let Ok(reporter) = world.alloc.make::<Endpoint>() else {
        return;
    };
    let id = 14;
    if world.set_credentials(id, 0, 0, 0o022, &[]).is_err() {
        return;
    }
    let Ok(slot) = world.share(master, id) else {
        c.check("share the master", false, format_args!("refused"));
        return;
    };
    let child = world.spawn(WRITE_LINE, id, &[(slot, 1)], reporter);
    world.drop_slot(slot);
    let mut buf = [0u8; 64];
    // Nothing is typed yet: the read waits in the server until the child types.
    c.eq(
        "a parked read gets the typed line",
        read_text(slave, &mut buf),
        LINE,
    );
    if let Ok(m) = reporter.recv() {
        let _ = libsys::cap::reply(libsys::abi::MessageInfo::new(0, 0, 0), [0; 4]);
        c.eq(
            "the typist's report",
            (m.words[1], m.words[2]),
            (0, LINE.len() as u64),
        );
    }
    let _ = read(master, &mut buf);
    if let Ok(child) = child {
        let _ = child.destroy(&mut world.alloc);
    }
    let _ = world.process_exit(id);
}
