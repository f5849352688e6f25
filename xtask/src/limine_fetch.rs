//! Finding Limine for the Limine ISO: `LIMINE_DIR`, a system install, or the pinned binary
//! release (`image/limine.pin`), downloaded with curl, verified against the pinned sha256,
//! unpacked with tar, and its `limine` host tool compiled with cc.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::limine::{discover, DiscoveryError, LimineInstall, Pin, SearchPlaces};

use crate::steps::{run_quiet, workspace_root};

/// Marker written into the unpacked release once its tarball passed verification.
const VERIFIED_MARKER: &str = ".sha256-verified";

/// Finds Limine, downloading the pinned release if nothing else has it.
///
/// # Errors
/// One line saying where Limine was looked for and why the download did not help.
pub fn find_limine() -> Result<LimineInstall, String> {
    let pin_path = workspace_root().join("image/limine.pin");
    let pin_text =
        std::fs::read_to_string(&pin_path).map_err(|e| format!("{}: {e}", pin_path.display()))?;
    let pin = Pin::parse(&pin_text).map_err(|e| format!("{}: {e}", pin_path.display()))?;
    let cache = workspace_root().join("build/limine");
    let unpacked = cache.join(pin.unpacked_name());
    let verified = |dir: &Path| is_verified(dir, &pin).then(|| dir.to_path_buf());

    let places = SearchPlaces::from_environment(verified(&unpacked));
    match discover(&places) {
        Ok(found) => return Ok(found),
        Err(error @ DiscoveryError::IncompleteLimineDir { .. }) => return Err(error.to_string()),
        Err(DiscoveryError::NotFound(_)) => {}
    }
    let searched = "not in LIMINE_DIR, /usr/share/limine, /usr/local/share/limine";
    download_pinned(&pin, &cache, &unpacked)
        .map_err(|why| format!("{searched}; pinned {}: {why}", pin.version))?;
    let places = SearchPlaces::from_environment(verified(&unpacked));
    discover(&places).map_err(|e| e.to_string())
}

fn is_verified(dir: &Path, pin: &Pin) -> bool {
    let Some(sha256) = pin.sha256 else {
        return false;
    };
    std::fs::read_to_string(dir.join(VERIFIED_MARKER))
        .is_ok_and(|text| text.trim() == image::limine::hex(&sha256))
}

fn download_pinned(pin: &Pin, cache: &Path, unpacked: &Path) -> Result<(), String> {
    let sha256 = pin
        .sha256
        .ok_or("image/limine.pin has no sha256, so no download is trusted")?;
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let tarball = cache.join(format!("{}.tar.gz", pin.unpacked_name()));
    let output = Command::new("curl")
        .args([
            "-fsSL",
            "--connect-timeout",
            "10",
            "--max-time",
            "300",
            "-o",
        ])
        .arg(&tarball)
        .arg(&pin.url)
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tarball);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr.lines().last().unwrap_or("curl failed").trim();
        return Err(format!("download failed ({why})"));
    }
    let bytes = std::fs::read(&tarball).map_err(|e| format!("{}: {e}", tarball.display()))?;
    if let Err(error) = pin.verify(&bytes) {
        let _ = std::fs::remove_file(&tarball);
        return Err(format!("{error}; the download was deleted"));
    }
    if unpacked.exists() {
        std::fs::remove_dir_all(unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;
    }
    run_quiet(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(cache),
    )?;
    build_tool(unpacked)?;
    let marker = unpacked.join(VERIFIED_MARKER);
    std::fs::write(&marker, image::limine::hex(&sha256))
        .map_err(|e| format!("{}: {e}", marker.display()))
}

/// Compiles the release's `limine.c` into the `limine` host tool.
fn build_tool(dir: &Path) -> Result<PathBuf, String> {
    let source = dir.join("limine.c");
    if !source.is_file() {
        return Err(format!("{} is missing", source.display()));
    }
    let tool = dir.join("limine");
    run_quiet(
        Command::new("cc")
            .args(["-O2", "-pipe", "-std=c99"])
            .arg(&source)
            .arg("-o")
            .arg(&tool),
    )?;
    Ok(tool)
}
