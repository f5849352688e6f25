//! Whole-store invariants, checked after every operation of the property tests.
