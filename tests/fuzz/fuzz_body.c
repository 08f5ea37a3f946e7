/* libFuzzer harness: lease body parser (cx_lease_body_parse) and the
 * policy check that follows it (cx_policy_resolve).
 *
 * Covers every body field: ids and their alphabet, times and their range,
 * lease_id / policy_sha256 hex, argv and validate.argv (absolute, bounded),
 * cwd/workspace/paths normalization, env names and values, limits, network.
 * A body that parses is then resolved against a fixed valid policy (the
 * unit tests' default policy) and the effective spec freed.
 * Trust: test code; the input is arbitrary bytes (in production the body
 * is parsed only after two signatures verified, but is still hostile). */
#include <string.h>

#include "calyx/lease.h"
#include "calyx/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] =
	"{\"v\":1,\"commands\":[\"/usr/bin/make\",\"/usr/bin/env\"],"
	"\"read\":[\"/usr\",\"/etc/ssl/certs\"],\"write\":[\"/srv\"],"
	"\"env\":{\"allow\":[\"LANG\",\"TZ\"],\"set\":{\"PATH\":\"/usr/bin:/bin\",\"HOME\":\"/work\"}},"
	"\"limits\":{\"max\":{\"cpu_ms\":600000,\"memory_bytes\":2147483648,\"pids\":512,"
	"\"wall_ms\":1800000,\"nofile\":1024,\"fsize_bytes\":1073741824,\"tmp_bytes\":268435456},"
	"\"default\":{\"cpu_ms\":60000,\"memory_bytes\":268435456,\"pids\":64,\"wall_ms\":120000,"
	"\"nofile\":256,\"fsize_bytes\":104857600,\"tmp_bytes\":67108864}},"
	"\"network\":[\"none\",\"loopback\"],"
	"\"lease\":{\"max_lifetime_s\":3600,\"clock_skew_s\":60,\"require_audience\":false},"
	"\"syscalls\":{\"deny\":[\"ptrace\"]}}";

/* Parsed once; lives for the whole process (reachable, not a leak). */
static cx_policy policy;

static void init_once(void)
{
	static bool init;
	cx_error err = { 0 };

	if (init)
		return;
	if (cx_policy_parse((const uint8_t *)policy_text, sizeof(policy_text) - 1, &policy,
			    &err) < 0) {
		fprintf(stderr, "fuzz_body: fixed policy refused: %s\n", err.msg);
		abort();
	}
	init = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_lease l = { 0 };
	cx_run_spec eff = { 0 };
	cx_error err = { 0 };

	init_once();
	if (cx_lease_body_parse(data, size, &l, &err) < 0) {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
		return 0;
	}
	CX_CHECK(l.spec.argv.n >= 1 && l.spec.argv.v[0][0] == '/');
	CX_CHECK(l.spec.cwd && l.not_after > l.not_before);
	memset(&err, 0, sizeof(err));
	if (cx_policy_resolve(&policy, &l.spec, &eff, &err) == 0) {
		CX_CHECK(eff.limits.set == (1u << CX_LIM__COUNT) - 1);
		cx_run_spec_free(&eff);
	} else {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
	}
	cx_lease_free(&l);
	return 0;
}
