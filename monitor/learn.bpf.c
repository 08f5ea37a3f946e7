/* calyx-policy learn's file tracer (loaded by bpf.c only for a learn run:
 * attaching to an LSM hook by fentry needs the kernel's BTF at load, ~12
 * ms, which leased runs never pay).
 *
 * on_open: fentry/security_file_open, filtered to the run's cgroup id,
 * posts CX_EV_OPEN with the file's path as the task sees it (bpf_d_path:
 * relative to the task's root, which is the run's view), into the
 * monitor's own ring buffer (bpf.c hands this object the monitor's
 * `events` map before load). A path longer than the buffer or a full ring
 * loses the event (counted in `opens_lost`). */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "monitor_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Just the members used, located by name in the kernel's BTF (CO-RE). */
struct path {
	void *mnt;
	void *dentry;
} __attribute__((preserve_access_index));
struct file {
	struct path f_path;
} __attribute__((preserve_access_index));

__u64 cgroup_id = 0; /* set before attach */
__u64 opens_lost = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("fentry/security_file_open")
int on_open(unsigned long long *ctx)
{
	struct file *f = (struct file *)ctx[0];
	struct cx_open_event *e;

	if (!cgroup_id || bpf_get_current_cgroup_id() != cgroup_id)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&opens_lost, 1);
		return 0;
	}
	e->type = CX_EV_OPEN;
	long n = bpf_d_path(&f->f_path, e->path, sizeof(e->path));
	if (n <= 0) {
		bpf_ringbuf_discard(e, 0);
		__sync_fetch_and_add(&opens_lost, 1);
		return 0;
	}
	e->len = (unsigned int)n - 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
