//! Every opcode end to end: builder bytes, decode, run, disassemble, assemble.

use std::collections::BTreeSet;
use std::vec::Vec;

use super::{hex, Recorder};
use crate::{
    assemble, decode, disassemble, run, validate, Egg, Opcode, Resource, Rights, SignalSet,
    O_APPEND, O_CREAT, O_RDWR, O_WRONLY, RLIM_INFINITY,
};

/// (what the builder wrote, the bytes in hex, the text form)
fn cases() -> Vec<(Egg, &'static str, &'static str)> {
    let e = Egg::new;
    vec![
        (
            e().open(0, "/dev/null", O_RDWR, 0),
            "01 00 09 2f6465762f6e756c6c 02 00",
            r#"open 0 "/dev/null" O_RDWR 0"#,
        ),
        (
            e().open(1, "/tmp/log", O_WRONLY | O_CREAT | O_APPEND, 0o644),
            "01 01 08 2f746d702f6c6f67 c108 a403",
            r#"open 1 "/tmp/log" O_WRONLY|O_CREAT|O_APPEND 0o644"#,
        ),
        (e().dup2(0, 1), "02 00 01", "dup2 0 1"),
        (e().close(3), "03 03", "close 3"),
        (e().closefrom(3), "04 03", "closefrom 3"),
        (e().setpgid(0), "05 00", "setpgid 0"),
        (e().setsid(), "06", "setsid"),
        (e().setctty(0), "07 00", "setctty 0"),
        (e().tcsetpgrp(0, 0), "08 00 00", "tcsetpgrp 0 0"),
        (e().chdir("/home"), "09 05 2f686f6d65", r#"chdir "/home""#),
        (e().fchdir(4), "0a 04", "fchdir 4"),
        (
            e().cap(10, 0, Rights::READ | Rights::WRITE, 0x2a),
            "0b 0a 00 03 2a",
            "cap 10 0 READ|WRITE 0x2a",
        ),
        (
            e().cap(300, 2, Rights::ALL, 0),
            "0b ac02 02 0f 00",
            "cap 300 2 READ|WRITE|GRANT|GRANT_REPLY 0",
        ),
        (
            e().bind("/svc/log", 1),
            "0c 08 2f7376632f6c6f67 01",
            r#"bind "/svc/log" 1"#,
        ),
        (
            e().sigsetmask(SignalSet::EMPTY.with(2).with(15)),
            "0d 828001",
            "sigsetmask SIGINT|SIGTERM",
        ),
        (e().sigsetmask(SignalSet::EMPTY), "0d 00", "sigsetmask 0"),
        (
            e().sigdefault(SignalSet::of(17).with(40)),
            "0e 808084808010",
            "sigdefault SIGCHLD|SIG40",
        ),
        (
            e().sigignore(SignalSet::of(13)),
            "0f 8020",
            "sigignore SIGPIPE",
        ),
        (e().setuid(1000), "10 e807", "setuid 1000"),
        (e().setgid(100), "11 64", "setgid 100"),
        (
            e().setgroups(&[4, 24, 1000]),
            "12 03 04 18 e807",
            "setgroups 4 24 1000",
        ),
        (e().setgroups(&[]), "12 00", "setgroups"),
        (e().umask(0o022), "13 12", "umask 0o22"),
        (
            e().setrlimit(Resource::OpenFiles, 1024, 4096),
            "14 07 8008 8020",
            "setrlimit RLIMIT_NOFILE 1024 4096",
        ),
        (
            e().setrlimit(Resource::Core, 0, RLIM_INFINITY),
            "14 04 00 ffffffffffffffffff01",
            "setrlimit RLIMIT_CORE 0 RLIM_INFINITY",
        ),
        (e().setpriority(100), "15 64", "setpriority 100"),
        (e().setaffinity(0b11), "16 03", "setaffinity 0x3"),
        (e().setname("sh"), "17 02 7368", r#"setname "sh""#),
        (
            e().setenv("TERM", "vt100"),
            "18 04 5445524d 05 7674313030",
            r#"setenv "TERM" "vt100""#,
        ),
        (
            e().unsetenv("LD_PRELOAD"),
            "19 0a 4c445f5052454c4f4144",
            r#"unsetenv "LD_PRELOAD""#,
        ),
        (e().clearenv(), "1a", "clearenv"),
        (e().start_suspended(), "1b", "start_suspended"),
    ]
}

#[test]
fn every_opcode_has_a_case() {
    let covered: BTreeSet<Opcode> = cases()
        .into_iter()
        .map(|(egg, _, _)| decode(egg.as_bytes()).next().unwrap().unwrap().opcode())
        .collect();
    let all: BTreeSet<Opcode> = Opcode::ALL.iter().copied().collect();
    assert_eq!(covered, all);
}

#[test]
fn every_opcode_encodes_decodes_runs_and_round_trips_as_text() {
    for (egg, bytes, text) in cases() {
        let bytes = hex(bytes);
        assert_eq!(egg.op_count(), 1, "{text}");
        let program = egg.build().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(program, bytes, "builder bytes of {text}");
        assert_eq!(validate(&program), Ok(1), "{text}");

        let ops: Vec<_> = decode(&program).collect::<Result<_, _>>().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].to_string(), text);
        let mut encoded = Vec::new();
        ops[0].encode(&mut encoded);
        assert_eq!(encoded, program, "Op::encode of {text}");
        assert_eq!(Egg::new().op(ops[0]).build().unwrap(), program);

        let mut recorder = Recorder::default();
        assert_eq!(run(&program, &mut recorder), Ok(1));
        assert_eq!(recorder.calls, [text], "Hatch call of {text}");

        assert_eq!(disassemble(&program).unwrap(), format!("{text}\n"));
        assert_eq!(assemble(text).unwrap(), program, "assemble {text}");
    }
}

#[test]
fn the_issue_example_decodes_to_setpgid_then_open() {
    let program = hex("05 00 01 00 09 2f 64 65 76 2f 6e 75 6c 6c 02 00");
    assert_eq!(
        disassemble(&program).unwrap(),
        "setpgid 0\nopen 0 \"/dev/null\" O_RDWR 0\n"
    );
    assert_eq!(
        assemble("setpgid 0; open 0 \"/dev/null\" 2 0").unwrap(),
        program
    );
    assert_eq!(
        assemble("setpgid 0\nopen 0 \"/dev/null\" O_RDWR 0\n").unwrap(),
        program
    );
}

#[test]
fn a_whole_program_runs_in_order() {
    let program = Egg::new()
        .setsid()
        .open(0, "/dev/pts/0", O_RDWR, 0)
        .dup2(0, 1)
        .dup2(0, 2)
        .setctty(0)
        .build()
        .unwrap();
    let mut recorder = Recorder::default();
    assert_eq!(run(&program, &mut recorder), Ok(5));
    assert_eq!(
        recorder.calls,
        [
            "setsid",
            r#"open 0 "/dev/pts/0" O_RDWR 0"#,
            "dup2 0 1",
            "dup2 0 2",
            "setctty 0"
        ]
    );
}

#[test]
fn an_empty_program_is_valid_and_does_nothing() {
    assert_eq!(validate(&[]), Ok(0));
    assert_eq!(decode(&[]).count(), 0);
    assert_eq!(disassemble(&[]).unwrap(), "");
    assert_eq!(assemble("# nothing\n\n  ; ;\n").unwrap(), []);
    assert_eq!(Egg::new().build().unwrap(), []);
}

#[test]
fn strings_escape_and_read_back_exactly() {
    let awkward: &[u8] =
        b"tab\there \"quoted\" back\\slash\nnew\x01\x7f\xff caf\xc3\xa9 \xe2\x82\xac";
    let program = Egg::new().setenv("X", awkward).build().unwrap();
    let text = disassemble(&program).unwrap();
    assert_eq!(
        text,
        "setenv \"X\" \"tab\\there \\\"quoted\\\" back\\\\slash\\nnew\\x01\\x7f\\xff café \\xe2\\x82\\xac\"\n"
    );
    assert_eq!(assemble(&text).unwrap(), program);
}

#[test]
fn numbers_read_in_decimal_hex_and_octal() {
    let expected = Egg::new()
        .umask(0o022)
        .cap(16, 1, Rights::READ, 255)
        .build()
        .unwrap();
    assert_eq!(assemble("umask 18\ncap 0x10 1 1 0xff").unwrap(), expected);
    assert_eq!(
        assemble("umask 0o22 # octal\ncap 16 0o1 READ 255").unwrap(),
        expected
    );
}

#[test]
fn flag_operands_take_names_and_numbers_mixed() {
    let expected = Egg::new()
        .open(1, "f", O_WRONLY | O_CREAT, 0o600)
        .build()
        .unwrap();
    assert_eq!(
        assemble(r#"open 1 "f" O_WRONLY|O_CREAT 0o600"#).unwrap(),
        expected
    );
    assert_eq!(assemble(r#"open 1 "f" O_CREAT|1 0o600"#).unwrap(), expected);
    assert_eq!(assemble(r#"open 1 "f" 0x41 384"#).unwrap(), expected);
    let all = Egg::new().sigdefault(SignalSet::ALL).build().unwrap();
    assert_eq!(assemble("sigdefault 0xffffffffffffffff").unwrap(), all);
    let text = disassemble(&all).unwrap();
    assert!(text.starts_with("sigdefault SIGHUP|SIGINT|"), "{text}");
    assert!(text.ends_with("|SIG63|SIG64\n"), "{text}");
    assert_eq!(assemble(&text).unwrap(), all);
    assert_eq!(
        assemble("sigdefault SIG2|SIG15").unwrap(),
        assemble("sigdefault SIGINT|SIGTERM").unwrap()
    );
}

#[test]
fn registry_answers_the_supported_query() {
    assert!(crate::is_supported(1) && crate::is_supported(5) && crate::is_supported(27));
    assert!(!crate::is_supported(0) && !crate::is_supported(28) && !crate::is_supported(1 << 40));
    assert_eq!(crate::supported().count(), Opcode::ALL.len());
}
