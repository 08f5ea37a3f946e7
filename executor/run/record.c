/* What every phase of a run records: its audit events (and when they are
 * made durable), the result file, and the one line a refusal or failure
 * prints.
 * Trust: runs as root; every string recorded came from a verified lease,
 * the root-owned configuration or the kernel; those that may hold any
 * bytes (messages naming paths) are text values (calyx/audit.h). */
#include "run.h"

#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/timings.h"
#include "../cli.h"

void cx_run_event(cx_run *run, const char *type, json_t *details, cx_error *err, int *r)
{
	uint64_t seq;
	if (!run->audit) {
		json_decref(details);
		return;
	}
	cx_phase was = cx_phase_enter(CX_PH_AUDIT);
	int ar = cx_audit_append(run->audit, type, run->have_lease ? run->lease.lease_id : NULL,
				 run->have_lease ? run->lease.run_id : NULL, details, &seq, err);
	cx_phase_enter(was);
	if (ar < 0) {
		*r = ar;
		return;
	}
	if (!run->first_seq)
		run->first_seq = seq;
	run->last_seq = seq;
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
int cx_run_sync(cx_run *run, cx_error *err)
{
	if (!run->audit)
		return 0;
	cx_phase was = cx_phase_enter(CX_PH_AUDIT);
	int r = cx_audit_sync(run->audit, err);
	cx_phase_enter(was);
	return r;
}

void cx_run_write_result(cx_run *run, const char *status, const cx_error *err, int code,
			 json_t *extra)
{
	cx_error werr = { 0 };

	if (!run->result_path) {
		json_decref(extra); /* owned even when there is nowhere to write */
		return;
	}
	cx_phase was = cx_phase_enter(CX_PH_RESULT);
	json_t *j = json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:i}", "v", 1, "status", status, "reason",
			      err ? cx_reason_name(err->reason) : "OK", "message",
			      err ? err->msg : NULL, "lease_id",
			      run->have_lease ? run->lease.lease_id : NULL, "exit_code", code);
	CX_CHECK(j);
	if (run->have_lease)
		json_object_set_new(j, "run_id", json_string(run->lease.run_id));
	if (run->lease_sha256[0])
		json_object_set_new(j, "lease_sha256", json_string(run->lease_sha256));
	if (extra) {
		json_object_update(j, extra);
		json_decref(extra);
	}
	if (run->first_seq)
		json_object_set_new(j, "audit", json_pack("{s:I, s:I}", "first_seq",
							  (json_int_t)run->first_seq, "last_seq",
							  (json_int_t)run->last_seq));
	/* CPU, not wall time: what calyx-exec's own thread spent on the BPF
	 * monitor (load or open, claim, attach), which overlaps the sandbox's
	 * build in wall time */
	if (run->monitor_cpu_ns)
		json_object_set_new(j, "cpu_us", json_pack("{s:I}", "monitor",
							   (json_int_t)(run->monitor_cpu_ns / 1000)));
	json_object_set_new(j, "timings_us", cx_timings_json()); /* up to this write */
	_cleanup_free_ char *s = cx_json_dump_pretty(j);
	json_decref(j);
	if (cx_write_file_atomic(run->result_path, s, strlen(s), 0644, &werr) < 0)
		cx_esc_line(stderr, "calyx-exec: error [%s]: result: %s", cx_reason_name(werr.reason),
			    werr.msg);
	cx_phase_enter(was);
}

int cx_run_fail(cx_run *run, cx_error *err, int code)
{
	if (code < 0)
		code = cx_reason_is_refusal(err->reason) ? CX_EXIT_REFUSED : CX_EXIT_FAILURE;
	/* Record it, unless the audit log itself is what failed. If recording
	 * fails, say so on the same single line. */
	if (run->audit && err->reason != CX_E_AUDIT) {
		cx_error aerr = { 0 };
		int r = 0;
		cx_run_event(run, code == CX_EXIT_REFUSED ? "lease.rejected" : "run.failed",
			     json_pack("{s:s, s:o, s:s}", "reason", cx_reason_name(err->reason),
				       "message", cx_audit_text(err->msg), "lease_sha256",
				       run->lease_sha256),
			     &aerr, &r);
		if (r == 0)
			r = cx_run_sync(run, &aerr);
		if (r < 0) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof(err->msg) - n, "; also not audited: %s", aerr.msg);
		}
	}
	cx_run_write_result(run, code == CX_EXIT_REFUSED ? "refused" : "failed", err, code, NULL);
	return cx_cli_fail(err, code);
}

/* The lease body as signed, for the log: re-parsed strictly from the
 * payload bytes cx_lease_verify has just verified (never from run->lease,
 * which holds the spec resolved against the policy). Re-encoded as ASCII,
 * a 48 KiB body grows at most 3x (a 2-byte UTF-8 character becomes a
 * 6-byte \u escape); should it still not fit an audit line, it is left
 * out, saying so, rather than failing a valid run. */
static void add_body(cx_run *run, json_t *vd)
{
	const char *why = "the verified body could not be parsed again";
	_cleanup_(cx_envelope_free) cx_envelope env = { 0 };
	json_t *body = NULL;
	size_t bl = 0;

	if (cx_envelope_parse(run->lease_buf, run->lease_len, CX_LEASE_SIGS, CX_LEASE_SIGS, &env,
			      NULL) == 0 &&
	    cx_json_parse_object(env.payload, env.payload_len, "lease body", &body, NULL) == 0) {
		_cleanup_free_ char *bs = cx_json_dump(body);
		bl = strlen(bs);
		why = bl + 4096 <= CX_AUDIT_LINE_MAX ? NULL : "too large for an audit line";
	}
	if (!why)
		json_object_set_new(vd, "lease", TAKE_PTR(body));
	else
		json_object_set_new(vd, "lease_omitted", json_pack("{s:s, s:I}", "why", why,
								   "json_bytes", (json_int_t)bl));
	json_decref(body);
}

/* lease.verified: who signed, both hashes, the effective limits (policy
 * defaults filled in) and the lease body itself, so `calyx-audit report`
 * can say what was authorized from the log alone. */
int cx_run_record_verified(cx_run *run, cx_error *err)
{
	json_t *signers = json_array(), *limits = json_object(), *vd;
	int r = 0;

	for (size_t i = 0; i < run->lease.nsigner; i++)
		json_array_append_new(signers,
				      json_pack("{s:s, s:s, s:s}", "keyid", run->lease.signer[i].keyid,
						"role", cx_role_name(run->lease.signer[i].role),
						"principal", run->lease.signer[i].principal));
	for (int i = 0; i < CX_LIM__COUNT; i++)
		json_object_set_new(limits, cx_limit_name(i),
				    json_integer((json_int_t)run->lease.spec.limits.v[i]));
	vd = json_pack("{s:o, s:s, s:s, s:o}", "signers", signers, "policy_sha256",
		       run->pol.sha256_hex, "lease_sha256", run->lease_sha256, "limits", limits);
	CX_CHECK(vd);
	add_body(run, vd);
	cx_run_event(run, "lease.verified", vd, err, &r);
	return r;
}
