//! `hello`: a short tour, as an ordinary program hatched by procsrv at boot.
//!
//! It reports who it is (pid, parent, group, session, arguments, environment), hatches a
//! child from the boot archive with an egg that gives it one endpoint, calls it, waits for
//! it, and decodes an egg: the byte code processes are hatched from. Everything it prints
//! starts with `hello:`.
#![no_std]
#![no_main]

use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::object::{ObjectType, Rights};
use libsys::println;
use libsys::process::client::{ids, make_object};
use libsys::process::{CapSet, Command, Startup};

libsys::entry!(main);

/// An egg that sets up a login shell (assembled with `cargo xtask egg asm`):
///
/// ```text
/// setsid
/// open 0 "/dev/console" O_RDWR 0
/// setctty 0
/// dup2 0 1
/// dup2 0 2
/// cap 8 0 READ|WRITE 0x2a
/// chdir "/home/user"
/// setenv "TERM" "vt100"
/// setname "sh"
/// ```
const LOGIN_EGG: &[u8] = &[
    0x06, 0x01, 0x00, 0x0c, 0x2f, 0x64, 0x65, 0x76, 0x2f, 0x63, 0x6f, 0x6e, 0x73, 0x6f, 0x6c, 0x65,
    0x02, 0x00, 0x07, 0x00, 0x02, 0x00, 0x01, 0x02, 0x00, 0x02, 0x0b, 0x08, 0x00, 0x03, 0x2a, 0x09,
    0x0a, 0x2f, 0x68, 0x6f, 0x6d, 0x65, 0x2f, 0x75, 0x73, 0x65, 0x72, 0x18, 0x04, 0x54, 0x45, 0x52,
    0x4d, 0x05, 0x76, 0x74, 0x31, 0x30, 0x30, 0x17, 0x02, 0x73, 0x68,
];

fn main(stack: u64) {
    // SAFETY: procsrv starts every hatched process with `rdi` pointing at its System V
    // initial stack, which stays untouched above the running stack.
    let start = unsafe { Startup::from_stack(stack) };
    // Its I/O window, so that `println!` reaches fd 1 (the shell's terminal) when it has
    // one; without a file server its lines go to the kernel's debug console.
    let _ = libsys::process::client::attach_window();
    let [pid, ppid, pgid, sid] = ids().unwrap_or([0; 4]);
    println!("hello: I am pid {pid} (parent {ppid}, group {pgid}, session {sid}), hatched by procsrv from an egg");
    for (i, arg) in start.args().enumerate() {
        println!(
            "hello:   argv[{i}] = {}",
            core::str::from_utf8(arg).unwrap_or("?")
        );
    }
    for var in start.env() {
        println!("hello:   env {}", core::str::from_utf8(var).unwrap_or("?"));
    }
    if let Err(why) = child() {
        println!("hello: the child failed: {why}");
    }
    egg();
    println!("hello: that is the tour; exiting");
}

/// Hatches `hatchchild echo` with one endpoint, calls it, waits for it.
fn child() -> Result<(), &'static str> {
    let endpoint: Cap<Endpoint> = Cap::from_cptr(
        make_object(ObjectType::Endpoint, 0).map_err(|_| "cannot make an endpoint")?,
    );
    let caps = CapSet::new(1).map_err(|_| "cannot make a cap set")?;
    caps.put(0, endpoint, Rights::ALL)
        .map_err(|_| "cannot put the endpoint in the cap set")?;
    let (cnode, radix) = caps.cnode();
    let mut child = Command::new(b"/bin/hatchchild")
        .arg(b"hatchchild")
        .arg(b"echo")
        .caps(cnode, radix)
        .cap(16, 0, Rights::ALL.bits(), 0)
        .setname(b"echo")
        .spawn()
        .map_err(|_| "procsrv refused the hatch")?;
    println!(
        "hello: hatched /bin/hatchchild as pid {} with one capability, an endpoint (egg: cap 16 0 READ|WRITE|GRANT|GRANT_REPLY 0; setname \"echo\")",
        child.id()
    );
    let reply = endpoint
        .call(MessageInfo::new(1, 2, 0), [41, 99, 0, 0])
        .map_err(|_| "the call failed")?;
    println!(
        "hello: called it through the endpoint with (41, 99); it answered ({}, {})",
        reply.words[0], reply.words[1]
    );
    let status = child.wait().map_err(|_| "wait failed")?;
    println!("hello: waited for it: {status}; its memory went back to procsrv when it exited");
    Ok(())
}

/// Decodes the login egg and prints it.
fn egg() {
    println!(
        "hello: processes will be hatched from eggs; this {}-byte one sets up a login shell:",
        LOGIN_EGG.len()
    );
    for op in egg::decode(LOGIN_EGG) {
        match op {
            Ok(op) => println!("hello:   {op}"),
            Err(e) => {
                println!("hello:   (invalid: {e})");
                break;
            }
        }
    }
}
