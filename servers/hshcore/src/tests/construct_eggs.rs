//! The egg of every construct, byte for byte (docs/shell.md shows the same eggs).

use super::fake::Object;
use super::{asm, run, shell, STDIO};

const JOB: &str = "setpgid 0\ntcsetpgrp 0 0\nsigdefault SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU\n";

#[test]
fn a_simple_command_without_job_control_gets_only_its_descriptors() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "ls -l /bin"), 0);
    let hatched = &sh.sys().hatched[0];
    assert_eq!(hatched.program, b"/bin/ls");
    assert_eq!(
        hatched.argv,
        [b"ls".to_vec(), b"-l".to_vec(), b"/bin".to_vec()]
    );
    assert_eq!(hatched.caps, [0, 1, 2]);
    // cap 64 0 READ|WRITE|GRANT|GRANT_REPLY 0, for slots 64, 65, 66.
    assert_eq!(
        hatched.egg,
        [
            0x0b, 0x40, 0x00, 0x0f, 0x00, 0x0b, 0x41, 0x01, 0x0f, 0x00, 0x0b, 0x42, 0x02, 0x0f,
            0x00
        ]
    );
    assert_eq!(hatched.egg, asm(STDIO));
}

#[test]
fn a_foreground_job_starts_its_group_takes_the_terminal_and_resets_signals() {
    let mut sh = shell(true);
    run(&mut sh, "true");
    assert_eq!(sh.sys().hatched[0].egg, asm(&format!("{STDIO}{JOB}")));
    // The shell took the terminal back afterwards.
    assert_eq!(sh.sys().foreground, 10);
}

#[test]
fn a_background_job_starts_its_group_but_leaves_the_terminal() {
    let mut sh = shell(true);
    run(&mut sh, "sleep 5 &");
    let expected = format!("{STDIO}setpgid 0\nsigdefault SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU\n");
    assert_eq!(sh.sys().hatched[0].egg, asm(&expected));
    assert_eq!(sh.sys().err(), "[1] 100\n");
}

#[test]
fn each_redirection_becomes_its_op_in_the_order_written() {
    let mut sh = shell(false);
    run(
        &mut sh,
        "cat < /etc/motd > /tmp/out 2>> /tmp/log 3>&1 4<&- 2>&1 5>/tmp/five",
    );
    let expected = format!(
        "{STDIO}open 0 \"/etc/motd\" O_RDONLY 0\n\
         open 1 \"/tmp/out\" O_WRONLY|O_CREAT|O_TRUNC 0o666\n\
         open 2 \"/tmp/log\" O_WRONLY|O_CREAT|O_APPEND 0o666\n\
         dup2 1 3\n\
         close 4\n\
         dup2 1 2\n\
         open 5 \"/tmp/five\" O_WRONLY|O_CREAT|O_TRUNC 0o666\n"
    );
    assert_eq!(
        sh.sys().egg_text(0),
        egg::disassemble(&asm(&expected)).unwrap()
    );
    assert_eq!(sh.sys().hatched[0].egg, asm(&expected));
}

#[test]
fn a_three_stage_pipeline_passes_pipe_ends_as_request_caps_and_joins_one_group() {
    let mut sh = shell(true);
    assert_eq!(run(&mut sh, "cat /etc/motd | wc -l | cat"), 0);
    let hatched = &sh.sys().hatched;
    assert_eq!(hatched.len(), 3);
    let first = format!("{STDIO}{JOB}");
    let next = format!("{STDIO}setpgid 100\nsigdefault SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU\n");
    assert_eq!(hatched[0].egg, asm(&first));
    assert_eq!(hatched[1].egg, asm(&next));
    assert_eq!(hatched[2].egg, asm(&next));
    assert_eq!(
        hatched[0].cap_objects,
        [Object::Terminal, Object::PipeWrite(1), Object::Stderr]
    );
    assert_eq!(
        hatched[1].cap_objects,
        [Object::PipeRead(1), Object::PipeWrite(2), Object::Stderr]
    );
    assert_eq!(
        hatched[2].cap_objects,
        [Object::PipeRead(2), Object::Stdout, Object::Stderr]
    );
    // The shell closed its pipe ends and reaped everyone.
    assert!(sh.sys().extra_fds().is_empty());
    assert_eq!(sh.sys().live(), 0);
}

#[test]
fn assignments_before_a_command_become_setenv_ops_and_exports_go_in_envp() {
    let mut sh = shell(false);
    run(&mut sh, "export COLOR=blue; GREETING='hi there' EMPTY= env");
    let expected = format!("{STDIO}setenv \"GREETING\" \"hi there\"\nsetenv \"EMPTY\" \"\"\n");
    assert_eq!(sh.sys().hatched[0].egg, asm(&expected));
    let envp = &sh.sys().hatched[0].envp;
    assert!(envp.contains(&b"COLOR=blue".to_vec()), "{envp:?}");
    assert!(envp.contains(&b"PATH=/bin".to_vec()), "{envp:?}");
    // The assignment is for the command only.
    run(&mut sh, "env");
    assert_eq!(sh.sys().hatched[1].egg, asm(STDIO));
}

#[test]
fn quotes_and_variables_are_expanded_before_the_egg_is_built() {
    let mut sh = shell(false);
    run(
        &mut sh,
        "F=/tmp/x; false; echo \"$F\" '$F' $? \\$F > \"$F.out\"",
    );
    let hatched = &sh.sys().hatched[1];
    let argv: Vec<&[u8]> = hatched.argv.iter().map(Vec::as_slice).collect();
    assert_eq!(argv, [&b"echo"[..], b"/tmp/x", b"$F", b"1", b"$F"]);
    let expected = format!("{STDIO}open 1 \"/tmp/x.out\" O_WRONLY|O_CREAT|O_TRUNC 0o666\n");
    assert_eq!(hatched.egg, asm(&expected));
}

#[test]
fn set_x_prints_each_egg_in_text_form_before_the_hatch() {
    let mut sh = shell(false);
    run(&mut sh, "set -x");
    run(&mut sh, "ls /bin | wc -l > /tmp/n");
    let expected = "+ ls /bin\n\
        +   # /bin/ls; caps: 0=fd 0 1=pipe out 2=fd 2\n\
        +   cap 64 0 READ|WRITE|GRANT|GRANT_REPLY 0\n\
        +   cap 65 1 READ|WRITE|GRANT|GRANT_REPLY 0\n\
        +   cap 66 2 READ|WRITE|GRANT|GRANT_REPLY 0\n\
        + wc -l > /tmp/n\n\
        +   # /bin/wc; caps: 0=pipe in 1=fd 1 2=fd 2\n\
        +   cap 64 0 READ|WRITE|GRANT|GRANT_REPLY 0\n\
        +   cap 65 1 READ|WRITE|GRANT|GRANT_REPLY 0\n\
        +   cap 66 2 READ|WRITE|GRANT|GRANT_REPLY 0\n\
        +   open 1 \"/tmp/n\" O_WRONLY|O_CREAT|O_TRUNC 0o666\n";
    assert_eq!(sh.sys().err(), expected);
    // Each printed op reads back to the egg that was sent.
    let ops: String = expected
        .lines()
        .filter_map(|l| l.strip_prefix("+   "))
        .skip_while(|l| !l.contains("/bin/wc"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(asm(&ops), sh.sys().hatched[1].egg);
    run(&mut sh, "set +x");
    let before = sh.sys().stderr.len();
    run(&mut sh, "true");
    assert_eq!(sh.sys().stderr.len(), before);
}

#[test]
fn a_path_in_a_redirection_may_not_hold_nul_and_the_shell_says_so() {
    let mut sh = shell(false);
    assert_eq!(sh.run_line(b"cat > '/tmp/a\0b'"), None);
    assert_eq!(sh.last_status(), 1);
    assert!(sh.sys().hatched.is_empty());
    assert!(
        sh.sys()
            .err()
            .starts_with("hsh: cat: cannot build the egg: op 3 at byte 15 (open): operand path"),
        "{}",
        sh.sys().err()
    );
}

#[test]
fn the_set_x_session_in_docs_shell_md_is_what_the_shell_prints() {
    let docs = include_str!("../../../../docs/shell.md");
    let mut sh = shell(true);
    run(&mut sh, "set -x");
    run(&mut sh, "cat < /etc/motd | wc -l > /tmp/n 2>&1 &");
    run(&mut sh, "LANG=C ls /bin");
    let printed = sh.sys().err();
    let session = format!(
        "$ set -x\n$ cat < /etc/motd | wc -l > /tmp/n 2>&1 &\n{}",
        printed.replace("+ LANG=C ls /bin\n", "$ LANG=C ls /bin\n+ LANG=C ls /bin\n")
    );
    assert!(
        docs.contains(&session),
        "docs/shell.md should show:\n{session}"
    );
}
