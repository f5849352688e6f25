//! Property tests: random input, settings and calls never panic, keep every queue within
//! its capacity, and never lose or invent the bytes of plain lines.

mod common;
use common::*;
use proptest::prelude::*;
use ttycore::{
    Caller, Flush, GroupId, Pty, SessionId, SetWhen, Terminal, Termios, WindowSize, INPUT_CAPACITY,
    OUTPUT_CAPACITY,
};

/// One call a server might make on a terminal.
#[derive(Clone, Debug)]
enum Call {
    Input(Vec<u8>),
    Read(u8, usize),
    ReadExpired(u8, usize),
    Write(u8, Vec<u8>),
    TakeOutput(usize),
    SetTermios(u8, u32, u32, u32, [u8; 19], u8),
    SetForeground(u8, u32, bool),
    Open(u8, bool, bool),
    MakeControlling(u8, bool, bool, bool),
    GiveUp(u8),
    LeaderExited(u32),
    Flush(u8, u8),
    Window(u64),
    Hangup,
}

fn caller(index: u8) -> Caller {
    const CALLERS: [Caller; 4] = [LEADER, FOREGROUND, BACKGROUND, STRANGER];
    let mut c = CALLERS[usize::from(index % 4)];
    c.ignores_ttin = index & 4 != 0;
    c.ignores_ttou = index & 8 != 0;
    c.orphaned = index & 16 != 0;
    c
}

fn call() -> impl Strategy<Value = Call> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        4 => bytes().prop_map(Call::Input),
        2 => (any::<u8>(), 0..5000usize).prop_map(|(c, n)| Call::Read(c, n)),
        1 => (any::<u8>(), 0..64usize).prop_map(|(c, n)| Call::ReadExpired(c, n)),
        2 => (any::<u8>(), bytes()).prop_map(|(c, b)| Call::Write(c, b)),
        2 => (0..5000usize).prop_map(Call::TakeOutput),
        1 => (any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<[u8; 19]>(), 0..3u8)
            .prop_map(|(c, i, o, l, cc, w)| Call::SetTermios(c, i, o, l, cc, w)),
        1 => (any::<u8>(), 0..40u32, any::<bool>()).prop_map(|(c, g, b)| Call::SetForeground(c, g, b)),
        1 => (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(|(c, a, b)| Call::Open(c, a, b)),
        1 => (any::<u8>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(c, a, b, d)| Call::MakeControlling(c, a, b, d)),
        1 => any::<u8>().prop_map(Call::GiveUp),
        1 => (0..40u32).prop_map(Call::LeaderExited),
        1 => (any::<u8>(), 0..3u8).prop_map(|(c, w)| Call::Flush(c, w)),
        1 => any::<u64>().prop_map(Call::Window),
        1 => Just(Call::Hangup),
    ]
}

fn apply(t: &mut Terminal, call: &Call) {
    let mut sink = |_| {};
    match call {
        Call::Input(bytes) => {
            let taken = t.input(bytes, &mut sink);
            assert!(taken <= bytes.len());
        }
        Call::Read(c, n) | Call::ReadExpired(c, n) => {
            let mut buffer = vec![0u8; *n];
            let result = if matches!(call, Call::Read(..)) {
                t.read(&caller(*c), &mut buffer, &mut sink)
            } else {
                t.read_expired(&caller(*c), &mut buffer, &mut sink)
            };
            if let Ok(count) = result {
                assert!(count <= *n);
            }
        }
        Call::Write(c, bytes) => {
            if let Ok(count) = t.write(&caller(*c), bytes, &mut sink) {
                assert!(count <= bytes.len());
            }
        }
        Call::TakeOutput(n) => {
            let mut buffer = vec![0u8; *n];
            assert!(t.take_output(&mut buffer, &mut sink) <= *n);
        }
        Call::SetTermios(c, i, o, l, cc, when) => {
            let termios = Termios {
                iflag: *i,
                oflag: *o,
                cflag: 0,
                lflag: *l,
                cc: *cc,
            };
            let when = [SetWhen::Now, SetWhen::Drain, SetWhen::Flush][usize::from(*when)];
            let _ = t.set_termios(&caller(*c), &termios, when, &mut sink);
        }
        Call::SetForeground(c, g, ok) => {
            let _ = t.set_foreground(&caller(*c), GroupId(*g), *ok, &mut sink);
        }
        Call::Open(c, noctty, has) => {
            let _ = t.open(&caller(*c), *noctty, *has);
        }
        Call::MakeControlling(c, has, steal, privileged) => {
            let _ = t.make_controlling(&caller(*c), *has, *steal, *privileged, &mut sink);
        }
        Call::GiveUp(c) => {
            let _ = t.give_up_controlling(&caller(*c), &mut sink);
        }
        Call::LeaderExited(s) => t.session_leader_exited(SessionId(*s), &mut sink),
        Call::Flush(c, w) => {
            let which = [Flush::Input, Flush::Output, Flush::Both][usize::from(*w)];
            let _ = t.flush(&caller(*c), which, &mut sink);
        }
        Call::Window(word) => t.set_window_size(WindowSize::from_word(*word), &mut sink),
        Call::Hangup => t.hangup(&mut sink),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_calls_never_panic_and_keep_the_queues_in_bounds(
        calls in prop::collection::vec(call(), 1..60)
    ) {
        let mut t = Terminal::new();
        for call in &calls {
            apply(&mut t, call);
            prop_assert!(t.readable() <= INPUT_CAPACITY);
            prop_assert!(t.pending_output() <= OUTPUT_CAPACITY);
        }
    }

    #[test]
    fn random_bytes_in_any_settings_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..6000),
        iflag in any::<u32>(),
        oflag in any::<u32>(),
        lflag in any::<u32>(),
        cc in any::<[u8; 19]>(),
    ) {
        let mut t = controlled();
        let termios = Termios { iflag, oflag, cflag: 0, lflag, cc };
        t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {}).unwrap();
        let taken = t.input(&bytes, &mut |_| {});
        prop_assert!(taken <= bytes.len());
        prop_assert!(t.readable() <= INPUT_CAPACITY);
        prop_assert!(t.pending_output() <= OUTPUT_CAPACITY);
        let mut buffer = [0u8; 128];
        let _ = t.read(&FOREGROUND, &mut buffer, &mut |_| {});
    }

    #[test]
    fn plain_lines_are_read_back_exactly_and_echoed_with_crlf(
        lines in prop::collection::vec("[ -~]{0,80}", 1..20)
    ) {
        let mut t = controlled();
        for line in &lines {
            let mut typed_line = line.clone().into_bytes();
            typed_line.push(b'\r');
            prop_assert_eq!(t.input(&typed_line, &mut |_| {}), typed_line.len());
        }
        for line in &lines {
            let mut expected = line.clone().into_bytes();
            expected.push(b'\n');
            prop_assert_eq!(read(&mut t).unwrap(), expected);
        }
        let expected_echo: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
        prop_assert_eq!(echoed(&mut t), expected_echo);
    }

    #[test]
    fn a_raw_pty_carries_any_bytes_unchanged(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)
    ) {
        let mut pty = Pty::new();
        let shell = Caller::new(5, 5, 5);
        pty.slave_open(&shell, false, false).unwrap();
        let raw = pty.slave.termios().make_raw();
        pty.slave.set_termios(&shell, &raw, SetWhen::Now, &mut |_| {}).unwrap();
        let mut sent = Vec::new();
        let mut received = Vec::new();
        for chunk in &chunks {
            if let Ok(n) = pty.master_write(chunk, &mut |_| {}) {
                sent.extend_from_slice(&chunk[..n]);
            }
            let mut buffer = [0u8; 97];
            while let Ok(n @ 1..) = pty.slave.read(&shell, &mut buffer, &mut |_| {}) {
                received.extend_from_slice(&buffer[..n]);
            }
        }
        prop_assert_eq!(sent, received);
    }
}
