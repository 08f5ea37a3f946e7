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
 * child is killed before the fd is used, and reaped once the sandbox is
 * cloned), the fd is only ever handed to mount_setattr (and closed by
 * init once the view is built); the mapping covers exactly the ids above;
 * the helper runs nothing but pause(); the
 * mounts are clones made in the sandbox's own mount namespace from fds
 * opened without following symlinks. No fallback: a kernel or file
 * system that cannot idmap refuses the run (E_LAYER).
 * The namespaces are made in calyx-exec before clone3 (root, the host's
 * /proc); init clones and idmaps the mounts with them. */
#include "internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calyx/fileio.h"

/* The helper child: it only has to exist while we write its maps and
 * open its namespace. Shares our memory (CLONE_VM: no page-table copy),
 * so it makes raw system calls only, on its own small stack. It must
 * never outlive calyx-exec: killed (PDEATHSIG) when calyx-exec dies
 * before killing it itself (a SIGKILL between clone and kill left a
 * paused orphan holding copies of every fd — the workspace lock, the
 * control socket — so the next run and calyx-ctl waited on it), and it
 * drops its copy of the fd table at once (no CLONE_FILES: ours stays). */
static _Noreturn int helper_main(void *arg)
{
	pid_t parent = *(const pid_t *)arg; /* shared memory: ours */

	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != parent) /* died before the prctl */
		syscall(SYS_exit, 0);
	syscall(SYS_close_range, 0U, ~0U, 0U);
	for (;;)
		syscall(SYS_pause);
}

static int write_map(pid_t pid, const char *file, const char *map, cx_error *err)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(map);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, map, len) != (ssize_t)len)
		return cx_err(err, CX_E_LAYER, errno,
			      "cannot write the %s of an idmapped mount's user namespace: %s", file,
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

/* In calyx-exec (the parent), before clone3: our /proc is the host's, and
 * the helper takes no pid in the sandbox's pid namespace (the command
 * stays pid 2). */
static int make_userns(uid_t ouid, gid_t ogid, uid_t ruid, gid_t rgid, pid_t *ret_helper,
		       cx_error *err)
{
	static char stack[8192] __attribute__((aligned(16)));
	static pid_t parent; /* read by the helper (CLONE_VM) */
	char map[64], path[64];
	int fd = -1, r, st;
	pid_t pid;

	parent = getpid();
	pid = clone(helper_main, stack + sizeof(stack), CLONE_NEWUSER | CLONE_VM | SIGCHLD, &parent);
	if (pid < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "cannot create the user namespace of an idmapped mount: %s",
			      strerror(errno));
	CX_CHECK(pid > 0); /* kill() below: our helper, never 0 or -1 (a group, everyone) */
	map_text(map, sizeof(map), ouid, ruid);
	r = write_map(pid, "uid_map", map, err);
	if (r == 0) {
		map_text(map, sizeof(map), ogid, rgid);
		r = write_map(pid, "gid_map", map, err);
	}
	if (r == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = cx_err(err, CX_E_SPAWN, errno, "open %s: %s", path, strerror(errno));
	}
	/* Dead from here on (nothing but the fd keeps the namespace); it is
	 * reaped in sbx_idmaps_close, so its exit overlaps the clone3. */
	kill(pid, SIGKILL);
	if (r < 0) {
		while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
			;
		return r;
	}
	*ret_helper = pid;
	return fd;
}

void sbx_idmaps_close(sbx_idmaps *m)
{
	int st;

	while (m->n > 0) {
		m->n--;
		close(m->ns[m->n].fd);
		CX_CHECK(m->ns[m->n].helper > 0);
		while (waitpid(m->ns[m->n].helper, &st, __WALL) < 0 && errno == EINTR)
			;
	}
}

int sbx_idmaps_find(const sbx_idmaps *m, const struct stat *st)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->ns[i].uid == st->st_uid && m->ns[i].gid == st->st_gid)
			return m->ns[i].fd;
	return -1;
}

int sbx_idmaps_prepare(const cx_sandbox_config *cfg, sbx_idmaps *m, cx_error *err)
{
	const cx_run_spec *s = cfg->spec;
	const char *trees[SBX_IDMAPS_MAX];
	size_t nt = 0;

	m->n = 0;
	if (!cfg->overlay_dirs)
		return 0; /* plain binds (no transactional trees): nothing idmapped */
	if (s->workspace)
		trees[nt++] = s->workspace;
	for (size_t i = 0; i < s->rw.n && nt < SBX_IDMAPS_MAX; i++)
		trees[nt++] = s->rw.v[i];
	for (size_t i = 0; i < nt; i++) {
		_cleanup_close_ int fd = cx_openat2(AT_FDCWD, trees[i], O_PATH,
						    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		struct stat st;
		int r, ns;

		if (fd < 0 || fstat(fd, &st) < 0)
			continue; /* the view reports it, with its own reason */
		r = sbx_owner_allowed(trees[i], &st, cfg->root_owned_trees, err);
		if (r < 0)
			return r;
		if (sbx_idmaps_find(m, &st) >= 0)
			continue;
		ns = make_userns(st.st_uid, st.st_gid, cfg->run_uid, cfg->run_gid,
				 &m->ns[m->n].helper, err);
		if (ns < 0)
			return ns;
		m->ns[m->n].uid = st.st_uid;
		m->ns[m->n].gid = st.st_gid;
		m->ns[m->n++].fd = ns;
	}
	return 0;
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
