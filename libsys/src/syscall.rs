//! System call stubs.
