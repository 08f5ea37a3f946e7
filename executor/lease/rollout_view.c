/* The rollout view (docs/formats.md "Rollout view"): what `calyx-rollout
 * status --json` prints and `report` renders, built from one verified read
 * (cx_fleet). Every string in it comes from verified documents; renderers
 * still escape all of it.
 * Trust: pure. */
#include "calyx/rollout_fleet.h"

#include <string.h>

#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"

static json_t *time_or_null(int64_t t)
{
	return t > 0 ? json_integer(t) : json_null();
}

static json_t *member_or_null(const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);
	return v ? json_deep_copy(v) : json_null();
}

/* Why a host did not ship, and what to do; NULL when it did or may still. */
static const char *why_not(const cx_fleet *f, const cx_fleet_host *h, char *buf, size_t n)
{
	const json_t *b = h->have_report ? h->rep.body : NULL;
	const char *reason = json_string_value(json_object_get(b, "reason"));
	const char *msg = json_string_value(json_object_get(b, "message"));
	const char *val = json_string_value(json_object_get(b, "validate"));
	const cx_fleet_tier *ft = &f->tiers[h->tier];

	switch (h->state) {
	case CX_HOST_COMMITTED:
		return NULL;
	case CX_HOST_ROLLED_BACK:
		snprintf(buf, n, "committed, then undone by the rollout's rollback; its files are as before the run");
		return buf;
	case CX_HOST_LOST:
		snprintf(buf, n, "lost: its agent stopped reporting (liveness expired) while %s; check calyx-agent on the host (systemctl status calyx-agent), it resumes where it was when restarted",
			 h->rep.state == CX_HOST_RUNNING ? "running" : "claimed");
		return buf;
	case CX_HOST_HALTED:
		snprintf(buf, n, "halted%s%s: the run was stopped and its workspace rolled back; nothing landed",
			 msg ? ": " : "", msg ? msg : "");
		return buf;
	case CX_HOST_FAILED:
		if (val && strcmp(val, "failed") == 0)
			snprintf(buf, n, "its validate step failed, so the run was rolled back; read the host's run report (calyx-audit report on the host) and fix the change before a new rollout");
		else
			snprintf(buf, n, "%s%s%s; read the host's audit log for the run, fix the cause and plan a new rollout",
				 reason ? reason : "failed", msg ? ": " : "", msg ? msg : "");
		return buf;
	case CX_HOST_CLAIMED:
	case CX_HOST_RUNNING:
		return NULL;
	case CX_HOST_WAITING:
	default:
		break;
	}
	if (h->report_error[0]) {
		snprintf(buf, n, "its report in etcd does not verify (%s): not trusted; check the host's key registration",
			 h->report_error);
		return buf;
	}
	if (f->s.prog.state == CX_ROLLOUT_HALTED) {
		snprintf(buf, n, "not run: the rollout was halted before its turn");
		return buf;
	}
	if (f->s.prog.state == CX_ROLLOUT_ROLLED_BACK) {
		snprintf(buf, n, "not run: the rollout was rolled back before its turn");
		return buf;
	}
	if (!h->registered && ft->phase == CX_TIER_OPEN) {
		snprintf(buf, n, "its agent never registered: start calyx-agent on the host");
		return buf;
	}
	return NULL; /* waiting its turn */
}

static json_t *host_json(const cx_fleet *f, const cx_fleet_host *h)
{
	const json_t *b = h->have_report ? h->rep.body : NULL;
	char why[512];
	const char *w = why_not(f, h, why, sizeof(why));
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:o, s:o}",
			      "host", h->host, "state", cx_host_state_name(h->state), "claimed_at",
			      time_or_null(h->claimed_at), "started_at",
			      time_or_null(b ? json_integer_value(json_object_get(b, "started_at")) : 0),
			      "finished_at", time_or_null(h->finished_at), "run_id",
			      member_or_null(b, "run_id"), "exit_code", member_or_null(b, "exit_code"),
			      "status", member_or_null(b, "status"), "reason", member_or_null(b, "reason"),
			      "message", member_or_null(b, "message"), "validate",
			      member_or_null(b, "validate"), "workspace", member_or_null(b, "workspace"),
			      "audit", member_or_null(b, "audit"), "report_signed", h->have_report,
			      "registered", h->registered, "live", h->live, "checks",
			      member_or_null(b, "checks"), "why_not", w ? json_string(w) : json_null());
	CX_CHECK(j);
	if (h->have_report)
		json_object_set_new(j, "report_seq", json_integer(h->rep.seq));
	if (h->report_error[0])
		json_object_set_new(j, "report_error", json_string(h->report_error));
	return j;
}

static const char *mode_of(const cx_fleet *f, char *detail, size_t n)
{
	const cx_rollout *ro = &f->s.ro;
	int64_t nm = cx_rollout_next_manual(ro, &f->s.prog);

	switch (f->s.prog.state) {
	case CX_ROLLOUT_PAUSED:
		snprintf(detail, n, "paused: no host claims a slot until a human resumes; runs in flight finish");
		return "paused";
	case CX_ROLLOUT_HALTED:
		snprintf(detail, n, "halted: no new claims, runs in flight were halted; only a rollback may follow");
		return "halted";
	case CX_ROLLOUT_ROLLED_BACK:
		snprintf(detail, n, "rolled back: every committed host undoes its run");
		return "rolled_back";
	default:
		break;
	}
	if (f->completed) {
		snprintf(detail, n, "completed: every tier ran, validated and soaked");
		return "completed";
	}
	if (f->failed_tier) {
		snprintf(detail, n, "tier %d ('%s') failed: more failures than its max_failures; the driver applies on_failure (%s)",
			 f->failed_tier, ro->tiers[f->failed_tier - 1].name, cx_on_failure_name(ro->on_failure));
		return "running";
	}
	for (size_t t = 0; t < ro->ntiers; t++) {
		const cx_fleet_tier *ft = &f->tiers[t];
		if (ft->phase == CX_TIER_DONE)
			continue;
		if (ft->phase == CX_TIER_WAITING && nm == (int64_t)t + 1) {
			snprintf(detail, n, "tier %zu ('%s') waits for a human approval (calyx-rollout approve --tier %zu)",
				 t + 1, ro->tiers[t].name, t + 1);
			return "awaiting_approval";
		}
		snprintf(detail, n, "authorized and running: tier %zu ('%s') is %s", t + 1, ro->tiers[t].name,
			 cx_tier_phase_name(ft->phase));
		return "running";
	}
	snprintf(detail, n, "authorized and running");
	return "running";
}

json_t *cx_fleet_view(const cx_fleet *f)
{
	const cx_rollout *ro = &f->s.ro;
	json_t *tiers = json_array(), *ctls = json_array(), *signers = json_array(),
	       *lsigners = json_array(), *approved = json_array(), *cmd = json_array(), *counts;
	size_t cnt[CX_HOST_ROLLED_BACK + 1] = { 0 };
	char detail[512];
	const char *mode = mode_of(f, detail, sizeof(detail));
	int64_t nm = cx_rollout_next_manual(ro, &f->s.prog);

	for (size_t t = 0; t < ro->ntiers; t++) {
		const cx_rollout_tier *rt = &ro->tiers[t];
		const cx_fleet_tier *ft = &f->tiers[t];
		json_t *hosts = json_array();
		bool ok = f->s.prog.approved & (1u << t);
		if (ok)
			json_array_append_new(approved, json_integer((json_int_t)t + 1));
		for (size_t i = 0; i < f->nhosts; i++)
			if (f->hosts[i].tier == t) {
				json_array_append_new(hosts, host_json(f, &f->hosts[i]));
				cnt[f->hosts[i].state]++;
			}
		json_t *tj = json_pack("{s:I, s:I, s:s, s:I, s:s, s:b, s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:b, s:o}",
				       "n", (json_int_t)t + 1, "tier", (json_int_t)t + 1, "name", rt->name,
				       "percent", (json_int_t)rt->percent, "gate", cx_gate_name(rt->gate),
				       "approved", ok, "soak_s", (json_int_t)rt->soak_s, "deadline_s",
				       (json_int_t)rt->deadline_s, "max_parallel",
				       (json_int_t)rt->max_parallel, "max_failures",
				       (json_int_t)rt->max_failures, "status", cx_tier_phase_name(ft->phase),
				       "opened_at", time_or_null(ft->opened_at), "done_at",
				       time_or_null(ft->done_at), "soaked_at", time_or_null(ft->soaked_at),
				       "deadline_at", time_or_null(ft->deadline_at), "failures",
				       (json_int_t)ft->failures, "slots_used", (json_int_t)ft->slots_used,
				       "deadline_passed", ft->deadline_passed, "hosts", hosts);
		CX_CHECK(tj);
		if (ft->approved_by) {
			json_object_set_new(tj, "approved_by", json_string(ft->approved_by));
			json_object_set_new(tj, "approved_at", json_integer(ft->approved_at));
		}
		json_array_append_new(tiers, tj);
	}
	for (size_t i = 0; i < f->s.nctl; i++) {
		const cx_control *c = &f->s.ctl[i];
		json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:s, s:s, s:s}}", "seq",
				      (json_int_t)c->seq, "action", cx_control_action_name(c->action),
				      "by", c->principal, "role", cx_role_name(c->role), "keyid", c->keyid,
				      "at", (json_int_t)c->issued_at, "issued_at", (json_int_t)c->issued_at,
				      "signer", "principal", c->principal, "role", cx_role_name(c->role),
				      "keyid", c->keyid);
		CX_CHECK(j);
		if (c->action == CX_CONTROL_APPROVE)
			json_object_set_new(j, "tier", json_integer(c->tier));
		json_array_append_new(ctls, j);
	}
	for (size_t i = 0; i < ro->nsigner; i++)
		json_array_append_new(signers, json_pack("{s:s, s:s, s:s}", "keyid", ro->signer[i].keyid,
							 "role", cx_role_name(ro->signer[i].role),
							 "principal", ro->signer[i].principal));
	{
		/* the lease's bytes are bound to the verified rollout by their
		 * SHA-256: its body is what the rollout's signers signed */
		cx_envelope e = { 0 };
		cx_lease l = { 0 };
		if (f->s.lease_buf &&
		    cx_envelope_parse(f->s.lease_buf, f->s.lease_len, 2, 2, &e, NULL) == 0 &&
		    cx_lease_body_parse(e.payload, e.payload_len, &l, NULL) == 0) {
			for (size_t i = 0; i < l.spec.argv.n; i++)
				json_array_append_new(cmd, json_string(l.spec.argv.v[i]));
			for (size_t i = 0; i < e.nsig; i++) {
				/* who, from the keyring the rollout was verified with
				 * (the lease's bytes are bound by hash, its own
				 * signatures are checked by calyx-exec on each host) */
				const cx_key *k = f->kr ? cx_keyring_find(f->kr, e.sigs[i].keyid) : NULL;
				json_array_append_new(lsigners,
						      json_pack("{s:s, s:s, s:s}", "keyid", e.sigs[i].keyid,
								"role", k ? cx_role_name(k->role) : "unknown",
								"principal", k ? k->principal : "not in this keyring"));
			}
		}
		cx_lease_free(&l);
		cx_envelope_free(&e);
	}
	counts = json_pack("{s:I}", "hosts", (json_int_t)f->nhosts);
	for (size_t s = CX_HOST_WAITING; s <= CX_HOST_ROLLED_BACK; s++)
		json_object_set_new(counts, cx_host_state_name((cx_host_state)s), json_integer((json_int_t)cnt[s]));
	json_t *v = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:s}",
			      "v", 1, "rollout_id", ro->rollout_id, "lease_id", ro->lease_id,
			      "lease_sha256", ro->lease_sha256, "pool", ro->pool, "state",
			      cx_fleet_state(f), "mode", mode, "mode_detail", detail, "revision",
			      (json_int_t)f->s.revision, "read_at", (json_int_t)f->now, "started_at",
			      (json_int_t)(f->started_at ? f->started_at : ro->issued_at), "window", "not_before",
			      (json_int_t)ro->not_before, "not_after", (json_int_t)ro->not_after,
			      "not_after", (json_int_t)ro->not_after, "on_failure",
			      cx_on_failure_name(ro->on_failure), "on_deadline",
			      cx_on_deadline_name(ro->on_deadline), "command", cmd, "signers", signers,
			      "lease_signers", lsigners, "controls", ctls, "counts", counts, "tiers",
			      tiers, "approved_tiers", approved, "hosts", (json_int_t)f->nhosts,
			      "etcd_revision", (json_int_t)f->s.revision, "etcd_cluster_id",
			      f->s.cluster_id);
	CX_CHECK(v);
	json_object_set_new(v, "next_manual_tier", nm ? json_integer(nm) : json_null());
	json_object_set_new(v, "started_revision", json_integer(f->s.rollout_create_rev));
	json_object_set_new(v, "driver", f->driver[0] ? json_string(f->driver) : json_null());
	return v;
}
