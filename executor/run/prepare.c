/* Step 4, prepare: calyx-exec's private mount namespace (step 3, before
 * the lease is consumed), the trees a run may write are locked (before
 * its lease is consumed, so a run refused because a tree is busy keeps
 * its lease), the view's mount point is checked, and the run dir gets a
 * scratch tmpfs with one overlay upper/work pair per writable tree.
 *
 * The workspace quota is that tmpfs: size=disk_bytes, nr_inodes=inodes
 * plus calyx's own dirs in it, so the kernel refuses a write past the
 * quota (ENOSPC) without any scan, and the supervisor halts the run
 * (monitor/diskquota.c). Its pages are charged to the memory cgroup of
 * the run that writes them: they count against memory_bytes too. It is
 * mounted in calyx-exec's own private mount namespace (the sandbox's is a
 * copy of it), so it vanishes when calyx-exec exits, even when killed: a
 * crashed run's uppers are gone, and recovery rolls an unfinished commit
 * back from its pack (sandbox/workspace, cx_ws_recover).
 *
 * Invariants: two runs whose writable trees overlap (the same tree, or
 * one inside the other) never interleave (the locks are held for the
 * whole run and commit); a run dir is created
 * under a name recovery ignores (<id>.new), locked, then renamed, so a
 * concurrent start never sees it unlocked; the identity of each host tree
 * as the view opens it (no symlink on the way) goes to the commit, which
 * refuses another directory swapped in at the same path meanwhile; the
 * scratch is a tmpfs (checked by its magic after mounting) or the run
 * does not start.
 * Trust: runs as root; the lease's paths were verified and are normal. */
#include "run.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "calyx/fault.h"
#include "calyx/fileio.h"
#include "calyx/timings.h"

/* The run's writable trees: [0] the workspace (may be NULL: slot 0 is
 * always the workspace), then the rw paths. */
static size_t writable_trees(const cx_run_spec *s, const char **out)
{
	size_t n = 0;
	out[n++] = s->workspace;
	for (size_t i = 0; i < s->rw.n && n < CX_WS_TREES_MAX; i++)
		out[n++] = s->rw.v[i];
	return n;
}

/* Run identities. Each live run holds an exclusive flock on
 * STATE/uids/<uid>.lock; the kernel drops it when calyx-exec exits,
 * however it ends, so a crashed run's uid is free again (its sandbox dies
 * with it: init has PDEATHSIG=SIGKILL and takes the pid namespace along).
 * The files stay (creating one is the only write; nothing to clean up).
 * The search starts at a random offset among the range's first
 * UID_WINDOW uids and wraps over the whole range: with few live runs the
 * first try succeeds, and the same few lock files are reused (creating
 * one is a journalled write, ~0.1 ms on ext4, and the directory stays
 * small). Why safe: the dir
 * is root-only (0700, checked), files are opened O_NOFOLLOW and are ours;
 * a uid is only ever used while its lock is held. */
#define UID_WINDOW 64u
int cx_run_alloc_uid(cx_run *run, cx_error *err)
{
	const cx_config *c = &run->cfg;
	char path[CX_STATE_PATH_MAX];
	uint32_t start = 0;
	int r;

	if (c->run_uid_fixed)
		return 0;
	r = cx_state_dir(run->state.uids, 077, CX_E_CONFIG, err);
	if (r < 0)
		return r;
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != sizeof(start))
		start = (uint32_t)getpid();
	start %= c->run_uid_count < UID_WINDOW ? c->run_uid_count : UID_WINDOW;
	for (uint32_t k = 0; k < c->run_uid_count; k++) {
		uint32_t uid = c->run_uid_first + (start + k) % c->run_uid_count;
		int fd;

		cx_state_uid_lock(&run->state, uid, path);
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return cx_err(err, CX_E_IDS, errno, "cannot open '%s': %s", path,
				      strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			run->uid_lock = fd;
			run->cfg.run_uid = uid;
			run->cfg.run_gid = uid;
			return 0;
		}
		r = -errno;
		close(fd);
		if (r != -EWOULDBLOCK)
			return cx_err(err, CX_E_IDS, -r, "cannot lock '%s': %s", path, strerror(-r));
	}
	return cx_err(err, CX_E_IDS, EAGAIN,
		      "no free run uid: all %u of config run_uid_range %u..%u are held by live runs (wait for one to end, or widen the range in %s); the lease was not used",
		      c->run_uid_count, c->run_uid_first, c->run_uid_first + c->run_uid_count - 1,
		      c->path);
}

int cx_run_lock_trees(cx_run *run, cx_error *err)
{
	const char *trees[CX_WS_TREES_MAX], *held[CX_WS_TREES_MAX];
	const cx_run_spec *s = &run->lease.spec;
	size_t n = 0;
	int r;

	if (s->rw.n + 1 > CX_WS_TREES_MAX)
		return cx_err(err, CX_E_POLICY_PATH, E2BIG, "at most %d writable paths per lease",
			      CX_WS_TREES_MAX - 1);
	size_t nt = writable_trees(s, trees);
	for (size_t i = 0; i < nt; i++)
		if (trees[i])
			held[n++] = trees[i];
	if (n == 0)
		return 0;
	/* all at once: runs waiting for each other's trees cannot deadlock */
	r = cx_ws_lock_trees(&run->state.ws, held, n, run->pol.workspace_wait,
			     &run->locks[run->nlocks], err);
	if (r == -EBUSY && err) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len,
			 "; or set \"workspace_lock\": \"wait\" in the policy");
	}
	if (r < 0)
		return r;
	run->nlocks++;
	return 0;
}

int cx_run_private_mounts(cx_error *err)
{
	/* source and type are ignored for a propagation change; named, not
	 * NULL, so memcheck (make valgrind) reads no null string */
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "cannot enter a private mount namespace: %s (calyx-exec must run as root; the lease was not used)",
			      strerror(errno));
	return 0;
}

/* The view is mounted on STATE/root (empty, root-only) inside the
 * sandbox's own mount namespace; concurrent runs share the directory but
 * never see each other's mounts. */
int cx_run_view_root(cx_run *run, cx_error *err)
{
	return cx_state_dir(run->state.root, S_IWGRP | S_IWOTH, CX_E_SPAWN, err);
}

/* One tree's upper (with the host tree's owner and mode: the overlay's
 * root shows them, so the run may write where it could) and work dir. */
static int prepare_tree(const char *host, const char *dir, char *up, struct stat *ret_id,
			cx_error *err)
{
	char wk[CX_STATE_PATH_MAX + 8];
	struct stat hs = { 0 };

	snprintf(up, CX_STATE_PATH_MAX + 8, "%s/upper", dir);
	snprintf(wk, sizeof(wk), "%s/work", dir);
	if (mkdir(dir, 0700) < 0 || mkdir(up, 0755) < 0 || mkdir(wk, 0700) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", dir,
			      strerror(errno));
	if (host) {
		_cleanup_close_ int tfd = cx_openat2(AT_FDCWD, host, O_PATH | O_DIRECTORY,
						     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (tfd < 0)
			errno = -tfd;
		if (tfd < 0 || fstat(tfd, &hs) < 0 || chown(up, hs.st_uid, hs.st_gid) < 0 ||
		    chmod(up, hs.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0)
			return cx_err(err, CX_E_WORKSPACE, errno,
				      "cannot prepare the overlay of '%.200s': %s", host,
				      strerror(errno));
	}
	*ret_id = hs;
	return 0;
}

/* Inodes in the scratch that are not the run's: its root, and per tree
 * tree<i>, upper, work, the overlay's work/work and one for the overlay's
 * xattrs (a tmpfs charges xattrs to its inode space). */
#define SCRATCH_INODES(n) (1 + 5 * (uint64_t)(n))

/* RUN_DIR/scratch: a tmpfs of the run's own, its quota. */
static int mount_scratch(cx_run *run, cx_run_trees *t, cx_error *err)
{
	const cx_limits *lim = &run->lease.spec.limits;
	uint64_t base = SCRATCH_INODES(t->n);
	char opts[128];
	struct statfs sf;

	cx_state_scratch(t->run_dir, t->scratch);
	if (mkdir(t->scratch, 0700) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", t->scratch,
			      strerror(errno));
	uint64_t nr_inodes = lim->v[CX_LIM_INODES] + base;
	snprintf(opts, sizeof(opts), "size=%llu,nr_inodes=%llu,mode=0700",
		 (unsigned long long)lim->v[CX_LIM_DISK_BYTES], (unsigned long long)nr_inodes);
	if (mount("calyx-scratch", t->scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno,
			      "cannot mount the run's scratch tmpfs on '%s': %s", t->scratch,
			      strerror(errno));
	t->mounted = true;
	t->disk.fd = open(t->scratch, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t->disk.fd < 0 || fstatfs(t->disk.fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
		return cx_err(err, CX_E_WORKSPACE, t->disk.fd < 0 ? errno : EINVAL,
			      "the run's scratch '%s' is not the tmpfs just mounted", t->scratch);
	t->disk.bytes = lim->v[CX_LIM_DISK_BYTES];
	t->disk.inodes = lim->v[CX_LIM_INODES];
	t->disk.inodes_base = base;
	return 0;
}

void cx_run_scratch_release(cx_run_trees *t)
{
	if (t->disk.fd >= 0)
		close(t->disk.fd);
	t->disk.fd = -1;
	/* lazily: the kernel frees it with the last reference (a sandbox's
	 * copy of the mount is gone with the sandbox) */
	if (t->mounted && umount2(t->scratch, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		t->mounted = false;
}

/* STATE/runs/<lease_id>/scratch/tree<i>/{upper,work}; the run dir's lock
 * is held while this run lives, and a later start that can take it
 * recovers the dir (housekeeping.c). */
int cx_run_prepare_dirs(cx_run *run, cx_run_trees *t, cx_error *err)
{
	char tmp[CX_STATE_PATH_MAX + 8];
	int *lock = &run->locks[run->nlocks];
	int r;

	t->disk.fd = -1;
	t->n = writable_trees(&run->lease.spec, t->host);
	if (mkdir(run->state.runs, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", run->state.runs,
			      strerror(errno));
	cx_state_run_dir(&run->state, run->lease.lease_id, t->run_dir);
	snprintf(tmp, sizeof(tmp), "%s.new", t->run_dir);
	if (CX_FAULT_IO("state", "rundir", NULL) < 0)
		return cx_err(err, CX_E_WORKSPACE, EIO, "cannot create run dir '%s': %s", tmp,
			      strerror(EIO));
	if (mkdir(tmp, 0700) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create run dir '%s': %s", tmp,
			      strerror(errno));
	CX_FAULT_POINT("run_dir_new");
	*lock = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*lock >= 0)
		run->nlocks++;
	if (*lock < 0 || flock(*lock, LOCK_EX | LOCK_NB) < 0 || rename(tmp, t->run_dir) < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "run dir '%s': %s", t->run_dir,
			      strerror(errno));
	if ((r = mount_scratch(run, t, err)) < 0)
		return r;
	for (size_t i = 0; i < t->n; i++) {
		if ((size_t)snprintf(t->dir[i], sizeof(t->dir[i]), "%s/tree%zu", t->scratch, i) >=
		    sizeof(t->dir[i]))
			return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "state dir path too long");
		r = prepare_tree(t->host[i], t->dir[i], t->upper[i], &t->id[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}
