/* calyx-rollout report: the view's members read with type and range
 * checks (missing or wrong-typed: NULL, false, -1, "unknown"), and the
 * plain strings the page is made of (times, durations, argv, states). No
 * markup here: every string goes to report_out.h's writer, which escapes
 * it. Every string returned is malloc'd or static as said; allocation
 * failure aborts.
 * Trust: pure; the view is untrusted. */
#include "rollout_report_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calyx/lease.h"

/* ---- the view's members, checked ---------------------------------------- */

const json_t *rr_member(const json_t *o, const char *k)
{
	return json_is_object(o) ? json_object_get(o, k) : NULL;
}

const char *rr_str(const json_t *o, const char *k)
{
	return json_string_value(rr_member(o, k));
}

const char *rr_str_or(const json_t *o, const char *k)
{
	const char *s = rr_str(o, k);
	return s ? s : UNKNOWN;
}

bool rr_num(const json_t *o, const char *k, long long lo, long long hi, long long *ret)
{
	const json_t *v = rr_member(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*ret = (long long)json_integer_value(v);
	return true;
}

bool rr_when(const json_t *o, const char *k, long long *ret)
{
	return rr_num(o, k, 0, CX_LEASE_TIME_MAX, ret);
}

const char *rr_num_s(const json_t *o, const char *k, long long lo, long long hi, char buf[32])
{
	long long n;
	if (!rr_num(o, k, lo, hi, &n))
		return UNKNOWN;
	snprintf(buf, 32, "%lld", n);
	return buf;
}

/* 1 true, 0 false, -1 unknown (null, missing, not a boolean). */
int rr_tri(const json_t *o, const char *k)
{
	const json_t *v = rr_member(o, k);
	return json_is_true(v) ? 1 : json_is_false(v) ? 0 : -1;
}

size_t rr_arr_n(const json_t *a, size_t max)
{
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	return n < max ? n : max;
}

/* ---- plain strings ------------------------------------------------------- */

void rr_date_s(long long t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, 32, "%lld", t);
}

/* The time of member k as "YYYY-MM-DD HH:MM:SS", or "unknown"/"-". */
const char *rr_at_s(const json_t *o, const char *k, char buf[32], const char *none)
{
	long long t;
	if (!rr_when(o, k, &t))
		return rr_member(o, k) && !json_is_null(rr_member(o, k)) ? UNKNOWN : none;
	rr_date_s(t, buf);
	return buf;
}

void rr_dur_s(long long s, char buf[32])
{
	if (s < 0)
		snprintf(buf, 32, UNKNOWN);
	else if (s < 60)
		snprintf(buf, 32, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, 32, "%lld min %02lld s", s / 60, s % 60);
	else
		snprintf(buf, 32, "%lld h %02lld min", s / 3600, s % 3600 / 60);
}

/* Duration between members a and b of o, or "-" when either is unknown. */
const char *rr_span_s(const json_t *o, const char *a, const char *b, char buf[32])
{
	long long x, y;
	if (!rr_when(o, a, &x) || !rr_when(o, b, &y) || y < x)
		return "-";
	rr_dur_s(y - x, buf);
	return buf;
}

/* s cut to at most max bytes on a UTF-8 boundary, "…" marking the cut. */
char *rr_clip(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return cx_strdup(s);
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return cx_strf("%.*s…", (int)max, s);
}

/* argv as JSON strings separated by spaces (no argument can pass for two). */
char *rr_argv_s(const json_t *a)
{
	size_t n = rr_arr_n(a, ARGV_MAX);
	char *acc, *next;

	if (!n)
		return cx_strdup(json_is_array(a) ? "(none)" : UNKNOWN);
	acc = cx_strdup("");
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		char *q = json_is_string(x) ? json_dumps(x, JSON_ENCODE_ANY) : cx_strdup(UNKNOWN);
		CX_CHECK(q);
		next = cx_strf("%s%s%s", acc, i ? " " : "", q);
		free(q);
		free(acc);
		acc = next;
	}
	if (json_array_size(a) > n) {
		next = cx_strf("%s … (%zu arguments)", acc, json_array_size(a));
		free(acc);
		acc = next;
	}
	return acc;
}

/* ---- states --------------------------------------------------------------- */

/* Tier and host of the view, bounded; NULL when not an object. */
const json_t *rr_tier_at(const page *p, size_t i)
{
	const json_t *t = json_array_get(rr_member(p->v, "tiers"), i);
	return json_is_object(t) ? t : NULL;
}

const json_t *rr_host_at(const json_t *tier, size_t i)
{
	const json_t *h = json_array_get(rr_member(tier, "hosts"), i);
	return json_is_object(h) ? h : NULL;
}

/* ---- states ------------------------------------------------------------------ */

/* A host state's table class and the symbol beside its name (so the
 * state never rests on colour alone). */
const char *rr_state_cls(const char *s)
{
	if (!s)
		return "unk";
	if (strcmp(s, "committed") == 0)
		return "ok";
	if (strcmp(s, "failed") == 0 || strcmp(s, "halted") == 0 || strcmp(s, "lost") == 0 || strcmp(s, "rolled_back") == 0)
		return "bad";
	if (strcmp(s, "running") == 0 || strcmp(s, "claimed") == 0)
		return "run";
	return "unk";
}

const char *rr_state_sym(const char *s)
{
	const char *c = rr_state_cls(s);
	return strcmp(c, "ok") == 0 ? "✓" : strcmp(c, "bad") == 0 ? "✗" : strcmp(c, "run") == 0 ? "▶" : "…";
}

/* What a host's state means, when the view gives no why_not. */
const char *rr_state_why(const char *s)
{
	static const char *const w[][2] = {
		{ "waiting", "not started: its tier has not opened yet" },
		{ "claimed", "in progress: claimed, not finished yet" },
		{ "running", "in progress: running, not finished yet" },
		{ "failed", "the run failed: read its result above and its audit report on the host" },
		{ "halted", "halted before it finished: the rollout or the host halted the run" },
		{ "lost", "the host stopped answering (liveness expired): check its calyx-agent" },
		{ "rolled_back", "its change was rolled back" },
	};
	for (size_t i = 0; s && i < CX_ARRAY_SIZE(w); i++)
		if (strcmp(s, w[i][0]) == 0)
			return w[i][1];
	return "its state is unknown";
}

const char *rr_bar_colour(const char *state)
{
	static const char *const c[][2] = {
		{ "committed", "#2e7d32" }, { "failed", "#c62828" }, { "halted", "#d84315" },
		{ "rolled_back", "#6a1b9a" }, { "lost", "#616161" }, { "running", "#1565c0" },
		{ "claimed", "#1565c0" },
	};
	for (size_t i = 0; state && i < CX_ARRAY_SIZE(c); i++)
		if (strcmp(state, c[i][0]) == 0)
			return c[i][1];
	return "#757575";
}
