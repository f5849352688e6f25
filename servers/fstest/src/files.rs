//! Every file operation and its errors, as the root user; descriptors, dup, devices,
//! `/bin`, `/etc`, print! through fd 1, and malformed requests.

use crate::check::Checks;
use crate::setup::World;
use fs_api::{mode, Label};
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::fs::*;

pub fn run(world: &mut World, c: &mut Checks) {
    let before = c.counts();
    read_write_seek(c);
    directories(c);
    path_errors(c);
    descriptors(c);
    devices_and_bin(c);
    print_to_fd1(c);
    malformed(world, c);
    c.section("files", before);
}

fn read_all(fd: Fd, buf: &mut [u8]) -> usize {
    read(fd, buf).unwrap_or(usize::MAX)
}

fn read_write_seek(c: &mut Checks) {
    let Ok(fd) = open("/tmp/f", O_CREAT | O_RDWR, 0o644) else {
        c.check("create /tmp/f", false, format_args!("refused"));
        return;
    };
    c.eq("write", write(fd, b"hello world"), Ok(11));
    c.eq("seek set", lseek(fd, 0, SEEK_SET), Ok(0));
    let mut buf = [0u8; 64];
    let n = read_all(fd, &mut buf);
    c.eq("read back", &buf[..n.min(64)], &b"hello world"[..]);
    c.eq("read at end", read(fd, &mut buf), Ok(0));
    c.eq("seek end", lseek(fd, -5, SEEK_END), Ok(6));
    let n = read_all(fd, &mut buf[..5]);
    c.eq("read after seek", &buf[..n.min(5)], &b"world"[..]);
    c.eq("seek cur", lseek(fd, -1, SEEK_CUR), Ok(10));
    c.eq(
        "negative seek",
        lseek(fd, -100, SEEK_SET),
        Err(Errno::EINVAL),
    );
    c.eq("bad whence", lseek(fd, 0, 7), Err(Errno::EINVAL));
    let st = fstat(fd).unwrap_or_default();
    c.eq("fstat size", st.size, 11);
    c.eq("fstat mode", st.mode, mode::S_IFREG | 0o644);
    c.eq(
        "stat = fstat",
        stat("/tmp/f").map(|s| s.inode),
        Ok(st.inode),
    );
    c.eq("ftruncate", ftruncate(fd, 5), Ok(()));
    c.eq("size after ftruncate", fstat(fd).map(|s| s.size), Ok(5));
    c.eq(
        "truncate by name",
        namespace().truncate(b"/tmp/f", 8),
        Ok(()),
    );
    c.eq("grown with zeros", fstat(fd).map(|s| s.size), Ok(8));
    c.eq("close", close(fd), Ok(()));
    c.eq("closed fd", write(fd, b"x"), Err(Errno::EBADF));
    c.eq("close twice", close(fd), Err(Errno::EBADF));

    let fd = open("/tmp/f", O_WRONLY | O_APPEND, 0).unwrap_or(Fd(99));
    c.eq("append", write(fd, b"!!"), Ok(2));
    c.eq("appended at end", stat("/tmp/f").map(|s| s.size), Ok(10));
    c.eq("read on write-only", read(fd, &mut buf), Err(Errno::EBADF));
    c.eq("get flags", get_flags(fd), Ok(O_WRONLY | O_APPEND));
    let _ = close(fd);
    c.eq(
        "O_EXCL",
        open("/tmp/f", O_CREAT | O_EXCL | O_WRONLY, 0o600),
        Err(Errno::EEXIST),
    );
    let fd = open("/tmp/f", O_RDONLY | O_TRUNC, 0);
    c.eq("O_TRUNC empties", stat("/tmp/f").map(|s| s.size), Ok(0));
    if let Ok(fd) = fd {
        c.eq("write on read-only", write(fd, b"x"), Err(Errno::EBADF));
        let _ = close(fd);
    }
    c.eq("rename", rename("/tmp/f", "/tmp/g"), Ok(()));
    c.eq(
        "old name gone",
        stat("/tmp/f").map(drop),
        Err(Errno::ENOENT),
    );
    c.eq("new name there", stat("/tmp/g").map(|s| s.size), Ok(0));

    // An unlinked open file lives until closed.
    let fd = open("/tmp/g", O_RDWR, 0).unwrap_or(Fd(99));
    c.eq("unlink open file", unlink("/tmp/g"), Ok(()));
    c.eq("write unlinked", write(fd, b"ghost"), Ok(5));
    let _ = lseek(fd, 0, SEEK_SET);
    let n = read_all(fd, &mut buf);
    c.eq("read unlinked", &buf[..n.min(64)], &b"ghost"[..]);
    c.eq("no name", stat("/tmp/g").map(drop), Err(Errno::ENOENT));
    let _ = close(fd);
}

fn directories(c: &mut Checks) {
    c.eq("mkdir", mkdir("/tmp/d", 0o755), Ok(()));
    c.eq("mkdir again", mkdir("/tmp/d", 0o755), Err(Errno::EEXIST));
    c.eq(
        "dir mode",
        stat("/tmp/d").map(|s| s.mode),
        Ok(mode::S_IFDIR | 0o755),
    );
    if let Ok(fd) = open("/tmp/d/x", O_CREAT | O_WRONLY, 0o600) {
        let _ = close(fd);
    }
    c.eq("mkdir sub", mkdir("/tmp/d/sub", 0o700), Ok(()));
    let dir = open("/tmp/d", O_RDONLY | O_DIRECTORY, 0).unwrap_or(Fd(99));
    let mut names = [[0u8; 8]; 6];
    let mut count = 0;
    let mut name = [0u8; 64];
    while let Ok(Some(entry)) = readdir(dir, count as u64, &mut name) {
        if count < names.len() {
            let len = entry.name_len.min(8);
            names[count][..len].copy_from_slice(&name[..len]);
        }
        count += 1;
    }
    c.eq("readdir count", count, 4);
    c.eq("readdir .", &names[0][..2], &b".\0"[..]);
    c.eq("readdir ..", &names[1][..3], &b"..\0"[..]);
    c.eq(
        "readdir sorted",
        (&names[2][..4], &names[3][..2]),
        (&b"sub\0"[..], &b"x\0"[..]),
    );
    c.eq(
        "write to a directory",
        open("/tmp/d", O_WRONLY, 0).map(drop),
        Err(Errno::EISDIR),
    );
    c.eq(
        "O_DIRECTORY on file",
        open("/tmp/d/x", O_RDONLY | O_DIRECTORY, 0).map(drop),
        Err(Errno::ENOTDIR),
    );
    c.eq("read a directory", read(dir, &mut name), Err(Errno::EISDIR));
    let _ = close(dir);
    c.eq("rmdir non-empty", rmdir("/tmp/d"), Err(Errno::ENOTEMPTY));
    c.eq(
        "unlink a directory",
        unlink("/tmp/d/sub"),
        Err(Errno::EISDIR),
    );
    c.eq("rmdir a file", rmdir("/tmp/d/x"), Err(Errno::ENOTDIR));
    c.eq(
        "rename dir into itself",
        rename("/tmp/d", "/tmp/d/sub/in"),
        Err(Errno::EINVAL),
    );
    c.eq("unlink", unlink("/tmp/d/x"), Ok(()));
    c.eq("rmdir sub", rmdir("/tmp/d/sub"), Ok(()));
    c.eq("rmdir", rmdir("/tmp/d"), Ok(()));
    c.eq("gone", stat("/tmp/d").map(drop), Err(Errno::ENOENT));
    c.eq("rmdir /", rmdir("/"), Err(Errno::EBUSY));
    // Relative paths start at the working directory.
    c.eq("chdir", namespace().chdir(b"/tmp"), Ok(()));
    if let Ok(fd) = open("rel", O_CREAT | O_WRONLY, 0o644) {
        let _ = close(fd);
    }
    c.eq("relative create", stat("/tmp/rel").map(drop), Ok(()));
    c.eq("relative ..", stat("../tmp/rel").map(drop), Ok(()));
    c.eq(
        "chdir to a file",
        namespace().chdir(b"/tmp/rel"),
        Err(Errno::ENOTDIR),
    );
    let _ = unlink("rel");
    let _ = namespace().chdir(b"/");
}

fn path_errors(c: &mut Checks) {
    c.eq(
        "empty path",
        open("", O_RDONLY, 0).map(drop),
        Err(Errno::ENOENT),
    );
    let long = [b'a'; fs_api::PATH_MAX + 1];
    c.eq(
        "path over PATH_MAX",
        namespace().open(&long, O_RDONLY, 0).map(drop),
        Err(Errno::ENAMETOOLONG),
    );
    let mut name = [b'/'; 300];
    name[1..].fill(b'n');
    c.eq(
        "name over NAME_MAX",
        namespace().stat(&name).map(drop),
        Err(Errno::ENAMETOOLONG),
    );
    c.eq(
        "through a file",
        stat("/etc/passwd/x").map(drop),
        Err(Errno::ENOTDIR),
    );
    c.eq(
        "missing",
        open("/nope", O_RDONLY, 0).map(drop),
        Err(Errno::ENOENT),
    );
    c.eq(
        "missing parent",
        open("/nope/x", O_CREAT | O_WRONLY, 0o644).map(drop),
        Err(Errno::ENOENT),
    );
    c.eq(
        ".. above root",
        stat("/../../tmp").map(|s| s.mode),
        Ok(mode::S_IFDIR | 0o1777),
    );
    c.eq(
        "access mode 3",
        open("/tmp", 3, 0).map(drop),
        Err(Errno::EINVAL),
    );
    c.eq(
        "unknown flag",
        open("/tmp", 1 << 30, 0).map(drop),
        Err(Errno::EINVAL),
    );
    c.eq(
        "bad mode",
        open("/tmp/m", O_CREAT | O_WRONLY, 0o70000).map(drop),
        Err(Errno::EINVAL),
    );
    c.eq(
        "NUL in path",
        namespace().stat(b"/tmp\0x").map(drop),
        Err(Errno::EINVAL),
    );
}

fn descriptors(c: &mut Checks) {
    let Ok(fd) = open("/tmp/shared", O_CREAT | O_RDWR, 0o644) else {
        c.check("open /tmp/shared", false, format_args!("refused"));
        return;
    };
    let copy = dup(fd);
    c.check("dup", copy.is_ok(), format_args!("{copy:?}"));
    let copy = copy.unwrap_or(Fd(99));
    c.eq("write through fd", write(fd, b"ab"), Ok(2));
    c.eq("write through dup", write(copy, b"cd"), Ok(2));
    c.eq("offset is shared", lseek(fd, 0, SEEK_CUR), Ok(4));
    c.eq("dup2", dup2(fd, Fd(20)), Ok(Fd(20)));
    c.eq("close original", close(fd), Ok(()));
    c.eq("dup2 copy still works", write(Fd(20), b"ef"), Ok(2));
    c.eq("dup2 onto itself", dup2(Fd(20), Fd(20)), Ok(Fd(20)));
    c.eq("dup2 of a closed fd", dup2(fd, Fd(21)), Err(Errno::EBADF));
    c.eq("close dup", close(copy), Ok(()));
    c.eq("last copy works", lseek(Fd(20), 0, SEEK_CUR), Ok(6));
    c.eq("close last", close(Fd(20)), Ok(()));
    c.eq("size", stat("/tmp/shared").map(|s| s.size), Ok(6));
    c.eq(
        "all handles gone",
        namespace().statistics().map(|s| s.handles),
        Ok(crate::out::handles()),
    );
    c.eq("isatty file", isatty(Fd(0)), false);
    let _ = unlink("/tmp/shared");
}

fn devices_and_bin(c: &mut Checks) {
    let mut buf = [7u8; 16];
    if let Ok(fd) = open("/dev/null", O_RDWR, 0) {
        c.eq("null read", read(fd, &mut buf), Ok(0));
        c.eq("null write", write(fd, b"gone"), Ok(4));
        c.eq("null seek", lseek(fd, 0, SEEK_SET), Err(Errno::ESPIPE));
        c.eq("ioctl on a file", ioctl(fd, 0x5401, 0), Err(Errno::ENOTTY));
        let _ = close(fd);
    }
    if let Ok(fd) = open("/dev/zero", O_RDONLY, 0) {
        c.eq(
            "zero read",
            read(fd, &mut buf).map(|n| (n, buf)),
            Ok((16, [0; 16])),
        );
        let _ = close(fd);
    }
    if let Ok(fd) = open("/dev/full", O_WRONLY, 0) {
        c.eq("full write", write(fd, b"x"), Err(Errno::ENOSPC));
        let _ = close(fd);
    }
    c.eq(
        "no controlling terminal",
        open("/dev/tty", O_RDWR, 0).map(drop),
        Err(Errno::ENXIO),
    );
    c.eq(
        "console mode",
        stat("/dev/console").map(|s| (s.mode, s.rdev)),
        Ok((mode::S_IFCHR | 0o666, 0x501)),
    );
    let fsrv = stat("/bin/fsrv").unwrap_or_default();
    c.check(
        "/bin/fsrv",
        fsrv.size > 4096 && fsrv.mode == mode::S_IFREG | 0o555,
        format_args!("{fsrv:?}"),
    );
    if let Ok(mut file) = File::open("/bin/fstest") {
        let mut magic = [0u8; 4];
        c.eq("read /bin/fstest", file.read_exact(&mut magic), Ok(()));
        c.eq("ELF magic", &magic, b"\x7fELF");
    }
    c.eq(
        "/bin is read-only",
        open("/bin/fstest", O_WRONLY, 0).map(drop),
        Err(Errno::EROFS),
    );
    c.eq(
        "no new file in /bin",
        open("/bin/x", O_CREAT | O_WRONLY, 0o755).map(drop),
        Err(Errno::EROFS),
    );
    if let Ok(mut file) = File::open("/etc/passwd") {
        let mut text = [0u8; 256];
        let n = file.read(&mut text).unwrap_or(0);
        let has_alice = text[..n].windows(6).any(|w| w == b"alice:");
        c.check(
            "/etc/passwd names alice",
            has_alice,
            format_args!("{n} bytes"),
        );
    }
    c.check(
        "/etc/group",
        stat("/etc/group").is_ok(),
        format_args!("missing"),
    );
}

fn print_to_fd1(c: &mut Checks) {
    libsys::fs::set_print_to_debug_console(false);
    c.eq("fd 1 closed at first", stdout_is_open(), false);
    let console = open("/dev/console", O_WRONLY, 0);
    c.eq("console is fd 0", console, Ok(Fd(0)));
    c.eq("console on fd 1", dup2(Fd(0), Fd(1)), Ok(Fd(1)));
    c.eq("isatty console", isatty(Fd(1)), true);
    c.eq("console ioctl", ioctl(Fd(1), 0x1234, 0), Err(Errno::EINVAL));
    let cooked = terminal::get_attributes(Fd(1)).map(|t| t[1] >> 32 & 0o2 != 0);
    c.eq("console is canonical", cooked, Ok(true));
    c.eq("fd 1 open", stdout_is_open(), true);
    libsys::println!("fstest: this line went through fd 1, the file server and /dev/console");
    let n = core::fmt::Write::write_str(&mut stdout(), "fstest: and this one through Stdout\n");
    c.eq("Stdout write", n, Ok(()));
    c.eq(
        "console read",
        read(Fd(0), &mut [0u8; 4]),
        Err(Errno::EBADF),
    );
    let _ = close(Fd(1));
    let _ = close(Fd(0));
    c.eq("fd 1 closed again", stdout_is_open(), false);
    libsys::fs::set_print_to_debug_console(true);
}

/// Raw messages the client library never sends.
fn malformed(world: &mut World, c: &mut Checks) {
    let ns = namespace().0;
    let label_of = |r: core::result::Result<
        libsys::cap::Received,
        libsys::cap::InvocationError,
    >| r.map(|r| r.info.label()).unwrap_or(u64::MAX);
    let unknown = ns.call(MessageInfo::new(0x999, 0, 0), [0; 4]);
    c.eq("unknown label", label_of(unknown), Errno::ENOSYS as u64);
    let short = ns.call(MessageInfo::new(Label::NsOpen as u64, 0, 0), [0; 4]);
    c.eq("short open", label_of(short), Errno::EINVAL as u64);
    let short_path = ns.call(MessageInfo::new(Label::NsStat as u64, 1, 0), [40, 0, 0, 0]);
    c.eq(
        "path longer than the message",
        label_of(short_path),
        Errno::EINVAL as u64,
    );
    let fd_label = ns.call(MessageInfo::new(Label::FdRead as u64, 1, 0), [1, 0, 0, 0]);
    c.eq(
        "fd label on the namespace",
        label_of(fd_label),
        Errno::EBADF as u64,
    );
    let nobody = world
        .endpoint
        .call(MessageInfo::new(Label::NsStatistics as u64, 0, 0), [0; 4]);
    c.eq("unbadged caller", label_of(nobody), Errno::EPERM as u64);
    let unknown_process: Cap<Endpoint> =
        world.namespace_cap(777).map(|n| n.0).unwrap_or(Cap::null());
    let stranger = unknown_process.call(MessageInfo::new(Label::NsStatistics as u64, 0, 0), [0; 4]);
    c.eq("unknown process", label_of(stranger), Errno::ESRCH as u64);
    if let Ok(fd) = open("/tmp/raw", O_CREAT | O_RDWR, 0o600) {
        let cap: Cap<Endpoint> = Cap::from_cptr(fd_slot(fd).unwrap_or(0));
        let big = cap.call(
            MessageInfo::new(Label::FdRead as u64, 1, 0),
            [1 << 40, 0, 0, 0],
        );
        c.eq("read past the window", label_of(big), Errno::EFAULT as u64);
        let ns_label = cap.call(MessageInfo::new(Label::NsPipe as u64, 0, 0), [0; 4]);
        c.eq(
            "namespace label on an fd",
            label_of(ns_label),
            Errno::ENOSYS as u64,
        );
        let ctl_label = cap.call(
            MessageInfo::new(Label::CtlProcessExit as u64, 1, 0),
            [1, 0, 0, 0],
        );
        c.eq(
            "control label on an fd",
            label_of(ctl_label),
            Errno::ENOSYS as u64,
        );
        let no_end = cap.call(MessageInfo::new(Label::FdPipeWriteEnd as u64, 0, 0), [0; 4]);
        c.eq(
            "write end of a file",
            label_of(no_end),
            Errno::EINVAL as u64,
        );
        let _ = close(fd);
        let _ = unlink("/tmp/raw");
    }
    // A flood of opens: EMFILE for one process, ENFILE for the server.
    let Ok(flooder) = world.identity(50, 0, 0, &[]) else {
        c.check("flooder identity", false, format_args!("refused"));
        return;
    };
    let mut opened = 0;
    let emfile = loop {
        match flooder.open(b"/dev/null", O_RDONLY, 0) {
            // The cap landed in the lowest free fd; drop our copy, the handle stays.
            Ok(fd) => {
                let _ = world
                    .alloc
                    .cnode
                    .delete(libsys::cap::SlotPath::at(fd_slot(fd).unwrap_or(0)));
                opened += 1;
            }
            Err(e) => break e,
        }
        if opened > 100 {
            break Errno::EIO;
        }
    };
    c.eq(
        "EMFILE after 64 opens",
        (emfile, opened),
        (Errno::EMFILE, fs_api::MAX_HANDLES_PER_PROCESS),
    );
    let mut enfile = Errno::EIO;
    let mut id = 51;
    'all: while id < 51 + 40 {
        if world.set_credentials(id, 0, 0, 0o022, &[]).is_err() {
            break;
        }
        let Ok(ns) = world.namespace_cap(id) else {
            break;
        };
        for _ in 0..fs_api::MAX_HANDLES_PER_PROCESS {
            match ns.open(b"/dev/null", O_RDONLY, 0) {
                Ok(fd) => {
                    let _ = world
                        .alloc
                        .cnode
                        .delete(libsys::cap::SlotPath::at(fd_slot(fd).unwrap_or(0)));
                }
                Err(e) => {
                    enfile = e;
                    break 'all;
                }
            }
        }
        world.drop_slot(ns.0.cptr());
        id += 1;
    }
    c.eq("ENFILE at the server's limit", enfile, Errno::ENFILE);
    for p in 50..=id {
        let _ = world.process_exit(p);
    }
    world.drop_slot(flooder.0.cptr());
    c.eq(
        "handles back to none",
        namespace().statistics().map(|s| s.handles),
        Ok(crate::out::handles()),
    );
}
