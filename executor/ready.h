/* Is this host ready to run leases? The checks calyx-exec makes at a run's
 * start (config, keyring, policy, host key, state dir, audit log, run
 * uids, sandbox layers, BPF), made up front and read-only, as one table:
 * calyx-exec --probe and calyx-ctl init print it (private to executor/).
 * Trust: runs as root on the root-owned config; changes nothing (no
 * file, directory, pin or cache is created). */
#ifndef CALYX_EXECUTOR_READY_H
#define CALYX_EXECUTOR_READY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Print the table on out, one row per item ("ok", "note", "WARN",
 * "MISSING"), then "host ready: ..." or "host not ready: N missing ...".
 * Returns the number of MISSING rows (0: ready). */
int cx_host_check(const char *config_path, FILE *out);

/* Whether run ids first..first+count-1 are free of the host's users and
 * groups (/etc/passwd, /etc/group) and of the subordinate ranges
 * (/etc/subuid, /etc/subgid) user namespaces hand out; when not, what
 * overlaps, in why (a phrase). */
bool cx_uid_range_free(uint32_t first, uint32_t count, char *why, size_t why_len);

#endif
