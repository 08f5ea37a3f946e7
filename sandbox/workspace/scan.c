/* Workspace scan: read an overlay upper against its host tree and decide,
 * entry by entry, what the commit does (the plan, ws_rec) and what the
 * manifest records (ws_ment). Reads only; writes nothing anywhere.
 *
 * What an upper entry means (overlayfs with redirect_dir=off,
 * metacopy=off, index=off):
 *   char device 0:0        whiteout: the host entry goes (a whole subtree
 *                          when it is a dir)
 *   dir, trusted.overlay.opaque="y"
 *                          the host dir's entries the upper lacks go
 *   dir / file / symlink   the host entry becomes this; a host entry of
 *                          another type (a symlink, a file where a dir
 *                          comes, a dir where a file comes) is removed
 *                          first, never followed
 *   several names, one inode (regular files)
 *                          hardlinks, recreated as links in the host
 * Decisions, documented in workspace.c's header: FIFOs and sockets in the
 * upper are skipped (counted), other device nodes refused; a host FIFO,
 * socket or device the commit would remove is refused, and so is anything
 * the commit would add, replace or remove in an append-only or immutable
 * dir, or an append-only or immutable entry it would replace or remove
 * (check_attrs, after the walk); depth is bounded
 * at WS_DEPTH_MAX components and the entries at WS_ENTRIES_MAX.
 * An upper entry equal to the host's (type, raw mode, owner, committed
 * xattrs, content or link target) is left alone: overlay copies a file up
 * when it is merely opened for writing, and such a file must not be
 * rewritten (nor lose bits it had on the host).
 *
 * Trust: runs as root. The upper is what the run wrote: every name, type,
 * mode and size in it is hostile. The host tree may change under us; the
 * apply step re-checks what it touches. */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <sys/xattr.h>

#include "calyx/codec.h"

typedef struct scan_ctx {
	ws_plan *plan;
	size_t *budget;
	const char *host_path;
	cx_error *err;
} scan_ctx;

typedef struct names {
	char **v;
	size_t n;
} names;

static void names_free(names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint8_t kind_of(mode_t m)
{
	if (S_ISREG(m))
		return WS_K_FILE;
	if (S_ISDIR(m))
		return WS_K_DIR;
	if (S_ISLNK(m))
		return WS_K_SYMLINK;
	return WS_K_SPECIAL;
}

static int fail(scan_ctx *s, int errnum, const char *path, const char *what)
{
	char q[200];
	return cx_err(s->err, CX_E_WORKSPACE, errnum, "'%.200s/%s': %s", s->host_path,
		      ws_quote(path, q, sizeof(q)), what);
}

static int fail_errno(scan_ctx *s, int errnum, const char *path, const char *doing)
{
	char q[200];
	return cx_err(s->err, CX_E_WORKSPACE, errnum, "cannot %s '%.200s/%s': %s%s", doing,
		      s->host_path, ws_quote(path, q, sizeof(q)), strerror(errnum),
		      errnum == EXDEV   ? " (a mount point inside the tree: commits stay on one file system)"
		      : errnum == ELOOP ? " (a symlink where a directory should be: never followed)"
					: "");
}

/* Sorted names of a directory (fd borrowed), bounded by the budget. */
static int list_names(scan_ctx *s, int dfd, const char *path, names *ret)
{
	names n = { 0 };
	size_t cap = 0;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return fail_errno(s, errno, path[0] ? path : ".", "list");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return fail_errno(s, errno, path[0] ? path : ".", "list");
	}
	errno = 0;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
			continue;
		if (n.n >= *s->budget) {
			closedir(d);
			names_free(&n);
			return fail(s, E2BIG, path[0] ? path : ".",
				    "more than 1000000 entries to commit (commit smaller changes)");
		}
		if (n.n == cap) {
			cap = cap ? cap * 2 : 16;
			n.v = realloc(n.v, cap * sizeof(*n.v));
			CX_CHECK(n.v);
		}
		n.v[n.n++] = cx_strdup(nm);
		errno = 0;
	}
	if (errno) {
		int e = errno;
		closedir(d);
		names_free(&n);
		return fail_errno(s, e, path[0] ? path : ".", "list");
	}
	closedir(d);
	if (n.n > 1)
		qsort(n.v, n.n, sizeof(*n.v), str_cmp);
	*ret = n;
	return 0;
}

/* Append a record; takes owned (its path). Returns its index or -errno. */
static long rec_add(scan_ctx *s, char *owned, uint32_t depth, uint8_t act, uint8_t hkind)
{
	_cleanup_free_ char *path = owned;
	ws_plan *p = s->plan;
	ws_rec *r;

	if (*s->budget == 0)
		return fail(s, E2BIG, path, "more than 1000000 entries to commit (commit smaller changes)");
	if (depth > WS_DEPTH_MAX)
		return fail(s, ELOOP, path, "deeper than 256 directories (commits are bounded)");
	(*s->budget)--;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		CX_CHECK(p->v);
	}
	r = &p->v[p->n];
	memset(r, 0, sizeof(*r));
	r->path = TAKE_PTR(path);
	r->depth = depth;
	r->act = act;
	r->hkind = hkind;
	return (long)p->n++;
}

static int enum_subtree(scan_ctx *s, int parent, const char *name, const char *dirpath,
			uint32_t depth);

/* The host entry `name` (stat hst) under hfd goes: a DELETE record, and
 * manifest-only records for everything beneath it. Takes owned (its
 * path). */
static int emit_delete(scan_ctx *s, int hfd, const char *name, char *owned, uint32_t depth,
		       const struct stat *hst)
{
	_cleanup_free_ char *path = owned;
	uint8_t k = kind_of(hst->st_mode);
	long i;

	if (k == WS_K_SPECIAL)
		return fail(s, EPERM, path,
			    "is a device, FIFO or socket on the host that the run replaced or deleted (commits never remove special files: remove it first)");
	i = rec_add(s, TAKE_PTR(path), depth, WS_A_DELETE, k);
	if (i < 0)
		return (int)i;
	if (k == WS_K_DIR)
		return enum_subtree(s, hfd, name, s->plan->v[i].path, depth + 1);
	return 0;
}

static int enum_subtree(scan_ctx *s, int parent, const char *name, const char *dirpath,
			uint32_t depth)
{
	_cleanup_close_ int fd = ws_open_beneath(parent, name, O_RDONLY | O_DIRECTORY);
	names n = { 0 };
	int r;

	if (fd < 0)
		return fail_errno(s, -fd, dirpath, "open");
	r = list_names(s, fd, dirpath, &n);
	for (size_t i = 0; r == 0 && i < n.n; i++) {
		struct stat st;
		_cleanup_free_ char *path = ws_join(dirpath, n.v[i]);
		uint8_t k;
		long idx;

		if (fstatat(fd, n.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : fail_errno(s, errno, path, "stat");
			continue;
		}
		k = kind_of(st.st_mode);
		if (k == WS_K_SPECIAL) {
			r = fail(s, EPERM, path,
				 "is a device, FIFO or socket on the host inside a dir the run deleted (commits never remove special files: remove it first)");
			break;
		}
		idx = rec_add(s, TAKE_PTR(path), depth, WS_A_NONE, k);
		if (idx < 0) {
			r = (int)idx;
			break;
		}
		if (k == WS_K_DIR)
			r = enum_subtree(s, fd, n.v[i], s->plan->v[idx].path, depth + 1);
	}
	names_free(&n);
	return r;
}

static bool is_opaque(int dfd)
{
	char v[2];
	ssize_t n = fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

static int read_link(int dfd, const char *name, char **ret)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dfd, name, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(buf) || n == 0)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n)
		return -EINVAL;
	*ret = cx_strdup(buf);
	return 0;
}

/* Modes a commit writes: setuid/setgid never; sticky only on dirs; a
 * dir keeps setgid only where the host dir had it too. */
static mode_t file_mode(mode_t m)
{
	return m & 0777;
}

static mode_t dir_mode(mode_t upper, bool host_dir, mode_t host)
{
	mode_t m = upper & 07777 & ~(mode_t)S_ISUID;
	if (!(host_dir && (host & S_ISGID)))
		m &= ~(mode_t)S_ISGID;
	return m;
}

static int xattrs_differ(scan_ctx *s, int ufd, int hfd, const char *path, bool *ret)
{
	ws_xattrs a = { 0 }, b = { 0 };
	int r = ws_xattrs_read(ufd, WS_XA_COMMIT, &a);

	if (r == 0)
		r = ws_xattrs_read(hfd, WS_XA_COMMIT, &b);
	if (r < 0) {
		ws_xattrs_free(&a);
		return fail_errno(s, -r, path, "read the xattrs of");
	}
	*ret = !ws_xattrs_equal(&a, &b);
	ws_xattrs_free(&a);
	ws_xattrs_free(&b);
	return 0;
}

static int scan_dir(scan_ctx *s, int ufd, int hfd, const char *dirpath, uint32_t depth,
		    bool opaque);

/* The scan_upper_* take owned (the entry's path). */
static int scan_upper_dir(scan_ctx *s, int ufd, int hfd, const char *name, char *owned,
			  uint32_t depth, const struct stat *ust, uint8_t hk,
			  const struct stat *hst)
{
	_cleanup_close_ int cu = ws_open_beneath(ufd, name, O_RDONLY | O_DIRECTORY), ch = -1;
	_cleanup_free_ char *path = owned;
	bool meta = true, opaque;
	long idx;
	int r;

	if (cu < 0)
		return fail_errno(s, -cu, path, "open the upper's dir");
	opaque = is_opaque(cu);
	if (hk == WS_K_DIR) {
		ch = ws_open_beneath(hfd, name, O_RDONLY | O_DIRECTORY);
		if (ch < 0)
			return fail_errno(s, -ch, path, "open");
		meta = (ust->st_mode & 07777) != (hst->st_mode & 07777) ||
		       ust->st_uid != hst->st_uid || ust->st_gid != hst->st_gid;
		if (!meta && (r = xattrs_differ(s, cu, ch, path, &meta)) < 0)
			return r;
	} else if (hk != WS_K_NONE) {
		r = emit_delete(s, hfd, name, cx_strdup(path), depth, hst);
		if (r < 0)
			return r;
		hk = WS_K_NONE;
	}
	idx = rec_add(s, TAKE_PTR(path), depth, WS_A_DIR, hk);
	if (idx < 0)
		return (int)idx;
	ws_rec *rec = &s->plan->v[idx];
	rec->meta = meta;
	rec->mode = dir_mode(ust->st_mode, hk == WS_K_DIR, hk == WS_K_DIR ? hst->st_mode : 0);
	rec->uid = ust->st_uid;
	rec->gid = ust->st_gid;
	return scan_dir(s, cu, ch, rec->path, depth + 1, opaque);
}

static int scan_upper_file(scan_ctx *s, int ufd, int hfd, const char *name, char *owned,
			   uint32_t depth, const struct stat *ust, uint8_t hk,
			   const struct stat *hst)
{
	_cleanup_close_ int fu = ws_open_beneath(ufd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	_cleanup_free_ char *path = owned;
	struct stat st;
	uint8_t sha[32];
	uint64_t size = 0;
	bool equal = false;
	long idx;
	int r;

	r = fu < 0 ? fu : fstat(fu, &st) < 0 ? -errno : 0;
	if (r == 0 && (!S_ISREG(st.st_mode) || st.st_ino != ust->st_ino))
		r = -ESTALE; /* the upper changed under us: it must be unmounted */
	if (r < 0)
		return fail_errno(s, -r, path, "read the upper's file");
	r = ws_hash_fd(fu, sha, &size);
	if (r < 0)
		return fail_errno(s, -r, path, "read the upper's file");
	if (hk == WS_K_DIR || hk == WS_K_SYMLINK) {
		r = emit_delete(s, hfd, name, cx_strdup(path), depth, hst);
		if (r < 0)
			return r;
		hk = WS_K_NONE;
	} else if (hk == WS_K_FILE && (ust->st_mode & 07777) == (hst->st_mode & 07777) &&
		   ust->st_uid == hst->st_uid && ust->st_gid == hst->st_gid &&
		   (uint64_t)hst->st_size == size) {
		_cleanup_close_ int fh =
			ws_open_beneath(hfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
		bool differ = true;
		struct stat hs2;
		uint8_t hsha[32];

		if (fh < 0 || fstat(fh, &hs2) < 0 || !S_ISREG(hs2.st_mode))
			return fail_errno(s, fh < 0 ? -fh : EINVAL, path, "read");
		r = xattrs_differ(s, fu, fh, path, &differ);
		if (r == 0 && !differ) {
			uint64_t hl;
			r = ws_hash_fd(fh, hsha, &hl);
			if (r < 0)
				r = fail_errno(s, -r, path, "read");
			else
				equal = hl == size && memcmp(hsha, sha, 32) == 0;
		}
		if (r < 0)
			return r;
	}
	idx = rec_add(s, TAKE_PTR(path), depth, equal ? WS_A_SKIP : WS_A_WRITE, hk);
	if (idx < 0)
		return (int)idx;
	ws_rec *rec = &s->plan->v[idx];
	rec->equal = equal;
	rec->mode = file_mode(ust->st_mode);
	rec->uid = ust->st_uid;
	rec->gid = ust->st_gid;
	rec->size = size;
	rec->atime = ust->st_atim;
	rec->mtime = ust->st_mtim;
	memcpy(rec->sha, sha, 32);
	rec->udev = ust->st_dev;
	rec->uino = ust->st_ino;
	rec->unlink = ust->st_nlink;
	if (hk == WS_K_FILE) {
		rec->hdev = hst->st_dev;
		rec->hino = hst->st_ino;
	}
	return 0;
}

static int scan_upper_symlink(scan_ctx *s, int ufd, int hfd, const char *name, char *owned,
			      uint32_t depth, const struct stat *ust, uint8_t hk,
			      const struct stat *hst)
{
	_cleanup_free_ char *path = owned, *target = NULL;
	bool equal = false;
	long idx;
	int r = read_link(ufd, name, &target);

	if (r < 0)
		return fail_errno(s, -r, path, "read the upper's symlink");
	if (hk == WS_K_DIR || hk == WS_K_FILE) {
		r = emit_delete(s, hfd, name, cx_strdup(path), depth, hst);
		if (r < 0)
			return r;
		hk = WS_K_NONE;
	} else if (hk == WS_K_SYMLINK && ust->st_uid == hst->st_uid && ust->st_gid == hst->st_gid) {
		_cleanup_free_ char *ht = NULL;
		if (read_link(hfd, name, &ht) == 0)
			equal = strcmp(ht, target) == 0;
	}
	idx = rec_add(s, TAKE_PTR(path), depth, equal ? WS_A_SKIP : WS_A_SYMLINK, hk);
	if (idx < 0)
		return (int)idx;
	ws_rec *rec = &s->plan->v[idx];
	rec->equal = equal;
	rec->mode = 0777;
	rec->uid = ust->st_uid;
	rec->gid = ust->st_gid;
	rec->size = strlen(target);
	rec->atime = ust->st_atim;
	rec->mtime = ust->st_mtim;
	crypto_hash_sha256(rec->sha, (const uint8_t *)target, rec->size);
	rec->target = TAKE_PTR(target);
	return 0;
}

static int scan_entry(scan_ctx *s, int ufd, int hfd, const char *dirpath, const char *name,
		      uint32_t depth)
{
	struct stat ust, hst;
	uint8_t hk = WS_K_NONE;
	_cleanup_free_ char *path = ws_join(dirpath, name);

	if (fstatat(ufd, name, &ust, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_errno(s, errno, path, "stat the upper's entry");
	if (depth > WS_DEPTH_MAX)
		return fail(s, ELOOP, path, "deeper than 256 directories (commits are bounded)");
	if (hfd >= 0) {
		if (fstatat(hfd, name, &hst, AT_SYMLINK_NOFOLLOW) == 0)
			hk = kind_of(hst.st_mode);
		else if (errno != ENOENT)
			return fail_errno(s, errno, path, "stat");
	}
	if (S_ISCHR(ust.st_mode) && ust.st_rdev == 0) /* whiteout */
		return hk == WS_K_NONE ? 0 : emit_delete(s, hfd, name, TAKE_PTR(path), depth, &hst);
	if (S_ISCHR(ust.st_mode) || S_ISBLK(ust.st_mode))
		return fail(s, EPERM, path, "the run left a device node (device nodes are never committed)");
	if (S_ISFIFO(ust.st_mode) || S_ISSOCK(ust.st_mode)) {
		s->plan->skipped++; /* never committed; the host entry stays */
		return 0;
	}
	if (hk == WS_K_SPECIAL)
		return fail(s, EPERM, path,
			    "is a device, FIFO or socket on the host that the run replaced (commits never remove special files: remove it first)");
	if (S_ISDIR(ust.st_mode))
		return scan_upper_dir(s, ufd, hfd, name, TAKE_PTR(path), depth, &ust, hk, &hst);
	if (S_ISREG(ust.st_mode))
		return scan_upper_file(s, ufd, hfd, name, TAKE_PTR(path), depth, &ust, hk, &hst);
	if (S_ISLNK(ust.st_mode))
		return scan_upper_symlink(s, ufd, hfd, name, TAKE_PTR(path), depth, &ust, hk, &hst);
	return fail(s, EINVAL, path, "unknown file type in the upper");
}

static int scan_dir(scan_ctx *s, int ufd, int hfd, const char *dirpath, uint32_t depth,
		    bool opaque)
{
	names un = { 0 }, hn = { 0 };
	size_t i = 0, j = 0;
	int r = list_names(s, ufd, dirpath, &un);

	if (r == 0 && opaque && hfd >= 0)
		r = list_names(s, hfd, dirpath, &hn);
	/* merge, in name order: upper names, and (opaque dirs) host names the
	 * upper lacks, which the commit deletes */
	while (r == 0 && (i < un.n || j < hn.n)) {
		int c = i == un.n ? 1 : j == hn.n ? -1 : strcmp(un.v[i], hn.v[j]);
		if (c <= 0) {
			r = scan_entry(s, ufd, hfd, dirpath, un.v[i], depth);
			i++;
			if (c == 0)
				j++;
		} else {
			struct stat hst;
			const char *nm = hn.v[j++];
			if (fstatat(hfd, nm, &hst, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					r = fail_errno(s, errno, nm, "stat");
				continue;
			}
			r = emit_delete(s, hfd, nm, ws_join(dirpath, nm), depth, &hst);
		}
	}
	names_free(&un);
	names_free(&hn);
	return r;
}

typedef struct link_key {
	dev_t dev;
	ino_t ino;
	size_t idx;
} link_key;

static int link_cmp(const void *a, const void *b)
{
	const link_key *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Names of one upper inode become one host inode. The primary (written
 * or kept) is a name the host already has equal, else the first; the
 * others link to it, unless the host already links them to it. */
static void resolve_links(ws_plan *p)
{
	_cleanup_free_ link_key *k = NULL;
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		if ((p->v[i].act == WS_A_WRITE || p->v[i].act == WS_A_SKIP) && !p->v[i].target &&
		    p->v[i].unlink > 1)
			n++;
	if (n < 2)
		return;
	k = cx_calloc(n, sizeof(*k));
	n = 0;
	for (size_t i = 0; i < p->n; i++)
		if ((p->v[i].act == WS_A_WRITE || p->v[i].act == WS_A_SKIP) && !p->v[i].target &&
		    p->v[i].unlink > 1)
			k[n++] = (link_key){ p->v[i].udev, p->v[i].uino, i };
	qsort(k, n, sizeof(*k), link_cmp);
	for (size_t a = 0; a < n;) {
		size_t b = a + 1, prim;
		while (b < n && k[b].dev == k[a].dev && k[b].ino == k[a].ino)
			b++;
		prim = k[a].idx;
		for (size_t c = a; c < b; c++)
			if (p->v[k[c].idx].equal) {
				prim = k[c].idx;
				break;
			}
		for (size_t c = a; c < b; c++) {
			ws_rec *m = &p->v[k[c].idx], *pr = &p->v[prim];
			if (k[c].idx == prim)
				continue;
			if (pr->equal && m->equal && m->hdev == pr->hdev && m->hino == pr->hino)
				continue; /* already one inode on the host */
			m->act = WS_A_LINK;
			m->link_to = prim;
		}
		a = b;
	}
}

/* What a record touches on the host: the entry itself (replaced, removed
 * or given new metadata) and its dir (an entry made, renamed in or
 * removed there; the commit's temp files too). */
static void touches(const ws_rec *r, bool *ret_entry, bool *ret_dir)
{
	switch (r->act) {
	case WS_A_NONE:
	case WS_A_DELETE:
		*ret_entry = *ret_dir = true;
		return;
	case WS_A_WRITE:
	case WS_A_LINK:
	case WS_A_SYMLINK:
		*ret_entry = r->hkind != WS_K_NONE;
		*ret_dir = true;
		return;
	case WS_A_DIR:
		*ret_entry = r->hkind == WS_K_DIR && r->meta;
		*ret_dir = r->hkind == WS_K_NONE;
		return;
	default:
		*ret_entry = *ret_dir = false;
	}
}

/* Nothing the plan touches is append-only or immutable: the commit could
 * write its temp files there but neither rename nor remove them, nor
 * could an undo restore what was there. Refused before anything is
 * written. Dirs the commit creates have no attributes; what cannot be
 * walked now is left to the pack and apply steps, which refuse it. */
static int check_attrs(scan_ctx *s, int hroot)
{
	_cleanup_(ws_walker_free) ws_walker w = { 0 }; /* safe before ws_walker_init */
	_cleanup_free_ char *last = NULL; /* the last dir checked */
	int r = 0;

	ws_walker_init(&w, hroot);
	for (size_t i = 0; r == 0 && i < s->plan->n; i++) {
		const ws_rec *rec = &s->plan->v[i];
		const char *name, *what = NULL;
		char q[200];
		bool entry, dir;
		size_t dl;
		int pfd;

		touches(rec, &entry, &dir);
		if (!entry && !dir)
			continue;
		ws_split(rec->path, &dl, &name);
		if (ws_walker_dir(&w, rec->path, dl, &pfd) < 0)
			continue;
		if (dir && !(last && strlen(last) == dl && strncmp(last, rec->path, dl) == 0)) {
			free(last);
			last = strndup(rec->path, dl);
			CX_CHECK(last);
			if (ws_attr_locked(pfd, "") == 1)
				what = last;
		}
		if (!what && entry && ws_attr_locked(pfd, name) == 1)
			what = rec->path;
		if (what)
			r = cx_err(s->err, CX_E_WORKSPACE, EPERM,
				   "'%.200s%s%s' is append-only or immutable (chattr +a/+i): the commit could neither replace nor remove what it must there, nor undo it (clear the attribute, or keep the run from writing there)",
				   s->host_path, *what ? "/" : "", ws_quote(what, q, sizeof(q)));
	}
	return r;
}

int ws_scan(int hroot, int uroot, const char *host_path, ws_plan *plan, size_t *budget,
	    cx_error *err)
{
	scan_ctx s = { .plan = plan, .budget = budget, .host_path = host_path, .err = err };
	int r = scan_dir(&s, uroot, hroot, "", 1, is_opaque(uroot));

	if (r == 0)
		resolve_links(plan);
	if (r == 0)
		r = check_attrs(&s, hroot);
	return r;
}

void ws_plan_free(ws_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].path);
		free(p->v[i].target);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

bool ws_plan_entry(const ws_rec *r, unsigned tree, ws_ment *ret)
{
	uint8_t op, kind;

	switch (r->act) {
	case WS_A_NONE:
	case WS_A_DELETE:
		op = WS_OP_DELETED;
		kind = r->hkind;
		break;
	case WS_A_DIR:
		if (r->hkind == WS_K_DIR && !r->meta)
			return false;
		op = r->hkind == WS_K_NONE ? WS_OP_ADDED : WS_OP_CHANGED;
		kind = WS_K_DIR;
		break;
	case WS_A_WRITE:
	case WS_A_LINK:
	case WS_A_SYMLINK:
		op = r->hkind == WS_K_NONE ? WS_OP_ADDED : WS_OP_CHANGED;
		kind = r->act == WS_A_SYMLINK ? WS_K_SYMLINK : WS_K_FILE;
		break;
	default:
		return false;
	}
	memset(ret, 0, sizeof(*ret));
	ret->tree = tree;
	ret->path = r->path; /* borrowed */
	ret->op = op;
	ret->kind = kind;
	ret->has_before = op != WS_OP_ADDED; /* filled by the pack */
	if (op != WS_OP_DELETED) {
		ret->has_after = true;
		ret->mode_a = (uint32_t)r->mode;
		ret->uid_a = (uint32_t)r->uid;
		ret->gid_a = (uint32_t)r->gid;
		if (kind != WS_K_DIR) {
			ret->size_a = r->size;
			cx_hex_encode(r->sha, 32, ret->sha_a);
		}
	}
	return true;
}

void ws_plan_count(const ws_plan *p, ws_manifest *m)
{
	for (size_t i = 0; i < p->n; i++) {
		ws_ment e;

		if (!ws_plan_entry(&p->v[i], 0, &e))
			continue;
		if (e.op == WS_OP_ADDED)
			m->added++;
		else if (e.op == WS_OP_CHANGED)
			m->changed++;
		else
			m->deleted++;
		m->nent++;
		if (e.kind == WS_K_FILE && e.op != WS_OP_DELETED)
			m->bytes += e.size_a;
	}
}
