//! Bochs: its configuration and a watched run of an ISO.
//!
//! Debian's Bochs has no headless display, so it uses the VNC one (`rfb`) without waiting
//! for a client; its debugger is told to continue (`c`) from a command file. COM1 goes to a
//! file, which we poll. The kernel ends the simulation by writing `Shutdown` to port
//! 0x8900; Bochs then exits with status 1 whatever happened, so the serial log decides.
//! One Bochs at a time: a lock file serialises runs (they would share VNC port 5900).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::qemu::{SerialLog, Watch, Watched};
use crate::serial::Ending;

/// Bochs's BIOS (package bochsbios).
pub const BIOS: &str = "/usr/share/bochs/BIOS-bochs-latest";
/// The VGA BIOS (package vgabios).
pub const VGA_BIOS: &str = "/usr/share/bochs/VGABIOS-lgpl-latest";
/// Most guest memory Bochs is given, in MiB: Debian's Bochs 2.7 refuses more
/// (`megs` above 2048: "number of megabytes out of range").
pub const MAX_MEMORY_MIB: u64 = 2048;

/// Most CPUs `--smp` gives Bochs: measured here, 8 boot and power off in seconds and 12
/// reach READY after more than a minute; at 16 Debian's Bochs 2.7 stops before the BIOS
/// ("register_timer: too many registered timers").
pub const MAX_CPUS: u32 = 12;

/// The CPU models Debian's Bochs 2.7 simulates (`cpu: model=`), as `bochs --help cpu`
/// lists them.
pub const CPU_MODELS: [&str; 28] = [
    "bx_generic",
    "pentium",
    "pentium_mmx",
    "amd_k6_2_chomper",
    "p2_klamath",
    "p3_katmai",
    "p4_willamette",
    "core_duo_t2400_yonah",
    "atom_n270",
    "p4_prescott_celeron_336",
    "athlon64_clawhammer",
    "athlon64_venice",
    "turion64_tyler",
    "phenom_8650_toliman",
    "core2_penryn_t9600",
    "corei5_lynnfield_750",
    "corei5_arrandale_m520",
    "corei7_sandy_bridge_2600k",
    "zambezi",
    "trinity_apu",
    "ryzen",
    "corei7_ivy_bridge_3770k",
    "corei7_haswell_4770",
    "broadwell_ult",
    "corei7_skylake_x",
    "corei3_cnl",
    "corei7_icelake_u",
    "tigerlake",
];

/// The CPU model of the test run of `utest` under Bochs: one with SMEP, SMAP, UMIP, AVX
/// and FSGSBASE, so the tests of the kernel's defences meet the CPU checks they are about.
pub const TEST_CPU_MODEL: &str = "tigerlake";

/// Parses `--bochs-cpu`: one of [`CPU_MODELS`].
pub fn parse_cpu_model(text: &str) -> Result<&'static str, String> {
    CPU_MODELS
        .iter()
        .find(|&&model| model == text)
        .copied()
        .ok_or_else(|| format!("one of Bochs's CPU models: {}", CPU_MODELS.join(", ")))
}

/// The simulated machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Guest memory in MiB (at most [`MAX_MEMORY_MIB`]).
    pub memory_mib: u64,
    /// Number of CPUs (at most [`MAX_CPUS`]).
    pub cpus: u32,
    /// The CPU model (one of [`CPU_MODELS`]); `None`: Bochs's default.
    pub cpu_model: Option<&'static str>,
}

impl Default for Machine {
    /// 128 MiB and one CPU, as QEMU's defaults, of Bochs's default model.
    fn default() -> Self {
        Self {
            memory_mib: 128,
            cpus: 1,
            cpu_model: None,
        }
    }
}

impl Machine {
    /// Refuses what Bochs cannot simulate, in one line.
    pub fn check(self) -> Result<(), String> {
        if self.memory_mib > MAX_MEMORY_MIB {
            return Err(format!(
                "--memory {}M: Bochs simulates at most {MAX_MEMORY_MIB}M",
                self.memory_mib
            ));
        }
        if self.cpus > MAX_CPUS {
            return Err(format!(
                "--smp {}: Bochs simulates at most {MAX_CPUS} CPUs",
                self.cpus
            ));
        }
        Ok(())
    }
}
/// Lock file serialising Bochs runs on this machine.
const LOCK_PATH: &str = "/tmp/hatchery-bochs.lock";

/// The bochsrc booting `iso` from CD on `machine` with COM1 written to `com1`.
pub fn config(iso: &Path, com1: &Path, log: &Path, machine: Machine) -> String {
    let model = machine
        .cpu_model
        .map(|m| format!("model={m}, "))
        .unwrap_or_default();
    format!(
        "# Written by cargo xtask.\n\
         display_library: rfb, options=\"timeout=0\"\n\
         megs: {}\n\
         romimage: file={BIOS}\n\
         vgaromimage: file={VGA_BIOS}\n\
         ata0-master: type=cdrom, path={}, status=inserted\n\
         boot: cdrom\n\
         com1: enabled=1, mode=file, dev={}\n\
         port_e9_hack: enabled=1\n\
         clock: sync=none, time0=local\n\
         cpu: {model}count={}, ips=100000000, reset_on_triple_fault=0\n\
         log: {}\n\
         panic: action=fatal\n\
         # Debian's Bochs aborts (\"buffer overflow detected\") loading its ALSA driver\n\
         # where there is no sound device: use the dummy drivers.\n\
         sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy\n",
        machine.memory_mib,
        iso.display(),
        com1.display(),
        machine.cpus,
        log.display()
    )
}

/// Boots `iso` in Bochs on `machine`, files in `work_dir`, watching COM1 under `watch`.
/// What is echoed is plain text (GRUB's screen-clearing escapes removed).
///
/// # Errors
/// When files cannot be written or Bochs cannot be started.
pub fn run(iso: &Path, work_dir: &Path, machine: Machine, watch: Watch) -> Result<Watched, String> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| format!("{path}: {e}")
    };
    std::fs::create_dir_all(work_dir).map_err(io(work_dir))?;
    let (rc, cmds) = (work_dir.join("bochsrc"), work_dir.join("cmds"));
    let (com1, log, out) = (
        work_dir.join("com1.log"),
        work_dir.join("bochs.log"),
        work_dir.join("bochs.out"),
    );
    std::fs::write(&rc, config(iso, &com1, &log, machine)).map_err(io(&rc))?;
    std::fs::write(&cmds, "c\nquit\n").map_err(io(&cmds))?;
    std::fs::write(&com1, "").map_err(io(&com1))?;

    let lock = File::create(LOCK_PATH).map_err(io(Path::new(LOCK_PATH)))?;
    if lock.try_lock().is_err() {
        println!("xtask: waiting for another Bochs run to finish ({LOCK_PATH})");
        lock.lock().map_err(io(Path::new(LOCK_PATH)))?;
    }
    let output = File::create(&out).map_err(io(&out))?;
    let start = Instant::now();
    let mut child = Command::new("bochs")
        .arg("-q")
        .arg("-f")
        .arg(&rc)
        .arg("-rc")
        .arg(&cmds)
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(output.try_clone().map_err(io(&out))?)
        .stderr(output)
        .spawn()
        .map_err(|e| format!("cannot start bochs: {e}"))?;

    let mut serial_file = File::open(&com1).map_err(io(&com1))?;
    let mut serial = SerialLog::new(start, watch.echo).plain_text();
    let mut read_so_far = 0u64;
    let ending = loop {
        let exited = child.try_wait().map_err(|e| e.to_string())?;
        let mut chunk = Vec::new();
        let _ = serial_file.seek(SeekFrom::Start(read_so_far));
        let _ = serial_file.read_to_end(&mut chunk);
        read_so_far += chunk.len() as u64;
        serial.push(&chunk);
        if let Some(status) = exited {
            break Ending::Exited(status.code());
        }
        if let Some(limit) = watch.timeout.filter(|&limit| start.elapsed() > limit) {
            let _ = child.kill();
            let _ = child.wait();
            break Ending::TimedOut(limit);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(lock);
    let stderr = std::fs::read_to_string(&out).unwrap_or_default();
    let (log, ready_after) = serial.finish();
    Ok(Watched {
        ending,
        log,
        ready_after,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_boots_the_cd_headless_with_com1_to_a_file() {
        let text = config(
            Path::new("/b/hatchery-grub.iso"),
            Path::new("/b/com1.log"),
            Path::new("/b/bochs.log"),
            Machine {
                memory_mib: 256,
                cpus: 2,
                cpu_model: None,
            },
        );
        for line in [
            "display_library: rfb, options=\"timeout=0\"",
            "ata0-master: type=cdrom, path=/b/hatchery-grub.iso, status=inserted",
            "boot: cdrom",
            "com1: enabled=1, mode=file, dev=/b/com1.log",
            "romimage: file=/usr/share/bochs/BIOS-bochs-latest",
            "megs: 256",
            "cpu: count=2, ips=100000000, reset_on_triple_fault=0",
            "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn a_cpu_model_goes_on_the_cpu_line() {
        let (iso, com1, log) = (Path::new("/i"), Path::new("/c"), Path::new("/l"));
        let machine = Machine {
            cpu_model: Some(TEST_CPU_MODEL),
            ..Machine::default()
        };
        let text = config(iso, com1, log, machine);
        let line = "cpu: model=tigerlake, count=1, ips=100000000, reset_on_triple_fault=0";
        assert!(text.lines().any(|l| l == line), "{text}");
    }

    #[test]
    fn cpu_models_are_bochs_names_and_others_are_refused_listing_them() {
        assert_eq!(parse_cpu_model("tigerlake"), Ok(TEST_CPU_MODEL));
        assert_eq!(parse_cpu_model("bx_generic"), Ok("bx_generic"));
        for bad in ["", "TigerLake", "skylake", "tigerlake "] {
            let error = parse_cpu_model(bad).unwrap_err();
            assert!(
                error.starts_with("one of Bochs's CPU models: bx_generic,"),
                "{error}"
            );
            assert!(error.ends_with("corei7_icelake_u, tigerlake"), "{error}");
        }
    }

    #[test]
    fn memory_and_cpus_beyond_what_bochs_simulates_are_refused() {
        let most = Machine {
            memory_mib: MAX_MEMORY_MIB,
            cpus: MAX_CPUS,
            cpu_model: Some(TEST_CPU_MODEL),
        };
        assert!(most.check().is_ok());
        let memory = Machine {
            memory_mib: 4096,
            ..most
        };
        assert_eq!(
            memory.check().unwrap_err(),
            "--memory 4096M: Bochs simulates at most 2048M"
        );
        let cpus = Machine { cpus: 16, ..most };
        assert_eq!(
            cpus.check().unwrap_err(),
            "--smp 16: Bochs simulates at most 12 CPUs"
        );
    }
}
