/* calyx common helpers: errors with reason codes, cleanup attributes,
 * invariant checks.
 *
 * Invariants:
 *  - functions that can fail return int: >= 0 success, -errno failure, and
 *    fill a cx_error (reason code + one human line) when one is given;
 *  - out-parameters named ret_* are written only on success;
 *  - CX_CHECK() aborts in every build (never compiled out like assert()).
 *
 * Trust: pure helpers, no privilege. */
#ifndef CALYX_COMMON_H
#define CALYX_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CX_VERSION "0.1.0"

/* Stable reason codes. The names (cx_reason_name) are part of the
 * interface: they appear in messages, the audit log and result JSON, and
 * tests assert them. Append only; never renumber. */
typedef enum cx_reason {
	CX_OK = 0,
	CX_E_USAGE,            /* bad command line */
	CX_E_IO,               /* file cannot be opened or read */
	CX_E_NOT_REGULAR,      /* symlink, FIFO, device or directory where a file was expected */
	CX_E_TOO_BIG,          /* input above its size cap */
	CX_E_INSECURE_FILE,    /* owner or mode unsafe (StrictModes) */
	CX_E_JSON,             /* malformed JSON, duplicate key, bad UTF-8, NUL */
	CX_E_ENVELOPE,         /* DSSE envelope fields wrong */
	CX_E_PAYLOAD_TYPE,     /* payloadType is not the calyx lease type */
	CX_E_BASE64,           /* not canonical padded standard base64 */
	CX_E_SIG_COUNT,        /* not exactly two signatures */
	CX_E_SIG_LEN,          /* signature not 64 bytes */
	CX_E_KEYID,            /* keyid not 64 lowercase hex */
	CX_E_UNKNOWN_KEY,      /* keyid not in keyring */
	CX_E_REVOKED,          /* keyid in keyring's revoked list */
	CX_E_DUP_SIGNER,       /* the same key signed twice */
	CX_E_BAD_SIG,          /* signature does not verify */
	CX_E_ROLE_MISSING,     /* not exactly one human and one agent */
	CX_E_KEYRING,          /* keyring file invalid */
	CX_E_DUP_KEY,          /* a public key appears twice in the keyring */
	CX_E_KEYID_MISMATCH,   /* keyid != SHA-256(public key) */
	CX_E_BODY,             /* lease body field missing, unknown or wrong type */
	CX_E_TIME,             /* time field malformed or out of range */
	CX_E_NOT_YET_VALID,
	CX_E_EXPIRED,
	CX_E_LIFETIME,         /* validity window longer than policy allows */
	CX_E_AUDIENCE,
	CX_E_POLICY_HASH,      /* lease bound to another policy */
	CX_E_POLICY,           /* policy file invalid */
	CX_E_POLICY_COMMAND,   /* command not allowed by policy */
	CX_E_POLICY_PATH,      /* path outside the allowed trees */
	CX_E_POLICY_LIMIT,     /* limit above the policy ceiling */
	CX_E_POLICY_ENV,       /* env name not allowed / overrides a fixed value */
	CX_E_POLICY_NETWORK,   /* network mode not allowed */
	CX_E_PATH_NOT_NORMAL,  /* relative or non-normalized path */
	CX_E_REPLAY,           /* lease already consumed */
	CX_E_LEDGER,           /* ledger I/O failed: no run */
	CX_E_CONFIG,           /* configuration file invalid */
	CX_E_AUDIT,            /* audit log cannot be written or does not verify */
	CX_E_KEY,              /* secret key file invalid */
	CX_E_INTERNAL,
	CX_E_UNSUPPORTED,      /* this build cannot do what was asked */
	CX_E_SPAWN,            /* sandbox setup failed before execve (exit 125) */
	CX_E_LAYER,            /* a required isolation layer is missing on this host */
	CX_E_VIEW,             /* a leased path cannot be placed in the file view */
	CX_E_EXEC,             /* command cannot be executed (exit 126) */
	CX_E_NOT_FOUND,        /* command not found in the view (exit 127) */
	CX_E_WORKSPACE,        /* commit, rollback or undo of a workspace failed or was refused */
	CX_E_IDS,              /* no free run uid in config run_uid_range (exit 125) */
	CX_E_LEDGER_UNAVAILABLE, /* the shared ledger (etcd) did not decide in time: no run (exit 125) */
	CX_E_ROLLOUT,          /* rollout body field missing, unknown, wrong type or out of range */
	CX_E_ROLLOUT_TIERS,    /* tier percents/host counts break the tier arithmetic */
	CX_E_ROLLOUT_HOST,     /* a host listed twice, or not a member of the pool */
	CX_E_ROLLOUT_LEASE,    /* rollout not bound to this lease (hash, id, pool, count, window) */
	CX_E_CONTROL,          /* control document body invalid or bound to another rollout */
	CX_E_CONTROL_ROLE,     /* control action needs a human key */
	CX_E_CONTROL_SEQ,      /* control seq not above the last seen (replayed or stale) */
	CX_E_ROLLOUT_STARTED,  /* the rollout is already published in etcd (it starts once) */
	CX_E_ROLLOUT_STATE,    /* control action not allowed in the rollout's state */
	CX_E__COUNT
} cx_reason;

const char *cx_reason_name(int reason);

/* Is this reason a refusal of the lease itself (exit 77), as opposed to a
 * host/configuration failure of calyx-exec (exit 125)? */
bool cx_reason_is_refusal(int reason);

/* Documented exit codes (README "Exit codes"). */
enum {
	CX_EXIT_REFUSED = 77,
	CX_EXIT_HALTED = 124,
	CX_EXIT_FAILURE = 125,
	CX_EXIT_CANNOT_EXEC = 126,
	CX_EXIT_NOT_FOUND = 127,
};

#define CX_ERR_MSG_MAX 512

typedef struct cx_error {
	int reason;                 /* cx_reason */
	int errnum;                 /* errno, or 0 */
	char msg[CX_ERR_MSG_MAX];   /* one line: what failed, then what to do */
} cx_error;

/* Set err (if non-NULL) and return -errnum (or -EINVAL when errnum is 0). */
int cx_err(cx_error *err, int reason, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend context: "context: previous message". Reason unchanged. */
void cx_err_prefix(cx_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Aborts in every build: for security invariants, never for input errors. */
#define CX_CHECK(cond)                                                        \
	do {                                                                  \
		if (__builtin_expect(!(cond), 0))                            \
			cx_check_failed(#cond, __FILE__, __LINE__);          \
	} while (0)
_Noreturn void cx_check_failed(const char *expr, const char *file, int line);

/* Cleanup attributes (systemd style). Ownership leaves a scope only through
 * TAKE_PTR / TAKE_FD. */
static inline void cx_freep(void *p) { free(*(void **)p); }
static inline void cx_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void cx_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cx_freep)
#define _cleanup_close_ _cleanup_(cx_closep)
#define _cleanup_fclose_ _cleanup_(cx_fclosep)
#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })
/* The same for a struct held by value under _cleanup_(its_free):
 * *ret = TAKE_STRUCT(l); hands its contents on and leaves l zeroed, so
 * its free at scope exit does nothing. */
#define TAKE_STRUCT(s) ({ __typeof__(s) _ts = (s); memset(&(s), 0, sizeof(s)); _ts; })

/* Typed cleanup (systemd's DEFINE_TRIVIAL_CLEANUP_FUNC):
 *  - a handle held by pointer: CX_DEFINE_POINTER_CLEANUP(cx_ledger,
 *    cx_ledger_close) defines cx_ledger_closep(cx_ledger **), which closes
 *    a non-NULL handle, for _cleanup_(cx_ledger_closep) cx_ledger *l = NULL;
 *  - a struct held by value is cleaned by its own free, which every module
 *    keeps safe on a zeroed struct and on a second call:
 *    _cleanup_(cx_policy_free) cx_policy pol = { 0 };
 *  - a pair of fds (pipe, socketpair): _cleanup_close_pair_ int p[2] = { -1, -1 };
 * (Child processes: the sandbox's is reaped with __WALL by sandbox/spawn.c's
 * own steps, the detached deleter's by its double fork; no generic helper.) */
#define CX_DEFINE_POINTER_CLEANUP(type, fn)                                   \
	static inline void fn##p(type **p)                                    \
	{                                                                     \
		if (*p)                                                       \
			fn(*p);                                               \
	}
static inline void cx_close_pairp(int (*p)[2])
{
	cx_closep(&(*p)[0]);
	cx_closep(&(*p)[1]);
}
#define _cleanup_close_pair_ _cleanup_(cx_close_pairp)

#define CX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Wipe a secret so the compiler cannot elide it. */
void cx_wipe(void *p, size_t n);

/* Duplicate, aborting on OOM (allocation failure is not recoverable here). */
char *cx_strdup(const char *s);
/* A formatted string (malloc; aborts on out-of-memory). */
char *cx_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *cx_calloc(size_t n, size_t size);

#endif
