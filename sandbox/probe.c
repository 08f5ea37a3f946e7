/* What this host supports, for `calyx-exec --probe` and fail-closed
 * checks. Reads only: no namespace, mount or filter is created, except a
 * Landlock version query and a seccomp action query (both side-effect
 * free). Trust: runs as root or not; reads kernel interfaces only. */
#include "internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

static bool file_has(const char *path, const char *needle)
{
	char buf[8192];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static long read_long(const char *path)
{
	char buf[32];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static const char *cgroup_layout(void)
{
	struct statfs s;

	if (statfs("/sys/fs/cgroup", &s) < 0)
		return "none";
	if (s.f_type == CGROUP2_SUPER_MAGIC)
		return "v2";
	if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
		return "hybrid";
	if (statfs("/sys/fs/cgroup/memory", &s) == 0 && s.f_type == CGROUP_SUPER_MAGIC)
		return "v1";
	return "none";
}

int cx_sandbox_preflight(bool landlock_optional, cx_error *err)
{
	uint32_t action = SECCOMP_RET_ERRNO;

	if (!landlock_optional && cx_landlock_abi() < 1)
		return cx_err(err, CX_E_LAYER, ENOSYS,
			      "Landlock is not available on this kernel and the policy requires it (enable CONFIG_SECURITY_LANDLOCK and lsm=landlock, or set \"landlock\": \"optional\" in the policy)");
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "seccomp filters are not available on this host (%s); calyx-exec does not run without them",
			      strerror(errno));
	if (syscall(SYS_open_tree, -1, "", 0) < 0 && errno == ENOSYS)
		return cx_err(err, CX_E_LAYER, ENOSYS,
			      "the kernel lacks the new mount API (open_tree, Linux >= 5.2) that the file view needs");
	return 0;
}

void cx_host_probe(cx_host_support *ret)
{
	static const char *const ns[] = { "pid", "mnt", "net", "ipc", "uts", "cgroup" };
	struct stat st;
	uint32_t action = SECCOMP_RET_KILL_PROCESS;

	memset(ret, 0, sizeof(*ret));
	ret->userns = read_long("/proc/sys/user/max_user_namespaces") > 0;
	ret->ns_all = true;
	for (size_t i = 0; i < CX_ARRAY_SIZE(ns); i++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/ns/%s", ns[i]);
		if (stat(p, &st) < 0)
			ret->ns_all = false;
	}
	ret->landlock_abi = cx_landlock_abi();
	ret->seccomp_filter = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 &&
			      file_has("/proc/self/status", "Seccomp:");
	ret->seccomp_kill_process =
		syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
	ret->cgroup_layout = cgroup_layout();
	ret->bpf_btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;
	ret->overlayfs = file_has("/proc/filesystems", "overlay");
	ret->open_tree = syscall(SYS_open_tree, -1, "", 0) < 0 && errno != ENOSYS;
}
