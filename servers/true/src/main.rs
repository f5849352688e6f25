//! `true`: exits 0.
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(_arg: u64) {
    userland::exit(0)
}
