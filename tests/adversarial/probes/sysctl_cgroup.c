/* Host kernel knobs reachable from /proc and /sys: /proc/sys writes
 * (kernel.core_pattern is the classic container escape: a "|program" core
 * handler runs as host root; kernel.hostname; vm.drop_caches),
 * /proc/sysrq-trigger (host reboot/crash), and cgroupfs writes
 * (release_agent, CVE-2022-0492; cgroup.procs to leave the run's cgroup).
 * Files are opened for writing only (nothing is written: the open alone
 * is the escape). /sys/fs/cgroup must be absent or unwritable; mounting a
 * cgroup filesystem must fail. */
#include "probe.h"

#include <sys/mount.h>
#include <sys/sysmacros.h>

static void try_write(const char *attempt, const char *path)
{
	char what[300];
	snprintf(what, sizeof(what), "open(\"%s\", O_WRONLY)", path);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0) {
		/* The view masks host knobs with /dev/null (runc's maskedPaths):
		 * opening that for writing reaches nothing. */
		if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
		    minor(st.st_rdev) == 3)
			note("DENIED", attempt, "%s opened /dev/null: the knob is masked", what);
		else
			note("ESCAPED", attempt, "%s succeeded", what);
		close(fd);
	} else
		expect_fail(attempt, -1, what);
}

int main(void)
{
	struct stat st;
	char buf[256];

	probe_init("sysctl_cgroup");
	try_write("core_pattern", "/proc/sys/kernel/core_pattern");
	try_write("hostname", "/proc/sys/kernel/hostname");
	try_write("drop_caches", "/proc/sys/vm/drop_caches");
	try_write("modprobe", "/proc/sys/kernel/modprobe");
	try_write("sysrq-trigger", "/proc/sysrq-trigger");
	try_write("kmsg", "/proc/kmsg");
	try_write("sys-dir-new", "/proc/sys/kernel/panic");

	if (stat("/sys", &st) < 0)
		note("DENIED", "sys", "stat(/sys): %s (no /sys in the view)", strerror(errno));
	else
		note("INFO", "sys", "/sys exists in the view");
	if (stat("/sys/fs/cgroup", &st) < 0)
		note("DENIED", "cgroupfs", "stat(/sys/fs/cgroup): %s (cgroupfs not reachable)",
		     strerror(errno));
	else {
		try_write("cgroup-procs", "/sys/fs/cgroup/cgroup.procs");
		try_write("cgroup-release_agent", "/sys/fs/cgroup/release_agent");
		expect_fail("cgroup-mkdir", mkdir("/sys/fs/cgroup/calyx-escape", 0755),
			    "mkdir(/sys/fs/cgroup/calyx-escape)");
	}
	mkdir("/tmp/cg", 0755);
	expect_fail("mount-cgroup2", mount("cgroup2", "/tmp/cg", "cgroup2", 0, NULL),
		    "mount(cgroup2 on /tmp/cg)");
	expect_fail("mount-cgroup1", mount("cgroup", "/tmp/cg", "cgroup", 0, "memory"),
		    "mount(cgroup memory on /tmp/cg)");
	if (read_small("/proc/self/cgroup", buf, sizeof(buf)) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		note("INFO", "self-cgroup", "/proc/self/cgroup: %s", buf);
	}
	probe_done();
}
