/* Rollouts and their control documents in etcd (docs/formats.md
 * "Rollouts in etcd"), under the ledger's prefix P:
 *   P rollouts/<id>/rollout            the signed rollout file, exact bytes
 *   P rollouts/<id>/lease              the signed lease file it rolls out
 *   P rollouts/<id>/started            {"at": T}: when start published it
 *                                      (unsigned: only tier 1's opening
 *                                      time, clamped to [issued_at, now])
 *   P rollouts/<id>/control            the latest control document
 *   P rollouts/<id>/control/<seq>      every control document, seq zero-
 *                                      padded to 16 digits (the history)
 * No key carries an etcd lease (TTL): a rollout's record stays until an
 * operator deletes it, so a rollout cannot be started twice by its keys
 * expiring, nor its history vanish under a running fleet.
 *
 * Writes are single transactions: start creates rollout and lease only if
 * neither exists; a control document is published only if the latest key
 * is still the one read (mod_revision, or absent), its history key does
 * not exist, and the rollout key is unchanged, so two operators cannot
 * both publish seq N.
 *
 * etcd stores and orders, it never authorizes: cx_rollout_store_load
 * verifies everything it reads (the rollout's signatures and body, the
 * lease's bytes against the rollout's hash, every control document with
 * cx_control_verify in seq order, the history contiguous from 1 and its
 * last document byte-equal to the latest key, the state machine applied
 * to each) and fails closed on the first problem.
 * Trust: everything read from etcd is hostile input. */
#ifndef CALYX_ROLLOUT_STORE_H
#define CALYX_ROLLOUT_STORE_H

#include <stdint.h>

#include "calyx/common.h"
#include "calyx/etcd.h"
#include "calyx/keyring.h"
#include "calyx/rollout.h"

#define CX_ROLLOUT_CONTROLS_MAX 512 /* control documents one rollout may hold */
/* Reads of etcd in pages (cx_etcd_range_all), each page one reply under
 * CX_ETCD_REPLY_MAX: values CX_FLEET_PAGE keys at a time (the rollout
 * document, up to 4 MiB in base64, and 127 reports of at most 22 KB fit),
 * keys only CX_FLEET_KEYS_PAGE. The most keys one read takes: a rollout's
 * prefix (a report and a slot per host, its controls and a few more), a
 * pool's registrations or liveness keys, every rollout's keys (the
 * agent's listing). */
#define CX_FLEET_PAGE 128
#define CX_FLEET_KEYS_PAGE 2048
#define CX_FLEET_ROLLOUT_KEYS_MAX (2 * CX_ROLLOUT_HOSTS_MAX + CX_ROLLOUT_CONTROLS_MAX + 16)
#define CX_FLEET_POOL_KEYS_MAX 100000
#define CX_FLEET_LISTING_KEYS_MAX 200000

typedef struct cx_rollout_store {
	uint8_t *rollout_buf, *lease_buf;
	size_t rollout_len, lease_len;
	cx_rollout ro;              /* signatures and body verified */
	cx_rollout_progress prog;   /* the state its control documents give */
	cx_control *ctl;            /* verified, seq 1..nctl (allocated) */
	size_t nctl;
	int64_t rollout_mod_rev;    /* the rollout key's */
	int64_t rollout_create_rev; /* the revision the rollout started at */
	int64_t started_at;         /* when start published it (clamped); issued_at if absent */
	int64_t control_mod_rev;    /* the latest key's; 0: no control document yet */
	int64_t revision;           /* the store's revision when read */
	char cluster_id[24];
} cx_rollout_store;

void cx_rollout_store_free(cx_rollout_store *s);

/* Publish a verified rollout and its lease file (exact bytes): one
 * transaction, both keys created only if neither exists. 0 (and the
 * revision), E_ROLLOUT_STARTED when it already is, E_LEDGER_UNAVAILABLE
 * when etcd did not answer (*ret_ambiguous: it may have landed). */
int cx_rollout_store_start(cx_etcd *e, int timeout_ms, const cx_rollout *ro,
			   const uint8_t *rollout_buf, size_t rollout_len, const uint8_t *lease_buf,
			   size_t lease_len, int64_t *ret_rev, bool *ret_ambiguous, cx_error *err);

/* Read and verify a rollout's record (one linearizable range over its
 * keys). The rollout must be signed by the keyring's keys; control
 * documents are checked at `now`. E_ROLLOUT (ENOENT) when not started. */
int cx_rollout_store_load(cx_etcd *e, int timeout_ms, const cx_keyring *kr,
			  const char *rollout_id, int64_t now, cx_rollout_store *ret,
			  cx_error *err);

/* The same over the kvs of a range already read (every key under
 * P rollouts/<id>/, as etcd sent them) at revision: keys other than the
 * rollout's, its lease and its control documents are skipped here (the
 * agents' keys: calyx/rollout_fleet.h reads them). */
int cx_rollout_store_from_kvs(cx_etcd *e, const cx_keyring *kr, const char *rollout_id,
			      int64_t now, const json_t *kvs, int64_t revision,
			      const char *cluster_id, cx_rollout_store *ret, cx_error *err);

/* Publish a signed control document (its exact bytes, seq s->nctl + 1)
 * over the record s was loaded from: one transaction comparing what s
 * read. E_CONTROL_SEQ when the record changed meanwhile (nothing
 * published); E_LEDGER_UNAVAILABLE when etcd did not answer
 * (*ret_ambiguous: it may have landed). */
int cx_rollout_store_publish(cx_etcd *e, int timeout_ms, const cx_rollout_store *s,
			     const uint8_t *doc, size_t doc_len, int64_t *ret_rev,
			     bool *ret_ambiguous, cx_error *err);

#endif
