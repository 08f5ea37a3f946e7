/* calyx-agent: one per host, long-running (the calyx-agent systemd unit).
 *
 *   calyx-agent [--config FILE] [--poll-ms N] [--ttl S]
 *
 * It registers the host's public key in the pool's etcd, keeps a liveness
 * key alive (an etcd lease of --ttl seconds), and every --poll-ms reads
 * each rollout that lists this host (cx_fleet_load: everything verified).
 * When the host's tier is open and the rollout is running, it claims a
 * slot in one transaction that compares the control documents and the
 * approval it verified, its own report key, a free slot and the pool
 * ledger (calyx/rollout_fleet.h), then runs the lease through the normal
 * pipeline: calyx-exec from the agent's own directory, no shell, with the
 * lease bytes the signed rollout names. It reports each step (claimed,
 * running, then committed, failed or halted, with calyx-exec's result,
 * validate outcome and the audit chain head), signed by the host key.
 *
 * On a halt: SIGTERM to calyx-exec (its operator halt: the tree stopped,
 * the workspace rolled back). On a rollback: `calyx-ctl rollback` of its
 * committed run, whenever it sees it (also after reconnecting days later).
 * Paused: no new claims; a run in flight finishes.
 * etcd unreachable: no new claims (fail closed); a run in flight finishes
 * and its report is published when etcd answers again; meanwhile its
 * liveness key expires and the host shows as lost.
 * Restart: its state per rollout is in STATE/agent/<rollout_id>.json
 * (written atomically before each step), so it picks up where it was: a
 * run still going is waited for, a finished one reported, a claim whose
 * run never started is started (calyx-exec's ledger keeps it single-use).
 *
 * Exit: runs until SIGTERM/SIGINT (0); 125 when it cannot start (config,
 * host key, etcd refuses the registration); 2 usage.
 * Trust: root. Everything read from etcd is verified before it is acted
 * on; what it runs is calyx-exec on a lease file whose SHA-256 the
 * two-key-signed rollout names, and calyx-exec verifies the lease again. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calyx/audit.h"
#include "calyx/codec.h"
#include "calyx/config.h"
#include "calyx/esc.h"
#include "calyx/etcd.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/rollout_fleet.h"
#include "calyx/timings.h"
#include "cli.h"

#define HELP                                                                                \
	"usage: calyx-agent [--config FILE] [--poll-ms N] [--ttl S]\n"                       \
	"  --config FILE   configuration (default /etc/calyx/calyx.conf): needs host_id and\n" \
	"                  an etcd ledger\n"                                                  \
	"  --poll-ms N     how often rollouts are read (default 500, 50..60000)\n"             \
	"  --ttl S         liveness: the host is lost S seconds after its agent stops\n"      \
	"                  (default 10, 2..3600)\n"                                          \
	"exit: 0 stopped by SIGTERM/SIGINT, 2 usage, 125 cannot start\n"

/* What the agent keeps of each rollout in etcd between polls.
 *
 * The index (rev, count, rollout_mod), kept by one listing per poll
 * (list_rollouts): the newest mod_revision of the keys under the
 * rollout's prefix and how many keys there are. While those are what
 * they were at the last read (read_rev, read_count), the read is
 * re-evaluated at the new time instead of read and verified again (soak
 * and deadlines move with the clock alone); a quiet rollout is not even
 * that: one not listing this host, or settled with nothing left to do
 * here, is skipped until its keys change (and its read is let go). */
typedef struct seen {
	char id[33];
	int64_t rev, count;         /* the index */
	int64_t rollout_mod;        /* the rollout key's mod_revision (0: none yet) */
	bool listed;                /* in this poll's full listing */
	int64_t read_rev, read_count; /* the index when last read */
	bool have;                  /* f: the verified read at read_rev/read_count */
	bool mine;                  /* the rollout lists this host (known once read) */
	bool quiet;                 /* skipped while the index is as read */
	int64_t quiet_rollout_mod;  /* not this host's: skipped while its rollout key is this */
	cx_fleet f;
	char said[256];             /* the last refusal said for it (said once) */
} seen;

typedef struct agent {
	cx_config cfg;
	cx_keyring kr;
	cx_etcd *etcd;
	uint8_t seed[32], pk[32];
	char dir[4096];     /* STATE/agent */
	char bindir[4096];  /* where calyx-exec and calyx-ctl are */
	char live[24];      /* the liveness etcd lease ("" none) */
	int64_t live_at;    /* last keepalive (monotonic s) */
	int ttl, poll_ms;
	char last_err[1024];
	seen *seen;         /* every rollout in etcd, in key order of the listing */
	size_t nseen, seen_cap;
	int64_t list_rev;   /* the revision of the last listing (0: none yet) */
	int64_t list_total; /* how many keys P rollouts/ held then */
	int64_t list_other; /* how many of them are no rollout's */
	bool etcd_down;     /* this poll's listing got no answer */
} agent;

/* One rollout's local state, STATE/agent/<id>.json. */
typedef struct local {
	char phase[16];     /* "", claimed, running, done, undone */
	char slot[32];
	int64_t seq, pid, claimed_at, started_at, halt_sent;
	json_t *last;       /* the last report body */
	bool pending;       /* last not yet published */
} local;

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void say(agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(agent *a, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strcmp(line, a->last_err) == 0)
		return; /* the same trouble every poll: said once */
	snprintf(a->last_err, sizeof(a->last_err), "%s", line);
	cx_esc_line(stderr, "calyx-agent: %s", line);
}

static void path_of(const agent *a, const char *id, const char *ext, char *out, size_t n)
{
	snprintf(out, n, "%s/%s.%s", a->dir, id, ext);
}

static void local_free(local *l)
{
	json_decref(l->last);
	memset(l, 0, sizeof(*l));
}

static void local_load(const agent *a, const char *id, local *l)
{
	char p[4200];
	uint8_t *buf = NULL;
	size_t len = 0;

	memset(l, 0, sizeof(*l));
	path_of(a, id, "json", p, sizeof(p));
	if (cx_read_file(p, "agent state", 64 * 1024, 0, 0, &buf, &len, NULL) < 0)
		return;
	json_t *j = cx_json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	const char *ph = json_string_value(json_object_get(j, "phase"));
	const char *sl = json_string_value(json_object_get(j, "slot"));
	snprintf(l->phase, sizeof(l->phase), "%s", ph ? ph : "");
	snprintf(l->slot, sizeof(l->slot), "%s", sl ? sl : "");
	l->seq = json_integer_value(json_object_get(j, "seq"));
	l->pid = json_integer_value(json_object_get(j, "pid"));
	l->claimed_at = json_integer_value(json_object_get(j, "claimed_at"));
	l->started_at = json_integer_value(json_object_get(j, "started_at"));
	l->halt_sent = json_integer_value(json_object_get(j, "halt_sent"));
	l->pending = json_is_true(json_object_get(j, "pending"));
	l->last = json_incref(json_object_get(j, "last"));
	json_decref(j);
}

static void local_save(const agent *a, const char *id, const local *l)
{
	char p[4200];
	cx_error err = { 0 };
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:O?}", "phase", l->phase,
			      "slot", l->slot, "seq", (json_int_t)l->seq, "pid", (json_int_t)l->pid,
			      "claimed_at", (json_int_t)l->claimed_at, "started_at",
			      (json_int_t)l->started_at, "halt_sent", (json_int_t)l->halt_sent,
			      "pending", l->pending, "last", l->last);
	_cleanup_free_ char *s = cx_json_dump_pretty(j);
	json_decref(j);
	path_of(a, id, "json", p, sizeof(p));
	if (cx_write_file_atomic(p, s, strlen(s), 0600, &err) < 0)
		cx_esc_line(stderr, "calyx-agent: error [%s]: %s", cx_reason_name(err.reason), err.msg);
}

/* A new report body for this host: state and the members given. */
static json_t *report_body(agent *a, const cx_fleet *f, const cx_fleet_host *h, local *l,
			   cx_host_state st)
{
	json_t *b = json_pack("{s:i, s:s, s:s, s:I, s:I, s:s, s:I}", "v", 1, "rollout_id",
			      f->s.ro.rollout_id, "host", a->cfg.host_id, "tier",
			      (json_int_t)h->tier + 1, "seq", (json_int_t)++l->seq, "state",
			      cx_host_state_name(st), "at", (json_int_t)time(NULL));
	CX_CHECK(b);
	if (l->claimed_at)
		json_object_set_new(b, "claimed_at", json_integer(l->claimed_at));
	if (l->started_at)
		json_object_set_new(b, "started_at", json_integer(l->started_at));
	if (l->slot[0])
		json_object_set_new(b, "slot", json_string(l->slot));
	return b;
}

/* Sign and publish body as the host's report (freeing the slot when
 * free_slot); kept in l->last, pending until etcd took it. */
static void publish(agent *a, const char *id, local *l, json_t *body, bool free_slot)
{
	cx_error err = { 0 };
	_cleanup_free_ char *doc = cx_host_report_sign(body, a->seed, &err);

	json_decref(l->last);
	l->last = body;
	l->pending = true;
	local_save(a, id, l);
	if (!doc || cx_fleet_report(a->etcd, a->cfg.etcd.timeout_ms, id, a->cfg.host_id, doc,
				    free_slot && l->slot[0] ? l->slot : NULL, &err) < 0) {
		say(a, "rollout %s: report not published yet (%s); retried at the next poll", id, err.msg);
		return;
	}
	l->pending = false;
	local_save(a, id, l);
}

/* ---- the run ------------------------------------------------------------ */

static pid_t spawn(agent *a, const char *tool, char *const argv[], const char *log)
{
	char path[4200];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", a->bindir, tool);
	pid = fork();
	if (pid != 0)
		return pid;
	/* the child: output to the run's log, no shell, the agent's own env */
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	execv(path, argv);
	_exit(127);
}

static void start_run(agent *a, const cx_fleet *f, const cx_fleet_host *h, local *l)
{
	const char *id = f->s.ro.rollout_id;
	char lease[4200], result[4200], log[4200];
	cx_error err = { 0 };

	path_of(a, id, "lease", lease, sizeof(lease));
	path_of(a, id, "result.json", result, sizeof(result));
	path_of(a, id, "log", log, sizeof(log));
	unlink(result);
	if (cx_write_file_atomic(lease, f->s.lease_buf, f->s.lease_len, 0600, &err) < 0) {
		say(a, "rollout %s: cannot write the lease file: %s", id, err.msg);
		return;
	}
	char *argv[] = { "calyx-exec", "--config", a->cfg.path, "--lease", lease, "--result", result, NULL };
	pid_t pid = spawn(a, "calyx-exec", argv, log);
	if (pid < 0) {
		say(a, "rollout %s: cannot start calyx-exec: %s", id, strerror(errno));
		return;
	}
	l->pid = pid;
	l->started_at = time(NULL);
	snprintf(l->phase, sizeof(l->phase), "running");
	publish(a, id, l, report_body(a, f, h, l, CX_HOST_RUNNING), false);
}

/* The run ended: its result into the final report. */
static void finish_run(agent *a, const cx_fleet *f, const cx_fleet_host *h, local *l)
{
	const char *id = f->s.ro.rollout_id;
	char result[4200];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *r = NULL;
	cx_host_state st = CX_HOST_FAILED;

	path_of(a, id, "result.json", result, sizeof(result));
	if (cx_read_file(result, "result", 1 << 20, 0, 0, &buf, &len, NULL) == 0)
		r = cx_json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	json_t *b = report_body(a, f, h, l, CX_HOST_FAILED);
	const char *status = json_string_value(json_object_get(r, "status"));
	const char *reason = json_string_value(json_object_get(r, "reason"));
	const json_t *ws = json_object_get(r, "workspace"), *val = json_object_get(r, "validate");
	const char *wsa = json_string_value(json_object_get(ws, "action"));
	bool ok_exit = json_integer_value(json_object_get(r, "exit_code")) == 0;

	if (!r) {
		json_object_set_new(b, "message", json_string("calyx-exec ended without a result (killed?); its own recovery undid any half-done work"));
	} else {
		if (status && strcmp(status, "halted") == 0)
			st = CX_HOST_HALTED;
		else if (status && strcmp(status, "completed") == 0 && ok_exit &&
			 (!wsa || strcmp(wsa, "committed") == 0))
			st = CX_HOST_COMMITTED;
		json_object_set(b, "exit_code", json_object_get(r, "exit_code"));
		if (status)
			json_object_set_new(b, "status", json_string(status));
		if (reason)
			json_object_set_new(b, "reason", json_string(reason));
		if (json_is_string(json_object_get(r, "message")))
			json_object_set_new(b, "message", cx_audit_text(json_string_value(json_object_get(r, "message"))));
		else if (st == CX_HOST_FAILED && !ok_exit)
			json_object_set_new(b, "message", json_sprintf("the command exited with %lld",
						   (long long)json_integer_value(json_object_get(r, "exit_code"))));
		if (json_is_string(json_object_get(r, "run_id")))
			json_object_set(b, "run_id", json_object_get(r, "run_id"));
		if (wsa)
			json_object_set_new(b, "workspace", json_string(wsa));
		if (val)
			json_object_set_new(b, "validate",
					    json_string(json_integer_value(json_object_get(val, "exit_code")) == 0 &&
								!json_object_get(val, "halt") ? "passed" : "failed"));
		else
			json_object_set_new(b, "validate", json_string(status && strcmp(status, "completed") == 0 ? "none" : "not_run"));
		/* what calyx-exec checked before it ran anything */
		bool ran = status && (strcmp(status, "completed") == 0 || strcmp(status, "halted") == 0);
		json_object_set_new(b, "checks",
				    json_pack("{s:b, s:b, s:b, s:b, s:b, s:o}", "signatures", ran,
					      "policy_hash", ran, "audience", ran, "single_use", ran,
					      "within_policy", ran, "validate",
					      val ? json_boolean(json_integer_value(json_object_get(val, "exit_code")) == 0)
						  : json_null()));
	}
	{
		/* the audit chain head after the run: the security team can
		 * check the host's log still holds it (calyx-audit verify
		 * --expect-head) */
		uint8_t *lb = NULL;
		size_t ll = 0;
		cx_audit_report ar = { 0 };
		if (cx_read_file(a->cfg.audit_log, "audit log", 1u << 30, 0, 0, &lb, &ll, NULL) == 0 &&
		    cx_audit_verify(lb, ll, a->pk, &ar, NULL) == 0)
			json_object_set_new(b, "audit", json_pack("{s:I, s:s}", "last_seq",
								  (json_int_t)ar.last_seq, "head", ar.head));
		free(lb);
	}
	json_object_set_new(b, "state", json_string(cx_host_state_name(st)));
	json_object_set_new(b, "finished_at", json_integer(time(NULL)));
	json_decref(r);
	snprintf(l->phase, sizeof(l->phase), "done");
	l->pid = 0;
	publish(a, id, l, b, true);
	say(a, "rollout %s: tier %zu run %s", id, h->tier + 1, cx_host_state_name(st));
}

/* Is the run's calyx-exec still going? Our child (reaped here), or after
 * a restart a process we no longer parent. */
static bool run_alive(const local *l)
{
	int st;
	if (l->pid <= 0)
		return false;
	pid_t w = waitpid((pid_t)l->pid, &st, WNOHANG);
	if (w == (pid_t)l->pid)
		return false;
	if (w == 0)
		return true;
	/* not our child (the agent restarted): the pid in the state file may
	 * since belong to another process, which must neither be waited for
	 * nor sent the halt; only a live calyx-exec counts */
	char p[64], comm[32] = "";
	snprintf(p, sizeof(p), "/proc/%lld/comm", (long long)l->pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	return strcmp(comm, "calyx-exec\n") == 0;
}

static void undo_run(agent *a, const cx_fleet *f, const cx_fleet_host *h, local *l)
{
	const char *id = f->s.ro.rollout_id;
	char log[4200];
	char *argv[] = { "calyx-ctl", "--config", a->cfg.path, "rollback", (char *)f->s.ro.lease_id, NULL };
	int st = 0;

	path_of(a, id, "log", log, sizeof(log));
	pid_t pid = spawn(a, "calyx-ctl", argv, log);
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		say(a, "rollout %s: cannot run calyx-ctl rollback", id);
		return;
	}
	json_t *b = report_body(a, f, h, l, CX_HOST_ROLLED_BACK);
	json_object_update_missing(b, l->last);
	json_object_set_new(b, "seq", json_integer(l->seq));
	json_object_set_new(b, "at", json_integer(time(NULL)));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		json_object_set_new(b, "undo", json_string("undone: the files are as before the run"));
	} else {
		json_object_set_new(b, "state", json_string("committed"));
		json_object_set_new(b, "undo", json_sprintf("refused: calyx-ctl rollback exited %d (files changed since? see %s on the host)",
							   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), log));
	}
	snprintf(l->phase, sizeof(l->phase), "undone");
	publish(a, id, l, b, false);
	say(a, "rollout %s: rolled back: %s", id, json_string_value(json_object_get(b, "undo")));
}

/* ---- one rollout, one poll ---------------------------------------------- */

static bool claimable(const agent *a, const cx_fleet *f, const cx_fleet_host *h, int64_t now)
{
	const cx_rollout_tier *rt = &f->s.ro.tiers[h->tier];
	return f->s.prog.state == CX_ROLLOUT_RUNNING && !f->failed && !f->completed &&
	       f->open_tier == (int)h->tier + 1 && !f->tiers[h->tier].deadline_passed &&
	       h->state == CX_HOST_WAITING && !h->report_error[0] &&
	       f->tiers[h->tier].slots_used < (size_t)rt->max_parallel && now >= f->s.ro.not_before &&
	       now <= f->s.ro.not_after && cx_config_in_pool(&a->cfg, f->s.ro.pool);
}

static void try_claim(agent *a, const cx_fleet *f, const cx_fleet_host *h, local *l)
{
	const char *id = f->s.ro.rollout_id;
	cx_error err = { 0 };
	int64_t ledger_rev = 0;
	bool holds = false;
	char slot[32] = "";

	if (!a->live[0])
		return; /* no liveness lease: a slot must die with this host */
	if (cx_fleet_ledger_rev(a->etcd, a->cfg.etcd.timeout_ms, f->s.ro.lease_id, a->cfg.host_id,
				&ledger_rev, &holds, &err) < 0) {
		say(a, "rollout %s: no claim: %s", id, err.msg);
		return;
	}
	if (holds) {
		say(a, "rollout %s: this host already holds lease %s in the pool ledger (run outside the rollout?): no claim",
		    id, f->s.ro.lease_id);
		return;
	}
	local nl = { 0 };
	nl.seq = l->seq;
	nl.claimed_at = time(NULL);
	json_t *b = report_body(a, f, h, &nl, CX_HOST_CLAIMED);
	_cleanup_free_ char *doc = cx_host_report_sign(b, a->seed, &err);
	int r = doc ? cx_fleet_claim(a->etcd, a->cfg.etcd.timeout_ms, f, h, a->live, ledger_rev, doc,
				     slot, sizeof(slot), &err)
		    : -EINVAL;
	if (r <= 0) {
		json_decref(b);
		if (r < 0)
			say(a, "rollout %s: no claim: %s", id, err.msg);
		return; /* lost the race: read again at the next poll */
	}
	/* claimed: remember before anything else happens */
	local_free(l);
	*l = nl;
	l->last = b;
	snprintf(l->phase, sizeof(l->phase), "claimed");
	snprintf(l->slot, sizeof(l->slot), "%s", slot);
	local_save(a, id, l);
	say(a, "rollout %s: claimed slot %s of tier %zu", id, slot, h->tier + 1);
	start_run(a, f, h, l);
}

/* This rollout's read at now: from the cache when its keys did not
 * change since it was read, else read and verified anew. NULL: not this
 * host's, or not readable (said why). When etcd does not answer, the
 * last read if any, *ret_stale set: good for finishing a run locally,
 * never for a claim. */
static cx_fleet *fleet_of(agent *a, seen *sn, bool force, int64_t now, bool *ret_stale)
{
	cx_error err = { 0 };

	*ret_stale = false;
	if (a->etcd_down) {
		*ret_stale = true;
		return sn->have && sn->mine ? &sn->f : NULL;
	}
	if (sn->have && !force && sn->rev == sn->read_rev && sn->count == sn->read_count) {
		if (!sn->mine)
			return NULL;
		cx_fleet_eval(&sn->f, now);
		return &sn->f;
	}
	cx_fleet_free(&sn->f);
	sn->have = false;
	if (cx_fleet_load(a->etcd, a->cfg.etcd.timeout_ms, &a->kr, sn->id, now, &sn->f, &err) < 0) {
		char key[256];
		snprintf(key, sizeof(key), "%s %.200s", cx_reason_name(err.reason), err.msg);
		if (strcmp(key, sn->said) != 0)
			say(a, "rollout %s: not acted on: [%s] %s", sn->id, cx_reason_name(err.reason), err.msg);
		snprintf(sn->said, sizeof(sn->said), "%s", key);
		return NULL;
	}
	sn->said[0] = '\0';
	sn->have = true;
	sn->read_rev = sn->rev;
	sn->read_count = sn->count;
	sn->mine = cx_fleet_find(&sn->f, a->cfg.host_id) != NULL;
	return sn->mine ? &sn->f : NULL;
}

/* Nothing left for this host in a rollout read at fp with local state l:
 * settled (completed, halted, rolled back), nothing pending, and no run
 * of it here to follow or undo. */
static bool settled_here(const cx_fleet *fp, const local *l)
{
	cx_rollout_state st = fp->s.prog.state;
	const char *last = json_string_value(json_object_get(l->last, "state"));

	if (!fp->completed && st != CX_ROLLOUT_HALTED && st != CX_ROLLOUT_ROLLED_BACK)
		return false;
	if (l->pending)
		return false;
	if (!l->phase[0] || strcmp(l->phase, "undone") == 0)
		return true;
	return strcmp(l->phase, "done") == 0 &&
	       !(st == CX_ROLLOUT_ROLLED_BACK && last && strcmp(last, "committed") == 0);
}

static void step(agent *a, seen *sn)
{
	const char *id = sn->id;
	int64_t now = time(NULL);
	cx_fleet_host *h;
	cx_fleet *fp;
	bool stale = false;
	local l;

	local_load(a, id, &l);
	/* a run in flight: read anew every poll (a halt must reach it) */
	fp = fleet_of(a, sn, strcmp(l.phase, "running") == 0, now, &stale);
	if (!fp || !(h = cx_fleet_find(fp, a->cfg.host_id))) {
		if (sn->have && !sn->mine) { /* not this host's: let go until its rollout key changes */
			sn->quiet_rollout_mod = sn->rollout_mod;
			cx_fleet_free(&sn->f);
			sn->have = false;
		}
		local_free(&l);
		return;
	}
	bool stopped = fp->s.prog.state == CX_ROLLOUT_HALTED || fp->s.prog.state == CX_ROLLOUT_ROLLED_BACK;

	if (l.pending && l.last && !stale) {
		json_t *b = json_incref(l.last);
		publish(a, id, &l, b, strcmp(l.phase, "done") == 0 || strcmp(l.phase, "undone") == 0);
	}
	if (stale && strcmp(l.phase, "running") != 0) {
		/* etcd silent: only a run in flight is followed (to its end) */
	} else if (strcmp(l.phase, "claimed") == 0 && !stopped) {
		start_run(a, fp, h, &l); /* a restart between claim and start */
	} else if (strcmp(l.phase, "claimed") == 0) {
		json_t *b = report_body(a, fp, h, &l, CX_HOST_HALTED);
		json_object_set_new(b, "message", json_string("claimed, then the rollout stopped before the run started"));
		json_object_set_new(b, "finished_at", json_integer(now));
		snprintf(l.phase, sizeof(l.phase), "done");
		publish(a, id, &l, b, true);
	} else if (strcmp(l.phase, "running") == 0) {
		if (run_alive(&l)) {
			if (stopped && !l.halt_sent) {
				kill((pid_t)l.pid, SIGTERM); /* calyx-exec's operator halt */
				l.halt_sent = now;
				local_save(a, id, &l);
				say(a, "rollout %s: %s: halting the run (pid %lld)", id,
				    cx_rollout_state_name(fp->s.prog.state), (long long)l.pid);
			}
		} else {
			finish_run(a, fp, h, &l);
		}
	} else if (strcmp(l.phase, "done") == 0 && fp->s.prog.state == CX_ROLLOUT_ROLLED_BACK) {
		const char *st = json_string_value(json_object_get(l.last, "state"));
		if (st && strcmp(st, "committed") == 0)
			undo_run(a, fp, h, &l);
	} else if (!l.phase[0] && !stale && claimable(a, fp, h, now)) {
		try_claim(a, fp, h, &l);
	}
	/* settled with nothing left here: skipped, and its read let go,
	 * until its keys change (a rollback published later, say) */
	if (!stale && settled_here(fp, &l)) {
		sn->quiet = true;
		cx_fleet_free(&sn->f);
		sn->have = false;
	}
	local_free(&l);
}

/* ---- liveness, the list of rollouts, the loop --------------------------- */

static void keep_alive(agent *a)
{
	cx_error err = { 0 };
	int64_t now = cx_mono_ns() / 1000000000LL, ttl = 0;

	if (a->live[0] && now - a->live_at < a->ttl / 3 + (a->ttl < 6 ? 0 : 1))
		return;
	if (a->live[0]) {
		cx_etcd_outcome o = cx_etcd_keepalive(a->etcd, a->live,
						      cx_etcd_deadline(a->cfg.etcd.timeout_ms), &ttl, &err);
		if (o == CX_ETCD_ANSWERED && ttl > 0) {
			a->live_at = now;
			return;
		}
		if (o != CX_ETCD_ANSWERED) { /* etcd silent: no grant either, this poll */
			say(a, "etcd: liveness not renewed (%s): no new claims until it answers", err.msg);
			return;
		}
	}
	/* none yet, or etcd forgot it (expired while unreachable) */
	a->live[0] = '\0';
	if (cx_etcd_grant(a->etcd, a->ttl, cx_etcd_deadline(a->cfg.etcd.timeout_ms), a->live, &err) != CX_ETCD_ANSWERED ||
	    cx_fleet_live(a->etcd, a->cfg.etcd.timeout_ms, a->cfg.host_id, a->live, time(NULL), &err) < 0) {
		a->live[0] = '\0';
		say(a, "etcd: no liveness (%s): no new claims until it answers", err.msg);
		return;
	}
	a->live_at = now;
}

/* The entry of rollout id in the index (added when new). */
static seen *seen_get(agent *a, const char *id)
{
	for (size_t i = a->nseen; i > 0; i--) /* the newest first: listings come in key order */
		if (strcmp(a->seen[i - 1].id, id) == 0)
			return &a->seen[i - 1];
	if (a->nseen == a->seen_cap) {
		a->seen_cap = a->seen_cap ? 2 * a->seen_cap : 16;
		a->seen = realloc(a->seen, a->seen_cap * sizeof(*a->seen));
		CX_CHECK(a->seen);
	}
	seen *sn = &a->seen[a->nseen++];
	memset(sn, 0, sizeof(*sn));
	snprintf(sn->id, sizeof(sn->id), "%s", id);
	return sn;
}

/* The rollout id of a key under pfx ("<32 hex>/..."), and its leaf after
 * the id; false when the key is not a rollout's. */
static bool key_rollout(const json_t *kv, const char *pfx, char id[33], char *leaf, size_t leafn)
{
	size_t kl = 0, pl = strlen(pfx);
	_cleanup_free_ char *k = cx_etcd_unb64(json_string_value(json_object_get(kv, "key")), 1024, &kl);

	if (!k || kl != strlen(k) || kl < pl + 33 || memcmp(k, pfx, pl) != 0 || k[pl + 32] != '/')
		return false;
	memcpy(id, k + pl, 32);
	id[32] = '\0';
	snprintf(leaf, leafn, "%s", k + pl + 33);
	return cx_is_lower_hex(id, 32);
}

/* One listed key into the index: its rollout's newest mod_revision, its
 * count (when counted: a key new since the last listing, or any key of a
 * full one) and its rollout key's mod_revision. sn: the entry of the key
 * before (keys come sorted: one rollout's are contiguous), or NULL.
 * Returns the key's entry, NULL when the key is not a rollout's. */
static seen *index_key(agent *a, seen *sn, const json_t *kv, const char *pfx, bool counted)
{
	char id[33], leaf[256];
	int64_t mod = 0;

	if (!key_rollout(kv, pfx, id, leaf, sizeof(leaf)))
		return NULL;
	if (!sn || strcmp(sn->id, id) != 0)
		sn = seen_get(a, id);
	sn->listed = true;
	cx_etcd_i64(json_object_get(kv, "mod_revision"), &mod);
	if (mod > sn->rev)
		sn->rev = mod;
	sn->count += counted;
	if (strcmp(leaf, "rollout") == 0)
		sn->rollout_mod = mod;
	return sn;
}

/* How many keys one rollout's prefix holds at revision rev; -1 when etcd
 * did not say. */
static int64_t count_at(agent *a, const char *pfx, const char *id, int64_t rev)
{
	_cleanup_free_ char *p = NULL, *end = NULL;
	_cleanup_json_ json_t *req = NULL, *rep = NULL;
	cx_error err = { 0 };
	int64_t n = -1;

	CX_CHECK(asprintf(&p, "%s%s/", pfx, id) > 0);
	end = cx_etcd_prefix_end(p);
	req = json_pack("{s:o, s:o, s:b, s:I}", "key", cx_etcd_key(p), "range_end", cx_etcd_key(end),
			"count_only", 1, "revision", (json_int_t)rev);
	CX_CHECK(req);
	if (cx_etcd_call(a->etcd, "/v3/kv/range", req, cx_etcd_deadline(a->cfg.etcd.timeout_ms), &rep,
			 &err) != CX_ETCD_ANSWERED ||
	    cx_etcd_i64(json_object_get(rep, "count"), &n) < 0) {
		if (json_object_get(rep, "header") && !json_object_get(rep, "count"))
			n = 0; /* the gateway leaves a zero count out */
		else
			n = -1;
	}
	return n;
}

/* The index of the rollouts in etcd, kept by one keys-only listing of P
 * rollouts/ per poll that returns only the keys changed since the last
 * listing (min_mod_revision), with the count of every key under the
 * prefix: fewer keys than the last count plus the new ones means some
 * were deleted (a slot freed, a lock released), and the rollouts this
 * host is busy with are counted again at the same revision; only when
 * that does not account for the total (or on the first poll) is every
 * key listed, in pages. So an idle agent reads what changed, however
 * many finished rollouts etcd keeps. Returns false (a->etcd_down) when
 * etcd did not answer. */
static bool list_rollouts(agent *a)
{
	_cleanup_free_ char *pfx = NULL;
	_cleanup_json_ json_t *kvs = NULL;
	cx_error err = { 0 };
	int64_t rev = 0, total = 0, deadline = cx_etcd_deadline(a->cfg.etcd.timeout_ms);
	bool full = a->list_rev <= 0;
	cx_etcd_outcome o = CX_ETCD_ANSWERED;
	const json_t *kv;
	size_t i;

	CX_CHECK(asprintf(&pfx, "%srollouts/", cx_etcd_prefix(a->etcd)) > 0);
	if (!full) {
		o = cx_etcd_range_all(a->etcd, pfx, true, a->list_rev + 1, CX_FLEET_KEYS_PAGE,
				      CX_FLEET_LISTING_KEYS_MAX, deadline, &rev, &kvs, &total, NULL, &err);
		if (o == CX_ETCD_ANSWERED) {
			int64_t created = 0, sum = 0;
			seen *sn = NULL;
			json_array_foreach(kvs, i, kv) {
				int64_t cr = 0;
				cx_etcd_i64(json_object_get(kv, "create_revision"), &cr);
				created += cr > a->list_rev;
				sn = index_key(a, sn, kv, pfx, cr > a->list_rev);
				if (!sn) /* not a rollout's key: only counted */
					a->list_other += cr > a->list_rev;
			}
			if (a->list_total + created != total) {
				/* deletions: the rollouts this host is busy with, counted anew */
				for (size_t k = 0; k < a->nseen; k++) {
					seen *e = &a->seen[k];
					if (!e->quiet && e->quiet_rollout_mod == 0) {
						int64_t n = count_at(a, pfx, e->id, rev);
						if (n < 0) {
							full = true;
							break;
						}
						e->count = n;
					}
				}
				sum = a->list_other;
				for (size_t k = 0; k < a->nseen; k++)
					sum += a->seen[k].count;
				/* deleted elsewhere (a settled rollout's lock, a stray
				 * key): every key listed */
				if (sum != total)
					full = true;
			}
			a->list_rev = rev;
			a->list_total = total;
		}
	}
	if (full && o == CX_ETCD_ANSWERED) {
		json_decref(kvs);
		kvs = NULL;
		rev = 0;
		o = cx_etcd_range_all(a->etcd, pfx, true, 0, CX_FLEET_KEYS_PAGE, CX_FLEET_LISTING_KEYS_MAX,
				      deadline, &rev, &kvs, &total, NULL, &err);
		if (o == CX_ETCD_ANSWERED) {
			seen *sn = NULL;
			for (size_t k = 0; k < a->nseen; k++) {
				a->seen[k].listed = false;
				a->seen[k].count = 0;
				a->seen[k].rev = 0;
				a->seen[k].rollout_mod = 0;
			}
			json_array_foreach(kvs, i, kv) {
				seen *k_sn = index_key(a, sn, kv, pfx, true);
				sn = k_sn ? k_sn : sn;
			}
			/* the rollouts no longer in etcd: forgotten (their local
			 * state stays, for a run in flight) */
			size_t w = 0;
			for (size_t k = 0; k < a->nseen; k++) {
				if (a->seen[k].listed) {
					a->seen[w++] = a->seen[k];
				} else {
					cx_fleet_free(&a->seen[k].f);
				}
			}
			a->nseen = w;
			a->list_rev = rev;
			a->list_total = total;
			a->list_other = total;
			for (size_t k = 0; k < a->nseen; k++)
				a->list_other -= a->seen[k].count;
		}
	}
	a->etcd_down = o != CX_ETCD_ANSWERED;
	if (a->etcd_down) {
		a->list_rev = 0; /* listed anew once it answers */
		say(a, "etcd: cannot list rollouts (%s): no new claims until it answers", err.msg);
	}
	return !a->etcd_down;
}

static int agent_open(agent *a, const char *cpath, cx_error *err)
{
	char self[4096];
	ssize_t n;
	int r = cx_config_load(cpath, 0, &a->cfg, err);

	if (r < 0)
		return r;
	if (!a->cfg.host_id || !a->cfg.ledger_etcd)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config '%s' needs host_id and an etcd ledger (ledger.backend \"etcd\") for calyx-agent",
			      cpath);
	r = cx_keyring_load(a->cfg.keyring, cx_trusted_owner(), &a->kr, err);
	if (r == 0)
		r = cx_seed_load(a->cfg.host_key, "host key", true, cx_trusted_owner(), a->seed, err);
	if (r == 0)
		r = cx_etcd_open(&a->cfg.etcd, &a->etcd, err);
	if (r < 0)
		return r;
	cx_seed_public(a->seed, a->pk);
	snprintf(a->dir, sizeof(a->dir), "%s/agent", a->cfg.state_dir);
	if (mkdir(a->dir, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_IO, errno, "cannot create '%s'", a->dir);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return cx_err(err, CX_E_IO, errno, "cannot find the agent's own directory");
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(a->bindir, sizeof(a->bindir), "%s", self);
	return cx_fleet_register(a->etcd, a->cfg.etcd.timeout_ms, a->cfg.host_id, a->pk, time(NULL), err);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "poll-ms", required_argument, 0, 'p' },
					      { "ttl", required_argument, 0, 't' },
					      { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	const char *cpath = CX_CONFIG_DEFAULT;
	static agent a = { .ttl = 10, .poll_ms = 500 };
	cx_error err = { 0 };
	uint64_t v;
	int o;

	cx_prog = "calyx-agent";
	while ((o = getopt_long(argc, argv, "c:p:t:h", opts, NULL)) != -1) {
		if (o == 'c')
			cpath = optarg;
		else if (o == 'p' && cx_parse_u64(optarg, 60000, &v) == 0 && v >= 50)
			a.poll_ms = (int)v;
		else if (o == 't' && cx_parse_u64(optarg, 3600, &v) == 0 && v >= 2)
			a.ttl = (int)v;
		else if (o == 'h') {
			fputs(HELP, stdout);
			return 0;
		} else {
			fputs(HELP, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(HELP, stderr);
		return 2;
	}
	if (getuid() != 0)
		return cx_cli_fail(&(cx_error){ .reason = CX_E_USAGE, .msg = "calyx-agent runs as root (it runs calyx-exec)" }, CX_EXIT_FAILURE);
	if (agent_open(&a, cpath, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGPIPE, SIG_IGN);
	cx_esc_line(stderr, "calyx-agent: host '%s' registered in etcd (%s), polling every %d ms, liveness ttl %d s",
		    a.cfg.host_id, cx_etcd_endpoint(a.etcd), a.poll_ms, a.ttl);
	while (!stop) {
		keep_alive(&a);
		list_rollouts(&a);
		for (size_t i = 0; i < a.nseen && !stop; i++) {
			seen *sn = &a.seen[i];
			if (a.etcd_down) {
				/* the ones known to list this host: their runs in
				 * flight are still followed to their end */
				if (sn->have && sn->mine && !sn->quiet)
					step(&a, sn);
				continue;
			}
			if (!sn->rollout_mod)
				continue; /* its keys, but no rollout (yet) */
			if (sn->quiet_rollout_mod && sn->quiet_rollout_mod == sn->rollout_mod)
				continue; /* not this host's */
			if (sn->quiet && sn->rev == sn->read_rev && sn->count == sn->read_count)
				continue; /* settled here, unchanged */
			sn->quiet = false;
			sn->quiet_rollout_mod = 0;
			step(&a, sn);
		}
		struct timespec ts = { .tv_sec = a.poll_ms / 1000, .tv_nsec = (a.poll_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	cx_esc_line(stderr, "calyx-agent: stopped; runs in flight go on and are reported at the next start");
	return 0;
}
