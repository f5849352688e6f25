//! ^C, ^\ and ^Z: signals to the foreground group, queue flushing, and SIGWINCH.

mod common;
use common::*;
use ttycore::{lflag, Event, GroupId, SetWhen, Signal, Target, Terminal, WindowSize};

#[test]
fn interrupt_quit_and_suspend_signal_the_foreground_group() {
    let mut t = controlled();
    let events = typed(&mut t, b"\x03\x1c\x1a");
    let group = Target::Group(GroupId(10));
    assert_eq!(
        events.signals(),
        [
            (group, Signal::Interrupt),
            (group, Signal::Quit),
            (group, Signal::TerminalStop)
        ]
    );
    // Each signal character flushes what was queued before it, then echoes itself.
    assert_eq!(echoed(&mut t), "^Z");
    assert_eq!(Signal::Interrupt.number(), 2);
    assert_eq!(Signal::TerminalStop.name(), "SIGTSTP");
}

#[test]
fn the_signal_follows_the_foreground_group() {
    let mut t = controlled();
    t.set_foreground(&LEADER, GroupId(20), true, &mut |_| {})
        .unwrap();
    let events = typed(&mut t, b"\x03");
    assert_eq!(
        events.signals(),
        [(Target::Group(GroupId(20)), Signal::Interrupt)]
    );
}

#[test]
fn signal_characters_flush_the_queues_unless_noflsh() {
    let mut t = controlled();
    typed(&mut t, b"done\npending");
    t.write(&FOREGROUND, b"unsent", &mut |_| {}).unwrap();
    typed(&mut t, b"\x03");
    assert_eq!(t.readable(), 0);
    assert_eq!(echoed(&mut t), "^C");

    let mut termios = t.termios();
    termios.lflag |= lflag::NOFLSH;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    typed(&mut t, b"kept\n\x03");
    assert_eq!(read(&mut t).unwrap(), b"kept\n");
}

#[test]
fn no_signal_without_a_controlling_session() {
    let mut t = Terminal::new();
    let events = typed(&mut t, b"\x03");
    assert!(events.signals().is_empty());
}

#[test]
fn without_isig_the_signal_characters_are_ordinary_input() {
    let mut t = controlled();
    let mut termios = t.termios();
    termios.lflag &= !lflag::ISIG;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    let events = typed(&mut t, b"\x03\n");
    assert!(events.signals().is_empty());
    assert_eq!(read(&mut t).unwrap(), b"\x03\n");
}

#[test]
fn a_window_size_change_sends_sigwinch_to_the_foreground_group() {
    let mut t = controlled();
    assert_eq!(t.window_size().columns, 80);
    let size = WindowSize {
        rows: 40,
        columns: 100,
        ..WindowSize::default()
    };
    let mut events = Events::default();
    t.set_window_size(size, &mut events.sink());
    assert_eq!(t.window_size(), size);
    assert_eq!(
        events.signals(),
        [(Target::Group(GroupId(10)), Signal::WindowChange)]
    );
    let mut again = Events::default();
    t.set_window_size(size, &mut again.sink());
    assert!(again.0.is_empty(), "an unchanged size signals nothing");
    assert!(!again.has(Event::OutputReady));
}
