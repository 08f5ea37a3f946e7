/* Signing: add one signature to a DSSE envelope (calyx-lease sign, and
 * calyx-rollout sign and control for rollouts and their control documents).
 * Kept apart from envelope.c so that only the signing tools link it: calyx-exec
 * verifies leases and never needs to make one (make; nm build/calyx-exec
 * shows no cx_envelope_sign).
 * Trust: runs as the signer (any user), on a lease body calyx-lease has
 * already parsed; the expanded secret key lives on the stack only for the
 * call and is wiped on every path. */
#include "calyx/lease.h"

#include <sodium.h>
#include <string.h>

int cx_envelope_sign_as(const cx_doc_type *t, cx_envelope *e, const uint8_t seed[32],
			cx_error *err)
{
	uint8_t pk[32], sk[64];
	_cleanup_free_ uint8_t *pae = NULL;
	size_t pae_len;
	char keyid[65];

	CX_CHECK(t && t->nsig <= CX_LEASE_SIGS && e->payload_type &&
		 strcmp(e->payload_type, t->payload_type) == 0);
	if (e->nsig >= t->nsig)
		return cx_err(err, CX_E_SIG_COUNT, EINVAL,
			      "%s already carries %zu signature%s (%s)", t->what, t->nsig,
			      t->nsig == 1 ? "" : "s", t->sig_rule);
	crypto_sign_seed_keypair(pk, sk, seed);
	cx_keyid(pk, keyid);
	for (size_t i = 0; i < e->nsig; i++)
		if (strcmp(e->sigs[i].keyid, keyid) == 0) {
			cx_wipe(sk, sizeof(sk));
			return cx_err(err, CX_E_DUP_SIGNER, EEXIST,
				      "this key (%.12s) already signed the %s; the other role must sign",
				      keyid, t->what);
		}
	cx_pae(e->payload_type, e->payload, e->payload_len, &pae, &pae_len);
	crypto_sign_detached(e->sigs[e->nsig].sig, NULL, pae, pae_len, sk);
	cx_wipe(sk, sizeof(sk));
	memcpy(e->sigs[e->nsig].keyid, keyid, 65);
	e->nsig++;
	return 0;
}

int cx_envelope_sign(cx_envelope *e, const uint8_t seed[32], cx_error *err)
{
	return cx_envelope_sign_as(&cx_doc_lease, e, seed, err);
}
