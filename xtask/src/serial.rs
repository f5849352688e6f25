//! Reading a serial log and judging a boot.
//!
//! The kernel's serial contract: `HATCHERY READY` when boot is complete;
//! `ktest: <name> ... ok|FAILED` and `ktest: N passed, M failed` for in-kernel tests, the
//! same with `utest:` for userspace tests; `hatchery: fatal: <why>`,
//! `hatchery-loader: fatal: <why>` and `hatchery: PANIC: <message> at <file>:<line>`;
//! `hatchery: root task <name> faulted; the run fails` when the root task faults;
//! `procsrv: init (pid 1) exited with status N` (or `killed by signal N`) when init ends
//! badly; `procsrv: cannot start: WHY` when procsrv stops itself.

use std::time::Duration;

/// The line that says boot is complete.
pub const READY: &str = "HATCHERY READY";
/// QEMU's exit status after the kernel writes 0x10 (success) to isa-debug-exit.
pub const EXIT_SUCCESS: i32 = 33;
/// QEMU's exit status after the kernel or loader writes 0x11 (failure).
pub const EXIT_FAILURE: i32 = 35;
/// Part of the kernel's line when the root task faults with no fault handler
/// (`hatchery: root task hello faulted; the run fails`): the run has failed.
pub const ROOT_TASK_FAULTED: &str = "faulted; the run fails";
/// What procsrv's line says when pid 1 (init) ends with a status other than 0 or by a
/// signal (`procsrv: init (pid 1) exited with status 3`): the run has failed.
const PID1_ENDED: &str = " (pid 1) ";
/// procsrv's line when it cannot start and stops itself.
const PROCSRV_STOPPED: &str = "procsrv: cannot start: ";
/// Test-result prefixes of in-kernel and userspace tests.
const TEST_PREFIXES: [&str; 2] = ["ktest:", "utest:"];

/// How an emulator run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this status (`None`: killed by a signal).
    Exited(Option<i32>),
    /// It was still running at the timeout and was killed.
    TimedOut(Duration),
}

/// What a run must show.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// Exit status; `None` when the emulator's status means nothing (Bochs).
    pub status: Option<i32>,
    /// Each entry: one line must contain all of these strings.
    pub lines: &'a [&'a [&'a str]],
    /// Whether `fatal` lines are part of the expected outcome.
    pub fatal_expected: bool,
    /// Whether a kernel `PANIC` is the expected outcome (the exception-report test).
    pub panic_expected: bool,
    /// Text no line may contain.
    pub absent: &'a [&'a str],
}

/// Removes ANSI escape sequences (GRUB writes them to COM1) and carriage returns.
pub fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ parameters... final byte in @..~; other escapes: one char.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for next in chars.by_ref() {
                        if ('@'..='~').contains(&next) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// How pid 1 ended badly, from procsrv's line: the message (`init exited with status 3`)
/// and the status a shell would report (the code, or 128 + the signal).
pub fn pid1_failure(log: &str) -> Option<(String, i32)> {
    clean(log).lines().find_map(|line| {
        let (_, rest) = line.split_once("procsrv: ")?;
        let (name, how) = rest.trim().split_once(PID1_ENDED)?;
        let status = if let Some(code) = how.strip_prefix("exited with status ") {
            code.parse::<u8>().ok().map(i32::from)?
        } else {
            128 + how
                .strip_prefix("killed by signal ")?
                .parse::<u8>()
                .ok()
                .map(i32::from)?
        };
        (!name.is_empty() && !name.contains(' ')).then(|| (format!("{name} {how}"), status))
    })
}

/// procsrv's line when it must stop itself (`procsrv: cannot start: OutOfMemory`).
pub fn procsrv_stopped(log: &str) -> Option<String> {
    clean(log)
        .lines()
        .find_map(|line| line.split_once(PROCSRV_STOPPED))
        .map(|(_, why)| format!("procsrv cannot start: {}", why.trim()))
}

/// `passed` and `failed` of a summary line such as `ktest: 12 passed, 0 failed`.
pub fn parse_summary(line: &str) -> Option<(u32, u32)> {
    let rest = TEST_PREFIXES
        .iter()
        .find_map(|prefix| line.trim().strip_prefix(prefix))?;
    let (passed, failed) = rest.trim().split_once(',')?;
    let passed = passed.trim().strip_suffix("passed")?.trim().parse().ok()?;
    let failed = failed.trim().strip_suffix("failed")?.trim().parse().ok()?;
    Some((passed, failed))
}

/// Every reason the run failed; empty when it passed.
pub fn judge(log: &str, ending: Ending, expect: &Expect<'_>) -> Vec<String> {
    let log = clean(log);
    let mut failures = Vec::new();
    match (ending, expect.status) {
        (Ending::TimedOut(after), _) => {
            failures.push(format!("timed out after {:.0} s", after.as_secs_f64()));
        }
        (Ending::Exited(status), Some(wanted)) if status != Some(wanted) => {
            let got = status.map_or("a signal".to_string(), |s| s.to_string());
            failures.push(format!("exit status {got}, expected {wanted}"));
        }
        _ => {}
    }
    for parts in expect.lines {
        if !log
            .lines()
            .any(|line| parts.iter().all(|part| line.contains(part)))
        {
            failures.push(format!("no line with {}", quote_all(parts)));
        }
    }
    // pid 1 ending badly fails the run unless the scenario expects procsrv's line.
    let pid1_expected = expect
        .lines
        .iter()
        .flat_map(|parts| parts.iter())
        .any(|part| part.contains(PID1_ENDED));
    if let Some((why, _)) = pid1_failure(&log).filter(|_| !pid1_expected) {
        failures.push(why);
    }
    failures.extend(procsrv_stopped(&log));
    for text in expect.absent {
        if let Some(line) = log.lines().find(|line| line.contains(text)) {
            failures.push(format!("a line should not be there: {}", line.trim()));
        }
    }
    for line in log.lines() {
        let trimmed = line.trim();
        if trimmed.contains("PANIC") && !expect.panic_expected {
            failures.push(format!("panic: {trimmed}"));
        } else if trimmed.contains("fatal") && !expect.fatal_expected {
            failures.push(format!("unexpected: {trimmed}"));
        } else if is_test_line(trimmed) && trimmed.ends_with("FAILED") {
            failures.push(format!("test failed: {trimmed}"));
        } else if let Some((_, failed)) = parse_summary(trimmed).filter(|&(_, f)| f > 0) {
            failures.push(format!("{failed} failed: {trimmed}"));
        }
    }
    failures
}

fn is_test_line(line: &str) -> bool {
    TEST_PREFIXES.iter().any(|prefix| line.starts_with(prefix))
}

fn quote_all(parts: &[&str]) -> String {
    let quoted: Vec<String> = parts.iter().map(|p| format!("`{p}`")).collect();
    quoted.join(" and ")
}

/// The last `count` lines of `log`, cleaned.
pub fn tail(log: &str, count: usize) -> String {
    let log = clean(log);
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY_LINES: &[&[&str]] = &[&[READY]];

    fn boot(status: i32) -> Expect<'static> {
        Expect {
            status: Some(status),
            lines: READY_LINES,
            fatal_expected: false,
            panic_expected: false,
            absent: &[],
        }
    }

    #[test]
    fn an_absent_text_that_appears_is_a_failure() {
        let expect = Expect {
            absent: &["dropped:"],
            ..boot(33)
        };
        let log = "HATCHERY READY\nutest: dropped: printed anyway\n";
        let failures = judge(log, Ending::Exited(Some(33)), &expect);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("utest: dropped: printed anyway"));
        let clean = "HATCHERY READY\n";
        assert!(judge(clean, Ending::Exited(Some(33)), &expect).is_empty());
    }

    #[test]
    fn procsrvs_line_for_pid_1_gives_the_message_and_the_shell_status() {
        let log =
            "HATCHERY READY\r\n$ false\r\n$ exit\r\nprocsrv: init (pid 1) exited with status 3\r\n";
        assert_eq!(
            pid1_failure(log),
            Some(("init exited with status 3".to_string(), 3))
        );
        let killed = "\u{1b}[0mprocsrv: init (pid 1) killed by signal 11\n";
        assert_eq!(
            pid1_failure(killed),
            Some(("init killed by signal 11".to_string(), 139))
        );
        // Another pid, a clean end, or words that only look alike are not pid 1's end.
        for other in [
            "procsrv: pid 4 (hatchchild) killed by SIGSEGV: page fault at address 0x0\n",
            "procsrv: hatched /bin/init as pid 1\n",
            "procsrv: init (pid 1) exited with status many\n",
            "echo procsrv: a b (pid 1) exited with status 3\n",
            "HATCHERY READY\n",
        ] {
            assert_eq!(pid1_failure(other), None, "{other}");
        }
    }

    #[test]
    fn pid_1_ending_badly_fails_a_boot_unless_the_line_is_expected() {
        let log = "HATCHERY READY\nprocsrv: init (pid 1) exited with status 1\n";
        let ending = Ending::Exited(Some(EXIT_SUCCESS));
        assert_eq!(
            judge(log, ending, &boot(EXIT_SUCCESS)),
            ["init exited with status 1"]
        );
        let expect = Expect {
            lines: &[&["procsrv: init (pid 1) exited with status 1"]],
            ..boot(EXIT_SUCCESS)
        };
        assert!(judge(log, ending, &expect).is_empty());
    }

    #[test]
    fn procsrv_stopping_itself_fails_a_boot() {
        let log = "HATCHERY READY\r\nprocsrv: cannot start: OutOfMemory\r\n";
        assert_eq!(
            procsrv_stopped(log).as_deref(),
            Some("procsrv cannot start: OutOfMemory")
        );
        let failures = judge(log, Ending::Exited(Some(EXIT_SUCCESS)), &boot(EXIT_SUCCESS));
        assert_eq!(failures, ["procsrv cannot start: OutOfMemory"]);
        assert_eq!(
            procsrv_stopped("procsrv: hatched /bin/init as pid 1\n"),
            None
        );
    }

    #[test]
    fn clean_strips_grub_escapes_and_carriage_returns() {
        let raw = "\u{1b}[2J\u{1b}[01;01H\u{1b}[0mBooting\r\nHATCHERY READY\r\n\u{1b}7x";
        assert_eq!(clean(raw), "Booting\nHATCHERY READY\nx");
    }

    #[test]
    fn ready_and_the_success_status_pass() {
        let log = "hatchery: boot\nHATCHERY READY\n";
        assert!(judge(log, Ending::Exited(Some(33)), &boot(33)).is_empty());
    }

    #[test]
    fn missing_ready_wrong_status_and_timeout_are_failures() {
        let failures = judge("booting\n", Ending::Exited(Some(35)), &boot(33));
        assert_eq!(
            failures,
            [
                "exit status 35, expected 33",
                "no line with `HATCHERY READY`"
            ]
        );
        let failures = judge(
            "HATCHERY READY\n",
            Ending::TimedOut(Duration::from_secs(30)),
            &boot(33),
        );
        assert_eq!(failures, ["timed out after 30 s"]);
    }

    #[test]
    fn a_panic_fails_even_with_everything_else_right() {
        let log = "HATCHERY READY\nhatchery: PANIC: oops at src/main.rs:3\n";
        let failures = judge(log, Ending::Exited(Some(33)), &boot(33));
        assert_eq!(failures, ["panic: hatchery: PANIC: oops at src/main.rs:3"]);
    }

    #[test]
    fn fatal_fails_unless_expected() {
        let log = "hatchery-loader: fatal: kernel ELF has a bad magic\n";
        let unexpected = judge(log, Ending::Exited(Some(35)), &boot(35));
        assert!(unexpected.iter().any(|f| f.starts_with("unexpected: ")));
        let expect = Expect {
            status: Some(35),
            lines: &[&["hatchery-loader: fatal:", "magic"]],
            fatal_expected: true,
            panic_expected: false,
            absent: &[],
        };
        assert!(judge(log, Ending::Exited(Some(35)), &expect).is_empty());
    }

    #[test]
    fn expected_parts_must_share_one_line() {
        let log = "hatchery: fatal: out of memory\nno boot archive was given\n";
        let expect = Expect {
            status: None,
            lines: &[&["hatchery: fatal:", "archive"]],
            fatal_expected: true,
            panic_expected: false,
            absent: &[],
        };
        let failures = judge(log, Ending::Exited(Some(1)), &expect);
        assert_eq!(failures, ["no line with `hatchery: fatal:` and `archive`"]);
    }

    #[test]
    fn an_expected_panic_passes_and_an_unexpected_one_fails() {
        let log = "hatchery: PANIC: kernel exception page fault (#PF) at rip 0x1\n";
        let ending = Ending::Exited(Some(EXIT_FAILURE));
        let mut expect = boot(EXIT_FAILURE);
        expect.lines = &[&["PANIC: kernel exception"]];
        assert_eq!(
            judge(log, ending, &expect).len(),
            1,
            "unexpected panic must fail"
        );
        expect.panic_expected = true;
        assert!(judge(log, ending, &expect).is_empty());
    }

    #[test]
    fn failed_tests_and_failing_summaries_are_reported() {
        let log = "ktest: frame_alloc ... ok\nktest: cnode_copy ... FAILED\n\
                   ktest: 1 passed, 1 failed\nutest: 3 passed, 0 failed\nHATCHERY READY\n";
        let failures = judge(log, Ending::Exited(Some(33)), &boot(33));
        assert_eq!(
            failures,
            [
                "test failed: ktest: cnode_copy ... FAILED",
                "1 failed: ktest: 1 passed, 1 failed"
            ]
        );
    }

    #[test]
    fn summaries_parse_for_both_prefixes() {
        assert_eq!(parse_summary("ktest: 12 passed, 0 failed"), Some((12, 0)));
        assert_eq!(parse_summary("  utest: 1 passed, 2 failed"), Some((1, 2)));
        assert_eq!(parse_summary("ktest: frame ... ok"), None);
        assert_eq!(parse_summary("12 passed, 0 failed"), None);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\n", 40), "a");
    }
}
