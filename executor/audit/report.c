/* calyx-audit report: the report of a run, from the audit log alone
 * (what it reads and how leases are matched: report.h).
 *
 * Shape: a title, the audit chain's status (prominent: a failed chain is
 * a warning above everything else), a summary of the matching leases,
 * then per lease: Summary, Lease, Layers in force, Processes, Usage vs
 * limits, Halt and failures, Workspace, Timeline. Markdown (GitHub
 * flavoured: tables) or one HTML file with an inline SVG chart.
 *
 * How hostile input is kept in its place: this file never writes markup.
 * Sections build plain strings (fmt, plain, argv_plain, ...) and hand them
 * to report_out.c, which escapes every one for the format, shows
 * invisible and bidi characters, bounds each value, and alone writes
 * markup (its header states the invariant).
 *
 * Bounds: the log is scanned line by line in place (the caller already
 * holds it for the verifier); a line is parsed only if it contains the
 * id (as the log spells it) or a matching lease id, and only if it is at
 * most LINE_PARSE_MAX bytes. At most CX_REPORT_MAX_EVENTS events are kept.
 *
 * Trust: pure (no I/O but the memory stream); input untrusted. */
#include "report.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"
#include "calyx/lease.h"
#include "report_out.h"

#define LINE_PARSE_MAX (1u << 20) /* a verified line is at most CX_AUDIT_LINE_MAX */
#define DETAILS_MAX 200           /* bytes of an event's details in the timeline */
#define ROWS_MAX 64               /* rows of one generic object or list */
#define PHASES_MAX 8              /* exec.started / exec.finished shown (a run has 1 or 2) */

typedef struct event {
	uint64_t line; /* 1-based line number in the log */
	json_t *j;     /* the parsed event (owned) */
} event;

typedef struct lease_run {
	char lease_id[33];
	event *ev;
	size_t n, cap;
} lease_run;

typedef struct report {
	cx_rout o;
	const char *id;
	const cx_report_chain *chain;
	lease_run run[CX_REPORT_MAX_LEASES];
	size_t nrun;
	bool too_many;
	size_t nevents, dropped, unparsed;
	char *needle_run;      /* "ID" as the log spells a JSON string */
	char needle_lease[40]; /* "ID, when ID may begin a lease id */
} report;

/* ---------------------------------------------------------------------
 * small helpers
 * --------------------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	CX_CHECK(n >= 0);
	return s;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool jint(const json_t *o, const char *k, long long *ret)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		return false;
	*ret = (long long)json_integer_value(v);
	return true;
}

static const json_t *details(const event *e)
{
	return json_object_get(e->j, "details");
}

static const char *etype(const event *e)
{
	return jstr(e->j, "type");
}

static bool is_type(const event *e, const char *t)
{
	return strcmp(etype(e), t) == 0;
}

static bool line_verified(const report *rp, uint64_t line)
{
	return rp->chain->intact || (rp->chain->bad_line && line < rp->chain->bad_line);
}

/* Cut s (malloc'd) to at most max bytes on a UTF-8 boundary, marking the cut. */
static char *clip(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return s;
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	char *r = fmt("%.*s… (%zu bytes)", (int)max, s, n);
	free(s);
	return r;
}

/* Any JSON value (a tampered log may put a string where an object was)
 * as compact JSON. */
static char *dump_any(const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) : NULL;
	return s ? s : cx_strdup("-");
}

/* A JSON value as plain text for people (escaped later, at output). */
static char *plain(const json_t *v);

static char *join_plain(const json_t *v, bool obj)
{
	char *acc = cx_strdup(""), *item, *next;
	const char *k;
	json_t *x;
	size_t i = 0;

	if (obj) {
		json_object_foreach((json_t *)v, k, x) {
			if (strlen(acc) > CX_ROUT_TEXT_MAX)
				break;
			item = json_is_object(x) || json_is_array(x) ? dump_any(x) : plain(x);
			next = fmt("%s%s%s=%s", acc, i++ ? ", " : "", k, item);
			free(item);
			free(acc);
			acc = next;
		}
		return acc;
	}
	json_array_foreach(v, i, x) {
		if (strlen(acc) > CX_ROUT_TEXT_MAX)
			break;
		item = json_is_object(x) || json_is_array(x) ? dump_any(x) : plain(x);
		next = fmt("%s%s%s", acc, i ? ", " : "", item);
		free(item);
		free(acc);
		acc = next;
	}
	return acc;
}

static char *plain(const json_t *v)
{
	if (!v)
		return cx_strdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return cx_strdup(json_string_value(v));
	case JSON_INTEGER:
		return fmt("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return fmt("%.3f", json_real_value(v));
	case JSON_TRUE:
		return cx_strdup("yes");
	case JSON_FALSE:
		return cx_strdup("no");
	case JSON_ARRAY:
		return json_array_size(v) ? join_plain(v, false) : cx_strdup("(none)");
	case JSON_OBJECT:
		return json_object_size(v) ? join_plain(v, true) : cx_strdup("(none)");
	case JSON_NULL:
		return cx_strdup("null");
	}
	return cx_strdup("?");
}

/* argv as JSON strings separated by spaces: unambiguous about where each
 * argument begins and ends, whatever it contains. */
static char *argv_plain(const json_t *a)
{
	char *acc = cx_strdup(""), *next;
	json_t *x;
	size_t i;

	if (!json_is_array(a) || !json_array_size(a)) {
		free(acc);
		return cx_strdup("(none)");
	}
	json_array_foreach(a, i, x) {
		if (strlen(acc) > CX_ROUT_TEXT_MAX)
			break;
		char *q = json_dumps(x, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		CX_CHECK(q);
		next = fmt("%s%s%s", acc, i ? " " : "", q);
		free(q);
		free(acc);
		acc = next;
	}
	return acc;
}

/* Unix seconds as a UTC date, with the number. */
static char *unix_plain(const json_t *v)
{
	long long t;
	struct tm tm;
	char buf[64];

	if (!json_is_integer(v))
		return plain(v);
	t = (long long)json_integer_value(v);
	time_t tt = (time_t)t;
	if (t < 0 || t > CX_LEASE_TIME_MAX || !gmtime_r(&tt, &tm))
		return fmt("%lld", t);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return fmt("%s (%lld)", buf, t);
}

/* Every member of a details object, generically (keys are log text too). */
static void kv_members(report *rp, const json_t *o, const char *const *skip)
{
	const char *k;
	json_t *v;
	size_t rows = 0;

	json_object_foreach((json_t *)o, k, v) {
		bool skipped = false;
		for (size_t i = 0; skip && skip[i]; i++)
			skipped |= strcmp(k, skip[i]) == 0;
		if (skipped)
			continue;
		if (rows++ == ROWS_MAX) {
			cx_rout_kv(&rp->o, "…", "more members not shown");
			break;
		}
		cx_rout_kv_own(&rp->o, k, plain(v));
	}
}

/* ---------------------------------------------------------------------
 * reading the log: which leases, which events
 * --------------------------------------------------------------------- */

typedef void (*line_fn)(report *rp, uint64_t lineno, const char *line, size_t len);

static void each_line(report *rp, const uint8_t *log, size_t len, line_fn fn)
{
	uint64_t lineno = 0;
	for (size_t off = 0; off < len;) {
		const uint8_t *nl = memchr(log + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (log + off)) : len - off;
		fn(rp, ++lineno, (const char *)log + off, ll);
		off += ll + 1;
	}
}

static json_t *parse_event(report *rp, const char *line, size_t len, bool count)
{
	json_t *j = NULL;
	if (len <= LINE_PARSE_MAX)
		j = cx_json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) || !json_is_integer(json_object_get(j, "seq")) ||
	    !jstr(j, "type") || !jstr(j, "time")) {
		json_decref(j);
		rp->unparsed += count;
		return NULL;
	}
	return j;
}

static void add_lease(report *rp, const char *lid)
{
	for (size_t i = 0; i < rp->nrun; i++)
		if (strcmp(rp->run[i].lease_id, lid) == 0)
			return;
	if (rp->nrun == CX_REPORT_MAX_LEASES) {
		rp->too_many = true;
		return;
	}
	memcpy(rp->run[rp->nrun++].lease_id, lid, 33);
}

static void find_leases(report *rp, uint64_t lineno, const char *line, size_t len)
{
	const char *rid, *lid;
	json_t *j;

	(void)lineno;
	if (!memmem(line, len, rp->needle_run, strlen(rp->needle_run)) &&
	    !(rp->needle_lease[0] && memmem(line, len, rp->needle_lease, strlen(rp->needle_lease))))
		return;
	j = parse_event(rp, line, len, false);
	if (!j)
		return;
	rid = jstr(j, "run_id");
	lid = jstr(j, "lease_id");
	if (lid && cx_is_lower_hex(lid, 32) &&
	    ((rid && strcmp(rid, rp->id) == 0) ||
	     (rp->needle_lease[0] && strncmp(lid, rp->id, strlen(rp->id)) == 0)))
		add_lease(rp, lid);
	json_decref(j);
}

/* The lease an event belongs to: its own lease_id first, else the lease
 * its details name (recovery or pruning done by another run or calyx-ctl). */
static lease_run *owner_of(report *rp, const json_t *j)
{
	const char *lid = jstr(j, "lease_id"), *dl = jstr(json_object_get(j, "details"), "lease_id");
	for (size_t i = 0; lid && i < rp->nrun; i++)
		if (strcmp(lid, rp->run[i].lease_id) == 0)
			return &rp->run[i];
	for (size_t i = 0; dl && i < rp->nrun; i++)
		if (strcmp(dl, rp->run[i].lease_id) == 0)
			return &rp->run[i];
	return NULL;
}

static void collect(report *rp, uint64_t lineno, const char *line, size_t len)
{
	lease_run *lr;
	size_t i;
	json_t *j;

	for (i = 0; i < rp->nrun; i++)
		if (memmem(line, len, rp->run[i].lease_id, 32))
			break;
	if (i == rp->nrun)
		return;
	j = parse_event(rp, line, len, true);
	if (!j)
		return;
	lr = owner_of(rp, j);
	if (!lr || rp->nevents >= CX_REPORT_MAX_EVENTS) {
		rp->dropped += lr != NULL;
		json_decref(j);
		return;
	}
	if (lr->n == lr->cap) {
		lr->cap = lr->cap ? 2 * lr->cap : 64;
		lr->ev = realloc(lr->ev, lr->cap * sizeof(*lr->ev));
		CX_CHECK(lr->ev);
	}
	lr->ev[lr->n++] = (event){ .line = lineno, .j = j };
	rp->nevents++;
}

/* ---------------------------------------------------------------------
 * what happened, derived from a lease's events
 * --------------------------------------------------------------------- */

static const event *first_of(const lease_run *lr, const char *type)
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
		return fmt("refused [%s]", jstr(details(rej), "reason") ?: "?");
	if (!started && fail)
		return fmt("failed before the run [%s]", jstr(details(fail), "reason") ?: "?");
	if (!started)
		return cx_strdup("not run (no exec.started)");
	if (halt != SIZE_MAX)
		return fmt("halted [%s]%s", jstr(details(&lr->ev[halt]), "reason") ?: "?",
			   strcmp(phase_at(lr, halt), "validate") == 0 ? " in the validate step" : "");
	if (fail)
		return fmt("failed [%s]", jstr(details(fail), "reason") ?: "?");
	if (!fin)
		return cx_strdup("started, no exec.finished (interrupted, or still running)");
	if (!jint(details(fin), "exit_code", &v))
		return jint(details(fin), "signal", &v) ? fmt("killed by signal %lld", v)
							: cx_strdup("finished");
	if (vfin && jint(details(vfin), "exit_code", &v) && v != 0)
		return fmt("completed, exit 0; validate exited %lld", v);
	jint(details(fin), "exit_code", &v);
	return fmt("completed, exit %lld", v);
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
	r = fmt("%s; workspace %s", run,
		strcmp(ws, "committed") == 0 ? "committed" : strcmp(ws, "undone") == 0 ? "committed, later undone" : "rolled back");
	free(run);
	return r;
}

/* ---------------------------------------------------------------------
 * sections
 * --------------------------------------------------------------------- */

static void chain_status(report *rp)
{
	const cx_report_chain *c = rp->chain;
	char *s;

	if (c->intact) {
		s = fmt("Audit chain intact: all %llu events of the log verify (host-key signatures, hash chain, seq from 1); head %s. "
			"Lines cut from the end can only be detected against a head kept elsewhere (calyx-audit verify --expect-head).",
			(unsigned long long)c->lines, c->head);
		cx_rout_para(&rp->o, CX_ROUT_OK, s);
	} else if (c->bad_line) {
		s = fmt("AUDIT CHAIN FAILED at line %llu: %s. Events from line %llu on are not covered by the verification and are marked NOT VERIFIED: what they say may be forged.",
			(unsigned long long)c->bad_line, c->message, (unsigned long long)c->bad_line);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
	} else {
		s = fmt("AUDIT CHAIN FAILED: %s. No event in this report is verified.", c->message);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
	}
	free(s);
}

static void sec_overview(report *rp)
{
	static const char *const hdr[] = { "#", "lease id", "run id", "first event", "outcome" };
	char *s;

	if (rp->nrun > 1) {
		s = fmt("'%s' matches %zu leases (a run id used again with a new lease); each is reported below, in log order.",
			rp->id, rp->nrun);
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, s);
		free(s);
	}
	cx_rout_table_begin(&rp->o, hdr, 5);
	for (size_t i = 0; i < rp->nrun; i++) {
		const lease_run *lr = &rp->run[i];
		char *n = fmt("%zu", i + 1), *o = outcome(lr);
		const char *c[] = { n, lr->lease_id, lr->n ? jstr(lr->ev[0].j, "run_id") : NULL,
				    lr->n ? jstr(lr->ev[0].j, "time") : NULL, o };
		cx_rout_table_row(&rp->o, c, 5);
		free(n);
		free(o);
	}
	cx_rout_table_end(&rp->o);
	if (rp->dropped || rp->unparsed) {
		s = fmt("Not shown: %zu events past the report's cap of %d; %zu lines naming these leases that are not audit events (unparsable: tampered?).",
			rp->dropped, CX_REPORT_MAX_EVENTS, rp->unparsed);
		cx_rout_para(&rp->o, CX_ROUT_WARN, s);
		free(s);
	}
}

static void glance_chart(report *rp, const lease_run *lr);

static void sec_summary(report *rp, const lease_run *lr)
{
	const event *f = &lr->ev[0], *l = &lr->ev[lr->n - 1];
	cx_rout_heading(&rp->o, 3, "Summary");
	cx_rout_kv_begin(&rp->o);
	cx_rout_kv(&rp->o, "lease id", lr->lease_id);
	cx_rout_kv(&rp->o, "run id", jstr(f->j, "run_id"));
	cx_rout_kv_own(&rp->o, "outcome", outcome(lr));
	cx_rout_kv_own(&rp->o, "events", fmt("%zu (lines %llu to %llu)", lr->n, (unsigned long long)f->line,
				 (unsigned long long)l->line));
	cx_rout_kv_own(&rp->o, "from", fmt("%s to %s", jstr(f->j, "time"), jstr(l->j, "time")));
	cx_rout_table_end(&rp->o);
	if (rp->o.fmt == CX_REPORT_HTML)
		glance_chart(rp, lr);
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
	cx_rout_kv_own(&rp->o, "issued", unix_plain(json_object_get(b, "issued_at")));
	cx_rout_kv_own(&rp->o, "valid from", unix_plain(json_object_get(b, "not_before")));
	cx_rout_kv_own(&rp->o, "valid until", unix_plain(json_object_get(b, "not_after")));
	cx_rout_kv_own(&rp->o, "command (argv)", argv_plain(json_object_get(b, "argv")));
	cx_rout_kv(&rp->o, "cwd", jstr(b, "cwd") ?: "(default)");
	cx_rout_kv(&rp->o, "workspace (seen as /work)", jstr(b, "workspace") ?: "(none)");
	cx_rout_kv_own(&rp->o, "reads (paths.ro)", plain(json_object_get(paths, "ro")));
	cx_rout_kv_own(&rp->o, "writes (paths.rw)", plain(json_object_get(paths, "rw")));
	json_object_foreach((json_t *)env, k, v) {
		char *n = fmt("%s%s%s", names ? names : "", names ? ", " : "", k);
		free(names);
		names = n;
		if (strlen(names) > CX_ROUT_TEXT_MAX)
			break;
	}
	cx_rout_kv_own(&rp->o, "environment (names; values not shown)", names ? names : cx_strdup("(none)"));
	cx_rout_kv(&rp->o, "network", jstr(b, "network") ?: "none");
	cx_rout_kv(&rp->o, "stdin", jstr(b, "stdin") ?: "null");
	cx_rout_kv_own(&rp->o, "validate step", argv_plain(json_object_get(json_object_get(b, "validate"), "argv")));
	cx_rout_kv_own(&rp->o, "limits asked by the lease", plain(json_object_get(b, "limits")));
	cx_rout_kv_own(&rp->o, "limits in force (policy defaults filled in)", json_object_get(d, "limits")
			   ? plain(json_object_get(d, "limits")) : cx_strdup("(not recorded)"));
	if (jstr(b, "policy_sha256") && jstr(d, "policy_sha256") &&
	    strcmp(jstr(b, "policy_sha256"), jstr(d, "policy_sha256")) != 0)
		cx_rout_kv(&rp->o, "policy sha256 named by the lease (DIFFERS)", jstr(b, "policy_sha256"));
	kv_members(rp, b, shown); /* fields this report does not know yet */
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
	const event *v = first_of(lr, "lease.verified");
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
		cx_rout_kv_own(&rp->o, "lease body (not recorded)", plain(json_object_get(d, "lease_omitted")));
	else
		cx_rout_kv(&rp->o, "lease body", "not recorded in this log (written by a calyx-exec that did not record lease bodies)");
	cx_rout_kv(&rp->o, "policy sha256 (verified against)", jstr(d, "policy_sha256"));
	cx_rout_kv(&rp->o, "lease sha256 (the envelope file)", jstr(d, "lease_sha256"));
	for (size_t i = 0; i < lr->n; i++)
		presented += is_type(&lr->ev[i], "lease.verified");
	if (presented > 1)
		cx_rout_kv_own(&rp->o, "presented", fmt("%zu times (a lease runs once: later presentations are refused, see the timeline)",
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
		kv_members(rp, json_object_get(details(e), "layers"), NULL);
		kv_members(rp, details(e), skip);
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
		char *seq = plain(json_object_get(e->j, "seq")), *pid = plain(json_object_get(d, "pid")),
		     *ppid = plain(json_object_get(d, "ppid"));
		char *file = json_is_true(json_object_get(d, "exec_by_fd"))
				     ? fmt("%s (the leased command, executed by fd)", jstr(d, "filename") ?: "?")
				     : plain(json_object_get(d, "filename"));
		const char *c[] = { seq, jstr(e->j, "time"), phase, pid, ppid, file,
				    jstr(d, "argv_head") };
		cx_rout_table_row(&rp->o, c, 7);
		free(seq);
		free(pid);
		free(ppid);
		free(file);
	}
	if (n)
		cx_rout_table_end(&rp->o);
	else
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No exec.spawned event (no process was started, or the exec tracer was unavailable: see Layers in force).");
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		if (is_type(e, "exec.finished") && jint(details(e), "processes_started", &v)) {
			char *s = fmt("Phase %s: %lld processes started in all (the audit log lists each of the first 256).",
				      jstr(details(e), "phase") ?: "?", v);
			cx_rout_para(&rp->o, CX_ROUT_NORMAL, s);
			free(s);
		}
	}
}

typedef struct quota {
	const char *name;       /* as in resource.breach / run.halted */
	const char *usage_key;  /* in exec.finished details.usage */
	const char *limit_key;  /* in lease.verified details.limits */
	const char *unit;
} quota;

static const quota quotas[] = {
	{ "cpu", "cpu_ms", "cpu_ms", "ms" },
	{ "memory", "peak_memory_bytes", "memory_bytes", "bytes" },
	{ "pids", "pids_peak", "pids", "" },
	{ "wall", "wall_ms", "wall_ms", "ms" },
};

typedef struct qrow {
	long long used, limit; /* -1: not recorded */
	bool breached;
} qrow;

/* The quota a resource.breach or run.halted names, else NULL. */
static const char *breach_of(const event *e)
{
	if (is_type(e, "resource.breach"))
		return jstr(details(e), "quota");
	if (is_type(e, "run.halted"))
		return jstr(details(e), "reason");
	return NULL;
}

/* Limit of quota q: in force (lease.verified limits), else asked by the
 * lease, else as the breach named it; -1 when the log does not say. */
static long long limit_of(const lease_run *lr, const quota *q, size_t from, size_t to)
{
	const event *v = first_of(lr, "lease.verified");
	const json_t *d = v ? details(v) : NULL;
	long long l;

	if (jint(json_object_get(d, "limits"), q->limit_key, &l) ||
	    jint(json_object_get(json_object_get(d, "lease"), "limits"), q->limit_key, &l))
		return l;
	for (size_t i = from; i < to; i++) {
		const char *why = breach_of(&lr->ev[i]);
		if (why && strcmp(why, q->name) == 0 && jint(details(&lr->ev[i]), "limit", &l))
			return l;
	}
	return -1;
}

/* Rows for the exec.finished at index fi, whose phase began at index from. */
static void quota_rows(const lease_run *lr, size_t from, size_t fi, qrow *rows)
{
	const json_t *d = details(&lr->ev[fi]), *u = json_object_get(d, "usage");

	for (size_t k = 0; k < CX_ARRAY_SIZE(quotas); k++) {
		qrow *r = &rows[k];
		if (!jint(u, quotas[k].usage_key, &r->used) && !jint(d, quotas[k].usage_key, &r->used))
			r->used = -1;
		r->limit = limit_of(lr, &quotas[k], from, fi + 1);
		r->breached = false;
		for (size_t i = from; i <= fi; i++) {
			const char *why = breach_of(&lr->ev[i]);
			r->breached |= why && strcmp(why, quotas[k].name) == 0;
		}
	}
}

/* short: for the chart's labels (bytes in MiB only). */
static char *qty(const quota *q, long long v, bool short_)
{
	if (v < 0)
		return cx_strdup(short_ ? "?" : "(not recorded)");
	if (strcmp(q->unit, "bytes") == 0 && short_)
		return fmt("%.1f MiB", (double)v / 1048576.0);
	if (strcmp(q->unit, "bytes") == 0)
		return fmt("%lld bytes (%.1f MiB)", v, (double)v / 1048576.0);
	return fmt("%lld%s%s", v, q->unit[0] ? " " : "", q->unit);
}

static double pct(const qrow *r)
{
	return r->limit > 0 && r->used >= 0 ? 100.0 * (double)r->used / (double)r->limit : -1.0;
}

/* The chart: one bar per quota, usage as a share of its limit, red when
 * the run breached that quota (HTML only). */
static void chart(report *rp, const qrow *rows)
{
	cx_rout_bar bars[CX_ARRAY_SIZE(quotas)];
	char *labels[CX_ARRAY_SIZE(quotas)];

	for (size_t k = 0; k < CX_ARRAY_SIZE(quotas); k++) {
		const qrow *r = &rows[k];
		char *used = qty(&quotas[k], r->used, true), *lim = qty(&quotas[k], r->limit, true);
		labels[k] = pct(r) < 0 ? fmt("%s of limit %s", used, lim)
				       : fmt("%s of %s (%.1f%%)%s", used, lim, pct(r), r->breached ? " BREACHED" : "");
		bars[k] = (cx_rout_bar){ .name = quotas[k].name, .label = labels[k], .percent = pct(r),
					 .breached = r->breached };
		free(used);
		free(lim);
	}
	cx_rout_bars(&rp->o, bars, CX_ARRAY_SIZE(quotas));
	for (size_t k = 0; k < CX_ARRAY_SIZE(quotas); k++)
		free(labels[k]);
}

/* HTML: the command's usage chart at the top, for a look before reading. */
static void glance_chart(report *rp, const lease_run *lr)
{
	qrow rows[CX_ARRAY_SIZE(quotas)];
	size_t from = 0;

	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		if (is_type(e, "exec.started"))
			from = i;
		if (is_type(e, "exec.finished")) {
			cx_rout_para(&rp->o, CX_ROUT_NORMAL, "Usage against limits (the command; details under Usage vs limits):");
			quota_rows(lr, from, i, rows);
			chart(rp, rows);
			return;
		}
	}
}

static void usage_table(report *rp, const qrow *rows)
{
	static const char *const hdr[] = { "quota", "used", "limit", "of limit", "breached" };
	cx_rout_table_begin(&rp->o, hdr, 5);
	for (size_t k = 0; k < CX_ARRAY_SIZE(quotas); k++) {
		const qrow *r = &rows[k];
		char *used = qty(&quotas[k], r->used, false), *lim = qty(&quotas[k], r->limit, false);
		char *p = pct(r) < 0 ? cx_strdup("-") : fmt("%.1f%%", pct(r));
		const char *c[] = { quotas[k].name, used, lim, p, r->breached ? "BREACHED" : "no" };
		cx_rout_table_row(&rp->o, c, 5);
		free(used);
		free(lim);
		free(p);
	}
	cx_rout_table_end(&rp->o);
}

static void sec_usage(report *rp, const lease_run *lr)
{
	static const char *const skip[] = { "cpu_ms", "peak_memory_bytes", "pids_peak", "wall_ms", NULL };
	qrow rows[CX_ARRAY_SIZE(quotas)];
	size_t from = 0, shown = 0;

	cx_rout_heading(&rp->o, 3, "Usage vs limits");
	for (size_t i = 0; i < lr->n; i++) {
		const event *e = &lr->ev[i];
		if (is_type(e, "exec.started"))
			from = i;
		if (!is_type(e, "exec.finished"))
			continue;
		if (shown++ == PHASES_MAX) {
			cx_rout_para(&rp->o, CX_ROUT_WARN, "More exec.finished events than a run has: not shown (see the timeline).");
			break;
		}
		char *s = fmt("Phase %s (whole process tree):", jstr(details(e), "phase") ?: "?");
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, s);
		free(s);
		quota_rows(lr, from, i, rows);
		chart(rp, rows);
		usage_table(rp, rows);
		cx_rout_kv_begin(&rp->o);
		kv_members(rp, json_object_get(details(e), "usage"), skip);
		cx_rout_table_end(&rp->o);
	}
	if (!shown)
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No exec.finished event: no usage was recorded.");
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
	cx_rout_kv_own(&rp->o, "seq", plain(json_object_get(e->j, "seq")));
	cx_rout_kv(&rp->o, "time", jstr(e->j, "time"));
	kv_members(rp, details(e), NULL);
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
		cx_rout_kv_own(&rp->o, "seq", plain(json_object_get(e->j, "seq")));
		cx_rout_kv(&rp->o, "time", jstr(e->j, "time"));
		if (jint(d, "added", &n))
			cx_rout_kv_own(&rp->o, "added", fmt("%lld", n));
		if (jint(d, "changed", &n))
			cx_rout_kv_own(&rp->o, "modified", fmt("%lld", n));
		if (jint(d, "deleted", &n))
			cx_rout_kv_own(&rp->o, "deleted", fmt("%lld", n));
		kv_members(rp, d, skip);
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
		char *seq = plain(json_object_get(e->j, "seq")), *line = fmt("%llu", (unsigned long long)e->line);
		char *d = clip(dump_any(details(e)), DETAILS_MAX);
		const char *c[] = { seq, line, jstr(e->j, "time"), etype(e), d,
				    line_verified(rp, e->line) ? "verified" : "NOT VERIFIED" };
		cx_rout_table_row(&rp->o, c, 6);
		free(seq);
		free(line);
		free(d);
	}
	cx_rout_table_end(&rp->o);
}

static void render_run(report *rp, size_t idx)
{
	const lease_run *lr = &rp->run[idx];
	char *h = fmt("Lease %zu of %zu: %s (run %s)", idx + 1, rp->nrun, lr->lease_id,
		      jstr(lr->ev[0].j, "run_id") ?: "?");
	cx_rout_heading(&rp->o, 2, h);
	free(h);
	sec_summary(rp, lr);
	sec_lease(rp, lr);
	sec_layers(rp, lr);
	sec_processes(rp, lr);
	sec_usage(rp, lr);
	sec_halt(rp, lr);
	sec_workspace(rp, lr);
	sec_timeline(rp, lr);
}

static void render(report *rp)
{
	char *title = fmt("calyx run report: %s", rp->id), *gen;
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
	gen = fmt("Generated by calyx-audit %s at %s from the audit log alone.", CX_VERSION, ts);
	cx_rout_para(&rp->o, CX_ROUT_NORMAL, gen);
	cx_rout_end(&rp->o);
	free(title);
	free(gen);
}

/* ---------------------------------------------------------------------
 * entry points
 * --------------------------------------------------------------------- */

void cx_report_chain_from(int r, const cx_audit_report *rep, const cx_error *verr,
			  cx_report_chain *ret)
{
	unsigned long long line = 0;
	const char *msg = verr->msg;
	int n = 0;

	memset(ret, 0, sizeof(*ret));
	if (r >= 0) {
		ret->intact = true;
		ret->lines = rep->lines;
		memcpy(ret->head, rep->head, sizeof(ret->head));
		return;
	}
	/* cx_audit_verify names the first bad line as "audit log: line N: …"
	 * (or "… line N is torn …"): the number is kept, and the prefix left
	 * out of the message when the report says "at line N" itself. */
	if (sscanf(msg, "audit log: line %llu%n", &line, &n) == 1 && line > 0) {
		ret->bad_line = line;
		if (msg[n] == ':' && msg[n + 1] == ' ')
			msg += n + 2;
	}
	snprintf(ret->message, sizeof(ret->message), "%s", msg);
}

static int set_needles(report *rp, cx_error *err)
{
	size_t n = strlen(rp->id);
	json_t *s = json_string(rp->id);
	if (!s)
		return cx_err(err, CX_E_USAGE, EINVAL, "run id is not valid UTF-8");
	rp->needle_run = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	json_decref(s);
	CX_CHECK(rp->needle_run);
	if (n >= 6 && n <= 32 && cx_is_lower_hex(rp->id, n))
		snprintf(rp->needle_lease, sizeof(rp->needle_lease), "\"%s", rp->id);
	return 0;
}

static void report_free(report *rp)
{
	for (size_t i = 0; i < rp->nrun; i++) {
		for (size_t k = 0; k < rp->run[i].n; k++)
			json_decref(rp->run[i].ev[k].j);
		free(rp->run[i].ev);
	}
	free(rp->needle_run);
}

static int no_match(const report *rp, cx_error *err)
{
	const char *chain = rp->chain->intact ? "the audit chain is intact" : "the audit chain FAILED verification";
	if (rp->too_many)
		return cx_err(err, CX_E_USAGE, E2BIG,
			      "'%.128s' matches more than %d leases (%s); pass one lease id (calyx-audit show LOG --run '%.128s' lists them)",
			      rp->id, CX_REPORT_MAX_LEASES, chain, rp->id);
	return cx_err(err, CX_E_USAGE, ENOENT,
		      "no event has run id or lease id '%.128s' (%s; calyx-audit show LOG lists the runs)",
		      rp->id, chain);
}

int cx_report_render(const uint8_t *log, size_t len, const char *id,
		     const cx_report_chain *chain, cx_report_format format, char **ret_buf,
		     size_t *ret_len, cx_error *err)
{
	report rp = { .o = { .fmt = format }, .id = id, .chain = chain };
	char *buf = NULL;
	size_t blen = 0;
	int r;

	r = set_needles(&rp, err);
	if (r < 0)
		return r;
	each_line(&rp, log, len, find_leases);
	if (rp.nrun)
		each_line(&rp, log, len, collect);
	if (rp.too_many || !rp.nevents) {
		r = no_match(&rp, err);
		report_free(&rp);
		return r;
	}
	/* a lease found in pass 1 has events in pass 2, unless the event
	 * cap was reached first: report only leases with events */
	size_t kept = 0;
	for (size_t i = 0; i < rp.nrun; i++)
		if (rp.run[i].n)
			rp.run[kept++] = rp.run[i];
		else
			free(rp.run[i].ev);
	rp.nrun = kept;
	rp.o.out = open_memstream(&buf, &blen);
	CX_CHECK(rp.o.out);
	render(&rp);
	CX_CHECK(!ferror(rp.o.out));
	fclose(rp.o.out);
	report_free(&rp);
	*ret_buf = buf;
	*ret_len = blen;
	return 0;
}
