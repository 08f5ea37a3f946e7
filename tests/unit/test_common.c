/* Unit tests: strict codecs, path rules, spec readers, error helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "calyx/codec.h"
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
	assert_int_equal(l.set & (1u << CX_LIM_DISK_BYTES | 1u << CX_LIM_INODES), 0);
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
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
