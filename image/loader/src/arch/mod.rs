//! Hardware access: entry assembly, serial port, IDT, fatal stop, physical memory, handover.

pub mod entry;
pub mod fatal;
pub mod handover;
pub mod idt;
pub mod physical;
pub mod port;
pub mod serial;
