//! The session rules: acquiring a controlling terminal by open and by TIOCSCTTY,
//! tcgetpgrp/tcsetpgrp, background reads and writes, giving up and losing the terminal.

mod common;
use common::*;
use ttycore::{
    lflag, Caller, Event, GroupId, ProcessId, SessionId, SetWhen, Signal, Target, Terminal,
    TtyError,
};

#[test]
fn a_session_leader_without_a_terminal_acquires_the_one_it_opens() {
    let mut t = Terminal::new();
    let outcome = t.open(&LEADER, false, false);
    assert!(outcome.acquired);
    assert_eq!(t.controlling_session(), Some(SessionId(10)));
    assert_eq!(t.foreground(&LEADER), Ok(GroupId(10)));
}

#[test]
fn setsid_then_open_acquires_but_open_then_setsid_does_not() {
    // open then setsid: at open time the process (pid 40) is not a session leader.
    let mut t = Terminal::new();
    let before_setsid = Caller::new(40, 10, 10);
    assert!(!t.open(&before_setsid, false, false).acquired);
    assert_eq!(t.controlling_session(), None);
    // setsid then open: it leads session 40.
    let after_setsid = Caller::new(40, 40, 40);
    assert!(t.open(&after_setsid, false, false).acquired);
}

#[test]
fn open_with_noctty_or_from_a_session_with_a_terminal_does_not_acquire() {
    let mut t = Terminal::new();
    assert!(!t.open(&LEADER, true, false).acquired);
    assert!(!t.open(&LEADER, false, true).acquired);
    assert_eq!(t.controlling_session(), None);
}

#[test]
fn a_terminal_of_one_session_is_not_acquired_by_another_on_open() {
    let mut t = controlled();
    assert!(!t.open(&STRANGER, false, false).acquired);
    assert_eq!(t.controlling_session(), Some(SessionId(10)));
}

#[test]
fn tiocsctty_needs_a_session_leader_without_a_terminal() {
    let mut t = Terminal::new();
    let mut none = |_| {};
    assert_eq!(
        t.make_controlling(&FOREGROUND, false, false, false, &mut none),
        Err(TtyError::NotPermitted)
    );
    assert_eq!(
        t.make_controlling(&LEADER, true, false, false, &mut none),
        Err(TtyError::NotPermitted)
    );
    assert_eq!(
        t.make_controlling(&LEADER, false, false, false, &mut none),
        Ok(())
    );
    assert_eq!(t.controlling_session(), Some(SessionId(10)));
    // Asking again for one's own terminal is fine.
    assert_eq!(
        t.make_controlling(&LEADER, true, false, false, &mut none),
        Ok(())
    );
}

#[test]
fn tiocsctty_takes_another_sessions_terminal_only_when_privileged_and_asked() {
    let mut t = controlled();
    let mut events = Events::default();
    assert_eq!(
        t.make_controlling(&STRANGER, false, true, false, &mut events.sink()),
        Err(TtyError::NotPermitted)
    );
    assert_eq!(
        t.make_controlling(&STRANGER, false, false, true, &mut events.sink()),
        Err(TtyError::NotPermitted)
    );
    assert_eq!(
        t.make_controlling(&STRANGER, false, true, true, &mut events.sink()),
        Ok(())
    );
    assert!(events.has(Event::ControlLost {
        session: SessionId(10)
    }));
    assert_eq!(t.controlling_session(), Some(SessionId(30)));
}

#[test]
fn tcgetpgrp_and_tiocgsid_answer_only_the_controlling_session() {
    let t = controlled();
    assert_eq!(t.foreground(&BACKGROUND), Ok(GroupId(10)));
    assert_eq!(t.session(&FOREGROUND), Ok(SessionId(10)));
    assert_eq!(t.foreground(&STRANGER), Err(TtyError::NotControlling));
    assert_eq!(t.session(&STRANGER), Err(TtyError::NotControlling));
}

#[test]
fn tcsetpgrp_moves_the_foreground_within_the_session_only() {
    let mut t = controlled();
    let mut none = |_| {};
    assert_eq!(
        t.set_foreground(&LEADER, GroupId(99), false, &mut none),
        Err(TtyError::NotPermitted)
    );
    assert_eq!(
        t.set_foreground(&STRANGER, GroupId(30), true, &mut none),
        Err(TtyError::NotControlling)
    );
    assert_eq!(
        t.set_foreground(&LEADER, GroupId(20), true, &mut none),
        Ok(())
    );
    assert_eq!(t.foreground(&LEADER), Ok(GroupId(20)));
}

#[test]
fn tcsetpgrp_from_a_background_group_sends_sigttou_unless_it_is_ignored() {
    let mut t = controlled();
    let mut events = Events::default();
    assert_eq!(
        t.set_foreground(&BACKGROUND, GroupId(20), true, &mut events.sink()),
        Err(TtyError::Interrupted)
    );
    assert_eq!(
        events.signals(),
        [(Target::Group(GroupId(20)), Signal::TerminalOutput)]
    );
    let ignoring = Caller {
        ignores_ttou: true,
        ..BACKGROUND
    };
    assert_eq!(
        t.set_foreground(&ignoring, GroupId(20), true, &mut |_| {}),
        Ok(())
    );
    assert_eq!(t.foreground(&LEADER), Ok(GroupId(20)));
}

#[test]
fn a_background_group_reading_gets_sigttin() {
    let mut t = controlled();
    typed(&mut t, b"for the foreground\n");
    let mut events = Events::default();
    let mut buffer = [0u8; 64];
    assert_eq!(
        t.read(&BACKGROUND, &mut buffer, &mut events.sink()),
        Err(TtyError::Interrupted)
    );
    assert_eq!(
        events.signals(),
        [(Target::Group(GroupId(20)), Signal::TerminalInput)]
    );
    // The input is still there for the foreground.
    assert_eq!(read(&mut t).unwrap(), b"for the foreground\n");
}

#[test]
fn a_background_read_that_cannot_stop_fails_with_eio() {
    let mut t = controlled();
    let mut buffer = [0u8; 8];
    for caller in [
        Caller {
            ignores_ttin: true,
            ..BACKGROUND
        },
        Caller {
            orphaned: true,
            ..BACKGROUND
        },
    ] {
        let mut events = Events::default();
        assert_eq!(
            t.read(&caller, &mut buffer, &mut events.sink()),
            Err(TtyError::Io)
        );
        assert!(events.signals().is_empty());
    }
}

#[test]
fn a_process_of_another_session_reads_without_job_control() {
    let mut t = controlled();
    typed(&mut t, b"x\n");
    assert_eq!(read_as(&mut t, &STRANGER, 8).unwrap(), b"x\n");
}

#[test]
fn background_writes_go_ahead_unless_tostop() {
    let mut t = controlled();
    assert_eq!(t.write(&BACKGROUND, b"bg", &mut |_| {}), Ok(2));
    let mut termios = t.termios();
    termios.lflag |= lflag::TOSTOP;
    t.set_termios(&FOREGROUND, &termios, SetWhen::Now, &mut |_| {})
        .unwrap();
    let mut events = Events::default();
    assert_eq!(
        t.write(&BACKGROUND, b"bg", &mut events.sink()),
        Err(TtyError::Interrupted)
    );
    assert_eq!(
        events.signals(),
        [(Target::Group(GroupId(20)), Signal::TerminalOutput)]
    );
    let ignoring = Caller {
        ignores_ttou: true,
        ..BACKGROUND
    };
    assert_eq!(t.write(&ignoring, b"bg", &mut |_| {}), Ok(2));
}

#[test]
fn a_background_group_changing_settings_gets_sigttou() {
    let mut t = controlled();
    let raw = t.termios().make_raw();
    let mut events = Events::default();
    assert_eq!(
        t.set_termios(&BACKGROUND, &raw, SetWhen::Now, &mut events.sink()),
        Err(TtyError::Interrupted)
    );
    assert!(t.termios().canonical());
    let orphan = Caller {
        orphaned: true,
        ..BACKGROUND
    };
    assert_eq!(
        t.set_termios(&orphan, &raw, SetWhen::Now, &mut |_| {}),
        Err(TtyError::Io)
    );
}

#[test]
fn the_session_leader_exiting_hangs_up_the_foreground_and_frees_the_terminal() {
    let mut t = controlled();
    let mut events = Events::default();
    t.session_leader_exited(SessionId(99), &mut events.sink());
    assert!(
        events.0.is_empty(),
        "another session's leader does not matter"
    );
    t.session_leader_exited(SessionId(10), &mut events.sink());
    let group = Target::Group(GroupId(10));
    assert_eq!(
        events.signals(),
        [(group, Signal::Hangup), (group, Signal::Continue)]
    );
    assert!(events.has(Event::ControlLost {
        session: SessionId(10)
    }));
    assert_eq!(t.controlling_session(), None);
    // A new session can have it now.
    assert!(t.open(&Caller::new(50, 50, 50), false, false).acquired);
}

#[test]
fn tiocnotty_by_the_leader_disassociates_the_session_and_by_others_changes_nothing() {
    let mut t = controlled();
    let mut events = Events::default();
    assert_eq!(
        t.give_up_controlling(&FOREGROUND, &mut events.sink()),
        Ok(())
    );
    assert!(events.0.is_empty());
    assert_eq!(t.controlling_session(), Some(SessionId(10)));
    assert_eq!(
        t.give_up_controlling(&STRANGER, &mut events.sink()),
        Err(TtyError::NotControlling)
    );
    assert_eq!(t.give_up_controlling(&LEADER, &mut events.sink()), Ok(()));
    assert_eq!(t.controlling_session(), None);
    assert_eq!(events.signals().len(), 2);
}

#[test]
fn a_hangup_signals_the_leader_and_the_foreground_then_reads_end_and_writes_fail() {
    let mut t = controlled();
    typed(&mut t, b"lost\n");
    let mut events = Events::default();
    t.hangup(&mut events.sink());
    let signals = events.signals();
    assert!(signals.contains(&(Target::Process(ProcessId(10)), Signal::Hangup)));
    assert!(signals.contains(&(Target::Group(GroupId(10)), Signal::Hangup)));
    assert!(signals.contains(&(Target::Group(GroupId(10)), Signal::Continue)));
    assert!(events.has(Event::InputReady));
    assert!(t.is_hung_up());
    assert_eq!(read(&mut t).unwrap(), b"");
    assert_eq!(t.write(&FOREGROUND, b"x", &mut |_| {}), Err(TtyError::Io));
    assert!(!t.open(&Caller::new(60, 60, 60), false, false).acquired);
}
