//! The kernel command line as the loader reads it: space-separated tokens.

/// Tokens that make a fatal error power the VM off with failure instead of halting.
pub const EXIT_TOKENS: [&str; 2] = ["exit", "test"];

/// The whitespace-separated tokens of `cmdline`.
pub fn tokens(cmdline: &[u8]) -> impl Iterator<Item = &[u8]> {
    cmdline
        .split(|b| b.is_ascii_whitespace())
        .filter(|token| !token.is_empty())
}

/// True if `cmdline` holds `exit` or `test`.
pub fn exit_on_fatal(cmdline: &[u8]) -> bool {
    tokens(cmdline).any(|token| EXIT_TOKENS.iter().any(|t| t.as_bytes() == token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_and_test_tokens_are_recognised_as_whole_words() {
        assert!(exit_on_fatal(b"exit"));
        assert!(exit_on_fatal(b"log=debug  test\n"));
        assert!(!exit_on_fatal(b"exited testing"));
        assert!(!exit_on_fatal(b""));
    }
}
