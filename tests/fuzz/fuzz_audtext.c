/* libFuzzer harness: audit text values (cx_audit_textn, cx_audit_argv,
 * cx_audit_argv_line, cx_audit_text_decode, cx_audit_text_plain,
 * cx_audit_details_plain; format in calyx/audit.h).
 *
 * Input: one control byte, then the data.
 *   control & 0x80: the data is JSON (a log's text, maybe tampered): when
 *     it decodes as a text value, encoding the decoded bytes again gives
 *     the very same value (one spelling per value) and its plain form is
 *     UTF-8; when it does not, it has no plain form. Any JSON goes through
 *     cx_audit_details_plain without harm.
 *   otherwise: the data is bytes from outside calyx; control & 1: the
 *     producer cut them, control & 2: the next 2 bytes (big endian) are
 *     the whole length. Checked: the value survives the log's own
 *     serialization (dump, strict load); it decodes to exactly the bytes
 *     (cut: the same, or a "text" at most 3 bytes short: the partial last
 *     character; the cut said); it is a plain
 *     string exactly when jansson (the independent model) takes the bytes
 *     as a string and they hold no NUL; the plain form is UTF-8; the argv
 *     helpers give back the bytes argument by argument, and the line split
 *     at its spaces gives them too unless cx_audit_argv_ambiguous says not.
 * Trust: test code; the input is arbitrary bytes. */
#include <string.h>

#include "calyx/audit.h"
#include "calyx/jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *reload(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	CX_CHECK(s);
	json_t *back = cx_json_loadb(s, strlen(s), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	free(s);
	CX_CHECK(back && json_equal(back, v));
	return back;
}

/* A plain form is UTF-8 (jansson takes it as a string). */
static void check_plain(const json_t *v, bool want)
{
	char *p = cx_audit_text_plain(v);
	CX_CHECK(!p == !want);
	if (p) {
		json_t *s = json_string(p);
		CX_CHECK(s);
		json_decref(s);
	}
	free(p);
}

static void fuzz_json(const uint8_t *d, size_t n)
{
	json_t *v = cx_json_loadb(d, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	cx_audit_textval t;

	if (!v)
		return;
	if (cx_audit_text_decode(v, &t) == 0) {
		CX_CHECK(t.bytes[t.len] == 0 && (t.truncated || t.whole_len == -1));
		json_t *again = cx_audit_textn(t.bytes, t.len, t.truncated,
					       t.whole_len >= 0 ? (uint64_t)t.whole_len : 0);
		CX_CHECK(json_equal(again, v));
		json_decref(again);
		cx_audit_textval_free(&t);
		check_plain(v, true);
	} else {
		check_plain(v, false);
	}
	json_decref(cx_audit_details_plain(v));
	json_decref(v);
}

/* The argv helpers: the elements, each followed by a NUL, are the area
 * (less the last NUL when the area did not end with one); the line is
 * the area with its NULs as spaces. Only for an area that was not cut. */
static void fuzz_argv(const uint8_t *d, size_t n)
{
	json_t *a = cx_audit_argv(d, n, n), *l = cx_audit_argv_line(d, n, n), *x;
	uint8_t *cat = malloc(n + 2);
	size_t k = 0, i;
	cx_audit_textval t;

	CX_CHECK(cat && json_is_array(a));
	json_array_foreach(a, i, x) {
		CX_CHECK(cx_audit_text_decode(x, &t) == 0 && !t.truncated);
		CX_CHECK(k + t.len + 1 <= n + 1);
		memcpy(cat + k, t.bytes, t.len);
		k += t.len;
		cat[k++] = 0;
		cx_audit_textval_free(&t);
	}
	if (n && d[n - 1] != 0)
		k--; /* the last argument had no NUL of its own */
	CX_CHECK(k == n && memcmp(cat, d, n) == 0);
	CX_CHECK(cx_audit_text_decode(l, &t) == 0 && !t.truncated);
	CX_CHECK(t.len == (n && d[n - 1] == 0 ? n - 1 : n));
	for (i = 0; i < t.len; i++)
		CX_CHECK(t.bytes[i] == (d[i] ? d[i] : ' '));
	/* not ambiguous: the line split at its spaces is the arguments */
	if (!cx_audit_argv_ambiguous(d, n)) {
		size_t at = 0, k2 = 0;
		json_array_foreach(a, i, x) {
			cx_audit_textval e;
			CX_CHECK(cx_audit_text_decode(x, &e) == 0);
			CX_CHECK(at + e.len <= t.len && memcmp(t.bytes + at, e.bytes, e.len) == 0);
			at += e.len;
			CX_CHECK(at == t.len || t.bytes[at] == ' ');
			at++;
			k2++;
			cx_audit_textval_free(&e);
		}
		CX_CHECK(k2 == json_array_size(a) && (t.len == 0 ? k2 <= 1 : at == t.len + 1));
	}
	cx_audit_textval_free(&t);
	free(cat);
	json_decref(a);
	json_decref(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ctl;
	uint64_t whole = 0;
	cx_audit_textval t;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	if (ctl & 0x80) {
		fuzz_json(data, size);
		return 0;
	}
	if (ctl & 2) {
		if (size < 2)
			return 0;
		whole = (uint64_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
	}
	bool cut = ctl & 1;
	json_t *v = cx_audit_textn(data, size, cut, whole), *back = reload(v);
	CX_CHECK(cx_audit_text_decode(back, &t) == 0);
	CX_CHECK(t.truncated == cut && t.len <= size && size - t.len <= (cut ? 3u : 0u));
	CX_CHECK(memcmp(t.bytes, data, t.len) == 0);
	/* only text loses its partial last character; other bytes stay */
	CX_CHECK(t.len == size || json_is_string(json_object_get(v, "text")));
	CX_CHECK(t.whole_len == (cut && whole > t.len ? (int64_t)whole : -1));
	if (!cut) {
		/* the model: jansson's own UTF-8 check, and no NUL */
		json_t *s = size && memchr(data, 0, size) ? NULL
			    : json_stringn(size ? (const char *)data : "", size);
		CX_CHECK(json_is_string(v) == (s != NULL));
		json_decref(s);
		fuzz_argv(data, size);
	}
	cx_audit_textval_free(&t);
	check_plain(v, true);
	json_decref(back);
	json_decref(v);
	return 0;
}
