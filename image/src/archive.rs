//! The boot archive: one cpio newc file holding the userspace programs and a manifest.
//!
//! Layout:
//! - `manifest`: text, one `key value` per line, `#` starts a comment line.
//!   `root bin/<program>` names the root task, the one program the kernel starts.
//! - `bin/<program>`: one ELF per program, cut to what a loader reads ([`strip_to_loaded`]:
//!   the headers and the loaded segments; debug sections and symbols stay on the host).

use std::fmt;

use bootfmt::cpio::CpioWriter;

use crate::{MODE_EXECUTABLE, MODE_FILE};

/// Name of the manifest entry inside the archive.
pub const MANIFEST_NAME: &str = "manifest";
/// Directory of the program entries inside the archive.
pub const PROGRAM_DIR: &str = "bin";

/// One userspace program to put in the archive.
#[derive(Clone, Copy, Debug)]
pub struct Program<'a> {
    /// Name of the program: the archive entry is `bin/<name>`.
    pub name: &'a str,
    /// The program's ELF file.
    pub elf: &'a [u8],
}

/// Why a boot archive could not be built.
#[derive(Debug, PartialEq, Eq)]
pub enum ArchiveError {
    /// The root program is not among the programs.
    RootMissing(String),
    /// A program name is empty or holds `/`, whitespace or a control character.
    BadProgramName(String),
    /// Two programs share a name.
    DuplicateProgram(String),
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RootMissing(name) => {
                write!(f, "the root program `{name}` is not among the programs")
            }
            Self::BadProgramName(name) => write!(
                f,
                "program name `{name}` must be non-empty without `/`, spaces or control characters"
            ),
            Self::DuplicateProgram(name) => write!(f, "program `{name}` is listed twice"),
        }
    }
}

impl std::error::Error for ArchiveError {}

/// The archive path of program `name`: `bin/<name>`.
pub fn program_path(name: &str) -> String {
    format!("{PROGRAM_DIR}/{name}")
}

/// The manifest text naming `root` as the root task.
pub fn manifest_text(root: &str) -> String {
    format!(
        "# Hatchery boot archive manifest, written by `cargo xtask image`.\n\
         # `root` names the program the kernel starts first.\n\
         root {}\n",
        program_path(root)
    )
}

/// Key of the manifest line holding the root task's arguments (words for the root task to
/// interpret: `utest` runs only the tests whose names contain one of them).
pub const ROOT_ARGS_KEY: &str = "root-args";

/// The manifest text naming `root` as the root task, with a `root-args` line when `args`
/// is not empty.
pub fn manifest_text_with_args(root: &str, args: &str) -> String {
    let mut text = manifest_text(root);
    let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
    if !args.is_empty() {
        text.push_str(&format!(
            "# `{ROOT_ARGS_KEY}`: words for the root task.\n{ROOT_ARGS_KEY} {args}\n"
        ));
    }
    text
}

/// Builds the boot archive: the manifest first, then `bin/<name>` for every program in
/// the order given.
///
/// # Errors
/// [`ArchiveError`] when `root` is not a program, or a program name is bad or repeated.
pub fn build(root: &str, programs: &[Program<'_>]) -> Result<Vec<u8>, ArchiveError> {
    build_with_args(root, "", programs)
}

/// [`build`], with a `root-args` manifest line holding `args` (see
/// [`manifest_text_with_args`]).
///
/// # Errors
/// As [`build`].
pub fn build_with_args(
    root: &str,
    args: &str,
    programs: &[Program<'_>],
) -> Result<Vec<u8>, ArchiveError> {
    for (index, program) in programs.iter().enumerate() {
        let bad_char = |c: char| c == '/' || c.is_whitespace() || c.is_control();
        if program.name.is_empty() || program.name.contains(bad_char) {
            return Err(ArchiveError::BadProgramName(program.name.into()));
        }
        if programs[..index].iter().any(|p| p.name == program.name) {
            return Err(ArchiveError::DuplicateProgram(program.name.into()));
        }
    }
    if !programs.iter().any(|p| p.name == root) {
        return Err(ArchiveError::RootMissing(root.into()));
    }
    let mut writer = CpioWriter::new().file(
        MANIFEST_NAME,
        manifest_text_with_args(root, args).as_bytes(),
        MODE_FILE,
    );
    for program in programs {
        let elf = strip_to_loaded(program.elf);
        writer = writer.file(&program_path(program.name), &elf, MODE_EXECUTABLE);
    }
    Ok(writer.finish())
}

/// The ELF cut after its last loaded byte (program headers and `PT_LOAD` segments), with
/// no section header table: debug information and symbols are not loaded, and they would
/// make the boot archive (one root CNode slot per page) several times larger. A file that
/// does not parse as an ELF is kept whole (the loader in the system refuses it).
pub fn strip_to_loaded(elf: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    let Ok(file) = bootfmt::elf::ElfFile::parse(elf) else {
        return Cow::Borrowed(elf);
    };
    let field = |at: usize, len: usize| -> u64 {
        let mut bytes = [0u8; 8];
        bytes[..len].copy_from_slice(&elf[at..at + len]);
        u64::from_le_bytes(bytes)
    };
    let headers_end = field(32, 8) + field(54, 2) * field(56, 2);
    let end = file
        .load_segments()
        .map(|segment| segment.offset + segment.filesz)
        .chain([headers_end, 64])
        .max()
        .unwrap_or(0);
    let Ok(end) = usize::try_from(end) else {
        return Cow::Borrowed(elf);
    };
    if end >= elf.len() {
        return Cow::Borrowed(elf);
    }
    let mut cut = elf[..end].to_vec();
    // No section headers: e_shoff, e_shnum and e_shstrndx are zero.
    cut[40..48].fill(0);
    cut[60..64].fill(0);
    Cow::Owned(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio_entries as entries;

    fn program<'a>(name: &'a str, elf: &'a [u8]) -> Program<'a> {
        Program { name, elf }
    }

    #[test]
    fn stripping_keeps_the_loaded_bytes_and_drops_the_rest() {
        let mut elf = vec![0u8; 8192];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[6] = 1;
        elf[16..18].copy_from_slice(&2u16.to_le_bytes());
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        elf[20..24].copy_from_slice(&1u32.to_le_bytes());
        elf[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes());
        elf[32..40].copy_from_slice(&64u64.to_le_bytes());
        elf[40..48].copy_from_slice(&6000u64.to_le_bytes());
        elf[54..56].copy_from_slice(&56u16.to_le_bytes());
        elf[56..58].copy_from_slice(&1u16.to_le_bytes());
        elf[60..62].copy_from_slice(&3u16.to_le_bytes());
        let ph = 64;
        elf[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
        elf[ph + 4..ph + 8].copy_from_slice(&5u32.to_le_bytes());
        elf[ph + 8..ph + 16].copy_from_slice(&4096u64.to_le_bytes());
        elf[ph + 16..ph + 24].copy_from_slice(&0x40_1000u64.to_le_bytes());
        elf[ph + 32..ph + 40].copy_from_slice(&100u64.to_le_bytes());
        elf[ph + 40..ph + 48].copy_from_slice(&100u64.to_le_bytes());
        elf[4096..4196].fill(0xcc);
        let cut = strip_to_loaded(&elf);
        assert_eq!(cut.len(), 4196);
        assert_eq!(&cut[4096..], &elf[4096..4196]);
        assert_eq!(&cut[40..48], &[0; 8], "no section header table");
        assert_eq!(&cut[60..62], &[0; 2]);
        let parsed = bootfmt::elf::ElfFile::parse(&cut).unwrap();
        assert_eq!(parsed.load_segments().count(), 1);
        assert_eq!(&*strip_to_loaded(b"not an elf"), b"not an elf");
    }

    #[test]
    fn root_args_become_one_manifest_line_only_when_given() {
        assert_eq!(
            manifest_text_with_args("utest", "  "),
            manifest_text("utest")
        );
        let text = manifest_text_with_args("utest", " cpu  ports ");
        let manifest = bootfmt::manifest::Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(manifest.root(), "bin/utest");
        let args: Vec<_> = manifest
            .lines()
            .filter(|line| line.key == ROOT_ARGS_KEY)
            .map(|line| line.rest)
            .collect();
        assert_eq!(args, ["cpu ports"]);
    }

    #[test]
    fn manifest_names_the_root_under_bin() {
        let text = manifest_text("hello");
        let lines: Vec<&str> = text.lines().filter(|line| !line.starts_with('#')).collect();
        assert_eq!(lines, ["root bin/hello"]);
    }

    #[test]
    fn archive_holds_manifest_then_programs_in_order() {
        let bytes = build(
            "hello",
            &[
                program("hello", b"\x7fELF-h"),
                program("procsrv", b"\x7fELF-p"),
            ],
        )
        .unwrap();
        let read = entries(&bytes);
        let names: Vec<&str> = read.iter().map(|entry| entry.0.as_str()).collect();
        assert_eq!(names, ["manifest", "bin/hello", "bin/procsrv"]);
        assert_eq!(read[0].2, manifest_text("hello").as_bytes());
        assert_eq!(read[1].2, b"\x7fELF-h");
        assert_eq!(read[2].1, 0o100_755);
    }

    #[test]
    fn the_kernel_side_reader_finds_the_root_task() {
        let bytes = build(
            "procsrv",
            &[
                program("hello", b"\x7fELF-h"),
                program("procsrv", b"\x7fELF-p"),
            ],
        )
        .unwrap();
        let archive = bootfmt::archive::BootArchive::parse(&bytes).unwrap();
        assert_eq!(archive.manifest().root(), "bin/procsrv");
        assert_eq!(archive.root_task(), b"\x7fELF-p");
    }

    #[test]
    fn root_must_be_one_of_the_programs() {
        let error = build("procsrv", &[program("hello", b"")]).unwrap_err();
        assert_eq!(error, ArchiveError::RootMissing("procsrv".into()));
    }

    #[test]
    fn program_names_with_slash_or_space_are_refused() {
        for name in ["", "a/b", "a b", "tab\t"] {
            let error = build(name, &[program(name, b"")]).unwrap_err();
            assert_eq!(error, ArchiveError::BadProgramName(name.into()));
        }
    }

    #[test]
    fn duplicate_program_names_are_refused() {
        let error = build("a", &[program("a", b"1"), program("a", b"2")]).unwrap_err();
        assert_eq!(error, ArchiveError::DuplicateProgram("a".into()));
    }
}
