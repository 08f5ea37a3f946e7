/* Rollouts: a pool lease rolled out in tiers, and the control documents
 * that pause, resume, halt, approve and roll it back.
 *
 * Both are calyx DSSE documents (calyx/lease.h: one envelope parser, one
 * signature check, one signing path for every type):
 *  - a rollout (CX_ROLLOUT_PAYLOAD_TYPE) is signed like a lease: exactly
 *    two signatures, one human and one agent key of the keyring. Body:
 *    docs/formats.md "Rollout body": which hosts of the lease's pool run it
 *    in which tier, each tier's gate, soak, parallelism, deadline and
 *    failure budget, what to do on a failure or a deadline, and a validity
 *    window within the lease's;
 *  - a control document (CX_CONTROL_PAYLOAD_TYPE) carries exactly one
 *    signature: pause and halt by any keyring key (stopping is the safe
 *    direction; the automatic driver may halt), resume and approve by a
 *    human key only, rollback by a human key, or by an agent key when the
 *    rollout's own on_failure is "rollback". It names the rollout by id and by the
 *    SHA-256 of the signed rollout file, and a seq that must rise strictly
 *    per rollout (the verifier is given the last seq it saw).
 *
 * Verification order (cx_rollout_verify), each failure with its own reason
 * code: envelope (size, JSON, keys, payloadType, base64, count); each
 * signature (known, not revoked, not twice, Ed25519 over PAE); roles (one
 * human, one agent); body (strict: shape E_ROLLOUT, tier arithmetic
 * E_ROLLOUT_TIERS, a host twice E_ROLLOUT_HOST); validity window against
 * the clock; the lease: the SHA-256 of its exact file bytes, its own two
 * signatures by the same keyring, its id, its pool, its count and its
 * window (E_ROLLOUT_LEASE); the pool's members when given (E_ROLLOUT_HOST).
 * cx_control_verify: envelope; the one signature; body (E_CONTROL); bound
 * to this rollout (E_CONTROL); the signer's role allows the action
 * (E_CONTROL_ROLE); seq above the last seen (E_CONTROL_SEQ); not issued in
 * the future.
 *
 * Invariants: no body byte is parsed before its signatures verified (the
 * verifiers); bodies are parsed from exactly the verified bytes; roles
 * come from the keyring only; the clock is read once, by the caller.
 * Trust: pure code over hostile input (any host fetches these documents
 * from a store that orders them but never authorizes them). */
#ifndef CALYX_ROLLOUT_H
#define CALYX_ROLLOUT_H

#include <stdint.h>
#include "calyx/common.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"

#define CX_ROLLOUT_PAYLOAD_TYPE "application/vnd.calyx.rollout.v1+json"
#define CX_CONTROL_PAYLOAD_TYPE "application/vnd.calyx.rollout-control.v1+json"

/* 10,000 hosts of 128-byte ids fit in the body with room to spare. */
#define CX_ROLLOUT_BODY_MAX_BYTES (2u * 1024 * 1024)
#define CX_ROLLOUT_MAX_BYTES (3u * 1024 * 1024)
#define CX_ROLLOUT_TIERS_MAX 16
#define CX_ROLLOUT_HOSTS_MAX 10000
#define CX_ROLLOUT_SECONDS_MAX (31LL * 24 * 3600) /* soak_s, deadline_s */
#define CX_ROLLOUT_SKEW_S 60 /* clock skew when the caller has no policy's */
#define CX_CONTROL_MAX_BYTES (4u * 1024)
#define CX_CONTROL_BODY_MAX_BYTES 1024u
#define CX_CONTROL_SEQ_MAX (1LL << 53) /* exact in every JSON reader */

extern const cx_doc_type cx_doc_rollout, cx_doc_control;

typedef enum cx_gate {
	CX_GATE_MANUAL = 1, /* the tier opens on a human's approve control document */
	CX_GATE_AUTO = 2,   /* the tier opens once the tier before it soaked */
} cx_gate;

typedef enum cx_on_failure {
	CX_ON_FAILURE_HALT = 1,     /* stop: no new claims, runs in flight halted */
	CX_ON_FAILURE_ROLLBACK = 2, /* halt, then undo every committed host's run */
} cx_on_failure;

typedef enum cx_on_deadline {
	CX_ON_DEADLINE_HALT = 1,
	CX_ON_DEADLINE_PAUSE = 2, /* no new claims until a human resumes */
} cx_on_deadline;

const char *cx_gate_name(cx_gate g);
const char *cx_on_failure_name(cx_on_failure a);
const char *cx_on_deadline_name(cx_on_deadline a);

typedef struct cx_rollout_tier {
	char *name;            /* an id (calyx/lease.h cx_id_ok), unique in the rollout */
	int64_t percent;       /* 1..100: cumulative share of the hosts once it ran */
	cx_strv hosts;         /* >= 1 host ids, none in another tier */
	cx_gate gate;          /* how the tier opens */
	int64_t soak_s;        /* healthy time after its last host committed, before the next gate */
	int64_t max_parallel;  /* hosts of the tier running at once, >= 1 */
	int64_t deadline_s;    /* from opening to soaked; then on_deadline; > soak_s */
	int64_t max_failures;  /* failed or lost hosts tolerated; one more: on_failure; < hosts */
} cx_rollout_tier;

typedef struct cx_rollout {
	char rollout_id[33];
	char lease_id[33];
	char lease_sha256[65];
	char *pool;
	size_t ntiers;
	cx_rollout_tier tiers[CX_ROLLOUT_TIERS_MAX];
	size_t nhosts;         /* all tiers' hosts */
	cx_on_failure on_failure;
	cx_on_deadline on_deadline;
	int64_t issued_at, not_before, not_after;
	/* Filled by the verifiers: who signed, in envelope order. */
	struct {
		char keyid[65];
		cx_role role;
		char *principal;
	} signer[CX_LEASE_SIGS];
	size_t nsigner;
} cx_rollout;

/* Strict parse of a rollout body: shape, bounds, tier arithmetic (tier k's
 * cumulative host count is ceil(percent_k * nhosts / 100), percents rising
 * strictly to exactly 100), each host in one tier only. */
int cx_rollout_body_parse(const uint8_t *buf, size_t len, cx_rollout *ret, cx_error *err);
void cx_rollout_free(cx_rollout *ro);
/* Hosts of tiers 1..k together: ceil(percent * total / 100), the rule the
 * parser checks and calyx-rollout plan applies. */
size_t cx_rollout_cumulative(int64_t percent, size_t total);
/* The tier (0-based) listing host, or -1. */
int cx_rollout_host_tier(const cx_rollout *ro, const char *host);

/* Read a rollout file: regular, not a symlink, <= CX_ROLLOUT_MAX_BYTES. */
int cx_rollout_read(const char *path, uint8_t **ret_buf, size_t *ret_len, cx_error *err);

/* Signatures and body only (steps up to the body): what a control
 * document's verifier needs to know of its rollout, and what a reviewer
 * can check without the lease. */
int cx_rollout_verify_signed(const cx_keyring *kr, const uint8_t *buf, size_t len,
			     cx_rollout *ret, cx_error *err);

typedef struct cx_rollout_verify_input {
	const cx_keyring *keyring;
	const uint8_t *lease_buf;   /* the lease file's exact bytes */
	size_t lease_len;
	char *const *pool_hosts;    /* the pool's members; NULL: not checked here */
	size_t n_pool_hosts;
	int64_t now;                /* read once by the caller */
	int64_t clock_skew_s;       /* 0: CX_ROLLOUT_SKEW_S */
} cx_rollout_verify_input;

/* Full verification. On success *ret holds the body and its signers;
 * ret_lease (may be NULL) the lease's body and signers. */
int cx_rollout_verify(const cx_rollout_verify_input *in, const uint8_t *buf, size_t len,
		      cx_rollout *ret, cx_lease *ret_lease, cx_error *err);
/* The rollout's binding to its lease (the lease already parsed): id, pool,
 * count, window. Shared by the verifier and calyx-rollout plan. */
int cx_rollout_check_lease(const cx_rollout *ro, const cx_lease *l, cx_error *err);

/* ---- control documents ------------------------------------------------ */

typedef enum cx_control_action {
	CX_CONTROL_PAUSE = 1,
	CX_CONTROL_RESUME,
	CX_CONTROL_HALT,
	CX_CONTROL_APPROVE,
	CX_CONTROL_ROLLBACK,
} cx_control_action;

const char *cx_control_action_name(cx_control_action a);
int cx_control_action_parse(const char *s, cx_control_action *ret);
/* May a key of this role sign this action for rollout ro? pause and
 * halt: any role; resume and approve: human only; rollback: human, or an
 * agent key when ro's on_failure is "rollback" (the humans who signed the
 * rollout authorized its driver to roll it back; ro NULL: human only). */
bool cx_control_role_allows(cx_role role, cx_control_action a, const cx_rollout *ro);

typedef struct cx_control {
	char rollout_id[33];
	char rollout_sha256[65];
	int64_t seq;                /* 1..2^53 */
	cx_control_action action;
	int64_t tier;               /* approve: 1-based tier; otherwise 0 */
	int64_t issued_at;
	/* Filled by the verifier. */
	char keyid[65];
	cx_role role;
	char *principal;
} cx_control;

int cx_control_body_parse(const uint8_t *buf, size_t len, cx_control *ret, cx_error *err);
void cx_control_free(cx_control *c);
/* The body for these fields (pretty JSON, trailing newline). Caller frees. */
char *cx_control_body_dump(const cx_control *c);

typedef struct cx_control_verify_input {
	const cx_keyring *keyring;
	const cx_rollout *rollout;  /* verified (at least cx_rollout_verify_signed) */
	const uint8_t *rollout_buf; /* the signed rollout file's exact bytes */
	size_t rollout_len;
	int64_t last_seq;           /* highest seq seen for this rollout; 0: none */
	int64_t now;
	int64_t clock_skew_s;       /* 0: CX_ROLLOUT_SKEW_S */
} cx_control_verify_input;

int cx_control_verify(const cx_control_verify_input *in, const uint8_t *buf, size_t len,
		      cx_control *ret, cx_error *err);

/* ---- the rollout's state, from its control documents ------------------ */

/* The state a rollout's control documents put it in (pure: no clock, no
 * store). The state machine, applied to the verified documents in seq
 * order (docs/formats.md "Rollout state"):
 *
 *   state \ action  pause    resume   approve N        halt     rollback
 *   running         paused   refused  N = next manual  halted   rolled_back
 *   paused          refused  running  N = next manual  halted   rolled_back
 *   halted          refused  refused  refused          refused  rolled_back
 *   rolled_back     refused  refused  refused          refused  refused
 *
 * "N = next manual": tier N's gate is manual (the verifier checks that),
 * N is not approved yet, and every manual tier before N is approved
 * (tiers open in order; approving tier 3 before tier 2 is refused). An
 * approval while paused is recorded; the tier opens after a resume.
 * Refusals are E_ROLLOUT_STATE. `completed` is the agents' to report
 * (a later part), never a control document's. */
typedef enum cx_rollout_state {
	CX_ROLLOUT_RUNNING = 1,
	CX_ROLLOUT_PAUSED,
	CX_ROLLOUT_HALTED,
	CX_ROLLOUT_ROLLED_BACK,
} cx_rollout_state;

const char *cx_rollout_state_name(cx_rollout_state s);

typedef struct cx_rollout_progress {
	cx_rollout_state state;
	uint32_t approved;  /* bit k-1: tier k approved by a control document */
	int64_t last_seq;   /* seq of the last document applied; 0: none */
} cx_rollout_progress;

/* A rollout just started: running, nothing approved, no document. */
void cx_rollout_progress_init(cx_rollout_progress *p);
/* The lowest manual tier not approved yet (1-based), or 0: none left. */
int64_t cx_rollout_next_manual(const cx_rollout *ro, const cx_rollout_progress *p);
/* Apply one verified control document of this rollout: 0 and *p moved
 * on, or E_ROLLOUT_STATE (E_CONTROL_SEQ when c->seq is not above
 * p->last_seq) and *p unchanged. */
int cx_rollout_apply(const cx_rollout *ro, cx_rollout_progress *p, const cx_control *c,
		     cx_error *err);

#endif
