//! Lifecycle: exit, wait, kill, resume, ids, faults, death and reaping.

use crate::serve::{error, ok, Answer};
use crate::table::{State, MAX_PROCS};
use crate::Server;
use libsys::abi::MessageInfo;
use libsys::cap::{Cap, Reply};
use libsys::println;
use libsys::time::now;
use procsrv_api::signal::{
    SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGSTOP, SIGTRAP, SIGTSTP, SIGTTIN,
    SIGTTOU, SIGURG, SIGWINCH,
};
use procsrv_api::{phase, Errno, Signal, WaitStatus, REPLY_OK, WAIT_ANY, WNOHANG, WUNTRACED};

/// The signal a CPU exception becomes, and its name.
fn fault_signal(vector: u64) -> (Signal, &'static str) {
    match vector {
        0 => (SIGFPE, "SIGFPE"),
        16 | 19 => (SIGFPE, "SIGFPE"),
        1 | 3 => (SIGTRAP, "SIGTRAP"),
        6 => (SIGILL, "SIGILL"),
        17 => (SIGBUS, "SIGBUS"),
        _ => (SIGSEGV, "SIGSEGV"),
    }
}

fn vector_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        6 => "invalid opcode",
        13 => "general protection fault",
        14 => "page fault",
        _ => "exception",
    }
}

fn bit(signal: Signal) -> u64 {
    1u64 << (signal - 1)
}

impl Server {
    fn reply_cap(&self, base: u64, pid: u64) -> Option<Cap<Reply>> {
        let i = self.table.index(pid)?;
        (i < MAX_PROCS).then(|| Cap::from_cptr(base + i as u64))
    }

    pub(crate) fn exit(&mut self, pid: u64, code: u64) -> Answer {
        let destroyed = self.phases.total(phase::DESTROY);
        let t = now();
        self.die(pid, WaitStatus::Exited(code as u8));
        let took = now().wrapping_sub(t);
        // The revoke inside is counted in `destroy`, not again here.
        let destroy = self.phases.total(phase::DESTROY).wrapping_sub(destroyed);
        self.phases
            .add_ticks(phase::EXIT, took.wrapping_sub(destroy));
        Answer::Nothing
    }

    pub(crate) fn fault(&mut self, pid: u64, m: &libsys::cap::Received) -> Answer {
        let [vector, _code, address, rip] = m.words;
        if vector == 14 && self.grow_stack(pid, address) {
            // The reply resumes the thread at the faulting instruction.
            return ok(0, [0; 4]);
        }
        let (signal, signal_name) = fault_signal(vector);
        if self.is_file_server(pid) {
            // Before the report: procsrv's lines go through the file server.
            self.lose_file_server(format_args!("faulted"));
        }
        if let Some(p) = self.table.get(pid) {
            let name = p.name.split(|&b| b == 0).next().unwrap_or(&[]);
            println!(
                "procsrv: pid {pid} ({}) killed by {signal_name}: {} at address {address:#x} (rip {rip:#x})",
                core::str::from_utf8(name).unwrap_or("?"),
                vector_name(vector),
            );
            self.die(pid, WaitStatus::Signaled(signal));
        }
        Answer::Nothing
    }

    /// Maps the stack page holding `address` when it lies in `pid`'s stack range (below
    /// the mapped top, within [`crate::hatch::MAX_STACK`] and RLIMIT_STACK).
    fn grow_stack(&mut self, pid: u64, address: u64) -> bool {
        use crate::hatch::HATCH_STACK_TOP as STACK_TOP;
        use libsys::loader::PAGE_SIZE;
        let Some((p, process)) = self.table.get_mut_with_objects(pid) else {
            return false;
        };
        let limit = p.limits[crate::table::RLIMIT_STACK]
            .0
            .min(crate::hatch::MAX_STACK);
        let bottom = STACK_TOP.saturating_sub(limit);
        if address < bottom || address >= STACK_TOP - crate::hatch::STACK_PAGES * PAGE_SIZE {
            return false;
        }
        let Some(process) = process else {
            return false;
        };
        process
            .map_fresh_page(&mut self.alloc, address & !(PAGE_SIZE - 1))
            .is_ok()
    }

    /// Ends `pid` with `status`: its memory returns at once, its children go to init
    /// (pid 1) or, without one, to procsrv, and a waiter learns of it. When pid 1 ends
    /// with a status other than 0 (or by a signal), one line says so.
    pub(crate) fn die(&mut self, pid: u64, status: WaitStatus) {
        let Some(p) = self.table.get_mut(pid) else {
            return;
        };
        if matches!(p.state, State::Zombie(_)) {
            return;
        }
        if self.is_file_server(pid) {
            self.lose_file_server(format_args!("{status}"));
        }
        let Some(p) = self.table.get_mut(pid) else {
            return;
        };
        if pid == 1 && status != WaitStatus::Exited(0) {
            // The one line `cargo xtask run` and the tests read as a failed run (pid 1 is
            // init, or a test root's driver): `procsrv: init (pid 1) exited with status 3`.
            let name = p.name.split(|&b| b == 0).next().unwrap_or(&[]);
            println!(
                "procsrv: {} (pid 1) {status}",
                core::str::from_utf8(name).unwrap_or("?")
            );
        }
        p.state = State::Zombie(status);
        p.waiting_for = None;
        let block_index = p.block;
        let owner = crate::table::sole_uid(&p.creds).filter(|_| !self.build_cold);
        let live = core::mem::replace(&mut p.live, false);
        if let (true, Some(block)) = (live, self.blocks.get(block_index)) {
            let t = now();
            self.blocks.set_owner(block_index, owner);
            self.retire(block_index, block, true);
            self.phases.add(phase::DESTROY, t);
        }
        self.files.forget(pid as u32);
        let init = if self
            .table
            .get(1)
            .is_some_and(|p| !matches!(p.state, State::Zombie(_)))
        {
            1
        } else {
            0
        };
        if self.table.get(pid).is_some_and(|p| p.had_children) {
            self.reparent_children(pid, init);
        }
        self.notify(pid);
    }

    /// Gives the children of `pid` (dead) to `init` (1, or procsrv: 0), reaping the zombies
    /// among them when that is procsrv.
    fn reparent_children(&mut self, pid: u64, init: u32) {
        let mut orphan_zombies = [0u32; MAX_PROCS];
        let mut orphans = 0;
        let mut adopted = false;
        for child in self.table.iter_mut().filter(|c| u64::from(c.ppid) == pid) {
            child.ppid = init;
            adopted = true;
            if init == 0 && matches!(child.state, State::Zombie(_)) {
                orphan_zombies[orphans] = child.pid;
                orphans += 1;
            }
        }
        if adopted {
            if let Some(init) = self.table.get_mut(init.into()) {
                init.had_children = true;
            }
        }
        for &z in &orphan_zombies[..orphans] {
            self.reap(z.into());
        }
    }

    /// Tells whoever waits for `pid` (by handle, or its parent) that it ended.
    fn notify(&mut self, pid: u64) {
        let Some(p) = self.table.get(pid) else {
            return;
        };
        let State::Zombie(status) = p.state else {
            return;
        };
        let ppid = u64::from(p.ppid);
        let words = [pid, status.to_word(), 0, 0];
        let info = MessageInfo::new(REPLY_OK, 2, 0);
        if let Some(reply) = self.reply_cap(self.handle_replies, pid) {
            // Sending on an empty Reply object does nothing, so this reaps only when
            // someone waited by handle.
            if self.handle_waited(pid) {
                let _ = reply.send(info, words);
                self.reap(pid);
                return;
            }
        }
        let parent_waits = self
            .table
            .get(ppid)
            .and_then(|parent| parent.waiting_for)
            .is_some_and(|w| w == WAIT_ANY || w == pid);
        if parent_waits {
            if let Some(reply) = self.reply_cap(self.wait_replies, ppid) {
                let _ = reply.send(info, words);
            }
            if let Some(parent) = self.table.get_mut(ppid) {
                parent.waiting_for = None;
            }
            self.reap(pid);
        } else if ppid == 0 {
            self.reap(pid);
        }
    }

    /// Tells `pid`'s parent that it stopped, if the parent waits for it with `WUNTRACED`.
    fn notify_stop(&mut self, pid: u64) {
        let Some(p) = self.table.get(pid) else {
            return;
        };
        let (ppid, Some(signal)) = (u64::from(p.ppid), p.unreported_stop) else {
            return;
        };
        let parent_waits = self.table.get(ppid).is_some_and(|parent| {
            parent.waiting_untraced
                && parent
                    .waiting_for
                    .is_some_and(|w| w == WAIT_ANY || w == pid)
        });
        if !parent_waits {
            return;
        }
        if let Some(reply) = self.reply_cap(self.wait_replies, ppid) {
            let words = [pid, WaitStatus::Stopped(signal).to_word(), 0, 0];
            let _ = reply.send(MessageInfo::new(REPLY_OK, 2, 0), words);
        }
        if let Some(parent) = self.table.get_mut(ppid) {
            parent.waiting_for = None;
        }
        if let Some(p) = self.table.get_mut(pid) {
            p.unreported_stop = None;
        }
    }

    /// Removes `pid`'s record; nobody waits on it by handle any more.
    fn reap(&mut self, pid: u64) {
        if let Some(i) = self.table.index(pid) {
            self.handle_waiters &= !(1u128 << i);
        }
        self.table.remove(pid);
    }

    fn handle_waited(&self, pid: u64) -> bool {
        self.table
            .index(pid)
            .is_some_and(|i| self.handle_waiters & (1u128 << i) != 0)
    }

    pub(crate) fn wait(&mut self, pid: u64, target: u64, options: u64) -> Answer {
        let t = now();
        let answer = self.wait_untimed(pid, target, options);
        self.phases.add(phase::WAIT, t);
        answer
    }

    fn wait_untimed(&mut self, pid: u64, target: u64, options: u64) -> Answer {
        let matches = |c: &crate::table::Proc| {
            u64::from(c.ppid) == pid && (target == WAIT_ANY || u64::from(c.pid) == target)
        };
        let zombie = self
            .table
            .iter()
            .find(|c| matches(c) && matches!(c.state, State::Zombie(_)))
            .map(|c| (u64::from(c.pid), c.state));
        if let Some((child, State::Zombie(status))) = zombie {
            self.reap(child);
            return ok(2, [child, status.to_word(), 0, 0]);
        }
        if !self.table.iter().any(matches) {
            return error(Errno::ECHILD);
        }
        let untraced = options & WUNTRACED != 0;
        if untraced {
            let stopped = self
                .table
                .iter_mut()
                .find(|c| matches(c) && c.unreported_stop.is_some());
            if let Some(child) = stopped {
                let signal = child.unreported_stop.take().unwrap_or(SIGSTOP);
                return ok(
                    2,
                    [
                        child.pid.into(),
                        WaitStatus::Stopped(signal).to_word(),
                        0,
                        0,
                    ],
                );
            }
        }
        if options & WNOHANG != 0 {
            return ok(2, [0, 0, 0, 0]);
        }
        match self.reply_cap(self.wait_replies, pid) {
            Some(reply) if reply.save().is_ok() => {
                if let Some(p) = self.table.get_mut(pid) {
                    p.waiting_for = Some(target);
                    p.waiting_untraced = untraced;
                }
                Answer::Nothing
            }
            _ => error(Errno::EAGAIN),
        }
    }

    pub(crate) fn wait_handle(&mut self, pid: u64, options: u64) -> Answer {
        let t = now();
        let answer = self.wait_handle_untimed(pid, options);
        self.phases.add(phase::WAIT, t);
        answer
    }

    fn wait_handle_untimed(&mut self, pid: u64, options: u64) -> Answer {
        if let Some(State::Zombie(status)) = self.table.get(pid).map(|p| p.state) {
            self.reap(pid);
            return ok(2, [pid, status.to_word(), 0, 0]);
        }
        if options & WNOHANG != 0 {
            return ok(2, [0, 0, 0, 0]);
        }
        let Some(i) = self.table.index(pid) else {
            return error(Errno::ESRCH);
        };
        match self.reply_cap(self.handle_replies, pid) {
            Some(reply) if reply.save().is_ok() => {
                self.handle_waiters |= 1u128 << i;
                Answer::Nothing
            }
            _ => error(Errno::EAGAIN),
        }
    }

    /// `kill` through the own endpoint: `target` > 0 a pid, 0 the caller's group, < 0 the
    /// group `-target`.
    pub(crate) fn kill_call(&mut self, sender: u64, target: i64, signal: u64) -> Answer {
        if target > 0 {
            return self.kill_one(Some(sender), target as u64, signal);
        }
        let pgid = if target == 0 {
            self.table.get(sender).map_or(0, |p| u64::from(p.pgid))
        } else {
            target.unsigned_abs()
        };
        let mut pids = [0u32; MAX_PROCS];
        let mut n = 0;
        for p in self
            .table
            .iter()
            .filter(|p| u64::from(p.pgid) == pgid && p.pid != 0)
        {
            pids[n] = p.pid;
            n += 1;
        }
        if n == 0 {
            return error(Errno::ESRCH);
        }
        let mut answer = error(Errno::EPERM);
        for &p in &pids[..n] {
            if let Answer::Words(REPLY_OK, ..) = self.kill_one(Some(sender), p.into(), signal) {
                answer = ok(0, [0; 4]);
            }
        }
        answer
    }

    /// Sends `signal` to `pid`; `sender` `None` means through a handle (always allowed).
    pub(crate) fn kill_one(&mut self, sender: Option<u64>, pid: u64, signal: u64) -> Answer {
        if signal > u64::from(procsrv_api::signal::MAX) {
            return error(Errno::EINVAL);
        }
        let Some(target) = self.table.get(pid) else {
            return error(Errno::ESRCH);
        };
        if pid == 0 {
            return error(Errno::EPERM);
        }
        if let Some(sender) = sender.and_then(|s| self.table.get(s)) {
            let c = &sender.creds;
            let t = &target.creds;
            let allowed = c.privileged()
                || c.uid[0] == t.uid[0]
                || c.uid[1] == t.uid[0]
                || c.uid[0] == t.uid[2]
                || c.uid[1] == t.uid[2];
            if !allowed {
                return error(Errno::EPERM);
            }
        }
        if signal == 0 || matches!(target.state, State::Zombie(_)) {
            return ok(0, [0; 4]);
        }
        self.deliver(pid, signal as Signal);
        ok(0, [0; 4])
    }

    /// Applies `signal` to `pid`: the default action, ignored, or pending while blocked.
    pub(crate) fn deliver(&mut self, pid: u64, signal: Signal) {
        let Some((p, process)) = self.table.get_mut_with_objects(pid) else {
            return;
        };
        let uncatchable = signal == SIGKILL || signal == SIGSTOP;
        if signal == SIGCONT {
            if p.state == State::Stopped {
                if let Some(process) = process {
                    let _ = process.tcb.resume();
                }
                p.state = State::Running;
                p.unreported_stop = None;
            }
            return;
        }
        if !uncatchable && p.sigignore & bit(signal) != 0 {
            return;
        }
        if !uncatchable && p.sigmask & bit(signal) != 0 {
            p.pending |= bit(signal);
            return;
        }
        match signal {
            SIGCHLD | SIGURG | SIGWINCH => {}
            SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => {
                if p.state == State::Running {
                    if let Some(process) = process {
                        let _ = process.tcb.suspend();
                    }
                    p.state = State::Stopped;
                    p.unreported_stop = Some(signal);
                    self.notify_stop(pid);
                }
            }
            _ => self.die(pid, WaitStatus::Signaled(signal)),
        }
    }

    pub(crate) fn resume(&mut self, pid: u64) -> Answer {
        let Some((p, process)) = self.table.get_mut_with_objects(pid) else {
            return error(Errno::ESRCH);
        };
        if p.state != State::Suspended {
            return error(Errno::EINVAL);
        }
        if let Some(process) = process {
            if process.tcb.resume().is_err() {
                return error(Errno::ESRCH);
            }
        }
        p.state = State::Running;
        ok(0, [0; 4])
    }

    pub(crate) fn ids(&self, pid: u64) -> Answer {
        match self.table.get(pid) {
            Some(p) => ok(
                4,
                [p.pid.into(), p.ppid.into(), p.pgid.into(), p.sid.into()],
            ),
            None => error(Errno::ESRCH),
        }
    }
}
