/* Private to monitor/: the run's monitor (bpf.c) and the shared, pinned
 * copy of its programs (bpfshare.c) work on one cx_bpfmon. */
#ifndef CALYX_MONITOR_BPF_INTERNAL_H
#define CALYX_MONITOR_BPF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "calyx/monitor.h"
#include "monitor_bpf.h"

struct monitor_private_bpf;
struct monitor_bpf__rodata;
struct ring_buffer;
struct learn_bpf;

/* The programs and the maps they share, as fds: from this run's own
 * load (private: rings -1, the ring is the object's own) or opened from
 * the pins (shared). */
typedef struct shared_fds {
	int prog_exec, prog_sys_exit, prog_tick;
	int states, slots, tick_last, loaders, rings;
	uint32_t id_exec, id_sys_exit; /* shared: the programs' ids (the links name them) */
} shared_fds;

struct cx_bpfmon {
	struct monitor_private_bpf *pskel; /* private mode: loaded for this run */
	shared_fds f;             /* borrowed from pskel (private) or owned (shared) */
	bool shared;
	int root_fd, dir_fd;      /* shared: the pin root, this version's dir (LOCK_SH held) */
	char version[64];         /* shared: the version directory's name */
	int link_exec, link_sys_exit; /* private: the tracepoint links (shared: pinned) */
	/* this run: its slot, its cgroup, its ring */
	uint64_t cgid;
	uint32_t slot;
	bool claimed, registered;
	int cg_fd; /* the run's cgroup (its filesystem: dead runs' cgroups are looked up there) */
	int ring_fd; /* owned (shared) */
	struct cx_run_state *states; /* every slot, mapped */
	size_t states_len;
	struct cx_run_state *st;     /* this run's */
	struct cx_loader_key loader_keys[CX_LOADERS_MAX];
	size_t n_loader_keys;
	struct ring_buffer *rb;
	int ncpu;
	int *perf_fds;
	int *perf_links;
	cx_bpf_callbacks cb;
	bool fine;   /* every event at TICK_NS */
	const char *denied_why; /* NULL: failed execs are traced */
	const char *private_why; /* why this run loaded its own programs (NULL: shared, or not asked) */
	char why_buf[320];
	struct learn_bpf *learn; /* calyx-policy learn's file tracer, or NULL */
	uint32_t exec_limit; /* exec events posted before the run breaches */
};

static inline void put_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The fine sampling period: 0.5 ms of CPU per sample (bpf.c, "Sampling") */
#define TICK_NS 500000ULL

/* The load-time constants (kernel offsets, the fine period): the same
 * struct in both skeletons (one source), this size. */
#define CX_MONITOR_RODATA_BYTES 80
void cx_bpfmon_set_rodata(struct monitor_bpf__rodata *ro, const cx_kern_offsets *off);
/* CX_E_LAYER for a load the kernel refused (r: a negative errno). */
int cx_bpfmon_load_failed(int r, cx_error *err);

/* bpfshare.c: join the shared monitor under the pin directory root (a
 * slot, its ring, the tracepoint links); < 0 with *why when it cannot,
 * and then cx_bpfshare_drop undoes what was done. */
int cx_bpfshare_open(cx_bpfmon *m, const char *root, const cx_kern_offsets *off, cx_error *err,
		     const char **why);
void cx_bpfshare_drop(cx_bpfmon *m);
/* The tracepoints held LINGER_MS past the run's end (shared: the run's
 * hold on its version, released then). */
void cx_bpfmon_linger(cx_bpfmon *m);

#endif
