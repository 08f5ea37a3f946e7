/* Keyring parsing (format in calyx/keyring.h).
 * Trust: root-owned configuration, parsed as if hostile anyway: a bad
 * keyring must never widen who can sign. */
#include "calyx/keyring.h"

#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"

const char *cx_role_name(cx_role r)
{
	switch (r) {
	case CX_ROLE_HUMAN:
		return "human";
	case CX_ROLE_AGENT:
		return "agent";
	default:
		return "none";
	}
}

int cx_role_parse(const char *s, cx_role *ret)
{
	if (strcmp(s, "human") == 0)
		*ret = CX_ROLE_HUMAN;
	else if (strcmp(s, "agent") == 0)
		*ret = CX_ROLE_AGENT;
	else
		return -EINVAL;
	return 0;
}

void cx_keyid(const uint8_t pk[32], char out[65])
{
	cx_sha256_hex(pk, 32, out);
}

/* Fields of one entry, without the keyid (the caller supplies it). */
enum { ENTRY_ACTIVE, ENTRY_REVOKED, ENTRY_PUBFILE };

static int entry_fields(const json_t *obj, const char *what, int kind,
			cx_key *k, cx_error *err)
{
	static const char *const req[] = { "role", "public_key", "principal", NULL };
	static const char *const opt_rev[] = { "reason", "revoked_at", NULL };
	static const char *const opt_pub[] = { "keyid", NULL };
	bool revoked = kind == ENTRY_REVOKED;
	const char *role, *pkb64, *principal, *reason;
	int64_t at;
	int r;

	r = cx_json_keys(obj, what, CX_E_KEYRING, req,
			 kind == ENTRY_REVOKED ? opt_rev : kind == ENTRY_PUBFILE ? opt_pub : NULL, err);
	if (r < 0)
		return r;
	r = cx_json_str(obj, "role", what, CX_E_KEYRING, 16, false, &role, err);
	if (r < 0)
		return r;
	if (cx_role_parse(role, &k->role) < 0)
		return cx_err(err, CX_E_KEYRING, EINVAL,
			      "%s.role '%s' is neither 'human' nor 'agent'", what, role);
	r = cx_json_str(obj, "public_key", what, CX_E_KEYRING, 64, false, &pkb64, err);
	if (r < 0)
		return r;
	if (cx_b64_decode(pkb64, strlen(pkb64), k->pk, 32, 32) != 32)
		return cx_err(err, CX_E_KEYRING, EINVAL,
			      "%s.public_key is not canonical base64 of 32 bytes", what);
	r = cx_json_str(obj, "principal", what, CX_E_KEYRING, CX_PRINCIPAL_MAX, false,
			&principal, err);
	if (r < 0)
		return r;
	if (revoked) {
		r = cx_json_str(obj, "reason", what, CX_E_KEYRING, 256, true, &reason, err);
		if (r < 0)
			return r;
		r = cx_json_int(obj, "revoked_at", what, CX_E_KEYRING, 0, INT64_MAX, true, &at, err);
		if (r < 0)
			return r;
	}
	k->principal = cx_strdup(principal);
	k->revoked = revoked;
	return 0;
}

void cx_key_free(cx_key *k)
{
	free(k->principal);
	memset(k, 0, sizeof(*k));
}

int cx_key_entry_parse(const json_t *obj, const char *what, cx_key *ret, cx_error *err)
{
	_cleanup_(cx_key_free) cx_key k = { 0 };
	const char *keyid;
	int r;

	r = entry_fields(obj, what, ENTRY_PUBFILE, &k, err);
	if (r < 0)
		return r;
	cx_keyid(k.pk, k.keyid);
	r = cx_json_str(obj, "keyid", what, CX_E_KEYRING, 64, true, &keyid, err);
	if (r == 0 && keyid && strcmp(keyid, k.keyid) != 0)
		r = cx_err(err, CX_E_KEYID_MISMATCH, EINVAL,
			   "%s.keyid does not match SHA-256 of its public key (expected %s)", what,
			   k.keyid);
	if (r < 0)
		return r;
	*ret = TAKE_STRUCT(k);
	return 0;
}

json_t *cx_key_entry_json(const cx_key *k, bool with_keyid)
{
	char b64[48];
	json_t *o = json_object();

	cx_b64_encode(k->pk, 32, b64);
	if (with_keyid)
		json_object_set_new(o, "keyid", json_string(k->keyid));
	json_object_set_new(o, "role", json_string(cx_role_name(k->role)));
	json_object_set_new(o, "public_key", json_string(b64));
	json_object_set_new(o, "principal", json_string(k->principal));
	return o;
}

void cx_keyring_free(cx_keyring *kr)
{
	for (size_t i = 0; i < kr->n; i++)
		free(kr->keys[i].principal);
	free(kr->keys);
	kr->keys = NULL;
	kr->n = 0;
}

const cx_key *cx_keyring_find(const cx_keyring *kr, const char *keyid)
{
	for (size_t i = 0; i < kr->n; i++)
		if (strcmp(kr->keys[i].keyid, keyid) == 0)
			return &kr->keys[i];
	return NULL;
}

static int add_section(cx_keyring *kr, const json_t *sec, bool revoked, cx_error *err)
{
	const char *sname = revoked ? "keyring.revoked" : "keyring.keys";
	const char *keyid;
	json_t *v;
	int r;

	if (!json_is_object(sec))
		return cx_err(err, CX_E_KEYRING, EINVAL, "%s must be an object keyed by keyid", sname);
	json_object_foreach((json_t *)sec, keyid, v) {
		char what[128];
		_cleanup_(cx_key_free) cx_key k = { 0 };

		if (kr->n >= CX_KEYRING_MAX_KEYS)
			return cx_err(err, CX_E_KEYRING, E2BIG, "keyring has more than %d keys",
				      CX_KEYRING_MAX_KEYS);
		if (!cx_is_lower_hex(keyid, 64))
			return cx_err(err, CX_E_KEYRING, EINVAL,
				      "%s has key '%.70s' that is not 64 lowercase hex", sname, keyid);
		snprintf(what, sizeof(what), "%s.%.12s", sname, keyid);
		r = entry_fields(v, what, revoked ? ENTRY_REVOKED : ENTRY_ACTIVE, &k, err);
		if (r < 0)
			return r;
		/* Duplicate public key first: the same key under a second id is
		 * the attack, the id mismatch its symptom. */
		for (size_t i = 0; i < kr->n; i++)
			if (memcmp(kr->keys[i].pk, k.pk, 32) == 0)
				return cx_err(err, CX_E_DUP_KEY, EINVAL,
					      "%s: public key already listed as %.12s (%s) — each key may appear once",
					      what, kr->keys[i].keyid,
					      kr->keys[i].revoked ? "revoked" : "active");
		cx_keyid(k.pk, k.keyid);
		if (strcmp(k.keyid, keyid) != 0)
			return cx_err(err, CX_E_KEYID_MISMATCH, EINVAL,
				      "%s: keyid is not SHA-256 of its public key (expected %s)", what,
				      k.keyid);
		cx_key *nk = realloc(kr->keys, (kr->n + 1) * sizeof(*nk));
		CX_CHECK(nk);
		kr->keys = nk;
		kr->keys[kr->n++] = TAKE_STRUCT(k);
	}
	return 0;
}

int cx_keyring_parse(const uint8_t *buf, size_t len, cx_keyring *ret, cx_error *err)
{
	static const char *const req[] = { "v", "keys", NULL };
	static const char *const opt[] = { "revoked", NULL };
	_cleanup_json_ json_t *j = NULL;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	int64_t v;
	json_t *rev;
	int r;

	if (len > CX_KEYRING_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "keyring is above %u bytes",
			      CX_KEYRING_MAX_BYTES);
	r = cx_json_parse_object(buf, len, "keyring", &j, err);
	if (r < 0)
		return r;
	r = cx_json_keys(j, "keyring", CX_E_KEYRING, req, opt, err);
	if (r < 0)
		return r;
	r = cx_json_int(j, "v", "keyring", CX_E_KEYRING, 1, 1, false, &v, err);
	if (r < 0)
		return r;
	r = add_section(&kr, json_object_get(j, "keys"), false, err);
	rev = json_object_get(j, "revoked");
	if (r == 0 && rev)
		r = add_section(&kr, rev, true, err);
	if (r < 0)
		return r;
	*ret = TAKE_STRUCT(kr);
	return 0;
}

int cx_keyring_load(const char *path, uid_t owner, cx_keyring *ret, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = cx_read_file(path, "keyring", CX_KEYRING_MAX_BYTES, CX_FILE_TRUSTED, owner, &buf,
			 &len, err);
	if (r < 0)
		return r;
	r = cx_keyring_parse(buf, len, ret, err);
	if (r < 0)
		cx_err_prefix(err, "keyring '%s'", path);
	return r;
}

int cx_seed_load(const char *path, const char *what, bool trusted, uid_t owner,
		 uint8_t seed[32], cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = cx_read_file(path, what, 64, CX_FILE_SECRET | (trusted ? CX_FILE_TRUSTED : 0), owner,
			 &buf, &len, err);
	if (r < 0)
		return r;
	if (len != 32) {
		cx_wipe(buf, len);
		return cx_err(err, CX_E_KEY, EINVAL,
			      "%s '%s' is %zu bytes, a key file holds exactly the 32-byte seed (regenerate it with 'calyx-lease keygen')",
			      what, path, len);
	}
	memcpy(seed, buf, 32);
	cx_wipe(buf, len);
	return 0;
}

void cx_seed_public(const uint8_t seed[32], uint8_t pk[32])
{
	uint8_t sk[64];
	crypto_sign_seed_keypair(pk, sk, seed);
	cx_wipe(sk, sizeof(sk));
}
