/* Rollout documents: the strict body parser, the tier arithmetic and the
 * verifier (order and reasons: calyx/rollout.h; format: docs/formats.md
 * "Rollout body").
 *
 * Invariants:
 *  - the body is parsed only after both signatures verified, and from
 *    exactly the verified bytes (cx_rollout_verify_signed);
 *  - a host appears in one tier at most, and the tiers' cumulative host
 *    counts follow their percents exactly (ceil), the last tier ending at
 *    100 % of the listed hosts: what the signers read in the plan is the
 *    whole rollout, with no host left to a later decision;
 *  - the rollout is bound to the exact bytes of one lease file (SHA-256),
 *    whose own two signatures are checked with the same keyring, and lies
 *    within that lease's pool, count and validity window.
 * Trust: pure, on hostile input (a rollout any host fetches from etcd,
 * which orders documents but never authorizes them). Signing is in
 * sign.c; the signing tool is calyx-rollout. */
#include "calyx/rollout.h"

#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"

const cx_doc_type cx_doc_rollout = {
	.payload_type = CX_ROLLOUT_PAYLOAD_TYPE,
	.what = "rollout",
	.max_bytes = CX_ROLLOUT_MAX_BYTES,
	.body_max_bytes = CX_ROLLOUT_BODY_MAX_BYTES,
	.nsig = 2,
	.sig_rule = "one human, one agent",
};

const char *cx_gate_name(cx_gate g)
{
	return g == CX_GATE_MANUAL ? "manual" : g == CX_GATE_AUTO ? "auto" : "?";
}

const char *cx_on_failure_name(cx_on_failure a)
{
	return a == CX_ON_FAILURE_HALT ? "halt" : a == CX_ON_FAILURE_ROLLBACK ? "rollback" : "?";
}

const char *cx_on_deadline_name(cx_on_deadline a)
{
	return a == CX_ON_DEADLINE_HALT ? "halt" : a == CX_ON_DEADLINE_PAUSE ? "pause" : "?";
}

void cx_rollout_free(cx_rollout *ro)
{
	free(ro->pool);
	for (size_t i = 0; i < CX_ROLLOUT_TIERS_MAX; i++) {
		free(ro->tiers[i].name);
		cx_strv_free(&ro->tiers[i].hosts);
	}
	for (size_t i = 0; i < CX_LEASE_SIGS; i++)
		free(ro->signer[i].principal);
	memset(ro, 0, sizeof(*ro));
}

size_t cx_rollout_cumulative(int64_t percent, size_t total)
{
	CX_CHECK(percent >= 0 && percent <= 100 && total <= CX_ROLLOUT_HOSTS_MAX);
	return ((size_t)percent * total + 99) / 100;
}

int cx_rollout_host_tier(const cx_rollout *ro, const char *host)
{
	for (size_t t = 0; t < ro->ntiers; t++)
		if (cx_strv_contains(&ro->tiers[t].hosts, host))
			return (int)t;
	return -1;
}

int cx_rollout_read(const char *path, uint8_t **ret_buf, size_t *ret_len, cx_error *err)
{
	return cx_read_file(path, "rollout", CX_ROLLOUT_MAX_BYTES, 0, 0, ret_buf, ret_len, err);
}

/* ---- body ------------------------------------------------------------- */

static int get_hex(const json_t *o, const char *key, size_t n, char *out, cx_error *err)
{
	const char *s = NULL;
	int r = cx_json_str(o, key, "rollout", CX_E_ROLLOUT, 2 * n, false, &s, err);
	if (r < 0)
		return r;
	if (!cx_is_lower_hex(s, n))
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "rollout.%s is not %zu lowercase hex", key, n);
	memcpy(out, s, n + 1);
	return 0;
}

static int get_time(const json_t *o, const char *key, int64_t *out, cx_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return cx_err(err, CX_E_TIME, EINVAL, "rollout.%s must be an integer of Unix seconds", key);
	if (json_integer_value(v) < 0 || json_integer_value(v) > CX_LEASE_TIME_MAX)
		return cx_err(err, CX_E_TIME, ERANGE, "rollout.%s = %lld is out of range 0..%lld", key,
			      (long long)json_integer_value(v), (long long)CX_LEASE_TIME_MAX);
	*out = json_integer_value(v);
	return 0;
}

/* A string member that must be one of two words; *out = 1 or 2. */
static int get_choice(const json_t *o, const char *key, const char *what, const char *one,
		      const char *two, int *out, cx_error *err)
{
	const char *s = NULL;
	int r = cx_json_str(o, key, what, CX_E_ROLLOUT, 16, false, &s, err);
	if (r < 0)
		return r;
	if (strcmp(s, one) == 0)
		*out = 1;
	else if (strcmp(s, two) == 0)
		*out = 2;
	else
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "%s.%s '%.16s' is neither '%s' nor '%s'", what,
			      key, s, one, two);
	return 0;
}

static int parse_tier(const json_t *o, const char *what, size_t room, cx_rollout_tier *t,
		      cx_error *err)
{
	static const char *const keys[] = { "name", "percent", "hosts", "gate", "soak_s",
					    "max_parallel", "deadline_s", "max_failures", NULL };
	const json_t *hosts, *v;
	const char *s = NULL;
	int gate = 0;
	size_t i;
	int r;

	if (!json_is_object(o))
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "%s must be an object", what);
	r = cx_json_keys(o, what, CX_E_ROLLOUT, keys, NULL, err);
	if (r == 0)
		r = cx_json_str(o, "name", what, CX_E_ROLLOUT, CX_ID_MAX, false, &s, err);
	if (r < 0)
		return r;
	CX_CHECK(s); /* a required string member was found */
	if (!cx_id_ok(s))
		return cx_err(err, CX_E_ROLLOUT, EINVAL,
			      "%s.name '%.64s' has characters outside [A-Za-z0-9._:@-] or does not start alphanumeric",
			      what, s);
	t->name = cx_strdup(s);
	if ((r = cx_json_int(o, "percent", what, CX_E_ROLLOUT, 1, 100, false, &t->percent, err)) < 0 ||
	    (r = get_choice(o, "gate", what, "manual", "auto", &gate, err)) < 0 ||
	    (r = cx_json_int(o, "soak_s", what, CX_E_ROLLOUT, 0, CX_ROLLOUT_SECONDS_MAX, false,
			     &t->soak_s, err)) < 0 ||
	    (r = cx_json_int(o, "deadline_s", what, CX_E_ROLLOUT, 1, CX_ROLLOUT_SECONDS_MAX, false,
			     &t->deadline_s, err)) < 0 ||
	    (r = cx_json_int(o, "max_parallel", what, CX_E_ROLLOUT, 1, CX_ROLLOUT_HOSTS_MAX, false,
			     &t->max_parallel, err)) < 0 ||
	    (r = cx_json_int(o, "max_failures", what, CX_E_ROLLOUT, 0, CX_ROLLOUT_HOSTS_MAX - 1, false,
			     &t->max_failures, err)) < 0)
		return r;
	t->gate = (cx_gate)gate;
	/* The deadline runs from the tier's opening until it has soaked: a
	 * soak as long as the deadline could never let an auto gate open. */
	if (t->soak_s >= t->deadline_s)
		return cx_err(err, CX_E_ROLLOUT, EINVAL,
			      "%s.soak_s %lld is not below its deadline_s %lld (the deadline covers the runs and the soak)",
			      what, (long long)t->soak_s, (long long)t->deadline_s);

	hosts = json_object_get(o, "hosts");
	if (!json_is_array(hosts) || json_array_size(hosts) == 0)
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "%s.hosts must be a non-empty array of host ids",
			      what);
	if (json_array_size(hosts) > room)
		return cx_err(err, CX_E_ROLLOUT, E2BIG, "rollout lists more than %d hosts",
			      CX_ROLLOUT_HOSTS_MAX);
	t->hosts.v = cx_calloc(json_array_size(hosts), sizeof(*t->hosts.v));
	json_array_foreach(hosts, i, v) {
		char hw[80];

		snprintf(hw, sizeof(hw), "%s.hosts[%zu]", what, i);
		r = cx_json_str_value(v, hw, CX_E_ROLLOUT, CX_ID_MAX, &s, err);
		if (r < 0)
			return r;
		if (!cx_id_ok(s))
			return cx_err(err, CX_E_ROLLOUT, EINVAL,
				      "%s '%.64s' is not a host id (1-%d of [A-Za-z0-9._:@-], starting alphanumeric)",
				      hw, s, CX_ID_MAX);
		t->hosts.v[t->hosts.n++] = cx_strdup(s);
	}
	/* one failure more than max_failures triggers on_failure: a budget of
	 * the whole tier would let every host fail unnoticed */
	if ((size_t)t->max_failures >= t->hosts.n)
		return cx_err(err, CX_E_ROLLOUT, EINVAL,
			      "%s.max_failures %lld is not below its %zu host(s): on_failure could never fire",
			      what, (long long)t->max_failures, t->hosts.n);
	return 0;
}

typedef struct host_ref {
	const char *host;
	size_t tier;
} host_ref;

static int host_ref_cmp(const void *a, const void *b)
{
	return strcmp(((const host_ref *)a)->host, ((const host_ref *)b)->host);
}

/* Each host in one tier only: sort (host, tier) pairs, compare neighbours. */
static int check_unique_hosts(const cx_rollout *ro, cx_error *err)
{
	_cleanup_free_ host_ref *refs = cx_calloc(ro->nhosts, sizeof(*refs));
	size_t n = 0;

	for (size_t t = 0; t < ro->ntiers; t++)
		for (size_t i = 0; i < ro->tiers[t].hosts.n; i++)
			refs[n++] = (host_ref){ ro->tiers[t].hosts.v[i], t };
	CX_CHECK(n == ro->nhosts);
	qsort(refs, n, sizeof(*refs), host_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(refs[i - 1].host, refs[i].host) == 0) {
			size_t a = refs[i - 1].tier < refs[i].tier ? refs[i - 1].tier : refs[i].tier;
			size_t b = refs[i - 1].tier < refs[i].tier ? refs[i].tier : refs[i - 1].tier;
			if (a == b)
				return cx_err(err, CX_E_ROLLOUT_HOST, EINVAL,
					      "host '%s' is listed twice in tier '%s' (a host runs a rollout once)",
					      refs[i].host, ro->tiers[a].name);
			return cx_err(err, CX_E_ROLLOUT_HOST, EINVAL,
				      "host '%s' is listed in tier '%s' and in tier '%s' (a host runs a rollout once)",
				      refs[i].host, ro->tiers[a].name, ro->tiers[b].name);
		}
	return 0;
}

/* Percents rise strictly to exactly 100, and tiers 1..k hold exactly
 * ceil(percent_k * total / 100) hosts. (With every tier holding a host,
 * exact counts already imply rising percents: the percent rules are
 * checked first for their plainer message.) */
static int check_tiers(const cx_rollout *ro, cx_error *err)
{
	const cx_rollout_tier *last = &ro->tiers[ro->ntiers - 1];
	size_t cum = 0;

	for (size_t k = 0; k < ro->ntiers; k++) {
		const cx_rollout_tier *t = &ro->tiers[k];

		CX_CHECK(t->name); /* every parsed tier has its name */
		for (size_t p = 0; p < k; p++)
			if (strcmp(ro->tiers[p].name, t->name) == 0)
				return cx_err(err, CX_E_ROLLOUT, EINVAL,
					      "tiers %zu and %zu are both named '%s'", p + 1, k + 1, t->name);
		if (k > 0 && t->percent <= ro->tiers[k - 1].percent)
			return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
				      "tier %zu ('%s') is at %lld %%, not above tier %zu's %lld %% (percents are cumulative and rise strictly)",
				      k + 1, t->name, (long long)t->percent, k,
				      (long long)ro->tiers[k - 1].percent);
	}
	if (last->percent != 100)
		return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
			      "the last tier ('%s') is at %lld %%; the last tier must reach 100 %% of the listed hosts",
			      last->name, (long long)last->percent);
	for (size_t k = 0; k < ro->ntiers; k++) {
		const cx_rollout_tier *t = &ro->tiers[k];
		size_t want = cx_rollout_cumulative(t->percent, ro->nhosts);

		cum += t->hosts.n;
		if (cum != want)
			return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
				      "tiers 1-%zu hold %zu of the %zu hosts, tier %zu's %lld %% needs exactly %zu (ceil(%lld x %zu / 100)); move hosts between tiers or change the percents",
				      k + 1, cum, ro->nhosts, k + 1, (long long)t->percent, want,
				      (long long)t->percent, ro->nhosts);
	}
	return 0;
}

int cx_rollout_body_parse(const uint8_t *buf, size_t len, cx_rollout *ret, cx_error *err)
{
	static const char *const req[] = { "v", "rollout_id", "lease_id", "lease_sha256", "pool",
					   "tiers", "on_failure", "on_deadline", "issued_at",
					   "not_before", "not_after", NULL };
	_cleanup_json_ json_t *j = NULL;
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	const json_t *tiers, *t;
	const char *s = NULL;
	int64_t ver;
	int a = 0, d = 0;
	size_t i;
	int r;

	if (len > CX_ROLLOUT_BODY_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "rollout body is above %u bytes",
			      CX_ROLLOUT_BODY_MAX_BYTES);
	r = cx_json_parse_object(buf, len, "rollout body", &j, err);
	if (r == 0)
		r = cx_json_keys(j, "rollout", CX_E_ROLLOUT, req, NULL, err);
	if (r == 0)
		r = cx_json_int(j, "v", "rollout", CX_E_ROLLOUT, 1, 1, false, &ver, err);
	if (r == 0)
		r = get_hex(j, "rollout_id", 32, ro.rollout_id, err);
	if (r == 0)
		r = get_hex(j, "lease_id", 32, ro.lease_id, err);
	if (r == 0)
		r = get_hex(j, "lease_sha256", 64, ro.lease_sha256, err);
	if (r == 0)
		r = cx_json_str(j, "pool", "rollout", CX_E_ROLLOUT, 64, false, &s, err);
	if (r < 0)
		return r;
	CX_CHECK(s);
	if (!cx_pool_name_ok(s))
		return cx_err(err, CX_E_ROLLOUT, EINVAL,
			      "rollout.pool '%.64s' is not a pool name (1-64 of [A-Za-z0-9._-], starting alphanumeric)",
			      s);
	ro.pool = cx_strdup(s);
	if ((r = get_choice(j, "on_failure", "rollout", "halt", "rollback", &a, err)) < 0 ||
	    (r = get_choice(j, "on_deadline", "rollout", "halt", "pause", &d, err)) < 0)
		return r;
	ro.on_failure = (cx_on_failure)a;
	ro.on_deadline = (cx_on_deadline)d;
	if ((r = get_time(j, "issued_at", &ro.issued_at, err)) < 0 ||
	    (r = get_time(j, "not_before", &ro.not_before, err)) < 0 ||
	    (r = get_time(j, "not_after", &ro.not_after, err)) < 0)
		return r;
	if (ro.not_after <= ro.not_before)
		return cx_err(err, CX_E_TIME, EINVAL, "rollout.not_after is not after rollout.not_before");
	if (ro.issued_at >= ro.not_after)
		return cx_err(err, CX_E_TIME, EINVAL, "rollout.issued_at is not before rollout.not_after");

	tiers = json_object_get(j, "tiers");
	if (!json_is_array(tiers) || json_array_size(tiers) == 0 ||
	    json_array_size(tiers) > CX_ROLLOUT_TIERS_MAX)
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "rollout.tiers must be an array of 1-%d tiers",
			      CX_ROLLOUT_TIERS_MAX);
	json_array_foreach(tiers, i, t) {
		char what[48];

		snprintf(what, sizeof(what), "rollout.tiers[%zu]", i);
		r = parse_tier(t, what, CX_ROLLOUT_HOSTS_MAX - ro.nhosts, &ro.tiers[i], err);
		ro.ntiers = i + 1; /* freed with the rollout even when half parsed */
		if (r < 0)
			return r;
		ro.nhosts += ro.tiers[i].hosts.n;
	}
	if ((r = check_unique_hosts(&ro, err)) < 0 || (r = check_tiers(&ro, err)) < 0)
		return r;
	*ret = TAKE_STRUCT(ro);
	return 0;
}

/* ---- verification ----------------------------------------------------- */

int cx_rollout_verify_signed(const cx_keyring *kr, const uint8_t *buf, size_t len,
			     cx_rollout *ret, cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	const cx_key *keys[CX_LEASE_SIGS] = { 0 };
	int r;

	r = cx_envelope_parse_as(&cx_doc_rollout, buf, len, cx_doc_rollout.nsig,
				 cx_doc_rollout.nsig, &e, err);
	/* Signatures before the body: the parser never sees bytes no
	 * trusted key vouched for. */
	if (r == 0)
		r = cx_envelope_check_sigs(&cx_doc_rollout, kr, &e, keys, err);
	if (r == 0)
		r = cx_signers_two_keys(&cx_doc_rollout, keys, e.nsig, err);
	if (r == 0)
		r = cx_rollout_body_parse(e.payload, e.payload_len, &ro, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < e.nsig; i++) {
		CX_CHECK(keys[i]); /* cx_envelope_check_sigs filled one per signature */
		memcpy(ro.signer[i].keyid, keys[i]->keyid, 65);
		ro.signer[i].role = keys[i]->role;
		ro.signer[i].principal = cx_strdup(keys[i]->principal);
	}
	ro.nsigner = e.nsig;
	*ret = TAKE_STRUCT(ro);
	return 0;
}

int cx_rollout_check_lease(const cx_rollout *ro, const cx_lease *l, cx_error *err)
{
	const char *pool = cx_lease_pool(l);

	if (strcmp(ro->lease_id, l->lease_id) != 0)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "rollout is for lease %s, this lease is %s (give the lease it was planned for)",
			      ro->lease_id, l->lease_id);
	if (!pool)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "lease %s is addressed to '%s', not to a pool (a rollout runs a lease whose audience is pool:NAME)",
			      l->lease_id, l->audience ? l->audience : "any host");
	if (strcmp(pool, ro->pool) != 0)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "rollout is for pool '%s', its lease for pool '%s' (plan it for the lease's pool)",
			      ro->pool, pool);
	if (ro->nhosts > (size_t)l->count)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "rollout lists %zu hosts, its lease runs on at most %lld (issue the lease with \"count\": %zu)",
			      ro->nhosts, (long long)l->count, ro->nhosts);
	if (ro->not_before < l->not_before || ro->not_after > l->not_after)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "rollout is valid %lld..%lld, outside its lease's window %lld..%lld (plan it within the lease's window)",
			      (long long)ro->not_before, (long long)ro->not_after,
			      (long long)l->not_before, (long long)l->not_after);
	return 0;
}

static int check_window(const cx_rollout *ro, int64_t now, int64_t skew, cx_error *err)
{
	if (ro->issued_at > now + skew)
		return cx_err(err, CX_E_NOT_YET_VALID, EPERM,
			      "rollout was issued %lld s in the future (check the planner's clock)",
			      (long long)(ro->issued_at - now));
	if (now + skew < ro->not_before)
		return cx_err(err, CX_E_NOT_YET_VALID, EPERM,
			      "rollout is not valid for another %lld s (wait, or plan a new rollout)",
			      (long long)(ro->not_before - now));
	if (now - skew >= ro->not_after)
		return cx_err(err, CX_E_EXPIRED, EPERM,
			      "rollout expired %lld s ago (plan and sign a new rollout)",
			      (long long)(now - ro->not_after));
	return 0;
}

/* The lease the rollout names: its exact bytes, its own two signatures
 * (the same keyring and rule as calyx-exec's), its body. The policy
 * binding and the lease's scope are each host's calyx-exec's to check. */
static int check_lease_file(const cx_rollout_verify_input *in, const cx_rollout *ro,
			    cx_lease *ret, cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	const cx_key *keys[CX_LEASE_SIGS] = { 0 };
	char hex[65];
	int r;

	cx_sha256_hex(in->lease_buf, in->lease_len, hex);
	if (strcmp(hex, ro->lease_sha256) != 0)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "rollout is for the lease file with sha256 %.16s…, this lease file's is %.16s… (give the lease it was planned for, or plan again)",
			      ro->lease_sha256, hex);
	r = cx_envelope_parse(in->lease_buf, in->lease_len, CX_LEASE_SIGS, CX_LEASE_SIGS, &e, err);
	if (r == 0)
		r = cx_envelope_check_sigs(&cx_doc_lease, in->keyring, &e, keys, err);
	if (r == 0)
		r = cx_signers_two_keys(&cx_doc_lease, keys, e.nsig, err);
	if (r == 0)
		r = cx_lease_body_parse(e.payload, e.payload_len, &l, err);
	if (r < 0) {
		cx_err_prefix(err, "the rollout's lease");
		return r;
	}
	for (size_t i = 0; i < e.nsig; i++) {
		CX_CHECK(keys[i]);
		memcpy(l.signer[i].keyid, keys[i]->keyid, 65);
		l.signer[i].role = keys[i]->role;
		l.signer[i].principal = cx_strdup(keys[i]->principal);
	}
	l.nsigner = e.nsig;
	*ret = TAKE_STRUCT(l);
	return 0;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_pool_members(const cx_rollout_verify_input *in, const cx_rollout *ro,
			      cx_error *err)
{
	_cleanup_free_ char **members = NULL;

	if (!in->pool_hosts)
		return 0;
	members = cx_calloc(in->n_pool_hosts, sizeof(*members));
	if (in->n_pool_hosts)
		memcpy(members, in->pool_hosts, in->n_pool_hosts * sizeof(*members));
	qsort(members, in->n_pool_hosts, sizeof(*members), strp_cmp);
	for (size_t t = 0; t < ro->ntiers; t++)
		for (size_t i = 0; i < ro->tiers[t].hosts.n; i++) {
			const char *h = ro->tiers[t].hosts.v[i];
			if (!bsearch(&h, members, in->n_pool_hosts, sizeof(*members), strp_cmp))
				return cx_err(err, CX_E_ROLLOUT_HOST, EPERM,
					      "host '%s' (tier '%s') is not a member of pool '%s' (register it in the pool, or plan without it)",
					      h, ro->tiers[t].name, ro->pool);
		}
	return 0;
}

int cx_rollout_verify(const cx_rollout_verify_input *in, const uint8_t *buf, size_t len,
		      cx_rollout *ret, cx_lease *ret_lease, cx_error *err)
{
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	int64_t skew;
	int r;

	CX_CHECK(in && in->keyring && in->lease_buf);
	skew = in->clock_skew_s > 0 ? in->clock_skew_s : CX_ROLLOUT_SKEW_S;
	r = cx_rollout_verify_signed(in->keyring, buf, len, &ro, err);
	if (r == 0)
		r = check_window(&ro, in->now, skew, err);
	if (r == 0)
		r = check_lease_file(in, &ro, &l, err);
	if (r == 0)
		r = cx_rollout_check_lease(&ro, &l, err);
	if (r == 0)
		r = check_pool_members(in, &ro, err);
	if (r < 0)
		return r;
	*ret = TAKE_STRUCT(ro);
	if (ret_lease)
		*ret_lease = TAKE_STRUCT(l);
	return 0;
}
