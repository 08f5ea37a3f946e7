/* Landlock: defense in depth under the mount view.
 *
 * Rights granted, on inodes inside the view (after pivot_root):
 *   "/"                 read directories only
 *   lease ro paths      read files and directories
 *   /work, rw, /tmp     read + write + create + remove + truncate + refer
 *   /dev/{null,...}     read, write, truncate
 *   /proc               read
 *   the command, the lease's exec entries and their interpreters
 *                       execute and read (directories: beneath them)
 * Everything else the ABI can express is handled and therefore refused:
 * executing anything else, making device nodes, TCP bind/connect (ABI 4,
 * unless the policy allows loopback), reaching abstract unix sockets or
 * signalling processes outside the sandbox's domain (ABI 6 scoping).
 * Landlock's EXECUTE governs execve and the kernel's opening of the ELF
 * interpreter; shared libraries are mmap'd and need read only.
 * A kernel without Landlock is refused unless the policy marks Landlock
 * optional; the result then reports landlock_abi 0.
 * Trust: runs in the payload, already unprivileged, inside the view. */
#include "internal.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* UAPI values newer than Debian 12's headers (stable kernel ABI). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define CX_LL_NET_BIND_TCP (1ULL << 0)
#define CX_LL_NET_CONNECT_TCP (1ULL << 1)
#define CX_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define CX_LL_SCOPE_SIGNAL (1ULL << 1)
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

/* landlock_ruleset_attr as of ABI 6; the size passed tells the kernel
 * which fields we use. */
struct cx_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE_V1                                                                       \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                  \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |                   \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |                      \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SOCK)

int cx_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

static uint64_t fs_all(int abi)
{
	uint64_t a = FS_READ | FS_WRITE_V1 | LANDLOCK_ACCESS_FS_EXECUTE |
		     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK;
	if (abi >= 2)
		a |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		a |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		a |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return a;
}

static int add_path(int ruleset, const char *path, uint64_t rights, uint64_t handled,
		    bool must_exist, cx_error *err)
{
	struct landlock_path_beneath_attr pb = { .allowed_access = rights & handled };
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		if (!must_exist && errno == ENOENT)
			return 0;
		return cx_err(err, CX_E_SPAWN, errno, "landlock: open '%.200s': %s", path,
			      strerror(errno));
	}
	pb.parent_fd = fd;
	/* Rights meaningful only on directories are refused by the kernel on
	 * files: keep what applies. */
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_TRUNCATE |
				     LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "landlock: rule for '%.200s': %s", path,
			      strerror(errno));
	return 0;
}

int sbx_landlock_apply(const cx_sandbox_config *cfg, const char *const *exec_paths,
		       cx_layers *layers, cx_error *err)
{
	static const char *const devs[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
					    "/dev/urandom" };
	const cx_run_spec *s = cfg->spec;
	struct cx_ruleset_attr attr = { 0 };
	size_t attr_size;
	uint64_t rw;
	_cleanup_close_ int rs = -1;
	int abi = cx_landlock_abi(), r = 0;

	if (abi < 1) {
		if (cfg->landlock_optional)
			return 0;
		return cx_err(err, CX_E_LAYER, ENOSYS,
			      "Landlock is not available on this kernel and the policy requires it (enable CONFIG_SECURITY_LANDLOCK and lsm=landlock, or set \"landlock\": \"optional\" in the policy)");
	}
	attr.handled_access_fs = fs_all(abi);
	attr_size = sizeof(uint64_t);
	if (abi >= 4 && s->network == CX_NET_NONE) {
		attr.handled_access_net = CX_LL_NET_BIND_TCP | CX_LL_NET_CONNECT_TCP;
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = CX_LL_SCOPE_ABSTRACT_UNIX | CX_LL_SCOPE_SIGNAL;
		attr_size = 3 * sizeof(uint64_t);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rs < 0)
		return cx_err(err, CX_E_LAYER, errno, "landlock: create ruleset: %s", strerror(errno));

	rw = FS_READ | FS_WRITE_V1 | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE;
	const uint64_t h = attr.handled_access_fs;
	r = add_path(rs, "/", LANDLOCK_ACCESS_FS_READ_DIR, h, true, err);
	/* learn: what the job executes is what it is there to find out */
	const uint64_t x = cfg->exec_anywhere ? LANDLOCK_ACCESS_FS_EXECUTE : 0;
	for (size_t i = 0; r == 0 && i < s->ro.n; i++)
		r = add_path(rs, s->ro.v[i], FS_READ | x, h, true, err);
	for (size_t i = 0; r == 0 && i < s->rw.n; i++)
		r = add_path(rs, s->rw.v[i], rw | x, h, true, err);
	if (r == 0 && s->workspace)
		r = add_path(rs, "/work", rw | x, h, true, err);
	if (r == 0)
		r = add_path(rs, "/tmp", rw, h, true, err);
	if (r == 0 && cfg->dev_shm)
		r = add_path(rs, "/dev/shm", rw, h, true, err);
	if (r == 0)
		r = add_path(rs, "/proc", FS_READ, h, true, err);
	for (size_t i = 0; r == 0 && i < CX_ARRAY_SIZE(devs); i++)
		r = add_path(rs, devs[i],
			     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_TRUNCATE,
			     h, true, err);
	/* The command and the exec entries exist (sbx_exec_set_build opened
	 * them); a missing interpreter is left to execve to report. Rights
	 * meaningful only on directories are dropped on files (add_path). */
	for (size_t i = 0; r == 0 && exec_paths[i]; i++)
		r = add_path(rs, exec_paths[i],
			     LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
				     LANDLOCK_ACCESS_FS_READ_DIR,
			     h, false, err);
	if (r < 0)
		return r;
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		return cx_err(err, CX_E_LAYER, errno, "landlock: restrict self: %s", strerror(errno));
	layers->landlock_abi = abi;
	layers->landlock_net = attr.handled_access_net != 0;
	layers->landlock_scoped = attr.scoped != 0;
	return 0;
}
