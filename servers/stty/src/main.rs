//! `stty [SETTING...]`: the modes and window size of the terminal on standard input,
//! through its `TCGETS`/`TCSETS` and `TIOCGWINSZ`/`TIOCSWINSZ` requests.
//!
//! ```text
//! stty                    rows, columns and the flags: `rows 24; columns 80; icanon echo ...`
//! stty size               `ROWS COLUMNS`
//! stty raw | -raw         cfmakeraw's settings | back to cooked (as `cooked`, `sane`)
//! stty [-]icanon [-]echo [-]isig [-]icrnl [-]opost   one flag on or off
//! stty rows N | cols N    set the window size (the foreground group gets SIGWINCH)
//! ```
#![no_std]
#![no_main]

use libsys::fs::{terminal, Errno, Fd};
use ttycore::{iflag, lflag, oflag, Termios, WindowSize};
use userland::{out, out_decimal};

libsys::entry!(main);

/// The flags `stty` names: (name, which word: 0 input, 1 output, 2 local, bit).
const FLAGS: &[(&[u8], u8, u32)] = &[
    (b"icanon", 2, lflag::ICANON),
    (b"echo", 2, lflag::ECHO),
    (b"isig", 2, lflag::ISIG),
    (b"iexten", 2, lflag::IEXTEN),
    (b"echoe", 2, lflag::ECHOE),
    (b"echoctl", 2, lflag::ECHOCTL),
    (b"tostop", 2, lflag::TOSTOP),
    (b"icrnl", 0, iflag::ICRNL),
    (b"ixon", 0, iflag::IXON),
    (b"opost", 1, oflag::OPOST),
    (b"onlcr", 1, oflag::ONLCR),
];

fn field(termios: &mut Termios, which: u8) -> &mut u32 {
    match which {
        0 => &mut termios.iflag,
        1 => &mut termios.oflag,
        _ => &mut termios.lflag,
    }
}

fn fail(what: &[u8], errno: Errno) -> ! {
    userland::complain("stty", what, errno);
    userland::exit(1)
}

fn show(termios: &mut Termios, size: WindowSize) {
    out(b"rows ");
    out_decimal(size.rows.into());
    out(b"; columns ");
    out_decimal(size.columns.into());
    out(b";\n");
    for (i, &(name, which, bit)) in FLAGS.iter().enumerate() {
        if i > 0 {
            out(b" ");
        }
        if *field(termios, which) & bit == 0 {
            out(b"-");
        }
        out(name);
    }
    out(b"\n");
}

fn main(arg: u64) {
    // SAFETY: `arg` is procsrv's start argument.
    let start = unsafe { userland::start(arg) };
    let fd = Fd::STDIN;
    let words = terminal::get_attributes(fd).unwrap_or_else(|e| fail(b"standard input", e));
    let mut termios =
        Termios::from_words(&words).unwrap_or_else(|_| fail(b"tcgetattr", Errno::EINVAL));
    let mut size = WindowSize::from_word(
        terminal::window_size(fd).unwrap_or_else(|e| fail(b"standard input", e)),
    );
    let mut args = start.args().skip(1);
    let (mut changed, mut resized, mut any) = (false, false, false);
    while let Some(word) = args.next() {
        any = true;
        match word {
            b"size" => {
                out_decimal(size.rows.into());
                out(b" ");
                out_decimal(size.columns.into());
                out(b"\n");
            }
            b"raw" => {
                termios = termios.make_raw();
                changed = true;
            }
            b"-raw" | b"cooked" | b"sane" => {
                termios = Termios::cooked();
                changed = true;
            }
            b"rows" | b"cols" | b"columns" => {
                let Some(n) = args
                    .next()
                    .and_then(userland::parse)
                    .and_then(|n| u16::try_from(n).ok())
                else {
                    userland::complain("stty", word, Errno::EINVAL);
                    userland::exit(2)
                };
                if word == b"rows" {
                    size.rows = n;
                } else {
                    size.columns = n;
                }
                resized = true;
            }
            _ => {
                let (on, name) = match word.strip_prefix(b"-") {
                    Some(name) => (false, name),
                    None => (true, word),
                };
                let Some(&(_, which, bit)) = FLAGS.iter().find(|f| f.0 == name) else {
                    userland::complain("stty", word, Errno::EINVAL);
                    userland::exit(2)
                };
                let flags = field(&mut termios, which);
                *flags = if on { *flags | bit } else { *flags & !bit };
                changed = true;
            }
        }
    }
    if changed {
        if let Err(e) = terminal::set_attributes(fd, terminal::TCSETSW, &termios.to_words()) {
            fail(b"tcsetattr", e);
        }
    }
    if resized {
        if let Err(e) = terminal::set_window_size(fd, size.to_word()) {
            fail(b"window size", e);
        }
    }
    if !any {
        show(&mut termios, size);
    }
    userland::exit(0)
}
