/* calyx configuration: root-owned JSON (default /etc/calyx/calyx.conf).
 *   { "keyring":   "/etc/calyx/keyring.json",
 *     "policy":    "/etc/calyx/policy.json",
 *     "state_dir": "/var/lib/calyx",
 *     "audit_log": "/var/log/calyx/audit.jsonl",
 *     "host_key":  "/etc/calyx/host.key",
 *     "host_id":   "build-01",             (optional)
 *     "run_uid_range": {"first": 1879048192, "count": 65536},
 *                                           (optional: each run gets its own
 *                                            uid = gid from this range, held
 *                                            by a lock for the run's life)
 *     "run_uid": 65534, "run_gid": 65534,   (optional, instead of the range:
 *                                            one fixed id for every run —
 *                                            weaker, runs share it)
 *     "pack_max_age_s": 2592000, "pack_max_bytes": 1073741824,
 *                                           (optional: rollback pack pruning)
 *     "bpf_pin_dir": "/sys/fs/bpf/calyx",    (optional: where the monitor's
 *                                            programs are pinned, loaded once
 *                                            per boot; "": every run loads its
 *                                            own, ~1 ms more per run)
 *     "pools": ["web"],                     (optional: the pools this host is
 *                                            in; a lease for "pool:web" runs
 *                                            here)
 *     "ledger": {"backend": "etcd",         (optional: default "dir", the
 *                "endpoints": ["http://127.0.0.1:23790"], local ledger only;
 *                "prefix": "calyx/",        "etcd": pool leases claimed in
 *                "timeout_ms": 2000,        etcd first, docs/formats.md)
 *                "ca", "cert", "key", "username", "password_file"},
 *     "audit_forward": {"journald": true,   (optional: every audit line also
 *                       "syslog": "/dev/log",  sent to journald and/or to
 *                       "syslog_facility": "authpriv"}  syslog, RFC 5424 over
 *                                            a local datagram socket;
 *                                            docs/audit-events.md) }
 * Every path absolute and normalized; unknown keys refused.
 * Trust: root-owned, StrictModes-checked before parsing. */
#ifndef CALYX_CONFIG_H
#define CALYX_CONFIG_H

#include <sys/types.h>
#include "calyx/common.h"
#include "calyx/etcd.h"

#define CX_CONFIG_DEFAULT "/etc/calyx/calyx.conf"
#define CX_CONFIG_MAX_BYTES (64u * 1024)
#define CX_RUN_UID_FIRST_DEFAULT 0x70000000u
#define CX_RUN_UID_COUNT_DEFAULT 65536u
#define CX_BPF_PIN_DIR_DEFAULT "/sys/fs/bpf/calyx"
#define CX_POOLS_MAX 64
#define CX_FWD_FACILITY_DEFAULT 10 /* authpriv */

typedef struct cx_config {
	char *path;
	char *keyring, *policy, *state_dir, *audit_log, *host_key;
	char *host_id; /* NULL when not configured */
	/* run_uid_fixed: every run as run_uid/run_gid (65534 when only one
	 * is named); else each run allocates uid = gid from the range
	 * (default 0x70000000 + 65536, above systemd-nspawn's block). */
	bool run_uid_fixed;
	uint32_t run_uid, run_gid;
	uint32_t run_uid_first, run_uid_count;
	int64_t pack_max_age_s;    /* rollback packs kept this long (default 30 days; 0: forever) */
	uint64_t pack_max_bytes;   /* and at most this much in all (default 1 GiB; 0: no cap) */
	char *bpf_pin_dir;         /* the shared monitor's pins; "": none (never NULL once parsed) */
	char *pools[CX_POOLS_MAX]; /* the pools this host is in */
	size_t n_pools;
	bool ledger_etcd;          /* ledger.backend "etcd" (else "dir") */
	cx_etcd_cfg etcd;          /* its settings, when ledger_etcd */
	/* audit_forward: where every audit line is also sent (nothing when
	 * the key is absent: fwd_journald false, fwd_syslog NULL) */
	bool fwd_journald;         /* journald's native protocol (libsystemd) */
	char *fwd_syslog;          /* path of a local datagram socket; NULL: none */
	int fwd_facility;          /* syslog facility code (default 10, authpriv) */
} cx_config;

/* Is this host in pool name? */
bool cx_config_in_pool(const cx_config *c, const char *name);

int cx_config_parse(const uint8_t *buf, size_t len, cx_config *ret, cx_error *err);
int cx_config_load(const char *path, uid_t owner, cx_config *ret, cx_error *err);
void cx_config_free(cx_config *c);

#endif
