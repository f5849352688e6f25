//! Canonical mode: line editing (erase, word erase, kill, reprint, literal next), end of
//! file, line delivery and the echo of each.

mod common;
use common::*;
use ttycore::{cc, lflag, Event, SetWhen, TtyError, MAX_CANON};

#[test]
fn a_line_is_readable_only_after_its_newline() {
    let mut t = controlled();
    let events = typed(&mut t, b"hello");
    assert!(!events.has(Event::InputReady));
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
    let events = typed(&mut t, b"\n");
    assert!(events.has(Event::InputReady));
    assert_eq!(read(&mut t).unwrap(), b"hello\n");
    assert_eq!(echoed(&mut t), "hello\r\n");
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
}

#[test]
fn reads_return_one_line_at_a_time() {
    let mut t = controlled();
    typed(&mut t, b"one\ntwo\n");
    assert_eq!(read(&mut t).unwrap(), b"one\n");
    assert_eq!(read(&mut t).unwrap(), b"two\n");
}

#[test]
fn a_line_longer_than_the_buffer_is_read_in_parts() {
    let mut t = controlled();
    typed(&mut t, b"abcdefg\n");
    assert_eq!(read_as(&mut t, &FOREGROUND, 3).unwrap(), b"abc");
    assert_eq!(read_as(&mut t, &FOREGROUND, 3).unwrap(), b"def");
    assert_eq!(read_as(&mut t, &FOREGROUND, 3).unwrap(), b"g\n");
    assert_eq!(read_as(&mut t, &FOREGROUND, 0).unwrap(), b"");
}

#[test]
fn erase_removes_the_last_character_and_echoes_backspace_space_backspace() {
    let mut t = controlled();
    typed(&mut t, b"hex\x7f\x7fello\n");
    assert_eq!(read(&mut t).unwrap(), b"hello\n");
    assert_eq!(echoed(&mut t), "hex\x08 \x08\x08 \x08ello\r\n");
}

#[test]
fn erase_at_the_start_of_a_line_does_nothing() {
    let mut t = controlled();
    typed(&mut t, b"a\n\x7f\x7fb\n");
    assert_eq!(read(&mut t).unwrap(), b"a\n");
    assert_eq!(read(&mut t).unwrap(), b"b\n");
    assert_eq!(echoed(&mut t), "a\r\nb\r\n");
}

#[test]
fn erase_without_echoe_echoes_the_erase_character() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.lflag &= !lflag::ECHOE;
    termios.lflag &= !lflag::ECHOCTL;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"ab\x7f\n");
    assert_eq!(read(&mut t).unwrap(), b"a\n");
    assert_eq!(echoed(&mut t), "ab\x7f\r\n");
}

#[test]
fn word_erase_removes_the_last_word_and_the_blanks_after_it() {
    let mut t = controlled();
    typed(&mut t, b"ls -l  foo  \x17bar\n");
    assert_eq!(read(&mut t).unwrap(), b"ls -l  bar\n");
    let echo = echoed(&mut t);
    assert!(echo.starts_with("ls -l  foo  "));
    assert_eq!(echo.matches("\x08 \x08").count(), 5, "{echo:?}");
}

#[test]
fn word_erase_stops_at_punctuation_as_linux_does() {
    let mut t = controlled();
    typed(&mut t, b"cd /usr/lib\x17local\n");
    assert_eq!(read(&mut t).unwrap(), b"cd /usr/local\n");
    typed(&mut t, b"x = foo_bar2()\x17y\n");
    assert_eq!(read(&mut t).unwrap(), b"x = y\n");
    // With no word after it, the punctuation goes too, then the word before.
    typed(&mut t, b"a = b\x17\x17c\n");
    assert_eq!(read(&mut t).unwrap(), b"c\n");
}

#[test]
fn word_erase_of_only_blanks_empties_the_line() {
    let mut t = controlled();
    typed(&mut t, b"   \x17x\n");
    assert_eq!(read(&mut t).unwrap(), b"x\n");
}

#[test]
fn kill_erases_the_whole_line_visibly() {
    let mut t = controlled();
    typed(&mut t, b"rm -rf /\x15echo ok\n");
    assert_eq!(read(&mut t).unwrap(), b"echo ok\n");
    let echo = echoed(&mut t);
    assert_eq!(echo.matches("\x08 \x08").count(), 8, "{echo:?}");
    assert!(echo.ends_with("echo ok\r\n"));
}

#[test]
fn kill_without_echoke_echoes_the_kill_character_and_a_newline() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.lflag &= !lflag::ECHOKE;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"junk\x15ok\n");
    assert_eq!(read(&mut t).unwrap(), b"ok\n");
    assert_eq!(echoed(&mut t), "junk^U\r\nok\r\n");
}

#[test]
fn kill_without_echok_echoes_only_the_kill_character() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.lflag &= !lflag::ECHOK;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"junk\x15ok\n");
    assert_eq!(read(&mut t).unwrap(), b"ok\n");
    assert_eq!(echoed(&mut t), "junk^Uok\r\n");
}

#[test]
fn end_of_file_ends_a_line_without_itself() {
    let mut t = controlled();
    let events = typed(&mut t, b"abc\x04");
    assert!(events.has(Event::InputReady));
    assert_eq!(read(&mut t).unwrap(), b"abc");
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
    assert_eq!(echoed(&mut t), "abc");
}

#[test]
fn end_of_file_on_an_empty_line_reads_zero_bytes() {
    let mut t = controlled();
    typed(&mut t, b"\x04\x04x\n");
    assert_eq!(read(&mut t).unwrap(), b"");
    assert_eq!(read(&mut t).unwrap(), b"");
    assert_eq!(read(&mut t).unwrap(), b"x\n");
}

#[test]
fn carriage_return_becomes_newline_and_igncr_drops_it() {
    let mut t = controlled();
    typed(&mut t, b"a\r");
    assert_eq!(read(&mut t).unwrap(), b"a\n");
    let mut termios = t.termios();
    termios.iflag |= ttycore::iflag::IGNCR;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"b\r\n");
    assert_eq!(read(&mut t).unwrap(), b"b\n");
}

#[test]
fn eol_characters_end_a_line_too() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.cc[cc::VEOL] = b';';
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"a;b");
    assert_eq!(read(&mut t).unwrap(), b"a;");
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
}

#[test]
fn control_characters_echo_as_caret_letter() {
    let mut t = controlled();
    typed(&mut t, b"a\x01\x02\tb\n");
    assert_eq!(read(&mut t).unwrap(), b"a\x01\x02\tb\n");
    assert_eq!(echoed(&mut t), "a^A^B\tb\r\n");
}

#[test]
fn erasing_a_control_character_erases_both_columns_of_its_echo() {
    let mut t = controlled();
    typed(&mut t, b"\x01\x7f");
    assert_eq!(echoed(&mut t), "^A\x08 \x08\x08 \x08");
}

#[test]
fn literal_next_takes_a_control_character_literally() {
    let mut t = controlled();
    let events = typed(&mut t, b"\x16\x03\x16\x7f\n");
    assert!(events.signals().is_empty());
    assert_eq!(read(&mut t).unwrap(), b"\x03\x7f\n");
    assert_eq!(echoed(&mut t), "^\x08^C^\x08^?\r\n");
}

#[test]
fn a_utf8_character_is_erased_whole() {
    let mut t = controlled();
    typed(&mut t, "aé€\x7f\x7f\n".as_bytes());
    assert_eq!(read(&mut t).unwrap(), b"a\n");
    let echo = echoed(&mut t);
    assert_eq!(echo.matches("\x08 \x08").count(), 2, "{echo:?}");
}

#[test]
fn erasing_a_tab_moves_back_to_where_the_tab_started() {
    let mut t = controlled();
    typed(&mut t, b"ab\t\x7f");
    assert_eq!(echoed(&mut t), "ab\t\x08\x08\x08\x08\x08\x08");
}

#[test]
fn reprint_echoes_the_line_being_edited_again() {
    let mut t = controlled();
    typed(&mut t, b"abc\x12");
    assert_eq!(echoed(&mut t), "abc^R\r\nabc");
    typed(&mut t, b"\n");
    assert_eq!(read(&mut t).unwrap(), b"abc\n");
}

#[test]
fn echonl_echoes_newline_without_echo() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.lflag &= !lflag::ECHO;
    termios.lflag |= lflag::ECHONL;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"secret\n");
    assert_eq!(echoed(&mut t), "\r\n");
    assert_eq!(read(&mut t).unwrap(), b"secret\n");
}

#[test]
fn a_line_at_max_canon_drops_further_bytes_and_can_still_end() {
    let mut t = controlled();
    let long = vec![b'x'; MAX_CANON + 100];
    typed(&mut t, &long);
    assert!(t.accepts_input());
    typed(&mut t, b"\n");
    let line = read_as(&mut t, &FOREGROUND, MAX_CANON + 200).unwrap();
    assert_eq!(line.len(), MAX_CANON + 1);
    assert_eq!(line.last(), Some(&b'\n'));
}

#[test]
fn disabled_control_characters_are_ordinary() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.cc[cc::VERASE] = 0;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"a\x7f\n");
    assert_eq!(read(&mut t).unwrap(), b"a\x7f\n");
}

#[test]
fn set_termios_with_flush_discards_unread_input() {
    let mut t = controlled();
    typed(&mut t, b"old\n");
    let termios = t.termios();
    t.set_termios(&FOREGROUND, &termios, SetWhen::Flush, &mut |_| {})
        .unwrap();
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
}
