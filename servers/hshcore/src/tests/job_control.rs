//! Job control: background jobs, ^Z, fg, bg, jobs, wait, reports of faults.

use super::{run, shell};
use crate::jobs::{JobSpec, JobState};
use crate::system::{signal, KillTarget};

#[test]
fn a_stopped_foreground_job_is_reported_and_the_shell_takes_the_terminal_back() {
    let mut sh = shell(true);
    assert_eq!(run(&mut sh, "stopper | cat"), 148);
    assert_eq!(
        sh.sys().err(),
        "\n[1]+  Stopped                 stopper | cat\n"
    );
    // The job's first egg took the terminal; the shell took it back.
    assert_eq!(sh.sys().tcsetpgrp_calls.last(), Some(&10));
    assert_eq!(sh.jobs().get(1).unwrap().state(), JobState::Stopped);
    assert_eq!(sh.jobs().get(1).unwrap().pgid, 100);
}

#[test]
fn fg_gives_the_terminal_to_the_job_continues_it_and_waits() {
    let mut sh = shell(true);
    run(&mut sh, "stopper");
    assert_eq!(run(&mut sh, "fg"), 0);
    assert_eq!(sh.sys().out(), "stopper\n");
    assert_eq!(sh.sys().kills, [(KillTarget::Group(100), signal::SIGCONT)]);
    assert_eq!(sh.sys().tcsetpgrp_calls, [10, 10, 100, 10]);
    assert!(sh.jobs().is_empty());
    assert_eq!(run(&mut sh, "fg"), 1);
    assert!(sh.sys().err().ends_with("hsh: fg: current: no such job\n"));
}

#[test]
fn bg_continues_a_stopped_job_in_the_background() {
    let mut sh = shell(true);
    run(&mut sh, "sleep 100 &");
    run(&mut sh, "stopper");
    run(&mut sh, "jobs");
    assert_eq!(
        sh.sys().out(),
        "[1]-  Running                 sleep 100\n[2]+  Stopped                 stopper\n"
    );
    assert_eq!(run(&mut sh, "bg %2"), 0);
    assert!(sh.sys().out().ends_with("[2]+ stopper &\n"));
    assert_eq!(sh.sys().kills, [(KillTarget::Group(101), signal::SIGCONT)]);
    sh.notify_jobs();
    assert!(
        sh.sys()
            .err()
            .ends_with("[2]+  Done                    stopper\n"),
        "{}",
        sh.sys().err()
    );
    assert_eq!(sh.jobs().find(JobSpec::Current), Some(1));
}

#[test]
fn wait_waits_for_background_jobs_and_returns_their_status() {
    let mut sh = shell(true);
    run(&mut sh, "sleep 1 &");
    run(&mut sh, "exitwith 7 &");
    assert_eq!(run(&mut sh, "wait %2"), 7);
    assert_eq!(run(&mut sh, "wait"), 0);
    assert!(sh.jobs().is_empty());
    assert_eq!(sh.sys().live(), 0);
    assert_eq!(run(&mut sh, "wait %9"), 127);
    assert_eq!(run(&mut sh, "wait 555"), 127);
}

#[test]
fn a_command_that_faults_is_reported_with_its_pid_and_signal() {
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "segv"), 139);
    assert_eq!(sh.sys().err(), "hsh: pid 100: Segmentation fault\n");
    let mut sh = shell(true);
    run(&mut sh, "segv &");
    sh.notify_jobs();
    assert_eq!(
        sh.sys().err(),
        "[1] 100\n[1]+  Segmentation fault      segv\n"
    );
}

#[test]
fn finished_background_jobs_are_announced_before_the_next_prompt() {
    let mut sh = super::fake::Fake::with_input(true, b"true &\nfalse &\n");
    sh.read_chunk = 3;
    let mut sh = crate::Shell::new(sh, &[]);
    assert_eq!(sh.run(), 0);
    assert_eq!(
        sh.sys().err(),
        "$ [1] 100\n[1]+  Done                    true\n$ [1] 101\n[1]+  Exit                    false\n$ exit\n"
    );
}

#[test]
fn without_a_terminal_there_is_no_job_control() {
    let mut sh = shell(false);
    assert!(!sh.job_control());
    run(&mut sh, "sleep 1 &");
    assert_eq!(sh.sys().hatched[0].egg, super::asm(super::STDIO));
    assert_eq!(run(&mut sh, "fg"), 1);
    assert_eq!(sh.sys().err(), "hsh: fg: no job control\n");
    assert!(sh.sys().tcsetpgrp_calls.is_empty());
    assert!(!sh.sys().ignoring_signals);
    assert_eq!(run(&mut sh, "wait"), 0);
}

#[test]
fn an_interactive_shell_ignores_the_job_control_signals() {
    let sh = shell(true);
    assert!(sh.sys().ignoring_signals);
    assert_eq!(sh.sys().tcsetpgrp_calls, [10]);
}

#[test]
fn and_or_in_the_background_is_refused_with_a_reason() {
    let mut sh = shell(true);
    assert_eq!(run(&mut sh, "true && true &"), 2);
    assert!(sh
        .sys()
        .err()
        .contains("a background job must be one pipeline"));
    assert!(sh.sys().hatched.is_empty());
}

#[test]
fn when_the_first_command_is_missing_the_next_leads_the_group_and_the_shell_gives_it_the_terminal()
{
    let mut sh = shell(true);
    assert_eq!(run(&mut sh, "nosuch | cat"), 0);
    let expected = format!(
        "{}setpgid 0\nsigdefault SIGINT|SIGQUIT|SIGTSTP|SIGTTIN|SIGTTOU\n",
        super::STDIO
    );
    assert_eq!(sh.sys().hatched[0].egg, super::asm(&expected));
    assert_eq!(sh.sys().tcsetpgrp_calls, [10, 100, 10]);
    assert!(sh.sys().extra_fds().is_empty());
}

#[test]
fn kill_signals_a_jobs_group_or_a_pid_by_number_or_name() {
    let mut sh = shell(true);
    run(&mut sh, "sleep 100 &");
    assert_eq!(run(&mut sh, "kill %1"), 0);
    assert_eq!(
        run(&mut sh, "kill -KILL 100; kill -SIGINT 100; kill -9 100"),
        0
    );
    assert_eq!(
        sh.sys().kills,
        [
            (KillTarget::Group(100), signal::SIGTERM),
            (KillTarget::Process(100), signal::SIGKILL),
            (KillTarget::Process(100), signal::SIGINT),
            (KillTarget::Process(100), signal::SIGKILL),
        ]
    );
    sh.notify_jobs();
    assert!(
        sh.sys()
            .err()
            .ends_with("[1]+  Terminated              sleep 100\n"),
        "{}",
        sh.sys().err()
    );
    assert_eq!(run(&mut sh, "kill -BOGUS 1"), 2);
    assert_eq!(run(&mut sh, "kill %3"), 1);
    assert_eq!(run(&mut sh, "kill 555"), 1);
    assert!(sh
        .sys()
        .err()
        .ends_with("hsh: kill: 555: no such process\n"));
    assert_eq!(run(&mut sh, "kill"), 2);
}

#[test]
fn exit_with_stopped_jobs_warns_once() {
    let mut sh = shell(true);
    run(&mut sh, "stopper");
    assert_eq!(sh.run_line(b"exit"), None);
    assert!(sh
        .sys()
        .err()
        .ends_with("hsh: there are stopped jobs (exit again to leave them)\n"));
    assert_eq!(sh.run_line(b"exit"), Some(1));
    // A command in between resets the warning.
    let mut sh = shell(true);
    run(&mut sh, "stopper");
    assert_eq!(sh.run_line(b"exit"), None);
    run(&mut sh, "true");
    assert_eq!(sh.run_line(b"exit"), None);
}

#[test]
fn a_job_ended_by_ctrl_c_reports_nothing_but_a_new_line() {
    let mut sh = shell(true);
    assert_eq!(run(&mut sh, "intr | cat"), 0);
    assert_eq!(run(&mut sh, "cat | intr"), 130);
    assert_eq!(sh.sys().err(), "\n\n");
    let mut sh = shell(false);
    assert_eq!(run(&mut sh, "intr"), 130);
    assert_eq!(sh.sys().err(), "");
}

#[test]
fn jobs_lists_a_change_once_and_the_prompt_does_not_report_it_again() {
    let mut sh = shell(true);
    run(&mut sh, "true &");
    run(&mut sh, "jobs");
    assert_eq!(sh.sys().out(), "[1]+  Done                    true\n");
    assert!(!sh.sys().err().contains("Done"), "{}", sh.sys().err());
    sh.notify_jobs();
    assert!(!sh.sys().err().contains("Done"), "{}", sh.sys().err());
    assert!(sh.jobs().is_empty());
}
