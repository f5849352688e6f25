use super::*;
use fs_api::flags::O_APPEND;

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/hsh\n";
const GROUP: &[u8] = b"root:x:0:\n";
static HELLO: [u8; 4] = *b"\x7fELF";

fn tree() -> Fs {
    Fs::standard(1 << 30, &[(b"hello", &HELLO)], PASSWD, GROUP).unwrap()
}

fn at(who: &Credentials) -> Caller<'_> {
    Caller { who, cwd: ROOT }
}

#[test]
fn the_standard_tree_has_bin_dev_tmp_and_etc() {
    let fs = tree();
    let root = Credentials::root();
    for path in [
        &b"/bin/hello"[..],
        b"/dev/null",
        b"/dev/console",
        b"/tmp",
        b"/etc/passwd",
    ] {
        fs.lookup(at(&root), path).unwrap();
    }
    let tmp = fs.stat(fs.lookup(at(&root), b"/tmp").unwrap()).unwrap();
    assert_eq!(tmp.mode, fs_api::mode::S_IFDIR | 0o1777);
    let hello = fs
        .stat(fs.lookup(at(&root), b"/bin/hello").unwrap())
        .unwrap();
    assert_eq!((hello.size, hello.mode & 0o777), (4, 0o555));
}

#[test]
fn create_write_read_seek_and_append() {
    let mut fs = tree();
    let alice = Credentials::user(1000, 1000);
    let (id, created) = fs
        .open(at(&alice), b"/tmp/a", O_CREAT | O_RDWR, 0o666)
        .unwrap();
    assert!(created);
    assert_eq!(
        fs.stat(id).unwrap().mode & 0o777,
        0o644,
        "umask 022 applies"
    );
    assert_eq!(fs.write(id, 0, false, b"hello world").unwrap(), (11, 11));
    assert_eq!(fs.write(id, 6, false, b"there").unwrap(), (5, 11));
    assert_eq!(fs.write(id, 0, true, b"!").unwrap(), (1, 12));
    let mut out = [0u8; 32];
    let n = fs.read(id, 0, &mut out).unwrap();
    assert_eq!(&out[..n], b"hello there!");
    assert_eq!(fs.read(id, 100, &mut out).unwrap(), 0);
    // A write past the end leaves a hole of zeros.
    fs.write(id, 14, false, b"x").unwrap();
    let n = fs.read(id, 11, &mut out).unwrap();
    assert_eq!(&out[..n], b"!\0\0x");
    assert_eq!(fs.file_bytes(), 15);
    let (again, created) = fs
        .open(at(&alice), b"/tmp/a", O_CREAT | O_RDWR | O_APPEND, 0)
        .unwrap();
    assert!(!created && again == id);
    assert_eq!(
        fs.open(at(&alice), b"/tmp/a", O_CREAT | O_EXCL | O_RDWR, 0o600),
        Err(Errno::EEXIST)
    );
}

#[test]
fn bad_flags_and_modes_are_refused() {
    let mut fs = tree();
    let root = Credentials::root();
    assert_eq!(fs.open(at(&root), b"/tmp", 3, 0), Err(Errno::EINVAL));
    assert_eq!(fs.open(at(&root), b"/tmp", 1 << 40, 0), Err(Errno::EINVAL));
    assert_eq!(
        fs.open(at(&root), b"/tmp/x", O_CREAT | O_WRONLY, 0o10000),
        Err(Errno::EINVAL)
    );
    assert_eq!(fs.mkdir(at(&root), b"/tmp/d", 1 << 20), Err(Errno::EINVAL));
}

#[test]
fn truncate_shrinks_and_grows_with_zeros() {
    let mut fs = tree();
    let root = Credentials::root();
    let (id, _) = fs
        .open(at(&root), b"/tmp/t", O_CREAT | O_RDWR, 0o600)
        .unwrap();
    fs.write(id, 0, false, b"abcdef").unwrap();
    fs.truncate(at(&root), b"/tmp/t", 2).unwrap();
    fs.truncate_node(id, 4).unwrap();
    let mut out = [9u8; 8];
    assert_eq!(fs.read(id, 0, &mut out).unwrap(), 4);
    assert_eq!(&out[..4], b"ab\0\0");
    assert_eq!(fs.truncate_node(id, MAX_FILE_SIZE + 1), Err(Errno::EFBIG));
    let (_, _) = fs
        .open(at(&root), b"/tmp/t", O_TRUNC | O_WRONLY, 0)
        .unwrap();
    assert_eq!(fs.stat(id).unwrap().size, 0);
    assert_eq!(fs.truncate(at(&root), b"/tmp", 0), Err(Errno::EISDIR));
}

#[test]
fn path_errors() {
    let mut fs = tree();
    let root = Credentials::root();
    assert_eq!(fs.lookup(at(&root), b""), Err(Errno::ENOENT));
    assert_eq!(fs.lookup(at(&root), b"/nope"), Err(Errno::ENOENT));
    assert_eq!(fs.lookup(at(&root), b"/etc/passwd/x"), Err(Errno::ENOTDIR));
    assert_eq!(fs.lookup(at(&root), b"/etc/passwd/"), Err(Errno::ENOTDIR));
    assert_eq!(
        fs.lookup(at(&root), &[b'a'; fs_api::PATH_MAX + 1]),
        Err(Errno::ENAMETOOLONG)
    );
    // `..` above the root stays at the root, as POSIX has it.
    assert_eq!(
        fs.lookup(at(&root), b"/../../tmp"),
        fs.lookup(at(&root), b"/tmp")
    );
    let tmp = fs.lookup(at(&root), b"/tmp").unwrap();
    let from_tmp = Caller {
        who: &root,
        cwd: tmp,
    };
    fs.mkdir(from_tmp, b"rel", 0o755).unwrap();
    assert_eq!(
        fs.lookup(from_tmp, b"rel/../rel"),
        fs.lookup(at(&root), b"/tmp/rel")
    );
    assert_eq!(fs.mkdir(at(&root), b"/", 0o755), Err(Errno::EINVAL));
}

#[test]
fn bin_is_read_only() {
    let mut fs = tree();
    let root = Credentials::root();
    assert_eq!(
        fs.open(at(&root), b"/bin/hello", O_WRONLY, 0),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fs.open(at(&root), b"/bin/new", O_CREAT | O_WRONLY, 0o644),
        Err(Errno::EROFS)
    );
    assert_eq!(fs.unlink(at(&root), b"/bin/hello"), Err(Errno::EROFS));
    assert_eq!(fs.mkdir(at(&root), b"/bin/d", 0o755), Err(Errno::EROFS));
    let (id, _) = fs.open(at(&root), b"/bin/hello", O_RDONLY, 0).unwrap();
    let mut out = [0u8; 4];
    assert_eq!(fs.read(id, 0, &mut out).unwrap(), 4);
    assert_eq!(&out, b"\x7fELF");
}

#[test]
fn devices_behave_as_on_linux() {
    let mut fs = tree();
    let root = Credentials::root();
    let null = fs.lookup(at(&root), b"/dev/null").unwrap();
    let zero = fs.lookup(at(&root), b"/dev/zero").unwrap();
    let full = fs.lookup(at(&root), b"/dev/full").unwrap();
    let mut out = [7u8; 16];
    assert_eq!(fs.read(null, 0, &mut out).unwrap(), 0);
    assert_eq!(fs.write(null, 0, false, b"gone").unwrap().0, 4);
    assert_eq!(fs.read(zero, 0, &mut out).unwrap(), 16);
    assert_eq!(out, [0; 16]);
    assert_eq!(fs.write(full, 0, false, b"x"), Err(Errno::ENOSPC));
    assert!(!fs.is_seekable(null));
    assert_eq!(fs.stat(null).unwrap().rdev, 0x103);
}

#[test]
fn pty_nodes_come_and_go_under_dev_pts() {
    let mut fs = tree();
    let root = Credentials::root();
    let pts = fs.lookup(at(&root), b"/dev/pts").unwrap();
    let nodes = fs.node_count();
    let id = fs
        .add_device(
            pts,
            b"0",
            Device::PtySlave(0),
            0o620,
            &Credentials::user(7, 5),
        )
        .unwrap();
    assert_eq!(fs.lookup(at(&root), b"/dev/pts/0"), Ok(id));
    assert_eq!(fs.device(id), Some(Device::PtySlave(0)));
    assert_eq!(fs.stat(id).unwrap().uid, 7);
    let (open, _) = fs.open(at(&root), b"/dev/pts/0", O_RDWR, 0).unwrap();
    fs.remove_entry(pts, b"0");
    assert_eq!(fs.lookup(at(&root), b"/dev/pts/0"), Err(Errno::ENOENT));
    assert!(fs.node(open).is_ok(), "open: still there");
    fs.close(open);
    assert_eq!(fs.node_count(), nodes);
    assert!(Device::Ptmx.is_terminal() && !Device::Null.is_terminal());
}

#[test]
fn permissions_for_three_users() {
    let mut fs = tree();
    let root = Credentials::root();
    let alice = Credentials::user(1000, 100);
    let bob = Credentials::user(1001, 100);
    let eve = Credentials::user(1002, 200);
    let (id, _) = fs
        .open(at(&alice), b"/tmp/shared", O_CREAT | O_WRONLY, 0o640)
        .unwrap();
    fs.close(id);
    assert!(fs.open(at(&alice), b"/tmp/shared", O_RDWR, 0).is_ok());
    assert!(fs.open(at(&bob), b"/tmp/shared", O_RDONLY, 0).is_ok());
    assert_eq!(
        fs.open(at(&bob), b"/tmp/shared", O_WRONLY, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(
        fs.open(at(&eve), b"/tmp/shared", O_RDONLY, 0),
        Err(Errno::EACCES)
    );
    assert!(fs.open(at(&root), b"/tmp/shared", O_RDWR, 0).is_ok());
    // A private directory cannot be searched by others.
    fs.mkdir(at(&alice), b"/tmp/private", 0o700).unwrap();
    fs.open(at(&alice), b"/tmp/private/f", O_CREAT | O_WRONLY, 0o666)
        .unwrap();
    assert_eq!(fs.lookup(at(&bob), b"/tmp/private/f"), Err(Errno::EACCES));
    assert_eq!(
        fs.open(at(&bob), b"/tmp/private/g", O_CREAT | O_WRONLY, 0o666),
        Err(Errno::EACCES)
    );
    // The sticky /tmp: bob may not remove alice's file, alice and root may.
    assert_eq!(fs.unlink(at(&bob), b"/tmp/shared"), Err(Errno::EPERM));
    assert_eq!(
        fs.rename(at(&bob), b"/tmp/shared", b"/tmp/x"),
        Err(Errno::EPERM)
    );
    fs.unlink(at(&alice), b"/tmp/shared").unwrap();
    // /root is root's alone; /etc/passwd is readable, not writable.
    assert_eq!(fs.lookup(at(&eve), b"/root/x"), Err(Errno::EACCES));
    assert!(fs.open(at(&eve), b"/etc/passwd", O_RDONLY, 0).is_ok());
    assert_eq!(
        fs.open(at(&eve), b"/etc/passwd", O_WRONLY, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(fs.mkdir(at(&eve), b"/etc/x", 0o755), Err(Errno::EACCES));
}

#[test]
fn mkdir_rmdir_and_their_errors() {
    let mut fs = tree();
    let root = Credentials::root();
    let d = fs.mkdir(at(&root), b"/tmp/d", 0o755).unwrap();
    let tmp_links = fs
        .stat(fs.lookup(at(&root), b"/tmp").unwrap())
        .unwrap()
        .links;
    assert_eq!(fs.mkdir(at(&root), b"/tmp/d", 0o755), Err(Errno::EEXIST));
    fs.mkdir(at(&root), b"/tmp/d/e", 0o755).unwrap();
    assert_eq!(fs.stat(d).unwrap().links, 3);
    assert_eq!(fs.rmdir(at(&root), b"/tmp/d"), Err(Errno::ENOTEMPTY));
    assert_eq!(fs.unlink(at(&root), b"/tmp/d"), Err(Errno::EISDIR));
    fs.rmdir(at(&root), b"/tmp/d/e").unwrap();
    fs.rmdir(at(&root), b"/tmp/d/").unwrap();
    let tmp = fs.stat(fs.lookup(at(&root), b"/tmp").unwrap()).unwrap();
    assert_eq!(tmp.links, tmp_links - 1);
    assert_eq!(fs.rmdir(at(&root), b"/etc/passwd"), Err(Errno::ENOTDIR));
    assert_eq!(fs.rmdir(at(&root), b"/"), Err(Errno::EBUSY));
    assert_eq!(fs.rmdir(at(&root), b"/tmp/."), Err(Errno::EINVAL));
    assert_eq!(fs.rmdir(at(&root), b"/tmp/none"), Err(Errno::ENOENT));
}

#[test]
fn rename_moves_replaces_and_refuses_loops() {
    let mut fs = tree();
    let root = Credentials::root();
    let (a, _) = fs
        .open(at(&root), b"/tmp/a", O_CREAT | O_WRONLY, 0o644)
        .unwrap();
    fs.write(a, 0, false, b"A").unwrap();
    let (b, _) = fs
        .open(at(&root), b"/tmp/b", O_CREAT | O_WRONLY, 0o644)
        .unwrap();
    fs.close(b);
    fs.rename(at(&root), b"/tmp/a", b"/tmp/b").unwrap();
    assert_eq!(fs.lookup(at(&root), b"/tmp/a"), Err(Errno::ENOENT));
    assert_eq!(fs.lookup(at(&root), b"/tmp/b"), Ok(a));
    assert!(fs.node(b).is_err(), "the replaced file is gone");
    fs.mkdir(at(&root), b"/tmp/d", 0o755).unwrap();
    fs.mkdir(at(&root), b"/tmp/d/sub", 0o755).unwrap();
    assert_eq!(
        fs.rename(at(&root), b"/tmp/d", b"/tmp/d/sub/x"),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fs.rename(at(&root), b"/tmp/d", b"/tmp/b"),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        fs.rename(at(&root), b"/tmp/b", b"/tmp/d"),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        fs.rename(at(&root), b"/tmp/none", b"/tmp/x"),
        Err(Errno::ENOENT)
    );
    fs.rename(at(&root), b"/tmp/d", b"/tmp/e").unwrap();
    assert!(fs.lookup(at(&root), b"/tmp/e/sub/..").is_ok());
    assert_eq!(
        fs.lookup(at(&root), b"/tmp/e/sub/.."),
        fs.lookup(at(&root), b"/tmp/e")
    );
    fs.rename(at(&root), b"/tmp/b", b"/tmp/b").unwrap();
}

#[test]
fn an_unlinked_open_file_lives_until_closed() {
    let mut fs = tree();
    let root = Credentials::root();
    let nodes = fs.node_count();
    let (id, _) = fs
        .open(at(&root), b"/tmp/f", O_CREAT | O_RDWR, 0o600)
        .unwrap();
    fs.write(id, 0, false, b"still here").unwrap();
    fs.unlink(at(&root), b"/tmp/f").unwrap();
    let mut out = [0u8; 10];
    assert_eq!(fs.read(id, 0, &mut out).unwrap(), 10);
    assert_eq!(fs.stat(id).unwrap().links, 0);
    fs.close(id);
    assert!(fs.node(id).is_err());
    assert_eq!(fs.node_count(), nodes);
    assert_eq!(fs.file_bytes(), 0);
}

#[test]
fn readdir_lists_dot_dotdot_then_names_in_order() {
    let mut fs = tree();
    let root = Credentials::root();
    fs.mkdir(at(&root), b"/tmp/z", 0o755).unwrap();
    fs.open(at(&root), b"/tmp/a", O_CREAT | O_WRONLY, 0o644)
        .unwrap();
    let tmp = fs.lookup(at(&root), b"/tmp").unwrap();
    let names: Vec<Vec<u8>> = (0..)
        .map_while(|i| fs.readdir(tmp, i).unwrap())
        .map(|e| e.name)
        .collect();
    assert_eq!(names, [&b"."[..], b"..", b"a", b"z"]);
    assert_eq!(
        fs.readdir(tmp, 3).unwrap().unwrap().kind,
        FileKind::Directory
    );
    assert_eq!(fs.readdir(tmp, u64::MAX).unwrap(), None);
    let passwd = fs.lookup(at(&root), b"/etc/passwd").unwrap();
    assert_eq!(fs.readdir(passwd, 0), Err(Errno::ENOTDIR));
}

#[test]
fn running_out_of_nodes_answers_enospc() {
    let mut fs = Fs::new(1 << 20);
    let root = Credentials::root();
    let mut made = 1;
    let result = loop {
        match fs.mkdir(at(&root), alloc::format!("/{made}").as_bytes(), 0o755) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!((result, fs.node_count()), (Errno::ENOSPC, MAX_NODES));
}

#[test]
fn the_space_limit_answers_enospc_and_file_size_efbig() {
    let mut fs = Fs::new(100);
    let root = Credentials::root();
    fs.mkdir(at(&root), b"/t", 0o777).unwrap();
    let (id, _) = fs
        .open(at(&root), b"/t/f", O_CREAT | O_RDWR, 0o600)
        .unwrap();
    assert_eq!(fs.write(id, 0, false, &[1; 100]).unwrap().0, 100);
    assert_eq!(fs.write(id, 100, false, &[1]), Err(Errno::ENOSPC));
    assert_eq!(fs.write(id, MAX_FILE_SIZE, false, &[1]), Err(Errno::EFBIG));
    assert_eq!(fs.write(id, u64::MAX, false, &[1]), Err(Errno::EFBIG));
    assert_eq!(fs.truncate_node(id, 101), Err(Errno::ENOSPC));
}
