//! `id`: this process's credentials as procsrv keeps them, in the form of POSIX `id`
//! without names: `uid=R euid=E suid=S gid=R egid=E sgid=S groups=G,...`.
#![no_std]
#![no_main]

use userland::{out, out_decimal};

libsys::entry!(main);

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let _start = unsafe { userland::start(arg) };
    let info = match libsys::process::client::info() {
        Ok(info) => info,
        Err(e) => {
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"id: ");
            let _ = userland::write_all(libsys::fs::Fd::STDERR, e.name().as_bytes());
            let _ = userland::write_all(libsys::fs::Fd::STDERR, b"\n");
            userland::exit(1)
        }
    };
    let fields: [(&[u8], u32); 6] = [
        (b"uid=", info.uid[0]),
        (b" euid=", info.uid[1]),
        (b" suid=", info.uid[2]),
        (b" gid=", info.gid[0]),
        (b" egid=", info.gid[1]),
        (b" sgid=", info.gid[2]),
    ];
    for (name, value) in fields {
        out(name);
        out_decimal(value.into());
    }
    out(b" groups=");
    for (i, group) in info.groups[..info.ngroups].iter().enumerate() {
        if i > 0 {
            out(b",");
        }
        out_decimal((*group).into());
    }
    out(b"\n");
    userland::exit(0)
}
