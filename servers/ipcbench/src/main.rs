//! Placeholder.
#![no_std]
#![no_main]

libsys::entry!(main);

fn main(_boot_info: u64) {}
