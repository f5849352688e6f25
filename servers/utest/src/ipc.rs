//! IPC between address spaces: Call, Reply, ReplyRecv, Send, NBSend, Recv, NBRecv; long
//! messages; badges; capability transfer and unwrapping. The other side is `ipcpeer` in
//! `mode::SERVER` (see its protocol).

use crate::check::{Fail, TestResult, ANY_ARG, MISSING_CAP};
use crate::{ensure, expect_any, expect_err, fail, ok, Ctx, Test};
use ipcpeer::{label, mode};
use libsys::abi::{Error, MessageInfo};
use libsys::cap::{Cap, Endpoint, Frame, Received, Reply, INVOKED_CAP};
use libsys::loader::Process;
use libsys::object::{CapKind, Rights};
use libsys::syscall::{set_send_cap, set_word, word, yield_now};

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    call_carries_0_1_4_5_and_512_words_both_ways,
    all_512_words_arrive,
    lengths_past_512_words_are_clipped,
    badges_are_delivered_to_the_receiver,
    send_is_received_by_a_waiting_server,
    nb_send_reaches_a_waiting_receiver,
    nb_send_without_a_receiver_is_dropped,
    recv_takes_a_blocked_sender,
    nb_recv_takes_a_waiting_sender,
    nb_recv_with_nothing_pending_would_block,
    reply_answers_a_call,
    reply_recv_answers_and_waits_again,
    reply_without_a_caller_is_harmless,
    ipc_needs_the_right_rights,
    ipc_on_other_objects_fails,
    a_badged_endpoint_cap_is_transferred,
    caps_need_the_grant_right,
    the_receivers_own_endpoint_is_unwrapped_to_its_badge,
    three_caps_in_one_message,
    sending_a_missing_cap_fails,
    saved_replies_answer_later,
    reply_save_needs_an_owed_reply,
    deleting_a_reply_object_cancels_its_caller,
];

/// A server peer on a new endpoint, reporting on a second one (badge `0x99` on the peer's
/// copy).
pub struct Server {
    /// The endpoint the peer serves.
    pub endpoint: Cap<Endpoint>,
    /// The endpoint the peer reports to.
    pub report: Cap<Endpoint>,
    /// The peer.
    pub process: Process,
}

/// Badge of the peer's report cap.
pub const REPORT_BADGE: u64 = 0x99;

/// Starts a peer in `mode` with a fresh endpoint and report endpoint.
pub fn start(ctx: &mut Ctx, peer_mode: u64) -> Result<Server, Fail> {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let report: Cap<Endpoint> = ctx.make()?;
    let config = ctx.peer_config();
    let process = ctx.peer(&config)?;
    crate::give(&process, &ctx.loader, endpoint, ipcpeer::SLOT_ENDPOINT)?;
    process
        .give_badged(
            &ctx.loader,
            report,
            ipcpeer::SLOT_REPORT,
            Rights::ALL,
            REPORT_BADGE,
        )
        .map_err(|e| fail!("give report cap: {e}"))?;
    process.start(peer_mode).map_err(|e| fail!("start: {e}"))?;
    Ok(Server {
        endpoint,
        report,
        process,
    })
}

fn info(label: u64, length: u64) -> MessageInfo {
    MessageInfo::new(label, length, 0)
}

fn pattern(seed: u64, i: usize) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(i as u64 * 0x1_0001)
}

fn call_carries_0_1_4_5_and_512_words_both_ways(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    for length in [0u64, 1, 4, 5, 512] {
        let mut regs = [0u64; 4];
        for i in 0..length as usize {
            let value = pattern(length, i);
            match regs.get_mut(i) {
                Some(r) => *r = value,
                None => set_word(i, value),
            }
        }
        let reply = ok!(server.endpoint.call(info(label::ECHO, length), regs));
        ensure!(
            reply.info.label() == label::ECHO,
            "{length} words: label {:#x}",
            reply.info.label()
        );
        ensure!(
            reply.info.length() == length,
            "{length} words: reply length {}",
            reply.info.length()
        );
        for i in 0..length as usize {
            let got = if i < 4 { reply.words[i] } else { word(i) };
            let want = pattern(length, i).wrapping_add(1);
            ensure!(
                got == want,
                "{length} words: word {i} is {got:#x}, want {want:#x}"
            );
        }
    }
    Ok(())
}

fn all_512_words_arrive(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let mut sum = 0u64;
    let mut regs = [0u64; 4];
    for i in 0..512 {
        let value = pattern(7, i);
        sum = sum.wrapping_add(value);
        match regs.get_mut(i) {
            Some(r) => *r = value,
            None => set_word(i, value),
        }
    }
    let reply = ok!(server.endpoint.call(info(label::SUM, 512), regs));
    ensure!(
        reply.words[1] == 512,
        "the peer saw {} words",
        reply.words[1]
    );
    ensure!(
        reply.words[0] == sum,
        "sum {:#x}, want {sum:#x}",
        reply.words[0]
    );
    Ok(())
}

fn lengths_past_512_words_are_clipped(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    for length in [513, 1000, 1023] {
        let reply = ok!(server.endpoint.call(info(label::SUM, length), [1, 2, 3, 4]));
        ensure!(
            reply.words[1] == 512,
            "length {length}: the peer saw {}",
            reply.words[1]
        );
    }
    Ok(())
}

fn badges_are_delivered_to_the_receiver(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let badged = ctx.mint(server.endpoint, Rights::ALL, 0x1234)?;
    let reply = ok!(badged.call(info(label::INSPECT, 0), [0; 4]));
    ensure!(reply.words[0] == 0x1234, "badge {:#x}", reply.words[0]);
    let reply = ok!(server.endpoint.call(info(label::INSPECT, 0), [0; 4]));
    ensure!(
        reply.words[0] == 0,
        "unbadged call delivered badge {:#x}",
        reply.words[0]
    );
    // A reply carries no badge.
    ensure!(reply.badge == 0, "reply badge {:#x}", reply.badge);
    Ok(())
}

/// Asks the peer for what it remembers of the previous message.
fn last(server: &Server) -> Result<Received, Fail> {
    Ok(ok!(server.endpoint.call(info(label::LAST, 0), [0; 4])))
}

fn send_is_received_by_a_waiting_server(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let badged = ctx.mint(server.endpoint, Rights::WRITE, 0x5)?;
    ok!(badged.send(info(0x77, 1), [5, 0, 0, 0]));
    let l = last(&server)?;
    ensure!(l.words == [0x77, 5, 0x5, 1], "the peer saw {:x?}", l.words);
    Ok(())
}

fn nb_send_reaches_a_waiting_receiver(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    // After a call returns, the peer is blocked in ReplyRecv waiting for the next message.
    let _ = last(&server)?;
    ok!(server.endpoint.nb_send(info(0x78, 2), [6, 7, 0, 0]));
    let l = last(&server)?;
    ensure!(l.words == [0x78, 6, 0, 2], "the peer saw {:x?}", l.words);
    Ok(())
}

fn nb_send_without_a_receiver_is_dropped(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    ok!(endpoint.nb_send(info(1, 1), [1, 0, 0, 0]));
    expect_err!(endpoint.nb_recv(), Error::WouldBlock, ANY_ARG);
    Ok(())
}

fn recv_takes_a_blocked_sender(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    ok!(server
        .endpoint
        .call(info(label::REPLY_THEN_SEND, 4), [0, 11, 12, 13]));
    let got = ok!(server.report.recv());
    ensure!(
        got.info.label() == label::REPORT,
        "label {:#x}",
        got.info.label()
    );
    ensure!(got.info.length() == 3, "length {}", got.info.length());
    ensure!(got.words[..3] == [11, 12, 13], "words {:x?}", got.words);
    ensure!(got.badge == REPORT_BADGE, "badge {:#x}", got.badge);
    Ok(())
}

fn nb_recv_takes_a_waiting_sender(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    ok!(server
        .endpoint
        .call(info(label::REPLY_THEN_SEND, 4), [0, 21, 22, 23]));
    for _ in 0..1000 {
        match server.report.nb_recv() {
            Ok(got) => {
                ensure!(got.words[..3] == [21, 22, 23], "words {:x?}", got.words);
                ensure!(got.badge == REPORT_BADGE, "badge {:#x}", got.badge);
                return Ok(());
            }
            Err(e) if e.error == Error::WouldBlock => yield_now(),
            Err(e) => return Err(fail!("nb_recv: {e}")),
        }
    }
    Err(fail!("the peer's Send never arrived"))
}

fn nb_recv_with_nothing_pending_would_block(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    expect_err!(server.report.nb_recv(), Error::WouldBlock, ANY_ARG);
    // A peer that only uses NBSend while we are not receiving loses its message.
    ok!(server
        .endpoint
        .call(info(label::REPLY_THEN_SEND, 4), [1, 31, 32, 33]));
    for _ in 0..20 {
        yield_now();
    }
    expect_err!(server.report.nb_recv(), Error::WouldBlock, ANY_ARG);
    Ok(())
}

fn reply_answers_a_call(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    ok!(server
        .endpoint
        .call(info(label::REPLY_THEN_SEND, 4), [2, 41, 42, 43]));
    let got = ok!(server.report.recv());
    ensure!(
        got.words[..3] == [41, 42, 43],
        "call words {:x?}",
        got.words
    );
    ok!(libsys::cap::reply(info(0x55, 1), [0x5555, 0, 0, 0]));
    let l = last(&server)?;
    ensure!(
        l.words[0] == 0x55 && l.words[1] == 0x5555,
        "the peer's call got {:x?}",
        l.words
    );
    ensure!(
        l.words[2] == 0 && l.words[3] == 1,
        "reply badge/length {:x?}",
        l.words
    );
    Ok(())
}

fn reply_recv_answers_and_waits_again(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    ok!(server
        .endpoint
        .call(info(label::REPLY_THEN_SEND, 4), [3, 51, 52, 53]));
    let call = ok!(server.report.recv());
    ensure!(
        call.words[..3] == [51, 52, 53],
        "call words {:x?}",
        call.words
    );
    let then = ok!(server.report.reply_recv(info(0x56, 1), [9, 0, 0, 0]));
    ensure!(
        then.info.label() == label::REPORT,
        "then label {:#x}",
        then.info.label()
    );
    ensure!(
        then.words[..3] == [51, 52, 53],
        "then words {:x?}",
        then.words
    );
    let l = last(&server)?;
    ensure!(
        l.words[0] == 0x56 && l.words[1] == 9,
        "the peer's call got {:x?}",
        l.words
    );
    Ok(())
}

fn reply_without_a_caller_is_harmless(_ctx: &mut Ctx) -> TestResult {
    let result = libsys::cap::reply(info(1, 1), [1, 0, 0, 0]);
    if let Err(e) = result {
        ensure!(
            [Error::IllegalOperation, Error::InvalidCapability].contains(&e.error),
            "reply with no caller: {e}"
        );
    }
    Ok(())
}

fn ipc_needs_the_right_rights(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let read_only = ctx.mint(endpoint, Rights::READ, 0)?;
    let write_only = ctx.mint(endpoint, Rights::WRITE, 0)?;
    let message = info(1, 1);
    expect_err!(
        read_only.send(message, [0; 4]),
        Error::InsufficientRights,
        ANY_ARG
    );
    expect_err!(
        read_only.nb_send(message, [0; 4]),
        Error::InsufficientRights,
        ANY_ARG
    );
    expect_err!(
        read_only.call(message, [0; 4]),
        Error::InsufficientRights,
        ANY_ARG
    );
    expect_err!(write_only.recv(), Error::InsufficientRights, ANY_ARG);
    expect_err!(write_only.nb_recv(), Error::InsufficientRights, ANY_ARG);
    expect_err!(
        write_only.reply_recv(message, [0; 4]),
        Error::InsufficientRights,
        ANY_ARG
    );
    let nothing = ctx.mint(endpoint, Rights::NONE, 0)?;
    expect_err!(
        nothing.nb_send(message, [0; 4]),
        Error::InsufficientRights,
        ANY_ARG
    );
    expect_err!(nothing.nb_recv(), Error::InsufficientRights, ANY_ARG);
    Ok(())
}

fn ipc_on_other_objects_fails(ctx: &mut Ctx) -> TestResult {
    let frame: Cap<Frame> = ctx.make()?;
    let not_endpoint: Cap<Endpoint> = frame.cast();
    let empty: Cap<Endpoint> = Cap::from_cptr(ctx.slot()?);
    let message = info(1, 1);
    for cap in [not_endpoint, Cap::from_cptr(libsys::bootinfo::SLOT_TCB)] {
        expect_err!(cap.send(message, [0; 4]), Error::InvalidCapability, ANY_ARG);
        expect_err!(
            cap.nb_send(message, [0; 4]),
            Error::InvalidCapability,
            ANY_ARG
        );
        expect_err!(cap.recv(), Error::InvalidCapability, ANY_ARG);
        expect_err!(cap.nb_recv(), Error::InvalidCapability, ANY_ARG);
        expect_err!(
            cap.reply_recv(message, [0; 4]),
            Error::InvalidCapability,
            ANY_ARG
        );
    }
    expect_any!(empty.send(message, [0; 4]), MISSING_CAP, ANY_ARG);
    expect_any!(empty.call(message, [0; 4]), MISSING_CAP, ANY_ARG);
    expect_any!(empty.recv(), MISSING_CAP, ANY_ARG);
    expect_any!(empty.nb_recv(), MISSING_CAP, ANY_ARG);
    Ok(())
}

/// INSPECT with `caps` caps named in the IPC buffer; returns the peer's report.
fn inspect(via: Cap<Endpoint>, caps: &[u64]) -> Result<(Received, [u64; 4]), Fail> {
    for (i, &cptr) in caps.iter().enumerate() {
        set_send_cap(i, cptr);
    }
    let message = MessageInfo::new(label::INSPECT, 0, caps.len() as u64);
    let reply = ok!(via.call(message, [0; 4]));
    Ok((reply, [word(4), word(5), word(6), word(7)]))
}

fn a_badged_endpoint_cap_is_transferred(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let other: Cap<Endpoint> = ctx.make()?;
    let badged = ctx.mint(other, Rights::READ.union(Rights::WRITE), 0x55)?;
    let (reply, extra) = inspect(server.endpoint, &[badged.cptr()])?;
    ensure!(reply.words[1] == 1, "caps/unwrapped {:#x}", reply.words[1]);
    ensure!(
        reply.words[3] == CapKind::Endpoint as u64,
        "received kind {}",
        reply.words[3]
    );
    ensure!(extra[0] == 0x55, "received badge {:#x}", extra[0]);
    ensure!(
        extra[1] == Rights::READ.union(Rights::WRITE).bits(),
        "rights {:#x}",
        extra[1]
    );
    // The sender keeps its cap.
    let kept = ctx.identity(badged.cptr())?.map(|id| id.badge);
    ensure!(kept == Some(0x55), "the sender's cap: {kept:?}");
    // Twice in a row: the peer deleted the first one, so its slot is free again.
    let (reply, _) = inspect(server.endpoint, &[libsys::bootinfo::SLOT_TCB])?;
    ensure!(
        reply.words[3] == CapKind::Tcb as u64,
        "second cap kind {}",
        reply.words[3]
    );
    Ok(())
}

fn caps_need_the_grant_right(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let no_grant = ctx.mint(server.endpoint, Rights::WRITE.union(Rights::GRANT_REPLY), 0)?;
    let other: Cap<Endpoint> = ctx.make()?;
    set_send_cap(0, other.cptr());
    let message = MessageInfo::new(label::INSPECT, 0, 1);
    match no_grant.call(message, [0; 4]) {
        Err(e) => ensure!(e.error == Error::InsufficientRights, "refused with {e}"),
        Ok(reply) => {
            ensure!(reply.words[3] == 0, "a cap went through without GRANT");
            ensure!(
                reply.words[1] == 0,
                "caps field {:#x} without GRANT",
                reply.words[1]
            );
        }
    }
    Ok(())
}

fn the_receivers_own_endpoint_is_unwrapped_to_its_badge(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let badged = ctx.mint(server.endpoint, Rights::ALL, 0x66)?;
    let (reply, _) = inspect(server.endpoint, &[badged.cptr()])?;
    ensure!(
        reply.words[1] == 1 | 1 << 8,
        "caps/unwrapped {:#x}",
        reply.words[1]
    );
    ensure!(
        reply.words[2] == 0x66,
        "unwrapped badge {:#x}",
        reply.words[2]
    );
    ensure!(
        reply.words[3] == 0,
        "a cap arrived in the receive slot: kind {}",
        reply.words[3]
    );
    Ok(())
}

fn three_caps_in_one_message(ctx: &mut Ctx) -> TestResult {
    let server = start(ctx, mode::SERVER)?;
    let one = ctx.mint(server.endpoint, Rights::ALL, 1)?;
    let two = ctx.mint(server.endpoint, Rights::ALL, 2)?;
    let notification: Cap<libsys::cap::Notification> = ctx.make()?;
    let (reply, extra) = inspect(
        server.endpoint,
        &[one.cptr(), notification.cptr(), two.cptr()],
    )?;
    ensure!(
        reply.words[1] == 3 | 0b101 << 8,
        "caps/unwrapped {:#x}",
        reply.words[1]
    );
    ensure!(
        reply.words[2] == 1 && extra[3] == 2,
        "badges {} and {}",
        reply.words[2],
        extra[3]
    );
    let kind = reply.words[3];
    ensure!(kind == CapKind::Notification as u64, "received kind {kind}");
    Ok(())
}

fn sending_a_missing_cap_fails(ctx: &mut Ctx) -> TestResult {
    // docs/syscalls.md does not say what happens: either the send fails, or the message
    // arrives without the cap. Both are safe; anything else is not.
    let server = start(ctx, mode::SERVER)?;
    let empty = ctx.slot()?;
    set_send_cap(0, empty);
    let message = MessageInfo::new(label::INSPECT, 0, 1);
    match server.endpoint.call(message, [0; 4]) {
        Err(e) => ensure!(MISSING_CAP.contains(&e.error), "refused with {e}"),
        Ok(reply) => {
            ensure!(
                reply.words[3] == 0,
                "a cap arrived: kind {}",
                reply.words[3]
            );
            ensure!(reply.words[1] == 0, "caps field {:#x}", reply.words[1]);
        }
    }
    // The server is still there.
    let reply = ok!(server.endpoint.call(info(label::ECHO, 1), [1, 0, 0, 0]));
    ensure!(reply.words[0] == 2, "echo {}", reply.words[0]);
    Ok(())
}

/// A server peer that has just called our report endpoint (its `Call` waits for our reply,
/// which we now owe).
fn owed_call(ctx: &mut Ctx, word: u64) -> Result<Server, Fail> {
    let server = start(ctx, mode::SERVER)?;
    ok!(server
        .endpoint
        .call(info(label::REPLY_THEN_SEND, 4), [2, word, 0, 0]));
    let call = ok!(server.report.recv());
    ensure!(
        call.words[0] == word,
        "the peer's call carried {:x?}",
        call.words
    );
    Ok(server)
}

fn saved_replies_answer_later(ctx: &mut Ctx) -> TestResult {
    let first = owed_call(ctx, 1)?;
    let reply_a: Cap<Reply> = ctx.make()?;
    ok!(reply_a.save());
    // The reply is parked: we can take another call meanwhile.
    let second = owed_call(ctx, 2)?;
    expect_err!(reply_a.save(), Error::DeleteFirst, INVOKED_CAP);
    let reply_b: Cap<Reply> = ctx.make()?;
    ok!(reply_b.save());
    expect_err!(reply_b.save(), Error::IllegalOperation, INVOKED_CAP);
    // Answer in the other order.
    ok!(reply_b.send(info(0x62, 1), [22, 0, 0, 0]));
    ok!(reply_a.send(info(0x61, 1), [11, 0, 0, 0]));
    let a = last(&first)?;
    let b = last(&second)?;
    ensure!(
        a.words[0] == 0x61 && a.words[1] == 11,
        "first caller got {:x?}",
        a.words
    );
    ensure!(
        b.words[0] == 0x62 && b.words[1] == 22,
        "second caller got {:x?}",
        b.words
    );
    // Empty again: saving works once more, sending on an empty object does nothing.
    ok!(reply_a.send(info(0x63, 1), [33, 0, 0, 0]));
    Ok(())
}

fn reply_save_needs_an_owed_reply(ctx: &mut Ctx) -> TestResult {
    let reply: Cap<Reply> = ctx.make()?;
    expect_err!(reply.save(), Error::IllegalOperation, INVOKED_CAP);
    let not_reply: Cap<Reply> = ctx.make::<Frame>()?.cast();
    expect_any!(not_reply.save(), crate::check::WRONG_INVOKED, INVOKED_CAP);
    Ok(())
}

fn deleting_a_reply_object_cancels_its_caller(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let report: Cap<Endpoint> = ctx.make()?;
    let config = ctx.peer_config();
    let process = ctx.peer(&config)?;
    crate::give(&process, &ctx.loader, endpoint, ipcpeer::SLOT_ENDPOINT)?;
    crate::give(&process, &ctx.loader, report, ipcpeer::SLOT_REPORT)?;
    process
        .start(mode::BLOCK_CALL)
        .map_err(|e| fail!("start: {e}"))?;
    let ready = ok!(report.recv());
    ensure!(
        ready.info.label() == label::READY,
        "label {:#x}",
        ready.info.label()
    );
    let call = ok!(endpoint.recv());
    ensure!(
        call.info.label() == label::ECHO,
        "call label {:#x}",
        call.info.label()
    );
    let reply: Cap<Reply> = ctx.make()?;
    ok!(reply.save());
    ok!(crate::ROOT.delete(reply.slot()));
    let cancelled = ok!(report.recv());
    ensure!(
        cancelled.info.label() == label::CANCELLED,
        "label {:#x}",
        cancelled.info.label()
    );
    ensure!(
        cancelled.words[0] == Error::Cancelled as u64,
        "the caller woke with code {}",
        cancelled.words[0]
    );
    Ok(())
}
