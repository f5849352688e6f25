//! Tests of whole operations over a test store; unit tests of the pieces sit beside them.
