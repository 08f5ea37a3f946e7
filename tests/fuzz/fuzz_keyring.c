/* libFuzzer harness: keyring parser (cx_keyring_parse).
 *
 * Covers the keyring format: exact key sets of the file, of each entry and
 * of revoked entries (reason, revoked_at), keyid syntax and its
 * recomputation from the public key, canonical base64 of 32-byte keys,
 * roles, principals, the duplicate-public-key rule across both sections and
 * the key-count cap. On success the invariants the verifier relies on are
 * checked: every keyid is found again, and no public key appears twice.
 * Trust: test code; the input is arbitrary bytes. */
#include <sodium.h>
#include <string.h>

#include "calyx/keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	cx_keyring kr = { 0 };
	cx_error err = { 0 };

	if (!init) {
		CX_CHECK(sodium_init() >= 0);
		init = true;
	}
	if (cx_keyring_parse(data, size, &kr, &err) < 0) {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
		CX_CHECK(kr.n == 0 && kr.keys == NULL);
		return 0;
	}
	CX_CHECK(kr.n <= CX_KEYRING_MAX_KEYS);
	for (size_t i = 0; i < kr.n; i++) {
		char id[65];

		cx_keyid(kr.keys[i].pk, id);
		CX_CHECK(strcmp(id, kr.keys[i].keyid) == 0);
		CX_CHECK(cx_keyring_find(&kr, id) == &kr.keys[i]);
		CX_CHECK(kr.keys[i].role == CX_ROLE_HUMAN || kr.keys[i].role == CX_ROLE_AGENT);
		CX_CHECK(kr.keys[i].principal != NULL);
		for (size_t k = 0; k < i; k++)
			CX_CHECK(memcmp(kr.keys[k].pk, kr.keys[i].pk, 32) != 0);
	}
	cx_keyring_free(&kr);
	return 0;
}
