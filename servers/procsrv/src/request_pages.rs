//! Hatch requests too big for the IPC buffer: their bytes arrive in *request pages*, 4 KiB
//! frames the caller shares for the call at consecutive indices of the CNode it sends
//! (`procsrv_api::RequestPages`). procsrv copies each page's cap into a slot of its own,
//! maps that copy read-only at `REQUEST_PAGES_ADDR`, copies the bytes out, unmaps it and
//! deletes the copy, all before the request is decoded: what the caller does with its own
//! mappings afterwards (or during: it is blocked in its `Call`) cannot change the request.
//! A slot that holds no frame, or a frame procsrv cannot map readable, is EBADF.

use crate::{Global, Server};
use core::cell::UnsafeCell;
use libsys::bootinfo::{ROOT_CNODE_RADIX, SLOT_CNODE, SLOT_VSPACE};
use libsys::cap::{CNode, Cap, Frame, SlotPath};
use libsys::object::{CapKind, Rights};
use procsrv_api::{Errno, RequestPages, MAX_PAGED_REQUEST_BYTES, REQUEST_PAGES_ADDR};

const PAGE: usize = 4096;

/// The bytes of the request being decoded (too big for procsrv's stack).
static BYTES: Global<[u8; MAX_PAGED_REQUEST_BYTES]> =
    Global(UnsafeCell::new([0; MAX_PAGED_REQUEST_BYTES]));

impl Server {
    /// Copies the bytes of `pages` of the request CNode in procsrv slot `cnode` (of
    /// `2^radix` slots) into procsrv's request buffer, which it returns.
    ///
    /// # Errors
    /// EBADF (an index without a 4 KiB frame procsrv can map readable), ENOMEM (no slot
    /// or page table).
    pub(crate) fn read_request_pages(
        &mut self,
        cnode: u64,
        radix: u64,
        pages: RequestPages,
    ) -> Result<&'static [u8], Errno> {
        // SAFETY: procsrv has one thread and this is the only function that touches BYTES;
        // the reference returned lives until the request is handled, before the next call.
        let bytes: &'static mut [u8; MAX_PAGED_REQUEST_BYTES] = unsafe { &mut *BYTES.0.get() };
        let slot = self.alloc.slot().map_err(|_| Errno::ENOMEM)?;
        let mut result = Ok(());
        for i in 0..pages.count.min(procsrv_api::MAX_REQUEST_PAGES) {
            let at = i as usize * PAGE;
            result = self.read_page(
                cnode,
                radix,
                pages.first + i,
                slot,
                &mut bytes[at..at + PAGE],
            );
            if result.is_err() {
                break;
            }
        }
        let _ = self.alloc.free_slot(slot);
        result.map(|()| &bytes[..pages.count as usize * PAGE])
    }

    /// Copies page `index` of the request CNode into `out` through procsrv slot `slot`.
    fn read_page(
        &mut self,
        cnode: u64,
        radix: u64,
        index: u64,
        slot: u64,
        out: &mut [u8],
    ) -> Result<(), Errno> {
        let root = Cap::<CNode>::from_cptr(SLOT_CNODE);
        let source = SlotPath {
            index: (cnode << radix) | index,
            depth: ROOT_CNODE_RADIX + radix,
        };
        self.loader
            .root_unguarded
            .copy(
                SlotPath {
                    index: slot,
                    depth: ROOT_CNODE_RADIX,
                },
                source,
                Rights::READ,
            )
            .map_err(|_| Errno::EBADF)?;
        let frame: Cap<Frame> = Cap::from_cptr(slot);
        let is_frame = frame
            .identify()
            .is_ok_and(|id| id.cap_kind() == Some(CapKind::Frame));
        let vaddr = REQUEST_PAGES_ADDR;
        let mapped = is_frame
            && libsys::vspace::map_frame(
                &mut self.alloc,
                Cap::from_cptr(SLOT_VSPACE),
                frame,
                vaddr,
                Rights::READ.bits(),
                false,
            )
            .is_ok();
        if mapped {
            // SAFETY: the frame was just mapped readable at `vaddr` in procsrv's own address
            // space through a copy of its cap that only procsrv holds, nothing else is
            // mapped there, and procsrv unmaps it only below. The one way it could vanish
            // during the copy is a revoke of the memory it was made from, by a second
            // thread of the caller (the caller itself is blocked in its `Call`) preempting
            // procsrv in these few instructions: a known limit (docs/procsrv.md), the same
            // as the file server's I/O windows have.
            let page = unsafe { core::slice::from_raw_parts(vaddr as *const u8, PAGE) };
            out.copy_from_slice(page);
            let _ = frame.unmap();
        }
        let _ = root.delete(SlotPath::at(slot));
        if mapped {
            Ok(())
        } else {
            Err(Errno::EBADF)
        }
    }
}
