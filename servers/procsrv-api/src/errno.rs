//! Errno-style errors: Linux numbers, a name and a one-line reason each.

macro_rules! errnos {
    ($($(#[$m:meta])* $name:ident = $value:expr, $reason:expr;)+) => {
        /// An error procsrv answers with (Linux x86_64 numbers).
        #[repr(u64)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Errno {
            $($(#[$m])* $name = $value,)+
        }

        impl Errno {
            /// Every error, in number order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)+];

            /// The number.
            pub const fn number(self) -> u64 {
                self as u64
            }

            /// The name (`"EPERM"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)+
                }
            }

            /// One line saying what went wrong.
            pub const fn reason(self) -> &'static str {
                match self {
                    $(Errno::$name => $reason,)+
                }
            }

            /// The error numbered `number`, if there is one.
            pub const fn from_number(number: u64) -> Option<Errno> {
                match number {
                    $(n if n == $value => Some(Errno::$name),)+
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    /// Not allowed (credentials, limits, group leaders).
    EPERM = 1, "operation not permitted";
    /// No such program or file.
    ENOENT = 2, "no such file or directory";
    /// No such process.
    ESRCH = 3, "no such process";
    /// The request or its strings are too large.
    E2BIG = 7, "argument list or request too long";
    /// The program is not a loadable ELF.
    ENOEXEC = 8, "not an executable program";
    /// A descriptor that is not open.
    EBADF = 9, "bad file descriptor";
    /// No child to wait for.
    ECHILD = 10, "no child processes";
    /// Would block (WNOHANG), or a resource is exhausted for now (process table).
    EAGAIN = 11, "try again";
    /// Out of memory or CNode slots.
    ENOMEM = 12, "out of memory";
    /// A cap or request the caller may not use.
    EACCES = 13, "permission denied";
    /// A request buffer that cannot be read.
    EFAULT = 14, "bad address";
    /// A cap that is in use in a way that forbids the operation.
    EBUSY = 16, "device or resource busy";
    /// A number or argument out of its range, or an invalid egg.
    EINVAL = 22, "invalid argument";
    /// A descriptor number at or above RLIMIT_NOFILE.
    EMFILE = 24, "too many open files";
    /// Not a terminal, or not this session's terminal.
    ENOTTY = 25, "not a terminal";
    /// Unknown request label or unsupported operation.
    ENOSYS = 38, "function not implemented";
    /// A server did not answer within the request's bound.
    ETIMEDOUT = 110, "timed out";
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name(), self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_numbers_names_and_reasons_agree() {
        for &e in Errno::ALL {
            assert_eq!(Errno::from_number(e.number()), Some(e));
            assert!(e.name().starts_with('E'));
            assert!(!e.reason().is_empty());
        }
        assert_eq!(Errno::from_number(0), None);
        assert_eq!(Errno::EPERM.number(), 1);
        assert_eq!(Errno::ETIMEDOUT.number(), 110);
    }
}
