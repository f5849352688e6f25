//! Pure kernel logic, tested on the host.
#![no_std]
