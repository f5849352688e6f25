//! `cargo xtask image`: the boot archive and the loader bundle, or a bootable ISO.
//!
//! Outputs in `build/<profile>/`: `archive.cpio`, `bundle.cpio`, `hatchery-grub.iso`
//! (tree in `iso-grub/`) and `hatchery.iso` (Limine, tree in `iso-limine/`).

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use image::archive::Program;
use image::limine::LimineInstall;

use crate::build::{build_all, relative, Artifacts};
use crate::steps::{run_quiet, Profile, Steps};
use crate::tools::{Installer, GRUB, MTOOLS, XORRISO};

/// Arguments of `cargo xtask image`.
#[derive(clap::Args)]
pub struct ImageArgs {
    /// Make a bootable ISO as well: `limine` (hybrid BIOS+UEFI) or `grub` (loader + modules).
    #[arg(long, value_enum)]
    iso: Option<IsoKind>,
    /// Build with the release profile.
    #[arg(long)]
    release: bool,
    /// Kernel command line written into the ISO's boot configuration.
    #[arg(long, default_value = "")]
    cmdline: String,
    /// Do not install missing tools; name their packages instead.
    #[arg(long)]
    no_install: bool,
}

/// Which bootable ISO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IsoKind {
    /// Limine, hybrid BIOS + UEFI.
    Limine,
    /// GRUB (BIOS) booting the direct loader through multiboot2.
    Grub,
}

/// The archive and the bundle of one build.
pub struct Images {
    /// `build/<profile>/archive.cpio`.
    pub archive: PathBuf,
    /// `build/<profile>/bundle.cpio`.
    pub bundle: PathBuf,
}

/// Runs `cargo xtask image`.
pub fn run(args: ImageArgs) -> Result<(), String> {
    image::check_cmdline(&args.cmdline).map_err(|e| e.to_string())?;
    let installer = Installer::new(!args.no_install);
    let mut steps = Steps::new();
    let artifacts = build_all(Profile::from_release_flag(args.release), &mut steps)?;
    let images = archive_and_bundle(&artifacts, &mut steps)?;
    println!("xtask: archive {}", relative(&images.archive));
    println!("xtask: bundle  {}", relative(&images.bundle));
    match args.iso {
        None => {}
        Some(IsoKind::Grub) => {
            let iso = grub_iso(&artifacts, &images, &args.cmdline, &installer, &mut steps)?;
            println!("xtask: iso     {}", relative(&iso));
        }
        Some(IsoKind::Limine) => {
            let limine = steps.run("find Limine", crate::limine_fetch::find_limine)?;
            let iso = limine_iso(
                &limine,
                &artifacts,
                &images,
                &args.cmdline,
                &installer,
                &mut steps,
            )?;
            println!("xtask: iso     {}", relative(&iso));
        }
    }
    steps.summary();
    Ok(())
}

/// The root program: `procsrv` once it exists, else `hello`.
pub fn default_root(artifacts: &Artifacts) -> &'static str {
    if artifacts.servers.iter().any(|s| s.bin == "procsrv") {
        "procsrv"
    } else {
        "hello"
    }
}

/// Reads the ELFs of the servers, for [`image::archive::build`].
pub fn read_programs(artifacts: &Artifacts) -> Result<Vec<(String, Vec<u8>)>, String> {
    artifacts
        .servers
        .iter()
        .map(|s| Ok((s.bin.clone(), read(&s.elf)?)))
        .collect()
}

/// The boot archive bytes with `root` as the root task and `root_args` (words, may be
/// empty) in its manifest's `root-args` line.
pub fn archive_bytes(
    programs: &[(String, Vec<u8>)],
    root: &str,
    root_args: &str,
) -> Result<Vec<u8>, String> {
    let programs: Vec<Program<'_>> = programs
        .iter()
        .map(|(name, elf)| Program { name, elf })
        .collect();
    image::archive::build_with_args(root, root_args, &programs).map_err(|e| e.to_string())
}

/// What the boot archive starts: a program and the words in its manifest's `root-args`.
#[derive(Clone, Debug, Default)]
pub struct Root {
    /// The program (`None`: the default, `procsrv` if built, else `hello`).
    pub program: Option<String>,
    /// Words for it (see `image::archive::ROOT_ARGS_KEY`).
    pub args: String,
}

/// Writes `archive.cpio` and `bundle.cpio` for `artifacts`, with the default root task.
pub fn archive_and_bundle(artifacts: &Artifacts, steps: &mut Steps) -> Result<Images, String> {
    let dir = artifacts.profile.build_dir()?;
    archive_and_bundle_in(artifacts, steps, &Root::default(), &dir)
}

/// Writes `archive.cpio` and `bundle.cpio` in `dir`, starting `root`.
pub fn archive_and_bundle_in(
    artifacts: &Artifacts,
    steps: &mut Steps,
    root: &Root,
    dir: &Path,
) -> Result<Images, String> {
    steps.run("image archive and bundle", || {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let programs = read_programs(artifacts)?;
        let program = root.program.as_deref().unwrap_or(default_root(artifacts));
        if !programs.iter().any(|(name, _)| name == program) {
            let names: Vec<&str> = programs.iter().map(|(name, _)| name.as_str()).collect();
            return Err(format!(
                "no program `{program}` to boot as the root task (there are: {})",
                names.join(", ")
            ));
        }
        let archive = archive_bytes(&programs, program, &root.args)?;
        let kernel = read(&artifacts.kernel)?;
        let images = Images {
            archive: dir.join("archive.cpio"),
            bundle: dir.join("bundle.cpio"),
        };
        write(&images.archive, &archive)?;
        write(&images.bundle, &image::bundle::build(&kernel, &archive))?;
        Ok(images)
    })
}

/// Makes `build/<profile>/hatchery-grub.iso` with `cmdline` in its grub.cfg.
pub fn grub_iso(
    artifacts: &Artifacts,
    images: &Images,
    cmdline: &str,
    installer: &Installer,
    steps: &mut Steps,
) -> Result<PathBuf, String> {
    let dir = artifacts.profile.build_dir()?;
    grub_iso_in(artifacts, images, cmdline, installer, steps, &dir)
}

/// Makes `hatchery-grub.iso` (tree in `iso-grub/`) in `dir`.
pub fn grub_iso_in(
    artifacts: &Artifacts,
    images: &Images,
    cmdline: &str,
    installer: &Installer,
    steps: &mut Steps,
    dir: &Path,
) -> Result<PathBuf, String> {
    installer.ensure(&[&XORRISO, &MTOOLS, &GRUB])?;
    steps.run("image GRUB ISO", || {
        let tree_dir = dir.join("iso-grub");
        let iso = dir.join("hatchery-grub.iso");
        let tree = image::grub::tree(
            &artifacts.loader,
            &artifacts.kernel,
            &images.archive,
            cmdline,
        )
        .map_err(|e| e.to_string())?;
        tree.write(&tree_dir).map_err(|e| e.to_string())?;
        run_quiet(&mut image::grub::mkrescue_command(&tree_dir, &iso))?;
        Ok(iso)
    })
}

/// Makes `build/<profile>/hatchery.iso` (Limine, hybrid BIOS + UEFI) with `cmdline`.
pub fn limine_iso(
    limine: &LimineInstall,
    artifacts: &Artifacts,
    images: &Images,
    cmdline: &str,
    installer: &Installer,
    steps: &mut Steps,
) -> Result<PathBuf, String> {
    installer.ensure(&[&XORRISO])?;
    steps.run("image Limine ISO", || {
        let dir = artifacts.profile.build_dir()?;
        let tree_dir = dir.join("iso-limine");
        let iso = dir.join("hatchery.iso");
        let tree = image::limine::tree(limine, &artifacts.kernel, &images.archive, cmdline)
            .map_err(|e| e.to_string())?;
        tree.write(&tree_dir).map_err(|e| e.to_string())?;
        run_quiet(&mut image::limine::xorriso_command(&tree_dir, &iso))?;
        run_quiet(&mut image::limine::bios_install_command(limine, &iso))?;
        Ok(iso)
    })
}

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a file, naming it in the error.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
