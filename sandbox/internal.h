/* Private to sandbox/: the steps spawn.c runs, in order, in the child.
 * Each returns 0 or -errno and fills err; none prints. */
#ifndef CALYX_SANDBOX_INTERNAL_H
#define CALYX_SANDBOX_INTERNAL_H

#include "calyx/sandbox.h"

#include <linux/filter.h>

/* view.c — in init, as root in the new mount namespace: build the file
 * view on cfg->root_dir and pivot_root into it. */
struct sbx_idmaps;
int sbx_view_build(const cx_sandbox_config *cfg, const struct sbx_idmaps *idm, cx_error *err);

/* idmap.c — idmapped mounts of writable trees (the why and the maps are
 * above its code). sbx_idmaps_prepare (parent, before clone3): one
 * process-less user namespace per owner of a writable tree's root,
 * mapping that owner's ids to the run's; sbx_idmaps_find: the one for an
 * owner (-1: none, the tree changed owner since); sbx_idmap_clone (init):
 * a detached idmapped clone of the mount at fd (E_LAYER where the file
 * system cannot). sbx_owner_allowed: a root-owned tree (uid or gid 0)
 * only when the policy allows it. */
struct stat;
#define SBX_IDMAPS_MAX 20
typedef struct sbx_idmaps {
	size_t n;
	struct {
		uid_t uid;
		gid_t gid;
		int fd;
		pid_t helper; /* killed, reaped by sbx_idmaps_close */
	} ns[SBX_IDMAPS_MAX];
} sbx_idmaps;
int sbx_idmaps_prepare(const cx_sandbox_config *cfg, sbx_idmaps *m, cx_error *err);
int sbx_idmaps_find(const sbx_idmaps *m, const struct stat *st);
void sbx_idmaps_close(sbx_idmaps *m);
int sbx_idmap_clone(int fd, int userns, const char *what, cx_error *err);
int sbx_owner_allowed(const char *path, const struct stat *st, bool root_allowed, cx_error *err);

/* net.c — bring loopback up (only when the policy allows loopback). */
int sbx_loopback_up(cx_error *err);

/* privs.c — payload: rlimits, then drop to run ids with no capability,
 * securebits locked, no_new_privs. */
int sbx_rlimits(const cx_limits *lim, cx_error *err);
int sbx_drop_privileges(uid_t uid, gid_t gid, cx_error *err);
/* init: keep uid 0 but give up every capability (it only reaps). */
int sbx_drop_caps_keep_uid(cx_error *err);

/* exec.c — payload, inside the view, still root: what may be executed
 * (the command, the lease's exec entries, their interpreters), paths
 * NULL-terminated for Landlock, the entries' fds held open (CLOEXEC).
 * An entry missing in the view, or through a symlink, fails the run. */
#define SBX_EXEC_MAX (3 * (1 + CX_SPEC_PATHS_MAX) + 1)
typedef struct sbx_exec_set {
	size_t n;
	char **paths; /* n entries, then NULL */
	int *fds;     /* -1 where the path is not an fd we hold */
} sbx_exec_set;
int sbx_exec_set_build(const cx_sandbox_config *cfg, const char *cmd_path, sbx_exec_set *ret,
		       cx_error *err);
void sbx_exec_set_free(sbx_exec_set *s);

/* landlock.c — payload, inside the view. exec_paths: files and
 * directories that may be executed (sbx_exec_set), NULL-terminated. */
int sbx_landlock_apply(const cx_sandbox_config *cfg, const char *const *exec_paths,
		       cx_layers *layers, cx_error *err);

/* elf.c — the program interpreter (PT_INTERP) of an ELF file, or the
 * "#!" interpreter of a script, as an absolute path; 0 and *ret = NULL
 * when there is none (static binary). Reads at most a few KiB. */
int sbx_interpreter(int dirfd, const char *path, char *ret, size_t retlen);

/* seccomp.c — the filter: compiled (or taken from the cache) in the
 * parent, installed by the payload as its last step before execve. */
typedef struct sbx_filter {
	struct sock_filter insns[BPF_MAXINSNS];
	unsigned short len; /* 0: none */
} sbx_filter;
int sbx_seccomp_prepare(const cx_sandbox_config *cfg, sbx_filter *f, cx_error *err);
int sbx_seccomp_install(const sbx_filter *f, cx_error *err);

#endif
