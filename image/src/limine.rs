//! The Limine ISO: `limine.conf`, the ISO tree, finding Limine's binaries and checking a
//! downloaded release against the pin kept in the repository (`image/limine.pin`).
//!
//! ISO tree (hybrid BIOS + UEFI, made by xorriso, then `limine bios-install`):
//! - `boot/hatchery`: the kernel ELF.
//! - `boot/archive.cpio`: the boot archive, a module with the string `archive`.
//! - `boot/limine/limine.conf`, `boot/limine/limine-bios.sys`,
//!   `boot/limine/limine-bios-cd.bin`, `boot/limine/limine-uefi-cd.bin`.
//! - `EFI/BOOT/BOOTX64.EFI`.
//!
//! Where Limine comes from, first match wins: `LIMINE_DIR`; a system install
//! (`/usr/share/limine`, `/usr/local/share/limine`, with the `limine` tool on `PATH`); the
//! pinned binary release, once downloaded and verified into the cache directory.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::iso::IsoTree;
use crate::{check_cmdline, CmdlineError};

/// Path of the kernel inside the ISO.
pub const KERNEL_PATH: &str = "boot/hatchery";
/// Path of the boot archive inside the ISO.
pub const ARCHIVE_PATH: &str = "boot/archive.cpio";
/// Path of the configuration inside the ISO.
pub const CONFIG_PATH: &str = "boot/limine/limine.conf";
/// Path of the BIOS CD boot image inside the ISO (xorriso's `-b`).
pub const BIOS_CD_PATH: &str = "boot/limine/limine-bios-cd.bin";
/// Path of the UEFI CD boot image inside the ISO (xorriso's `--efi-boot`).
pub const UEFI_CD_PATH: &str = "boot/limine/limine-uefi-cd.bin";
/// The files of a Limine binary release an ISO needs, and where each goes in the ISO.
pub const BINARIES: [(&str, &str); 4] = [
    ("limine-bios.sys", "boot/limine/limine-bios.sys"),
    ("limine-bios-cd.bin", BIOS_CD_PATH),
    ("limine-uefi-cd.bin", UEFI_CD_PATH),
    ("BOOTX64.EFI", "EFI/BOOT/BOOTX64.EFI"),
];
/// Name of Limine's host tool (`limine bios-install`).
pub const TOOL_NAME: &str = "limine";
/// System directories searched for Limine's binaries, in order.
pub const SYSTEM_DIRS: [&str; 2] = ["/usr/share/limine", "/usr/local/share/limine"];

/// The `limine.conf` that boots the kernel at once with `cmdline` and the archive module.
///
/// # Errors
/// [`CmdlineError`] when `cmdline` holds characters the config file would interpret.
pub fn config(cmdline: &str) -> Result<String, CmdlineError> {
    check_cmdline(cmdline)?;
    Ok(format!(
        "# Written by `cargo xtask image --iso limine`.\n\
         timeout: 0\n\
         serial: yes\n\
         serial_baudrate: 115200\n\
         \n\
         /Hatchery\n\
         \x20   protocol: limine\n\
         \x20   kernel_path: boot():/{KERNEL_PATH}\n\
         \x20   cmdline: {cmdline}\n\
         \x20   module_path: boot():/{ARCHIVE_PATH}\n\
         \x20   module_cmdline: archive\n"
    ))
}

/// The Limine ISO tree for the given kernel and archive, with binaries from `limine`.
///
/// # Errors
/// [`CmdlineError`] as for [`config`].
pub fn tree(
    limine: &LimineInstall,
    kernel: &Path,
    archive: &Path,
    cmdline: &str,
) -> Result<IsoTree, CmdlineError> {
    let mut tree = IsoTree::new();
    tree.add_file(KERNEL_PATH, kernel)
        .add_file(ARCHIVE_PATH, archive)
        .add_bytes(CONFIG_PATH, config(cmdline)?);
    for (name, path) in BINARIES {
        tree.add_file(path, limine.dir.join(name));
    }
    Ok(tree)
}

/// The xorriso command making a hybrid BIOS + UEFI ISO from a Limine tree.
pub fn xorriso_command(tree_dir: &Path, iso: &Path) -> Command {
    let mut command = Command::new("xorriso");
    command
        .args(["-as", "mkisofs", "-R", "-r", "-J"])
        .args(["-b", BIOS_CD_PATH, "-no-emul-boot", "-boot-load-size", "4"])
        .args(["-boot-info-table", "-hfsplus", "-apm-block-size", "2048"])
        .args([
            "--efi-boot",
            UEFI_CD_PATH,
            "-efi-boot-part",
            "--efi-boot-image",
        ])
        .arg("--protective-msdos-label")
        .arg(tree_dir)
        .arg("-o")
        .arg(iso);
    command
}

/// `limine bios-install <iso>`: makes the ISO bootable from a BIOS hard disk too.
pub fn bios_install_command(limine: &LimineInstall, iso: &Path) -> Command {
    let mut command = Command::new(&limine.tool);
    command.arg("bios-install").arg(iso);
    command
}

/// Where a Limine install was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The `LIMINE_DIR` environment variable.
    Environment,
    /// A system directory such as `/usr/share/limine`.
    System,
    /// The pinned release, downloaded and verified.
    Pinned,
}

/// A usable Limine: a directory with [`BINARIES`] and the host tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimineInstall {
    /// Directory holding the binaries.
    pub dir: PathBuf,
    /// The `limine` host tool.
    pub tool: PathBuf,
    /// Where it was found.
    pub origin: Origin,
}

/// Why no Limine install could be used.
#[derive(Debug, PartialEq, Eq)]
pub enum DiscoveryError {
    /// `LIMINE_DIR` names something that is not a directory (or nothing at all).
    LimineDirNotADirectory(PathBuf),
    /// `LIMINE_DIR` is set but lacks files (named); a set variable is never skipped.
    IncompleteLimineDir {
        /// The directory `LIMINE_DIR` names.
        dir: PathBuf,
        /// The files it lacks.
        missing: Vec<String>,
    },
    /// Nothing found anywhere; the places searched, in order.
    NotFound(Vec<PathBuf>),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LimineDirNotADirectory(dir) => {
                write!(f, "LIMINE_DIR={} is not a directory", dir.display())
            }
            Self::IncompleteLimineDir { dir, missing } => write!(
                f,
                "LIMINE_DIR={} lacks {}",
                dir.display(),
                missing.join(", ")
            ),
            Self::NotFound(searched) => {
                let list: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
                write!(f, "no Limine in {}", list.join(", "))
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Where [`discover`] looks. Separate from the process environment so tests can use
/// temporary directories.
#[derive(Clone, Debug, Default)]
pub struct SearchPlaces {
    /// Value of `LIMINE_DIR`, if set and not empty.
    pub limine_dir: Option<PathBuf>,
    /// System directories, searched in order (normally [`SYSTEM_DIRS`]).
    pub system_dirs: Vec<PathBuf>,
    /// Value of `PATH`, to find the tool of a system install.
    pub path: Option<std::ffi::OsString>,
    /// Directory of the verified pinned release, if it has been downloaded.
    pub pinned_dir: Option<PathBuf>,
}

impl SearchPlaces {
    /// The usual places: `LIMINE_DIR` (an empty value counts as unset), [`SYSTEM_DIRS`],
    /// `PATH`, and `pinned_dir`.
    pub fn from_environment(pinned_dir: Option<PathBuf>) -> Self {
        Self {
            limine_dir: limine_dir_from(std::env::var_os("LIMINE_DIR")),
            system_dirs: SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
            path: std::env::var_os("PATH"),
            pinned_dir,
        }
    }
}

/// The directory a `LIMINE_DIR` value names: none when unset or empty.
pub fn limine_dir_from(value: Option<std::ffi::OsString>) -> Option<PathBuf> {
    value.filter(|dir| !dir.is_empty()).map(PathBuf::from)
}

/// Finds a usable Limine, first match wins: `LIMINE_DIR`, the system directories (tool on
/// `PATH` or in the directory), then the pinned download.
///
/// # Errors
/// [`DiscoveryError::LimineDirNotADirectory`] or [`DiscoveryError::IncompleteLimineDir`]
/// when `LIMINE_DIR` is set but unusable;
/// [`DiscoveryError::NotFound`] when no place has Limine.
pub fn discover(places: &SearchPlaces) -> Result<LimineInstall, DiscoveryError> {
    if let Some(dir) = &places.limine_dir {
        if !dir.is_dir() {
            return Err(DiscoveryError::LimineDirNotADirectory(dir.clone()));
        }
        return match missing_files(dir, None) {
            (missing, Some(tool)) if missing.is_empty() => Ok(LimineInstall {
                dir: dir.clone(),
                tool,
                origin: Origin::Environment,
            }),
            (mut missing, tool) => {
                if tool.is_none() {
                    missing.push(TOOL_NAME.into());
                }
                Err(DiscoveryError::IncompleteLimineDir {
                    dir: dir.clone(),
                    missing,
                })
            }
        };
    }
    let mut searched = Vec::new();
    for dir in &places.system_dirs {
        searched.push(dir.clone());
        if let (missing, Some(tool)) = missing_files(dir, places.path.as_deref()) {
            if missing.is_empty() {
                let origin = Origin::System;
                return Ok(LimineInstall {
                    dir: dir.clone(),
                    tool,
                    origin,
                });
            }
        }
    }
    if let Some(dir) = &places.pinned_dir {
        searched.push(dir.clone());
        if let (missing, Some(tool)) = missing_files(dir, None) {
            if missing.is_empty() {
                let origin = Origin::Pinned;
                return Ok(LimineInstall {
                    dir: dir.clone(),
                    tool,
                    origin,
                });
            }
        }
    }
    Err(DiscoveryError::NotFound(searched))
}

/// What a Limine directory must hold, for messages: the [`BINARIES`] and the tool.
pub fn needed_files() -> String {
    let mut names: Vec<&str> = BINARIES.iter().map(|(name, _)| *name).collect();
    names.push(TOOL_NAME);
    names.join(", ")
}

/// The binaries `dir` lacks, and the tool: `dir/limine`, else `limine` on `path`.
fn missing_files(dir: &Path, path: Option<&OsStr>) -> (Vec<String>, Option<PathBuf>) {
    let missing = BINARIES
        .iter()
        .filter(|(name, _)| !dir.join(name).is_file())
        .map(|(name, _)| (*name).to_string())
        .collect();
    let in_dir = Some(dir.join(TOOL_NAME)).filter(|tool| tool.is_file());
    let on_path = || {
        std::env::split_paths(path?)
            .map(|entry| entry.join(TOOL_NAME))
            .find(|tool| tool.is_file())
    };
    (missing, in_dir.or_else(on_path))
}

/// The pinned Limine binary release (`image/limine.pin`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Release version, e.g. `10.2.1`.
    pub version: String,
    /// Download URL of the release tarball (`.tar.gz`).
    pub url: String,
    /// Expected sha256 of the tarball; `None` when no trustworthy value is known, and then
    /// nothing downloaded is ever used.
    pub sha256: Option<[u8; 32]>,
    /// Where the sha256 came from, in words.
    pub provenance: String,
}

/// Why a pin file or a download was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PinError {
    /// A line is not `key value`, or names an unknown key (line number, 1-based).
    BadLine(usize),
    /// A required key is absent.
    MissingKey(&'static str),
    /// The sha256 value is not 64 hex digits (`unknown` is allowed).
    BadSha256(String),
    /// The pin holds no sha256, so no download can be verified.
    Unverifiable,
    /// The download's sha256 differs from the pin.
    Mismatch {
        /// From the pin.
        expected: String,
        /// Of the downloaded bytes.
        actual: String,
    },
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLine(line) => write!(f, "line {line}: expected `key value` with a known key"),
            Self::MissingKey(key) => write!(f, "missing `{key}`"),
            Self::BadSha256(value) => write!(f, "sha256 `{value}` is not 64 hex digits"),
            Self::Unverifiable => {
                write!(f, "the pin has no sha256, so a download cannot be verified")
            }
            Self::Mismatch { expected, actual } => {
                write!(f, "sha256 mismatch: pinned {expected}, downloaded {actual}")
            }
        }
    }
}

impl std::error::Error for PinError {}

impl Pin {
    /// Parses a pin file: `#` comment lines and `key value` lines with keys `version`,
    /// `url`, `sha256` (64 hex digits or `unknown`) and `provenance`.
    ///
    /// # Errors
    /// [`PinError`] naming the bad line or missing key.
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let (mut version, mut url, mut sha256, mut provenance) = (None, None, None, None);
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once(char::is_whitespace)
                .ok_or(PinError::BadLine(index + 1))?;
            let value = value.trim().to_string();
            match key {
                "version" => version = Some(value),
                "url" => url = Some(value),
                "sha256" => sha256 = Some(parse_sha256(&value)?),
                "provenance" => provenance = Some(value),
                _ => return Err(PinError::BadLine(index + 1)),
            }
        }
        Ok(Self {
            version: version.ok_or(PinError::MissingKey("version"))?,
            url: url.ok_or(PinError::MissingKey("url"))?,
            sha256: sha256.ok_or(PinError::MissingKey("sha256"))?,
            provenance: provenance.unwrap_or_default(),
        })
    }

    /// Checks downloaded bytes against the pinned sha256.
    ///
    /// # Errors
    /// [`PinError::Unverifiable`] when the pin has no sha256 (never trust such a file);
    /// [`PinError::Mismatch`] when the bytes differ.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), PinError> {
        let expected = self.sha256.ok_or(PinError::Unverifiable)?;
        let actual: [u8; 32] = Sha256::digest(bytes).into();
        if actual == expected {
            Ok(())
        } else {
            Err(PinError::Mismatch {
                expected: hex(&expected),
                actual: hex(&actual),
            })
        }
    }

    /// The directory name the release tarball unpacks to (`limine-<version>-binary`).
    pub fn unpacked_name(&self) -> String {
        format!("limine-{}-binary", self.version)
    }
}

fn parse_sha256(value: &str) -> Result<Option<[u8; 32]>, PinError> {
    if value == "unknown" {
        return Ok(None);
    }
    let bad = || PinError::BadSha256(value.to_string());
    if value.len() != 64 || !value.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&value[index * 2..index * 2 + 2], 16).map_err(|_| bad())?;
    }
    Ok(Some(bytes))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests;
