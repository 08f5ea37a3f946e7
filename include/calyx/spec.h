/* The run specification: what a lease asks to run and with what view,
 * environment and limits. Shared vocabulary of executor (which parses it
 * from a verified lease body), policy (which checks it against a ceiling)
 * and, later, sandbox and monitor (which enforce it).
 *
 * Invariants after cx_spec_*_from_json succeed: every path is normal
 * (calyx/path.h), argv[0] is absolute, env names match
 * [A-Za-z_][A-Za-z0-9_]* and are unique, every count and length is within
 * the CX_SPEC_* bounds below.
 * Trust: pure. */
#ifndef CALYX_SPEC_H
#define CALYX_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "calyx/common.h"

#define CX_SPEC_ARGV_MAX 256        /* argv entries */
#define CX_SPEC_ARG_MAX 4096        /* bytes per argv entry */
#define CX_SPEC_ENV_MAX 64          /* env entries */
#define CX_SPEC_ENV_VAL_MAX 4096
#define CX_SPEC_ENV_NAME_MAX 128
#define CX_SPEC_PATHS_MAX 64        /* entries per path list */

enum cx_limit {
	CX_LIM_CPU_MS,
	CX_LIM_MEMORY_BYTES,
	CX_LIM_PIDS,
	CX_LIM_WALL_MS,
	CX_LIM_NOFILE,
	CX_LIM_FSIZE_BYTES,
	CX_LIM_TMP_BYTES,
	CX_LIM_DISK_BYTES, /* the workspace quota: what a run's writes occupy */
	CX_LIM_INODES,     /* and how many files, dirs and links it may leave */
	CX_LIM_EXECS,      /* exec events of a run (spawned + denied), each audited */
	CX_LIM__COUNT
};

typedef struct cx_limits {
	uint64_t v[CX_LIM__COUNT];
	uint32_t set; /* bit i set when v[i] was given */
} cx_limits;

const char *cx_limit_name(int i);
/* Absolute sanity bound for each limit, whatever a policy says. */
uint64_t cx_limit_hard_max(int i);
/* The workspace quotas (disk_bytes, inodes) and the exec quota (execs)
 * are optional in a policy (it predates them); every other limit is
 * required. For an optional limit a
 * policy leaves out, the built-in value is its maximum and its default
 * (0 for a required limit). */
bool cx_limit_optional(int i);
uint64_t cx_limit_builtin(int i);

typedef struct cx_strv {
	size_t n;
	char **v;
} cx_strv;

typedef struct cx_env {
	size_t n;
	char **name;
	char **value;
} cx_env;

typedef enum cx_network {
	CX_NET_NONE = 0,
	CX_NET_LOOPBACK = 1,
} cx_network;
const char *cx_network_name(cx_network n);
int cx_network_parse(const char *s, cx_network *ret);

typedef struct cx_run_spec {
	cx_strv argv;
	cx_strv validate_argv; /* n == 0: no validate step */
	char *cwd;
	cx_env env;
	char *workspace;       /* host path seen at /work; NULL: none */
	cx_strv ro, rw;
	/* What processes of the run may execute besides argv[0] (lease "exec"):
	 * normal paths as seen in the view, files or directories (everything
	 * beneath), each within a policy "exec" entry; ≤ CX_SPEC_PATHS_MAX. */
	cx_strv exec;
	cx_limits limits;
	cx_network network;
	bool stdin_inherit;    /* lease "stdin": "inherit" (default "null") */
} cx_run_spec;

void cx_strv_free(cx_strv *s);
void cx_env_free(cx_env *e);
void cx_run_spec_free(cx_run_spec *s);
bool cx_strv_contains(const cx_strv *s, const char *x);
const char *cx_env_get(const cx_env *e, const char *name);
int cx_strv_push(cx_strv *s, const char *x);
int cx_env_push(cx_env *e, const char *name, const char *value);

/* A variable name the loader, a shell or an interpreter turns into code or
 * library search (LD_*, BASH_ENV, IFS, PYTHONPATH...). Never passed from a
 * lease, never allowed or set by a policy. */
bool cx_env_name_is_dangerous(const char *name);
bool cx_env_name_is_valid(const char *name);

/* JSON -> spec pieces, with `what` naming the field in messages and
 * `reason` the code to report. */
enum { CX_STRV_PATHS = 1 << 0, CX_STRV_NONEMPTY = 1 << 1, CX_STRV_UNIQUE = 1 << 2 };
int cx_strv_from_json(const json_t *arr, const char *what, int reason,
		      size_t max_n, size_t max_len, unsigned flags,
		      cx_strv *ret, cx_error *err);
int cx_env_from_json(const json_t *obj, const char *what, int reason,
		     cx_env *ret, cx_error *err);
/* require_all: every limit that is not optional must be given. */
int cx_limits_from_json(const json_t *obj, const char *what, int reason,
			bool require_all, cx_limits *ret, cx_error *err);

#endif
