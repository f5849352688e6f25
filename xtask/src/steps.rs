//! Progress lines and step timings.
//!
//! Every stage prints one short line when it starts (`xtask: build kernel ...`); at the end
//! [`Steps::summary`] prints the wall time of each step on one line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The root of the workspace (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Debug or release build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (opt-level 1 for the kernel, from the workspace profile).
    Debug,
    /// `cargo build --release`.
    Release,
}

impl Profile {
    /// `Release` when `release` is set.
    pub fn from_release_flag(release: bool) -> Self {
        if release {
            Self::Release
        } else {
            Self::Debug
        }
    }

    /// The directory name cargo uses: `debug` or `release`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Release => "release",
        }
    }

    /// `build/<profile>/`, created if needed.
    pub fn build_dir(self) -> Result<PathBuf, String> {
        let dir = workspace_root().join("build").join(self.dir_name());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(dir)
    }
}

/// The steps of one xtask command, with their wall times.
#[derive(Default)]
pub struct Steps {
    done: Vec<(String, Duration)>,
}

impl Steps {
    /// No steps yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prints `xtask: <name> ...`, runs `body`, records its time.
    pub fn run<T>(
        &mut self,
        name: &str,
        body: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        println!("xtask: {name} ...");
        let start = Instant::now();
        let result = body();
        self.record(name, start.elapsed());
        result.map_err(|error| format!("{name}: {error}"))
    }

    /// Records a step timed elsewhere.
    pub fn record(&mut self, name: &str, elapsed: Duration) {
        self.done.push((name.to_string(), elapsed));
    }

    /// Prints `xtask: times: a 1.23 s, b 0.04 s`.
    pub fn summary(&self) {
        let times: Vec<String> = self
            .done
            .iter()
            .map(|(name, elapsed)| format!("{name} {:.2} s", elapsed.as_secs_f64()))
            .collect();
        println!("xtask: times: {}", times.join(", "));
    }
}

/// Runs `command` with its output shown; an error names the command and its status.
pub fn run_command(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot start {}: {e}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(command)))
    }
}

/// Runs `command` quietly; on failure its output is printed, then the error returned.
pub fn run_quiet(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot start {}: {e}", describe(command)))?;
    if output.status.success() {
        return Ok(());
    }
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    Err(format!("{} failed ({})", describe(command), output.status))
}

/// `program arg arg ...` of a command, for messages.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
