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

#define CX_EV_FILENAME 128
#define CX_EV_ARGS 128
#define CX_EV_PATH_MAX 4096 /* PATH_MAX: execve refuses longer names */

struct cx_event {
	unsigned int type;
	unsigned int pid;
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

#endif
