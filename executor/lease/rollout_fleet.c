/* The fleet side of a rollout (calyx/rollout_fleet.h): host reports, one
 * read of a rollout's keys, the derived host and tier states, and the
 * agents' writes.
 * Trust: everything read from etcd is hostile input: parsed with bounds,
 * reports verified against their host's registered key, the rollout and
 * its controls by cx_rollout_store_from_kvs. */
#include "calyx/rollout_fleet.h"

#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"

const cx_doc_type cx_doc_host_report = {
	.payload_type = CX_HOST_PAYLOAD_TYPE,
	.what = "host report",
	.max_bytes = CX_HOST_REPORT_MAX_BYTES,
	.body_max_bytes = CX_HOST_REPORT_BODY_MAX_BYTES,
	.nsig = 1,
	.sig_rule = "the reporting host's key",
};

static const char *const host_states[] = {
	[CX_HOST_WAITING] = "waiting",     [CX_HOST_CLAIMED] = "claimed",
	[CX_HOST_RUNNING] = "running",     [CX_HOST_COMMITTED] = "committed",
	[CX_HOST_FAILED] = "failed",       [CX_HOST_HALTED] = "halted",
	[CX_HOST_LOST] = "lost",           [CX_HOST_ROLLED_BACK] = "rolled_back",
};

static const char *const tier_phases[] = {
	[CX_TIER_WAITING] = "waiting", [CX_TIER_OPEN] = "open",     [CX_TIER_SOAKING] = "soaking",
	[CX_TIER_DONE] = "done",       [CX_TIER_FAILED] = "failed",
};

const char *cx_host_state_name(cx_host_state s)
{
	return (size_t)s < CX_ARRAY_SIZE(host_states) && host_states[s] ? host_states[s] : "?";
}

const char *cx_tier_phase_name(cx_tier_phase p)
{
	return (size_t)p < CX_ARRAY_SIZE(tier_phases) && tier_phases[p] ? tier_phases[p] : "?";
}

int cx_host_state_parse(const char *s, cx_host_state *ret)
{
	for (size_t i = 1; i < CX_ARRAY_SIZE(host_states); i++)
		if (host_states[i] && strcmp(s, host_states[i]) == 0) {
			*ret = (cx_host_state)i;
			return 0;
		}
	return -EINVAL;
}

bool cx_host_state_terminal(cx_host_state s)
{
	return s == CX_HOST_COMMITTED || s == CX_HOST_FAILED || s == CX_HOST_HALTED ||
	       s == CX_HOST_LOST || s == CX_HOST_ROLLED_BACK;
}

/* ---- host reports ------------------------------------------------------ */

void cx_host_report_free(cx_host_report *r)
{
	json_decref(r->body);
	memset(r, 0, sizeof(*r));
}

/* Optional members: name and JSON type (s string <= 1024 bytes, i
 * integer, o object of at most 16 members). */
static const struct {
	const char *name;
	char type;
} report_opt[] = {
	{ "claimed_at", 'i' }, { "started_at", 'i' }, { "finished_at", 'i' }, { "run_id", 's' },
	{ "exit_code", 'i' },  { "status", 's' },     { "reason", 's' },      { "message", 's' },
	{ "validate", 's' },   { "workspace", 's' },  { "audit", 'o' },       { "checks", 'o' },
	{ "slot", 's' },       { "undo", 's' },
};

int cx_host_report_body_parse(const uint8_t *buf, size_t len, cx_host_report *ret,
			      cx_error *err)
{
	static const char *const req[] = { "v", "rollout_id", "host", "tier", "seq", "state", "at",
					   NULL };
	const char *opt[CX_ARRAY_SIZE(report_opt) + 1];
	_cleanup_json_ json_t *j = NULL;
	cx_host_report r = { 0 };
	const char *s = NULL;
	int64_t v = 0;
	int rc;

	for (size_t i = 0; i < CX_ARRAY_SIZE(report_opt); i++)
		opt[i] = report_opt[i].name;
	opt[CX_ARRAY_SIZE(report_opt)] = NULL;
	if (len > CX_HOST_REPORT_BODY_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "host report body is above %u bytes",
			      CX_HOST_REPORT_BODY_MAX_BYTES);
	rc = cx_json_parse_object(buf, len, "host report body", &j, err);
	if (rc == 0)
		rc = cx_json_keys(j, "host report", CX_E_ROLLOUT, req, opt, err);
	if (rc == 0)
		rc = cx_json_int(j, "v", "host report", CX_E_ROLLOUT, 1, 1, false, &v, err);
	if (rc == 0)
		rc = cx_json_str(j, "rollout_id", "host report", CX_E_ROLLOUT, 64, false, &s, err);
	if (rc < 0)
		return rc;
	CX_CHECK(s);
	if (!cx_is_lower_hex(s, 32))
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "host report rollout_id is not 32 lowercase hex");
	memcpy(r.rollout_id, s, 33);
	rc = cx_json_str(j, "host", "host report", CX_E_ROLLOUT, CX_ID_MAX, false, &s, err);
	if (rc < 0)
		return rc;
	if (!cx_id_ok(s))
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "host report names a host that is not an id");
	snprintf(r.host, sizeof(r.host), "%s", s);
	rc = cx_json_int(j, "tier", "host report", CX_E_ROLLOUT, 1, CX_ROLLOUT_TIERS_MAX, false,
			 &r.tier, err);
	if (rc == 0)
		rc = cx_json_int(j, "seq", "host report", CX_E_ROLLOUT, 1, CX_CONTROL_SEQ_MAX, false,
				 &r.seq, err);
	if (rc == 0)
		rc = cx_json_int(j, "at", "host report", CX_E_ROLLOUT, 0, CX_LEASE_TIME_MAX, false,
				 &r.at, err);
	if (rc == 0)
		rc = cx_json_str(j, "state", "host report", CX_E_ROLLOUT, 16, false, &s, err);
	if (rc < 0)
		return rc;
	if (cx_host_state_parse(s, &r.state) < 0 || r.state == CX_HOST_WAITING ||
	    r.state == CX_HOST_LOST)
		return cx_err(err, CX_E_ROLLOUT, EINVAL,
			      "host report state '%.16s' is not one a host reports", s);
	for (size_t i = 0; i < CX_ARRAY_SIZE(report_opt); i++) {
		const json_t *m = json_object_get(j, report_opt[i].name);
		const char *sv = NULL;
		bool ok = true;
		if (!m || json_is_null(m))
			continue;
		if (report_opt[i].type == 'i')
			ok = json_is_integer(m) && json_integer_value(m) >= -1 &&
			     json_integer_value(m) <= CX_LEASE_TIME_MAX;
		else if (report_opt[i].type == 's')
			ok = cx_json_str_value(m, "host report", CX_E_ROLLOUT, CX_HOST_MESSAGE_MAX, &sv,
					       NULL) == 0;
		else
			ok = json_is_object(m) && json_object_size(m) <= 16;
		if (!ok)
			return cx_err(err, CX_E_ROLLOUT, EINVAL, "host report member '%s' has the wrong type",
				      report_opt[i].name);
	}
	r.body = TAKE_PTR(j);
	*ret = r;
	return 0;
}

int cx_host_report_verify(const uint8_t pk[32], const uint8_t *buf, size_t len,
			  cx_host_report *ret, cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_free_ uint8_t *pae = NULL;
	size_t pae_len = 0;
	char keyid[65];
	int r;

	r = cx_envelope_parse_as(&cx_doc_host_report, buf, len, 1, 1, &e, err);
	if (r < 0)
		return r;
	cx_keyid(pk, keyid);
	if (strcmp(e.sigs[0].keyid, keyid) != 0)
		return cx_err(err, CX_E_UNKNOWN_KEY, EPERM,
			      "host report is signed by key %.16s…, not the host's registered key %.16s…",
			      e.sigs[0].keyid, keyid);
	cx_pae(e.payload_type, e.payload, e.payload_len, &pae, &pae_len);
	if (crypto_sign_verify_detached(e.sigs[0].sig, pae, pae_len, pk) != 0)
		return cx_err(err, CX_E_BAD_SIG, EPERM, "host report signature does not verify");
	return cx_host_report_body_parse(e.payload, e.payload_len, ret, err);
}

/* ---- one read ---------------------------------------------------------- */

void cx_fleet_free(cx_fleet *f)
{
	for (size_t i = 0; i < f->nhosts; i++)
		cx_host_report_free(&f->hosts[i].rep);
	free(f->hosts);
	json_decref(f->slots);
	cx_rollout_store_free(&f->s);
	memset(f, 0, sizeof(*f));
}

cx_fleet_host *cx_fleet_find(cx_fleet *f, const char *host)
{
	for (size_t i = 0; i < f->nhosts; i++)
		if (strcmp(f->hosts[i].host, host) == 0)
			return &f->hosts[i];
	return NULL;
}

/* A kv's key (its leaf after plen bytes) and value (at most max bytes).
 * -1 when malformed. */
static int kv_get(const json_t *kv, size_t plen, size_t max, char **ret_key, uint8_t **ret_val,
		  size_t *ret_len)
{
	size_t kl = 0;
	char *k = cx_etcd_unb64(json_string_value(json_object_get(kv, "key")), 1024, &kl);
	const json_t *v = json_object_get(kv, "value");

	*ret_key = k;
	*ret_val = NULL;
	*ret_len = 0;
	if (!k || kl != strlen(k) || kl <= plen)
		return -1;
	if (!max)
		return 0;
	*ret_val = v ? (uint8_t *)cx_etcd_unb64(json_string_value(v), max, ret_len)
		     : (uint8_t *)cx_strdup("");
	return *ret_val ? 0 : -1;
}

/* P agents/<host>: {"v": 1, "host": …, "pub": "<64 hex>", "registered_at": T} */
static void take_registrations(cx_fleet *f, const json_t *kvs, size_t plen)
{
	const json_t *kv;
	size_t i;

	json_array_foreach(kvs, i, kv) {
		_cleanup_free_ char *key = NULL;
		_cleanup_free_ uint8_t *val = NULL;
		size_t len = 0;
		cx_fleet_host *h;
		if (kv_get(kv, plen, 1024, &key, &val, &len) < 0 || !(h = cx_fleet_find(f, key + plen)))
			continue;
		_cleanup_json_ json_t *j = cx_json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
		const char *pub = json_string_value(json_object_get(j, "pub"));
		const char *hn = json_string_value(json_object_get(j, "host"));
		if (pub && hn && strcmp(hn, h->host) == 0 && cx_is_lower_hex(pub, 64) &&
		    cx_hex_decode(pub, 64, h->pk, 32))
			h->registered = true;
	}
}

static void take_live(cx_fleet *f, const json_t *kvs, size_t plen)
{
	const json_t *kv;
	size_t i;

	json_array_foreach(kvs, i, kv) {
		_cleanup_free_ char *key = NULL;
		_cleanup_free_ uint8_t *val = NULL;
		size_t len = 0;
		cx_fleet_host *h;
		if (kv_get(kv, plen, 0, &key, &val, &len) == 0 && (h = cx_fleet_find(f, key + plen)))
			h->live = true;
	}
}

/* The rollout's own keys other than the store's: hosts/, slots/, driver. */
static void take_rollout_keys(cx_fleet *f, const json_t *kvs, size_t plen)
{
	const json_t *kv;
	size_t i;

	json_array_foreach(kvs, i, kv) {
		_cleanup_free_ char *key = NULL;
		_cleanup_free_ uint8_t *val = NULL;
		size_t len = 0;
		const char *leaf;
		bool is_host, is_slot;
		if (kv_get(kv, plen, 0, &key, &val, &len) < 0)
			continue; /* the store's pass refused malformed keys already */
		leaf = key + plen;
		is_host = strncmp(leaf, "hosts/", 6) == 0;
		is_slot = strncmp(leaf, "slots/", 6) == 0;
		if (!is_host && !is_slot && strcmp(leaf, "driver") != 0)
			continue;
		free(key);
		/* a value over its cap, or not base64: that entry alone is not
		 * trusted (a report: shown as such; a slot: counted as held; the
		 * lock: held by "?"), so one host cannot spoil everyone's read */
		bool bad = kv_get(kv, plen, is_host ? CX_HOST_REPORT_MAX_BYTES : 256, &key, &val, &len) < 0;
		if (!key)
			continue;
		leaf = key + plen;
		if (bad) {
			cx_fleet_host *bh = is_host ? cx_fleet_find(f, leaf + 6) : NULL;
			if (bh)
				snprintf(bh->report_error, sizeof(bh->report_error),
					 "its report in etcd is oversized or not base64");
			else if (is_slot)
				json_object_set_new(f->slots, leaf + 6, json_string("?"));
			else if (!is_host)
				snprintf(f->driver, sizeof(f->driver), "?");
			continue;
		}
		if (is_slot) {
			json_object_set_new(f->slots, leaf + 6, json_stringn((char *)val, len));
		} else if (!is_host) {
			_cleanup_json_ json_t *j = cx_json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
			const char *who = json_string_value(json_object_get(j, "holder"));
			snprintf(f->driver, sizeof(f->driver), "%s", who && cx_id_ok(who) ? who : "?");
		} else {
			cx_fleet_host *h = cx_fleet_find(f, leaf + 6);
			cx_error rerr = { 0 };
			cx_host_report rep = { 0 };
			if (!h)
				continue; /* a host the rollout does not list: ignored */
			if (!h->registered)
				snprintf(h->report_error, sizeof(h->report_error),
					 "a report, but the host never registered its key");
			else if (cx_host_report_verify(h->pk, val, len, &rep, &rerr) < 0)
				snprintf(h->report_error, sizeof(h->report_error), "%.180s", rerr.msg);
			else if (strcmp(rep.rollout_id, f->s.ro.rollout_id) != 0 ||
				 strcmp(rep.host, h->host) != 0 || rep.tier != (int64_t)h->tier + 1) {
				snprintf(h->report_error, sizeof(h->report_error),
					 "a signed report for another rollout, host or tier");
				cx_host_report_free(&rep);
			} else {
				h->rep = rep;
				h->have_report = true;
			}
		}
	}
}

int cx_fleet_load(cx_etcd *e, int timeout_ms, const cx_keyring *kr, const char *rollout_id,
		  int64_t now, cx_fleet *ret, cx_error *err)
{
	_cleanup_(cx_fleet_free) cx_fleet f = { 0 };
	_cleanup_free_ char *pr = NULL, *pa = NULL, *pl = NULL;
	_cleanup_json_ json_t *kr_ = NULL, *ka = NULL, *kl = NULL;
	const char *P = cx_etcd_prefix(e);
	char cluster[24] = "";
	int64_t rev = 0;
	cx_etcd_outcome o;
	int r;

	if (!cx_is_lower_hex(rollout_id, 32))
		return cx_err(err, CX_E_USAGE, EINVAL, "'%.40s' is not a rollout id (32 lowercase hex)",
			      rollout_id);
	CX_CHECK(asprintf(&pr, "%srollouts/%s/", P, rollout_id) > 0);
	CX_CHECK(asprintf(&pa, "%sagents/", P) > 0);
	CX_CHECK(asprintf(&pl, "%slive/", P) > 0);
	/* three prefixes, in pages, at the first page's revision: one
	 * snapshot, however many hosts */
	o = cx_etcd_range_all(e, pr, false, 0, CX_FLEET_PAGE, CX_FLEET_ROLLOUT_KEYS_MAX,
			      cx_etcd_deadline(timeout_ms), &rev,
			      &kr_, NULL, cluster, err);
	if (o == CX_ETCD_ANSWERED)
		o = cx_etcd_range_all(e, pa, false, 0, CX_FLEET_PAGE, CX_FLEET_POOL_KEYS_MAX,
				      cx_etcd_deadline(timeout_ms), &rev,
				      &ka, NULL, NULL, err);
	if (o == CX_ETCD_ANSWERED)
		o = cx_etcd_range_all(e, pl, true, 0, CX_FLEET_KEYS_PAGE, CX_FLEET_POOL_KEYS_MAX,
				      cx_etcd_deadline(timeout_ms),
				      &rev, &kl, NULL, NULL, err);
	if (o != CX_ETCD_ANSWERED)
		return o == CX_ETCD_REFUSED ? -EPROTO : -ETIMEDOUT;
	r = cx_rollout_store_from_kvs(e, kr, rollout_id, now, kr_, rev, cluster, &f.s, err);
	if (r < 0)
		return r;
	f.hosts = cx_calloc(f.s.ro.nhosts ? f.s.ro.nhosts : 1, sizeof(*f.hosts));
	for (size_t t = 0; t < f.s.ro.ntiers; t++)
		for (size_t k = 0; k < f.s.ro.tiers[t].hosts.n; k++) {
			cx_fleet_host *h = &f.hosts[f.nhosts++];
			h->host = f.s.ro.tiers[t].hosts.v[k];
			h->tier = t;
		}
	f.slots = json_object();
	take_registrations(&f, ka, strlen(pa));
	take_live(&f, kl, strlen(pl));
	take_rollout_keys(&f, kr_, strlen(pr));
	f.started_at = f.s.started_at ? f.s.started_at : f.s.ro.issued_at;
	f.kr = kr;
	cx_fleet_eval(&f, now);
	*ret = TAKE_STRUCT(f);
	return 0;
}

/* ---- derived states ---------------------------------------------------- */

static int64_t body_time(const json_t *body, const char *name)
{
	const json_t *v = json_object_get(body, name);
	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

void cx_fleet_eval(cx_fleet *f, int64_t now)
{
	const cx_rollout *ro = &f->s.ro;
	const cx_rollout_progress *p = &f->s.prog;
	bool before_ok = true;     /* every tier before this one done, soaked, not failed */
	/* tier 1 opens when the rollout was started (issued_at when unknown) */
	int64_t before_soaked = f->started_at ? f->started_at : ro->issued_at;

	f->now = now;
	f->completed = f->failed = false;
	f->open_tier = f->deadline_tier = f->failed_tier = 0;
	for (size_t i = 0; i < f->nhosts; i++) {
		cx_fleet_host *h = &f->hosts[i];
		h->state = h->have_report ? h->rep.state : CX_HOST_WAITING;
		h->claimed_at = h->have_report ? body_time(h->rep.body, "claimed_at") : 0;
		h->finished_at = h->have_report ? body_time(h->rep.body, "finished_at") : 0;
		if ((h->state == CX_HOST_CLAIMED || h->state == CX_HOST_RUNNING) && !h->live)
			h->state = CX_HOST_LOST;
	}
	for (size_t t = 0; t < ro->ntiers; t++) {
		cx_fleet_tier *ft = &f->tiers[t];
		const cx_rollout_tier *rt = &ro->tiers[t];
		size_t n = 0;
		memset(ft, 0, sizeof(*ft));
		for (size_t c = 0; c < f->s.nctl; c++)
			if (f->s.ctl[c].action == CX_CONTROL_APPROVE && f->s.ctl[c].tier == (int64_t)t + 1) {
				ft->approved_at = f->s.ctl[c].issued_at;
				ft->approved_by = f->s.ctl[c].principal;
			}
		for (size_t i = 0; i < f->nhosts; i++) {
			const cx_fleet_host *h = &f->hosts[i];
			if (h->tier != t)
				continue;
			n++;
			if (cx_host_state_terminal(h->state))
				ft->terminal++;
			/* a halted host is a failure unless the rollout's own halt
			 * or rollback stopped it: a pause lets runs in flight
			 * finish, so a host halted while paused (a quota) failed
			 * (it was forgiven while paused, counted after resume) */
			if (h->state == CX_HOST_FAILED || h->state == CX_HOST_LOST ||
			    (h->state == CX_HOST_HALTED && (p->state == CX_ROLLOUT_RUNNING ||
							     p->state == CX_ROLLOUT_PAUSED)))
				ft->failures++;
			if (h->state == CX_HOST_COMMITTED || h->state == CX_HOST_ROLLED_BACK)
				ft->committed++;
			if (h->state == CX_HOST_CLAIMED || h->state == CX_HOST_RUNNING)
				ft->running++;
			if (h->finished_at > ft->done_at)
				ft->done_at = h->finished_at;
		}
		{
			char pfx[24];
			const char *k;
			const json_t *v;
			snprintf(pfx, sizeof(pfx), "%zu/", t + 1);
			json_object_foreach(f->slots, k, v)
				if (strncmp(k, pfx, strlen(pfx)) == 0)
					ft->slots_used++;
		}
		bool gate = rt->gate == CX_GATE_AUTO || (p->approved & (1u << t));
		if (before_ok && gate)
			ft->opened_at = rt->gate == CX_GATE_MANUAL && ft->approved_at > before_soaked
						? ft->approved_at
						: before_soaked;
		if (ft->failures > (size_t)rt->max_failures) {
			ft->phase = CX_TIER_FAILED;
			if (!f->failed_tier)
				f->failed_tier = (int)t + 1;
		} else if (ft->terminal == n && n > 0 && ft->opened_at) {
			ft->soaked_at = ft->done_at + rt->soak_s;
			ft->phase = now >= ft->soaked_at ? CX_TIER_DONE : CX_TIER_SOAKING;
		} else if (ft->opened_at) {
			ft->phase = CX_TIER_OPEN;
		} else {
			ft->phase = CX_TIER_WAITING;
			ft->done_at = 0;
		}
		if (ft->phase != CX_TIER_SOAKING && ft->phase != CX_TIER_DONE)
			ft->done_at = ft->phase == CX_TIER_FAILED ? ft->done_at : 0;
		if (ft->opened_at) {
			ft->deadline_at = ft->opened_at + rt->deadline_s;
			ft->deadline_passed = ft->phase != CX_TIER_DONE && ft->phase != CX_TIER_FAILED &&
					      now >= ft->deadline_at;
			if (ft->deadline_passed && !f->deadline_tier)
				f->deadline_tier = (int)t + 1;
		}
		if (ft->phase == CX_TIER_OPEN && !f->open_tier)
			f->open_tier = (int)t + 1;
		before_ok = before_ok && ft->phase == CX_TIER_DONE;
		before_soaked = ft->soaked_at;
	}
	f->failed = f->failed_tier != 0;
	f->completed = before_ok && !f->failed;
}

const char *cx_fleet_state(const cx_fleet *f)
{
	if (f->s.prog.state == CX_ROLLOUT_RUNNING && f->completed)
		return "completed";
	return cx_rollout_state_name(f->s.prog.state);
}
