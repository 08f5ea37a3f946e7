/* Unit tests: the fleet side of a rollout (calyx/rollout_fleet.h), pure
 * parts only — no etcd.
 *  - host reports: the strict body parser (required members, types,
 *    unknown members, size, states a host may not report, bounds) and
 *    the verifier (right key, wrong key, tampered payload, a lease or a
 *    document of another type passed as a report);
 *  - cx_fleet_eval over hand-built reads: gates (auto, manual with its
 *    approval time), soak, failures and lost hosts, halted hosts,
 *    deadlines, completion, slot counting;
 *  - cx_fleet_view: mode and mode_detail, why_not, counts, and the
 *    members the report renderer (executor/rollout_report*.c) reads.
 * A read is built as cx_fleet_load builds it: the rollout from
 * cx_rollout_body_parse of a JSON body, the progress from
 * cx_rollout_apply of control documents, each report from
 * cx_host_report_body_parse of a JSON body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "calyx/codec.h"
#include "calyx/rollout_fleet.h"
#include "testutil.h"
#include "tu_expect.h"

#define RID "fedcba9876543210fedcba9876543210"
#define LID "0123456789abcdef0123456789abcdef"
#define T0 1765000000LL /* the rollout's issued_at */
/* A cmocka test that uses no state. */
#define TEST(name) static void name(void **state __attribute__((unused)))

static void expect_ok(int r, const cx_error *err)
{
	if (r != 0)
		print_error("want OK, got %s: %s\n", cx_reason_name(err->reason), err->msg);
	assert_int_equal(r, 0);
}

static char *jdump_take(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	json_decref(j);
	return s;
}

static json_int_t geti(const json_t *v, const char *k)
{
	const json_t *i = json_object_get(v, k);
	if (!json_is_integer(i))
		fail_msg("member '%s' is not an integer", k);
	return json_integer_value(i);
}

/* ---- host report bodies ------------------------------------------------- */

static json_t *rep_body(const char *state)
{
	json_t *b = json_pack("{s:i, s:s, s:s, s:i, s:i, s:s, s:I}", "v", 1, "rollout_id", RID,
			      "host", "web-001", "tier", 1, "seq", 3, "state", state, "at",
			      (json_int_t)T0 + 10);
	assert_non_null(b);
	return b;
}

/* Parse body (consumed): the parser's result, *err filled. */
static int parse_rep(json_t *body, cx_error *err)
{
	char *s = jdump_take(body);
	cx_host_report r = { 0 };
	int rc;

	memset(err, 0, sizeof(*err));
	rc = cx_host_report_body_parse((const uint8_t *)s, strlen(s), &r, err);
	if (rc == 0)
		assert_non_null(r.body);
	cx_host_report_free(&r);
	free(s);
	return rc;
}

static void rep_expect(json_t *body, int want)
{
	cx_error err;
	int r = parse_rep(body, &err);
	if (want == CX_OK)
		expect_ok(r, &err);
	else
		expect(r, &err, want);
}

static json_t *with(json_t *b, const char *k, json_t *v)
{
	json_object_set_new(b, k, v);
	return b;
}

static json_t *without(json_t *b, const char *k)
{
	assert_int_equal(json_object_del(b, k), 0);
	return b;
}

/* A running report with member k set to v (consumed): want. */
#define RUN_WITH(k, v, want) rep_expect(with(rep_body("running"), k, v), want)

TEST(report_body_good)
{
	static const char *const ok_states[] = { "claimed", "running", "committed", "failed",
						 "halted", "rolled_back" };
	cx_host_report r = { 0 };
	cx_error err = { 0 };
	json_t *b = rep_body("committed");
	char *s;

	json_object_update_new(b, json_pack("{s:I, s:I, s:s, s:i, s:s, s:s, s:s, s:{s:i, s:s}, s:{s:b}, s:n}",
					   "claimed_at", (json_int_t)T0 + 1, "finished_at",
					   (json_int_t)T0 + 9, "run_id", "ab12", "exit_code", 0,
					   "status", "completed", "reason", "OK", "validate", "passed",
					   "audit", "last_seq", 42, "head", "00", "checks",
					   "signatures", 1, "message"));
	s = jdump_take(b);
	expect_ok(cx_host_report_body_parse((const uint8_t *)s, strlen(s), &r, &err), &err);
	assert_string_equal(r.rollout_id, RID);
	assert_string_equal(r.host, "web-001");
	assert_int_equal(r.tier, 1);
	assert_int_equal(r.seq, 3);
	assert_int_equal(r.state, CX_HOST_COMMITTED);
	assert_int_equal(r.at, T0 + 10);
	assert_int_equal(geti(r.body, "finished_at"), T0 + 9);
	cx_host_report_free(&r);
	free(s);
	for (size_t i = 0; i < sizeof(ok_states) / sizeof(ok_states[0]); i++)
		rep_expect(rep_body(ok_states[i]), CX_OK);
}

TEST(report_body_required)
{
	static const char *const req[] = { "v", "rollout_id", "host", "tier", "seq", "state", "at" };
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		rep_expect(without(rep_body("running"), req[i]), CX_E_ROLLOUT);
}

TEST(report_body_types_and_unknown_members)
{
	RUN_WITH("v", json_string("1"), CX_E_ROLLOUT);
	RUN_WITH("rollout_id", json_integer(1), CX_E_ROLLOUT);
	RUN_WITH("host", json_true(), CX_E_ROLLOUT);
	RUN_WITH("tier", json_real(1.0), CX_E_ROLLOUT);
	RUN_WITH("seq", json_string("3"), CX_E_ROLLOUT);
	RUN_WITH("state", json_integer(2), CX_E_ROLLOUT);
	RUN_WITH("at", json_null(), CX_E_ROLLOUT);
	/* optional members: each of its type, null allowed */
	RUN_WITH("claimed_at", json_string("1"), CX_E_ROLLOUT);
	RUN_WITH("exit_code", json_real(0.5), CX_E_ROLLOUT);
	RUN_WITH("run_id", json_integer(7), CX_E_ROLLOUT);
	RUN_WITH("message", json_pack("[s]", "x"), CX_E_ROLLOUT);
	RUN_WITH("audit", json_string("head"), CX_E_ROLLOUT);
	RUN_WITH("checks", json_array(), CX_E_ROLLOUT);
	RUN_WITH("validate", json_null(), CX_OK);
	RUN_WITH("audit", json_null(), CX_OK);
	/* unknown members, not an object, not JSON, a duplicate key */
	RUN_WITH("approved", json_true(), CX_E_ROLLOUT);
	RUN_WITH("State", json_string("running"), CX_E_ROLLOUT);
	rep_expect(json_pack("[i]", 1), CX_E_JSON);
	{
		static const char bad[] = "{\"v\":1,";
		static const char dup[] = "{\"v\":1,\"v\":1,\"rollout_id\":\"" RID "\",\"host\":\"h\","
					  "\"tier\":1,\"seq\":1,\"state\":\"running\",\"at\":1}";
		cx_host_report r = { 0 };
		cx_error err = { 0 };
		expect(cx_host_report_body_parse((const uint8_t *)bad, strlen(bad), &r, &err), &err,
		       CX_E_JSON);
		memset(&err, 0, sizeof(err));
		expect(cx_host_report_body_parse((const uint8_t *)dup, strlen(dup), &r, &err), &err,
		       CX_E_JSON);
	}
}

TEST(report_body_states_a_host_may_not_report)
{
	rep_expect(rep_body("waiting"), CX_E_ROLLOUT);
	rep_expect(rep_body("lost"), CX_E_ROLLOUT);
	rep_expect(rep_body("completed"), CX_E_ROLLOUT);
	rep_expect(rep_body("Running"), CX_E_ROLLOUT);
	rep_expect(rep_body(""), CX_E_ROLLOUT);
}

TEST(report_body_bounds)
{
	char big[CX_HOST_MESSAGE_MAX + 2], host[CX_ID_MAX + 2];

	RUN_WITH("v", json_integer(2), CX_E_ROLLOUT);
	RUN_WITH("tier", json_integer(0), CX_E_ROLLOUT);
	RUN_WITH("tier", json_integer(CX_ROLLOUT_TIERS_MAX), CX_OK);
	RUN_WITH("tier", json_integer(CX_ROLLOUT_TIERS_MAX + 1), CX_E_ROLLOUT);
	RUN_WITH("seq", json_integer(0), CX_E_ROLLOUT);
	RUN_WITH("seq", json_integer(CX_CONTROL_SEQ_MAX), CX_OK);
	RUN_WITH("seq", json_integer(CX_CONTROL_SEQ_MAX + 1), CX_E_ROLLOUT);
	RUN_WITH("at", json_integer(-1), CX_E_ROLLOUT);
	RUN_WITH("at", json_integer(CX_LEASE_TIME_MAX + 1), CX_E_ROLLOUT);
	RUN_WITH("rollout_id", json_string("FEDCBA9876543210FEDCBA9876543210"), CX_E_ROLLOUT);
	RUN_WITH("rollout_id", json_string("fedcba98"), CX_E_ROLLOUT);
	RUN_WITH("host", json_string("web 001"), CX_E_ROLLOUT);
	RUN_WITH("host", json_string("web/../x"), CX_E_ROLLOUT);
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	RUN_WITH("host", json_string(host), CX_E_ROLLOUT);
	host[sizeof(host) - 2] = '\0';
	RUN_WITH("host", json_string(host), CX_OK);
	/* optional integers: -1 (unknown) .. CX_LEASE_TIME_MAX */
	rep_expect(with(rep_body("failed"), "exit_code", json_integer(-1)), CX_OK);
	rep_expect(with(rep_body("failed"), "exit_code", json_integer(-2)), CX_E_ROLLOUT);
	rep_expect(with(rep_body("failed"), "finished_at", json_integer(CX_LEASE_TIME_MAX + 1)),
		   CX_E_ROLLOUT);
	/* strings to CX_HOST_MESSAGE_MAX bytes */
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rep_expect(with(rep_body("failed"), "message", json_string(big)), CX_E_ROLLOUT);
	big[sizeof(big) - 2] = '\0';
	rep_expect(with(rep_body("failed"), "message", json_string(big)), CX_OK);
	/* objects of at most 16 members */
	{
		json_t *a = json_object();
		char k[16];
		for (int i = 0; i < 16; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			json_object_set_new(a, k, json_integer(i));
		}
		rep_expect(with(rep_body("committed"), "audit", json_deep_copy(a)), CX_OK);
		json_object_set_new(a, "k16", json_integer(16));
		rep_expect(with(rep_body("committed"), "audit", a), CX_E_ROLLOUT);
	}
}

TEST(report_body_oversize)
{
	char *s = jdump_take(rep_body("running"));
	size_t n = strlen(s), pad = CX_HOST_REPORT_BODY_MAX_BYTES + 1 - n;
	char *b = malloc(CX_HOST_REPORT_BODY_MAX_BYTES + 2);
	cx_host_report r = { 0 };
	cx_error err = { 0 };

	assert_non_null(b);
	/* valid JSON, one byte above the bound (whitespace before the '}') */
	memcpy(b, s, n - 1);
	memset(b + n - 1, ' ', pad);
	b[n - 1 + pad] = '}';
	expect(cx_host_report_body_parse((const uint8_t *)b, CX_HOST_REPORT_BODY_MAX_BYTES + 1, &r,
					 &err),
	       &err, CX_E_TOO_BIG);
	/* exactly at the bound: accepted */
	memset(&err, 0, sizeof(err));
	b[n - 2 + pad] = '}';
	expect_ok(cx_host_report_body_parse((const uint8_t *)b, CX_HOST_REPORT_BODY_MAX_BYTES, &r,
					    &err),
		  &err);
	cx_host_report_free(&r);
	free(b);
	free(s);
}

/* ---- host report documents ---------------------------------------------- */

static int verify_doc(const uint8_t pk[32], const char *doc, cx_error *err)
{
	cx_host_report r = { 0 };
	int rc;

	memset(err, 0, sizeof(*err));
	rc = cx_host_report_verify(pk, (const uint8_t *)doc, strlen(doc), &r, err);
	if (rc == 0) {
		assert_string_equal(r.host, "web-001");
		assert_int_equal(r.state, CX_HOST_RUNNING);
	}
	cx_host_report_free(&r);
	return rc;
}

TEST(report_verify)
{
	tu_key host, other;
	cx_error err = { 0 };
	json_t *b = rep_body("running");
	char *doc;

	tu_key_make(&host, 0x41, CX_ROLE_AGENT, "web-001");
	tu_key_make(&other, 0x42, CX_ROLE_AGENT, "web-002");
	doc = cx_host_report_sign(b, host.seed, &err);
	assert_non_null(doc);
	/* the right key */
	expect_ok(verify_doc(host.pk, doc, &err), &err);
	/* another host's key: its keyid is not the one that signed */
	expect(verify_doc(other.pk, doc, &err), &err, CX_E_UNKNOWN_KEY);
	/* tampered payload: the same signature over other bytes */
	{
		json_t *env = json_loads(doc, 0, NULL), *b2 = rep_body("committed");
		char *p2 = jdump_take(b2), *t;
		char *b64 = malloc(cx_b64_len(strlen(p2)) + 1);
		assert_non_null(env);
		cx_b64_encode((const uint8_t *)p2, strlen(p2), b64);
		json_object_set_new(env, "payload", json_string(b64));
		t = jdump_take(env);
		expect(verify_doc(host.pk, t, &err), &err, CX_E_BAD_SIG);
		free(t);
		free(b64);
		free(p2);
	}
	/* the host's own signature, but on a body that does not parse */
	{
		char *p = jdump_take(rep_body("lost")), *t;
		const tu_key *s[] = { &host };
		t = tu_envelope_raw(CX_HOST_PAYLOAD_TYPE, (const uint8_t *)p, strlen(p),
				    CX_HOST_PAYLOAD_TYPE, s, 1);
		expect(verify_doc(host.pk, t, &err), &err, CX_E_ROLLOUT);
		free(t);
		free(p);
	}
	/* signed over another type's PAE, relabelled as a host report */
	{
		char *p = jdump_take(rep_body("running")), *t;
		const tu_key *s[] = { &host };
		t = tu_envelope_raw(CX_HOST_PAYLOAD_TYPE, (const uint8_t *)p, strlen(p),
				    CX_CONTROL_PAYLOAD_TYPE, s, 1);
		expect(verify_doc(host.pk, t, &err), &err, CX_E_BAD_SIG);
		free(t);
		/* a report body in a document of another type */
		t = tu_envelope_raw(CX_LEASE_PAYLOAD_TYPE, (const uint8_t *)p, strlen(p),
				    CX_LEASE_PAYLOAD_TYPE, s, 1);
		expect(verify_doc(host.pk, t, &err), &err, CX_E_PAYLOAD_TYPE);
		free(t);
		free(p);
	}
	/* above the document bound */
	{
		char *t = calloc(1, CX_HOST_REPORT_MAX_BYTES + 2);
		assert_non_null(t);
		memset(t, ' ', CX_HOST_REPORT_MAX_BYTES + 1);
		expect(verify_doc(host.pk, t, &err), &err, CX_E_TOO_BIG);
		free(t);
	}
	json_decref(b);
	free(doc);
}

TEST(report_verify_lease_is_not_a_report)
{
	tu_fixture f;
	cx_error err = { 0 };
	char *lease;

	tu_fixture_init(&f);
	lease = tu_good_lease(&f);
	/* a real two-key lease, checked against either of its signers */
	expect(verify_doc(f.agent.pk, lease, &err), &err, CX_E_PAYLOAD_TYPE);
	expect(verify_doc(f.human.pk, lease, &err), &err, CX_E_PAYLOAD_TYPE);
	free(lease);
	tu_fixture_free(&f);
}

/* ---- hand-built reads --------------------------------------------------- */

typedef struct tspec {
	int64_t pct;
	const char *gate;
	int64_t soak, par, deadline, maxf;
} tspec;

/* n hosts web-001.. in tiers ts (percents by the arithmetic), every host
 * registered and live, nothing reported, no control document. */
static void fleet_make(cx_fleet *f, size_t n, const tspec *ts, size_t nt)
{
	json_t *tiers = json_array();
	cx_error err = { 0 };
	size_t prev = 0;
	char *s;

	memset(f, 0, sizeof(*f));
	for (size_t k = 0; k < nt; k++) {
		size_t cum = cx_rollout_cumulative(ts[k].pct, n);
		json_t *hosts = json_array();
		char name[32], h[32];
		for (size_t i = prev; i < cum; i++) {
			snprintf(h, sizeof(h), "web-%03zu", i + 1);
			json_array_append_new(hosts, json_string(h));
		}
		snprintf(name, sizeof(name), "tier-%zu", k + 1);
		json_array_append_new(tiers, json_pack("{s:s, s:I, s:o, s:s, s:I, s:I, s:I, s:I}",
						       "name", name, "percent", (json_int_t)ts[k].pct,
						       "hosts", hosts, "gate", ts[k].gate, "soak_s",
						       (json_int_t)ts[k].soak, "max_parallel",
						       (json_int_t)ts[k].par, "deadline_s",
						       (json_int_t)ts[k].deadline, "max_failures",
						       (json_int_t)ts[k].maxf));
		prev = cum;
	}
	s = jdump_take(json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:I}", "v", 1,
				 "rollout_id", RID, "lease_id", LID, "lease_sha256",
				 "00000000000000000000000000000000000000000000000000000000000000aa",
				 "pool", "web", "tiers", tiers, "on_failure", "halt", "on_deadline",
				 "pause", "issued_at", (json_int_t)T0, "not_before", (json_int_t)T0,
				 "not_after", (json_int_t)T0 + 86400));
	expect_ok(cx_rollout_body_parse((const uint8_t *)s, strlen(s), &f->s.ro, &err), &err);
	free(s);
	cx_rollout_progress_init(&f->s.prog);
	f->hosts = calloc(f->s.ro.nhosts, sizeof(*f->hosts));
	assert_non_null(f->hosts);
	for (size_t t = 0; t < f->s.ro.ntiers; t++)
		for (size_t k = 0; k < f->s.ro.tiers[t].hosts.n; k++) {
			cx_fleet_host *h = &f->hosts[f->nhosts++];
			h->host = f->s.ro.tiers[t].hosts.v[k];
			h->tier = t;
			h->registered = h->live = true;
		}
	f->slots = json_object();
	f->started_at = f->s.ro.issued_at;
}

/* Host i reports state (finished_at fin when > 0), through the parser. */
static cx_fleet_host *report(cx_fleet *f, size_t i, const char *state, int64_t fin, json_t *extra)
{
	cx_fleet_host *h = &f->hosts[i];
	json_t *b = rep_body(state);
	cx_error err = { 0 };
	char *s;

	json_object_set_new(b, "host", json_string(h->host));
	json_object_set_new(b, "tier", json_integer((json_int_t)h->tier + 1));
	json_object_set_new(b, "claimed_at", json_integer(T0 + 1));
	if (fin > 0)
		json_object_set_new(b, "finished_at", json_integer(fin));
	if (extra)
		json_object_update_new(b, extra);
	s = jdump_take(b);
	cx_host_report_free(&h->rep);
	expect_ok(cx_host_report_body_parse((const uint8_t *)s, strlen(s), &h->rep, &err), &err);
	h->have_report = true;
	free(s);
	return h;
}

/* A verified control document, applied as the store applies it. */
static void control(cx_fleet *f, cx_control_action a, int64_t tier, int64_t at, const char *by)
{
	cx_control *c;
	cx_error err = { 0 };

	f->s.ctl = realloc(f->s.ctl, (f->s.nctl + 1) * sizeof(*f->s.ctl));
	assert_non_null(f->s.ctl);
	c = &f->s.ctl[f->s.nctl++];
	memset(c, 0, sizeof(*c));
	memcpy(c->rollout_id, RID, 33);
	c->seq = (int64_t)f->s.nctl;
	c->action = a;
	c->tier = tier;
	c->issued_at = at;
	c->role = CX_ROLE_HUMAN;
	c->principal = strdup(by);
	memset(c->keyid, 'a', 64);
	expect_ok(cx_rollout_apply(&f->s.ro, &f->s.prog, c, &err), &err);
}

static const tspec AUTO3[] = {
	{ 10, "auto", 60, 1, 600, 0 },
	{ 50, "auto", 60, 2, 600, 1 },
	{ 100, "auto", 30, 3, 900, 1 },
};

static void commit_tier(cx_fleet *f, size_t t, int64_t fin)
{
	for (size_t i = 0; i < f->nhosts; i++)
		if (f->hosts[i].tier == t)
			report(f, i, "committed", fin, NULL);
}

/* ---- cx_fleet_eval ------------------------------------------------------ */

TEST(eval_auto_tier_opens_at_once)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3); /* 1, 4, 5 hosts */
	cx_fleet_eval(&f, T0);
	assert_int_equal(f.tiers[0].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[0].opened_at, T0);
	assert_int_equal(f.tiers[0].deadline_at, T0 + 600);
	assert_int_equal(f.tiers[1].phase, CX_TIER_WAITING);
	assert_int_equal(f.tiers[1].opened_at, 0);
	assert_int_equal(f.tiers[2].phase, CX_TIER_WAITING);
	assert_int_equal(f.open_tier, 1);
	assert_false(f.completed);
	assert_false(f.failed);
	assert_string_equal(cx_fleet_state(&f), "running");
	for (size_t i = 0; i < f.nhosts; i++)
		assert_int_equal(f.hosts[i].state, CX_HOST_WAITING);
	cx_fleet_free(&f);
}

/* A rollout signed long before it was started: tier 1 opens, and its
 * deadline runs, from the start, not from the signature. */
TEST(eval_tier1_opens_at_start_not_signing)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3);
	f.started_at = T0 + 5000; /* deadline_s is 600 */
	cx_fleet_eval(&f, T0 + 5010);
	assert_int_equal(f.tiers[0].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[0].opened_at, T0 + 5000);
	assert_int_equal(f.tiers[0].deadline_at, T0 + 5600);
	assert_false(f.tiers[0].deadline_passed);
	assert_int_equal(f.deadline_tier, 0);
	cx_fleet_free(&f);
}

TEST(eval_manual_tier_waits_for_approval)
{
	static const tspec ts[] = { { 10, "manual", 60, 1, 600, 0 }, { 100, "manual", 60, 2, 900, 1 } };
	cx_fleet f;

	fleet_make(&f, 10, ts, 2);
	cx_fleet_eval(&f, T0 + 500);
	assert_int_equal(f.tiers[0].phase, CX_TIER_WAITING);
	assert_int_equal(f.tiers[0].opened_at, 0);
	assert_false(f.tiers[0].deadline_passed); /* no deadline before it opens */
	assert_int_equal(f.open_tier, 0);
	/* approved at T0+100: opens then (the rollout started at T0) */
	control(&f, CX_CONTROL_APPROVE, 1, T0 + 100, "alice@example");
	cx_fleet_eval(&f, T0 + 500);
	assert_int_equal(f.tiers[0].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[0].opened_at, T0 + 100);
	assert_int_equal(f.tiers[0].approved_at, T0 + 100);
	assert_string_equal(f.tiers[0].approved_by, "alice@example");
	assert_int_equal(f.tiers[0].deadline_at, T0 + 700);
	assert_int_equal(f.open_tier, 1);
	/* tier 2 approved early (T0+200), tier 1 done at T0+300, soaked at
	 * T0+360: tier 2 opens at the later, the soak end */
	control(&f, CX_CONTROL_APPROVE, 2, T0 + 200, "bob@example");
	commit_tier(&f, 0, T0 + 300);
	cx_fleet_eval(&f, T0 + 359);
	assert_int_equal(f.tiers[0].phase, CX_TIER_SOAKING);
	assert_int_equal(f.tiers[1].phase, CX_TIER_WAITING);
	cx_fleet_eval(&f, T0 + 400);
	assert_int_equal(f.tiers[0].phase, CX_TIER_DONE);
	assert_int_equal(f.tiers[1].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[1].opened_at, T0 + 360);
	assert_string_equal(f.tiers[1].approved_by, "bob@example");
	cx_fleet_free(&f);
}

TEST(eval_manual_opens_at_later_approval)
{
	static const tspec ts[] = { { 10, "auto", 60, 1, 600, 0 }, { 100, "manual", 60, 2, 900, 1 } };
	cx_fleet f;

	fleet_make(&f, 10, ts, 2);
	commit_tier(&f, 0, T0 + 50);
	cx_fleet_eval(&f, T0 + 1000);
	assert_int_equal(f.tiers[0].phase, CX_TIER_DONE);
	assert_int_equal(f.tiers[1].phase, CX_TIER_WAITING); /* soaked, but not approved */
	assert_int_equal(f.open_tier, 0);
	assert_false(f.completed);
	control(&f, CX_CONTROL_APPROVE, 2, T0 + 900, "alice@example");
	cx_fleet_eval(&f, T0 + 1000);
	assert_int_equal(f.tiers[1].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[1].opened_at, T0 + 900); /* after the soak end T0+110 */
	assert_int_equal(f.open_tier, 2);
	cx_fleet_free(&f);
}

TEST(eval_soak_then_next_tier)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3);
	report(&f, 0, "running", 0, NULL);
	cx_fleet_eval(&f, T0 + 50);
	assert_int_equal(f.tiers[0].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[0].running, 1);
	report(&f, 0, "committed", T0 + 100, NULL);
	cx_fleet_eval(&f, T0 + 159);
	assert_int_equal(f.tiers[0].phase, CX_TIER_SOAKING);
	assert_int_equal(f.tiers[0].done_at, T0 + 100);
	assert_int_equal(f.tiers[0].soaked_at, T0 + 160);
	assert_int_equal(f.tiers[0].committed, 1);
	assert_int_equal(f.tiers[1].phase, CX_TIER_WAITING);
	assert_int_equal(f.open_tier, 0);
	cx_fleet_eval(&f, T0 + 160);
	assert_int_equal(f.tiers[0].phase, CX_TIER_DONE);
	assert_int_equal(f.tiers[1].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[1].opened_at, T0 + 160);
	assert_int_equal(f.tiers[2].phase, CX_TIER_WAITING);
	assert_int_equal(f.open_tier, 2);
	/* a tier with a host still running is open, not soaking */
	commit_tier(&f, 1, T0 + 200);
	report(&f, 3, "running", 0, NULL);
	cx_fleet_eval(&f, T0 + 1000);
	assert_int_equal(f.tiers[1].phase, CX_TIER_OPEN);
	assert_int_equal(f.tiers[1].done_at, 0);
	assert_int_equal(f.tiers[2].phase, CX_TIER_WAITING);
	cx_fleet_free(&f);
}

TEST(eval_failures_fail_the_tier)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3);
	commit_tier(&f, 0, T0 + 10);
	/* tier 2: 4 hosts (indexes 1..4), max_failures 1 */
	report(&f, 1, "failed", T0 + 100, json_pack("{s:s}", "validate", "failed"));
	report(&f, 2, "committed", T0 + 100, NULL);
	cx_fleet_eval(&f, T0 + 100);
	assert_int_equal(f.tiers[1].failures, 1);
	assert_int_equal(f.tiers[1].phase, CX_TIER_OPEN);
	assert_int_equal(f.failed_tier, 0);
	assert_false(f.failed);
	report(&f, 3, "failed", T0 + 110, NULL);
	cx_fleet_eval(&f, T0 + 120);
	assert_int_equal(f.tiers[1].failures, 2);
	assert_int_equal(f.tiers[1].phase, CX_TIER_FAILED);
	assert_int_equal(f.failed_tier, 2);
	assert_true(f.failed);
	assert_false(f.completed);
	assert_int_equal(f.tiers[2].phase, CX_TIER_WAITING); /* never opens after a failure */
	assert_int_equal(f.open_tier, 0);
	assert_false(f.tiers[1].deadline_passed); /* failed: on_failure, not on_deadline */
	cx_fleet_eval(&f, T0 + 100000);
	assert_false(f.tiers[1].deadline_passed);
	assert_int_equal(f.deadline_tier, 0);
	assert_string_equal(cx_fleet_state(&f), "running");
	cx_fleet_free(&f);
}

TEST(eval_lost_host_is_a_failure)
{
	cx_fleet f;
	cx_fleet_host *h;

	fleet_make(&f, 10, AUTO3, 3);
	h = report(&f, 0, "claimed", 0, NULL);
	cx_fleet_eval(&f, T0 + 5);
	assert_int_equal(h->state, CX_HOST_CLAIMED);
	assert_int_equal(f.tiers[0].running, 1);
	assert_int_equal(f.tiers[0].failures, 0);
	h->live = false;
	cx_fleet_eval(&f, T0 + 5);
	assert_int_equal(h->state, CX_HOST_LOST);
	assert_int_equal(h->rep.state, CX_HOST_CLAIMED); /* its report is kept */
	assert_int_equal(f.tiers[0].running, 0);
	assert_int_equal(f.tiers[0].failures, 1);
	assert_int_equal(f.tiers[0].phase, CX_TIER_FAILED); /* max_failures 0 */
	assert_int_equal(f.failed_tier, 1);
	/* running without liveness: lost too; a finished host is not */
	h = report(&f, 0, "running", 0, NULL);
	cx_fleet_eval(&f, T0 + 5);
	assert_int_equal(h->state, CX_HOST_LOST);
	h = report(&f, 0, "committed", T0 + 5, NULL);
	cx_fleet_eval(&f, T0 + 5);
	assert_int_equal(h->state, CX_HOST_COMMITTED);
	assert_int_equal(f.tiers[0].failures, 0);
	/* a host that never reported is waiting, live or not */
	f.hosts[1].live = false;
	cx_fleet_eval(&f, T0 + 5);
	assert_int_equal(f.hosts[1].state, CX_HOST_WAITING);
	cx_fleet_free(&f);
}

TEST(eval_halted_hosts_count_while_running)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3);
	report(&f, 0, "halted", T0 + 20, NULL);
	cx_fleet_eval(&f, T0 + 30);
	assert_int_equal(f.hosts[0].state, CX_HOST_HALTED);
	assert_int_equal(f.tiers[0].failures, 1); /* the rollout is running: a quota, a failure */
	assert_int_equal(f.tiers[0].phase, CX_TIER_FAILED);
	/* a pause lets runs finish: a host halted meanwhile was not stopped
	 * by the rollout, it failed */
	control(&f, CX_CONTROL_PAUSE, 0, T0 + 12, "ops@example");
	cx_fleet_eval(&f, T0 + 30);
	assert_int_equal(f.tiers[0].failures, 1);
	assert_int_equal(f.failed_tier, 1);
	control(&f, CX_CONTROL_HALT, 0, T0 + 15, "ops@example");
	cx_fleet_eval(&f, T0 + 30);
	assert_int_equal(f.tiers[0].failures, 0); /* halted by the rollout's halt */
	assert_int_equal(f.failed_tier, 0);
	assert_string_equal(cx_fleet_state(&f), "halted");
	cx_fleet_free(&f);
}

TEST(eval_deadline)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3);
	cx_fleet_eval(&f, T0 + 599);
	assert_false(f.tiers[0].deadline_passed);
	assert_int_equal(f.deadline_tier, 0);
	cx_fleet_eval(&f, T0 + 600);
	assert_true(f.tiers[0].deadline_passed);
	assert_int_equal(f.deadline_tier, 1);
	/* still soaking at the deadline: passed (deadline_s runs to soaked) */
	commit_tier(&f, 0, T0 + 580);
	cx_fleet_eval(&f, T0 + 620);
	assert_int_equal(f.tiers[0].phase, CX_TIER_SOAKING);
	assert_true(f.tiers[0].deadline_passed);
	/* soaked: done, its deadline no longer matters; tier 2's runs from T0+640 */
	cx_fleet_eval(&f, T0 + 640);
	assert_int_equal(f.tiers[0].phase, CX_TIER_DONE);
	assert_false(f.tiers[0].deadline_passed);
	assert_int_equal(f.tiers[1].deadline_at, T0 + 1240);
	assert_int_equal(f.deadline_tier, 0);
	cx_fleet_eval(&f, T0 + 1240);
	assert_int_equal(f.deadline_tier, 2);
	cx_fleet_free(&f);
}

TEST(eval_completed_when_every_tier_done)
{
	cx_fleet f;

	fleet_make(&f, 10, AUTO3, 3);
	commit_tier(&f, 0, T0 + 10);
	commit_tier(&f, 1, T0 + 100);
	for (size_t i = 5; i < 9; i++)
		report(&f, i, "committed", T0 + 200, NULL);
	report(&f, 9, "failed", T0 + 210, NULL); /* within tier 3's max_failures 1 */
	cx_fleet_eval(&f, T0 + 239);
	assert_int_equal(f.tiers[2].phase, CX_TIER_SOAKING);
	assert_false(f.completed);
	assert_string_equal(cx_fleet_state(&f), "running");
	cx_fleet_eval(&f, T0 + 240);
	for (size_t t = 0; t < 3; t++)
		assert_int_equal(f.tiers[t].phase, CX_TIER_DONE);
	assert_true(f.completed);
	assert_false(f.failed);
	assert_int_equal(f.open_tier, 0);
	assert_string_equal(cx_fleet_state(&f), "completed");
	/* a rolled-back rollout says so, done or not */
	control(&f, CX_CONTROL_ROLLBACK, 0, T0 + 300, "alice@example");
	cx_fleet_eval(&f, T0 + 400);
	assert_string_equal(cx_fleet_state(&f), "rolled_back");
	cx_fleet_free(&f);
}

TEST(eval_slots_counted_per_tier)
{
	static const tspec ts[] = { { 10, "auto", 60, 1, 600, 0 }, { 100, "auto", 60, 3, 900, 2 } };
	cx_fleet f;

	fleet_make(&f, 12, ts, 2); /* 2 and 10 hosts */
	json_object_set_new(f.slots, "1/0", json_string("web-001"));
	json_object_set_new(f.slots, "2/0", json_string("web-003"));
	json_object_set_new(f.slots, "2/1", json_string("web-004"));
	json_object_set_new(f.slots, "2/2", json_string("web-005"));
	json_object_set_new(f.slots, "12/0", json_string("web-009")); /* not tier 1's nor 2's */
	json_object_set_new(f.slots, "21/0", json_string("web-010"));
	cx_fleet_eval(&f, T0);
	assert_int_equal(f.tiers[0].slots_used, 1);
	assert_int_equal(f.tiers[1].slots_used, 3);
	assert_int_equal(f.tiers[1].slots_used, f.s.ro.tiers[1].max_parallel);
	json_object_del(f.slots, "2/1");
	cx_fleet_eval(&f, T0);
	assert_int_equal(f.tiers[1].slots_used, 2);
	cx_fleet_free(&f);
}

/* ---- cx_fleet_view ------------------------------------------------------ */

static json_t *view_at(cx_fleet *f, int64_t now)
{
	json_t *v;
	cx_fleet_eval(f, now);
	v = cx_fleet_view(f);
	assert_non_null(v);
	return v;
}

static const char *vstr(const json_t *v, const char *k)
{
	const char *s = json_string_value(json_object_get(v, k));
	if (!s)
		fail_msg("view member '%s' is not a string", k);
	return s;
}

static const json_t *vhost(const json_t *v, size_t t, size_t i)
{
	const json_t *h = json_array_get(
		json_object_get(json_array_get(json_object_get(v, "tiers"), t), "hosts"), i);
	assert_non_null(h);
	return h;
}

static const char *why(const json_t *v, size_t t, size_t i)
{
	return json_string_value(json_object_get(vhost(v, t, i), "why_not"));
}

static void has(const char *s, const char *sub)
{
	if (!s || !strstr(s, sub))
		fail_msg("'%s' lacks '%s'", s ? s : "(null)", sub);
}

TEST(view_modes)
{
	static const tspec ts[] = { { 10, "manual", 60, 1, 600, 0 }, { 100, "manual", 60, 2, 900, 1 } };
	cx_fleet f;
	json_t *v;

	fleet_make(&f, 10, ts, 2);
	v = view_at(&f, T0 + 10);
	assert_string_equal(vstr(v, "state"), "running");
	assert_string_equal(vstr(v, "mode"), "awaiting_approval");
	has(vstr(v, "mode_detail"), "approve --tier 1");
	assert_int_equal(geti(v, "next_manual_tier"), 1);
	json_decref(v);
	control(&f, CX_CONTROL_APPROVE, 1, T0 + 20, "alice@example");
	v = view_at(&f, T0 + 30);
	assert_string_equal(vstr(v, "mode"), "running");
	has(vstr(v, "mode_detail"), "tier 1 ('tier-1') is open");
	{
		const json_t *t1 = json_array_get(json_object_get(v, "tiers"), 0);
		assert_string_equal(vstr(t1, "approved_by"), "alice@example");
		assert_int_equal(geti(t1, "approved_at"), T0 + 20);
		assert_true(json_is_true(json_object_get(t1, "approved")));
		assert_string_equal(vstr(t1, "status"), "open");
	}
	json_decref(v);
	/* tier 1 done and soaked: tier 2 awaits its approval */
	commit_tier(&f, 0, T0 + 40);
	v = view_at(&f, T0 + 200);
	assert_string_equal(vstr(v, "mode"), "awaiting_approval");
	has(vstr(v, "mode_detail"), "approve --tier 2");
	json_decref(v);
	control(&f, CX_CONTROL_PAUSE, 0, T0 + 210, "ops@example");
	v = view_at(&f, T0 + 220);
	assert_string_equal(vstr(v, "state"), "paused");
	assert_string_equal(vstr(v, "mode"), "paused");
	has(vstr(v, "mode_detail"), "resume");
	json_decref(v);
	control(&f, CX_CONTROL_RESUME, 0, T0 + 230, "alice@example");
	control(&f, CX_CONTROL_APPROVE, 2, T0 + 240, "alice@example");
	report(&f, 1, "failed", T0 + 250, json_pack("{s:s}", "reason", "E_POLICY"));
	report(&f, 2, "failed", T0 + 260, NULL);
	v = view_at(&f, T0 + 270);
	assert_string_equal(vstr(v, "state"), "running");
	has(vstr(v, "mode_detail"), "tier 2 ('tier-2') failed");
	has(vstr(v, "mode_detail"), "on_failure (halt)");
	json_decref(v);
	control(&f, CX_CONTROL_HALT, 0, T0 + 280, "driver@example");
	v = view_at(&f, T0 + 290);
	assert_string_equal(vstr(v, "state"), "halted");
	assert_string_equal(vstr(v, "mode"), "halted");
	json_decref(v);
	control(&f, CX_CONTROL_ROLLBACK, 0, T0 + 300, "alice@example");
	v = view_at(&f, T0 + 310);
	assert_string_equal(vstr(v, "state"), "rolled_back");
	assert_string_equal(vstr(v, "mode"), "rolled_back");
	has(vstr(v, "mode_detail"), "undoes");
	assert_int_equal(json_array_size(json_object_get(v, "controls")), 6);
	json_decref(v);
	cx_fleet_free(&f);
}

TEST(view_completed)
{
	cx_fleet f;
	json_t *v;

	fleet_make(&f, 10, AUTO3, 3);
	for (size_t t = 0; t < 3; t++)
		commit_tier(&f, t, T0 + 100 * (int64_t)(t + 1));
	v = view_at(&f, T0 + 1000);
	assert_string_equal(vstr(v, "state"), "completed");
	assert_string_equal(vstr(v, "mode"), "completed");
	has(vstr(v, "mode_detail"), "every tier");
	assert_int_equal(geti(json_object_get(v, "counts"), "committed"), 10);
	for (size_t i = 0; i < 5; i++)
		assert_true(json_is_null(json_object_get(vhost(v, 2, i), "why_not")));
	json_decref(v);
	cx_fleet_free(&f);
}

TEST(view_why_not)
{
	static const tspec ts[] = { { 50, "auto", 60, 4, 600, 4 }, { 100, "auto", 60, 2, 900, 1 } };
	cx_fleet f;
	json_t *v;

	fleet_make(&f, 10, ts, 2); /* tier 1: web-001..005 */
	report(&f, 0, "failed", T0 + 10, json_pack("{s:s, s:s}", "validate", "failed", "reason", "E_VALIDATE"));
	report(&f, 1, "failed", T0 + 10, json_pack("{s:s, s:s, s:s}", "reason", "E_POLICY", "message", "argv not allowed", "validate", "none"));
	report(&f, 2, "running", 0, NULL);
	f.hosts[2].live = false;
	report(&f, 3, "committed", T0 + 10, NULL);
	report(&f, 4, "claimed", 0, NULL);
	f.hosts[5].registered = false;
	snprintf(f.hosts[6].report_error, sizeof(f.hosts[6].report_error), "bad signature here");
	v = view_at(&f, T0 + 20);
	has(why(v, 0, 0), "validate step failed");
	has(why(v, 0, 1), "E_POLICY: argv not allowed");
	if (strstr(why(v, 0, 1), "validate"))
		fail_msg("a refusal read as a failed validate: %s", why(v, 0, 1));
	assert_string_equal(vstr(vhost(v, 0, 2), "state"), "lost");
	has(why(v, 0, 2), "lost");
	has(why(v, 0, 2), "while running");
	assert_null(why(v, 0, 3));
	assert_null(why(v, 0, 4)); /* claimed and live: may still ship */
	assert_null(why(v, 1, 0)); /* waiting its turn (tier 2 not open) */
	has(why(v, 1, 1), "bad signature here");
	assert_string_equal(vstr(vhost(v, 1, 1), "report_error"), "bad signature here");
	{
		const json_t *c = json_object_get(v, "counts");
		assert_int_equal(geti(c, "hosts"), 10);
		assert_int_equal(geti(c, "failed"), 2);
		assert_int_equal(geti(c, "lost"), 1);
		assert_int_equal(geti(c, "committed"), 1);
		assert_int_equal(geti(c, "claimed"), 1);
		assert_int_equal(geti(c, "waiting"), 5);
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(json_object_get(v, "tiers"), 0), "failures")),
				 3);
	}
	json_decref(v);
	/* the rollout halted: halted hosts and the waiting ones say why */
	control(&f, CX_CONTROL_HALT, 0, T0 + 25, "ops@example");
	report(&f, 4, "halted", T0 + 26, json_pack("{s:s}", "message", "rollout halted"));
	v = view_at(&f, T0 + 30);
	has(why(v, 0, 4), "halted: rollout halted");
	has(why(v, 1, 0), "halted before its turn");
	json_decref(v);
	/* rolled back: committed hosts undone, waiting ones never ran */
	control(&f, CX_CONTROL_ROLLBACK, 0, T0 + 40, "alice@example");
	report(&f, 3, "rolled_back", T0 + 45, NULL);
	v = view_at(&f, T0 + 50);
	has(why(v, 0, 3), "undone by the rollout's rollback");
	has(why(v, 1, 0), "rolled back before its turn");
	assert_int_equal(geti(json_object_get(v, "counts"), "rolled_back"), 1);
	json_decref(v);
	cx_fleet_free(&f);
}

TEST(view_unregistered_in_open_tier)
{
	cx_fleet f;
	json_t *v;

	fleet_make(&f, 10, AUTO3, 3);
	f.hosts[0].registered = false;
	f.hosts[1].registered = false; /* tier 2: not open, no advice yet */
	v = view_at(&f, T0 + 1);
	has(why(v, 0, 0), "never registered");
	assert_null(why(v, 1, 0));
	assert_true(json_is_false(json_object_get(vhost(v, 0, 0), "registered")));
	json_decref(v);
	cx_fleet_free(&f);
}

/* Every member executor/rollout_report*.c reads, of the type it expects. */
TEST(view_members_the_report_reads)
{
	static const char *const top_s[] = { "rollout_id", "lease_id", "pool", "state", "mode",
					     "mode_detail", "on_failure", "on_deadline" };
	static const char *const top_i[] = { "revision", "read_at", "started_at" };
	static const char *const tier_i[] = { "n", "percent", "soak_s", "deadline_s", "max_parallel",
					      "max_failures", "failures" };
	static const char *const host_m[] = { "host", "state", "claimed_at", "started_at",
					      "finished_at", "run_id", "exit_code", "status", "reason",
					      "message", "workspace", "audit", "checks", "why_not" };
	cx_fleet f;
	json_t *v;
	const json_t *t, *h, *c;

	fleet_make(&f, 10, AUTO3, 3);
	control(&f, CX_CONTROL_PAUSE, 0, T0 + 5, "ops@example");
	report(&f, 0, "committed", T0 + 9,
	       json_pack("{s:I, s:s, s:i, s:{s:i, s:s}, s:{s:b}}", "started_at", (json_int_t)T0 + 2,
			 "run_id", "ab12", "exit_code", 0, "audit", "last_seq", 7, "head", "ff",
			 "checks", "signatures", 1));
	v = view_at(&f, T0 + 10);
	for (size_t i = 0; i < sizeof(top_s) / sizeof(top_s[0]); i++)
		vstr(v, top_s[i]);
	for (size_t i = 0; i < sizeof(top_i) / sizeof(top_i[0]); i++)
		assert_true(json_is_integer(json_object_get(v, top_i[i])));
	assert_string_equal(vstr(v, "rollout_id"), RID);
	assert_int_equal(geti(v, "read_at"), T0 + 10);
	assert_int_equal(geti(json_object_get(v, "window"), "not_after"),
			 T0 + 86400);
	assert_true(json_is_array(json_object_get(v, "command")));
	assert_true(json_is_array(json_object_get(v, "signers")));
	assert_true(json_is_object(json_object_get(v, "counts")));
	c = json_array_get(json_object_get(v, "controls"), 0);
	assert_string_equal(vstr(c, "action"), "pause");
	assert_string_equal(vstr(c, "by"), "ops@example");
	assert_string_equal(vstr(c, "role"), "human");
	assert_int_equal(geti(c, "seq"), 1);
	assert_int_equal(geti(c, "at"), T0 + 5);
	vstr(c, "keyid");
	assert_int_equal(json_array_size(json_object_get(v, "tiers")), 3);
	t = json_array_get(json_object_get(v, "tiers"), 0);
	for (size_t i = 0; i < sizeof(tier_i) / sizeof(tier_i[0]); i++)
		assert_true(json_is_integer(json_object_get(t, tier_i[i])));
	assert_string_equal(vstr(t, "name"), "tier-1");
	assert_string_equal(vstr(t, "gate"), "auto");
	assert_string_equal(vstr(t, "status"), "soaking");
	assert_int_equal(geti(t, "opened_at"), T0);
	assert_true(json_is_boolean(json_object_get(t, "approved")));
	h = vhost(v, 0, 0);
	for (size_t i = 0; i < sizeof(host_m) / sizeof(host_m[0]); i++)
		if (!json_object_get(h, host_m[i]))
			fail_msg("host lacks '%s'", host_m[i]);
	assert_string_equal(vstr(h, "host"), "web-001");
	assert_string_equal(vstr(h, "state"), "committed");
	assert_int_equal(geti(h, "started_at"), T0 + 2);
	assert_int_equal(geti(h, "finished_at"), T0 + 9);
	assert_string_equal(vstr(h, "run_id"), "ab12");
	assert_int_equal(geti(json_object_get(h, "audit"), "last_seq"), 7);
	assert_true(json_is_true(json_object_get(h, "report_signed")));
	assert_int_equal(geti(h, "report_seq"), 3);
	/* a host without a report: nulls, not missing members */
	h = vhost(v, 1, 0);
	assert_true(json_is_null(json_object_get(h, "claimed_at")));
	assert_true(json_is_null(json_object_get(h, "run_id")));
	assert_true(json_is_false(json_object_get(h, "report_signed")));
	json_decref(v);
	cx_fleet_free(&f);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(report_body_good), T(report_body_required), T(report_body_types_and_unknown_members),
		T(report_body_states_a_host_may_not_report),
		T(report_body_bounds), T(report_body_oversize), T(report_verify),
		T(report_verify_lease_is_not_a_report), T(eval_auto_tier_opens_at_once), T(eval_tier1_opens_at_start_not_signing),
		T(eval_manual_tier_waits_for_approval), T(eval_manual_opens_at_later_approval),
		T(eval_soak_then_next_tier), T(eval_failures_fail_the_tier),
		T(eval_lost_host_is_a_failure), T(eval_halted_hosts_count_while_running),
		T(eval_deadline), T(eval_completed_when_every_tier_done),
		T(eval_slots_counted_per_tier), T(view_modes), T(view_completed), T(view_why_not),
		T(view_unregistered_in_open_tier), T(view_members_the_report_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
