//! The eggs the benchmark and the instruction-count example measure.

use std::hint::black_box;

use egg::{decode, validate, Egg, Rights, SignalSet, O_RDONLY, O_RDWR};

/// The three benchmark eggs, by name.
pub fn all() -> [(&'static str, Vec<u8>); 3] {
    [
        ("10-op login shell", login_shell()),
        ("64 KiB mixed", mixed_64k()),
        ("64 KiB small ops", small_ops_64k()),
    ]
}

/// A login shell on a terminal: the egg a getty-like parent would send (10 ops).
fn login_shell() -> Vec<u8> {
    Egg::new()
        .setsid()
        .open(0, "/dev/pts/0", O_RDWR, 0)
        .dup2(0, 1)
        .dup2(0, 2)
        .setctty(0)
        .tcsetpgrp(0, 0)
        .chdir("/home/alice")
        .cap(10, 0, Rights::READ | Rights::WRITE | Rights::GRANT, 0)
        .setenv("TERM", "xterm-256color")
        .setname("sh")
        .build()
        .unwrap()
}

/// A 64 KiB egg of mixed ops: caps, opens, environment variables with 64-byte values.
fn mixed_64k() -> Vec<u8> {
    let mut egg = Egg::new().setsid().sigdefault(SignalSet::ALL).clearenv();
    let mut i = 0u32;
    let value = "v".repeat(64);
    while egg.len() < 64 * 1024 {
        egg = egg
            .cap(i, i % 8, Rights::READ | Rights::WRITE, u64::from(i))
            .open(i % 1000 + 3, format!("/srv/data/file{i}"), O_RDONLY, 0)
            .setenv(format!("VAR{i}"), &value);
        i += 1;
    }
    egg.build().unwrap()
}

/// A 64 KiB egg of the smallest ops only (`dup2`, `close`): the per-op worst case.
fn small_ops_64k() -> Vec<u8> {
    let mut egg = Egg::new();
    let mut i = 0u32;
    while egg.len() < 64 * 1024 {
        egg = egg.dup2(i % 100, i % 100 + 1).close(i % 100);
        i += 1;
    }
    egg.build().unwrap()
}

#[inline(never)]
pub fn validate_and_decode(program: &[u8]) -> usize {
    let count = validate(program).unwrap();
    for op in decode(program) {
        black_box(op.unwrap());
    }
    count
}
