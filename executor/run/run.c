/* The run pipeline's driver and its first phases (run.h lists the files):
 *
 *   1 load     config, keyring, policy, host key; the audit log (not in a
 *              dry run); every failure here is the host's: exit 125
 *   2 verify   the lease (two keys, window, audience, policy), then the
 *              view's own rules for its spec: a refusal, exit 77
 *   3 consume  lease.verified; a private mount namespace for calyx-exec;
 *              state dir and log out of the write trees;
 *              the state dir created if missing; what crashed runs left;
 *              preflight; tree locks; what the run executes checked on
 *              the host (missing 127, symlink or not executable 126:
 *              unconsumed); the ledger claim, durable before any side
 *              effect of the run
 *   4-7        finish.c (prepare, spawn + supervise, commit or roll back)
 *
 * Each phase returns 0 or -errno with err set and run->fail_as saying how
 * the failure exits (cx_run_fail); the driver reports it.
 * Trust: runs as root on a lease file anyone may have written. The
 * configuration is root-owned (StrictModes); the clock is read once (by
 * main_exec.c, into run->now). No side effect (ledger, audit, state)
 * happens before the lease verified; a dry run has none. */
#include "run.h"

#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "calyx/fault.h"
#include "calyx/fileio.h"
#include "calyx/path.h"
#include "calyx/sandbox.h"
#include "calyx/timings.h"
#include "housekeeping.h"

typedef int (*phase_fn)(cx_run *run, cx_error *err);

cx_run *cx_run_new(void)
{
	cx_run *run = cx_calloc(1, sizeof(*run));
	for (size_t i = 0; i < CX_ARRAY_SIZE(run->locks); i++)
		run->locks[i] = -1;
	run->uid_lock = -1;
	return run;
}

void cx_run_free(cx_run *run)
{
	cx_phase_enter(CX_PH_CLEANUP);
	while (run->nlocks > 0)
		close(run->locks[--run->nlocks]);
	/* last: every process of the run is gone by now (its cgroup removed) */
	if (run->uid_lock >= 0)
		close(run->uid_lock);
	cx_ledger_close(run->ledger);
	cx_audit_close(run->audit);
	cx_lease_free(&run->lease);
	free(run->lease_buf);
	cx_policy_free(&run->pol);
	cx_keyring_free(&run->kr);
	cx_state_free(&run->state);
	cx_config_free(&run->cfg);
	cx_strv_free(&run->learn_execs);
	cx_strv_free(&run->learn_loaders);
	cx_strv_free(&run->learn_opened);
	json_decref(run->learn_fin);
	cx_wipe(run->cache_mac_key, sizeof(run->cache_mac_key));
	free(run);
}

/* The phases in order; the first failure is reported and ends the run. */
static int drive(cx_run *run, const phase_fn *phases, size_t n)
{
	cx_error err = { 0 };
	for (size_t i = 0; i < n; i++) {
		run->fail_as = CX_EXIT_FAILURE;
		if (phases[i](run, &err) < 0)
			return cx_run_fail(run, &err, run->fail_as);
	}
	return CX_RUN_GO;
}

/* The audit log, signing with the host key, forwarding as the config
 * says (a sink that cannot be set up fails the run closed, before
 * anything is verified or consumed); a key of its own, derived from the
 * host key, for the caches' MACs. */
static int open_audit(cx_run *run, const uint8_t seed[32], cx_error *err)
{
	static const char ctx[] = "calyx-exec cache mac v1";
	const cx_audit_fwd fwd = { .journald = run->cfg.fwd_journald, .syslog = run->cfg.fwd_syslog,
				   .facility = run->cfg.fwd_facility, .host_id = run->cfg.host_id };
	cx_phase_enter(CX_PH_AUDIT);
	int r = cx_audit_open(run->cfg.audit_log, seed, &run->audit, err);
	crypto_generichash(run->cache_mac_key, sizeof(run->cache_mac_key), (const uint8_t *)ctx,
			   sizeof(ctx) - 1, seed, 32);
	if (r == 0)
		cx_audit_defer_sync(run->audit, true); /* synced at cx_run_sync's points */
	if (r == 0)
		r = cx_audit_forward(run->audit, &fwd, err);
	cx_phase_enter(CX_PH_CONFIG);
	return r;
}

static int phase_load(cx_run *run, cx_error *err)
{
	const uid_t owner = cx_trusted_owner();
	uint8_t seed[32];
	int r;

	r = cx_config_load(run->config_path, owner, &run->cfg, err);
	if (r == 0)
		r = cx_state_init(&run->state, run->cfg.state_dir, err);
	if (r == 0)
		r = cx_keyring_load(run->cfg.keyring, owner, &run->kr, err);
	if (r == 0)
		r = cx_policy_load(run->cfg.policy, owner, &run->pol, err);
	if (r == 0)
		r = cx_seed_load(run->cfg.host_key, "host key", true, owner, seed, err);
	if (r == 0) {
		/* The host key signs this host's audit log and reports; root on
		 * the host holds it. As a keyring signer it would let the host
		 * co-sign its own leases (one human key and the host would
		 * make two): refused, whatever its role. */
		uint8_t pk[32];
		char keyid[65];
		cx_seed_public(seed, pk);
		cx_keyid(pk, keyid);
		const cx_key *k = cx_keyring_find(&run->kr, keyid);
		if (k && !k->revoked)
			r = cx_err(err, CX_E_CONFIG, EPERM,
				   "the keyring '%s' holds this host's own key as a signer ('%s', %.16s…): the host key signs the audit log, never a lease (remove it from the keyring)",
				   run->cfg.keyring, k->principal, k->keyid);
	}
	if (r == 0 && !run->dry_run)
		r = open_audit(run, seed, err);
	cx_wipe(seed, sizeof(seed));
	return r;
}

static int phase_verify(cx_run *run, cx_error *err)
{
	int r;

	cx_phase_enter(CX_PH_VERIFY);
	run->fail_as = CX_EXIT_REFUSED;
	r = cx_lease_read(run->lease_path, &run->lease_buf, &run->lease_len, err);
	if (r < 0)
		return r;
	cx_sha256_hex(run->lease_buf, run->lease_len, run->lease_sha256);
	cx_verify_input in = { .keyring = &run->kr, .policy = &run->pol,
			       .host_id = run->cfg.host_id, .pools = run->cfg.pools,
			       .n_pools = run->cfg.n_pools, .now = run->now };
	if ((r = cx_lease_verify(&in, run->lease_buf, run->lease_len, &run->lease, err)) < 0)
		return r;
	run->have_lease = true;
	/* A pool lease needs the pool's ledger: with this host's alone it
	 * could run on every host of the pool. */
	if (cx_lease_pool(&run->lease) && !run->cfg.ledger_etcd) {
		run->fail_as = CX_EXIT_FAILURE;
		return cx_err(err, CX_E_LEDGER, ENOTSUP,
			      "lease %s is for pool '%s', and this host's ledger is its own (\"dir\"): it could run on every host of the pool (configure the pool's shared ledger, config.ledger.backend \"etcd\")",
			      run->lease.lease_id, cx_lease_pool(&run->lease));
	}
	/* The view's own rules, before anything is consumed. */
	return cx_sandbox_check_spec(&run->lease.spec, err);
}

/* What the run will execute is there, symlink-free and executable on this
 * host: found before the consume, the lease stays unburned (the run would
 * end 127 or 126 on it after the consume; it ends so now, unconsumed, and
 * runs once the host is fixed). */
static int phase_check_exec(cx_run *run, cx_error *err)
{
	int r = cx_sandbox_check_exec_host(&run->lease.spec, err);

	if (r < 0)
		run->fail_as = err->reason == CX_E_NOT_FOUND ? CX_EXIT_NOT_FOUND : CX_EXIT_CANNOT_EXEC;
	return r;
}

int cx_run_load_verify(cx_run *run)
{
	static const phase_fn phases[] = { phase_load, phase_verify };
	return drive(run, phases, CX_ARRAY_SIZE(phases));
}

/* A dry run must not claim, but should not call a used lease runnable
 * either: a read-only look at the ledger, if there is one. */
static int phase_dry_ledger(cx_run *run, cx_error *err)
{
	struct stat sb;
	int r;

	run->fail_as = -1;
	if (stat(run->state.ledger, &sb) < 0)
		return 0;
	if ((r = cx_ledger_open_dir(run->state.ledger, &run->ledger, err)) < 0)
		return r;
	r = cx_ledger_is_claimed(run->ledger, run->lease.lease_id, err);
	if (r == 1)
		return cx_err(err, CX_E_REPLAY, EEXIST,
			      "lease %s was already used on this host (leases run once; issue a new lease)",
			      run->lease.lease_id);
	return r < 0 ? r : 0;
}

/* A root-owned writable tree the policy does not allow (its owner is
 * what the run's writes become, sandbox/idmap.c): a refusal. */
static int check_owners(cx_run *run, cx_error *err)
{
	const cx_run_spec *s = &run->lease.spec;
	int r = 0;

	run->fail_as = -1;
	if (s->workspace)
		r = cx_sandbox_check_owner(s->workspace, run->pol.root_owned_trees, err);
	for (size_t i = 0; r == 0 && i < s->rw.n; i++)
		r = cx_sandbox_check_owner(s->rw.v[i], run->pol.root_owned_trees, err);
	return r;
}

int cx_run_dry_check(cx_run *run)
{
	static const phase_fn phases[] = { phase_dry_ledger, check_owners, phase_check_exec };
	return drive(run, phases, CX_ARRAY_SIZE(phases));
}

static int phase_record_verified(cx_run *run, cx_error *err)
{
	int r = cx_run_record_verified(run, err);
	if (r == 0)
		CX_FAULT_POINT("after_verified");
	return r;
}

static void report_recovered(const char *lease_id, const char *action, bool ok, const char *msg,
			     void *arg)
{
	cx_error e = { 0 };
	int r = 0;
	if (ok)
		cx_esc_line(stderr, "calyx-exec: note: workspace of interrupted lease %s: %s", lease_id, action);
	else
		cx_esc_line(stderr, "calyx-exec: note: workspace of interrupted lease %s: recovery failed: %s (fix it, then run 'calyx-ctl recover')",
			    lease_id, msg);
	json_t *d = json_pack("{s:o, s:s, s:b}", "lease_id", cx_audit_text(lease_id), "action", action,
			      "ok", ok);
	if (d && !ok)
		CX_CHECK(json_object_set_new(d, "error", cx_audit_text(msg)) == 0);
	cx_run_event(arg, "workspace.recovered", d, &e, &r);
}

static void report_pruned(const char *lease_id, const char *action, bool ok, const char *msg,
			  void *arg)
{
	cx_error e = { 0 };
	int r = 0;
	(void)ok;
	(void)msg;
	cx_run_event(arg, "workspace.pack_pruned",
		     json_pack("{s:o, s:s}", "lease_id", cx_audit_text(lease_id), "why", action), &e,
		     &r);
}

/* Every mount calyx-exec makes (a run's scratch tmpfs: the workspace
 * quota) is in a mount namespace of its own, so none outlives it, even
 * if it is killed; before anything is consumed, so a host that cannot do
 * it refuses the run with the lease intact. */
static int phase_private_mounts(cx_run *run, cx_error *err)
{
	(void)run;
	return cx_run_private_mounts(err);
}

/* The state dir and the audit log must not be reachable by a run (a run
 * writes its trees: through the overlay, then the commit); crashed runs'
 * workspaces are finished first (nothing runs on a half-committed tree);
 * the layers this run needs are there before the lease is burnt. */
static int phase_recover(cx_run *run, cx_error *err)
{
	const cx_config *cfg = &run->cfg;

	cx_phase_enter(CX_PH_RECOVER);
	for (size_t i = 0; i < run->pol.write.n; i++)
		if (cx_path_within(cfg->state_dir, run->pol.write.v[i]) ||
		    cx_path_within(cfg->audit_log, run->pol.write.v[i]))
			return cx_err(err, CX_E_CONFIG, EPERM,
				      "state dir '%s' or audit log '%s' lies inside the policy's write tree '%s' (move it out)",
				      cfg->state_dir, cfg->audit_log, run->pol.write.v[i]);
	/* Created here, before the tree locks (STATE/locks) need it: a
	 * fresh host's first run must not fail on a missing state dir. */
	if (mkdir(run->state.dir, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_CONFIG, errno,
			      "cannot create state dir '%s': %s (create its parent, or fix state_dir in %s)",
			      run->state.dir, strerror(errno), run->cfg.path);
	cx_recover_runs(&run->state, report_recovered, run);
	cx_sweep_stale(&run->state, run->now);
	cx_prune_packs(&run->state, run->now, cfg->pack_max_age_s, cfg->pack_max_bytes,
		       report_pruned, run);
	int r = cx_sandbox_preflight(run->pol.landlock_optional, err);
	/* The loader guard, before the lease is consumed: a kernel without
	 * BPF or without the BTF it needs refuses here; a failure at load
	 * (rarer) still refuses, after (once.c, arm_monitor). */
	if (r == 0 && !run->pol.exec_guard_optional)
		r = cx_bpfmon_preflight(run->state.offsets, run->state.bpf_probe, &run->kernoff, err);
	run->have_kernoff = r == 0 && !run->pol.exec_guard_optional;
	return r;
}

/* The lease's trees, locked before it is consumed. */
static int phase_lock(cx_run *run, cx_error *err)
{
	int r = cx_run_lock_trees(run, err);
	if (r < 0)
		run->fail_as = err->reason == CX_E_WORKSPACE ? CX_EXIT_FAILURE : -1;
	return r;
}

/* Identities, before the lease is consumed: the trees' owners, and the
 * run's own uid (an exhausted range keeps the lease). The view checks
 * the owners again as it mounts. */
static int phase_ids(cx_run *run, cx_error *err)
{
	int r = check_owners(run, err);

	if (r < 0)
		return r;
	run->fail_as = CX_EXIT_FAILURE;
	return cx_run_alloc_uid(run, err);
}

/* Prune ledger entries whose leases can no longer verify, at most hourly
 * (a stamp file's mtime), so the ledger does not grow without bound. */
static void maybe_prune(cx_run *run)
{
	struct stat s;
	cx_error err = { 0 };
	unsigned removed = 0, kept = 0;
	FILE *f;
	int r = 0;

	if (lstat(run->state.pruned, &s) == 0 && run->now - s.st_mtime < 3600)
		return;
	if (run->ledger->ops->prune(run->ledger, run->now, &removed, &kept, &err) < 0)
		return;
	if ((f = fopen(run->state.pruned, "we")) != NULL)
		fclose(f);
	/* The ledger is the replay record: entries leaving it are audited
	 * (only leases that can no longer verify leave). */
	if (removed)
		cx_run_event(run, "ledger.pruned",
			     json_pack("{s:s, s:I, s:I}", "ledger", run->ledger->ops->name, "removed",
				       (json_int_t)removed, "kept", (json_int_t)kept),
			     &err, &r);
}

/* 3 consume: durable before any side effect of the run. */
static int phase_consume(cx_run *run, cx_error *err)
{
	int r;

	const char *pool = cx_lease_pool(&run->lease);
	cx_claim_out po = { 0 };

	cx_phase_enter(CX_PH_CONSUME);
	run->fail_as = -1;
	/* a pool lease: the pool's ledger decides first (etcd), then this
	 * host's; a host's own lease: this host's ledger alone */
	r = pool ? cx_ledger_open_etcd(&run->cfg.etcd, run->state.ledger, &run->ledger, err)
		 : cx_ledger_open_dir(run->state.ledger, &run->ledger, err);
	if (r == 0) {
		/* Synced at the exec gate (once.c), while the sandbox builds
		 * itself: nothing the run does can happen before that. */
		cx_claim cl = { .lease_id = run->lease.lease_id, .run_id = run->lease.run_id,
				.consumed_at = run->now, .not_after = run->lease.not_after,
				.prune_after = run->lease.not_after + run->pol.clock_skew_s,
				.defer_sync = true, .pool = pool, .host_id = run->cfg.host_id,
				.lease_sha256 = run->lease_sha256, .count = run->lease.count, .out = &po };
		CX_FAULT_POINT("before_claim");
		r = cx_ledger_claim(run->ledger, &cl, err);
	}
	if (r < 0) {
		/* at most once, but the record cannot say whether it was
		 * claimed: the pool's ledger may hold it, this host will not
		 * run it */
		if (pool && po.ambiguous) {
			cx_error ae = { 0 };
			int ar = 0;
			cx_run_event(run, "ledger.ambiguous",
				     json_pack("{s:s, s:s, s:I, s:o}", "pool", pool, "ledger", "etcd",
					       "attempts", (json_int_t)po.attempts, "error",
					       cx_audit_text(err->msg)),
				     &ae, &ar);
		}
		return r;
	}
	CX_FAULT_POINT("after_claim");
	run->fail_as = CX_EXIT_FAILURE;
	json_t *cd = json_pack("{s:s}", "ledger", run->ledger->ops->name);
	if (cd && pool)
		CX_CHECK(json_object_set_new(cd, "pool", json_string(pool)) == 0 &&
			 json_object_set_new(cd, "count", json_integer(run->lease.count)) == 0 &&
			 json_object_set_new(cd, "etcd_cluster_id", json_string(po.cluster_id)) == 0 &&
			 json_object_set_new(cd, "etcd_revision", json_integer(po.revision)) == 0 &&
			 json_object_set_new(cd, "attempts", json_integer(po.attempts)) == 0 &&
			 json_object_set_new(cd, "claim_us", json_integer(po.claim_us)) == 0);
	cx_run_event(run, "lease.consumed", cd, err, &r);
	if (r < 0)
		return r;
	CX_FAULT_POINT("after_consumed");
	maybe_prune(run);
	return 0;
}

static int phase_learn_spec(cx_run *run, cx_error *err)
{
	return cx_run_learn_spec(run, err);
}

int cx_run_learn_prepare(cx_run *run)
{
	static const phase_fn phases[] = { phase_load, phase_learn_spec, phase_private_mounts,
					   phase_recover, phase_lock };
	return drive(run, phases, CX_ARRAY_SIZE(phases));
}

int cx_run_execute(cx_run *run)
{
	static const phase_fn phases[] = { phase_record_verified, phase_private_mounts,
					   phase_recover, phase_lock, phase_check_exec, phase_ids, phase_consume };
	int code = drive(run, phases, CX_ARRAY_SIZE(phases));
	if (code != CX_RUN_GO)
		return code;
	cx_error err = { 0 };
	return cx_run_sandboxed(run, &err); /* 4-7 */
}
