//! An ISO tree: the files an ISO will hold, by their path inside the ISO.
//!
//! Builders ([`crate::grub::tree`], [`crate::limine::tree`]) return a tree; [`IsoTree::write`]
//! lays it out in a directory that xorriso or grub-mkrescue then turns into an ISO.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the bytes of one file in the tree come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Copied from a file on the host.
    File(PathBuf),
    /// Written from memory (generated configuration).
    Bytes(Vec<u8>),
}

/// The files of an ISO, in the order added. Paths are relative, `/`-separated.
#[derive(Clone, Debug, Default)]
pub struct IsoTree {
    entries: Vec<(String, Source)>,
}

impl IsoTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `path` with the contents of the host file `source`.
    pub fn add_file(&mut self, path: &str, source: impl Into<PathBuf>) -> &mut Self {
        self.entries
            .push((path.into(), Source::File(source.into())));
        self
    }

    /// Adds `path` holding `bytes`.
    pub fn add_bytes(&mut self, path: &str, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.entries
            .push((path.into(), Source::Bytes(bytes.into())));
        self
    }

    /// The paths in the tree, in the order added.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(path, _)| path.as_str())
    }

    /// Where the contents of `path` come from, if it is in the tree.
    pub fn source(&self, path: &str) -> Option<&Source> {
        self.entries
            .iter()
            .find(|(entry, _)| entry == path)
            .map(|(_, source)| source)
    }

    /// Replaces `root` with a directory holding exactly this tree.
    ///
    /// # Errors
    /// Any I/O error, with the path it concerns in its message.
    pub fn write(&self, root: &Path) -> io::Result<()> {
        if root.exists() {
            fs::remove_dir_all(root).map_err(|e| with_path(e, root))?;
        }
        fs::create_dir_all(root).map_err(|e| with_path(e, root))?;
        for (path, source) in &self.entries {
            let target = root.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|e| with_path(e, parent))?;
            }
            match source {
                Source::File(from) => fs::copy(from, &target)
                    .map(drop)
                    .map_err(|e| with_path(e, from))?,
                Source::Bytes(bytes) => {
                    fs::write(&target, bytes).map_err(|e| with_path(e, &target))?;
                }
            }
        }
        Ok(())
    }
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TestDir;

    #[test]
    fn write_lays_out_files_and_replaces_old_content() {
        let dir = TestDir::new("iso-write");
        let host_file = dir.path().join("kernel.elf");
        fs::write(&host_file, b"ELF").unwrap();
        let root = dir.path().join("tree");
        fs::create_dir_all(root.join("stale")).unwrap();

        let mut tree = IsoTree::new();
        tree.add_file("boot/hatchery", &host_file)
            .add_bytes("boot/grub/grub.cfg", "boot\n");
        tree.write(&root).unwrap();

        assert_eq!(fs::read(root.join("boot/hatchery")).unwrap(), b"ELF");
        assert_eq!(
            fs::read(root.join("boot/grub/grub.cfg")).unwrap(),
            b"boot\n"
        );
        assert!(!root.join("stale").exists());
    }

    #[test]
    fn write_names_the_missing_source() {
        let dir = TestDir::new("iso-missing");
        let mut tree = IsoTree::new();
        tree.add_file("boot/hatchery", dir.path().join("nope"));
        let error = tree.write(&dir.path().join("tree")).unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }
}
