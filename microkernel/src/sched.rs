//! The scheduler: fixed priorities (0..=255, higher runs first), round robin within a
//! priority, timeslices counted in timer ticks, and an idle context. One CPU for now; all
//! state sits behind one lock so that a big kernel lock can replace it for SMP.

use crate::arch::gdt;
use crate::arch::trap::TrapFrame;
use crate::queue::{ReadyLinks, TcbQueue, TimeoutLinks};
use crate::thread::{Tcb, TcbPtr, ThreadState};
use core::ptr::null_mut;
use spin::{Mutex, MutexGuard};

/// Number of priorities.
pub const PRIORITIES: usize = 256;
/// Timer ticks in one timeslice.
pub const TIMESLICE_TICKS: u32 = 5;

/// Run queues and the current thread.
pub struct Scheduler {
    queues: [TcbQueue<ReadyLinks>; PRIORITIES],
    /// Bit p set when queue p is non-empty.
    bitmap: [u64; PRIORITIES / 64],
    /// The running thread; null while idle.
    current: *mut Tcb,
    /// Ticks left in the current thread's timeslice.
    slice_left: u32,
    /// Threads in a timed wait, soonest deadline first.
    timeouts: TcbQueue<TimeoutLinks>,
    /// The time-stamp counter value up to which running time has been charged.
    charged_at: u64,
}

// SAFETY: the scheduler is only touched with interrupts off on the single CPU, through the
// mutex; the raw pointers are TCB objects that stay valid while they are queued (deleting
// a TCB dequeues it first).
unsafe impl Send for Scheduler {}

/// The scheduler.
pub static SCHEDULER: Mutex<Scheduler> = Mutex::new(Scheduler {
    queues: [TcbQueue::EMPTY; PRIORITIES],
    bitmap: [0; PRIORITIES / 64],
    current: null_mut(),
    slice_left: TIMESLICE_TICKS,
    timeouts: TcbQueue::EMPTY,
    charged_at: 0,
});

impl Scheduler {
    /// The running thread (null when idle).
    pub fn current(&self) -> *mut Tcb {
        self.current
    }

    /// Appends a runnable thread to its priority's queue.
    ///
    /// # Safety
    /// `tcb` must be a live TCB that is not queued.
    pub unsafe fn enqueue(&mut self, tcb: *mut Tcb) {
        // SAFETY: the caller guarantees `tcb` is live and unqueued.
        let p = unsafe {
            (*tcb).queued = true;
            (*tcb).priority as usize
        };
        // SAFETY: as above.
        unsafe { self.queues[p].push(tcb) };
        self.bitmap[p / 64] |= 1 << (p % 64);
    }

    /// Removes a thread from its queue if it is in one.
    ///
    /// # Safety
    /// `tcb` must be a live TCB.
    pub unsafe fn dequeue(&mut self, tcb: *mut Tcb) {
        // SAFETY: the caller guarantees `tcb` is live; a queued thread is in the queue
        // of its priority (a priority changes only while the thread is dequeued).
        unsafe {
            if !(*tcb).queued {
                return;
            }
            let p = (*tcb).priority as usize;
            self.queues[p].remove(tcb);
            (*tcb).queued = false;
            if self.queues[p].is_empty() {
                self.bitmap[p / 64] &= !(1 << (p % 64));
            }
        }
    }

    /// Highest priority with a ready thread.
    fn highest_ready(&self) -> Option<usize> {
        (0..self.bitmap.len())
            .rev()
            .find(|&w| self.bitmap[w] != 0)
            .map(|w| w * 64 + 63 - self.bitmap[w].leading_zeros() as usize)
    }

    /// Forgets the current thread (it is being destroyed).
    pub fn clear_current(&mut self) {
        self.current = null_mut();
    }

    /// Makes `tcb` runnable (it runs when its priority allows).
    ///
    /// # Safety
    /// `tcb` must be a live TCB.
    pub unsafe fn make_runnable(&mut self, tcb: *mut Tcb) {
        // SAFETY: forwarded from the caller.
        unsafe {
            // Whatever it waited for has come: its timed wait (if any) is over.
            self.cancel_timeout(tcb);
            (*tcb).state = ThreadState::Running;
            if tcb != self.current && !(*tcb).queued {
                self.enqueue(tcb);
            }
        }
    }

    /// Picks the thread to run next. `yielding` puts the current thread behind its equals.
    fn choose(&mut self, yielding: bool) -> *mut Tcb {
        let cur = self.current;
        // SAFETY: `current` is live while it is current.
        let cur_runnable = !cur.is_null() && unsafe { (*cur).state == ThreadState::Running };
        let best = self.highest_ready();
        if cur_runnable {
            // SAFETY: as above.
            let cp = unsafe { (*cur).priority } as usize;
            let switch = match best {
                Some(p) => p > cp || (yielding && p == cp),
                None => false,
            };
            if !switch {
                return cur;
            }
            // SAFETY: the current thread is live and not queued.
            unsafe { self.enqueue(cur) };
        }
        match self.highest_ready() {
            Some(p) => {
                let next = self.queues[p].head;
                // SAFETY: queue heads are live TCBs.
                unsafe { self.dequeue(next) };
                next
            }
            None => null_mut(),
        }
    }

    /// Whether a ready thread has a priority above `priority`.
    #[inline(always)]
    pub fn has_ready_above(&self, priority: u8) -> bool {
        let (word, bit) = (usize::from(priority) / 64, u32::from(priority) % 64);
        // Bits above `bit` in its own word, then any higher word.
        let above = self.bitmap[word].checked_shr(bit + 1).unwrap_or(0);
        above != 0 || self.bitmap[word + 1..].iter().any(|&w| w != 0)
    }

    /// Makes `next` the running thread directly (IPC fast path): `next` must be live, not
    /// queued, and the current thread must have been blocked by the caller.
    pub fn switch_current(&mut self, next: *mut Tcb) {
        self.current = next;
    }

    /// Puts a blocked thread in the timeout list with `deadline` (a time-stamp counter
    /// value), replacing any earlier deadline. The list is sorted, so this walks past the
    /// threads with earlier deadlines: O(timed waiters), each a TCB paid for from untyped.
    ///
    /// # Safety
    /// `tcb` must be a live TCB.
    pub unsafe fn add_timeout(&mut self, tcb: *mut Tcb, deadline: u64) {
        // SAFETY: forwarded from the caller; list members are live TCBs (a TCB leaves the
        // list before it is destroyed: `ipc::cancel_ipc`).
        unsafe {
            self.cancel_timeout(tcb);
            // 0 means "not in the list".
            let deadline = deadline.max(1);
            let mut next = self.timeouts.head;
            while !next.is_null() && (*next).deadline <= deadline {
                next = TcbQueue::<TimeoutLinks>::next(next);
            }
            (*tcb).deadline = deadline;
            self.timeouts.insert_before(next, tcb);
        }
    }

    /// Takes a thread out of the timeout list if it is in it.
    ///
    /// # Safety
    /// `tcb` must be a live TCB.
    pub unsafe fn cancel_timeout(&mut self, tcb: *mut Tcb) {
        // SAFETY: forwarded from the caller; a thread with a deadline is in the list.
        unsafe {
            if (*tcb).deadline == 0 {
                return;
            }
            self.timeouts.remove(tcb);
            (*tcb).deadline = 0;
        }
    }

    /// Takes the first thread whose deadline is at or before `now` out of the list.
    fn pop_expired(&mut self, now: u64) -> Option<*mut Tcb> {
        let head = self.timeouts.head;
        // SAFETY: list members are live TCBs.
        if head.is_null() || unsafe { (*head).deadline } > now {
            return None;
        }
        // SAFETY: as above.
        unsafe { self.cancel_timeout(head) };
        Some(head)
    }

    /// Whether any thread waits with a deadline (the system is not finished while one
    /// does, even with nothing runnable).
    pub fn has_timeouts(&self) -> bool {
        !self.timeouts.is_empty()
    }

    /// Charges `running` (the thread that was current since the last charge; null while
    /// idle, which nobody pays for) with the counter ticks from the last charge to `now`.
    ///
    /// The charge points are the timer tick and every switch the scheduler makes
    /// ([`schedule`]); the IPC fast path switches threads without charging, so the time
    /// since the last charge point goes to whichever thread is current at the next one.
    /// A thread that runs without system calls (a spinner) is charged exactly, to within a
    /// tick; time in fast-path round trips may be charged to the other side of them.
    ///
    /// # Safety
    /// `running` must be null or a live TCB.
    pub unsafe fn charge(&mut self, running: *mut Tcb, now: u64) {
        let used = now.saturating_sub(self.charged_at);
        self.charged_at = now;
        // SAFETY: forwarded from the caller; a place read and write of one field.
        unsafe {
            if !running.is_null() {
                (*running).cpu_time = (*running).cpu_time.saturating_add(used);
            }
        }
    }

    /// The counter ticks `t` has run for, including the part not yet charged when it is
    /// the current thread.
    ///
    /// # Safety
    /// `t` must be a live TCB.
    pub unsafe fn cpu_time(&self, t: *mut Tcb, now: u64) -> u64 {
        // SAFETY: forwarded from the caller.
        let charged = unsafe { (*t).cpu_time };
        if t == self.current {
            charged.saturating_add(now.saturating_sub(self.charged_at))
        } else {
            charged
        }
    }

    /// Counts a timer tick; true when the current timeslice is used up.
    pub fn tick(&mut self) -> bool {
        self.slice_left = self.slice_left.saturating_sub(1);
        self.slice_left == 0
    }
}

/// The timer interrupt: ends every timed wait whose deadline has passed, then counts the
/// tick; true when the current timeslice is used up.
pub fn timer_tick() -> bool {
    crate::object::pending::continue_from_timer();
    let now = crate::time::now();
    loop {
        let expired = SCHEDULER.lock().pop_expired(now);
        let Some(t) = expired else { break };
        // SAFETY: threads in the timeout list are live.
        unsafe { time_out(t) };
    }
    let mut s = SCHEDULER.lock();
    let running = s.current;
    // SAFETY: the current thread is live (destroying it clears `current`).
    unsafe { s.charge(running, now) };
    s.tick()
}

/// Ends `t`'s timed wait: out of its queue or reply relation, and runnable with
/// `TimedOut` (a `Sleep` returns 0).
///
/// # Safety
/// `t` must be a live TCB.
unsafe fn time_out(t: *mut Tcb) {
    // SAFETY: forwarded from the caller.
    let Some(tcb) = (unsafe { crate::thread::TcbPtr::from_raw(t) }) else {
        return;
    };
    let code = match tcb.state() {
        ThreadState::Sleeping => 0,
        ThreadState::BlockedOnSend
        | ThreadState::BlockedOnRecv
        | ThreadState::BlockedOnReply
        | ThreadState::BlockedOnNotification => libsys::abi::Error::TimedOut as u64,
        // Not waiting any more (cannot happen: every wake-up leaves the list).
        ThreadState::Running | ThreadState::Inactive => return,
    };
    crate::ipc::cancel_ipc(tcb);
    let mut pending = tcb.pending();
    pending.kind = crate::thread::SendKind::Message;
    tcb.set_pending(pending);
    tcb.update_context(|c| c.rax = code);
    // SAFETY: `t` is live.
    unsafe { SCHEDULER.lock().make_runnable(t) };
}

/// The current thread, or null when idle.
pub fn current() -> *mut Tcb {
    SCHEDULER.lock().current
}

/// The frame the idle loop resumes from (rebuilt every time idle is chosen).
struct IdleFrame(core::cell::UnsafeCell<TrapFrame>);
// SAFETY: only the single CPU touches it, with interrupts off.
unsafe impl Sync for IdleFrame {}
static IDLE_FRAME: IdleFrame = IdleFrame(core::cell::UnsafeCell::new(TrapFrame {
    r15: 0,
    r14: 0,
    r13: 0,
    r12: 0,
    r11: 0,
    r10: 0,
    r9: 0,
    r8: 0,
    rbp: 0,
    rdi: 0,
    rsi: 0,
    rdx: 0,
    rcx: 0,
    rbx: 0,
    rax: 0,
    vector: 0,
    error_code: 0,
    rip: 0,
    cs: 0,
    rflags: 0,
    rsp: 0,
    ss: 0,
}));

/// Chooses the next thread, switches to its address space and save area, and returns the
/// frame to resume. With nothing to run, returns the idle frame.
pub fn schedule(yielding: bool) -> *mut TrapFrame {
    let s = SCHEDULER.lock();
    if !yielding {
        // SAFETY: `current` is live or null (as in `switch`).
        if let Some(t) = unsafe { TcbPtr::from_raw(s.current) } {
            if t.state() == ThreadState::Running && !s.has_ready_above(t.priority()) {
                if let Some(frame) = resume_current(t) {
                    return frame;
                }
            }
        }
    }
    switch(s, yielding)
}

/// [`schedule`]'s general case (out of line: the usual case stays a small function):
/// chooses with the run queues, stops a chosen thread without an address space, charges
/// CPU time at a switch, and loads the next thread's address space and segment bases.
#[inline(never)]
fn switch(mut s: MutexGuard<'_, Scheduler>, yielding: bool) -> *mut TrapFrame {
    let previous = s.current;
    let mut next = s.choose(yielding);
    // A thread whose address space was taken away (its VSpace cap revoked) cannot run:
    // stop it instead of loading a null page table.
    // SAFETY: `next` is a live TCB taken from the run queue (or the current thread).
    while let Some(t) = unsafe { TcbPtr::from_raw(next) } {
        if t.vspace().pml4 != 0 {
            break;
        }
        crate::warn!(
            "thread {} has no address space any more; suspended",
            t.name()
        );
        t.set_state(ThreadState::Inactive);
        s.current = core::ptr::null_mut();
        next = s.choose(false);
    }
    if next != previous || yielding {
        s.slice_left = TIMESLICE_TICKS;
    }
    if next != previous {
        // SAFETY: `previous` was current, so it is live or null (destroying the current
        // thread clears `current` before it could be read here).
        unsafe { s.charge(previous, crate::time::now()) };
    }
    s.current = next;
    drop(s);
    if next.is_null() {
        if !previous.is_null() && crate::log::enabled(crate::log::Level::Debug) {
            // SAFETY: the previous thread is live unless it was just destroyed, in which
            // case `current` was cleared and `previous` is null.
            if let Some(p) = unsafe { TcbPtr::from_raw(previous) } {
                crate::debug!(
                    "idle: last thread {} is {:?} (blocked on {:#x})",
                    p.name(),
                    p.state(),
                    p.blocked_on()
                );
            }
        }
        // SAFETY: the kernel table maps the kernel like every address space; idle runs on
        // it so that no dying address space stays loaded.
        unsafe { crate::kmem::kernel_table().activate() };
        crate::idle::enter();
        let idle = IDLE_FRAME.0.get();
        // SAFETY: single CPU, interrupts off: nobody else uses the idle frame now.
        unsafe { *idle = idle_context() };
        return idle;
    }
    // SAFETY: `next` is a live TCB, now current (and not null: checked above).
    let Some(t) = (unsafe { TcbPtr::from_raw(next) }) else {
        return IDLE_FRAME.0.get();
    };
    let loaded = crate::mem::paging::PageTable::current_pml4();
    let vspace = t.vspace();
    if loaded != vspace.pml4 {
        // SAFETY: every thread's address space shares the kernel half.
        unsafe { vspace.activate() };
    }
    if next != previous {
        gdt::load_segment_bases(&t.segment_bases());
    }
    // The entry code saves the thread's registers here and the exit code restores them;
    // the pointer comes from the raw TCB pointer (no reference).
    let frame = t.context_ptr();
    crate::arch::syscall::set_save_area(frame);
    frame
}

/// The usual end of a system call: the current thread `t` is still running and nothing
/// ready is above it, so it goes on (what [`Scheduler::choose`] decides then, without its
/// queue work; the time slice and the CPU-time charge are those of a thread that stays:
/// unchanged). Its address space is loaded if the call changed it, and its save area set
/// (the same frame). `None`, changing nothing, when it has no address space any more:
/// [`schedule`]'s general path then stops it.
#[inline(always)]
fn resume_current(t: TcbPtr) -> Option<*mut TrapFrame> {
    let vspace = t.vspace();
    if vspace.pml4 == 0 {
        return None;
    }
    if crate::mem::paging::PageTable::loaded_pml4() != vspace.pml4 {
        // SAFETY: every thread's address space shares the kernel half.
        unsafe { vspace.activate() };
    }
    let frame = t.context_ptr();
    crate::arch::syscall::set_save_area(frame);
    Some(frame)
}

/// Context that runs the idle loop on the idle stack in ring 0.
pub fn idle_context() -> TrapFrame {
    TrapFrame {
        rip: crate::idle::idle_loop as *const () as u64,
        cs: u64::from(gdt::KERNEL_CS),
        rflags: 0x202,
        rsp: gdt::IDLE_STACK.top(),
        ss: u64::from(gdt::KERNEL_DS),
        ..TrapFrame::default()
    }
}
