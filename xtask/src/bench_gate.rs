//! The regression gate of the benchmarks: instruction counts under `-icount shift=0` are
//! deterministic, so each run is compared with a baseline committed in the repository
//! (`bench/baseline/<benchmark>.txt`) and fails when a figure grows by more than
//! [`TOLERANCE_PERCENT`], when a figure of the baseline is missing, or when a figure is
//! not in the baseline yet.
//!
//! The baseline moves on purpose only: `cargo xtask bench <benchmark> --update-baseline`
//! rewrites it from the run, and the new file is committed with the change that moved the
//! figures. A figure that shrank by more than the tolerance passes, with a note saying the
//! baseline could be lowered.

use std::path::PathBuf;

use crate::steps::workspace_root;

/// How much a figure may grow before the gate fails.
pub const TOLERANCE_PERCENT: u64 = 2;

/// The baseline file of `benchmark`.
pub fn baseline_path(benchmark: &str) -> PathBuf {
    workspace_root()
        .join("bench")
        .join("baseline")
        .join(format!("{benchmark}.txt"))
}

/// One named instruction count.
pub type Figure = (String, u64);

/// Reads a baseline: one `name instructions` per line; `#` starts a comment line.
///
/// # Errors
/// A line that is not a name and a number, or a name given twice.
pub fn parse(text: &str) -> Result<Vec<Figure>, String> {
    let mut figures: Vec<Figure> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {}: `{line}` is not `name instructions`", index + 1);
        let (name, value) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
        let value: u64 = value.trim().parse().map_err(|_| bad())?;
        if figures.iter().any(|(known, _)| known == name) {
            return Err(format!("line {}: `{name}` is given twice", index + 1));
        }
        figures.push((name.to_string(), value));
    }
    Ok(figures)
}

/// The baseline file for `figures`, with a header saying how to update it.
pub fn render(benchmark: &str, figures: &[Figure]) -> String {
    let mut text = format!(
        "# Instruction counts of `cargo xtask bench {benchmark}` (release build, QEMU TCG -icount shift=0).\n\
         # The benchmark fails when one grows by more than {TOLERANCE_PERCENT}%. Update on purpose, in the commit\n\
         # that moves them: `cargo xtask bench {benchmark} --update-baseline` (docs/benchmarks.md).\n"
    );
    for (name, value) in figures {
        text += &format!("{name} {value}\n");
    }
    text
}

/// What the gate found for one figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the tolerance of the baseline.
    Within { baseline: u64, now: u64 },
    /// Grew by more than the tolerance: fails.
    Grew { baseline: u64, now: u64 },
    /// Shrank by more than the tolerance: passes; the baseline could be lowered.
    Shrank { baseline: u64, now: u64 },
    /// In the baseline, not measured by this run: fails.
    Missing { baseline: u64 },
    /// Measured, not in the baseline: fails until the baseline is updated.
    New { now: u64 },
}

impl Verdict {
    /// Whether this verdict fails the gate.
    pub fn fails(&self) -> bool {
        matches!(
            self,
            Self::Grew { .. } | Self::Missing { .. } | Self::New { .. }
        )
    }

    fn describe(&self) -> String {
        let change = |baseline: u64, now: u64| {
            // Percentages for people: precision loss is irrelevant.
            #[allow(clippy::cast_precision_loss)]
            let percent = (now as f64 - baseline as f64) * 100.0 / baseline.max(1) as f64;
            format!("{now} instructions, baseline {baseline} ({percent:+.1}%)")
        };
        match *self {
            Self::Within { baseline, now } => change(baseline, now),
            Self::Grew { baseline, now } => format!(
                "{}: grew by more than {TOLERANCE_PERCENT}%",
                change(baseline, now)
            ),
            Self::Shrank { baseline, now } => format!(
                "{}: better; lower the baseline with --update-baseline",
                change(baseline, now)
            ),
            Self::Missing { baseline } => {
                format!("in the baseline ({baseline}) but not measured")
            }
            Self::New { now } => {
                format!("{now} instructions, not in the baseline: add it with --update-baseline")
            }
        }
    }
}

/// Compares `current` with `baseline`, figure by figure (baseline order, then new ones).
pub fn compare(baseline: &[Figure], current: &[Figure]) -> Vec<(String, Verdict)> {
    let find = |figures: &[Figure], name: &str| {
        figures
            .iter()
            .find(|(known, _)| known == name)
            .map(|&(_, value)| value)
    };
    let mut verdicts = Vec::new();
    for (name, baseline) in baseline {
        let baseline = *baseline;
        let verdict = match find(current, name) {
            None => Verdict::Missing { baseline },
            Some(now) if now * 100 > baseline * (100 + TOLERANCE_PERCENT) => {
                Verdict::Grew { baseline, now }
            }
            Some(now) if now * 100 < baseline * (100 - TOLERANCE_PERCENT) => {
                Verdict::Shrank { baseline, now }
            }
            Some(now) => Verdict::Within { baseline, now },
        };
        verdicts.push((name.clone(), verdict));
    }
    for (name, now) in current {
        if find(baseline, name).is_none() {
            verdicts.push((name.clone(), Verdict::New { now: *now }));
        }
    }
    verdicts
}

/// Runs the gate of `benchmark` on `current`: prints one line per figure, then either
/// rewrites the baseline (`update`) or fails when a verdict fails.
///
/// # Errors
/// A figure grew, is missing or is new; the baseline is unreadable or malformed.
pub fn check(benchmark: &str, current: &[Figure], update: bool) -> Result<(), String> {
    let path = baseline_path(benchmark);
    let shown = path
        .strip_prefix(workspace_root())
        .unwrap_or(&path)
        .display()
        .to_string();
    if update {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, render(benchmark, current))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "xtask: baseline {shown} rewritten with {} figures: commit it with the change that moved them",
            current.len()
        );
        return Ok(());
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no baseline {shown}: write it with `cargo xtask bench {benchmark} --update-baseline` and commit it"
            ))
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let baseline = parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    let verdicts = compare(&baseline, current);
    for (name, verdict) in &verdicts {
        let mark = if verdict.fails() { "FAIL" } else { "ok" };
        println!("xtask: gate {mark} {name}: {}", verdict.describe());
    }
    let failed = verdicts.iter().filter(|(_, v)| v.fails()).count();
    if failed > 0 {
        return Err(format!(
            "{failed} figure(s) failed the gate against {shown} (more than {TOLERANCE_PERCENT}% growth, missing or new); \
             if that is on purpose, run `cargo xtask bench {benchmark} --update-baseline` and commit the baseline"
        ));
    }
    println!(
        "xtask: gate passed: {} figures within {TOLERANCE_PERCENT}% of {shown} or better",
        verdicts.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(list: &[(&str, u64)]) -> Vec<Figure> {
        list.iter().map(|&(n, v)| (n.to_string(), v)).collect()
    }

    #[test]
    fn render_and_parse_round_trip() {
        let list = figures(&[("ipc-1word", 402), ("ipc-4KiB", 2214)]);
        let text = render("ipc", &list);
        assert!(text.contains("--update-baseline"));
        assert_eq!(parse(&text).unwrap(), list);
    }

    #[test]
    fn parse_refuses_bad_lines_and_repeated_names() {
        assert!(parse("ipc-1word\n").unwrap_err().contains("line 1"));
        assert!(parse("ipc-1word 40x\n").unwrap_err().contains("line 1"));
        assert!(parse("# c\na 1\na 2\n")
            .unwrap_err()
            .contains("line 3: `a` is given twice"));
        assert_eq!(parse("\n  # only comments\n").unwrap(), []);
    }

    #[test]
    fn growth_beyond_two_percent_fails_and_up_to_two_percent_passes() {
        let baseline = figures(&[("a", 1000), ("b", 1000), ("c", 402)]);
        // 1020 is exactly +2%: within. 1021 is more. 410 is +1.99% of 402.
        let verdicts = compare(&baseline, &figures(&[("a", 1020), ("b", 1021), ("c", 410)]));
        assert_eq!(
            verdicts,
            [
                (
                    "a".to_string(),
                    Verdict::Within {
                        baseline: 1000,
                        now: 1020
                    }
                ),
                (
                    "b".to_string(),
                    Verdict::Grew {
                        baseline: 1000,
                        now: 1021
                    }
                ),
                (
                    "c".to_string(),
                    Verdict::Within {
                        baseline: 402,
                        now: 410
                    }
                ),
            ]
        );
        assert!(!verdicts[0].1.fails() && verdicts[1].1.fails());
    }

    #[test]
    fn shrinking_passes_missing_and_new_figures_fail() {
        let verdicts = compare(
            &figures(&[("fast", 1000), ("gone", 5)]),
            &figures(&[("fast", 900), ("added", 7)]),
        );
        let kinds: Vec<(&str, bool)> = verdicts
            .iter()
            .map(|(name, verdict)| (name.as_str(), verdict.fails()))
            .collect();
        assert_eq!(kinds, [("fast", false), ("gone", true), ("added", true)]);
        assert_eq!(
            verdicts[0].1,
            Verdict::Shrank {
                baseline: 1000,
                now: 900
            }
        );
        assert!(verdicts[0].1.describe().contains("-10.0%"));
    }
}
