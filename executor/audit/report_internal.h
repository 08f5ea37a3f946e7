/* Private to calyx-audit report (executor/audit/report*.c): the events
 * kept for each matching lease, and what the report's parts share.
 *
 * Files, by concern:
 *   report.c           entry points; reading the log: which leases match,
 *                      which events are theirs (the bounds on input)
 *   report_text.c      values from the log (JSON) as plain strings
 *   report_sections.c  what happened to a lease; the report's sections
 *   report_usage.c     usage against limits: quotas, limits, the chart
 *   report_out.c       escaping and markup (report_out.h), the only writer
 *
 * Invariants: no file but report_out.c writes markup; the others build
 * plain strings and hand them to cx_rout_*. Every string the rep_*
 * helpers return is malloc'd (the caller frees it), never NULL.
 * Trust: pure; every event is untrusted log text. */
#ifndef CALYX_EXECUTOR_REPORT_INTERNAL_H
#define CALYX_EXECUTOR_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "report.h"
#include "report_out.h"

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

/* ---- an event's members (a kept event has string type and time) -------- */

static inline const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static inline bool jint(const json_t *o, const char *k, long long *ret)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		return false;
	*ret = (long long)json_integer_value(v);
	return true;
}

static inline const json_t *details(const event *e)
{
	return json_object_get(e->j, "details");
}

static inline const char *etype(const event *e)
{
	return jstr(e->j, "type");
}

static inline bool is_type(const event *e, const char *t)
{
	return strcmp(etype(e), t) == 0;
}

/* ---- plain strings (report_text.c) ------------------------------------- */

/* Cut s (malloc'd, taken) to at most max bytes on a UTF-8 boundary. */
char *rep_clip(char *s, size_t max);
/* Any JSON value as compact JSON; "-" for none. */
char *rep_dump_any(const json_t *v);
/* A JSON value as plain text for people; "-" for none. */
char *rep_plain(const json_t *v);
/* argv as JSON strings separated by spaces; "(none)" if not an array. */
char *rep_argv_plain(const json_t *a);
/* Unix seconds as a UTC date, with the number. */
char *rep_unix_plain(const json_t *v);
/* Every member of o but those in skip (NULL-terminated) as kv rows, at
 * most ROWS_MAX. */
void rep_kv_members(report *rp, const json_t *o, const char *const *skip);

/* ---- sections (report_sections.c, report_usage.c) ---------------------- */

/* The first event of this type, or NULL. */
const event *rep_first_of(const lease_run *lr, const char *type);
/* HTML: the command's usage chart, for the Summary. */
void rep_glance_chart(report *rp, const lease_run *lr);
/* The "Usage vs limits" section. */
void rep_sec_usage(report *rp, const lease_run *lr);
/* The whole document, to rp->o. */
void rep_render(report *rp);

#endif
