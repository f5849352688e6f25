//! Test failures and the macros that produce them.

use core::fmt::{self, Write};
use libsys::abi::Error;
use libsys::cap::InvocationResult;

/// Why a test failed: a short message with the source line.
pub struct Fail {
    text: [u8; 192],
    len: usize,
}

/// What a test returns.
pub type TestResult = Result<(), Fail>;

impl Fail {
    /// A failure with a formatted message.
    pub fn new(line: u32, args: fmt::Arguments) -> Self {
        let mut fail = Fail {
            text: [0; 192],
            len: 0,
        };
        let _ = write!(fail, "line {line}: {args}");
        fail
    }
}

impl Write for Fail {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len < self.text.len() {
                self.text[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(core::str::from_utf8(&self.text[..self.len]).unwrap_or("?"))
    }
}

/// A [`Fail`] with a formatted message and the current line.
#[macro_export]
macro_rules! fail {
    ($($t:tt)*) => { $crate::check::Fail::new(line!(), format_args!($($t)*)) };
}

/// Fails the test unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($t:tt)*) => {
        if !$cond {
            return Err($crate::fail!($($t)*));
        }
    };
}

/// Unwraps an `InvocationResult`, failing the test with the error and the expression.
#[macro_export]
macro_rules! ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return Err($crate::fail!("{}: {}", stringify!($e), err)),
        }
    };
}

/// Fails the test unless `result` is the error `error` about argument `argument`.
#[macro_export]
macro_rules! expect_err {
    ($result:expr, $error:expr, $argument:expr) => {
        $crate::check::expect_one_of(&$result, &[$error], $argument, line!())?
    };
}

/// Fails the test unless `result` is one of `errors` about argument `argument` (for the
/// cases where docs/syscalls.md admits more than one code).
#[macro_export]
macro_rules! expect_any {
    ($result:expr, $errors:expr, $argument:expr) => {
        $crate::check::expect_one_of(&$result, &$errors, $argument, line!())?
    };
}

/// Do not check the argument index.
pub const ANY_ARG: u64 = u64::MAX - 1;

/// See [`expect_err!`].
pub fn expect_one_of<T>(
    result: &InvocationResult<T>,
    errors: &[Error],
    argument: u64,
    line: u32,
) -> TestResult {
    match result {
        Ok(_) => Err(Fail::new(
            line,
            format_args!("succeeded, expected {}", Names(errors, argument)),
        )),
        Err(e) if errors.contains(&e.error) && (argument == ANY_ARG || e.argument == argument) => {
            Ok(())
        }
        Err(e) => Err(Fail::new(
            line,
            format_args!("got {e}, expected {}", Names(errors, argument)),
        )),
    }
}

struct Names<'a>(&'a [Error], u64);

impl fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            f.write_str(e.name())?;
        }
        match self.1 {
            ANY_ARG => Ok(()),
            libsys::cap::INVOKED_CAP => f.write_str(" (invoked cap)"),
            n => write!(f, " (argument {n})"),
        }
    }
}

/// Whether an error is about a missing cap: docs/syscalls.md allows `FailedLookup` (the cptr
/// did not resolve to a cap) and `InvalidCapability` (no cap of the needed kind).
pub const MISSING_CAP: [Error; 2] = [Error::FailedLookup, Error::InvalidCapability];

/// The error of a wrong-kind invoked cap: `InvalidCapability`, or `IllegalOperation` (the
/// label is not an operation of that object).
pub const WRONG_INVOKED: [Error; 2] = [Error::InvalidCapability, Error::IllegalOperation];

/// An out-of-range argument: `InvalidArgument` or `RangeError`.
pub const OUT_OF_RANGE: [Error; 2] = [Error::InvalidArgument, Error::RangeError];
