/* DSSE envelope: strict parse, PAE, serialize (signing is in sign.c, so
 * calyx-exec, which links this file, carries no signing code). One parser
 * for every calyx document type (cx_doc_type: leases here, rollouts and
 * their control documents in calyx/rollout.h), each parsed only as the
 * type its caller expects.
 * Trust: parses hostile input (a lease file anyone may hand to calyx-exec,
 * a rollout or control document any host may fetch).
 * Nothing here decides trust: the verifier (verify.c) does, from the
 * parsed fields. */
#include "calyx/lease.h"

#include <string.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"

const cx_doc_type cx_doc_lease = {
	.payload_type = CX_LEASE_PAYLOAD_TYPE,
	.what = "lease",
	.max_bytes = CX_LEASE_MAX_BYTES,
	.body_max_bytes = CX_LEASE_BODY_MAX_BYTES,
	.nsig = CX_LEASE_SIGS,
	.sig_rule = "one human, one agent",
};

void cx_envelope_free(cx_envelope *e)
{
	free(e->payload_type);
	free(e->payload);
	memset(e, 0, sizeof(*e));
}

void cx_pae(const char *type, const uint8_t *body, size_t blen, uint8_t **ret, size_t *ret_len)
{
	size_t tlen = strlen(type);
	/* "DSSEv1 " + 20 digits + " " + type + " " + 20 digits + " " + body */
	size_t cap = 7 + 21 + tlen + 1 + 21 + blen + 1;
	uint8_t *out = malloc(cap);
	int n;

	CX_CHECK(out);
	n = snprintf((char *)out, cap, "DSSEv1 %zu %s %zu ", tlen, type, blen);
	CX_CHECK(n > 0 && (size_t)n + blen < cap);
	if (blen)
		memcpy(out + n, body, blen);
	*ret = out;
	*ret_len = (size_t)n + blen;
}

int cx_envelope_parse(const uint8_t *buf, size_t len, size_t min_sigs,
		      size_t max_sigs, cx_envelope *ret, cx_error *err)
{
	return cx_envelope_parse_as(&cx_doc_lease, buf, len, min_sigs, max_sigs, ret, err);
}

int cx_envelope_parse_as(const cx_doc_type *t, const uint8_t *buf, size_t len,
			 size_t min_sigs, size_t max_sigs, cx_envelope *ret, cx_error *err)
{
	static const char *const keys[] = { "payloadType", "payload", "signatures", NULL };
	static const char *const sig_keys[] = { "keyid", "sig", NULL };
	_cleanup_json_ json_t *j = NULL;
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	const char *type, *payload;
	json_t *sigs, *s;
	size_t i, plen;
	char env_what[64];
	long n;
	int r;

	CX_CHECK(t && max_sigs <= t->nsig && t->nsig <= CX_LEASE_SIGS);
	snprintf(env_what, sizeof(env_what), "%s envelope", t->what);
	if (len > t->max_bytes)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "%s is above %zu bytes", t->what, t->max_bytes);
	r = cx_json_parse_object(buf, len, t->what, &j, err);
	if (r < 0)
		return r;
	r = cx_json_keys(j, env_what, CX_E_ENVELOPE, keys, NULL, err);
	if (r < 0)
		return r;
	r = cx_json_str(j, "payloadType", env_what, CX_E_ENVELOPE, 128, false, &type, err);
	if (r < 0)
		return r;
	if (strcmp(type, t->payload_type) != 0)
		return cx_err(err, CX_E_PAYLOAD_TYPE, EINVAL,
			      "%s payloadType is '%.100s', not '%s' (this is not a calyx %s)",
			      t->what, type, t->payload_type, t->what);
	r = cx_json_str(j, "payload", env_what, CX_E_ENVELOPE,
			cx_b64_len(t->body_max_bytes), false, &payload, err);
	if (r < 0)
		return r;
	sigs = json_object_get(j, "signatures");
	if (!json_is_array(sigs))
		return cx_err(err, CX_E_ENVELOPE, EINVAL, "%s.signatures must be an array", env_what);
	if (json_array_size(sigs) < min_sigs || json_array_size(sigs) > max_sigs) {
		if (min_sigs == max_sigs)
			return cx_err(err, CX_E_SIG_COUNT, EINVAL,
				      "%s has %zu signatures, exactly %zu required (%s)", t->what,
				      json_array_size(sigs), min_sigs, t->sig_rule);
		return cx_err(err, CX_E_SIG_COUNT, EINVAL,
			      "%s already has %zu signatures (at most %zu allowed here)", t->what,
			      json_array_size(sigs), max_sigs);
	}

	plen = strlen(payload);
	e.payload = malloc(t->body_max_bytes);
	CX_CHECK(e.payload);
	n = cx_b64_decode(payload, plen, e.payload, 1, t->body_max_bytes);
	if (n < 0)
		return cx_err(err, CX_E_BASE64, EINVAL,
			      "%s payload is not canonical padded base64 (standard alphabet, no whitespace)",
			      t->what);
	e.payload_len = (size_t)n;
	e.payload_type = cx_strdup(type);

	json_array_foreach(sigs, i, s) {
		char what[64];
		const char *keyid, *sig;

		snprintf(what, sizeof(what), "%s signatures[%zu]", t->what, i);
		r = cx_json_keys(s, what, CX_E_ENVELOPE, sig_keys, NULL, err);
		if (r == 0)
			r = cx_json_str(s, "keyid", what, CX_E_KEYID, 128, false, &keyid, err);
		if (r == 0 && !cx_is_lower_hex(keyid, 64))
			r = cx_err(err, CX_E_KEYID, EINVAL, "%s.keyid is not 64 lowercase hex", what);
		if (r == 0)
			r = cx_json_str(s, "sig", what, CX_E_ENVELOPE, 256, false, &sig, err);
		if (r == 0) {
			uint8_t tmp[96];
			/* Decode into a larger buffer so a 63- or 65-byte
			 * signature is reported as a length error, not as
			 * bad base64. */
			n = cx_b64_decode(sig, strlen(sig), tmp, 1, sizeof(tmp));
			if (n < 0)
				r = cx_err(err, CX_E_BASE64, EINVAL,
					   "%s.sig is not canonical padded base64", what);
			else if (n != 64)
				r = cx_err(err, CX_E_SIG_LEN, EINVAL,
					   "%s.sig is %ld bytes, an Ed25519 signature is 64", what, n);
			else
				memcpy(e.sigs[i].sig, tmp, 64);
		}
		if (r < 0)
			return r;
		memcpy(e.sigs[i].keyid, keyid, 65);
		e.nsig++;
	}
	*ret = TAKE_STRUCT(e);
	return 0;
}

char *cx_envelope_dump(const cx_envelope *e)
{
	_cleanup_json_ json_t *j = json_object();
	json_t *sigs = json_array();
	char *b64 = malloc(cx_b64_len(e->payload_len) + 1);
	char sb[96];

	CX_CHECK(b64);
	cx_b64_encode(e->payload, e->payload_len, b64);
	json_object_set_new(j, "payloadType", json_string(e->payload_type));
	json_object_set_new(j, "payload", json_string(b64));
	free(b64);
	for (size_t i = 0; i < e->nsig; i++) {
		json_t *s = json_object();
		cx_b64_encode(e->sigs[i].sig, 64, sb);
		json_object_set_new(s, "keyid", json_string(e->sigs[i].keyid));
		json_object_set_new(s, "sig", json_string(sb));
		json_array_append_new(sigs, s);
	}
	json_object_set_new(j, "signatures", sigs);
	return cx_json_dump_pretty(j);
}
