//! The egg byte code (placeholder; see issue 3).
#![no_std]
