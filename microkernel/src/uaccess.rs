//! The one door for user memory.
//!
//! A user pointer is an *allegation*: an address and a length that a thread claims it may
//! read or write. [`UserSlice`] checks it against the thread's own page tables (user half,
//! present, user-accessible, writable when writing) page by page and copies through the
//! HHDM, so the kernel never dereferences a user address and can never fault on one.

use crate::mem::paging::{PageTable, USER, WRITABLE};
use crate::mem::{phys_to_virt, PAGE_SIZE};
use libsys::abi::Error;

/// First address above the user half.
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// A range of user memory in a given address space, not yet checked.
#[derive(Clone, Copy, Debug)]
pub struct UserSlice {
    vspace: PageTable,
    address: u64,
    length: u64,
}

impl UserSlice {
    /// Records the allegation; nothing is checked until it is used.
    pub fn new(vspace: PageTable, address: u64, length: u64) -> UserSlice {
        UserSlice {
            vspace,
            address,
            length,
        }
    }

    fn check_range(&self) -> Result<(), Error> {
        match self.address.checked_add(self.length) {
            Some(end) if end <= USER_END => Ok(()),
            _ => Err(Error::BadAddress),
        }
    }

    /// Calls `f` with each physically contiguous piece (as an HHDM pointer and length).
    fn for_each_piece(
        &self,
        write: bool,
        mut f: impl FnMut(u64, usize, usize),
    ) -> Result<(), Error> {
        self.check_range()?;
        let needed = USER | if write { WRITABLE } else { 0 };
        let mut done = 0u64;
        while done < self.length {
            let virt = self.address + done;
            let (phys, flags) = self.vspace.translate(virt).ok_or(Error::BadAddress)?;
            if flags & needed != needed {
                return Err(Error::BadAddress);
            }
            let in_page = (PAGE_SIZE - (virt % PAGE_SIZE)).min(self.length - done);
            f(phys_to_virt(phys), done as usize, in_page as usize);
            done += in_page;
        }
        Ok(())
    }

    /// Checks the whole range is readable, then copies it into `out` (which must be as
    /// long as the slice).
    pub fn read(&self, out: &mut [u8]) -> Result<(), Error> {
        if out.len() as u64 != self.length {
            return Err(Error::InvalidArgument);
        }
        self.for_each_piece(false, |_, _, _| {})?;
        self.for_each_piece(false, |src, at, n| {
            // SAFETY: `src` is an HHDM address of `n` bytes of a present user page (checked
            // above); `out[at..at + n]` is in bounds because the lengths are equal.
            unsafe { core::ptr::copy_nonoverlapping(src as *const u8, out[at..].as_mut_ptr(), n) };
        })
    }

    /// Checks the whole range is writable, then copies `data` into it.
    pub fn write(&self, data: &[u8]) -> Result<(), Error> {
        if data.len() as u64 != self.length {
            return Err(Error::InvalidArgument);
        }
        self.for_each_piece(true, |_, _, _| {})?;
        self.for_each_piece(true, |dst, at, n| {
            // SAFETY: as in `read`, with a writable user page as destination.
            unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), dst as *mut u8, n) };
        })
    }
}
