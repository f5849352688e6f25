//! What a hatched process finds at its start: its fixed CSpace slots (see docs/userspace.md
//! and docs/procsrv.md) and its initial stack, laid out as the System V x86_64 ABI does.
//!
//! Every process procsrv hatches has a one-level CSpace whose guard makes a slot's cptr equal
//! to its index. These constants are the only place the numbers are written; procsrv, the
//! servers and the runtime all use them. [`build_stack`] (procsrv) and [`Startup`] (the
//! child's runtime) are the two sides of the stack layout; both are pure and host-tested.
//!
//! The client side of procsrv's protocol (hatch, wait, kill, exit, [`Command`]) is in
//! [`client`] (runtime only).

/// Slot 0 is always empty (a null cptr).
pub const SLOT_NULL: u64 = 0;
/// The process's own TCB.
pub const SLOT_TCB: u64 = 1;
/// The process's own CNode (its CSpace root).
pub const SLOT_CNODE: u64 = 2;
/// The process's own VSpace (PML4).
pub const SLOT_VSPACE: u64 = 3;
/// The frame of the process's IPC buffer.
pub const SLOT_IPC_BUFFER: u64 = 4;
/// Endpoint to procsrv, badged by procsrv with the process's identity.
pub const SLOT_PROCSRV: u64 = 8;
/// Endpoint to the file server's namespace, badged with the process's identity.
pub const SLOT_FS: u64 = 9;
/// The kernel's debug console, if the process may print (`print!` writes through it); the
/// first of the runtime's reserved slots 10..=15.
pub const SLOT_DEBUG_CONSOLE: u64 = 10;
/// The process's own untyped memory ([`MEMORY_BITS`]): the objects it makes come from it.
pub const SLOT_MEMORY: u64 = 11;
/// First slot the egg's `cap` op may fill.
pub const FIRST_USER_SLOT: u64 = 16;
/// First slot of the namespace bindings (`bind` ops fill them in order).
pub const FIRST_BIND_SLOT: u64 = 48;
/// Most namespace bindings.
pub const MAX_BINDINGS: u64 = 16;
/// Slot of file descriptor 0.
pub const FD_SLOT_BASE: u64 = 64;
/// Most file descriptors a process can have (fd numbers are below this).
pub const MAX_FDS: u64 = 64;
/// First slot after the descriptors: the process's own allocations start here.
pub const FIRST_FREE_SLOT: u64 = FD_SLOT_BASE + MAX_FDS;
/// log2 of the number of slots of a hatched process's CNode.
pub const CNODE_RADIX: u64 = 8;
/// log2 of the size of the untyped in [`SLOT_MEMORY`].
pub const MEMORY_BITS: u32 = 19;

/// auxv type: end of the vector.
pub const AT_NULL: u64 = 0;
/// auxv type: the page size.
pub const AT_PAGESZ: u64 = 6;
/// auxv type: the program's entry point.
pub const AT_ENTRY: u64 = 9;
/// auxv type: the process id.
pub const AT_HATCH_PID: u64 = 0x4800_0000;
/// auxv types `AT_HATCH_BIND + slot`: a namespace binding, its value the address of the
/// path (NUL-terminated) bound to the cap in `slot`.
pub const AT_HATCH_BIND: u64 = 0x4801_0000;

/// The slot holding file descriptor `fd`, or `None` when `fd` is out of range.
pub const fn fd_slot(fd: u64) -> Option<u64> {
    if fd < MAX_FDS {
        Some(FD_SLOT_BASE + fd)
    } else {
        None
    }
}

/// Why [`build_stack`] could not lay out a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackTooBig;

/// What goes on a new process's stack.
pub struct StackContents<'a, A, E, B> {
    /// The arguments.
    pub argv: A,
    /// The environment strings (`NAME=value`).
    pub envp: E,
    /// `(slot, path)` namespace bindings.
    pub bindings: B,
    /// The process id.
    pub pid: u64,
    /// The program's entry point.
    pub entry: u64,
    /// Ties the iterators' lifetime.
    pub marker: core::marker::PhantomData<&'a ()>,
}

/// Lays out the System V initial stack in `out`, whose last byte is just below `top` (a
/// virtual address in the child), and returns `(used, rsp)`: the stack image is
/// `out[out.len() - used..]`, and `rsp` (16-byte aligned) points at `argc`.
///
/// From `rsp` up: `argc`, the argv pointers, 0, the envp pointers, 0, the auxv pairs
/// (`AT_PAGESZ`, `AT_ENTRY`, `AT_HATCH_PID`, one `AT_HATCH_BIND + slot` per binding,
/// `AT_NULL`), then the strings.
///
/// # Errors
/// [`StackTooBig`] when it does not fit `out`.
pub fn build_stack<'a, A, E, B>(
    out: &mut [u8],
    top: u64,
    contents: StackContents<'a, A, E, B>,
) -> Result<(usize, u64), StackTooBig>
where
    A: Iterator<Item = &'a [u8]> + Clone,
    E: Iterator<Item = &'a [u8]> + Clone,
    B: Iterator<Item = (u64, &'a [u8])> + Clone,
{
    let len = out.len();
    let mut strings_at = len;
    // Strings first, from the top down (argv, envp, then binding paths), their child
    // addresses kept in that order for the vectors below.
    let mut push_string = |s: &[u8], out: &mut [u8]| -> Result<u64, StackTooBig> {
        let need = s.len() + 1;
        let start = strings_at.checked_sub(need).ok_or(StackTooBig)?;
        out[start..start + s.len()].copy_from_slice(s);
        out[start + s.len()] = 0;
        strings_at = start;
        Ok(top - (len - start) as u64)
    };
    let argc = contents.argv.clone().count();
    let envc = contents.envp.clone().count();
    let bindc = contents.bindings.clone().count();
    let words = 1 + argc + 1 + envc + 1 + 2 * (3 + bindc + 1);
    for s in contents.argv.clone() {
        push_string(s, out)?;
    }
    for s in contents.envp.clone() {
        push_string(s, out)?;
    }
    for (_, s) in contents.bindings.clone() {
        push_string(s, out)?;
    }
    let vector_bytes = words * 8;
    let rsp_offset = strings_at.checked_sub(vector_bytes).ok_or(StackTooBig)? & !15;
    let rsp = top - (len - rsp_offset) as u64;
    // Each string's child address again, in the order they were laid out (no array of
    // them: zeroing one sized for the most strings cost more than the whole layout).
    let mut cursor = len;
    let mut address = |s: &[u8]| {
        cursor -= s.len() + 1;
        top - (len - cursor) as u64
    };
    let mut at = rsp_offset;
    let mut put = |value: u64, out: &mut [u8]| {
        out[at..at + 8].copy_from_slice(&value.to_le_bytes());
        at += 8;
    };
    put(argc as u64, out);
    for s in contents.argv {
        put(address(s), out);
    }
    put(0, out);
    for s in contents.envp {
        put(address(s), out);
    }
    put(0, out);
    for (key, value) in [
        (AT_PAGESZ, 4096),
        (AT_ENTRY, contents.entry),
        (AT_HATCH_PID, contents.pid),
    ] {
        put(key, out);
        put(value, out);
    }
    for (slot, s) in contents.bindings {
        put(AT_HATCH_BIND + slot, out);
        put(address(s), out);
    }
    put(AT_NULL, out);
    put(0, out);
    Ok((len - rsp_offset, rsp))
}

/// The child's view of its initial stack: argc, argv, envp and auxv.
///
/// Invariant: `base` points at a stack laid out by [`build_stack`] that stays mapped and
/// unchanged for the life of the value.
#[derive(Clone, Copy)]
pub struct Startup {
    base: *const u64,
}

impl Startup {
    /// The startup view of the stack at `rsp` (the value procsrv passes in `rdi`).
    ///
    /// # Safety
    /// `rsp` must point at a stack laid out by [`build_stack`] (as procsrv's `rdi` at
    /// entry does), mapped readable, and not overwritten while the value is used.
    pub const unsafe fn from_stack(rsp: u64) -> Startup {
        Startup {
            base: rsp as *const u64,
        }
    }

    fn word(&self, index: usize) -> u64 {
        // SAFETY: by the invariant, `base` is a laid-out stack; callers stay inside the
        // vectors (each ends with a 0 word).
        unsafe { self.base.add(index).read() }
    }

    /// The number of arguments.
    pub fn argc(&self) -> usize {
        self.word(0) as usize
    }

    /// Argument `i`, without its NUL.
    pub fn arg(&self, i: usize) -> Option<&'static [u8]> {
        (i < self.argc()).then(|| self.c_string(self.word(1 + i)))
    }

    /// The arguments.
    pub fn args(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        (0..self.argc()).filter_map(|i| self.arg(i))
    }

    fn envp_index(&self) -> usize {
        self.argc() + 2
    }

    /// The environment strings.
    pub fn env(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        let start = self.envp_index();
        (start..)
            .map(|i| self.word(i))
            .take_while(|&p| p != 0)
            .map(|p| self.c_string(p))
    }

    /// The value of environment variable `name`.
    pub fn getenv(&self, name: &[u8]) -> Option<&'static [u8]> {
        self.env().find_map(|s| {
            s.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(b"="))
        })
    }

    /// The auxv pairs.
    pub fn auxv(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut i = self.envp_index();
        while self.word(i) != 0 {
            i += 1;
        }
        let start = i + 1;
        (0..)
            .map(move |k| (self.word(start + 2 * k), self.word(start + 2 * k + 1)))
            .take_while(|&(key, _)| key != AT_NULL)
    }

    /// The process id procsrv gave this process.
    pub fn pid(&self) -> u64 {
        self.auxv()
            .find(|&(k, _)| k == AT_HATCH_PID)
            .map_or(0, |(_, v)| v)
    }

    /// The namespace bindings: `(slot, path)`.
    pub fn bindings(&self) -> impl Iterator<Item = (u64, &'static [u8])> + '_ {
        self.auxv()
            .filter(|&(k, _)| (AT_HATCH_BIND..AT_HATCH_BIND + 0x1_0000).contains(&k))
            .map(|(k, v)| (k - AT_HATCH_BIND, self.c_string(v)))
    }

    /// The cap slot bound to `path` in the namespace.
    pub fn lookup(&self, path: &[u8]) -> Option<u64> {
        self.bindings()
            .find(|&(_, p)| p == path)
            .map(|(slot, _)| slot)
    }

    fn c_string(&self, address: u64) -> &'static [u8] {
        let start = address as *const u8;
        let mut len = 0;
        // SAFETY: by the invariant, every string pointer of the stack points at a
        // NUL-terminated string in the same mapped, unchanging area.
        unsafe {
            while start.add(len).read() != 0 {
                len += 1;
            }
            core::slice::from_raw_parts(start, len)
        }
    }
}

#[cfg(all(feature = "runtime", target_os = "none"))]
pub mod client;
#[cfg(all(feature = "runtime", target_os = "none"))]
pub use client::{CapSet, Child, Command};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_slots_sit_between_the_user_slots_and_the_free_ones() {
        assert_eq!(fd_slot(0), Some(FD_SLOT_BASE));
        assert_eq!(fd_slot(MAX_FDS - 1), Some(FIRST_FREE_SLOT - 1));
        assert_eq!(fd_slot(MAX_FDS), None);
        const { assert!(FIRST_USER_SLOT < FIRST_BIND_SLOT) };
        const { assert!(FIRST_BIND_SLOT + MAX_BINDINGS <= FD_SLOT_BASE) };
        const { assert!(SLOT_PROCSRV < FIRST_USER_SLOT && SLOT_FS < FIRST_USER_SLOT) };
        const { assert!(SLOT_FS < SLOT_DEBUG_CONSOLE && SLOT_DEBUG_CONSOLE < FIRST_USER_SLOT) };
        const { assert!(SLOT_DEBUG_CONSOLE == crate::bootinfo::SLOT_DEBUG_CONSOLE) };
        const { assert!(SLOT_MEMORY < FIRST_USER_SLOT) };
        const { assert!(FIRST_FREE_SLOT < 1 << CNODE_RADIX) };
    }

    #[test]
    fn stacks_are_laid_out_as_system_v_and_read_back() {
        // The stack is built in a host buffer whose address stands for the child's `top`,
        // 16-byte aligned as a child's stack top is (an array of bytes need not be: Miri
        // places it anywhere).
        #[repr(align(16))]
        struct Aligned([u8; 1024]);
        let mut buffer = Aligned([0; 1024]);
        let out = &mut buffer.0;
        let top = out.as_ptr() as u64 + out.len() as u64;
        let argv: [&[u8]; 2] = [b"/bin/echo", b"hi"];
        let envp: [&[u8]; 1] = [b"TERM=vt100"];
        let binds: [(u64, &[u8]); 1] = [(48, b"/dev/log")];
        let contents = StackContents {
            argv: argv.iter().copied(),
            envp: envp.iter().copied(),
            bindings: binds.iter().copied(),
            pid: 7,
            entry: 0x40_0000,
            marker: core::marker::PhantomData,
        };
        let (used, rsp) = build_stack(out, top, contents).unwrap();
        assert_eq!(rsp % 16, 0);
        assert_eq!(top - rsp, used as u64);
        // The child reads its stack through the address alone: expose the buffer as it is
        // after the build (Miri's provenance rules), and check it did not move.
        assert_eq!(out.as_ptr() as u64 + out.len() as u64, top);
        // SAFETY: `rsp` points into `out`, laid out just above, which outlives `start`.
        let start = unsafe { Startup::from_stack(rsp) };
        assert_eq!(start.argc(), 2);
        assert!(start.args().eq(argv));
        assert_eq!(start.getenv(b"TERM"), Some(&b"vt100"[..]));
        assert_eq!(start.getenv(b"TER"), None);
        assert_eq!(start.pid(), 7);
        assert_eq!(start.lookup(b"/dev/log"), Some(48));
        assert_eq!(start.lookup(b"/dev/null"), None);
    }

    #[test]
    fn stacks_that_do_not_fit_are_refused() {
        let mut out = [0u8; 64];
        let big = [b'x'; 100];
        let argv: [&[u8]; 1] = [&big];
        let contents = StackContents {
            argv: argv.iter().copied(),
            envp: core::iter::empty(),
            bindings: core::iter::empty(),
            pid: 1,
            entry: 0,
            marker: core::marker::PhantomData,
        };
        assert_eq!(build_stack(&mut out, 0x1000, contents), Err(StackTooBig));
    }
}
