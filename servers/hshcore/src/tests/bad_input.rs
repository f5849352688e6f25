//! Bad input never panics the shell and never stops it answering: 10,000 random lines,
//! binary garbage, unbalanced quotes, `|` at either end, redirections without targets,
//! long lines, end of input in the middle of a line.

use super::fake::Fake;
use super::shell;
use crate::shell::MAX_LINE;
use crate::Shell;

/// xorshift64*: a fixed sequence, so a failure is reproducible.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "true",
    "false",
    "ls",
    "cat",
    "wc -l",
    "echo hi",
    "nosuch",
    "noexec",
    "segv",
    "stopper",
    "sleep 1",
    "sleep 2 &",
    "|",
    "||",
    "&&",
    "&",
    ";",
    "<",
    ">",
    ">>",
    "2>",
    "2>&1",
    "3>&-",
    "0<&-",
    "9>&4",
    "99>x",
    ">&x",
    "/tmp/f",
    "'",
    "\"",
    "'a b'",
    "\"$X\"",
    "$?",
    "${X}",
    "${",
    "\\",
    "#",
    "X=1",
    "export Y=2",
    "unset X",
    "cd /tmp",
    "cd /nope",
    "pwd",
    "umask 077",
    "umask",
    "ulimit -n 32",
    "set -x",
    "set +x",
    "jobs",
    "fg",
    "bg",
    "wait",
    "fg %1",
    "bg %2",
    "wait %1",
    "exit",
    "exit 3",
    "hatch",
    "hatch --egg 'setsid' true",
    "hatch --egg 'setpgid 0; setsid' true",
    "hatch --egg 'bogus 1' true",
    "hatch --query 6",
    "hatch --egg-file /etc/motd true",
    "PATH=/x true",
    "''",
    "\t",
    " ",
    "\r",
];

const PROGRAMS: &[&str] = &[
    "true",
    "false",
    "ls -l",
    "cat",
    "wc -l",
    "echo \"$X\" '$Y' $?",
    "segv",
    "stopper",
    "sleep 1",
    "nosuch",
    "noexec",
    "pwd",
    "jobs",
    "umask",
    "X=1 env",
    "hatch --egg 'umask 0o22; setenv \"A\" \"b\"' cat",
];
const REDIRECTIONS: &[&str] = &[
    "< /etc/motd",
    "> /tmp/f",
    ">> /tmp/g",
    "2>&1",
    "2> /tmp/e",
    "3>&-",
    "0<&-",
    "< /tmp/none",
];
const CONNECTORS: &[&str] = &[" | ", " && ", " || ", "; "];

/// A line the grammar accepts: commands with redirections, joined by `|`, `&&`, `||`, `;`,
/// sometimes ending in `&`.
fn well_formed_line(random: &mut Random) -> Vec<u8> {
    let mut line = String::new();
    for index in 0..random.below(4) + 1 {
        if index > 0 {
            line.push_str(CONNECTORS[random.below(CONNECTORS.len())]);
        }
        line.push_str(PROGRAMS[random.below(PROGRAMS.len())]);
        for _ in 0..random.below(3) {
            line.push(' ');
            line.push_str(REDIRECTIONS[random.below(REDIRECTIONS.len())]);
        }
    }
    if random.below(4) == 0 {
        line.push_str(" &");
    }
    line.into_bytes()
}

/// A line of random fragments, random bytes, or both; half the time a well-formed one.
fn random_line(random: &mut Random) -> Vec<u8> {
    if random.below(2) == 0 {
        return well_formed_line(random);
    }
    let mut line = Vec::new();
    let pieces = random.below(8) + 1;
    for _ in 0..pieces {
        match random.below(10) {
            0..=6 => line.extend_from_slice(FRAGMENTS[random.below(FRAGMENTS.len())].as_bytes()),
            7 | 8 => {
                for _ in 0..random.below(12) {
                    line.push(random.next() as u8);
                }
            }
            _ => line.extend_from_slice(b"\0\xff\xfe"),
        }
        if random.below(3) != 0 {
            line.push(b' ');
        }
    }
    line.retain(|&b| b != b'\n');
    line
}

/// Whether the shell still runs a command: `/bin/echo alive` is hatched and succeeds.
fn answers(sh: &mut Shell<Fake>) -> bool {
    let before = sh.sys().hatched.len();
    let _ = sh.run_line(b"set +x; /bin/echo alive");
    let hatched = &sh.sys().hatched;
    sh.last_status() == 0
        && hatched.len() == before + 1
        && hatched
            .last()
            .is_some_and(|h| h.argv == [b"/bin/echo".to_vec(), b"alive".to_vec()])
}

#[test]
fn ten_thousand_random_lines_never_panic_and_the_shell_keeps_answering() {
    for tty in [false, true] {
        let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ u64::from(tty));
        let mut sh = shell(tty);
        let mut exits = 0;
        for round in 0..10_000 {
            let line = random_line(&mut random);
            if sh.run_line(&line).is_some() {
                exits += 1;
            }
            if round % 1000 == 999 {
                assert!(
                    answers(&mut sh),
                    "not answering after line {round}: {:?}",
                    line.escape_ascii().to_string()
                );
            }
        }
        assert!(answers(&mut sh));
        // (With job control, stopped jobs make `exit` warn instead.)
        assert!(tty || exits > 0, "the fragments include exit");
        // Every pipe end the shell made was closed again (builtins close what they open).
        assert!(
            sh.sys().extra_fds().is_empty(),
            "{:?}",
            sh.sys().extra_fds()
        );
        // Every egg sent was valid and began with the three descriptor caps.
        let stdio = super::asm(super::STDIO);
        assert!(sh.sys().hatched.len() > 2000, "{}", sh.sys().hatched.len());
        for hatched in &sh.sys().hatched {
            assert!(egg::validate(&hatched.egg).is_ok());
            assert!(hatched.egg.starts_with(&stdio));
            assert_eq!(hatched.caps.len(), 3);
        }
    }
}

#[test]
fn each_kind_of_bad_line_gets_a_message_and_a_status() {
    let mut sh = shell(true);
    let cases: &[(&[u8], u8, &str)] = &[
        (
            b"echo 'unbalanced",
            2,
            "hsh: syntax error: unterminated '\n",
        ),
        (
            b"echo \"unbalanced",
            2,
            "hsh: syntax error: unterminated \"\n",
        ),
        (b"| cat", 2, "hsh: syntax error near `|`\n"),
        (b"cat |", 2, "hsh: syntax error: unexpected end of line\n"),
        (b"cat >", 2, "hsh: syntax error: `>` needs a target\n"),
        (b"cat 2>&", 2, "hsh: syntax error: `>&` needs a target\n"),
        (b"cat >&x", 1, "hsh: x: bad file descriptor\n"),
        (b"cat 99>/tmp/x", 1, "hsh: 99: bad file descriptor\n"),
        (b"cat > ''", 1, "hsh: redirection to an empty path\n"),
        (b"\xff\xfe\x01", 127, "hsh: \\xff\\xfe\\x01: not found\n"),
    ];
    for &(line, status, message) in cases {
        let before = sh.sys().stderr.len();
        assert_eq!(sh.run_line(line), None);
        assert_eq!(sh.last_status(), status, "{}", line.escape_ascii());
        assert_eq!(String::from_utf8_lossy(&sh.sys().stderr[before..]), message);
    }
    assert!(sh.sys().hatched.is_empty());
    assert!(answers(&mut sh));
}

#[test]
fn a_ten_kib_line_runs_and_a_line_over_the_limit_is_refused_whole() {
    let mut script = b"echo ".to_vec();
    script.extend(std::iter::repeat_n(b'a', 10 * 1024));
    script.push(b'\n');
    script.extend(std::iter::repeat_n(b'b', MAX_LINE + 10));
    script.extend_from_slice(b"\n/bin/true\nfalse");
    let mut fake = Fake::with_input(false, &script);
    fake.read_chunk = 1000;
    let mut sh = Shell::new(fake, &[]);
    // The last line has no newline: it still runs, and its status is the shell's.
    assert_eq!(sh.run(), 1);
    let hatched = &sh.sys().hatched;
    assert_eq!(hatched.len(), 3);
    assert_eq!(hatched[0].argv[1].len(), 10 * 1024);
    assert_eq!(hatched[1].program, b"/bin/true");
    let err = sh.sys().err();
    let expected = format!("hsh: line too long (more than {MAX_LINE} bytes)\n");
    assert!(err == expected, "{}", &err[..err.len().min(200)]);
}

#[test]
fn binary_garbage_on_stdin_ends_at_eof_without_a_panic() {
    let mut random = Random(7);
    let garbage: Vec<u8> = (0..200_000).map(|_| random.next() as u8).collect();
    let mut sh = Shell::new(Fake::with_input(false, &garbage), &[]);
    let status = sh.run();
    assert!(status == 2 || status == 127 || status <= 1, "{status}");
    assert!(answers(&mut sh));
}

#[test]
fn end_of_input_at_the_prompt_exits_with_the_last_status() {
    let mut sh = Shell::new(Fake::with_input(true, b"false\n"), &[]);
    assert_eq!(sh.run(), 1);
    assert_eq!(sh.sys().err(), "$ $ exit\n");
}

#[test]
fn binary_garbage_typed_at_the_line_editor_never_panics() {
    let mut random = Random(11);
    let garbage: Vec<u8> = (0..200_000)
        .map(|_| match random.below(8) {
            0 => 0x1b,
            1 => b'[',
            2 => b'\r',
            // No ^D: it would end the input at the first empty line.
            _ => (random.next() as u8).max(5),
        })
        .collect();
    let mut fake = Fake::with_input(true, &garbage);
    fake.raw_capable = true;
    fake.read_chunk = 777;
    let mut sh = Shell::new(fake, &[]);
    let _ = sh.run();
    assert!(sh.sys().input.is_empty(), "all of it was read");
    assert!(sh.history().len() > 100);
    assert!(!sh.sys().raw);
    assert!(answers(&mut sh));
}
