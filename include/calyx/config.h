/* calyx configuration: root-owned JSON (default /etc/calyx/calyx.conf).
 *   { "keyring":   "/etc/calyx/keyring.json",
 *     "policy":    "/etc/calyx/policy.json",
 *     "state_dir": "/var/lib/calyx",
 *     "audit_log": "/var/log/calyx/audit.jsonl",
 *     "host_key":  "/etc/calyx/host.key",
 *     "host_id":   "build-01",             (optional)
 *     "run_uid": 65534, "run_gid": 65534,   (optional: the unprivileged host
 *                                            ids sandboxed commands run as)
 *     "pack_max_age_s": 2592000, "pack_max_bytes": 1073741824 }
 *                                           (optional: rollback pack pruning)
 * Every path absolute and normalized; unknown keys refused.
 * Trust: root-owned, StrictModes-checked before parsing. */
#ifndef CALYX_CONFIG_H
#define CALYX_CONFIG_H

#include <sys/types.h>
#include "calyx/common.h"

#define CX_CONFIG_DEFAULT "/etc/calyx/calyx.conf"
#define CX_CONFIG_MAX_BYTES (64u * 1024)

typedef struct cx_config {
	char *path;
	char *keyring, *policy, *state_dir, *audit_log, *host_key;
	char *host_id; /* NULL when not configured */
	uint32_t run_uid, run_gid; /* default 65534 (nobody/nogroup) */
	int64_t pack_max_age_s;    /* rollback packs kept this long (default 30 days; 0: forever) */
	uint64_t pack_max_bytes;   /* and at most this much in all (default 1 GiB; 0: no cap) */
} cx_config;

int cx_config_parse(const uint8_t *buf, size_t len, cx_config *ret, cx_error *err);
int cx_config_load(const char *path, uid_t owner, cx_config *ret, cx_error *err);
void cx_config_free(cx_config *c);

#endif
