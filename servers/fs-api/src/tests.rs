use super::*;

#[test]
fn labels_are_unique_and_round_trip() {
    for (i, a) in Label::ALL.iter().enumerate() {
        assert_eq!(Label::try_from(*a as u64), Ok(*a));
        for b in &Label::ALL[i + 1..] {
            assert_ne!(*a as u64, *b as u64, "{} and {}", a.name(), b.name());
        }
    }
    assert_eq!(Label::try_from(0), Err(0));
}

#[test]
fn errno_zero_is_success_and_numbers_are_linux() {
    assert_eq!(Errno::check(0), Ok(()));
    assert_eq!(Errno::check(2), Err(Errno::ENOENT));
    assert_eq!(Errno::check(9999), Err(Errno::EIO));
    assert_eq!(Errno::EPIPE as u64, 32);
    assert_eq!(Errno::ENAMETOOLONG as u64, 36);
    for e in Errno::ALL {
        assert_ne!(*e as u64, 0);
    }
}

#[test]
fn badges_round_trip_and_zero_is_nobody() {
    for badge in [
        Badge::Namespace(0),
        Badge::Namespace(77),
        Badge::Fd(5),
        Badge::Fd(BADGE_PAYLOAD_MASK),
        Badge::Control,
    ] {
        assert_eq!(Badge::from_word(badge.to_word()), Some(badge));
    }
    assert_eq!(Badge::from_word(0), None);
    assert_eq!(Badge::from_word(12), None);
    assert_eq!(Badge::from_word(Badge::Control.to_word() | 1), None);
}

#[test]
fn bytes_pack_and_unpack_with_padding() {
    let mut words = [u64::MAX; 4];
    let path = b"/tmp/hello.txt";
    assert_eq!(pack_bytes(path, &mut words), Some(2));
    let mut out = [0u8; 32];
    assert_eq!(unpack_bytes(&words, path.len(), &mut out), Some(&path[..]));
    assert_eq!(words[1] >> 48, 0, "padding is zero");
    assert_eq!(pack_bytes(&[1; 40], &mut words), None);
    assert_eq!(unpack_bytes(&words, 40, &mut out), None);
    assert_eq!(pack_bytes(b"", &mut words), Some(0));
}

#[test]
fn stat_words_round_trip_and_name_the_kind() {
    let stat = Stat {
        inode: 3,
        mode: mode::S_IFDIR | 0o755,
        links: 2,
        uid: 1,
        gid: 2,
        size: 0,
        rdev: 0,
        version: 9,
    };
    assert_eq!(Stat::from_words(&stat.to_words()), stat);
    assert_eq!(stat.kind(), Some(FileKind::Directory));
    assert_eq!(
        FileKind::from_word(FileKind::Fifo as u64),
        Some(FileKind::Fifo)
    );
}

#[test]
fn start_argument_round_trips() {
    let arg = server::start_argument(8_863_724, 24, 2_615_899);
    assert_eq!(
        server::parse_start_argument(arg),
        (8_863_724, 24, 2_615_899)
    );
}

#[test]
fn archive_radix_is_the_smallest_holding_every_page() {
    assert_eq!(server::archive_radix(0), 1);
    assert_eq!(server::archive_radix(4096), 1);
    assert_eq!(server::archive_radix(2 * 4096 + 1), 2);
    assert_eq!(server::archive_radix(8_863_724), 12);
    assert_eq!(server::archive_radix(4096 << 12), 12);
    assert_eq!(server::archive_radix((4096 << 12) + 1), 13);
}

#[test]
fn a_full_path_fits_in_one_message() {
    const { assert!(PATH_WORD + words_for(PATH_MAX) * 2 <= MESSAGE_WORDS) };
    const { assert!(WINDOW_ADDR < 0x7ffc_0000_0000) };
}
