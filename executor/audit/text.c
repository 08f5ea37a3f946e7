/* Text values: strings from outside calyx (the kernel, the run, the lease,
 * file names, messages) in an audit event's details, kept losslessly.
 * The format is in calyx/audit.h and docs/audit-events.md ("Text values").
 *
 * Invariants: the encoders take any bytes and never fail (allocation
 * failure aborts), so building details cannot fail on hostile text; what
 * they make decodes to exactly the bytes they were given, except that a
 * value cut by its producer loses the partial character at the cut (and
 * says it was cut); the decoder accepts exactly the encoders' spellings,
 * one per value, so a tampered spelling is refused, not guessed at.
 * Trust: pure. The encoders' input is hostile; so is the decoder's (log
 * text, possibly edited). */
#include "calyx/audit.h"

#include <stdlib.h>
#include <string.h>

#include "calyx/codec.h"

/* The valid UTF-8 sequence at p (n > 0 bytes there): its length, or 0.
 * With 0, *partial says whether the bytes up to the end are a proper
 * prefix of a valid sequence (a character cut by the end). The rules are
 * jansson's: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const uint8_t *p, size_t n, bool *partial)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t need;

	*partial = false;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	for (size_t i = 1; i < need; i++) {
		if (i == n) {
			*partial = true;
			return 0;
		}
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return need;
}

/* Whether p[0..n) can be a JSON string here: UTF-8 and no NUL (the log's
 * readers refuse \u0000). */
static bool plain_ok(const uint8_t *p, size_t n)
{
	bool partial;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i, &partial);
		if (k == 0 || p[i] == 0)
			return false;
		i += k;
	}
	return true;
}

/* n, less a partial character at the end. */
static size_t cut_boundary(const uint8_t *p, size_t n)
{
	bool partial;
	for (size_t k = 1; k <= 3 && k <= n; k++)
		if (utf8_seq(p + n - k, k, &partial) == 0 && partial)
			return n - k;
	return n;
}

json_t *cx_audit_textn(const void *buf, size_t len, bool cut, uint64_t whole_len)
{
	const uint8_t *p = len ? buf : (const uint8_t *)"";
	size_t keep = cut ? cut_boundary(p, len) : len;
	json_t *s = NULL, *o;

	/* Text cut inside a character loses that partial character (a cut is
	 * on a boundary); bytes that are not UTF-8 anyway are kept, all of
	 * them: there is no character to respect, and dropping bytes to make
	 * a spelling unique could drop many. */
	if (plain_ok(p, keep))
		s = json_stringn((const char *)p, keep);
	if (s)
		len = keep;
	if (s && !cut)
		return s;
	o = json_object();
	CX_CHECK(o);
	if (s) {
		CX_CHECK(json_object_set_new(o, "text", s) == 0);
	} else {
		char *b = malloc(cx_b64_len(len) + 1);
		CX_CHECK(b);
		cx_b64_encode(p, len, b);
		CX_CHECK(json_object_set_new(o, "b64", json_string(b)) == 0);
		free(b);
	}
	if (cut) {
		CX_CHECK(json_object_set_new(o, "truncated", json_true()) == 0);
		if (whole_len > len && whole_len <= INT64_MAX)
			CX_CHECK(json_object_set_new(o, "bytes", json_integer((json_int_t)whole_len)) == 0);
	}
	return o;
}

json_t *cx_audit_text(const char *s)
{
	return cx_audit_textn(s ? s : "", s ? strlen(s) : 0, false, 0);
}

json_t *cx_audit_argv(const void *area, size_t len, uint64_t whole_len)
{
	const uint8_t *p = area;
	json_t *a = json_array();
	size_t i = 0;

	CX_CHECK(a);
	while (i < len) {
		const uint8_t *nul = memchr(p + i, 0, len - i);
		size_t n = nul ? (size_t)(nul - (p + i)) : len - i;
		/* no NUL before the end: the last argument, cut if there is more */
		bool cut = !nul && whole_len > len;
		CX_CHECK(json_array_append_new(a, cx_audit_textn(p + i, n, cut, 0)) == 0);
		i += n + 1;
	}
	return a;
}

json_t *cx_audit_argv_line(const void *area, size_t len, uint64_t whole_len)
{
	bool cut = whole_len > len;
	uint8_t *b = malloc(len + 1);
	json_t *v;

	CX_CHECK(b);
	if (len)
		memcpy(b, area, len);
	if (!cut && len && b[len - 1] == 0)
		len--; /* the last argument's own NUL */
	for (size_t i = 0; i < len; i++)
		if (b[i] == 0)
			b[i] = ' ';
	v = cx_audit_textn(b, len, cut, whole_len ? whole_len - 1 : 0);
	free(b);
	return v;
}

bool cx_audit_argv_ambiguous(const void *area, size_t len)
{
	const uint8_t *p = area;
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == ' ' || (p[i] == 0 && i == start))
			return true;
		if (p[i] == 0)
			start = i + 1;
	}
	return false;
}

void cx_audit_textval_free(cx_audit_textval *t)
{
	free(t->bytes);
	t->bytes = NULL;
}

static bool only_keys(const json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			ok |= strcmp(k, allowed[i]) == 0;
		if (!ok)
			return false;
	}
	return true;
}

/* The object form: {"text"|"b64", "truncated"?, "bytes"?}, canonical. */
static int decode_object(const json_t *v, cx_audit_textval *t)
{
	static const char *const keys[] = { "text", "b64", "truncated", "bytes", NULL };
	const json_t *text = json_object_get(v, "text"), *b64 = json_object_get(v, "b64");
	const json_t *tr = json_object_get(v, "truncated"), *by = json_object_get(v, "bytes");

	if (!only_keys(v, keys) || !text == !b64 || (tr && !json_is_true(tr)) ||
	    (by && (!tr || !json_is_integer(by))))
		return -EINVAL;
	t->truncated = tr != NULL;
	if (text) {
		/* a string is only ever an object when it was cut */
		if (!json_is_string(text) || !tr)
			return -EINVAL;
		t->len = json_string_length(text);
		t->bytes = malloc(t->len + 1);
		CX_CHECK(t->bytes);
		memcpy(t->bytes, json_string_value(text), t->len);
		if (!plain_ok(t->bytes, t->len))
			return -EINVAL;
	} else {
		const char *s = json_string_value(b64);
		size_t sl = s ? json_string_length(b64) : 0, max = sl / 4 * 3;
		long n;
		if (!s)
			return -EINVAL;
		t->bytes = malloc(max + 1);
		CX_CHECK(t->bytes);
		n = cx_b64_decode(s, sl, t->bytes, 0, max);
		/* bytes that could have been a string are never base64 */
		if (n < 0 || plain_ok(t->bytes, (size_t)n))
			return -EINVAL;
		t->len = (size_t)n;
	}
	/* cut bytes that are UTF-8 once their partial last character goes
	 * are a "text" */
	if (b64 && t->truncated && plain_ok(t->bytes, cut_boundary(t->bytes, t->len)))
		return -EINVAL;
	if (by) {
		json_int_t w = json_integer_value(by);
		if (w < 0 || (uint64_t)w <= t->len)
			return -EINVAL;
		t->whole_len = w;
	}
	return 0;
}

int cx_audit_text_decode(const json_t *v, cx_audit_textval *ret)
{
	cx_audit_textval t = { .whole_len = -1 };
	int r;

	if (json_is_string(v)) {
		t.len = json_string_length(v);
		t.bytes = malloc(t.len + 1);
		CX_CHECK(t.bytes);
		memcpy(t.bytes, json_string_value(v), t.len);
		r = plain_ok(t.bytes, t.len) ? 0 : -EINVAL;
	} else {
		r = json_is_object(v) ? decode_object(v, &t) : -EINVAL;
	}
	if (r < 0) {
		cx_audit_textval_free(&t);
		return r;
	}
	t.bytes[t.len] = 0;
	*ret = t;
	return 0;
}

/* A growing string (for the plain form). */
typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
	if (!b->p || b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		CX_CHECK(b->p);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

char *cx_audit_text_plain(const json_t *v)
{
	cx_audit_textval t;
	sbuf b = { 0 };
	bool raw;
	char tail[96];

	if (cx_audit_text_decode(v, &t) < 0)
		return NULL;
	raw = !plain_ok(t.bytes, t.len);
	put(&b, raw ? "" : (const char *)t.bytes, raw ? 0 : t.len);
	for (size_t i = 0; raw && i < t.len;) {
		bool partial;
		size_t k = utf8_seq(t.bytes + i, t.len - i, &partial);
		char x[8];
		if (k && t.bytes[i] != 0 && t.bytes[i] != '\\') {
			put(&b, (const char *)t.bytes + i, k);
			i += k;
			continue;
		}
		if (t.bytes[i] == '\\')
			put(&b, "\\\\", 2);
		else
			put(&b, x, (size_t)snprintf(x, sizeof(x), "\\x%02x", t.bytes[i]));
		i++;
	}
	if (t.truncated && t.whole_len >= 0)
		snprintf(tail, sizeof(tail), "… [cut at %zu of %lld bytes]", t.len, (long long)t.whole_len);
	else if (t.truncated)
		snprintf(tail, sizeof(tail), "… [cut at %zu bytes]", t.len);
	else
		tail[0] = 0;
	put(&b, tail, strlen(tail));
	if (raw)
		put(&b, " [not UTF-8: \\xNN is a byte, \\\\ a backslash]",
		    strlen(" [not UTF-8: \\xNN is a byte, \\\\ a backslash]"));
	cx_audit_textval_free(&t);
	return b.p;
}

json_t *cx_audit_details_plain(const json_t *v)
{
	char *s;
	json_t *r, *x;
	const char *k;
	size_t i;

	if (json_is_object(v) && (s = cx_audit_text_plain(v))) {
		r = json_string(s);
		free(s);
		CX_CHECK(r);
		return r;
	}
	if (json_is_object(v)) {
		r = json_object();
		json_object_foreach((json_t *)v, k, x)
			CX_CHECK(json_object_set_new(r, k, cx_audit_details_plain(x)) == 0);
		return r;
	}
	if (json_is_array(v)) {
		r = json_array();
		json_array_foreach(v, i, x)
			CX_CHECK(json_array_append_new(r, cx_audit_details_plain(x)) == 0);
		return r;
	}
	return v ? json_deep_copy(v) : json_null();
}
