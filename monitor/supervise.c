/* Supervision loop: quotas on the whole process tree, and the halt.
 *
 * One epoll over: the sandbox init's pidfd, a wall-clock timerfd, the BPF
 * ring buffer (CPU breach, execs), the cgroup's memory event fd (v1
 * eventfd on OOM, v2 memory.events), its cgroup.events ("populated"), a
 * signalfd (SIGINT/SIGTERM/SIGHUP/SIGQUIT: operator halt), and a poll timer for
 * what has no event (CPU without BPF every 10 ms, with a fence; the
 * workspace quota every 10 ms; pids every 100 ms on v1 controllers).
 * Halt: freeze (a frozen tree cannot fork or run while we look), snapshot
 * usage, cgroup.kill, lift any CPU fence (a throttled task dies slowly),
 * wait until the cgroup is empty — "done" is the cgroup empty, never
 * waitpid of the first child — and report halt_incomplete if it is not
 * empty in time.
 * Trust: runs as root in calyx-exec; reads only kernel files. */
#include "calyx/monitor.h"
#include "calyx/timings.h"

#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>

#define POLL_CPU_NS 10000000LL   /* fallback CPU poll: 10 ms */
#define POLL_SLOW_NS 100000000LL /* pids on v1: 100 ms */
#define EMPTY_TIMEOUT_MS 5000
#define PAUSE_SETTLE_MS 250      /* an operator pause waits this long for "frozen" */
#define FENCE_PERIOD_US 10000

enum { K_PIDFD = 1, K_WALL, K_BPF, K_MEM, K_POP, K_SIG, K_POLL, K_CTL };

const char *cx_halt_name(cx_halt_reason r)
{
	static const char *const n[] = { "none",     "cpu",  "memory", "pids",
					 "wall",     "operator", "disk", "execs" };
	return r <= CX_HALT_EXECS ? n[r] : "?";
}

/* The operator's halt signals, read through the supervisor's signalfd. */
static void halt_sigset(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
	sigaddset(s, SIGQUIT);
}

void cx_supervise_ignore_stray_signals(void)
{
	/* Signals whose default action would kill calyx-exec mid-run, leaving
	 * a run unrecorded (no exec.finished, no result, cgroup and run dir
	 * behind): anyone allowed to signal root's calyx-exec could do that by
	 * accident or on purpose. Ignored; SIGPIPE then turns a closed
	 * stdout/stderr into EPIPE on the write instead of death. The sandbox
	 * resets every disposition to the default before it runs anything
	 * (sandbox/spawn.c), so the run's own programs are unaffected.
	 * SIGABRT, SIGSEGV & co. stay fatal: they report calyx-exec's own
	 * faults (CX_CHECK aborts). */
	static const int stray[] = { SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
				     SIGXCPU, SIGXFSZ, SIGTRAP, SIGSYS, SIGIO, SIGPWR, SIGSTKFLT };
	for (size_t i = 0; i < sizeof(stray) / sizeof(stray[0]); i++)
		signal(stray[i], SIG_IGN);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		signal(sig, SIG_IGN);
}

void cx_supervise_block_signals(void)
{
	sigset_t s;
	halt_sigset(&s);
	sigprocmask(SIG_BLOCK, &s, NULL);
	cx_supervise_ignore_stray_signals();
}

/* Acknowledge a cgroup "file modified" event: kernfs reports EPOLLPRI
 * on an fd until that fd reads the file again. */
static void rearm(int fd)
{
	char b[512];
	(void)!pread(fd, b, sizeof(b), 0);
}

static int add(int ep, int fd, uint32_t events, uint64_t key)
{
	struct epoll_event ev = { .events = events, .data.u64 = key };
	if (fd < 0)
		return 0;
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int arm_timer(int64_t first_ns, int64_t interval_ns)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec it = {
		.it_value = { first_ns / 1000000000LL, first_ns % 1000000000LL },
		.it_interval = { interval_ns / 1000000000LL, interval_ns % 1000000000LL },
	};
	if (fd >= 0 && timerfd_settime(fd, 0, &it, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

typedef struct sup {
	const cx_supervise_cfg *cfg;
	cx_supervise_result *res;
	bool fenced;
	bool paused;
	int64_t paused_since;
	int64_t poll_ns;          /* the poll timer's period now */
	cx_disk_usage last_disk;  /* the scratch's use at the last poll */
} sup;

static void breach(sup *s, cx_halt_reason why, uint64_t limit, uint64_t usage)
{
	if (s->res->halt != CX_HALT_NONE)
		return; /* the first breach names the halt */
	s->res->halt = why;
	s->res->limit = limit;
	s->res->usage_at_detect = usage;
	if (s->cfg->on_breach)
		s->cfg->on_breach(why, limit, usage, s->cfg->arg);
}

/* The halt sequence; returns when the cgroup is empty or time ran out. */
static void halt(sup *s, int ep)
{
	const cx_supervise_cfg *c = s->cfg;
	int64_t t0 = cx_mono_ns();

	cx_cg_freeze(c->cg, true, NULL);
	cx_cg_read_usage(c->cg, &s->res->usage, NULL);
	if (s->paused)
		s->res->paused_ms += (cx_mono_ns() - s->paused_since) / 1000000;
	cx_cg_kill(c->cg, NULL);
	if (s->fenced)
		cx_cg_set_cpu_quota(c->cg, 0, FENCE_PERIOD_US, NULL);
	/* cgroup.kill works on frozen tasks; thaw anyway so a v1-style kill
	 * or a task woken late is not left frozen. */
	cx_cg_freeze(c->cg, false, NULL);
	while (cx_cg_populated(c->cg) > 0) {
		struct epoll_event ev;
		int64_t left = EMPTY_TIMEOUT_MS - (cx_mono_ns() - t0) / 1000000;
		if (left <= 0) {
			s->res->halt_incomplete = true;
			break;
		}
		/* populated changes raise EPOLLPRI on cgroup.events; bound the
		 * wait so v1 (no event) polls every millisecond */
		epoll_wait(ep, &ev, 1, 1);
	}
	s->res->detect_to_empty_ns = cx_mono_ns() - t0;
}

uint64_t cx_cpu_fence_quota(uint64_t budget_us, uint64_t used_us, uint64_t period_us)
{
	uint64_t left, quota;

	if (used_us >= budget_us)
		return 1000; /* spent: the kernel's minimum until the kill lands */
	left = budget_us - used_us;
	/* Far from the budget: no fence (a full CPU for 64 periods cannot
	 * reach it before many polls). */
	if (left >= period_us * 64)
		return 0;
	quota = left / 2;
	return quota < 1000 ? 1000 : quota;
}

static void check_cpu_poll(sup *s)
{
	const cx_supervise_cfg *c = s->cfg;
	cx_cg_usage u = { 0 };
	uint64_t budget_us = c->cpu_ms * 1000;

	if (!c->cpu_ms || cx_cg_read_cpu(c->cg, &u, NULL) < 0)
		return;
	if (u.cpu_usec >= budget_us) {
		breach(s, CX_HALT_CPU, c->cpu_ms, u.cpu_usec / 1000);
		return;
	}
	/* Fence: at most half of what is left per 10 ms period, so the next
	 * poll cannot find much more than the budget spent. */
	uint64_t quota = cx_cpu_fence_quota(budget_us, u.cpu_usec, FENCE_PERIOD_US);
	if (quota && cx_cg_set_cpu_quota(c->cg, quota, FENCE_PERIOD_US, NULL) == 0)
		s->fenced = true;
}

/* One operator request. Pausing freezes the whole tree; the wall clock
 * keeps running (a paused run still holds its lease's time). */
static void control(sup *s)
{
	const cx_supervise_cfg *c = s->cfg;
	cx_ctl_cmd cmd;
	uid_t uid;
	int conn;
	cx_error e = { 0 };
	json_t *reply = NULL;

	if (cx_ctl_accept(c->ctl_fd, &conn, &cmd, &uid, &e) < 0)
		return;
	cx_operator_act act = { .cmd = cmd, .uid = uid };
	switch (cmd) {
	case CX_CTL_STATUS:
		break;
	case CX_CTL_PAUSE:
		if (!s->paused && cx_cg_freeze(c->cg, true, &e) == 0) {
			/* "paused" is answered once the tree is frozen, not just
			 * asked to freeze: at most PAUSE_SETTLE_MS, then as it is */
			for (int i = 0; i < PAUSE_SETTLE_MS && cx_cg_frozen(c->cg) == 0; i++)
				usleep(1000);
			s->paused = true;
			s->paused_since = cx_mono_ns();
			if (c->on_operator)
				c->on_operator(&act, c->arg);
		}
		break;
	case CX_CTL_RESUME:
		if (s->paused && cx_cg_freeze(c->cg, false, &e) == 0) {
			s->paused = false;
			s->res->paused_ms += (cx_mono_ns() - s->paused_since) / 1000000;
			if (c->on_operator)
				c->on_operator(&act, c->arg);
		}
		break;
	case CX_CTL_HALT:
		if (c->on_operator)
			c->on_operator(&act, c->arg);
		if (s->res->halt == CX_HALT_NONE)
			s->res->halt_uid = (int)uid;
		breach(s, CX_HALT_OPERATOR, 0, 0);
		break;
	}
	if (e.msg[0]) {
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", e.msg);
	} else {
		cx_cg_usage u = { 0 };
		cx_cg_read_usage(c->cg, &u, NULL);
		reply = c->status_json ? c->status_json(&u, s->paused, c->arg) : json_object();
		json_object_set_new(reply, "ok", json_true());
		json_object_set_new(reply, "state",
				    json_string(s->res->halt != CX_HALT_NONE ? "halting"
						: s->paused ? "paused" : "running"));
	}
	cx_ctl_reply(conn, reply);
}

/* SIGINT/SIGTERM/SIGHUP/SIGQUIT to calyx-exec: an operator halt. The
 * one that halts the run is reported with its sender (who asked matters
 * as much as for calyx-ctl); later ones change nothing and are not. */
static void halt_signal(sup *s, const struct signalfd_siginfo *si)
{
	const cx_supervise_cfg *c = s->cfg;
	/* the kernel's own signals (SI_KERNEL: a terminal's ^C, a hangup)
	 * carry no sender */
	bool user = si->ssi_code == SI_USER || si->ssi_code == SI_QUEUE || si->ssi_code == SI_TKILL;
	cx_operator_act act = { .cmd = CX_CTL_HALT, .signal = (int)si->ssi_signo,
				.pid = user ? (pid_t)si->ssi_pid : 0,
				.uid = user ? (uid_t)si->ssi_uid : 0 };

	if (s->res->halt != CX_HALT_NONE)
		return;
	s->res->halt_signal = act.signal;
	s->res->halt_pid = (int)act.pid;
	s->res->halt_uid = (int)act.uid;
	if (c->on_operator)
		c->on_operator(&act, c->arg);
	breach(s, CX_HALT_OPERATOR, 0, 0);
}

/* The poll's period when it only watches the scratch and v1 pids: 10 ms
 * while the scratch's use moves or stands past half its quota, doubling
 * up to 100 ms (the v1 pids poll's own period) while it stands still
 * below. Both limits are the kernel's (the tmpfs refuses what does not
 * fit, pids.max the fork): the poll only halts the run that hit one, so
 * backing off costs only that halt's latency, and an idle run wakes 10
 * times a second instead of 100. The CPU poll (no BPF) keeps 10 ms. */
static void adapt_poll(sup *s, int fd, bool poll_cpu)
{
	const cx_disk_quota *q = s->cfg->disk;
	const cx_disk_usage *u = &s->res->disk_usage;
	int64_t want = POLL_CPU_NS;

	if (!poll_cpu && q && s->res->disk_measured) {
		bool moved = u->bytes != s->last_disk.bytes || u->inodes != s->last_disk.inodes;
		bool high = (q->bytes && u->bytes > q->bytes / 2) || (q->inodes && u->inodes > q->inodes / 2);
		want = moved || high ? POLL_CPU_NS : s->poll_ns * 2;
		if (want > POLL_SLOW_NS)
			want = POLL_SLOW_NS;
		s->last_disk = *u;
	}
	if (want == s->poll_ns)
		return;
	struct itimerspec it = {
		.it_value = { want / 1000000000LL, want % 1000000000LL },
		.it_interval = { want / 1000000000LL, want % 1000000000LL },
	};
	if (timerfd_settime(fd, 0, &it, NULL) == 0)
		s->poll_ns = want;
}

static void check_pids(sup *s)
{
	cx_cg_usage u;
	/* cheap test first (one pread); the full usage only on a breach */
	if (!s->cfg->pids || cx_cg_pids_refused(s->cfg->cg) == 0)
		return;
	if (cx_cg_read_usage(s->cfg->cg, &u, NULL) == 0)
		breach(s, CX_HALT_PIDS, s->cfg->pids, u.pids_peak);
}

/* The workspace quota: one fstatfs of the scratch tmpfs (1-2 us) on the
 * poll while the run has a writable tree, and once more when the tree is
 * gone. Each wake-up costs ~25 us of CPU on the 2-CPU CI VM, nearly all
 * of it the wake-up itself: 0.25% of a core at 10 ms, hence adapt_poll's
 * back-off while the scratch stands still. The kernel already refused
 * the write that did not fit; this only halts the run that hit it. */
static void check_disk(sup *s)
{
	const cx_disk_quota *q = s->cfg->disk;
	cx_disk_full full;

	if (!q || cx_disk_read(q, &s->res->disk_usage, &full) < 0)
		return;
	s->res->disk_measured = true;
	if (full == CX_DISK_OK || s->res->halt != CX_HALT_NONE)
		return;
	s->res->disk_inodes = full == CX_DISK_FULL_INODES;
	if (s->res->disk_inodes)
		breach(s, CX_HALT_DISK, q->inodes, s->res->disk_usage.inodes);
	else
		breach(s, CX_HALT_DISK, q->bytes, s->res->disk_usage.bytes);
}

/* The exec quota: the program already SIGKILLed the exec past it (or
 * one whose event found no room); the rest of the tree is ours to stop.
 * What is in the ring first, so the allowed execs precede the breach in
 * the log (one still being written on another CPU follows the halt). */
static void check_execs(sup *s)
{
	cx_bpfmon *b = s->cfg->bpf;

	if (!b || s->res->halt != CX_HALT_NONE || !cx_bpfmon_exec_breached(b))
		return;
	cx_bpfmon_consume(b);
	breach(s, CX_HALT_EXECS, s->cfg->execs, cx_bpfmon_exec_events(b));
}

/* The scratch's use when the phase is over (the result's usage). */
static void final_disk(sup *s)
{
	cx_disk_full full;
	if (s->cfg->disk && cx_disk_read(s->cfg->disk, &s->res->disk_usage, &full) == 0)
		s->res->disk_measured = true;
}

int cx_supervise(const cx_supervise_cfg *cfg, cx_supervise_result *res, cx_error *err)
{
	sup s = { .cfg = cfg, .res = res };
	_cleanup_close_ int ep = -1, wall = -1, sfd = -1, poll_fd = -1;
	int mem_fd, pop_fd;
	bool init_gone = false, poll_cpu = cfg->cpu_ms && !cfg->bpf;
	sigset_t sigs;

	memset(res, 0, sizeof(*res));
	res->halt_uid = res->halt_pid = -1;
	res->cpu_enforcer = !cfg->cpu_ms ? "none" : cfg->bpf ? "bpf" : "cgroup-poll";
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return cx_err(err, CX_E_SPAWN, errno, "epoll: %s", strerror(errno));
	halt_sigset(&sigs);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (cfg->wall_ms) {
		int64_t left = (int64_t)cfg->wall_ms * 1000000LL - (cx_mono_ns() - cfg->started_ns);
		wall = arm_timer(left > 0 ? left : 1, 0);
	}
	if (poll_cpu || cfg->disk || (cfg->pids && cx_cg_layout_of(cfg->cg) != CX_CG_V2)) {
		s.poll_ns = poll_cpu || cfg->disk ? POLL_CPU_NS : POLL_SLOW_NS;
		poll_fd = arm_timer(s.poll_ns, s.poll_ns);
	}
	cx_cg_event_fds(cfg->cg, &mem_fd, &pop_fd);
	if (add(ep, cfg->pidfd, EPOLLIN, K_PIDFD) < 0 || add(ep, wall, EPOLLIN, K_WALL) < 0 ||
	    add(ep, cfg->bpf ? cx_bpfmon_fd(cfg->bpf) : -1, EPOLLIN, K_BPF) < 0 ||
	    add(ep, mem_fd, EPOLLIN | EPOLLPRI, K_MEM) < 0 || add(ep, pop_fd, EPOLLPRI, K_POP) < 0 ||
	    add(ep, sfd, EPOLLIN, K_SIG) < 0 || add(ep, poll_fd, EPOLLIN, K_POLL) < 0 ||
	    add(ep, cfg->ctl_fd, EPOLLIN, K_CTL) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "epoll_ctl: %s", strerror(errno));

	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, init_gone ? 10 : -1);

		if (n < 0 && errno != EINTR)
			return cx_err(err, CX_E_SPAWN, errno, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			uint64_t junk;
			switch (evs[i].data.u64) {
			case K_PIDFD:
				init_gone = true;
				epoll_ctl(ep, EPOLL_CTL_DEL, cfg->pidfd, NULL);
				break;
			case K_WALL:
				(void)!read(wall, &junk, sizeof(junk));
				breach(&s, CX_HALT_WALL, cfg->wall_ms,
				       (uint64_t)((cx_mono_ns() - cfg->started_ns) / 1000000));
				break;
			case K_BPF:
				if (cfg->bpf)
					cx_bpfmon_consume(cfg->bpf);
				break;
			case K_MEM:
				/* kernfs keeps signalling EPOLLPRI until this very
				 * fd is read again (an eventfd is drained by the
				 * check below) */
				if (evs[i].events & EPOLLPRI)
					rearm(mem_fd);
				if (cx_cg_memory_breached(cfg->cg)) {
					cx_cg_usage u = { 0 };
					cx_cg_read_usage(cfg->cg, &u, NULL);
					breach(&s, CX_HALT_MEMORY, cfg->memory_bytes, u.memory_peak);
				}
				break;
			case K_POP:
				rearm(pop_fd); /* re-checked below */
				break;
			case K_SIG: {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					halt_signal(&s, &si);
				break;
			}
			case K_CTL:
				control(&s);
				break;
			case K_POLL:
				(void)!read(poll_fd, &junk, sizeof(junk));
				if (poll_cpu)
					check_cpu_poll(&s);
				check_pids(&s);
				check_disk(&s);
				if (cfg->disk)
					adapt_poll(&s, poll_fd, poll_cpu);
				break;
			}
		}
		/* The in-kernel enforcer already SIGKILLed the task that crossed
		 * the budget; the rest of the tree is ours to stop. */
		if (cfg->bpf && cfg->cpu_ms && cx_bpfmon_breached(cfg->bpf))
			breach(&s, CX_HALT_CPU, cfg->cpu_ms, cx_bpfmon_used_ns(cfg->bpf) / 1000000);
		check_execs(&s);
		if (cfg->pids && cx_cg_layout_of(cfg->cg) == CX_CG_V2)
			check_pids(&s);
		if (res->halt != CX_HALT_NONE) {
			halt(&s, ep);
			break;
		}
		/* The command is done when its init exited and the cgroup is
		 * empty (the kernel kills the rest of the pid namespace). An OOM
		 * kill that ended the run may have raced its event: look once
		 * more, so a memory breach is never reported as a normal end. */
		if (init_gone && cx_cg_populated(cfg->cg) <= 0) {
			cx_cg_usage u;
			if (cx_cg_read_usage(cfg->cg, &u, NULL) == 0 && u.oom_events > 0)
				breach(&s, CX_HALT_MEMORY, cfg->memory_bytes, u.memory_peak);
			/* a run that filled its workspace and then ended (the
			 * write failed with ENOSPC) is a disk halt all the same */
			check_disk(&s);
			check_execs(&s);
			if (res->halt != CX_HALT_NONE)
				halt(&s, ep);
			break;
		}
	}
	if (res->halt == CX_HALT_NONE || res->usage.cpu_usec == 0)
		cx_cg_read_usage(cfg->cg, &res->usage, NULL);
	else {
		/* keep the snapshot taken at the halt, with final CPU billing */
		cx_cg_usage fin;
		if (cx_cg_read_usage(cfg->cg, &fin, NULL) == 0) {
			res->usage.cpu_usec = fin.cpu_usec;
			res->usage.cpu_user_usec = fin.cpu_user_usec;
			res->usage.cpu_system_usec = fin.cpu_system_usec;
			if (fin.memory_peak > res->usage.memory_peak)
				res->usage.memory_peak = fin.memory_peak;
			if (fin.pids_peak > res->usage.pids_peak)
				res->usage.pids_peak = fin.pids_peak;
			res->usage.pids_refused = fin.pids_refused;
			res->usage.oom_events = fin.oom_events;
		}
	}
	final_disk(&s);
	res->wall_ns = cx_mono_ns() - cfg->started_ns;
	return 0;
}
