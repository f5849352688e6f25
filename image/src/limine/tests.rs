use std::fs;

use super::*;
use crate::testdir::TestDir;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn fake_limine(dir: &Path, with_tool: bool) {
    fs::create_dir_all(dir).unwrap();
    for (name, _) in BINARIES {
        fs::write(dir.join(name), name).unwrap();
    }
    if with_tool {
        fs::write(dir.join(TOOL_NAME), "#!/bin/sh\n").unwrap();
    }
}

#[test]
fn config_boots_the_kernel_with_the_archive_module() {
    let text = config("exit log=info").unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "timeout: 0",
            "serial: yes",
            "serial_baudrate: 115200",
            "",
            "/Hatchery",
            "    protocol: limine",
            "    kernel_path: boot():/boot/hatchery",
            "    cmdline: exit log=info",
            "    module_path: boot():/boot/archive.cpio",
            "    module_cmdline: archive",
        ]
    );
}

#[test]
fn config_refuses_a_cmdline_with_a_newline() {
    assert!(config("exit\nkernel_path: boot():/evil").is_err());
}

#[test]
fn tree_has_the_layout_limine_and_xorriso_expect() {
    let limine = LimineInstall {
        dir: "/lim".into(),
        tool: "/lim/limine".into(),
        origin: Origin::Environment,
    };
    let tree = tree(&limine, Path::new("/k"), Path::new("/a"), "").unwrap();
    let mut paths: Vec<&str> = tree.paths().collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "EFI/BOOT/BOOTX64.EFI",
            "boot/archive.cpio",
            "boot/hatchery",
            "boot/limine/limine-bios-cd.bin",
            "boot/limine/limine-bios.sys",
            "boot/limine/limine-uefi-cd.bin",
            "boot/limine/limine.conf",
        ]
    );
    assert_eq!(
        tree.source("EFI/BOOT/BOOTX64.EFI"),
        Some(&crate::iso::Source::File("/lim/BOOTX64.EFI".into()))
    );
}

#[test]
fn xorriso_boots_bios_and_uefi_images_from_the_tree() {
    let command = xorriso_command(Path::new("tree"), Path::new("out.iso"));
    let args: Vec<String> = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let after = |flag: &str| {
        let at = args.iter().position(|arg| arg == flag).unwrap();
        args[at + 1].clone()
    };
    assert_eq!(after("-b"), "boot/limine/limine-bios-cd.bin");
    assert_eq!(after("--efi-boot"), "boot/limine/limine-uefi-cd.bin");
    assert_eq!(after("-o"), "out.iso");
    assert!(args.contains(&"tree".to_string()));
}

#[test]
fn limine_dir_wins_over_system_dirs() {
    let root = TestDir::new("limine-env");
    let env_dir = root.path().join("env");
    let system_dir = root.path().join("system");
    fake_limine(&env_dir, true);
    fake_limine(&system_dir, true);
    let places = SearchPlaces {
        limine_dir: Some(env_dir.clone()),
        system_dirs: vec![system_dir],
        path: None,
        pinned_dir: None,
    };
    let found = discover(&places).unwrap();
    assert_eq!(found.origin, Origin::Environment);
    assert_eq!(found.dir, env_dir);
    assert_eq!(found.tool, env_dir.join("limine"));
}

#[test]
fn a_limine_dir_that_is_not_a_directory_says_so() {
    let root = TestDir::new("limine-not-a-dir");
    let missing = root.path().join("nonexistent");
    let system_dir = root.path().join("system");
    fake_limine(&system_dir, true);
    let places = SearchPlaces {
        limine_dir: Some(missing.clone()),
        system_dirs: vec![system_dir],
        ..SearchPlaces::default()
    };
    let error = discover(&places).unwrap_err();
    assert_eq!(
        error,
        DiscoveryError::LimineDirNotADirectory(missing.clone())
    );
    assert_eq!(
        error.to_string(),
        format!("LIMINE_DIR={} is not a directory", missing.display())
    );
}

#[test]
fn an_empty_limine_dir_counts_as_unset() {
    assert_eq!(limine_dir_from(Some("".into())), None);
    assert_eq!(limine_dir_from(None), None);
    assert_eq!(
        limine_dir_from(Some("/opt/limine".into())),
        Some(PathBuf::from("/opt/limine"))
    );
}

#[test]
fn needed_files_name_the_binaries_and_the_tool() {
    assert_eq!(
        needed_files(),
        "limine-bios.sys, limine-bios-cd.bin, limine-uefi-cd.bin, BOOTX64.EFI, limine"
    );
}

#[test]
fn incomplete_limine_dir_is_an_error_not_skipped() {
    let root = TestDir::new("limine-incomplete");
    let env_dir = root.path().join("env");
    fake_limine(&env_dir, false);
    fs::remove_file(env_dir.join("BOOTX64.EFI")).unwrap();
    let system_dir = root.path().join("system");
    fake_limine(&system_dir, true);
    let places = SearchPlaces {
        limine_dir: Some(env_dir.clone()),
        system_dirs: vec![system_dir],
        ..SearchPlaces::default()
    };
    assert_eq!(
        discover(&places),
        Err(DiscoveryError::IncompleteLimineDir {
            dir: env_dir,
            missing: vec!["BOOTX64.EFI".into(), "limine".into()],
        })
    );
}

#[test]
fn system_dirs_are_searched_in_order_with_the_tool_on_path() {
    let root = TestDir::new("limine-system");
    let first = root.path().join("usr-share");
    let second = root.path().join("usr-local-share");
    let bin = root.path().join("bin");
    fake_limine(&first, false);
    fake_limine(&second, false);
    fs::create_dir_all(&bin).unwrap();
    fs::write(bin.join("limine"), "").unwrap();
    let places = SearchPlaces {
        limine_dir: None,
        system_dirs: vec![first.clone(), second],
        path: Some(std::env::join_paths([root.path().join("nothing"), bin.clone()]).unwrap()),
        pinned_dir: None,
    };
    let found = discover(&places).unwrap();
    assert_eq!((found.origin, found.dir), (Origin::System, first));
    assert_eq!(found.tool, bin.join("limine"));
}

#[test]
fn system_dir_without_a_tool_falls_through_to_the_pinned_release() {
    let root = TestDir::new("limine-pinned");
    let system = root.path().join("system");
    let pinned = root.path().join("pinned");
    fake_limine(&system, false);
    fake_limine(&pinned, true);
    let places = SearchPlaces {
        limine_dir: None,
        system_dirs: vec![system],
        path: None,
        pinned_dir: Some(pinned.clone()),
    };
    let found = discover(&places).unwrap();
    assert_eq!((found.origin, found.dir), (Origin::Pinned, pinned));
}

#[test]
fn nothing_found_lists_every_place_searched() {
    let root = TestDir::new("limine-none");
    let places = SearchPlaces {
        limine_dir: None,
        system_dirs: vec![root.path().join("a"), root.path().join("b")],
        path: None,
        pinned_dir: Some(root.path().join("c")),
    };
    let error = discover(&places).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("no Limine in "), "{text}");
    assert!(
        text.contains("/a") && text.contains("/b") && text.contains("/c"),
        "{text}"
    );
}

#[test]
fn pin_parses_and_verifies_matching_bytes() {
    let text = format!(
        "# comment\nversion 1.2.3\nurl https://example.invalid/l.tar.gz\nsha256 {EMPTY_SHA256}\nprovenance computed here\n"
    );
    let pin = Pin::parse(&text).unwrap();
    assert_eq!(pin.version, "1.2.3");
    assert_eq!(pin.unpacked_name(), "limine-1.2.3-binary");
    assert_eq!(pin.provenance, "computed here");
    assert_eq!(pin.verify(b""), Ok(()));
}

#[test]
fn pin_refuses_bytes_with_another_hash() {
    let text = format!("version 1\nurl u\nsha256 {EMPTY_SHA256}\n");
    let pin = Pin::parse(&text).unwrap();
    match pin.verify(b"tampered") {
        Err(PinError::Mismatch { expected, actual }) => {
            assert_eq!(expected, EMPTY_SHA256);
            assert_ne!(actual, EMPTY_SHA256);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn pin_without_a_known_hash_refuses_every_download() {
    let pin = Pin::parse("version 1\nurl u\nsha256 unknown\n").unwrap();
    assert_eq!(pin.sha256, None);
    assert_eq!(pin.verify(b""), Err(PinError::Unverifiable));
}

#[test]
fn pin_errors_name_the_problem() {
    assert_eq!(
        Pin::parse("version 1\nurl u\n"),
        Err(PinError::MissingKey("sha256"))
    );
    assert_eq!(Pin::parse("version\n"), Err(PinError::BadLine(1)));
    assert_eq!(Pin::parse("colour blue\n"), Err(PinError::BadLine(1)));
    assert_eq!(
        Pin::parse("sha256 abc\n"),
        Err(PinError::BadSha256("abc".into()))
    );
    let non_hex = "z".repeat(64);
    assert_eq!(
        Pin::parse(&format!("sha256 {non_hex}\n")),
        Err(PinError::BadSha256(non_hex))
    );
}

#[test]
fn repository_pin_file_parses() {
    let text = include_str!("../../limine.pin");
    let pin = Pin::parse(text).unwrap();
    assert!(pin.url.ends_with(".tar.gz"), "{}", pin.url);
    assert!(pin.url.contains(&pin.version));
}
