//! `cargo xtask bench hatch`: the cost of hatching, side by side with the alternatives and
//! with Linux (docs/benchmarks.md).
//!
//! Two sources of rows, both printing `bench-row:` lines (bench_report.rs):
//! - Hatchery: the hatch benchmark program (`servers/hatchbench`, the root task, under
//!   procsrv) booted like `bench ipc`. Until that program exists this says so in one line.
//! - Linux, with `--linux` (bench_linux.rs).
//!
//! Out: the table in the terminal (its last line the headline), and in `build/bench/`
//! `hatch.md`, `hatch.csv` and `hatch.svg` (bench_chart.rs). Hatchery's instruction counts
//! go through the regression gate (bench_gate.rs); Linux's are a reference, not gated.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::bench_linux::{KernelSpec, LinuxError};
use crate::bench_report::{Report, Row, System};
use crate::steps::{workspace_root, Steps};

/// The Hatchery program that measures hatches (the root task of its boot).
pub const HATCH_PROGRAM: &str = "hatchbench";

/// What `bench hatch` was asked to do.
pub struct HatchOptions {
    /// Also measure Linux.
    pub linux: bool,
    /// The Debian kernel package for `--linux`.
    pub kernel: KernelSpec,
    /// Rewrite the baseline instead of comparing with it.
    pub update_baseline: bool,
    /// Whether the gate applies (release build under TCG: the baseline's conditions).
    pub gated: bool,
}

/// Runs `cargo xtask bench hatch`. `boot_hatchery` boots [`HATCH_PROGRAM`] and returns its
/// serial log (bench.rs owns booting Hatchery).
pub fn run(
    options: &HatchOptions,
    steps: &mut Steps,
    mut boot_hatchery: impl FnMut(&mut Steps, bool) -> Result<String, String>,
) -> Result<(), String> {
    let mut rows: Vec<Row> = Vec::new();
    let mut measured_on = Vec::new();
    let source = workspace_root()
        .join("servers")
        .join(HATCH_PROGRAM)
        .join("Cargo.toml");
    let mut unformatted: Vec<String> = Vec::new();
    let mut breakdown: Vec<String> = Vec::new();
    if source.is_file() {
        let log = boot_hatchery(steps, false)?;
        breakdown = phase_lines(&log);
        let mut hatchery = crate::bench_report::rows_from_log(&log)?;
        if !hatchery.is_empty() {
            // The counters come from a second boot, whose kernel counts (and so runs a few
            // more instructions): the instructions stay those of the normal build.
            let counted_log = boot_hatchery(steps, true)?;
            let counted = crate::bench_report::rows_from_log(&counted_log)?;
            take_counters(&mut hatchery, &counted);
            measured_on.push("counters: a second boot, kernel feature `counters`".to_string());
        }
        if hatchery.is_empty() {
            unformatted = free_form_lines(&log)?
                .into_iter()
                .map(String::from)
                .collect();
        } else {
            measured_on.push("Hatchery release build".to_string());
        }
        rows.extend(hatchery);
    } else {
        println!(
            "xtask: no servers/{HATCH_PROGRAM} in this tree: no Hatchery rows (they come with procsrv's hatch benchmark)"
        );
    }
    if options.linux {
        match crate::bench_linux::run(&options.kernel, steps) {
            Ok(linux) => {
                rows.extend(linux.rows);
                measured_on.push(format!("Linux: Debian package {}", linux.kernel));
            }
            Err(LinuxError::Unavailable(why)) => {
                println!("xtask: linux: skipped: {why}");
            }
            Err(LinuxError::Failed(why)) => return Err(format!("linux: {why}")),
        }
    }
    steps.summary();
    if !unformatted.is_empty() {
        println!(
            "xtask: servers/{HATCH_PROGRAM} printed no `bench-row:` lines (their format is in docs/benchmarks.md); what it printed, not in the table:"
        );
        for line in &unformatted {
            println!("  {line}");
        }
    }
    if rows.is_empty() {
        return Err(
            "nothing was measured (no Hatchery hatch benchmark yet; `--linux` measures Linux)"
                .into(),
        );
    }
    if !breakdown.is_empty() {
        println!("where a 10-op egg hatch + exit + wait goes (mean instructions per round, procsrv's phases):");
        for line in &breakdown {
            println!("  {line}");
        }
    }
    let report = Report::new(rows);
    let paths = write_outputs(&report, &measured_on)?;
    println!("xtask: wrote {}", paths.join(", "));
    let gate = gate(&report, options);
    print!("{}", report.terminal());
    gate
}

/// Copies the counters of each row of the counted boot to the normal boot's row of the
/// same method and op count.
fn take_counters(rows: &mut [Row], counted: &[Row]) {
    for row in rows.iter_mut() {
        if let Some(c) = counted
            .iter()
            .find(|c| c.method == row.method && c.ops == row.ops)
        {
            row.kernel_entries = c.kernel_entries;
            row.ipc_messages = c.ipc_messages;
            row.bytes_copied = c.bytes_copied;
            row.pages_cleared = c.pages_cleared;
        }
    }
}

/// The breakdown the hatch benchmark prints (`bench-phase: N what`), as `N what` with `N`
/// right-aligned and grouped by thousands.
fn phase_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| line.trim_end_matches('\r').strip_prefix("bench-phase: "))
        .filter_map(|rest| {
            let (count, what) = rest.split_once(' ')?;
            let count: u64 = count.parse().ok()?;
            Some(format!(
                "{:>9}  {what}",
                crate::bench_report::thousands(count)
            ))
        })
        .collect()
}

/// The `bench:` lines of a hatch benchmark that does not print `bench-row:` lines yet.
///
/// # Errors
/// A `bench: failed` line: the benchmark says a hatch went wrong.
fn free_form_lines(log: &str) -> Result<Vec<&str>, String> {
    let lines: Vec<&str> = log
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| line.starts_with("bench:"))
        .collect();
    match lines.iter().find(|line| line.starts_with("bench: failed")) {
        Some(failed) => Err(format!("{HATCH_PROGRAM}: {failed}")),
        None => Ok(lines),
    }
}

/// Hatchery's figures through the regression gate.
fn gate(report: &Report, options: &HatchOptions) -> Result<(), String> {
    let figures: Vec<(String, u64)> = report
        .rows()
        .iter()
        .filter(|row| row.method.system() == System::Hatchery)
        .map(|row| (gate_name(row), row.instructions))
        .collect();
    if figures.is_empty() {
        return Ok(());
    }
    if !options.gated {
        println!("xtask: gate skipped: the baseline is for the release build under TCG");
        return Ok(());
    }
    crate::bench_gate::check("hatch", &figures, options.update_baseline)
}

/// A row's name in the baseline: `egg-10`.
fn gate_name(row: &Row) -> String {
    match row.ops {
        Some(ops) => format!("{}-{ops}", row.method.name()),
        None => row.method.name().into(),
    }
}

/// Writes `hatch.md`, `hatch.csv`, `hatch.svg` in `build/bench/`.
fn write_outputs(report: &Report, measured_on: &[String]) -> Result<Vec<String>, String> {
    let dir = workspace_root().join("build").join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let date = utc_date(SystemTime::now());
    let qemu = qemu_version();
    let about = format!(
        "Measured {date}, QEMU {qemu} TCG with -icount shift=0 (instructions), `cargo xtask bench hatch{}`; {}.",
        if measured_on.iter().any(|m| m.starts_with("Linux")) {
            " --linux"
        } else {
            ""
        },
        measured_on.join("; ")
    );
    let mut written = Vec::new();
    let mut write = |name: &str, text: String| -> Result<(), String> {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path.display().to_string());
        Ok(())
    };
    write(
        "hatch.md",
        format!("{about}\n\n{}\n{}\n", report.markdown(), report.headline()),
    )?;
    write("hatch.csv", report.csv())?;
    match crate::bench_chart::svg(report, &format!("hatch + exit + wait, QEMU {qemu} -icount")) {
        Ok(svg) => write("hatch.svg", svg)?,
        Err(why) => println!("xtask: no chart: {why}"),
    }
    Ok(written)
}

/// `7.2.22` from `qemu-system-x86_64 --version`, or `unknown`.
fn qemu_version() -> String {
    let output = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output();
    let text = output
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.lines()
        .next()
        .and_then(|line| line.split("version ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("unknown")
        .to_string()
}

/// `YYYY-MM-DD` (UTC) of `time`.
pub fn utc_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = civil_from_days(seconds / 86_400);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_report::Method;
    use std::time::Duration;

    #[test]
    fn utc_date_of_known_instants() {
        let at = |seconds| utc_date(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01");
        assert_eq!(at(951_782_400), "2000-02-29");
        assert_eq!(at(1_709_251_199), "2024-02-29");
        assert_eq!(at(1_796_083_200), "2026-12-01");
    }

    #[test]
    fn free_form_lines_are_kept_and_a_failure_refuses() {
        let log = "procsrv: hatched\r\nbench: hatch + exit + wait, 10-op egg: 9 instructions\r\n";
        assert_eq!(
            free_form_lines(log).unwrap(),
            ["bench: hatch + exit + wait, 10-op egg: 9 instructions"]
        );
        let failed = format!("{log}bench: failed: hatch refused\n");
        assert_eq!(
            free_form_lines(&failed).unwrap_err(),
            "hatchbench: bench: failed: hatch refused"
        );
    }

    #[test]
    fn gate_names_carry_method_and_ops() {
        let row = Row::instructions(Method::Egg, Some(10), 200, 1);
        assert_eq!(gate_name(&row), "egg-10");
        let row = Row::instructions(Method::Getppid, None, 200, 1);
        assert_eq!(gate_name(&row), "getppid");
    }
}
