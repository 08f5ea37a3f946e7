/* calyx-audit report: values from the log (JSON) as plain strings for
 * people. Nothing here is markup: report_out.c escapes each string when it
 * is written, and bounds it; here only how a value reads is decided
 * (numbers, dates, argv quoted so no argument can pass for two).
 * Every string returned is malloc'd and never NULL (allocation failure
 * aborts).
 * Trust: pure; every value is untrusted log text. */
#include "report_internal.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "calyx/audit.h"
#include "calyx/lease.h"

/* A text value (docs/audit-events.md) for a plain report cell. report_out.c
 * escapes what it writes (calyx/esc.h: a byte that is not UTF-8 as \xHH,
 * a backslash as \\), so a value that is not UTF-8 goes there as its own
 * bytes, not in cx_audit_text_plain's already-escaped spelling, which would
 * be escaped twice and then read as a backslash followed by "xff". NULL
 * when v is not a text value. */
static char *text_cell(const json_t *v)
{
	_cleanup_(cx_audit_textval_free) cx_audit_textval t = { 0 };
	if (cx_audit_text_decode(v, &t) < 0)
		return NULL;
	if (memchr(t.bytes, 0, t.len)) /* not a C string: the escaped spelling */
		return cx_audit_text_plain(v);
	json_t *probe = json_stringn((const char *)t.bytes, t.len); /* NULL: not UTF-8 */
	bool utf8 = probe != NULL;
	json_decref(probe);
	if (t.truncated && t.whole_len >= 0)
		return cx_strf("%s… [cut at %zu of %lld bytes]%s", (const char *)t.bytes, t.len,
			       (long long)t.whole_len, utf8 ? "" : " [not UTF-8]");
	if (t.truncated)
		return cx_strf("%s… [cut at %zu bytes]%s", (const char *)t.bytes, t.len,
			       utf8 ? "" : " [not UTF-8]");
	return cx_strf("%s%s", (const char *)t.bytes, utf8 ? "" : " [not UTF-8]");
}

/* Cut s (malloc'd) to at most max bytes on a UTF-8 boundary, marking the cut. */
char *rep_clip(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return s;
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	char *r = cx_strf("%.*s… (%zu bytes)", (int)max, s, n);
	free(s);
	return r;
}

/* Any JSON value (a tampered log may put a string where an object was)
 * as compact JSON, its text values decoded (cx_audit_details_plain). */
char *rep_dump_any(const json_t *v)
{
	json_t *p = v ? cx_audit_details_plain(v) : NULL;
	char *s = p ? json_dumps(p, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) : NULL;
	json_decref(p);
	return s ? s : cx_strdup("-");
}

/* An object that is a text value (a name or argument that is not UTF-8,
 * or was cut): shown decoded, as text. */
static bool is_text_value(const json_t *v)
{
	cx_audit_textval t;
	if (cx_audit_text_decode(v, &t) < 0)
		return false;
	cx_audit_textval_free(&t);
	return true;
}

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
			item = (json_is_object(x) && !is_text_value(x)) || json_is_array(x) ? rep_dump_any(x)
											    : rep_plain(x);
			next = cx_strf("%s%s%s=%s", acc, i++ ? ", " : "", k, item);
			free(item);
			free(acc);
			acc = next;
		}
		return acc;
	}
	json_array_foreach(v, i, x) {
		if (strlen(acc) > CX_ROUT_TEXT_MAX)
			break;
		item = (json_is_object(x) && !is_text_value(x)) || json_is_array(x) ? rep_dump_any(x)
										    : rep_plain(x);
		next = cx_strf("%s%s%s", acc, i ? ", " : "", item);
		free(item);
		free(acc);
		acc = next;
	}
	return acc;
}

/* A JSON value as plain text for people (escaped later, at output). */
char *rep_plain(const json_t *v)
{
	if (!v)
		return cx_strdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return cx_strdup(json_string_value(v));
	case JSON_INTEGER:
		return cx_strf("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return cx_strf("%.3f", json_real_value(v));
	case JSON_TRUE:
		return cx_strdup("yes");
	case JSON_FALSE:
		return cx_strdup("no");
	case JSON_ARRAY:
		return json_array_size(v) ? join_plain(v, false) : cx_strdup("(none)");
	case JSON_OBJECT: {
		char *t = text_cell(v); /* a text value */
		if (t)
			return t;
		return json_object_size(v) ? join_plain(v, true) : cx_strdup("(none)");
	}
	case JSON_NULL:
		return cx_strdup("null");
	}
	return cx_strdup("?");
}

/* argv as JSON strings separated by spaces: unambiguous about where each
 * argument begins and ends, whatever it contains. */
char *rep_argv_plain(const json_t *a)
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
		/* a text value (not UTF-8, or cut) quoted as its plain form */
		char *t = json_is_object(x) ? cx_audit_text_plain(x) : NULL;
		json_t *ts = t ? json_string(t) : NULL;
		char *q = json_dumps(ts ? ts : x, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		json_decref(ts);
		free(t);
		CX_CHECK(q);
		next = cx_strf("%s%s%s", acc, i ? " " : "", q);
		free(q);
		free(acc);
		acc = next;
	}
	return acc;
}

/* Unix seconds as a UTC date, with the number. */
char *rep_unix_plain(const json_t *v)
{
	long long t;
	struct tm tm;
	char buf[64];

	if (!json_is_integer(v))
		return rep_plain(v);
	t = (long long)json_integer_value(v);
	time_t tt = (time_t)t;
	if (t < 0 || t > CX_LEASE_TIME_MAX || !gmtime_r(&tt, &tm))
		return cx_strf("%lld", t);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return cx_strf("%s (%lld)", buf, t);
}

/* Every member of a details object, generically (keys are log text too). */
void rep_kv_members(report *rp, const json_t *o, const char *const *skip)
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
		cx_rout_kv_own(&rp->o, k, rep_plain(v));
	}
}
