/* Leases: DSSE envelope, body, and the verifier.
 *
 * Envelope (exactly these keys; standard padded base64 only):
 *   { "payloadType": "application/vnd.calyx.lease.v1+json",
 *     "payload": "<base64 of the body bytes that were signed>",
 *     "signatures": [ {"keyid": "<64 hex>", "sig": "<base64 of 64 bytes>"}, ... ] }
 * Each signer signs DSSE's PAE(payloadType, payload bytes):
 *   "DSSEv1" SP len(type) SP type SP len(body) SP body   (lengths in ASCII decimal)
 * The body is parsed only from the verified payload bytes. Body format:
 * docs/formats.md "Lease body"; the parser (cx_lease_body_parse) is strict.
 *
 * Verification order (cx_lease_verify), each step failing closed with its
 * own reason code: size/type of the input; JSON; envelope keys; payloadType;
 * base64; signature count; for each signature: keyid syntax, keyring lookup
 * (unknown, revoked), same key twice, Ed25519 over PAE; roles (exactly one
 * human and one agent); body; validity window (clock read once by the
 * caller, bounded skew and lifetime); audience; policy hash; lease within
 * policy. */
#ifndef CALYX_LEASE_H
#define CALYX_LEASE_H

#include <stdint.h>
#include "calyx/common.h"
#include "calyx/keyring.h"
#include "calyx/spec.h"

#define CX_LEASE_PAYLOAD_TYPE "application/vnd.calyx.lease.v1+json"
#define CX_LEASE_MAX_BYTES (64u * 1024)
#define CX_LEASE_BODY_MAX_BYTES (48u * 1024)
#define CX_LEASE_SIGS 2
#define CX_LEASE_TIME_MAX 17179869184LL /* 2^34 s: year 2514; refuses "huge" */
#define CX_ID_MAX 128                  /* run_id, intent_id, audience */
#define CX_PURPOSE_MAX 1024

/* A calyx DSSE document type: the payloadType the parser demands, the
 * bounds it applies, and how many signatures a complete document carries.
 * Leases, rollouts and rollout control documents share one envelope
 * parser, one signature check and one signing path (calyx/rollout.h
 * defines the other two types); a document is only ever parsed as the
 * type its caller expects, so a lease cannot pass for a rollout or the
 * other way round (the payloadType is also in what every key signs). */
typedef struct cx_doc_type {
	const char *payload_type;
	const char *what;       /* names the document in messages: "lease" */
	size_t max_bytes;       /* the envelope file */
	size_t body_max_bytes;  /* the decoded payload */
	size_t nsig;            /* signatures of a complete document (<= CX_LEASE_SIGS) */
	const char *sig_rule;   /* who signs, for messages: "one human, one agent" */
} cx_doc_type;

extern const cx_doc_type cx_doc_lease;

typedef struct cx_signature {
	char keyid[65];
	uint8_t sig[64];
} cx_signature;

typedef struct cx_envelope {
	char *payload_type;
	uint8_t *payload;
	size_t payload_len;
	size_t nsig;
	cx_signature sigs[CX_LEASE_SIGS];
} cx_envelope;

/* Parse an envelope of type t holding between min_sigs and max_sigs
 * signatures (the verifier uses t->nsig..t->nsig; the signing tool
 * 0..t->nsig-1). A payloadType other than t's is E_PAYLOAD_TYPE. */
int cx_envelope_parse_as(const cx_doc_type *t, const uint8_t *buf, size_t len,
			 size_t min_sigs, size_t max_sigs, cx_envelope *ret, cx_error *err);
/* The same for a lease (cx_doc_lease). */
int cx_envelope_parse(const uint8_t *buf, size_t len, size_t min_sigs,
		      size_t max_sigs, cx_envelope *ret, cx_error *err);
void cx_envelope_free(cx_envelope *e);
/* Serialize (pretty, trailing newline). Caller frees. */
char *cx_envelope_dump(const cx_envelope *e);
/* DSSE pre-authentication encoding. Caller frees *ret. */
void cx_pae(const char *type, const uint8_t *body, size_t blen, uint8_t **ret, size_t *ret_len);
/* Add a signature by the key with this seed. Refuses a second signature by
 * the same key and one beyond t->nsig. In executor/lease/sign.c, which only
 * the signing tools (calyx-lease, calyx-rollout) link (calyx-exec holds no
 * signing code). e->payload_type must be t's. */
int cx_envelope_sign_as(const cx_doc_type *t, cx_envelope *e, const uint8_t seed[32],
			cx_error *err);
/* The same for a lease. */
int cx_envelope_sign(cx_envelope *e, const uint8_t seed[32], cx_error *err);

/* Each signature of a parsed envelope checked against the keyring, in
 * order: its key is known (E_UNKNOWN_KEY), not revoked (E_REVOKED), not a
 * public key already used by an earlier signature (E_DUP_SIGNER), and its
 * Ed25519 signature over the PAE verifies (E_BAD_SIG). ret_keys[i] (room
 * for e->nsig) points into the keyring. Roles are the caller's rule. */
int cx_envelope_check_sigs(const cx_doc_type *t, const cx_keyring *kr, const cx_envelope *e,
			   const cx_key **ret_keys, cx_error *err);
/* The two-key rule: exactly one human and one agent key among keys[0..n)
 * (E_ROLE_MISSING). */
int cx_signers_two_keys(const cx_doc_type *t, const cx_key *const *keys, size_t n,
			cx_error *err);

typedef struct cx_lease {
	char lease_id[33];
	char *run_id;
	char *intent_id;  /* optional */
	char *audience;   /* optional: a host id, or "pool:NAME" */
	char *purpose;    /* optional */
	int64_t count;    /* hosts of the pool it runs on: 1 unless "count" (pool leases only) */
	int64_t issued_at, not_before, not_after;
	char policy_sha256[65];
	cx_run_spec spec;
	/* Filled by the verifier: who signed, in envelope order. */
	struct {
		char keyid[65];
		cx_role role;
		char *principal;
	} signer[CX_LEASE_SIGS];
	size_t nsigner;
} cx_lease;

/* The id alphabet (run_id, intent_id, audience; a rollout's host ids and
 * tier names): 1..CX_ID_MAX of [A-Za-z0-9._:@-], starting alphanumeric. */
bool cx_id_ok(const char *s);
/* A pool name (the NAME of "pool:NAME"): 1..64 of [A-Za-z0-9._-],
 * starting alphanumeric. */
bool cx_pool_name_ok(const char *s);

int cx_lease_body_parse(const uint8_t *buf, size_t len, cx_lease *ret, cx_error *err);
/* The pool a lease is addressed to ("pool:NAME" audience), or NULL. */
const char *cx_lease_pool(const cx_lease *l);
#define CX_LEASE_COUNT_MAX 1000
void cx_lease_free(cx_lease *l);

struct cx_policy;

typedef struct cx_verify_input {
	const cx_keyring *keyring;
	const struct cx_policy *policy; /* carries its own SHA-256 */
	const char *host_id;            /* NULL: host has no id */
	char *const *pools;             /* the pools this host is in */
	size_t n_pools;
	int64_t now;                    /* read once by the caller */
} cx_verify_input;

/* Verify an envelope read from a file (buf/len already bounded by the
 * caller's read). On success *ret holds the body, signers, and a spec
 * resolved against the policy (defaults filled, env = policy set + allowed
 * lease names). */
int cx_lease_verify(const cx_verify_input *in, const uint8_t *buf, size_t len,
		    cx_lease *ret, cx_error *err);

/* Read a lease file: regular, not a symlink, <= CX_LEASE_MAX_BYTES. */
int cx_lease_read(const char *path, uint8_t **ret_buf, size_t *ret_len, cx_error *err);

#endif
