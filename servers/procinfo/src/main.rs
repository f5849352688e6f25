//! `procinfo`: everything this process is, one `key: value` line each, the tool to see
//! what an egg did (`hatch --egg 'umask 077; setgroups 4,5' procinfo`).
//!
//! From procsrv (`client::info`): pid, ppid, pgid, sid, uids, gids, groups, umask, every
//! rlimit, cwd, name, priority, affinity, the signal mask, ignored and pending signals.
//! From the file server: the controlling terminal (the terminal descriptor whose session
//! is ours, `TIOCGSID`) and its foreground group, and what each open descriptor is
//! (`fstat`, its open flags). From the kernel: each cap slot's kind, rights and badge
//! (`Identify`). From the start-up stack: argv and environ.
#![no_std]
#![no_main]

use core::fmt::Write;

use egg::{Resource, SignalSet};
use fs_api::mode::{S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG};
use libsys::cap::{Cap, Endpoint};
use libsys::fs::{self, terminal, Fd};
use libsys::object::CapKind;
use libsys::process::{self, Startup};
use procsrv_api::ProcessInfo;
use userland::Output;

libsys::entry!(main);

/// `a|b|c` names of the signals in `set`, or `none`.
fn signals(o: &mut Output, set: u64) {
    let _ = write!(o, "{set:#x}");
    let mut first = true;
    for signal in SignalSet(set).iter() {
        let _ = o.write_str(if first { " " } else { "|" });
        first = false;
        match SignalSet::NAMES.get(signal as usize - 1) {
            Some(name) => {
                let _ = o.write_str(name);
            }
            None => {
                let _ = write!(o, "SIG{signal}");
            }
        }
    }
    o.bytes(b"\n");
}

fn limit(o: &mut Output, value: u64) {
    if value == u64::MAX {
        let _ = o.write_str("unlimited");
    } else {
        let _ = write!(o, "{value}");
    }
}

fn from_procsrv(o: &mut Output, info: &ProcessInfo) {
    let _ = writeln!(o, "pid: {}", info.pid);
    let _ = writeln!(o, "ppid: {}", info.ppid);
    let _ = writeln!(o, "pgid: {}", info.pgid);
    let _ = writeln!(o, "sid: {}", info.sid);
    let [r, e, s] = info.uid;
    let _ = writeln!(o, "uids: real {r} effective {e} saved {s}");
    let [r, e, s] = info.gid;
    let _ = writeln!(o, "gids: real {r} effective {e} saved {s}");
    let _ = o.write_str("groups:");
    for group in &info.groups[..info.ngroups] {
        let _ = write!(o, " {group}");
    }
    let _ = writeln!(o, "\numask: {:04o}", info.umask);
    for (number, &(soft, hard)) in info.limits.iter().enumerate() {
        match Resource::from_number(number as u64) {
            Some(resource) => {
                let _ = write!(o, "{}: ", resource.name());
            }
            None => {
                let _ = write!(o, "rlimit {number}: ");
            }
        }
        limit(o, soft);
        o.bytes(b" ");
        limit(o, hard);
        o.bytes(b"\n");
    }
    o.bytes(b"cwd: ");
    o.bytes(&info.cwd[..info.cwd_len]);
    o.bytes(b"\nname: ");
    let name = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.name.len());
    o.bytes(&info.name[..name]);
    let _ = writeln!(o, "\npriority: {}", info.priority);
    let _ = writeln!(o, "affinity: {:#x}", info.affinity);
    o.bytes(b"signal mask: ");
    signals(o, info.sigmask);
    o.bytes(b"ignored signals: ");
    signals(o, info.sigignore);
    o.bytes(b"pending signals: ");
    signals(o, info.pending);
}

/// The controlling terminal: the first terminal descriptor whose session is ours.
fn controlling_terminal(o: &mut Output, info: &ProcessInfo) {
    o.bytes(b"controlling terminal: ");
    if !info.ctty {
        o.bytes(b"none\n");
        return;
    }
    for n in 0..process::MAX_FDS {
        let fd = Fd(n);
        if !fs::isatty(fd) || fs::ioctl(fd, terminal::TIOCGSID, 0) != Ok(info.sid) {
            continue;
        }
        let mut buf = [0u8; 32];
        o.bytes(userland::terminal_of(fd, &mut buf).unwrap_or(b"(a terminal)"));
        let _ = write!(o, " (fd {n})\nforeground group: ");
        match terminal::foreground_group(fd) {
            Ok(group) => {
                let _ = writeln!(o, "{group}");
            }
            Err(e) => {
                let _ = writeln!(o, "{}", e.name());
            }
        }
        return;
    }
    o.bytes(b"(its session has one; no descriptor of this process is it)\n");
}

fn descriptors(o: &mut Output) {
    for n in 0..process::MAX_FDS {
        let fd = Fd(n);
        let Some(slot) = fs::fd_slot(fd) else {
            continue;
        };
        if Cap::<Endpoint>::from_cptr(slot).identify().is_err() {
            continue;
        }
        let _ = write!(o, "fd {n}: ");
        let Ok(stat) = fs::fstat(fd) else {
            o.bytes(b"(not the file server's)\n");
            continue;
        };
        let mut buf = [0u8; 32];
        match stat.mode & S_IFMT {
            S_IFCHR => match userland::terminal_name(stat.rdev, &mut buf) {
                Some(name) => {
                    o.bytes(b"terminal ");
                    o.bytes(name);
                }
                None => {
                    let _ = write!(o, "device {:#x}", stat.rdev);
                }
            },
            S_IFIFO => {
                let _ = write!(o, "pipe {:#x}", stat.inode);
            }
            S_IFDIR => {
                let _ = write!(o, "directory, inode {}", stat.inode);
            }
            S_IFREG => {
                let _ = write!(o, "file, inode {}, {} bytes", stat.inode, stat.size);
            }
            other => {
                let _ = write!(o, "type {other:#o}, inode {}", stat.inode);
            }
        }
        if let Ok(flags) = fs::get_flags(fd) {
            let access = match flags & fs::O_ACCMODE {
                fs::O_RDONLY => "O_RDONLY",
                fs::O_WRONLY => "O_WRONLY",
                _ => "O_RDWR",
            };
            let _ = write!(o, ", {access}");
            if flags & fs::O_APPEND != 0 {
                o.bytes(b"|O_APPEND");
            }
        }
        o.bytes(b"\n");
    }
}

/// What the fixed slots hold (docs/userspace.md).
fn slot_role(slot: u64) -> &'static str {
    match slot {
        process::SLOT_TCB => " (own TCB)",
        process::SLOT_CNODE => " (own CNode)",
        process::SLOT_VSPACE => " (own VSpace)",
        process::SLOT_IPC_BUFFER => " (IPC buffer)",
        process::SLOT_PROCSRV => " (procsrv)",
        process::SLOT_FS => " (file server)",
        process::SLOT_DEBUG_CONSOLE => " (debug console)",
        process::SLOT_MEMORY => " (own memory)",
        s if (process::FIRST_BIND_SLOT..process::FD_SLOT_BASE).contains(&s) => " (binding)",
        s if (process::FD_SLOT_BASE..process::FIRST_FREE_SLOT).contains(&s) => " (fd)",
        _ => "",
    }
}

fn rights(o: &mut Output, bits: u64) {
    const NAMES: [&str; 4] = ["READ", "WRITE", "GRANT", "GRANT_REPLY"];
    let mut first = true;
    for (i, name) in NAMES.iter().enumerate() {
        if bits & (1 << i) != 0 {
            let _ = o.write_str(if first { "" } else { "|" });
            let _ = o.write_str(name);
            first = false;
        }
    }
    if first {
        o.bytes(b"-");
    }
}

fn cap_slots(o: &mut Output) {
    for slot in 1..1u64 << process::CNODE_RADIX {
        let Ok(id) = Cap::<Endpoint>::from_cptr(slot).identify() else {
            continue;
        };
        if id.kind == 0 {
            continue;
        }
        let _ = write!(o, "cap {slot}: ");
        match id.cap_kind() {
            Some(kind) if kind != CapKind::Null => {
                let _ = write!(o, "{kind:?}");
            }
            _ => {
                let _ = write!(o, "kind {}", id.kind);
            }
        }
        o.bytes(b" ");
        rights(o, id.rights);
        if id.badge != 0 {
            let _ = write!(o, " badge {:#x}", id.badge);
        }
        let _ = writeln!(o, "{}", slot_role(slot));
    }
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start: Startup = unsafe { userland::start(arg) };
    let mut o = Output::new();
    match libsys::process::client::info() {
        Ok(info) => {
            from_procsrv(&mut o, &info);
            controlling_terminal(&mut o, &info);
        }
        Err(e) => {
            let _ = writeln!(o, "procsrv: {}", e.name());
        }
    }
    descriptors(&mut o);
    cap_slots(&mut o);
    for (i, a) in start.args().enumerate() {
        let _ = write!(o, "argv[{i}]: ");
        o.bytes(a);
        o.bytes(b"\n");
    }
    for e in start.env() {
        o.bytes(b"environ: ");
        o.bytes(e);
        o.bytes(b"\n");
    }
    o.flush();
    userland::exit(0)
}
