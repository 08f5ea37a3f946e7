/* calyx-exec: run one command, authorized by a two-key lease.
 *
 *   calyx-exec [--config FILE] --lease LEASE [--result FILE] [--dry-run]
 *
 * Pipeline (../shared/DESIGN.md): 1 config, 2 verify, 3 consume, 5 spawn
 * into the sandbox (sandbox/spawn.c), 6 wait, 7 result + audit. The
 * monitor (cgroup quotas, BPF) and the transactional workspace are later
 * stages.
 *
 * Trust: usually runs as root on a lease file anyone may have written. The
 * configuration is root-owned (StrictModes); --config is honoured only when
 * the real uid is 0, so a narrow sudo rule cannot be pointed at a keyring
 * the caller controls. The clock is read once. No side effect (ledger,
 * audit, state) happens before the lease verified; --dry-run has none. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <getopt.h>
#include <sys/file.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "calyx/audit.h"
#include "calyx/codec.h"
#include "calyx/config.h"
#include "calyx/fault.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/ledger.h"
#include "calyx/monitor.h"
#include "calyx/path.h"
#include "calyx/policy.h"
#include "calyx/sandbox.h"
#include "calyx/timings.h"
#include "calyx/workspace.h"
#include "run/housekeeping.h"
#include "run/state.h"
#include "cli.h"


static const char help_text[] =
	"usage: calyx-exec [--config FILE] --lease LEASE [--result FILE] [--dry-run] [--timings]\n"
	"  --config FILE   configuration (default " CX_CONFIG_DEFAULT "; honoured only for real uid 0)\n"
	"  --lease LEASE   the two-key signed lease to run\n"
	"  --result FILE   write a JSON result (status, reason, exit code, audit range)\n"
	"  --dry-run       verify and print the plan; nothing consumed, logged or executed\n"
	"  --timings       print the time of each phase on stderr at exit (also in the result)\n"
	"  --probe         print what this host supports and what the policy requires\n"
	"exit: the command's own code when it ran; 77 lease refused; 124 halted;\n"
	"      125 calyx-exec's own failure (also bad usage); 126 cannot execute; 127 not found\n";

typedef struct run_state {
	const char *result_path;
	cx_audit *audit;
	uint64_t first_seq, last_seq;
	char lease_sha256[65];
	cx_lease lease;
	bool have_lease;
	uint8_t cache_mac_key[32]; /* for STATE/cache (seccomp), from the host key */
	cx_state state;            /* the state dir's paths (the workspace engine's dirs) */
} run_state;

static void audit_event(run_state *st, const char *type, json_t *details, cx_error *err, int *r)
{
	uint64_t seq;
	if (!st->audit) {
		json_decref(details);
		return;
	}
	cx_phase was = cx_phase_enter(CX_PH_AUDIT);
	int ar = cx_audit_append(st->audit, type, st->have_lease ? st->lease.lease_id : NULL,
				 st->have_lease ? st->lease.run_id : NULL, details, &seq, err);
	cx_phase_enter(was);
	if (ar < 0) {
		*r = ar;
		return;
	}
	if (!st->first_seq)
		st->first_seq = seq;
	st->last_seq = seq;
}

/* Audit lines are synced in groups (cx_audit_defer_sync), at the points
 * where durability buys something: before anything of a run lands on the
 * host (the run's events, then the commit), after the workspace outcome,
 * and with every refusal or failure — always before the result is written
 * and calyx-exec exits. Single use does not depend on it: the ledger claim
 * is durable before the command starts. A power loss during a run can
 * therefore lose that run's last lines (never a line in the middle: the log
 * is append-only), while its workspace, never landed, is discarded by the
 * next start's recovery, which is audited. */
static int audit_sync(run_state *st, cx_error *err)
{
	if (!st->audit)
		return 0;
	cx_phase was = cx_phase_enter(CX_PH_AUDIT);
	int r = cx_audit_sync(st->audit, err);
	cx_phase_enter(was);
	return r;
}

/* extra (stolen, may be NULL): members merged into the result. */
static void write_result(run_state *st, const char *status, const cx_error *err, int code,
			 json_t *extra)
{
	json_t *j;
	char *s;
	cx_error werr = { 0 };

	if (!st->result_path) {
		json_decref(extra); /* owned even when there is nowhere to write */
		return;
	}
	cx_phase was = cx_phase_enter(CX_PH_RESULT);
	j = json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:i}", "v", 1, "status", status, "reason",
		      err ? cx_reason_name(err->reason) : "OK", "message", err ? err->msg : NULL,
		      "lease_id", st->have_lease ? st->lease.lease_id : NULL, "exit_code", code);
	CX_CHECK(j);
	if (st->have_lease)
		json_object_set_new(j, "run_id", json_string(st->lease.run_id));
	if (st->lease_sha256[0])
		json_object_set_new(j, "lease_sha256", json_string(st->lease_sha256));
	if (extra) {
		json_object_update(j, extra);
		json_decref(extra);
	}
	if (st->first_seq)
		json_object_set_new(j, "audit", json_pack("{s:I, s:I}", "first_seq",
							  (json_int_t)st->first_seq, "last_seq",
							  (json_int_t)st->last_seq));
	json_object_set_new(j, "timings_us", cx_timings_json()); /* up to this write */
	s = cx_json_dump_pretty(j);
	json_decref(j);
	if (cx_write_file_atomic(st->result_path, s, strlen(s), 0644, &werr) < 0)
		fprintf(stderr, "calyx-exec: error [%s]: result: %s\n", cx_reason_name(werr.reason),
			werr.msg);
	free(s);
	cx_phase_enter(was);
}

/* Refusal or failure: audit (best effort: the refusal stands either way),
 * result, one line on stderr. */
static int finish_fail(run_state *st, cx_error *err, int code)
{
	if (code < 0)
		code = cx_reason_is_refusal(err->reason) ? CX_EXIT_REFUSED : CX_EXIT_FAILURE;
	/* Record it, unless the audit log itself is what failed. If recording
	 * fails, say so on the same single line. */
	if (st->audit && err->reason != CX_E_AUDIT) {
		cx_error aerr = { 0 };
		int r = 0;
		audit_event(st, code == CX_EXIT_REFUSED ? "lease.rejected" : "run.failed",
			    json_pack("{s:s, s:s, s:s}", "reason", cx_reason_name(err->reason),
				      "message", err->msg, "lease_sha256", st->lease_sha256),
			    &aerr, &r);
		if (r == 0)
			r = audit_sync(st, &aerr);
		if (r < 0) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof(err->msg) - n, "; also not audited: %s", aerr.msg);
		}
	}
	write_result(st, code == CX_EXIT_REFUSED ? "refused" : "failed", err, code, NULL);
	return cx_cli_fail(err, code);
}

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

/* The view is mounted on STATE_DIR/root (empty, root-only) inside the
 * sandbox's own mount namespace; concurrent runs share the directory but
 * never see each other's mounts. */
static int view_root(const cx_config *cfg, char *out, size_t len, cx_error *err)
{
	struct stat sb;
	if ((size_t)snprintf(out, len, "%s/root", cfg->state_dir) >= len)
		return cx_err(err, CX_E_SPAWN, ENAMETOOLONG, "state dir path too long");
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_SPAWN, errno, "cannot create '%s': %s", out, strerror(errno));
	if (lstat(out, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)))
		return cx_err(err, CX_E_SPAWN, EPERM,
			      "'%s' must be a root-owned directory not writable by others", out);
	return 0;
}

typedef struct run_ctx {
	run_state *st;
	const cx_config *cfg;
	cx_cgroup *cg;
	cx_bpfmon *bpf;   /* NULL: the cgroup poller enforces CPU (berr says why) */
	cx_error berr;
	int64_t started_ns;
	const cx_limits *lim;
	pid_t init_pid; /* the sandbox's init, in our pid namespace */
	int audit_r; /* first audit failure inside callbacks */
	cx_error audit_err;
} run_ctx;

static void on_exec(const cx_bpf_exec *e, void *arg);

/* The CPU budget in kernel when BPF works here; otherwise the cgroup
 * poller (the result and the audit log say which). Runs while the sandbox
 * builds itself (before_exec): loading and verifying the program is the
 * monitor's main cost, and the command cannot exec before it is armed. */
static int arm_monitor(pid_t pid, void *arg, cx_error *err)
{
	run_ctx *rc = arg;
	cx_bpf_callbacks cb = { .exec = on_exec, .arg = rc };
	cx_phase was = cx_phase_enter(CX_PH_MONITOR);
	(void)pid;
	(void)err;
	uint64_t budget = rc->lim->v[CX_LIM_CPU_MS] * 1000000ULL;
	if (cx_cg_clone_fd(rc->cg) < 0) {
		cx_err(&rc->berr, CX_E_LAYER, ENOTSUP, "no unified cgroup hierarchy for BPF scoping");
	} else {
		char offpath[4096];
		cx_kern_offsets ko;
		snprintf(offpath, sizeof(offpath), "%s/kernel-offsets.json", rc->cfg->state_dir);
		cx_kern_offsets_get(offpath, &ko, NULL); /* zeros: pid + comm only */
		cx_bpfmon_start(cx_cg_clone_fd(rc->cg), budget, &ko, &cb, &rc->bpf, &rc->berr);
		/* The sandbox has been setting itself up in the run's cgroup
		 * meanwhile: what it used before the events counted counts too. */
		cx_cg_usage u = { 0 };
		if (rc->bpf && cx_cg_read_cpu(rc->cg, &u, NULL) == 0)
			cx_bpfmon_charge_uncounted(rc->bpf, u.cpu_usec * 1000);
	}
	cx_phase_enter(was);
	return 0;
}

/* Every process the run starts (BPF exec tracer) is an audit event. */
static void on_exec(const cx_bpf_exec *e, void *arg)
{
	run_ctx *rc = arg;
	const char *fn = e->filename;
	int r = 0;
	/* The payload is started with execveat on the fd it checked, which
	 * the kernel names "/dev/fd/N": name it by the lease's command. */
	bool by_fd = strncmp(fn, "/dev/fd/", 8) == 0 && (pid_t)e->ppid == rc->init_pid;
	if (by_fd)
		fn = rc->st->lease.spec.argv.v[0];
	json_t *d = json_pack("{s:i, s:i, s:s, s:s}", "pid", (int)e->pid, "ppid", (int)e->ppid,
			      "filename", fn, "argv_head", e->args);
	if (by_fd)
		json_object_set_new(d, "exec_by_fd", json_true());
	audit_event(rc->st, "exec.spawned", d, &rc->audit_err, &r);
	if (r < 0 && !rc->audit_r)
		rc->audit_r = r;
}

static void on_breach(cx_halt_reason why, uint64_t limit, uint64_t usage, void *arg)
{
	run_ctx *rc = arg;
	int r = 0;
	audit_event(rc->st, "resource.breach",
		    json_pack("{s:s, s:I, s:I}", "quota", cx_halt_name(why), "limit", (json_int_t)limit,
			      "usage", (json_int_t)usage),
		    &rc->audit_err, &r);
	if (r < 0 && !rc->audit_r)
		rc->audit_r = r;
}

static void *status_json(const cx_cg_usage *u, bool paused, void *arg)
{
	run_ctx *rc = arg;
	int64_t now = cx_mono_ns();
	(void)paused;
	return json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}", "run_id",
			 rc->st->lease.run_id, "lease_id", rc->st->lease.lease_id, "argv0",
			 rc->st->lease.spec.argv.v[0], "elapsed_ms",
			 (json_int_t)((now - rc->started_ns) / 1000000), "usage", "cpu_ms",
			 (json_int_t)(u->cpu_usec / 1000), "memory_bytes", (json_int_t)u->memory_current,
			 "pids", (json_int_t)u->pids_current, "limits", "cpu_ms",
			 (json_int_t)rc->lim->v[CX_LIM_CPU_MS], "memory_bytes",
			 (json_int_t)rc->lim->v[CX_LIM_MEMORY_BYTES], "pids",
			 (json_int_t)rc->lim->v[CX_LIM_PIDS], "wall_ms",
			 (json_int_t)rc->lim->v[CX_LIM_WALL_MS]);
}

static void on_operator(cx_ctl_cmd cmd, uid_t uid, void *arg)
{
	run_ctx *rc = arg;
	int r = 0;
	/* Literal types: tests/integration/audit_events.sh finds every event
	 * type in the sources and checks docs/audit-events.md has it. */
	audit_event(rc->st,
		    cmd == CX_CTL_PAUSE    ? "operator.paused"
		    : cmd == CX_CTL_RESUME ? "operator.resumed"
					   : "operator.halted",
		    json_pack("{s:i}", "operator_uid", (int)uid), &rc->audit_err, &r);
	if (r < 0 && !rc->audit_r)
		rc->audit_r = r;
}

/* STATE_DIR/run/<lease_id>.sock: where calyx-ctl finds this run. */
static int control_socket(const cx_config *cfg, const char *lease_id, char *path, size_t len,
			  int *ret_fd, cx_error *err)
{
	char dir[4096];
	struct stat sb;
	snprintf(dir, sizeof(dir), "%s/run", cfg->state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_SPAWN, errno, "cannot create '%s': %s", dir, strerror(errno));
	if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0 || (sb.st_mode & 077))
		return cx_err(err, CX_E_SPAWN, EPERM, "'%s' must be a root-only directory (chmod 700)", dir);
	if ((size_t)snprintf(path, len, "%s/%s.sock", dir, lease_id) >= len)
		return cx_err(err, CX_E_SPAWN, ENAMETOOLONG, "control socket path too long");
	return cx_ctl_listen(path, ret_fd, err);
}

static void report_stale(const char *name, void *arg)
{
	run_ctx *rc = arg;
	int r = 0;
	fprintf(stderr, "calyx-exec: note: removed stale run cgroup '%s' (its calyx-exec is gone)\n",
		name);
	audit_event(rc->st, "monitor.stale_cgroup_removed", json_pack("{s:s}", "cgroup", name),
		    &rc->audit_err, &r);
}

static const char *unit_of(cx_halt_reason r)
{
	switch (r) {
	case CX_HALT_CPU:
	case CX_HALT_WALL:
		return "ms";
	case CX_HALT_MEMORY:
		return "bytes";
	case CX_HALT_PIDS:
		return "pids";
	default:
		return "";
	}
}

static json_t *usage_json(const cx_supervise_result *sr)
{
	const cx_cg_usage *u = &sr->usage;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}}", "cpu_ms",
			 (json_int_t)(u->cpu_usec / 1000), "cpu_user_ms",
			 (json_int_t)(u->cpu_user_usec / 1000), "cpu_system_ms",
			 (json_int_t)(u->cpu_system_usec / 1000), "peak_memory_bytes",
			 (json_int_t)u->memory_peak, "pids_peak", (json_int_t)u->pids_peak,
			 "forks_refused", (json_int_t)u->pids_refused, "wall_ms",
			 (json_int_t)(sr->wall_ns / 1000000), "pressure_stall_us", "cpu",
			 (json_int_t)u->psi_cpu_us, "memory", (json_int_t)u->psi_memory_us, "io",
			 (json_int_t)u->psi_io_us);
}

static json_t *halt_json(const cx_supervise_result *sr)
{
	int64_t usage = (int64_t)sr->usage_at_detect;
	/* CPU is billed from cpu.stat after the kill: that is the overshoot
	 * that matters (work done past the budget). */
	if (sr->halt == CX_HALT_CPU)
		usage = (int64_t)(sr->usage.cpu_usec / 1000);
	json_t *h = json_pack("{s:s, s:s, s:I, s:I, s:b}", "reason", cx_halt_name(sr->halt), "unit",
			      unit_of(sr->halt), "limit", (json_int_t)sr->limit, "usage",
			      (json_int_t)usage, "incomplete", sr->halt_incomplete);
	if (sr->halt != CX_HALT_OPERATOR)
		json_object_set_new(h, "overshoot", json_integer(usage - (int64_t)sr->limit));
	if (sr->halt_signal)
		json_object_set_new(h, "signal", json_integer(sr->halt_signal));
	if (sr->halt_uid >= 0)
		json_object_set_new(h, "operator_uid", json_integer(sr->halt_uid));
	json_object_set_new(h, "detect_to_empty_ms",
			    json_real((double)sr->detect_to_empty_ns / 1e6));
	if (sr->halt == CX_HALT_CPU)
		json_object_set_new(h, "cpu_overshoot_ms_precise",
				    json_real((double)sr->usage.cpu_usec / 1000.0 - (double)sr->limit));
	return h;
}

/* One supervised sandbox run of argv (the command, or the lease's
 * validate step): its own cgroup, BPF monitor, control socket, spawn,
 * supervision and audit events. */
typedef struct once {
	int exit_code;               /* what calyx-exec would exit with */
	bool ran;                    /* the command started */
	bool ok;                     /* exited 0, no halt */
	cx_halt_reason halt;
	json_t *fin;                 /* result members (owned) */
} once;

static int run_once(run_state *st, const cx_config *cfg, const cx_policy *pol, const char *root,
		    const char *const *ovdirs, const cx_strv *argv, const char *phase, once *ret,
		    cx_error *err)
{
	const cx_limits *lim = &st->lease.spec.limits;
	char cgname[128], tag[16], ctl_path[4096] = "";
	cx_sandbox sb = { .pidfd = -1, .status_fd = -1 };
	cx_sandbox_outcome out = { 0 };
	cx_supervise_result sr = { 0 };
	run_ctx rc = { .st = st, .cfg = cfg, .lim = lim };
	cx_error berr = { 0 };
	int exit_code = CX_EXIT_FAILURE, r, ctl_fd = -1;
	int join_fds[CX_SANDBOX_JOIN_MAX]; /* the v1 hierarchies init joins */
	size_t n_join = 0;
	bool spawned = false, validate = strcmp(phase, "validate") == 0;

	memset(ret, 0, sizeof(*ret));
	cx_phase_enter(CX_PH_CGROUP);
	r = cx_cg_open(&rc.cg, err);
	if (r < 0)
		goto fail;
	cx_cg_reap_stale(rc.cg, report_stale, &rc, NULL);
	memcpy(tag, st->lease.lease_id, 12);
	tag[12] = '\0';
	if (validate)
		strcat(tag, "-v");
	if (cx_cg_run_name(cgname, sizeof(cgname), tag) < 0) {
		r = cx_err(err, CX_E_SPAWN, EINVAL, "cannot name the run's cgroup");
		goto fail;
	}
	cx_cg_limits cl = { .memory_bytes = lim->v[CX_LIM_MEMORY_BYTES], .pids = lim->v[CX_LIM_PIDS] };
	if ((r = cx_cg_create(rc.cg, cgname, &cl, err)) < 0)
		goto fail;
	if ((r = cx_cg_join_fds(rc.cg, join_fds, CX_ARRAY_SIZE(join_fds), err)) < 0)
		goto fail;
	n_join = (size_t)r;

	cx_phase_enter(CX_PH_MONITOR);
	if ((r = control_socket(cfg, st->lease.lease_id, ctl_path, sizeof(ctl_path), &ctl_fd, err)) < 0)
		goto fail;
	cx_supervise_block_signals();
	char cache_dir[4096];
	snprintf(cache_dir, sizeof(cache_dir), "%s/cache", cfg->state_dir);
	cx_run_spec spec = st->lease.spec; /* shallow: argv differs for validate */
	spec.argv = *argv;
	if (validate)
		spec.stdin_inherit = false;
	cx_sandbox_config sc = {
		.spec = &spec,
		.syscalls_deny = &pol->syscalls_deny,
		.root_dir = root,
		.run_uid = cfg->run_uid,
		.run_gid = cfg->run_gid,
		.landlock_optional = pol->landlock_optional,
		.inherit_stdin = spec.stdin_inherit,
		.dev_shm = pol->dev_shm,
		.overlay_dirs = ovdirs,
		.cgroup_fd = cx_cg_clone_fd(rc.cg),
		.join_fds = join_fds,
		.n_join_fds = n_join,
		.before_exec = arm_monitor,
		.before_exec_arg = &rc,
		.seccomp_cache_dir = cache_dir,
		.seccomp_cache_mac_key = st->cache_mac_key,
	};
	CX_FAULT_POINT(validate ? "before_spawn_validate" : "before_spawn");
	cx_phase_enter(CX_PH_SPAWN);
	r = cx_sandbox_spawn(&sc, &sb, &exit_code, err);
	while (n_join > 0)
		close(join_fds[--n_join]);
	if (r < 0)
		goto fail;
	spawned = true;
	/* the child's own steps, from its stamps */
	static const cx_phase steps[] = { [CX_SBX_VIEW_START] = CX_PH_SPAWN,
					  [CX_SBX_VIEW_DONE] = CX_PH_MOUNTS,
					  [CX_SBX_PRIVS_DONE] = CX_PH_PRIVILEGES,
					  [CX_SBX_LANDLOCK_DONE] = CX_PH_LANDLOCK,
					  [CX_SBX_SECCOMP_DONE] = CX_PH_SECCOMP,
					  [CX_SBX_EXEC_DONE] = CX_PH_EXEC };
	for (int i = 0; i < CX_SBX__MARKS; i++)
		cx_phase_split(steps[i], sb.marks[i]);
	cx_phase_enter(CX_PH_WAIT);
	ret->ran = true;
	rc.started_ns = sb.started_ns;
	rc.init_pid = sb.pid;
	json_t *started = json_pack("{s:s, s:s, s:i, s:i, s:i, s:o, s:s, s:s}", "phase", phase, "argv0",
				    argv->v[0], "pid", (int)sb.pid, "uid", (int)cfg->run_uid, "gid",
				    (int)cfg->run_gid, "layers", layers_json(&sb.layers),
				    "cgroup_layout", cx_cg_layout_name(cx_cg_layout_of(rc.cg)),
				    "cpu_enforcer", rc.bpf ? "bpf" : "cgroup-poll");
	if (!rc.bpf)
		json_object_set_new(started, "bpf_unavailable", json_string(rc.berr.msg));
	audit_event(st, "exec.started", started, err, &r);
	if (r < 0) {
		cx_sandbox_kill(&sb);
		exit_code = CX_EXIT_FAILURE;
		goto fail;
	}
	CX_FAULT_POINT(validate ? "run_validate" : "run");

	cx_supervise_cfg sup = {
		.cg = rc.cg, .pidfd = sb.pidfd, .bpf = rc.bpf,
		.cpu_ms = lim->v[CX_LIM_CPU_MS], .wall_ms = lim->v[CX_LIM_WALL_MS],
		.memory_bytes = lim->v[CX_LIM_MEMORY_BYTES], .pids = lim->v[CX_LIM_PIDS],
		.started_ns = sb.started_ns, .on_breach = on_breach, .ctl_fd = ctl_fd,
		.status_json = status_json, .on_operator = on_operator, .arg = &rc,
	};
	r = cx_supervise(&sup, &sr, err);
	if (sr.halt != CX_HALT_NONE) { /* the halt's own time: freeze, kill, empty */
		int64_t now = cx_mono_ns();
		cx_phase_split(CX_PH_WAIT, now - sr.detect_to_empty_ns);
		cx_phase_split(CX_PH_HALT, now);
	}
	if (r < 0) {
		cx_sandbox_kill(&sb);
		cx_cg_kill(rc.cg, NULL);
		goto fail;
	}
	if (rc.bpf)
		cx_bpfmon_consume(rc.bpf); /* execs still in the ring */
	r = cx_sandbox_wait(&sb, &out, err);
	if (r < 0)
		goto fail;

	json_t *fin = json_pack("{s:I, s:o}", "wall_ms", (json_int_t)(sr.wall_ns / 1000000), "usage",
				usage_json(&sr));
	if (sr.halt != CX_HALT_NONE) {
		exit_code = CX_EXIT_HALTED;
		json_object_set_new(fin, "halt", halt_json(&sr));
		audit_event(st, "run.halted", halt_json(&sr), err, &r);
	} else {
		/* Shell convention for a command killed by a signal: 128 + N. */
		exit_code = out.exited ? out.exit_code : 128 + out.signal;
	}
	if (out.exited && sr.halt == CX_HALT_NONE)
		json_object_set_new(fin, "exit_code", json_integer(out.exit_code));
	else if (!out.exited)
		json_object_set_new(fin, "signal", json_integer(out.signal));
	if (rc.bpf)
		json_object_set_new(fin, "processes_started", json_integer(cx_bpfmon_exec_count(rc.bpf)));
	json_t *fin_audit = json_deep_copy(fin);
	json_object_set_new(fin_audit, "phase", json_string(phase));
	audit_event(st, "exec.finished", fin_audit, err, &r);
	json_object_set_new(fin, "layers", layers_json(&sb.layers));
	json_object_set_new(fin, "cgroup_layout", json_string(cx_cg_layout_name(cx_cg_layout_of(rc.cg))));
	json_object_set_new(fin, "cpu_enforcer", json_string(sr.cpu_enforcer));
	json_object_set_new(fin, "exit_code", json_integer(exit_code));
	if (sr.paused_ms)
		json_object_set_new(fin, "paused_ms", json_integer(sr.paused_ms));
	if (sr.halt == CX_HALT_OPERATOR) {
		if (sr.halt_signal)
			fprintf(stderr, "calyx-exec: halted [operator]: signal %d to calyx-exec stopped the %s; the whole process tree was stopped\n",
				sr.halt_signal, validate ? "validate step" : "run");
		else
			fprintf(stderr, "calyx-exec: halted [operator]: stopped by uid %d through calyx-ctl; the whole process tree was stopped\n",
				sr.halt_uid);
	} else if (sr.halt != CX_HALT_NONE) {
		fprintf(stderr, "calyx-exec: halted [%s]: %s quota breached%s: limit %llu %s, used %lld %s; the whole process tree was stopped (raise the lease's limit if it was too low)\n",
			cx_halt_name(sr.halt), cx_halt_name(sr.halt), validate ? " by the validate step" : "",
			(unsigned long long)sr.limit, unit_of(sr.halt),
			(long long)json_integer_value(json_object_get(json_object_get(fin, "halt"), "usage")),
			unit_of(sr.halt));
	}
	ret->exit_code = exit_code;
	ret->halt = sr.halt;
	ret->ok = sr.halt == CX_HALT_NONE && out.exited && out.exit_code == 0;
	ret->fin = fin;
	cx_phase_enter(CX_PH_CLEANUP);
	close(ctl_fd);
	unlink(ctl_path);
	cx_sandbox_release(&sb);
	cx_bpfmon_stop(rc.bpf);
	if (cx_cg_destroy(rc.cg, &berr) < 0)
		fprintf(stderr, "calyx-exec: warning [%s]: %s\n", cx_reason_name(berr.reason), berr.msg);
	cx_cg_close(rc.cg);
	/* Every event of the run (execs, breach, operator, halt, finish) must
	 * be in the log before anything of it lands: if one could not be
	 * written the run fails closed and its writes are discarded (synced:
	 * in run_sandboxed, before the commit). */
	if (r < 0 || rc.audit_r < 0) {
		if (r >= 0)
			*err = rc.audit_err;
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
	cx_phase_enter(CX_PH_CLEANUP);
	while (n_join > 0)
		close(join_fds[--n_join]);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(ctl_path);
	}
	if (spawned) {
		cx_sandbox_wait(&sb, &out, NULL);
		cx_sandbox_release(&sb);
	}
	cx_bpfmon_stop(rc.bpf);
	if (rc.cg) {
		cx_cg_kill(rc.cg, NULL);
		for (int i = 0; i < 1000 && cx_cg_populated(rc.cg) > 0; i++)
			usleep(1000);
		cx_cg_destroy(rc.cg, NULL);
		cx_cg_close(rc.cg);
	}
	ret->exit_code = exit_code;
	return r < 0 ? r : -EIO;
}

/* Two runs whose leases name the same tree never interleave: the
 * workspace lock (cx_ws_lock), held for the whole run and commit. The
 * policy says whether a second run waits or is refused. */
static int tree_lock(const cx_ws_dirs *d, const char *path, bool wait, int *ret_fd, cx_error *err)
{
	int r = cx_ws_lock(d, path, wait, ret_fd, err);
	if (r == -EBUSY && err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n,
			 "; or set \"workspace_lock\": \"wait\" in the policy");
	}
	return r;
}

static void report_recovered(const char *lease_id, const char *action, bool ok, const char *msg,
			     void *arg)
{
	run_state *st = arg;
	cx_error e = { 0 };
	int r = 0;
	if (ok)
		fprintf(stderr, "calyx-exec: note: workspace of interrupted lease %s: %s\n", lease_id, action);
	else
		fprintf(stderr, "calyx-exec: note: workspace of interrupted lease %s: recovery failed: %s (fix it, then run 'calyx-ctl recover')\n",
			lease_id, msg);
	json_t *d = json_pack("{s:s, s:s, s:b}", "lease_id", lease_id, "action", action, "ok", ok);
	if (!ok)
		json_object_set_new(d, "error", json_string(msg));
	audit_event(st, "workspace.recovered", d, &e, &r);
}

static void report_pruned(const char *lease_id, const char *action, bool ok, const char *msg,
			  void *arg)
{
	run_state *st = arg;
	cx_error e = { 0 };
	int r = 0;
	(void)ok;
	(void)msg;
	audit_event(st, "workspace.pack_pruned", json_pack("{s:s, s:s}", "lease_id", lease_id, "why", action),
		    &e, &r);
}

/* The run's writable trees: [0] the workspace (if any), then rw paths. */
static size_t writable_trees(const cx_run_spec *s, const char **out)
{
	size_t n = 0;
	out[n++] = s->workspace; /* may be NULL: slot 0 is always the workspace */
	for (size_t i = 0; i < s->rw.n && n < CX_WS_TREES_MAX; i++)
		out[n++] = s->rw.v[i];
	return n;
}

/* STATE/runs/<lease_id>/tree<i>/{upper,work}, and an owner file naming
 * this calyx-exec (so a later start can tell a crashed run). */
static int prepare_run_dir(const cx_config *cfg, const char *lease_id, const char *const *trees,
			   size_t ntrees, char dirs[][4096], struct stat *ids, char *run_dir, size_t rlen,
			   int *ret_lock, cx_error *err)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/runs", cfg->state_dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", p, strerror(errno));
	char tmp[4200];
	if ((size_t)snprintf(run_dir, rlen, "%s/%s", p, lease_id) >= rlen)
		return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "state dir path too long");
	/* Created under a name recovery ignores, locked, then renamed: a
	 * concurrent start never sees it unlocked. The lock is held while
	 * this run lives; a later start that can take it recovers the dir. */
	snprintf(tmp, sizeof(tmp), "%s.new", run_dir);
	if (CX_FAULT_IO("state", "rundir", NULL) < 0)
		return cx_err(err, CX_E_WORKSPACE, EIO, "cannot create run dir '%s': %s", tmp,
			      strerror(EIO));
	if (mkdir(tmp, 0700) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create run dir '%s': %s", tmp,
			      strerror(errno));
	CX_FAULT_POINT("run_dir_new");
	*ret_lock = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*ret_lock < 0 || flock(*ret_lock, LOCK_EX | LOCK_NB) < 0 || rename(tmp, run_dir) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "run dir '%s': %s", run_dir, strerror(errno));
	for (size_t i = 0; i < ntrees; i++) {
		if ((size_t)snprintf(dirs[i], 4096, "%s/tree%zu", run_dir, i) >= 4096)
			return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "state dir path too long");
		char up[4200], wk[4200];
		if ((size_t)snprintf(up, sizeof(up), "%s/upper", dirs[i]) >= sizeof(up) ||
		    (size_t)snprintf(wk, sizeof(wk), "%s/work", dirs[i]) >= sizeof(wk))
			return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "state dir path too long");
		if (mkdir(dirs[i], 0700) < 0 || mkdir(up, 0755) < 0 || mkdir(wk, 0700) < 0)
			return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", dirs[i],
				      strerror(errno));
		/* The overlay's root shows the upper root's owner and mode: make
		 * them the host tree's, so the run may write where it could. */
		/* The tree as the view will open it (no symlink on the way); its
		 * identity goes to the commit, which refuses another directory
		 * swapped in at the same path meanwhile. */
		struct stat hs = { 0 };
		if (trees[i]) {
			int tfd = cx_openat2(AT_FDCWD, trees[i], O_PATH | O_DIRECTORY,
					     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
			if (tfd < 0)
				errno = -tfd;
			int bad = tfd < 0 || fstat(tfd, &hs) < 0 || chown(up, hs.st_uid, hs.st_gid) < 0 ||
				  chmod(up, hs.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0;
			int e = errno;
			if (tfd >= 0)
				close(tfd);
			if (bad)
				return cx_err(err, CX_E_WORKSPACE, e,
					      "cannot prepare the overlay of '%.200s': %s", trees[i],
					      strerror(e));
		}
		ids[i] = hs;
	}
	return 0;
}

static json_t *ws_json(const char *action, const char *reason, const cx_ws_report *rep)
{
	json_t *j = json_pack("{s:s, s:s}", "action", action, "reason", reason);
	if (rep)
		json_object_update_new(j, json_pack("{s:I, s:I, s:I, s:I}", "added",
						    (json_int_t)rep->added, "changed",
						    (json_int_t)rep->changed, "deleted",
						    (json_int_t)rep->deleted, "bytes",
						    (json_int_t)rep->bytes));
	if (rep && rep->manifest_sha256[0])
		json_object_set_new(j, "manifest_sha256", json_string(rep->manifest_sha256));
	else if (rep) /* the run wrote nothing: no pack, nothing to undo */
		json_object_set_new(j, "nothing_changed", json_true());
	return j;
}

/* The run's writes are discarded after calyx-exec's own failure `why`
 * (the run could not be started, supervised or committed): audited as a
 * rollback ("<what> (E_…)") when the discard worked and, if a commit was
 * attempted, it left no pack (it was refused or undid itself). Otherwise
 * the next start's recovery finishes or undoes it and audits that
 * (workspace.recovered). Like run.failed, not when the log itself failed. */
static void discard_failed(run_state *st, const char *run_dir, const char *pack, const char *what,
			   const cx_error *why)
{
	char reason[96];
	struct stat sb;
	cx_error e = { 0 };
	int r = 0;

	if (cx_ws_discard(&st->state.ws, run_dir, NULL) < 0)
		return;
	if (pack && !(lstat(pack, &sb) < 0 && errno == ENOENT))
		return;
	if (why->reason == CX_E_AUDIT)
		return;
	snprintf(reason, sizeof(reason), "%s (%s)", what, cx_reason_name(why->reason));
	audit_event(st, "workspace.rolled_back", ws_json("rolled_back", reason, NULL), &e, &r);
}

/* Lock every writable tree of the lease — before it is consumed, so a
 * run refused because its tree is busy keeps its lease. */
static int lock_trees(const run_state *st, const cx_policy *pol, int *locks, size_t *nlocks,
		      cx_error *err)
{
	const char *trees[CX_WS_TREES_MAX];
	size_t nt;

	*nlocks = 0;
	if (st->lease.spec.rw.n + 1 > CX_WS_TREES_MAX)
		return cx_err(err, CX_E_POLICY_PATH, E2BIG, "at most %d writable paths per lease",
			      CX_WS_TREES_MAX - 1);
	nt = writable_trees(&st->lease.spec, trees);
	for (size_t i = 0; i < nt; i++) {
		if (!trees[i])
			continue;
		int r = tree_lock(&st->state.ws, trees[i], pol->workspace_wait, &locks[*nlocks], err);
		if (r < 0)
			return r;
		(*nlocks)++;
	}
	return 0;
}

static int run_sandboxed(run_state *st, const cx_config *cfg, const cx_policy *pol, int *locks,
			 size_t nlocks, cx_error *err)
{
	const cx_run_spec *s = &st->lease.spec;
	char root[4096], run_dir[4096], tree_dirs[CX_WS_TREES_MAX][4096];
	struct stat tree_ids[CX_WS_TREES_MAX];
	const char *trees[CX_WS_TREES_MAX], *ovdirs[CX_WS_TREES_MAX];
	size_t nt = writable_trees(s, trees);
	bool transactional = s->workspace || s->rw.n;
	once cmd = { 0 }, val = { 0 };
	int r, code;

	CX_FAULT_POINT("setup");
	cx_phase_enter(CX_PH_WORKSPACE);
	r = view_root(cfg, root, sizeof(root), err);
	if (r < 0)
		return finish_fail(st, err, CX_EXIT_FAILURE);
	if (transactional) {
		r = prepare_run_dir(cfg, st->lease.lease_id, trees, nt, tree_dirs, tree_ids, run_dir,
				    sizeof(run_dir), &locks[nlocks], err);
		if (locks[nlocks] >= 0)
			nlocks++;
		if (r < 0) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof(err->msg) - n,
				 " (the lease is used and nothing ran; free space or fix the state dir, then issue a new lease)");
			goto unlock_fail;
		}
		CX_FAULT_POINT("after_run_dir");
		for (size_t i = 0; i < nt; i++)
			ovdirs[i] = tree_dirs[i];
	}

	r = run_once(st, cfg, pol, root, transactional ? ovdirs : NULL, &s->argv, "command", &cmd, err);
	if (r < 0) {
		if (transactional)
			discard_failed(st, run_dir, NULL, "calyx-exec failed", err);
		code = finish_fail(st, err, cmd.exit_code);
		goto unlock;
	}
	code = cmd.exit_code;
	if (cmd.ok && s->validate_argv.n) {
		r = run_once(st, cfg, pol, root, transactional ? ovdirs : NULL, &s->validate_argv,
			     "validate", &val, err);
		if (r < 0) {
			if (transactional)
				discard_failed(st, run_dir, NULL, "calyx-exec failed in validate", err);
			json_decref(cmd.fin);
			code = finish_fail(st, err, val.exit_code);
			goto unlock;
		}
		json_object_set_new(cmd.fin, "validate", val.fin);
		if (!val.ok) {
			/* the command succeeded, its check did not: nothing lands */
			code = val.halt != CX_HALT_NONE ? CX_EXIT_HALTED
			       : val.exit_code ? val.exit_code : CX_EXIT_FAILURE;
			fprintf(stderr, "calyx-exec: validate failed (exit %d): the run's changes were rolled back\n",
				val.exit_code);
		}
	}

	if (transactional) {
		char reason[128];
		bool commit = cmd.ok && (!s->validate_argv.n || val.ok);
		cx_ws_report rep = { 0 };
		cx_error werr = { 0 };

		if (commit) {
			char pack[4096], journal[4200];
			cx_ws_tree wt[CX_WS_TREES_MAX];
			char uppers[CX_WS_TREES_MAX][4200];
			size_t n = 0;
			snprintf(pack, sizeof(pack), "%s/packs", cfg->state_dir);
			mkdir(pack, 0700);
			snprintf(pack, sizeof(pack), "%s/packs/%s", cfg->state_dir, st->lease.lease_id);
			snprintf(journal, sizeof(journal), "%s/journal.json", run_dir);
			for (size_t i = 0; i < nt; i++) {
				if (!trees[i])
					continue;
				if ((size_t)snprintf(uppers[i], sizeof(uppers[i]), "%s/upper", tree_dirs[i]) >=
				    sizeof(uppers[i]))
					continue; /* cannot happen: tree_dirs are bounded by prepare_run_dir */
				wt[n++] = (cx_ws_tree){ .host_path = trees[i], .upper = uppers[i],
							.dev = tree_ids[i].st_dev, .ino = tree_ids[i].st_ino };
			}
			/* The run's events are durable before anything of it lands;
			 * a run that wrote nothing lands nothing (no sync needed: the
			 * sandbox is gone, nothing writes the uppers any more). */
			bool wrote = false;
			for (size_t i = 0; i < n; i++)
				wrote = wrote || cx_ws_upper_empty(wt[i].upper) != 1;
			if (wrote && (r = audit_sync(st, err)) < 0) {
				json_decref(cmd.fin);
				discard_failed(st, run_dir, NULL, "events not durable", err);
				cx_err_prefix(err, "the run's events could not be made durable, so nothing of it lands");
				code = finish_fail(st, err, CX_EXIT_FAILURE);
				goto unlock;
			}
			CX_FAULT_POINT("before_commit");
			cx_phase_enter(CX_PH_COMMIT);
			r = cx_ws_commit(&st->state.ws, wt, n, st->lease.lease_id, st->lease.run_id, pack, journal, &rep,
					 &werr);
			if (r < 0) {
				json_decref(cmd.fin);
				/* the engine undid itself from the pack; drop what is left
				 * (refused by the engine while a commit is unfinished) */
				discard_failed(st, run_dir, pack, "commit failed", &werr);
				cx_err_prefix(&werr, "commit of the workspace failed");
				size_t ml = strlen(werr.msg);
				snprintf(werr.msg + ml, sizeof(werr.msg) - ml,
					 " (nothing of the run landed, or the next start undoes it; fix the cause, then issue a new lease)");
				code = finish_fail(st, &werr, CX_EXIT_FAILURE);
				goto unlock;
			}
			CX_FAULT_POINT("after_commit");
			audit_event(st, "workspace.committed", ws_json("committed", "success", &rep), err, &r);
			if (r == 0)
				r = audit_sync(st, err);
			cx_ws_discard(&st->state.ws, run_dir, NULL); /* the done journal and empty dirs */
			if (r < 0) {
				/* landed, but unrecorded: say so and how to take it back */
				cx_err_prefix(err, "the workspace was committed but the commit could not be audited (undo it with 'calyx-ctl rollback %s')",
					      st->lease.lease_id);
				json_decref(cmd.fin);
				code = finish_fail(st, err, CX_EXIT_FAILURE);
				goto unlock;
			}
			json_object_set_new(cmd.fin, "workspace", ws_json("committed", "success", &rep));
		} else {
			if (cmd.halt != CX_HALT_NONE)
				snprintf(reason, sizeof(reason), "halted (%s)", cx_halt_name(cmd.halt));
			else if (!cmd.ok)
				snprintf(reason, sizeof(reason), "command exited %d", cmd.exit_code);
			else if (val.halt != CX_HALT_NONE)
				snprintf(reason, sizeof(reason), "validate halted (%s)", cx_halt_name(val.halt));
			else
				snprintf(reason, sizeof(reason), "validate exited %d", val.exit_code);
			int ar = 0;
			CX_FAULT_POINT("before_rollback");
			cx_phase_enter(CX_PH_ROLLBACK);
			cx_ws_discard(&st->state.ws, run_dir, &werr); /* a failure is finished by the next start's recovery */
			CX_FAULT_POINT("after_discard");
			audit_event(st, "workspace.rolled_back", ws_json("rolled_back", reason, NULL), err, &ar);
			if (ar == 0)
				ar = audit_sync(st, err);
			if (ar < 0) {
				cx_err_prefix(err, "the run's writes were discarded but that could not be audited");
				json_decref(cmd.fin);
				code = finish_fail(st, err, CX_EXIT_FAILURE);
				goto unlock;
			}
			json_object_set_new(cmd.fin, "workspace", ws_json("rolled_back", reason, NULL));
		}
	}
	/* the run without a workspace: its events, before the result */
	if ((r = audit_sync(st, err)) < 0) {
		json_decref(cmd.fin);
		code = finish_fail(st, err, CX_EXIT_FAILURE);
		goto unlock;
	}
	write_result(st, cmd.halt != CX_HALT_NONE || val.halt != CX_HALT_NONE ? "halted" : "completed",
		     NULL, code, cmd.fin);
unlock:
	cx_phase_enter(CX_PH_CLEANUP);
	for (size_t i = 0; i < nlocks; i++)
		close(locks[i]);
	return code;
unlock_fail:
	for (size_t i = 0; i < nlocks; i++)
		close(locks[i]);
	return finish_fail(st, err, err->reason == CX_E_WORKSPACE ? CX_EXIT_FAILURE : -1);
}

static void print_support(const cx_host_support *h)
{
	printf("host support:\n");
	printf("  namespaces (pid mnt net ipc uts cgroup)  %s\n", h->ns_all ? "yes" : "NO");
	printf("  unprivileged user namespaces             %s (not used: calyx runs commands as an unprivileged host uid)\n",
	       h->userns ? "yes" : "no");
	printf("  new mount API (open_tree/move_mount)     %s\n", h->open_tree ? "yes" : "NO");
	if (h->landlock_abi)
		printf("  Landlock                                 ABI %d\n", h->landlock_abi);
	else
		printf("  Landlock                                 no\n");
	printf("  seccomp filters                          %s%s\n", h->seccomp_filter ? "yes" : "NO",
	       h->seccomp_kill_process ? " (kill_process available)" : "");
	printf("  cgroup layout                            %s\n", h->cgroup_layout);
	printf("  BPF type information (BTF)               %s\n", h->bpf_btf ? "yes" : "no");
	printf("  overlayfs                                %s\n", h->overlayfs ? "yes" : "not loaded");
}

/* --probe: host support, and what the configured policy requires. */
static int probe_host(const char *config_path)
{
	cx_host_support h;
	cx_config cfg = { 0 };
	cx_policy pol = { 0 };
	cx_error err = { 0 };
	bool missing = false;
	int r;

	cx_host_probe(&h);
	print_support(&h);
	r = cx_config_load(config_path, cx_trusted_owner(), &cfg, &err);
	if (r == 0)
		r = cx_policy_load(cfg.policy, cx_trusted_owner(), &pol, &err);
	if (r < 0) {
		printf("policy: not loaded (%s)\n", err.msg);
		printf("required by calyx itself:\n");
	} else {
		printf("policy %s (sha256:%.16s…) requires:\n", cfg.policy, pol.sha256_hex);
	}
	printf("  namespaces, new mount API, seccomp       %s\n",
	       h.ns_all && h.open_tree && h.seccomp_filter ? "present" : "MISSING");
	missing = !(h.ns_all && h.open_tree && h.seccomp_filter);
	if (r == 0 && pol.landlock_optional) {
		printf("  Landlock                                 optional (policy)\n");
	} else {
		printf("  Landlock                                 %s\n", h.landlock_abi ? "present" : "MISSING");
		missing |= h.landlock_abi == 0;
	}
	cx_policy_free(&pol);
	cx_config_free(&cfg);
	if (missing) {
		fprintf(stderr, "calyx-exec: error [E_LAYER]: this host lacks a layer the sandbox requires (see above)\n");
		return CX_EXIT_FAILURE;
	}
	return 0;
}

/* Prune ledger entries whose leases can no longer verify, at most hourly
 * (a stamp file's mtime), so the ledger does not grow without bound. */
static void maybe_prune(run_state *st, cx_ledger *ledger, const char *state_dir, int64_t now)
{
	char stamp[4096];
	struct stat s;
	cx_error err = { 0 };
	unsigned removed = 0, kept = 0;
	FILE *f;
	int r = 0;

	if (snprintf(stamp, sizeof(stamp), "%s/ledger.pruned", state_dir) >= (int)sizeof(stamp))
		return;
	if (lstat(stamp, &s) == 0 && now - s.st_mtime < 3600)
		return;
	if (ledger->ops->prune(ledger, now, &removed, &kept, &err) < 0)
		return;
	if ((f = fopen(stamp, "we")) != NULL)
		fclose(f);
	/* The ledger is the replay record: entries leaving it are audited
	 * (only leases that can no longer verify leave). */
	if (removed)
		audit_event(st, "ledger.pruned",
			    json_pack("{s:s, s:I, s:I}", "ledger", ledger->ops->name, "removed",
				      (json_int_t)removed, "kept", (json_int_t)kept),
			    &err, &r);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "lease", required_argument, 0, 'l' },
					      { "result", required_argument, 0, 'r' },
					      { "dry-run", no_argument, 0, 'n' },
					      { "timings", no_argument, 0, 't' },
					      { "probe", no_argument, 0, 'p' },
					      { "help", no_argument, 0, 'h' },
					      { "version", no_argument, 0, 'V' },
					      { 0, 0, 0, 0 } };
	const char *config_path = CX_CONFIG_DEFAULT, *lease_path = NULL;
	bool dry_run = false, config_given = false, probe = false, timings = false;
	int tree_locks[CX_WS_TREES_MAX + 1];
	size_t ntl = 0;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	cx_config cfg = { 0 };
	cx_keyring kr = { 0 };
	cx_policy pol = { 0 };
	cx_ledger *ledger = NULL;
	uint8_t seed[32];
	run_state st = { 0 };
	cx_error err = { 0 };
	int c, r, code;

	cx_prog = "calyx-exec";
	/* from the start: a stray signal must not end a run half-recorded
	 * (a consumed lease that never ran, a run without its events) */
	cx_supervise_ignore_stray_signals();
	cx_timings_start();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			config_given = true;
			break;
		case 'l':
			lease_path = optarg;
			break;
		case 'r':
			st.result_path = optarg;
			break;
		case 'n':
			dry_run = true;
			break;
		case 't':
			timings = true;
			break;
		case 'p':
			probe = true;
			break;
		case 'h':
			fputs(help_text, stdout);
			return 0;
		case 'V':
			cx_cli_version();
			return 0;
		default:
			cx_err(&err, CX_E_USAGE, EINVAL, "bad usage (see 'calyx-exec --help')");
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		}
	}
	cx_sanitize_stdio();
	if (probe && optind == argc)
		return probe_host(config_path);
	if (!lease_path || optind != argc) {
		cx_err(&err, CX_E_USAGE, EINVAL, "--lease LEASE is required (see 'calyx-exec --help')");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (config_given && getuid() != 0) {
		cx_err(&err, CX_E_USAGE, EPERM,
		       "--config is honoured only when the real uid is 0 (drop --config to use %s)",
		       CX_CONFIG_DEFAULT);
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "calyx-exec: error: libsodium failed to initialise\n");
		return CX_EXIT_FAILURE;
	}
	const int64_t now = (int64_t)time(NULL); /* the one clock reading */
	const uid_t owner = cx_trusted_owner();

	/* 1 configuration: every failure here is the host's, exit 125. */
	r = cx_config_load(config_path, owner, &cfg, &err);
	if (r == 0)
		r = cx_keyring_load(cfg.keyring, owner, &kr, &err);
	if (r == 0)
		r = cx_policy_load(cfg.policy, owner, &pol, &err);
	if (r == 0)
		r = cx_seed_load(cfg.host_key, "host key", true, owner, seed, &err);
	if (r == 0 && !dry_run) {
		cx_phase_enter(CX_PH_AUDIT);
		r = cx_audit_open(cfg.audit_log, seed, &st.audit, &err);
		/* a key of its own for the caches' MACs, not the signing seed */
		static const char ctx[] = "calyx-exec cache mac v1";
		crypto_generichash(st.cache_mac_key, sizeof(st.cache_mac_key), (const uint8_t *)ctx,
				   sizeof(ctx) - 1, seed, sizeof(seed));
		if (r == 0)
			cx_audit_defer_sync(st.audit, true); /* synced at audit_sync's points */
		cx_phase_enter(CX_PH_CONFIG);
	}
	cx_wipe(seed, sizeof(seed));
	if (r < 0) {
		code = finish_fail(&st, &err, CX_EXIT_FAILURE);
		goto out;
	}

	/* 2 verify. */
	cx_phase_enter(CX_PH_VERIFY);
	r = cx_lease_read(lease_path, &buf, &len, &err);
	if (r == 0) {
		cx_sha256_hex(buf, len, st.lease_sha256);
		cx_verify_input in = { .keyring = &kr, .policy = &pol, .host_id = cfg.host_id,
				       .now = now };
		r = cx_lease_verify(&in, buf, len, &st.lease, &err);
	}
	if (r < 0) {
		code = finish_fail(&st, &err, CX_EXIT_REFUSED);
		goto out;
	}
	st.have_lease = true;
	/* The view's own rules, before anything is consumed. */
	r = cx_sandbox_check_spec(&st.lease.spec, &err);
	if (r < 0) {
		code = finish_fail(&st, &err, CX_EXIT_REFUSED);
		goto out;
	}

	if (dry_run) {
		/* Read-only look at the ledger: a dry run must not claim, but
		 * should not call a used lease runnable either. */
		char ldir[4096];
		struct stat sb;
		snprintf(ldir, sizeof(ldir), "%s/ledger", cfg.state_dir);
		if (stat(ldir, &sb) == 0) {
			r = cx_ledger_open_dir(ldir, &ledger, &err);
			if (r == 0) {
				r = cx_ledger_is_claimed(ledger, st.lease.lease_id, &err);
				if (r == 1)
					r = cx_err(&err, CX_E_REPLAY, EEXIST,
						   "lease %s was already used on this host (leases run once; issue a new lease)",
						   st.lease.lease_id);
			}
			if (r < 0) {
				code = finish_fail(&st, &err, -1);
				goto out;
			}
		}
		printf("dry run: lease verified against policy sha256:%s; nothing consumed, logged or executed\n",
		       pol.sha256_hex);
		cx_cli_print_lease(stdout, &st.lease, true);
		printf("plan: namespaces user,pid,mount,net,ipc,uts,cgroup; view = tmpfs root + listed paths; "
		       "Landlock, no capabilities, no_new_privs, seccomp; cgroup quotas as above\n");
		write_result(&st, "verified", NULL, 0, NULL);
		code = 0;
		goto out;
	}
	{
		/* lease.verified: who signed, both hashes, the effective limits
		 * (policy defaults filled in) and the lease body itself, so
		 * `calyx-audit report` can say what was authorized from the log
		 * alone. The body is re-parsed strictly from the payload bytes
		 * cx_lease_verify has just verified (never from st.lease, which
		 * holds the spec resolved against the policy). Re-encoded as
		 * ASCII, a 48 KiB body grows at most 3x (a 2-byte UTF-8
		 * character becomes a 6-byte \u escape); should it still not
		 * fit an audit line, it is left out, saying so, rather than
		 * failing a valid run. */
		json_t *signers = json_array(), *limits = json_object(), *body = NULL, *vd;
		cx_envelope env = { 0 };
		for (size_t i = 0; i < st.lease.nsigner; i++)
			json_array_append_new(signers,
					      json_pack("{s:s, s:s, s:s}", "keyid", st.lease.signer[i].keyid,
							"role", cx_role_name(st.lease.signer[i].role),
							"principal", st.lease.signer[i].principal));
		for (int i = 0; i < CX_LIM__COUNT; i++)
			json_object_set_new(limits, cx_limit_name(i),
					    json_integer((json_int_t)st.lease.spec.limits.v[i]));
		vd = json_pack("{s:o, s:s, s:s, s:o}", "signers", signers, "policy_sha256",
			       pol.sha256_hex, "lease_sha256", st.lease_sha256, "limits", limits);
		CX_CHECK(vd);
		const char *why = "the verified body could not be parsed again";
		size_t bl = 0;
		if (cx_envelope_parse(buf, len, CX_LEASE_SIGS, CX_LEASE_SIGS, &env, NULL) == 0 &&
		    cx_json_parse_object(env.payload, env.payload_len, "lease body", &body, NULL) == 0) {
			char *bs = cx_json_dump(body);
			bl = strlen(bs);
			free(bs);
			why = bl + 4096 <= CX_AUDIT_LINE_MAX ? NULL : "too large for an audit line";
		}
		if (!why)
			json_object_set_new(vd, "lease", TAKE_PTR(body));
		else
			json_object_set_new(vd, "lease_omitted", json_pack("{s:s, s:I}", "why", why,
									   "json_bytes", (json_int_t)bl));
		json_decref(body);
		cx_envelope_free(&env);
		audit_event(&st, "lease.verified", vd, &err, &r);
		if (r < 0) {
			code = finish_fail(&st, &err, CX_EXIT_FAILURE);
			goto out;
		}
		CX_FAULT_POINT("after_verified");
	}

	/* The state dir and the audit log must not be reachable by a run: a
	 * run writes its trees (through the overlay, then the commit). */
	cx_phase_enter(CX_PH_RECOVER);
	for (size_t i = 0; i < pol.write.n; i++)
		if (cx_path_within(cfg.state_dir, pol.write.v[i]) ||
		    cx_path_within(cfg.audit_log, pol.write.v[i])) {
			cx_err(&err, CX_E_CONFIG, EPERM,
			       "state dir '%s' or audit log '%s' lies inside the policy's write tree '%s' (move it out)",
			       cfg.state_dir, cfg.audit_log, pol.write.v[i]);
			code = finish_fail(&st, &err, CX_EXIT_FAILURE);
			goto out;
		}

	/* Crashed runs' workspaces first: nothing runs on a half-committed tree. */
	r = cx_state_init(&st.state, cfg.state_dir, &err);
	if (r < 0) {
		code = finish_fail(&st, &err, CX_EXIT_FAILURE);
		goto out;
	}
	cx_recover_runs(&st.state, report_recovered, &st);
	cx_prune_packs(&st.state, now, cfg.pack_max_age_s, cfg.pack_max_bytes, report_pruned, &st);

	/* Layers this run needs, before the lease is burnt. */
	r = cx_sandbox_preflight(pol.landlock_optional, &err);
	if (r < 0) {
		code = finish_fail(&st, &err, CX_EXIT_FAILURE);
		goto out;
	}

	/* The lease's trees, locked before it is consumed. */
	r = lock_trees(&st, &pol, tree_locks, &ntl, &err);
	if (r < 0) {
		code = finish_fail(&st, &err, err.reason == CX_E_WORKSPACE ? CX_EXIT_FAILURE : -1);
		goto out;
	}

	/* 3 consume: durable before any side effect of the run. */
	cx_phase_enter(CX_PH_CONSUME);
	{
		char ldir[4096];
		if (mkdir(cfg.state_dir, 0700) < 0 && errno != EEXIST) {
			cx_err(&err, CX_E_LEDGER, errno, "cannot create state dir '%s': %s",
			       cfg.state_dir, strerror(errno));
			code = finish_fail(&st, &err, CX_EXIT_FAILURE);
			goto out;
		}
		snprintf(ldir, sizeof(ldir), "%s/ledger", cfg.state_dir);
		r = cx_ledger_open_dir(ldir, &ledger, &err);
		if (r == 0) {
			cx_claim cl = { .lease_id = st.lease.lease_id, .run_id = st.lease.run_id,
					.consumed_at = now, .not_after = st.lease.not_after,
					.prune_after = st.lease.not_after + pol.clock_skew_s };
			CX_FAULT_POINT("before_claim");
			r = cx_ledger_claim(ledger, &cl, &err);
		}
		if (r < 0) {
			code = finish_fail(&st, &err, -1);
			goto out;
		}
		CX_FAULT_POINT("after_claim");
		audit_event(&st, "lease.consumed", json_pack("{s:s}", "ledger", ledger->ops->name),
			    &err, &r);
		if (r < 0) {
			code = finish_fail(&st, &err, CX_EXIT_FAILURE);
			goto out;
		}
		CX_FAULT_POINT("after_consumed");
		maybe_prune(&st, ledger, cfg.state_dir, now);
	}

	/* 5-7 spawn, wait, report. */
	code = run_sandboxed(&st, &cfg, &pol, tree_locks, ntl, &err);
	ntl = 0; /* run_sandboxed released them */
out:
	cx_phase_enter(CX_PH_CLEANUP);
	for (size_t i = 0; i < ntl; i++)
		close(tree_locks[i]);
	cx_ledger_close(ledger);
	cx_audit_close(st.audit);
	if (st.have_lease)
		cx_lease_free(&st.lease);
	cx_policy_free(&pol);
	cx_keyring_free(&kr);
	cx_config_free(&cfg);
	cx_state_free(&st.state);
	cx_wipe(st.cache_mac_key, sizeof(st.cache_mac_key));
	if (timings)
		cx_timings_print(stderr);
	return code;
}
