/* Policy: the ceiling a lease must fit under.
 *
 * Format: docs/formats.md "Policy". Parsed strictly (unknown keys
 * refused, exact types, bounded sizes); `limits.max` and `limits.default`
 * must name every limit but the workspace quotas (disk_bytes, inodes: left
 * out, the built-in values of cx_limit_builtin apply, and max.v/def.v hold
 * them; max.set/def.set say what the file named), defaults must not
 * exceed maxima; `syscalls.deny` names must be syscalls libseccomp knows;
 * `unix_sockets` are normal paths, at most CX_POLICY_SOCKETS_MAX. The SHA-256 is taken over the
 * exact bytes that are parsed.
 * Trust: a root-owned file written by the security team; leases are
 * hostile and checked against it by cx_policy_resolve. */
#ifndef CALYX_POLICY_H
#define CALYX_POLICY_H

#include <stdint.h>
#include "calyx/common.h"
#include "calyx/spec.h"

#define CX_POLICY_MAX_BYTES (1u << 20)
#define CX_POLICY_LIFETIME_MAX (31LL * 24 * 3600) /* hard bound on max_lifetime_s */
#define CX_POLICY_SKEW_MAX 3600LL                 /* hard bound on clock_skew_s */
#define CX_POLICY_SOCKETS_MAX 64                   /* entries of unix_sockets */

typedef struct cx_policy {
	cx_strv commands, read, write;
	/* "exec": what processes of a run may execute besides the command
	 * (normal paths as seen in the view: files, or directories meaning
	 * every file beneath), ≤ CX_SPEC_PATHS_MAX; a lease names the subset
	 * it needs, each of its entries equal to or beneath one of these. */
	cx_strv exec;
	cx_strv env_allow;
	cx_env env_set;
	cx_limits max, def;
	uint32_t network_mask; /* bit per cx_network */
	int64_t max_lifetime_s, clock_skew_s;
	bool require_audience;
	bool landlock_optional; /* "landlock": "optional" (default "required") */
	bool exec_guard_optional; /* "exec_guard": "optional" (default "required") */
	bool dev_shm;           /* "dev_shm": true gives runs a private /dev/shm */
	bool workspace_wait;    /* "workspace_lock": "wait" (default "refuse") */
	bool root_owned_trees;  /* "root_owned_trees": "allow" (default "refuse"): a
				 * workspace or rw tree owned by root (uid or gid 0)
				 * may be mounted with root's files owned by the run */
	cx_strv syscalls_deny;
	/* Host unix sockets runs may connect to (normal paths, "unix_sockets"),
	 * reachable when the lease mounts a tree holding them; every other
	 * host socket in a leased tree stays out of reach (sandbox/view.c). */
	cx_strv unix_sockets;
	uint8_t sha256[32];
	char sha256_hex[65];
} cx_policy;

int cx_policy_parse(const uint8_t *buf, size_t len, cx_policy *ret, cx_error *err);
int cx_policy_load(const char *path, uid_t owner, cx_policy *ret, cx_error *err);
void cx_policy_free(cx_policy *p);

/* Check a lease's requested spec against the policy and build the
 * effective spec: limits defaulted, env = policy "set" plus the lease's
 * allowed names. Fails naming the broken rule (CX_E_POLICY_*). */
int cx_policy_resolve(const cx_policy *p, const cx_run_spec *req,
		      cx_run_spec *ret, cx_error *err);

/* A shell, interpreter or program runner: whoever writes the argv of such a
 * command writes a program (lint rule CX101, the co-signer's risk review,
 * policy diff). Judged by the basename; the list is in policy/lint.c. */
bool cx_command_is_interpreter(const char *path);
/* The two kinds: an interpreter runs its argv in-process (Landlock's
 * execute rule does not help); a runner execs the programs its argv names
 * (held to itself while Landlock lets a run execute only its command). */
typedef enum cx_command_kind { CX_CMD_PLAIN, CX_CMD_INTERPRETER, CX_CMD_RUNNER } cx_command_kind;
cx_command_kind cx_command_classify(const char *path);

#endif
