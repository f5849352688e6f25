//! Helpers shared by the terminal tests: a recorder of events and short ways to type,
//! read and see the echo.
#![allow(dead_code)]

use ttycore::{Caller, Event, Signal, Target, Terminal, TtyError};

/// The session leader that owns the terminal in most tests: pid 10, group 10, session 10.
pub const LEADER: Caller = Caller::new(10, 10, 10);
/// Another process of the leader's foreground group.
pub const FOREGROUND: Caller = Caller::new(11, 10, 10);
/// A process of a background group (20) of the same session.
pub const BACKGROUND: Caller = Caller::new(20, 20, 10);
/// A process of another session (30).
pub const STRANGER: Caller = Caller::new(30, 30, 30);

/// Events in the order they came.
#[derive(Default, Debug)]
pub struct Events(pub Vec<Event>);

impl Events {
    pub fn sink(&mut self) -> impl FnMut(Event) + '_ {
        |e| self.0.push(e)
    }
    pub fn signals(&self) -> Vec<(Target, Signal)> {
        self.0
            .iter()
            .filter_map(|e| match *e {
                Event::Signal { target, signal } => Some((target, signal)),
                _ => None,
            })
            .collect()
    }
    pub fn has(&self, event: Event) -> bool {
        self.0.contains(&event)
    }
}

/// A terminal whose controlling session is LEADER's, with group 10 in the foreground.
pub fn controlled() -> Terminal {
    let mut t = Terminal::new();
    assert!(t.open(&LEADER, false, false).acquired);
    t
}

/// Types `bytes`; returns the events.
pub fn typed(t: &mut Terminal, bytes: &[u8]) -> Events {
    let mut events = Events::default();
    let taken = t.input(bytes, &mut events.sink());
    assert_eq!(taken, bytes.len(), "input refused bytes");
    events
}

/// Everything queued for the device, as a lossy string.
pub fn echoed(t: &mut Terminal) -> String {
    let mut out = Vec::new();
    let mut buffer = [0u8; 512];
    loop {
        let n = t.take_output(&mut buffer, &mut |_| {});
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One read by `caller` into a buffer of `size` bytes.
pub fn read_as(t: &mut Terminal, caller: &Caller, size: usize) -> Result<Vec<u8>, TtyError> {
    let mut buffer = vec![0u8; size];
    let n = t.read(caller, &mut buffer, &mut |_| {})?;
    buffer.truncate(n);
    Ok(buffer)
}

/// One read by the foreground process into a 256-byte buffer.
pub fn read(t: &mut Terminal) -> Result<Vec<u8>, TtyError> {
    read_as(t, &FOREGROUND, 256)
}

/// Sets raw mode (cfmakeraw) as the foreground process.
pub fn make_raw(t: &mut Terminal) {
    let raw = t.termios().make_raw();
    t.set_termios(&FOREGROUND, &raw, ttycore::SetWhen::Now, &mut |_| {})
        .unwrap();
}
