//! QEMU command lines, and the watcher that runs an emulator while reading its serial
//! output: echo it, note when `HATCHERY READY` appears, stop at a timeout.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::serial::{Ending, READY};

/// qboot: the fast firmware for PVH direct boots; it also provides ACPI tables (RSDP in
/// the BIOS area, MADT), which the kernel needs.
pub const QBOOT: &str = "/usr/share/qemu/qboot.rom";
/// The isa-debug-exit device the kernel powers off through (port 0xf4).
pub const EXIT_DEVICE: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";
/// Memory when none is asked for.
pub const DEFAULT_MEMORY: &str = "128M";

/// What QEMU boots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boot {
    /// The direct-boot loader through PVH, the bundle as its initrd.
    Direct {
        /// The loader ELF.
        loader: PathBuf,
        /// The bundle (kernel + archive).
        bundle: PathBuf,
        /// The kernel command line.
        cmdline: String,
    },
    /// A bootable ISO, through SeaBIOS (the command line is inside the ISO).
    Iso(PathBuf),
}

/// Where the serial port goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serial {
    /// Plain stdout (tests, and runs without a terminal).
    Stdio,
    /// stdio multiplexed with the monitor: Ctrl-A X quits, Ctrl-A C for the monitor.
    MuxStdio,
}

/// One QEMU configuration.
#[derive(Clone, Debug)]
pub struct Qemu {
    /// What to boot.
    pub boot: Boot,
    /// `-m` value.
    pub memory: String,
    /// Number of CPUs.
    pub smp: u32,
    /// Use KVM (`-enable-kvm -cpu host,-arch-capabilities`) instead of TCG.
    pub kvm: bool,
    /// Wait for GDB on port 1234 (`-s -S`).
    pub gdb: bool,
    /// Serial port wiring.
    pub serial: Serial,
    /// Extra arguments, appended last.
    pub extra: Vec<String>,
}

impl Qemu {
    /// A TCG configuration with one CPU, default memory, plain stdio serial.
    pub fn new(boot: Boot) -> Self {
        Self {
            boot,
            memory: DEFAULT_MEMORY.into(),
            smp: 1,
            kvm: false,
            gdb: false,
            serial: Serial::Stdio,
            extra: Vec::new(),
        }
    }

    /// QEMU's arguments.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
        match &self.boot {
            Boot::Direct {
                loader,
                bundle,
                cmdline,
            } => {
                push(&["-M", "q35", "-bios", QBOOT]);
                push(&["-kernel", &loader.to_string_lossy()]);
                push(&["-initrd", &bundle.to_string_lossy()]);
                push(&["-append", cmdline]);
            }
            Boot::Iso(iso) => push(&["-M", "q35", "-cdrom", &iso.to_string_lossy()]),
        }
        push(&["-m", &self.memory, "-smp", &self.smp.to_string()]);
        push(&["-nodefaults", "-display", "none", "-no-reboot"]);
        push(&["-device", EXIT_DEVICE]);
        match self.serial {
            Serial::Stdio => push(&["-serial", "stdio"]),
            Serial::MuxStdio => push(&["-serial", "mon:stdio"]),
        }
        if self.kvm {
            push(&["-enable-kvm", "-cpu", "host,-arch-capabilities"]);
        }
        if self.gdb {
            push(&["-s", "-S"]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// The `qemu-system-x86_64` command.
    pub fn command(&self) -> Command {
        let mut command = Command::new("qemu-system-x86_64");
        command.args(self.args());
        command
    }
}

/// Keys typed into the serial port: once the serial output shows the prompt (after the
/// previous prompt), the bytes are written to the emulator's stdin (the serial port's
/// input with `-serial stdio`).
pub type Typing = (&'static str, &'static [u8]);

/// How to watch a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Watch {
    /// Kill the emulator after this long.
    pub timeout: Option<Duration>,
    /// Copy the serial output to our stdout as it comes, and say when READY appears.
    pub echo: bool,
    /// Give the emulator our stdin (for QEMU's stdio mux); else /dev/null.
    pub inherit_stdin: bool,
    /// Type these into the serial port, in order, each at its prompt (stdin becomes a
    /// pipe; ignored with `inherit_stdin`).
    pub input: &'static [Typing],
}

/// The result of a watched run.
#[derive(Debug)]
pub struct Watched {
    /// How it ended.
    pub ending: Ending,
    /// Everything the serial port printed (lossy UTF-8, raw).
    pub log: String,
    /// Time from start to the first `HATCHERY READY`.
    pub ready_after: Option<Duration>,
    /// The emulator's stderr.
    pub stderr: String,
}

/// Runs `command`, whose stdout is the serial port, under `watch`.
///
/// # Errors
/// When the command cannot be started.
pub fn run_watched(command: &mut Command, watch: Watch) -> Result<Watched, String> {
    let stdin = if watch.inherit_stdin {
        Stdio::inherit()
    } else if !watch.input.is_empty() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let start = Instant::now();
    let mut child = command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", crate::steps::describe(command)))?;
    let mut keyboard = Keyboard {
        stdin: child.stdin.take(),
        steps: watch.input,
        next: 0,
        search_from: 0,
    };
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(count @ 1..) = stdout.read(&mut buffer) {
            if sender.send(buffer[..count].to_vec()).is_err() {
                break;
            }
        }
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });

    let mut serial = SerialLog::new(start, watch.echo);
    let mut timed_out = None;
    loop {
        match receiver.recv_timeout(Duration::from_millis(20)) {
            Ok(chunk) => {
                serial.push(&chunk);
                keyboard.type_at_prompts(&serial);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Some(limit) = watch.timeout.filter(|&limit| start.elapsed() > limit) {
            let _ = child.kill();
            timed_out = Some(limit);
            break;
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the emulator: {e}"))?;
    while let Ok(chunk) = receiver.try_recv() {
        serial.push(&chunk);
    }
    let ending = match timed_out {
        Some(limit) => Ending::TimedOut(limit),
        None => Ending::Exited(status.code()),
    };
    let (log, ready_after) = serial.finish();
    Ok(Watched {
        ending,
        log,
        ready_after,
        stderr: stderr_reader.join().unwrap_or_default(),
    })
}

/// Types [`Watch::input`] into the emulator's stdin as the prompts appear.
struct Keyboard {
    stdin: Option<std::process::ChildStdin>,
    steps: &'static [Typing],
    next: usize,
    search_from: usize,
}

impl Keyboard {
    fn type_at_prompts(&mut self, serial: &SerialLog) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        while let Some(&(prompt, keys)) = self.steps.get(self.next) {
            let Some(end) = serial.find_after(self.search_from, prompt) else {
                return;
            };
            if stdin.write_all(keys).and_then(|()| stdin.flush()).is_err() {
                return;
            }
            self.search_from = end;
            self.next += 1;
        }
    }
}

/// The serial output of a run as it arrives: kept, optionally echoed to stdout, and
/// watched for `HATCHERY READY`. When echoing, `xtask: HATCHERY READY after X s` is printed
/// on its own line right after the line holding READY.
pub struct SerialLog {
    start: Instant,
    echo: bool,
    bytes: Vec<u8>,
    ready_after: Option<Duration>,
    /// Offset just past READY, until the announcement is printed.
    announce_from: Option<usize>,
}

impl SerialLog {
    /// An empty log of a run that started at `start`.
    pub fn new(start: Instant, echo: bool) -> Self {
        Self {
            start,
            echo,
            bytes: Vec::new(),
            ready_after: None,
            announce_from: None,
        }
    }

    /// Adds output that just arrived.
    pub fn push(&mut self, chunk: &[u8]) {
        let chunk_start = self.bytes.len();
        let scan_from = chunk_start.saturating_sub(READY.len() - 1);
        self.bytes.extend_from_slice(chunk);
        if self.ready_after.is_none() {
            if let Some(at) = find(&self.bytes[scan_from..], READY.as_bytes()) {
                self.ready_after = Some(self.start.elapsed());
                self.announce_from = Some(scan_from + at + READY.len());
            }
        }
        if !self.echo {
            return;
        }
        let mut split = chunk.len();
        let mut announce = false;
        if let Some(from) = self.announce_from.map(|from| from.max(chunk_start)) {
            if let Some(newline) = self.bytes[from..].iter().position(|&b| b == b'\n') {
                split = from + newline + 1 - chunk_start;
                announce = true;
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&chunk[..split]);
        let _ = out.flush();
        if announce {
            self.announce();
        }
        let _ = out.write_all(&chunk[split..]);
        let _ = out.flush();
    }

    /// The offset just past the first `needle` at or after `from` (an empty needle is
    /// found at `from`).
    pub fn find_after(&self, from: usize, needle: &str) -> Option<usize> {
        let rest = self.bytes.get(from..)?;
        if needle.is_empty() {
            return Some(from);
        }
        find(rest, needle.as_bytes()).map(|at| from + at + needle.len())
    }

    /// The whole log (lossy UTF-8) and the time READY appeared.
    pub fn finish(mut self) -> (String, Option<Duration>) {
        if self.echo {
            if self.bytes.last().is_some_and(|&byte| byte != b'\n') {
                // The emulator stopped mid-line: end it so our next line starts clean.
                println!();
            }
            self.announce();
        }
        let log = String::from_utf8_lossy(&self.bytes).into_owned();
        (log, self.ready_after)
    }

    fn announce(&mut self) {
        if let (Some(_), Some(after)) = (self.announce_from.take(), self.ready_after) {
            // \r\n: QEMU's stdio mux puts the terminal in raw mode.
            eprint!(
                "xtask: HATCHERY READY after {:.2} s\r\n",
                after.as_secs_f64()
            );
        }
    }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> Qemu {
        Qemu::new(Boot::Direct {
            loader: "/b/loader".into(),
            bundle: "/b/bundle.cpio".into(),
            cmdline: "exit test".into(),
        })
    }

    fn value_after(args: &[String], flag: &str) -> Option<String> {
        let at = args.iter().position(|arg| arg == flag)?;
        args.get(at + 1).cloned()
    }

    #[test]
    fn direct_boot_uses_qboot_pvh_and_the_exit_device() {
        let args = direct().args();
        assert_eq!(value_after(&args, "-bios").as_deref(), Some(QBOOT));
        assert_eq!(value_after(&args, "-kernel").as_deref(), Some("/b/loader"));
        assert_eq!(
            value_after(&args, "-initrd").as_deref(),
            Some("/b/bundle.cpio")
        );
        assert_eq!(value_after(&args, "-append").as_deref(), Some("exit test"));
        assert_eq!(value_after(&args, "-device").as_deref(), Some(EXIT_DEVICE));
        assert_eq!(value_after(&args, "-serial").as_deref(), Some("stdio"));
        assert!(args.contains(&"-no-reboot".to_string()));
        assert!(!args.contains(&"-enable-kvm".to_string()));
    }

    #[test]
    fn kvm_gdb_smp_mux_and_extra_arguments() {
        let mut qemu = direct();
        qemu.kvm = true;
        qemu.gdb = true;
        qemu.smp = 4;
        qemu.serial = Serial::MuxStdio;
        qemu.extra = vec!["-d".into(), "int".into()];
        let args = qemu.args();
        assert_eq!(
            value_after(&args, "-cpu").as_deref(),
            Some("host,-arch-capabilities")
        );
        assert!(args.contains(&"-enable-kvm".to_string()));
        assert!(args.contains(&"-s".to_string()) && args.contains(&"-S".to_string()));
        assert_eq!(value_after(&args, "-smp").as_deref(), Some("4"));
        assert_eq!(value_after(&args, "-serial").as_deref(), Some("mon:stdio"));
        assert_eq!(&args[args.len() - 2..], ["-d", "int"]);
    }

    #[test]
    fn iso_boot_uses_the_cdrom_and_no_kernel() {
        let args = Qemu::new(Boot::Iso("/b/hatchery.iso".into())).args();
        assert_eq!(
            value_after(&args, "-cdrom").as_deref(),
            Some("/b/hatchery.iso")
        );
        assert!(!args.contains(&"-kernel".to_string()));
    }

    #[test]
    fn watcher_collects_output_status_and_ready_time() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo booting; echo HATCHERY READY; exit 33"]);
        let watched = run_watched(&mut command, Watch::default()).unwrap();
        assert_eq!(watched.ending, Ending::Exited(Some(33)));
        assert_eq!(watched.log, "booting\nHATCHERY READY\n");
        assert!(watched.ready_after.is_some());
    }

    #[test]
    fn ready_is_found_across_chunk_boundaries() {
        let mut serial = SerialLog::new(Instant::now(), false);
        serial.push(b"boot\nHATCHERY RE");
        serial.push(b"ADY\nhello");
        let (log, ready_after) = serial.finish();
        assert_eq!(log, "boot\nHATCHERY READY\nhello");
        assert!(ready_after.is_some());
    }

    #[test]
    fn keys_are_typed_at_each_prompt_in_order() {
        // A shell script as the "emulator": it prompts, reads a line, prints it back.
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "echo 'first?'; read a; echo \"got $a\"; echo 'second?'; read b; echo \"got $b\"",
        ]);
        let watch = Watch {
            timeout: Some(Duration::from_secs(10)),
            input: &[("first?", b"one\n"), ("second?", b"two\n")],
            ..Watch::default()
        };
        let watched = run_watched(&mut command, watch).unwrap();
        assert_eq!(watched.ending, Ending::Exited(Some(0)));
        assert_eq!(watched.log, "first?\ngot one\nsecond?\ngot two\n");
    }

    #[test]
    fn prompts_are_found_after_the_previous_one() {
        let mut serial = SerialLog::new(Instant::now(), false);
        serial.push(b"a? b? a?");
        assert_eq!(serial.find_after(0, "a?"), Some(2));
        assert_eq!(serial.find_after(2, "a?"), Some(8));
        assert_eq!(serial.find_after(8, "a?"), None);
        assert_eq!(serial.find_after(3, ""), Some(3));
        assert_eq!(serial.find_after(100, "a?"), None);
    }

    #[test]
    fn watcher_kills_at_the_timeout() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; exec sleep 10"]);
        let watch = Watch {
            timeout: Some(Duration::from_millis(300)),
            ..Watch::default()
        };
        let started = Instant::now();
        let watched = run_watched(&mut command, watch).unwrap();
        assert_eq!(watched.ending, Ending::TimedOut(Duration::from_millis(300)));
        assert_eq!(watched.log, "started\n");
        assert!(watched.ready_after.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
