//! Finding Limine for the Limine ISO: `LIMINE_DIR`, a system install, or the pinned binary
//! release (`image/limine.pin`), downloaded with curl, verified against the pinned sha256,
//! unpacked with tar, and its `limine` host tool compiled with cc.
//!
//! A failed download is remembered (`build/limine/download-failed`, holding why) and not
//! tried again for [`RETRY_AFTER`], so runs without a network do not each wait on curl.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use image::limine::{discover, needed_files, DiscoveryError, LimineInstall, Pin, SearchPlaces};

use crate::steps::{run_quiet, workspace_root};

/// Marker written into the unpacked release once its tarball passed verification.
const VERIFIED_MARKER: &str = ".sha256-verified";
/// File in the cache recording a failed download (its text: why).
const FAILED_MARKER: &str = "download-failed";
/// How long a failed download is not retried.
pub const RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

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
        Err(DiscoveryError::NotFound(_)) => {}
        Err(error) => return Err(error.to_string()),
    }
    let searched = "not in LIMINE_DIR, /usr/share/limine, /usr/local/share/limine";
    let failed_marker = cache.join(FAILED_MARKER);
    if let Some(why) = recent_failure(&failed_marker, SystemTime::now()) {
        return Err(format!(
            "{searched}; pinned {}: {why} less than a day ago (delete {} to retry now)",
            pin.version,
            crate::build::relative(&failed_marker)
        ));
    }
    if let Err(why) = download_pinned(&pin, &cache, &unpacked) {
        let _ = std::fs::write(&failed_marker, &why);
        return Err(format!("{searched}; pinned {}: {why}", pin.version));
    }
    let _ = std::fs::remove_file(&failed_marker);
    let places = SearchPlaces::from_environment(verified(&unpacked));
    discover(&places).map_err(|e| e.to_string())
}

/// What Limine is and where to get it, for the line after a failed [`find_limine`].
pub fn help() -> String {
    let pin = std::fs::read_to_string(workspace_root().join("image/limine.pin"))
        .ok()
        .and_then(|text| Pin::parse(&text).ok());
    let source = match pin {
        Some(Pin {
            url,
            sha256: Some(sha256),
            ..
        }) => format!("{url} (sha256 {})", image::limine::hex(&sha256)),
        _ => "the Limine binary release named in image/limine.pin".into(),
    };
    format!(
        "the Limine ISO needs {} in one folder (LIMINE_DIR=folder), as in {source}; \
         the direct loader and `--iso grub` need no Limine",
        needed_files()
    )
}

/// Why the download failed, if it did less than [`RETRY_AFTER`] before `now`.
fn recent_failure(marker: &Path, now: SystemTime) -> Option<String> {
    let modified = std::fs::metadata(marker).and_then(|m| m.modified()).ok()?;
    let age = now.duration_since(modified).unwrap_or_default();
    if age >= RETRY_AFTER {
        return None;
    }
    let why = std::fs::read_to_string(marker).unwrap_or_default();
    Some(why.trim().to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_download_is_not_retried_within_a_day() {
        let dir = std::env::temp_dir().join(format!("xtask-limine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join(FAILED_MARKER);
        assert_eq!(recent_failure(&marker, SystemTime::now()), None);
        std::fs::write(
            &marker,
            "download failed (curl: (6) Could not resolve host)\n",
        )
        .unwrap();
        let now = SystemTime::now();
        assert_eq!(
            recent_failure(&marker, now).as_deref(),
            Some("download failed (curl: (6) Could not resolve host)")
        );
        assert_eq!(recent_failure(&marker, now + RETRY_AFTER), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn help_names_the_files_the_pinned_source_and_the_alternatives() {
        let help = help();
        assert!(
            help.contains("limine-bios.sys, limine-bios-cd.bin"),
            "{help}"
        );
        assert!(
            help.contains("https://github.com/limine-bootloader/limine/"),
            "{help}"
        );
        assert!(help.contains("(sha256 ceefe626"), "{help}");
        assert!(help.contains("`--iso grub` need no Limine"), "{help}");
    }
}
