/* The run pipeline of calyx-exec (private to executor/): DESIGN's steps as
 * named phases over one run context, each in its own file.
 *
 *   run.c      the driver; 1 load (config, keyring, policy, host key, audit
 *              log), 2 verify (lease, spec), the dry run's ledger look,
 *              3 consume (recovery, preflight, tree locks, ledger claim)
 *   prepare.c  4 prepare: the view's mount point, the run dir with its
 *              overlay upper/work dirs, the tree locks
 *   once.c     5+6 one supervised sandbox run (the command, or its
 *              validate step): cgroups, BPF monitor, control socket,
 *              spawn, supervision and its audit events
 *   finish.c   7 finish: commit or roll back the workspace, the result
 *   record.c   what every phase records: audit events and their syncs,
 *              the result file, a refusal or failure's one line
 *   state.c    the state directory's layout (state.h)
 *   housekeeping.c  what crashed runs left; pack pruning
 *
 * Invariants: no side effect (ledger, audit, state) before the lease
 * verified; the lease is claimed before any side effect of the run, and
 * the claim is on disk before the command can start (its fsync overlaps
 * the sandbox's build and the exec gate waits for it: a crash before
 * that leaves a claim that may be lost, but no command ran); every event
 * of a run is in the log before anything of it lands.
 * Trust: runs as root on a lease file anyone may have written, with a
 * root-owned configuration (StrictModes). */
#ifndef CALYX_EXECUTOR_RUN_RUN_H
#define CALYX_EXECUTOR_RUN_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "calyx/audit.h"
#include "calyx/config.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/ledger.h"
#include "calyx/monitor.h"
#include "calyx/policy.h"
#include "calyx/workspace.h"
#include "state.h"

/* A phase's "go on" (any exit code is >= 0). */
#define CX_RUN_GO (-1)

/* calyx-policy learn's command line (learn.c). */
typedef struct cx_learn_args {
	cx_strv argv, ro, rw;
	const char *workspace;
	const char *limits_json; /* NULL, or a JSON object of limits */
	bool json;               /* --format json */
} cx_learn_args;

typedef struct cx_run {
	/* what the caller asked (main_exec.c) */
	const char *config_path, *lease_path, *result_path;
	bool dry_run;
	int64_t now; /* the one clock reading */
	/* 1 load */
	cx_config cfg;
	cx_keyring kr;
	cx_policy pol;
	cx_state state;
	cx_audit *audit; /* NULL in a dry run (and before the log opened) */
	uint8_t cache_mac_key[32]; /* for STATE/cache (seccomp), from the host key */
	cx_kern_offsets kernoff; /* read by the BPF preflight (have_kernoff), reused at arm */
	bool have_kernoff;
	/* 2 verify */
	uint8_t *lease_buf;
	size_t lease_len;
	char lease_sha256[65];
	cx_lease lease;
	bool have_lease;
	/* 3 consume */
	cx_ledger *ledger;
	int locks[CX_WS_TREES_MAX + 1]; /* the trees' (one fd for all), then the run dir's */
	size_t nlocks;
	int uid_lock; /* STATE/uids/<uid>.lock, flocked for the whole run (-1: fixed run_uid) */
	int fail_as; /* exit code class of a phase's failure (cx_run_fail's code) */
	/* the audit range of this run */
	uint64_t first_seq, last_seq;
	/* calyx-policy learn (learn.c): never commits; loader runs reported,
	 * not killed; execute allowed across the read view; every exec's
	 * name kept (up to CX_LEARN_EXECS_MAX distinct); the command's
	 * exec.finished details kept for the limits */
	bool learn;
	const cx_learn_args *learn_args;
	cx_strv learn_execs;
	cx_strv learn_loaders; /* loaders run as programs (ld.so PROGRAM) */
	cx_strv learn_opened;  /* files opened (view paths), up to CX_LEARN_OPENED_MAX */
	bool learn_opens_traced;
	uint64_t learn_opens_lost;
	uint64_t monitor_cpu_ns; /* CPU calyx-exec spent arming the BPF monitor (result cpu_us) */
	json_t *learn_fin;
} cx_run;
#define CX_LEARN_EXECS_MAX 4096
#define CX_LEARN_OPENED_MAX 65536

cx_run *cx_run_new(void);
void cx_run_free(cx_run *run);
CX_DEFINE_POINTER_CLEANUP(cx_run, cx_run_free)

/* ---- run.c: the driver ----------------------------------------------------- */
/* 1 load and 2 verify (a dry run opens no audit log): CX_RUN_GO, or the
 * exit code of the refusal or failure, already reported. */
int cx_run_load_verify(cx_run *run);
/* The dry run's read-only look at the ledger: CX_RUN_GO while the lease is
 * still runnable here, else the exit code (reported). */
int cx_run_dry_check(cx_run *run);
/* 3 consume, 4-7 prepare, spawn, supervise, finish: the exit code. */
int cx_run_execute(cx_run *run);

/* ---- record.c ---------------------------------------------------------------- */
/* Append an event (details stolen); on failure set *r (if still 0) and err. */
void cx_run_event(cx_run *run, const char *type, json_t *details, cx_error *err, int *r);
/* fdatasync the run's audit lines (see record.c for where and why). */
int cx_run_sync(cx_run *run, cx_error *err);
/* The result file (--result), if asked for; extra (stolen, may be NULL):
 * members merged in. */
void cx_run_write_result(cx_run *run, const char *status, const cx_error *err, int code,
			 json_t *extra);
/* Refusal or failure: audited (unless the log is what failed), result, one
 * line on stderr; the exit code (code < 0: from the reason). */
int cx_run_fail(cx_run *run, cx_error *err, int code);
/* lease.verified: who signed, both hashes, the limits and the body. */
int cx_run_record_verified(cx_run *run, cx_error *err);

/* ---- prepare.c --------------------------------------------------------------- */
typedef struct cx_run_trees {
	size_t n;                              /* [0] the workspace (may be NULL), then rw */
	const char *host[CX_WS_TREES_MAX];
	char dir[CX_WS_TREES_MAX][CX_STATE_PATH_MAX]; /* STATE/runs/<id>/scratch/tree<i> */
	char upper[CX_WS_TREES_MAX][CX_STATE_PATH_MAX + 8]; /* its upper dir */
	struct stat id[CX_WS_TREES_MAX];       /* the host tree as the view opens it */
	char run_dir[CX_STATE_PATH_MAX];
	char scratch[CX_STATE_FILE_MAX];       /* RUN_DIR/scratch: the run's tmpfs */
	bool mounted;                          /* scratch is mounted (here only) */
	cx_disk_quota disk;                    /* its quota; fd -1 when not mounted */
} cx_run_trees;

/* calyx-exec's own mount namespace, private (nothing propagates either
 * way): every mount it makes (the scratch tmpfs) vanishes with it, even
 * if it is killed. Before any mount; a failure refuses the run. */
int cx_run_private_mounts(cx_error *err);
/* The run's own uid = gid from config run_uid_range, into run->cfg.run_uid
 * and run_gid, held by run->uid_lock until calyx-exec exits (after the
 * run's cgroup is gone). Before the lease is consumed: an exhausted range
 * (E_IDS) keeps the lease. No-op with a fixed run_uid. */
int cx_run_alloc_uid(cx_run *run, cx_error *err);
/* Lock every writable tree of the lease (before it is consumed). */
int cx_run_lock_trees(cx_run *run, cx_error *err);
/* STATE/root, checked (the view's mount point). */
int cx_run_view_root(cx_run *run, cx_error *err);
/* The run dir, its scratch tmpfs (the workspace quota: disk_bytes,
 * inodes) and one overlay upper/work per tree in it; the run dir's lock
 * joins run->locks. */
int cx_run_prepare_dirs(cx_run *run, cx_run_trees *t, cx_error *err);
/* Unmount the scratch (what is left in it is gone: call it once the
 * commit is done or the run's writes are to be discarded); idempotent. */
void cx_run_scratch_release(cx_run_trees *t);

/* ---- once.c ------------------------------------------------------------------ */
/* One supervised sandbox run of argv. */
typedef struct cx_run_once {
	int exit_code;          /* what calyx-exec would exit with */
	bool ok;                /* exited 0, no halt */
	cx_halt_reason halt;
	json_t *fin;            /* result members (owned) */
} cx_run_once;

/* phase: "command" or "validate"; t: the writable trees and their
 * scratch (NULL: no writable tree). */
int cx_run_sandboxed_once(cx_run *run, const cx_run_trees *t, const cx_strv *argv,
			  const char *phase, cx_run_once *ret, cx_error *err);

/* ---- finish.c ---------------------------------------------------------------- */
/* 4-7 for a consumed lease: the exit code (result written, locks released). */
int cx_run_sandboxed(cx_run *run, cx_error *err);

/* calyx-policy learn (learn.c): load (config, policy, audit log), build
 * the learn run's spec (learn_spec, learn.c: audited run.learn), private
 * mounts, recovery, tree locks; no lease, no ledger. Returns CX_RUN_GO or
 * the exit code. */
int cx_run_learn_prepare(cx_run *run);
int cx_run_learn_spec(cx_run *run, cx_error *err);
/* The learn run, then its fragment on out (text or JSON); the exit code
 * (0: printed, whatever the command's exit; it is in the output). */
int cx_run_learn(cx_run *run, FILE *out);

#endif
