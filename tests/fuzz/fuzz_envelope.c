/* libFuzzer harness: DSSE lease envelope parser (cx_envelope_parse).
 *
 * Covers the first thing calyx-exec does with a hostile lease file: strict
 * JSON (duplicates, NUL, depth), the exact envelope key set, payloadType,
 * canonical base64 of the payload and of each signature, keyid syntax and
 * the signature-count bounds. Each input is parsed twice: with the
 * verifier's bounds (exactly 2 signatures) and the signing tool's (0..2).
 * A successful parse is serialized with cx_envelope_dump and parsed again:
 * the round trip must succeed and give back the same fields.
 * Trust: test code; the input is arbitrary bytes. */
#include <sodium.h>
#include <string.h>

#include "calyx/lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const cx_envelope *e, size_t min_sigs, size_t max_sigs)
{
	cx_envelope again = { 0 };
	cx_error err = { 0 };
	char *text = cx_envelope_dump(e);
	size_t len = strlen(text);

	/* Pretty-printing may push a lease near the cap over it. */
	if (len <= CX_LEASE_MAX_BYTES) {
		if (cx_envelope_parse((const uint8_t *)text, len, min_sigs, max_sigs, &again,
				      &err) < 0) {
			fprintf(stderr, "round trip refused: %s\n%s", err.msg, text);
			abort();
		}
		CX_CHECK(strcmp(again.payload_type, e->payload_type) == 0);
		CX_CHECK(again.payload_len == e->payload_len);
		CX_CHECK(memcmp(again.payload, e->payload, e->payload_len) == 0);
		CX_CHECK(again.nsig == e->nsig);
		CX_CHECK(memcmp(again.sigs, e->sigs, e->nsig * sizeof(e->sigs[0])) == 0);
		cx_envelope_free(&again);
	}
	free(text);
}

static void parse(const uint8_t *data, size_t size, size_t min_sigs, size_t max_sigs)
{
	cx_envelope e = { 0 };
	cx_error err = { 0 };

	if (cx_envelope_parse(data, size, min_sigs, max_sigs, &e, &err) < 0) {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
		return;
	}
	CX_CHECK(e.nsig >= min_sigs && e.nsig <= max_sigs);
	CX_CHECK(e.payload_len >= 1 && e.payload_len <= CX_LEASE_BODY_MAX_BYTES);
	roundtrip(&e, min_sigs, max_sigs);
	cx_envelope_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		CX_CHECK(sodium_init() >= 0);
		init = true;
	}
	parse(data, size, CX_LEASE_SIGS, CX_LEASE_SIGS);
	parse(data, size, 0, CX_LEASE_SIGS);
	return 0;
}
