//! Property tests: no input, random or derived from a valid file by truncation or mutation,
//! makes a parser panic; and the cpio writer's output reads back.

use bootfmt::archive::BootArchive;
use bootfmt::cpio::CpioArchive;
use bootfmt::elf::ElfFile;
use bootfmt::manifest::Manifest;
use proptest::prelude::*;

/// Exercises every reader on `bytes`; the only assertion is "does not panic".
fn read_everything(bytes: &[u8]) {
    let cpio = CpioArchive::new(bytes);
    for entry in cpio.entries().flatten() {
        let _ = (
            entry.name(),
            entry.path(),
            entry.data().len(),
            entry.data_offset(),
        );
    }
    let _ = cpio.find("kernel");
    if let Ok(elf) = ElfFile::parse(bytes) {
        for segment in elf.load_segments() {
            let _ = elf.segment_data(&segment);
        }
        let _ = elf.load_bounds();
    }
    if let Ok(manifest) = Manifest::parse(bytes) {
        for line in manifest.lines() {
            let _ = line.values().count();
        }
    }
    let _ = BootArchive::parse(bytes);
}

fn valid_elf() -> Vec<u8> {
    // Header + one PT_LOAD program header + 16 bytes of data.
    let mut out = vec![0u8; 64];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16] = 2;
    out[18] = 62;
    out[20] = 1;
    out[24..32].copy_from_slice(&0xffff_ffff_8000_0000u64.to_le_bytes());
    out[32] = 64;
    out[54] = 56;
    out[56] = 1;
    let mut ph = [0u8; 56];
    ph[0] = 1;
    ph[4] = 5;
    ph[8] = 120;
    ph[16..24].copy_from_slice(&0xffff_ffff_8000_0000u64.to_le_bytes());
    ph[32] = 16;
    ph[40] = 32;
    out.extend_from_slice(&ph);
    out.extend_from_slice(&[0x90; 16]);
    out
}

/// One newc entry, by hand (so these tests do not need the `alloc` writer).
fn entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    out.extend_from_slice(b"070701");
    let namesize = name.len() + 1;
    for value in [1, 0o100644, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, namesize, 0] {
        out.extend_from_slice(format!("{value:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn valid_archive() -> Vec<u8> {
    let mut out = Vec::new();
    entry(&mut out, "manifest", b"root bin/procsrv\nserver console\n");
    entry(&mut out, "bin/procsrv", &valid_elf());
    entry(&mut out, "TRAILER!!!", b"");
    out
}

#[test]
fn valid_samples_parse() {
    assert!(ElfFile::parse(&valid_elf()).is_ok());
    assert!(BootArchive::parse(&valid_archive()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_everything(&bytes);
    }

    #[test]
    fn truncated_files_never_panic(cut in 0usize..400) {
        let archive = valid_archive();
        read_everything(&archive[..cut.min(archive.len())]);
        let elf = valid_elf();
        read_everything(&elf[..cut.min(elf.len())]);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        for mut bytes in [valid_archive(), valid_elf()] {
            for (index, value) in &edits {
                let at = index.index(bytes.len());
                bytes[at] = *value;
            }
            read_everything(&bytes);
        }
    }

    #[test]
    fn mutated_hex_fields_never_panic(
        field in 0usize..13, digits in "[0-9a-fA-F]{8}"
    ) {
        let mut bytes = valid_archive();
        let at = 6 + field * 8;
        bytes[at..at + 8].copy_from_slice(digits.as_bytes());
        read_everything(&bytes);
    }

    #[test]
    fn manifest_text_never_panics(text in "[ -~\t\r\n#]{0,200}") {
        read_everything(text.as_bytes());
    }
}

#[cfg(feature = "alloc")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn writer_output_reads_back(
        files in proptest::collection::vec(
            ("[a-z][a-z0-9/._-]{0,20}", proptest::collection::vec(any::<u8>(), 0..64)),
            0..6,
        )
    ) {
        let mut writer = bootfmt::cpio::CpioWriter::new();
        for (name, data) in &files {
            writer = writer.file(name, data, 0o644);
        }
        let bytes = writer.finish();
        let entries: Vec<_> = CpioArchive::new(&bytes)
            .entries()
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(entries.len(), files.len());
        for (entry, (name, data)) in entries.iter().zip(&files) {
            prop_assert_eq!(entry.name(), name.as_str());
            prop_assert_eq!(entry.data(), data.as_slice());
            prop_assert!(entry.is_file());
        }
    }
}
