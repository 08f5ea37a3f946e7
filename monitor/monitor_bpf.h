/* Event layouts shared by the BPF programs (monitor.bpf.c) and their
 * loader (bpf.c). Fixed-size, naturally aligned, no pointers.
 *
 * Example: a CPU budget breach after 300 ms of 300 ms, detected on the
 * sample that pushed the total over:
 *   { .type = CX_EV_CPU_BREACH, .pid = 4242, .tgid = 4242,
 *     .used_ns = 301000000, .budget_ns = 300000000, .ts_ns = … }
 * An exec inside the run:
 *   { .type = CX_EV_EXEC, .pid = 4250, .tgid = 4250, .ppid = 4242,
 *     .filename = "/usr/bin/cat", .filename_len = 12,
 *     .args = "cat\0/work/VERSION\0", .args_len = 18, .args_total = 18 }
 * Both buffers hold raw bytes, cut by their size: filename_len is the
 * length of the whole name the kernel has (more than the 127 bytes kept
 * when it was cut; 0 if unknown), args_total the size of the whole argv
 * area (more than args_len when it was cut). */
#ifndef CALYX_MONITOR_BPF_H
#define CALYX_MONITOR_BPF_H

#define CX_EV_CPU_BREACH 1
#define CX_EV_EXEC 2
#define CX_EV_EXIT 3
#define CX_EV_FINE 4 /* the run nears its CPU budget: sample finely from now on */
#define CX_EV_LOADER 5 /* an exec of an ELF loader as a program (killed when guarded) */
#define CX_EV_EXEC_FAIL 6 /* an execve/execveat that failed: exit_code holds the errno */
#define CX_EV_OPEN 7 /* learn.bpf.c: a file opened (struct cx_open_event) */
#define CX_EV_EXEC_BREACH 8 /* the exec past the quota was killed: a record of
			     * two u32 (type, 0) that only wakes user space */

#define CX_EV_FILENAME 128
#define CX_EV_ARGS 128
#define CX_EV_PATH_MAX 4096 /* PATH_MAX: execve refuses longer names */

#define CX_LOADERS_MAX 64 /* (dev, ino) pairs in the loader guard's map */
#define CX_SLOTS 64 /* runs sharing the pinned monitor at once (more load their own) */
#define CX_SHARED_RING_BYTES (256 * 1024) /* each slot's event ring (~800 events) */
#define CX_PENDING_MAX 1024 /* execve calls in flight (per tid); more go unrecorded */
#define CX_EV_ARGV_MAX 16 /* arguments read from a failed exec's argv */

/* The loader guard's key: a file's inode number and its filesystem's
 * device as the kernel encodes it (major << 20 | minor), as seen below
 * any overlay. Example: /lib64/ld-linux-x86-64.so.2 on /dev/vda (254:0)
 *   { .ino = 1320558, .dev = 254 << 20 } */
struct cx_file_key {
	unsigned long long ino;
	unsigned int dev;
	unsigned int pad; /* 0 */
};

/* One run's state: its slot of the `states` array (BPF_F_MMAPABLE: user
 * space reads and updates it through a shared mapping, as the programs
 * do). Example, a run with a 300 ms CPU budget that has exec'd 3 programs:
 *   { .cgid = 8812, .budget_ns = 300000000, .exec_limit = 8192,
 *     .loader_kill = 1, .used_ns = 12000000, .exec_count = 3,
 *     .exec_events = 3, … } */
struct cx_run_state {
	/* set by user space before the run is armed */
	unsigned long long cgid;          /* the slot's owner (0: free), user space only */
	unsigned long long budget_ns;     /* 0: no CPU enforcement */
	unsigned long long fine_below_ns; /* ask for fine sampling this far from the budget; 0: never */
	unsigned int exec_limit;          /* exec events posted; the next one breaches */
	unsigned int loader_kill;         /* 1 kills loader runs, 0 only reports them */
	/* counted by the programs (used_ns also by user space: uncounted CPU) */
	unsigned long long used_ns;
	unsigned int breached;
	unsigned int fine_requested;
	unsigned int exec_count;    /* execs posted (exec.spawned) */
	unsigned int denied_count;  /* failed execs and loader runs posted (exec.denied) */
	unsigned int exec_events;   /* every exec event, the ones past the limit included */
	unsigned int exec_breached; /* exec events past exec_limit (each killed) */
	unsigned int exec_lost;     /* events the ring had no room for (each killed) */
	unsigned int pad;
};

/* A loader of a run's view: the run's cgroup id and the file. */
struct cx_loader_key {
	unsigned long long cgid;
	struct cx_file_key f;
};

/* The exec quota's breach: a record that only wakes user space. */
struct cx_wake {
	unsigned int type; /* CX_EV_EXEC_BREACH */
	unsigned int pad;
	unsigned long long cgid;
};

/* A failed exec, example (Landlock refused /usr/bin/id):
 *   { .type = CX_EV_EXEC_FAIL, .pid = 7, .tgid = 7, .ppid = 1,
 *     .filename = "/usr/bin/id", .filename_len = 11,
 *     .args = "id\0", .args_len = 3, .args_total = 3, .exit_code = 13 }
 * args_total counts the first CX_EV_ARGV_MAX arguments (one more byte
 * when argv goes on beyond them, so the log says it was cut). */
struct cx_event {
	unsigned int type;
	unsigned int pid;
	unsigned long long cgid; /* the run's cgroup id (a slot's ring may hold a dead run's events) */
	unsigned int tgid;
	unsigned int ppid;
	unsigned long long ts_ns;
	unsigned long long used_ns;
	unsigned long long budget_ns;
	unsigned int args_len;   /* bytes of args read */
	int exit_code;
	unsigned int filename_len; /* the whole filename's length, without NUL; 0: unknown */
	unsigned int args_total;   /* the whole argv area's size (mm->arg_end - arg_start) */
	char filename[CX_EV_FILENAME];
	char args[CX_EV_ARGS];
};

/* A file opened in a learn run, by its path in the run's view:
 *   { .type = CX_EV_OPEN, .len = 17, .path = "/usr/include/stdio.h" } */
#define CX_EV_OPEN_PATH 256
struct cx_open_event {
	unsigned int type;
	unsigned int len; /* bytes of path, without its NUL */
	char path[CX_EV_OPEN_PATH];
};

#endif
