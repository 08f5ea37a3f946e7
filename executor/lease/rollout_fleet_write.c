/* The agents' and the driver's writes to etcd (calyx/rollout_fleet.h):
 * registration, liveness, the slot claim, reports, the driver lock. Each
 * is one transaction.
 * Trust: runs as root on a host; what etcd answers is parsed with bounds. */
#include "calyx/rollout_fleet.h"

#include <string.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"

/* P<dir>/<a> or P<dir>/<a>/<b> */
static char *key_of(cx_etcd *e, const char *dir, const char *a, const char *b)
{
	char *k;
	CX_CHECK(asprintf(&k, "%s%s/%s%s%s", cx_etcd_prefix(e), dir, a, b ? "/" : "", b ? b : "") > 0);
	return k;
}

static int txn(cx_etcd *e, int timeout_ms, json_t *req, json_t **ret_rep, const char *what,
	       cx_error *err)
{
	CX_CHECK(req);
	cx_etcd_outcome o = cx_etcd_call(e, "/v3/kv/txn", req, cx_etcd_deadline(timeout_ms), ret_rep, err);
	json_decref(req);
	if (o == CX_ETCD_ANSWERED)
		return 0;
	cx_err_prefix(err, "%s", what);
	return o == CX_ETCD_REFUSED ? -EPROTO : -ETIMEDOUT;
}

int cx_fleet_register(cx_etcd *e, int timeout_ms, const char *host, const uint8_t pk[32],
		      int64_t now, cx_error *err)
{
	_cleanup_free_ char *k = key_of(e, "agents", host, NULL);
	_cleanup_json_ json_t *rep = NULL, *val = NULL;
	_cleanup_free_ char *s = NULL;
	char hex[65];
	int r;

	cx_hex_encode(pk, 32, hex);
	val = json_pack("{s:i, s:s, s:s, s:I}", "v", 1, "host", host, "pub", hex, "registered_at",
			(json_int_t)now);
	s = cx_json_dump(val);
	r = txn(e, timeout_ms,
		json_pack("{s:[o], s:[o], s:[o]}", "compare", cx_etcd_cmp(k, "CREATE", 0), "success",
			  cx_etcd_op_put(k, s, strlen(s), NULL), "failure",
			  cx_etcd_op_range(k, false, false)),
		&rep, "registering the host", err);
	if (r < 0 || json_is_true(json_object_get(rep, "succeeded")))
		return r;
	{
		const json_t *resp = json_array_get(json_object_get(rep, "responses"), 0);
		const json_t *kv = json_array_get(json_object_get(json_object_get(resp, "response_range"), "kvs"), 0);
		_cleanup_free_ char *v = cx_etcd_unb64(json_string_value(json_object_get(kv, "value")), 1024, NULL);
		_cleanup_json_ json_t *j = v ? cx_json_loadb(v, strlen(v), JSON_REJECT_DUPLICATES, NULL) : NULL;
		const char *pub = json_string_value(json_object_get(j, "pub"));
		if (pub && strcmp(pub, hex) == 0)
			return 0;
		return cx_err(err, CX_E_CONFIG, EEXIST,
			      "host id '%s' is registered in etcd with another key (%.16s…, this host's is %.16s…): two hosts share an id, or the host key changed; if it did, an operator deletes %s with etcdctl",
			      host, pub ? pub : "?", hex, k);
	}
}

int cx_fleet_live(cx_etcd *e, int timeout_ms, const char *host, const char *lease_id,
		  int64_t now, cx_error *err)
{
	_cleanup_free_ char *k = key_of(e, "live", host, NULL);
	_cleanup_json_ json_t *rep = NULL;
	char v[64];

	snprintf(v, sizeof(v), "{\"since\":%lld}", (long long)now);
	return txn(e, timeout_ms,
		   json_pack("{s:[], s:[o]}", "compare", "success", cx_etcd_op_put(k, v, strlen(v), lease_id)),
		   &rep, "putting the host's liveness key", err);
}

char *cx_host_report_sign(const json_t *body, const uint8_t seed[32], cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope env = { 0 };
	char *s = cx_json_dump_pretty(body);

	env.payload_type = cx_strdup(CX_HOST_PAYLOAD_TYPE);
	env.payload = (uint8_t *)s;
	env.payload_len = strlen(s);
	if (cx_envelope_sign_as(&cx_doc_host_report, &env, seed, err) < 0)
		return NULL;
	return cx_envelope_dump(&env);
}

int cx_fleet_ledger_rev(cx_etcd *e, int timeout_ms, const char *lease_id, const char *host,
			int64_t *ret_mod_rev, bool *ret_holds, cx_error *err)
{
	_cleanup_free_ char *k = key_of(e, "ledger", lease_id, NULL);
	_cleanup_json_ json_t *rep = NULL;
	int r = txn(e, timeout_ms,
		    json_pack("{s:[], s:[o]}", "compare", "success", cx_etcd_op_range(k, false, false)),
		    &rep, "reading the pool ledger", err);
	const json_t *resp, *kv;

	if (r < 0)
		return r;
	resp = json_array_get(json_object_get(rep, "responses"), 0);
	kv = json_array_get(json_object_get(json_object_get(resp, "response_range"), "kvs"), 0);
	*ret_mod_rev = 0;
	*ret_holds = false;
	if (!kv)
		return 0;
	if (cx_etcd_i64(json_object_get(kv, "mod_revision"), ret_mod_rev) < 0)
		return cx_err(err, CX_E_LEDGER, EPROTO, "etcd sent a malformed ledger entry for %s", k);
	{
		/* the holders list (executor/lease/ledger_etcd.c): {"holders": [{"host_id": …}, …]} */
		_cleanup_free_ char *v = cx_etcd_unb64(json_string_value(json_object_get(kv, "value")),
						       256 * 1024, NULL);
		_cleanup_json_ json_t *j = v ? cx_json_loadb(v, strlen(v), JSON_REJECT_DUPLICATES, NULL) : NULL;
		const json_t *hs = json_object_get(j, "holders"), *h;
		size_t i;
		json_array_foreach(hs, i, h) {
			const char *hn = json_string_value(json_object_get(h, "host_id"));
			if (hn && strcmp(hn, host) == 0)
				*ret_holds = true;
		}
	}
	return 0;
}

int cx_fleet_claim(cx_etcd *e, int timeout_ms, const cx_fleet *f, const cx_fleet_host *h,
		   const char *live_lease, int64_t ledger_mod_rev, const char *doc,
		   char *ret_slot, size_t slot_size, cx_error *err)
{
	const cx_rollout *ro = &f->s.ro;
	const cx_rollout_tier *rt = &ro->tiers[h->tier];
	_cleanup_free_ char *kc = key_of(e, "rollouts", ro->rollout_id, "control");
	_cleanup_free_ char *kr = key_of(e, "rollouts", ro->rollout_id, "rollout");
	_cleanup_free_ char *kh = NULL, *ks = NULL, *kl = key_of(e, "ledger", ro->lease_id, NULL);
	_cleanup_json_ json_t *rep = NULL;
	char leaf[64];
	int64_t slot = -1;
	int r;

	/* the first slot of the tier nobody holds in what f read; the
	 * transaction checks it is still free */
	for (int64_t i = 0; i < rt->max_parallel && slot < 0; i++) {
		snprintf(leaf, sizeof(leaf), "%zu/%lld", h->tier + 1, (long long)i);
		if (!json_object_get(f->slots, leaf))
			slot = i;
	}
	if (slot < 0)
		return 0;
	snprintf(ret_slot, slot_size, "%s", leaf);
	CX_CHECK(asprintf(&kh, "%srollouts/%s/hosts/%s", cx_etcd_prefix(e), ro->rollout_id, h->host) > 0);
	CX_CHECK(asprintf(&ks, "%srollouts/%s/slots/%s", cx_etcd_prefix(e), ro->rollout_id, leaf) > 0);
	r = txn(e, timeout_ms,
		json_pack("{s:[o, o, o, o, o], s:[o, o]}", "compare",
			  cx_etcd_cmp(kr, "MOD", f->s.rollout_mod_rev),
			  cx_etcd_cmp(kc, "MOD", f->s.control_mod_rev), cx_etcd_cmp(kh, "CREATE", 0),
			  cx_etcd_cmp(ks, "CREATE", 0), cx_etcd_cmp(kl, "MOD", ledger_mod_rev),
			  "success", cx_etcd_op_put(kh, doc, strlen(doc), NULL),
			  cx_etcd_op_put(ks, h->host, strlen(h->host), live_lease)),
		&rep, "claiming a slot", err);
	if (r < 0)
		return r;
	return json_is_true(json_object_get(rep, "succeeded")) ? 1 : 0;
}

int cx_fleet_report(cx_etcd *e, int timeout_ms, const char *rollout_id, const char *host,
		    const char *doc, const char *slot, cx_error *err)
{
	_cleanup_free_ char *kh = NULL, *ks = NULL;
	_cleanup_json_ json_t *rep = NULL, *ops = json_array();

	CX_CHECK(asprintf(&kh, "%srollouts/%s/hosts/%s", cx_etcd_prefix(e), rollout_id, host) > 0);
	json_array_append_new(ops, cx_etcd_op_put(kh, doc, strlen(doc), NULL));
	if (slot) {
		CX_CHECK(asprintf(&ks, "%srollouts/%s/slots/%s", cx_etcd_prefix(e), rollout_id, slot) > 0);
		json_array_append_new(ops, cx_etcd_op_del(ks));
	}
	return txn(e, timeout_ms, json_pack("{s:[], s:O}", "compare", "success", ops), &rep,
		   "publishing the host's report", err);
}

int cx_fleet_driver_lock(cx_etcd *e, int timeout_ms, const char *rollout_id, const char *holder,
			 const char *lease_id, cx_error *err)
{
	_cleanup_free_ char *k = key_of(e, "rollouts", rollout_id, "driver");
	_cleanup_json_ json_t *rep = NULL, *val = json_pack("{s:s, s:s}", "holder", holder, "lease", lease_id);
	_cleanup_free_ char *s = cx_json_dump(val);
	int r = txn(e, timeout_ms,
		    json_pack("{s:[o], s:[o], s:[o]}", "compare", cx_etcd_cmp(k, "CREATE", 0), "success",
			      cx_etcd_op_put(k, s, strlen(s), lease_id), "failure",
			      cx_etcd_op_range(k, false, false)),
		    &rep, "taking the driver's lock", err);
	if (r < 0)
		return r;
	if (json_is_true(json_object_get(rep, "succeeded")))
		return 1;
	/* held: by this driver (same etcd lease) after a restart, or another */
	const json_t *resp = json_array_get(json_object_get(rep, "responses"), 0);
	const json_t *kv = json_array_get(json_object_get(json_object_get(resp, "response_range"), "kvs"), 0);
	_cleanup_free_ char *v = cx_etcd_unb64(json_string_value(json_object_get(kv, "value")), 1024, NULL);
	_cleanup_json_ json_t *j = v ? cx_json_loadb(v, strlen(v), JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *l = json_string_value(json_object_get(j, "lease"));
	return l && strcmp(l, lease_id) == 0 ? 1 : 0;
}
