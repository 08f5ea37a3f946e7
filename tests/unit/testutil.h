/* Test fixtures: deterministic keys, a keyring, a policy and a builder for
 * signed lease envelopes, so each test states only what it changes.
 * Used by the unit tests and the verify benchmark. */
#ifndef CALYX_TESTUTIL_H
#define CALYX_TESTUTIL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "calyx/common.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/policy.h"

typedef struct tu_key {
	uint8_t seed[32], pk[32];
	char keyid[65];
	char pk_b64[48];
	cx_role role;
	const char *principal;
} tu_key;

/* Deterministic key: seed = 32 x fill. */
void tu_key_make(tu_key *k, uint8_t fill, cx_role role, const char *principal);

/* Keyring text with the given active and revoked keys. Caller frees. */
char *tu_keyring_text(const tu_key *const *keys, size_t n, const tu_key *const *revoked,
		      size_t nrev);

/* The default policy text (static storage). Commands /usr/bin/make and
 * /usr/bin/env; read /usr, /etc/ssl/certs; write /srv; env allow LANG, TZ;
 * set PATH, HOME; network none; lifetime 3600, skew 60, audience not
 * required. */
const char *tu_policy_text(void);

/* A valid body for the fixture (now, policy hash), as a JSON object the
 * test may edit before signing. */
json_t *tu_body(int64_t now, const char *policy_sha256_hex);

/* Envelope text over exact payload bytes, signed (over PAE with
 * sign_type) by the given keys in order. */
char *tu_envelope_raw(const char *payload_type, const uint8_t *payload, size_t len,
		      const char *sign_type, const tu_key *const *signers, size_t n);
/* Serialize body compactly and sign with a then b (either may be NULL). */
char *tu_envelope_body(const json_t *body, const tu_key *a, const tu_key *b);

typedef struct tu_fixture {
	tu_key human, agent, human2, agent2, revoked, stranger;
	cx_keyring kr;
	cx_policy pol;
	int64_t now;
	char *host_id;
	char *const *pools; /* the host's pools (static storage), n_pools of them */
	size_t n_pools;
} tu_fixture;

/* Keyring: human, agent, human2, agent2 active; revoked in the revoked
 * list; stranger nowhere. Policy: tu_policy_text(). now: fixed. */
void tu_fixture_init(tu_fixture *f);
void tu_fixture_free(tu_fixture *f);
/* Verify envelope text with the fixture; returns the verifier's result
 * and fills err. Frees the lease it got. */
int tu_verify(tu_fixture *f, const char *env, cx_error *err);
/* The default valid lease for the fixture, signed by human and agent. */
char *tu_good_lease(tu_fixture *f);

/* mkdtemp under TMPDIR or /tmp; mode 0700. Caller frees. */
char *tu_tmpdir(void);
/* Write a file dir/name with mode; returns the malloc'd path. */
char *tu_write(const char *dir, const char *name, const void *buf, size_t len, mode_t mode);
/* rm -rf, without a shell. */
void tu_rmtree(const char *path);

#endif
