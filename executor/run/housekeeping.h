/* Start-of-run housekeeping shared by calyx-exec and calyx-ctl (private
 * to executor/): recover what crashed runs left, sweep their leftovers,
 * prune rollback packs.
 * Trust: runs as root on the root-only state dir. */
#ifndef CALYX_EXECUTOR_HOUSEKEEPING_H
#define CALYX_EXECUTOR_HOUSEKEEPING_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

typedef void (*cx_hk_report)(const char *lease_id, const char *action, bool ok, const char *msg,
			     void *arg);

/* For every STATE/runs/<lease_id> whose run is gone (its directory lock
 * can be taken): finish or undo an interrupted commit (journal present),
 * else discard the run's writes. Reports each; returns how many. */
int cx_recover_runs(const cx_state *s, cx_hk_report report, void *arg);

/* What killed runs leave that recovery does not own, removed at the next
 * start: STATE/runs/<lease_id>.new (an early failure between the run
 * dir's mkdir and its rename; unlocked and older than CX_HK_STALE_S) and
 * STATE/run/<lease_id>.sock with no supervisor listening (older than
 * CX_HK_STALE_S, so a starting run between bind and listen keeps its
 * socket), and the exact-path lock files STATE/locks/<sha256>.lock of
 * earlier versions (nothing takes them any more; the overlap-aware locks
 * remove a dead holder's file themselves). Returns how many were removed. */
#define CX_HK_STALE_S 60
int cx_sweep_stale(const cx_state *s, int64_t now);

/* Remove rollback packs (STATE/packs/<lease_id>) older than max_age_s (0:
 * no age limit), then the oldest while all packs together exceed
 * max_bytes (0: no size limit). */
int cx_prune_packs(const cx_state *s, int64_t now, int64_t max_age_s, uint64_t max_bytes,
		   cx_hk_report report, void *arg);

#endif
