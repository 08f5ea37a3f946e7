/* Loader for monitor.bpf.c: CPU budget enforcement in kernel and exec
 * tracing, both scoped to the run's cgroup.
 *
 * Why in kernel: a user-space poller sees the budget crossed only at its
 * next tick (isolate: 100 ms); the perf sample that crosses it runs on the
 * CPU the offending task is using, and bpf_send_signal(SIGKILL) stops that
 * task there and then. The supervisor then kills the rest of the cgroup.
 * Trust: runs as root; loads a program built from this tree (skeleton
 * embedded at build time), never one named at run time. */
#include "bpf_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "calyx/fileio.h"
#include "learn.skel.h"
#include "monitor_private.skel.h"

/* Sampling: one perf sample per period of CPU the run uses, per CPU.
 * Each sample is an interrupt plus the program, which a CPU-bound run pays
 * for (about 3% at 0.5 ms on a nested VM). So a run far from its budget is
 * sampled coarsely; when the remaining budget drops below FINE_MARGIN
 * periods per CPU, the program posts CX_EV_FINE and the loader switches
 * every event to the fine period (PERF_EVENT_IOC_PERIOD), so the budget is
 * still enforced to within a fine tick. Until the switch lands, at most a
 * coarse tick per CPU can pass the budget. */
/* TICK_NS (bpf_internal.h), fine: 0.5 ms of CPU per sample */
#define COARSE_NS 10000000ULL     /* coarse: 10 ms */
#define FINE_MARGIN 4ULL          /* coarse periods per CPU before the budget */

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
	/* (a breach's wake record is smaller: it only wakes the loop) */
	if (size < sizeof(*e))
		return 0;
	/* a slot's ring may still hold a dead run's events */
	if (e->cgid != m->cgid)
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

/* The event ring: room for every exec event the quota allows (and the
 * breach) when it is small, so none can be lost however late the
 * supervisor reads; 256 KiB (~800 events) past that, which the
 * supervisor drains as they come: an exec takes ~100 us of kernel time,
 * an event ~20 us to audit, so the ring fills only when many CPUs exec
 * at once for long, and then the exec that found no room is killed and
 * the run halted (never an unaudited exec). Not bigger: the kernel
 * allocates and maps the ring for each run (measured: 17 us for 256 KiB,
 * 0.2 ms for 1 MiB). A learn run's file opens share it: 4 MiB. A power
 * of 2 of at least a page (the kernel's rule). */
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

_Static_assert(sizeof(struct monitor_private_bpf__rodata) == CX_MONITOR_RODATA_BYTES,
	       "one source, one set of constants");

/* Open and load the programs (the kernel verifies them: ~1 ms of CPU,
 * the cost the pins save every run but the first of a boot). Private:
 * the one-run variant, its ring sized for the run. */
int cx_bpfmon_load_failed(int r, cx_error *err)
{
	return cx_err(err, CX_E_LAYER, r < 0 ? -r : EIO,
		      "bpf: the kernel refused the monitor program: %s", strerror(r < 0 ? -r : EIO));
}

static int load_private(const cx_kern_offsets *off, uint32_t ring, struct monitor_private_bpf **ret,
			cx_error *err)
{
	struct monitor_private_bpf *skel = monitor_private_bpf__open();
	int r;

	if (!skel)
		return cx_bpfmon_load_failed(-errno, err);
	cx_bpfmon_set_rodata((struct monitor_bpf__rodata *)skel->rodata, off);
	r = bpf_map__set_max_entries(skel->maps.events, ring);
	if (r == 0)
		r = monitor_private_bpf__load(skel);
	if (r < 0) {
		monitor_private_bpf__destroy(skel);
		return cx_bpfmon_load_failed(r, err);
	}
	*ret = skel;
	return 0;
}

/* This run's programs, loaded for it alone (no bpffs, or the shared
 * ones cannot be used, or a learn run and its big ring): the same
 * programs, one slot, links held by this process. */
static int open_private(cx_bpfmon *m, const cx_kern_offsets *off, const cx_bpf_guard *guard,
			cx_error *err)
{
	int r = load_private(off, ring_bytes(guard), &m->pskel, err);

	if (r < 0)
		return r;
	m->f.prog_exec = bpf_program__fd(m->pskel->progs.on_exec);
	m->f.prog_sys_exit = bpf_program__fd(m->pskel->progs.on_sys_exit);
	m->f.prog_tick = bpf_program__fd(m->pskel->progs.on_cpu_tick);
	m->f.states = bpf_map__fd(m->pskel->maps.states);
	m->f.slots = bpf_map__fd(m->pskel->maps.slots);
	m->f.tick_last = bpf_map__fd(m->pskel->maps.tick_last);
	m->f.loaders = bpf_map__fd(m->pskel->maps.loaders);
	m->ring_fd = fcntl(bpf_map__fd(m->pskel->maps.events), F_DUPFD_CLOEXEC, 3);
	m->states_len = (sizeof(struct cx_run_state) * CX_SLOTS + (size_t)sysconf(_SC_PAGESIZE) - 1) &
			~((size_t)sysconf(_SC_PAGESIZE) - 1);
	void *p = mmap(NULL, m->states_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->f.states, 0);
	if (p == MAP_FAILED || m->ring_fd < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot map the run's state: %s",
			      strerror(errno));
	m->states = p;
	m->slot = 0;
	m->st = &m->states[0];
	m->st->cgid = m->cgid;
	m->link_exec = bpf_raw_tracepoint_open("sched_process_exec", m->f.prog_exec);
	if (m->link_exec < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach the exec tracer: %s",
			      strerror(errno));
	/* Failed exec calls: without the sys_exit tracepoint (a kernel
	 * built without CONFIG_HAVE_SYSCALL_TRACEPOINTS) only they go
	 * unseen; the caller says so in the audit log. */
	m->link_sys_exit = bpf_raw_tracepoint_open("sys_exit", m->f.prog_sys_exit);
	if (m->link_sys_exit < 0)
		m->denied_why = "no sys_exit tracepoint in this kernel (failed execs are not audited)";
	return 0;
}

void cx_bpfmon_stop(cx_bpfmon *m)
{
	if (!m)
		return;
	if (m->registered)
		bpf_map_delete_elem(m->f.slots, &m->cgid); /* from now on the programs ignore the run */
	for (size_t i = 0; i < m->n_loader_keys; i++)
		bpf_map_delete_elem(m->f.loaders, &m->loader_keys[i]);
	ring_buffer__free(m->rb);
	learn_bpf__destroy(m->learn);
	for (int i = 0; i < m->ncpu; i++) {
		if (m->perf_links)
			put_fd(&m->perf_links[i]);
		if (m->perf_fds)
			put_fd(&m->perf_fds[i]);
	}
	free(m->perf_links);
	free(m->perf_fds);
	if (m->shared || m->link_exec >= 0 || m->link_sys_exit >= 0)
		cx_bpfmon_linger(m);
	put_fd(&m->link_exec);
	put_fd(&m->link_sys_exit);
	if (m->pskel) {
		if (m->states)
			munmap(m->states, m->states_len);
		put_fd(&m->ring_fd);
		monitor_private_bpf__destroy(m->pskel); /* owns f's fds */
	} else {
		cx_bpfshare_drop(m); /* the slot back last: nothing of the run is left in the maps */
	}
	put_fd(&m->dir_fd);
	put_fd(&m->root_fd);
	put_fd(&m->cg_fd);
	free(m);
}

static cx_bpfmon *bpfmon_new(void)
{
	cx_bpfmon *m = cx_calloc(1, sizeof(*m));

	m->f = (shared_fds){ .prog_exec = -1, .prog_sys_exit = -1, .prog_tick = -1, .states = -1,
			     .slots = -1, .tick_last = -1, .loaders = -1, .rings = -1 };
	m->root_fd = m->dir_fd = m->link_exec = m->link_sys_exit = m->ring_fd = m->cg_fd = -1;
	return m;
}

/* The run's slot made ready, then the run registered (its cgroup id in
 * `slots`, last: from then on the programs see it): the state's
 * constants, each CPU's last count at 0, the loaders, an empty ring. */
static int arm_slot(cx_bpfmon *m, uint64_t budget_ns, const cx_bpf_guard *guard, cx_error *err)
{
	struct cx_run_state *st = m->st;

	/* everything but the owner */
	memset((char *)st + sizeof(st->cgid), 0, sizeof(*st) - sizeof(st->cgid));
	uint64_t fine_below = FINE_MARGIN * COARSE_NS * (uint64_t)m->ncpu;
	m->fine = budget_ns <= 2 * fine_below; /* a small budget: fine from the start */
	st->budget_ns = budget_ns;
	st->fine_below_ns = m->fine ? 0 : fine_below;
	st->exec_limit = m->exec_limit;
	st->loader_kill = guard && guard->kill;
	_cleanup_free_ uint64_t *last = cx_calloc((size_t)m->ncpu, sizeof(uint64_t));
	if (bpf_map_update_elem(m->f.tick_last, &m->slot, last, BPF_ANY) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot reset the run's CPU counts: %s",
			      strerror(errno));
	/* The loaders, before the run is registered: from its first exec
	 * on, the guard holds. */
	for (size_t i = 0; guard && i < guard->n_loaders && i < CX_LOADERS_MAX; i++) {
		struct cx_loader_key k = {
			.cgid = m->cgid,
			.f.ino = guard->loaders[i].ino,
			/* the kernel's own dev_t encoding (MKDEV: 20 bits of minor) */
			.f.dev = (major(guard->loaders[i].dev) << 20) | minor(guard->loaders[i].dev),
		};
		uint8_t one = 1;
		if (bpf_map_update_elem(m->f.loaders, &k, &one, BPF_ANY) < 0)
			return cx_err(err, CX_E_LAYER, errno, "bpf: cannot fill the loader guard: %s",
				      strerror(errno));
		m->loader_keys[m->n_loader_keys++] = k;
	}
	m->rb = ring_buffer__new(m->ring_fd, on_event, m, NULL);
	if (!m->rb)
		return cx_err(err, CX_E_LAYER, errno, "bpf: ring buffer: %s", strerror(errno));
	ring_buffer__consume(m->rb); /* what a dead run left in the slot's ring: not ours, dropped */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(m->f.slots, &m->cgid, &m->slot, BPF_NOEXIST) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot register the run with the monitor: %s",
			      strerror(errno));
	m->registered = true;
	return 0;
}

/* The per-CPU cpu-clock events scoped to the run's cgroup, each running
 * on_cpu_tick with the run's cgroup id as its cookie. */
static int attach_ticks(cx_bpfmon *m, int cgroup_fd, cx_error *err)
{
	int attached = 0;

	m->perf_fds = cx_calloc((size_t)m->ncpu, sizeof(int));
	m->perf_links = cx_calloc((size_t)m->ncpu, sizeof(int));
	for (int i = 0; i < m->ncpu; i++)
		m->perf_fds[i] = m->perf_links[i] = -1; /* not opened (a failure midway closes only these) */
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
		LIBBPF_OPTS(bpf_link_create_opts, lo, .perf_event.bpf_cookie = m->cgid);
		m->perf_links[i] = bpf_link_create(m->f.prog_tick, m->perf_fds[i], BPF_PERF_EVENT, &lo);
		if (m->perf_links[i] < 0)
			return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach to cpu %d: %s", i,
				      strerror(errno));
		attached++;
	}
	if (!attached)
		return cx_err(err, CX_E_LAYER, ENODEV, "bpf: no online CPU to watch");
	return 0;
}

int cx_bpfmon_start(int cgroup_fd, uint64_t budget_ns, const cx_kern_offsets *off,
		    const cx_bpf_guard *guard, const cx_bpf_callbacks *cb, cx_bpfmon **ret,
		    cx_error *err)
{
	cx_bpfmon *m = bpfmon_new();
	struct stat st;
	int r;

	*ret = NULL;
	libbpf_set_print(quiet);
	if (fstat(cgroup_fd, &st) < 0) {
		r = cx_err(err, CX_E_LAYER, errno, "bpf: cgroup fd: %s", strerror(errno));
		goto fail;
	}
	m->cgid = (uint64_t)st.st_ino; /* a cgroup2 dir's inode is its id */
	m->cg_fd = fcntl(cgroup_fd, F_DUPFD_CLOEXEC, 3);
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0) {
		r = cx_err(err, CX_E_LAYER, EINVAL, "bpf: cannot count CPUs");
		goto fail;
	}
	m->cb = *cb;
	m->exec_limit = guard ? guard->exec_limit : 0;
	/* learn runs (their file opens share a 4 MiB ring) load their own */
	const char *root = guard && guard->kill ? guard->pin_root : NULL;
	if (root && root[0]) {
		cx_error serr = { 0 };
		const char *why = NULL;
		int sr = cx_bpfshare_open(m, root, off, &serr, &why);
		if (sr < 0) {
			cx_bpfshare_drop(m);
			snprintf(m->why_buf, sizeof(m->why_buf), "%s: %.100s (%.160s)",
				 why ? why : "cannot use the pinned monitor", root,
				 serr.msg[0] ? serr.msg : strerror(-sr));
			m->private_why = m->why_buf;
		}
	}
	if (!m->shared && (r = open_private(m, off, guard, err)) < 0)
		goto fail;
	r = arm_slot(m, budget_ns, guard, err);
	if (r < 0)
		goto fail;
	if (budget_ns && (r = attach_ticks(m, cgroup_fd, err)) < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	cx_bpfmon_stop(m);
	return r < 0 ? r : -EIO; /* errno 0 must not read as success */
}

bool cx_bpfmon_shared(cx_bpfmon *m, const char **ret_why)
{
	if (ret_why)
		*ret_why = m->private_why;
	return m->shared;
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
		__atomic_fetch_add(&m->st->used_ns, cgroup_used_ns - counted, __ATOMIC_SEQ_CST);
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
	return __atomic_load_n(&m->st->used_ns, __ATOMIC_RELAXED);
}

bool cx_bpfmon_breached(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->breached, __ATOMIC_RELAXED) != 0;
}

uint32_t cx_bpfmon_exec_count(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_count, __ATOMIC_RELAXED);
}

bool cx_bpfmon_denied_traced(cx_bpfmon *m, const char **ret_why)
{
	if (ret_why)
		*ret_why = m->denied_why;
	return !m->denied_why;
}

uint32_t cx_bpfmon_denied_count(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->denied_count, __ATOMIC_RELAXED);
}

uint32_t cx_bpfmon_exec_events(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_events, __ATOMIC_RELAXED);
}

uint32_t cx_bpfmon_exec_lost(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_lost, __ATOMIC_RELAXED);
}

bool cx_bpfmon_exec_breached(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_breached, __ATOMIC_RELAXED) != 0 ||
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
	r = bpf_map__reuse_fd(m->learn->maps.events, m->ring_fd);
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
