/* calyx-policy learn: the policy fragment and lease skeleton a learn run's
 * observations call for (policy/fragment.c; pure, no syscalls). */
#ifndef CALYX_LEARN_H
#define CALYX_LEARN_H

#include <jansson.h>
#include <stdio.h>

#include "calyx/common.h"
#include "calyx/spec.h"

#define CX_LEARN_RO_MAX 64 /* read entries suggested, at most */

/* What a learn run saw. Paths are real paths (symlinks resolved) as the
 * run's view names them (/work/... for the workspace). */
typedef struct cx_learn_obs {
	cx_strv argv;       /* the command as run, argv[0] its real path */
	cx_strv execs;      /* every file exec'd (any order, duplicates allowed) */
	cx_strv interps;    /* the ELF and #! interpreters among them: left out of exec */
	cx_strv opened;     /* files (or dirs, opened_is_dir[i]) opened */
	const bool *opened_is_dir; /* NULL: all files */
	cx_strv ro_roots;   /* --ro: read entries stay within these */
	cx_strv rw;         /* --rw, as given */
	const char *workspace; /* --workspace (host path), NULL: none */
	bool writes_in_workspace;
	uint64_t cpu_ms, peak_memory_bytes, pids_peak, wall_ms; /* measured */
} cx_learn_obs;

/* {"policy": {commands, exec, read}, "lease": {argv, exec, paths{ro,rw},
 * workspace?, cwd?, limits{cpu_ms, memory_bytes, pids, wall_ms}}}. */
int cx_learn_fragment(const cx_learn_obs *o, json_t **ret, cx_error *err);
/* The same for humans, every path escaped (calyx/esc.h). */
void cx_learn_print_text(FILE *out, const json_t *frag);

#endif
