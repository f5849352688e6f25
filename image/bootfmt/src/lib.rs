//! Boot formats (placeholder).
#![no_std]
