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
/// Guest memory in MiB.
const MEMORY_MIB: u32 = 128;
/// Lock file serialising Bochs runs on this machine.
const LOCK_PATH: &str = "/tmp/hatchery-bochs.lock";

/// The CPU model of the test run of `utest` under Bochs: one with SMEP, SMAP, UMIP, AVX
/// and FSGSBASE, so the tests of the kernel's defences meet the CPU checks they are about.
pub const TEST_CPU_MODEL: &str = "tigerlake";

/// The bochsrc booting `iso` from CD with COM1 written to `com1`, on Bochs's default CPU
/// or on `cpu_model` (one of Bochs's `cpu: model=` names).
pub fn config(iso: &Path, com1: &Path, log: &Path, cpu_model: Option<&str>) -> String {
    let model = cpu_model
        .map(|m| format!("model={m}, "))
        .unwrap_or_default();
    format!(
        "# Written by cargo xtask.\n\
         display_library: rfb, options=\"timeout=0\"\n\
         megs: {MEMORY_MIB}\n\
         romimage: file={BIOS}\n\
         vgaromimage: file={VGA_BIOS}\n\
         ata0-master: type=cdrom, path={}, status=inserted\n\
         boot: cdrom\n\
         com1: enabled=1, mode=file, dev={}\n\
         port_e9_hack: enabled=1\n\
         clock: sync=none, time0=local\n\
         cpu: {model}count=1, ips=100000000, reset_on_triple_fault=0\n\
         log: {}\n\
         panic: action=fatal\n\
         # Debian's Bochs aborts (\"buffer overflow detected\") loading its ALSA driver\n\
         # where there is no sound device: use the dummy drivers.\n\
         sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy\n",
        iso.display(),
        com1.display(),
        log.display()
    )
}

/// Boots `iso` in Bochs, files in `work_dir`, watching COM1 under `watch`.
///
/// # Errors
/// When files cannot be written or Bochs cannot be started.
pub fn run(
    iso: &Path,
    work_dir: &Path,
    watch: Watch,
    cpu_model: Option<&str>,
) -> Result<Watched, String> {
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
    std::fs::write(&rc, config(iso, &com1, &log, cpu_model)).map_err(io(&rc))?;
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
    let mut serial = SerialLog::new(start, watch.echo);
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
            None,
        );
        for line in [
            "display_library: rfb, options=\"timeout=0\"",
            "ata0-master: type=cdrom, path=/b/hatchery-grub.iso, status=inserted",
            "boot: cdrom",
            "com1: enabled=1, mode=file, dev=/b/com1.log",
            "romimage: file=/usr/share/bochs/BIOS-bochs-latest",
            "cpu: count=1, ips=100000000, reset_on_triple_fault=0",
            "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn a_cpu_model_goes_on_the_cpu_line() {
        let (iso, com1, log) = (Path::new("/i"), Path::new("/c"), Path::new("/l"));
        let text = config(iso, com1, log, Some(TEST_CPU_MODEL));
        let line = "cpu: model=tigerlake, count=1, ips=100000000, reset_on_triple_fault=0";
        assert!(text.lines().any(|l| l == line), "{text}");
    }
}
