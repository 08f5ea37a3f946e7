/* Private to calyx-rollout report (executor/rollout_report*.c).
 *
 * Files, by concern:
 *   rollout_report.c       entry point; the page: banner, counts, why not
 *                          shipped, the rollout, control history
 *   rollout_report_tier.c  one tier: phases, timeline (SVG), hosts, checks
 *   rollout_report_text.c  the view's members read with checks; plain
 *                          strings (times, durations, argv, states)
 *
 * Invariants: text is written only through executor/audit/report_out.h
 * (cx_rout_text and the tables), which escapes it; cx_rout_raw and
 * cx_rout_rawf get literals and numbers only. A view member missing or of
 * the wrong type reads as NULL / false / -1 here and "unknown" on the page.
 * Trust: pure; the view is untrusted. */
#ifndef CALYX_EXECUTOR_ROLLOUT_REPORT_INTERNAL_H
#define CALYX_EXECUTOR_ROLLOUT_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "audit/report_out.h"
#include "calyx/common.h"
#include "calyx/rollout.h"
#include "rollout_report.h"

#define UNKNOWN "unknown"
#define SVG_ROWS_MAX 60    /* hosts drawn in one tier's timeline */
#define GROUP_NAMES_MAX 12 /* host names listed in one "why not" line */
#define ARGV_MAX 64        /* arguments of the command shown */

typedef struct page {
	cx_rout o;
	bool html;
	const json_t *v; /* the view (any JSON value, or NULL) */
} page;

/* ---- the view's members (rollout_report_text.c) ---------------------------- */

/* Member k of o, NULL when o is not an object or has none. */
const json_t *rr_member(const json_t *o, const char *k);
/* A string member, or NULL; rr_str_or: or "unknown". */
const char *rr_str(const json_t *o, const char *k);
const char *rr_str_or(const json_t *o, const char *k);
/* An integer member within lo..hi. */
bool rr_num(const json_t *o, const char *k, long long lo, long long hi, long long *ret);
/* The same as a string in buf, or "unknown". */
const char *rr_num_s(const json_t *o, const char *k, long long lo, long long hi, char buf[32]);
/* A time member: UNIX seconds, 0..CX_LEASE_TIME_MAX. */
bool rr_when(const json_t *o, const char *k, long long *ret);
/* A boolean member: 1 true, 0 false, -1 unknown. */
int rr_tri(const json_t *o, const char *k);
/* Length of a, at most max; 0 when a is not an array. */
size_t rr_arr_n(const json_t *a, size_t max);
/* Tier i of the view / host i of a tier, NULL when not an object. */
const json_t *rr_tier_at(const page *p, size_t i);
const json_t *rr_host_at(const json_t *tier, size_t i);

/* ---- plain strings ------------------------------------------------------------ */

/* "YYYY-MM-DD HH:MM:SS" (UTC). */
void rr_date_s(long long t, char buf[32]);
/* Time member k as a date into buf; "unknown" when of the wrong type,
 * none when absent or null. */
const char *rr_at_s(const json_t *o, const char *k, char buf[32], const char *none);
/* "45 s", "3 min 05 s", "2 h 04 min"; "unknown" when s < 0. */
void rr_dur_s(long long s, char buf[32]);
/* Duration from member a to member b, "-" when either is unknown. */
const char *rr_span_s(const json_t *o, const char *a, const char *b, char buf[32]);
/* s cut to at most max bytes on a UTF-8 boundary (malloc'd). */
char *rr_clip(const char *s, size_t max);
/* argv as JSON strings separated by spaces (malloc'd). */
char *rr_argv_s(const json_t *a);

/* ---- states --------------------------------------------------------------------- */

/* A host state's class (ok, bad, run, unk), its symbol (so state never
 * rests on colour alone), what it means when the view gives no why_not,
 * and its colour in the bars. All static strings. */
const char *rr_state_cls(const char *s);
const char *rr_state_sym(const char *s);
const char *rr_state_why(const char *s);
const char *rr_bar_colour(const char *state);

/* ---- parts ------------------------------------------------------------------------ */

/* Tier i's section (rollout_report_tier.c). */
void rr_tier(page *p, size_t ti);

#endif
