/* calyx-audit report: usage against limits. For each phase (the command,
 * the validate step) the usage its exec.finished recorded, each quota's
 * limit as the log records it (in force, else asked, else as a breach
 * named it), whether the run breached it; as a table and, in HTML, a bar
 * chart.
 * Trust: pure; every number is untrusted log text (a missing or mistyped
 * one is shown as not recorded, never guessed). */
#include "report_internal.h"

#include <string.h>

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
	const event *v = rep_first_of(lr, "lease.verified");
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
		return cx_strf("%.1f MiB", (double)v / 1048576.0);
	if (strcmp(q->unit, "bytes") == 0)
		return cx_strf("%lld bytes (%.1f MiB)", v, (double)v / 1048576.0);
	return cx_strf("%lld%s%s", v, q->unit[0] ? " " : "", q->unit);
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
		labels[k] = pct(r) < 0 ? cx_strf("%s of limit %s", used, lim)
				       : cx_strf("%s of %s (%.1f%%)%s", used, lim, pct(r), r->breached ? " BREACHED" : "");
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
void rep_glance_chart(report *rp, const lease_run *lr)
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
		char *p = pct(r) < 0 ? cx_strdup("-") : cx_strf("%.1f%%", pct(r));
		const char *c[] = { quotas[k].name, used, lim, p, r->breached ? "BREACHED" : "no" };
		cx_rout_table_row(&rp->o, c, 5);
		free(used);
		free(lim);
		free(p);
	}
	cx_rout_table_end(&rp->o);
}

void rep_sec_usage(report *rp, const lease_run *lr)
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
		char *s = cx_strf("Phase %s (whole process tree):", jstr(details(e), "phase") ?: "?");
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, s);
		free(s);
		quota_rows(lr, from, i, rows);
		chart(rp, rows);
		usage_table(rp, rows);
		cx_rout_kv_begin(&rp->o);
		rep_kv_members(rp, json_object_get(details(e), "usage"), skip);
		cx_rout_table_end(&rp->o);
	}
	if (!shown)
		cx_rout_para(&rp->o, CX_ROUT_NORMAL, "No exec.finished event: no usage was recorded.");
}
