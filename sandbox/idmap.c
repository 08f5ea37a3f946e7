/* Idmapped mounts of the writable trees (the workspace and rw paths).
 *
 * What a run sees: inside a writable tree, the run's uid (gid) owns what
 * the host owner of the tree's root directory owns; everything the run
 * creates or changes is stored owned by that owner. Root's files show as
 * root; files of any other owner show as the overflow ids (65534) and
 * cannot be written by the run, whatever their mode (the kernel refuses
 * writes to an inode whose owner the mount cannot map: EACCES, or
 * EOVERFLOW on a copy-up).
 *
 * How: an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP) takes its
 * mapping from a user namespace that nobody runs in: a helper child is
 * cloned into a new user namespace, we (root in the initial namespace,
 * CAP_SETUID/CAP_SETGID) write its maps, keep an fd of the namespace and
 * kill the child. The maps, "inside" = id on disk, "outside" = id seen:
 *   owner != 0:  0 0 1         root stays root (overlayfs' own work files,
 *                              created with the mounter's creds, need it)
 *                OWNER RUN 1   the owner's files are the run's
 *   owner == 0 (policy "root_owned_trees": "allow" only):
 *                0 RUN 1       root's files are the run's
 *                RUN 0 1       the mounter's work files: stored as RUN
 *                              on the run's own tmpfs (a bijection needs
 *                              a partner for host root)
 * Both overlay layers go through such a mount: the host tree (lower), so
 * the owner's files appear as the run's, and the run's scratch tree dir
 * (upper + work on its tmpfs), so what the run writes is stored as the
 * owner, which the commit copies as it is (owners preserved).
 *
 * Why safe: the namespace holds no process once its fd is taken (the
 * child is killed and reaped before it is used), it is only ever handed
 * to mount_setattr; the mapping covers exactly the ids above; the
 * mounts are clones made in the sandbox's own mount namespace from fds
 * opened without following symlinks. No fallback: a kernel or file
 * system that cannot idmap refuses the run (E_LAYER).
 * Runs in init (root, initial user namespace), before pivot_root; the
 * host's /proc is still the one mounted. */
#include "internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "calyx/fileio.h"

/* The helper child: tells its pid as the host's /proc names it (init
 * lives in a new pid namespace, the mounted /proc is the host's), then
 * waits to be killed. Shares our memory (CLONE_VM: no page-table copy),
 * so it only makes raw system calls on its own small stack. */
typedef struct helper {
	int wr; /* pipe: its pid, as text */
} helper;

static int helper_main(void *arg)
{
	const helper *h = arg;
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf));

	if (n > 0 && write(h->wr, buf, (size_t)n) != n)
		_exit(1);
	close(h->wr);
	for (;;)
		pause();
}

static int write_map(int pid, const char *file, const char *map, cx_error *err)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(map);

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, map, len) != (ssize_t)len)
		return cx_err(err, CX_E_LAYER, errno,
			      "cannot write the %s of the idmapped workspace mount: %s", file,
			      strerror(errno));
	return 0;
}

static void map_text(char *out, size_t n, unsigned owner, unsigned run)
{
	if (owner != 0)
		snprintf(out, n, "0 0 1\n%u %u 1\n", owner, run);
	else
		snprintf(out, n, "0 %u 1\n%u 0 1\n", run, run);
}

int sbx_idmap_userns(uid_t ouid, gid_t ogid, uid_t ruid, gid_t rgid, cx_error *err)
{
	static char stack[16384] __attribute__((aligned(16)));
	_cleanup_close_ int rd = -1, wr = -1;
	char buf[32] = { 0 }, map[64], path[64];
	helper h;
	uint64_t hostpid = 0;
	int p[2], pid, fd = -1, r = 0, st;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "pipe: %s", strerror(errno));
	rd = p[0];
	wr = p[1];
	h.wr = wr;
	pid = clone(helper_main, stack + sizeof(stack), CLONE_NEWUSER | CLONE_VM | SIGCHLD, &h);
	if (pid < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "cannot create the user namespace of an idmapped mount: %s",
			      strerror(errno));
	close(TAKE_FD(wr));
	n = read(rd, buf, sizeof(buf) - 1);
	if (n <= 0 || cx_parse_u64(buf, INT32_MAX, &hostpid) < 0 || hostpid == 0)
		r = cx_err(err, CX_E_SPAWN, EIO, "idmap helper did not report its pid");
	if (r == 0) {
		map_text(map, sizeof(map), ouid, ruid);
		r = write_map((int)hostpid, "uid_map", map, err);
	}
	if (r == 0) {
		map_text(map, sizeof(map), ogid, rgid);
		r = write_map((int)hostpid, "gid_map", map, err);
	}
	if (r == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)hostpid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = cx_err(err, CX_E_SPAWN, errno, "open %s: %s", path, strerror(errno));
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	return r < 0 ? r : fd;
}

int sbx_idmap_clone(int fd, int userns, const char *what, cx_error *err)
{
	struct mount_attr ma = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns,
				 .propagation = MS_PRIVATE };
	_cleanup_close_ int tree = -1;

	tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return cx_err(err, CX_E_SPAWN, errno, "open_tree '%.200s': %s", what, strerror(errno));
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &ma, sizeof(ma)) < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "'%.200s' cannot be mounted idmapped: %s (its file system or this kernel does not support idmapped mounts; calyx-exec does not fall back to writes owned by the run's uid)",
			      what, strerror(errno));
	return TAKE_FD(tree);
}

int cx_sandbox_check_owner(const char *path, bool root_allowed, cx_error *err)
{
	_cleanup_close_ int fd = cx_openat2(AT_FDCWD, path, O_PATH,
					    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return 0; /* missing or a symlink: the view says so, with its own reason */
	return sbx_owner_allowed(path, &st, root_allowed, err);
}

int sbx_owner_allowed(const char *path, const struct stat *st, bool root_allowed, cx_error *err)
{
	if ((st->st_uid == 0 || st->st_gid == 0) && !root_allowed)
		return cx_err(err, CX_E_POLICY_PATH, EPERM,
			      "writable tree '%.200s' is owned by root (%u:%u): the run would own root's files in it (chown it to the user its writes should belong to, or set \"root_owned_trees\": \"allow\" in the policy)",
			      path, (unsigned)st->st_uid, (unsigned)st->st_gid);
	return 0;
}
