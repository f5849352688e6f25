//! `cargo xtask run`: build, image and boot Hatchery, with its serial console here.
//!
//! QEMU by default: the Limine ISO when Limine is available, else the direct-boot loader
//! (PVH, fast). `--bochs` boots an ISO in Bochs (the Limine ISO, else the GRUB ISO).

use std::io::IsTerminal;

use crate::build::{build_all, relative};
use crate::image_cmd::{archive_and_bundle_in, grub_iso, limine_iso, Root};
use crate::limine_fetch::find_limine;
use crate::options::{self, Memory};
use crate::qemu::{run_watched, Boot, Qemu, Serial, Typing, Watch};
use crate::serial::{Ending, EXIT_FAILURE, EXIT_SUCCESS, ROOT_TASK_FAULTED};
use crate::steps::{Profile, Steps};
use crate::tools::{Installer, BOCHS, GRUB, MTOOLS, QEMU, XORRISO};

/// Arguments of `cargo xtask run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Boot in Bochs instead of QEMU (an ISO; the serial console is shown, not interactive).
    #[arg(long)]
    bochs: bool,
    /// Bochs CPU model (`cpu: model=`), e.g. `tigerlake` (SMEP, SMAP, UMIP, AVX); with
    /// `--bochs`.
    #[arg(long, value_name = "MODEL", requires = "bochs",
          value_parser = crate::bochs::parse_cpu_model)]
    bochs_cpu: Option<&'static str>,
    /// Use KVM (`-enable-kvm -cpu host,-arch-capabilities`) instead of TCG; QEMU only.
    #[arg(long)]
    kvm: bool,
    /// Return to user mode with iretq instead of sysretq (kernel cmdline `syscall=iretq`).
    #[arg(long)]
    iretq: bool,
    /// Make QEMU wait for GDB on 127.0.0.1:1234; QEMU only.
    #[arg(long)]
    gdb: bool,
    /// Number of CPUs, 1 to 255 (the kernel uses one for now).
    #[arg(long, default_value = "1", value_name = "N", allow_hyphen_values = true,
          value_parser = options::parse_smp)]
    smp: u32,
    /// Guest memory: 64M, 1G, ... (M when no suffix), at least 32M.
    #[arg(long, default_value = crate::qemu::DEFAULT_MEMORY, value_name = "SIZE",
          allow_hyphen_values = true, value_parser = options::parse_memory)]
    memory: Memory,
    /// Kernel log level (kernel cmdline `log=LEVEL`): error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", value_parser = options::parse_log_level)]
    log: Option<String>,
    /// Build with the release profile.
    #[arg(long)]
    release: bool,
    /// Boot the Limine ISO; fail if Limine cannot be found.
    #[arg(long, conflicts_with = "direct")]
    limine: bool,
    /// Boot through the direct-boot loader even if Limine is available.
    #[arg(long)]
    direct: bool,
    /// Do not install missing tools; name their packages instead.
    #[arg(long)]
    no_install: bool,
    /// Boot this archive program as the root task (e.g. `utest`) instead of the default.
    #[arg(long, value_name = "NAME", value_parser = options::parse_program_name)]
    root: Option<String>,
    /// Words for the root task, in the archive manifest's `root-args` line (`utest` runs
    /// only the tests whose names contain one of them); with `--root`.
    #[arg(long, value_name = "WORDS", default_value = "", requires = "root",
          allow_hyphen_values = true, value_parser = options::parse_root_args)]
    root_args: String,
    /// Extra QEMU arguments, after `--`.
    #[arg(last = true, value_name = "QEMU_ARGS")]
    qemu_args: Vec<String>,
}

/// Runs `cargo xtask run`.
pub fn run(args: RunArgs) -> Result<(), String> {
    check_combination(&args)?;
    options::check_memory_fits(args.memory, options::host_memory_mib())?;
    if let Some(root) = &args.root {
        let servers = crate::steps::workspace_root().join("servers");
        let servers = crate::build::discover_servers(&servers)?;
        options::check_program(root, servers.iter().map(|(_, bin)| bin.as_str()))?;
    }
    if args.kvm {
        check_kvm_device()?;
    }
    let terminal = std::io::stdin().is_terminal();
    let cmdline = cmdline(&args, terminal);
    image::check_cmdline(&cmdline).map_err(|e| e.to_string())?;
    let installer = Installer::new(!args.no_install);
    let mut steps = Steps::new();
    let emulator: &[&crate::tools::Tool] = if args.bochs {
        &[&BOCHS, &XORRISO, &MTOOLS, &GRUB]
    } else {
        &[&QEMU]
    };
    steps.run("check tools", || installer.ensure(emulator))?;
    let artifacts = build_all(Profile::from_release_flag(args.release), &mut steps)?;
    let root = Root {
        program: args.root.clone(),
        args: root_args(&args, &cmdline),
    };
    let build_dir = artifacts.profile.build_dir()?;
    let images = archive_and_bundle_in(&artifacts, &mut steps, &root, &build_dir)?;

    let limine = if args.direct {
        None
    } else {
        match find_limine() {
            Ok(limine) => Some(limine),
            Err(why) if args.limine => {
                let help = crate::limine_fetch::help();
                return Err(format!("no Limine: {why}\nxtask: {help}"));
            }
            Err(why) => {
                let fallback = if args.bochs {
                    "the GRUB ISO"
                } else {
                    "the direct loader"
                };
                println!(
                    "xtask: no Limine ({why}): booting {fallback} (`--limine` says what \
                     Limine needs)"
                );
                None
            }
        }
    };
    let iso = match &limine {
        Some(limine) => {
            let iso = limine_iso(
                limine, &artifacts, &images, &cmdline, &installer, &mut steps,
            )?;
            println!("xtask: booting the Limine ISO {}", relative(&iso));
            Some(iso)
        }
        None if args.bochs => {
            let iso = grub_iso(&artifacts, &images, &cmdline, &installer, &mut steps)?;
            println!("xtask: booting the GRUB ISO {}", relative(&iso));
            Some(iso)
        }
        None => {
            println!("xtask: booting through the direct loader (PVH, qboot)");
            None
        }
    };
    print_hints(&args, terminal, &cmdline);

    let start = std::time::Instant::now();
    let watched = if args.bochs {
        let iso = iso.expect("Bochs always boots an ISO");
        let work_dir = artifacts.profile.build_dir()?.join("bochs");
        let watch = Watch {
            echo: true,
            ..Watch::default()
        };
        crate::bochs::run(&iso, &work_dir, bochs_machine(&args), watch)?
    } else {
        let boot = match iso {
            Some(iso) => Boot::Iso(iso),
            None => Boot::Direct {
                loader: artifacts.loader.clone(),
                bundle: images.bundle.clone(),
                cmdline: cmdline.clone(),
            },
        };
        let mut qemu = Qemu::new(boot);
        qemu.memory = args.memory.to_string();
        qemu.smp = args.smp;
        qemu.kvm = args.kvm;
        qemu.gdb = args.gdb;
        qemu.serial = if terminal {
            Serial::MuxStdio
        } else {
            Serial::Stdio
        };
        qemu.extra = args.qemu_args.clone();
        let input = if terminal || args.root.is_some() {
            &[][..]
        } else {
            script_typing(&std::io::read_to_string(std::io::stdin()).unwrap_or_default())
        };
        let watch = Watch {
            echo: true,
            inherit_stdin: terminal,
            timeout: None,
            input,
        };
        run_watched(&mut qemu.command(), watch)?
    };
    steps.record(if args.bochs { "bochs" } else { "qemu" }, start.elapsed());
    if !watched.stderr.trim().is_empty() && !args.bochs {
        eprint!("{}", watched.stderr);
    }
    let root_fault = root_task_fault(&watched.log);
    // init (pid 1) ending badly: procsrv's line; the run fails with init's status.
    let init_failure = crate::serial::pid1_failure(&watched.log).filter(|_| root_fault.is_none());
    if init_failure.is_none() || watched.ending != Ending::Exited(Some(EXIT_SUCCESS)) {
        let verdict = verdict(&watched.ending, watched.ready_after.is_some(), args.bochs);
        println!("xtask: {verdict}");
    }
    if args.kvm && root_fault.is_some() {
        println!("xtask: {KVM_FAULT_HINT}");
    }
    steps.summary();
    if let Some((why, status)) = init_failure {
        // The shell's status (`printf 'false\n' | cargo xtask run` fails with 1) is
        // xtask's own exit status, not the 1 of every other error.
        eprintln!("xtask: error: {why}");
        std::process::exit(status);
    }
    if let Some(why) = crate::serial::procsrv_stopped(&watched.log) {
        return Err(why);
    }
    match (watched.ending, root_fault) {
        (_, Some(why)) => Err(why),
        (Ending::Exited(Some(EXIT_FAILURE)), None) => Err(failure_message(&watched.log)),
        _ if watched.ready_after.is_none() => Err("HATCHERY READY never appeared".into()),
        _ => Ok(()),
    }
}

/// What helps when the root task faults under `--kvm`: on this kind of host the fault is
/// at the kernel's `syscall` entry, still in user mode (README, `--kvm`).
const KVM_FAULT_HINT: &str = "hint: under --kvm the root task faulted; where /dev/kvm is a \
     software virtualizer (such as PVM) user-mode `syscall` never reaches the kernel, so the \
     first system call faults: run without --kvm (QEMU TCG)";

/// Refuses option combinations the chosen emulator cannot honour, in one line each.
fn check_combination(args: &RunArgs) -> Result<(), String> {
    if !args.bochs {
        return Ok(());
    }
    if args.gdb {
        return Err(
            "--gdb needs QEMU: Debian's Bochs is built with its own debugger, \
                    not a GDB stub"
                .into(),
        );
    }
    if args.kvm {
        return Err("--kvm needs QEMU: Bochs only emulates".into());
    }
    if let Some(first) = args.qemu_args.first() {
        return Err(format!(
            "arguments after -- go to QEMU (`{first}` ...); Bochs takes none"
        ));
    }
    bochs_machine(args).check()
}

/// The Bochs machine `--memory`, `--smp` and `--bochs-cpu` ask for.
fn bochs_machine(args: &RunArgs) -> crate::bochs::Machine {
    crate::bochs::Machine {
        memory_mib: args.memory.mib,
        cpus: args.smp,
        cpu_model: args.bochs_cpu,
    }
}

/// Refuses `--kvm` when `/dev/kvm` cannot be opened, naming why.
pub(crate) fn check_kvm_device() -> Result<(), String> {
    check_device(KVM_DEVICE)
}

fn check_device(device: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map(drop)
        .map_err(|e| format!("--kvm: cannot open {device}: {e}; run without --kvm (TCG)"))
}

/// The KVM device QEMU's `-enable-kvm` opens.
const KVM_DEVICE: &str = "/dev/kvm";

/// The kernel's line saying the root task faulted, if the log has one.
fn root_task_fault(log: &str) -> Option<String> {
    crate::serial::clean(log)
        .lines()
        .find(|line| line.contains(ROOT_TASK_FAULTED))
        .map(|line| {
            let line = line.trim();
            // From the kernel's own words on: `root task hello faulted; the run fails`.
            line.split_once("hatchery: ")
                .map_or(line, |(_, why)| why)
                .to_string()
        })
}

/// Why a run that powered off with the failure status failed: its first `fatal`, `PANIC`
/// or failed-test line.
fn failure_message(log: &str) -> String {
    let log = crate::serial::clean(log);
    let why = log
        .lines()
        .map(str::trim)
        .find(|line| line.contains("fatal:") || line.contains("PANIC") || line.ends_with("FAILED"));
    match why {
        Some(line) => format!("the system reported a failure: {line}"),
        None => "the system reported a failure".into(),
    }
}

/// The kernel command line: `exit` without a terminal (or under Bochs, whose console is
/// not interactive), `syscall=iretq` with `--iretq`, `log=LEVEL` with `--log`.
/// Piped stdin as a script for the shell on the console: each line typed at a prompt
/// (`$ `, or `> ` where a line goes on), then ^D, the end of the shell's input; the shell
/// exits, and init, told `exit`, ends the system. Leaked: it lives as long as `run`.
fn script_typing(script: &str) -> &'static [Typing] {
    let mut steps: Vec<Typing> = Vec::new();
    let mut continued = false;
    for line in script.lines() {
        let keys = format!("{line}\r").into_bytes().leak();
        steps.push((if continued { "> " } else { "$ " }, keys));
        continued = line.ends_with('\\') || line.ends_with('|');
    }
    steps.push(("$ ", b"\x04"));
    steps.leak()
}

/// The root task's arguments: `--root-args`, and for the default root (procsrv) under
/// QEMU `exit` when the kernel is told `exit`, so that init ends the system when the
/// console shell exits instead of starting another.
fn root_args(args: &RunArgs, cmdline: &str) -> String {
    let exit = cmdline.split_whitespace().any(|w| w == "exit");
    // Under Bochs nothing types into the console: init waits, the system goes idle and
    // the kernel powers off.
    if args.root.is_none() && exit && !args.bochs {
        format!("{} exit", args.root_args).trim().to_string()
    } else {
        args.root_args.clone()
    }
}

fn cmdline(args: &RunArgs, terminal: bool) -> String {
    let mut words = Vec::new();
    if !terminal || args.bochs {
        words.push("exit".to_string());
    }
    if args.iretq {
        words.push("syscall=iretq".to_string());
    }
    if let Some(level) = &args.log {
        words.push(format!("log={level}"));
    }
    words.join(" ")
}

fn print_hints(args: &RunArgs, terminal: bool, cmdline: &str) {
    if cmdline.is_empty() {
        println!("xtask: kernel command line: (empty)");
    } else {
        println!("xtask: kernel command line: `{cmdline}`");
    }
    if !terminal {
        println!("xtask: stdin is not a terminal: `exit` added, the VM powers off when idle");
    } else if args.bochs {
        println!("xtask: Bochs console is output only: `exit` added, the VM powers off when idle");
    } else {
        println!("xtask: the console is this terminal: Ctrl-A X quits QEMU, Ctrl-A C the monitor");
    }
    if args.gdb {
        println!(
            "xtask: QEMU waits for GDB: gdb target/kernel/x86_64-unknown-none/{}/hatchery \
             -ex 'target remote {}'",
            Profile::from_release_flag(args.release).dir_name(),
            crate::qemu::GDB_ADDRESS
        );
    }
}

fn verdict(ending: &Ending, ready: bool, bochs: bool) -> String {
    let ready = if ready {
        ""
    } else {
        " (HATCHERY READY never appeared)"
    };
    match ending {
        Ending::Exited(Some(EXIT_SUCCESS)) => format!("the system powered off: success{ready}"),
        Ending::Exited(Some(EXIT_FAILURE)) => format!("the system powered off: failure{ready}"),
        // Bochs exits with status 1 however the simulation ended.
        Ending::Exited(Some(_)) if bochs => format!("Bochs stopped{ready}"),
        Ending::Exited(Some(status)) => format!("QEMU exited with status {status}{ready}"),
        Ending::Exited(None) => format!("the emulator was killed by a signal{ready}"),
        Ending::TimedOut(_) => format!("timed out{ready}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(argv: &[&str]) -> RunArgs {
        let mut full = vec!["run"];
        full.extend(argv);
        Wrapper::parse_from(full).args
    }

    #[test]
    fn no_terminal_adds_exit() {
        assert_eq!(cmdline(&parse(&[]), false), "exit");
        assert_eq!(cmdline(&parse(&[]), true), "");
    }

    #[test]
    fn iretq_and_log_add_their_words() {
        let args = parse(&["--iretq", "--log", "debug"]);
        assert_eq!(cmdline(&args, false), "exit syscall=iretq log=debug");
        assert_eq!(cmdline(&args, true), "syscall=iretq log=debug");
    }

    #[test]
    fn bochs_always_powers_off() {
        assert_eq!(cmdline(&parse(&["--bochs"]), true), "exit");
    }

    fn parse_error(argv: &[&str]) -> String {
        let mut full = vec!["run"];
        full.extend(argv);
        match Wrapper::try_parse_from(full) {
            Ok(_) => panic!("{argv:?} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn bad_smp_memory_and_log_values_are_refused_saying_what_is_allowed() {
        for (argv, allowed) in [
            (&["--smp", "0"][..], "a number of CPUs from 1 to 255"),
            (&["--smp", "999"], "a number of CPUs from 1 to 255"),
            (&["--smp", "-1"], "a number of CPUs from 1 to 255"),
            (&["--memory", "abc"], "a size such as 64M"),
            (&["--memory", "0"], "does not boot in less than 32M"),
            (&["--memory", "1M"], "does not boot in less than 32M"),
            (
                &["--log", "verbose"],
                "one of error, warn, info, debug, trace",
            ),
        ] {
            let error = parse_error(argv);
            assert!(error.contains(allowed), "{argv:?}: {error}");
            assert!(error.contains(argv[1]), "{argv:?} not named: {error}");
        }
        let args = parse(&["--smp", "4", "--memory", "1G", "--log", "debug"]);
        assert_eq!((args.smp, args.memory.mib), (4, 1024));
        assert_eq!(parse(&[]).memory.to_string(), crate::qemu::DEFAULT_MEMORY);
    }

    #[test]
    fn bochs_refuses_what_only_qemu_does_and_takes_memory_and_cpus() {
        for (argv, message) in [
            (&["--bochs", "--gdb"][..], "--gdb needs QEMU"),
            (&["--bochs", "--kvm"], "--kvm needs QEMU"),
            (
                &["--bochs", "--", "-d", "int"],
                "arguments after -- go to QEMU",
            ),
            (
                &["--bochs", "--memory", "4G"],
                "Bochs simulates at most 2048M",
            ),
            (
                &["--bochs", "--smp", "16"],
                "Bochs simulates at most 12 CPUs",
            ),
        ] {
            let error = check_combination(&parse(argv)).unwrap_err();
            assert!(error.contains(message), "{argv:?}: {error}");
        }
        let args = parse(&["--bochs", "--smp", "2", "--memory", "256M", "--iretq"]);
        assert!(check_combination(&args).is_ok());
        let machine = bochs_machine(&args);
        assert_eq!((machine.memory_mib, machine.cpus), (256, 2));
        assert!(check_combination(&parse(&["--gdb", "--kvm", "--", "-d", "int"])).is_ok());
    }

    #[test]
    fn a_root_task_fault_is_found_and_a_failure_names_its_line() {
        let log = "HATCHERY READY\r\nwarn: thread hello faulted: page fault (#PF) at rip 0x0\r\n\
                   error: hatchery: root task hello faulted; the run fails\r\n";
        assert_eq!(
            root_task_fault(log).as_deref(),
            Some("root task hello faulted; the run fails")
        );
        assert_eq!(root_task_fault("HATCHERY READY\nhello: exiting\n"), None);
        assert_eq!(
            failure_message("boot\nhatchery-loader: fatal: no kernel in the bundle\n"),
            "the system reported a failure: hatchery-loader: fatal: no kernel in the bundle"
        );
        assert_eq!(failure_message("boot\n"), "the system reported a failure");
    }

    #[test]
    fn kvm_without_a_usable_device_is_refused_naming_it() {
        let error = check_device("/nonexistent/kvm").unwrap_err();
        assert!(
            error.starts_with("--kvm: cannot open /nonexistent/kvm: No such file"),
            "{error}"
        );
        assert!(error.ends_with("run without --kvm (TCG)"));
    }

    #[test]
    fn a_bochs_cpu_model_needs_bochs() {
        let args = parse(&["--bochs", "--bochs-cpu", "tigerlake"]);
        assert_eq!(args.bochs_cpu, Some("tigerlake"));
        assert_eq!(bochs_machine(&args).cpu_model, Some("tigerlake"));
        assert!(Wrapper::try_parse_from(["run", "--bochs-cpu", "tigerlake"]).is_err());
        let error = parse_error(&["--bochs", "--bochs-cpu", "skylake"]);
        assert!(
            error.contains("one of Bochs's CPU models: bx_generic"),
            "{error}"
        );
    }

    #[test]
    fn root_and_its_words_are_options() {
        let args = parse(&["--root", "utest", "--root-args", "cpu ports"]);
        assert_eq!(args.root.as_deref(), Some("utest"));
        assert_eq!(args.root_args, "cpu ports");
        assert_eq!(parse(&[]).root, None);
        let error = parse_error(&["--root", "bin/utest"]);
        assert!(error.contains("a program name"), "{error}");
        assert!(Wrapper::try_parse_from(["run", "--root-args", "cpu"]).is_err());
        let error = parse_error(&["--root", "utest", "--root-args", "cpu\u{1b}"]);
        assert!(error.contains("words of printable text"), "{error}");
    }

    #[test]
    fn a_piped_script_is_typed_line_by_line_then_ended_with_ctrl_d() {
        let typed = script_typing("echo hi\nls /bin |\nwc\n");
        assert_eq!(
            typed,
            [
                ("$ ", &b"echo hi\r"[..]),
                ("$ ", b"ls /bin |\r"),
                ("> ", b"wc\r"),
                ("$ ", b"\x04"),
            ]
        );
        assert_eq!(script_typing(""), [("$ ", &b"\x04"[..])]);
    }

    #[test]
    fn the_default_root_is_told_exit_with_the_kernel() {
        assert_eq!(root_args(&parse(&[]), "exit"), "exit");
        assert_eq!(root_args(&parse(&[]), ""), "");
        assert_eq!(root_args(&parse(&["--root", "utest"]), "exit"), "");
        assert_eq!(root_args(&parse(&["--bochs"]), "exit"), "");
    }

    #[test]
    fn qemu_arguments_follow_the_double_dash() {
        let args = parse(&["--smp", "2", "--", "-d", "int"]);
        assert_eq!(args.smp, 2);
        assert_eq!(args.qemu_args, ["-d", "int"]);
    }
}
