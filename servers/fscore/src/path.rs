//! Paths: bytes split at `/`, checked against [`PATH_MAX`] and [`NAME_MAX`].

use fs_api::{Errno, NAME_MAX, PATH_MAX};

/// A checked path: not empty, at most [`PATH_MAX`] bytes, no NUL, every component at most
/// [`NAME_MAX`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path<'a> {
    bytes: &'a [u8],
}

impl<'a> Path<'a> {
    /// Checks `bytes`.
    ///
    /// # Errors
    /// `ENOENT` for an empty path, `ENAMETOOLONG` for a long path or component, `EINVAL`
    /// for a NUL byte.
    pub fn new(bytes: &'a [u8]) -> Result<Self, Errno> {
        if bytes.is_empty() {
            return Err(Errno::ENOENT);
        }
        if bytes.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        if bytes.split(|&b| b == b'/').any(|c| c.len() > NAME_MAX) {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(Path { bytes })
    }

    /// Whether the path starts at the root.
    pub fn is_absolute(&self) -> bool {
        self.bytes[0] == b'/'
    }

    /// Whether the path ends in `/` (its last component must be a directory).
    pub fn has_trailing_slash(&self) -> bool {
        self.bytes.len() > 1 && self.bytes.ends_with(b"/")
    }

    /// The components, skipping empty ones and `.` (`..` is kept).
    pub fn components(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.bytes
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
    }

    /// The path split into its parent's components and its last component, or `None` when
    /// it has no last component (`/`, `.`, or ending in `..`).
    pub fn split_last(&self) -> Option<(impl Iterator<Item = &'a [u8]> + 'a, &'a [u8])> {
        let last = self.components().last()?;
        if last == b".." {
            return None;
        }
        let count = self.components().count();
        Some((self.components().take(count - 1), last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn empty_long_and_nul_paths_are_refused() {
        assert_eq!(Path::new(b""), Err(Errno::ENOENT));
        assert_eq!(Path::new(&[b'a'; PATH_MAX + 1]), Err(Errno::ENAMETOOLONG));
        assert!(Path::new(&[b'a'; NAME_MAX]).is_ok());
        assert_eq!(Path::new(&[b'a'; NAME_MAX + 1]), Err(Errno::ENAMETOOLONG));
        assert_eq!(Path::new(b"/a\0b"), Err(Errno::EINVAL));
    }

    #[test]
    fn components_skip_empty_and_dot() {
        let path = Path::new(b"//tmp/./a//b/../c/").unwrap();
        let parts: Vec<&[u8]> = path.components().collect();
        assert_eq!(parts, [&b"tmp"[..], b"a", b"b", b"..", b"c"]);
        assert!(path.is_absolute() && path.has_trailing_slash());
    }

    #[test]
    fn split_last_names_the_final_component() {
        let path = Path::new(b"/tmp/x/file").unwrap();
        let (parent, last) = path.split_last().unwrap();
        assert_eq!(parent.collect::<Vec<_>>(), [&b"tmp"[..], b"x"]);
        assert_eq!(last, b"file");
        assert!(Path::new(b"/").unwrap().split_last().is_none());
        assert!(Path::new(b"a/..").unwrap().split_last().is_none());
    }
}
