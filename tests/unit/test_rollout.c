/* Unit tests: rollout documents and their control documents.
 *
 * Each refusal test changes one thing of a valid document and asserts the
 * exact reason code, so it cannot pass on an unrelated earlier refusal:
 * the body rules, the tier arithmetic (checked against a reference on
 * random shapes), the binding to the lease (hash, id, pool, count,
 * window), pool membership, signatures and roles, payload-type confusion
 * between leases, rollouts and control documents, the roles of control
 * actions and seq replay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/lease.h"
#include "calyx/rollout.h"
#include "testutil.h"
#include "tu_expect.h"

#define LEASE_ID "0123456789abcdef0123456789abcdef" /* tu_body's */
#define ROLLOUT_ID "fedcba9876543210fedcba9876543210"

typedef struct rfx {
	tu_fixture f;
	char *lease; /* a pool lease for "web", count 20, signed by human + agent */
	char lease_sha[65];
} rfx;

static char *pool_lease(tu_fixture *f, const char *audience, int64_t count)
{
	json_t *b = tu_body(f->now, f->pol.sha256_hex);
	char *e;

	json_object_set_new(b, "audience", json_string(audience));
	if (count)
		json_object_set_new(b, "count", json_integer(count));
	e = tu_envelope_body(b, &f->human, &f->agent);
	json_decref(b);
	return e;
}

static int setup(void **state)
{
	rfx *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	tu_fixture_init(&x->f);
	x->lease = pool_lease(&x->f, "pool:web", 20);
	cx_sha256_hex(x->lease, strlen(x->lease), x->lease_sha);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	rfx *x = *state;
	tu_fixture_free(&x->f);
	free(x->lease);
	free(x);
	return 0;
}


static void expect_ok(int r, const cx_error *err)
{
	if (r != 0)
		print_error("want OK, got %s: %s\n", cx_reason_name(err->reason), err->msg);
	assert_int_equal(r, 0);
}

static char *jdump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	return s;
}

/* jdump of a temporary: the JSON is released. */
static char *jdump_take(json_t *j)
{
	char *s = jdump(j);
	json_decref(j);
	return s;
}

/* ---- builders ----------------------------------------------------------- */

static json_t *tier_obj(size_t k, int64_t pct, size_t from, size_t to)
{
	json_t *hosts = json_array();
	char name[32], h[32];

	for (size_t i = from; i < to; i++) {
		snprintf(h, sizeof(h), "web-%03zu", i + 1);
		json_array_append_new(hosts, json_string(h));
	}
	snprintf(name, sizeof(name), "tier-%zu", k + 1);
	return json_pack("{s:s, s:I, s:o, s:s, s:i, s:i, s:i, s:i}", "name", name, "percent",
			 (json_int_t)pct, "hosts", hosts, "gate", "manual", "soak_s", 60,
			 "max_parallel", 1, "deadline_s", 600, "max_failures", 0);
}

/* A valid body: n hosts web-001.. in tiers at these percents, assigned
 * by the arithmetic, for the fixture's pool lease. */
static json_t *ro_body_n(rfx *x, size_t n, const int64_t *pct, size_t ntiers)
{
	json_t *tiers = json_array(), *b;
	size_t prev = 0;

	for (size_t k = 0; k < ntiers; k++) {
		size_t cum = cx_rollout_cumulative(pct[k], n);
		json_array_append_new(tiers, tier_obj(k, pct[k], prev, cum));
		prev = cum;
	}
	b = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:I}", "v", 1,
		      "rollout_id", ROLLOUT_ID, "lease_id", LEASE_ID, "lease_sha256", x->lease_sha,
		      "pool", "web", "tiers", tiers, "on_failure", "halt", "on_deadline", "pause",
		      "issued_at", (json_int_t)x->f.now - 5, "not_before", (json_int_t)x->f.now - 5,
		      "not_after", (json_int_t)x->f.now + 1700);
	assert_non_null(b);
	return b;
}

/* 20 hosts, tiers 5/25/100: 1, 4 and 15 hosts. */
static json_t *ro_body(rfx *x)
{
	static const int64_t pct[] = { 5, 25, 100 };
	return ro_body_n(x, 20, pct, 3);
}

static json_t *tier(json_t *b, size_t k)
{
	json_t *t = json_array_get(json_object_get(b, "tiers"), k);
	assert_non_null(t);
	return t;
}

static char *sign_as(const char *type, const char *sign_type, const char *payload,
		     const tu_key *a, const tu_key *b)
{
	const tu_key *s[2];
	size_t n = 0;

	if (a)
		s[n++] = a;
	if (b)
		s[n++] = b;
	return tu_envelope_raw(type, (const uint8_t *)payload, strlen(payload), sign_type, s, n);
}

/* The body (consumed) as a rollout signed by a and b. */
static char *ro_env(json_t *body, const tu_key *a, const tu_key *b)
{
	char *p = jdump(body), *e;
	json_decref(body);
	e = sign_as(CX_ROLLOUT_PAYLOAD_TYPE, CX_ROLLOUT_PAYLOAD_TYPE, p, a, b);
	free(p);
	return e;
}

static int parse_body(json_t *body, cx_error *err)
{
	char *p = jdump(body);
	cx_rollout ro = { 0 };
	int r;

	json_decref(body);
	memset(err, 0, sizeof(*err));
	r = cx_rollout_body_parse((const uint8_t *)p, strlen(p), &ro, err);
	free(p);
	cx_rollout_free(&ro);
	return r;
}

static void body_expect(json_t *body, int want)
{
	cx_error err;
	int r = parse_body(body, &err);
	if (want == CX_OK)
		expect_ok(r, &err);
	else
		expect(r, &err, want);
}

static int verify_full(rfx *x, const char *env, const char *lease, char *const *pool,
		       size_t npool, cx_error *err)
{
	cx_rollout_verify_input in = { .keyring = &x->f.kr, .lease_buf = (const uint8_t *)lease,
				       .lease_len = strlen(lease), .pool_hosts = pool,
				       .n_pool_hosts = npool, .now = x->f.now };
	cx_rollout ro = { 0 };
	cx_lease l = { 0 };
	int r;

	memset(err, 0, sizeof(*err));
	r = cx_rollout_verify(&in, (const uint8_t *)env, strlen(env), &ro, &l, err);
	cx_rollout_free(&ro);
	cx_lease_free(&l);
	return r;
}

/* Verify envelope text (freed) with the fixture's lease; want CX_OK: accepted. */
static void verify_expect(rfx *x, char *env, int want)
{
	cx_error err;
	int r = verify_full(x, env, x->lease, NULL, 0, &err);
	free(env);
	if (want == CX_OK)
		expect_ok(r, &err);
	else
		expect(r, &err, want);
}

/* ---- body rules --------------------------------------------------------- */

static void good_rollout_verifies(void **state)
{
	rfx *x = *state;
	char *env = ro_env(ro_body(x), &x->f.human, &x->f.agent);
	cx_rollout_verify_input in = { .keyring = &x->f.kr, .lease_buf = (const uint8_t *)x->lease,
				       .lease_len = strlen(x->lease), .now = x->f.now };
	cx_rollout ro = { 0 };
	cx_lease l = { 0 };
	cx_error err = { 0 };

	expect_ok(cx_rollout_verify(&in, (const uint8_t *)env, strlen(env), &ro, &l, &err), &err);
	assert_string_equal(ro.rollout_id, ROLLOUT_ID);
	assert_string_equal(ro.pool, "web");
	assert_int_equal(ro.ntiers, 3);
	assert_int_equal(ro.nhosts, 20);
	assert_int_equal(ro.tiers[0].hosts.n, 1);
	assert_int_equal(ro.tiers[1].hosts.n, 4);
	assert_int_equal(ro.tiers[2].hosts.n, 15);
	assert_string_equal(ro.tiers[0].hosts.v[0], "web-001");
	assert_int_equal(ro.tiers[0].gate, CX_GATE_MANUAL);
	assert_int_equal(ro.on_failure, CX_ON_FAILURE_HALT);
	assert_int_equal(ro.on_deadline, CX_ON_DEADLINE_PAUSE);
	assert_int_equal(ro.nsigner, 2);
	assert_int_equal(ro.signer[0].role, CX_ROLE_HUMAN);
	assert_string_equal(ro.signer[1].principal, "ops-bot");
	assert_string_equal(l.lease_id, LEASE_ID);
	assert_int_equal(l.nsigner, 2);
	assert_int_equal(cx_rollout_host_tier(&ro, "web-005"), 1);
	assert_int_equal(cx_rollout_host_tier(&ro, "web-021"), -1);
	cx_rollout_free(&ro);
	cx_lease_free(&l);
	free(env);
}

static void body_unknown_key(void **state)
{
	json_t *b = ro_body(*state);
	json_object_set_new(b, "purpose", json_string("x"));
	body_expect(b, CX_E_ROLLOUT);
}

static void body_missing_key(void **state)
{
	static const char *const keys[] = { "v", "rollout_id", "lease_id", "lease_sha256", "pool",
					    "tiers", "on_failure", "on_deadline", "issued_at",
					    "not_before", "not_after" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(keys); i++) {
		json_t *b = ro_body(*state);
		json_object_del(b, keys[i]);
		body_expect(b, CX_E_ROLLOUT);
	}
}

static void tier_unknown_or_missing_key(void **state)
{
	static const char *const keys[] = { "name", "percent", "hosts", "gate", "soak_s",
					    "max_parallel", "deadline_s", "max_failures" };
	json_t *b = ro_body(*state);

	json_object_set_new(tier(b, 1), "weight", json_integer(1));
	body_expect(b, CX_E_ROLLOUT);
	for (size_t i = 0; i < CX_ARRAY_SIZE(keys); i++) {
		b = ro_body(*state);
		json_object_del(tier(b, 1), keys[i]);
		body_expect(b, CX_E_ROLLOUT);
	}
}

static void body_bad_values(void **state)
{
	static const struct {
		const char *key;
		const char *json;
		int want;
	} cases[] = {
		{ "v", "2", CX_E_ROLLOUT },
		{ "rollout_id", "\"FEDCBA9876543210FEDCBA9876543210\"", CX_E_ROLLOUT },
		{ "rollout_id", "\"fedcba98\"", CX_E_ROLLOUT },
		{ "lease_id", "\"../../etc/passwd\"", CX_E_ROLLOUT },
		{ "lease_sha256", "\"00\"", CX_E_ROLLOUT },
		{ "pool", "\"pool:web\"", CX_E_ROLLOUT },
		{ "pool", "\"-web\"", CX_E_ROLLOUT },
		{ "on_failure", "\"pause\"", CX_E_ROLLOUT },
		{ "on_failure", "1", CX_E_ROLLOUT },
		{ "on_deadline", "\"rollback\"", CX_E_ROLLOUT },
		{ "tiers", "[]", CX_E_ROLLOUT },
		{ "tiers", "{}", CX_E_ROLLOUT },
		{ "issued_at", "\"1795334400\"", CX_E_TIME },
		{ "not_after", "17179869185", CX_E_TIME },
		{ "not_after", "1795334000", CX_E_TIME }, /* before not_before */
	};
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		json_t *b = ro_body(*state);
		json_error_t je;
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
		assert_non_null(v);
		json_object_set_new(b, cases[i].key, v);
		body_expect(b, cases[i].want);
	}
}

static void tier_bad_values(void **state)
{
	static const struct {
		const char *key;
		const char *json;
	} cases[] = {
		{ "name", "\"\"" },           { "name", "\"-x\"" },
		{ "name", "\"a b\"" },        { "percent", "0" },
		{ "percent", "101" },         { "percent", "25.0" },
		{ "gate", "\"none\"" },       { "gate", "\"AUTO\"" },
		{ "soak_s", "-1" },           { "soak_s", "600" }, /* == deadline_s */
		{ "deadline_s", "0" },        { "deadline_s", "2678401" },
		{ "max_parallel", "0" },      { "max_failures", "-1" },
		{ "max_failures", "4" },      /* == the tier's hosts: could never fire */
		{ "hosts", "[]" },            { "hosts", "\"web-002\"" },
	};
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		json_t *b = ro_body(*state);
		json_error_t je;
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
		assert_non_null(v);
		json_object_set_new(tier(b, 1), cases[i].key, v);
		body_expect(b, CX_E_ROLLOUT);
	}
	/* the edges that are fine */
	json_t *b = ro_body(*state);
	json_object_set_new(tier(b, 1), "max_failures", json_integer(3));
	json_object_set_new(tier(b, 1), "soak_s", json_integer(599));
	json_object_set_new(tier(b, 1), "gate", json_string("auto"));
	body_expect(b, CX_OK);
}

/* A host id a terminal would obey, or one that is not an id at all. */
static void host_id_hostile(void **state)
{
	static const char *const bad[] = { "web\x1b[31m", "\x1b]0;x\x07", "web 1", "", "../web",
					   "web/1", "-web", "web\xc2\x9b" "1" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		json_t *b = ro_body(*state);
		json_array_set_new(json_object_get(tier(b, 2), "hosts"), 3, json_string(bad[i]));
		body_expect(b, CX_E_ROLLOUT);
	}
	json_t *b = ro_body(*state);
	char longid[CX_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	json_array_set_new(json_object_get(tier(b, 2), "hosts"), 3, json_string(longid));
	body_expect(b, CX_E_ROLLOUT);
}

static void host_twice_across_tiers(void **state)
{
	json_t *b = ro_body(*state);
	/* tier 3's first host becomes tier 1's */
	json_array_set_new(json_object_get(tier(b, 2), "hosts"), 0, json_string("web-001"));
	body_expect(b, CX_E_ROLLOUT_HOST);
}

static void host_twice_in_one_tier(void **state)
{
	json_t *b = ro_body(*state);
	json_array_set_new(json_object_get(tier(b, 2), "hosts"), 1, json_string("web-006"));
	body_expect(b, CX_E_ROLLOUT_HOST);
}

static void tier_names_unique(void **state)
{
	json_t *b = ro_body(*state);
	json_object_set_new(tier(b, 2), "name", json_string("tier-1"));
	body_expect(b, CX_E_ROLLOUT);
}

static void tiers_count_bounds(void **state)
{
	rfx *x = *state;
	int64_t pct[CX_ROLLOUT_TIERS_MAX + 1];

	/* 17 hosts, one per tier, percents ceil-compatible: 16 tiers accepted
	 * on 16 hosts, 17 refused */
	for (size_t k = 0; k < CX_ROLLOUT_TIERS_MAX + 1; k++)
		pct[k] = (int64_t)((k + 1) * 100 / (CX_ROLLOUT_TIERS_MAX + 1));
	pct[CX_ROLLOUT_TIERS_MAX] = 100;
	body_expect(ro_body_n(x, CX_ROLLOUT_TIERS_MAX + 1, pct, CX_ROLLOUT_TIERS_MAX + 1),
		    CX_E_ROLLOUT);
	for (size_t k = 0; k < CX_ROLLOUT_TIERS_MAX; k++)
		pct[k] = (int64_t)((k + 1) * 100 / CX_ROLLOUT_TIERS_MAX);
	pct[CX_ROLLOUT_TIERS_MAX - 1] = 100;
	body_expect(ro_body_n(x, CX_ROLLOUT_TIERS_MAX, pct, CX_ROLLOUT_TIERS_MAX), CX_OK);
}

static void hosts_total_bound(void **state)
{
	rfx *x = *state;
	static const int64_t one[] = { 100 };
	json_t *b = ro_body_n(x, CX_ROLLOUT_HOSTS_MAX, one, 1);

	body_expect(json_incref(b), CX_OK);
	json_array_append_new(json_object_get(tier(b, 0), "hosts"), json_string("web-extra"));
	body_expect(b, CX_E_ROLLOUT);
}

/* ---- tier arithmetic ---------------------------------------------------- */

static void cumulative_table(void **state)
{
	(void)state;
	assert_int_equal(cx_rollout_cumulative(5, 20), 1);
	assert_int_equal(cx_rollout_cumulative(25, 20), 5);
	assert_int_equal(cx_rollout_cumulative(100, 20), 20);
	assert_int_equal(cx_rollout_cumulative(5, 3), 1);   /* ceil(0.15) */
	assert_int_equal(cx_rollout_cumulative(33, 10), 4); /* ceil(3.3) */
	assert_int_equal(cx_rollout_cumulative(30, 10), 3); /* exact, not rounded up */
	assert_int_equal(cx_rollout_cumulative(1, 10000), 100);
	assert_int_equal(cx_rollout_cumulative(1, 101), 2);
	assert_int_equal(cx_rollout_cumulative(100, 10000), 10000);
}

static void last_tier_not_100(void **state)
{
	static const int64_t pct[] = { 5, 25, 90 };
	cx_error err;

	/* hosts assigned by the arithmetic: only the 100 % rule is broken */
	expect(parse_body(ro_body_n(*state, 20, pct, 3), &err), &err, CX_E_ROLLOUT_TIERS);
	assert_non_null(strstr(err.msg, "must reach 100 %"));
}

static void percents_not_rising(void **state)
{
	cx_error err;
	json_t *b = ro_body(*state);

	json_object_set_new(tier(b, 1), "percent", json_integer(5));
	expect(parse_body(b, &err), &err, CX_E_ROLLOUT_TIERS);
	assert_non_null(strstr(err.msg, "rise strictly"));
	b = ro_body(*state);
	json_object_set_new(tier(b, 0), "percent", json_integer(30));
	expect(parse_body(b, &err), &err, CX_E_ROLLOUT_TIERS);
	assert_non_null(strstr(err.msg, "rise strictly"));
}

static void tier_count_off_by_one(void **state)
{
	json_t *b = ro_body(*state);
	/* move web-002 from tier 2 to tier 1: 2 hosts at 5 % of 20 */
	json_array_append_new(json_object_get(tier(b, 0), "hosts"), json_string("web-002"));
	json_array_remove(json_object_get(tier(b, 1), "hosts"), 0);
	body_expect(b, CX_E_ROLLOUT_TIERS);
	/* and the other way: tier 1 empty is a shape error, tier 2 one short */
	b = ro_body(*state);
	json_array_append_new(json_object_get(tier(b, 2), "hosts"), json_string("web-002"));
	json_array_remove(json_object_get(tier(b, 1), "hosts"), 0);
	body_expect(b, CX_E_ROLLOUT_TIERS);
}

/* Percents whose ceil gives two tiers the same cumulative count cannot be
 * planned (a tier would be empty): 3 hosts at 5 % and 25 % are 1 and 1. */
static void tiers_collapse_on_few_hosts(void **state)
{
	static const int64_t pct[] = { 5, 25, 100 };
	body_expect(ro_body_n(*state, 3, pct, 3), CX_E_ROLLOUT);
}

/* Random shapes against the reference: the arithmetic's own assignment
 * is accepted, and moving one host across a tier boundary is refused. */
static void arithmetic_random(void **state)
{
	rfx *x = *state;
	uint32_t seed = 12345;
	size_t accepted = 0;

	for (int round = 0; round < 300; round++) {
		int64_t pct[CX_ROLLOUT_TIERS_MAX];
		size_t ntiers = 0, n, prev = 0;
		bool ok = true;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % 300;
		for (int64_t p = 0; p < 100 && ntiers < 6;) {
			seed = seed * 1103515245u + 12345u;
			p += 1 + (int64_t)((seed >> 8) % 60);
			pct[ntiers++] = p > 100 ? 100 : p;
			if (p >= 100)
				break;
		}
		if (pct[ntiers - 1] != 100)
			pct[ntiers++] = 100;
		for (size_t k = 0; k < ntiers; k++) {
			size_t cum = cx_rollout_cumulative(pct[k], n);
			/* reference: ceil by floating point, on exact halves too */
			size_t ref = 0;
			while (ref * 100 < (size_t)pct[k] * n)
				ref++;
			assert_int_equal(cum, ref);
			ok &= cum > prev;
			prev = cum;
		}
		if (!ok) {
			body_expect(ro_body_n(x, n, pct, ntiers), CX_E_ROLLOUT);
			continue;
		}
		body_expect(ro_body_n(x, n, pct, ntiers), CX_OK);
		accepted++;
		if (ntiers < 2)
			continue;
		/* tier 1's last host moved to tier 2 */
		json_t *b = ro_body_n(x, n, pct, ntiers);
		json_t *h0 = json_object_get(tier(b, 0), "hosts");
		size_t last = json_array_size(h0) - 1;
		json_array_append(json_object_get(tier(b, 1), "hosts"), json_array_get(h0, last));
		json_array_remove(h0, last);
		body_expect(b, last == 0 ? CX_E_ROLLOUT : CX_E_ROLLOUT_TIERS);
	}
	assert_true(accepted > 100);
}

/* ---- verification: signatures, window, lease, pool ---------------------- */

static void signers_rules(void **state)
{
	rfx *x = *state;
	tu_fixture *f = &x->f;

	verify_expect(x, ro_env(ro_body(x), &f->agent, &f->human), CX_OK);
	verify_expect(x, ro_env(ro_body(x), &f->human, &f->human2), CX_E_ROLE_MISSING);
	verify_expect(x, ro_env(ro_body(x), &f->agent, &f->agent2), CX_E_ROLE_MISSING);
	verify_expect(x, ro_env(ro_body(x), &f->human, NULL), CX_E_SIG_COUNT);
	verify_expect(x, ro_env(ro_body(x), NULL, NULL), CX_E_SIG_COUNT);
	verify_expect(x, ro_env(ro_body(x), &f->human, &f->human), CX_E_DUP_SIGNER);
	verify_expect(x, ro_env(ro_body(x), &f->human, &f->revoked), CX_E_REVOKED);
	verify_expect(x, ro_env(ro_body(x), &f->stranger, &f->agent), CX_E_UNKNOWN_KEY);
}

static void tampered_after_signing(void **state)
{
	rfx *x = *state;
	char *p = jdump_take(ro_body(x)), *e, *q;
	const tu_key *s[] = { &x->f.human, &x->f.agent };
	json_t *j;

	/* sign the text, then swap a host between tiers in the payload */
	e = tu_envelope_raw(CX_ROLLOUT_PAYLOAD_TYPE, (const uint8_t *)p, strlen(p),
			    CX_ROLLOUT_PAYLOAD_TYPE, s, 2);
	q = strstr(p, "web-001");
	assert_non_null(q);
	q[6] = '9'; /* web-009 is in tier 3: a different plan */
	j = json_loads(e, 0, NULL);
	assert_non_null(j);
	{
		char *b64 = malloc(cx_b64_len(strlen(p)) + 1);
		cx_b64_encode((const uint8_t *)p, strlen(p), b64);
		json_object_set_new(j, "payload", json_string(b64));
		free(b64);
	}
	free(e);
	verify_expect(x, jdump(j), CX_E_BAD_SIG);
	json_decref(j);
	free(p);
}

static void window_rules(void **state)
{
	rfx *x = *state;
	json_t *b = ro_body(x);

	x->f.now += 1700 + 60; /* not_after + skew */
	verify_expect(x, ro_env(json_incref(b), &x->f.human, &x->f.agent), CX_E_EXPIRED);
	x->f.now -= 1;
	verify_expect(x, ro_env(json_incref(b), &x->f.human, &x->f.agent), CX_OK);
	x->f.now -= 1700 + 60 - 1;
	json_object_set_new(b, "not_before", json_integer(x->f.now + 61));
	json_object_set_new(b, "issued_at", json_integer(x->f.now));
	verify_expect(x, ro_env(json_incref(b), &x->f.human, &x->f.agent), CX_E_NOT_YET_VALID);
	json_object_set_new(b, "not_before", json_integer(x->f.now - 5));
	json_object_set_new(b, "issued_at", json_integer(x->f.now + 61));
	verify_expect(x, ro_env(b, &x->f.human, &x->f.agent), CX_E_NOT_YET_VALID);
}

static void lease_hash_mismatch(void **state)
{
	rfx *x = *state;
	char *env = ro_env(ro_body(x), &x->f.human, &x->f.agent);
	char *other = strdup(x->lease);
	cx_error err;

	/* the same lease re-serialized is other bytes: refused */
	other[strlen(other) - 1] = other[strlen(other) - 1] == '}' ? ' ' : '}';
	expect(verify_full(x, env, other, NULL, 0, &err), &err, CX_E_ROLLOUT_LEASE);
	free(other);
	free(env);
}

/* A rollout whose lease_sha256 names this lease (text), otherwise valid. */
static int verify_with_lease(rfx *x, json_t *b, const char *lease, cx_error *err)
{
	char hex[65], *env;
	int r;

	cx_sha256_hex(lease, strlen(lease), hex);
	json_object_set_new(b, "lease_sha256", json_string(hex));
	env = ro_env(b, &x->f.human, &x->f.agent);
	r = verify_full(x, env, lease, NULL, 0, err);
	free(env);
	return r;
}

static void lease_binding(void **state)
{
	rfx *x = *state;
	tu_fixture *f = &x->f;
	cx_error err;
	char *l;
	json_t *b, *lb;

	l = pool_lease(f, "build-01", 0); /* a host lease */
	expect(verify_with_lease(x, ro_body(x), l, &err), &err, CX_E_ROLLOUT_LEASE);
	free(l);
	l = pool_lease(f, "pool:db", 20); /* another pool */
	expect(verify_with_lease(x, ro_body(x), l, &err), &err, CX_E_ROLLOUT_LEASE);
	free(l);
	l = pool_lease(f, "pool:web", 19); /* runs on fewer hosts than listed */
	expect(verify_with_lease(x, ro_body(x), l, &err), &err, CX_E_ROLLOUT_LEASE);
	free(l);
	l = pool_lease(f, "pool:web", 1000);
	expect_ok(verify_with_lease(x, ro_body(x), l, &err), &err);
	free(l);

	b = ro_body(x); /* another lease id */
	json_object_set_new(b, "lease_id", json_string("00000000000000000000000000000000"));
	expect(verify_with_lease(x, b, x->lease, &err), &err, CX_E_ROLLOUT_LEASE);
	b = ro_body(x); /* window ends after the lease's (now + 1790) */
	json_object_set_new(b, "not_after", json_integer(f->now + 1791));
	expect(verify_with_lease(x, b, x->lease, &err), &err, CX_E_ROLLOUT_LEASE);
	b = ro_body(x); /* starts before the lease's (now - 10) */
	json_object_set_new(b, "not_before", json_integer(f->now - 11));
	json_object_set_new(b, "issued_at", json_integer(f->now - 11));
	expect(verify_with_lease(x, b, x->lease, &err), &err, CX_E_ROLLOUT_LEASE);
	b = ro_body(x); /* the lease's window exactly */
	json_object_set_new(b, "not_before", json_integer(f->now - 10));
	json_object_set_new(b, "not_after", json_integer(f->now + 1790));
	expect_ok(verify_with_lease(x, b, x->lease, &err), &err);

	/* the lease must be two-key signed too */
	lb = tu_body(f->now, f->pol.sha256_hex);
	json_object_set_new(lb, "audience", json_string("pool:web"));
	json_object_set_new(lb, "count", json_integer(20));
	l = tu_envelope_body(lb, &f->human, NULL);
	expect(verify_with_lease(x, ro_body(x), l, &err), &err, CX_E_SIG_COUNT);
	assert_non_null(strstr(err.msg, "the rollout's lease"));
	free(l);
	l = tu_envelope_body(lb, &f->human, &f->human2);
	expect(verify_with_lease(x, ro_body(x), l, &err), &err, CX_E_ROLE_MISSING);
	free(l);
	l = tu_envelope_body(lb, &f->stranger, &f->agent);
	expect(verify_with_lease(x, ro_body(x), l, &err), &err, CX_E_UNKNOWN_KEY);
	free(l);
	json_decref(lb);
}

static void pool_members(void **state)
{
	rfx *x = *state;
	char *env = ro_env(ro_body(x), &x->f.human, &x->f.agent);
	char *members[21], buf[21][16];
	cx_error err;

	for (size_t i = 0; i < 21; i++) {
		snprintf(buf[i], sizeof(buf[i]), "web-%03zu", 21 - i); /* unsorted, one extra */
		members[i] = buf[i];
	}
	expect_ok(verify_full(x, env, x->lease, members, 21, &err), &err);
	expect_ok(verify_full(x, env, x->lease, NULL, 0, &err), &err); /* not checked */
	/* web-007 (tier 3) not registered */
	snprintf(buf[14], sizeof(buf[14]), "web-900");
	expect(verify_full(x, env, x->lease, members, 21, &err), &err, CX_E_ROLLOUT_HOST);
	assert_non_null(strstr(err.msg, "'web-007'"));
	/* an empty pool holds no host */
	expect(verify_full(x, env, x->lease, members, 0, &err), &err, CX_E_ROLLOUT_HOST);
	free(env);
}

/* ---- payload-type confusion --------------------------------------------- */

static void lease_presented_as_rollout(void **state)
{
	rfx *x = *state;
	cx_rollout ro = { 0 };
	cx_error err = { 0 };
	char *p, *e;

	expect(cx_rollout_verify_signed(&x->f.kr, (const uint8_t *)x->lease, strlen(x->lease), &ro,
					&err),
	       &err, CX_E_PAYLOAD_TYPE);
	/* its payloadType relabelled: the signatures were over the lease type */
	p = jdump_take(ro_body(x));
	e = sign_as(CX_ROLLOUT_PAYLOAD_TYPE, CX_LEASE_PAYLOAD_TYPE, p, &x->f.human, &x->f.agent);
	verify_expect(x, e, CX_E_BAD_SIG);
	free(p);
}

static void rollout_presented_as_lease(void **state)
{
	rfx *x = *state;
	char *env = ro_env(ro_body(x), &x->f.human, &x->f.agent), *p, *e;
	cx_error err;

	assert_int_not_equal(tu_verify(&x->f, env, &err), 0);
	assert_int_equal(err.reason, CX_E_PAYLOAD_TYPE);
	free(env);
	/* a lease body signed as a rollout and relabelled as a lease */
	p = jdump_take(tu_body(x->f.now, x->f.pol.sha256_hex));
	e = sign_as(CX_LEASE_PAYLOAD_TYPE, CX_ROLLOUT_PAYLOAD_TYPE, p, &x->f.human, &x->f.agent);
	assert_int_not_equal(tu_verify(&x->f, e, &err), 0);
	assert_int_equal(err.reason, CX_E_BAD_SIG);
	free(e);
	free(p);
}

/* ---- control documents -------------------------------------------------- */

typedef struct ctl_case {
	char *rollout;  /* envelope text */
	cx_rollout ro;  /* its body, verified */
} ctl_case;

static void ctl_setup(rfx *x, json_t *body, ctl_case *c)
{
	cx_error err = { 0 };
	c->rollout = ro_env(body, &x->f.human, &x->f.agent);
	memset(&c->ro, 0, sizeof(c->ro));
	expect_ok(cx_rollout_verify_signed(&x->f.kr, (const uint8_t *)c->rollout,
					   strlen(c->rollout), &c->ro, &err),
		  &err);
}

static void ctl_free(ctl_case *c)
{
	free(c->rollout);
	cx_rollout_free(&c->ro);
}

static json_t *ctl_body(rfx *x, const ctl_case *c, int64_t seq, const char *action, int64_t tier)
{
	char hex[65];
	json_t *b;

	cx_sha256_hex(c->rollout, strlen(c->rollout), hex);
	b = json_pack("{s:i, s:s, s:s, s:I, s:s, s:I}", "v", 1, "rollout_id", ROLLOUT_ID,
		      "rollout_sha256", hex, "seq", (json_int_t)seq, "action", action, "issued_at",
		      (json_int_t)x->f.now);
	if (tier)
		json_object_set_new(b, "tier", json_integer(tier));
	return b;
}

static char *ctl_env(json_t *body, const tu_key *a, const tu_key *b)
{
	char *p = jdump(body), *e;
	json_decref(body);
	e = sign_as(CX_CONTROL_PAYLOAD_TYPE, CX_CONTROL_PAYLOAD_TYPE, p, a, b);
	free(p);
	return e;
}

static int ctl_verify(rfx *x, const ctl_case *c, char *env, int64_t last_seq, cx_control *out,
		      cx_error *err)
{
	cx_control_verify_input in = { .keyring = &x->f.kr, .rollout = &c->ro,
				       .rollout_buf = (const uint8_t *)c->rollout,
				       .rollout_len = strlen(c->rollout), .last_seq = last_seq,
				       .now = x->f.now };
	cx_control tmp = { 0 };
	int r;

	memset(err, 0, sizeof(*err));
	r = cx_control_verify(&in, (const uint8_t *)env, strlen(env), out ? out : &tmp, err);
	cx_control_free(&tmp);
	free(env);
	return r;
}

static void ctl_expect(rfx *x, const ctl_case *c, char *env, int64_t last_seq, int want)
{
	cx_error err;
	int r = ctl_verify(x, c, env, last_seq, NULL, &err);
	if (want == CX_OK)
		expect_ok(r, &err);
	else
		expect(r, &err, want);
}

static void control_roles(void **state)
{
	rfx *x = *state;
	ctl_case c;
	static const struct {
		const char *action;
		int64_t tier;
		int agent; /* what an agent key gets */
	} cases[] = {
		{ "pause", 0, CX_OK },
		{ "halt", 0, CX_OK },
		{ "resume", 0, CX_E_CONTROL_ROLE },
		{ "approve", 2, CX_E_CONTROL_ROLE },
		{ "rollback", 0, CX_E_CONTROL_ROLE },
	};

	ctl_setup(x, ro_body(x), &c);
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		cx_control got = { 0 };
		cx_error err;
		int r = ctl_verify(x, &c,
				   ctl_env(ctl_body(x, &c, 7, cases[i].action, cases[i].tier),
					   &x->f.human, NULL),
				   0, &got, &err);
		expect_ok(r, &err);
		assert_string_equal(cx_control_action_name(got.action), cases[i].action);
		assert_int_equal(got.role, CX_ROLE_HUMAN);
		assert_string_equal(got.principal, "alice");
		assert_int_equal(got.seq, 7);
		assert_int_equal(got.tier, cases[i].tier);
		cx_control_free(&got);
		ctl_expect(x, &c,
			   ctl_env(ctl_body(x, &c, 7, cases[i].action, cases[i].tier), &x->f.agent2,
				   NULL),
			   0, cases[i].agent);
	}
	/* the table itself */
	assert_true(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_HALT, NULL));
	assert_false(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_APPROVE, NULL));
	assert_false(cx_control_role_allows(CX_ROLE_NONE, CX_CONTROL_HALT, NULL));
	/* rollback by the driver's agent key: only what the rollout's signers
	 * pre-authorized with on_failure "rollback" */
	{
		cx_rollout ro = { .on_failure = CX_ON_FAILURE_HALT };
		assert_false(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_ROLLBACK, NULL));
		assert_false(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_ROLLBACK, &ro));
		ro.on_failure = CX_ON_FAILURE_ROLLBACK;
		assert_true(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_ROLLBACK, &ro));
		assert_false(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_RESUME, &ro));
		assert_false(cx_control_role_allows(CX_ROLE_AGENT, CX_CONTROL_APPROVE, &ro));
		assert_true(cx_control_role_allows(CX_ROLE_HUMAN, CX_CONTROL_ROLLBACK, &ro));
	}
	ctl_free(&c);
}

static void control_signatures(void **state)
{
	rfx *x = *state;
	tu_fixture *f = &x->f;
	ctl_case c;

	ctl_setup(x, ro_body(x), &c);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "halt", 0), &f->human, &f->agent), 0,
		   CX_E_SIG_COUNT);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "halt", 0), NULL, NULL), 0, CX_E_SIG_COUNT);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "halt", 0), &f->revoked, NULL), 0,
		   CX_E_REVOKED);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "halt", 0), &f->stranger, NULL), 0,
		   CX_E_UNKNOWN_KEY);
	{
		char *p = jdump_take(ctl_body(x, &c, 1, "resume", 0));
		char *e = sign_as(CX_CONTROL_PAYLOAD_TYPE, CX_CONTROL_PAYLOAD_TYPE, p, &f->human,
				  NULL);
		json_t *j = json_loads(e, 0, NULL), *jp;
		char *b64;
		/* signed "resume", sent as "rollback" */
		jp = json_loads(p, 0, NULL);
		json_object_set_new(jp, "action", json_string("rollback"));
		free(p);
		p = jdump(jp);
		json_decref(jp);
		b64 = malloc(cx_b64_len(strlen(p)) + 1);
		cx_b64_encode((const uint8_t *)p, strlen(p), b64);
		json_object_set_new(j, "payload", json_string(b64));
		ctl_expect(x, &c, jdump(j), 0, CX_E_BAD_SIG);
		free(b64);
		free(p);
		free(e);
		json_decref(j);
	}
	ctl_free(&c);
}

static void control_seq_replay(void **state)
{
	rfx *x = *state;
	ctl_case c;

	ctl_setup(x, ro_body(x), &c);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 6, "pause", 0), &x->f.agent, NULL), 5, CX_OK);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 5, "pause", 0), &x->f.agent, NULL), 5,
		   CX_E_CONTROL_SEQ);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 4, "resume", 0), &x->f.human, NULL), 5,
		   CX_E_CONTROL_SEQ);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "halt", 0), &x->f.human, NULL), 0, CX_OK);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 0, "halt", 0), &x->f.human, NULL), 0,
		   CX_E_CONTROL);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, CX_CONTROL_SEQ_MAX, "halt", 0), &x->f.human, NULL),
		   CX_CONTROL_SEQ_MAX - 1, CX_OK);
	ctl_expect(x, &c,
		   ctl_env(ctl_body(x, &c, CX_CONTROL_SEQ_MAX + 1, "halt", 0), &x->f.human, NULL),
		   0, CX_E_CONTROL);
	ctl_free(&c);
}

static void control_tier_rules(void **state)
{
	rfx *x = *state;
	ctl_case c;
	json_t *b = ro_body(x);

	json_object_set_new(tier(b, 2), "gate", json_string("auto"));
	ctl_setup(x, b, &c);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "approve", 0), &x->f.human, NULL), 0,
		   CX_E_CONTROL); /* approve needs a tier */
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "halt", 2), &x->f.human, NULL), 0,
		   CX_E_CONTROL); /* only approve has one */
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "approve", 4), &x->f.human, NULL), 0,
		   CX_E_CONTROL); /* 3 tiers */
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "approve", 3), &x->f.human, NULL), 0,
		   CX_E_CONTROL); /* tier 3 opens by itself */
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "approve", 1), &x->f.human, NULL), 0, CX_OK);
	ctl_expect(x, &c, ctl_env(ctl_body(x, &c, 1, "approve", 17), &x->f.human, NULL), 0,
		   CX_E_CONTROL);
	ctl_free(&c);
}

static void control_binding(void **state)
{
	rfx *x = *state;
	ctl_case c;
	json_t *b;

	ctl_setup(x, ro_body(x), &c);
	b = ctl_body(x, &c, 1, "halt", 0);
	json_object_set_new(b, "rollout_id", json_string("00000000000000000000000000000000"));
	ctl_expect(x, &c, ctl_env(b, &x->f.human, NULL), 0, CX_E_CONTROL);
	b = ctl_body(x, &c, 1, "halt", 0);
	json_object_set_new(b, "rollout_sha256", json_string(x->lease_sha));
	ctl_expect(x, &c, ctl_env(b, &x->f.human, NULL), 0, CX_E_CONTROL);
	b = ctl_body(x, &c, 1, "halt", 0);
	json_object_set_new(b, "issued_at", json_integer(x->f.now + 61));
	ctl_expect(x, &c, ctl_env(b, &x->f.human, NULL), 0, CX_E_NOT_YET_VALID);
	b = ctl_body(x, &c, 1, "halt", 0);
	json_object_set_new(b, "reason", json_string("x"));
	ctl_expect(x, &c, ctl_env(b, &x->f.human, NULL), 0, CX_E_CONTROL);
	b = ctl_body(x, &c, 1, "abort", 0);
	ctl_expect(x, &c, ctl_env(b, &x->f.human, NULL), 0, CX_E_CONTROL);
	ctl_free(&c);
}

static void control_type_confusion(void **state)
{
	rfx *x = *state;
	ctl_case c;
	cx_rollout ro = { 0 };
	cx_error err = { 0 };
	char *p, *e;

	ctl_setup(x, ro_body(x), &c);
	/* a rollout or a lease handed to the control verifier */
	ctl_expect(x, &c, strdup(c.rollout), 0, CX_E_PAYLOAD_TYPE);
	ctl_expect(x, &c, strdup(x->lease), 0, CX_E_PAYLOAD_TYPE);
	/* a control document handed to the rollout verifier */
	e = ctl_env(ctl_body(x, &c, 1, "halt", 0), &x->f.human, NULL);
	expect(cx_rollout_verify_signed(&x->f.kr, (const uint8_t *)e, strlen(e), &ro, &err), &err,
	       CX_E_PAYLOAD_TYPE);
	free(e);
	/* signed as a control document of another type, relabelled */
	p = jdump_take(ctl_body(x, &c, 1, "halt", 0));
	e = sign_as(CX_CONTROL_PAYLOAD_TYPE, CX_LEASE_PAYLOAD_TYPE, p, &x->f.human, NULL);
	ctl_expect(x, &c, e, 0, CX_E_BAD_SIG);
	free(p);
	ctl_free(&c);
}

static void control_body_dump_roundtrip(void **state)
{
	(void)state;
	cx_control c = { .seq = 42, .action = CX_CONTROL_APPROVE, .tier = 2, .issued_at = 7 }, d = { 0 };
	cx_error err = { 0 };
	char *s;

	memcpy(c.rollout_id, ROLLOUT_ID, 33);
	memset(c.rollout_sha256, 'a', 64);
	s = cx_control_body_dump(&c);
	expect_ok(cx_control_body_parse((const uint8_t *)s, strlen(s), &d, &err), &err);
	assert_int_equal(d.seq, 42);
	assert_int_equal(d.action, CX_CONTROL_APPROVE);
	assert_int_equal(d.tier, 2);
	assert_string_equal(d.rollout_sha256, c.rollout_sha256);
	free(s);
	c.action = CX_CONTROL_HALT;
	s = cx_control_body_dump(&c);
	assert_null(strstr(s, "tier"));
	free(s);
}

/* ---- signing ------------------------------------------------------------ */

static void signing_limits(void **state)
{
	rfx *x = *state;
	cx_envelope e = { 0 };
	cx_error err = { 0 };
	char *p = jdump_take(ro_body(x));

	e.payload_type = strdup(CX_ROLLOUT_PAYLOAD_TYPE);
	e.payload = (uint8_t *)p;
	e.payload_len = strlen(p);
	expect_ok(cx_envelope_sign_as(&cx_doc_rollout, &e, x->f.human.seed, &err), &err);
	expect(cx_envelope_sign_as(&cx_doc_rollout, &e, x->f.human.seed, &err), &err,
	       CX_E_DUP_SIGNER);
	expect_ok(cx_envelope_sign_as(&cx_doc_rollout, &e, x->f.agent.seed, &err), &err);
	expect(cx_envelope_sign_as(&cx_doc_rollout, &e, x->f.human2.seed, &err), &err,
	       CX_E_SIG_COUNT);
	{
		char *s = cx_envelope_dump(&e);
		verify_expect(x, s, CX_OK);
	}
	cx_envelope_free(&e);

	/* a control document takes one signature */
	e.payload_type = strdup(CX_CONTROL_PAYLOAD_TYPE);
	e.payload = (uint8_t *)strdup("{}");
	e.payload_len = 2;
	expect_ok(cx_envelope_sign_as(&cx_doc_control, &e, x->f.agent.seed, &err), &err);
	expect(cx_envelope_sign_as(&cx_doc_control, &e, x->f.human.seed, &err), &err,
	       CX_E_SIG_COUNT);
	cx_envelope_free(&e);
}

/* ---- the state machine (cx_rollout_apply) --------------------------- */

/* A rollout of 4 tiers: canary auto, tiers 2-4 manual. */
static void sm_rollout(cx_rollout *ro)
{
	static char n1[] = "canary", n2[] = "t2", n3[] = "t3", n4[] = "t4";
	char *names[] = { n1, n2, n3, n4 };

	memset(ro, 0, sizeof(*ro));
	memcpy(ro->rollout_id, ROLLOUT_ID, 33);
	ro->ntiers = 4;
	for (size_t k = 0; k < 4; k++) {
		ro->tiers[k].name = names[k];
		ro->tiers[k].gate = k == 0 ? CX_GATE_AUTO : CX_GATE_MANUAL;
	}
}

static int sm_do(const cx_rollout *ro, cx_rollout_progress *p, int64_t seq, cx_control_action a,
		 int64_t tier, cx_error *err)
{
	cx_control c = { .seq = seq, .action = a, .tier = tier };
	return cx_rollout_apply(ro, p, &c, err);
}

static void sm_refused(const cx_rollout *ro, cx_rollout_progress *p, int64_t seq,
		       cx_control_action a, int64_t tier, int want)
{
	cx_rollout_progress before = *p;
	cx_error err = { 0 };

	expect(sm_do(ro, p, seq, a, tier, &err), &err, want);
	assert_memory_equal(&before, p, sizeof(before)); /* unchanged */
}

static void state_machine_table(void **state)
{
	static const cx_control_action all[] = { CX_CONTROL_PAUSE, CX_CONTROL_RESUME,
						 CX_CONTROL_HALT, CX_CONTROL_ROLLBACK,
						 CX_CONTROL_APPROVE };
	/* next state per (state, action), 0: refused (approve: tier 2, the next manual one) */
	static const int want[5][5] = {
		[CX_ROLLOUT_RUNNING] = { CX_ROLLOUT_PAUSED, 0, CX_ROLLOUT_HALTED,
					 CX_ROLLOUT_ROLLED_BACK, CX_ROLLOUT_RUNNING },
		[CX_ROLLOUT_PAUSED] = { 0, CX_ROLLOUT_RUNNING, CX_ROLLOUT_HALTED,
					CX_ROLLOUT_ROLLED_BACK, CX_ROLLOUT_PAUSED },
		[CX_ROLLOUT_HALTED] = { 0, 0, 0, CX_ROLLOUT_ROLLED_BACK, 0 },
		[CX_ROLLOUT_ROLLED_BACK] = { 0, 0, 0, 0, 0 },
	};
	cx_rollout ro;
	(void)state;

	sm_rollout(&ro);
	for (int s = CX_ROLLOUT_RUNNING; s <= CX_ROLLOUT_ROLLED_BACK; s++)
		for (size_t i = 0; i < CX_ARRAY_SIZE(all); i++) {
			cx_rollout_progress p;
			cx_error err = { 0 };
			int64_t tier = all[i] == CX_CONTROL_APPROVE ? 2 : 0;

			cx_rollout_progress_init(&p);
			p.state = (cx_rollout_state)s;
			p.last_seq = 5;
			if (want[s][i] == 0) {
				sm_refused(&ro, &p, 6, all[i], tier, CX_E_ROLLOUT_STATE);
				continue;
			}
			expect_ok(sm_do(&ro, &p, 6, all[i], tier, &err), &err);
			assert_int_equal(p.state, want[s][i]);
			assert_int_equal(p.last_seq, 6);
			assert_int_equal(p.approved, all[i] == CX_CONTROL_APPROVE ? 2u : 0u);
		}
}

static void state_machine_approvals(void **state)
{
	cx_rollout ro;
	cx_rollout_progress p;
	cx_error err = { 0 };
	(void)state;

	sm_rollout(&ro);
	cx_rollout_progress_init(&p);
	assert_int_equal(p.state, CX_ROLLOUT_RUNNING);
	assert_int_equal(cx_rollout_next_manual(&ro, &p), 2);
	/* out of order, the auto canary, a tier that does not exist */
	sm_refused(&ro, &p, 1, CX_CONTROL_APPROVE, 3, CX_E_ROLLOUT_STATE);
	sm_refused(&ro, &p, 1, CX_CONTROL_APPROVE, 1, CX_E_CONTROL);
	sm_refused(&ro, &p, 1, CX_CONTROL_APPROVE, 5, CX_E_CONTROL);
	expect_ok(sm_do(&ro, &p, 1, CX_CONTROL_APPROVE, 2, &err), &err);
	/* twice */
	sm_refused(&ro, &p, 2, CX_CONTROL_APPROVE, 2, CX_E_ROLLOUT_STATE);
	assert_int_equal(cx_rollout_next_manual(&ro, &p), 3);
	/* approved while paused: recorded, the state stays paused */
	expect_ok(sm_do(&ro, &p, 2, CX_CONTROL_PAUSE, 0, &err), &err);
	expect_ok(sm_do(&ro, &p, 3, CX_CONTROL_APPROVE, 3, &err), &err);
	assert_int_equal(p.state, CX_ROLLOUT_PAUSED);
	expect_ok(sm_do(&ro, &p, 4, CX_CONTROL_RESUME, 0, &err), &err);
	expect_ok(sm_do(&ro, &p, 5, CX_CONTROL_APPROVE, 4, &err), &err);
	assert_int_equal(p.approved, 2u | 4u | 8u);
	assert_int_equal(cx_rollout_next_manual(&ro, &p), 0);
	/* a seq not above the last applied: a replay, refused as such */
	sm_refused(&ro, &p, 5, CX_CONTROL_HALT, 0, CX_E_CONTROL_SEQ);
	sm_refused(&ro, &p, 2, CX_CONTROL_PAUSE, 0, CX_E_CONTROL_SEQ);
	/* halt: then only rollback; after it, nothing */
	expect_ok(sm_do(&ro, &p, 6, CX_CONTROL_HALT, 0, &err), &err);
	sm_refused(&ro, &p, 7, CX_CONTROL_RESUME, 0, CX_E_ROLLOUT_STATE);
	sm_refused(&ro, &p, 7, CX_CONTROL_HALT, 0, CX_E_ROLLOUT_STATE);
	expect_ok(sm_do(&ro, &p, 9, CX_CONTROL_ROLLBACK, 0, &err), &err);
	assert_int_equal(p.state, CX_ROLLOUT_ROLLED_BACK);
	sm_refused(&ro, &p, 10, CX_CONTROL_ROLLBACK, 0, CX_E_ROLLOUT_STATE);
	assert_string_equal(cx_rollout_state_name(p.state), "rolled_back");
	assert_string_equal(cx_rollout_state_name(CX_ROLLOUT_PAUSED), "paused");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(good_rollout_verifies), T(body_unknown_key), T(body_missing_key),
		T(tier_unknown_or_missing_key), T(body_bad_values), T(tier_bad_values),
		T(host_id_hostile), T(host_twice_across_tiers), T(host_twice_in_one_tier),
		T(tier_names_unique), T(tiers_count_bounds), T(hosts_total_bound),
		T(cumulative_table), T(last_tier_not_100), T(percents_not_rising),
		T(tier_count_off_by_one), T(tiers_collapse_on_few_hosts), T(arithmetic_random),
		T(signers_rules), T(tampered_after_signing), T(window_rules),
		T(lease_hash_mismatch), T(lease_binding), T(pool_members),
		T(lease_presented_as_rollout), T(rollout_presented_as_lease), T(control_roles),
		T(control_signatures), T(control_seq_replay), T(control_tier_rules),
		T(control_binding), T(control_type_confusion), T(control_body_dump_roundtrip),
		T(signing_limits), T(state_machine_table), T(state_machine_approvals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
