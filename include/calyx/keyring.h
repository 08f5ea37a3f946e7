/* Keyring: keyid -> (role, Ed25519 public key, principal), plus revoked keys.
 *
 * Format (root-owned JSON, like TUF's root.json):
 *   { "v": 1,
 *     "keys":    { "<keyid>": {"role": "human", "public_key": "<b64 32 bytes>",
 *                              "principal": "alice@example.com"} },
 *     "revoked": { "<keyid>": {"role": "agent", "public_key": "<b64>",
 *                              "principal": "old-bot", "reason": "leaked"} } }
 * keyid = lowercase hex SHA-256 of the 32 raw public-key bytes, recomputed
 * at load. No public key may appear twice anywhere (across ids, roles and
 * the revoked list). "revoked" is optional.
 * Trust: the file is root-owned configuration, still parsed strictly. */
#ifndef CALYX_KEYRING_H
#define CALYX_KEYRING_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>
#include "calyx/common.h"

#define CX_KEYRING_MAX_BYTES (1u << 20)
#define CX_KEYRING_MAX_KEYS 1024
#define CX_PRINCIPAL_MAX 128

typedef enum cx_role {
	CX_ROLE_NONE = 0,
	CX_ROLE_HUMAN = 1,
	CX_ROLE_AGENT = 2,
} cx_role;

const char *cx_role_name(cx_role r);
int cx_role_parse(const char *s, cx_role *ret);

typedef struct cx_key {
	char keyid[65];
	uint8_t pk[32];
	cx_role role;
	char *principal;
	bool revoked;
} cx_key;

/* Free k->principal and zero *k: safe on a zeroed key and a second call,
 * so _cleanup_(cx_key_free) cx_key k = { 0 }; */
void cx_key_free(cx_key *k);

typedef struct cx_keyring {
	size_t n;
	cx_key *keys;
} cx_keyring;

int cx_keyring_parse(const uint8_t *buf, size_t len, cx_keyring *ret, cx_error *err);
/* Read with StrictModes (owner `owner`) and parse. */
int cx_keyring_load(const char *path, uid_t owner, cx_keyring *ret, cx_error *err);
void cx_keyring_free(cx_keyring *kr);
const cx_key *cx_keyring_find(const cx_keyring *kr, const char *keyid);

/* One keyring entry as written by `calyx-lease keygen` (NAME.pub.json):
 *   {"keyid": "...", "role": "agent", "public_key": "...", "principal": "..."} */
int cx_key_entry_parse(const json_t *obj, const char *what, cx_key *ret, cx_error *err);
json_t *cx_key_entry_json(const cx_key *k, bool with_keyid);
/* keyid of a public key. */
void cx_keyid(const uint8_t pk[32], char out[65]);

/* Secret key file: exactly the 32-byte Ed25519 seed, no group/other
 * permission bits. With `trusted`, also root-owned (StrictModes) — for the
 * host key. `what` names it in messages. */
int cx_seed_load(const char *path, const char *what, bool trusted, uid_t owner,
		 uint8_t seed[32], cx_error *err);
/* Public key of a seed. */
void cx_seed_public(const uint8_t seed[32], uint8_t pk[32]);

/* A new file of exactly buf, mode `mode` whatever the umask, fsync'd;
 * never replaces anything (O_EXCL, O_NOFOLLOW). */
int cx_write_new_file(const char *path, const void *buf, size_t len, mode_t mode,
		      cx_error *err);
/* A key pair (executor/lease/keygen.c): keypath the fresh 32-byte seed
 * (0600), pubpath its keyring entry with keyid (0644), neither replacing
 * an existing file; keyid (optional) the new key's id. */
int cx_keygen_write(const char *keypath, const char *pubpath, cx_role role, const char *name,
		    char keyid[65], cx_error *err);
/* The keyring entry of public key pk alone (NAME.pub.json, 0644, new). */
int cx_key_pub_write(const char *pubpath, const uint8_t pk[32], cx_role role, const char *name,
		     cx_error *err);

#endif
