//! Non-canonical (raw) mode, VMIN/VTIME, output processing, flow control, queue bounds and
//! the wire forms of the settings.

mod common;
use common::*;
use ttycore::{
    cc, oflag, Event, SetWhen, Termios, TtyError, WindowSize, INPUT_CAPACITY, OUTPUT_CAPACITY,
};

fn set(t: &mut ttycore::Terminal, termios: &Termios) {
    t.set_termios(&FOREGROUND, termios, SetWhen::Now, &mut |_| {})
        .unwrap();
}

#[test]
fn raw_bytes_are_readable_at_once_without_echo_or_editing() {
    let mut t = controlled();
    make_raw(&mut t);
    let events = typed(&mut t, b"a\x7f\x03\r");
    assert!(events.has(Event::InputReady));
    assert!(events.signals().is_empty());
    assert_eq!(read(&mut t).unwrap(), b"a\x7f\x03\r");
    assert_eq!(echoed(&mut t), "");
}

#[test]
fn vmin_waits_for_that_many_bytes() {
    let mut t = controlled();
    let mut termios = t.termios().make_raw();
    termios.cc[cc::VMIN] = 3;
    set(&mut t, &termios);
    typed(&mut t, b"ab");
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
    typed(&mut t, b"cd");
    assert_eq!(read(&mut t).unwrap(), b"abcd");
    // A buffer smaller than VMIN is satisfied by filling it.
    typed(&mut t, b"xy");
    assert_eq!(read_as(&mut t, &FOREGROUND, 1).unwrap(), b"x");
}

#[test]
fn vmin_zero_and_vtime_zero_poll() {
    let mut t = controlled();
    let mut termios = t.termios().make_raw();
    termios.cc[cc::VMIN] = 0;
    set(&mut t, &termios);
    assert_eq!(read(&mut t).unwrap(), b"");
    typed(&mut t, b"q");
    assert_eq!(read(&mut t).unwrap(), b"q");
}

#[test]
fn vtime_expiry_returns_what_is_there() {
    let mut t = controlled();
    let mut termios = t.termios().make_raw();
    termios.cc[cc::VMIN] = 0;
    termios.cc[cc::VTIME] = 5;
    set(&mut t, &termios);
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
    let mut buffer = [0u8; 8];
    assert_eq!(t.read_expired(&FOREGROUND, &mut buffer, &mut |_| {}), Ok(0));
    // With VMIN above 0 the timer only counts once a byte is there.
    termios.cc[cc::VMIN] = 4;
    set(&mut t, &termios);
    assert_eq!(
        t.read_expired(&FOREGROUND, &mut buffer, &mut |_| {}),
        Err(TtyError::WouldBlock)
    );
    typed(&mut t, b"ab");
    assert_eq!(read(&mut t), Err(TtyError::WouldBlock));
    assert_eq!(t.read_expired(&FOREGROUND, &mut buffer, &mut |_| {}), Ok(2));
}

#[test]
fn leaving_canonical_mode_makes_the_edited_line_readable() {
    let mut t = controlled();
    typed(&mut t, b"partial");
    let mut events = Events::default();
    let raw = t.termios().make_raw();
    t.set_termios(&FOREGROUND, &raw, SetWhen::Now, &mut events.sink())
        .unwrap();
    assert!(events.has(Event::InputReady));
    assert_eq!(read(&mut t).unwrap(), b"partial");
}

#[test]
fn echo_in_raw_mode_can_be_kept() {
    let mut t = controlled();
    let mut termios = t.termios().make_raw();
    termios.lflag |= ttycore::lflag::ECHO;
    set(&mut t, &termios);
    typed(&mut t, b"k\n");
    assert_eq!(echoed(&mut t), "k\n");
}

#[test]
fn output_processing_turns_newline_into_crlf_only_with_opost() {
    let mut t = controlled();
    let mut events = Events::default();
    assert_eq!(t.write(&FOREGROUND, b"a\nb", &mut events.sink()), Ok(3));
    assert!(events.has(Event::OutputReady));
    assert_eq!(echoed(&mut t), "a\r\nb");
    let mut termios = t.termios();
    termios.oflag &= !oflag::OPOST;
    set(&mut t, &termios);
    t.write(&FOREGROUND, b"a\nb", &mut |_| {}).unwrap();
    assert_eq!(echoed(&mut t), "a\nb");
    termios.oflag = oflag::OPOST | oflag::OCRNL;
    set(&mut t, &termios);
    t.write(&FOREGROUND, b"x\r", &mut |_| {}).unwrap();
    assert_eq!(echoed(&mut t), "x\n");
}

#[test]
fn a_full_output_queue_takes_part_of_a_write_then_blocks() {
    let mut t = controlled();
    let big = vec![b'z'; OUTPUT_CAPACITY + 10];
    assert_eq!(t.write(&FOREGROUND, &big, &mut |_| {}), Ok(OUTPUT_CAPACITY));
    assert_eq!(
        t.write(&FOREGROUND, b"more", &mut |_| {}),
        Err(TtyError::WouldBlock)
    );
    let mut events = Events::default();
    let mut buffer = [0u8; 100];
    assert_eq!(t.take_output(&mut buffer, &mut events.sink()), 100);
    assert!(events.has(Event::OutputSpace));
    assert_eq!(t.write(&FOREGROUND, b"more", &mut |_| {}), Ok(4));
    assert_eq!(t.pending_output(), OUTPUT_CAPACITY - 100 + 4);
}

#[test]
fn a_newline_whose_crlf_does_not_fit_is_not_taken() {
    let mut t = controlled();
    let fill = vec![b'z'; OUTPUT_CAPACITY - 1];
    t.write(&FOREGROUND, &fill, &mut |_| {}).unwrap();
    assert_eq!(
        t.write(&FOREGROUND, b"\n", &mut |_| {}),
        Err(TtyError::WouldBlock)
    );
}

#[test]
fn a_full_input_queue_refuses_bytes_until_a_read_frees_room() {
    let mut t = controlled();
    make_raw(&mut t);
    let big = vec![b'r'; INPUT_CAPACITY + 5];
    assert_eq!(t.input(&big, &mut |_| {}), INPUT_CAPACITY);
    assert!(!t.accepts_input());
    let mut events = Events::default();
    let mut buffer = [0u8; 10];
    assert_eq!(t.read(&FOREGROUND, &mut buffer, &mut events.sink()), Ok(10));
    assert!(events.has(Event::InputSpace));
    assert!(t.accepts_input());
}

#[test]
fn canonical_lines_that_fill_the_queue_hold_back_input_until_read() {
    let mut t = controlled();
    let line = [b'l', b'\n'];
    let mut taken = 0;
    for _ in 0..INPUT_CAPACITY {
        taken += t.input(&line, &mut |_| {});
    }
    assert!(taken < 2 * INPUT_CAPACITY);
    assert!(!t.accepts_input());
    assert_eq!(read(&mut t).unwrap(), b"l\n");
    assert!(t.accepts_input());
}

#[test]
fn stop_and_start_characters_hold_output() {
    let mut t = controlled();
    typed(&mut t, b"\x13");
    assert!(t.output_stopped());
    t.write(&FOREGROUND, b"held", &mut |_| {}).unwrap();
    assert_eq!(echoed(&mut t), "");
    let events = typed(&mut t, b"\x11");
    assert!(events.has(Event::OutputReady));
    assert_eq!(echoed(&mut t), "held");
}

#[test]
fn termios_and_window_size_survive_their_message_words() {
    let termios = Termios::cooked().make_raw();
    assert_eq!(Termios::from_words(&termios.to_words()), Ok(termios));
    let mut words = termios.to_words();
    words[4] |= 1 << 40;
    assert_eq!(Termios::from_words(&words), Err(TtyError::Invalid));
    let size = WindowSize {
        rows: 50,
        columns: 132,
        x_pixels: 1,
        y_pixels: 65535,
    };
    assert_eq!(WindowSize::from_word(size.to_word()), size);
}

#[test]
fn flush_discards_the_chosen_queues() {
    let mut t = controlled();
    typed(&mut t, b"in\n");
    t.write(&FOREGROUND, b"out", &mut |_| {}).unwrap();
    t.flush(&FOREGROUND, ttycore::Flush::Output, &mut |_| {})
        .unwrap();
    assert_eq!(t.pending_output(), 0);
    assert_eq!(t.readable(), 3);
    t.flush(&FOREGROUND, ttycore::Flush::Input, &mut |_| {})
        .unwrap();
    assert_eq!(t.readable(), 0);
}

#[test]
fn a_terminal_is_about_nine_kib() {
    // docs/terminals.md tells embedders to keep terminals in statics or on the heap, not
    // on a small stack; keep the figure there true.
    let size = std::mem::size_of::<ttycore::Terminal>();
    assert!((9 * 1024..10 * 1024).contains(&size), "{size}");
}
