/* Rollouts and their control documents in etcd (calyx/rollout_store.h,
 * docs/formats.md "Rollouts in etcd"): one transaction per write, one
 * linearizable range per read, everything read verified before use.
 * Trust: what etcd returns is hostile input, parsed with bounds. */
#include "calyx/rollout_store.h"

#include <string.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/lease.h"
#include "calyx/jsonx.h"
#include "calyx/timings.h"

#define SEQ_DIGITS 16

static char *rkey(cx_etcd *e, const char *id, const char *leaf)
{
	char *k;
	CX_CHECK(asprintf(&k, "%srollouts/%s/%s", cx_etcd_prefix(e), id, leaf) > 0);
	return k;
}

/* The outcome of a write as an error: unsent/lost keep cx_etcd_call's
 * E_LEDGER_UNAVAILABLE (lost: it may have landed), refused is E_LEDGER. */
static int call_fail(cx_etcd_outcome o, bool *ret_ambiguous)
{
	if (ret_ambiguous)
		*ret_ambiguous = o == CX_ETCD_LOST;
	return o == CX_ETCD_REFUSED ? -EPROTO : -ETIMEDOUT;
}

void cx_rollout_store_free(cx_rollout_store *s)
{
	free(s->rollout_buf);
	free(s->lease_buf);
	cx_rollout_free(&s->ro);
	for (size_t i = 0; i < s->nctl; i++)
		cx_control_free(&s->ctl[i]);
	free(s->ctl);
	memset(s, 0, sizeof(*s));
}

int cx_rollout_store_start(cx_etcd *e, int timeout_ms, const cx_rollout *ro,
			   const uint8_t *rollout_buf, size_t rollout_len, const uint8_t *lease_buf,
			   size_t lease_len, int64_t *ret_rev, bool *ret_ambiguous, cx_error *err)
{
	_cleanup_free_ char *kr = rkey(e, ro->rollout_id, "rollout");
	_cleanup_free_ char *kl = rkey(e, ro->rollout_id, "lease");
	_cleanup_free_ char *ks = rkey(e, ro->rollout_id, "started");
	_cleanup_json_ json_t *txn = NULL, *rep = NULL;
	cx_etcd_outcome o;
	int64_t rev = 0;

	*ret_ambiguous = false;
	char started[48];
	snprintf(started, sizeof(started), "{\"at\":%lld}", (long long)time(NULL));
	txn = json_pack("{s:[o, o], s:[o, o, o], s:[{s:{s:o, s:b}}]}", "compare",
			cx_etcd_cmp(kr, "CREATE", 0), cx_etcd_cmp(kl, "CREATE", 0), "success",
			cx_etcd_op_put(kr, rollout_buf, rollout_len, NULL), cx_etcd_op_put(kl, lease_buf, lease_len, NULL),
			cx_etcd_op_put(ks, started, strlen(started), NULL),
			"failure", "request_range", "key", cx_etcd_key(kr), "keys_only", 1);
	CX_CHECK(txn);
	o = cx_etcd_call(e, "/v3/kv/txn", txn, cx_etcd_deadline(timeout_ms), &rep, err);
	if (o != CX_ETCD_ANSWERED) {
		if (o == CX_ETCD_LOST)
			cx_err_prefix(err, "the start of rollout %s may have landed in etcd (check with 'calyx-rollout status %s')",
				      ro->rollout_id, ro->rollout_id);
		return call_fail(o, ret_ambiguous);
	}
	cx_etcd_header(rep, &rev, NULL);
	if (!json_is_true(json_object_get(rep, "succeeded"))) {
		const json_t *resp = json_array_get(json_object_get(rep, "responses"), 0);
		const json_t *kv = json_array_get(json_object_get(json_object_get(resp, "response_range"), "kvs"), 0);
		int64_t at = 0;
		if (kv)
			cx_etcd_i64(json_object_get(kv, "create_revision"), &at);
		if (kv)
			return cx_err(err, CX_E_ROLLOUT_STARTED, EEXIST,
				      "rollout %s was already started (etcd revision %lld); a rollout starts once (see 'calyx-rollout status %s', or plan a new one)",
				      ro->rollout_id, (long long)at, ro->rollout_id);
		return cx_err(err, CX_E_ROLLOUT_STARTED, EEXIST,
			      "rollout %s: its lease key %s exists without its rollout key (a partial or foreign record; nothing published, inspect it with etcdctl)",
			      ro->rollout_id, kl);
	}
	*ret_rev = rev;
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* One kv of the range: its key's leaf (after the rollout's prefix), its
 * value decoded (at most max bytes) and revisions. */
static int kv_take(const json_t *kv, size_t plen, size_t max, const char **ret_leaf,
		   uint8_t **ret_val, size_t *ret_len, int64_t *mod, int64_t *create,
		   char **ret_key)
{
	size_t klen = 0;
	char *key = cx_etcd_unb64(json_string_value(json_object_get(kv, "key")), 1024, &klen);
	char *val;

	*ret_key = key;
	if (!key || klen != strlen(key) || klen <= plen)
		return -1;
	*ret_leaf = key + plen;
	if (cx_etcd_i64(json_object_get(kv, "mod_revision"), mod) < 0 ||
	    cx_etcd_i64(json_object_get(kv, "create_revision"), create) < 0)
		return -1;
	if (!max)
		return 0;
	/* an empty value: the gateway omits "value" */
	val = json_object_get(kv, "value") ? cx_etcd_unb64(json_string_value(json_object_get(kv, "value")), max, ret_len)
					   : (*ret_len = 0, cx_strdup(""));
	if (!val)
		return -2; /* above max or not base64 */
	*ret_val = (uint8_t *)val;
	return 0;
}

/* "control/0000000000000042" -> 42; -1 otherwise. */
static int64_t history_seq(const char *leaf)
{
	const char *d = leaf + strlen("control/");
	int64_t v = 0;

	if (strncmp(leaf, "control/", 8) != 0 || strlen(d) != SEQ_DIGITS ||
	    strspn(d, "0123456789") != SEQ_DIGITS)
		return -1;
	for (size_t i = 0; i < SEQ_DIGITS; i++)
		v = v * 10 + (d[i] - '0'); /* 16 digits: below 2^63 */
	return v >= 1 && v <= CX_CONTROL_SEQ_MAX ? v : -1;
}

int cx_rollout_store_load(cx_etcd *e, int timeout_ms, const cx_keyring *kr,
			  const char *rollout_id, int64_t now, cx_rollout_store *ret,
			  cx_error *err)
{
	_cleanup_free_ char *pfx = NULL;
	_cleanup_json_ json_t *kvs = NULL;
	cx_etcd_outcome o;
	int64_t rev = 0;
	char cluster[24] = "";

	if (!cx_is_lower_hex(rollout_id, 32))
		return cx_err(err, CX_E_USAGE, EINVAL, "'%.40s' is not a rollout id (32 lowercase hex)", rollout_id);
	pfx = rkey(e, rollout_id, "");
	o = cx_etcd_range_all(e, pfx, false, 0, CX_FLEET_PAGE, CX_FLEET_ROLLOUT_KEYS_MAX,
			      cx_etcd_deadline(timeout_ms), &rev, &kvs, NULL, cluster, err);
	if (o != CX_ETCD_ANSWERED)
		return call_fail(o, NULL);
	return cx_rollout_store_from_kvs(e, kr, rollout_id, now, kvs, rev, cluster, ret, err);
}

int cx_rollout_store_from_kvs(cx_etcd *e, const cx_keyring *kr, const char *rollout_id,
			      int64_t now, const json_t *kvs, int64_t revision,
			      const char *cluster_id, cx_rollout_store *ret, cx_error *err)
{
	_cleanup_(cx_rollout_store_free) cx_rollout_store s = { 0 };
	_cleanup_free_ char *pfx = rkey(e, rollout_id, "");
	_cleanup_free_ uint8_t *latest = NULL;
	size_t latest_len = 0, plen = strlen(pfx), i;
	const json_t *kv;
	uint8_t **hist = NULL;
	size_t *hist_len = NULL, nhist = 0;
	int r = 0;

	s.revision = revision;
	snprintf(s.cluster_id, sizeof(s.cluster_id), "%s", cluster_id ? cluster_id : "");
	if (kvs && !json_is_array(kvs))
		return cx_err(err, CX_E_LEDGER, EPROTO, "etcd sent a malformed range for %s", pfx);
	hist = cx_calloc(CX_ROLLOUT_CONTROLS_MAX + 1, sizeof(*hist));
	hist_len = cx_calloc(CX_ROLLOUT_CONTROLS_MAX + 1, sizeof(*hist_len));
	s.ctl = cx_calloc(CX_ROLLOUT_CONTROLS_MAX, sizeof(*s.ctl));
	json_array_foreach(kvs, i, kv) {
		_cleanup_free_ char *key = NULL;
		const char *leaf = NULL;
		uint8_t *val = NULL;
		size_t len = 0;
		int64_t mod = 0, create = 0, seq;
		size_t max = CX_CONTROL_MAX_BYTES;

		/* the leaf decides the cap before the value is decoded; keys
		 * this code does not read (the agents', later) are not decoded */
		{
			size_t kl = 0;
			char *k = cx_etcd_unb64(json_string_value(json_object_get(kv, "key")), 1024, &kl);
			const char *lf = k && kl == strlen(k) && kl > plen ? k + plen : "";
			if (strcmp(lf, "rollout") == 0)
				max = CX_ROLLOUT_MAX_BYTES;
			else if (strcmp(lf, "lease") == 0)
				max = CX_LEASE_MAX_BYTES;
			else if (strcmp(lf, "started") == 0)
				max = 64;
			else if (strncmp(lf, "control", 7) != 0)
				max = 0;
			free(k);
		}
		int kr_ = kv_take(kv, plen, max, &leaf, &val, &len, &mod, &create, &key);
		if (kr_ < 0) {
			free(val);
			r = cx_err(err, CX_E_LEDGER, EPROTO,
				   "rollout %s: a malformed or oversized entry under %s in etcd (nothing trusted; inspect it with etcdctl)",
				   rollout_id, pfx);
			goto out;
		}
		if (strcmp(leaf, "rollout") == 0) {
			s.rollout_buf = val, s.rollout_len = len;
			s.rollout_mod_rev = mod, s.rollout_create_rev = create;
		} else if (strcmp(leaf, "started") == 0) {
			/* when start published it (the operator's clock, unsigned):
			 * clamped to [issued_at, now] once the rollout is verified */
			json_t *j = cx_json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
			s.started_at = json_is_integer(json_object_get(j, "at")) ? json_integer_value(json_object_get(j, "at")) : 0;
			json_decref(j);
			free(val);
		} else if (strcmp(leaf, "lease") == 0) {
			s.lease_buf = val, s.lease_len = len;
		} else if (strcmp(leaf, "control") == 0) {
			latest = val, latest_len = len;
			s.control_mod_rev = mod;
		} else if ((seq = history_seq(leaf)) > 0) {
			/* keys come sorted: the history must be 1, 2, 3, … */
			if ((size_t)seq != nhist + 1 || nhist == CX_ROLLOUT_CONTROLS_MAX) {
				free(val);
				r = cx_err(err, CX_E_CONTROL_SEQ, EPERM,
					   "rollout %s: its control history in etcd jumps from seq %zu to %lld (a document was removed or planted; nothing trusted)",
					   rollout_id, nhist, (long long)seq);
				goto out;
			}
			hist[nhist] = val, hist_len[nhist++] = len;
		} else if (strncmp(leaf, "control", 7) == 0) {
			free(val);
			r = cx_err(err, CX_E_CONTROL_SEQ, EPERM,
				   "rollout %s: a key under %scontrol that is not a history entry (nothing trusted; inspect it with etcdctl)",
				   rollout_id, pfx);
			goto out;
		} else {
			free(val); /* other keys: the agents' (a later part), not decoded */
		}
	}
	if (!s.rollout_buf) {
		r = cx_err(err, CX_E_ROLLOUT, ENOENT,
			   "no rollout %s in etcd under '%s' (start it with 'calyx-rollout start')",
			   rollout_id, cx_etcd_prefix(e));
		goto out;
	}
	r = cx_rollout_verify_signed(kr, s.rollout_buf, s.rollout_len, &s.ro, err);
	if (r < 0) {
		cx_err_prefix(err, "rollout %s read from etcd", rollout_id);
		goto out;
	}
	if (strcmp(s.ro.rollout_id, rollout_id) != 0) {
		r = cx_err(err, CX_E_ROLLOUT, EPERM, "the rollout stored under %s is rollout %s",
			   pfx, s.ro.rollout_id);
		goto out;
	}
	{
		char hex[65];
		if (s.lease_buf)
			cx_sha256_hex(s.lease_buf, s.lease_len, hex);
		if (!s.lease_buf || strcmp(hex, s.ro.lease_sha256) != 0) {
			r = cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
				   "rollout %s: the lease stored in etcd %s (nothing trusted)", rollout_id,
				   s.lease_buf ? "is not the lease file the rollout names (sha256 differs)"
					       : "is missing");
			goto out;
		}
	}
	if (s.started_at < s.ro.issued_at) /* absent (0), or before it was signed */
		s.started_at = s.ro.issued_at;
	if (s.started_at > now)
		s.started_at = now;
	cx_rollout_progress_init(&s.prog);
	for (size_t k = 0; k < nhist; k++) {
		cx_control_verify_input in = { .keyring = kr, .rollout = &s.ro,
					       .rollout_buf = s.rollout_buf,
					       .rollout_len = s.rollout_len,
					       .last_seq = s.prog.last_seq, .now = now };
		r = cx_control_verify(&in, hist[k], hist_len[k], &s.ctl[k], err);
		if (r == 0)
			s.nctl = k + 1;
		if (r == 0 && s.ctl[k].seq != (int64_t)k + 1)
			r = cx_err(err, CX_E_CONTROL_SEQ, EPERM,
				   "the document under history key %zu holds seq %lld", k + 1,
				   (long long)s.ctl[k].seq);
		if (r == 0)
			r = cx_rollout_apply(&s.ro, &s.prog, &s.ctl[k], err);
		if (r < 0) {
			cx_err_prefix(err, "rollout %s: control document %zu in etcd", rollout_id, k + 1);
			goto out;
		}
	}
	/* the latest key is the history's last document, byte for byte */
	bool same = latest && nhist > 0 && hist[nhist - 1] && latest_len == hist_len[nhist - 1] &&
		    memcmp(latest, hist[nhist - 1], latest_len) == 0;
	if ((latest != NULL) != (nhist > 0) || (latest && !same)) {
		if (!latest)
			r = cx_err(err, CX_E_CONTROL_SEQ, EPERM,
				   "rollout %s: etcd holds %zu control documents in its history but no latest one (nothing trusted)",
				   rollout_id, nhist);
		else {
			/* say what the latest key holds, when it parses */
			cx_envelope env = { 0 };
			cx_control c = { 0 };
			long long seq = -1;
			if (cx_envelope_parse_as(&cx_doc_control, latest, latest_len, 1, 1, &env, NULL) == 0 &&
			    cx_control_body_parse(env.payload, env.payload_len, &c, NULL) == 0)
				seq = c.seq;
			cx_envelope_free(&env);
			r = cx_err(err, CX_E_CONTROL_SEQ, EPERM,
				   "rollout %s: the latest control document in etcd (seq %lld) is not the last of its history (seq %zu): a replayed or stale document (nothing trusted; inspect %scontrol)",
				   rollout_id, seq, nhist, pfx);
		}
		goto out;
	}
	*ret = TAKE_STRUCT(s);
out:
	for (size_t k = 0; k < nhist; k++)
		free(hist[k]);
	free(hist);
	free(hist_len);
	return r;
}

int cx_rollout_store_publish(cx_etcd *e, int timeout_ms, const cx_rollout_store *s,
			     const uint8_t *doc, size_t doc_len, int64_t *ret_rev,
			     bool *ret_ambiguous, cx_error *err)
{
	const char *id = s->ro.rollout_id;
	int64_t seq = (int64_t)s->nctl + 1, rev = 0;
	char leaf[32];
	_cleanup_free_ char *kr = rkey(e, id, "rollout");
	_cleanup_free_ char *kc = rkey(e, id, "control");
	_cleanup_free_ char *kh = NULL;
	_cleanup_json_ json_t *txn = NULL, *rep = NULL;
	cx_etcd_outcome o;

	*ret_ambiguous = false;
	snprintf(leaf, sizeof(leaf), "control/%0*lld", SEQ_DIGITS, (long long)seq);
	kh = rkey(e, id, leaf);
	txn = json_pack("{s:[o, o, o], s:[o, o]}", "compare",
			cx_etcd_cmp(kr, "MOD", s->rollout_mod_rev),
			s->control_mod_rev ? cx_etcd_cmp(kc, "MOD", s->control_mod_rev)
					   : cx_etcd_cmp(kc, "CREATE", 0),
			cx_etcd_cmp(kh, "CREATE", 0), "success", cx_etcd_op_put(kc, doc, doc_len, NULL),
			cx_etcd_op_put(kh, doc, doc_len, NULL));
	CX_CHECK(txn);
	o = cx_etcd_call(e, "/v3/kv/txn", txn, cx_etcd_deadline(timeout_ms), &rep, err);
	if (o != CX_ETCD_ANSWERED) {
		if (o == CX_ETCD_LOST)
			cx_err_prefix(err, "control document seq %lld of rollout %s may have landed in etcd (check with 'calyx-rollout status %s' before signing another)",
				      (long long)seq, id, id);
		return call_fail(o, ret_ambiguous);
	}
	if (!json_is_true(json_object_get(rep, "succeeded")))
		return cx_err(err, CX_E_CONTROL_SEQ, EBUSY,
			      "rollout %s changed in etcd while seq %lld was signed (another control document landed first); nothing published: check 'calyx-rollout status %s' and try again",
			      id, (long long)seq, id);
	cx_etcd_header(rep, &rev, NULL);
	*ret_rev = rev;
	return 0;
}
