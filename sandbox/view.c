/* The sandbox's file view: a fresh tmpfs root holding only what the lease
 * and policy grant, then pivot_root into it.
 *
 * Threat model: every host path we bind may be a tree the run (or anyone)
 * controls — a symlink planted in it, or swapped in while we work (the
 * runc/crun mount-race family), must not redirect a mount. So:
 *  - a source is opened once with openat2(RESOLVE_NO_SYMLINKS|
 *    RESOLVE_NO_MAGICLINKS) and the mount is cloned from that very fd
 *    (open_tree(OPEN_TREE_CLONE|AT_EMPTY_PATH)): no path is looked up twice;
 *  - a target is resolved beneath the new root with RESOLVE_BENEATH|
 *    RESOLVE_NO_SYMLINKS and the mount moved onto that fd (move_mount with
 *    MOVE_MOUNT_T_EMPTY_PATH);
 *  - after mounting, the target is opened again and must be the source
 *    inode (checked again after mounting);
 *  - every bind is nosuid,nodev (devices: nosuid,noexec; writable trees
 *    also noexec unless the lease runs something from them: tree_runs),
 *    read-only unless granted write; mounts are private to the sandbox (the whole tree is
 *    made a slave first, so nothing propagates back to the host);
 *  - no host unix socket answers through the view unless the policy names
 *    it: every leased directory is an overlay (writable ones over the
 *    run's upper, read-only ones over an empty second layer), and a
 *    pathname socket is found by the inode its path resolves to, which
 *    through an overlay is the overlay's own, with nothing bound to it
 *    (ECONNREFUSED). A read-only bind would show the host's very inode, and
 *    neither MS_RDONLY nor network "none" stops connect() or sendto(): a
 *    lease reading /run would reach docker.sock or D-Bus. Why not seccomp
 *    or Landlock: Landlock (ABI <= 7) has no right for pathname sockets
 *    (its scope covers abstract ones only, which the run's own network
 *    namespace also hides), and seccomp sees a path string, not what it
 *    resolves to (a symlink planted in /work defeats any check of it), so
 *    it could only refuse AF_UNIX altogether, the run's own sockets too.
 *    The run's own sockets (bound through its writable overlays, /tmp or
 *    /dev/shm) are bound on the view's inodes and work. This is
 *    overlayfs's behaviour, not a documented promise: every run checks it
 *    first (sockets_hidden) and a kernel where a socket answers through an
 *    overlay is refused (E_LAYER). A socket the policy names
 *    ("unix_sockets") is bound over its overlay stand-in, where the lease
 *    mounts a tree that holds it, and answers; nothing else does;
 * Runs in init (pid 1 of the sandbox's pid namespace) as root in the
 * initial user namespace, inside its own mount namespace: nothing done
 * here is visible on the host. */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "calyx/fileio.h"
#include "calyx/path.h"

/* The view's own mount points: a lease may not place paths on or under
 * them (nor mount "/" itself). */
static const char *const reserved[] = { "/proc", "/sys", "/dev", "/tmp", "/work" };

int cx_sandbox_check_spec(const cx_run_spec *spec, cx_error *err)
{
	const cx_strv *lists[] = { &spec->ro, &spec->rw };

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *p = lists[l]->v[i];
			if (strcmp(p, "/") == 0)
				return cx_err(err, CX_E_POLICY_PATH, EINVAL,
					      "lease.paths.%s '/' cannot be mounted (list the subtrees the command needs)",
					      l ? "rw" : "ro");
			for (size_t r = 0; r < CX_ARRAY_SIZE(reserved); r++)
				if (cx_path_within(p, reserved[r]))
					return cx_err(err, CX_E_POLICY_PATH, EINVAL,
						      "lease.paths.%s '%.200s' is on the sandbox's own %s (the view provides it)",
						      l ? "rw" : "ro", p, reserved[r]);
			for (size_t m = 0; m < 2; m++)
				for (size_t k = 0; k < lists[m]->n; k++)
					if ((m != l || k != i) && strcmp(p, lists[m]->v[k]) == 0)
						return cx_err(err, CX_E_POLICY_PATH, EINVAL,
							      "lease path '%.200s' is listed twice", p);
		}
	return 0;
}

/* Open a host path for binding: no symlink anywhere in it. */
static int open_source(const char *path, cx_error *err)
{
	int fd = cx_openat2(AT_FDCWD, path, O_PATH,
			    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd == -ELOOP || fd == -EXDEV)
		return cx_err(err, CX_E_VIEW, ELOOP,
			      "'%.200s' has a symlink in it; list the path it points to instead", path);
	if (fd < 0)
		return cx_err(err, CX_E_VIEW, -fd, "cannot open '%.200s' on this host: %s", path,
			      strerror(-fd));
	return fd;
}

/* Resolve (creating what is missing, as directories or a final empty
 * file) a path beneath rootfd without following any symlink. */
static int open_target(int rootfd, const char *path, bool is_dir, cx_error *err)
{
	char buf[CX_PATH_MAX + 1];
	int cur = -1, r;

	if (strlen(path) >= sizeof(buf))
		return cx_err(err, CX_E_VIEW, ENAMETOOLONG, "'%.200s': path too long", path);
	strcpy(buf, path);
	cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return cx_err(err, CX_E_SPAWN, errno, "dup: %s", strerror(errno));
	for (char *c = buf + 1, *next; c && *c; c = next) {
		char *slash = strchr(c, '/');
		bool last = !slash;
		int fd;

		if (slash)
			*slash = '\0';
		next = slash ? slash + 1 : NULL;
		fd = cx_openat2(cur, c, O_PATH | O_NOFOLLOW,
				RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (fd == -ENOENT) {
			if (!last || is_dir)
				r = mkdirat(cur, c, 0755);
			else {
				r = openat(cur, c, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (r >= 0)
					close(r), r = 0;
			}
			if (r < 0) {
				r = -errno;
				close(cur);
				return cx_err(err, CX_E_VIEW, -r,
					      "cannot create mount point for '%.200s' (component '%s'): %s%s",
					      path, c, strerror(-r),
					      r == -EROFS ? " — it lies inside a read-only path that lacks it" : "");
			}
			fd = cx_openat2(cur, c, O_PATH | O_NOFOLLOW,
					RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		}
		close(cur);
		if (fd < 0)
			return cx_err(err, CX_E_VIEW, -fd,
				      "mount point for '%.200s' (component '%s'): %s", path, c,
				      fd == -ELOOP ? "is a symlink inside an already mounted tree"
						   : strerror(-fd));
		cur = fd;
	}
	return cur;
}

/* Clone the mount at srcfd onto dstfd with these attributes. */
static int bind_fd(int srcfd, int dstfd, uint64_t attrs, bool recursive, const char *what,
		   cx_error *err)
{
	struct mount_attr ma = { .attr_set = attrs, .propagation = MS_PRIVATE };
	_cleanup_close_ int tree = -1;
	unsigned int rec = recursive ? AT_RECURSIVE : 0;

	tree = open_tree(srcfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec);
	if (tree < 0)
		return cx_err(err, CX_E_SPAWN, errno, "open_tree '%.200s': %s", what, strerror(errno));
	if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &ma, sizeof(ma)) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "mount_setattr '%.200s': %s", what,
			      strerror(errno));
	if (move_mount(tree, "", dstfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "move_mount '%.200s': %s", what, strerror(errno));
	return 0;
}

typedef struct vbind {
	const char *src;     /* host path */
	const char *dst;     /* path in the view */
	bool rw;
	const char *overlay; /* rw through an overlay: dir holding upper/ and work/ */
	bool noexec;         /* a writable tree nothing leased runs from */
} vbind;

static size_t depth(const char *p)
{
	size_t d = 0;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int cmp_depth(const void *a, const void *b)
{
	const vbind *x = a, *y = b;
	size_t dx = depth(x->dst), dy = depth(y->dst);
	return dx < dy ? -1 : dx > dy ? 1 : strcmp(x->dst, y->dst);
}

/* What the writable overlays share: the run's ids, the policy's word on
 * root-owned trees, and the idmap user namespaces the parent made, one
 * per tree owner (sbx_idmaps_prepare). */
typedef struct vctx {
	const cx_sandbox_config *cfg;
	const sbx_idmaps *idm;
} vctx;

/* An overlay on dst: lower = the host tree (pinned fd), upper/work in
 * the run's scratch tree dir. Both layers are idmapped clones (idmap.c):
 * the run's uid owns what the tree root's owner owns, and its writes are
 * stored as that owner. The upper's root takes the owner and mode of the
 * host tree's root (it is what the overlay shows as the root). Options
 * keep the upper easy to read back exactly: no redirects (a dir rename
 * becomes copy+delete), no metacopy, no index. Paths are given as
 * /proc/self/fd/N of fds we opened without following symlinks (or of
 * mounts we cloned from them), so no path string is parsed twice or can
 * smuggle options. Detached idmapped layers need kernel >= 6.15 (the
 * overlay refuses them before: E_LAYER, no fallback). */
static int overlay_path(int rootfd, vctx *v, const vbind *b, int src, const struct stat *ss,
			cx_error *err)
{
	_cleanup_close_ int tree = -1, lower = -1, scratch = -1, fsfd = -1, mnt = -1, dst = -1;
	char lp[32], upp[48], wpp[48];
	struct {
		const char *key, *val;
	} opts[] = {
		{ "lowerdir", lp }, { "upperdir", upp }, { "workdir", wpp },
		{ "redirect_dir", "off" }, { "metacopy", "off" }, { "index", "off" }, { "xino", "off" },
	};
	int ns, r;

	r = sbx_owner_allowed(b->src, ss, v->cfg->root_owned_trees, err);
	if (r < 0)
		return r;
	tree = open(b->overlay, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tree < 0)
		return cx_err(err, CX_E_SPAWN, errno, "overlay dir '%s': %s", b->overlay,
			      strerror(errno));
	/* the run's own tmpfs, made by calyx-exec: no one else's inode */
	if (fchownat(tree, "upper", ss->st_uid, ss->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(tree, "upper", ss->st_mode & 01777, 0) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "overlay upper in '%s': %s", b->overlay,
			      strerror(errno));
	ns = sbx_idmaps_find(v->idm, ss);
	if (ns < 0)
		return cx_err(err, CX_E_VIEW, EIO,
			      "'%.200s' changed owner while the sandbox was starting (raced?); refusing to run",
			      b->src);
	lower = sbx_idmap_clone(src, ns, b->src, err);
	if (lower < 0)
		return lower;
	scratch = sbx_idmap_clone(tree, ns, "the run's scratch tmpfs", err);
	if (scratch < 0)
		return scratch;
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", lower);
	snprintf(upp, sizeof(upp), "/proc/self/fd/%d/upper", scratch);
	snprintf(wpp, sizeof(wpp), "/proc/self/fd/%d/work", scratch);
	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return cx_err(err, CX_E_LAYER, errno, "overlayfs is not available: %s", strerror(errno));
	for (size_t i = 0; i < CX_ARRAY_SIZE(opts); i++)
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i].key, opts[i].val, 0) < 0)
			return cx_err(err, CX_E_LAYER, errno,
				      "overlay option %s for '%.200s' (over idmapped layers): %s",
				      opts[i].key, b->src, strerror(errno));
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "overlay over idmapped layers for '%.200s': %s (this kernel cannot stack them)",
			      b->src, strerror(errno));
	mnt = fsmount(fsfd, FSMOUNT_CLOEXEC,
		      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->noexec ? MOUNT_ATTR_NOEXEC : 0));
	if (mnt < 0)
		return cx_err(err, CX_E_SPAWN, errno, "overlay mount for '%.200s': %s", b->src,
			      strerror(errno));
	dst = open_target(rootfd, b->dst, true, err);
	if (dst < 0)
		return dst;
	if (move_mount(mnt, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "move overlay to '%.200s': %s", b->dst,
			      strerror(errno));
	return 0;
}

/* A read-only overlay of the directory `lower` (an fd) over `empty` (an
 * empty directory: overlayfs wants two lower layers when there is no
 * upper), returned detached as a mount fd. Redirect xattrs in the host
 * tree are not followed; no metacopy, no index. */
static int ro_overlay(int lower, int empty, const char *what, cx_error *err)
{
	_cleanup_close_ int fsfd = -1;
	char lp[64];
	const struct {
		const char *key, *val;
	} opts[] = {
		{ "lowerdir", lp }, { "redirect_dir", "nofollow" }, { "metacopy", "off" },
		{ "index", "off" }, { "xino", "off" },
	};
	int mnt;

	snprintf(lp, sizeof(lp), "/proc/self/fd/%d:/proc/self/fd/%d", lower, empty);
	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return cx_err(err, CX_E_LAYER, errno,
			      "overlayfs is not available: %s (read-only trees are mounted through it, so that host unix sockets in them stay unreachable)",
			      strerror(errno));
	for (size_t i = 0; i < CX_ARRAY_SIZE(opts); i++)
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i].key, opts[i].val, 0) < 0)
			return cx_err(err, CX_E_SPAWN, errno, "overlay option %s for '%.200s': %s",
				      opts[i].key, what, strerror(errno));
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return cx_err(err, CX_E_VIEW, errno,
			      "'%.200s' cannot be mounted read-only through an overlay: %s", what,
			      strerror(errno));
	mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return cx_err(err, CX_E_SPAWN, errno, "overlay mount for '%.200s': %s", what,
			      strerror(errno));
	return mnt;
}

/* A leased read-only directory: its overlay moved onto the target, which
 * must then be that overlay (a directory on overlayfs). */
static int ro_overlay_path(int rootfd, const vbind *b, int src, int empty, cx_error *err)
{
	_cleanup_close_ int mnt = ro_overlay(src, empty, b->src, err), dst = -1, again = -1;
	struct statfs sfs;
	struct stat st;

	if (mnt < 0)
		return mnt;
	dst = open_target(rootfd, b->dst, true, err);
	if (dst < 0)
		return dst;
	if (move_mount(mnt, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "move overlay to '%.200s': %s", b->dst,
			      strerror(errno));
	again = cx_openat2(rootfd, b->dst + 1, O_PATH | O_NOFOLLOW | O_DIRECTORY,
			   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (again < 0 || fstatfs(again, &sfs) < 0 || sfs.f_type != OVERLAYFS_SUPER_MAGIC ||
	    fstat(again, &st) < 0 || !S_ISDIR(st.st_mode))
		return cx_err(err, CX_E_VIEW, EIO,
			      "'%.200s' is not what was mounted at '%.200s' (raced?); refusing to run",
			      b->src, b->dst);
	return 0;
}

static int bind_path(int rootfd, vctx *v, const vbind *b, int empty, cx_error *err)
{
	_cleanup_close_ int src = -1, dst = -1, again = -1;
	struct stat ss, ds;
	int r;

	src = open_source(b->src, err);
	if (src < 0)
		return src;
	if (fstat(src, &ss) < 0)
		return cx_err(err, CX_E_VIEW, errno, "stat '%.200s': %s", b->src, strerror(errno));
	if (!S_ISDIR(ss.st_mode) && !S_ISREG(ss.st_mode))
		return cx_err(err, CX_E_VIEW, EINVAL,
			      "'%.200s' is neither a directory nor a regular file", b->src);
	if (b->overlay) {
		if (!S_ISDIR(ss.st_mode))
			return cx_err(err, CX_E_VIEW, ENOTDIR,
				      "writable path '%.200s' must be a directory (it is committed as a tree)",
				      b->src);
		return overlay_path(rootfd, v, b, src, &ss, err);
	}
	if (!b->rw && S_ISDIR(ss.st_mode))
		return ro_overlay_path(rootfd, b, src, empty, err);
	dst = open_target(rootfd, b->dst, S_ISDIR(ss.st_mode), err);
	if (dst < 0)
		return dst;
	r = bind_fd(src, dst,
		    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->rw ? 0 : MOUNT_ATTR_RDONLY) |
			    (b->noexec ? MOUNT_ATTR_NOEXEC : 0),
		    true, b->src, err);
	if (r < 0)
		return r;
	/* Checked again after mounting: the target now is the source. */
	again = cx_openat2(rootfd, b->dst + 1, O_PATH | O_NOFOLLOW,
			   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (again < 0 || fstat(again, &ds) < 0 || ds.st_dev != ss.st_dev || ds.st_ino != ss.st_ino)
		return cx_err(err, CX_E_VIEW, EIO,
			      "'%.200s' is not what was mounted at '%.200s' (raced?); refusing to run",
			      b->src, b->dst);
	return 0;
}

/* The empty second layer of the read-only overlays: a tiny read-only
 * tmpfs mounted on the view's root dir, under the view's own tmpfs (which
 * is stacked on it next). A file system of its own, so it can never lie
 * inside a leased tree (overlayfs refuses layers nested in each other,
 * and a policy may let a lease read the state dir's parent); attached to
 * init's mount namespace, since kernels before 6.15 refuse detached
 * mounts as overlay layers. pivot_root later leaves it behind with the
 * old root; the overlays hold their own references to it. */
static int mount_empty_layer(const char *dir, cx_error *err)
{
	int fd;

	if (mount("tmpfs", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0555,size=4k,nr_inodes=16") < 0)
		return cx_err(err, CX_E_SPAWN, errno, "mount the empty layer on '%s': %s", dir,
			      strerror(errno));
	fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cx_err(err, CX_E_SPAWN, errno, "open the empty layer: %s", strerror(errno));
	return fd;
}

/* The property the threat model rests on, checked before anything is
 * mounted: a socket bound and listening in a directory does not answer
 * through an overlay of that directory. Done in a scratch directory of
 * the view's own tmpfs, removed afterwards. */
static int sockets_hidden(int rootfd, int empty, cx_error *err)
{
	static const char scratch[] = ".calyx-socket-check";
	_cleanup_close_ int dir = -1, lsn = -1, cli = -1, ovl = -1;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int r = 0, e;

	if (mkdirat(rootfd, scratch, 0700) < 0 ||
	    (dir = openat(rootfd, scratch, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "socket check: scratch dir: %s", strerror(errno));
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/s", dir);
	lsn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lsn, 1) < 0) {
		r = cx_err(err, CX_E_SPAWN, errno, "socket check: listener: %s", strerror(errno));
		goto out;
	}
	ovl = ro_overlay(dir, empty, "the socket check's directory", err);
	if (ovl < 0) {
		r = ovl;
		goto out;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/s", ovl);
	cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	e = cli < 0 ? errno : connect(cli, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
	if (e == 0)
		r = cx_err(err, CX_E_LAYER, EPERM,
			   "this kernel's overlayfs lets a unix socket answer through it, so host sockets in leased trees would be reachable; calyx-exec does not run here");
	else if (e != ECONNREFUSED)
		r = cx_err(err, CX_E_LAYER, e,
			   "cannot check that host unix sockets stay unreachable through an overlay: %s",
			   strerror(e));
out:
	if (unlinkat(dir, "s", 0) < 0 && errno != ENOENT && r == 0)
		r = cx_err(err, CX_E_SPAWN, errno, "socket check: cleanup: %s", strerror(errno));
	if (unlinkat(rootfd, scratch, AT_REMOVEDIR) < 0 && r == 0)
		r = cx_err(err, CX_E_SPAWN, errno, "socket check: cleanup: %s", strerror(errno));
	return r;
}

/* The host sockets the policy names, where the lease mounts a tree that
 * holds them: each bound over its overlay stand-in (at the same path for
 * ro and rw trees, under /work for the workspace), so that it alone
 * answers. A named socket that does not exist on the host (its daemon is
 * down) is left out; one that is not a socket, or sits on a file system
 * mounted below the leased tree (the overlay shows the tree's own file
 * system only), is refused. */
static int bind_named_sockets(int rootfd, const cx_strv *socks, const vbind *binds, size_t n,
			      cx_error *err)
{
	for (size_t i = 0; socks && i < socks->n; i++) {
		const char *sp = socks->v[i];
		bool at_path = false;

		for (size_t k = 0; k < n; k++) {
			const vbind *b = &binds[k];
			char view[CX_PATH_MAX + 8];
			bool ws = strcmp(b->dst, b->src) != 0;

			if (strcmp(sp, b->src) == 0 || !cx_path_within(sp, b->src) || (!ws && at_path))
				continue;
			snprintf(view, sizeof(view), "%s%s", b->dst, sp + strlen(b->src));
			at_path |= !ws;
			_cleanup_close_ int src = cx_openat2(AT_FDCWD, sp, O_PATH,
							     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
			_cleanup_close_ int dst = -1, again = -1;
			struct stat ss, ds;
			int r;

			if (src == -ENOENT)
				break;
			if (src < 0)
				return cx_err(err, CX_E_VIEW, -src,
					      "host socket '%.200s' (policy unix_sockets) cannot be opened: %s%s",
					      sp, strerror(-src),
					      src == -ELOOP || src == -EXDEV ? " (a symlink is in its path)" : "");
			if (fstat(src, &ss) < 0 || !S_ISSOCK(ss.st_mode))
				return cx_err(err, CX_E_VIEW, ENOTSOCK,
					      "'%.200s' is named in the policy's unix_sockets but is not a socket on this host",
					      sp);
			dst = cx_openat2(rootfd, view + 1, O_PATH | O_NOFOLLOW,
					 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
			if (dst < 0)
				return cx_err(err, CX_E_VIEW, -dst,
					      "host socket '%.200s' (policy unix_sockets) is not in the view at '%.200s': %s (it may lie on a file system mounted below '%.200s': lease that mount's own path)",
					      sp, view, strerror(-dst), b->src);
			r = bind_fd(src, dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						      MOUNT_ATTR_NOEXEC,
				    false, sp, err);
			if (r < 0)
				return r;
			again = cx_openat2(rootfd, view + 1, O_PATH | O_NOFOLLOW,
					   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
			if (again < 0 || fstat(again, &ds) < 0 || ds.st_dev != ss.st_dev ||
			    ds.st_ino != ss.st_ino)
				return cx_err(err, CX_E_VIEW, EIO,
					      "'%.200s' is not what was mounted at '%.200s' (raced?); refusing to run",
					      sp, view);
		}
	}
	return 0;
}

static int mount_tmpfs_at(int rootfd, const char *dst, const char *opts, unsigned long flags,
			  cx_error *err)
{
	_cleanup_close_ int fd = open_target(rootfd, dst, true, err);
	char proc_path[64];

	if (fd < 0)
		return fd;
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	if (mount("tmpfs", proc_path, "tmpfs", flags, opts) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "mount tmpfs on %s: %s", dst, strerror(errno));
	return 0;
}

static int build_dev(int rootfd, bool shm, bool shm_exec, uint64_t shm_bytes, cx_error *err)
{
	static const struct { const char *name; unsigned major, minor; } devs[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 },
	};
	static const struct { const char *name, *target; } links[] = {
		{ "fd", "/proc/self/fd" },         { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" },   { "stderr", "/proc/self/fd/2" },
	};
	_cleanup_close_ int devfd = -1;
	int r = mount_tmpfs_at(rootfd, "/dev", "mode=0755,size=64k,nr_inodes=64",
			       MS_NOSUID | MS_NOEXEC, err);
	if (r < 0)
		return r;
	devfd = open_target(rootfd, "/dev", true, err);
	if (devfd < 0)
		return devfd;
	for (size_t i = 0; i < CX_ARRAY_SIZE(devs); i++) {
		char hp[32];
		_cleanup_close_ int src = -1, dst = -1;
		struct stat st;

		snprintf(hp, sizeof(hp), "/dev/%s", devs[i].name);
		src = open_source(hp, err);
		if (src < 0)
			return src;
		/* The host's node must really be that device. */
		if (fstat(src, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != devs[i].major ||
		    minor(st.st_rdev) != devs[i].minor)
			return cx_err(err, CX_E_VIEW, EINVAL, "host %s is not the expected device", hp);
		dst = openat(devfd, devs[i].name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0644);
		if (dst < 0)
			return cx_err(err, CX_E_SPAWN, errno, "create /dev/%s: %s", devs[i].name,
				      strerror(errno));
		close(dst);
		dst = cx_openat2(devfd, devs[i].name, O_PATH | O_NOFOLLOW,
				 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (dst < 0)
			return cx_err(err, CX_E_SPAWN, -dst, "open /dev/%s: %s", devs[i].name,
				      strerror(-dst));
		r = bind_fd(src, dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false, hp, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < CX_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i].target, devfd, links[i].name) < 0)
			return cx_err(err, CX_E_SPAWN, errno, "symlink /dev/%s: %s", links[i].name,
				      strerror(errno));
	/* POSIX shared memory, when the policy allows it: the sandbox's own
	 * tmpfs (never the host's /dev/shm), capped like /tmp. */
	if (shm) {
		char opts[96];
		snprintf(opts, sizeof(opts), "mode=1777,size=%llu,nr_inodes=4096",
			 (unsigned long long)shm_bytes);
		r = mount_tmpfs_at(rootfd, "/dev/shm", opts,
				   MS_NOSUID | MS_NODEV | (shm_exec ? 0 : MS_NOEXEC), err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* /proc of the new pid namespace, with the host-facing knobs masked
 * (docker/runc's maskedPaths and readonlyPaths). The payload has no
 * capability, so these are defense in depth. */
static int build_proc(int rootfd, cx_error *err)
{
	static const char *const masked_files[] = { "kcore", "keys", "timer_list", "sysrq-trigger",
						    "latency_stats", "sched_debug", "kallsyms", "kmsg" };
	static const char *const masked_dirs[] = { "acpi", "scsi", "firmware", "asound" };
	static const char *const ro_dirs[] = { "sys", "bus", "fs", "irq" };
	_cleanup_close_ int pfd = open_target(rootfd, "/proc", true, err), procfd = -1, nullfd = -1;
	char pp[64];
	struct statfs sfs;
	int r;

	if (pfd < 0)
		return pfd;
	snprintf(pp, sizeof(pp), "/proc/self/fd/%d", pfd);
	if (mount("proc", pp, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") < 0)
		return cx_err(err, CX_E_SPAWN, errno, "mount /proc: %s", strerror(errno));
	procfd = cx_openat2(rootfd, "proc", O_RDONLY | O_DIRECTORY,
			    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	/* Really procfs before anything goes through it. */
	if (procfd < 0 || fstatfs(procfd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		return cx_err(err, CX_E_SPAWN, EINVAL, "the new /proc is not procfs; refusing to run");
	/* memfd_create'd files may not be executed in this pid namespace
	 * (Landlock cannot see anonymous files): kernel >= 6.3, per pidns. */
	{
		_cleanup_close_ int m = openat(procfd, "sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
		if (m >= 0 && write(m, "2", 1) != 1)
			return cx_err(err, CX_E_SPAWN, errno, "vm.memfd_noexec: %s", strerror(errno));
	}
	nullfd = open_source("/dev/null", err);
	if (nullfd < 0)
		return nullfd;
	for (size_t i = 0; i < CX_ARRAY_SIZE(masked_files); i++) {
		_cleanup_close_ int t = cx_openat2(procfd, masked_files[i], O_PATH | O_NOFOLLOW,
						   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (t == -ENOENT)
			continue;
		if (t < 0)
			return cx_err(err, CX_E_SPAWN, -t, "/proc/%s: %s", masked_files[i], strerror(-t));
		r = bind_fd(nullfd, t, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false,
			    masked_files[i], err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < CX_ARRAY_SIZE(masked_dirs); i++) {
		_cleanup_close_ int t = cx_openat2(procfd, masked_dirs[i], O_PATH | O_NOFOLLOW | O_DIRECTORY,
						   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		char tp[64];
		if (t == -ENOENT)
			continue;
		if (t < 0)
			return cx_err(err, CX_E_SPAWN, -t, "/proc/%s: %s", masked_dirs[i], strerror(-t));
		snprintf(tp, sizeof(tp), "/proc/self/fd/%d", t);
		if (mount("tmpfs", tp, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=0,mode=0555") < 0)
			return cx_err(err, CX_E_SPAWN, errno, "mask /proc/%s: %s", masked_dirs[i],
				      strerror(errno));
	}
	for (size_t i = 0; i < CX_ARRAY_SIZE(ro_dirs); i++) {
		_cleanup_close_ int t = cx_openat2(procfd, ro_dirs[i], O_PATH | O_NOFOLLOW | O_DIRECTORY,
						   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (t == -ENOENT)
			continue;
		if (t < 0)
			return cx_err(err, CX_E_SPAWN, -t, "/proc/%s: %s", ro_dirs[i], strerror(-t));
		r = bind_fd(t, t, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				      MOUNT_ATTR_NOEXEC,
			    true, ro_dirs[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* dir + "/" + a relative link target, or the target itself when absolute,
 * with "." and ".." folded lexically (the links read here are the host
 * root's own: root-owned system paths, read before pivot_root). */
static bool link_resolve(const char *dir, const char *target, char *out, size_t outlen)
{
	char buf[CX_PATH_MAX + 2];
	size_t n = 0;

	if (snprintf(buf, sizeof(buf), "%s/%s", target[0] == '/' ? "" : dir, target) >=
	    (int)sizeof(buf))
		return false;
	out[0] = '\0';
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			char *sl = strrchr(out, '/');
			n = sl ? (size_t)(sl - out) : 0;
			out[n] = '\0';
			continue;
		}
		if (n + 1 + strlen(c) + 1 > outlen)
			return false;
		size_t cl = strlen(c);
		out[n++] = '/';
		memcpy(out + n, c, cl + 1); /* bounded just above */
		n += cl;
	}
	if (n == 0)
		snprintf(out, outlen, "/");
	return cx_path_is_normal(out);
}

static bool in_binds(const char *p, const vbind *binds, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (cx_path_within(p, binds[k].dst))
			return true;
	return false;
}

/* A bind lies beneath p: p is a directory of the view's skeleton. */
static bool holds_binds(const char *p, const vbind *binds, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (cx_path_within(binds[k].dst, p))
			return true;
	return false;
}

/* The host directory dir (e.g. /usr/lib64, not itself in the view) holds
 * symlinks into the view (ld-linux-x86-64.so.2 ->
 * ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2): recreate dir in the
 * view's skeleton with those links, so a chain whose final target is in
 * the view resolves. Returns how many links it made (0: none apply). */
#define LINK_DIR_ENTRIES_MAX 256
static int mirror_link_dir(int rootfd, const char *dir, const vbind *binds, size_t n,
			   cx_error *err)
{
	int hfd = cx_openat2(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY,
			     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	_cleanup_close_ int vfd = -1;
	DIR *d;
	struct dirent *de;
	int made = 0, seen = 0, r = 0;

	if (hfd < 0)
		return 0;
	d = fdopendir(hfd); /* owns hfd from here */
	if (!d) {
		close(hfd);
		return 0;
	}
	while (r == 0 && (de = readdir(d)) && seen++ < LINK_DIR_ENTRIES_MAX) {
		char target[256];
		ssize_t len;

		struct stat lst;
		if (de->d_type != DT_LNK &&
		    !(de->d_type == DT_UNKNOWN &&
		      fstatat(dirfd(d), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
		      S_ISLNK(lst.st_mode)))
			continue;
		len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		/* where it ends on the host, through every link (the host's
		 * root-owned system dirs: /lib -> usr/lib and the like) */
		char hp[CX_PATH_MAX + 1];
		_cleanup_free_ char *real = NULL;
		if (snprintf(hp, sizeof(hp), "%s/%s", dir, de->d_name) >= (int)sizeof(hp) ||
		    !(real = realpath(hp, NULL)) || !in_binds(real, binds, n))
			continue;
		if (vfd < 0 && (vfd = open_target(rootfd, dir, true, err)) < 0) {
			r = vfd;
			break;
		}
		if (symlinkat(target, vfd, de->d_name) < 0 && errno != EEXIST)
			r = cx_err(err, CX_E_SPAWN, errno, "symlink %s/%s: %s", dir, de->d_name,
				   strerror(errno));
		else
			made++;
	}
	closedir(d);
	return r < 0 ? r : made;
}

/* Merged-/usr hosts: /bin, /lib, /lib64... are symlinks into /usr.
 * Recreate those whose target lies inside a tree the view mounts or
 * holds one (/lib -> usr/lib when /usr/lib/x86_64-linux-gnu is leased),
 * or is a directory of links into them (/lib64 -> usr/lib64, where
 * /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...: a lease
 * reading only /usr/lib/x86_64-linux-gnu still gets its loader, the
 * whole chain of links down to a file in the view). */
static int top_level_links(int rootfd, const vbind *binds, size_t n, cx_error *err)
{
	static const char *const names[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

	for (size_t i = 0; i < CX_ARRAY_SIZE(names); i++) {
		char target[256], abs[CX_PATH_MAX + 1], hp[32];
		struct stat st;
		ssize_t len;
		int made;

		/* the host's own root directory: root-owned, read before pivot */
		snprintf(hp, sizeof(hp), "/%s", names[i]);
		len = readlink(hp, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (!link_resolve("/", target, abs, sizeof(abs)) || strcmp(abs, "/") == 0)
			continue;
		if (fstatat(rootfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue; /* the lease placed something there */
		if (!in_binds(abs, binds, n) && !holds_binds(abs, binds, n)) {
			made = mirror_link_dir(rootfd, abs, binds, n, err);
			if (made < 0)
				return made;
			if (made == 0)
				continue;
		}
		if (symlinkat(target, rootfd, names[i]) < 0)
			return cx_err(err, CX_E_SPAWN, errno, "symlink /%s: %s", names[i],
				      strerror(errno));
	}
	return 0;
}

/* Nothing the run writes may be executed unless the lease says so: a
 * writable tree (/work, rw paths, /tmp, /dev/shm) is mounted noexec
 * unless the command or an exec entry lies within it (or it within an
 * exec entry: a directory entry over it). Then the tree stays
 * exec-capable and Landlock still limits execve to the entries.
 * noexec also refuses mmap(PROT_EXEC) of its files, which Landlock's
 * execute right does not cover. */
static bool tree_runs(const cx_sandbox_config *cfg, const char *tree)
{
	const cx_run_spec *s = cfg->spec;
	if (cfg->exec_anywhere)
		return true; /* calyx-policy learn: it must see what a build runs from its trees */
	const char *cmds[2] = { s->argv.n ? s->argv.v[0] : NULL,
				cfg->argv && cfg->argv->n ? cfg->argv->v[0] : NULL };

	for (size_t i = 0; i < 2; i++)
		if (cmds[i] && cx_path_within(cmds[i], tree))
			return true;
	for (size_t i = 0; i < s->exec.n; i++)
		if (cx_path_within(s->exec.v[i], tree) || cx_path_within(tree, s->exec.v[i]))
			return true;
	return false;
}

int sbx_view_build(const cx_sandbox_config *cfg, const struct sbx_idmaps *idm, cx_error *err)
{
	const cx_run_spec *s = cfg->spec;
	size_t n = 0;
	vbind *binds;
	vctx v = { .cfg = cfg, .idm = idm };
	_cleanup_close_ int rootfd = -1, empty = -1;
	char opts[96];
	int r;

	r = cx_sandbox_check_spec(s, err);
	if (r < 0)
		return r;
	/* Nothing we mount may propagate to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "make / a slave mount: %s", strerror(errno));
	empty = mount_empty_layer(cfg->root_dir, err);
	if (empty < 0)
		return empty;
	if (mount("tmpfs", cfg->root_dir, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=1m,nr_inodes=4096") < 0)
		return cx_err(err, CX_E_SPAWN, errno, "mount tmpfs root on '%s': %s", cfg->root_dir,
			      strerror(errno));
	rootfd = open(cfg->root_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0)
		return cx_err(err, CX_E_SPAWN, errno, "open view root: %s", strerror(errno));
	if ((r = sockets_hidden(rootfd, empty, err)) < 0)
		return r;

	binds = cx_calloc(s->ro.n + s->rw.n + 1, sizeof(*binds));
	for (size_t i = 0; i < s->ro.n; i++)
		binds[n++] = (vbind){ s->ro.v[i], s->ro.v[i], false, NULL, false };
	/* overlay_dirs: [0] the workspace, [1 + i] rw path i */
	const char *const *ov = cfg->overlay_dirs;
	for (size_t i = 0; i < s->rw.n; i++)
		binds[n++] = (vbind){ s->rw.v[i], s->rw.v[i], true, ov ? ov[1 + i] : NULL,
				      !tree_runs(cfg, s->rw.v[i]) };
	if (s->workspace)
		binds[n++] = (vbind){ s->workspace, "/work", true, ov ? ov[0] : NULL,
				      !tree_runs(cfg, "/work") };
	/* Parents before children, so a nested path lands inside its parent. */
	qsort(binds, n, sizeof(*binds), cmp_depth);
	for (size_t i = 0; i < n; i++) {
		r = bind_path(rootfd, &v, &binds[i], empty, err);
		if (r < 0) {
			free(binds);
			return r;
		}
	}
	r = bind_named_sockets(rootfd, cfg->unix_sockets, binds, n, err);
	if (r == 0)
		r = top_level_links(rootfd, binds, n, err);
	free(binds);
	if (r < 0)
		return r;

	if ((r = build_dev(rootfd, cfg->dev_shm, tree_runs(cfg, "/dev/shm"),
			   s->limits.v[CX_LIM_TMP_BYTES], err)) < 0 ||
	    (r = build_proc(rootfd, err)) < 0)
		return r;
	snprintf(opts, sizeof(opts), "mode=1777,size=%llu,nr_inodes=65536",
		 (unsigned long long)s->limits.v[CX_LIM_TMP_BYTES]);
	if ((r = mount_tmpfs_at(rootfd, "/tmp", opts,
				MS_NOSUID | MS_NODEV | (tree_runs(cfg, "/tmp") ? 0 : MS_NOEXEC), err)) < 0)
		return r;

	/* Enter the view and detach the old root entirely. */
	if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return cx_err(err, CX_E_SPAWN, errno, "pivot_root into the view: %s", strerror(errno));
	/* The view's skeleton itself is read-only. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0 ||
	    mount(NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "remount the view read-only: %s", strerror(errno));
	return 0;
}
