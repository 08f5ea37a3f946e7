/* One supervised sandbox run (steps 5 and 6 of the pipeline) of the
 * lease's command or of its validate step: the run's own cgroups, the BPF
 * monitor, the control socket, spawn, supervision, and the run's audit
 * events (exec.started, exec.spawned, exec.denied, resource.breach,
 * operator.*, run.halted, exec.finished).
 *
 *   once_cgroup -> once_spawn -> once_supervise -> once_report -> once_release
 *
 * Invariants: the command cannot exec before the monitor is armed
 * (arm_monitor runs in the sandbox's before_exec); every cgroup, socket,
 * BPF link and sandbox handle made here is released here, on every path;
 * an event that could not be written fails the run (nothing of it lands).
 * Trust: runs as root; the spec was verified and resolved against the
 * policy; what the BPF tracer reports comes from the run (hostile). */
#include "run.h"

#include <dirent.h>
#include <fnmatch.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "calyx/esc.h"
#include "calyx/fault.h"
#include "calyx/path.h"
#include "calyx/sandbox.h"
#include "calyx/timings.h"

/* What the monitor's callbacks need, and what they report back. */
typedef struct run_ctx {
	cx_run *run;
	cx_cgroup *cg;
	cx_bpfmon *bpf;   /* NULL: the cgroup poller enforces CPU (berr says why) */
	cx_error berr;
	bool guarded;     /* the loader guard holds (bpf, and offsets through overlayfs) */
	bool learn;       /* calyx-policy learn: loader runs reported, not killed */
	cx_error oerr;    /* learn: why files opened are not traced */
	int64_t started_ns;
	const cx_limits *lim;
	pid_t init_pid;   /* the sandbox's init, in our pid namespace */
	const cx_supervise_result *sr; /* the supervisor's, while it runs */
	int audit_r;      /* first audit failure inside callbacks */
	cx_error audit_err;
	uint32_t refused;  /* execs failed with EACCES (Landlock: not leased) */
	char first_refused[256]; /* the first one's name, for the hint at exit */
} run_ctx;

typedef struct once {
	cx_run *run;
	const cx_run_trees *trees; /* NULL: no writable tree */
	const cx_strv *argv;
	const char *phase;
	bool validate;
	run_ctx rc;
	cx_sandbox sb;
	cx_sandbox_outcome out;
	cx_supervise_result sr;
	bool spawned;
	int exit_code;
	int ctl_fd;
	char ctl_path[CX_STATE_PATH_MAX];
	int join_fds[CX_SANDBOX_JOIN_MAX]; /* the v1 hierarchies init joins */
	size_t n_join;
} once;

static json_t *layers_json(const cx_layers *l)
{
	json_t *ns = json_array();
	if (l->ns_pid)
		json_array_append_new(ns, json_string("pid"));
	if (l->ns_mnt)
		json_array_append_new(ns, json_string("mnt"));
	if (l->ns_net)
		json_array_append_new(ns, json_string("net"));
	if (l->ns_ipc)
		json_array_append_new(ns, json_string("ipc"));
	if (l->ns_uts)
		json_array_append_new(ns, json_string("uts"));
	if (l->ns_cgroup)
		json_array_append_new(ns, json_string("cgroup"));
	return json_pack("{s:o, s:i, s:b, s:b, s:b, s:b, s:b}", "namespaces", ns, "landlock_abi",
			 l->landlock_abi, "landlock_net", l->landlock_net, "landlock_scoped",
			 l->landlock_scoped, "seccomp", l->seccomp, "no_new_privs", l->no_new_privs,
			 "capabilities_dropped", l->caps_dropped);
}

/* An event from a callback: its first failure is kept for the end of the run. */
static void ctx_event(run_ctx *rc, const char *type, json_t *details)
{
	int r = 0;
	cx_run_event(rc->run, type, details, &rc->audit_err, &r);
	if (r < 0 && !rc->audit_r)
		rc->audit_r = r;
}

/* An exec event's details, shared by exec.spawned and exec.denied. Its
 * names and argv are the run's bytes: text values (calyx/audit.h), so no
 * byte makes the details unbuildable and a cut says so. argv_head alone
 * gives the arguments back by splitting it at spaces, unless one holds a
 * space or is empty: then argv lists them one by one. by_fd: calyx's own
 * execveat of the checked command, named by the lease's argv[0]. */
static json_t *exec_details(const run_ctx *rc, const cx_bpf_exec *e, bool by_fd)
{
	json_t *fn = by_fd ? cx_audit_text(rc->run->lease.spec.argv.v[0])
			   : cx_audit_textn(e->filename, e->filename_len,
					    e->filename_total > e->filename_len, e->filename_total);
	json_t *d = json_pack("{s:i, s:i, s:o, s:o}", "pid", (int)e->pid, "ppid", (int)e->ppid,
			      "filename", fn, "argv_head",
			      cx_audit_argv_line(e->args, e->args_len, e->args_total));
	if (d && cx_audit_argv_ambiguous(e->args, e->args_len))
		CX_CHECK(json_object_set_new(d, "argv", cx_audit_argv(e->args, e->args_len,
								       e->args_total)) == 0);
	if (d && by_fd)
		CX_CHECK(json_object_set_new(d, "exec_by_fd", json_true()) == 0);
	return d;
}

/* learn: every distinct name, bounded (a cut one cannot name a file). */
static void learn_remember(cx_strv *ls, const cx_bpf_exec *e)
{
	if (e->filename_total > e->filename_len || e->filename_len >= sizeof(e->filename) ||
	    ls->n >= CX_LEARN_EXECS_MAX)
		return;
	char name[sizeof(e->filename)];
	memcpy(name, e->filename, e->filename_len);
	name[e->filename_len] = '\0';
	if (!cx_strv_contains(ls, name))
		CX_CHECK(cx_strv_push(ls, name) == 0);
}

/* Every process the run starts (BPF exec tracer) is an audit event. */
static void on_exec(const cx_bpf_exec *e, void *arg)
{
	run_ctx *rc = arg;
	/* The payload is started with execveat on the fd it checked, which
	 * the kernel names "/dev/fd/N": name it by the lease's command. */
	bool by_fd = e->filename_len >= 8 && memcmp(e->filename, "/dev/fd/", 8) == 0 &&
		     (pid_t)e->ppid == rc->init_pid;
	ctx_event(rc, "exec.spawned", exec_details(rc, e, by_fd));
	if (rc->run->learn && !by_fd)
		learn_remember(&rc->run->learn_execs, e);
}

/* A failed exec call (any errno: Landlock's EACCES, ENOENT, ENOEXEC…) or
 * a run of the ELF loader as a program, which the guard killed before it
 * ran: exec.denied, with the same text values as exec.spawned. */
static void on_exec_denied(const cx_bpf_exec *e, void *arg)
{
	run_ctx *rc = arg;
	/* The payload's own execveat on its checked fd passes an empty name
	 * (AT_EMPTY_PATH): named by the lease's command, as in exec.spawned. */
	bool by_fd = (pid_t)e->ppid == rc->init_pid && !e->loader &&
		     (e->filename_len == 0 ||
		      (e->filename_len >= 8 && memcmp(e->filename, "/dev/fd/", 8) == 0));
	json_t *d = exec_details(rc, e, by_fd);
	if (d && e->loader) {
		CX_CHECK(json_object_set_new(d, "reason", json_string("loader")) == 0);
		CX_CHECK(json_object_set_new(d, "killed", json_boolean(e->killed)) == 0);
	} else if (d) {
		const char *name = strerrorname_np(e->errnum);
		char num[32];
		snprintf(num, sizeof(num), "errno %d", e->errnum);
		CX_CHECK(json_object_set_new(d, "reason", json_string("failed")) == 0);
		CX_CHECK(json_object_set_new(d, "errno", json_string(name ? name : num)) == 0);
		if (e->errnum == EACCES && !by_fd && !rc->refused++) {
			size_t n = e->filename_len < sizeof(e->filename) ? e->filename_len : sizeof(e->filename);
			if (n > sizeof(rc->first_refused) - 1)
				n = sizeof(rc->first_refused) - 1;
			memcpy(rc->first_refused, e->filename, n);
			rc->first_refused[n] = '\0';
		}
	}
	ctx_event(rc, "exec.denied", d);
	/* learn: a loader run is reported by its loader's name */
	if (rc->run->learn && e->loader)
		learn_remember(&rc->run->learn_loaders, e);
}

/* learn: a file the run opened (view path); distinct ones kept, bounded.
 * A linear search would be quadratic on a big build: the list is sorted
 * at the end instead, duplicates dropped there; here only a cap. */
static void on_opened(const char *path, void *arg)
{
	run_ctx *rc = arg;
	cx_strv *l = &rc->run->learn_opened;
	if (l->n < CX_LEARN_OPENED_MAX && (!l->n || strcmp(l->v[l->n - 1], path) != 0))
		CX_CHECK(cx_strv_push(l, path) == 0);
}

/* A host path for a path of the run's view: /work and beneath it are
 * the workspace; every other leased path is the host's own. */
static bool host_path(const cx_run_spec *spec, const char *view, char *ret, size_t len)
{
	if (strncmp(view, "/work", 5) == 0 && (view[5] == '/' || view[5] == '\0')) {
		if (!spec->workspace)
			return false;
		return (size_t)snprintf(ret, len, "%s%s", spec->workspace, view + 5) < len;
	}
	return (size_t)snprintf(ret, len, "%s", view) < len;
}

static void add_loader(const char *path, cx_file_id *ids, size_t *n)
{
	struct stat st;

	/* stat() follows links: the view's copy of the loader is the host's
	 * file (an overlay's lower layer, which the BPF side sees through) */
	if (*n >= CX_BPF_LOADERS_MAX || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	for (size_t i = 0; i < *n; i++)
		if (ids[i].dev == st.st_dev && ids[i].ino == st.st_ino)
			return;
	ids[(*n)++] = (cx_file_id){ .dev = st.st_dev, .ino = st.st_ino };
}

/* The loaders the run's view can hold: the PT_INTERP of the command and
 * of the exec entries that are files (interpreters of scripts looked
 * through), and the standard loader paths of this host. A loader under
 * another name the view does not hold cannot be reached; one it holds
 * by a path not listed here is the residual gap (docs/formats.md). */
static size_t run_loaders(const cx_run_spec *spec, cx_file_id ids[CX_BPF_LOADERS_MAX])
{
	static const char *const std[] = {
		"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux.so.2", "/lib/ld-linux-x86-64.so.2",
		"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2",
		"/lib/ld-linux-aarch64.so.1", "/lib/i386-linux-gnu/ld-linux.so.2",
		"/libx32/ld-linux-x32.so.2", "/lib64/ld64.so.1", "/lib64/ld64.so.2",
	};
	/* and every file of these dirs named like a loader: one readdir per
	 * distinct dir (/lib is /usr/lib on a merged-/usr host) */
	static const char *const dirs[] = { "/lib", "/usr/lib", "/lib64" };
	static const char *const pats[] = { "ld-musl-*.so.1", "ld-linux*.so.*" };
	struct stat seen[CX_ARRAY_SIZE(dirs)] = { 0 };
	size_t nseen = 0;
	char host[CX_PATH_MAX], interp[CX_PATH_MAX];
	size_t n = 0;

	for (size_t i = 0; i < spec->argv.n + spec->exec.n; i++) {
		const char *p = i == 0 ? spec->argv.v[0] : i < spec->argv.n ? NULL
									    : spec->exec.v[i - spec->argv.n];
		if (p && host_path(spec, p, host, sizeof(host)) &&
		    cx_elf_loader(host, interp, sizeof(interp)) == 0 && interp[0] &&
		    host_path(spec, interp, host, sizeof(host)))
			add_loader(host, ids, &n);
	}
	for (size_t i = 0; i < CX_ARRAY_SIZE(std); i++)
		add_loader(std[i], ids, &n);
	for (size_t i = 0; i < CX_ARRAY_SIZE(dirs); i++) {
		struct stat st;
		bool dup = false;
		if (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		for (size_t j = 0; j < nseen; j++)
			dup |= seen[j].st_dev == st.st_dev && seen[j].st_ino == st.st_ino;
		if (dup)
			continue;
		seen[nseen++] = st;
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		while (d && (de = readdir(d)))
			for (size_t k = 0; k < CX_ARRAY_SIZE(pats); k++)
				if (fnmatch(pats[k], de->d_name, 0) == 0 &&
				    (size_t)snprintf(host, sizeof(host), "%s/%s", dirs[i], de->d_name) <
					    sizeof(host)) {
					add_loader(host, ids, &n);
					break;
				}
		if (d)
			closedir(d);
	}
	return n;
}

/* The CPU budget in kernel when BPF works here; otherwise the cgroup
 * poller (the result and the audit log say which). The loader guard
 * needs BPF: without it the run is refused unless the policy says
 * "exec_guard": "optional". Runs while the sandbox builds itself
 * (before_exec): loading and verifying the program is the monitor's main
 * cost, and the command cannot exec before it is armed. */
static int arm_monitor(pid_t pid, void *arg, cx_error *err)
{
	run_ctx *rc = arg;
	cx_bpf_callbacks cb = { .exec = on_exec, .exec_denied = on_exec_denied,
				.opened = rc->learn ? on_opened : NULL, .arg = rc };
	cx_phase was = cx_phase_enter(CX_PH_MONITOR);
	struct timespec cpu0, cpu1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	(void)pid;
	uint64_t budget = rc->lim->v[CX_LIM_CPU_MS] * 1000000ULL;
	if (cx_cg_clone_fd(rc->cg) < 0) {
		cx_err(&rc->berr, CX_E_LAYER, ENOTSUP, "no unified cgroup hierarchy for BPF scoping");
	} else {
		cx_kern_offsets ko;
		cx_file_id loaders[CX_BPF_LOADERS_MAX];
		cx_bpf_guard g = { .loaders = loaders, .kill = !rc->learn,
				   .exec_limit = (uint32_t)rc->lim->v[CX_LIM_EXECS],
				   .pin_root = rc->run->cfg.bpf_pin_dir };
		g.n_loaders = run_loaders(&rc->run->lease.spec, loaders);
		if (rc->run->have_kernoff) /* the preflight's, from the same cache */
			ko = rc->run->kernoff;
		else
			cx_kern_offsets_get(rc->run->state.offsets, &ko, NULL); /* zeros: pid + comm only */
		cx_bpfmon_start(cx_cg_clone_fd(rc->cg), budget, &ko, &g, &cb, &rc->bpf, &rc->berr);
		rc->guarded = rc->bpf && cx_kern_offsets_guard_ok(&ko);
		/* learn: every file opened too (its own failure only means a
		 * coarser "read": the run goes on, the output says so) */
		if (rc->bpf && rc->learn)
			rc->run->learn_opens_traced =
				cx_bpfmon_trace_opens(rc->bpf, cx_cg_clone_fd(rc->cg), &rc->oerr) == 0;
		if (rc->bpf && !rc->guarded)
			cx_err(&rc->berr, CX_E_LAYER, ENOTSUP,
			       "the kernel's BTF does not describe overlayfs's inodes (the exec guard cannot see which file an exec runs)");
		/* The sandbox has been setting itself up in the run's cgroup
		 * meanwhile: what it used before the events counted counts too. */
		cx_cg_usage u = { 0 };
		if (rc->bpf && cx_cg_read_cpu(rc->cg, &u, NULL) == 0)
			cx_bpfmon_charge_uncounted(rc->bpf, u.cpu_usec * 1000);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	rc->run->monitor_cpu_ns += (uint64_t)((cpu1.tv_sec - cpu0.tv_sec) * 1000000000LL +
					      (cpu1.tv_nsec - cpu0.tv_nsec));
	cx_phase_enter(was);
	if (!rc->guarded && !rc->run->pol.exec_guard_optional)
		return cx_err(err, CX_E_LAYER, rc->berr.errnum ? rc->berr.errnum : ENOTSUP,
			      "the exec guard cannot run here: %s (it needs BPF; a policy may accept runs without it with \"exec_guard\": \"optional\", which leaves `ld.so PROGRAM` open to any program that can exec)",
			      rc->berr.msg);
	return 0;
}

/* The sandbox is built and waits at the exec gate: the monitor armed,
 * then the lease's claim made durable (its fsync overlapped the build;
 * the command may not start before it is on disk). Either failing keeps
 * the gate shut: no command runs. */
static int before_exec(pid_t pid, void *arg, cx_error *err)
{
	run_ctx *rc = arg;
	int r = arm_monitor(pid, arg, err);

	if (r == 0 && rc->run->ledger) {
		cx_phase was = cx_phase_enter(CX_PH_CONSUME);
		r = cx_ledger_sync(rc->run->ledger, err);
		cx_phase_enter(was);
	}
	return r;
}

static const char *unit_of(cx_halt_reason r, bool inodes)
{
	switch (r) {
	case CX_HALT_CPU:
	case CX_HALT_WALL:
		return "ms";
	case CX_HALT_MEMORY:
		return "bytes";
	case CX_HALT_PIDS:
		return "pids";
	case CX_HALT_DISK:
		return inodes ? "inodes" : "bytes";
	case CX_HALT_EXECS:
		return "execs";
	default:
		return "";
	}
}

static void on_breach(cx_halt_reason why, uint64_t limit, uint64_t usage, void *arg)
{
	run_ctx *rc = arg;
	json_t *d = json_pack("{s:s, s:I, s:I}", "quota", cx_halt_name(why), "limit",
			      (json_int_t)limit, "usage", (json_int_t)usage);
	if (why == CX_HALT_DISK) /* one quota, two units */
		json_object_set_new(d, "unit", json_string(unit_of(why, rc->sr->disk_inodes)));
	/* an exec event the ring had no room for halts the run as well */
	if (why == CX_HALT_EXECS && rc->bpf && cx_bpfmon_exec_lost(rc->bpf))
		json_object_set_new(d, "events_lost", json_integer(cx_bpfmon_exec_lost(rc->bpf)));
	ctx_event(rc, "resource.breach", d);
}

static void *status_json(const cx_cg_usage *u, bool paused, void *arg)
{
	run_ctx *rc = arg;
	const cx_lease *l = &rc->run->lease;
	int64_t now = cx_mono_ns();
	(void)paused;
	return json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}", "run_id",
			 l->run_id, "lease_id", l->lease_id, "argv0", l->spec.argv.v[0],
			 "elapsed_ms", (json_int_t)((now - rc->started_ns) / 1000000), "usage",
			 "cpu_ms", (json_int_t)(u->cpu_usec / 1000), "memory_bytes",
			 (json_int_t)u->memory_current, "pids", (json_int_t)u->pids_current, "limits",
			 "cpu_ms", (json_int_t)rc->lim->v[CX_LIM_CPU_MS], "memory_bytes",
			 (json_int_t)rc->lim->v[CX_LIM_MEMORY_BYTES], "pids",
			 (json_int_t)rc->lim->v[CX_LIM_PIDS], "wall_ms",
			 (json_int_t)rc->lim->v[CX_LIM_WALL_MS]);
}

static void on_operator(const cx_operator_act *act, void *arg)
{
	json_t *d = json_pack("{s:i}", "operator_uid", (int)act->uid);

	/* a halt signal: which, and who sent it (pid 0: the kernel) */
	if (act->signal) {
		json_object_set_new(d, "signal", json_integer(act->signal));
		json_object_set_new(d, "sender_pid", json_integer(act->pid));
	}
	/* Literal types: tests/integration/audit_events.sh finds every event
	 * type in the sources and checks docs/audit-events.md has it. */
	ctx_event(arg,
		  act->cmd == CX_CTL_PAUSE    ? "operator.paused"
		  : act->cmd == CX_CTL_RESUME ? "operator.resumed"
					      : "operator.halted",
		  d);
}

static void report_stale(const char *name, void *arg)
{
	run_ctx *rc = arg;
	int r = 0;
	fprintf(stderr, "calyx-exec: note: removed stale run cgroup '%s' (its calyx-exec is gone)\n",
		name);
	cx_run_event(rc->run, "monitor.stale_cgroup_removed",
		     json_pack("{s:o}", "cgroup", cx_audit_text(name)),
		     &rc->audit_err, &r);
}

static json_t *usage_json(const cx_supervise_result *sr)
{
	const cx_cg_usage *u = &sr->usage;
	json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}}", "cpu_ms",
			 (json_int_t)(u->cpu_usec / 1000), "cpu_user_ms",
			 (json_int_t)(u->cpu_user_usec / 1000), "cpu_system_ms",
			 (json_int_t)(u->cpu_system_usec / 1000), "peak_memory_bytes",
			 (json_int_t)u->memory_peak, "pids_peak", (json_int_t)u->pids_peak,
			 "forks_refused", (json_int_t)u->pids_refused, "wall_ms",
			 (json_int_t)(sr->wall_ns / 1000000), "pressure_stall_us", "cpu",
			 (json_int_t)u->psi_cpu_us, "memory", (json_int_t)u->psi_memory_us, "io",
			 (json_int_t)u->psi_io_us);
	if (sr->disk_measured) { /* the workspace's scratch when the phase ended */
		json_object_set_new(j, "disk_bytes", json_integer((json_int_t)sr->disk_usage.bytes));
		json_object_set_new(j, "inodes", json_integer((json_int_t)sr->disk_usage.inodes));
	}
	return j;
}

static json_t *halt_json(const cx_supervise_result *sr)
{
	int64_t usage = (int64_t)sr->usage_at_detect;
	/* CPU is billed from cpu.stat after the kill: that is the overshoot
	 * that matters (work done past the budget). */
	if (sr->halt == CX_HALT_CPU)
		usage = (int64_t)(sr->usage.cpu_usec / 1000);
	json_t *h = json_pack("{s:s, s:s, s:I, s:I, s:b}", "reason", cx_halt_name(sr->halt), "unit",
			      unit_of(sr->halt, sr->disk_inodes), "limit", (json_int_t)sr->limit, "usage",
			      (json_int_t)usage, "incomplete", sr->halt_incomplete);
	if (sr->halt != CX_HALT_OPERATOR)
		json_object_set_new(h, "overshoot", json_integer(usage - (int64_t)sr->limit));
	if (sr->halt_signal)
		json_object_set_new(h, "signal", json_integer(sr->halt_signal));
	if (sr->halt_uid >= 0)
		json_object_set_new(h, "operator_uid", json_integer(sr->halt_uid));
	if (sr->halt_signal && sr->halt_pid >= 0)
		json_object_set_new(h, "sender_pid", json_integer(sr->halt_pid));
	json_object_set_new(h, "detect_to_empty_ms",
			    json_real((double)sr->detect_to_empty_ns / 1e6));
	if (sr->halt == CX_HALT_CPU)
		json_object_set_new(h, "cpu_overshoot_ms_precise",
				    json_real((double)sr->usage.cpu_usec / 1000.0 - (double)sr->limit));
	return h;
}

/* STATE/run/<lease_id>.sock: where calyx-ctl finds this run. */
static int control_socket(once *o, cx_error *err)
{
	cx_run *run = o->run;
	int r = cx_state_dir(run->state.ctl, 077, CX_E_SPAWN, err);
	if (r < 0)
		return r;
	cx_state_ctl_socket(&run->state, run->lease.lease_id, o->ctl_path);
	return cx_ctl_listen(o->ctl_path, &o->ctl_fd, err);
}

/* The run's own cgroup in every hierarchy; the v1 ones init joins itself. */
static int once_cgroup(once *o, cx_error *err)
{
	const cx_limits *lim = o->rc.lim;
	char cgname[128], tag[16];
	int r;

	cx_phase_enter(CX_PH_CGROUP);
	if ((r = cx_cg_open(&o->rc.cg, err)) < 0)
		return r;
	cx_cg_reap_stale(o->rc.cg, report_stale, &o->rc, NULL);
	/* the lease id's head, "-v" for the validate step */
	snprintf(tag, sizeof(tag), "%.12s%s", o->run->lease.lease_id, o->validate ? "-v" : "");
	if (cx_cg_run_name(cgname, sizeof(cgname), tag) < 0)
		return cx_err(err, CX_E_SPAWN, EINVAL, "cannot name the run's cgroup");
	cx_cg_limits cl = { .memory_bytes = lim->v[CX_LIM_MEMORY_BYTES], .pids = lim->v[CX_LIM_PIDS] };
	if ((r = cx_cg_create(o->rc.cg, cgname, &cl, err)) < 0)
		return r;
	if ((r = cx_cg_join_fds(o->rc.cg, o->join_fds, CX_ARRAY_SIZE(o->join_fds), err)) < 0)
		return r;
	o->n_join = (size_t)r;
	return 0;
}

static void close_joins(once *o)
{
	while (o->n_join > 0)
		close(o->join_fds[--o->n_join]);
}

/* The sandbox, its own steps' times, and exec.started. */
static int once_spawn(once *o, cx_error *err)
{
	cx_run *run = o->run;
	const cx_policy *pol = &run->pol;
	const char *ovdirs[CX_WS_TREES_MAX];
	int r;

	for (size_t i = 0; o->trees && i < o->trees->n; i++)
		ovdirs[i] = o->trees->dir[i];
	cx_phase_enter(CX_PH_MONITOR);
	if ((r = control_socket(o, err)) < 0)
		return r;
	cx_supervise_block_signals();
	cx_run_spec spec = run->lease.spec; /* shallow: argv differs for validate */
	spec.argv = *o->argv;
	if (o->validate)
		spec.stdin_inherit = false;
	cx_sandbox_config sc = {
		.spec = &spec,
		.syscalls_deny = &pol->syscalls_deny,
		.root_dir = run->state.root,
		.run_uid = run->cfg.run_uid,
		.run_gid = run->cfg.run_gid,
		.landlock_optional = pol->landlock_optional,
		.exec_anywhere = run->learn,
		.inherit_stdin = spec.stdin_inherit,
		.dev_shm = pol->dev_shm,
		.root_owned_trees = pol->root_owned_trees,
		.unix_sockets = &pol->unix_sockets,
		.overlay_dirs = o->trees ? ovdirs : NULL,
		.cgroup_fd = cx_cg_clone_fd(o->rc.cg),
		.join_fds = o->join_fds,
		.n_join_fds = o->n_join,
		.before_exec = before_exec,
		.before_exec_arg = &o->rc,
		.seccomp_cache_dir = run->state.cache,
		.seccomp_cache_mac_key = run->cache_mac_key,
	};
	CX_FAULT_POINT(o->validate ? "before_spawn_validate" : "before_spawn");
	cx_phase_enter(CX_PH_SPAWN);
	r = cx_sandbox_spawn(&sc, &o->sb, &o->exit_code, err);
	close_joins(o);
	if (r < 0)
		return r;
	o->spawned = true;
	/* the child's own steps, from its stamps */
	static const cx_phase steps[] = { [CX_SBX_VIEW_START] = CX_PH_SPAWN,
					  [CX_SBX_VIEW_DONE] = CX_PH_MOUNTS,
					  [CX_SBX_PRIVS_DONE] = CX_PH_PRIVILEGES,
					  [CX_SBX_LANDLOCK_DONE] = CX_PH_LANDLOCK,
					  [CX_SBX_SECCOMP_DONE] = CX_PH_SECCOMP,
					  [CX_SBX_EXEC_DONE] = CX_PH_EXEC };
	for (int i = 0; i < CX_SBX__MARKS; i++)
		cx_phase_split(steps[i], o->sb.marks[i]);
	cx_phase_enter(CX_PH_WAIT);
	o->rc.started_ns = o->sb.started_ns;
	o->rc.init_pid = o->sb.pid;
	json_t *started = json_pack("{s:s, s:o, s:i, s:i, s:i, s:o, s:s, s:s}", "phase", o->phase,
				    "argv0", cx_audit_text(o->argv->v[0]), "pid", (int)o->sb.pid, "uid",
				    (int)run->cfg.run_uid, "gid", (int)run->cfg.run_gid, "layers",
				    layers_json(&o->sb.layers), "cgroup_layout",
				    cx_cg_layout_name(cx_cg_layout_of(o->rc.cg)), "cpu_enforcer",
				    o->rc.bpf ? "bpf" : "cgroup-poll");
	if (started && !o->rc.bpf)
		CX_CHECK(json_object_set_new(started, "bpf_unavailable",
					     cx_audit_text(o->rc.berr.msg)) == 0);
	if (started && o->rc.learn && !o->run->learn_opens_traced)
		CX_CHECK(json_object_set_new(started, "files_untraced", cx_audit_text(o->rc.oerr.msg)) == 0);
	if (started)
		CX_CHECK(json_object_set_new(started, "exec_guard",
					     json_string(o->rc.guarded ? "bpf" : "none")) == 0);
	const char *why = NULL;
	if (started && o->rc.bpf) {
		bool shared = cx_bpfmon_shared(o->rc.bpf, &why);
		CX_CHECK(json_object_set_new(started, "monitor",
					     json_string(shared ? "shared" : "private")) == 0);
		if (why)
			CX_CHECK(json_object_set_new(started, "monitor_private",
						     cx_audit_text(why)) == 0);
		why = NULL;
	}
	if (started && o->rc.bpf && !cx_bpfmon_denied_traced(o->rc.bpf, &why))
		CX_CHECK(json_object_set_new(started, "exec_denied_untraced", cx_audit_text(why)) == 0);
	r = 0;
	cx_run_event(run, "exec.started", started, err, &r);
	if (r < 0) {
		cx_sandbox_kill(&o->sb);
		o->exit_code = CX_EXIT_FAILURE;
	}
	return r;
}

/* Until the command's whole tree is gone: quotas, wall clock, operator. */
static int once_supervise(once *o, cx_error *err)
{
	const cx_limits *lim = o->rc.lim;
	int r;

	CX_FAULT_POINT(o->validate ? "run_validate" : "run");
	cx_supervise_cfg sup = {
		.cg = o->rc.cg, .pidfd = o->sb.pidfd, .bpf = o->rc.bpf,
		.cpu_ms = lim->v[CX_LIM_CPU_MS], .wall_ms = lim->v[CX_LIM_WALL_MS],
		.memory_bytes = lim->v[CX_LIM_MEMORY_BYTES], .pids = lim->v[CX_LIM_PIDS],
		.execs = lim->v[CX_LIM_EXECS],
		.started_ns = o->sb.started_ns, .on_breach = on_breach, .ctl_fd = o->ctl_fd,
		.status_json = status_json, .on_operator = on_operator, .arg = &o->rc,
		.disk = o->trees ? &o->trees->disk : NULL,
	};
	o->rc.sr = &o->sr;
	r = cx_supervise(&sup, &o->sr, err);
	if (o->sr.halt != CX_HALT_NONE) { /* the halt's own time: freeze, kill, empty */
		int64_t now = cx_mono_ns();
		cx_phase_split(CX_PH_WAIT, now - o->sr.detect_to_empty_ns);
		cx_phase_split(CX_PH_HALT, now);
	}
	if (r < 0) {
		cx_sandbox_kill(&o->sb);
		cx_cg_kill(o->rc.cg, NULL);
		return r;
	}
	if (o->rc.bpf) {
		cx_bpfmon_consume(o->rc.bpf); /* execs still in the ring */
		o->run->learn_opens_lost += cx_bpfmon_opens_lost(o->rc.bpf);
	}
	return cx_sandbox_wait(&o->sb, &o->out, err);
}

static void print_halt(const once *o, const json_t *fin)
{
	const cx_supervise_result *sr = &o->sr;
	if (sr->halt == CX_HALT_OPERATOR) {
		if (sr->halt_signal && sr->halt_pid > 0)
			fprintf(stderr, "calyx-exec: halted [operator]: signal %d from pid %d (uid %d) to calyx-exec stopped the %s; the whole process tree was stopped\n",
				sr->halt_signal, sr->halt_pid, sr->halt_uid,
				o->validate ? "validate step" : "run");
		else if (sr->halt_signal)
			fprintf(stderr, "calyx-exec: halted [operator]: signal %d to calyx-exec (from the kernel: a terminal) stopped the %s; the whole process tree was stopped\n",
				sr->halt_signal, o->validate ? "validate step" : "run");
		else
			fprintf(stderr, "calyx-exec: halted [operator]: stopped by uid %d through calyx-ctl; the whole process tree was stopped\n",
				sr->halt_uid);
	} else if (sr->halt != CX_HALT_NONE) {
		fprintf(stderr, "calyx-exec: halted [%s]: %s quota breached%s: limit %llu %s, used %lld %s; the whole process tree was stopped (raise the lease's limit if it was too low)\n",
			cx_halt_name(sr->halt), cx_halt_name(sr->halt),
			o->validate ? " by the validate step" : "", (unsigned long long)sr->limit,
			unit_of(sr->halt, sr->disk_inodes),
			(long long)json_integer_value(json_object_get(json_object_get(fin, "halt"), "usage")),
			unit_of(sr->halt, sr->disk_inodes));
	}
}

/* run.halted and exec.finished; the result's members; the halt's line.
 * An event that could not be written leaves r < 0 (err set). */
static int once_report(once *o, cx_run_once *ret, cx_error *err)
{
	const cx_supervise_result *sr = &o->sr;
	const cx_sandbox_outcome *out = &o->out;
	int r = 0;

	json_t *fin = json_pack("{s:I, s:o}", "wall_ms", (json_int_t)(sr->wall_ns / 1000000), "usage",
				usage_json(sr));
	if (sr->halt != CX_HALT_NONE) {
		o->exit_code = CX_EXIT_HALTED;
		json_object_set_new(fin, "halt", halt_json(sr));
		cx_run_event(o->run, "run.halted", halt_json(sr), err, &r);
	} else {
		/* Shell convention for a command killed by a signal: 128 + N. */
		o->exit_code = out->exited ? out->exit_code : 128 + out->signal;
	}
	if (out->exited && sr->halt == CX_HALT_NONE)
		json_object_set_new(fin, "exit_code", json_integer(out->exit_code));
	else if (!out->exited)
		json_object_set_new(fin, "signal", json_integer(out->signal));
	if (o->rc.bpf) {
		json_object_set_new(fin, "processes_started",
				    json_integer(cx_bpfmon_exec_count(o->rc.bpf)));
		json_object_set_new(fin, "execs_denied",
				    json_integer(cx_bpfmon_denied_count(o->rc.bpf)));
	}
	json_t *fin_audit = json_deep_copy(fin);
	json_object_set_new(fin_audit, "phase", json_string(o->phase));
	cx_run_event(o->run, "exec.finished", fin_audit, err, &r);
	json_object_set_new(fin, "layers", layers_json(&o->sb.layers));
	json_object_set_new(fin, "cgroup_layout",
			    json_string(cx_cg_layout_name(cx_cg_layout_of(o->rc.cg))));
	json_object_set_new(fin, "cpu_enforcer", json_string(sr->cpu_enforcer));
	/* the run's own ids (config run_uid_range: this run's allocation) */
	json_object_set_new(fin, "uid", json_integer(o->run->cfg.run_uid));
	json_object_set_new(fin, "gid", json_integer(o->run->cfg.run_gid));
	json_object_set_new(fin, "exit_code", json_integer(o->exit_code));
	if (sr->paused_ms)
		json_object_set_new(fin, "paused_ms", json_integer(sr->paused_ms));
	print_halt(o, fin);
	ret->exit_code = o->exit_code;
	ret->halt = sr->halt;
	ret->ok = sr->halt == CX_HALT_NONE && out->exited && out->exit_code == 0;
	/* A failed run whose programs were refused an exec: the job's own
	 * message ("Permission denied") does not say it was the lease. */
	if (!ret->ok && o->rc.refused && !o->run->learn)
		cx_esc_line(stderr, "calyx-exec: %u exec(s) in the %s were refused (not the command, nor in the lease's exec list), "
			    "first '%s': if the job needs it, lease its real path in exec (calyx-audit show %s --run %s --type exec.denied)",
			    o->rc.refused, o->validate ? "validate step" : "run", o->rc.first_refused,
			    o->run->cfg.audit_log, o->run->lease.run_id);
	ret->fin = fin;
	return r;
}

/* Everything once made, on every path. After a failure the tree is
 * killed and waited for (at most ~1 s) before its cgroup goes. */
static void once_release(once *o, bool failed)
{
	cx_error berr = { 0 };

	cx_phase_enter(CX_PH_CLEANUP);
	close_joins(o);
	if (o->ctl_fd >= 0) {
		close(o->ctl_fd);
		unlink(o->ctl_path);
	}
	if (o->spawned) {
		if (failed)
			cx_sandbox_wait(&o->sb, &o->out, NULL);
		cx_sandbox_release(&o->sb);
	}
	cx_bpfmon_stop(o->rc.bpf);
	if (!o->rc.cg)
		return;
	if (failed) {
		cx_cg_kill(o->rc.cg, NULL);
		for (int i = 0; i < 1000 && cx_cg_populated(o->rc.cg) > 0; i++)
			usleep(1000);
		cx_cg_destroy(o->rc.cg, NULL);
	} else if (cx_cg_destroy(o->rc.cg, &berr) < 0) {
		cx_esc_line(stderr, "calyx-exec: warning [%s]: %s", cx_reason_name(berr.reason), berr.msg);
	}
	cx_cg_close(o->rc.cg);
}

int cx_run_sandboxed_once(cx_run *run, const cx_run_trees *t, const cx_strv *argv,
			  const char *phase, cx_run_once *ret, cx_error *err)
{
	once o = { .run = run, .trees = t, .argv = argv, .phase = phase, .exit_code = CX_EXIT_FAILURE,
		   .ctl_fd = -1, .validate = strcmp(phase, "validate") == 0,
		   .sb = { .pidfd = -1, .status_fd = -1 },
		   .rc = { .run = run, .lim = &run->lease.spec.limits, .learn = run->learn } };
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = once_cgroup(&o, err)) < 0 || (r = once_spawn(&o, err)) < 0)
		goto fail;
	if ((r = once_supervise(&o, err)) < 0)
		goto fail;
	r = once_report(&o, ret, err);
	once_release(&o, false);
	/* Every event of the run (execs, breach, operator, halt, finish) must
	 * be in the log before anything of it lands: if one could not be
	 * written the run fails closed and its writes are discarded (synced
	 * in finish.c, before the commit). */
	if (r < 0 || o.rc.audit_r < 0) {
		if (r >= 0)
			*err = o.rc.audit_err;
		cx_err_prefix(err, "the %s ran but not all of its events could be audited, so nothing of it lands",
			      phase);
		json_decref(ret->fin);
		ret->fin = NULL;
		ret->ok = false;
		ret->exit_code = CX_EXIT_FAILURE;
		return -EIO;
	}
	return 0;
fail:
	once_release(&o, true);
	ret->exit_code = o.exit_code;
	return r < 0 ? r : -EIO;
}
