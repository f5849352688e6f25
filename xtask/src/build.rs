//! `cargo xtask build`: the kernel, the direct-boot loader and every server under `servers/`.
//!
//! Two target directories because the RUSTFLAGS differ: the kernel is linked in the higher
//! half (`-C code-model=kernel`), the loader and the servers low.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::steps::{run_command, workspace_root, Profile, Steps};
use crate::tools::{ensure_rust_target, TARGET};

/// Arguments of `cargo xtask build`.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// Build with the release profile.
    #[arg(long)]
    release: bool,
}

/// Kernel package and binary.
pub const KERNEL_PACKAGE: &str = "hatchery-kernel";
const KERNEL_BIN: &str = "hatchery";
/// Loader package and binary.
pub const LOADER_PACKAGE: &str = "loader";
const LOADER_BIN: &str = "hatchery-loader";
pub const KERNEL_RUSTFLAGS: &str = "-C code-model=kernel -C relocation-model=static";
/// Userspace: linked low, static. Debug info is stripped: every program goes into the boot
/// archive, whose pages the root task receives one cap each, and the debug sections were
/// three quarters of the archive (the root CNode holds at most 3960 archive pages).
pub const USER_RUSTFLAGS: &str = "-C relocation-model=static -C strip=debuginfo";

/// A userspace program built from `servers/<dir>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Cargo package name.
    pub package: String,
    /// Binary name: the program's name in the boot archive.
    pub bin: String,
    /// The built ELF.
    pub elf: PathBuf,
}

/// Everything `build` produces.
pub struct Artifacts {
    /// The profile built.
    pub profile: Profile,
    /// The kernel ELF.
    pub kernel: PathBuf,
    /// The direct-boot loader ELF.
    pub loader: PathBuf,
    /// The servers, sorted by binary name.
    pub servers: Vec<Server>,
}

/// Runs `cargo xtask build`.
pub fn run(args: BuildArgs) -> Result<(), String> {
    let mut steps = Steps::new();
    let artifacts = build_all(Profile::from_release_flag(args.release), &mut steps)?;
    print_artifacts(&artifacts);
    steps.summary();
    Ok(())
}

/// Prints the built files and their sizes.
pub fn print_artifacts(artifacts: &Artifacts) {
    let mut files = vec![("kernel", &artifacts.kernel), ("loader", &artifacts.loader)];
    files.extend(artifacts.servers.iter().map(|s| (s.bin.as_str(), &s.elf)));
    for (what, path) in files {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        println!(
            "xtask: {what:8} {} ({} KiB)",
            relative(path),
            size.div_ceil(1024)
        );
    }
}

/// Builds kernel, loader and servers for `profile`.
///
/// # Errors
/// When a cargo build fails or an expected binary is missing afterwards.
pub fn build_all(profile: Profile, steps: &mut Steps) -> Result<Artifacts, String> {
    ensure_rust_target()?;
    let root = workspace_root();
    let servers = discover_servers(&root.join("servers"))?;
    let kernel_dir = root.join("target/kernel");
    let user_dir = root.join("target/user");

    let quiet = quiet_build(&kernel_dir, profile, KERNEL_BIN);
    steps.run("build kernel", || {
        cargo_build(
            &kernel_dir,
            KERNEL_RUSTFLAGS,
            &[KERNEL_PACKAGE],
            profile,
            quiet,
            &[],
        )
    })?;
    let alone = servers_built_alone(&root.join("servers"))?;
    let mut user_packages = vec![LOADER_PACKAGE];
    user_packages.extend(
        servers
            .iter()
            .map(|(package, _)| package.as_str())
            .filter(|package| !alone.iter().any(|a| a == package)),
    );
    let quiet = quiet_build(&user_dir, profile, LOADER_BIN);
    steps.run("build loader and servers", || {
        cargo_build(
            &user_dir,
            USER_RUSTFLAGS,
            &user_packages,
            profile,
            quiet,
            &[],
        )?;
        for package in &alone {
            cargo_build(
                &user_dir,
                USER_RUSTFLAGS,
                &[package.as_str()],
                profile,
                quiet,
                &[],
            )?;
        }
        Ok(())
    })?;

    let out = |dir: &Path, bin: &str| -> Result<PathBuf, String> {
        let path = output_path(dir, profile, bin);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("the build did not produce {}", path.display()))
        }
    };
    let mut built = Vec::new();
    for (package, bin) in &servers {
        built.push(Server {
            package: package.clone(),
            bin: bin.clone(),
            elf: out(&user_dir, bin)?,
        });
    }
    Ok(Artifacts {
        profile,
        kernel: out(&kernel_dir, KERNEL_BIN)?,
        loader: out(&user_dir, LOADER_BIN)?,
        servers: built,
    })
}

/// Builds the kernel with its `counters` feature (microkernel/src/counters.rs), for the
/// hatch benchmark's counted boot, in a target directory of its own (so that the normal
/// kernel is not rebuilt); returns the binary.
///
/// # Errors
/// When the cargo build fails.
pub fn build_counted_kernel(profile: Profile, steps: &mut Steps) -> Result<PathBuf, String> {
    let dir = workspace_root().join("target/kernel-counted");
    let quiet = quiet_build(&dir, profile, KERNEL_BIN);
    let features = ["hatchery-kernel/counters"];
    steps.run("build kernel with counters", || {
        cargo_build(
            &dir,
            KERNEL_RUSTFLAGS,
            &[KERNEL_PACKAGE],
            profile,
            quiet,
            &features,
        )
    })?;
    let path = output_path(&dir, profile, KERNEL_BIN);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("the build did not produce {}", path.display()))
    }
}

/// Whether to build quietly: yes once `bin` was built before. A first build takes
/// minutes, and cargo's progress then shows that it is not hung.
fn quiet_build(target_dir: &Path, profile: Profile, bin: &str) -> bool {
    output_path(target_dir, profile, bin).is_file()
}

/// Where cargo puts binary `bin` of `profile` under `target_dir`.
fn output_path(target_dir: &Path, profile: Profile, bin: &str) -> PathBuf {
    target_dir.join(TARGET).join(profile.dir_name()).join(bin)
}

fn cargo_build(
    target_dir: &Path,
    rustflags: &str,
    packages: &[&str],
    profile: Profile,
    quiet: bool,
    features: &[&str],
) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir)
        .env("RUSTFLAGS", rustflags)
        .args(["build", "--target", TARGET]);
    if quiet {
        command.arg("--quiet");
    } else {
        println!("xtask: (a first build: cargo's progress follows)");
    }
    for package in packages {
        command.args(["-p", package]);
    }
    for feature in features {
        command.args(["--features", feature]);
    }
    if profile == Profile::Release {
        command.arg("--release");
    }
    run_command(&mut command)
}

/// The servers under `dir`: for each `dir/*/Cargo.toml` of a crate with a program (a
/// `[[bin]]` section or `src/main.rs`), its package name and binary name (the `[[bin]]`
/// name, else the package name), sorted by binary name. Library-only crates (a server's
/// `-api` crate, `ttycore`) are not programs and are skipped.
///
/// # Errors
/// When `dir` cannot be read or a manifest has no package name.
pub fn discover_servers(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut servers = Vec::new();
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if !has_program(&text, &entry.path()) {
            continue;
        }
        let (package, bin) = package_and_bin(&text)
            .ok_or_else(|| format!("{}: no [package] name", manifest.display()))?;
        servers.push((package, bin));
    }
    servers.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(servers)
}

/// The programs under `dir` built by a cargo invocation of their own: those whose manifest
/// says `build-alone = true` (under `[package.metadata.hatchery]`). Cargo unifies the
/// features of the packages one invocation builds, so a program that turns on a feature of
/// a shared crate (the shell needs `egg`'s `alloc`, and so `alloc`, and so a global
/// allocator) would turn it on in every other program, which has no allocator.
///
/// # Errors
/// When `dir` cannot be read.
pub fn servers_built_alone(dir: &Path) -> Result<Vec<String>, String> {
    let mut alone = Vec::new();
    for (package, _) in discover_servers(dir)? {
        let manifest = dir.join(&package).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        if builds_alone(&text) {
            alone.push(package);
        }
    }
    Ok(alone)
}

/// Whether a manifest says `build-alone = true` in `[package.metadata.hatchery]`.
fn builds_alone(manifest: &str) -> bool {
    let mut section = "";
    manifest.lines().map(str::trim).any(|line| {
        if line.starts_with('[') {
            section = line;
            return false;
        }
        section == "[package.metadata.hatchery]"
            && line
                .split_once('=')
                .is_some_and(|(key, value)| key.trim() == "build-alone" && value.trim() == "true")
    })
}

/// Whether the crate in `dir` with manifest text `manifest` builds a program.
fn has_program(manifest: &str, dir: &Path) -> bool {
    manifest.lines().any(|line| line.trim() == "[[bin]]") || dir.join("src/main.rs").is_file()
}

/// The package name and the first `[[bin]]` name (else the package name) of a manifest.
fn package_and_bin(manifest: &str) -> Option<(String, String)> {
    let mut section = "";
    let (mut package, mut bin) = (None, None);
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "name" {
            continue;
        }
        let value = value.trim().trim_matches('"').to_string();
        match section {
            "[package]" if package.is_none() => package = Some(value),
            "[[bin]]" if bin.is_none() => bin = Some(value),
            _ => {}
        }
    }
    let package = package?;
    let bin = bin.unwrap_or_else(|| package.clone());
    Some((package, bin))
}

/// `path` relative to the workspace root, for messages.
pub fn relative(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_build_shows_cargo_progress_and_later_ones_are_quiet() {
        let dir = std::env::temp_dir().join(format!("xtask-build-{}", std::process::id()));
        assert!(!quiet_build(&dir, Profile::Debug, "hatchery"));
        let binary = output_path(&dir, Profile::Debug, "hatchery");
        assert!(binary.ends_with("x86_64-unknown-none/debug/hatchery"));
        std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
        std::fs::write(&binary, b"").unwrap();
        assert!(quiet_build(&dir, Profile::Debug, "hatchery"));
        assert!(!quiet_build(&dir, Profile::Release, "hatchery"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bin_name_comes_from_the_bin_section() {
        let manifest = "[package]\nname = \"loader\"\nversion = \"0.1.0\"\n\n\
                        [[bin]]\nname = \"hatchery-loader\"\npath = \"src/main.rs\"\n\n\
                        [dependencies]\nbootfmt = { path = \"../bootfmt\" }\n";
        assert_eq!(
            package_and_bin(manifest),
            Some(("loader".into(), "hatchery-loader".into()))
        );
    }

    #[test]
    fn bin_name_defaults_to_the_package_name() {
        let manifest = "[package]\nname = \"procsrv\"\n[dependencies]\nname = \"x\"\n";
        assert_eq!(
            package_and_bin(manifest),
            Some(("procsrv".into(), "procsrv".into()))
        );
    }

    #[test]
    fn a_program_that_says_so_is_built_alone() {
        assert!(builds_alone(
            "[package]\nname = \"hsh\"\n[package.metadata.hatchery]\nbuild-alone = true\n"
        ));
        assert!(!builds_alone(
            "[package]\nname = \"x\"\nbuild-alone = true\n"
        ));
        assert!(!builds_alone(
            "[package.metadata.hatchery]\nbuild-alone = false\n"
        ));
        let alone = servers_built_alone(&workspace_root().join("servers")).unwrap();
        // The programs that turn on `egg`'s `alloc`: the egg tool (`/bin/egg`) and the shell.
        assert_eq!(alone, ["eggtool", "hsh"]);
    }

    #[test]
    fn servers_of_the_repository_include_hello() {
        let servers = discover_servers(&workspace_root().join("servers")).unwrap();
        assert!(servers.iter().any(|(_, bin)| bin == "hello"), "{servers:?}");
    }

    #[test]
    fn library_crates_under_servers_are_not_programs() {
        let servers = discover_servers(&workspace_root().join("servers")).unwrap();
        for library in ["ttycore", "console-api", "fs-api", "fscore"] {
            assert!(
                servers.iter().all(|(package, _)| package != library),
                "{servers:?}"
            );
        }
        assert!(
            servers.iter().any(|(_, bin)| bin == "console"),
            "{servers:?}"
        );
    }
}
