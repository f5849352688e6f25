//! Tests that cut across modules: every opcode end to end, every error kind, the
//! interpreter driver, the assembler's errors, and the docs.

mod asm_errors;
mod decode_errors;
mod docs;
mod every_opcode;
mod run_driver;

use std::string::{String, ToString};
use std::vec::Vec;

use crate::{Hatch, IdList, Op, OpenFlags, Resource, Rights, SignalSet, Str};

/// `"05 00 01"` as bytes.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// A `Hatch` that records each call in the text form, and fails on request.
#[derive(Default)]
pub(crate) struct Recorder {
    pub calls: Vec<String>,
    /// Fail the call with this index (counting from 0).
    pub fail_at: Option<usize>,
}

/// The error `Recorder` returns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused;

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("refused")
    }
}

impl Recorder {
    fn record(&mut self, op: Op<'_>) -> Result<(), Refused> {
        if self.fail_at == Some(self.calls.len()) {
            return Err(Refused);
        }
        self.calls.push(op.to_string());
        Ok(())
    }
}

impl Hatch for Recorder {
    type Error = Refused;
    fn open(&mut self, fd: u32, path: Str<'_>, flags: OpenFlags, mode: u32) -> Result<(), Refused> {
        self.record(Op::Open {
            fd,
            path,
            flags,
            mode,
        })
    }
    fn dup2(&mut self, from: u32, to: u32) -> Result<(), Refused> {
        self.record(Op::Dup2 { from, to })
    }
    fn close(&mut self, fd: u32) -> Result<(), Refused> {
        self.record(Op::Close { fd })
    }
    fn closefrom(&mut self, fd: u32) -> Result<(), Refused> {
        self.record(Op::Closefrom { fd })
    }
    fn setpgid(&mut self, pgid: u32) -> Result<(), Refused> {
        self.record(Op::Setpgid { pgid })
    }
    fn setsid(&mut self) -> Result<(), Refused> {
        self.record(Op::Setsid {})
    }
    fn setctty(&mut self, fd: u32) -> Result<(), Refused> {
        self.record(Op::Setctty { fd })
    }
    fn tcsetpgrp(&mut self, fd: u32, pgid: u32) -> Result<(), Refused> {
        self.record(Op::Tcsetpgrp { fd, pgid })
    }
    fn chdir(&mut self, path: Str<'_>) -> Result<(), Refused> {
        self.record(Op::Chdir { path })
    }
    fn fchdir(&mut self, fd: u32) -> Result<(), Refused> {
        self.record(Op::Fchdir { fd })
    }
    fn cap(&mut self, slot: u32, source: u32, rights: Rights, badge: u64) -> Result<(), Refused> {
        self.record(Op::Cap {
            slot,
            source,
            rights,
            badge,
        })
    }
    fn bind(&mut self, path: Str<'_>, source: u32) -> Result<(), Refused> {
        self.record(Op::Bind { path, source })
    }
    fn sigsetmask(&mut self, signals: SignalSet) -> Result<(), Refused> {
        self.record(Op::Sigsetmask { signals })
    }
    fn sigdefault(&mut self, signals: SignalSet) -> Result<(), Refused> {
        self.record(Op::Sigdefault { signals })
    }
    fn sigignore(&mut self, signals: SignalSet) -> Result<(), Refused> {
        self.record(Op::Sigignore { signals })
    }
    fn setuid(&mut self, uid: u32) -> Result<(), Refused> {
        self.record(Op::Setuid { uid })
    }
    fn setgid(&mut self, gid: u32) -> Result<(), Refused> {
        self.record(Op::Setgid { gid })
    }
    fn setgroups(&mut self, groups: IdList<'_>) -> Result<(), Refused> {
        self.record(Op::Setgroups { groups })
    }
    fn umask(&mut self, mask: u32) -> Result<(), Refused> {
        self.record(Op::Umask { mask })
    }
    fn setrlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> Result<(), Refused> {
        self.record(Op::Setrlimit {
            resource,
            soft,
            hard,
        })
    }
    fn setpriority(&mut self, priority: u8) -> Result<(), Refused> {
        self.record(Op::Setpriority { priority })
    }
    fn setaffinity(&mut self, cpus: u64) -> Result<(), Refused> {
        self.record(Op::Setaffinity { cpus })
    }
    fn setname(&mut self, name: Str<'_>) -> Result<(), Refused> {
        self.record(Op::Setname { name })
    }
    fn setenv(&mut self, name: Str<'_>, value: Str<'_>) -> Result<(), Refused> {
        self.record(Op::Setenv { name, value })
    }
    fn unsetenv(&mut self, name: Str<'_>) -> Result<(), Refused> {
        self.record(Op::Unsetenv { name })
    }
    fn clearenv(&mut self) -> Result<(), Refused> {
        self.record(Op::Clearenv {})
    }
    fn start_suspended(&mut self) -> Result<(), Refused> {
        self.record(Op::StartSuspended {})
    }
}
