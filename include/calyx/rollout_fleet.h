/* The fleet side of a rollout: the hosts' agents, what they report, and
 * the state every reader derives from one read of etcd (docs/formats.md
 * "Rollout hosts in etcd"). Keys under the ledger's prefix P:
 *
 *   P agents/<host>                 registration: the host's public key
 *                                   (first registration wins; TOFU, see
 *                                   README "Rollouts": pin by comparing it
 *                                   with the host's calyx.pub)
 *   P live/<host>                   liveness: on an etcd lease of the
 *                                   agent's TTL, kept alive by the agent
 *   P rollouts/<id>/hosts/<host>    the host's latest report: a DSSE
 *                                   document (CX_HOST_PAYLOAD_TYPE) signed
 *                                   by its host key
 *   P rollouts/<id>/slots/<t>/<i>   a running slot of tier t (i <
 *                                   max_parallel), on the holder's
 *                                   liveness lease (a lost host frees it)
 *   P rollouts/<id>/driver          the driver's lock, on its etcd lease
 *
 * One read (cx_fleet_load) is one etcd transaction of ranges, so every
 * key comes from the same revision. Nothing read is trusted: the rollout
 * and its controls are verified (calyx/rollout_store.h), each report's
 * signature is checked against its host's registered key and its body
 * parsed strictly; a report that fails is shown as such and counts as
 * no report.
 *
 * How a rollout moves (cx_fleet_eval, pure given the read and a clock):
 *  - a host is lost when its last report says claimed or running and
 *    its liveness key is gone; lost counts as a failure;
 *  - tier k is done when every host of it is terminal (committed,
 *    failed, halted, lost, rolled back); it has soaked soak_s after its
 *    last host finished; it failed when its failures exceed max_failures;
 *  - tier k opens when every tier before it is done, soaked and not
 *    failed, and its gate is passed (auto: nothing more; manual: an
 *    approve control document for k); opened_at is the later of the two;
 *  - its deadline passes deadline_s after it opened while it has not
 *    soaked: the driver then applies on_deadline;
 *  - the rollout is completed when every tier is done, none failed and
 *    its state is running (a paused one reads paused until resumed).
 * Trust: pure code over hostile input, and etcd requests with bounds. */
#ifndef CALYX_ROLLOUT_FLEET_H
#define CALYX_ROLLOUT_FLEET_H

#include <jansson.h>
#include <stdint.h>

#include "calyx/etcd.h"
#include "calyx/rollout.h"
#include "calyx/rollout_store.h"

#define CX_HOST_PAYLOAD_TYPE "application/vnd.calyx.rollout-host.v1+json"
#define CX_HOST_REPORT_MAX_BYTES (16u * 1024)
#define CX_HOST_REPORT_BODY_MAX_BYTES (8u * 1024)
#define CX_HOST_MESSAGE_MAX 1024

extern const cx_doc_type cx_doc_host_report;

typedef enum cx_host_state {
	CX_HOST_WAITING = 1, /* nothing reported: its tier is not open, or it has not claimed */
	CX_HOST_CLAIMED,     /* slot claimed, calyx-exec starting */
	CX_HOST_RUNNING,
	CX_HOST_COMMITTED,   /* ran, validated and committed */
	CX_HOST_FAILED,      /* refused, failed, or the command or validate failed */
	CX_HOST_HALTED,      /* halted by the rollout's halt (or a quota) */
	CX_HOST_LOST,        /* claimed or running, and its liveness key expired */
	CX_HOST_ROLLED_BACK, /* its committed run undone by the rollout's rollback */
} cx_host_state;

const char *cx_host_state_name(cx_host_state s);
int cx_host_state_parse(const char *s, cx_host_state *ret);
bool cx_host_state_terminal(cx_host_state s);

/* A host's report, its body parsed strictly (v, rollout_id, host, tier,
 * seq, state, at required; the rest optional, each of its type). */
typedef struct cx_host_report {
	char rollout_id[33];
	char host[CX_ID_MAX + 1];
	int64_t tier;   /* 1-based */
	int64_t seq;    /* rises with every report of this host for this rollout */
	cx_host_state state;
	int64_t at;
	json_t *body;   /* the whole verified body, for the view */
} cx_host_report;

void cx_host_report_free(cx_host_report *r);
int cx_host_report_body_parse(const uint8_t *buf, size_t len, cx_host_report *ret,
			      cx_error *err);
/* Verify a report document against the host's public key. */
int cx_host_report_verify(const uint8_t pk[32], const uint8_t *buf, size_t len,
			  cx_host_report *ret, cx_error *err);

typedef enum cx_tier_phase {
	CX_TIER_WAITING = 1, /* not open */
	CX_TIER_OPEN,        /* hosts may claim */
	CX_TIER_SOAKING,     /* every host done, soak running */
	CX_TIER_DONE,        /* soaked */
	CX_TIER_FAILED,      /* failures above max_failures */
} cx_tier_phase;

const char *cx_tier_phase_name(cx_tier_phase p);

typedef struct cx_fleet_host {
	const char *host;          /* in the rollout's body */
	size_t tier;               /* 0-based */
	bool registered, live;
	uint8_t pk[32];
	bool have_report;          /* a report that verified */
	char report_error[200];    /* why a report present did not verify ("" none) */
	cx_host_report rep;
	cx_host_state state;       /* derived (lost, waiting) */
	int64_t claimed_at, finished_at;
} cx_fleet_host;

typedef struct cx_fleet_tier {
	cx_tier_phase phase;
	int64_t opened_at, done_at, soaked_at, deadline_at; /* 0: not yet */
	bool deadline_passed;
	size_t failures, committed, running, terminal, slots_used;
	int64_t approved_at;       /* manual: the approve document's issued_at */
	const char *approved_by;
} cx_fleet_tier;

typedef struct cx_fleet {
	cx_rollout_store s;
	const cx_keyring *kr;      /* the keyring it was verified with (caller's) */
	cx_fleet_host *hosts;      /* every host of the rollout, tier order */
	size_t nhosts;
	cx_fleet_tier tiers[CX_ROLLOUT_TIERS_MAX];
	json_t *slots;             /* {"<tier>/<i>": "<host>"} as read */
	char driver[CX_ID_MAX + 1];/* the driver lock's holder ("" none) */
	int64_t started_at;        /* when start published it (P rollouts/<id>/started); 0: issued_at */
	/* derived by cx_fleet_eval */
	int64_t now;
	bool completed, failed;    /* every tier done; some tier failed */
	int open_tier;             /* 1-based tier open for claims, 0 none */
	int deadline_tier;         /* 1-based tier whose deadline passed, 0 none */
	int failed_tier;
} cx_fleet;

void cx_fleet_free(cx_fleet *f);
/* One read of everything a rollout's readers need, verified, then
 * cx_fleet_eval at now. */
int cx_fleet_load(cx_etcd *e, int timeout_ms, const cx_keyring *kr, const char *rollout_id,
		  int64_t now, cx_fleet *ret, cx_error *err);
/* Derive host states and tier phases (pure). */
void cx_fleet_eval(cx_fleet *f, int64_t now);
/* The host's entry, or NULL when the rollout does not list it. */
cx_fleet_host *cx_fleet_find(cx_fleet *f, const char *host);
/* The rollout's state as people read it: running, paused, halted,
 * completed, rolled_back. */
const char *cx_fleet_state(const cx_fleet *f);
/* The view of docs/formats.md "Rollout view" (status --json, report). */
json_t *cx_fleet_view(const cx_fleet *f);

/* ---- the agents' writes ------------------------------------------------ */

/* Register host with its public key (first one wins). 0 when registered
 * now or before with the same key; E_CONFIG when another key holds it. */
int cx_fleet_register(cx_etcd *e, int timeout_ms, const char *host, const uint8_t pk[32],
		      int64_t now, cx_error *err);
/* Put P live/<host> on etcd lease lease_id. */
int cx_fleet_live(cx_etcd *e, int timeout_ms, const char *host, const char *lease_id,
		  int64_t now, cx_error *err);
/* Sign a report body with the host key: the envelope (caller frees). */
char *cx_host_report_sign(const json_t *body, const uint8_t seed[32], cx_error *err);

/* Claim a slot of the host's tier in one transaction comparing what f
 * read: the control documents (latest key's mod_revision: no pause, halt
 * or rollback slipped in, and the approval verified is still the last
 * word), the host's report key (never claimed before), a free slot of the
 * tier, and the pool ledger key of the lease at ledger_mod_rev (the host
 * not in it: read by the caller). On success the claim report (doc) and
 * the slot (on the liveness lease) are written. 1: claimed; 0: lost the
 * race or no free slot (read again); < 0: etcd failed (no claim). */
int cx_fleet_claim(cx_etcd *e, int timeout_ms, const cx_fleet *f, const cx_fleet_host *h,
		   const char *live_lease, int64_t ledger_mod_rev, const char *doc,
		   char *ret_slot, size_t slot_size, cx_error *err);
/* The pool ledger key's mod_revision for lease_id and whether host holds
 * it already. */
int cx_fleet_ledger_rev(cx_etcd *e, int timeout_ms, const char *lease_id, const char *host,
			int64_t *ret_mod_rev, bool *ret_holds, cx_error *err);
/* Put a report; with slot (a key leaf "t/i", not NULL) also free it. */
int cx_fleet_report(cx_etcd *e, int timeout_ms, const char *rollout_id, const char *host,
		    const char *doc, const char *slot, cx_error *err);
/* Take or keep the driver lock (on etcd lease lease_id): 1 held, 0 held
 * by another. */
int cx_fleet_driver_lock(cx_etcd *e, int timeout_ms, const char *rollout_id, const char *holder,
			 const char *lease_id, cx_error *err);

#endif
