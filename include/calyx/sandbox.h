/* Sandbox: run one command in kernel-level isolation.
 *
 * Shape (sandbox/spawn.c holds the threat model and the order of steps):
 *   calyx-exec (root) --clone3(NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS|NEWCGROUP,
 *   PIDFD)--> init (pid 1 of the new pid namespace, still root in the
 *   initial user namespace): builds the file view (tmpfs root, bind mounts,
 *   /dev, /proc, /tmp, pivot_root), hostname, loopback; forks
 *   --> payload (pid 2): new session, fds, rlimits, cwd, drops to the run
 *   uid/gid with every capability and the bounding set cleared, securebits
 *   locked, no_new_privs, Landlock, seccomp last, execve(argv[0]) — never a
 *   shell, never a PATH search.
 * init reaps orphans and reports the payload's wait status; when
 * calyx-exec dies, init gets SIGKILL (PDEATHSIG) and the pid namespace
 * takes every process with it.
 *
 * Trust: the caller (executor) has verified the lease and resolved its spec
 * against the policy; everything here still treats paths as hostile
 * (symlinks are never followed out of their tree while building the view).
 */
#ifndef CALYX_SANDBOX_H
#define CALYX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "calyx/common.h"
#include "calyx/spec.h"

/* Which layers were in force for a run (reported in result JSON). */
typedef struct cx_layers {
	bool ns_pid, ns_mnt, ns_net, ns_ipc, ns_uts, ns_cgroup;
	int landlock_abi;      /* 0: not in force */
	bool landlock_net;     /* TCP bind/connect refused by Landlock */
	bool landlock_scoped;  /* abstract unix sockets and signals scoped */
	bool seccomp;
	bool no_new_privs;
	bool caps_dropped;
} cx_layers;

/* The most cgroup hierarchies a sandbox joins by itself (v1: memory,
 * pids, cpu, cpuacct, freezer; room to spare). */
#define CX_SANDBOX_JOIN_MAX 8

typedef struct cx_sandbox_config {
	const cx_run_spec *spec;      /* effective spec (policy-resolved) */
	const cx_strv *argv;          /* what to run; NULL: spec->argv */
	const cx_strv *syscalls_deny; /* extra syscalls from the policy */
	const char *root_dir;         /* an empty directory to mount the view on */
	uid_t run_uid;                /* host ids the command runs as (non-zero) */
	gid_t run_gid;
	bool landlock_optional;       /* policy allows running without Landlock */
	bool inherit_stdin;           /* lease asked for stdin */
	bool dev_shm;                 /* a private tmpfs at /dev/shm (policy) */
	bool root_owned_trees;        /* a root-owned writable tree may be mounted (policy) */
	/* calyx-policy learn: Landlock execute on every read and writable
	 * tree of the view, not only on the command and its interpreters */
	bool exec_anywhere;
	/* Host unix sockets the policy names (NULL: none): bound into the
	 * view where a leased tree holds them; no other host socket in a
	 * leased tree answers (sandbox/view.c). */
	const cx_strv *unix_sockets;
	/* Transactional writable trees: when set, the workspace (index 0)
	 * and each rw path (1..n, lease order) are overlays whose writes land
	 * in overlay_dirs[i]/upper (workdir overlay_dirs[i]/work); the host
	 * trees are never written by the run. NULL: plain read-write binds. */
	const char *const *overlay_dirs;
	int cgroup_fd;                /* >= 0: clone into this cgroup (monitor) */
	/* cgroup v1 "tasks" files open for writing (cx_cg_join_fds), at most
	 * CX_SANDBOX_JOIN_MAX: init writes "0" to each first thing, joining
	 * them itself, so the command it forks starts inside them. Owned by
	 * the caller. */
	const int *join_fds;
	size_t n_join_fds;
	/* Called in the parent while the sandbox builds itself (in parallel),
	 * before its command may exec: what must be in place when the command
	 * starts but not before the sandbox is set up (the BPF monitor). The
	 * command waits for it at a gate after its last setup step. Failure
	 * kills the child. */
	int (*before_exec)(pid_t pid, void *arg, cx_error *err);
	void *before_exec_arg;
	/* Optional: where compiled seccomp filters are cached, and the 32-byte
	 * key of their HMAC (derived from the host key). NULL: compile each
	 * time. */
	const char *seccomp_cache_dir;
	const uint8_t *seccomp_cache_mac_key;
} cx_sandbox_config;

/* Setup steps the sandbox stamps (CLOCK_MONOTONIC, for --timings only). */
enum {
	CX_SBX_VIEW_START,   /* init runs (after the parent's go) */
	CX_SBX_VIEW_DONE,    /* file view built, pivoted */
	CX_SBX_PRIVS_DONE,   /* payload: rlimits, ids, no capabilities */
	CX_SBX_LANDLOCK_DONE,
	CX_SBX_SECCOMP_DONE, /* the last step before execve */
	CX_SBX_EXEC_DONE,    /* the parent saw the execve succeed */
	CX_SBX__MARKS
};

typedef struct cx_sandbox {
	pid_t pid;       /* init, in our pid namespace */
	int pidfd;
	int status_fd;   /* init reports the payload's wait status here */
	int64_t started_ns;
	int64_t marks[CX_SBX__MARKS];
	cx_layers layers;
} cx_sandbox;

/* Start the sandbox and return once the command has been exec'd (or has
 * failed to start: then err says why, with reason CX_E_SPAWN / CX_E_EXEC_*
 * and the exit code to use in *ret_exit). */
int cx_sandbox_spawn(const cx_sandbox_config *cfg, cx_sandbox *ret, int *ret_exit,
		     cx_error *err);

typedef struct cx_sandbox_outcome {
	bool exited;     /* payload exited normally */
	int exit_code;   /* when exited */
	int signal;      /* when killed by a signal */
	int64_t wall_ns;
} cx_sandbox_outcome;

/* Wait for the sandbox to finish (the whole pid namespace gone). */
int cx_sandbox_wait(cx_sandbox *sb, cx_sandbox_outcome *ret, cx_error *err);
/* Kill every process of the sandbox now (SIGKILL to init: the pid
 * namespace dies with it). */
int cx_sandbox_kill(cx_sandbox *sb);
void cx_sandbox_release(cx_sandbox *sb);

/* Would the lease's paths fit in the view (not "/", not on the view's own
 * /proc, /sys, /dev, /tmp, /work, nothing listed twice)? Pure; the
 * executor calls it before consuming a lease. */
int cx_sandbox_check_spec(const cx_run_spec *spec, cx_error *err);

/* What a run will execute, checked on this host before a lease is
 * consumed (calyx-exec, --dry-run, calyx-lease verify/new): argv[0],
 * validate.argv[0] and each exec entry must lie in the view (/work, a
 * leased ro or rw path) and, at the host path the view shows there (the
 * workspace for /work/...), exist without a symlink anywhere in the path
 * and be an executable regular file (an exec entry: or a directory).
 * Refusals are one line naming the path, and for a symlink the real path
 * to write instead: E_NOT_FOUND (missing or outside the view, exit 127),
 * E_EXEC (symlink, not executable, exit 126). */
int cx_sandbox_check_exec_host(const cx_run_spec *spec, cx_error *err);
/* One path on this host (what: "command", "exec entry"...): the same
 * checks, as calyx-policy check makes them for a policy's entries.
 * allow_dir: a directory is acceptable (exec entries). */
int cx_sandbox_check_exec_path(const char *path, const char *what, bool allow_dir,
			       cx_error *err);
/* Before a lease is consumed: may the writable tree at path be mounted
 * idmapped for this run (not owned by root, uid or gid 0, unless
 * root_allowed)? E_POLICY_PATH when not; 0 also when it cannot be opened
 * (the view reports that). */
int cx_sandbox_check_owner(const char *path, bool root_allowed, cx_error *err);

/* Before a lease is consumed: are the layers this run requires present
 * (Landlock unless optional, seccomp filters, the new mount API)? Fails
 * with CX_E_LAYER naming the missing one. Side-effect free. */
int cx_sandbox_preflight(bool landlock_optional, cx_error *err);

/* Host support, for --probe and for fail-closed checks. */
typedef struct cx_host_support {
	bool userns;          /* unprivileged user namespaces possible */
	bool ns_all;          /* pid, mnt, net, ipc, uts, cgroup namespaces */
	int landlock_abi;     /* 0: none */
	bool seccomp_filter;
	bool seccomp_kill_process;
	const char *cgroup_layout; /* "v2", "hybrid", "v1", "none" */
	bool bpf_btf;         /* /sys/kernel/btf/vmlinux present */
	bool overlayfs;
	bool open_tree;       /* new mount API */
} cx_host_support;

void cx_host_probe(cx_host_support *ret);

/* Landlock ABI the kernel offers (0 when unavailable). */
int cx_landlock_abi(void);

/* The ELF loader (PT_INTERP) the kernel runs for the host file `path`,
 * or for the interpreter of a "#!" script; 0 and "" when none (static, or
 * not a program). For the BPF loader guard. */
int cx_elf_loader(const char *path, char *ret, size_t retlen);

#endif
