//! 100,000 random messages through a process's own procsrv cap: random labels (all but
//! `EXIT`, which would end the sender, `KILL`, which could end any process of the test,
//! and `INJECT`, which would fail later hatches on purpose), random lengths and words.
//! procsrv must answer each, then still answer correctly and hold exactly what it held.

use crate::leaks::next;
use crate::tests::Tally;
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Endpoint};
use libsys::println;
use libsys::process::client::{self, usage};
use libsys::process::{Command, SLOT_PROCSRV};
use procsrv_api::{label, WaitStatus};

/// Messages sent.
const MESSAGES: u32 = 100_000;
/// Labels drawn from `0..LABELS` (past every label procsrv knows, `TEST_FILE_SERVER` 64
/// included).
const LABELS: u64 = 80;

pub(crate) fn run(t: &mut Tally) {
    let ids = client::ids();
    let before = usage();
    let procsrv: Cap<Endpoint> = Cap::from_cptr(SLOT_PROCSRV);
    let mut state = 0x05ee_d0ff_100d_u64;
    let (mut answered, mut accepted) = (0u32, 0u32);
    for _ in 0..MESSAGES {
        let mut message = label::EXIT;
        while matches!(message, label::EXIT | label::KILL | label::INJECT) {
            message = next(&mut state) % LABELS;
        }
        let length = next(&mut state) % 513;
        for word in 4..length.min(512) {
            libsys::syscall::set_word(word as usize, next(&mut state));
        }
        let words = [
            next(&mut state),
            next(&mut state) | procsrv_api::WNOHANG,
            next(&mut state),
            next(&mut state),
        ];
        // A WAIT that blocks would wait forever here: WAIT's options word has WNOHANG.
        if let Ok(reply) = procsrv.call(MessageInfo::new(message, length, 0), words) {
            answered += 1;
            if reply.info.label() == procsrv_api::REPLY_OK {
                accepted += 1;
                if message == label::HATCH {
                    // Random bytes that hatched something: end it.
                    let pid = reply.words[0];
                    let _ = client::kill(pid as i64, procsrv_api::signal::SIGKILL);
                    let _ = client::wait(pid, false);
                }
            }
        }
    }
    println!("hatchtest: random messages: {answered} answered, {accepted} accepted");
    t.check(
        "procsrv answers 100,000 random messages",
        answered == MESSAGES,
    );
    t.check(
        "then it still answers correctly (the same ids)",
        client::ids() == ids && ids.is_ok(),
    );
    t.check(
        "and holds exactly the memory, slots and records it held",
        usage() == before,
    );
    t.check(
        "and still hatches",
        Command::new(b"/bin/tiny")
            .spawn()
            .is_ok_and(|mut c| c.wait() == Ok(WaitStatus::Exited(0))),
    );
}
