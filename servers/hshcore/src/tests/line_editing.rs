//! The line editor (raw mode at an interactive prompt): keys, history, what it echoes, and
//! the shell using it.

use super::fake::Fake;
use crate::edit::{Editor, Event};
use crate::Shell;

/// Feeds `keys` to a fresh line; returns the last event and everything echoed.
fn type_keys(editor: &Editor, keys: &[u8]) -> (Event, Vec<u8>) {
    let mut echo = Vec::new();
    let mut line = editor.start(b"$ ", &mut echo);
    let mut event = Event::Continue;
    for &key in keys {
        event = editor.feed(&mut line, key, &mut echo);
        if event != Event::Continue {
            break;
        }
    }
    (event, echo)
}

fn line(text: &str) -> Event {
    Event::Line(text.as_bytes().to_vec())
}

#[test]
fn typing_at_the_end_echoes_each_byte_and_enter_ends_the_line() {
    let editor = Editor::default();
    let (event, echo) = type_keys(&editor, b"ls -l\r");
    assert_eq!(event, line("ls -l"));
    assert_eq!(echo, b"$ ls -l\r\n");
    let (_, echo) = type_keys(&editor, b"lx\x7fs\n");
    assert_eq!(echo, b"$ lx\x08 \x08s\r\n");
    // Backspace with nothing before the cursor erases nothing and inserts nothing.
    assert_eq!(type_keys(&editor, b"\x7f\x08ls\x01\x7f\r").0, line("ls"));
}

#[test]
fn the_cursor_moves_and_edits_in_the_middle_redraw_the_line() {
    let editor = Editor::default();
    // "echo wrld", left 3, insert 'o': "echo world".
    let (event, echo) = type_keys(&editor, b"echo wrld\x1b[D\x1b[D\x1b[Do\r");
    assert_eq!(event, line("echo world"));
    assert!(
        echo.ends_with(b"\r$ echo world\x1b[K\x1b[3D\r\n"),
        "{}",
        echo.escape_ascii()
    );
    // Home, Delete, End; ^A ^D ^E with ^B ^F.
    assert_eq!(
        type_keys(&editor, b"xls\x1b[H\x1b[3~\x1b[F -a\r").0,
        line("ls -a")
    );
    assert_eq!(
        type_keys(&editor, b"xls\x01\x04\x05\x02\x06 -a\r").0,
        line("ls -a")
    );
    assert_eq!(type_keys(&editor, b"ab\x1bOH\x1bOFc\r").0, line("abc"));
}

#[test]
fn kill_keys_erase_to_the_start_to_the_end_and_the_word_before() {
    let editor = Editor::default();
    assert_eq!(type_keys(&editor, b"rm -rf /\x15ls\r").0, line("ls"));
    assert_eq!(
        type_keys(&editor, b"ls /tmp\x02\x02\x02\x02\x0b/\r").0,
        line("ls /")
    );
    assert_eq!(
        type_keys(&editor, b"cat one two  \x17three\r").0,
        line("cat one three")
    );
}

#[test]
fn ctrl_c_drops_the_line_and_ctrl_d_ends_input_only_on_an_empty_line() {
    let editor = Editor::default();
    let (event, echo) = type_keys(&editor, b"sleep 10\x03");
    assert_eq!(event, Event::Interrupt);
    assert!(echo.ends_with(b"^C\r\n"));
    assert_eq!(type_keys(&editor, b"\x04").0, Event::Eof);
    assert_eq!(type_keys(&editor, b"ab\x02\x04\r").0, line("a"));
}

#[test]
fn up_and_down_walk_the_history_and_come_back_to_the_typed_line() {
    let mut editor = Editor::default();
    for old in ["ls", "pwd", "pwd", "  ", "jobs"] {
        editor.remember(old.as_bytes());
    }
    assert_eq!(
        editor.history(),
        [b"ls".to_vec(), b"pwd".to_vec(), b"jobs".to_vec()]
    );
    assert_eq!(type_keys(&editor, b"\x1b[A\r").0, line("jobs"));
    assert_eq!(
        type_keys(&editor, b"\x1b[A\x1b[A\x1b[A\x1b[A\r").0,
        line("ls")
    );
    assert_eq!(
        type_keys(&editor, b"ec\x1b[A\x1b[A\x1b[B\x1b[B\x1b[Bho\r").0,
        line("echo")
    );
    assert_eq!(type_keys(&editor, b"\x10\x10 /\r").0, line("pwd /"));
    assert_eq!(type_keys(&editor, b"\x0e\r").0, line(""));
}

#[test]
fn the_history_keeps_the_last_five_hundred_lines() {
    let mut editor = Editor::default();
    for n in 0..600 {
        editor.remember(format!("echo {n}").as_bytes());
    }
    assert_eq!(editor.history().len(), crate::edit::MAX_HISTORY);
    assert_eq!(editor.history()[0], b"echo 100");
}

#[test]
fn an_interactive_shell_edits_in_raw_mode_and_runs_commands_in_canonical_mode() {
    let mut fake = Fake::with_input(true, b"ls\r\x1b[A -l\rfalse\x03\x1b[A\x1b[A\r\x04");
    fake.raw_capable = true;
    fake.read_chunk = 3;
    let mut sh = Shell::new(fake, &[]);
    assert_eq!(sh.run(), 0);
    let argv: Vec<Vec<Vec<u8>>> = sh.sys().hatched.iter().map(|h| h.argv.clone()).collect();
    assert_eq!(
        argv,
        [
            vec![b"ls".to_vec()],
            vec![b"ls".to_vec(), b"-l".to_vec()],
            vec![b"ls".to_vec()],
        ]
    );
    assert_eq!(
        sh.history(),
        [b"ls".to_vec(), b"ls -l".to_vec(), b"ls".to_vec()]
    );
    assert!(!sh.sys().raw, "the terminal is left in canonical mode");
    assert!(
        sh.sys().err().ends_with("$ exit\n"),
        "{}",
        sh.sys().err().escape_debug()
    );
}

#[test]
fn a_terminal_without_raw_mode_gets_canonical_lines() {
    let mut sh = Shell::new(Fake::with_input(true, b"ls\n"), &[]);
    assert_eq!(sh.run(), 0);
    assert_eq!(sh.sys().hatched.len(), 1);
    assert!(sh.history().is_empty());
}
