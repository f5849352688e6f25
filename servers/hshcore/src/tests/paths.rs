//! `path::resolve`: what `cd` tells procsrv.

use crate::path::resolve;

#[test]
fn relative_paths_join_the_working_directory() {
    assert_eq!(resolve(b"/", b"tmp"), b"/tmp");
    assert_eq!(resolve(b"/tmp", b"d/e"), b"/tmp/d/e");
    assert_eq!(resolve(b"/tmp/", b"./d"), b"/tmp/d");
}

#[test]
fn absolute_paths_ignore_the_working_directory() {
    assert_eq!(resolve(b"/tmp", b"/etc"), b"/etc");
    assert_eq!(resolve(b"/tmp", b"/"), b"/");
}

#[test]
fn dot_dot_and_repeated_slashes_resolve_by_name() {
    assert_eq!(resolve(b"/tmp/d", b".."), b"/tmp");
    assert_eq!(resolve(b"/tmp", b"../../.."), b"/");
    assert_eq!(resolve(b"/", b"//tmp///d/./../e/"), b"/tmp/e");
    assert_eq!(resolve(b"/a/b", b"."), b"/a/b");
}
