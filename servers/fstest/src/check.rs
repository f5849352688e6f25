//! Counting checks and printing the failures.

/// Passed and failed checks.
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    pub fn new() -> Self {
        Checks {
            passed: 0,
            failed: 0,
        }
    }

    /// Records a check: `what` passed when `ok`; otherwise `detail` is printed.
    pub fn check(&mut self, what: &str, ok: bool, detail: core::fmt::Arguments) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            crate::say!("fstest: FAIL {what}: {detail}");
        }
    }

    /// Records that `got` equals `want`.
    pub fn eq<T: PartialEq + core::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        let ok = got == want;
        self.check(what, ok, format_args!("got {got:?}, want {want:?}"));
    }

    /// Prints a section's result line.
    pub fn section(&self, name: &str, before: (u32, u32)) {
        crate::say!(
            "fstest: {name}: {} passed, {} failed",
            self.passed - before.0,
            self.failed - before.1
        );
    }

    /// The counts so far.
    pub fn counts(&self) -> (u32, u32) {
        (self.passed, self.failed)
    }

    pub fn summary(&self) {
        crate::say!(
            "fstest: done: {} passed, {} failed",
            self.passed,
            self.failed
        );
    }
}
