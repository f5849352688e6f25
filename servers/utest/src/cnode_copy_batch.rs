//! `CNodeCopyBatch`: up to six copies or mints in one call, each entry four words
//! `dest_index 4k, src_index 4k+1, packed 4k+2, data 4k+3` (docs/syscalls.md).

use crate::check::{Fail, TestResult};
use crate::{ensure, expect_err, fail, ok, Ctx, Test, ROOT};
use libsys::abi::{CopyBatchWord, Error, Label, COPY_BATCH_MAX};
use libsys::cap::{invoke, BatchCopy, Cap, Endpoint, Frame, Notification, SlotPath};
use libsys::object::Rights;

/// The tests of this file.
pub const TESTS: &[Test] = crate::tests![
    copy_batch_copies_and_mints_in_order,
    copy_batch_stops_at_the_first_refusal,
    copy_batch_checks_every_packed_word_before_copying,
    copy_batch_refuses_empty_ragged_and_long_batches,
];

/// A copy of `src` into `dest` with `rights`.
fn copy(dest: u64, src: u64, rights: Rights) -> BatchCopy {
    BatchCopy {
        dest: SlotPath::at(dest),
        src: SlotPath::at(src),
        rights,
        badge: None,
    }
}

/// The packed word of a full-depth entry.
fn packed(rights: u64, mint: bool) -> u64 {
    CopyBatchWord {
        rights,
        dest_depth: 64,
        src_depth: 64,
        mint,
    }
    .to_word()
}

/// Signals `via` and returns what `notification` then holds (0 if nothing).
fn signal_bits(via: Cap<Notification>, notification: Cap<Notification>) -> Result<u64, Fail> {
    ok!(via.signal());
    match notification.poll() {
        Ok(bits) => Ok(bits),
        Err(e) if e.error == Error::WouldBlock => Ok(0),
        Err(e) => Err(fail!("poll: {e}")),
    }
}

fn copy_batch_copies_and_mints_in_order(ctx: &mut Ctx) -> TestResult {
    let n: Cap<Notification> = ctx.make()?;
    let frame: Cap<Frame> = ctx.make()?;
    let (read, badged, again) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    let batch = [
        copy(read, frame.cptr(), Rights::READ),
        BatchCopy {
            badge: Some(0x21),
            ..copy(badged, n.cptr(), Rights::WRITE)
        },
        // Looked up when its turn comes: the mint just made.
        copy(again, badged, Rights::ALL),
    ];
    ok!(ROOT.copy_batch(&batch));
    let rights = ok!(Cap::<Frame>::from_cptr(read).identify()).rights;
    ensure!(rights == Rights::READ.bits(), "copied rights {rights:#x}");
    ensure!(
        signal_bits(Cap::from_cptr(again), n)? == 0x21,
        "the copy of the mint lost its badge"
    );
    // More than six entries take more than one call, in order all the same.
    let mut many = [copy(0, 0, Rights::ALL); COPY_BATCH_MAX + 2];
    let mut slots = [0u64; COPY_BATCH_MAX + 2];
    for (i, entry) in many.iter_mut().enumerate() {
        slots[i] = ctx.slot()?;
        *entry = copy(slots[i], frame.cptr(), Rights::ALL);
    }
    ok!(ROOT.copy_batch(&many));
    for slot in slots {
        ok!(Cap::<Frame>::from_cptr(slot).identify());
    }
    Ok(())
}

fn copy_batch_stops_at_the_first_refusal(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let (first, empty, after) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    let occupied = [
        copy(first, endpoint.cptr(), Rights::ALL),
        copy(first, endpoint.cptr(), Rights::ALL),
        copy(after, endpoint.cptr(), Rights::ALL),
    ];
    expect_err!(ROOT.copy_batch(&occupied), Error::DeleteFirst, 4);
    ok!(Cap::<Endpoint>::from_cptr(first).identify());
    ctx.expect_empty(after)?;
    // An empty source: the source word of its entry.
    let sourceless = [
        copy(after, endpoint.cptr(), Rights::ALL),
        copy(ctx.slot()?, empty, Rights::ALL),
    ];
    expect_err!(ROOT.copy_batch(&sourceless), Error::FailedLookup, 5);
    ok!(Cap::<Endpoint>::from_cptr(after).identify());
    // A badge for a cap that takes none: the data word.
    let frame: Cap<Frame> = ctx.make()?;
    let dest = ctx.slot()?;
    let badged_frame = [BatchCopy {
        badge: Some(1),
        ..copy(dest, frame.cptr(), Rights::ALL)
    }];
    expect_err!(ROOT.copy_batch(&badged_frame), Error::InvalidArgument, 3);
    ctx.expect_empty(dest)
}

fn copy_batch_checks_every_packed_word_before_copying(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let (dest, other) = (ctx.slot()?, ctx.slot()?);
    let good = [dest, endpoint.cptr(), packed(0xf, false), 0];
    let cases: [([u64; 4], Error, u64); 5] = [
        // A reserved bit of the packed word.
        (
            [other, endpoint.cptr(), packed(0xf, false) | 1 << 40, 0],
            Error::InvalidArgument,
            6,
        ),
        // Rights above 0xf.
        (
            [other, endpoint.cptr(), packed(0x1f, false), 0],
            Error::InvalidArgument,
            6,
        ),
        // Data in a copy.
        (
            [other, endpoint.cptr(), packed(0xf, false), 5],
            Error::InvalidArgument,
            7,
        ),
        // A depth of 65: the packed word holds it.
        (
            [
                other,
                endpoint.cptr(),
                CopyBatchWord {
                    rights: 0xf,
                    dest_depth: 65,
                    src_depth: 64,
                    mint: false,
                }
                .to_word(),
                0,
            ],
            Error::RangeError,
            6,
        ),
        // A source depth of 0.
        (
            [
                other,
                endpoint.cptr(),
                CopyBatchWord {
                    rights: 0xf,
                    dest_depth: 64,
                    src_depth: 0,
                    mint: false,
                }
                .to_word(),
                0,
            ],
            Error::RangeError,
            6,
        ),
    ];
    for (i, (second, error, argument)) in cases.iter().enumerate() {
        let mut words = [0u64; 8];
        words[..4].copy_from_slice(&good);
        words[4..].copy_from_slice(second);
        let result = invoke(ROOT.cptr(), Label::CNodeCopyBatch, &words);
        expect_err!(result, *error, *argument);
        // The bad packed words are refused before the first entry is done; the depths are
        // looked at in the entry's turn, after the first.
        if i < 3 {
            ctx.expect_empty(dest)?;
        } else {
            ok!(ROOT.delete(SlotPath::at(dest)));
        }
        ctx.expect_empty(other)?;
    }
    Ok(())
}

fn copy_batch_refuses_empty_ragged_and_long_batches(ctx: &mut Ctx) -> TestResult {
    let endpoint: Cap<Endpoint> = ctx.make()?;
    let dest = ctx.slot()?;
    let entry = [dest, endpoint.cptr(), packed(0xf, false), 0];
    let mut words = [0u64; 32];
    for chunk in words.chunks_mut(4) {
        chunk.copy_from_slice(&entry);
    }
    for length in [0, 3, 5, 7 * 4, 32] {
        let result = invoke(ROOT.cptr(), Label::CNodeCopyBatch, &words[..length]);
        expect_err!(result, Error::RangeError, 0);
        ctx.expect_empty(dest)?;
    }
    Ok(())
}
