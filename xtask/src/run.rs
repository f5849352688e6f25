//! `cargo xtask run`: build, image and boot Hatchery, with its serial console here.
//!
//! QEMU by default: the Limine ISO when Limine is available, else the direct-boot loader
//! (PVH, fast). `--bochs` boots an ISO in Bochs (the Limine ISO, else the GRUB ISO).

use std::io::IsTerminal;

use crate::build::{build_all, relative};
use crate::image_cmd::{archive_and_bundle_in, grub_iso, limine_iso, Root};
use crate::limine_fetch::find_limine;
use crate::qemu::{run_watched, Boot, Qemu, Serial, Typing, Watch};
use crate::serial::{Ending, EXIT_FAILURE, EXIT_SUCCESS};
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
    #[arg(long, value_name = "MODEL", requires = "bochs")]
    bochs_cpu: Option<String>,
    /// Use KVM (`-enable-kvm -cpu host,-arch-capabilities`) instead of TCG.
    #[arg(long)]
    kvm: bool,
    /// Return to user mode with iretq instead of sysretq (kernel cmdline `syscall=iretq`).
    #[arg(long)]
    iretq: bool,
    /// Make QEMU wait for GDB on localhost:1234 (`-s -S`).
    #[arg(long)]
    gdb: bool,
    /// Number of CPUs.
    #[arg(long, default_value_t = 1, value_name = "N")]
    smp: u32,
    /// Guest memory (QEMU's `-m`).
    #[arg(long, default_value = crate::qemu::DEFAULT_MEMORY, value_name = "SIZE")]
    memory: String,
    /// Kernel log level (kernel cmdline `log=LEVEL`): error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL")]
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
    #[arg(long, value_name = "NAME")]
    root: Option<String>,
    /// Words for the root task, in the archive manifest's `root-args` line (`utest` runs
    /// only the tests whose names contain one of them).
    #[arg(long, value_name = "WORDS", default_value = "")]
    root_args: String,
    /// Extra QEMU arguments, after `--`.
    #[arg(last = true, value_name = "QEMU_ARGS")]
    qemu_args: Vec<String>,
}

/// Runs `cargo xtask run`.
pub fn run(args: RunArgs) -> Result<(), String> {
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
            Err(why) if args.limine => return Err(format!("no Limine: {why}")),
            Err(why) => {
                let fallback = if args.bochs {
                    "the GRUB ISO"
                } else {
                    "the direct loader"
                };
                println!("xtask: no Limine ({why}): booting {fallback}");
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
        crate::bochs::run(&iso, &work_dir, watch, args.bochs_cpu.as_deref())?
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
        qemu.memory = args.memory.clone();
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
    let verdict = verdict(&watched.ending, watched.ready_after.is_some(), args.bochs);
    println!("xtask: {verdict}");
    steps.summary();
    match watched.ending {
        Ending::Exited(Some(EXIT_FAILURE)) => Err("the system reported a failure".into()),
        _ if watched.ready_after.is_none() => Err("HATCHERY READY never appeared".into()),
        _ => Ok(()),
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
    if args.kvm && !args.iretq {
        println!(
            "xtask: hint: this machine's KVM faults on sysretq; add --iretq if user mode dies"
        );
    }
    if args.gdb {
        println!(
            "xtask: QEMU waits for GDB: gdb target/kernel/x86_64-unknown-none/{}/hatchery \
             -ex 'target remote localhost:1234'",
            Profile::from_release_flag(args.release).dir_name()
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

    #[test]
    fn a_bochs_cpu_model_needs_bochs() {
        let args = parse(&["--bochs", "--bochs-cpu", "tigerlake"]);
        assert_eq!(args.bochs_cpu.as_deref(), Some("tigerlake"));
        assert!(Wrapper::try_parse_from(["run", "--bochs-cpu", "tigerlake"]).is_err());
    }

    #[test]
    fn root_and_its_words_are_options() {
        let args = parse(&["--root", "utest", "--root-args", "cpu ports"]);
        assert_eq!(args.root.as_deref(), Some("utest"));
        assert_eq!(args.root_args, "cpu ports");
        assert_eq!(parse(&[]).root, None);
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
