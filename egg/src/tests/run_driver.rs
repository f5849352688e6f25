//! `run`: validates first, calls in order, stops at the first failure.

use std::vec::Vec;

use super::{Recorder, Refused};
use crate::{run, Egg, ErrorKind, Opcode, RunError, RunErrorCause, O_RDONLY};

#[test]
fn an_invalid_program_runs_nothing() {
    // Two good ops, then an unknown opcode: validation fails before the first call.
    let mut program = Egg::new().setsid().setpgid(0).build().unwrap();
    program.push(0x63);
    let mut recorder = Recorder::default();
    let error = run(&program, &mut recorder).unwrap_err();
    assert!(recorder.calls.is_empty());
    assert_eq!((error.op_index, error.offset), (2, 3));
    match error.cause {
        RunErrorCause::Invalid(decode) => assert_eq!(decode.kind, ErrorKind::UnknownOpcode(99)),
        RunErrorCause::Failed { .. } => panic!("ran an invalid program"),
    }
}

#[test]
fn the_first_failing_op_stops_the_run_and_is_named() {
    let program = Egg::new()
        .setsid()
        .open(0, "/dev/tty", O_RDONLY, 0)
        .dup2(0, 1)
        .dup2(0, 2)
        .build()
        .unwrap();
    let mut recorder = Recorder {
        calls: Vec::new(),
        fail_at: Some(2),
    };
    let error = run(&program, &mut recorder).unwrap_err();
    assert_eq!(
        recorder.calls.len(),
        2,
        "ops after the failure must not run"
    );
    assert_eq!(
        error,
        RunError {
            op_index: 2,
            offset: 14,
            cause: RunErrorCause::Failed {
                opcode: Opcode::Dup2,
                error: Refused
            },
        }
    );
    assert_eq!(error.to_string(), "op 2 at byte 14 (dup2) failed: refused");
}

#[test]
fn run_works_through_a_trait_object() {
    let program = Egg::new().clearenv().start_suspended().build().unwrap();
    let mut recorder = Recorder::default();
    let hatch: &mut dyn crate::Hatch<Error = Refused> = &mut recorder;
    assert_eq!(run(&program, hatch), Ok(2));
}
