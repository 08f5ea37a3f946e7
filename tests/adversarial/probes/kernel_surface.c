/* Kernel attack surface that a sandboxed build never needs and that has a
 * history of local privilege escalations: bpf (CVE-2021-3490,
 * CVE-2022-23222), keyctl/add_key (CVE-2016-0728), perf_event_open
 * (CVE-2013-2094), userfaultfd (the race-widening tool of many exploits),
 * io_uring (CVE-2022-29582, CVE-2023-2598; its operations bypass seccomp),
 * kexec_load/kexec_file_load, init_module/finit_module/delete_module,
 * open_by_handle_at (docker's 2014 "shocker" escape), iopl/ioperm, syslog.
 * Every call is made with arguments that would do something harmless if
 * it were allowed; any success is an escape. */
#include "probe.h"

#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>

int main(void)
{
	probe_init("kernel_surface");
	{
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		long r = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
		expect_fail("bpf-map", r, "bpf(BPF_MAP_CREATE)");
		if (r >= 0)
			close((int)r);
	}
	expect_fail("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1),
		    "keyctl(GET_KEYRING_ID, session)");
	expect_fail("add_key", syscall(SYS_add_key, "user", "calyx-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING),
		    "add_key(user)");
	expect_fail("request_key", syscall(SYS_request_key, "user", "calyx-probe", NULL, 0),
		    "request_key(user)");
	{
		struct perf_event_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.type = PERF_TYPE_SOFTWARE;
		pa.size = sizeof(pa);
		pa.config = PERF_COUNT_SW_CPU_CLOCK;
		pa.disabled = 1;
		pa.exclude_kernel = 1;
		long r = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
		expect_fail("perf_event_open", r, "perf_event_open(sw cpu clock, self)");
		if (r >= 0)
			close((int)r);
	}
	{
		long r = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
		expect_fail("userfaultfd", r, "userfaultfd(UFFD_USER_MODE_ONLY)");
		if (r >= 0)
			close((int)r);
		r = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		expect_fail("dev-userfaultfd", r, "open(/dev/userfaultfd)");
		if (r >= 0)
			close((int)r);
	}
	{
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		long r = syscall(SYS_io_uring_setup, 4, &p);
		expect_fail("io_uring_setup", r, "io_uring_setup(4)");
		if (r >= 0)
			close((int)r);
		expect_fail("io_uring_enter", syscall(SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0),
			    "io_uring_enter(fd 0)");
	}
	expect_fail("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0), "kexec_load(0 segments)");
	expect_fail("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 4 /* UNLOAD */),
		    "kexec_file_load(UNLOAD)");
	{
		static char empty[64];
		expect_fail("init_module", syscall(SYS_init_module, empty, sizeof(empty), ""),
			    "init_module(64 zero bytes)");
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		expect_fail("finit_module", syscall(SYS_finit_module, fd, "", 0),
			    "finit_module(own executable)");
		if (fd >= 0)
			close(fd);
		expect_fail("delete_module", syscall(SYS_delete_module, "calyx_no_such_module", 0x800),
			    "delete_module(calyx_no_such_module)");
	}
	{
		/* shocker: a handle for inode 2 (a root directory) opened
		 * relative to a mount fd bypasses every path-based check. */
		struct {
			unsigned int bytes;
			int type;
			unsigned char f[8];
		} h = { 8, 1, { 2, 0, 0, 0, 0, 0, 0, 0 } };
		int mfd = open("/work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		long r = syscall(SYS_open_by_handle_at, mfd, &h, O_RDONLY);
		expect_fail("open_by_handle_at", r, "open_by_handle_at(/work, ino 2)");
		if (r >= 0)
			close((int)r);
		if (mfd >= 0)
			close(mfd);
		struct {
			unsigned int bytes;
			int type;
			unsigned char f[128];
		} out = { 128, 0, { 0 } };
		int mnt;
		expect_fail("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/work", &out, &mnt, 0),
			    "name_to_handle_at(/work)");
	}
	expect_fail("iopl", syscall(SYS_iopl, 3), "iopl(3)");
	expect_fail("ioperm", syscall(SYS_ioperm, 0x80, 1, 1), "ioperm(0x80)");
	{
		char buf[64];
		expect_fail("syslog", syscall(SYS_syslog, 3 /* READ_ALL */, buf, sizeof(buf)),
			    "syslog(READ_ALL)");
	}
	expect_fail("swapon", syscall(SYS_swapon, "/work/swap", 0), "swapon(/work/swap)");
	expect_fail("acct", syscall(SYS_acct, "/work/acct"), "acct(/work/acct)");
	probe_done();
}
