/* libFuzzer harness: audit log verifier (cx_audit_verify).
 *
 * Covers line splitting (torn last line, over-long lines), the strict JSON
 * of each event and its exact key set, seq continuity from 1, the prev
 * hash chain, the rule that "sig" is the last member spelled exactly, the
 * canonical base64 of the signature and the Ed25519 check over
 * "calyx-audit-v1\n" + line without its sig member; format v2's unsigned
 * lines (a "mac" last, its form only) and the count of lines vouched for
 * by the last checkpoint (never more than the lines, never past a bad one).
 * The host public key is fixed: derived from the seed 32 x 0x42, so seed
 * corpus lines written with that seed (cx_audit_open/cx_audit_append)
 * verify and the fuzzer can mutate past the signature check's prefix.
 * Trust: test code; the input is arbitrary bytes. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "calyx/audit.h"
#include "calyx/keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t pk[32];
	cx_audit_report rep = { 0 };
	cx_error err = { 0 };

	if (!init) {
		uint8_t seed[32];

		CX_CHECK(sodium_init() >= 0);
		memset(seed, 0x42, sizeof(seed));
		cx_seed_public(seed, pk);
		init = true;
	}
	if (cx_audit_verify(data, size, pk, &rep, &err) < 0) {
		unsigned long long bad = 0;
		CX_CHECK(err.reason == CX_E_AUDIT && err.msg[0]);
		if (sscanf(err.msg, "audit log: line %llu", &bad) == 1)
			CX_CHECK(rep.signed_lines < bad);
		return 0;
	}
	CX_CHECK(rep.lines == rep.last_seq && strlen(rep.head) == 64);
	CX_CHECK(rep.signed_lines <= rep.lines && rep.checkpoints <= rep.lines);
	CX_CHECK(rep.signed_lines == 0 || rep.checkpoints > 0);
	return 0;
}
