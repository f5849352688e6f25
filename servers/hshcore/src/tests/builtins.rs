//! The builtins: cd, pwd, export, unset, umask, ulimit, exit, set, and their redirections.

use super::{run, shell};

#[test]
fn cd_changes_the_directory_and_sets_pwd_and_oldpwd() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "cd /bin; pwd"), 0);
    assert_eq!(sh.sys().out(), "/bin\n");
    assert_eq!(run(&mut sh, "cd; echo"), 0);
    assert_eq!(sh.sys().cwd, b"/tmp", "cd alone goes HOME");
    assert_eq!(run(&mut sh, "cd -"), 0);
    assert_eq!(sh.sys().cwd, b"/bin");
    assert_eq!(run(&mut sh, "cd /nope"), 1);
    assert_eq!(
        sh.sys().err(),
        "hsh: cd: /nope: no such file or directory\n"
    );
    assert_eq!(run(&mut sh, "cd /etc/motd"), 1);
    assert!(sh
        .sys()
        .err()
        .ends_with("hsh: cd: /etc/motd: not a directory\n"));
    run(&mut sh, "env");
    let envp = &sh.sys().hatched.last().unwrap().envp;
    assert!(envp.contains(&b"PWD=/bin".to_vec()) && envp.contains(&b"OLDPWD=/tmp".to_vec()));
}

#[test]
fn relative_programs_and_paths_resolve_against_the_working_directory() {
    let mut sh = shell(false);
    run(&mut sh, "cd /bin; ./true; cd /; bin/false");
    let programs: Vec<&[u8]> = sh
        .sys()
        .hatched
        .iter()
        .map(|h| h.program.as_slice())
        .collect();
    assert_eq!(programs, [&b"/bin/true"[..], b"/bin/false"]);
    assert_eq!(sh.last_status(), 1);
}

#[test]
fn export_unset_and_set_manage_variables() {
    let mut sh = shell(false);
    run(&mut sh, "X=1; export Y=2; export X");
    run(&mut sh, "export");
    assert_eq!(
        sh.sys().out(),
        "export HOME=/tmp\nexport PATH=/bin\nexport X=1\nexport Y=2\n"
    );
    run(&mut sh, "unset X Y HOME; set > /tmp/vars");
    assert_eq!(sh.sys().files[&b"/tmp/vars".to_vec()].1, b"PATH=/bin\n");
    assert_eq!(run(&mut sh, "export 1x=2"), 1);
    assert_eq!(sh.sys().err(), "hsh: export: `1x=2': not a valid name\n");
    assert_eq!(run(&mut sh, "set -e"), 2);
}

#[test]
fn umask_reads_and_sets_the_mask_in_octal() {
    let mut sh = shell(false);
    run(&mut sh, "umask; umask 077; umask");
    assert_eq!(sh.sys().out(), "0022\n0077\n");
    assert_eq!(run(&mut sh, "umask 8"), 1);
    assert_eq!(run(&mut sh, "umask 1000"), 1);
    assert_eq!(sh.sys().umask, 0o077);
}

#[test]
fn ulimit_reads_and_sets_limits() {
    let mut sh = shell(false);
    run(
        &mut sh,
        "ulimit -n; ulimit -n 64; ulimit -n; ulimit -S -s 4096; ulimit -s; ulimit -H -s",
    );
    assert_eq!(sh.sys().out(), "unlimited\n64\n4096\nunlimited\n");
    assert_eq!(sh.sys().limits[&(egg::Resource::OpenFiles as u8)], (64, 64));
    run(&mut sh, "ulimit -a > /tmp/limits");
    let all = String::from_utf8(sh.sys().files[&b"/tmp/limits".to_vec()].1.clone()).unwrap();
    assert_eq!(all.lines().count(), 10);
    assert!(all.contains("-n open files                  64\n"), "{all}");
    assert_eq!(run(&mut sh, "ulimit -q"), 2);
    assert_eq!(run(&mut sh, "ulimit -n lots"), 2);
}

#[test]
fn exit_ends_the_shell_with_a_status() {
    let mut sh = shell(false);
    assert_eq!(sh.run_line(b"exit 3"), Some(3));
    let mut sh = shell(false);
    assert_eq!(sh.run_line(b"false; exit"), Some(1));
    let mut sh = shell(false);
    assert_eq!(sh.run_line(b"exit 300; echo no"), Some(44));
    assert!(sh.sys().hatched.is_empty());
    let mut sh = shell(false);
    assert_eq!(sh.run_line(b"exit x"), Some(2));
}

#[test]
fn builtin_output_follows_its_redirections() {
    let mut sh = shell(false);
    run(
        &mut sh,
        "pwd > /tmp/p; pwd >> /tmp/p; cd /nope 2>/tmp/e; pwd 1>&2",
    );
    assert_eq!(sh.sys().files[&b"/tmp/p".to_vec()].1, b"/\n/\n");
    assert_eq!(
        sh.sys().files[&b"/tmp/e".to_vec()].1,
        b"hsh: cd: /nope: no such file or directory\n"
    );
    assert_eq!(sh.sys().err(), "/\n");
    assert!(sh.sys().extra_fds().is_empty());
}

#[test]
fn a_command_of_only_redirections_creates_or_truncates_the_files() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "> /tmp/new"), 0);
    assert!(sh.sys().files.contains_key(b"/tmp/new".as_slice()));
    assert_eq!(run(&mut sh, "< /tmp/missing"), 1);
    assert!(sh.sys().hatched.is_empty());
}

#[test]
fn and_or_chains_follow_the_status() {
    let mut sh = shell(false);
    run(
        &mut sh,
        "true && echo a || echo b; false && echo c || echo d; false || false && echo e",
    );
    let said: Vec<&[u8]> = sh
        .sys()
        .hatched
        .iter()
        .filter(|h| h.argv[0] == b"echo")
        .map(|h| h.argv[1].as_slice())
        .collect();
    assert_eq!(said, [&b"a"[..], b"d"]);
}

#[test]
fn commands_are_found_in_path_or_reported() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "nosuch"), 127);
    assert_eq!(sh.sys().err(), "hsh: nosuch: not found\n");
    assert_eq!(run(&mut sh, "noexec"), 126);
    assert!(sh.sys().err().ends_with("hsh: noexec: permission denied\n"));
    assert_eq!(run(&mut sh, "/tmp"), 126);
    assert!(sh.sys().err().ends_with("hsh: /tmp: is a directory\n"));
    assert_eq!(run(&mut sh, "''"), 127);
    run(&mut sh, "PATH=/nowhere:/bin; true");
    assert_eq!(sh.last_status(), 0);
    assert_eq!(
        run(&mut sh, "ls | nosuch"),
        127,
        "a pipeline's status is its last command's"
    );
    assert!(sh.sys().extra_fds().is_empty());
}

#[test]
fn a_builtin_that_acts_on_the_shell_cannot_be_part_of_a_pipeline() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "ls | cd /tmp"), 1);
    assert!(sh
        .sys()
        .err()
        .contains("hsh: cd: this builtin cannot be part of a pipeline"));
    assert_eq!(sh.sys().cwd, b"/");
    assert!(sh.sys().extra_fds().is_empty());
}

#[test]
fn a_reporting_builtin_in_a_pipeline_writes_to_the_pipe_after_its_reader_is_hatched() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "pwd | wc -l"), 0);
    assert!(
        sh.sys().out().is_empty(),
        "pwd wrote to the pipe, not to fd 1"
    );
    let hatched = &sh.sys().hatched;
    assert_eq!(hatched.len(), 1);
    assert_eq!(hatched[0].cap_objects[0], super::fake::Object::PipeRead(1));
    assert_eq!(sh.sys().pipe_writes, [(1, b"/\n".to_vec())]);
    // Last in a pipeline, it writes to fd 1 and its status is the pipeline's.
    assert_eq!(run(&mut sh, "true | umask"), 0);
    assert_eq!(sh.sys().out(), "0022\n");
    assert_eq!(run(&mut sh, "true | ulimit -q"), 2);
    assert!(sh.sys().extra_fds().is_empty());
}

#[test]
fn unfinished_lines_go_on_on_the_next_line() {
    let script = b"echo 'two\nlines' \\\n  joined\nls |\n  wc -l &&\n true\necho \"open\n";
    let mut sh = crate::Shell::new(super::fake::Fake::with_input(false, script), &[]);
    sh.run();
    let argv: Vec<Vec<Vec<u8>>> = sh.sys().hatched.iter().map(|h| h.argv.clone()).collect();
    assert_eq!(
        argv,
        [
            vec![b"echo".to_vec(), b"two\nlines".to_vec(), b"joined".to_vec()],
            vec![b"ls".to_vec()],
            vec![b"wc".to_vec(), b"-l".to_vec()],
            vec![b"true".to_vec()],
        ]
    );
    // The quote left open at the end of input is an error, reported once.
    assert_eq!(sh.sys().err(), "hsh: syntax error: unterminated \"\n");
    // Interactive: the next lines are asked for with PS2.
    let mut sh = crate::Shell::new(super::fake::Fake::with_input(true, b"ls |\nwc\n"), &[]);
    sh.run();
    assert_eq!(sh.sys().hatched.len(), 2);
    assert_eq!(sh.sys().err(), "$ > $ exit\n");
}

#[test]
fn tilde_and_last_background_pid_expand() {
    let mut sh = shell(true);
    run(&mut sh, "sleep 1 &");
    run(&mut sh, "echo ~/x $!; wait $!");
    let argv = &sh.sys().hatched[1].argv;
    assert_eq!(argv[1..], [b"/tmp/x".to_vec(), b"100".to_vec()]);
    assert!(sh.jobs().is_empty());
}
