/* libFuzzer harness: policy parser (cx_policy_parse), and cx_policy_resolve
 * of a fixed lease against each policy that parses.
 *
 * Covers the policy format: exact key sets, commands / read / write path
 * lists, env.allow and env.set (valid and dangerous names, overlap),
 * limits.max and limits.default (every limit, defaults under maxima, hard
 * ceilings), network modes, lease rules (lifetime, skew, audience) and
 * syscalls.deny names resolved through libseccomp. A policy that parses is
 * then used to resolve the DESIGN.md example lease body, exercising the
 * checks with hostile ceilings instead of a hostile request.
 * Trust: test code; the input is arbitrary bytes. */
#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/lease.h"
#include "calyx/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char body_text[] =
	"{\"v\":1,\"lease_id\":\"0123456789abcdef0123456789abcdef\","
	"\"run_id\":\"deploy-4821\",\"intent_id\":\"intent-77\","
	"\"issued_at\":1795334400,\"not_before\":1795334400,\"not_after\":1795336200,"
	"\"policy_sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
	"\"argv\":[\"/usr/bin/make\",\"-C\",\"/work\",\"release\"],\"cwd\":\"/work\","
	"\"env\":{\"LANG\":\"C.UTF-8\"},\"workspace\":\"/srv/app\","
	"\"paths\":{\"ro\":[\"/usr\",\"/etc/ssl/certs\"],\"rw\":[]},"
	"\"limits\":{\"cpu_ms\":60000,\"memory_bytes\":536870912,\"pids\":128},"
	"\"network\":\"none\",\"validate\":{\"argv\":[\"/usr/bin/make\",\"-C\",\"/work\",\"check\"]},"
	"\"purpose\":\"release 4.2 to canary\"}";

/* Parsed once; lives for the whole process (reachable, not a leak). */
static cx_lease lease;

static void init_once(void)
{
	static bool init;
	cx_error err = { 0 };

	if (init)
		return;
	CX_CHECK(sodium_init() >= 0);
	if (cx_lease_body_parse((const uint8_t *)body_text, sizeof(body_text) - 1, &lease,
				&err) < 0) {
		fprintf(stderr, "fuzz_policy: fixed lease body refused: %s\n", err.msg);
		abort();
	}
	init = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_policy p = { 0 };
	cx_run_spec eff = { 0 };
	cx_error err = { 0 };
	uint8_t h[32];

	init_once();
	if (cx_policy_parse(data, size, &p, &err) < 0) {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
		return 0;
	}
	/* The hash binds leases to exactly the bytes that were parsed. */
	cx_sha256(data, size, h);
	CX_CHECK(memcmp(h, p.sha256, 32) == 0);
	for (int i = 0; i < CX_LIM__COUNT; i++)
		CX_CHECK(p.def.v[i] >= 1 && p.def.v[i] <= p.max.v[i]);
	CX_CHECK(p.network_mask != 0);
	memset(&err, 0, sizeof(err));
	if (cx_policy_resolve(&p, &lease.spec, &eff, &err) == 0)
		cx_run_spec_free(&eff);
	else
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
	cx_policy_free(&p);
	return 0;
}
