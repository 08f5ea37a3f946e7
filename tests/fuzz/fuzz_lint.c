/* libFuzzer harness: policy lint (cx_lint_policy) — the JSON position index
 * (calyx/jsonpos.h) over arbitrary bytes, the rules over whatever jansson
 * accepts (wrong types, missing members, deep nesting), and the diff of
 * every policy that parses against itself and against a fixed policy.
 *
 * Checks: lint never fails on input within the size bound; a policy the
 * executor loads has no CX001 finding and one it refuses has; every
 * finding has a rule, a pointer starting with '/' (or the document) and a
 * 1-based position; a policy diffed against itself has no change.
 * Trust: test code; the input is arbitrary bytes. */
#include <string.h>

#include "calyx/lint.h"
#include "calyx/policy.h"
#include "calyx/policydiff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_text[] =
	"{\"v\":1,\"commands\":[\"/usr/bin/cc\"],\"read\":[\"/usr\"],\"write\":[\"/srv\"],"
	"\"limits\":{\"max\":{\"cpu_ms\":600000,\"memory_bytes\":2147483648,\"pids\":512,"
	"\"wall_ms\":1800000,\"nofile\":1024,\"fsize_bytes\":1073741824,\"tmp_bytes\":268435456},"
	"\"default\":{\"cpu_ms\":60000,\"memory_bytes\":268435456,\"pids\":64,\"wall_ms\":120000,"
	"\"nofile\":256,\"fsize_bytes\":104857600,\"tmp_bytes\":67108864}},"
	"\"network\":[\"none\"],\"lease\":{\"max_lifetime_s\":3600,\"clock_skew_s\":60}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const cx_lint_opts opts = { 0 };
	cx_lint_result res = { 0 };
	cx_error err = { 0 };
	cx_policy p = { 0 }, fixed = { 0 };
	cx_policy_diff d = { 0 };
	bool has_invalid = false;

	if (size > CX_POLICY_MAX_BYTES)
		return 0;
	CX_CHECK(cx_lint_policy(data, size, &opts, &res, &err) == 0);
	for (size_t i = 0; i < res.n; i++) {
		const cx_finding *f = &res.f[i];
		CX_CHECK(f->rule && f->message && f->line >= 1 && f->column >= 1);
		CX_CHECK(f->pointer[0] == '\0' || f->pointer[0] == '/');
		has_invalid |= strcmp(f->rule->id, "CX001") == 0;
	}
	CX_CHECK(has_invalid == !res.valid);
	cx_lint_result_free(&res);

	if (cx_policy_parse(data, size, &p, &err) < 0)
		return 0;
	cx_policy_diff_compute(&p, &p, &d);
	CX_CHECK(d.n == 0);
	CX_CHECK(cx_policy_parse((const uint8_t *)fixed_text, sizeof(fixed_text) - 1, &fixed, &err) == 0);
	cx_policy_diff_compute(&fixed, &p, &d);
	for (size_t i = 0; i < d.n; i++)
		CX_CHECK(d.c[i].field && (d.c[i].old || d.c[i].new_));
	cx_policy_diff_free(&d);
	cx_policy_free(&fixed);
	cx_policy_free(&p);
	return 0;
}
