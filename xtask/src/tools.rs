//! Host tools: find them, and install the missing ones with apt-get (sudo when not root),
//! or name their packages when `--no-install` is given or apt-get is absent.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::steps::{describe, run_command};

/// A host tool: a command on `PATH` plus data files, and the Debian packages providing them.
pub struct Tool {
    /// Command looked up on `PATH`.
    pub command: &'static str,
    /// Files that must exist too (firmware, GRUB's BIOS modules).
    pub files: &'static [&'static str],
    /// Debian packages to install when anything is missing.
    pub packages: &'static [&'static str],
}

/// QEMU with qboot (the fast firmware for direct boots).
pub const QEMU: Tool = Tool {
    command: "qemu-system-x86_64",
    files: &[crate::qemu::QBOOT],
    packages: &["qemu-system-x86"],
};
/// xorriso, for every ISO.
pub const XORRISO: Tool = Tool {
    command: "xorriso",
    files: &[],
    packages: &["xorriso"],
};
/// mtools, which grub-mkrescue needs for its EFI image.
pub const MTOOLS: Tool = Tool {
    command: "mformat",
    files: &[],
    packages: &["mtools"],
};
/// grub-mkrescue with GRUB's BIOS modules.
pub const GRUB: Tool = Tool {
    command: "grub-mkrescue",
    files: &["/usr/lib/grub/i386-pc/multiboot2.mod"],
    packages: &["grub-pc-bin", "grub-common"],
};
/// Bochs with its BIOS and VGA BIOS.
pub const BOCHS: Tool = Tool {
    command: "bochs",
    files: &[crate::bochs::BIOS, crate::bochs::VGA_BIOS],
    packages: &["bochs", "bochsbios", "vgabios"],
};
/// Valgrind, whose callgrind counts the egg benchmark's instructions.
pub const VALGRIND: Tool = Tool {
    command: "valgrind",
    files: &[],
    packages: &["valgrind"],
};

/// The rust target everything but the host tools is built for.
pub const TARGET: &str = "x86_64-unknown-none";

/// Installs missing tools, at most one `apt-get update` per xtask run.
pub struct Installer {
    allowed: bool,
    updated: Cell<bool>,
}

impl Installer {
    /// An installer; with `allowed == false` it only names packages.
    pub fn new(allowed: bool) -> Self {
        Self {
            allowed,
            updated: Cell::new(false),
        }
    }

    /// Makes sure every tool in `tools` is present.
    ///
    /// # Errors
    /// Names the missing packages when they cannot be (or may not be) installed.
    pub fn ensure(&self, tools: &[&Tool]) -> Result<(), String> {
        let missing: Vec<&Tool> = tools.iter().copied().filter(|t| !present(t)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut packages: Vec<&str> = missing.iter().flat_map(|t| t.packages).copied().collect();
        packages.dedup();
        let commands: Vec<&str> = missing.iter().map(|t| t.command).collect();
        let wanted = format!(
            "{} (Debian packages: {})",
            commands.join(", "),
            packages.join(" ")
        );
        if !self.allowed {
            return Err(format!("missing {wanted}; --no-install given"));
        }
        if find_on_path("apt-get").is_none() {
            return Err(format!(
                "missing {wanted}, and there is no apt-get to install them"
            ));
        }
        println!("xtask: installing {}", packages.join(" "));
        if !self.updated.get() {
            run_command(&mut self.apt(&["update", "-qq"]))?;
            self.updated.set(true);
        }
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&packages);
        run_command(&mut self.apt(&args))?;
        match missing.iter().find(|t| !present(t)) {
            Some(tool) => Err(format!("{} still missing after installing", tool.command)),
            None => Ok(()),
        }
    }

    fn apt(&self, args: &[&str]) -> Command {
        let mut command = if is_root() {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    }
}

/// Adds the `x86_64-unknown-none` rust target when rustup lacks it.
///
/// # Errors
/// When rustup fails; without rustup, the build reports the missing target itself.
pub fn ensure_rust_target() -> Result<(), String> {
    let Ok(output) = Command::new("rustup")
        .current_dir(crate::steps::workspace_root())
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(());
    };
    let installed = String::from_utf8_lossy(&output.stdout);
    if installed.lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    println!("xtask: rustup target add {TARGET}");
    let mut command = Command::new("rustup");
    command
        .current_dir(crate::steps::workspace_root())
        .args(["target", "add", TARGET]);
    run_command(&mut command).map_err(|e| format!("{e} (ran {})", describe(&command)))
}

/// Whether the tool's command is on `PATH` and its files exist.
pub fn present(tool: &Tool) -> bool {
    find_on_path(tool.command).is_some() && tool.files.iter().all(|f| Path::new(f).exists())
}

/// The first `PATH` entry holding `command`.
pub fn find_on_path(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABSENT: Tool = Tool {
        command: "hatchery-no-such-tool",
        files: &[],
        packages: &["pkg-one", "pkg-two"],
    };
    const PRESENT_COMMAND_MISSING_FILE: Tool = Tool {
        command: "sh",
        files: &["/hatchery/no/such/file"],
        packages: &["pkg-three"],
    };

    #[test]
    fn no_install_names_the_command_and_its_packages() {
        let error = Installer::new(false)
            .ensure(&[&ABSENT, &PRESENT_COMMAND_MISSING_FILE])
            .unwrap_err();
        assert_eq!(
            error,
            "missing hatchery-no-such-tool, sh (Debian packages: pkg-one pkg-two pkg-three); \
             --no-install given"
        );
    }

    #[test]
    fn present_tools_need_no_installer() {
        let sh = Tool {
            command: "sh",
            files: &[],
            packages: &[],
        };
        assert!(present(&sh));
        assert_eq!(Installer::new(false).ensure(&[&sh]), Ok(()));
    }
}
