//! Hatchery's userspace runtime and **the** ABI.
//!
//! Everything that the kernel and userspace must agree on lives here and only here:
//! system call numbers ([`abi::Syscall`]), invocation labels ([`abi::Label`]), error codes
//! ([`abi::Error`]), the message-info word ([`abi::MessageInfo`]) and the layout of the
//! boot info page ([`bootinfo`]). The kernel depends on this crate for those definitions;
//! userspace programs additionally enable the `runtime` feature for the system call stubs,
//! the program entry point and `print!`.
#![no_std]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
pub mod alloc;
pub mod bootinfo;
pub mod ipc;
pub mod loader;
pub mod object;
pub mod process;

#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod cap;
#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod fs;
#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod rt;
#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod syscall;
#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod vspace;
