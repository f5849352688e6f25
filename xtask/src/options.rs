//! Checking `run`'s options before anything is built or booted: each bad value is refused
//! in one line that says what is allowed (clap prints it as `error: invalid value ...`).

use std::fmt;

/// Most CPUs `--smp` accepts: QEMU's q35 machine allows 288, but past 255 it needs x2APIC
/// interrupt remapping, which TCG does not give. The kernel uses one CPU for now.
pub const MAX_SMP: u32 = 255;
/// Least guest memory `--memory` accepts: the smallest in which the debug build boots
/// (`cargo xtask run --memory 32M </dev/null`; at 30M the root task no longer fits, at
/// 28M the loader's page tables do not).
pub const MIN_MEMORY_MIB: u64 = 32;
/// Kernel log levels (`log=LEVEL` on the kernel command line).
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Parses `--smp`: a number of CPUs from 1 to [`MAX_SMP`].
pub fn parse_smp(text: &str) -> Result<u32, String> {
    let allowed = format!("a number of CPUs from 1 to {MAX_SMP}");
    match text.trim().parse::<u32>() {
        Ok(count @ 1..=MAX_SMP) => Ok(count),
        _ => Err(allowed),
    }
}

/// A guest memory size, a whole number of MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Size in MiB.
    pub mib: u64,
}

impl fmt::Display for Memory {
    /// QEMU's `-m` form: `128M`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}M", self.mib)
    }
}

/// Parses `--memory`: a whole number with an optional `K`, `M`, `G` or `T` suffix (MiB
/// when there is none, as for QEMU's `-m`), a whole number of MiB, at least
/// [`MIN_MEMORY_MIB`].
pub fn parse_memory(text: &str) -> Result<Memory, String> {
    let allowed = format!(
        "a size such as 64M or 1G (K, M, G or T; M when no suffix), at least {MIN_MEMORY_MIB}M"
    );
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits.parse().map_err(|_| allowed.clone())?;
    let kib = match suffix {
        "K" | "k" => Some(number),
        "" | "M" | "m" => number.checked_mul(1 << 10),
        "G" | "g" => number.checked_mul(1 << 20),
        "T" | "t" => number.checked_mul(1 << 30),
        _ => None,
    }
    .ok_or_else(|| allowed.clone())?;
    if !kib.is_multiple_of(1 << 10) {
        return Err(format!("{allowed}; {text} is not a whole number of MiB"));
    }
    let mib = kib >> 10;
    if mib < MIN_MEMORY_MIB {
        return Err(format!(
            "{allowed}; the system does not boot in less than {MIN_MEMORY_MIB}M"
        ));
    }
    Ok(Memory { mib })
}

/// Parses `--log`: one of [`LOG_LEVELS`].
pub fn parse_log_level(text: &str) -> Result<String, String> {
    if LOG_LEVELS.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(format!("one of {}", LOG_LEVELS.join(", ")))
    }
}

/// Parses `--root`: a program name as the boot archive holds it (`bin/NAME`): not
/// empty, without `/`, white space or control characters.
pub fn parse_program_name(text: &str) -> Result<String, String> {
    let bad = |c: char| c == '/' || c.is_whitespace() || c.is_control();
    if text.is_empty() || text.contains(bad) {
        Err("a program name (a server's binary, such as utest), without `/` or spaces".into())
    } else {
        Ok(text.to_string())
    }
}

/// Refuses a `--root` that names none of `programs` (the servers' binaries), listing them.
pub fn check_program<'a>(
    name: &str,
    programs: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    let programs: Vec<&str> = programs.into_iter().collect();
    if programs.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "--root {name}: no such program (there are: {})",
            programs.join(", ")
        ))
    }
}

/// Parses `--root-args`: words for the manifest's one `root-args` line, so printable
/// text (white space separates the words; other control characters are refused).
pub fn parse_root_args(text: &str) -> Result<String, String> {
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        Err("words of printable text (the manifest's `root-args` line)".into())
    } else {
        Ok(text.to_string())
    }
}

/// The host's memory plus swap in MiB (`/proc/meminfo`), if it can be read: QEMU cannot
/// reserve more guest memory than that.
pub fn host_memory_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    host_memory_from_meminfo(&text)
}

/// `MemTotal` + `SwapTotal` of a `/proc/meminfo` text, in MiB.
fn host_memory_from_meminfo(text: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|line| line.starts_with(name))?;
        let value = line[name.len()..].trim().strip_suffix("kB")?;
        value.trim().parse::<u64>().ok()
    };
    Some((field("MemTotal:")? + field("SwapTotal:").unwrap_or(0)) >> 10)
}

/// Refuses guest memory the host cannot give (`host_mib` from [`host_memory_mib`]).
pub fn check_memory_fits(memory: Memory, host_mib: Option<u64>) -> Result<(), String> {
    match host_mib {
        Some(host) if memory.mib > host => Err(format!(
            "--memory {memory}: this host has {host}M of memory and swap; QEMU cannot \
             reserve more than that"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_names_a_program_of_the_servers_and_its_words_are_printable() {
        assert_eq!(parse_program_name("utest"), Ok("utest".into()));
        for bad in ["", "bin/utest", "u test", "u\ttest", "x\u{7}"] {
            let error = parse_program_name(bad).unwrap_err();
            assert!(error.starts_with("a program name"), "{bad:?}: {error}");
        }
        assert!(check_program("utest", ["hello", "utest"]).is_ok());
        assert_eq!(
            check_program("utset", ["hello", "utest"]).unwrap_err(),
            "--root utset: no such program (there are: hello, utest)"
        );
        assert_eq!(parse_root_args("cpu  ports"), Ok("cpu  ports".into()));
        assert_eq!(parse_root_args("-x\n"), Ok("-x\n".into()));
        assert!(parse_root_args("cpu\u{0}").is_err());
    }

    #[test]
    fn smp_takes_one_to_the_maximum_and_says_so_otherwise() {
        assert_eq!(parse_smp("1"), Ok(1));
        assert_eq!(parse_smp("255"), Ok(255));
        for bad in ["0", "256", "999", "-1", "two", ""] {
            assert_eq!(
                parse_smp(bad),
                Err("a number of CPUs from 1 to 255".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn memory_takes_qemu_sizes_in_whole_mib() {
        assert_eq!(parse_memory("128M"), Ok(Memory { mib: 128 }));
        assert_eq!(parse_memory("64"), Ok(Memory { mib: 64 }));
        assert_eq!(parse_memory("1G"), Ok(Memory { mib: 1024 }));
        assert_eq!(parse_memory("65536K"), Ok(Memory { mib: 64 }));
        assert_eq!(parse_memory("32m"), Ok(Memory { mib: 32 }));
        assert_eq!(Memory { mib: 96 }.to_string(), "96M");
    }

    #[test]
    fn memory_refuses_words_zero_too_little_and_fractions() {
        for bad in ["abc", "", "M", "1.5G", "12X", "-1"] {
            let error = parse_memory(bad).unwrap_err();
            assert!(error.starts_with("a size such as 64M"), "{bad}: {error}");
        }
        for small in ["0", "1M", "31M", "1024K"] {
            let error = parse_memory(small).unwrap_err();
            assert!(
                error.contains("does not boot in less than 32M"),
                "{small}: {error}"
            );
        }
        assert!(parse_memory("1000K")
            .unwrap_err()
            .contains("whole number of MiB"));
        assert!(parse_memory("99999999999999T").is_err());
    }

    #[test]
    fn memory_beyond_the_host_is_refused() {
        let meminfo = "MemTotal:       24000000 kB\nMemFree: 1 kB\nSwapTotal:  1048576 kB\n";
        assert_eq!(host_memory_from_meminfo(meminfo), Some(24461));
        let host = host_memory_from_meminfo(meminfo);
        assert!(check_memory_fits(Memory { mib: 16 << 10 }, host).is_ok());
        let error = check_memory_fits(Memory { mib: 64 << 10 }, host).unwrap_err();
        assert!(error.contains("this host has 24461M"), "{error}");
        assert!(check_memory_fits(Memory { mib: 1 << 30 }, None).is_ok());
    }

    #[test]
    fn log_levels_are_the_kernels_five() {
        let kernel =
            std::fs::read_to_string(crate::steps::workspace_root().join("microkernel/src/log.rs"))
                .unwrap();
        let parse = &kernel[kernel.find("pub fn parse").unwrap()..];
        let parse = &parse[..parse.find("_ => return None").unwrap()];
        assert_eq!(parse.matches("=> Level::").count(), LOG_LEVELS.len());
        for level in LOG_LEVELS {
            assert_eq!(parse_log_level(level).as_deref(), Ok(level));
            assert!(
                parse.contains(&format!("\"{level}\" => Level::")),
                "{level}"
            );
        }
        assert_eq!(
            parse_log_level("verbose"),
            Err("one of error, warn, info, debug, trace".into())
        );
    }
}
