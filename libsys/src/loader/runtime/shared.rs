//! Shared read-only segments: a parent that loads the same program many times (procsrv)
//! keeps one set of frames per read-only segment, filled once from the ELF, and maps copies
//! of their caps into each process instead of copying the bytes again.
//!
//! The frames come from the parent's own memory and live as long as the [`Loader`]; each
//! process gets copies of their caps (in parent slots recorded with the process, deleted
//! when it is destroyed), read-only, so no process can write what others run.

use super::{kernel, map_frame, LoadError, LoadStep, Loader, Objects, TableCache};
use crate::cap::{CNode, Cap, Frame, SlotPath};
use crate::loader::{page_file_bytes, SegmentPlan, PAGE_SIZE};
use crate::object::{ObjectType, Rights};
use bootfmt::elf::ElfFile;

/// Most shared runs of frames (a run is up to `MAX_RETYPE_COUNT` pages of one segment).
pub const MAX_SHARED_RUNS: usize = 32;

/// One run of shared frames: pages from `page` on of the image at `image`.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    image: usize,
    page: u64,
    first: u64,
    count: u64,
}

/// The shared runs a loader keeps.
pub struct SharedText {
    runs: [Run; MAX_SHARED_RUNS],
    count: usize,
}

impl SharedText {
    fn find(&self, image: usize, page: u64, count: u64) -> Option<u64> {
        self.runs[..self.count]
            .iter()
            .find(|r| r.image == image && r.page == page && r.count == count)
            .map(|r| r.first)
    }
}

impl Loader {
    /// From now on, read-only segments are shared between the processes this loader
    /// builds from the same image (see the module docs).
    pub fn share_text(&mut self) {
        self.shared = Some(SharedText {
            runs: [Run::default(); MAX_SHARED_RUNS],
            count: 0,
        });
    }

    /// Whether the read-only segment `plan` of `elf` can be mapped from shared frames: it
    /// is shared already, or the table of runs has room for the runs it still needs (a
    /// full table leaves further programs' segments private, copied as writable ones are,
    /// rather than failing their hatch).
    pub(super) fn can_share(&self, elf: &ElfFile<'_>, plan: &SegmentPlan) -> bool {
        let Some(shared) = self.shared.as_ref() else {
            return false;
        };
        let image = elf.bytes().as_ptr() as usize;
        let mut missing = 0;
        let mut done = 0;
        while done < plan.pages {
            let batch = (plan.pages - done).min(crate::object::MAX_RETYPE_COUNT);
            let page0 = plan.first_page + done * PAGE_SIZE;
            if shared.find(image, page0, batch).is_none() {
                missing += 1;
            }
            done += batch;
        }
        shared.count + missing <= MAX_SHARED_RUNS
    }

    /// Maps a read-only segment from shared frames (made and filled on first use).
    pub(super) fn load_shared(
        &mut self,
        objects: &mut Objects<'_>,
        tables: &mut TableCache,
        elf: &ElfFile<'_>,
        plan: &SegmentPlan,
        rights: u64,
    ) -> Result<(), LoadError> {
        let image = elf.bytes().as_ptr() as usize;
        let root: Cap<CNode> = Cap::from_cptr(crate::bootinfo::SLOT_CNODE);
        let mut done = 0;
        while done < plan.pages {
            let batch = (plan.pages - done).min(crate::object::MAX_RETYPE_COUNT);
            let page0 = plan.first_page + done * PAGE_SIZE;
            let known = self
                .shared
                .as_ref()
                .and_then(|s| s.find(image, page0, batch));
            let shared = match known {
                Some(first) => first,
                None => self.make_run(objects, elf, plan, page0, batch)?,
            };
            let first = objects.slots_only(batch)?;
            for i in 0..batch {
                root.copy(
                    SlotPath::at(first + i),
                    SlotPath::at(shared + i),
                    Rights::READ,
                )
                .map_err(kernel(LoadStep::CopyCap))?;
                let frame: Cap<Frame> = Cap::from_cptr(first + i);
                let page = page0 + i * PAGE_SIZE;
                map_frame(tables, frame, page, rights, &mut |t| {
                    objects.retype(t, 0, 1)
                })?;
            }
            done += batch;
        }
        Ok(())
    }

    /// Makes and fills `count` frames for the pages from `page0` on, from the parent's own
    /// memory, and remembers them.
    fn make_run(
        &mut self,
        objects: &mut Objects<'_>,
        elf: &ElfFile<'_>,
        plan: &SegmentPlan,
        page0: u64,
        count: u64,
    ) -> Result<u64, LoadError> {
        let full = self
            .shared
            .as_ref()
            .is_none_or(|s| s.count == MAX_SHARED_RUNS);
        if full {
            return Err(LoadError::Alloc(crate::alloc::AllocError::OutOfMemory));
        }
        let first = objects
            .parent
            .retype(ObjectType::Frame4K, 0, count)
            .map_err(LoadError::Alloc)?;
        let filled = (0..count).try_for_each(|i| {
            let page = page0 + i * PAGE_SIZE;
            match page_file_bytes(plan, page) {
                Some((offset, range)) => {
                    let bytes = elf
                        .bytes()
                        .get(range)
                        .ok_or(LoadError::SegmentOutOfRange(0))?;
                    self.fill(objects, Cap::from_cptr(first + i), offset, bytes)
                }
                None => Ok(()),
            }
        });
        if let Err(e) = filled {
            for slot in first..first + count {
                let _ = objects.parent.free_slot(slot);
            }
            return Err(e);
        }
        if let Some(shared) = self.shared.as_mut() {
            shared.runs[shared.count] = Run {
                image: elf.bytes().as_ptr() as usize,
                page: page0,
                first,
                count,
            };
            shared.count += 1;
        }
        Ok(first)
    }
}
