//! The file server's logic, free of system calls so that `cargo test` runs it on the host.
//!
//! - [`path`]: splitting and checking paths (PATH_MAX, NAME_MAX, empty paths).
//! - [`perm`]: credentials and POSIX permission checks.
//! - [`fs`]: the namespace: a tree of nodes (RAM directories and files, read-only files of
//!   the boot archive, devices) with open, stat, mkdir, unlink, rmdir, rename, truncate,
//!   readdir, read and write.
//! - [`pipe`]: the ring buffer of a pipe.
//! - [`table`]: open file descriptions and the handles (fd caps) processes hold on them,
//!   with the per-process and global limits.
//!
//! `servers/fsrv` adds the IPC: badges, windows, blocking, Reply objects.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod fs;
pub mod path;
pub mod perm;
pub mod pipe;
pub mod table;

pub use fs_api::Errno;
