/* The lease verifier: the single gate between a file anyone can write and
 * a privileged run. Order and reasons: calyx/lease.h.
 *
 * Invariants:
 *  - no field of the body is looked at before both signatures verified;
 *  - the body is parsed from exactly the bytes that were verified;
 *  - roles come from the keyring only; one human and one agent, two
 *    distinct keys, is a hard rule, not a threshold;
 *  - the clock is read once, by the caller (in->now).
 * Trust: runs as root on hostile input; fails closed at every step. */
#include "calyx/lease.h"

#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/policy.h"

int cx_envelope_check_sigs(const cx_doc_type *t, const cx_keyring *kr, const cx_envelope *e,
			   const cx_key **ret_keys, cx_error *err)
{
	_cleanup_free_ uint8_t *pae = NULL;
	size_t pae_len;

	CX_CHECK(e->nsig <= CX_LEASE_SIGS);
	cx_pae(e->payload_type, e->payload, e->payload_len, &pae, &pae_len);
	for (size_t i = 0; i < e->nsig; i++) {
		const cx_key *k = cx_keyring_find(kr, e->sigs[i].keyid);

		if (!k)
			return cx_err(err, CX_E_UNKNOWN_KEY, EPERM,
				      "signature %zu is by key %.16s… which is not in the keyring (add its .pub.json with 'calyx-lease keyring add')",
				      i + 1, e->sigs[i].keyid);
		if (k->revoked)
			return cx_err(err, CX_E_REVOKED, EPERM,
				      "signature %zu is by key %.16s… ('%s') which is revoked (have a current key re-sign)",
				      i + 1, k->keyid, k->principal);
		for (size_t p = 0; p < i; p++)
			/* keyids are unique per public key in a loaded
			 * keyring, so comparing the keys is the real check */
			if (memcmp(ret_keys[p]->pk, k->pk, 32) == 0)
				return cx_err(err, CX_E_DUP_SIGNER, EPERM,
					      "key '%s' signed twice; two different keys must sign (%s)",
					      k->principal, t->sig_rule);
		if (crypto_sign_verify_detached(e->sigs[i].sig, pae, pae_len, k->pk) != 0)
			return cx_err(err, CX_E_BAD_SIG, EPERM,
				      "signature %zu by '%s' does not verify (the %s was changed after signing, or signed by another tool; re-sign it)",
				      i + 1, k->principal, t->what);
		ret_keys[i] = k;
	}
	return 0;
}

int cx_signers_two_keys(const cx_doc_type *t, const cx_key *const *keys, size_t n, cx_error *err)
{
	size_t humans = 0, agents = 0;

	for (size_t i = 0; i < n; i++) {
		CX_CHECK(keys[i]);
		humans += keys[i]->role == CX_ROLE_HUMAN;
		agents += keys[i]->role == CX_ROLE_AGENT;
	}
	if (humans != 1 || agents != 1 || n != 2)
		return cx_err(err, CX_E_ROLE_MISSING, EPERM,
			      "%s is signed by %zu human and %zu agent keys; exactly one of each is required (have the missing role sign)",
			      t->what, humans, agents);
	return 0;
}

static int check_signatures(const cx_verify_input *in, const cx_envelope *e,
			    cx_lease *l, cx_error *err)
{
	const cx_key *keys[CX_LEASE_SIGS] = { 0 };
	int r;

	CX_CHECK(e->nsig == CX_LEASE_SIGS);
	r = cx_envelope_check_sigs(&cx_doc_lease, in->keyring, e, keys, err);
	if (r == 0)
		r = cx_signers_two_keys(&cx_doc_lease, keys, e->nsig, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < e->nsig; i++) {
		CX_CHECK(keys[i]); /* cx_envelope_check_sigs filled one per signature */
		memcpy(l->signer[i].keyid, keys[i]->keyid, 65);
		l->signer[i].role = keys[i]->role;
		l->signer[i].principal = cx_strdup(keys[i]->principal);
	}
	l->nsigner = e->nsig;
	return 0;
}

static int check_window(const cx_verify_input *in, const cx_lease *l, cx_error *err)
{
	const cx_policy *p = in->policy;
	int64_t skew = p->clock_skew_s;

	if (l->issued_at > in->now + skew)
		return cx_err(err, CX_E_NOT_YET_VALID, EPERM,
			      "lease was issued %lld s in the future (check the signer's clock)",
			      (long long)(l->issued_at - in->now));
	if (in->now + skew < l->not_before)
		return cx_err(err, CX_E_NOT_YET_VALID, EPERM,
			      "lease is not valid for another %lld s (wait, or issue a new lease)",
			      (long long)(l->not_before - in->now));
	if (in->now - skew >= l->not_after)
		return cx_err(err, CX_E_EXPIRED, EPERM,
			      "lease expired %lld s ago (issue and sign a new lease)",
			      (long long)(in->now - l->not_after));
	if (l->not_after - l->not_before > p->max_lifetime_s)
		return cx_err(err, CX_E_LIFETIME, EPERM,
			      "lease is valid for %lld s, the policy allows at most %lld s (issue a shorter lease)",
			      (long long)(l->not_after - l->not_before), (long long)p->max_lifetime_s);
	return 0;
}

static int check_audience(const cx_verify_input *in, const cx_lease *l, cx_error *err)
{
	const char *pool = cx_lease_pool(l);

	if (pool) {
		for (size_t i = 0; i < in->n_pools; i++)
			if (strcmp(in->pools[i], pool) == 0)
				return 0;
		return cx_err(err, CX_E_AUDIENCE, EPERM,
			      "lease is for pool '%s', this host ('%s') is not in it (run it on a host of the pool, or add the pool to config.pools)",
			      pool, in->host_id ? in->host_id : "(no host_id configured)");
	}
	if (l->audience) {
		if (!in->host_id || strcmp(l->audience, in->host_id) != 0)
			return cx_err(err, CX_E_AUDIENCE, EPERM,
				      "lease is for host '%s', this host is '%s' (run it on its host)",
				      l->audience, in->host_id ? in->host_id : "(no host_id configured)");
	} else if (in->policy->require_audience) {
		return cx_err(err, CX_E_AUDIENCE, EPERM,
			      "lease names no audience and the policy requires one (issue it with \"audience\": \"%s\")",
			      in->host_id ? in->host_id : "<host_id>");
	}
	return 0;
}

int cx_lease_verify(const cx_verify_input *in, const uint8_t *buf, size_t len,
		    cx_lease *ret, cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_lease_free) cx_lease signers = { 0 }, l = { 0 };
	cx_run_spec eff = { 0 };
	int r;

	CX_CHECK(in && in->keyring && in->policy);
	r = cx_envelope_parse(buf, len, CX_LEASE_SIGS, CX_LEASE_SIGS, &e, err);
	if (r < 0)
		return r;
	/* Signatures are checked before the body is parsed: the parser never
	 * sees bytes no trusted key vouched for. */
	r = check_signatures(in, &e, &signers, err);
	if (r < 0)
		return r;
	r = cx_lease_body_parse(e.payload, e.payload_len, &l, err);
	if (r < 0)
		return r;
	memcpy(l.signer, signers.signer, sizeof(l.signer));
	l.nsigner = signers.nsigner;
	signers = (cx_lease){ 0 }; /* the principals are l's now */
	if ((r = check_window(in, &l, err)) < 0 || (r = check_audience(in, &l, err)) < 0)
		return r;
	if (strcmp(l.policy_sha256, in->policy->sha256_hex) != 0)
		return cx_err(err, CX_E_POLICY_HASH, EPERM,
			      "lease is bound to policy %.16s…, this host's policy is %.16s… (re-issue the lease for the current policy)",
			      l.policy_sha256, in->policy->sha256_hex);
	r = cx_policy_resolve(in->policy, &l.spec, &eff, err);
	if (r < 0)
		return r;
	cx_run_spec_free(&l.spec);
	l.spec = eff;
	*ret = TAKE_STRUCT(l);
	return 0;
}
