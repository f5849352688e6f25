//! Terminal requests by Linux ioctl number: decoding, bad arguments, and each request
//! answered through `Terminal::request` with its answer in message words.

mod common;
use common::*;
use ttycore::request::{number, Answer, Facts, Request};
use ttycore::{Flush, GroupId, SessionId, SetWhen, Termios, TtyError, WindowSize, TERMIOS_WORDS};

fn ask(
    t: &mut ttycore::Terminal,
    caller: &ttycore::Caller,
    n: u32,
    args: &[u64],
    facts: Facts,
) -> Result<Answer, TtyError> {
    let request = Request::decode(n, args)?;
    t.request(caller, request, facts, &mut |_| {})
}

#[test]
fn each_number_decodes_to_its_request() {
    let raw = Termios::cooked().make_raw();
    let words = raw.to_words();
    let cases: [(u32, &[u64], Request); 13] = [
        (number::TCGETS, &[], Request::GetAttributes),
        (
            number::TCSETS,
            &words,
            Request::SetAttributes(SetWhen::Now, raw),
        ),
        (
            number::TCSETSW,
            &words,
            Request::SetAttributes(SetWhen::Drain, raw),
        ),
        (
            number::TCSETSF,
            &words,
            Request::SetAttributes(SetWhen::Flush, raw),
        ),
        (number::TCFLSH, &[2], Request::Flush(Flush::Both)),
        (
            number::TIOCSCTTY,
            &[1],
            Request::MakeControlling { steal: true },
        ),
        (number::TIOCGPGRP, &[], Request::GetForeground),
        (number::TIOCSPGRP, &[7], Request::SetForeground(GroupId(7))),
        (number::TIOCGWINSZ, &[], Request::GetWindowSize),
        (
            number::TIOCSWINSZ,
            &[WindowSize {
                rows: 3,
                columns: 4,
                ..WindowSize::default()
            }
            .to_word()],
            Request::SetWindowSize(WindowSize {
                rows: 3,
                columns: 4,
                ..WindowSize::default()
            }),
        ),
        (number::FIONREAD, &[], Request::Readable),
        (number::TIOCNOTTY, &[], Request::GiveUpControlling),
        (number::TIOCGSID, &[], Request::GetSession),
    ];
    for (n, args, expected) in cases {
        assert_eq!(Request::decode(n, args), Ok(expected), "{n:#x}");
    }
}

#[test]
fn unknown_numbers_and_bad_arguments_are_refused() {
    assert_eq!(
        Request::decode(0x5401 + 0x1000, &[]),
        Err(TtyError::UnknownRequest)
    );
    assert_eq!(TtyError::UnknownRequest.errno(), 25);
    assert_eq!(
        Request::decode(number::TCSETS, &[0; TERMIOS_WORDS - 1]),
        Err(TtyError::Invalid)
    );
    assert_eq!(
        Request::decode(number::TCFLSH, &[3]),
        Err(TtyError::Invalid)
    );
    assert_eq!(Request::decode(number::TCFLSH, &[]), Err(TtyError::Invalid));
    assert_eq!(
        Request::decode(number::TIOCSCTTY, &[2]),
        Err(TtyError::Invalid)
    );
    assert_eq!(
        Request::decode(number::TIOCSPGRP, &[0]),
        Err(TtyError::Invalid)
    );
    assert_eq!(
        Request::decode(number::TIOCSPGRP, &[1 << 40]),
        Err(TtyError::Invalid)
    );
    let mut bad = Termios::cooked().to_words();
    bad[TERMIOS_WORDS - 1] = u64::MAX;
    assert_eq!(
        Request::decode(number::TCSETS, &bad),
        Err(TtyError::Invalid)
    );
}

#[test]
fn requests_are_answered_in_message_words() {
    let mut t = controlled();
    let facts = Facts {
        group_in_session: true,
        ..Facts::default()
    };
    let mut words = [0u64; TERMIOS_WORDS];

    let answer = ask(&mut t, &LEADER, number::TCGETS, &[], facts).unwrap();
    assert_eq!(answer.to_words(&mut words), TERMIOS_WORDS);
    assert_eq!(Termios::from_words(&words), Ok(Termios::cooked()));

    let raw = Termios::cooked().make_raw().to_words();
    assert_eq!(
        ask(&mut t, &LEADER, number::TCSETS, &raw, facts),
        Ok(Answer::Done)
    );
    assert!(!t.termios().canonical());

    assert_eq!(
        ask(&mut t, &LEADER, number::TIOCSPGRP, &[20], facts),
        Ok(Answer::Done)
    );
    let answer = ask(&mut t, &LEADER, number::TIOCGPGRP, &[], facts).unwrap();
    assert_eq!(answer, Answer::Group(GroupId(20)));
    assert_eq!(answer.to_words(&mut words), 1);
    assert_eq!(words[0], 20);

    assert_eq!(
        ask(&mut t, &LEADER, number::TIOCGSID, &[], facts),
        Ok(Answer::Session(SessionId(10)))
    );
    assert_eq!(
        ask(&mut t, &STRANGER, number::TIOCGSID, &[], facts),
        Err(TtyError::NotControlling)
    );

    typed(&mut t, b"abc");
    assert_eq!(
        ask(&mut t, &LEADER, number::FIONREAD, &[], facts),
        Ok(Answer::Count(3))
    );

    let size = WindowSize {
        rows: 50,
        columns: 132,
        ..WindowSize::default()
    };
    assert_eq!(
        ask(
            &mut t,
            &LEADER,
            number::TIOCSWINSZ,
            &[size.to_word()],
            facts
        ),
        Ok(Answer::Done)
    );
    assert_eq!(
        ask(&mut t, &LEADER, number::TIOCGWINSZ, &[], facts),
        Ok(Answer::WindowSize(size))
    );

    assert_eq!(
        ask(&mut t, &LEADER, number::TIOCNOTTY, &[], facts),
        Ok(Answer::Done)
    );
    assert_eq!(t.controlling_session(), None);
    let leader_facts = Facts::default();
    assert_eq!(
        ask(&mut t, &STRANGER, number::TIOCSCTTY, &[0], leader_facts),
        Ok(Answer::Done)
    );
    assert_eq!(t.controlling_session(), Some(SessionId(30)));
    assert_eq!(Answer::Done.to_words(&mut words), 0);
}

proptest::proptest! {
    #[test]
    fn any_request_words_decode_or_are_refused_and_never_panic(
        low in 0u32..0x40,
        random in proptest::prelude::any::<u32>(),
        use_random in proptest::prelude::any::<bool>(),
        args in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..8),
        caller in 0usize..4,
        session_has_terminal in proptest::prelude::any::<bool>(),
        group_in_session in proptest::prelude::any::<bool>(),
        privileged in proptest::prelude::any::<bool>(),
    ) {
        let n = if use_random { random } else { 0x5400 + low };
        let callers = [LEADER, FOREGROUND, BACKGROUND, STRANGER];
        let facts = Facts { session_has_terminal, group_in_session, privileged };
        let mut t = controlled();
        if let Ok(request) = Request::decode(n, &args) {
            if let Ok(answer) = t.request(&callers[caller], request, facts, &mut |_| {}) {
                let mut words = [0u64; TERMIOS_WORDS];
                proptest::prop_assert!(answer.to_words(&mut words) <= TERMIOS_WORDS);
            }
        }
    }
}
