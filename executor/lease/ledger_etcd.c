/* Replay ledger, pool backend: etcd decides which hosts run a pool lease
 * (calyx/ledger.h, docs/formats.md "The pool ledger").
 *
 * One key per lease, <prefix>ledger/<lease_id>, whose value lists the
 * hosts that hold it:
 *   {"lease_id": "…", "lease_sha256": "…", "pool": "web", "count": 3,
 *    "holders": [{"host_id": "web-1", "nonce": "…", "claimed_at": 1795334400}, …]}
 * A claim is a loop of linearizable etcd transactions (never a
 * serializable read), each one decision:
 *   - key absent: compare create_revision == 0, put the value with this
 *     host as the only holder;
 *   - key present with fewer holders than count: compare mod_revision ==
 *     the revision read, put the value with this host appended;
 *   - either compare failing returns the key (the failure branch's range,
 *     in the same transaction), and the loop decides again on what it
 *     holds now.
 * The holders list is the count and the per-host record in one key, so
 * one compare covers both: no two hosts can both take the last place, and
 * no host can hold two. A host found in the list with this claim's nonce
 * is this claim (a lost answer that landed: resolved, at most once); with
 * another nonce, it is an earlier claim of this host: E_REPLAY.
 *
 * Fail closed: every call is bounded by the claim's deadline (timeout_ms);
 * no decision within it is E_LEDGER_UNAVAILABLE (exit 125, nothing run),
 * and a write whose answer was lost and never resolved is also reported as
 * ambiguous (the caller audits it; the lease may be burnt, never run twice).
 * The key is attached to an etcd lease that outlives the calyx lease (its
 * validity + the clock skew + an hour), so the ledger cleans itself; one
 * granted etcd lease serves this host's claims for a day (grant_cached).
 *
 * The winner then claims the lease in the host's own directory ledger too
 * (with etcd's cluster id and revision), which decides between two runs on
 * the same host and keeps the host's record if etcd is wiped: the local
 * ledger is checked before etcd is asked.
 * Trust: runs as root; what etcd returns is untrusted and parsed with
 * bounds. etcd orders claims; every host has verified the lease's two
 * signatures before it claims (README "Fleets": what a host with write
 * access to the ledger can and cannot do). */
#include "calyx/ledger.h"

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/etcd.h"
#include "calyx/lease.h"
#include "calyx/jsonx.h"
#include "calyx/timings.h"

#define CLAIM_ROUNDS_MAX 256   /* compare failures one claim goes through */
#define TTL_MARGIN_S 3600
#define GRANT_REUSE_S (24 * 3600) /* a granted etcd lease serves claims this much longer */

typedef struct etcd_ledger {
	cx_ledger base;
	cx_ledger *local;
	cx_etcd *etcd;
	int timeout_ms;
	char *grant_cache; /* <ledger dir>.etcd-lease: the etcd lease claims reuse */
} etcd_ledger;

/* What the key holds, checked: at most count holders (≤ CX_LEASE_COUNT_MAX
 * of them), each with a host id and a nonce. */
typedef struct held {
	json_t *value;     /* the decoded value (owned) */
	int64_t mod_rev, create_rev;
	char lease[24];    /* the etcd lease the key is attached to ("" none) */
} held;

static char *ledger_key(cx_etcd *e, const char *lease_id)
{
	char *k;
	CX_CHECK(asprintf(&k, "%sledger/%s", cx_etcd_prefix(e), lease_id) > 0);
	return k;
}


/* The value's holders as "a, b, c" (escaped by the caller's printer). */
static void holders_text(const json_t *value, char *out, size_t n, unsigned *ret_n)
{
	const json_t *hs = json_object_get(value, "holders"), *h;
	size_t i, used = 0;

	out[0] = '\0';
	*ret_n = 0;
	json_array_foreach(hs, i, h) {
		const char *id = json_string_value(json_object_get(h, "host_id"));
		int w = snprintf(out + used, n - used, "%s%s", i ? ", " : "", id ? id : "?");
		(*ret_n)++;
		if (w < 0 || (size_t)w >= n - used) {
			snprintf(out + (n > 5 ? n - 5 : 0), n > 5 ? 5 : n, "…");
			break;
		}
		used += (size_t)w;
	}
}

/* The value read from etcd: JSON, the lease it names, a holders array
 * of objects with string host_id and nonce, count in range. */
static bool value_ok(const json_t *v, const char *lease_id)
{
	const json_t *hs = json_object_get(v, "holders"), *h;
	json_int_t count = json_integer_value(json_object_get(v, "count"));
	size_t i;

	if (!json_is_object(v) || !json_is_array(hs) || count < 1 || count > CX_LEASE_COUNT_MAX ||
	    json_array_size(hs) > (size_t)count ||
	    !json_is_string(json_object_get(v, "lease_id")) ||
	    strcmp(json_string_value(json_object_get(v, "lease_id")), lease_id) != 0 ||
	    !json_is_string(json_object_get(v, "lease_sha256")))
		return false;
	json_array_foreach(hs, i, h)
		if (!json_is_string(json_object_get(h, "host_id")) || !json_is_string(json_object_get(h, "nonce")))
			return false;
	return true;
}

/* The key's current state from a txn's failure branch (or a range):
 * 1 present (h filled), 0 absent, -1 malformed. */
static int parse_range(const json_t *range, const char *lease_id, held *h)
{
	const json_t *kvs = json_object_get(range, "kvs"), *kv;
	size_t len = 0;

	memset(h, 0, sizeof(*h));
	if (!kvs || json_array_size(kvs) == 0)
		return 0;
	if (!json_is_array(kvs) || json_array_size(kvs) != 1)
		return -1;
	kv = json_array_get(kvs, 0);
	char *raw = cx_etcd_unb64(json_string_value(json_object_get(kv, "value")), 256 * 1024, &len);
	if (!raw)
		return -1;
	h->value = cx_json_loadb(raw, len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	int64_t lease = 0;
	if (!h->value || !value_ok(h->value, lease_id) ||
	    cx_etcd_i64(json_object_get(kv, "mod_revision"), &h->mod_rev) < 0 ||
	    cx_etcd_i64(json_object_get(kv, "create_revision"), &h->create_rev) < 0 ||
	    (json_object_get(kv, "lease") && cx_etcd_i64(json_object_get(kv, "lease"), &lease) < 0)) {
		json_decref(h->value);
		h->value = NULL;
		return -1;
	}
	if (lease)
		snprintf(h->lease, sizeof(h->lease), "%lld", (long long)lease);
	return 1;
}

/* The etcd lease claims attach their keys to, granted once and reused
 * (one round trip less per claim): STATE/ledger.etcd-lease holds
 * {"id": "…", "expires_at": unix seconds}, expires_at read from this
 * host's clock *before* the grant (so never later than etcd's). A claim
 * reuses it only while it outlives what the claim needs by 10 minutes;
 * a lease etcd no longer knows (a restored or new cluster) is granted
 * anew. Written atomically, root-only, in the state dir. */
static bool grant_cached(const etcd_ledger *l, int64_t need_until, char out[24])
{
	uint8_t buf[256];
	_cleanup_close_ int fd = open(l->grant_cache, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	json_t *j = n > 0 ? cx_json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
	json_int_t exp = j ? json_integer_value(json_object_get(j, "expires_at")) : 0;
	bool ok = id && strlen(id) > 0 && strlen(id) < 24 && strspn(id, "0123456789") == strlen(id) &&
		  exp >= need_until + 600;
	if (ok)
		snprintf(out, 24, "%s", id);
	json_decref(j);
	return ok;
}

static void grant_store(const etcd_ledger *l, const char *id, int64_t expires_at)
{
	json_t *j = json_pack("{s:s, s:I}", "id", id, "expires_at", (json_int_t)expires_at);
	char *s = j ? cx_json_dump(j) : NULL;
	if (s) /* best effort: without it, the next claim grants again */
		cx_write_file_atomic(l->grant_cache, s, strlen(s), 0600, NULL);
	free(s);
	json_decref(j);
}

/* A fresh grant for a claim that needs its keys alive until need_until
 * (wall clock), stored for the next claims. */
static cx_etcd_outcome grant_fresh(etcd_ledger *l, int64_t need_until, int64_t deadline, char out[24],
				   cx_error *err)
{
	int64_t now = time(NULL), ttl = need_until - now + GRANT_REUSE_S;
	cx_etcd_outcome o = cx_etcd_grant(l->etcd, ttl, deadline, out, err);
	if (o == CX_ETCD_ANSWERED)
		grant_store(l, out, now + ttl);
	return o;
}

static void header_of(const json_t *rep, cx_claim_out *out)
{
	const json_t *hd = json_object_get(rep, "header");
	const char *cid = json_string_value(json_object_get(hd, "cluster_id"));
	int64_t rev;

	if (cid && strlen(cid) < sizeof(out->cluster_id) && strspn(cid, "0123456789") == strlen(cid))
		snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", cid);
	if (cx_etcd_i64(json_object_get(hd, "revision"), &rev) == 0)
		out->revision = rev;
}

static int etcd_decide(etcd_ledger *l, const cx_claim *c, cx_claim_out *out, cx_error *err)
{
	cx_etcd *e = l->etcd;
	int64_t deadline = cx_mono_ns() + (int64_t)l->timeout_ms * 1000000LL;
	_cleanup_free_ char *key = ledger_key(e, c->lease_id);
	uint8_t rnd[16];
	char nonce[33], grant_id[24] = "";
	held cur = { 0 };
	bool have = false;
	int r = 0;

	randombytes_buf(rnd, sizeof(rnd));
	cx_hex_encode(rnd, sizeof(rnd), nonce);
	/* the key must outlive the calyx lease: its not_after, the clock
	 * skew (prune_after), and a margin */
	int64_t need_until = c->prune_after + TTL_MARGIN_S;
	int64_t t0 = cx_mono_ns();
	bool cached = grant_cached(l, need_until, grant_id);
	cx_etcd_outcome o = CX_ETCD_ANSWERED;
	if (!cached)
		o = grant_fresh(l, need_until, deadline, grant_id, err);
	if (o != CX_ETCD_ANSWERED)
		return o == CX_ETCD_REFUSED ? -EPROTO : -ETIMEDOUT; /* nothing claimed */

	for (int round = 0;; round++) {
		json_t *me = json_pack("{s:s, s:s, s:I}", "host_id", c->host_id, "nonce", nonce,
				       "claimed_at", (json_int_t)c->consumed_at);
		json_t *value, *cmp;
		const char *lease = grant_id;
		if (round >= CLAIM_ROUNDS_MAX) {
			json_decref(me);
			r = cx_err(err, CX_E_LEDGER_UNAVAILABLE, EBUSY,
				   "the pool's ledger changed under %d claims in a row (lease %s); nothing ran, try again",
				   CLAIM_ROUNDS_MAX, c->lease_id);
			break;
		}
		if (!have) {
			value = json_pack("{s:s, s:s, s:s, s:I, s:[o]}", "lease_id", c->lease_id, "lease_sha256",
					  c->lease_sha256, "pool", c->pool, "count", (json_int_t)c->count,
					  "holders", me);
			cmp = json_pack("{s:o, s:s, s:s, s:s}", "key", cx_etcd_key(key), "target", "CREATE",
					"result", "EQUAL", "create_revision", "0");
		} else {
			value = json_deep_copy(cur.value);
			CX_CHECK(value && json_array_append_new(json_object_get(value, "holders"), me) == 0);
			char rev[24];
			snprintf(rev, sizeof(rev), "%lld", (long long)cur.mod_rev);
			cmp = json_pack("{s:o, s:s, s:s, s:s}", "key", cx_etcd_key(key), "target", "MOD",
					"result", "EQUAL", "mod_revision", rev);
			if (cur.lease[0])
				lease = cur.lease; /* the key keeps its own etcd lease */
		}
		char *vs = cx_json_dump(value);
		json_decref(value);
		char *vb = cx_etcd_b64(vs, strlen(vs));
		free(vs);
		json_t *put = json_pack("{s:{s:o, s:s, s:s}}", "request_put", "key", cx_etcd_key(key), "value",
					vb, "lease", lease);
		free(vb);
		json_t *txn = json_pack("{s:[o], s:[o], s:[{s:{s:o}}]}", "compare", cmp, "success", put,
					"failure", "request_range", "key", cx_etcd_key(key));
		CX_CHECK(txn);
		json_t *rep = NULL;
		cx_error ce = { 0 };
		out->attempts++;
		o = cx_etcd_call(e, "/v3/kv/txn", txn, deadline, &rep, &ce);
		json_decref(txn);
		if (o == CX_ETCD_LOST)
			out->ambiguous = true;
		if (o == CX_ETCD_REFUSED && cached && strstr(ce.msg, "lease not found")) {
			/* the reused etcd lease is gone (a restored or new
			 * cluster): a fresh one, and the same round again */
			cached = false;
			o = grant_fresh(l, need_until, deadline, grant_id, err);
			if (o != CX_ETCD_ANSWERED) {
				r = o == CX_ETCD_REFUSED ? -EPROTO : -ETIMEDOUT;
				break;
			}
			continue;
		}
		if (o != CX_ETCD_ANSWERED) {
			*err = ce;
			if (out->ambiguous)
				cx_err_prefix(err, "the pool's ledger did not confirm the claim of lease %s, which may have landed (it will never run; issue a new lease)",
					      c->lease_id);
			r = o == CX_ETCD_REFUSED ? -EPROTO : -ETIMEDOUT;
			break;
		}
		header_of(rep, out);
		if (json_is_true(json_object_get(rep, "succeeded"))) {
			/* ours: the write's revision is the header's */
			out->ambiguous = false;
			json_decref(rep);
			r = 0;
			break;
		}
		const json_t *resp = json_array_get(json_object_get(rep, "responses"), 0);
		held now;
		int pr = parse_range(json_object_get(resp, "response_range"), c->lease_id, &now);
		json_decref(rep);
		if (pr < 0) {
			r = cx_err(err, CX_E_LEDGER, EPROTO,
				   "the pool's ledger holds a malformed entry for lease %s at %s (nothing ran; inspect it with 'calyx-ctl ledger %s')",
				   c->lease_id, key, c->lease_id);
			break;
		}
		json_decref(cur.value);
		cur = now;
		have = pr == 1;
		if (!have)
			continue; /* gone meanwhile (expired or deleted): ask again */
		const json_t *hs = json_object_get(cur.value, "holders"), *h;
		size_t i;
		bool mine = false, this_host = false;
		json_array_foreach(hs, i, h) {
			mine |= strcmp(json_string_value(json_object_get(h, "nonce")), nonce) == 0;
			this_host |= strcmp(json_string_value(json_object_get(h, "host_id")), c->host_id) == 0;
		}
		holders_text(cur.value, out->holders, sizeof(out->holders), &out->n_holders);
		if (mine) { /* a lost answer of ours had landed */
			out->ambiguous = false;
			out->revision = cur.mod_rev;
			r = 0;
			break;
		}
		json_int_t count = json_integer_value(json_object_get(cur.value, "count"));
		if (this_host || strcmp(json_string_value(json_object_get(cur.value, "lease_sha256")),
					c->lease_sha256) != 0 ||
		    json_array_size(hs) >= (size_t)count) {
			out->ambiguous = false; /* decided: not ours */
			out->revision = cur.mod_rev;
			if (this_host)
				r = cx_err(err, CX_E_REPLAY, EEXIST,
					   "lease %s already ran on this host (pool '%s'; leases run once; issue a new lease)",
					   c->lease_id, c->pool);
			else
				r = cx_err(err, CX_E_REPLAY, EEXIST,
					   "lease %s already runs on its %lld host(s) of pool '%s': %s (issue a new lease)",
					   c->lease_id, (long long)count, c->pool, out->holders);
			break;
		}
	}
	json_decref(cur.value);
	out->claim_us = (cx_mono_ns() - t0) / 1000;
	return r;
}

static int etcd_claim(cx_ledger *base, const cx_claim *c, cx_error *err)
{
	etcd_ledger *l = (etcd_ledger *)base;
	cx_claim_out local_out = { 0 }, *out = c->out ? c->out : &local_out;
	int r;

	if (!c->pool) /* a host's own lease: the local ledger alone */
		return cx_ledger_claim(l->local, c, err);
	if (!c->host_id || !c->lease_sha256 || c->count < 1)
		return cx_err(err, CX_E_INTERNAL, EINVAL, "pool claim without host id, lease hash or count");
	/* this host's record first: a lease it ran never runs here again,
	 * whatever etcd says (a wiped or restored cluster) */
	r = cx_ledger_is_claimed(l->local, c->lease_id, err);
	if (r < 0)
		return r;
	if (r == 1)
		return cx_err(err, CX_E_REPLAY, EEXIST,
			      "lease %s was already used on this host (leases run once; issue a new lease)",
			      c->lease_id);
	r = etcd_decide(l, c, out, err);
	if (r < 0)
		return r;
	cx_claim lc = *c;
	lc.cluster_id = out->cluster_id;
	lc.revision = out->revision;
	return cx_ledger_claim(l->local, &lc, err);
}

static int etcd_sync(cx_ledger *base, cx_error *err)
{
	return cx_ledger_sync(((etcd_ledger *)base)->local, err);
}

static int etcd_is_claimed(cx_ledger *base, const char *id, cx_error *err)
{
	return cx_ledger_is_claimed(((etcd_ledger *)base)->local, id, err);
}

static int etcd_prune(cx_ledger *base, int64_t now, unsigned *ret_removed, unsigned *ret_kept,
		      cx_error *err)
{
	cx_ledger *local = ((etcd_ledger *)base)->local;
	return local->ops->prune(local, now, ret_removed, ret_kept, err);
}

static void etcd_close(cx_ledger *base)
{
	etcd_ledger *l = (etcd_ledger *)base;
	free(l->grant_cache);
	cx_ledger_close(l->local);
	cx_etcd_close(l->etcd);
	free(l);
}

static const cx_ledger_ops etcd_ops = {
	.name = "etcd",
	.claim = etcd_claim,
	.sync = etcd_sync,
	.is_claimed = etcd_is_claimed,
	.prune = etcd_prune,
	.close = etcd_close,
};

int cx_ledger_open_etcd(const cx_etcd_cfg *cfg, const char *dir, cx_ledger **ret, cx_error *err)
{
	etcd_ledger *l = cx_calloc(1, sizeof(*l));
	int r;

	l->base.ops = &etcd_ops;
	l->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
	CX_CHECK(asprintf(&l->grant_cache, "%s.etcd-lease", dir) > 0);
	r = cx_ledger_open_dir(dir, &l->local, err);
	if (r == 0)
		r = cx_etcd_open(cfg, &l->etcd, err);
	if (r < 0) {
		etcd_close(&l->base);
		return r;
	}
	*ret = &l->base;
	return 0;
}

int cx_ledger_etcd_show(const cx_etcd_cfg *cfg, const char *lease_id, void **ret_json,
			int64_t *ret_rev, char ret_cluster[24], cx_error *err)
{
	_cleanup_(cx_etcd_closep) cx_etcd *e = NULL;
	json_t *rep = NULL;
	held h = { 0 };
	cx_claim_out out = { 0 };
	int r;

	*ret_json = NULL;
	*ret_rev = 0;
	ret_cluster[0] = '\0';
	if (!cx_is_lower_hex(lease_id, 32))
		return cx_err(err, CX_E_USAGE, EINVAL, "'%.40s' is not a lease id (32 lowercase hex)", lease_id);
	if ((r = cx_etcd_open(cfg, &e, err)) < 0)
		return r;
	_cleanup_free_ char *key = ledger_key(e, lease_id);
	json_t *req = json_pack("{s:o}", "key", cx_etcd_key(key)); /* linearizable: the default */
	cx_etcd_outcome o = cx_etcd_call(e, "/v3/kv/range", req,
					 cx_mono_ns() + (int64_t)cfg->timeout_ms * 1000000LL, &rep, err);
	json_decref(req);
	if (o != CX_ETCD_ANSWERED)
		return -EIO;
	header_of(rep, &out);
	snprintf(ret_cluster, 24, "%s", out.cluster_id);
	r = parse_range(rep, lease_id, &h);
	json_decref(rep);
	if (r < 0)
		return cx_err(err, CX_E_LEDGER, EPROTO, "the pool's ledger holds a malformed entry at %s", key);
	*ret_json = h.value;
	*ret_rev = h.mod_rev;
	return 0;
}
