//! The pty pair: master writes are slave input, slave writes are master reads; a shell
//! started on the slave the way a terminal emulator does it; closing either side.

mod common;
use common::*;
use ttycore::{Caller, Event, GroupId, Pty, SessionId, Signal, Target, TtyError, INPUT_CAPACITY};

fn master_output(pty: &mut Pty) -> String {
    let mut buffer = [0u8; 1024];
    match pty.master_read(&mut buffer, &mut |_| {}) {
        Ok(n) => String::from_utf8_lossy(&buffer[..n]).into_owned(),
        Err(TtyError::WouldBlock) => String::new(),
        Err(e) => panic!("master read: {e}"),
    }
}

/// The shell the emulator hatches: `setsid; open 0 /dev/pts/N O_RDWR 0; dup2 0 1; dup2 0 2`.
const SHELL: Caller = Caller::new(77, 77, 77);

#[test]
fn a_shell_hatched_with_setsid_then_open_gets_the_pty_as_its_terminal() {
    let mut pty = Pty::new();
    let outcome = pty.slave_open(&SHELL, false, false).unwrap();
    assert!(outcome.acquired);
    assert_eq!(pty.slave.controlling_session(), Some(SessionId(77)));

    // The shell prints a prompt; the emulator reads it from the master.
    pty.slave.write(&SHELL, b"$ ", &mut |_| {}).unwrap();
    assert_eq!(master_output(&mut pty), "$ ");

    // The user types a command into the emulator: it is echoed back and the shell reads
    // the line.
    let mut events = Events::default();
    assert_eq!(pty.master_write(b"ls\r", &mut events.sink()), Ok(3));
    assert!(events.has(Event::InputReady));
    assert!(events.has(Event::OutputReady));
    assert_eq!(master_output(&mut pty), "ls\r\n");
    assert_eq!(read_as(&mut pty.slave, &SHELL, 64).unwrap(), b"ls\n");

    // ^C typed into the emulator reaches the shell's foreground group.
    let mut events = Events::default();
    pty.master_write(b"\x03", &mut events.sink()).unwrap();
    assert_eq!(
        events.signals(),
        [(Target::Group(GroupId(77)), Signal::Interrupt)]
    );
}

#[test]
fn raw_mode_on_the_slave_passes_bytes_through_both_ways() {
    let mut pty = Pty::new();
    pty.slave_open(&SHELL, false, false).unwrap();
    let raw = pty.slave.termios().make_raw();
    pty.slave
        .set_termios(&SHELL, &raw, ttycore::SetWhen::Now, &mut |_| {})
        .unwrap();
    pty.master_write(b"\x1b[A\x03\r", &mut |_| {}).unwrap();
    assert_eq!(
        read_as(&mut pty.slave, &SHELL, 64).unwrap(),
        b"\x1b[A\x03\r"
    );
    assert_eq!(master_output(&mut pty), "");
    pty.slave.write(&SHELL, b"a\nb", &mut |_| {}).unwrap();
    assert_eq!(master_output(&mut pty), "a\nb");
}

#[test]
fn the_master_blocks_while_the_slave_input_is_full() {
    let mut pty = Pty::new();
    pty.slave_open(&SHELL, false, false).unwrap();
    let raw = pty.slave.termios().make_raw();
    pty.slave
        .set_termios(&SHELL, &raw, ttycore::SetWhen::Now, &mut |_| {})
        .unwrap();
    let big = vec![b'm'; INPUT_CAPACITY + 1];
    assert_eq!(pty.master_write(&big, &mut |_| {}), Ok(INPUT_CAPACITY));
    assert_eq!(
        pty.master_write(b"x", &mut |_| {}),
        Err(TtyError::WouldBlock)
    );
    let mut events = Events::default();
    let mut buffer = [0u8; 16];
    pty.slave
        .read(&SHELL, &mut buffer, &mut events.sink())
        .unwrap();
    assert!(events.has(Event::InputSpace));
    assert_eq!(pty.master_write(b"x", &mut |_| {}), Ok(1));
}

#[test]
fn closing_the_master_hangs_up_the_slave() {
    let mut pty = Pty::new();
    pty.slave_open(&SHELL, false, false).unwrap();
    let mut events = Events::default();
    pty.master_close(&mut events.sink());
    assert!(events
        .signals()
        .contains(&(Target::Group(GroupId(77)), Signal::Hangup)));
    assert_eq!(read_as(&mut pty.slave, &SHELL, 8).unwrap(), b"");
    assert_eq!(
        pty.slave.write(&SHELL, b"x", &mut |_| {}),
        Err(TtyError::Io)
    );
    assert_eq!(
        pty.slave_open(&SHELL, false, false).err(),
        Some(TtyError::Io)
    );
    pty.slave_close(&mut |_| {});
    assert!(pty.is_finished());
}

#[test]
fn the_master_reads_eio_once_every_slave_description_closed() {
    let mut pty = Pty::new();
    let mut buffer = [0u8; 8];
    assert_eq!(
        pty.master_read(&mut buffer, &mut |_| {}),
        Err(TtyError::WouldBlock),
        "before the slave is opened the master just waits"
    );
    pty.slave_open(&SHELL, false, false).unwrap();
    pty.slave.write(&SHELL, b"bye", &mut |_| {}).unwrap();
    let mut events = Events::default();
    pty.slave_close(&mut events.sink());
    assert!(events.has(Event::OutputReady));
    assert_eq!(pty.master_read(&mut buffer, &mut |_| {}), Ok(3));
    assert_eq!(pty.master_read(&mut buffer, &mut |_| {}), Err(TtyError::Io));
    assert!(!pty.is_finished());
}
