/* Where calyx-exec's time goes: exclusive phase timers.
 *
 * One process-wide clock: calyx-exec's run path is single-threaded.
 * Entering a phase charges the time since the last switch to the phase
 * being left, so the phases add up to the whole run (from main's first
 * line). Times measured elsewhere (the sandbox child's steps, reported with
 * CLOCK_MONOTONIC stamps) are folded in with cx_phase_split. Work that
 * overlaps calyx-exec's own (the sandbox builds its view while calyx-exec
 * joins it to the v1 cgroups and arms the monitor) is charged once, to the
 * step calyx-exec was doing or waiting on, so the table is the critical
 * path. Figures are for people (calyx-exec
 * --timings, the result's timings_us), never for decisions. */
#ifndef CALYX_TIMINGS_H
#define CALYX_TIMINGS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cx_phase {
	CX_PH_CONFIG,     /* config, keyring, policy, host key */
	CX_PH_VERIFY,     /* read the lease, 2 signatures, policy, spec */
	CX_PH_RECOVER,    /* crashed runs, pack pruning, preflight, tree locks */
	CX_PH_CONSUME,    /* ledger claim (durable) and prune */
	CX_PH_WORKSPACE,  /* run dir, overlay upper/work dirs */
	CX_PH_CGROUP,     /* per-run cgroups created, stale ones reaped */
	CX_PH_MONITOR,    /* BPF monitor loaded and attached, control socket */
	CX_PH_SPAWN,      /* clone3 into the namespaces, cgroup join */
	CX_PH_MOUNTS,     /* the file view: tmpfs root, binds, overlay, pivot */
	CX_PH_PRIVILEGES, /* payload fork, rlimits, ids, capabilities */
	CX_PH_LANDLOCK,   /* ruleset built and enforced */
	CX_PH_SECCOMP,    /* filter built (or taken from the cache) and loaded */
	CX_PH_EXEC,       /* execve until the parent sees it done */
	CX_PH_WAIT,       /* supervising the command until it exits */
	CX_PH_HALT,       /* a breach: freeze, kill, until the cgroup is empty */
	CX_PH_COMMIT,     /* the workspace's changes landed */
	CX_PH_ROLLBACK,   /* the workspace's changes discarded */
	CX_PH_AUDIT,      /* signed, chained audit lines (and their syncs) */
	CX_PH_RESULT,     /* the result file */
	CX_PH_CLEANUP,    /* monitor, cgroups, sockets, locks released */
	CX_PH__COUNT
} cx_phase;

int64_t cx_mono_ns(void);                 /* CLOCK_MONOTONIC in ns */
void cx_timings_start(void);              /* the clock starts, in CONFIG */
cx_phase cx_phase_enter(cx_phase p);      /* returns the phase left */
/* Charge the time from the last switch up to until_ns to p and stay in the
 * current phase; until_ns is clamped to [last switch, now] (stamps from
 * another process are trusted for nothing but this sum). */
void cx_phase_split(cx_phase p, int64_t until_ns);
const char *cx_phase_name(cx_phase p);
int64_t cx_phase_ns(cx_phase p);          /* charged so far */
json_t *cx_timings_json(void);            /* {phase: us, ..., "total": us} */
void cx_timings_print(FILE *f);           /* a table in ms, one line per phase */

#endif
