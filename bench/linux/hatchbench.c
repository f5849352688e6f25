/*
 * The Linux side of `cargo xtask bench hatch --linux`: the init of an initramfs booted in
 * the same QEMU as Hatchery's benchmarks (TCG, -icount shift=0, where one tick of the
 * time-stamp counter is one executed instruction).
 *
 * It times, with rdtsc around each run, the ways Linux starts a tiny static child
 * (/child: one page, exits at once) and waits for it, with and without ten file actions
 * plus setsid, and two calibration figures (getppid, pipe ping-pong round trip). It
 * prints one `bench-row:` line per figure (the median of RUNS timed runs after WARMUP
 * untimed ones) in the format xtask's bench_report.rs parses, or one `bench-error:` line
 * naming the run that went wrong, and powers the machine off.
 *
 * Kernel entries of a hatch (system calls plus page faults, the parent's and the
 * child's) are counted with perf events in a separate, untimed pass, so that counting
 * costs nothing in the timed one.
 *
 * Built by xtask with `gcc -static -O2`; see docs/benchmarks.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Timed runs per figure (the median is reported) and untimed runs before them. */
#define RUNS 201
#define WARMUP 20
/* Runs of the counted pass (the median is reported). */
#define COUNTED_RUNS 21
/* The calibration figures are cheap: more runs. */
#define CALIBRATION_RUNS 2001
#define CALIBRATION_WARMUP 200

#define CHILD_PATH "/child"
#define TRACEFS "/sys/kernel/tracing"
#define SYS_ENTER_ID TRACEFS "/events/raw_syscalls/sys_enter/id"
#define NULL_PATH "/dev/null"

extern char **environ;

static uint64_t samples[CALIBRATION_RUNS];

static inline uint64_t rdtsc(void)
{
	uint32_t low, high;
	__asm__ volatile("rdtsc" : "=a"(low), "=d"(high)::"memory");
	return ((uint64_t)high << 32) | low;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *values, int count)
{
	qsort(values, count, sizeof values[0], compare_u64);
	return values[count / 2];
}

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	/* Still here: nothing else to do; init must not exit. */
	for (;;)
		pause();
}

/* Reports a failed run, then stops: no figure is printed after an error. */
static void fail(const char *method, int actions, int run, const char *why)
{
	printf("bench-error: method=%s ops=%d run=%d: %s\n", method, actions, run, why);
	power_off();
}

static void fail_errno(const char *method, int actions, int run, const char *call)
{
	char why[160];
	snprintf(why, sizeof why, "%s failed: %s", call, strerror(errno));
	fail(method, actions, run, why);
}

/* Waits for `pid` and checks that it exited with status 0. */
static void reap(pid_t pid, const char *method, int actions, int run)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		fail_errno(method, actions, run, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char why[96];
		if (WIFEXITED(status))
			snprintf(why, sizeof why, "the child exited with status %d, not 0",
				 WEXITSTATUS(status));
		else
			snprintf(why, sizeof why, "the child did not exit (wait status %#x)", status);
		fail(method, actions, run, why);
	}
}

/*
 * The ten file actions (the same for every method): two opens, five dup2s, three
 * closes. An open onto a given descriptor is done as posix_spawn does it: open, then
 * dup2 and close when the kernel chose another number. Returns 0, or -1 with errno.
 */
static int open_onto(int fd, const char *path, int flags)
{
	int got = open(path, flags);
	if (got < 0 || got == fd)
		return got < 0 ? -1 : 0;
	if (dup2(got, fd) < 0)
		return -1;
	return close(got);
}

static int ten_file_actions(void)
{
	if (open_onto(3, NULL_PATH, O_RDONLY) < 0 || open_onto(4, NULL_PATH, O_WRONLY) < 0)
		return -1;
	if (dup2(3, 0) < 0 || dup2(4, 1) < 0 || dup2(4, 2) < 0 || dup2(3, 5) < 0 ||
	    dup2(4, 6) < 0)
		return -1;
	if (close(3) < 0 || close(4) < 0 || close(5) < 0)
		return -1;
	return 0;
}

static int add_ten_file_actions(posix_spawn_file_actions_t *actions)
{
	int e = 0;
	e |= posix_spawn_file_actions_addopen(actions, 3, NULL_PATH, O_RDONLY, 0);
	e |= posix_spawn_file_actions_addopen(actions, 4, NULL_PATH, O_WRONLY, 0);
	e |= posix_spawn_file_actions_adddup2(actions, 3, 0);
	e |= posix_spawn_file_actions_adddup2(actions, 4, 1);
	e |= posix_spawn_file_actions_adddup2(actions, 4, 2);
	e |= posix_spawn_file_actions_adddup2(actions, 3, 5);
	e |= posix_spawn_file_actions_adddup2(actions, 4, 6);
	e |= posix_spawn_file_actions_addclose(actions, 3);
	e |= posix_spawn_file_actions_addclose(actions, 4);
	e |= posix_spawn_file_actions_addclose(actions, 5);
	return e;
}

/* In a forked or vforked child: setsid and the file actions when asked, then exec. */
static void become_child(int actions)
{
	static char *const argv[] = { CHILD_PATH, NULL };
	if (actions && (setsid() < 0 || ten_file_actions() < 0))
		_exit(126);
	execve(CHILD_PATH, argv, environ);
	_exit(127);
}

enum method { POSIX_SPAWN, VFORK_EXECVE, FORK_EXECVE };
static const char *const method_names[] = { "posix_spawn", "vfork+execve", "fork+execve" };

/* One hatch: start the child, wait for it, check its status. */
static void hatch_once(enum method method, int actions, int run,
		       const posix_spawn_file_actions_t *file_actions,
		       const posix_spawnattr_t *attributes)
{
	static char *const argv[] = { CHILD_PATH, NULL };
	const char *name = method_names[method];
	pid_t pid = -1;
	switch (method) {
	case POSIX_SPAWN: {
		int e = posix_spawn(&pid, CHILD_PATH, file_actions, attributes, argv, environ);
		if (e != 0) {
			errno = e;
			fail_errno(name, actions, run, "posix_spawn");
		}
		break;
	}
	case VFORK_EXECVE:
		pid = vfork();
		if (pid == 0)
			become_child(actions);
		if (pid < 0)
			fail_errno(name, actions, run, "vfork");
		break;
	case FORK_EXECVE:
		pid = fork();
		if (pid == 0)
			become_child(actions);
		if (pid < 0)
			fail_errno(name, actions, run, "fork");
		break;
	}
	reap(pid, name, actions, run);
}

/*
 * Kernel entries, counted by perf events that children inherit (their counts are added to
 * the parent's when they exit): a group of the raw_syscalls:sys_enter tracepoint and the
 * page-fault software event, read together with one read(). The events exist only
 * during a counted pass: while a syscall tracepoint event exists, every system call takes
 * the kernel's slow tracing path, which the timed passes must not pay.
 */
static int counter_fds[2] = { -1, -1 };
/* Whether counting works here (no tracefs or no perf events: rows carry no counts). */
static int counting = 1;
static char sys_enter_id[32];

static int perf_open(uint32_t type, uint64_t config, int group)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.size = sizeof attr;
	attr.type = type;
	attr.config = config;
	attr.inherit = 1;
	attr.disabled = group < 0;
	attr.read_format = PERF_FORMAT_GROUP;
	return syscall(SYS_perf_event_open, &attr, 0, -1, group, 0);
}

/* The two counters summed (system calls + page faults so far). */
static uint64_t kernel_entries(void)
{
	uint64_t values[3] = { 0, 0, 0 }; /* number of counters, then each value */
	if (read(counter_fds[0], values, sizeof values) != sizeof values)
		return 0;
	return values[1] + values[2];
}

static void stop_counting(void)
{
	for (int i = 0; i < 2; i++) {
		if (counter_fds[i] >= 0)
			close(counter_fds[i]);
		counter_fds[i] = -1;
	}
}

/* Mounts sysfs and tracefs and reads the tracepoint's id, once. */
static void find_tracepoint(void)
{
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	int fd = open(SYS_ENTER_ID, O_RDONLY);
	if (fd < 0 || read(fd, sys_enter_id, sizeof sys_enter_id - 1) <= 0) {
		printf("bench-linux: no kernel-entry counts: cannot read %s\n", SYS_ENTER_ID);
		counting = 0;
	}
	if (fd >= 0)
		close(fd);
}

/*
 * Creates and enables the counters; returns what one empty bracket counts (the read()
 * that ends it is a system call), or -1 when counting does not work here.
 */
static int64_t start_counting(void)
{
	if (!counting)
		return -1;
	counter_fds[0] = perf_open(PERF_TYPE_TRACEPOINT, strtoull(sys_enter_id, NULL, 10), -1);
	if (counter_fds[0] >= 0)
		counter_fds[1] = perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS,
					   counter_fds[0]);
	if (counter_fds[1] < 0 ||
	    ioctl(counter_fds[0], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP) < 0) {
		printf("bench-linux: no kernel-entry counts: perf_event_open: %s\n",
		       strerror(errno));
		stop_counting();
		counting = 0;
		return -1;
	}
	for (int run = 0; run < COUNTED_RUNS; run++) {
		uint64_t start = kernel_entries();
		samples[run] = kernel_entries() - start;
	}
	return median(samples, COUNTED_RUNS);
}

static void measure_hatch(enum method method, int actions)
{
	posix_spawn_file_actions_t file_actions;
	posix_spawnattr_t attributes;
	const posix_spawn_file_actions_t *fa = NULL;
	const posix_spawnattr_t *attr = NULL;
	const char *name = method_names[method];
	if (method == POSIX_SPAWN && actions) {
		if (posix_spawn_file_actions_init(&file_actions) != 0 ||
		    add_ten_file_actions(&file_actions) != 0 ||
		    posix_spawnattr_init(&attributes) != 0 ||
		    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID) != 0)
			fail(name, actions, 0, "cannot build the file actions and attributes");
		fa = &file_actions;
		attr = &attributes;
	}
	for (int run = 0; run < WARMUP; run++)
		hatch_once(method, actions, run, fa, attr);
	for (int run = 0; run < RUNS; run++) {
		uint64_t start = rdtsc();
		hatch_once(method, actions, WARMUP + run, fa, attr);
		samples[run] = rdtsc() - start;
	}
	uint64_t instructions = median(samples, RUNS);
	printf("bench-row: method=%s ops=%d runs=%d instructions=%llu", name, actions, RUNS,
	       (unsigned long long)instructions);
	int64_t overhead = start_counting();
	if (overhead >= 0) {
		for (int run = 0; run < COUNTED_RUNS; run++) {
			uint64_t start = kernel_entries();
			hatch_once(method, actions, WARMUP + RUNS + run, fa, attr);
			samples[run] = kernel_entries() - start - overhead;
		}
		stop_counting();
		printf(" kernel_entries=%llu", (unsigned long long)median(samples, COUNTED_RUNS));
	}
	printf("\n");
	fflush(stdout);
}

static void measure_getppid(void)
{
	for (int run = 0; run < CALIBRATION_WARMUP; run++)
		syscall(SYS_getppid);
	for (int run = 0; run < CALIBRATION_RUNS; run++) {
		uint64_t start = rdtsc();
		syscall(SYS_getppid);
		samples[run] = rdtsc() - start;
	}
	printf("bench-row: method=getppid runs=%d instructions=%llu\n", CALIBRATION_RUNS,
	       (unsigned long long)median(samples, CALIBRATION_RUNS));
}

/* One byte there and back between this process and a forked echo process. */
static void measure_pipe_ping_pong(void)
{
	const char *name = "pipe-ping-pong";
	int there[2], back[2];
	char byte = 'x';
	if (pipe(there) < 0 || pipe(back) < 0)
		fail_errno(name, 0, 0, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		fail_errno(name, 0, 0, "fork");
	if (pid == 0) {
		close(there[1]);
		close(back[0]);
		while (read(there[0], &byte, 1) == 1)
			if (write(back[1], &byte, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(there[0]);
	close(back[1]);
	for (int run = 0; run < CALIBRATION_WARMUP + CALIBRATION_RUNS; run++) {
		uint64_t start = rdtsc();
		if (write(there[1], &byte, 1) != 1 || read(back[0], &byte, 1) != 1)
			fail_errno(name, 0, run, "write or read");
		if (run >= CALIBRATION_WARMUP)
			samples[run - CALIBRATION_WARMUP] = rdtsc() - start;
	}
	close(there[1]);
	reap(pid, name, 0, CALIBRATION_WARMUP + CALIBRATION_RUNS);
	close(back[0]);
	printf("bench-row: method=%s runs=%d instructions=%llu\n", name, CALIBRATION_RUNS,
	       (unsigned long long)median(samples, CALIBRATION_RUNS));
}

/* The initramfs has no /dev: mount devtmpfs and make the console stdin/out/err. */
static void open_console(void)
{
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) < 0 && errno != EBUSY)
		return;
	if (fcntl(1, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
}

int main(void)
{
	open_console();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench-linux: ready\n");
	find_tracepoint();
	measure_getppid();
	measure_pipe_ping_pong();
	for (int actions = 0; actions <= 10; actions += 10)
		for (enum method method = POSIX_SPAWN; method <= FORK_EXECVE; method++)
			measure_hatch(method, actions);
	printf("bench-linux: done\n");
	power_off();
	return 0;
}
