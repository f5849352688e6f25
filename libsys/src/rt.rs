//! Program entry and panic handling for userspace programs.
