/* Unit tests: the lease verifier's attack catalogue.
 *
 * Each test hands the verifier (or the keyring/policy/file readers it
 * depends on) one malicious input and asserts the exact reason code of the
 * refusal. Inputs differ from a valid lease in one respect only, so a test
 * cannot pass because of an unrelated earlier refusal. Positive tests pin
 * the baseline and the edges of the accepted window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calyx/codec.h"
#include "calyx/lease.h"
#include "calyx/policy.h"
#include "testutil.h"
#include "tu_expect.h"

#define OTHER_TYPE "application/vnd.in-toto+json"
#define BIG (10u << 20) /* 10 MB */

/* ---- fixture and helpers ------------------------------------------------ */

static int setup(void **state)
{
	tu_fixture *f = malloc(sizeof(*f));
	if (!f)
		return -1;
	tu_fixture_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	tu_fixture_free(*state);
	free(*state);
	return 0;
}


static int verify_buf(tu_fixture *f, const void *buf, size_t len, cx_lease *l, cx_error *err)
{
	cx_verify_input in = { .keyring = &f->kr, .policy = &f->pol, .host_id = f->host_id,
			       .pools = f->pools, .n_pools = f->n_pools, .now = f->now };
	memset(err, 0, sizeof(*err));
	return cx_lease_verify(&in, buf, len, l, err);
}

/* Verify envelope text (freed) and expect `want`; want == CX_OK: accepted. */
static void verify_text(tu_fixture *f, char *env, int want)
{
	cx_error err;
	int r = tu_verify(f, env, &err);

	free(env);
	if (want == CX_OK) {
		if (r != 0)
			print_error("want OK, got %s: %s\n", cx_reason_name(err.reason), err.msg);
		assert_int_equal(r, 0);
		return;
	}
	expect(r, &err, want);
}

static json_t *jload(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	assert_non_null(j);
	return j;
}

static json_t *jload_free(char *s)
{
	json_t *j = jload(s);
	free(s);
	return j;
}

static char *jdump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static void verify_json(tu_fixture *f, json_t *env, int want)
{
	verify_text(f, jdump(env), want);
}

/* Copy of s with the first `from` replaced by `to`. */
static char *replace1(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *out;

	assert_non_null(p);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from)) > 0);
	return out;
}

static json_t *good_body(tu_fixture *f)
{
	return tu_body(f->now, f->pol.sha256_hex);
}

static char *body_text(tu_fixture *f)
{
	return jdump(good_body(f));
}

/* Envelope over exact payload bytes, validly signed by human and agent. */
static char *sign_payload(tu_fixture *f, const char *p, size_t n)
{
	const tu_key *s[] = { &f->human, &f->agent };
	return tu_envelope_raw(CX_LEASE_PAYLOAD_TYPE, (const uint8_t *)p, n, CX_LEASE_PAYLOAD_TYPE,
			       s, 2);
}

/* Sign an edited body object (consumed) with both roles and verify. */
static void body_expect(tu_fixture *f, json_t *b, int want)
{
	char *e = tu_envelope_body(b, &f->human, &f->agent);
	json_decref(b);
	verify_text(f, e, want);
}

/* Sign the good body with these keys (b may be NULL) and verify. */
static void signers_expect(tu_fixture *f, const tu_key *a, const tu_key *b, int want)
{
	json_t *body = good_body(f);
	char *e = tu_envelope_body(body, a, b);
	json_decref(body);
	verify_text(f, e, want);
}

/* Set one body field (value consumed), sign, verify. */
static void body_set_expect(tu_fixture *f, const char *key, json_t *v, int want)
{
	json_t *b = good_body(f);
	json_object_set_new(b, key, v);
	body_expect(f, b, want);
}

/* Edit the compact body *text* (for things jansson would not emit), sign
 * those exact bytes validly so the body parser is reached, verify. */
static void body_text_expect(tu_fixture *f, const char *from, const char *to, int want)
{
	char *t = body_text(f), *m = replace1(t, from, to);
	verify_text(f, sign_payload(f, m, strlen(m)), want);
	free(t);
	free(m);
}

/* Edit the envelope text of the good lease and verify. */
static void env_text_expect(tu_fixture *f, const char *from, const char *to, int want)
{
	char *e = tu_good_lease(f);
	verify_text(f, replace1(e, from, to), want);
	free(e);
}

static json_t *sig_obj(json_t *env, size_t i)
{
	json_t *s = json_array_get(json_object_get(env, "signatures"), i);
	assert_non_null(s);
	return s;
}

static void sig_get(json_t *env, size_t i, uint8_t out[64])
{
	const char *s = json_string_value(json_object_get(sig_obj(env, i), "sig"));
	assert_int_equal(cx_b64_decode(s, strlen(s), out, 64, 64), 64);
}

static void sig_set(json_t *env, size_t i, const uint8_t *sig, size_t n)
{
	char b64[128];
	assert_true(cx_b64_len(n) < sizeof(b64));
	cx_b64_encode(sig, n, b64);
	json_object_set_new(sig_obj(env, i), "sig", json_string(b64));
}

/* Replace the signature bytes of signature 0 by n bytes of a real one. */
static void sig_len_expect(tu_fixture *f, size_t n, int want)
{
	json_t *env = jload_free(tu_good_lease(f));
	uint8_t sig[65] = { 0 };
	sig_get(env, 0, sig);
	sig_set(env, 0, sig, n);
	verify_json(f, env, want);
}

static void payload_get(json_t *env, uint8_t *out, size_t *n)
{
	const char *s = json_string_value(json_object_get(env, "payload"));
	long r = cx_b64_decode(s, strlen(s), out, 1, CX_LEASE_BODY_MAX_BYTES);
	assert_true(r > 0);
	*n = (size_t)r;
}

static void payload_set(json_t *env, const uint8_t *p, size_t n)
{
	char *b64 = malloc(cx_b64_len(n) + 1);
	assert_non_null(b64);
	cx_b64_encode(p, n, b64);
	json_object_set_new(env, "payload", json_string(b64));
	free(b64);
}

static void set_times(json_t *b, int64_t iat, int64_t nbf, int64_t naf)
{
	json_object_set_new(b, "issued_at", json_integer(iat));
	json_object_set_new(b, "not_before", json_integer(nbf));
	json_object_set_new(b, "not_after", json_integer(naf));
}

static void window_expect(tu_fixture *f, int64_t iat, int64_t nbf, int64_t naf, int want)
{
	json_t *b = good_body(f);
	set_times(b, f->now + iat, f->now + nbf, f->now + naf);
	body_expect(f, b, want);
}

/* Replace the fixture's policy by this text. */
static void swap_policy(tu_fixture *f, const char *text)
{
	cx_error err = { 0 };
	cx_policy_free(&f->pol);
	if (cx_policy_parse((const uint8_t *)text, strlen(text), &f->pol, &err) < 0)
		print_error("policy: %s\n", err.msg);
	assert_int_equal(err.reason, CX_OK);
}

static void policy_expect(const char *text, int want)
{
	cx_policy p = { 0 };
	cx_error err = { 0 };
	int r = cx_policy_parse((const uint8_t *)text, strlen(text), &p, &err);
	if (r == 0)
		cx_policy_free(&p);
	expect(r, &err, want);
}

/* One hand-written keyring entry; role NULL: the key's own. */
static char *kr_entry(const tu_key *k, const char *role, const char *extra)
{
	char *s;
	assert_true(asprintf(&s, "{\"role\":\"%s\",\"public_key\":\"%s\",\"principal\":\"%s\"%s}",
			     role ? role : cx_role_name(k->role), k->pk_b64, k->principal,
			     extra ? extra : "") > 0);
	return s;
}

/* Keyring text {"v":1,"keys":{id1:e1,id2:e2}<tail>}; id2 NULL: one key. */
static char *kr_text(const char *id1, char *e1, const char *id2, char *e2, const char *tail)
{
	char *s;
	if (id2)
		assert_true(asprintf(&s, "{\"v\":1,\"keys\":{\"%s\":%s,\"%s\":%s}%s}", id1, e1, id2,
				     e2, tail ? tail : "") > 0);
	else
		assert_true(asprintf(&s, "{\"v\":1,\"keys\":{\"%s\":%s}%s}", id1, e1,
				     tail ? tail : "") > 0);
	free(e1);
	free(e2);
	return s;
}

static void keyring_expect(char *text, int want)
{
	cx_keyring kr = { 0 };
	cx_error err = { 0 };
	int r = cx_keyring_parse((const uint8_t *)text, strlen(text), &kr, &err);
	free(text);
	if (r == 0)
		cx_keyring_free(&kr);
	expect(r, &err, want);
}

/* ---- baseline ----------------------------------------------------------- */

/* Baseline: the good lease verifies; spec resolved against the policy. */
static void good_lease_verifies(void **state)
{
	tu_fixture *f = *state;
	char *e = tu_good_lease(f);
	cx_lease l = { 0 };
	cx_error err;
	int r = verify_buf(f, e, strlen(e), &l, &err);

	free(e);
	if (r != 0)
		print_error("%s: %s\n", cx_reason_name(err.reason), err.msg);
	assert_int_equal(r, 0);
	assert_string_equal(l.lease_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(l.run_id, "deploy-4821");
	assert_null(l.audience);
	/* env = policy "set" (PATH, HOME) then the lease's allowed LANG */
	assert_int_equal(l.spec.env.n, 3);
	assert_string_equal(l.spec.env.name[0], "PATH");
	assert_string_equal(l.spec.env.value[0], "/usr/bin:/bin");
	assert_string_equal(l.spec.env.name[1], "HOME");
	assert_string_equal(l.spec.env.value[1], "/work");
	assert_string_equal(l.spec.env.name[2], "LANG");
	assert_string_equal(l.spec.env.value[2], "C.UTF-8");
	/* limits: lease values kept, policy defaults filled in, all set */
	assert_int_equal(l.spec.limits.set, (1u << CX_LIM__COUNT) - 1);
	assert_int_equal(l.spec.limits.v[CX_LIM_PIDS], 128);
	assert_int_equal(l.spec.limits.v[CX_LIM_MEMORY_BYTES], 536870912);
	assert_int_equal(l.spec.limits.v[CX_LIM_NOFILE], 256);
	assert_int_equal(l.spec.limits.v[CX_LIM_FSIZE_BYTES], 104857600);
	assert_int_equal(l.spec.limits.v[CX_LIM_TMP_BYTES], 67108864);
	assert_int_equal(l.spec.argv.n, 4);
	assert_string_equal(l.spec.argv.v[0], "/usr/bin/make");
	assert_int_equal(l.spec.validate_argv.n, 4);
	assert_string_equal(l.spec.workspace, "/srv/app");
	assert_string_equal(l.spec.cwd, "/work");
	assert_int_equal(l.spec.network, CX_NET_NONE);
	/* signers from the keyring, in envelope order */
	assert_int_equal(l.nsigner, 2);
	assert_int_equal(l.signer[0].role, CX_ROLE_HUMAN);
	assert_string_equal(l.signer[0].principal, "alice");
	assert_string_equal(l.signer[0].keyid, f->human.keyid);
	assert_int_equal(l.signer[1].role, CX_ROLE_AGENT);
	assert_string_equal(l.signer[1].principal, "ops-bot");
	assert_string_equal(l.signer[1].keyid, f->agent.keyid);
	cx_lease_free(&l);
}

/* Edge (accepted): not_before and issued_at exactly now + skew. */
static void window_edge_not_before_accepted(void **s) { window_expect(*s, 60, 60, 600, CX_OK); }

/* Edge (accepted): not_after one second inside now - skew. */
static void window_edge_not_after_accepted(void **s) { window_expect(*s, -999, -999, -59, CX_OK); }

/* Edge (accepted): lifetime exactly the policy maximum. */
static void window_edge_lifetime_accepted(void **s) { window_expect(*s, -10, -10, 3590, CX_OK); }
/* attack: a lease "issued" after its own expiry (back-dated window) */
static void issued_after_expiry(void **s) { window_expect(*s, 30, -100, 20, CX_E_TIME); }

/* Signer order human/agent is not significant: agent first verifies. */
static void agent_first_accepted(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->agent, &f->human, CX_OK);
}

/* ---- signatures --------------------------------------------------------- */

/* Forged signature: one bit of the human's signature flipped. */
static void forged_sig_flipped(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	uint8_t sig[64];
	sig_get(env, 0, sig);
	sig[10] ^= 0x01;
	sig_set(env, 0, sig, 64);
	verify_json(f, env, CX_E_BAD_SIG);
}

/* One valid signature entry duplicated (same key counted twice). */
static void sig_entry_duplicated(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	json_array_set(json_object_get(env, "signatures"), 1, sig_obj(env, 0));
	verify_json(f, env, CX_E_DUP_SIGNER);
}

/* Same key signs twice (two distinct signature entries by the human). */
static void same_key_twice(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->human, &f->human, CX_E_DUP_SIGNER);
}

/* Signature entry carries an extra "role" claim (roles come from the keyring). */
static void sig_entry_extra_role(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	json_object_set_new(sig_obj(env, 1), "role", json_string("human"));
	verify_json(f, env, CX_E_ENVELOPE);
}

/* Two humans, no agent. */
static void two_humans(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->human, &f->human2, CX_E_ROLE_MISSING);
}

/* Two agents, no human: the bots approve each other. */
static void two_agents(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->agent, &f->agent2, CX_E_ROLE_MISSING);
}

/* Agent alone signs. */
static void agent_only(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->agent, NULL, CX_E_SIG_COUNT);
}

/* No signatures at all: "signatures": []. */
static void signatures_empty(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	json_array_clear(json_object_get(env, "signatures"));
	verify_json(f, env, CX_E_SIG_COUNT);
}

/* Three valid signatures (threshold-style stuffing). */
static void three_signatures(void **state)
{
	tu_fixture *f = *state;
	const tu_key *s[] = { &f->human, &f->agent, &f->human2 };
	char *p = body_text(f);
	char *e = tu_envelope_raw(CX_LEASE_PAYLOAD_TYPE, (uint8_t *)p, strlen(p),
				  CX_LEASE_PAYLOAD_TYPE, s, 3);
	free(p);
	verify_text(f, e, CX_E_SIG_COUNT);
}

/* Agent's signature spliced in from another lease B. */
static void sig_from_other_lease(void **state)
{
	tu_fixture *f = *state;
	json_t *a = jload_free(tu_good_lease(f)), *bb = good_body(f), *benv;
	json_object_set_new(bb, "run_id", json_string("deploy-9999"));
	benv = jload_free(tu_envelope_body(bb, &f->human, &f->agent));
	json_decref(bb);
	json_array_set(json_object_get(a, "signatures"), 1, sig_obj(benv, 1));
	json_decref(benv);
	verify_json(f, a, CX_E_BAD_SIG);
}

/* Signed by a key the keyring does not know. */
static void unknown_key(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->stranger, &f->agent, CX_E_UNKNOWN_KEY);
}

/* Signed by a revoked key. */
static void revoked_key(void **s)
{
	tu_fixture *f = *s;
	signers_expect(f, &f->human, &f->revoked, CX_E_REVOKED);
}

/* Signature truncated to 63 bytes. */
static void sig_63_bytes(void **s) { sig_len_expect(*s, 63, CX_E_SIG_LEN); }

/* Signature padded to 65 bytes. */
static void sig_65_bytes(void **s) { sig_len_expect(*s, 65, CX_E_SIG_LEN); }

/* Signature of 0 bytes ("sig": ""): empty strings are refused as fields. */
static void sig_0_bytes(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	json_object_set_new(sig_obj(env, 0), "sig", json_string(""));
	verify_json(f, env, CX_E_ENVELOPE);
}

/* keyid in uppercase hex (a second spelling of the same id). */
static void keyid_uppercase(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	char id[65];
	bool changed = false;
	memcpy(id, f->human.keyid, 65);
	for (size_t i = 0; i < 64; i++)
		if (id[i] >= 'a' && id[i] <= 'f') {
			id[i] = (char)(id[i] - 'a' + 'A');
			changed = true;
		}
	assert_true(changed);
	json_object_set_new(sig_obj(env, 0), "keyid", json_string(id));
	verify_json(f, env, CX_E_KEYID);
}

/* keyid a prefix (63 hex) of a real keyid. */
static void keyid_prefix(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	char id[65];
	memcpy(id, f->human.keyid, 65);
	id[63] = '\0';
	json_object_set_new(sig_obj(env, 0), "keyid", json_string(id));
	verify_json(f, env, CX_E_KEYID);
}

/* ---- base64 ------------------------------------------------------------- */

enum b64_attack { B64_TRAILING, B64_NOPAD, B64_EXTRAPAD, B64_MIDPAD, B64_SPACE, B64_NEWLINE,
		  B64_URLSAFE };

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A non-canonical spelling of canonical "...XY==" base64 text. */
static char *b64_mutate(const char *in, enum b64_attack a)
{
	size_t n = strlen(in);
	char *out = calloc(1, n + 8), *eq;
	bool changed = false;

	assert_non_null(out);
	memcpy(out, in, n);
	assert_true(n >= 80 && strcmp(in + n - 2, "==") == 0 && in[n - 3] != '=');
	switch (a) {
	case B64_TRAILING: /* non-zero trailing bits: same bytes, second spelling */
		eq = strchr(out, '=');
		eq[-1] = b64_alpha[(strchr(b64_alpha, eq[-1]) - b64_alpha) | 1];
		break;
	case B64_NOPAD:
		out[n - 2] = '\0';
		break;
	case B64_EXTRAPAD:
		memcpy(out + n, "====", 4);
		break;
	case B64_MIDPAD: /* padding in the middle, length still a multiple of 4 */
		out[6] = out[7] = '=';
		break;
	case B64_SPACE: /* four spaces keep the length a multiple of 4 */
	case B64_NEWLINE:
		memmove(out + 12, out + 8, n - 8);
		memcpy(out + 8, a == B64_SPACE ? "    " : "\n\n\n\n", 4);
		break;
	case B64_URLSAFE:
		for (size_t i = 0; i < n; i++)
			if (out[i] == '+' || out[i] == '/') {
				out[i] = out[i] == '+' ? '-' : '_';
				changed = true;
			}
		if (!changed)
			out[0] = '-';
		break;
	}
	return out;
}

/* Apply one base64 attack to signature 0's "sig" or to "payload". The
 * payload is padded with JSON whitespace to a length of 1 mod 3 so its
 * base64 ends in "==" (like a 64-byte signature). The unmutated envelope
 * is checked to verify first. */
static void b64_case(void **state, bool in_sig, enum b64_attack a)
{
	tu_fixture *f = *state;
	char *t = body_text(f), *p, *m;
	size_t n = strlen(t);
	json_t *env, *obj;
	const char *key = in_sig ? "sig" : "payload";

	p = malloc(n + 3);
	assert_non_null(p);
	memcpy(p, t, n);
	while (n % 3 != 1)
		p[n++] = ' ';
	env = jload_free(sign_payload(f, p, n));
	free(t);
	free(p);
	verify_text(f, json_dumps(env, JSON_COMPACT), CX_OK);
	obj = in_sig ? sig_obj(env, 0) : env;
	m = b64_mutate(json_string_value(json_object_get(obj, key)), a);
	json_object_set_new(obj, key, json_string(m));
	free(m);
	verify_json(f, env, CX_E_BASE64);
}

/* sig base64 with non-zero trailing bits (malleable second spelling). */
static void sig_b64_trailing_bits(void **s) { b64_case(s, true, B64_TRAILING); }
/* sig base64 with padding stripped. */
static void sig_b64_missing_padding(void **s) { b64_case(s, true, B64_NOPAD); }
/* sig base64 with extra padding appended. */
static void sig_b64_extra_padding(void **s) { b64_case(s, true, B64_EXTRAPAD); }
/* sig base64 with padding in the middle. */
static void sig_b64_mid_padding(void **s) { b64_case(s, true, B64_MIDPAD); }
/* sig base64 with embedded spaces. */
static void sig_b64_whitespace(void **s) { b64_case(s, true, B64_SPACE); }
/* sig base64 with embedded newlines (MIME style). */
static void sig_b64_newline(void **s) { b64_case(s, true, B64_NEWLINE); }
/* sig base64 in the URL-safe alphabet (- and _). */
static void sig_b64_urlsafe(void **s) { b64_case(s, true, B64_URLSAFE); }
/* payload base64 with non-zero trailing bits. */
static void payload_b64_trailing_bits(void **s) { b64_case(s, false, B64_TRAILING); }
/* payload base64 with padding stripped. */
static void payload_b64_missing_padding(void **s) { b64_case(s, false, B64_NOPAD); }
/* payload base64 with extra padding appended. */
static void payload_b64_extra_padding(void **s) { b64_case(s, false, B64_EXTRAPAD); }
/* payload base64 with padding in the middle. */
static void payload_b64_mid_padding(void **s) { b64_case(s, false, B64_MIDPAD); }
/* payload base64 with embedded spaces. */
static void payload_b64_whitespace(void **s) { b64_case(s, false, B64_SPACE); }
/* payload base64 with embedded newlines. */
static void payload_b64_newline(void **s) { b64_case(s, false, B64_NEWLINE); }
/* payload base64 in the URL-safe alphabet. */
static void payload_b64_urlsafe(void **s) { b64_case(s, false, B64_URLSAFE); }

/* ---- payload and payloadType ------------------------------------------- */

/* Empty payload, validly signed ("payload": "" is refused as a field). */
static void payload_empty(void **state)
{
	tu_fixture *f = *state;
	verify_text(f, sign_payload(f, "", 0), CX_E_ENVELOPE);
}

/* Payload edited after signing (run_id changed, same length). */
static void payload_edited(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	uint8_t *p = malloc(CX_LEASE_BODY_MAX_BYTES + 1);
	size_t n;
	char *at;

	assert_non_null(p);
	payload_get(env, p, &n);
	p[n] = '\0';
	at = strstr((char *)p, "deploy-4821");
	assert_non_null(at);
	at[10] = '2';
	payload_set(env, p, n);
	free(p);
	verify_json(f, env, CX_E_BAD_SIG);
}

/* payloadType swapped for another type (signatures consistent with it). */
static void payload_type_swapped(void **state)
{
	tu_fixture *f = *state;
	const tu_key *s[] = { &f->human, &f->agent };
	char *p = body_text(f);
	char *e = tu_envelope_raw(OTHER_TYPE, (uint8_t *)p, strlen(p), OTHER_TYPE, s, 2);
	free(p);
	verify_text(f, e, CX_E_PAYLOAD_TYPE);
}

/* payloadType right, but signers signed PAE over another type. */
static void payload_type_signed_other(void **state)
{
	tu_fixture *f = *state;
	const tu_key *s[] = { &f->human, &f->agent };
	char *p = body_text(f);
	char *e = tu_envelope_raw(CX_LEASE_PAYLOAD_TYPE, (uint8_t *)p, strlen(p), OTHER_TYPE, s, 2);
	free(p);
	verify_text(f, e, CX_E_BAD_SIG);
}

/* Signatures over the raw payload bytes instead of PAE. */
static void sig_over_raw_payload(void **state)
{
	tu_fixture *f = *state;
	const tu_key *k[] = { &f->human, &f->agent };
	char *p = body_text(f);
	json_t *env = jload_free(sign_payload(f, p, strlen(p)));

	for (size_t i = 0; i < 2; i++) {
		uint8_t pk[32], sk[64], sig[64];
		crypto_sign_seed_keypair(pk, sk, k[i]->seed);
		crypto_sign_detached(sig, NULL, (const uint8_t *)p, strlen(p), sk);
		sig_set(env, i, sig, 64);
	}
	free(p);
	verify_json(f, env, CX_E_BAD_SIG);
}

/* ---- JSON strictness ---------------------------------------------------- */

/* Envelope with "payload" twice (second wins in lenient parsers). */
static void env_dup_key(void **state)
{
	env_text_expect(*state, "{\"payloadType\"", "{\"payload\":\"AAAA\",\"payloadType\"",
			CX_E_JSON);
}

/* Envelope duplicate key spelled with a \u escape: "\u0070ayload". */
static void env_dup_key_escaped(void **state)
{
	env_text_expect(*state, "{\"payloadType\"", "{\"\\u0070ayload\":\"AAAA\",\"payloadType\"",
			CX_E_JSON);
}

/* Body with "argv" twice (validly signed bytes). */
static void body_dup_key(void **state)
{
	body_text_expect(*state, "{", "{\"argv\":[\"/bin/sh\"],", CX_E_JSON);
}

/* Body duplicate key spelled with a \u escape: "\u0061rgv". */
static void body_dup_key_escaped(void **state)
{
	body_text_expect(*state, "{", "{\"\\u0061rgv\":[\"/bin/sh\"],", CX_E_JSON);
}

/* Keyring lists the human's keyid twice, the second (\u-escaped) as agent. */
static void keyring_dup_key_escaped(void **state)
{
	tu_fixture *f = *state;
	char esc[80];
	snprintf(esc, sizeof(esc), "\\u00%02x%s", (unsigned char)f->human.keyid[0],
		 f->human.keyid + 1);
	keyring_expect(kr_text(f->human.keyid, kr_entry(&f->human, NULL, NULL), esc,
			       kr_entry(&f->human, "agent", NULL), NULL),
		       CX_E_JSON);
}

/* Policy with "commands" twice, the second \u-escaped, widening the list. */
static void policy_dup_key_escaped(void **state)
{
	char *t = replace1(tu_policy_text(), "{", "{\"\\u0063ommands\":[\"/bin/sh\"],");
	(void)state;
	policy_expect(t, CX_E_JSON);
	free(t);
}

/* Unknown top-level envelope field. */
static void env_unknown_field(void **state)
{
	tu_fixture *f = *state;
	json_t *env = jload_free(tu_good_lease(f));
	json_object_set_new(env, "threshold", json_integer(1));
	verify_json(f, env, CX_E_ENVELOPE);
}

/* Unknown body field (signed). */
static void body_unknown_field(void **state)
{
	body_set_expect(*state, "privileged", json_true(), CX_E_BODY);
}

/* Unknown field in a keyring entry. */
static void keyring_entry_unknown_field(void **state)
{
	tu_fixture *f = *state;
	keyring_expect(kr_text(f->human.keyid, kr_entry(&f->human, NULL, ",\"admin\":true"), NULL,
			       NULL, NULL),
		       CX_E_KEYRING);
}

/* Unknown policy field. */
static void policy_unknown_field(void **state)
{
	char *t = replace1(tu_policy_text(), "{", "{\"allow_all\":true,");
	(void)state;
	policy_expect(t, CX_E_POLICY);
	free(t);
}

/* Body missing a required field (run_id). */
static void body_missing_field(void **state)
{
	tu_fixture *f = *state;
	json_t *b = good_body(f);
	json_object_del(b, "run_id");
	body_expect(f, b, CX_E_BODY);
}

/* not_after as a string. */
static void time_string(void **state)
{
	tu_fixture *f = *state;
	body_set_expect(f, "not_after", json_string("1795336190"), CX_E_TIME);
}

/* not_after as a float. */
static void time_float(void **state)
{
	tu_fixture *f = *state;
	body_set_expect(f, "not_after", json_real((double)(f->now + 100)), CX_E_TIME);
}

/* not_before negative. */
static void time_negative(void **state)
{
	body_set_expect(*state, "not_before", json_integer(-1), CX_E_TIME);
}

/* not_after huge (year ~3 million). */
static void time_huge(void **state)
{
	body_set_expect(*state, "not_after", json_integer(99999999999999LL), CX_E_TIME);
}

/* not_after bigger than int64 (jansson refuses the number). */
static void time_above_int64(void **state)
{
	tu_fixture *f = *state;
	json_t *b = good_body(f);
	char *t, *m;
	json_object_set_new(b, "not_after", json_integer(424242424242LL));
	t = jdump(b);
	m = replace1(t, "424242424242", "99999999999999999999");
	verify_text(f, sign_payload(f, m, strlen(m)), CX_E_JSON);
	free(t);
	free(m);
}

/* not_after <= not_before (empty window). */
static void time_inverted(void **s) { window_expect(*s, -10, 100, 100, CX_E_TIME); }

/* NUL inside an envelope string via \u0000. */
static void env_nul_escape(void **state)
{
	env_text_expect(*state, "application/vnd", "application\\u0000/vnd", CX_E_JSON);
}

/* NUL inside a body string via \u0000 (signed; truncation attack on C strings). */
static void body_nul_escape(void **state)
{
	body_text_expect(*state, "deploy-4821", "deploy-4821\\u0000../../x", CX_E_JSON);
}

/* Raw junk after a NUL byte in the envelope buffer. */
static void env_junk_after_nul(void **state)
{
	tu_fixture *f = *state;
	char *e = tu_good_lease(f), *buf;
	size_t n = strlen(e);
	cx_lease l = { 0 };
	cx_error err;
	int r;

	buf = malloc(n + 5);
	assert_non_null(buf);
	memcpy(buf, e, n);
	memcpy(buf + n, "\0junk", 5);
	r = verify_buf(f, buf, n + 5, &l, &err);
	if (r == 0)
		cx_lease_free(&l);
	free(buf);
	free(e);
	expect(r, &err, CX_E_JSON);
}

/* Invalid UTF-8 (overlong '/') in the envelope. */
static void env_invalid_utf8(void **state)
{
	env_text_expect(*state, "application/vnd", "application\xc0\xafvnd", CX_E_JSON);
}

/* Invalid UTF-8 in the body (signed). */
static void body_invalid_utf8(void **state)
{
	body_text_expect(*state, "release 4.2", "release \xff\xfe", CX_E_JSON);
}

/* 3000-deep array nesting (stack exhaustion). */
static void deep_nesting(void **state)
{
	tu_fixture *f = *state;
	size_t d = 3000;
	char *buf = malloc(2 * d + 32), *p = buf;
	cx_lease l = { 0 };
	cx_error err;
	int r;

	assert_non_null(buf);
	p += sprintf(p, "{\"payloadType\":");
	memset(p, '[', d);
	memset(p + d, ']', d);
	p += 2 * d;
	strcpy(p, "}");
	r = verify_buf(f, buf, strlen(buf), &l, &err);
	if (r == 0)
		cx_lease_free(&l);
	free(buf);
	expect(r, &err, CX_E_JSON);
}

/* ---- size and file type ------------------------------------------------- */

/* 10 MB lease file via cx_lease_read. */
static void lease_file_too_big(void **state)
{
	char *dir = tu_tmpdir(), *buf = malloc(BIG), *path;
	uint8_t *out = NULL;
	size_t len = 0;
	cx_error err = { 0 };
	int r;

	(void)state;
	assert_non_null(buf);
	memset(buf, ' ', BIG);
	buf[0] = '{';
	path = tu_write(dir, "big.lease", buf, BIG, 0644);
	r = cx_lease_read(path, &out, &len, &err);
	if (r == 0)
		free(out);
	free(buf);
	free(path);
	tu_rmtree(dir);
	free(dir);
	expect(r, &err, CX_E_TOO_BIG);
}

/* 10 MB buffer straight into cx_lease_verify. */
static void lease_buf_too_big(void **state)
{
	tu_fixture *f = *state;
	char *buf = malloc(BIG);
	cx_lease l = { 0 };
	cx_error err;
	int r;

	assert_non_null(buf);
	memset(buf, ' ', BIG);
	buf[0] = '{';
	r = verify_buf(f, buf, BIG, &l, &err);
	if (r == 0)
		cx_lease_free(&l);
	free(buf);
	expect(r, &err, CX_E_TOO_BIG);
}

/* Lease path is a FIFO with no writer (must not hang). */
static void lease_fifo(void **state)
{
	char *dir = tu_tmpdir(), *path;
	uint8_t *out = NULL;
	size_t len = 0;
	cx_error err = { 0 };
	int r;

	(void)state;
	assert_true(asprintf(&path, "%s/fifo.lease", dir) > 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10); /* a hang kills the run instead of stalling it */
	r = cx_lease_read(path, &out, &len, &err);
	alarm(0);
	if (r == 0)
		free(out);
	free(path);
	tu_rmtree(dir);
	free(dir);
	expect(r, &err, CX_E_NOT_REGULAR);
}

/* Lease path is a symlink to a good lease. */
static void lease_symlink(void **state)
{
	tu_fixture *f = *state;
	char *dir = tu_tmpdir(), *e = tu_good_lease(f), *real, *link;
	uint8_t *out = NULL;
	size_t len = 0;
	cx_error err = { 0 };
	int r;

	real = tu_write(dir, "real.lease", e, strlen(e), 0644);
	assert_true(asprintf(&link, "%s/link.lease", dir) > 0);
	assert_int_equal(symlink(real, link), 0);
	assert_int_equal(cx_lease_read(real, &out, &len, &err), 0); /* the target itself is fine */
	free(out);
	out = NULL;
	r = cx_lease_read(link, &out, &len, &err);
	if (r == 0)
		free(out);
	free(e);
	free(real);
	free(link);
	tu_rmtree(dir);
	free(dir);
	expect(r, &err, CX_E_NOT_REGULAR);
}

/* ---- validity window ---------------------------------------------------- */

/* Expired: not_after exactly now - skew. */
static void expired(void **s) { window_expect(*s, -2000, -2000, -60, CX_E_EXPIRED); }

/* Not yet valid: not_before one second beyond now + skew. */
static void not_yet_valid(void **s) { window_expect(*s, 0, 61, 600, CX_E_NOT_YET_VALID); }

/* Issued in the future (signer's clock or a pre-dated lease). */
static void issued_in_future(void **s) { window_expect(*s, 61, 0, 600, CX_E_NOT_YET_VALID); }

/* Lifetime one second over the policy bound. */
static void lifetime_over_bound(void **s) { window_expect(*s, -10, -10, 3591, CX_E_LIFETIME); }

/* ---- bindings: policy hash, audience, ids ------------------------------ */

/* Lease bound to another policy hash. */
static void wrong_policy_hash(void **state)
{
	body_set_expect(*state, "policy_sha256",
			json_string("0000000000000000000000000000000000000000000000000000000000000000"),
			CX_E_POLICY_HASH);
}

/* Policy edited after the lease was signed (lease bound to the old hash). */
static void policy_edited_after_signing(void **state)
{
	tu_fixture *f = *state;
	char *e = tu_good_lease(f);
	char *t = replace1(tu_policy_text(), "\"/usr/bin/env\"", "\"/usr/bin/env\",\"/bin/sh\"");
	swap_policy(f, t);
	free(t);
	verify_text(f, e, CX_E_POLICY_HASH);
}

/* Lease for host-a presented on host "other". */
static void wrong_audience(void **state)
{
	tu_fixture *f = *state;
	f->host_id = strdup("other");
	body_set_expect(f, "audience", json_string("host-a"), CX_E_AUDIENCE);
}

/* Lease names an audience, host has no id configured. */
static void audience_host_without_id(void **state)
{
	body_set_expect(*state, "audience", json_string("host-a"), CX_E_AUDIENCE);
}

/* No audience while the policy requires one. */
static void audience_missing_required(void **state)
{
	tu_fixture *f = *state;
	char *t = replace1(tu_policy_text(), "\"require_audience\":false",
			   "\"require_audience\":true");
	swap_policy(f, t);
	free(t);
	f->host_id = strdup("host-a");
	body_expect(f, good_body(f), CX_E_AUDIENCE); /* bound to the new policy's hash */
}

/* "pool:NAME": accepted on a host whose config lists NAME, with its
 * count; refused (E_AUDIENCE) on a host that does not, even one whose
 * host_id is NAME. */
static char *const web_pools[] = { "db", "web" };
static void pool_audience(void **state)
{
	tu_fixture *f = *state;
	cx_lease l = { 0 };
	cx_error err;
	json_t *b = good_body(f);
	f->host_id = strdup("web-1");
	f->pools = web_pools;
	f->n_pools = 2;
	json_object_set_new(b, "audience", json_string("pool:web"));
	json_object_set_new(b, "count", json_integer(3));
	char *e = tu_envelope_body(b, &f->human, &f->agent);
	json_decref(b);
	assert_int_equal(verify_buf(f, e, strlen(e), &l, &err), 0);
	assert_string_equal(cx_lease_pool(&l), "web");
	assert_int_equal(l.count, 3);
	cx_lease_free(&l);
	f->n_pools = 1; /* "db" only */
	verify_text(f, e, CX_E_AUDIENCE);
	/* a host named like the pool is not in it */
	free(f->host_id);
	f->host_id = strdup("web");
	f->n_pools = 0;
	body_set_expect(f, "audience", json_string("pool:web"), CX_E_AUDIENCE);
}

/* count: 1..1000, pool leases only; pool names in their alphabet. */
static void pool_count_and_names(void **state)
{
	tu_fixture *f = *state;
	static const char *const bad_names[] = { "pool:", "pool:.web", "pool:a:b", "pool:a@b" };
	f->pools = web_pools;
	f->n_pools = 2;
	f->host_id = strdup("web-1");
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad_names); i++)
		body_set_expect(f, "audience", json_string(bad_names[i]), CX_E_BODY);
	json_t *b = good_body(f);
	json_object_set_new(b, "audience", json_string("web-1"));
	json_object_set_new(b, "count", json_integer(2)); /* a host's own lease */
	body_expect(f, b, CX_E_BODY);
	for (int k = 0; k < 3; k++) {
		static const json_int_t counts[] = { 0, 1001, -1 };
		b = good_body(f);
		json_object_set_new(b, "audience", json_string("pool:web"));
		json_object_set_new(b, "count", json_integer(counts[k]));
		body_expect(f, b, CX_E_BODY);
	}
	b = good_body(f);
	json_object_set_new(b, "audience", json_string("pool:web"));
	json_object_set_new(b, "count", json_string("2"));
	body_expect(f, b, CX_E_BODY);
}

/* lease_id with "../" (ledger path traversal). */
static void lease_id_traversal(void **state)
{
	body_set_expect(*state, "lease_id", json_string("../../../../etc/cron.d/x0123456789"),
			CX_E_BODY);
}

/* ---- lease within policy ------------------------------------------------ */

static json_t *argv_of(const char *a0)
{
	return json_pack("[s,s]", a0, "--version");
}

/* argv[0] not in the policy's commands. */
static void command_outside_policy(void **state)
{
	body_set_expect(*state, "argv", argv_of("/usr/bin/curl"), CX_E_POLICY_COMMAND);
}

/* validate.argv[0] not in the policy's commands. */
static void validate_command_outside_policy(void **state)
{
	body_set_expect(*state, "validate", json_pack("{s:o}", "argv", argv_of("/bin/sh")),
			CX_E_POLICY_COMMAND);
}

/* Relative command name (PATH search). */
static void command_relative(void **state)
{
	body_set_expect(*state, "argv", argv_of("make"), CX_E_POLICY_COMMAND);
}

/* ".." in argv[0] reaching an allowed name through another directory. */
static void command_dotdot(void **state)
{
	body_set_expect(*state, "argv", argv_of("/tmp/../usr/bin/make"), CX_E_PATH_NOT_NORMAL);
}

/* ".." in the workspace path. */
static void path_dotdot(void **state)
{
	body_set_expect(*state, "workspace", json_string("/srv/../etc"), CX_E_PATH_NOT_NORMAL);
}

/* "//" in the workspace path. */
static void path_double_slash(void **state)
{
	body_set_expect(*state, "workspace", json_string("/srv//app"), CX_E_PATH_NOT_NORMAL);
}

/* Trailing "/" in the workspace path. */
static void path_trailing_slash(void **state)
{
	body_set_expect(*state, "workspace", json_string("/srv/app/"), CX_E_PATH_NOT_NORMAL);
}

/* Workspace outside the write trees. */
static void workspace_outside_write(void **state)
{
	body_set_expect(*state, "workspace", json_string("/etc"), CX_E_POLICY_PATH);
}

/* Workspace a sibling sharing the write tree's prefix ("/srvx"). */
static void workspace_prefix_sibling(void **state)
{
	body_set_expect(*state, "workspace", json_string("/srvx/app"), CX_E_POLICY_PATH);
}

/* rw mount outside the write trees. */
static void rw_outside_write(void **state)
{
	tu_fixture *f = *state;
	json_t *b = good_body(f);
	json_object_set_new(json_object_get(b, "paths"), "rw", json_pack("[s]", "/etc"));
	body_expect(f, b, CX_E_POLICY_PATH);
}

/* Limit above the policy ceiling. */
static void limit_above_ceiling(void **state)
{
	tu_fixture *f = *state;
	json_t *b = good_body(f);
	json_object_set_new(json_object_get(b, "limits"), "pids", json_integer(513));
	body_expect(f, b, CX_E_POLICY_LIMIT);
}

static void env_expect(tu_fixture *f, const char *name, int want)
{
	json_t *b = good_body(f);
	json_object_set_new(json_object_get(b, "env"), name, json_string("/tmp/x"));
	body_expect(f, b, want);
}

/* LD_PRELOAD in env. */
static void env_ld_preload(void **state) { env_expect(*state, "LD_PRELOAD", CX_E_POLICY_ENV); }
/* BASH_ENV in env. */
static void env_bash_env(void **state) { env_expect(*state, "BASH_ENV", CX_E_POLICY_ENV); }
/* env overriding the policy's fixed PATH. */
static void env_override_path(void **state) { env_expect(*state, "PATH", CX_E_POLICY_ENV); }
/* env name the policy does not allow. */
static void env_not_allowed(void **state) { env_expect(*state, "FOO", CX_E_POLICY_ENV); }

/* network loopback under a none-only policy. */
static void network_loopback(void **state)
{
	body_set_expect(*state, "network", json_string("loopback"), CX_E_POLICY_NETWORK);
}

/* ---- keyring and key files ---------------------------------------------- */

/* Same public key under two keyids (human key also listed as an agent). */
static void keyring_same_key_two_ids(void **state)
{
	tu_fixture *f = *state;
	keyring_expect(kr_text(f->human.keyid, kr_entry(&f->human, NULL, NULL), f->agent.keyid,
			       kr_entry(&f->human, "agent", NULL), NULL),
		       CX_E_DUP_KEY);
}

/* Revoked key listed again as active (revocation bypass). */
static void keyring_revoked_also_active(void **state)
{
	tu_fixture *f = *state;
	char *rev = kr_entry(&f->revoked, NULL, NULL), *tail;
	assert_true(asprintf(&tail, ",\"revoked\":{\"%s\":%s}", f->revoked.keyid, rev) > 0);
	free(rev);
	keyring_expect(kr_text(f->revoked.keyid, kr_entry(&f->revoked, NULL, NULL), NULL, NULL,
			       tail),
		       CX_E_DUP_KEY);
	free(tail);
}

/* Keyid not the SHA-256 of its key (human's id, agent's key). */
static void keyring_keyid_mismatch(void **state)
{
	tu_fixture *f = *state;
	keyring_expect(kr_text(f->human.keyid, kr_entry(&f->agent, NULL, NULL), NULL, NULL, NULL),
		       CX_E_KEYID_MISMATCH);
}

/* Public-key file (.pub.json) whose keyid does not match its key. */
static void pubfile_keyid_mismatch(void **state)
{
	tu_fixture *f = *state;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "keyid", f->human.keyid, "role", "agent",
			      "public_key", f->agent.pk_b64, "principal", "ops-bot");
	cx_key k = { 0 };
	cx_error err = { 0 };
	int r = cx_key_entry_parse(o, "agent.pub.json", &k, &err);
	json_decref(o);
	if (r == 0)
		free(k.principal);
	expect(r, &err, CX_E_KEYID_MISMATCH);
}

static char *write_keyring(tu_fixture *f, const char *dir, mode_t mode)
{
	const tu_key *k[] = { &f->human, &f->agent };
	char *t = tu_keyring_text(k, 2, NULL, 0), *p;
	p = tu_write(dir, "keyring.json", t, strlen(t), mode);
	free(t);
	return p;
}

static void keyring_load_expect(const char *path, int want)
{
	cx_keyring kr = { 0 };
	cx_error err = { 0 };
	int r = cx_keyring_load(path, 0, &kr, &err);
	if (r == 0)
		cx_keyring_free(&kr);
	if (want == CX_OK) {
		if (r != 0)
			print_error("keyring: %s\n", err.msg);
		assert_int_equal(r, 0);
		return;
	}
	expect(r, &err, want);
}

/* Keyring file owned by a non-root user (nobody). */
static void keyring_not_root_owned(void **state)
{
	char *dir = tu_tmpdir(), *p = write_keyring(*state, dir, 0644);
	keyring_load_expect(p, CX_OK); /* root-owned 0644 loads */
	assert_int_equal(chown(p, 65534, 65534), 0);
	keyring_load_expect(p, CX_E_INSECURE_FILE);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

/* World-writable keyring file. */
static void keyring_world_writable(void **state)
{
	char *dir = tu_tmpdir(), *p = write_keyring(*state, dir, 0644);
	keyring_load_expect(p, CX_OK);
	assert_int_equal(chmod(p, 0666), 0);
	keyring_load_expect(p, CX_E_INSECURE_FILE);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

/* Secret key (seed) file readable by group and others (0644). */
static void seed_file_0644(void **state)
{
	tu_fixture *f = *state;
	char *dir = tu_tmpdir(), *p = tu_write(dir, "agent.key", f->agent.seed, 32, 0644);
	uint8_t seed[32];
	cx_error err = { 0 };
	int r = cx_seed_load(p, "agent key", false, 0, seed, &err);
	free(p);
	tu_rmtree(dir);
	free(dir);
	expect(r, &err, CX_E_INSECURE_FILE);
}

/* ---- runner ------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(good_lease_verifies), T(window_edge_not_before_accepted),
		T(window_edge_not_after_accepted), T(window_edge_lifetime_accepted), T(issued_after_expiry),
		T(agent_first_accepted), T(forged_sig_flipped), T(sig_entry_duplicated),
		T(same_key_twice), T(sig_entry_extra_role), T(two_humans), T(two_agents),
		T(agent_only), T(signatures_empty), T(three_signatures), T(sig_from_other_lease),
		T(unknown_key), T(revoked_key), T(sig_63_bytes), T(sig_65_bytes), T(sig_0_bytes),
		T(keyid_uppercase), T(keyid_prefix), T(sig_b64_trailing_bits),
		T(sig_b64_missing_padding), T(sig_b64_extra_padding), T(sig_b64_mid_padding),
		T(sig_b64_whitespace), T(sig_b64_newline), T(sig_b64_urlsafe),
		T(payload_b64_trailing_bits), T(payload_b64_missing_padding),
		T(payload_b64_extra_padding), T(payload_b64_mid_padding),
		T(payload_b64_whitespace), T(payload_b64_newline), T(payload_b64_urlsafe),
		T(payload_empty), T(payload_edited), T(payload_type_swapped),
		T(payload_type_signed_other), T(sig_over_raw_payload), T(env_dup_key),
		T(env_dup_key_escaped), T(body_dup_key), T(body_dup_key_escaped),
		T(keyring_dup_key_escaped), T(policy_dup_key_escaped), T(env_unknown_field),
		T(body_unknown_field), T(keyring_entry_unknown_field), T(policy_unknown_field),
		T(body_missing_field), T(time_string), T(time_float), T(time_negative),
		T(time_huge), T(time_above_int64), T(time_inverted), T(env_nul_escape),
		T(body_nul_escape), T(env_junk_after_nul), T(env_invalid_utf8),
		T(body_invalid_utf8), T(deep_nesting), T(lease_file_too_big), T(lease_buf_too_big),
		T(lease_fifo), T(lease_symlink), T(expired), T(not_yet_valid), T(issued_in_future),
		T(lifetime_over_bound), T(wrong_policy_hash), T(policy_edited_after_signing),
		T(wrong_audience), T(audience_host_without_id), T(audience_missing_required),
		T(pool_audience), T(pool_count_and_names),
		T(lease_id_traversal), T(command_outside_policy),
		T(validate_command_outside_policy), T(command_relative), T(command_dotdot),
		T(path_dotdot), T(path_double_slash), T(path_trailing_slash),
		T(workspace_outside_write), T(workspace_prefix_sibling), T(rw_outside_write),
		T(limit_above_ceiling), T(env_ld_preload), T(env_bash_env), T(env_override_path),
		T(env_not_allowed), T(network_loopback), T(keyring_same_key_two_ids),
		T(keyring_revoked_also_active), T(keyring_keyid_mismatch),
		T(pubfile_keyid_mismatch), T(keyring_not_root_owned), T(keyring_world_writable),
		T(seed_file_0644),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
