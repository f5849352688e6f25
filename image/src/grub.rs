//! The GRUB ISO: the direct-boot loader as a multiboot2 kernel, with the kernel and the boot
//! archive as modules. Bochs boots it (Limine is not installed on the machines we test on).
//!
//! ISO tree:
//! - `boot/hatchery-loader`: the loader ELF (multiboot2 header).
//! - `boot/hatchery`: the kernel ELF, module string `kernel`.
//! - `boot/archive.cpio`: the boot archive, module string `archive`.
//! - `boot/grub/grub.cfg`: boots at once, console on COM1.

use std::path::Path;
use std::process::Command;

use crate::iso::IsoTree;
use crate::{check_cmdline, CmdlineError};

/// Path of the loader inside the ISO.
pub const LOADER_PATH: &str = "boot/hatchery-loader";
/// Path of the kernel inside the ISO.
pub const KERNEL_PATH: &str = "boot/hatchery";
/// Path of the boot archive inside the ISO.
pub const ARCHIVE_PATH: &str = "boot/archive.cpio";
/// Path of the GRUB configuration inside the ISO.
pub const CONFIG_PATH: &str = "boot/grub/grub.cfg";

/// The `grub.cfg` that boots the loader with `cmdline` at once, console on COM1.
///
/// # Errors
/// [`CmdlineError`] when `cmdline` holds characters GRUB would interpret.
pub fn config(cmdline: &str) -> Result<String, CmdlineError> {
    check_cmdline(cmdline)?;
    let loader_line = if cmdline.is_empty() {
        format!("multiboot2 /{LOADER_PATH}")
    } else {
        format!("multiboot2 /{LOADER_PATH} {cmdline}")
    };
    Ok(format!(
        "# Written by `cargo xtask image --iso grub`.\n\
         set timeout=0\n\
         serial --unit=0 --speed=115200\n\
         terminal_input serial\n\
         terminal_output serial\n\
         {loader_line}\n\
         module2 /{KERNEL_PATH} kernel\n\
         module2 /{ARCHIVE_PATH} archive\n\
         boot\n"
    ))
}

/// The GRUB ISO tree for the given host files.
///
/// # Errors
/// [`CmdlineError`] as for [`config`].
pub fn tree(
    loader: &Path,
    kernel: &Path,
    archive: &Path,
    cmdline: &str,
) -> Result<IsoTree, CmdlineError> {
    let mut tree = IsoTree::new();
    tree.add_file(LOADER_PATH, loader)
        .add_file(KERNEL_PATH, kernel)
        .add_file(ARCHIVE_PATH, archive)
        .add_bytes(CONFIG_PATH, config(cmdline)?);
    Ok(tree)
}

/// `grub-mkrescue -o <iso> <tree_dir>`.
pub fn mkrescue_command(tree_dir: &Path, iso: &Path) -> Command {
    let mut command = Command::new("grub-mkrescue");
    command.arg("-o").arg(iso).arg(tree_dir);
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso::Source;

    #[test]
    fn config_boots_the_loader_with_both_modules_on_serial() {
        let text = config("exit log=info").unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "set timeout=0",
                "serial --unit=0 --speed=115200",
                "terminal_input serial",
                "terminal_output serial",
                "multiboot2 /boot/hatchery-loader exit log=info",
                "module2 /boot/hatchery kernel",
                "module2 /boot/archive.cpio archive",
                "boot",
            ]
        );
    }

    #[test]
    fn empty_cmdline_leaves_nothing_after_the_loader() {
        assert!(config("")
            .unwrap()
            .contains("multiboot2 /boot/hatchery-loader\n"));
    }

    #[test]
    fn config_refuses_a_cmdline_grub_would_interpret() {
        assert!(config("exit; reboot").is_err());
        assert!(config("a\nboot").is_err());
    }

    #[test]
    fn tree_has_loader_kernel_archive_and_config() {
        let tree = tree(Path::new("/l"), Path::new("/k"), Path::new("/a"), "test").unwrap();
        let paths: Vec<&str> = tree.paths().collect();
        assert_eq!(
            paths,
            [
                "boot/hatchery-loader",
                "boot/hatchery",
                "boot/archive.cpio",
                "boot/grub/grub.cfg"
            ]
        );
        assert_eq!(
            tree.source("boot/hatchery"),
            Some(&Source::File("/k".into()))
        );
    }

    #[test]
    fn mkrescue_writes_the_iso_from_the_tree() {
        let command = mkrescue_command(Path::new("tree"), Path::new("out.iso"));
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(command.get_program(), "grub-mkrescue");
        assert_eq!(args, ["-o", "out.iso", "tree"]);
    }
}
