/* Monitor: per-run cgroups behind one interface, quota enforcement and
 * the supervision loop.
 *
 * cgroup backends, chosen at run time from what the host really has
 * (statfs of /sys/fs/cgroup and its children, /proc/cgroups):
 *   v2      unified hierarchy: memory.max, memory.swap.max=0,
 *           memory.oom.group=1, pids.max, cpu.max, memory.events,
 *           cgroup.kill, cgroup.freeze, cgroup.events, cpu.stat
 *   hybrid  v1 controllers for the limits (memory.limit_in_bytes and
 *           memsw, pids.max, cpu.cfs_quota_us, cpuacct) plus a directory
 *           in the unified hierarchy for membership (CLONE_INTO_CGROUP),
 *           cgroup.kill, cgroup.freeze, cgroup.events and cpu.stat
 *   v1      legacy: the same v1 limits, freezer for halts (a frozen v1
 *           task does not receive SIGKILL: freeze, signal every pid, thaw,
 *           repeat until empty)
 * All file I/O goes through directory fds opened once, so unit tests
 * point a backend at a fake tree (cx_cg_open_at).
 * Trust: runs as root; run names are built by calyx from validated ids. */
#ifndef CALYX_MONITOR_H
#define CALYX_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "calyx/common.h"

typedef enum cx_cg_layout {
	CX_CG_NONE = 0,
	CX_CG_V2,
	CX_CG_HYBRID,
	CX_CG_V1,
} cx_cg_layout;

const char *cx_cg_layout_name(cx_cg_layout l);

/* ---- pure parsers (cgparse.c); bounded, no allocation ------------------ */

#define CX_CG_UNLIMITED UINT64_MAX

/* A single-value file: "123\n" or "max\n" (-> CX_CG_UNLIMITED). */
int cx_cg_parse_u64(const char *buf, size_t len, uint64_t *ret);
/* A flat-keyed file ("key value\n" lines, e.g. cpu.stat, memory.events,
 * pids.events, cpuacct.stat): the value of `key`, or -ENOENT. */
int cx_cg_parse_keyed(const char *buf, size_t len, const char *key, uint64_t *ret);
/* A pressure file (cpu.pressure...): the total= of the "some" or "full"
 * line, in microseconds stalled. */
int cx_cg_parse_psi_total(const char *buf, size_t len, const char *line, uint64_t *ret);

/* Pids are below this (PID_MAX_LIMIT on 64-bit: pid_max never exceeds it). */
#define CX_PID_LIMIT (1u << 22)

/* cgroup.procs: one decimal pid per line. Calls fn for each pid in
 * 2..CX_PID_LIMIT-1 (other lines skipped; pid 1 is never anyone's to
 * kill) and returns the bytes consumed: through the last newline. A tail
 * without its newline is left unconsumed: a read that filled its buffer
 * may have cut a pid, and "123" of "12345" is another process. The caller
 * keeps the tail and reads on. */
size_t cx_cg_parse_pids(const char *buf, size_t len, void (*fn)(uint64_t pid, void *arg),
			void *arg);
/* /proc/<pid>/stat: the starttime field (22nd; clock ticks since boot).
 * Fields are counted after the last ')' (comm may hold spaces and ')'),
 * each after exactly one space; starttime is decimal digits ended by a
 * space, a newline or the end. */
int cx_proc_parse_starttime(const char *buf, size_t len, uint64_t *ret);

/* ---- the run's cgroup ---------------------------------------------------- */

typedef struct cx_cg_limits {
	uint64_t memory_bytes; /* 0: no limit */
	uint64_t pids;         /* 0: no limit */
} cx_cg_limits;

typedef struct cx_cg_usage {
	uint64_t cpu_usec, cpu_user_usec, cpu_system_usec;
	uint64_t memory_current, memory_peak;
	uint64_t pids_current, pids_peak;
	uint64_t pids_refused;  /* forks refused by pids.max */
	uint64_t oom_events;    /* memory limit hit (oom / oom_kill) */
	uint64_t psi_cpu_us, psi_memory_us, psi_io_us; /* "some" stall totals */
} cx_cg_usage;

typedef struct cx_cgroup cx_cgroup;

/* Detect the layout of the live host. */
cx_cg_layout cx_cg_detect(void);

/* Open the backend for `layout` on the tree whose cgroup mount root is
 * `root_dirfd` (the live /sys/fs/cgroup or a fake tree in tests), with
 * calyx's runs under the directory `parent` (e.g. "calyx") of each
 * hierarchy. Takes ownership of root_dirfd. */
int cx_cg_open_at(cx_cg_layout layout, int root_dirfd, const char *parent, cx_cgroup **ret,
		  cx_error *err);
/* The live host: detect, open /sys/fs/cgroup, parent "calyx". */
int cx_cg_open(cx_cgroup **ret, cx_error *err);
cx_cg_layout cx_cg_layout_of(const cx_cgroup *cg);

/* Create the run's cgroup(s) named `name` (mkdir in each hierarchy),
 * adopt them and set the limits. */
int cx_cg_create(cx_cgroup *cg, const char *name, const cx_cg_limits *lim, cx_error *err);
/* Open an existing run's cgroup(s) and arm the event fds (calyx-ctl, the
 * stale reaper, tests on fake trees). */
int cx_cg_adopt(cx_cgroup *cg, const char *name, cx_error *err);
int cx_cg_set_limits(cx_cgroup *cg, const cx_cg_limits *lim, cx_error *err);
/* An fd for clone3(CLONE_INTO_CGROUP) (v2 and hybrid), or -1. Borrowed. */
int cx_cg_clone_fd(const cx_cgroup *cg);
/* The hierarchies clone3 cannot enter (v1 controllers; on a v1 host also
 * the membership hierarchy): opens each one's "tasks" file for writing
 * into fds[0..max), returns how many (0 on a v2 host) or a negative errno.
 * The sandbox's init, single-threaded, writes "0" to each before anything
 * else (cx_sandbox_config.join_fds), and so moves itself, and the command
 * it forks later, into the run's cgroups. Why not write its pid from here:
 * moving another task (or a whole process) takes the kernel's global
 * cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
 * period (13 ms per write measured on a hybrid host) unless cgroup2 is
 * mounted with favordynmods; a thread moving itself takes no such lock.
 * The files are opened here, by root, and the kernel checks the opener's
 * credentials. The caller closes the fds. */
int cx_cg_join_fds(cx_cgroup *cg, int *fds, size_t max, cx_error *err);
/* CPU fence: at most quota_us of CPU per period_us (0 lifts it). */
int cx_cg_set_cpu_quota(cx_cgroup *cg, uint64_t quota_us, uint64_t period_us, cx_error *err);
int cx_cg_read_usage(cx_cgroup *cg, cx_cg_usage *ret, cx_error *err);
/* Only the CPU members of *ret (cpu_usec, user, system): one file, for the
 * callers that need nothing else (the CPU poll, the monitor's start). */
int cx_cg_read_cpu(cx_cgroup *cg, cx_cg_usage *ret, cx_error *err);
/* fds to poll: *ret_event_fd becomes readable (EPOLLIN) on a memory
 * event (v1 eventfd) or has EPOLLPRI on a change of the events file (v2,
 * hybrid: cgroup.events for "populated"; memory.events on v2). Each is -1
 * when the backend has none. */
void cx_cg_event_fds(const cx_cgroup *cg, int *ret_memory_fd, int *ret_populated_fd);
/* Drain an eventfd / re-read events; true if a memory limit was hit. */
bool cx_cg_memory_breached(cx_cgroup *cg);
int cx_cg_populated(cx_cgroup *cg); /* 1, 0, or -errno */
/* Forks refused by pids.max so far (one pread on a kept fd). */
uint64_t cx_cg_pids_refused(cx_cgroup *cg);
int cx_cg_freeze(cx_cgroup *cg, bool frozen, cx_error *err);
/* 1 once every process of the run's cgroup is frozen (the freeze is
 * asynchronous: cgroup.events "frozen", or freezer.state FROZEN), 0 not
 * yet, or -errno. */
int cx_cg_frozen(cx_cgroup *cg);
/* Kill every process in the run's cgroup (cgroup.kill, or the v1 freezer
 * loop). Does not wait. */
int cx_cg_kill(cx_cgroup *cg, cx_error *err);
/* Remove the run's cgroup(s); it must be empty. */
int cx_cg_destroy(cx_cgroup *cg, cx_error *err);
void cx_cg_close(cx_cgroup *cg);
CX_DEFINE_POINTER_CLEANUP(cx_cgroup, cx_cg_close)

/* This process's run-cgroup name: "run-<pid>-<starttime>-<tag>" (tag:
 * [a-z0-9] only, e.g. the lease id's head), so a later start can tell a
 * live owner from a dead one even if the pid was reused. */
int cx_cg_run_name(char *buf, size_t len, const char *tag);

/* Remove run cgroups left by calyx-exec processes that no longer exist
 * (names "run-<pid>-…"); kills what is still inside. Returns how many
 * were removed; `report` is called for each (may be NULL). */
int cx_cg_reap_stale(cx_cgroup *cg, void (*report)(const char *name, void *arg), void *arg,
		     cx_error *err);

/* ---- BPF: CPU budget enforcer and exec tracer (bpf.c) ------------------ */

typedef struct cx_bpfmon cx_bpfmon;

/* One exec in the run, as the kernel told it: raw bytes, never cleaned up
 * (what they may hold is the audit log's concern, calyx/audit.h). */
typedef struct cx_bpf_exec {
	uint32_t pid, ppid;
	/* the name the file was executed by: filename_len bytes (no NUL
	 * among them) of a filename_total-byte name, 0 if its length is not
	 * known (then the task's comm stands in when the kernel's offsets
	 * are unknown) */
	char filename[128];
	uint32_t filename_len, filename_total;
	/* argv's head: args_len bytes of the args_total-byte argv area, every
	 * argument NUL-terminated (0 and 0 when the offsets are unknown) */
	uint8_t args[128];
	uint32_t args_len, args_total;
	/* exec_denied only: the failed exec's errno (0 for a loader run);
	 * loader: the file run was one of the guard's loaders; killed: and
	 * the guard SIGKILLed it before it ran (for a failed exec, argv is
	 * the one passed to the call, read up to 16 arguments) */
	int errnum;
	bool loader, killed;
} cx_bpf_exec;

typedef struct cx_bpf_callbacks {
	void (*cpu_breach)(uint64_t used_ns, uint32_t pid, void *arg);
	void (*exec)(const cx_bpf_exec *e, void *arg);
	/* a failed exec call, or a run of a loader (killed when guarded) */
	void (*exec_denied)(const cx_bpf_exec *e, void *arg);
	/* calyx-policy learn: a file opened, by its path in the view */
	void (*opened)(const char *path, void *arg);
	void *arg;
} cx_bpf_callbacks;

/* A file of the host as the kernel names it (st_dev, st_ino of stat()). */
typedef struct cx_file_id {
	dev_t dev;
	ino_t ino;
} cx_file_id;

/* The loader guard: the ELF loaders the run's view holds; an exec that
 * runs one of them as the program is SIGKILLed in kernel before it runs
 * (kill) or only reported (!kill: calyx-policy learn). */
typedef struct cx_bpf_guard {
	const cx_file_id *loaders;
	size_t n_loaders; /* at most CX_BPF_LOADERS_MAX */
	bool kill;
	/* The exec quota (limit execs): exec events (spawned, failed, loader
	 * runs) reported before the next one is SIGKILLed in kernel and the
	 * run breaches (cx_bpfmon_exec_breached). */
	uint32_t exec_limit;
	/* The shared monitor's bpffs directory (config bpf_pin_dir): the
	 * programs are loaded once per boot and pinned there, each run only
	 * adds its own maps. NULL or "": this run loads its own (~1 ms more). */
	const char *pin_root;
} cx_bpf_guard;
#define CX_BPF_LOADERS_MAX 64


/* Kernel struct offsets the exec tracer reads (bytes; 0: unknown). */
typedef struct cx_kern_offsets {
	uint32_t task_tgid, task_real_parent, task_mm;
	uint32_t mm_arg_start, mm_arg_end, bprm_filename;
	/* the exec'd file's inode, through overlayfs down to the real one */
	uint32_t bprm_file, file_inode, inode_ino, inode_sb, sb_dev, sb_magic;
	uint32_t ovl_inode_vfs, ovl_inode_upper, ovl_inode_oe, ovl_entry_lower,
		ovl_path_dentry, dentry_inode;
} cx_kern_offsets;

/* Offsets for the running kernel: from cache_path when it matches this
 * kernel (release and BTF size), else computed from
 * /sys/kernel/btf/vmlinux (~12 ms, once per kernel) and cached there
 * (root-only file, written atomically). Without BTF: all zero, and the
 * exec tracer reports pid and command name only. */
int cx_kern_offsets_get(const char *cache_path, cx_kern_offsets *ret, cx_error *err);

/* Whether the kernel offsets let the guard see an exec's file (through
 * overlayfs): without them it cannot hold. */
bool cx_kern_offsets_guard_ok(const cx_kern_offsets *off);
/* Load and attach for the run whose unified-hierarchy cgroup directory is
 * cgroup_fd: per-CPU cpu-clock perf events scoped to it (10 ms samples,
 * 0.5 ms near the budget) when
 * budget_ns > 0, and the exec tracer. Fails (CX_E_LAYER) when BPF is not
 * usable here: the caller then falls back to polling cpu.stat. */
int cx_bpfmon_start(int cgroup_fd, uint64_t budget_ns, const cx_kern_offsets *off,
		    const cx_bpf_guard *guard, const cx_bpf_callbacks *cb, cx_bpfmon **ret,
		    cx_error *err);
/* Whether the loader guard can hold here, cheaply (no program of ours
 * loaded): BPF usable (a trivial tracing program loads: once per boot,
 * remembered in probe_cache, a root-only file; NULL: every time) and the
 * kernel's offsets (from cache_path, as cx_kern_offsets_get, into
 * ret_off when it passes) see through overlayfs. Fails CX_E_LAYER with
 * one line saying how to accept runs without it. */
int cx_bpfmon_preflight(const char *cache_path, const char *probe_cache, cx_kern_offsets *ret_off,
			cx_error *err);
/* The shared monitor under pin_root (config bpf_pin_dir), for this
 * build and this kernel (off), looked at without changing anything:
 * 1 pinned and every pin checks out, 0 not (fully) pinned yet (a run will
 * pin it), < 0 unusable (runs load their own monitor); *why in words. */
int cx_bpfmon_shared_status(const char *pin_root, const cx_kern_offsets *off, const char **why);
/* Whether this run uses the shared (pinned) monitor; why not (NULL when
 * it was not asked for). */
bool cx_bpfmon_shared(cx_bpfmon *m, const char **ret_why);
/* Whether failed exec calls are traced (the syscall tracepoints
 * attached; without them only successful execs are seen); why not. */
bool cx_bpfmon_denied_traced(cx_bpfmon *m, const char **ret_why);
/* calyx-policy learn: also trace every file the run opens (fentry on
 * security_file_open; loads the kernel's BTF, ~12 ms), reported through
 * the callbacks' opened, read by the same consume loop. */
int cx_bpfmon_trace_opens(cx_bpfmon *m, int cgroup_fd, cx_error *err);
/* Opens the file tracer could not report (full ring, path too long). */
uint64_t cx_bpfmon_opens_lost(cx_bpfmon *m);
/* Failed execs and loader runs reported. */
uint32_t cx_bpfmon_denied_count(cx_bpfmon *m);
/* Exec events of the run (spawned + denied), the ones past the quota
 * included; events lost (no room in the ring: each killed, as one past
 * the quota); whether the quota was breached or an event lost (the run
 * must halt: CX_HALT_EXECS). */
uint32_t cx_bpfmon_exec_events(cx_bpfmon *m);
uint32_t cx_bpfmon_exec_lost(cx_bpfmon *m);
bool cx_bpfmon_exec_breached(cx_bpfmon *m);
/* cgroup_used_ns: the run cgroup's whole CPU so far (cpu.stat, read once
 * the events are attached). What of it the events did not count (the
 * sandbox setting itself up before they were attached) is charged against
 * the budget; what they counted is theirs, so nothing counts twice. */
void cx_bpfmon_charge_uncounted(cx_bpfmon *m, uint64_t cgroup_used_ns);
/* epoll-able fd of the ring buffer; consume events when it is readable. */
int cx_bpfmon_fd(cx_bpfmon *m);
int cx_bpfmon_consume(cx_bpfmon *m);
/* CPU the enforcer counted (ns), and execs reported (exec.spawned). */
uint64_t cx_bpfmon_used_ns(cx_bpfmon *m);
uint32_t cx_bpfmon_exec_count(cx_bpfmon *m);
/* The enforcer saw the budget crossed (and SIGKILLed the task). */
bool cx_bpfmon_breached(cx_bpfmon *m);
void cx_bpfmon_stop(cx_bpfmon *m);
CX_DEFINE_POINTER_CLEANUP(cx_bpfmon, cx_bpfmon_stop)

/* ---- operator control socket (control.c) -------------------------------- *
 * Each supervisor listens on STATE_DIR/run/<lease_id>.sock (dir 0700,
 * socket 0600, root only; SO_PEERCRED must say uid 0). One request per
 * connection, one JSON object on one line, at most 1 KiB counting the
 * newline that must end it (nothing may follow it; a request without it
 * is partial and refused; the whole request must arrive within 100 ms):
 *   {"cmd": "status"}   {"cmd": "pause"}   {"cmd": "resume"}   {"cmd": "halt"}
 * and one JSON object back, e.g.
 *   {"ok": true, "run_id": "deploy-4821", "lease_id": "9f…", "argv0": "/usr/bin/make",
 *    "elapsed_ms": 5123, "state": "running", "usage": {...}}
 *   {"ok": false, "error": "unknown command 'x'"} */

#define CX_CTL_REQ_MAX 1024

typedef enum cx_ctl_cmd {
	CX_CTL_STATUS = 1,
	CX_CTL_PAUSE,
	CX_CTL_RESUME,
	CX_CTL_HALT,
} cx_ctl_cmd;

/* Parse a request: the bytes read from the connection, newline included
 * (pure; fuzzed). */
int cx_ctl_parse_request(const char *buf, size_t len, cx_ctl_cmd *ret, cx_error *err);
/* The reply to a refused request, {"ok": false, "error": err->msg}, as a
 * json_t * for cx_ctl_reply (pure; fuzzed). */
void *cx_ctl_error_reply(const cx_error *err);
const char *cx_ctl_cmd_name(cx_ctl_cmd c);
/* Create the listening socket at path (replacing a stale one). */
int cx_ctl_listen(const char *path, int *ret_fd, cx_error *err);
/* Accept one connection from a root peer, read its request. On success
 * *ret_conn is the connection (answer with cx_ctl_reply, then close). */
int cx_ctl_accept(int listen_fd, int *ret_conn, cx_ctl_cmd *ret_cmd, uid_t *ret_uid, cx_error *err);
/* Send a JSON reply (reference stolen) and close the connection. */
void cx_ctl_reply(int conn, void *json_reply);
/* Client: send cmd to the socket at path, return the parsed reply
 * (a json_t *, caller decrefs). A request the supervisor provably did
 * not act on (dropped before it arrived, or answered "retry") is sent
 * again for up to 10 s; no answer within 10 s is an error. */
int cx_ctl_request(const char *path, cx_ctl_cmd cmd, void **ret_reply, cx_error *err);
/* Is a supervisor listening on path? 1 yes, 0 no one (ECONNREFUSED: the
 * socket's calyx-exec is gone, or it has bound but not yet listened), or
 * -errno (e.g. -ENOENT). Sends nothing. */
int cx_ctl_alive(const char *path);

/* ---- the workspace quota (diskquota.c) ---------------------------------- *
 * A transactional run's overlay uppers live on a tmpfs of their own
 * (size=disk_bytes, nr_inodes=inodes + the dirs calyx-exec makes there),
 * so the kernel refuses writes past the quota (ENOSPC) by itself; the
 * supervisor reads how full it is with one fstatfs and halts the run
 * (reason "disk") once a quota is used up. */

struct statfs;

typedef struct cx_disk_quota {
	int fd;               /* the scratch tmpfs's root, O_RDONLY|O_DIRECTORY */
	uint64_t bytes;       /* disk_bytes (0: not checked) */
	uint64_t inodes;      /* inodes the run may use (0: not checked) */
	uint64_t inodes_base; /* inodes in use that are not the run's (root, dirs) */
} cx_disk_quota;

typedef struct cx_disk_usage {
	uint64_t bytes;  /* pages in use, in bytes (sparse files: their data only) */
	uint64_t inodes; /* the run's files, dirs, links, whiteouts */
} cx_disk_usage;

typedef enum cx_disk_full {
	CX_DISK_OK = 0,
	CX_DISK_FULL_BYTES,
	CX_DISK_FULL_INODES,
} cx_disk_full;

/* Pure: usage from a statfs of the scratch, and which quota (bytes
 * first) is used up. */
cx_disk_full cx_disk_eval(const struct statfs *sf, const cx_disk_quota *q, cx_disk_usage *ret);
/* fstatfs(q->fd) and cx_disk_eval; -errno when the fd cannot be read. */
int cx_disk_read(const cx_disk_quota *q, cx_disk_usage *ret, cx_disk_full *ret_full);

/* ---- supervision (supervise.c) ------------------------------------------ */

/* CPU fence of the polling enforcer: the quota (us per period) that lets
 * the run use at most half of what is left of its budget before the next
 * poll; 0 when no fence is needed yet (more than `slack` periods left). */
uint64_t cx_cpu_fence_quota(uint64_t budget_us, uint64_t used_us, uint64_t period_us);

typedef enum cx_halt_reason {
	CX_HALT_NONE = 0,
	CX_HALT_CPU,
	CX_HALT_MEMORY,
	CX_HALT_PIDS,
	CX_HALT_WALL,
	CX_HALT_OPERATOR,
	CX_HALT_DISK,     /* the workspace quota (bytes or inodes) */
	CX_HALT_EXECS,    /* the exec quota (or an exec event the ring lost) */
} cx_halt_reason;

const char *cx_halt_name(cx_halt_reason r);

/* An operator's action: a calyx-ctl request (the peer's uid from
 * SO_PEERCRED), or a halt signal to calyx-exec (its sender as the kernel
 * tells the signalfd: pid and real uid, pid 0 when the kernel itself sent
 * it, as a terminal does for ^C or a hangup). */
typedef struct cx_operator_act {
	cx_ctl_cmd cmd;  /* CX_CTL_HALT for a signal */
	uid_t uid;
	int signal;      /* 0: a calyx-ctl request */
	pid_t pid;       /* the signal's sender (signal != 0 only) */
} cx_operator_act;

typedef struct cx_supervise_cfg {
	cx_cgroup *cg;
	int pidfd;              /* the sandbox's init: readable when it exits */
	cx_bpfmon *bpf;         /* NULL: CPU budget by polling cpu.stat */
	uint64_t cpu_ms, wall_ms, memory_bytes, pids;
	uint64_t execs;         /* the exec quota (enforced by bpf, when given) */
	int64_t started_ns;     /* CLOCK_MONOTONIC at spawn */
	/* Called once per breach, before the halt sequence (audit). */
	void (*on_breach)(cx_halt_reason why, uint64_t limit, uint64_t usage, void *arg);
	/* Control socket (may be -1); status replies are built by the
	 * caller, who knows the run; operator actions are reported: each
	 * request over the socket, and the halt signal (SIGINT, SIGTERM,
	 * SIGHUP, SIGQUIT) that halts the run, before its breach. */
	int ctl_fd;
	void *(*status_json)(const cx_cg_usage *u, bool paused, void *arg);
	void (*on_operator)(const cx_operator_act *act, void *arg);
	void *arg;
	/* The workspace quota of a run with a writable tree (NULL: none):
	 * checked every 10 ms and once more when the tree is gone. */
	const cx_disk_quota *disk;
} cx_supervise_cfg;

typedef struct cx_supervise_result {
	cx_halt_reason halt;
	uint64_t limit;            /* of the breached quota, in its unit */
	uint64_t usage_at_detect;  /* same unit */
	int64_t detect_to_empty_ns;
	bool halt_incomplete;      /* a task survived the kill (stuck in D state) */
	const char *cpu_enforcer;  /* "bpf", "cgroup-poll" or "none" */
	cx_cg_usage usage;         /* final (billed from cpu.stat etc.) */
	int64_t wall_ns;
	int halt_signal;           /* operator halt by signal: which, else 0 */
	int halt_uid;              /* operator halt: who (calyx-ctl's uid, the signal sender's), else -1 */
	int halt_pid;              /* operator halt by signal: the sender's pid (0: the kernel), else -1 */
	int64_t paused_ms;         /* time spent frozen by an operator */
	bool disk_inodes;          /* a "disk" halt on the inode quota (else bytes) */
	bool disk_measured;        /* disk_usage was read (cfg->disk given) */
	cx_disk_usage disk_usage;  /* the scratch's use when the phase ended */
} cx_supervise_result;

/* Run until the run's cgroup is empty: the command finished (and the pid
 * namespace died with its init), or a quota was breached or an operator
 * signal arrived — then freeze, snapshot, kill the whole cgroup, lift any
 * CPU fence, and wait for it to be empty (bounded). SIGINT/SIGTERM/SIGHUP/SIGQUIT
 * to calyx-exec are an operator halt: the caller must have blocked them
 * (cx_supervise_block_signals) before spawning. */
int cx_supervise(const cx_supervise_cfg *cfg, cx_supervise_result *ret, cx_error *err);
/* Block the signals the supervisor takes through a signalfd. */
void cx_supervise_block_signals(void);
/* Ignore the signals that would otherwise kill calyx-exec mid-run (SIGPIPE,
 * SIGUSR1/2, SIGALRM, real-time...); called by cx_supervise_block_signals
 * and as early as possible by calyx-exec. */
void cx_supervise_ignore_stray_signals(void);

#endif
