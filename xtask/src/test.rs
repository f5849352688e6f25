//! `cargo xtask test`: host unit tests, QEMU boot scenarios, one Bochs boot.
//!
//! 1. `cargo test` over the workspace's default members; its `test result:` lines count.
//! 2. Every scenario in [`SCENARIOS`] boots under QEMU TCG through the direct-boot loader
//!    with its own bundle, command line and QEMU arguments, and must end with its exit
//!    status and show its lines before its timeout (see [`crate::serial::judge`]).
//! 3. The GRUB ISO boots in Bochs to `HATCHERY READY`.
//!
//! The last line is `N passed, M failed`: host tests plus one per boot.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::build::{build_all, Artifacts};
use crate::image_cmd::{
    archive_and_bundle_in, archive_bytes, default_root, grub_iso_in, read, read_programs, write,
    Root,
};
use crate::qemu::{run_watched, Boot, Qemu, Typing, Watch, Watched};
use crate::serial::{judge, tail, Expect, EXIT_FAILURE, EXIT_SUCCESS, READY};
use crate::steps::{workspace_root, Profile, Steps};
use crate::tools::{Installer, BOCHS, GRUB, MTOOLS, QEMU, XORRISO};

/// Arguments of `cargo xtask test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Build with the release profile.
    #[arg(long)]
    release: bool,
    /// Do not install missing tools; name their packages instead.
    #[arg(long)]
    no_install: bool,
    /// Skip the host unit tests.
    #[arg(long)]
    no_host: bool,
    /// Skip the Bochs boot.
    #[arg(long)]
    no_bochs: bool,
    /// Run only the userspace tests (`servers/utest`, in QEMU and Bochs) whose names
    /// contain one of these words (comma or space separated); no other boot runs.
    #[arg(long, value_name = "NAMES")]
    utest: Option<String>,
    /// Run only the boot scenarios whose name contains this (`bochs-grub` and
    /// `bochs-tests` are the Bochs boots); one that matches none is an error.
    filter: Option<String>,
}

/// How a scenario's bundle differs from the real one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bundle {
    /// The real kernel and archive.
    Real,
    /// The kernel ELF's magic is broken.
    KernelBadMagic,
    /// The kernel ELF is cut in the middle of its loaded segments.
    KernelTruncated,
    /// The boot archive is cut in half.
    ArchiveTruncated,
    /// The bundle has no `archive` entry.
    NoArchive,
    /// The bundle has no `kernel` entry.
    NoKernel,
    /// The kernel's Limine base revision tag asks for this revision.
    BaseRevision(u64),
}

/// One QEMU boot and what it must show.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Short name (also the log file name).
    pub name: &'static str,
    /// The bundle booted.
    pub bundle: Bundle,
    /// Root program of the archive; `None` for the default (`procsrv`, else `hello`).
    pub root: Option<&'static str>,
    /// Words for the root task (the manifest's `root-args`); `--utest` words replace them.
    pub root_args: &'static str,
    /// Kernel command line.
    pub cmdline: &'static str,
    /// Extra QEMU arguments.
    pub qemu_args: &'static [&'static str],
    /// Expected QEMU exit status.
    pub status: i32,
    /// Lines that must appear: each entry's strings all in one line.
    pub lines: &'static [&'static [&'static str]],
    /// Whether a `fatal` line is the expected outcome.
    pub fatal_expected: bool,
    /// Whether a kernel `PANIC` is the expected outcome.
    pub panic_expected: bool,
    /// Text no line may contain.
    pub absent: &'static [&'static str],
    /// Kill QEMU after this many seconds.
    pub timeout_secs: u64,
    /// Keys the harness types into the serial port, each at its prompt.
    pub input: &'static [Typing],
}

const READY_LINE: &[&[&str]] = &[&[READY]];
const BOOT_TIMEOUT: u64 = 30;
const ERROR_TIMEOUT: u64 = 20;
const BOCHS_TIMEOUT: u64 = 120;
/// The randomized system call test makes 1,000,000 calls (about 3 s of QEMU time here).
const CHAOS_TIMEOUT: u64 = 180;
/// procsrv's in-system tests hatch 20,000 children and send 100,000 random eggs.
const HATCH_TIMEOUT: u64 = 600;
/// The file server's test streams 10 MiB and sends 100,000 messages under `-icount`.
const FS_TIMEOUT: u64 = 180;
/// The typed shell session (1 MiB, 2 MiB and 10 MiB pipelines, about 30 hatches).
const SESSION_TIMEOUT: u64 = 120;

/// What the `session` scenario types, each at its prompt: the shell's `$ `, or what shows
/// that the foreground `cat` runs (its copy of the typed line) before ^C.
const SESSION_TYPING: &[Typing] = &[
    ("$ ", b"echo home is $HOME\r"),
    ("$ ", b"ls -l /bin\r"),
    ("$ ", b"ps\r"),
    ("$ ", b"producer 1048576 | consumer\r"),
    ("$ ", b"producer 2097152 | cat | consumer\r"),
    ("$ ", b"producer 10485760 | consumer\r"),
    (
        "$ ",
        b"mkdir /tmp/d; echo in $HOME > /tmp/d/f; head -n 1 /tmp/d/f; rm /tmp/d/f; ls /tmp/d\r",
    ),
    (
        "$ ",
        b"echo 'saved  in' tmp > /tmp/f; cat /tmp/f; wc /tmp/f\r",
    ),
    ("$ ", b"false; echo status $?\r"),
    ("$ ", b"cat\r"),
    ("cat\r\n", b"typed at cat\r"),
    ("typed at cat\r\ntyped at cat", b"\x03"),
    ("$ ", b"echo after ^C: $?\r"),
    ("$ ", b"hatchchild fault\r"),
    ("$ ", b"hello\r"),
    ("that is the tour", b""),
    ("$ ", b"set -x\r"),
    ("$ ", b"echo x > /tmp/y\r"),
    ("$ ", b"hatch --egg 'setpgid 0; setsid' echo no\r"),
    ("$ ", b"false\r"),
    ("$ ", b"\x04"),
];
/// What the `userland` scenario types: each program of /bin issue 9 added, `cd`, job
/// control with ^Z typed through the serial port, and `ptyrun hsh` running commands on a
/// pty. `cat` echoing a typed line shows that it runs (and holds the terminal) before ^Z.
const USERLAND_TYPING: &[Typing] = &[
    // First (pids are known: ptyrun is 5): ptyrun killed from inside its pty leaves the
    // console raw and non-blocking; the shell still reads it, `stty sane` cooks it.
    ("$ ", b"ptyrun hsh\r"),
    ("$ ", b"kill -9 5\r"),
    ("Killed", b""),
    ("$ ", b"stty sane; echo alive after ptyrun killed\r"),
    (
        "$ ",
        b"cd /tmp; pwd; /bin/pwd; echo x > here; cd /; cat /tmp/here\r",
    ),
    ("$ ", b"id; tty; stty size\r"),
    // The line editor (raw mode at the prompt): backspace, then history (up) and editing.
    ("$ ", b"echo edited abX\x7fc\r"),
    ("$ ", b"\x1b[A\x7f\x7fZZ\r"),
    // (The history's redraw shows `$ ` again: wait for the command's output instead.)
    (
        "edited aZZ\r\n$ ",
        b"nosuch; echo status $?; /etc/passwd; echo status $?\r",
    ),
    ("$ ", b"stty rows 30 cols 100; stty size; stty\r"),
    (
        "$ ",
        b"umask 027; echo m > /tmp/m; ls -l /tmp/m; umask; umask 022; ulimit -n 32; ulimit -a\r",
    ),
    ("$ ", b"sleep 0.2 && echo slept $?\r"),
    // `head -N`, the historical form scripts still use.
    ("$ ", b"echo x y | head -1 | wc\r"),
    ("$ ", b"echo hello | hexdump\r"),
    ("$ ", b"egg disasm 05000100092f6465762f6e756c6c0200\r"),
    (
        "$ ",
        b"echo 'setsid; umask 0o77' | egg asm -; egg ops | head -n 1\r",
    ),
    (
        "$ ",
        b"hatch --egg 'umask 0o27; setgroups 4 5' procinfo one\r",
    ),
    // Binary garbage as a script: 100,000 bytes of producer's pattern (every byte value
    // but 251..=255, about 400 lines of quotes, redirections, `|`, `&`, NULs) read by a
    // second shell, which ends at EOF; then this one still answers.
    (
        "$ ",
        b"producer 100000 | hsh > /dev/null 2>&1; echo garbage status $?\r",
    ),
    ("$ ", b"echo still answering\r"),
    ("$ ", b"cat\r"),
    ("cat\r\n", b"stop me\r"),
    ("stop me\r\nstop me", b"\x1a"),
    ("$ ", b"jobs; ps\r"),
    ("$ ", b"fg\r"),
    ("cat\r\n", b"again\r"),
    ("again\r\nagain", b"\x04"),
    ("$ ", b"echo fg status $?\r"),
    ("$ ", b"sleep 0.5 &\r"),
    ("$ ", b"jobs; wait; echo waited $?\r"),
    ("$ ", b"sleep 0.5 &\r"),
    ("$ ", b"kill -STOP %1; sleep 0.1; jobs\r"),
    ("$ ", b"bg\r"),
    ("$ ", b"wait %1; echo bg waited $?\r"),
    ("$ ", b"ptyrun hsh\r"),
    ("$ ", b"tty; ps\r"),
    ("$ ", b"exit 3\r"),
    ("$ ", b"echo ptyrun status $?\r"),
    // Keys through ptyrun (its terminal raw): a line reaches `cat` on the pty, and ^C
    // becomes the pty's SIGINT for cat's group; ptyrun ends with cat's 128 + 2.
    ("$ ", b"ptyrun cat\r"),
    ("ptyrun cat\r\n", b"in the pty\r"),
    ("in the pty\r\nin the pty", b"\x03"),
    ("$ ", b"echo ptyrun cat $?\r"),
    // The shell killed: init says so on the console, and ends with 128 + 9.
    ("$ ", b"kill -9 4\r"),
];
const LOG_TAIL_LINES: usize = 40;

const fn boot(
    name: &'static str,
    cmdline: &'static str,
    qemu_args: &'static [&'static str],
) -> Scenario {
    Scenario {
        name,
        bundle: Bundle::Real,
        root: None,
        root_args: "",
        cmdline,
        qemu_args,
        status: EXIT_SUCCESS,
        lines: READY_LINE,
        fatal_expected: false,
        panic_expected: false,
        absent: &[],
        timeout_secs: BOOT_TIMEOUT,
        input: &[],
    }
}

const fn refused(
    name: &'static str,
    bundle: Bundle,
    lines: &'static [&'static [&'static str]],
) -> Scenario {
    Scenario {
        name,
        bundle,
        root: None,
        root_args: "",
        cmdline: "exit",
        qemu_args: &[],
        status: EXIT_FAILURE,
        lines,
        fatal_expected: true,
        panic_expected: false,
        absent: &[],
        timeout_secs: ERROR_TIMEOUT,
        input: &[],
    }
}

/// What utest prints with DebugWrite while it holds COM1: the kernel must drop it.
const COM1_HAND_OFF_ABSENT: &[&str] = &["utest: dropped:"];

/// The QEMU boot scenarios, in the order they run.
pub const SCENARIOS: &[Scenario] = &[
    // The system as booted: procsrv starts the console driver and the file server, hatches
    // init, and init the shell on the console; with nothing typed everything waits and the
    // kernel, told `exit`, powers off.
    Scenario {
        lines: &[
            &[READY],
            &["console: COM1 handed to a userspace driver"],
            &["$ "],
        ],
        ..boot("boot", "exit", &[])
    },
    // A session typed through the real serial port at the shell's prompts: commands,
    // a pipeline across two hatches, a redirection to /tmp read back, `$?`, ^C reaching a
    // foreground job and not the shell, a faulting child reported, `set -x`, the `hatch`
    // builtin's failure report,
    // the tour (`/bin/hello`); then `false` and ^D, the end of input as a piped script
    // ends: the shell exits with the last command's status, init (root-args `exit`) ends
    // with it and the system powers off (status success, not a time-out) with procsrv's
    // line saying init failed, the line that fails `cargo xtask run`.
    Scenario {
        root_args: "exit",
        input: SESSION_TYPING,
        lines: &[
            &["home is /"],
            &["-r-xr-xr-x 0 0", " hsh"],
            &["  PID  PPID  PGID   SID TTY       UID S NAME"],
            &["    1     0     0     0 ?           0 R init"],
            // The console driver, hatched by procsrv from its egg at boot.
            &["    2     0     0     0 ?           0 R console"],
            // The file server, hatched by procsrv from its egg at boot in its reserved block.
            &["    3     0     0     0 ?           0 R fsrv"],
            // The shell leads session 4, whose controlling terminal is the console.
            &["    4     1     4     4 console     0 R hsh"],
            &["consumer: 1048576 bytes, 0 differ"],
            &["consumer: 2097152 bytes, 0 differ"],
            // Issue 8's pipeline: two hatches joined by dup2 ops stream 10 MiB.
            &["consumer: 10485760 bytes, 0 differ"],
            &["in /"],
            &["saved  in tmp"],
            &["1 3 14 /tmp/f"],
            &["status 1"],
            &["typed at cat"],
            &["after ^C: 130"],
            &["hello: that is the tour"],
            // A child that faults: procsrv's line reaches the console through the file
            // server, the shell names the signal.
            &["procsrv: pid ", " (hatchchild) killed by SIGSEGV: page fault at address 0x0"],
            &["hsh: pid ", ": Segmentation fault"],
            &["+   open 1 \"/tmp/y\" O_WRONLY|O_CREAT|O_TRUNC 0o666"],
            &["hatch: op 1 (setsid) at byte 2: EPERM: already a process group leader"],
            &["procsrv: init (pid 1) exited with status 1"],
        ],
        absent: &["not found"],
        timeout_secs: SESSION_TIMEOUT,
        ..boot("session", "exit", &[])
    },
    // The programs of /bin that issue 9 added, each typed at the prompt and its output
    // checked; `cd` reaching children; ^Z stopping a foreground `cat` (reported, listed by
    // `jobs`, `T` in `ps`), `fg` resuming it; `&`, `jobs`, `wait`; `ptyrun hsh` running
    // commands on a pty as a new session, and its exit status coming back; then the shell
    // killed, which init reports on the console before it ends with status 137.
    Scenario {
        root_args: "exit",
        input: USERLAND_TYPING,
        lines: &[
            &["hsh: pid 5: Killed"],
            &["alive after ptyrun killed"],
            &["/tmp"],
            &["uid=0 euid=0 suid=0 gid=0 egid=0 sgid=0 groups="],
            &["/dev/console"],
            &["24 80"],
            &["30 100"],
            &["rows 30; columns 100;"],
            &["icanon echo isig iexten echoe echoctl -tostop icrnl ixon opost onlcr"],
            &["-rw-r----- 0 0", " /tmp/m"],
            &["0027"],
            &["-n open files", " 32"],
            &["slept 0"],
            &["1 2 4"],
            &["00000000  68 65 6c 6c 6f 0a", "|hello.|"],
            &["00000006"],
            &["open 0 \"/dev/null\" O_RDWR 0"],
            &["06133f"],
            &["  1 open fd:fd path:path flags:open_flags mode:mode"],
            &["umask: 0027"],
            &["groups: 4 5"],
            &["controlling terminal: /dev/console (fd 0)"],
            &["fd 1: terminal /dev/console, O_RDWR"],
            &["cap 8: Endpoint", "(procsrv)"],
            &["argv[1]: one"],
            &["environ: PATH=/bin"],
            &["edited abc"],
            &["edited aZZ"],
            &["hsh: nosuch: not found"],
            &["status 127"],
            &["hsh: /etc/passwd: permission denied"],
            &["status 126"],
            &["garbage status 127"],
            &["still answering"],
            &["[1]+  Stopped", "cat"],
            &[" console     0 T cat"],
            &["fg status 0"],
            &["waited 0"],
            &["[1]+  Stopped", "sleep 0.5"],
            &["[1]+ sleep 0.5 &"],
            &["bg waited 0"],
            &["/dev/pts/0"],
            &[" pts/0       0 R ps"],
            &["ptyrun status 3"],
            &["ptyrun cat 130"],
            &["init: the shell (pid 4) was killed by signal 9"],
            &["procsrv: init (pid 1) exited with status 137"],
        ],
        absent: &["not implemented", "EBADF"],
        timeout_secs: SESSION_TIMEOUT,
        ..boot("userland", "exit", &[])
    },
    // procsrv's in-system tests: hatchtest runs procsrv's code as the root task and hatches
    // its own driver, which hatches thousands of children through it.
    Scenario {
        root: Some("hatchtest"),
        lines: &[
            &["hatchtest:", " passed, 0 failed"],
            &[
                "procsrv: pid",
                "killed by SIGSEGV: page fault at address 0x0",
            ],
        ],
        timeout_secs: HATCH_TIMEOUT,
        ..boot("hatch", "exit", &[])
    },
    // procsrv's requests (hatchtest with the root argument `requests`): calls to a file
    // server that does not answer (ETIMEDOUT at the op index, the request's bound and the
    // default, another client answered meanwhile) and requests too big for the IPC buffer
    // (request pages, bad pages); nothing leaked.
    Scenario {
        root: Some("hatchtest"),
        root_args: "requests",
        lines: &[&["hatchtest:", " passed, 0 failed"]],
        absent: &["hatchtest: FAILED"],
        ..boot("hatch-requests", "exit", &[])
    },
    // The shell program in the system: hshtest runs procsrv's code as the root task, and
    // its driver hatches `hsh -c LINE` cases and checks their exit status.
    Scenario {
        root: Some("hshtest"),
        lines: &[&["hshtest:", " passed, 0 failed"]],
        ..boot("hsh", "exit", &[])
    },
    // utest's COM1 test hands the console over and back: its port-written line and the
    // kernel's two lines appear, its DebugWrite line in between does not.
    Scenario {
        root: Some("utest"),
        lines: &[
            &["ktest:", " passed, ", " failed"],
            &["utest:", " passed, ", " failed"],
            &["console: COM1 handed to a userspace driver"],
            &["utest: written through COM1's port cap"],
            &["console: COM1 is the kernel's again"],
        ],
        absent: COM1_HAND_OFF_ABSENT,
        ..boot("tests", "test", &[])
    },
    // The same tests returning to user mode by iretq only (the one exit that checks
    // every user frame), and on QEMU's `max` CPU (SMEP, SMAP, UMIP on).
    Scenario {
        root: Some("utest"),
        lines: &[
            &["ktest:", " passed, ", " failed"],
            &["utest:", " passed, ", " failed"],
        ],
        ..boot("tests-iretq", "test syscall=iretq", &[])
    },
    Scenario {
        root: Some("utest"),
        lines: &[
            &["cpu: protections SMEP, SMAP, UMIP"],
            &["ktest:", " passed, ", " failed"],
            &["utest:", " passed, ", " failed"],
        ],
        absent: COM1_HAND_OFF_ABSENT,
        ..boot("tests-cpu-max", "test", &["-cpu", "max"])
    },
    // An interrupt on a vector nothing routes, pending when the root task starts: the
    // kernel must acknowledge it, or the RTC's interrupts (and the timer's) never arrive.
    Scenario {
        root: Some("utest"),
        root_args: "irq",
        lines: &[
            &["unexpected interrupt on vector 144; acknowledged"],
            &["utest: rtc_interrupt_is_delivered_to_a_notification ... ok"],
            &["utest:", " passed, ", " failed"],
        ],
        ..boot("stray-interrupt", "exit stray-interrupt", &[])
    },
    Scenario {
        root: Some("chaos"),
        lines: &[
            &["chaos:", "calls, baseline restored"],
            &["utest:", " passed, ", " failed"],
        ],
        timeout_secs: CHAOS_TIMEOUT,
        ..boot("chaos", "exit", &[])
    },
    // The file server driven by its test root task (servers/fstest): every file operation
    // and its errors, three users' permissions, pipes between processes, 100,000 random
    // messages, and the 1 MiB read bound, counted in instructions (`-icount`).
    Scenario {
        root: Some("fstest"),
        qemu_args: &["-icount", "shift=0"],
        input: &[
            ("fstest: console: type a line:", b"typed at the serial port\r"),
            ("fstest: console: raw mode: press a key:", b"k"),
        ],
        lines: &[
            &["fstest: done:", " passed, 0 failed"],
            &["bench: read of a 1 MiB /tmp file"],
            &["fstest: console: output through the driver"],
            &["fstest: console: 4 passed, 0 failed"],
        ],
        timeout_secs: FS_TIMEOUT,
        ..boot("fs", "exit", &[])
    },
    // The serial console driver and the line discipline: `ttytest` starts `console` and
    // drives the console terminal; the harness types through the real serial port at each
    // prompt and the echo and the lines read must come back through the driver.
    Scenario {
        root: Some("ttytest"),
        input: CONSOLE_TYPING,
        lines: &[
            &["console: COM1 driver running (ports 0x3f8-0x3ff, IRQ 4)"],
            &["ttytest: the driver woke 0 times while we yielded 100000 times"],
            &["makes it the controlling terminal ... ok"],
            &[
                "ttytest: canonical mode: type a line: echo hellp\u{8} \u{8}o wurld",
                "\u{8} \u{8}\u{8} \u{8}\u{8} \u{8}\u{8} \u{8}\u{8} \u{8}world",
            ],
            &["ttytest: read \"echo hello world\\n\""],
            &[
                "ttytest: canonical mode: kill the line: rm -rf /\u{8} \u{8}",
                "ls -l",
            ],
            &["ttytest: read \"ls -l\\n\""],
            &["end of file on an empty line reads 0 bytes ... ok"],
            // ^C flushes output: the echo of "sleep 100" is gone unless it was sent first.
            &["ttytest: canonical mode: interrupt: ", "^C"],
            &["ttytest: SIGINT for process group 1"],
            &["ttytest: a background read sends SIGTTIN to process group 1"],
            &["needs SIGTTOU ignored, then gives the terminal back ... ok"],
            &["ttytest: raw read 1b 5b 41 03, echoed 0 bytes"],
            &["ttytest: flow control: the receive ring filled: true; received 4096 bytes, 0 differ, 0 overruns"],
            &["pty: setsid then open makes the slave the shell's controlling terminal ... ok"],
            &["pty$ cat fiel\u{8} \u{8}\u{8} \u{8}le"],
            &["ttytest: pty: the shell read \"cat file\\n\""],
            &["pty interrupt: ^C"],
            &["ttytest: pty: SIGINT for Group(GroupId(5))"],
            &["ttytest: pty: raw read 78 03 04"],
            &["ttytest: pty: master closed: SIGHUP sent: true; the shell's read returns Ok(0)"],
            &["ttytest: session 1's leader exited: SIGHUP to its foreground group: true; the console is free: true"],
            &["ttytest: open then setsid acquires: false; setsid then open acquires: true"],
            &["ttytest: after 100,000 random ring states the driver still runs ... ok"],
            &["ttytest: the driver writes correctly after the flood"],
            &["ttytest: the driver handled", "interrupts"],
            &["ttytest: ", " passed, 0 failed"],
        ],
        timeout_secs: SESSION_TIMEOUT,
        ..boot("console", "exit", &[])
    },
    // The whole system in 64 MiB: procsrv gives the file server the biggest heap the
    // memory holds (16 MiB here, not 32), and a typed session runs: a command, a 1 MiB
    // pipeline, a file in /tmp, `ps`; then ^D ends the shell with status 0, init with it,
    // and the system powers off.
    Scenario {
        root_args: "exit",
        input: &[
            ("$ ", b"echo hello from 64 MiB\r"),
            ("$ ", b"producer 1048576 | consumer\r"),
            ("$ ", b"echo saved > /tmp/f; cat /tmp/f\r"),
            ("$ ", b"ps\r"),
            ("$ ", b"\x04"),
        ],
        lines: &[
            &[READY],
            &["procsrv: a small machine: the file server's heap is 16 MiB"],
            &["console: COM1 handed to a userspace driver"],
            &["hello from 64 MiB"],
            &["consumer: 1048576 bytes, 0 differ"],
            &["saved"],
            &["    2     0     0     0 ?           0 R console"],
            &["    3     0     0     0 ?           0 R fsrv"],
        ],
        absent: &["procsrv: init (pid 1) exited"],
        timeout_secs: SESSION_TIMEOUT,
        ..boot("memory-64m", "exit", &["-m", "64M"])
    },
    // The file server is a process like any other (pid 3, hatched from its egg at boot):
    // root can kill it. procsrv then stops using it, kills the console driver (its only
    // client) so that the kernel's console is back, and says so in one line; what is left
    // waits on the dead server and the kernel, told `exit`, powers off when nothing runs.
    Scenario {
        root_args: "exit",
        input: &[("$ ", b"kill -9 3\r")],
        lines: &[
            &[READY],
            &["console: COM1 is the kernel's again"],
            &["procsrv: the file server (pid 3) killed by signal 9; the system has no files from now on"],
        ],
        absent: &["procsrv: init (pid 1) exited"],
        ..boot("fsrv-killed", "exit", &[])
    },
    boot("iretq", "exit syscall=iretq", &[]),
    refused(
        "kernel-bad-magic",
        Bundle::KernelBadMagic,
        &[&["hatchery-loader: fatal:"]],
    ),
    refused(
        "kernel-truncated",
        Bundle::KernelTruncated,
        &[&["hatchery-loader: fatal:"]],
    ),
    refused(
        "archive-truncated",
        Bundle::ArchiveTruncated,
        &[&["fatal:"]],
    ),
    refused(
        "no-archive",
        Bundle::NoArchive,
        &[&["hatchery: fatal:", "archive"]],
    ),
    refused(
        "no-kernel",
        Bundle::NoKernel,
        &[&["hatchery-loader: fatal:", "kernel"]],
    ),
    // A deliberate kernel page fault (`crash=pagefault`): the exception report must name
    // the vector, error code, rip and cr2 and show the registers, then power off failing.
    Scenario {
        status: EXIT_FAILURE,
        lines: &[
            &["hatchery: PANIC: kernel exception page fault (#PF)"],
            &["vector 14", "error code 0x0", "cr2 0x0000000000000010"],
            &["rax 0x", "rbx 0x", "rcx 0x", "rdx 0x"],
            &["r12 0x", "r13 0x", "r14 0x", "r15 0x"],
        ],
        panic_expected: true,
        timeout_secs: ERROR_TIMEOUT,
        ..boot("kernel-exception", "exit crash=pagefault", &[])
    },
    // A kernel stack overflow (`crash=stack`) runs into the guard page below the stack:
    // the page fault cannot be pushed there, so it becomes a double fault, reported from
    // its own stack.
    Scenario {
        status: EXIT_FAILURE,
        lines: &[
            &["hatchery: PANIC: kernel exception double fault (#DF)"],
            &["vector 8", "rip 0x"],
        ],
        panic_expected: true,
        timeout_secs: ERROR_TIMEOUT,
        ..boot("kernel-stack-overflow", "exit crash=stack", &[])
    },
    // A root task whose first instruction faults (`crash=roottask`): the kernel says so
    // and the run fails, though the system still goes idle and powers off.
    Scenario {
        status: EXIT_FAILURE,
        lines: &[
            &[READY],
            &["thread hello faulted: page fault (#PF) at rip 0x0"],
            &["hatchery: root task hello faulted; the run fails"],
        ],
        timeout_secs: ERROR_TIMEOUT,
        root: Some("hello"),
        ..boot("root-task-fault", "exit crash=roottask", &[])
    },
    refused(
        "base-revision-99",
        Bundle::BaseRevision(99),
        &[&["hatchery-loader: fatal:", "revision"]],
    ),
];

/// What the harness types in the `console` scenario, at each of `ttytest`'s prompts:
/// erase (DEL) and word erase (^W); kill (^U); end of file (^D); interrupt (^C); and in raw
/// mode an escape sequence and a ^C that must arrive as bytes.
const CONSOLE_TYPING: &[Typing] = &[
    ("type a line: ", b"echo hellp\x7fo wurld\x17world\r"),
    ("kill the line: ", b"rm -rf /\x15ls -l\r"),
    ("end of file: ", b"\x04"),
    ("interrupt: ", b"sleep 100\x03"),
    ("type 4 bytes: ", b"\x1b[A\x03"),
    ("bytes: ", &PASTE),
    ("pty$ ", b"cat fiel\x7f\x7fle\r"),
    ("pty interrupt: ", b"\x03"),
    ("pty raw: ", b"x\x03\x04"),
];

/// The paste of the flow-control check (shared with `ttytest` through `console-api`).
const PASTE: [u8; console_api::paste::LENGTH] = console_api::paste::bytes();

/// Counts of one stage or of the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub passed: u32,
    /// Failed.
    pub failed: u32,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    fn count(&mut self, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// Runs `cargo xtask test`.
pub fn run(args: TestArgs) -> Result<(), String> {
    if let Some(filter) = &args.filter {
        check_filter(filter, !args.no_bochs, args.utest.is_some())?;
    }
    let installer = Installer::new(!args.no_install);
    let mut steps = Steps::new();
    let mut total = Tally::default();

    if !args.no_host {
        let start = Instant::now();
        println!("xtask: host unit tests ...");
        let host = host_tests()?;
        steps.record("host tests", start.elapsed());
        println!(
            "xtask: host tests: {} passed, {} failed",
            host.passed, host.failed
        );
        total.add(host);
    }

    let mut tools = vec![&QEMU];
    if !args.no_bochs {
        tools.extend([&BOCHS, &XORRISO, &MTOOLS, &GRUB]);
    }
    let built = steps
        .run("check tools", || installer.ensure(&tools))
        .and_then(|()| build_all(Profile::from_release_flag(args.release), &mut steps));
    let artifacts = match built {
        Ok(artifacts) => artifacts,
        Err(error) => {
            println!("xtask: FAILED: {error}");
            total.count(false);
            return finish(&steps, total);
        }
    };

    let start = Instant::now();
    let filter = args.filter.as_deref().unwrap_or("");
    let utest_words = args
        .utest
        .as_deref()
        .map(|names| names.replace(',', " "))
        .unwrap_or_default();
    // With `--utest`, the boots of `utest` that run a selection of their own are left out.
    let selected = |s: &&Scenario| {
        let utest_boot = s.root == Some("utest") && s.root_args.is_empty();
        s.name.contains(filter) && (args.utest.is_none() || utest_boot)
    };
    let mut boots = Tally::default();
    for scenario in SCENARIOS.iter().filter(selected) {
        boots.count(run_scenario(scenario, &artifacts, &utest_words));
    }
    steps.record("qemu boots", start.elapsed());
    println!(
        "xtask: QEMU boots: {} passed, {} failed",
        boots.passed, boots.failed
    );
    total.add(boots);

    for bochs in BOCHS_BOOTS {
        let wanted = bochs.name.contains(filter) && (args.utest.is_none() || bochs.utest);
        if args.no_bochs || !wanted {
            continue;
        }
        let ok = bochs_boot(bochs, &artifacts, &installer, &mut steps, &utest_words);
        println!(
            "xtask: Bochs {}: {}",
            bochs.name,
            if ok { "passed" } else { "FAILED" }
        );
        total.count(ok);
    }
    finish(&steps, total)
}

/// Refuses a filter that selects no boot, listing the names there are (with Bochs when
/// `bochs`; only the boots of the whole `utest` suite when `utest`, as `--utest` runs).
fn check_filter(filter: &str, bochs: bool, utest: bool) -> Result<(), String> {
    let mut names: Vec<&str> = SCENARIOS
        .iter()
        .filter(|s| !utest || (s.root == Some("utest") && s.root_args.is_empty()))
        .map(|s| s.name)
        .collect();
    if bochs {
        names.extend(
            BOCHS_BOOTS
                .iter()
                .filter(|b| !utest || b.utest)
                .map(|b| b.name),
        );
    }
    if names.iter().any(|name| name.contains(filter)) {
        return Ok(());
    }
    Err(format!(
        "no boot matches `{filter}`; the boots are: {}",
        names.join(", ")
    ))
}

fn finish(steps: &Steps, total: Tally) -> Result<(), String> {
    steps.summary();
    println!("{} passed, {} failed", total.passed, total.failed);
    if total.failed > 0 {
        std::process::exit(1);
    }
    nothing_tested(total)
}

/// A run that tested nothing is a failure, not a pass.
fn nothing_tested(total: Tally) -> Result<(), String> {
    if total.passed == 0 && total.failed == 0 {
        return Err("nothing was tested".into());
    }
    Ok(())
}

/// Runs `cargo test` (default members), passing its output through, and adds up its
/// `test result:` lines. A build failure counts as one failed test.
fn host_tests() -> Result<Tally, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["test", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut tally = Tally::default();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        if let Some(result) = parse_test_result(&line) {
            tally.add(result);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() && tally.failed == 0 {
        println!("xtask: cargo test failed ({status}) before reporting a failed test");
        tally.failed += 1;
    }
    Ok(tally)
}

/// `passed` and `failed` of `test result: ok. 37 passed; 0 failed; 0 ignored; ...`.
fn parse_test_result(line: &str) -> Option<Tally> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut tally = Tally::default();
    for part in counts.split(';') {
        match part.trim().split_once(' ') {
            Some((n, "passed")) => tally.passed = n.parse().ok()?,
            Some((n, "failed")) => tally.failed = n.parse().ok()?,
            _ => {}
        }
    }
    Some(tally)
}

/// Builds the scenario's bundle, boots it, judges it; prints one line (plus reasons and
/// the log tail on failure). Returns whether it passed.
fn run_scenario(scenario: &Scenario, artifacts: &Artifacts, utest_words: &str) -> bool {
    let outcome = make_bundle(scenario, artifacts, utest_words).and_then(|bundle| {
        let dir = artifacts.profile.build_dir()?.join("test");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let bundle_path = dir.join(format!("{}.bundle.cpio", scenario.name));
        write(&bundle_path, &bundle)?;
        let mut qemu = Qemu::new(Boot::Direct {
            loader: artifacts.loader.clone(),
            bundle: bundle_path,
            cmdline: scenario.cmdline.into(),
        });
        qemu.extra = scenario.qemu_args.iter().map(|s| s.to_string()).collect();
        let watch = Watch {
            timeout: Some(Duration::from_secs(scenario.timeout_secs)),
            input: scenario.input,
            ..Watch::default()
        };
        let watched = run_watched(&mut qemu.command(), watch)?;
        let log_path = dir.join(format!("{}.log", scenario.name));
        write(&log_path, watched.log.as_bytes())?;
        Ok((watched, log_path))
    });
    let lines = expected_lines(scenario, utest_words);
    let expect = Expect {
        status: Some(scenario.status),
        lines: &lines,
        fatal_expected: scenario.fatal_expected,
        panic_expected: scenario.panic_expected,
        absent: scenario.absent,
    };
    report(&format!("qemu {}", scenario.name), outcome, &expect)
}

/// The lines a scenario must show. A utest run filtered by `--utest` runs only the
/// named tests, so of a utest boot's lines only the tallies (`ktest:`, `utest:`) are
/// expected: the others (the COM1 hand-off) come from tests the filter may leave out.
fn expected_lines(scenario: &Scenario, utest_words: &str) -> Vec<&'static [&'static str]> {
    let filtered = !utest_words.is_empty() && scenario.root == Some("utest");
    scenario
        .lines
        .iter()
        .copied()
        .filter(|set| !filtered || matches!(set.first(), Some(&"ktest:" | &"utest:")))
        .collect()
}

/// Prints the verdict of one boot; returns whether it passed.
fn report(
    name: &str,
    outcome: Result<(Watched, std::path::PathBuf), String>,
    expect: &Expect<'_>,
) -> bool {
    let (watched, log_path) = match outcome {
        Ok(done) => done,
        Err(error) => {
            println!("xtask: test {name} ... FAILED: {error}");
            return false;
        }
    };
    let failures = judge(&watched.log, watched.ending, expect);
    let ready = watched
        .ready_after
        .map(|after| format!(", READY after {:.2} s", after.as_secs_f64()))
        .unwrap_or_default();
    if failures.is_empty() {
        println!("xtask: test {name} ... ok{ready}");
        return true;
    }
    println!("xtask: test {name} ... FAILED{ready}");
    for failure in &failures {
        println!("xtask:   {failure}");
    }
    if !watched.stderr.trim().is_empty() {
        println!("xtask:   emulator stderr: {}", tail(&watched.stderr, 5));
    }
    println!(
        "xtask:   last {LOG_TAIL_LINES} serial lines ({}):",
        crate::build::relative(&log_path)
    );
    for line in tail(&watched.log, LOG_TAIL_LINES).lines() {
        println!("    | {line}");
    }
    false
}

/// The bundle bytes of a scenario, mutated as it says (`utest_words` go to `utest`).
fn make_bundle(
    scenario: &Scenario,
    artifacts: &Artifacts,
    utest_words: &str,
) -> Result<Vec<u8>, String> {
    use image::mutate;
    let programs = read_programs(artifacts)?;
    let root = scenario.root.unwrap_or_else(|| default_root(artifacts));
    let root_args = if root == "utest" && !utest_words.is_empty() {
        utest_words
    } else {
        scenario.root_args
    };
    let archive = archive_bytes(&programs, root, root_args)?;
    let kernel = read(&artifacts.kernel)?;
    let mutation_error = |e: mutate::MutateError| e.to_string();
    let (kernel, archive) = match scenario.bundle {
        Bundle::Real | Bundle::NoArchive | Bundle::NoKernel => (kernel, archive),
        Bundle::KernelBadMagic => (
            mutate::corrupt_elf_magic(&kernel).map_err(mutation_error)?,
            archive,
        ),
        Bundle::KernelTruncated => (
            mutate::truncate_loaded(&kernel).map_err(mutation_error)?,
            archive,
        ),
        Bundle::ArchiveTruncated => (kernel, mutate::truncate(&archive, 1, 2)),
        Bundle::BaseRevision(revision) => (
            mutate::set_base_revision(&kernel, revision).map_err(mutation_error)?,
            archive,
        ),
    };
    let kernel = (scenario.bundle != Bundle::NoKernel).then_some(&kernel[..]);
    let archive = (scenario.bundle != Bundle::NoArchive).then_some(&archive[..]);
    Ok(image::bundle::build_partial(kernel, archive))
}

/// One Bochs boot of the GRUB ISO and what it must show.
pub struct BochsBoot {
    /// Name (also its work directory under `build/<profile>/test/`).
    pub name: &'static str,
    /// Whether the root task is `utest` (else the default).
    pub utest: bool,
    /// Kernel command line.
    pub cmdline: &'static str,
    /// Bochs CPU model (`None`: Bochs's default).
    pub cpu_model: Option<&'static str>,
    /// Lines that must appear.
    pub lines: &'static [&'static [&'static str]],
}

/// The Bochs boots, in order: the plain boot, then the test suites on a CPU with SMEP,
/// SMAP, UMIP and AVX.
pub const BOCHS_BOOTS: &[BochsBoot] = &[
    BochsBoot {
        name: "bochs-grub",
        utest: false,
        cmdline: "exit",
        cpu_model: None,
        lines: READY_LINE,
    },
    BochsBoot {
        name: "bochs-tests",
        utest: true,
        cmdline: "test",
        cpu_model: Some(crate::bochs::TEST_CPU_MODEL),
        lines: &[
            &[READY],
            &["cpu: protections SMEP, SMAP, UMIP"],
            &["ktest:", " passed, ", " failed"],
            &["utest:", " passed, ", " failed"],
        ],
    },
];

/// Boots the GRUB ISO of `bochs` in Bochs; it must show its lines and power off.
fn bochs_boot(
    bochs: &BochsBoot,
    artifacts: &Artifacts,
    installer: &Installer,
    steps: &mut Steps,
    utest_words: &str,
) -> bool {
    let root = Root {
        program: bochs.utest.then(|| "utest".to_string()),
        args: if bochs.utest {
            utest_words.to_string()
        } else {
            String::new()
        },
    };
    let outcome = artifacts
        .profile
        .build_dir()
        .map(|dir| dir.join("test").join(bochs.name))
        .and_then(|work_dir| {
            let images = archive_and_bundle_in(artifacts, steps, &root, &work_dir)?;
            let iso = grub_iso_in(
                artifacts,
                &images,
                bochs.cmdline,
                installer,
                steps,
                &work_dir,
            )?;
            let start = Instant::now();
            println!("xtask: bochs boot of {} ...", crate::build::relative(&iso));
            let watch = Watch {
                timeout: Some(Duration::from_secs(BOCHS_TIMEOUT)),
                ..Watch::default()
            };
            let machine = crate::bochs::Machine {
                cpu_model: bochs.cpu_model,
                ..crate::bochs::Machine::default()
            };
            let watched = crate::bochs::run(&iso, &work_dir, machine, watch)?;
            steps.record(bochs.name, start.elapsed());
            if let Some(at) = watched.log.find('\0') {
                // Once the kernel reset the UART under the loader's last bytes.
                return Err(format!("a NUL byte at offset {at} of the serial output"));
            }
            Ok((watched, work_dir.join("com1.log")))
        });
    let expect = Expect {
        status: None,
        lines: bochs.lines,
        fatal_expected: false,
        panic_expected: false,
        absent: COM1_HAND_OFF_ABSENT,
    };
    report(bochs.name, outcome, &expect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filtered_utest_run_expects_only_the_tallies() {
        let tests = SCENARIOS.iter().find(|s| s.name == "tests").unwrap();
        assert_eq!(expected_lines(tests, ""), tests.lines.to_vec());
        let filtered = expected_lines(tests, "fast_path");
        assert_eq!(
            filtered,
            vec![
                &["ktest:", " passed, ", " failed"][..],
                &["utest:", " passed, ", " failed"][..]
            ]
        );
        let session = SCENARIOS.iter().find(|s| s.name == "session").unwrap();
        assert_eq!(expected_lines(session, "fast_path"), session.lines.to_vec());
    }

    #[test]
    fn cargo_test_result_lines_are_counted() {
        let line = "test result: ok. 37 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(
            parse_test_result(line),
            Some(Tally {
                passed: 37,
                failed: 0
            })
        );
        let line = "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(
            parse_test_result(line),
            Some(Tally {
                passed: 3,
                failed: 2
            })
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
    }

    #[test]
    fn a_run_that_tested_nothing_fails() {
        assert_eq!(
            nothing_tested(Tally::default()),
            Err("nothing was tested".into())
        );
        let one = Tally {
            passed: 1,
            failed: 0,
        };
        assert_eq!(nothing_tested(one), Ok(()));
    }

    #[test]
    fn a_filter_that_selects_no_boot_is_an_error() {
        assert!(check_filter("memory", true, false).is_ok());
        assert!(check_filter("bochs", true, false).is_ok());
        let error = check_filter("bochs", false, false).unwrap_err();
        assert!(
            error.starts_with(
                "no boot matches `bochs`; the boots are: boot, session, userland, hatch, hatch-requests, hsh, tests"
            ),
            "{error}"
        );
        let error = check_filter("nosuchtest", true, false).unwrap_err();
        assert!(error.ends_with(", bochs-grub, bochs-tests"), "{error}");
        // `--utest` runs only the boots of the whole utest suite.
        assert!(check_filter("bochs-tests", true, true).is_ok());
        let error = check_filter("bochs-grub", true, true).unwrap_err();
        assert!(error.starts_with("no boot matches `bochs-grub`; the boots are: "));
    }

    #[test]
    fn scenario_command_lines_use_only_tokens_the_kernel_parses() {
        let boot =
            std::fs::read_to_string(workspace_root().join("microkernel/src/boot.rs")).unwrap();
        for scenario in SCENARIOS {
            for token in scenario.cmdline.split_whitespace() {
                assert!(
                    boot.contains(&format!("\"{token}\" =>")),
                    "{}: the kernel does not parse `{token}`",
                    scenario.name
                );
            }
        }
    }

    #[test]
    fn scenario_names_are_unique_and_file_safe() {
        for (index, scenario) in SCENARIOS.iter().enumerate() {
            assert!(scenario
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(
                SCENARIOS[..index].iter().all(|s| s.name != scenario.name),
                "{}",
                scenario.name
            );
            image::check_cmdline(scenario.cmdline).unwrap();
        }
    }

    #[test]
    fn every_bad_input_expects_a_fatal_line_and_the_failure_status() {
        for scenario in SCENARIOS.iter().filter(|s| s.bundle != Bundle::Real) {
            assert!(scenario.fatal_expected, "{}", scenario.name);
            assert_eq!(scenario.status, EXIT_FAILURE, "{}", scenario.name);
            assert!(scenario
                .lines
                .iter()
                .any(|parts| parts.iter().any(|p| p.contains("fatal:"))));
        }
    }

    #[test]
    fn an_expected_panic_is_a_failing_power_off_with_the_exception_report() {
        let crash: Vec<&Scenario> = SCENARIOS.iter().filter(|s| s.panic_expected).collect();
        assert_eq!(crash.len(), 2);
        for scenario in &crash {
            assert_eq!(scenario.status, EXIT_FAILURE);
            assert!(scenario.cmdline.contains("crash="));
            assert!(scenario
                .lines
                .iter()
                .any(|parts| parts.iter().any(|p| p.contains("PANIC: kernel exception"))));
        }
        assert!(crash[0].cmdline.contains("crash=pagefault"));
        assert!(crash[0]
            .lines
            .iter()
            .any(|parts| parts.iter().any(|p| p.contains("cr2"))));
    }

    #[test]
    fn good_boots_power_off_with_success_and_never_expect_fatal() {
        let good = |s: &&Scenario| {
            s.bundle == Bundle::Real && !s.panic_expected && !s.cmdline.contains("crash=")
        };
        for scenario in SCENARIOS.iter().filter(good) {
            assert!(!scenario.fatal_expected, "{}", scenario.name);
            assert_eq!(scenario.status, EXIT_SUCCESS, "{}", scenario.name);
            let words: Vec<&str> = scenario.cmdline.split(' ').collect();
            assert!(
                words.contains(&"exit") || words.contains(&"test"),
                "{}",
                scenario.name
            );
        }
    }

    #[test]
    fn the_required_scenarios_are_in_the_table() {
        let has = |name: &str| SCENARIOS.iter().any(|s| s.name == name);
        for name in [
            "boot",
            "tests",
            "console",
            "memory-64m",
            "iretq",
            "kernel-bad-magic",
            "kernel-truncated",
            "archive-truncated",
            "no-archive",
            "no-kernel",
            "base-revision-99",
            "kernel-exception",
            "root-task-fault",
        ] {
            assert!(has(name), "{name}");
        }
    }
}
