/* Workspace file-system primitives: the one place that opens, deletes and
 * copies inside trees the run (or anyone) may have shaped.
 *
 * Invariants:
 *  - a host or upper path is never handed to the kernel whole from "/":
 *    it is walked from a root fd one component at a time with openat2
 *    (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|
 *    RESOLVE_NO_XDEV), so a symlink anywhere on the way is refused
 *    (ELOOP), never followed, and no other file system is entered;
 *  - a last component is never followed either: O_NOFOLLOW, *at() calls
 *    with AT_SYMLINK_NOFOLLOW, unlinkat/renameat (which act on the link);
 *  - recursive deletion (ws_rm_at) uses no heap and bounded stack, so the
 *    detached deleter may run it in a child forked from any process;
 *  - fault injection (ws_fault, and the cx_fault_* points calyx-exec's
 *    phases, audit log and ledger use) exists only in CALYX_FAULT_INJECTION
 *    builds (make fault: build/fault/, never installed).
 * Trust: runs as root; every name read from a directory is hostile. */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"

/* ---- paths ------------------------------------------------------------------ */

bool ws_path_ok(const char *p)
{
	size_t comps = 0;

	if (!p || !*p || *p == '/')
		return false;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (++comps > WS_DEPTH_MAX)
			return false;
		if (!e)
			break;
		p = e + 1;
		if (!*p)
			return false; /* trailing slash */
	}
	return true;
}

void ws_split(const char *path, size_t *ret_dirlen, const char **ret_name)
{
	const char *s = strrchr(path, '/');
	*ret_dirlen = s ? (size_t)(s - path) : 0;
	*ret_name = s ? s + 1 : path;
}

char *ws_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	CX_CHECK(p);
	if (a) {
		memcpy(p, dir, a);
		p[a++] = '/';
	}
	memcpy(p + a, name, b + 1);
	return p;
}

/* ---- openat2 ------------------------------------------------------------------ */

int ws_attr_locked(int dfd, const char *name)
{
	struct statx sx;
	int fl = AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT | (*name ? 0 : AT_EMPTY_PATH);

	if (statx(dfd, name, fl, STATX_TYPE, &sx) < 0)
		return -errno;
	return (sx.stx_attributes & (STATX_ATTR_APPEND | STATX_ATTR_IMMUTABLE)) != 0;
}

int ws_open_beneath(int dfd, const char *name, int flags)
{
	int fd = cx_openat2(dfd, name, (uint64_t)(flags | O_NOFOLLOW),
			     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				     RESOLVE_NO_XDEV);
	struct stat st;

	/* O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR: say ELOOP, so
	 * callers (and messages) tell a planted symlink from a file */
	if (fd == -ENOTDIR && (flags & O_DIRECTORY) &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return -ELOOP;
	return fd;
}

int ws_open_root(const char *path, int flags)
{
	struct stat st;
	int fd;

	if (!path || path[0] != '/')
		return -EINVAL;
	fd = cx_openat2(AT_FDCWD, path, (uint64_t)(flags | O_DIRECTORY | O_NOFOLLOW),
			RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd == -ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return -ELOOP;
	return fd;
}

int ws_tree_id(int fd, char fsid[17], uint64_t *ino)
{
	struct statfs sf;
	struct stat st;
	uint8_t b[8] = { 0 };

	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return -errno;
	memcpy(b, &sf.f_fsid, sizeof(b) < sizeof(sf.f_fsid) ? sizeof(b) : sizeof(sf.f_fsid));
	cx_hex_encode(b, sizeof(b), fsid);
	*ino = (uint64_t)st.st_ino;
	return 0;
}

int ws_check_tree_id(int fd, const char *fsid, uint64_t ino, const char *path, cx_error *err)
{
	char f[17];
	uint64_t i;
	int r;

	if (!fsid[0])
		return 0;
	r = ws_tree_id(fd, f, &i);
	if (r < 0)
		return cx_err(err, CX_E_WORKSPACE, -r, "cannot stat tree '%.200s': %s", path,
			      strerror(-r));
	if (strcmp(f, fsid) != 0 || i != ino)
		return cx_err(err, CX_E_WORKSPACE, ESTALE,
			      "tree '%.200s' is no longer the directory the commit was made on (renamed or replaced since): not touched",
			      path);
	return 0;
}

/* ---- walker ------------------------------------------------------------------- */

void ws_walker_init(ws_walker *w, int root)
{
	memset(w, 0, sizeof(*w));
	w->fds[0] = root;
}

void ws_walker_reset(ws_walker *w)
{
	for (; w->depth > 0; w->depth--)
		close(w->fds[w->depth]);
}

void ws_walker_free(ws_walker *w)
{
	ws_walker_reset(w);
	free(w->cur);
	w->cur = NULL;
	w->cap = 0;
}

int ws_walker_dir(ws_walker *w, const char *path, size_t dirlen, int *ret_fd)
{
	unsigned k = w->depth;
	size_t pos;

	/* deepest cached ancestor that is a prefix of the wanted dir */
	while (k > 0) {
		size_t e = w->ends[k];
		if (e <= dirlen && memcmp(w->cur, path, e) == 0 && (e == dirlen || path[e] == '/'))
			break;
		k--;
	}
	while (w->depth > k)
		close(w->fds[w->depth--]);
	if (dirlen + 1 > w->cap) {
		w->cap = dirlen + 64;
		w->cur = realloc(w->cur, w->cap);
		CX_CHECK(w->cur);
	}
	memcpy(w->cur, path, dirlen);
	w->cur[dirlen] = '\0';
	pos = w->ends[k];
	while (pos < dirlen) {
		char comp[NAME_MAX + 1];
		size_t start = pos && path[pos] == '/' ? pos + 1 : pos, end = start;
		int fd;

		while (end < dirlen && path[end] != '/')
			end++;
		if (end == start || end - start > NAME_MAX)
			return -EINVAL;
		if (w->depth + 1 > WS_DEPTH_MAX)
			return -ELOOP;
		memcpy(comp, path + start, end - start);
		comp[end - start] = '\0';
		fd = ws_open_beneath(w->fds[w->depth], comp, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return fd;
		w->depth++;
		w->fds[w->depth] = fd;
		w->ends[w->depth] = end;
		pos = end;
	}
	*ret_fd = w->fds[w->depth];
	return 0;
}

/* ---- recursive delete (no heap) ---------------------------------------------- */

struct ld64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static unsigned long spill_seq;

/* "s<pid>-<seq>" without stdio (async-signal-safe). */
static void spill_name(char out[48])
{
	uint64_t v[2] = { (uint64_t)getpid(), ++spill_seq };
	size_t o = 0;

	out[o++] = '.';
	out[o++] = 's';
	for (int i = 0; i < 2; i++) {
		char t[24];
		size_t n = 0;
		uint64_t x = v[i];
		do
			t[n++] = (char)('0' + x % 10);
		while ((x /= 10) && n < sizeof(t));
		while (n)
			out[o++] = t[--n];
		out[o++] = i ? '\0' : '-';
	}
}

static int rm_children(int fd, unsigned depth_left, int spill_fd, unsigned long *progress)
{
	char buf[2048] __attribute__((aligned(8)));

	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == ENOENT ? 0 : -errno;
		}
		if (n == 0)
			return 0;
		for (long off = 0; off < n;) {
			struct ld64 *d = (struct ld64 *)(buf + off);
			const char *name = d->d_name;
			int r;

			off += d->d_reclen;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			if (d->d_type != DT_DIR) {
				if (unlinkat(fd, name, 0) == 0 || errno == ENOENT) {
					(*progress)++;
					continue;
				}
				if (errno != EISDIR)
					return -errno;
			}
			if (depth_left <= 1) {
				char nn[48];
				if (spill_fd < 0)
					return -ELOOP;
				spill_name(nn);
				if (renameat(fd, name, spill_fd, nn) < 0 && errno != ENOENT)
					return -errno;
				(*progress)++;
				continue;
			}
			r = ws_rm_at(fd, name, depth_left - 1, spill_fd);
			if (r < 0)
				return r;
			(*progress)++;
		}
	}
}

int ws_rm_at(int dfd, const char *name, unsigned depth_left, int spill_fd)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	for (unsigned long pass = 0;; pass++) {
		unsigned long progress = 0;
		int fd = ws_open_beneath(dfd, name, O_RDONLY | O_DIRECTORY), r;

		if (fd == -ENOENT)
			return 0;
		if (fd == -ENOTDIR || fd == -ELOOP) {
			/* swapped for a file or symlink meanwhile: remove the link */
			if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
				return 0;
			return -errno;
		}
		if (fd < 0)
			return fd;
		r = rm_children(fd, depth_left, spill_fd, &progress);
		close(fd);
		if (r < 0)
			return r;
		if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return -errno;
		if (!progress || pass > 100000)
			return -ENOTEMPTY;
	}
}

/* ---- copy and hash ------------------------------------------------------------- */

#define COPY_BUF (256u * 1024)

/* What a hole reads as: hashed, never written. */
static const uint8_t zeros[64 * 1024];

static void hash_zeros(crypto_hash_sha256_state *hs, uint64_t len)
{
	while (hs && len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		crypto_hash_sha256_update(hs, zeros, n);
		len -= n;
	}
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Bytes [off, end) of in to the same offsets of out (out < 0: hash
 * only), in the kernel when nothing is hashed and the file systems allow
 * it. Stops early at EOF; *ret_off: where it stopped. */
static int copy_range(int in, int out, crypto_hash_sha256_state *hs, uint8_t *buf, uint64_t off,
		      uint64_t end, uint64_t *ret_off)
{
	bool kernel = !hs && out >= 0;

	while (off < end) {
		size_t want = end - off < COPY_BUF ? (size_t)(end - off) : COPY_BUF;
		ssize_t n;
		int r;

		if (kernel) {
			loff_t io = (loff_t)off, oo = (loff_t)off;
			n = copy_file_range(in, &io, out, &oo, want, 0);
			if (n < 0 && errno != EINTR) {
				if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
				    errno != EOPNOTSUPP && errno != EBADF)
					return -errno;
				kernel = false; /* read/write from here on */
				continue;
			}
		} else {
			n = pread(in, buf, want, (off_t)off);
			if (n < 0 && errno != EINTR)
				return -errno;
		}
		if (n < 0)
			continue; /* EINTR */
		if (n == 0)
			break;
		if (!kernel) {
			if (hs)
				crypto_hash_sha256_update(hs, buf, (size_t)n);
			if (out >= 0 && (r = pwrite_all(out, buf, (size_t)n, off)) < 0)
				return r;
		}
		off += (uint64_t)n;
	}
	*ret_off = off;
	return 0;
}

/* Sparse-aware: only the data segments of in (SEEK_DATA/SEEK_HOLE) are
 * read and written, at their offsets; holes are hashed as the zeros they
 * read as and stay holes in out (a fresh, empty file), whose size is set
 * last. A file system without SEEK_DATA is copied whole. */
int ws_copy(int in, int out, uint8_t sha[32], uint64_t *ret_len)
{
	crypto_hash_sha256_state st = { 0 }, *hs = sha ? &st : NULL;
	_cleanup_free_ uint8_t *buf = malloc(COPY_BUF);
	uint64_t off = 0;
	int r;

	CX_CHECK(buf);
	if (hs)
		crypto_hash_sha256_init(hs);
	for (;;) {
		off_t data = lseek(in, (off_t)off, SEEK_DATA), hole;
		uint64_t got = 0;

		if (data < 0 && errno == ENXIO) { /* a hole up to EOF, or EOF */
			off_t end = lseek(in, 0, SEEK_END);
			if (end < 0)
				return -errno;
			if ((uint64_t)end > off) {
				hash_zeros(hs, (uint64_t)end - off);
				off = (uint64_t)end;
			}
			break;
		}
		if (data < 0) {
			if (errno != EINVAL && errno != EOPNOTSUPP)
				return -errno;
			data = (off_t)off; /* no hole support: all of it is data */
			hole = INT64_MAX;
		} else if ((hole = lseek(in, data, SEEK_HOLE)) < 0) {
			return -errno;
		}
		if ((uint64_t)data < off)
			return -EIO; /* the file changed under us */
		hash_zeros(hs, (uint64_t)data - off);
		r = copy_range(in, out, hs, buf, (uint64_t)data, (uint64_t)hole, &got);
		if (r < 0)
			return r;
		off = got;
		if (got < (uint64_t)hole)
			break; /* EOF */
	}
	if (out >= 0 && ftruncate(out, (off_t)off) < 0)
		return -errno;
	if (sha)
		crypto_hash_sha256_final(hs, sha);
	if (ret_len)
		*ret_len = off;
	return 0;
}

int ws_hash_fd(int fd, uint8_t sha[32], uint64_t *ret_len)
{
	return ws_copy(fd, -1, sha, ret_len);
}

/* ---- xattrs ---------------------------------------------------------------------- */

bool ws_xattr_wanted(const char *name, int filter)
{
	if (strncmp(name, "user.", 5) == 0)
		return true;
	if (strcmp(name, "system.posix_acl_access") == 0 ||
	    strcmp(name, "system.posix_acl_default") == 0)
		return true;
	if (strncmp(name, "security.", 9) == 0)
		/* file capabilities are never taken from a run; a pre-image keeps
		 * what the host had */
		return filter == WS_XA_PREIMAGE || strcmp(name, "security.capability") != 0;
	return false; /* trusted.* (overlay's own), anything else */
}

void ws_xattrs_free(ws_xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->names[i]);
		free(x->vals[i]);
	}
	free(x->names);
	free(x->vals);
	free(x->lens);
	memset(x, 0, sizeof(*x));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ws_xattrs_read(int fd, int filter, ws_xattrs *ret)
{
	_cleanup_free_ char *list = NULL;
	_cleanup_(ws_xattrs_free) ws_xattrs x = { 0 };
	ssize_t len;
	size_t cap = 0;

	len = flistxattr(fd, NULL, 0);
	if (len < 0) {
		if (errno == ENOTSUP || errno == EOPNOTSUPP) {
			*ret = x;
			return 0;
		}
		return -errno;
	}
	if (len == 0) {
		*ret = x;
		return 0;
	}
	if (len > WS_XATTR_LIST_MAX)
		return -E2BIG;
	list = malloc(WS_XATTR_LIST_MAX);
	CX_CHECK(list);
	len = flistxattr(fd, list, WS_XATTR_LIST_MAX);
	if (len < 0)
		return -errno;
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		_cleanup_free_ uint8_t *v = NULL;
		ssize_t vl;

		if (!ws_xattr_wanted(p, filter))
			continue;
		vl = fgetxattr(fd, p, NULL, 0);
		if (vl < 0) {
			if (errno == ENODATA)
				continue;
			return -errno;
		}
		if (vl > WS_XATTR_VALUE_MAX)
			return -E2BIG;
		v = malloc((size_t)vl + 1);
		CX_CHECK(v);
		vl = fgetxattr(fd, p, v, (size_t)vl);
		if (vl < 0) {
			if (errno == ENODATA || errno == ERANGE)
				continue;
			return -errno;
		}
		if (x.n == cap) {
			cap = cap ? cap * 2 : 4;
			x.names = realloc(x.names, cap * sizeof(*x.names));
			x.vals = realloc(x.vals, cap * sizeof(*x.vals));
			x.lens = realloc(x.lens, cap * sizeof(*x.lens));
			CX_CHECK(x.names && x.vals && x.lens);
		}
		x.names[x.n] = cx_strdup(p);
		x.vals[x.n] = TAKE_PTR(v);
		x.lens[x.n] = (size_t)vl;
		x.n++;
	}
	/* sorted by name, values following their names */
	for (size_t i = 1; i < x.n; i++)
		for (size_t j = i; j > 0 && name_cmp(&x.names[j - 1], &x.names[j]) > 0; j--) {
			char *tn = x.names[j];
			uint8_t *tv = x.vals[j];
			size_t tl = x.lens[j];
			x.names[j] = x.names[j - 1];
			x.vals[j] = x.vals[j - 1];
			x.lens[j] = x.lens[j - 1];
			x.names[j - 1] = tn;
			x.vals[j - 1] = tv;
			x.lens[j - 1] = tl;
		}
	*ret = TAKE_STRUCT(x); /* *ret owns it now */
	return 0;
}

bool ws_xattrs_equal(const ws_xattrs *a, const ws_xattrs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]) != 0 || a->lens[i] != b->lens[i] ||
		    memcmp(a->vals[i], b->vals[i], a->lens[i]) != 0)
			return false;
	return true;
}

int ws_xattrs_apply(int fd, const ws_xattrs *want, int filter)
{
	ws_xattrs cur = { 0 };
	int r = ws_xattrs_read(fd, filter, &cur);

	if (r < 0)
		return r;
	for (size_t i = 0; i < cur.n; i++) {
		bool keep = false;
		for (size_t j = 0; j < want->n && !keep; j++)
			keep = strcmp(cur.names[i], want->names[j]) == 0;
		if (!keep && fremovexattr(fd, cur.names[i]) < 0 && errno != ENODATA) {
			r = -errno;
			break;
		}
	}
	ws_xattrs_free(&cur);
	if (r < 0)
		return r;
	for (size_t j = 0; j < want->n; j++)
		if (fsetxattr(fd, want->names[j], want->vals[j], want->lens[j], 0) < 0 &&
		    errno != ENOTSUP && errno != EOPNOTSUPP)
			return -errno;
	return 0;
}

/* ---- temp names ----------------------------------------------------------------- */

void ws_tmpname(const char *tag, char kind, unsigned tree, const char *path, char out[64])
{
	crypto_hash_sha256_state st;
	uint8_t h[32], t[4] = { (uint8_t)(tree >> 24), (uint8_t)(tree >> 16), (uint8_t)(tree >> 8),
				(uint8_t)tree };
	char hex[17];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, t, sizeof(t));
	crypto_hash_sha256_update(&st, (const uint8_t *)path, strlen(path));
	crypto_hash_sha256_final(&st, h);
	cx_hex_encode(h, 8, hex);
	snprintf(out, 64, ".calyx-%.16s-%c%s", tag, kind, hex);
}

/* ---- trash and the detached deleter ------------------------------------------ */

/* Delete everything in the trash dir (fd 'trash'): our entry and any left
 * by an earlier deleter that did not finish (crash, reboot). */
static void sweep_trash(int trash)
{
	char buf[2048] __attribute__((aligned(8)));

	for (int round = 0; round < 4; round++) {
		bool any = false;
		if (lseek(trash, 0, SEEK_SET) < 0)
			return;
		for (;;) {
			long n = syscall(SYS_getdents64, trash, buf, sizeof(buf));
			if (n <= 0)
				break;
			for (long off = 0; off < n;) {
				struct ld64 *d = (struct ld64 *)(buf + off);
				const char *name = d->d_name;
				int e;

				off += d->d_reclen;
				if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
					continue;
				any = true;
				e = ws_open_beneath(trash, name, O_RDONLY | O_DIRECTORY);
				if (e < 0) {
					unlinkat(trash, name, 0);
					continue;
				}
				/* subtrees deeper than 64 are moved up into the entry
				 * itself and taken on the next pass: any depth, bounded
				 * stack */
				for (int pass = 0; pass < 100000; pass++) {
					unsigned long progress = 0;
					if (rm_children(e, 64, e, &progress) < 0)
						break;
					if (unlinkat(trash, name, AT_REMOVEDIR) == 0 ||
					    errno != ENOTEMPTY || !progress)
						break;
					lseek(e, 0, SEEK_SET);
				}
				close(e);
			}
		}
		if (!any)
			return;
	}
}

static void spawn_deleter(int trashfd)
{
	pid_t pid = fork();

	if (pid < 0)
		return; /* stays in the trash: the next deleter sweeps it */
	if (pid == 0) {
		int t, nul;
		/* Drop every fd but the trash before the second fork, here in the
		 * child the caller waits for: the grandchild then never holds the
		 * caller's fds, not even for a moment — a copied workspace lock fd
		 * (flock follows the open file description) would keep the tree
		 * locked after calyx-exec exits, and a pipe on stdout would stay
		 * open until the delete ends. */
		t = fcntl(trashfd, F_DUPFD, 3);
		nul = open("/dev/null", O_RDWR | O_CLOEXEC); /* dup2 onto 0-2 clears it there */
		if (t < 0 || nul < 0)
			_exit(1);
		for (int i = 0; i < 3; i++)
			dup2(nul, i);
		if (t > 3)
			close_range(3, (unsigned)t - 1, 0);
		close_range((unsigned)t + 1, ~0U, 0);
		if (fork() != 0)
			_exit(0);
		/* grandchild: reparented to init (or a subreaper), never a zombie
		 * of ours */
		setsid();
		setpriority(PRIO_PROCESS, 0, 10);
		/* best-effort I/O class, lowest priority */
		syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (2 << 13) | 7);
		sweep_trash(t);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Whether the directory open at fd has no entries (false on errors). */
static bool dir_is_empty(int fd)
{
	int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = d2 < 0 ? NULL : fdopendir(d2);
	struct dirent *de;
	bool empty = true;

	if (!d) {
		if (d2 >= 0)
			close(d2);
		return false;
	}
	rewinddir(d);
	errno = 0;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	if (errno)
		empty = false;
	closedir(d);
	return empty;
}

/* Whether dfd/name holds at most *budget entries, depth-bounded: a tree
 * that small is deleted in the caller's time, which is cheaper than
 * forking the background deleter (the common run dir of a run that wrote
 * nothing: a handful of empty directories). */
static bool small_tree(int dfd, const char *name, int depth, int *budget)
{
	if (--*budget < 0 || depth < 0)
		return false;
	int fd = ws_open_beneath(dfd, name, O_RDONLY | O_DIRECTORY);
	if (fd == -ENOTDIR || fd == -ELOOP)
		return true; /* a file or a link: one entry */
	if (fd < 0)
		return false;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	bool ok = true;
	struct dirent *de;
	while (ok && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			ok = small_tree(dirfd(d), de->d_name, depth - 1, budget);
	closedir(d);
	return ok;
}

int ws_trash(const char *trash, const char *path, cx_error *err)
{
	char name[NAME_MAX + 1], rnd[17];
	_cleanup_close_ int tfd = -1;
	uint8_t r8[8];
	const char *base = strrchr(path, '/');
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot remove '%s': %s", path,
			      strerror(errno));
	}
	if (mkdir(trash, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", trash,
			      strerror(errno));
	tfd = open(trash, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot open '%s': %s", trash,
			      strerror(errno));
	randombytes_buf(r8, sizeof(r8));
	cx_hex_encode(r8, sizeof(r8), rnd);
	base = base ? base + 1 : path;
	snprintf(name, sizeof(name), "%.200s-%s", base, rnd);
	if (renameat(AT_FDCWD, path, tfd, name) < 0) {
		int e = errno, r;
		char parent[PATH_MAX];
		_cleanup_close_ int pfd = -1;
		if (e == ENOENT)
			return 0;
		if (e != EXDEV)
			return cx_err(err, CX_E_WORKSPACE, e, "cannot move '%s' to '%s': %s", path,
				      trash, strerror(e));
		/* the trash is on another file system: delete in place, now */
		snprintf(parent, sizeof(parent), "%.*s", (int)(base - path), path);
		pfd = open(parent[0] ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			return cx_err(err, CX_E_WORKSPACE, errno, "cannot open '%s': %s", parent,
				      strerror(errno));
		r = ws_rm_at(pfd, base, WS_DEPTH_MAX, -1);
		if (r < 0)
			return cx_err(err, CX_E_WORKSPACE, -r, "cannot delete '%s': %s", path,
				      strerror(-r));
		return 0;
	}
	int budget = 32;
	if (small_tree(tfd, name, 4, &budget) && ws_rm_at(tfd, name, WS_DEPTH_MAX, -1) == 0 &&
	    dir_is_empty(tfd))
		return 0;
	/* large (or not removable here), or the trash holds what a killed
	 * deleter left: the background deleter sweeps all of it */
	spawn_deleter(tfd);
	return 0;
}

/* ---- fault injection ------------------------------------------------------------- */

#ifdef CALYX_FAULT_INJECTION
void (*cx_ws_fault_hook)(const char *step);

void ws_fault(const char *step)
{
	cx_fault_point(step);
	if (cx_ws_fault_hook)
		cx_ws_fault_hook(step);
}
#endif
