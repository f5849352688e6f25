//! Fuzz target: any bytes through the validator, the decoder, the disassembler and the
//! assembler. Nothing may panic, and they must agree:
//! - `validate` and the decoder report the same first error, or the same op count;
//! - a valid program disassembles, and the text assembles back to the same bytes;
//! - re-encoding the decoded ops gives the same bytes (encodings are canonical);
//! - `run` calls the `Hatch` once per op, in order, or nothing for an invalid program.
#![no_main]

use egg::{
    assemble, decode, disassemble, run, validate, Egg, Hatch, IdList, OpenFlags, Resource, Rights,
    SignalSet, Str,
};
use libfuzzer_sys::fuzz_target;

/// Counts calls; every method succeeds.
struct Counter(usize);

impl Counter {
    fn call(&mut self) -> Result<(), ()> {
        self.0 += 1;
        Ok(())
    }
}

impl Hatch for Counter {
    type Error = ();
    fn open(&mut self, _: u32, _: Str<'_>, _: OpenFlags, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn dup2(&mut self, _: u32, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn close(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn closefrom(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn setpgid(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn setsid(&mut self) -> Result<(), ()> {
        self.call()
    }
    fn setctty(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn tcsetpgrp(&mut self, _: u32, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn chdir(&mut self, _: Str<'_>) -> Result<(), ()> {
        self.call()
    }
    fn fchdir(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn cap(&mut self, _: u32, _: u32, _: Rights, _: u64) -> Result<(), ()> {
        self.call()
    }
    fn bind(&mut self, _: Str<'_>, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn sigsetmask(&mut self, _: SignalSet) -> Result<(), ()> {
        self.call()
    }
    fn sigdefault(&mut self, _: SignalSet) -> Result<(), ()> {
        self.call()
    }
    fn sigignore(&mut self, _: SignalSet) -> Result<(), ()> {
        self.call()
    }
    fn setuid(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn setgid(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn setgroups(&mut self, _: IdList<'_>) -> Result<(), ()> {
        self.call()
    }
    fn umask(&mut self, _: u32) -> Result<(), ()> {
        self.call()
    }
    fn setrlimit(&mut self, _: Resource, _: u64, _: u64) -> Result<(), ()> {
        self.call()
    }
    fn setpriority(&mut self, _: u8) -> Result<(), ()> {
        self.call()
    }
    fn setaffinity(&mut self, _: u64) -> Result<(), ()> {
        self.call()
    }
    fn setname(&mut self, _: Str<'_>) -> Result<(), ()> {
        self.call()
    }
    fn setenv(&mut self, _: Str<'_>, _: Str<'_>) -> Result<(), ()> {
        self.call()
    }
    fn unsetenv(&mut self, _: Str<'_>) -> Result<(), ()> {
        self.call()
    }
    fn clearenv(&mut self) -> Result<(), ()> {
        self.call()
    }
    fn start_suspended(&mut self) -> Result<(), ()> {
        self.call()
    }
}

fuzz_target!(|bytes: &[u8]| {
    let verdict = validate(bytes);
    let items: Vec<_> = decode(bytes).collect();
    let mut counter = Counter(0);
    let ran = run(bytes, &mut counter);
    match verdict {
        Ok(count) => {
            assert_eq!(items.len(), count);
            assert!(items.iter().all(Result::is_ok));
            assert_eq!(ran, Ok(count));
            assert_eq!(counter.0, count);
            let text = disassemble(bytes).expect("a valid program disassembles");
            assert_eq!(assemble(&text).expect("its text assembles"), bytes);
            let egg = items.into_iter().flatten().fold(Egg::new(), Egg::op);
            assert_eq!(egg.build().expect("re-encodes"), bytes);
        }
        Err(error) => {
            assert_eq!(items.last(), Some(&Err(error)));
            assert_eq!(items.len(), error.op_index + 1);
            assert!(error.op_offset <= error.offset && error.offset <= bytes.len());
            assert_eq!(counter.0, 0, "an invalid program ran ops");
            assert!(ran.is_err());
            assert_eq!(disassemble(bytes), Err(error));
            let _ = error.to_string();
        }
    }
    // Whatever the bytes are as text, the assembler must not panic, and anything it
    // accepts must be valid.
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(program) = assemble(text) {
            assert!(validate(&program).is_ok());
        }
    }
});
