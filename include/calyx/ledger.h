/* Replay ledger: a lease runs at most once on a host, even across crashes.
 *
 * Interface (claim, is-claimed, prune) with a local-directory backend; a
 * fleet backend on a shared strongly consistent store plugs in behind the
 * same table without touching the verifier.
 *
 * Local backend: STATE_DIR/ledger/<lease_id>, created with
 * openat(O_CREAT|O_EXCL|O_NOFOLLOW), written, fsync'd, then the directory
 * fsync'd (the two fsyncs at the claim, or at cx_ledger_sync for a
 * deferred claim). Entry content (JSON, one line):
 *   {"lease_id":"…","run_id":"…","consumed_at":1795334400,
 *    "not_after":1795336200,"prune_after":1795336260,"pid":1234}
 * The claim is the *existence* of the name: an entry left empty by a crash
 * between create and write still burns the lease (fail closed).
 * prune removes only entries whose prune_after (not_after + the clock skew
 * in force at claim time) has passed, i.e. whose lease could no longer
 * verify; unreadable entries are kept and counted.
 * Trust: runs as root; lease_id is validated (32 lowercase hex) here again
 * before it becomes a file name. */
#ifndef CALYX_LEDGER_H
#define CALYX_LEDGER_H

#include <stdint.h>
#include "calyx/common.h"

typedef struct cx_claim {
	const char *lease_id;
	const char *run_id;
	int64_t consumed_at;
	int64_t not_after;
	int64_t prune_after;
	/* The entry is created and written, its fsync left to cx_ledger_sync:
	 * the caller overlaps it with work that has no side effect and syncs
	 * before anything of the run can happen (calyx-exec: before the exec
	 * gate opens). A claim never synced was never used: no command ran. */
	bool defer_sync;
	/* A pool lease (the etcd backend; NULL pool for a host's own):
	 * claimed in the pool's ledger by this host, count hosts at most. */
	const char *pool;
	const char *host_id;
	const char *lease_sha256; /* of the lease file: what the holders ran */
	int64_t count;
	/* Recorded in the local entry when set (the pool claim's etcd
	 * cluster id and revision). */
	const char *cluster_id;
	int64_t revision;
	struct cx_claim_out *out; /* optional: what the pool claim found */
} cx_claim;

/* What a pool claim leaves for the caller's audit events and messages. */
typedef struct cx_claim_out {
	bool ambiguous;        /* an answer was lost and never resolved */
	char cluster_id[24];   /* etcd's, decimal */
	int64_t revision;      /* of the winning write (or the holders seen) */
	char holders[512];     /* "host-a, host-b": who holds it (on E_REPLAY too) */
	unsigned n_holders;
	unsigned attempts;     /* transactions sent */
	int64_t claim_us;      /* from the first request to the decision */
} cx_claim_out;

typedef struct cx_ledger cx_ledger;

typedef struct cx_ledger_ops {
	const char *name;
	/* 0: claimed by us. CX_E_REPLAY: someone claimed it before.
	 * CX_E_LEDGER: could not record durably — do not run. */
	int (*claim)(cx_ledger *l, const cx_claim *c, cx_error *err);
	/* The last claim durable (a no-op when it already is). CX_E_LEDGER:
	 * it could not be made so — do not run (the lease stays used). */
	int (*sync)(cx_ledger *l, cx_error *err);
	/* 1 claimed, 0 not, < 0 error. */
	int (*is_claimed)(cx_ledger *l, const char *lease_id, cx_error *err);
	int (*prune)(cx_ledger *l, int64_t now, unsigned *ret_removed, unsigned *ret_kept,
		     cx_error *err);
	void (*close)(cx_ledger *l);
} cx_ledger_ops;

struct cx_ledger {
	const cx_ledger_ops *ops;
};

/* Open (creating, mode 0700) the directory backend at dir. */
int cx_ledger_open_dir(const char *dir, cx_ledger **ret, cx_error *err);

/* The pool backend: claims go to etcd first (one linearizable transaction
 * per decision, executor/lease/ledger_etcd.c), then, for the winner, to
 * the directory backend at dir, which also answers is_claimed, sync and
 * prune (this host's runs). */
struct cx_etcd_cfg;
int cx_ledger_open_etcd(const struct cx_etcd_cfg *cfg, const char *dir, cx_ledger **ret,
			cx_error *err);

/* calyx-ctl ledger: who holds lease_id in the pool's ledger, as the JSON
 * value stored there (NULL when no one: *ret_rev 0). Linearizable read. */
int cx_ledger_etcd_show(const struct cx_etcd_cfg *cfg, const char *lease_id, void **ret_json,
			int64_t *ret_rev, char ret_cluster[24], cx_error *err);

static inline int cx_ledger_claim(cx_ledger *l, const cx_claim *c, cx_error *err)
{
	return l->ops->claim(l, c, err);
}
static inline int cx_ledger_sync(cx_ledger *l, cx_error *err)
{
	return l->ops->sync(l, err);
}
static inline int cx_ledger_is_claimed(cx_ledger *l, const char *id, cx_error *err)
{
	return l->ops->is_claimed(l, id, err);
}
static inline void cx_ledger_close(cx_ledger *l)
{
	if (l)
		l->ops->close(l);
}
CX_DEFINE_POINTER_CLEANUP(cx_ledger, cx_ledger_close)

#endif
