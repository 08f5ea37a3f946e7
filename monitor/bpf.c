/* Loader for monitor.bpf.c: CPU budget enforcement in kernel and exec
 * tracing, both scoped to the run's cgroup.
 *
 * Why in kernel: a user-space poller sees the budget crossed only at its
 * next tick (isolate: 100 ms); the perf sample that crosses it runs on the
 * CPU the offending task is using, and bpf_send_signal(SIGKILL) stops that
 * task there and then. The supervisor then kills the rest of the cgroup.
 * Trust: runs as root; loads a program built from this tree (skeleton
 * embedded at build time), never one named at run time. */
#include "calyx/monitor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <time.h>

#include "calyx/fileio.h"
#include "learn.skel.h"
#include "monitor.skel.h"
#include "monitor_bpf.h"

/* Sampling: one perf sample per period of CPU the run uses, per CPU.
 * Each sample is an interrupt plus the program, which a CPU-bound run pays
 * for (about 3% at 0.5 ms on a nested VM). So a run far from its budget is
 * sampled coarsely; when the remaining budget drops below FINE_MARGIN
 * periods per CPU, the program posts CX_EV_FINE and the loader switches
 * every event to the fine period (PERF_EVENT_IOC_PERIOD), so the budget is
 * still enforced to within a fine tick. Until the switch lands, at most a
 * coarse tick per CPU can pass the budget. */
#define TICK_NS 500000ULL         /* fine: 0.5 ms of CPU per sample */
#define COARSE_NS 10000000ULL     /* coarse: 10 ms */
#define FINE_MARGIN 4ULL          /* coarse periods per CPU before the budget */

struct cx_bpfmon {
	struct monitor_bpf *skel;
	struct ring_buffer *rb;
	int ncpu;
	int *perf_fds;
	struct bpf_link **links;
	cx_bpf_callbacks cb;
	bool fine;   /* every event at TICK_NS */
	const char *denied_why; /* NULL: failed execs are traced */
	struct learn_bpf *learn; /* calyx-policy learn's file tracer, or NULL */
	uint32_t exec_limit; /* exec events posted before the run breaches */
};

/* Near the budget: every CPU's event to the fine period. */
static void go_fine(cx_bpfmon *m)
{
	uint64_t p = TICK_NS;
	if (m->fine || !m->perf_fds)
		return;
	m->fine = true;
	for (int i = 0; i < m->ncpu; i++)
		if (m->perf_fds[i] >= 0)
			ioctl(m->perf_fds[i], PERF_EVENT_IOC_PERIOD, &p);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0; /* libbpf must not print: failures come back as errors */
}

static int on_event(void *ctx, void *data, size_t size)
{
	cx_bpfmon *m = ctx;
	const struct cx_event *e = data;

	if (size >= sizeof(struct cx_open_event) && *(const unsigned int *)data == CX_EV_OPEN) {
		const struct cx_open_event *o = data;
		char path[CX_EV_OPEN_PATH + 1];
		size_t n = o->len < CX_EV_OPEN_PATH ? o->len : CX_EV_OPEN_PATH;
		memcpy(path, o->path, n);
		path[n] = '\0';
		if (m->cb.opened && strlen(path) == n)
			m->cb.opened(path, m->cb.arg);
		return 0;
	}
	if (size < sizeof(*e))
		return 0;
	if (e->type == CX_EV_FINE) {
		go_fine(m);
	} else if (e->type == CX_EV_CPU_BREACH && m->cb.cpu_breach) {
		m->cb.cpu_breach(e->used_ns, e->tgid, m->cb.arg);
	} else if ((e->type == CX_EV_EXEC && m->cb.exec) ||
		   ((e->type == CX_EV_LOADER || e->type == CX_EV_EXEC_FAIL) && m->cb.exec_denied)) {
		cx_bpf_exec x = { .pid = e->tgid, .ppid = e->ppid };
		_Static_assert(sizeof(x.filename) == sizeof(e->filename), "filename buffers");
		_Static_assert(sizeof(x.args) == sizeof(e->args), "args buffers");

		memcpy(x.filename, e->filename, sizeof(x.filename));
		x.filename_len = (uint32_t)strnlen(x.filename, sizeof(x.filename) - 1);
		x.filename_total = e->filename_len >= x.filename_len ? e->filename_len : 0;
		x.args_len = e->args_len < sizeof(x.args) ? e->args_len : sizeof(x.args);
		memcpy(x.args, e->args, x.args_len);
		x.args_total = e->args_total >= x.args_len ? e->args_total : x.args_len;
		if (e->type == CX_EV_EXEC) {
			m->cb.exec(&x, m->cb.arg);
		} else {
			x.loader = e->type == CX_EV_LOADER;
			x.killed = x.loader && e->exit_code == 9;
			x.errnum = x.loader ? 0 : e->exit_code;
			m->cb.exec_denied(&x, m->cb.arg);
		}
	}
	return 0;
}

/* The raw tracepoints' links (sys_exit, sched_process_exec) outlive
 * calyx-exec by LINGER_MS, held by a child. Why: a tracepoint going from
 * 1 probe to 0 and back to 1 waits for an RCU grace period at the
 * re-attach (the kernel's tp_rcu_cond_sync; sys_exit measured 8 ms a run
 * for runs back to back, 7 us with the link held, 0.2 ms when runs are
 * 0.3 s apart). With the links held a while, the next run attaches to
 * tracepoints that still have a probe (no wait), and the last release
 * happens off every run's path. The child takes nothing else (every
 * other fd closed first: no lock, log or pipe, so nobody waits for its
 * EOF), is not waited for (calyx-exec reaps no child with wait(-1);
 * reparented when calyx-exec exits, init reaps it), and the programs do
 * nothing meanwhile: they filter on this run's cgroup id, never reused.
 * If the fork fails, the links are just closed here. */
#define LINGER_MS 100
static void linger_links(cx_bpfmon *m)
{
	int fds[2], n = 0;

	if (m->skel && m->skel->links.on_sys_exit && bpf_link__fd(m->skel->links.on_sys_exit) >= 0)
		fds[n++] = bpf_link__fd(m->skel->links.on_sys_exit);
	if (m->skel && m->skel->links.on_exec && bpf_link__fd(m->skel->links.on_exec) >= 0)
		fds[n++] = bpf_link__fd(m->skel->links.on_exec);
	if (n == 2 && fds[0] > fds[1]) {
		int t = fds[0];
		fds[0] = fds[1];
		fds[1] = t;
	}
	/* The fork copies every fd (the workspace lock, the control socket,
	 * the log): calyx-exec waits until the child has closed its copies
	 * (EOF on done[0]), else the next run on this workspace could find
	 * it still locked by a child that had not run yet. */
	int done[2];
	if (n == 0 || pipe2(done, O_CLOEXEC) < 0)
		return;
	pid_t pid = fork();
	if (pid != 0) {
		char c;
		close(done[1]);
		while (pid > 0 && read(done[0], &c, 1) < 0 && errno == EINTR)
			;
		close(done[0]);
		return;
	}
	/* child: only async-signal-safe calls from here; keep fds[] alone */
	unsigned lo = 0;
	for (int i = 0; i < n; i++) {
		if ((unsigned)fds[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)fds[i] - 1, 0);
		lo = (unsigned)fds[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0); /* done[1] too: the parent's EOF */
	struct timespec ts = { 0, LINGER_MS * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	_exit(0);
}

void cx_bpfmon_stop(cx_bpfmon *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	linger_links(m);
	learn_bpf__destroy(m->learn);
	for (int i = 0; i < m->ncpu; i++) {
		if (m->links && m->links[i])
			bpf_link__destroy(m->links[i]);
		if (m->perf_fds && m->perf_fds[i] >= 0)
			close(m->perf_fds[i]);
	}
	free(m->links);
	free(m->perf_fds);
	monitor_bpf__destroy(m->skel);
	free(m);
}

/* The event ring: room for every exec event the quota allows (and the
 * breach) when it is small, so none can be lost however late the
 * supervisor reads; 256 KiB (~800 events) past that, which the
 * supervisor drains as they come: an exec takes ~100 us of kernel time,
 * an event ~20 us to audit, so the ring fills only when many CPUs exec
 * at once for long, and then the exec that found no room is killed and
 * the run halted (never an unaudited exec). Not bigger: the kernel
 * allocates and maps the ring at each load (measured: 17 us for 256 KiB, 0.2 ms for 1 MiB).
 * A learn run's file opens share it: 4 MiB. A power of 2 of at least a
 * page (the kernel's rule). */
static uint32_t ring_bytes(const cx_bpf_guard *g)
{
	uint64_t want = ((uint64_t)(g ? g->exec_limit : 0) + 2) *
			(sizeof(struct cx_event) + 8 /* record header */);
	uint32_t b = 16 * 1024, cap = g && !g->kill ? 4u << 20 : 256 * 1024;

	if (g && !g->kill)
		return cap;
	while (b < want && b < cap)
		b <<= 1;
	return b;
}

/* Open, set the load-time constants, load (the kernel verifies the
 * program: the monitor's main cost; calyx-exec does it while the sandbox
 * builds itself in another process, before the command may exec). Nothing
 * is attached: the program runs for no one yet. Loading on a thread of
 * calyx-exec while it consumed the lease was tried and measured slower on
 * 2 CPUs (hyperfine A/B, 80 runs each: 11.9 vs 11.2 ms median): the
 * thread competes with calyx-exec's own work, the sandbox's setup does
 * not. */
static int load(const cx_kern_offsets *off, const cx_bpf_guard *guard, cx_bpfmon **ret,
		cx_error *err)
{
	cx_bpfmon *m;
	int r;

	libbpf_set_print(quiet);
	m = cx_calloc(1, sizeof(*m));
	m->skel = monitor_bpf__open();
	if (!m->skel) {
		r = cx_err(err, CX_E_LAYER, errno, "bpf: cannot open the monitor program: %s",
			   strerror(errno));
		goto fail;
	}
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0) {
		r = cx_err(err, CX_E_LAYER, EINVAL, "bpf: cannot count CPUs");
		goto fail;
	}
	m->skel->rodata->tick_ns = TICK_NS;
	r = bpf_map__set_max_entries(m->skel->maps.events, ring_bytes(guard));
	if (r < 0) {
		r = cx_err(err, CX_E_LAYER, -r, "bpf: cannot size the event ring: %s", strerror(-r));
		goto fail;
	}
	m->skel->rodata->off_task_tgid = off->task_tgid;
	m->skel->rodata->off_task_real_parent = off->task_real_parent;
	m->skel->rodata->off_task_mm = off->task_mm;
	m->skel->rodata->off_mm_arg_start = off->mm_arg_start;
	m->skel->rodata->off_mm_arg_end = off->mm_arg_end;
	m->skel->rodata->off_bprm_filename = off->bprm_filename;
	m->skel->rodata->off_bprm_file = off->bprm_file;
	m->skel->rodata->off_file_inode = off->file_inode;
	m->skel->rodata->off_inode_ino = off->inode_ino;
	m->skel->rodata->off_inode_sb = off->inode_sb;
	m->skel->rodata->off_sb_dev = off->sb_dev;
	m->skel->rodata->off_sb_magic = off->sb_magic;
	m->skel->rodata->off_ovl_inode_vfs = off->ovl_inode_vfs;
	m->skel->rodata->off_ovl_inode_upper = off->ovl_inode_upper;
	m->skel->rodata->off_ovl_inode_oe = off->ovl_inode_oe;
	m->skel->rodata->off_ovl_entry_lower = off->ovl_entry_lower;
	m->skel->rodata->off_ovl_path_dentry = off->ovl_path_dentry;
	m->skel->rodata->off_dentry_inode = off->dentry_inode;
	/* the syscall tracepoints are attached by hand (attach): a kernel
	 * without them still gets the rest */
	r = monitor_bpf__load(m->skel);
	if (r < 0) {
		r = cx_err(err, CX_E_LAYER, -r, "bpf: the kernel refused the monitor program: %s",
			   strerror(-r));
		goto fail;
	}
	/* The loaders, before anything is attached: from the first exec of
	 * the run on, the guard holds. */
	for (size_t i = 0; guard && i < guard->n_loaders && i < CX_LOADERS_MAX; i++) {
		struct cx_file_key k = {
			.ino = guard->loaders[i].ino,
			/* the kernel's own dev_t encoding (MKDEV: 20 bits of minor) */
			.dev = (major(guard->loaders[i].dev) << 20) | minor(guard->loaders[i].dev),
		};
		uint8_t one = 1;
		r = bpf_map__update_elem(m->skel->maps.loaders, &k, sizeof(k), &one, sizeof(one),
					 BPF_ANY);
		if (r < 0) {
			r = cx_err(err, CX_E_LAYER, -r, "bpf: cannot fill the loader guard: %s",
				   strerror(-r));
			goto fail;
		}
	}
	m->skel->bss->loader_kill = guard && guard->kill;
	m->exec_limit = guard ? guard->exec_limit : 0;
	*ret = m;
	return 0;
fail:
	cx_bpfmon_stop(m);
	return r < 0 ? r : -EIO; /* errno 0 must not read as success */
}

/* Arm a loaded monitor for the run whose unified-hierarchy cgroup is
 * cgroup_fd: the run's constants first (bss, before anything can run the
 * program), then the exec tracer, the per-CPU cpu-clock events, the ring. */
static int attach(cx_bpfmon *m, int cgroup_fd, uint64_t budget_ns, const cx_bpf_callbacks *cb,
		  cx_error *err)
{
	struct stat st;
	int attached = 0;

	if (fstat(cgroup_fd, &st) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cgroup fd: %s", strerror(errno));
	m->cb = *cb;
	uint64_t fine_below = FINE_MARGIN * COARSE_NS * (uint64_t)m->ncpu;
	m->fine = budget_ns <= 2 * fine_below; /* a small budget: fine from the start */
	m->skel->bss->budget_ns = budget_ns;
	m->skel->bss->fine_below_ns = m->fine ? 0 : fine_below;
	m->skel->bss->exec_limit = m->exec_limit;
	m->skel->bss->cgroup_id = (uint64_t)st.st_ino; /* a cgroup2 dir's inode is its id */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	m->skel->links.on_exec = bpf_program__attach(m->skel->progs.on_exec);
	if (!m->skel->links.on_exec)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach the exec tracer: %s",
			      strerror(errno));
	/* Failed exec calls: without the sys_exit tracepoint (a kernel
	 * built without CONFIG_HAVE_SYSCALL_TRACEPOINTS) only they go
	 * unseen; the caller says so in the audit log. */
	m->skel->links.on_sys_exit = bpf_program__attach(m->skel->progs.on_sys_exit);
	if (!m->skel->links.on_sys_exit)
		m->denied_why = "no sys_exit tracepoint in this kernel (failed execs are not audited)";
	if (budget_ns) {
		m->perf_fds = cx_calloc((size_t)m->ncpu, sizeof(int));
		for (int i = 0; i < m->ncpu; i++)
			m->perf_fds[i] = -1; /* not opened (a failure midway closes only these) */
		m->links = cx_calloc((size_t)m->ncpu, sizeof(*m->links));
		for (int i = 0; i < m->ncpu; i++) {
			struct perf_event_attr a = {
				.type = PERF_TYPE_SOFTWARE,
				.size = sizeof(a),
				.config = PERF_COUNT_SW_CPU_CLOCK,
				.sample_period = m->fine ? TICK_NS : COARSE_NS, /* cpu-clock counts ns */
			};
			m->perf_fds[i] = (int)syscall(SYS_perf_event_open, &a, cgroup_fd, i, -1,
						      PERF_FLAG_PID_CGROUP | PERF_FLAG_FD_CLOEXEC);
			if (m->perf_fds[i] < 0) {
				if (errno == ENODEV) /* offline CPU */
					continue;
				return cx_err(err, CX_E_LAYER, errno,
					      "bpf: cannot open a cgroup cpu-clock event on cpu %d: %s", i,
					      strerror(errno));
			}
			m->links[i] = bpf_program__attach_perf_event(m->skel->progs.on_cpu_tick,
								     m->perf_fds[i]);
			if (!m->links[i])
				return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach to cpu %d: %s", i,
					      strerror(errno));
			attached++;
		}
		if (!attached)
			return cx_err(err, CX_E_LAYER, ENODEV, "bpf: no online CPU to watch");
	}
	m->rb = ring_buffer__new(bpf_map__fd(m->skel->maps.events), on_event, m, NULL);
	if (!m->rb)
		return cx_err(err, CX_E_LAYER, errno, "bpf: ring buffer: %s", strerror(errno));
	return 0;
}

int cx_bpfmon_start(int cgroup_fd, uint64_t budget_ns, const cx_kern_offsets *off,
		    const cx_bpf_guard *guard, const cx_bpf_callbacks *cb, cx_bpfmon **ret,
		    cx_error *err)
{
	cx_bpfmon *m = NULL;
	int r = load(off, guard, &m, err);
	if (r == 0 && !m)
		r = cx_err(err, CX_E_LAYER, EIO, "bpf: the monitor did not load");
	if (r == 0 && (r = attach(m, cgroup_fd, budget_ns, cb, err)) < 0) {
		cx_bpfmon_stop(m);
		m = NULL;
	}
	*ret = m;
	return r;
}

void cx_bpfmon_charge_uncounted(cx_bpfmon *m, uint64_t cgroup_used_ns)
{
	uint64_t counted = 0;

	/* Each event's counter: the ns it counted since it was opened, which
	 * the program bills in deltas from 0 (last_count), sample by sample.
	 * Read after cpu.stat: the few µs in between count for neither. */
	for (int i = 0; m->perf_fds && i < m->ncpu; i++) {
		uint64_t v;
		if (m->perf_fds[i] >= 0 && read(m->perf_fds[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
			counted += v;
	}
	if (cgroup_used_ns > counted)
		__atomic_fetch_add(&m->skel->bss->used_ns, cgroup_used_ns - counted, __ATOMIC_SEQ_CST);
}

int cx_bpfmon_fd(cx_bpfmon *m)
{
	return ring_buffer__epoll_fd(m->rb);
}

int cx_bpfmon_consume(cx_bpfmon *m)
{
	return ring_buffer__consume(m->rb);
}

uint64_t cx_bpfmon_used_ns(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->used_ns, __ATOMIC_RELAXED);
}

bool cx_bpfmon_breached(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->breached, __ATOMIC_RELAXED) != 0;
}

uint32_t cx_bpfmon_exec_count(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->exec_count, __ATOMIC_RELAXED);
}

bool cx_bpfmon_denied_traced(cx_bpfmon *m, const char **ret_why)
{
	if (ret_why)
		*ret_why = m->denied_why;
	return !m->denied_why;
}

uint32_t cx_bpfmon_denied_count(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->denied_count, __ATOMIC_RELAXED);
}

uint32_t cx_bpfmon_exec_events(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->exec_events, __ATOMIC_RELAXED);
}

uint32_t cx_bpfmon_exec_lost(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->exec_lost, __ATOMIC_RELAXED);
}

bool cx_bpfmon_exec_breached(cx_bpfmon *m)
{
	return __atomic_load_n(&m->skel->bss->exec_breached, __ATOMIC_RELAXED) != 0 ||
	       cx_bpfmon_exec_lost(m) != 0;
}

/* This boot's id (36 characters), or "" when it cannot be read. */
static void boot_id(char ret[40])
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	ret[0] = '\0';
	if (cx_read_file("/proc/sys/kernel/random/boot_id", "boot id", 64, 0, 0, &b, &n, NULL) == 0 &&
	    n >= 36) {
		memcpy(ret, b, 36);
		ret[36] = '\0';
	}
}

/* The probe's cache (STATE/bpf-probe): this boot's id when a tracing
 * program loaded in it. Trusted only as a root-owned 0600 file (the
 * state dir is root's); a wrong entry only moves the refusal after the
 * lease is consumed: the monitor's own load still fails closed
 * (arm_monitor). A new boot (a new kernel, other sysctls) probes again. */
static bool probe_cached(const char *path, const char *boot)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	return path && boot[0] &&
	       cx_read_file(path, "bpf probe cache", 64, CX_FILE_TRUSTED | CX_FILE_SECRET, 0, &b, &n,
			    NULL) == 0 &&
	       n == 37 && memcmp(b, boot, 36) == 0 && b[36] == '\n';
}

int cx_bpfmon_preflight(const char *cache_path, const char *probe_cache, cx_kern_offsets *ret_off,
			cx_error *err)
{
	cx_kern_offsets ko;
	const char *why = NULL;
	char boot[40], line[48];
	int r = 1;

	libbpf_set_print(quiet);
	boot_id(boot);
	/* A trivial program's load, ~0.1 ms: once per boot. Every run still
	 * makes one cheap bpf() call (a 1-entry array, ~10 us): bpf() denied
	 * to this calyx-exec (seccomp, an LSM, a kernel without it) refuses
	 * here, before the lease is consumed, whatever the cache says. */
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0)
		r = -errno;
	else
		close(fd);
	if (r > 0 && !probe_cached(probe_cache, boot)) {
		r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL);
		if (r > 0 && probe_cache && boot[0]) {
			snprintf(line, sizeof(line), "%.36s\n", boot);
			cx_write_file_atomic(probe_cache, line, 37, 0600, NULL); /* best effort */
		}
	}
	if (r <= 0)
		why = r == 0 ? "the kernel cannot load tracing BPF programs" : strerror(-r);
	else if (cx_kern_offsets_get(cache_path, &ko, NULL) < 0 || !cx_kern_offsets_guard_ok(&ko))
		why = "the kernel's BTF does not describe overlayfs's inodes";
	if (!why) {
		if (ret_off)
			*ret_off = ko;
		return 0;
	}
	return cx_err(err, CX_E_LAYER, r < 0 ? -r : ENOTSUP,
		      "the exec guard cannot run here: bpf: %s (it needs BPF; a policy may accept runs without it with \"exec_guard\": \"optional\", which leaves `ld.so PROGRAM` open to any program that can exec)",
		      why);
}

int cx_bpfmon_trace_opens(cx_bpfmon *m, int cgroup_fd, cx_error *err)
{
	struct stat st;
	int r;

	if (fstat(cgroup_fd, &st) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cgroup fd: %s", strerror(errno));
	m->learn = learn_bpf__open();
	if (!m->learn)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot open the file tracer: %s",
			      strerror(errno));
	/* its events into the monitor's ring, read by the same loop */
	r = bpf_map__reuse_fd(m->learn->maps.events, bpf_map__fd(m->skel->maps.events));
	if (r == 0)
		r = learn_bpf__load(m->learn);
	if (r < 0)
		return cx_err(err, CX_E_LAYER, -r, "bpf: the kernel refused the file tracer: %s",
			      strerror(-r));
	m->learn->bss->cgroup_id = (uint64_t)st.st_ino;
	if (learn_bpf__attach(m->learn) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach the file tracer: %s",
			      strerror(errno));
	return 0;
}

uint64_t cx_bpfmon_opens_lost(cx_bpfmon *m)
{
	return m->learn ? __atomic_load_n(&m->learn->bss->opens_lost, __ATOMIC_RELAXED) : 0;
}
