//! `cargo xtask bench hatch --linux`: Linux in the same QEMU, for reference.
//!
//! 1. The kernel: a Debian kernel package (`apt-get download`, nothing installed; only its
//!    `boot/vmlinuz-*` is unpacked, from `dpkg-deb --fsys-tarfile`), cached under
//!    `build/bench/linux/kernel/` so reruns do not download again.
//! 2. The programs: `bench/linux/hatchbench.c` (the init: the measurements) and
//!    `bench/linux/child.c` (the child: one page, exits at once), built statically with gcc.
//! 3. An initramfs (cpio newc, `/init` and `/child`), booted with exactly the QEMU flags of
//!    Hatchery's benchmarks (the same [`Qemu`] configuration: q35, qboot, 128M, one vCPU,
//!    `-icount shift=0`), the kernel instead of the direct-boot loader.
//! 4. The init prints `bench-row:` lines (bench_report.rs) and powers off.
//!
//! A missing tool or an unreachable package source is [`LinuxError::Unavailable`]: one
//! line, and the rest of the benchmark goes on. A run that fails is
//! [`LinuxError::Failed`]: no Linux figures are reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bootfmt::cpio::CpioWriter;

use crate::bench_report::{rows_from_log, Row};
use crate::qemu::{run_watched, Boot, Qemu, Watch};
use crate::serial::Ending;
use crate::steps::{describe, workspace_root, Steps};
use crate::tools::find_on_path;

/// The Debian kernel package measured by default (Debian 12's 6.1 kernel), and its version.
pub const KERNEL_PACKAGE: &str = "linux-image-6.1.0-57-amd64";
/// The version of [`KERNEL_PACKAGE`] the figures in docs/benchmarks.md were measured with.
pub const KERNEL_VERSION: &str = "6.1.192-3";
/// The kernel command line: serial console, no speculation mitigations (as the reference
/// figures), reboot (so QEMU exits) rather than hang if the init dies.
pub const KERNEL_CMDLINE: &str = "console=ttyS0 mitigations=off quiet panic=-1";
/// The init prints this when every figure is out.
const DONE: &str = "bench-linux: done";
/// How long the boot and the measurements may take under TCG.
const TIMEOUT: Duration = Duration::from_secs(600);
/// The child's loaded bytes must sit in one page.
const PAGE: u64 = 4096;

/// Why there are no Linux figures.
#[derive(Debug, PartialEq, Eq)]
pub enum LinuxError {
    /// A tool is missing or the package source cannot be reached: say so in one line and
    /// go on with the rest of the benchmark.
    Unavailable(String),
    /// The benchmark ran and failed (a hatch failed, a wrong exit status, a crash): refuse
    /// to report.
    Failed(String),
}

/// What the Linux run measured, and on what.
#[derive(Debug)]
pub struct LinuxRun {
    /// The figures.
    pub rows: Vec<Row>,
    /// `package version` of the kernel.
    pub kernel: String,
}

/// The package to fetch: `name` or `name=version` (apt-get's syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSpec {
    /// The package name, `linux-image-<abi>-amd64`.
    pub package: String,
    /// The exact version, or the newest apt knows.
    pub version: Option<String>,
}

impl KernelSpec {
    /// The pinned default.
    pub fn pinned() -> Self {
        Self {
            package: KERNEL_PACKAGE.into(),
            version: Some(KERNEL_VERSION.into()),
        }
    }

    /// Parses `name` or `name=version`.
    ///
    /// # Errors
    /// When the name does not look like a Debian kernel image package, or a part holds
    /// characters apt package names and versions do not have.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (package, version) = match text.split_once('=') {
            Some((package, version)) => (package, Some(version)),
            None => (text, None),
        };
        let name_ok = package.starts_with("linux-image-")
            && package
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
        let version_ok = version.is_none_or(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.~:".contains(c))
        });
        if !name_ok || !version_ok {
            return Err(format!(
                "`{text}` is not a Debian kernel package (`linux-image-<version>-amd64[=<package version>]`)"
            ));
        }
        Ok(Self {
            package: package.into(),
            version: version.map(String::from),
        })
    }

    /// The argument of `apt-get download`.
    pub fn apt_argument(&self) -> String {
        match &self.version {
            Some(version) => format!("{}={version}", self.package),
            None => self.package.clone(),
        }
    }

    /// The cache directory of this spec, under `build/bench/linux/kernel/`.
    fn cache_dir(&self) -> PathBuf {
        let name = self.apt_argument().replace([':', '='], "_");
        workspace_root().join("build/bench/linux/kernel").join(name)
    }
}

/// Runs the Linux side: kernel, programs, initramfs, boot.
pub fn run(spec: &KernelSpec, steps: &mut Steps) -> Result<LinuxRun, LinuxError> {
    let failed = |e: String| LinuxError::Failed(e);
    let (vmlinuz, kernel) = steps
        .run("linux: kernel package", || Ok(fetch_kernel(spec)))
        .map_err(failed)??;
    let initramfs = steps
        .run("linux: build the C benchmark and the initramfs", || {
            Ok(build_initramfs(&workspace_root().join("build/bench/linux")))
        })
        .map_err(failed)??;
    let mut qemu = Qemu::new(Boot::Direct {
        loader: vmlinuz,
        bundle: initramfs,
        cmdline: KERNEL_CMDLINE.into(),
    });
    qemu.extra = vec!["-icount".into(), "shift=0".into()];
    println!("xtask: linux: {}", describe(&qemu.command()));
    let watched = steps
        .run("linux: boot and measure", || {
            run_watched(
                &mut qemu.command(),
                Watch {
                    timeout: Some(TIMEOUT),
                    ..Watch::default()
                },
            )
        })
        .map_err(failed)?;
    let log_path = workspace_root().join("build/bench/linux/serial.log");
    let _ = std::fs::write(&log_path, &watched.log);
    let rows = rows_from_log(&watched.log).map_err(failed)?;
    let finished = watched.log.lines().any(|line| line.trim_end() == DONE);
    if !finished || watched.ending != Ending::Exited(Some(0)) {
        return Err(failed(format!(
            "the Linux benchmark did not finish ({:?}, {} rows); its serial log is {}:\n{}",
            watched.ending,
            rows.len(),
            log_path.display(),
            crate::serial::tail(&watched.log, 20)
        )));
    }
    Ok(LinuxRun { rows, kernel })
}

/// The kernel image of `spec` (from the cache, else downloaded) and `package version`.
fn fetch_kernel(spec: &KernelSpec) -> Result<(PathBuf, String), LinuxError> {
    let cache = spec.cache_dir();
    let vmlinuz = cache.join("vmlinuz");
    let version_file = cache.join("version");
    if let (true, Ok(version)) = (vmlinuz.is_file(), std::fs::read_to_string(&version_file)) {
        println!("xtask: linux: kernel from the cache, {}", cache.display());
        return Ok((vmlinuz, format!("{} {}", spec.package, version.trim())));
    }
    for tool in ["apt-get", "dpkg-deb", "tar"] {
        if find_on_path(tool).is_none() {
            return Err(LinuxError::Unavailable(format!(
                "no `{tool}` on this machine: cannot fetch a Debian kernel package"
            )));
        }
    }
    let download = cache.join("download");
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download)
        .map_err(|e| LinuxError::Failed(format!("{}: {e}", download.display())))?;
    let mut apt = Command::new("apt-get");
    apt.current_dir(&download)
        // Root downloads into a directory `_apt` cannot write: do not drop privileges.
        .args(["-q", "-o", "APT::Sandbox::User=root", "download"])
        .arg(spec.apt_argument());
    let output = apt
        .output()
        .map_err(|e| LinuxError::Unavailable(format!("cannot run {}: {e}", describe(&apt))))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .rfind(|line| line.starts_with("E:"))
            .or_else(|| stderr.lines().next_back())
            .unwrap_or("no message")
            .to_string();
        return Err(LinuxError::Unavailable(format!(
            "`{}` failed: {why} (an old package list: `apt-get update`; a package no longer in the archive: another with --linux-package)",
            describe(&apt)
        )));
    }
    let deb = single_deb(&download).map_err(LinuxError::Failed)?;
    let version = deb_version(&deb).map_err(LinuxError::Failed)?;
    let image = unpack_vmlinuz(&deb, &download).map_err(LinuxError::Failed)?;
    let failed = |e: std::io::Error| LinuxError::Failed(format!("{}: {e}", cache.display()));
    std::fs::rename(&image, &vmlinuz).map_err(failed)?;
    std::fs::write(&version_file, format!("{version}\n")).map_err(failed)?;
    std::fs::remove_dir_all(&download).map_err(failed)?;
    println!(
        "xtask: linux: {} {version} downloaded; its kernel image is cached in {}",
        spec.package,
        cache.display()
    );
    Ok((vmlinuz, format!("{} {version}", spec.package)))
}

/// The one `.deb` apt-get downloaded into `dir`.
fn single_deb(dir: &Path) -> Result<PathBuf, String> {
    let debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .collect();
    match debs.as_slice() {
        [deb] => Ok(deb.clone()),
        _ => Err(format!(
            "expected one .deb in {}, found {}",
            dir.display(),
            debs.len()
        )),
    }
}

/// The package version recorded in `deb`.
fn deb_version(deb: &Path) -> Result<String, String> {
    let mut command = Command::new("dpkg-deb");
    command.arg("--field").arg(deb).arg("Version");
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", describe(&command)))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || version.is_empty() {
        return Err(format!("{} gave no version", describe(&command)));
    }
    Ok(version)
}

/// Unpacks only `boot/vmlinuz-*` of `deb` into `dir` (the modules, ~400 MB, are not
/// needed: the initramfs loads none) and returns its path.
fn unpack_vmlinuz(deb: &Path, dir: &Path) -> Result<PathBuf, String> {
    let mut dpkg = Command::new("dpkg-deb");
    dpkg.arg("--fsys-tarfile").arg(deb).stdout(Stdio::piped());
    let mut dpkg_child = dpkg
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", describe(&dpkg)))?;
    let tar_input = dpkg_child.stdout.take().expect("stdout is piped");
    let mut tar = Command::new("tar");
    tar.current_dir(dir)
        .args(["-x", "--wildcards", "./boot/vmlinuz-*"])
        .stdin(tar_input);
    let tar_status = tar
        .status()
        .map_err(|e| format!("cannot run {}: {e}", describe(&tar)))?;
    let dpkg_status = dpkg_child
        .wait()
        .map_err(|e| format!("waiting for dpkg-deb: {e}"))?;
    if !tar_status.success() || !dpkg_status.success() {
        return Err(format!(
            "unpacking {}: dpkg-deb {dpkg_status}, tar {tar_status}",
            deb.display()
        ));
    }
    let boot = dir.join("boot");
    let images: Vec<PathBuf> = std::fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    match images.as_slice() {
        [image] => Ok(image.clone()),
        _ => Err(format!(
            "{} holds {} kernel images",
            deb.display(),
            images.len()
        )),
    }
}

/// gcc command lines: the init (static glibc) and the child (no libc, one page).
fn gcc_commands(source: &Path, out: &Path) -> [Command; 2] {
    let mut init = Command::new("gcc");
    init.args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(out.join("init"))
        .arg(source.join("hatchbench.c"));
    let mut child = Command::new("gcc");
    child
        .args([
            "-static",
            "-nostdlib",
            "-nostartfiles",
            "-O2",
            "-Wall",
            "-Werror",
            "-fno-asynchronous-unwind-tables",
            "-fno-stack-protector",
            "-fcf-protection=none",
            "-Wl,--build-id=none",
            "-Wl,-n",
            "-Wl,-z,norelro",
            "-o",
        ])
        .arg(out.join("child"))
        .arg(source.join("child.c"));
    [init, child]
}

/// Checks that `child` is an ELF whose loaded bytes sit in one page.
fn check_child(child: &[u8]) -> Result<(), String> {
    let elf = bootfmt::elf::ElfFile::parse(child).map_err(|e| format!("the child: {e}"))?;
    let segments = elf.load_segments().count();
    let (low, high) = elf.load_bounds();
    if segments != 1 || high <= low || low / PAGE != (high - 1) / PAGE {
        return Err(format!(
            "the child is not one page: {segments} loadable segment(s) over {low:#x}..{high:#x}"
        ));
    }
    Ok(())
}

/// Builds the two programs into `out` and packs them: returns the initramfs path.
fn build_initramfs(out: &Path) -> Result<PathBuf, LinuxError> {
    if find_on_path("gcc").is_none() {
        return Err(LinuxError::Unavailable(
            "no `gcc` on this machine: cannot build the C benchmark (apt-get install gcc libc6-dev)"
                .into(),
        ));
    }
    let source = workspace_root().join("bench/linux");
    std::fs::create_dir_all(out)
        .map_err(|e| LinuxError::Failed(format!("{}: {e}", out.display())))?;
    for mut command in gcc_commands(&source, out) {
        let output = command.output().map_err(|e| {
            LinuxError::Unavailable(format!("cannot run {}: {e}", describe(&command)))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            // A missing static libc is a missing tool, not a broken benchmark.
            let unavailable = stderr.contains("cannot find -lc");
            let message = format!("{} failed:\n{}", describe(&command), stderr.trim_end());
            return Err(if unavailable {
                LinuxError::Unavailable(format!(
                    "no static C library (apt-get install libc6-dev): {message}"
                ))
            } else {
                LinuxError::Failed(message)
            });
        }
    }
    let read = |name: &str| {
        let path = out.join(name);
        std::fs::read(&path).map_err(|e| LinuxError::Failed(format!("{}: {e}", path.display())))
    };
    let (init, child) = (read("init")?, read("child")?);
    check_child(&child).map_err(LinuxError::Failed)?;
    let initramfs = CpioWriter::new()
        .file("init", &init, 0o755)
        .file("child", &child, 0o755)
        .finish();
    let path = out.join("initramfs.cpio");
    std::fs::write(&path, initramfs)
        .map_err(|e| LinuxError::Failed(format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_spec_parses_a_name_or_a_pinned_version() {
        assert_eq!(
            KernelSpec::parse("linux-image-6.1.0-57-amd64").unwrap(),
            KernelSpec {
                package: "linux-image-6.1.0-57-amd64".into(),
                version: None
            }
        );
        let pinned = KernelSpec::parse("linux-image-6.1.0-57-amd64=6.1.192-3").unwrap();
        assert_eq!(pinned, KernelSpec::pinned());
        assert_eq!(
            pinned.apt_argument(),
            "linux-image-6.1.0-57-amd64=6.1.192-3"
        );
        assert!(pinned
            .cache_dir()
            .ends_with("build/bench/linux/kernel/linux-image-6.1.0-57-amd64_6.1.192-3"));
    }

    #[test]
    fn kernel_spec_refuses_what_is_not_a_kernel_package() {
        for bad in [
            "bash",
            "linux-image-6.1 -amd64",
            "linux-image-../../etc",
            "linux-image-6.1.0-57-amd64=",
            "linux-image-6.1.0-57-amd64=1 2",
            "linux-image-x;rm",
        ] {
            assert!(KernelSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn linux_boots_with_the_flags_of_hatcherys_benchmarks() {
        let mut qemu = Qemu::new(Boot::Direct {
            loader: "/k/vmlinuz".into(),
            bundle: "/k/initramfs.cpio".into(),
            cmdline: KERNEL_CMDLINE.into(),
        });
        qemu.extra = vec!["-icount".into(), "shift=0".into()];
        let args = qemu.args().join(" ");
        assert!(args.starts_with("-M q35 -bios /usr/share/qemu/qboot.rom -kernel /k/vmlinuz -initrd /k/initramfs.cpio"), "{args}");
        assert!(args.contains("-m 128M -smp 1"), "{args}");
        assert!(args.ends_with("-icount shift=0"), "{args}");
    }

    /// Builds the real programs with this machine's gcc; without gcc, that must be
    /// reported as unavailable (one line), not as a failed benchmark.
    #[test]
    fn the_c_benchmark_builds_with_werror_and_packs_init_and_a_one_page_child() {
        let out = std::env::temp_dir().join(format!("hatchery-xtask-linux-{}", std::process::id()));
        let result = build_initramfs(&out);
        if find_on_path("gcc").is_none() {
            assert!(
                matches!(result, Err(LinuxError::Unavailable(_))),
                "{result:?}"
            );
            return;
        }
        let path = result.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let archive = bootfmt::cpio::CpioArchive::new(&bytes);
        let init = archive.find("init").unwrap().expect("no /init");
        let child = archive.find("child").unwrap().expect("no /child");
        assert_eq!(init.mode() & 0o777, 0o755);
        assert!(bootfmt::elf::ElfFile::parse(init.data()).is_ok());
        assert_eq!(check_child(child.data()), Ok(()));
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_child_of_more_than_one_page_is_refused() {
        // The init is a static glibc program: far more than one page.
        let out = std::env::temp_dir().join(format!("hatchery-xtask-big-{}", std::process::id()));
        if find_on_path("gcc").is_none() || build_initramfs(&out).is_err() {
            assert!(check_child(b"not an elf").is_err());
            return;
        }
        let init = std::fs::read(out.join("init")).unwrap();
        assert!(check_child(&init).unwrap_err().contains("not one page"));
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn the_child_is_built_without_libc_and_the_init_statically() {
        let [init, child] = gcc_commands(Path::new("/src"), Path::new("/out"));
        let init = describe(&init);
        let child = describe(&child);
        assert!(init.contains("-static") && init.ends_with("/src/hatchbench.c"));
        assert!(child.contains("-nostdlib") && child.contains("-static"));
        assert!(child.contains("-o /out/child /src/child.c"));
    }
}
