//! `ls [-l] [PATH...]`: the entries of each directory (or the name of a file), one a
//! line, `.` and `..` left out; `-l` adds the kind and mode (`drwxr-xr-x`), the owner's
//! uid and gid and the size. Without a path, the working directory.
#![no_std]
#![no_main]

use libsys::fs::{self, Fd, Stat, O_DIRECTORY, O_RDONLY};
use userland::{decimal, out};

libsys::entry!(main);

fn mode_text(mode: u64) -> [u8; 10] {
    let kind = match mode & 0o170000 {
        0o040000 => b'd',
        0o020000 => b'c',
        0o010000 => b'p',
        _ => b'-',
    };
    let mut text = [b'-'; 10];
    text[0] = kind;
    for (i, c) in b"rwxrwxrwx".iter().enumerate() {
        if mode & (0o400 >> i) != 0 {
            text[1 + i] = *c;
        }
    }
    text
}

fn long_line(stat: &Stat, name: &[u8]) {
    let mut buf = [0u8; 20];
    out(&mode_text(stat.mode));
    out(b" ");
    out(decimal(stat.uid, &mut buf));
    out(b" ");
    out(decimal(stat.gid, &mut buf));
    out(b" ");
    let size = decimal(stat.size, &mut buf);
    for _ in size.len()..8 {
        out(b" ");
    }
    out(size);
    out(b" ");
    out(name);
    out(b"\n");
}

fn list(path: &[u8], long: bool) -> Result<(), fs::Errno> {
    let stat = fs::namespace().stat(path)?;
    if stat.mode & 0o170000 != 0o040000 {
        if long {
            long_line(&stat, path);
        } else {
            out(path);
            out(b"\n");
        }
        return Ok(());
    }
    let dir: Fd = fs::namespace().open(path, O_RDONLY | O_DIRECTORY, 0)?;
    let mut name = [0u8; 256];
    let mut full = [0u8; 1024];
    let mut index = 0;
    while let Some(entry) = fs::readdir(dir, index, &mut name)? {
        index += 1;
        let n = &name[..entry.name_len.min(name.len())];
        if n == b"." || n == b".." {
            continue;
        }
        if long {
            // The entry's own path, for its stat.
            let sep = usize::from(!path.ends_with(b"/"));
            let len = path.len() + sep + n.len();
            if len <= full.len() {
                full[..path.len()].copy_from_slice(path);
                if sep == 1 {
                    full[path.len()] = b'/';
                }
                full[path.len() + sep..len].copy_from_slice(n);
                if let Ok(stat) = fs::namespace().stat(&full[..len]) {
                    long_line(&stat, n);
                    continue;
                }
            }
        }
        out(n);
        out(b"\n");
    }
    let _ = fs::close(dir);
    Ok(())
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let mut long = false;
    let mut paths = 0;
    for a in start.args().skip(1) {
        if a == b"-l" {
            long = true;
        } else {
            paths += 1;
        }
    }
    let mut status = 0;
    for path in start.args().skip(1).filter(|a| *a != b"-l") {
        if let Err(e) = list(path, long) {
            userland::complain("ls", path, e);
            status = 1;
        }
    }
    if paths == 0 {
        if let Err(e) = list(b".", long) {
            userland::complain("ls", b".", e);
            status = 1;
        }
    }
    userland::exit(status)
}
