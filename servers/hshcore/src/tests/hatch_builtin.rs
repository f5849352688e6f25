//! The `hatch` builtin: its options, the eggs it sends, its failure report, `--query`.

use super::{asm, run, shell, STDIO};
use crate::hatch_cmd::{parse_args, EggSource, HatchArgs};

#[test]
fn the_failure_report_names_the_op_its_byte_its_text_and_the_error() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "hatch --egg 'setpgid 0; setsid' /bin/true"), 1);
    assert_eq!(
        sh.sys().err(),
        "hatch: op 1 (setsid) at byte 2: EPERM: already a process group leader\n"
    );
    // The shell's ops came first, the user's after them.
    let sent = &sh.sys().hatched[0];
    assert_eq!(sent.egg, asm(&format!("{STDIO}setpgid 0\nsetsid\n")));
    assert!(sent.result.is_err());
}

#[test]
fn the_users_ops_follow_the_shells_and_replace_its_job_control() {
    let mut sh = shell(true);
    assert_eq!(
        run(
            &mut sh,
            "hatch --egg 'setsid; setenv \"A\" \"b\"' --egg=umask\\ 0o22 true x > /tmp/o"
        ),
        0
    );
    let expected = format!(
        "{STDIO}open 1 \"/tmp/o\" O_WRONLY|O_CREAT|O_TRUNC 0o666\nsetsid\nsetenv \"A\" \"b\"\numask 0o22\n"
    );
    let sent = &sh.sys().hatched[0];
    assert_eq!(sent.egg, asm(&expected));
    assert_eq!(sent.argv, [b"true".to_vec(), b"x".to_vec()]);
    // Without the user's group ops, the shell's job control stays.
    run(&mut sh, "hatch --egg 'umask 0o77' true");
    let expected = format!(
        "{STDIO}setpgid 0\ntcsetpgrp 0 0\nsigdefault SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU\numask 0o77\n"
    );
    assert_eq!(sh.sys().hatched[1].egg, asm(&expected));
}

#[test]
fn an_egg_file_is_assembled_and_its_errors_name_the_line() {
    let mut sh = shell(false);
    sh.sys_mut().files.insert(
        b"/tmp/e.egg".to_vec(),
        (
            crate::FileInfo {
                is_dir: false,
                mode: 0o644,
            },
            b"# comment\nsetenv \"K\" \"v\"\nchdir \"/tmp\"\n".to_vec(),
        ),
    );
    assert_eq!(run(&mut sh, "hatch --egg-file /tmp/e.egg true"), 0);
    assert_eq!(
        sh.sys().hatched[0].egg,
        asm(&format!("{STDIO}setenv \"K\" \"v\"\nchdir \"/tmp\"\n"))
    );
    assert_eq!(run(&mut sh, "hatch --egg-file /tmp/none true"), 1);
    assert_eq!(
        sh.sys().err(),
        "hatch: /tmp/none: no such file or directory\n"
    );
    assert_eq!(run(&mut sh, "hatch --egg 'setsid\ndup2 1' true"), 2);
    assert!(
        sh.sys()
            .err()
            .ends_with("hatch: --egg: line 2, column 7: missing operand `to` (fd)\n"),
        "{}",
        sh.sys().err()
    );
    assert!(sh.sys().extra_fds().is_empty());
    assert_eq!(sh.sys().hatched.len(), 1);
}

#[test]
fn a_failing_op_of_the_shells_own_part_is_called_the_shells() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "hatch --egg 'umask 0' cat < /tmp/missing"), 1);
    assert_eq!(
        sh.sys().err(),
        "hatch: the shell's op 3 (open 0 \"/tmp/missing\" O_RDONLY 0) at byte 15: ENOENT: no such file or directory\n"
    );
    // An ordinary command reports the op in the whole egg.
    assert_eq!(run(&mut sh, "cat < /tmp/missing"), 1);
    assert!(sh.sys().err().ends_with(
        "hsh: cat: op 3 (open 0 \"/tmp/missing\" O_RDONLY 0) at byte 15: ENOENT: no such file or directory\n"
    ));
}

#[test]
fn query_says_whether_an_opcode_is_supported() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "hatch --query 6"), 0);
    assert_eq!(run(&mut sh, "hatch --query 0x63"), 1);
    assert_eq!(
        sh.sys().out(),
        "hatch: opcode 6 (setsid) is supported\nhatch: opcode 99 is not supported\n"
    );
    assert_eq!(run(&mut sh, "hatch --query x"), 2);
}

#[test]
fn hatch_arguments_parse_or_say_what_is_wrong() {
    let args =
        |line: &[&str]| -> Vec<Vec<u8>> { line.iter().map(|s| s.as_bytes().to_vec()).collect() };
    assert_eq!(
        parse_args(&args(&[
            "--egg",
            "setsid",
            "--egg-file",
            "f",
            "--",
            "-x",
            "y"
        ])),
        Ok(HatchArgs::Run {
            eggs: vec![
                EggSource::Text(b"setsid".to_vec()),
                EggSource::File(b"f".to_vec())
            ],
            argv: args(&["-x", "y"]),
        })
    );
    assert_eq!(
        parse_args(&args(&["--egg"])),
        Err("--egg needs a value".into())
    );
    assert_eq!(
        parse_args(&args(&["--bogus", "x"])),
        Err("unknown option `--bogus`".into())
    );
    assert!(parse_args(&args(&[]))
        .unwrap_err()
        .starts_with("usage: hatch"));
    assert!(parse_args(&args(&["--egg", "setsid"]))
        .unwrap_err()
        .starts_with("usage: hatch"));
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "hatch"), 2);
    assert!(sh.sys().err().starts_with("hatch: usage: hatch"));
    assert_eq!(run(&mut sh, "hatch nosuch"), 127);
    assert!(sh.sys().err().ends_with("hsh: nosuch: not found\n"));
}
