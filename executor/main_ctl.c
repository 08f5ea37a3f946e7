/* calyx-ctl: operator control of running leases.
 *
 *   calyx-ctl [--config FILE] list [--json]
 *   calyx-ctl [--config FILE] status|pause|resume|halt RUN
 *   calyx-ctl init [--host-id ID] [--prefix DIR] [--state DIR] [--log DIR] ... (ctl_init.c)
 *   calyx-ctl selftest [--config FILE] [--format text|junit|tap] [--only CASE,...] [-o FILE]
 *                      (ctl_selftest.c)
 *
 * RUN is a lease id (or a unique prefix of one) or a run id. Each running
 * calyx-exec listens on STATE_DIR/run/<lease_id>.sock; only root may talk
 * to it (the supervisor checks SO_PEERCRED). Every pause, resume and halt
 * is an audit event naming the operator's uid. What a supervisor or a
 * pack says is shown through calyx/esc.h's rule (list, messages) or as
 * JSON with \u escapes (status, list --json).
 * Trust: runs as root; the config is root-owned (StrictModes). */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/codec.h"
#include <time.h>

#include "calyx/config.h"
#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/monitor.h"
#include "calyx/audit.h"
#include "calyx/keyring.h"
#include "calyx/ledger.h"
#include "calyx/codec.h"
#include "calyx/workspace.h"
#include "cli.h"
#include "ctl_init.h"
#include "ctl_selftest.h"
#include "run/housekeeping.h"
#include "run/state.h"

static const char help_text[] =
	"usage: calyx-ctl [--config FILE] COMMAND ...\n"
	"  list [--json]        runs in progress: lease, run id, command, elapsed, usage\n"
	"  status RUN           one run, as JSON\n"
	"  pause RUN            freeze the whole process tree (the wall clock keeps counting)\n"
	"  resume RUN           thaw it\n"
	"  halt RUN             stop it now, like a quota breach (reason: operator)\n"
	"  diff RUN             what a committed run changed, like git diff --stat\n"
	"  recover              finish or undo what crashed runs left (calyx-exec also does\n"
	"                       this at every start)\n"
	"  rollback RUN [--force]  undo a committed run from its rollback pack; refused,\n"
	"                       naming the files, if any changed since, unless --force\n"
	"  ledger LEASE_ID [--json]  who holds a pool lease in the pool's ledger (etcd):\n"
	"                       hosts, claim times, etcd revision (a linearizable read)\n"
	"  init [--host-id ID] [--prefix DIR] [--state DIR] [--log DIR] [--run-uids FIRST-LAST]\n"
	"       [--dry-run]      make this host ready (root): DIR/calyx.conf, an empty\n"
	"                       keyring, the host key (0600) and host.pub.json, a starter\n"
	"                       policy that runs nothing until edited, examples/, the state\n"
	"                       (0700) and log (0755) dirs, a free run uid range; never\n"
	"                       replaces what exists (\"exists, kept\"); then the host check.\n"
	"                       Defaults: --prefix /etc/calyx --state /var/lib/calyx\n"
	"                       --log /var/log/calyx, --host-id the hostname if it is an id,\n"
	"                       --run-uids the first free 65536 ids from 1879048192.\n"
	"                       --dry-run prints the plan and changes nothing.\n"
	"  selftest [--config FILE] [--format text|junit|tap] [--only CASE,...] [-o FILE]\n"
	"                       prove this host runs leases safely (root): the installed\n"
	"                       adversarial corpus against the binaries beside calyx-ctl,\n"
	"                       fixture hosts with this config's bpf_pin_dir and run uid\n"
	"                       range (their own keys, policy, state and audit log: this\n"
	"                       host's are never written), and the host's audit chain;\n"
	"                       report as text, JUnit XML or TAP (-o FILE: there).\n"
	"RUN: a lease id, a unique prefix of one, or a run id.\n"
	"exit: 0 ok, 1 no such run or the supervisor did not answer, 2 usage, 125 error\n"
	"init exit: 0 host ready (or --dry-run planned), 1 created but not ready (the\n"
	"      MISSING rows say what to do), 2 usage, 125 error (nothing more created)\n"
	"selftest exit: 0 every case had the secure outcome (skipped ones counted, not\n"
	"      failed), 1 a case failed or escaped, 2 usage, 125 error (no report)\n";

static const char *config_path = CX_CONFIG_DEFAULT;

/* The config and, from its state_dir, the state dir's paths (state.h);
 * on failure neither is held. */
static int load(cx_config *cfg, cx_state *s, cx_error *err)
{
	int r = cx_config_load(config_path, cx_trusted_owner(), cfg, err);
	if (r == 0 && (r = cx_state_init(s, cfg->state_dir, err)) < 0)
		cx_config_free(cfg);
	return r;
}

/* The state dir's paths alone (list, status, pause, resume, halt). */
static int load_state(cx_state *s, cx_error *err)
{
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	return load(&cfg, s, err);
}

typedef struct found {
	char path[4096];
	json_t *status;
} found;

/* Status of every live run; stale sockets (their calyx-exec is gone) are
 * removed. Calls fn for each; fn returns true to stop. */
static int each_run(const cx_state *s, bool (*fn)(const char *path, json_t *st, void *arg),
		    void *arg)
{
	DIR *d = opendir(s->ctl);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[CX_STATE_PATH_MAX], lid[33];
		void *reply = NULL;
		cx_error err = { 0 };

		if (!cx_state_lease_entry(de->d_name, ".sock", lid))
			continue;
		cx_state_ctl_socket(s, lid, path);
		if (cx_ctl_request(path, CX_CTL_STATUS, &reply, &err) < 0) {
			if (err.errnum == ECONNREFUSED)
				unlink(path); /* its supervisor died */
			continue;
		}
		n++;
		bool stop = fn(path, reply, arg);
		json_decref(reply);
		if (stop)
			break;
	}
	closedir(d);
	return n;
}

/* A string member of a supervisor's reply, "?" if it is not one. */
static const char *str_or(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "?";
}

/* JSON for people: hidden characters as \u escapes (calyx/esc.h). */
static void put_json(const json_t *j)
{
	_cleanup_free_ char *s = cx_json_dump_pretty(j);
	_cleanup_free_ char *e = cx_esc_json(s);
	fputs(e, stdout);
}

static bool print_row(const char *path, json_t *st, void *arg)
{
	json_t *u = json_object_get(st, "usage"), *all = arg;
	(void)path;
	if (all) {
		json_array_append(all, st);
		return false;
	}
	cx_esc_line(stdout, "%-14.14s %-20.20s %-8s %8.1fs %7lldms %8.1fMiB %5lld  %s",
		    str_or(st, "lease_id"), str_or(st, "run_id"), str_or(st, "state"),
		    (double)json_integer_value(json_object_get(st, "elapsed_ms")) / 1000.0,
		    (long long)json_integer_value(json_object_get(u, "cpu_ms")),
		    (double)json_integer_value(json_object_get(u, "memory_bytes")) / 1048576.0,
		    (long long)json_integer_value(json_object_get(u, "pids")), str_or(st, "argv0"));
	return false;
}

static int cmd_list(int argc, char **argv)
{
	_cleanup_(cx_state_free) cx_state state = { 0 };
	cx_error err = { 0 };
	bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
	json_t *all = as_json ? json_array() : NULL;

	if (argc > 2 || (argc == 2 && !as_json))
		return cx_cli_usage("usage: list [--json]");
	if (load_state(&state, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (!as_json)
		printf("%-14s %-20s %-8s %9s %9s %11s %5s  %s\n", "LEASE", "RUN", "STATE", "ELAPSED",
		       "CPU", "MEMORY", "PIDS", "COMMAND");
	each_run(&state, print_row, all);
	if (as_json) {
		put_json(all);
		json_decref(all);
	}
	return 0;
}

typedef struct match {
	const char *want;
	int count;
	char path[4096];
} match;

static bool match_run(const char *path, json_t *st, void *arg)
{
	match *m = arg;
	const char *lid = json_string_value(json_object_get(st, "lease_id"));
	const char *rid = json_string_value(json_object_get(st, "run_id"));
	if ((lid && strncmp(lid, m->want, strlen(m->want)) == 0) || (rid && strcmp(rid, m->want) == 0)) {
		m->count++;
		snprintf(m->path, sizeof(m->path), "%s", path);
	}
	return false;
}

static int cmd_one(int argc, char **argv)
{
	static const struct { const char *name; cx_ctl_cmd cmd; } cmds[] = {
		{ "status", CX_CTL_STATUS }, { "pause", CX_CTL_PAUSE },
		{ "resume", CX_CTL_RESUME }, { "halt", CX_CTL_HALT },
	};
	_cleanup_(cx_state_free) cx_state state = { 0 };
	cx_ctl_cmd cmd = 0;
	match m = { 0 };
	void *reply = NULL;
	cx_error err = { 0 };

	for (size_t i = 0; i < CX_ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			cmd = cmds[i].cmd;
	if (argc != 2 || !argv[1][0])
		return cx_cli_usage("usage: %s RUN", argv[0]);
	if (load_state(&state, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	m.want = argv[1];
	each_run(&state, match_run, &m);
	if (m.count != 1) {
		cx_esc_line(stderr, "calyx-ctl: %s '%s' (see 'calyx-ctl list')",
			    m.count ? "more than one run matches" : "no running lease matches", argv[1]);
		return 1;
	}
	if (cx_ctl_request(m.path, cmd, &reply, &err) < 0)
		return cx_cli_fail(&err, 1);
	json_t *j = reply;
	if (!json_is_true(json_object_get(j, "ok"))) {
		cx_esc_line(stderr, "calyx-ctl: %s refused: %s", argv[0], str_or(j, "error"));
		json_decref(j);
		return 1;
	}
	if (cmd == CX_CTL_STATUS)
		put_json(j);
	else
		cx_esc_line(stdout, "%s: run '%s' (lease %s) is now %s", argv[0], str_or(j, "run_id"),
			    str_or(j, "lease_id"), str_or(j, "state"));
	json_decref(j);
	return 0;
}

/* The pack of a committed run: STATE/packs/<lease_id>, found by lease id
 * (or unique prefix) or by the run id its manifest names. */
static int find_pack(const cx_state *s, const char *want, char out[CX_STATE_PATH_MAX])
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (!(d = opendir(s->packs)))
		return 0;
	while ((de = readdir(d))) {
		char pd[CX_STATE_PATH_MAX];
		bool hit = false;
		if (!cx_is_lower_hex(de->d_name, 32)) /* a lease id: names the event */
			continue;
		cx_state_pack_dir(s, de->d_name, pd);
		if (strncmp(de->d_name, want, strlen(want)) == 0) {
			hit = true;
		} else {
			/* the manifest's header only, whatever its size */
			char rid[CX_WS_RUN_ID_MAX];
			int64_t at;
			cx_error e2 = { 0 };
			hit = cx_ws_pack_info(pd, rid, &at, &e2) == 0 && strcmp(rid, want) == 0;
		}
		if (hit) {
			memcpy(out, pd, sizeof(pd));
			n++;
		}
	}
	closedir(d);
	return n;
}

/* The audit log, opened before any state change, forwarding as the
 * config says: rollback and recover are refused when their events could
 * not be written or forwarding cannot be set up (fail closed, as
 * calyx-exec refuses a run). */
static int open_audit(const cx_config *cfg, cx_audit **ret, cx_error *err)
{
	const cx_audit_fwd fwd = { .journald = cfg->fwd_journald, .syslog = cfg->fwd_syslog,
				   .facility = cfg->fwd_facility, .host_id = cfg->host_id };
	uint8_t seed[32];
	int r = cx_seed_load(cfg->host_key, "host key", true, cx_trusted_owner(), seed, err);
	if (r == 0)
		r = cx_audit_open(cfg->audit_log, seed, ret, err);
	cx_wipe(seed, sizeof(seed));
	if (r == 0 && (r = cx_audit_forward(*ret, &fwd, err)) < 0) {
		cx_audit_close(*ret);
		*ret = NULL;
	}
	if (r < 0)
		cx_err_prefix(err, "nothing done, the audit log cannot be written");
	return r;
}

static int cmd_pack(int argc, char **argv)
{
	bool rollback = strcmp(argv[0], "rollback") == 0, force = false;
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	_cleanup_(cx_state_free) cx_state state = { 0 };
	cx_error err = { 0 };
	char pack[CX_STATE_PATH_MAX];
	int n, r;

	if (rollback && argc == 3 && strcmp(argv[2], "--force") == 0)
		force = true, argc--;
	if (argc != 2 || !argv[1][0])
		return cx_cli_usage("usage: %s RUN%s", argv[0], rollback ? " [--force]" : "");
	r = load(&cfg, &state, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	n = find_pack(&state, argv[1], pack);
	if (n > 1) {
		cx_esc_line(stderr, "calyx-ctl: more than one committed run matches '%s' (give more of the lease id; see 'ls %s')",
			    argv[1], state.packs);
		return 1;
	}
	if (n == 0) {
		/* a run that wrote nothing is committed without a pack: say so,
		 * its result said "committed" */
		cx_esc_line(stderr, "calyx-ctl: no committed run matches '%s': no rollback pack has that lease or run id "
			    "(a run that changed nothing, or was rolled back, leaves none; old packs are pruned; see 'ls %s')",
			    argv[1], state.packs);
		return 1;
	}
	if (!rollback) {
		r = cx_ws_diff(pack, stdout, &err);
	} else {
		_cleanup_(cx_audit_closep) cx_audit *a = NULL;
		cx_error ae = { 0 };
		const char *lid = strrchr(pack, '/') + 1;
		if (open_audit(&cfg, &a, &err) < 0)
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		r = cx_ws_undo(&state.ws, pack, force, &err);
		/* Record the undo (or its refusal) in the audit log, naming the
		 * operator. */
		int ar = cx_audit_append(a, r == 0 ? "workspace.undone" : "workspace.undo_refused", lid,
					 NULL,
					 json_pack("{s:i, s:b, s:o}", "operator_uid", (int)getuid(), "force",
						   force, "result", cx_audit_text(r == 0 ? "ok" : err.msg)),
					 NULL, &ae);
		cx_audit_close(TAKE_PTR(a));
		if (r == 0)
			printf("rollback: the run's changes were undone (lease %s)\n", lid);
		if (ar < 0) {
			cx_err_prefix(&ae, "%s (lease %s) not audited", r == 0 ? "rollback" : "refused rollback",
				      lid);
			return cx_cli_fail(&ae, CX_EXIT_FAILURE);
		}
	}
	return r < 0 ? cx_cli_fail(&err, 1) : 0;
}

typedef struct rec_ctx {
	cx_audit *audit;
	int n;
	int audit_r; /* first append failure */
	cx_error audit_err;
} rec_ctx;

static void ctl_recovered(const char *lease_id, const char *action, bool ok, const char *msg,
			  void *arg)
{
	rec_ctx *rc = arg;
	cx_esc_line(stdout, "lease %s: %s%s", lease_id, ok ? action : "recovery failed: ", ok ? "" : msg);
	/* details as calyx-exec's recovery writes them, plus the operator */
	json_t *d = json_pack("{s:o, s:s, s:b, s:i}", "lease_id", cx_audit_text(lease_id), "action",
			      action, "ok", ok, "operator_uid", (int)getuid());
	if (d && !ok)
		CX_CHECK(json_object_set_new(d, "error", cx_audit_text(msg)) == 0);
	int r = cx_audit_append(rc->audit, "workspace.recovered", lease_id, NULL, d, NULL,
				rc->audit_r ? NULL : &rc->audit_err);
	if (r < 0 && !rc->audit_r)
		rc->audit_r = r;
	rc->n++;
}

static int cmd_recover(int argc, char **argv)
{
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	_cleanup_(cx_state_free) cx_state state = { 0 };
	cx_error err = { 0 };
	rec_ctx rc = { 0 };

	(void)argv;
	if (argc != 1)
		return cx_cli_usage("usage: recover");
	if (load(&cfg, &state, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (open_audit(&cfg, &rc.audit, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_recover_runs(&state, ctl_recovered, &rc);
	if (!rc.n)
		printf("nothing to recover\n");
	cx_audit_close(rc.audit);
	if (rc.audit_r < 0) {
		cx_err_prefix(&rc.audit_err, "recovery done but not all of it audited");
		return cx_cli_fail(&rc.audit_err, CX_EXIT_FAILURE);
	}
	return 0;
}

/* calyx-ctl ledger LEASE_ID [--json]: the pool ledger's entry. */
static int cmd_ledger(int argc, char **argv)
{
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	cx_error err = { 0 };
	void *v = NULL;
	int64_t rev = 0;
	char cluster[24];
	bool json = argc == 3 && strcmp(argv[2], "--json") == 0;

	if (argc != 2 && !json)
		return cx_cli_usage("usage: ledger LEASE_ID [--json]");
	if (!cx_is_lower_hex(argv[1], 32))
		return cx_cli_usage("'%s' is not a lease id (32 lowercase hex)", argv[1]);
	if (cx_config_load(config_path, cx_trusted_owner(), &cfg, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (!cfg.ledger_etcd) {
		cx_err(&err, CX_E_CONFIG, ENOTSUP,
		       "this host's ledger is its own (\"dir\"): there is no pool ledger to show (config.ledger.backend \"etcd\")");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (cx_ledger_etcd_show(&cfg.etcd, argv[1], &v, &rev, cluster, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	json_t *j = v;
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:O?}", "lease_id", argv[1], "etcd_cluster_id",
				      cluster, "etcd_revision", (json_int_t)rev, "entry", j);
		put_json(o);
		json_decref(o);
	} else if (!j) {
		cx_esc_line(stdout, "no host holds lease %s in the pool's ledger (etcd cluster %s)", argv[1],
			    cluster);
	} else {
		const json_t *hs = json_object_get(j, "holders"), *h;
		size_t i;
		cx_esc_line(stdout, "lease %s, pool '%s': %zu of %lld host(s), etcd cluster %s, revision %lld",
			    argv[1], json_string_value(json_object_get(j, "pool")) ?: "?", json_array_size(hs),
			    (long long)json_integer_value(json_object_get(j, "count")), cluster, (long long)rev);
		json_array_foreach(hs, i, h) {
			char when[32] = "?";
			time_t t = (time_t)json_integer_value(json_object_get(h, "claimed_at"));
			struct tm tm;
			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cx_esc_line(stdout, "  %s  claimed %s  nonce %s",
				    json_string_value(json_object_get(h, "host_id")), when,
				    json_string_value(json_object_get(h, "nonce")));
		}
		cx_esc_line(stdout, "  lease file sha256 %s",
			    json_string_value(json_object_get(j, "lease_sha256")) ?: "?");
	}
	json_decref(j);
	return 0;
}

static bool config_given;

static int cmd_selftest(int argc, char **argv)
{
	return cx_ctl_selftest(argc, argv, config_given ? config_path : NULL);
}

int main(int argc, char **argv)
{
	static const cx_cli_cmd cmds[] = { { "list", cmd_list },     { "status", cmd_one },
					   { "pause", cmd_one },     { "resume", cmd_one },
					   { "halt", cmd_one },      { "diff", cmd_pack },
					   { "rollback", cmd_pack }, { "recover", cmd_recover },
					   { "ledger", cmd_ledger }, { "init", cx_ctl_init },
					   { "selftest", cmd_selftest }, { NULL, NULL } };
	cx_prog = "calyx-ctl";
	if (argc >= 3 && strcmp(argv[1], "--config") == 0) {
		if (getuid() != 0) {
			fprintf(stderr, "calyx-ctl: --config is honoured only when the real uid is 0\n");
			return CX_EXIT_FAILURE;
		}
		config_path = argv[2];
		config_given = true;
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	return cx_cli_dispatch(argc, argv, help_text, cmds);
}
