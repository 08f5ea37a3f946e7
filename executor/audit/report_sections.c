/* calyx-audit report: what happened to each lease, and the report's
 * sections (shape and order: report.c).
 *
 * Sections build plain strings and hand them to report_out.c, which alone
 * writes markup; usage against limits is report_usage.c.
 * Trust: pure; every event is untrusted log text. */
#include "report_internal.h"

#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------
 * what happened, derived from a lease's events
 * --------------------------------------------------------------------- */

const event *rep_first_of(const lease_run *lr, const char *type)
{
	for (size_t i = 0; i < lr->n; i++)
		if (is_type(&lr->ev[i], type))
			return &lr->ev[i];
	return NULL;
}

/* The phase (command / validate) event i happened in. */
static const char *phase_at(const lease_run *lr, size_t i)
{
	for (size_t k = i + 1; k-- > 0;)
		if (is_type(&lr->ev[k], "exec.started"))
			return jstr(details(&lr->ev[k]), "phase") ?: "?";
	return "-";
}

/* A workspace event about this lease (not one this run did for another). */
static bool ws_event_of(const lease_run *lr, const event *e)
{
	const char *dl = jstr(details(e), "lease_id");
	return strncmp(etype(e), "workspace.", 10) == 0 && (!dl || strcmp(dl, lr->lease_id) == 0);
}

static char *run_outcome(const lease_run *lr)
{
	const event *fin = NULL, *vfin = NULL, *fail = NULL, *rej = NULL;
	size_t halt = SIZE_MAX;
	bool started = false;
	long long v;

	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		const char *ph = jstr(details(e), "phase");
		started |= is_type(e, "exec.started");
		if (is_type(e, "exec.finished") && ph && strcmp(ph, "validate") == 0)
			vfin = e;
		else if (is_type(e, "exec.finished") && !fin)
			fin = e;
		if (is_type(e, "run.halted") && halt == SIZE_MAX)
			halt = i;
		if (is_type(e, "run.failed") && !fail)
			fail = e;
		if (is_type(e, "lease.rejected") && !rej)
			rej = e;
	}
	if (!started && rej)
		return cx_strf("refused [%s]", jstr(details(rej), "reason") ?: "?");
	if (!started && fail)
		return cx_strf("failed before the run [%s]", jstr(details(fail), "reason") ?: "?");
	if (!started)
		return cx_strdup("not run (no exec.started)");
	if (halt != SIZE_MAX)
		return cx_strf("halted [%s]%s", jstr(details(&lr->ev[halt]), "reason") ?: "?",
			   strcmp(phase_at(lr, halt), "validate") == 0 ? " in the validate step" : "");
	if (fail)
		return cx_strf("failed [%s]", jstr(details(fail), "reason") ?: "?");
	if (!fin)
		return cx_strdup("started, no exec.finished (interrupted, or still running)");
	if (!jint(details(fin), "exit_code", &v))
		return jint(details(fin), "signal", &v) ? cx_strf("killed by signal %lld", v)
							: cx_strdup("finished");
	if (vfin && jint(details(vfin), "exit_code", &v) && v != 0)
		return cx_strf("completed, exit 0; validate exited %lld", v);
	jint(details(fin), "exit_code", &v);
	return cx_strf("completed, exit %lld", v);
}

static const char *ws_label(const char *type)
{
	static const char *const map[][2] = {
		{ "workspace.committed", "committed: the run's changes were applied to the host tree" },
		{ "workspace.rolled_back", "rolled back: the run's changes were discarded, the host tree is unchanged" },
		{ "workspace.undone", "undone by an operator (calyx-ctl rollback)" },
		{ "workspace.undo_refused", "undo refused (calyx-ctl rollback)" },
		{ "workspace.recovered", "recovered after an interrupted run" },
		{ "workspace.pack_pruned", "rollback pack pruned" },
	};
	for (size_t i = 0; i < CX_ARRAY_SIZE(map); i++)
		if (strcmp(type, map[i][0]) == 0)
			return map[i][1];
	return type;
}

static char *outcome(const lease_run *lr)
{
	char *run = run_outcome(lr), *r;
	const char *ws = NULL;
	for (size_t i = 0; i < lr->n; i++)
		if (ws_event_of(lr, &lr->ev[i]) &&
		    (is_type(&lr->ev[i], "workspace.committed") ||
		     is_type(&lr->ev[i], "workspace.rolled_back") || is_type(&lr->ev[i], "workspace.undone")))
			ws = etype(&lr->ev[i]) + 10;
	if (!ws)
		return run;
	r = cx_strf("%s; workspace %s", run,
		strcmp(ws, "committed") == 0 ? "committed" : strcmp(ws, "undone") == 0 ? "committed, later undone" : "rolled back");
	free(run);
	return r;
}

/* ---------------------------------------------------------------------
 * sections
 * --------------------------------------------------------------------- */

static bool line_verified(const report *rp, uint64_t line)
{
	return line <= rp->chain->signed_lines;
}

static void chain_status(report *rp)
{
	const cx_report_chain *c = rp->chain;
	char *s;

	if (c->intact && c->signed_lines < c->lines) {
		s = cx_strf("Audit chain intact, but its last %llu events (lines %llu to %llu) follow the last checkpoint: no host-key signature vouches for them yet (a writer still running, or one stopped before its sync), so they are marked NOT VERIFIED. Lines 1 to %llu verify (host-key signatures, hash chain, seq from 1); head %s.",
			(unsigned long long)(c->lines - c->signed_lines), (unsigned long long)c->signed_lines + 1,
			(unsigned long long)c->lines, (unsigned long long)c->signed_lines, c->head);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
	} else if (c->intact) {
		s = cx_strf("Audit chain intact: all %llu events of the log verify (host-key signatures, hash chain, seq from 1); head %s. "
			"Lines cut from the end can only be detected against a head kept elsewhere (calyx-audit verify --expect-head).",
			(unsigned long long)c->lines, c->head);
		cx_rout_para(&rp->o, CX_ROUT_OK, s);
	} else if (c->bad_line) {
		s = cx_strf("AUDIT CHAIN FAILED at line %llu: %s. Events from line %llu on (after the last valid checkpoint before it) are not covered by the verification and are marked NOT VERIFIED: what they say may be forged.",
			(unsigned long long)c->bad_line, c->message, (unsigned long long)c->signed_lines + 1);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
	} else {
		s = cx_strf("AUDIT CHAIN FAILED: %s. No event in this report is verified.", c->message);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
	}
	free(s);
}

static void sec_overview(report *rp)
{
	static const char *const hdr[] = { "#", "lease id", "run id", "first event", "outcome" };
	char *s;

	if (rp->nrun > 1) {
		s = cx_strf("'%s' matches %zu leases (a run id used again with a new lease); each is reported below, in log order.",
			rp->id, rp->nrun);
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, s);
		free(s);
	}
	cx_rout_table_begin(&rp->o, hdr, 5);
	for (size_t i = 0; i < rp->nrun; i++) {
		const lease_run *lr = &rp->run[i];
		char *n = cx_strf("%zu", i + 1), *o = outcome(lr);
		const char *c[] = { n, lr->lease_id, lr->n ? jstr(lr->ev[0].j, "run_id") : NULL,
				    lr->n ? jstr(lr->ev[0].j, "time") : NULL, o };
		cx_rout_table_row(&rp->o, c, 5);
		free(n);
		free(o);
	}
	cx_rout_table_end(&rp->o);
	if (rp->dropped || rp->unparsed) {
		s = cx_strf("Not shown: %zu events past the report's cap of %d; %zu lines naming these leases that are not audit events (unparsable: tampered?).",
			rp->dropped, CX_REPORT_MAX_EVENTS, rp->unparsed);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
		free(s);
	}
}

static void sec_summary(report *rp, const lease_run *lr)
{
	const event *f = &lr->ev[0], *l = &lr->ev[lr->n - 1];
	cx_rout_heading(&rp->o, 3, "Summary");
	cx_rout_kv_begin(&rp->o);
	cx_rout_kv(&rp->o, "lease id", lr->lease_id);
	cx_rout_kv(&rp->o, "run id", jstr(f->j, "run_id"));
	cx_rout_kv_own(&rp->o, "outcome", outcome(lr));
	cx_rout_kv_own(&rp->o, "events", cx_strf("%zu (lines %llu to %llu)", lr->n, (unsigned long long)f->line,
				 (unsigned long long)l->line));
	cx_rout_kv_own(&rp->o, "from", cx_strf("%s to %s", jstr(f->j, "time"), jstr(l->j, "time")));
	cx_rout_table_end(&rp->o);
	if (rp->o.fmt == CX_REPORT_HTML)
		rep_glance_chart(rp, lr);
}

static void lease_body_rows(report *rp, const json_t *b, const json_t *d)
{
	static const char *const shown[] = { "v", "lease_id", "run_id", "intent_id", "audience",
					     "purpose", "issued_at", "not_before", "not_after",
					     "policy_sha256", "argv", "cwd", "env", "workspace", "paths",
					     "limits", "network", "validate", "stdin", NULL };
	const json_t *paths = json_object_get(b, "paths"), *env = json_object_get(b, "env");
	const char *k;
	json_t *v;
	char *names = NULL;

	cx_rout_kv(&rp->o, "purpose", jstr(b, "purpose") ?: "(none given)");
	cx_rout_kv(&rp->o, "run id", jstr(b, "run_id"));
	cx_rout_kv(&rp->o, "intent id", jstr(b, "intent_id") ?: "(none)");
	cx_rout_kv(&rp->o, "audience", jstr(b, "audience") ?: "(any host)");
	cx_rout_kv_own(&rp->o, "issued", rep_unix_plain(json_object_get(b, "issued_at")));
	cx_rout_kv_own(&rp->o, "valid from", rep_unix_plain(json_object_get(b, "not_before")));
	cx_rout_kv_own(&rp->o, "valid until", rep_unix_plain(json_object_get(b, "not_after")));
	cx_rout_kv_json_own(&rp->o, "command (argv)", rep_argv_plain(json_object_get(b, "argv")));
	cx_rout_kv(&rp->o, "cwd", jstr(b, "cwd") ?: "(default)");
	cx_rout_kv(&rp->o, "workspace (seen as /work)", jstr(b, "workspace") ?: "(none)");
	cx_rout_kv_own(&rp->o, "reads (paths.ro)", rep_plain(json_object_get(paths, "ro")));
	cx_rout_kv_own(&rp->o, "writes (paths.rw)", rep_plain(json_object_get(paths, "rw")));
	json_object_foreach((json_t *)env, k, v) {
		char *n = cx_strf("%s%s%s", names ? names : "", names ? ", " : "", k);
		free(names);
		names = n;
		if (strlen(names) > CX_ROUT_TEXT_MAX)
			break;
	}
	cx_rout_kv_own(&rp->o, "environment (names; values not shown)", names ? names : cx_strdup("(none)"));
	cx_rout_kv(&rp->o, "network", jstr(b, "network") ?: "none");
	cx_rout_kv(&rp->o, "stdin", jstr(b, "stdin") ?: "null");
	cx_rout_kv_json_own(&rp->o, "validate step", rep_argv_plain(json_object_get(json_object_get(b, "validate"), "argv")));
	cx_rout_kv_own(&rp->o, "limits asked by the lease", rep_plain(json_object_get(b, "limits")));
	cx_rout_kv_own(&rp->o, "limits in force (policy defaults filled in)", json_object_get(d, "limits")
			   ? rep_plain(json_object_get(d, "limits")) : cx_strdup("(not recorded)"));
	if (jstr(b, "policy_sha256") && jstr(d, "policy_sha256") &&
	    strcmp(jstr(b, "policy_sha256"), jstr(d, "policy_sha256")) != 0)
		cx_rout_kv(&rp->o, "policy sha256 named by the lease (DIFFERS)", jstr(b, "policy_sha256"));
	rep_kv_members(rp, b, shown); /* fields this report does not know yet */
}

static void sec_signers(report *rp, const json_t *signers)
{
	static const char *const hdr[] = { "role", "principal", "keyid" };
	json_t *s;
	size_t i;

	cx_rout_table_begin(&rp->o, hdr, 3);
	json_array_foreach(signers, i, s) {
		if (i == ROWS_MAX)
			break;
		const char *c[] = { jstr(s, "role"), jstr(s, "principal"), jstr(s, "keyid") };
		cx_rout_table_row(&rp->o, c, 3);
	}
	cx_rout_table_end(&rp->o);
}

static void sec_lease(report *rp, const lease_run *lr)
{
	const event *v = rep_first_of(lr, "lease.verified");
	const json_t *d, *b;
	size_t presented = 0;

	cx_rout_heading(&rp->o, 3, "Lease");
	if (!v) {
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No lease.verified event: this lease was refused before its signatures verified (see Halt and failures).");
		return;
	}
	d = details(v);
	b = json_object_get(d, "lease");
	cx_rout_kv_begin(&rp->o);
	if (json_is_object(b))
		lease_body_rows(rp, b, d);
	else if (json_object_get(d, "lease_omitted"))
		cx_rout_kv_own(&rp->o, "lease body (not recorded)", rep_plain(json_object_get(d, "lease_omitted")));
	else
		cx_rout_kv(&rp->o, "lease body", "not recorded in this log (written by a calyx-exec that did not record lease bodies)");
	cx_rout_kv(&rp->o, "policy sha256 (verified against)", jstr(d, "policy_sha256"));
	cx_rout_kv(&rp->o, "lease sha256 (the envelope file)", jstr(d, "lease_sha256"));
	for (size_t i = 0; i < lr->n; i++)
		presented += is_type(&lr->ev[i], "lease.verified");
	if (presented > 1)
		cx_rout_kv_own(&rp->o, "presented", cx_strf("%zu times (a lease runs once: later presentations are refused, see the timeline)",
					    presented));
	cx_rout_table_end(&rp->o);
	cx_rout_para(&rp->o, CX_ROUT_NORMAL, "Signed by (roles from the host's keyring; both signatures verified):");
	sec_signers(rp, json_object_get(d, "signers"));
}

static void sec_layers(report *rp, const lease_run *lr)
{
	static const char *const skip[] = { "layers", "phase", NULL };
	size_t shown = 0;

	cx_rout_heading(&rp->o, 3, "Layers in force");
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		if (!is_type(e, "exec.started"))
			continue;
		if (shown++ == PHASES_MAX) {
			cx_rout_para(&rp->o, CX_ROUT_WARN, "More exec.started events than a run has: not shown (see the timeline).");
			break;
		}
		cx_rout_kv_begin(&rp->o);
		cx_rout_kv(&rp->o, "phase", jstr(details(e), "phase"));
		cx_rout_kv(&rp->o, "started at", jstr(e->j, "time"));
		rep_kv_members(rp, json_object_get(details(e), "layers"), NULL);
		rep_kv_members(rp, details(e), skip);
		cx_rout_table_end(&rp->o);
	}
	if (!shown)
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No exec.started event: no sandbox was started for this lease.");
}

static void sec_processes(report *rp, const lease_run *lr)
{
	static const char *const hdr[] = { "seq", "time", "phase", "pid", "ppid", "file", "argv (head)" };
	const char *phase = "-";
	size_t n = 0;
	long long v;

	cx_rout_heading(&rp->o, 3, "Processes");
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		const json_t *d = details(e);
		if (is_type(e, "exec.started"))
			phase = jstr(d, "phase") ?: "?";
		if (!is_type(e, "exec.spawned"))
			continue;
		if (!n++)
			cx_rout_table_begin(&rp->o, hdr, 7);
		char *seq = rep_plain(json_object_get(e->j, "seq")), *pid = rep_plain(json_object_get(d, "pid")),
		     *ppid = rep_plain(json_object_get(d, "ppid"));
		char *file = rep_plain(json_object_get(d, "filename"));
		if (json_is_true(json_object_get(d, "exec_by_fd"))) {
			char *f = cx_strf("%s (the leased command, executed by fd)", file);
			free(file);
			file = f;
		}
		/* argv: argument by argument when the log lists them (one
		 * holds a space or is empty), else the line */
		const json_t *av = json_object_get(d, "argv"), *ah = json_object_get(d, "argv_head");
		char *args = json_is_array(av) ? rep_argv_plain(av) : rep_plain(ah);
		long long whole;
		if (json_is_array(av) && json_is_true(json_object_get(ah, "truncated"))) {
			char *a = jint(ah, "bytes", &whole)
					  ? cx_strf("%s … [argv cut: %lld bytes in all]", args, whole + 1)
					  : cx_strf("%s … [argv cut]", args);
			free(args);
			args = a;
		}
		const char *c[] = { seq, jstr(e->j, "time"), phase, pid, ppid, file, args };
		/* a listed argv is JSON text (each argument a JSON string): its
		 * backslashes are JSON's own, not escaped a second time */
		cx_rout_table_row_json(&rp->o, c, 7, json_is_array(av) ? 1u << 6 : 0);
		free(seq);
		free(pid);
		free(ppid);
		free(file);
		free(args);
	}
	if (n)
		cx_rout_table_end(&rp->o);
	else
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No exec.spawned event (no process was started, or the exec tracer was unavailable: see Layers in force).");
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		if (is_type(e, "exec.finished") && jint(details(e), "processes_started", &v)) {
			char *s = cx_strf("Phase %s: %lld processes started in all (the audit log lists each of the first 256).",
				      jstr(details(e), "phase") ?: "?", v);
			cx_rout_para(&rp->o, CX_ROUT_NORMAL, s);
			free(s);
		}
	}
}

static bool is_halt_or_failure(const event *e)
{
	return is_type(e, "resource.breach") || is_type(e, "run.halted") || is_type(e, "run.failed") ||
	       is_type(e, "lease.rejected") || strncmp(etype(e), "operator.", 9) == 0;
}

static void event_box(report *rp, const event *e)
{
	cx_rout_kv_begin(&rp->o);
	cx_rout_kv(&rp->o, "event", etype(e));
	cx_rout_kv_own(&rp->o, "seq", rep_plain(json_object_get(e->j, "seq")));
	cx_rout_kv(&rp->o, "time", jstr(e->j, "time"));
	rep_kv_members(rp, details(e), NULL);
	cx_rout_table_end(&rp->o);
}

static void sec_halt(report *rp, const lease_run *lr)
{
	bool any = false;
	cx_rout_heading(&rp->o, 3, "Halt and failures");
	for (size_t i = 0; i < lr->n; i++) {
		if (!is_halt_or_failure(&lr->ev[i]))
			continue;
		any = true;
		event_box(rp, &lr->ev[i]);
	}
	if (!any)
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No halt: no quota breach, no operator action, no refusal or failure was recorded.");
}

static void sec_workspace(report *rp, const lease_run *lr)
{
	static const char *const skip[] = { "action", "added", "changed", "deleted", NULL };
	bool any = false;
	long long n;

	cx_rout_heading(&rp->o, 3, "Workspace");
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		const json_t *d = details(e);
		if (!ws_event_of(lr, e))
			continue;
		any = true;
		cx_rout_kv_begin(&rp->o);
		cx_rout_kv(&rp->o, "outcome", ws_label(etype(e)));
		cx_rout_kv_own(&rp->o, "seq", rep_plain(json_object_get(e->j, "seq")));
		cx_rout_kv(&rp->o, "time", jstr(e->j, "time"));
		if (jint(d, "added", &n))
			cx_rout_kv_own(&rp->o, "added", cx_strf("%lld", n));
		if (jint(d, "changed", &n))
			cx_rout_kv_own(&rp->o, "modified", cx_strf("%lld", n));
		if (jint(d, "deleted", &n))
			cx_rout_kv_own(&rp->o, "deleted", cx_strf("%lld", n));
		rep_kv_members(rp, d, skip);
		cx_rout_table_end(&rp->o);
	}
	if (!any)
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No workspace outcome recorded: the lease names no workspace or rw path, or the run did not get that far.");
}

static void sec_timeline(report *rp, const lease_run *lr)
{
	static const char *const hdr[] = { "seq", "line", "time", "type", "details", "chain" };

	cx_rout_heading(&rp->o, 3, "Timeline");
	cx_rout_table_begin(&rp->o, hdr, 6);
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		char *seq = rep_plain(json_object_get(e->j, "seq")), *line = cx_strf("%llu", (unsigned long long)e->line);
		char *d = rep_clip(rep_dump_any(details(e)), DETAILS_MAX);
		const char *c[] = { seq, line, jstr(e->j, "time"), etype(e), d,
				    line_verified(rp, e->line) ? "verified" : "NOT VERIFIED" };
		cx_rout_table_row_json(&rp->o, c, 6, 1u << 4); /* details: JSON */
		free(seq);
		free(line);
		free(d);
	}
	cx_rout_table_end(&rp->o);
}

static void render_run(report *rp, size_t idx)
{
	const lease_run *lr = &rp->run[idx];
	char *h = cx_strf("Lease %zu of %zu: %s (run %s)", idx + 1, rp->nrun, lr->lease_id,
		      jstr(lr->ev[0].j, "run_id") ?: "?");
	cx_rout_heading(&rp->o, 2, h);
	free(h);
	sec_summary(rp, lr);
	sec_lease(rp, lr);
	sec_layers(rp, lr);
	sec_processes(rp, lr);
	rep_sec_usage(rp, lr);
	sec_halt(rp, lr);
	sec_workspace(rp, lr);
	sec_timeline(rp, lr);
}

void rep_render(report *rp)
{
	char *title = cx_strf("calyx run report: %s", rp->id), *gen;
	time_t now = time(NULL);
	struct tm tm;
	char ts[64] = "?";

	if (gmtime_r(&now, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
	cx_rout_begin(&rp->o, title);
	chain_status(rp);
	sec_overview(rp);
	for (size_t i = 0; i < rp->nrun; i++)
		render_run(rp, i);
	gen = cx_strf("Generated by calyx-audit %s at %s from the audit log alone.", CX_VERSION, ts);
	cx_rout_para(&rp->o, CX_ROUT_NORMAL, gen);
	cx_rout_end(&rp->o);
	free(title);
	free(gen);
}
