//! Host side of Hatchery's boot images.
//!
//! Everything here is pure or touches only the paths it is given, so `cargo test` covers it
//! without QEMU, xorriso or a bootloader installed. Running the external tools (xorriso,
//! grub-mkrescue, `limine bios-install`) is left to `xtask`; this crate builds their command
//! lines.
//!
//! Modules:
//! - [`archive`]: the boot archive (cpio newc: a `manifest` plus `bin/<program>` ELFs).
//!   Both cpio files are written with `bootfmt`'s `CpioWriter`, the format's one writer.
//! - [`bundle`]: the direct-boot loader's initrd (cpio newc: `kernel` and `archive`).
//! - [`iso`]: an ISO tree, the list of files to lay out before making an ISO.
//! - [`grub`]: `grub.cfg` and the GRUB ISO tree (loader + kernel + archive as modules).
//! - [`limine`]: `limine.conf`, the Limine ISO tree, finding Limine's binaries, the pin of
//!   the downloadable release and checking a download against it.
//! - [`mutate`]: deliberately broken images for the boot tests (bad ELF magic, truncation,
//!   an unsupported Limine base revision).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod archive;
pub mod bundle;
pub mod grub;
pub mod iso;
pub mod limine;
pub mod mutate;

#[cfg(test)]
mod testdir;

/// Permission bits of data files in the archives.
const MODE_FILE: u32 = 0o644;
/// Permission bits of ELF files in the archives.
const MODE_EXECUTABLE: u32 = 0o755;

/// Reads a cpio archive back with `bootfmt`'s reader: (path, mode, data) per entry.
#[cfg(test)]
fn cpio_entries(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    bootfmt::cpio::CpioArchive::new(bytes)
        .entries()
        .map(|entry| {
            let entry = entry.expect("a well-formed archive");
            (
                entry.path().to_string(),
                entry.mode(),
                entry.data().to_vec(),
            )
        })
        .collect()
}

use std::fmt;

/// A kernel command line that a boot configuration file cannot carry safely.
#[derive(Debug, PartialEq, Eq)]
pub struct CmdlineError {
    /// The first character that is not allowed.
    pub character: char,
}

impl fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kernel command line character {:?} is not allowed (use letters, digits, spaces and =_.,:+/-)",
            self.character
        )
    }
}

impl std::error::Error for CmdlineError {}

/// Checks that `cmdline` is made of words GRUB and Limine pass through unchanged: ASCII
/// letters, digits, spaces and `=_.,:+/-`.
///
/// # Errors
/// [`CmdlineError`] naming the first other character.
pub fn check_cmdline(cmdline: &str) -> Result<(), CmdlineError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || "=_.,:+/-".contains(c);
    match cmdline.chars().find(|&c| !allowed(c)) {
        Some(character) => Err(CmdlineError { character }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_tokens_of_the_kernel_are_allowed() {
        assert_eq!(check_cmdline("exit test syscall=iretq log=debug"), Ok(()));
        assert_eq!(check_cmdline(""), Ok(()));
    }

    #[test]
    fn cmdline_with_quotes_semicolons_or_newlines_is_refused() {
        for (text, bad) in [("a\"b", '"'), ("a;b", ';'), ("a\nb", '\n'), ("$x", '$')] {
            assert_eq!(check_cmdline(text), Err(CmdlineError { character: bad }));
        }
    }
}
