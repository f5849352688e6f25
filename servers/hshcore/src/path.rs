//! Paths by name: what the shell's `cd` makes of a path, so that the directory it tells
//! procsrv (where its children start) is the one the file server moved it to.

use alloc::vec::Vec;

/// `path` taken from directory `cwd` (absolute), with `.`, `..` and repeated slashes
/// resolved by name, as the file server resolves them (it has no symbolic links); `..`
/// at the root stays at the root.
pub fn resolve(cwd: &[u8], path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let start: &[u8] = if path.first() == Some(&b'/') {
        b""
    } else {
        cwd
    };
    for part in start
        .split(|&b| b == b'/')
        .chain(path.split(|&b| b == b'/'))
    {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    let mut out = Vec::new();
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}
