//! `ipcpeer`: the far side of the IPC tests and the IPC benchmark, in its own address space.
//! See the library ([`ipcpeer`]) for the protocol.
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use core::arch::asm;
use ipcpeer::{label, mode, FAULT_NULL_MAGIC, FAULT_NULL_MAGIC_OFFSET};
use ipcpeer::{SLOT_ENDPOINT, SLOT_NOTIFICATION, SLOT_RECEIVE, SLOT_REPORT};
use libsys::abi::MessageInfo;
use libsys::bootinfo::SLOT_CNODE;
use libsys::cap::{CNode, Cap, Endpoint, Notification, Received, SlotPath};
use libsys::syscall;

libsys::entry!(main);

const ENDPOINT: Cap<Endpoint> = Cap::from_cptr(SLOT_ENDPOINT);
const REPORT: Cap<Endpoint> = Cap::from_cptr(SLOT_REPORT);
const NOTIFICATION: Cap<Notification> = Cap::from_cptr(SLOT_NOTIFICATION);
const OWN_CNODE: Cap<CNode> = Cap::from_cptr(SLOT_CNODE);

fn main(start_mode: u64) {
    match start_mode {
        mode::SERVER => server(),
        mode::PONG => pong(false),
        mode::PONG_CAP => pong(true),
        mode::STAMP => stamp(false),
        mode::STAMP_CAP => stamp(true),
        mode::FAULT_NULL => fault_null(),
        mode::FAULT_UD2 => fault_ud2(),
        mode::FAULT_DIVIDE => fault_divide(),
        mode::BLOCK_RECV | mode::BLOCK_SEND | mode::BLOCK_WAIT | mode::BLOCK_CALL => {
            block(start_mode)
        }
        other => libsys::println!("ipcpeer: unknown mode {other}"),
    }
}

fn report(label: u64, words: [u64; 4], length: u64) {
    let _ = REPORT.send(MessageInfo::new(label, length, 0), words);
}

/// What the server remembers of the previous message.
#[derive(Default, Clone, Copy)]
struct Last {
    label: u64,
    word0: u64,
    badge: u64,
    length: u64,
}

/// The [`mode::SERVER`] loop: handle one message, reply, wait for the next.
fn server() {
    syscall::set_receive_slot(SLOT_RECEIVE);
    let mut last = Last::default();
    let mut message = ENDPOINT.recv();
    loop {
        let received = match message {
            Ok(received) => received,
            Err(_) => {
                message = ENDPOINT.recv();
                continue;
            }
        };
        let (reply_info, reply_words, after) = handle(&received, &last);
        last = Last {
            label: received.info.label(),
            word0: received.words[0],
            badge: received.badge,
            length: received.info.length(),
        };
        if after == After::Nothing {
            message = ENDPOINT.reply_recv(reply_info, reply_words);
            continue;
        }
        let _ = libsys::cap::reply(reply_info, reply_words);
        match after {
            After::Send(how) => {
                let info = MessageInfo::new(label::REPORT, 3, 0);
                let words = [received.words[1], received.words[2], received.words[3], 0];
                match how {
                    0 => {
                        let _ = REPORT.send(info, words);
                    }
                    1 => {
                        let _ = REPORT.nb_send(info, words);
                    }
                    _ => {
                        // Remember the reply, for LAST.
                        if let Ok(reply) = REPORT.call(info, words) {
                            last = Last {
                                label: reply.info.label(),
                                word0: reply.words[0],
                                badge: reply.badge,
                                length: reply.info.length(),
                            };
                        }
                        if how == 3 {
                            let _ = REPORT.send(info, words);
                        }
                    }
                }
            }
            After::Wait => {
                let bits = NOTIFICATION.wait().unwrap_or(u64::MAX);
                report(label::REPORT, [bits, 0, 0, 0], 1);
            }
            After::Exit => return,
            After::Nothing => {}
        }
        message = ENDPOINT.recv();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Nothing,
    Send(u64),
    Wait,
    Exit,
}

fn handle(received: &Received, last: &Last) -> (MessageInfo, [u64; 4], After) {
    let info = received.info;
    let w = received.words;
    match info.label() {
        label::ECHO => {
            let length = info.length().min(MessageInfo::MAX_LENGTH);
            for i in 4..length as usize {
                syscall::set_word(i, syscall::word(i).wrapping_add(1));
            }
            let words = w.map(|x| x.wrapping_add(1));
            (
                MessageInfo::new(label::ECHO, length, 0),
                words,
                After::Nothing,
            )
        }
        label::INSPECT => {
            let caps = info.caps() | (info.caps_unwrapped() << 8);
            let unwrapped = syscall::unwrapped_badge(0);
            let (kind, badge, rights) = match Cap::<Endpoint>::from_cptr(SLOT_RECEIVE).identify() {
                Ok(id) => (id.kind, id.badge, id.rights),
                Err(_) => (0, 0, 0),
            };
            let _ = OWN_CNODE.delete(SlotPath::at(SLOT_RECEIVE));
            syscall::set_word(4, badge);
            syscall::set_word(5, rights);
            syscall::set_word(6, syscall::unwrapped_badge(1));
            syscall::set_word(7, syscall::unwrapped_badge(2));
            let words = [received.badge, caps, unwrapped, kind];
            (
                MessageInfo::new(label::INSPECT, 8, 0),
                words,
                After::Nothing,
            )
        }
        label::SUM => {
            let length = info.length().min(MessageInfo::MAX_LENGTH) as usize;
            let word = |i: usize| w.get(i).copied().unwrap_or_else(|| syscall::word(i));
            let sum = (0..length).fold(0u64, |sum, i| sum.wrapping_add(word(i)));
            (
                MessageInfo::new(label::SUM, 2, 0),
                [sum, length as u64, 0, 0],
                After::Nothing,
            )
        }
        label::LAST => {
            let words = [last.label, last.word0, last.badge, last.length];
            (MessageInfo::new(label::LAST, 4, 0), words, After::Nothing)
        }
        label::REPLY_THEN_SEND => (MessageInfo::new(0, 0, 0), [0; 4], After::Send(w[0])),
        label::REPLY_THEN_WAIT => (MessageInfo::new(0, 0, 0), [0; 4], After::Wait),
        label::EXIT => (MessageInfo::new(0, 0, 0), [0; 4], After::Exit),
        _ => (
            MessageInfo::new(label::UNKNOWN, 0, 0),
            [0; 4],
            After::Nothing,
        ),
    }
}

/// The benchmark's pong loop: echo every message with its length; with `caps`, delete the
/// cap each message brings first.
fn pong(caps: bool) {
    if caps {
        syscall::set_receive_slot(SLOT_RECEIVE);
    }
    let mut received = match syscall::recv(SLOT_ENDPOINT) {
        Ok(r) => r,
        Err(_) => return,
    };
    loop {
        if caps {
            let _ = OWN_CNODE.delete(SlotPath::at(SLOT_RECEIVE));
        }
        let info = MessageInfo::new(0, received.info.length(), 0);
        received = match syscall::reply_recv(SLOT_ENDPOINT, info, received.words) {
            Ok(r) => r,
            Err(_) => return,
        };
    }
}

/// The benchmark's one-way loop ([`mode::STAMP`]): answer every message with the time it
/// arrived; with `caps`, delete the cap each message brings, after reading the time.
fn stamp(caps: bool) {
    if caps {
        syscall::set_receive_slot(SLOT_RECEIVE);
    }
    if syscall::recv(SLOT_ENDPOINT).is_err() {
        return;
    }
    loop {
        let arrived = libsys::time::now();
        if caps {
            let _ = OWN_CNODE.delete(SlotPath::at(SLOT_RECEIVE));
        }
        let info = MessageInfo::new(0, 1, 0);
        if syscall::reply_recv(SLOT_ENDPOINT, info, [arrived, 0, 0, 0]).is_err() {
            return;
        }
    }
}

fn fault_null() {
    syscall::set_word(4 + (FAULT_NULL_MAGIC_OFFSET / 8) as usize, FAULT_NULL_MAGIC);
    let value: u64;
    // SAFETY: deliberately loads through a null pointer: the kernel turns the page fault
    // into a message to our fault handler, which points r12 at our IPC buffer (mapped,
    // readable) before resuming us; the load touches no Rust-visible memory.
    unsafe {
        asm!("mov {value}, qword ptr [r12]", value = out(reg) value, inout("r12") 0u64 => _,
            options(nostack, readonly));
    }
    report(label::RESUMED, [value, 0, 0, 0], 1);
}

fn fault_ud2() {
    // SAFETY: `ud2` faults; the handler resumes us 2 bytes later, at the next instruction.
    // No registers or memory change.
    unsafe { asm!("ud2", options(nostack, nomem)) };
    report(label::RESUMED, [0x0d2, 0, 0, 0], 1);
}

fn fault_divide() {
    let quotient: u64;
    // SAFETY: divides 100 by r12 = 0, a divide error; the handler sets r12 and resumes us at
    // the `div`, which then completes. Only the declared registers change.
    unsafe {
        asm!("div r12", inout("rax") 100u64 => quotient, inout("rdx") 0u64 => _,
            inout("r12") 0u64 => _, options(nostack, nomem));
    }
    report(label::RESUMED, [quotient, 0, 0, 0], 1);
}

fn block(how: u64) {
    report(label::READY, [how, 0, 0, 0], 1);
    let info = MessageInfo::new(label::ECHO, 1, 0);
    let result = match how {
        mode::BLOCK_RECV => ENDPOINT.recv().map(drop),
        mode::BLOCK_SEND => ENDPOINT.send(info, [1, 0, 0, 0]),
        mode::BLOCK_CALL => ENDPOINT.call(info, [1, 0, 0, 0]).map(drop),
        _ => NOTIFICATION.wait().map(drop),
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => e.error as u64,
    };
    report(label::CANCELLED, [code, 0, 0, 0], 1);
}
