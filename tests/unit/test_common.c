/* Unit tests: strict codecs, path rules, spec readers, error helpers, the
 * escaping of strings shown to people. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/path.h"
#include "calyx/spec.h"

static long dec(const char *s, size_t min, size_t max)
{
	uint8_t out[128];
	return cx_b64_decode(s, strlen(s), out, min, max);
}

static void b64_canonical_accepted(void **st)
{
	(void)st;
	assert_int_equal(dec("Zm9v", 1, 64), 3);
	assert_int_equal(dec("Zm8=", 1, 64), 2);
	assert_int_equal(dec("Zg==", 1, 64), 1);
}

static void b64_trailing_bits_refused(void **st)
{
	(void)st;
	assert_int_equal(dec("Zh==", 1, 64), -1); /* "f" with a stray low bit */
	assert_int_equal(dec("Zm9=", 1, 64), -1);
}

static void b64_padding_refused(void **st)
{
	(void)st;
	assert_int_equal(dec("Zg", 1, 64), -1);
	assert_int_equal(dec("Zg=", 1, 64), -1);
	assert_int_equal(dec("Zg===", 1, 64), -1);
	assert_int_equal(dec("Zm9v====", 1, 64), -1);
}

static void b64_whitespace_and_urlsafe_refused(void **st)
{
	(void)st;
	assert_int_equal(dec("Zm9v\n", 1, 64), -1);
	assert_int_equal(dec(" Zm9v", 1, 64), -1);
	assert_int_equal(dec("Zm 9", 1, 64), -1);
	assert_int_equal(dec("-_8=", 1, 64), -1);
	assert_int_equal(dec("+/8=", 1, 64), 2);
}

static void b64_length_bounds(void **st)
{
	(void)st;
	assert_int_equal(dec("", 0, 64), -1);       /* empty is never a value */
	assert_int_equal(dec("Zm9v", 4, 64), -1);   /* below min */
	assert_int_equal(dec("Zm9vYmFy", 1, 5), -1); /* above max */
}

static void hex_strict(void **st)
{
	uint8_t out[2];
	(void)st;
	assert_true(cx_hex_decode("0aff", 4, out, 2));
	assert_int_equal(out[1], 0xff);
	assert_false(cx_hex_decode("0AFF", 4, out, 2));
	assert_false(cx_hex_decode("0af", 3, out, 2));
	assert_false(cx_is_lower_hex("abc", 4));
	assert_false(cx_is_lower_hex("abcg", 4));
	assert_true(cx_is_lower_hex("abc0", 4));
}

static void path_normal_rules(void **st)
{
	(void)st;
	assert_true(cx_path_is_normal("/"));
	assert_true(cx_path_is_normal("/usr/lib"));
	assert_true(cx_path_is_normal("/a/.hidden/..x"));
	assert_false(cx_path_is_normal(""));
	assert_false(cx_path_is_normal("usr"));
	assert_false(cx_path_is_normal("/usr/"));
	assert_false(cx_path_is_normal("//usr"));
	assert_false(cx_path_is_normal("/usr//lib"));
	assert_false(cx_path_is_normal("/usr/./lib"));
	assert_false(cx_path_is_normal("/usr/../etc"));
	assert_false(cx_path_is_normal("/.."));
	assert_false(cx_path_is_normal("/a\nb"));
}

static void path_within_is_componentwise(void **st)
{
	(void)st;
	assert_true(cx_path_within("/srv/app", "/srv"));
	assert_true(cx_path_within("/srv", "/srv"));
	assert_false(cx_path_within("/srvx", "/srv"));
	assert_false(cx_path_within("/sr", "/srv"));
	assert_true(cx_path_within("/anything", "/"));
}

static void env_names(void **st)
{
	(void)st;
	assert_true(cx_env_name_is_valid("LANG"));
	assert_true(cx_env_name_is_valid("_x1"));
	assert_false(cx_env_name_is_valid("1X"));
	assert_false(cx_env_name_is_valid("A-B"));
	assert_false(cx_env_name_is_valid("A=B"));
	assert_true(cx_env_name_is_dangerous("LD_PRELOAD"));
	assert_true(cx_env_name_is_dangerous("LD_AUDIT"));
	assert_true(cx_env_name_is_dangerous("BASH_ENV"));
	assert_true(cx_env_name_is_dangerous("IFS"));
	assert_true(cx_env_name_is_dangerous("BASH_FUNC_x%%"));
	assert_false(cx_env_name_is_dangerous("LANG"));
}

static void limits_reader(void **st)
{
	cx_limits l;
	cx_error err = { 0 };
	json_t *j;
	(void)st;
	j = json_pack("{s:i}", "pids", 10);
	assert_int_equal(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err), 0);
	assert_int_equal(l.v[CX_LIM_PIDS], 10);
	assert_int_equal(l.set, 1u << CX_LIM_PIDS);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, true, &l, &err) < 0);
	json_decref(j);
	j = json_pack("{s:i}", "pids", 0);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err) < 0);
	json_decref(j);
	j = json_pack("{s:f}", "pids", 1.5);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err) < 0);
	json_decref(j);
	j = json_pack("{s:i}", "cpus", 1);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err) < 0);
	assert_int_equal(err.reason, CX_E_BODY);
	json_decref(j);
}

/* The workspace quotas: two more limits, optional where every other
 * limit is required, with a hard ceiling and built-in values. */
static void limits_workspace_quotas(void **st)
{
	cx_limits l;
	cx_error err = { 0 };
	json_t *j;
	(void)st;
	assert_string_equal(cx_limit_name(CX_LIM_DISK_BYTES), "disk_bytes");
	assert_string_equal(cx_limit_name(CX_LIM_INODES), "inodes");
	assert_true(cx_limit_optional(CX_LIM_DISK_BYTES) && cx_limit_optional(CX_LIM_INODES));
	for (int i = 0; i < CX_LIM_DISK_BYTES; i++)
		assert_false(cx_limit_optional(i));
	assert_int_equal(cx_limit_builtin(CX_LIM_DISK_BYTES), 256u << 20);
	assert_int_equal(cx_limit_builtin(CX_LIM_INODES), 16384);
	assert_int_equal(cx_limit_hard_max(CX_LIM_INODES), 1000000);
	/* the exec quota: optional, 8192 built in, at most 1<<20 */
	assert_string_equal(cx_limit_name(CX_LIM_EXECS), "execs");
	assert_true(cx_limit_optional(CX_LIM_EXECS));
	assert_int_equal(cx_limit_builtin(CX_LIM_EXECS), 8192);
	assert_int_equal(cx_limit_hard_max(CX_LIM_EXECS), 1u << 20);
	j = json_pack("{s:i}", "execs", 5);
	assert_int_equal(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err), 0);
	assert_int_equal(l.v[CX_LIM_EXECS], 5);
	json_decref(j);
	j = json_pack("{s:I}", "execs", (json_int_t)(1 << 20) + 1);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err) < 0);
	json_decref(j);
	/* a lease may name them */
	j = json_pack("{s:I, s:i}", "disk_bytes", (json_int_t)1 << 20, "inodes", 64);
	assert_int_equal(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err), 0);
	assert_int_equal(l.v[CX_LIM_DISK_BYTES], 1 << 20);
	assert_int_equal(l.v[CX_LIM_INODES], 64);
	json_decref(j);
	/* every required limit, none of the quotas: complete */
	j = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "cpu_ms", 1, "memory_bytes", 1, "pids",
		      1, "wall_ms", 1, "nofile", 1, "fsize_bytes", 1, "tmp_bytes", 1);
	assert_int_equal(cx_limits_from_json(j, "x", CX_E_POLICY, true, &l, &err), 0);
	assert_int_equal(l.set & (1u << CX_LIM_DISK_BYTES | 1u << CX_LIM_INODES | 1u << CX_LIM_EXECS), 0);
	json_decref(j);
	/* above the hard ceiling, or zero: refused */
	j = json_pack("{s:i}", "inodes", 1000001);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err) < 0);
	assert_non_null(strstr(err.msg, "inodes"));
	json_decref(j);
	j = json_pack("{s:i}", "disk_bytes", 0);
	assert_true(cx_limits_from_json(j, "x", CX_E_BODY, false, &l, &err) < 0);
	json_decref(j);
}

static void parse_u64_strict(void **st)
{
	uint64_t v;
	(void)st;
	assert_int_equal(cx_parse_u64("42", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_true(cx_parse_u64("042", 100, &v) < 0);
	assert_true(cx_parse_u64("4x", 100, &v) < 0);
	assert_true(cx_parse_u64("-1", 100, &v) < 0);
	assert_true(cx_parse_u64("", 100, &v) < 0);
	assert_true(cx_parse_u64("101", 100, &v) < 0);
	assert_true(cx_parse_u64("99999999999999999999999", UINT64_MAX, &v) < 0);
}

static void err_prefix_keeps_head(void **st)
{
	cx_error err = { 0 };
	char big[600];
	(void)st;
	cx_err(&err, CX_E_BODY, EINVAL, "inner %d", 7);
	cx_err_prefix(&err, "outer");
	assert_string_equal(err.msg, "outer: inner 7");
	assert_int_equal(err.reason, CX_E_BODY);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cx_err_prefix(&err, "%s", big);
	assert_int_equal(strlen(err.msg), CX_ERR_MSG_MAX - 1);
}

static void reason_names_complete(void **st)
{
	(void)st;
	for (int i = 0; i < CX_E__COUNT; i++)
		assert_string_not_equal(cx_reason_name(i), "E_UNKNOWN");
	assert_string_equal(cx_reason_name(CX_E_REPLAY), "E_REPLAY");
	assert_true(cx_reason_is_refusal(CX_E_BAD_SIG));
	assert_false(cx_reason_is_refusal(CX_E_LEDGER));
}

static void json_rejects_duplicates_and_nul(void **st)
{
	json_t *j = NULL;
	cx_error err = { 0 };
	const char dup[] = "{\"a\":1,\"\\u0061\":2}";
	const char nul[] = "{\"a\":\"x\\u0000y\"}";
	const char junk[] = "{\"a\":1}\0junk";
	(void)st;
	assert_true(cx_json_parse_object((const uint8_t *)dup, strlen(dup), "t", &j, &err) < 0);
	assert_int_equal(err.reason, CX_E_JSON);
	assert_true(cx_json_parse_object((const uint8_t *)nul, strlen(nul), "t", &j, &err) < 0);
	assert_true(cx_json_parse_object((const uint8_t *)junk, sizeof(junk) - 1, "t", &j, &err) < 0);
	assert_true(cx_json_parse_object((const uint8_t *)"[1]", 3, "t", &j, &err) < 0);
}

/* ---- strings shown to people (calyx/esc.h) -------------------------------- */

static void expect_esc(const char *in, const char *want)
{
	char *got = cx_esc(in);
	if (strcmp(got, want) != 0)
		fail_msg("cx_esc: got '%s', expected '%s'", got, want);
	free(got);
}

/* Each class of the rule, and well-formed UTF-8 left alone. */
static void esc_known_forms(void **st)
{
	(void)st;
	expect_esc("plain /usr/bin/true \xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80",
		   "plain /usr/bin/true \xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80");
	expect_esc("\x1b[6Aruns \"/usr/bin/true\"\x1b[6B", "\\x1b[6Aruns \"/usr/bin/true\"\\x1b[6B");
	expect_esc("a\nb\tc\rd\x01\x1f\x7f", "a\\nb\\tc\\rd\\x01\\x1f\\x7f");
	expect_esc("C:\\x1b \\", "C:\\\\x1b \\\\");
	/* C1 (CSI, NEL), bidi overrides, isolates, marks, ALM, BOM, separators */
	expect_esc("\xc2\x9b" "6A \xc2\x85", "\\u{009b}6A \\u{0085}");
	expect_esc("abc\xe2\x80\xaetxt.exe", "abc\\u{202e}txt.exe");
	expect_esc("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "\\u{202a}\\u{202b}\\u{202c}\\u{202d}");
	expect_esc("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "\\u{2066}\\u{2067}\\u{2068}\\u{2069}");
	expect_esc("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c\xe2\x80\x8b", "\\u{200e}\\u{200f}\\u{061c}\\u{200b}");
	expect_esc("\xef\xbb\xbf\xe2\x80\xa8\xe2\x80\xa9", "\\u{feff}\\u{2028}\\u{2029}");
	/* not UTF-8: stray, truncated, overlong (an ESC and a '/'), surrogate, too big */
	expect_esc("\xff\x80", "\\xff\\x80");
	expect_esc("x\xe2\x80", "x\\xe2\\x80");
	expect_esc("\xc0\x9b\xc1\xaf", "\\xc0\\x9b\\xc1\\xaf");
	expect_esc("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	expect_esc("\xed\xa0\x80", "\\xed\\xa0\\x80");
	expect_esc("\xf4\x90\x80\x80\xf5", "\\xf4\\x90\\x80\\x80\\xf5");
	expect_esc("", "");
	expect_esc(NULL, "(null)");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	cx_esc_fputs_quoted("a\"b\\\x1b", f);
	cx_esc_line(f, "  env %s=%s", "TZ", "\x1b[6A\n");
	fclose(f);
	assert_string_equal(buf, "\"a\\\"b\\\\\\x1b\"  env TZ=\\x1b[6A\\n\n");
	free(buf);
}

static void esc_flags_hidden(void **st)
{
	char what[64];
	(void)st;
	assert_false(cx_text_has_hidden("/usr/bin/true \xc3\xa9 C:\\dir \"q\""));
	assert_true(cx_text_first_hidden("ok\x1b[6A", what));
	assert_string_equal(what, "U+001B (a control character)");
	assert_true(cx_text_first_hidden("\xe2\x80\xae", what));
	assert_string_equal(what, "U+202E (a bidi or invisible character)");
	assert_true(cx_text_first_hidden("a\xc2\x9b", what));
	assert_string_equal(what, "U+009B (a control character)");
	assert_true(cx_text_first_hidden("a\xc0\xaf", what));
	assert_string_equal(what, "byte 0xc0 (not UTF-8)");
	assert_true(cx_text_has_hidden("tab\there"));
}

/* Decode the rule back (test-only, strict: any other escape fails). */
static size_t unesc(const char *e, bool quoted, char *out)
{
	size_t o = 0;

	if (quoted) {
		assert_true(e[0] == '"' && e[strlen(e) - 1] == '"' && strlen(e) >= 2);
		e++;
	}
	while (*e && !(quoted && e[0] == '"' && e[1] == '\0')) {
		if (quoted)
			assert_true(*e != '"');
		if (*e != '\\') {
			out[o++] = *e++;
			continue;
		}
		e++;
		if (*e == '\\' || (quoted && *e == '"')) {
			out[o++] = *e++;
		} else if (*e == 'n' || *e == 't' || *e == 'r') {
			out[o++] = *e == 'n' ? '\n' : *e == 't' ? '\t' : '\r';
			e++;
		} else if (*e == 'x') {
			unsigned v;
			assert_int_equal(sscanf(e + 1, "%2x", &v), 1);
			out[o++] = (char)v;
			e += 3;
		} else {
			unsigned v;
			int used = 0;
			assert_true(e[0] == 'u' && e[1] == '{');
			assert_int_equal(sscanf(e + 2, "%x}%n", &v, &used), 1);
			assert_true(used > 0 && cx_esc_hidden(v) && v >= 0x80);
			if (v < 0x800) {
				out[o++] = (char)(0xc0 | (v >> 6));
			} else {
				out[o++] = (char)(0xe0 | (v >> 12));
				out[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
			}
			out[o++] = (char)(0x80 | (v & 0x3f));
			e += 2 + used;
		}
	}
	out[o] = '\0';
	return o;
}

/* Nothing a terminal obeys or a reader cannot see survives: no byte below
 * 0x20, no 0x7f, no C1 (C2 80-9F), no bidi or invisible mark, only
 * well-formed UTF-8; and the output decodes back to the input. */
static void expect_safe(const char *out, const char *in)
{
	const unsigned char *p = (const unsigned char *)out;
	size_t n = strlen(out), k;
	uint32_t c;

	for (size_t i = 0; i < n; i += k) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			fail_msg("byte 0x%02x in the escaped form of a %zu-byte input", p[i], strlen(in));
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			fail_msg("a C1 control survived");
		if (p[i] == 0xe2 && i + 2 < n &&
		    ((p[i + 1] == 0x80 && ((p[i + 2] >= 0x8b && p[i + 2] <= 0x8f) || (p[i + 2] >= 0xa8 && p[i + 2] <= 0xae))) ||
		     (p[i + 1] == 0x81 && p[i + 2] >= 0xa0 && p[i + 2] <= 0xa9)))
			fail_msg("a bidi or invisible mark survived");
		if (p[i] == 0xd8 && i + 1 < n && p[i + 1] == 0x9c)
			fail_msg("U+061C survived");
		k = cx_utf8_seq(out + i, n - i, &c);
		if (!k)
			fail_msg("the escaped form is not UTF-8 at byte %zu", i);
	}
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Random strings, biased towards the interesting bytes and sequences. */
static void esc_random_property(void **st)
{
	static const char *const pieces[] = {
		"\x1b", "[6A", "\\", "\"", "\n", "\x7f", "\xc2\x9b", "\xc2\x85", "\xc2\xa0", "\xe2\x80\xae",
		"\xe2\x81\xa6", "\xd8\x9c", "\xef\xbb\xbf", "\xe2\x80\xa6", "\xf0\x9f\x98\x80", "\xed\xa0\x80",
		"\xc0\x9b", "\xe2\x80", "\xf4\x90\x80\x80", "u{202e}", "x1b", "a", "/",
	};
	char in[200], back[200];
	(void)st;

	for (int iter = 0; iter < 50000; iter++) {
		size_t n = 0, parts = rnd() % 12;
		for (size_t j = 0; j < parts && n < 150; j++) {
			uint64_t r = rnd();
			if (r % 3 == 0) {
				const char *pc = pieces[(r >> 8) % CX_ARRAY_SIZE(pieces)];
				memcpy(in + n, pc, strlen(pc));
				n += strlen(pc);
			} else {
				in[n++] = (char)(1 + (r >> 8) % 255); /* any byte but NUL */
			}
		}
		in[n] = '\0';
		for (int quoted = 0; quoted < 2; quoted++) {
			char *buf = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&buf, &len);
			assert_non_null(f);
			if (quoted)
				cx_esc_fputs_quoted(in, f);
			else
				cx_esc_fputs(in, f);
			fclose(f);
			expect_safe(buf, in);
			assert_int_equal(unesc(buf, quoted, back), n);
			assert_memory_equal(back, in, n);
			free(buf);
		}
		/* flagged exactly when something other than a backslash is escaped */
		char *e = cx_esc(in);
		size_t bs = 0;
		for (size_t i = 0; i < n; i++)
			bs += in[i] == '\\';
		assert_int_equal(cx_text_has_hidden(in), strlen(e) != n + bs);
		free(e);
	}
}

/* JSON stays JSON of the same value; nothing hidden is left raw. */
static void esc_json_same_value(void **st)
{
	static const char *const vals[] = { "\xc2\x9b" "6A", "a\xe2\x80\xaet\x7f", "\x1b[2J\xef\xbb\xbf",
					    "plain \xc3\xa9 \\ \"q\"", "\xd8\x9c\xe2\x81\xa9" };
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(vals); i++) {
		json_t *j = json_pack("{s:[s], s:s}", "argv", vals[i], "k", "v");
		char *d = json_dumps(j, JSON_INDENT(2)), *e = cx_esc_json(d);
		json_t *back = json_loads(e, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(back);
		assert_true(json_equal(j, back));
		for (const char *p = e; *p; p++)
			if (*p != '\n')
				assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		char *flat = strdup(e);
		for (char *p = flat; *p; p++)
			if (*p == '\n')
				*p = ' ';
		assert_false(cx_text_has_hidden(flat));
		free(flat);
		json_decref(back);
		json_decref(j);
		free(d);
		free(e);
	}
	char *bad = cx_esc_json("\"\xff\"");
	assert_string_equal(bad, "\"\\uFFFD\"");
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64_canonical_accepted),
		cmocka_unit_test(b64_trailing_bits_refused),
		cmocka_unit_test(b64_padding_refused),
		cmocka_unit_test(b64_whitespace_and_urlsafe_refused),
		cmocka_unit_test(b64_length_bounds),
		cmocka_unit_test(hex_strict),
		cmocka_unit_test(path_normal_rules),
		cmocka_unit_test(path_within_is_componentwise),
		cmocka_unit_test(env_names),
		cmocka_unit_test(limits_reader),
		cmocka_unit_test(limits_workspace_quotas),
		cmocka_unit_test(parse_u64_strict),
		cmocka_unit_test(err_prefix_keeps_head),
		cmocka_unit_test(reason_names_complete),
		cmocka_unit_test(json_rejects_duplicates_and_nul),
		cmocka_unit_test(esc_known_forms),
		cmocka_unit_test(esc_flags_hidden),
		cmocka_unit_test(esc_random_property),
		cmocka_unit_test(esc_json_same_value),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
