/* Workspace tree locks: a run (or an undo) holds every tree it may write
 * against every other holder whose trees overlap: the same directory, an
 * ancestor or a descendant. A run on /srv/app and one on /srv/app/sub
 * never interleave (the one's commit would delete, or its undo restore
 * over, what the other committed).
 *
 * Layout (the locks dir handed over in cx_ws_dirs, STATE/locks, 0700):
 *   .registry              flock'd exclusively, briefly, by whoever reads
 *                          or changes the set of holders
 *   <pid>-<16 hex>.held    one per holder: the trees it holds (below); the
 *                          holder keeps an exclusive flock on it for as long
 *                          as it holds them. A .held file whose flock can
 *                          be taken belongs to a holder that released its
 *                          trees or died: the next acquirer removes it.
 *   {"v":1,"pid":4242,"trees":[{"path":"/srv/app",
 *                               "ids":["fd00:1a2b","fd00:2","fd00:2a"]}]}
 *   path: absolute, lexically normalized ("//", ".", ".." and a trailing
 *   "/" resolved); ids: st_dev:st_ino (hex) of the tree's directory, as
 *   it opens without following any symlink, then of each parent by ".."
 *   up to "/" (so the chain is the kernel's, whatever path led there);
 *   [] when the path does not open that way (nothing can then be written
 *   through it: the commit and undo open trees the same way).
 *
 * Two trees overlap when one path equals or lies below the other, or
 * when either tree's directory is among the other's ids (one directory
 * reached by two paths, e.g. through a bind mount, and everything below).
 *
 * Acquiring a set (all of a run's trees at once: two runs can never each
 * hold a tree the other waits for; a holder's own trees may overlap):
 * under .registry, dead holders are removed and the live ones compared
 * with the set; no overlap: our .held file is created, flock'd and
 * written, then .registry is released. Overlap: refused (!wait), or
 * .registry is released and we block on a shared flock of the
 * overlapping holder's file, which the kernel grants when that holder
 * ends, then start over: no polling, no timeout (as the exact-path flock
 * before it). Releasing is closing the fd.
 *
 * Trust: runs as root; the locks dir is root's. Tree paths come from
 * verified leases or manifests. The trees may be changed by others at any
 * time: ids only ever add overlaps to the paths' own; an unreadable
 * .held file of a live holder overlaps everything (fail closed). */
#include "calyx/workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"

#define LK_IDS_MAX 256           /* ids kept per tree: its dir and 255 parents */
#define LK_HELD_MAX (256u << 10) /* bytes of one .held file */
#define LK_SUFFIX ".held"

typedef struct lk_id {
	uint64_t dev, ino;
} lk_id;

typedef struct lk_tree {
	char path[PATH_MAX];
	lk_id ids[LK_IDS_MAX];
	size_t nids;
} lk_tree;

typedef struct lk_set {
	lk_tree *t; /* CX_WS_TREES_MAX of them */
	size_t n;
} lk_set;

static void lk_set_free(lk_set *s)
{
	free(s->t);
	s->t = NULL;
	s->n = 0;
}

/* ---- a tree: path and ids ------------------------------------------------------ */

/* Absolute path, lexically normalized into out (PATH_MAX). */
static int norm_path(const char *in, char *out)
{
	size_t o = 0;

	if (!in || in[0] != '/')
		return -EINVAL;
	for (const char *p = in; *p;) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		len = (size_t)(e - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the '/' before it */
		} else {
			if (o + 1 + len >= PATH_MAX)
				return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* The tree's dir, opened without following a symlink, then its parents
 * by "..", up to "/". 0 ids when it does not open. */
static void tree_ids(lk_tree *t)
{
	_cleanup_close_ int fd = cx_openat2(AT_FDCWD, t->path, O_PATH | O_DIRECTORY,
					    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);

	t->nids = 0;
	while (fd >= 0 && t->nids < LK_IDS_MAX) {
		struct stat st;
		int up;

		if (fstat(fd, &st) < 0)
			break;
		if (t->nids && t->ids[t->nids - 1].dev == (uint64_t)st.st_dev &&
		    t->ids[t->nids - 1].ino == (uint64_t)st.st_ino)
			break; /* ".." of "/" is "/" */
		t->ids[t->nids++] = (lk_id){ (uint64_t)st.st_dev, (uint64_t)st.st_ino };
		up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = up;
	}
}

/* a equals b or lies below it. */
static bool below(const char *a, const char *b)
{
	size_t lb = strlen(b);

	if (lb == 1)
		return true; /* "/" */
	return strncmp(a, b, lb) == 0 && (a[lb] == '\0' || a[lb] == '/');
}

static bool has_id(const lk_tree *t, lk_id id)
{
	for (size_t i = 0; i < t->nids; i++)
		if (t->ids[i].dev == id.dev && t->ids[i].ino == id.ino)
			return true;
	return false;
}

static bool overlap(const lk_tree *a, const lk_tree *b)
{
	return below(a->path, b->path) || below(b->path, a->path) ||
	       (a->nids && has_id(b, a->ids[0])) || (b->nids && has_id(a, b->ids[0]));
}

/* ---- .held files ------------------------------------------------------------- */

static char *held_json(const lk_set *s)
{
	_cleanup_json_ json_t *o = NULL, *trees = json_array();

	CX_CHECK(trees);
	for (size_t i = 0; i < s->n; i++) {
		json_t *ids = json_array(), *path = json_string(s->t[i].path);
		if (!path) {
			json_decref(ids);
			return NULL; /* not UTF-8 */
		}
		for (size_t k = 0; k < s->t[i].nids; k++) {
			char b[40];
			snprintf(b, sizeof(b), "%llx:%llx", (unsigned long long)s->t[i].ids[k].dev,
				 (unsigned long long)s->t[i].ids[k].ino);
			json_array_append_new(ids, json_string(b));
		}
		json_array_append_new(trees, json_pack("{s:o, s:o}", "path", path, "ids", ids));
	}
	o = json_pack("{s:i, s:I, s:O}", "v", 1, "pid", (json_int_t)getpid(), "trees", trees);
	CX_CHECK(o);
	return cx_json_dump(o);
}

/* "dev:ino", both lowercase hex. */
static int parse_id(const char *s, lk_id *ret)
{
	unsigned long long v[2];

	for (int i = 0; i < 2; i++) {
		char *end;
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return -EINVAL;
		errno = 0;
		v[i] = strtoull(s, &end, 16);
		if (errno || *end != (i ? '\0' : ':'))
			return -EINVAL;
		s = end + 1;
	}
	*ret = (lk_id){ v[0], v[1] };
	return 0;
}

static int parse_tree(const json_t *t, lk_tree *ret)
{
	const json_t *p = json_object_get(t, "path"), *ids = json_object_get(t, "ids"), *v;
	size_t i;

	if (!json_is_object(t) || json_object_size(t) != 2 || !json_is_string(p) ||
	    !json_is_array(ids) || json_array_size(ids) > LK_IDS_MAX ||
	    norm_path(json_string_value(p), ret->path) < 0)
		return -EINVAL;
	ret->nids = 0;
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    parse_id(json_string_value(v), &ret->ids[ret->nids]) < 0)
			return -EINVAL;
		ret->nids++;
	}
	return 0;
}

/* A live holder's trees, from its .held file (fd at offset 0). */
static int held_read(int fd, lk_set *ret)
{
	_cleanup_free_ uint8_t *buf = malloc(LK_HELD_MAX);
	_cleanup_json_ json_t *o = NULL;
	const json_t *trees, *t;
	size_t len = 0, i;

	CX_CHECK(buf);
	for (;;) {
		ssize_t n = read(fd, buf + len, LK_HELD_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == LK_HELD_MAX)
			return -EFBIG;
	}
	o = cx_json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	trees = json_object_get(o, "trees");
	if (!json_is_object(o) || !json_is_array(trees) || json_array_size(trees) < 1 ||
	    json_array_size(trees) > CX_WS_TREES_MAX)
		return -EINVAL;
	ret->t = cx_calloc(CX_WS_TREES_MAX, sizeof(*ret->t));
	json_array_foreach(trees, i, t) {
		if (parse_tree(t, &ret->t[i]) < 0)
			return -EINVAL;
		ret->n++;
	}
	return 0;
}

/* What stands in the set's way. */
typedef struct lk_busy {
	int fd;             /* the overlapping holder's .held file */
	size_t mine;        /* index of our tree */
	char theirs[PATH_MAX]; /* its tree ("" when its file is unreadable) */
	char name[NAME_MAX + 1];
} lk_busy;

static bool is_held_name(const char *n)
{
	size_t l = strlen(n), s = strlen(LK_SUFFIX);
	return n[0] != '.' && l > s && strcmp(n + l - s, LK_SUFFIX) == 0;
}

/* One .held file: 0 when it is dead (removed) or does not overlap, 1 when
 * it does (busy filled, its fd taken). */
static int held_check(int dfd, const char *name, const lk_set *mine, lk_busy *busy)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	_cleanup_(lk_set_free) lk_set theirs = { 0 };
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		unlinkat(dfd, name, 0); /* its holder released it or died */
		return 0;
	}
	snprintf(busy->name, sizeof(busy->name), "%s", name);
	r = held_read(fd, &theirs);
	for (size_t i = 0; r == 0 && i < mine->n; i++)
		for (size_t k = 0; k < theirs.n; k++)
			if (overlap(&mine->t[i], &theirs.t[k])) {
				busy->mine = i;
				snprintf(busy->theirs, sizeof(busy->theirs), "%s", theirs.t[k].path);
				busy->fd = TAKE_FD(fd);
				return 1;
			}
	if (r < 0) { /* a live holder we cannot read: in the way of everything */
		busy->mine = 0;
		busy->theirs[0] = '\0';
		busy->fd = TAKE_FD(fd);
		return 1;
	}
	return 0;
}

/* Every live holder against the set, dead ones removed (.registry held). */
static int find_busy(int dfd, const lk_set *mine, lk_busy *busy, cx_error *err)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cx_err(err, CX_E_WORKSPACE, e, "cannot list the locks dir: %s", strerror(e));
	}
	while (r == 0 && (de = readdir(d)))
		if (is_held_name(de->d_name))
			r = held_check(dfd, de->d_name, mine, busy);
	closedir(d);
	return r;
}

/* Our .held file, flock'd then written (.registry held). */
static int publish(int dfd, const char *body, int *ret_fd, cx_error *err)
{
	char name[64], hex[17];
	uint8_t rnd[8];
	_cleanup_close_ int fd = -1;
	int r;

	randombytes_buf(rnd, sizeof(rnd));
	cx_hex_encode(rnd, sizeof(rnd), hex);
	snprintf(name, sizeof(name), "%ld-%s%s", (long)getpid(), hex, LK_SUFFIX);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create lock '%s': %s", name,
			      strerror(errno));
	r = flock(fd, LOCK_EX | LOCK_NB) < 0 ? -errno : cx_write_all(fd, body, strlen(body));
	if (r < 0) {
		unlinkat(dfd, name, 0);
		return cx_err(err, CX_E_WORKSPACE, -r, "cannot write lock '%s': %s", name, strerror(-r));
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int refuse(const lk_set *mine, const lk_busy *b, cx_error *err)
{
	const char *p = mine->t[b->mine].path;

	if (!b->theirs[0])
		return cx_err(err, CX_E_WORKSPACE, EBUSY,
			      "workspace '%.200s' may be in use by another run (its lock '%.64s' cannot be read; retry when it ends)",
			      p, b->name);
	if (strcmp(p, b->theirs) == 0)
		return cx_err(err, CX_E_WORKSPACE, EBUSY,
			      "workspace '%.200s' is in use by another run (retry when it ends)", p);
	return cx_err(err, CX_E_WORKSPACE, EBUSY,
		      "workspace '%.200s' is in use by another run: it overlaps '%.200s', which that run holds (retry when it ends)",
		      p, b->theirs);
}

static int lock_file(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* One attempt (.registry taken and released here): 0 with *ret_fd, 1
 * with busy filled, or -errno. */
static int attempt(int dfd, const lk_set *mine, const char *body, lk_busy *busy, int *ret_fd,
		   cx_error *err)
{
	_cleanup_close_ int reg = openat(dfd, ".registry",
					 O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r = 0;

	if (reg < 0 || (r = lock_file(reg, LOCK_EX)) < 0)
		return cx_err(err, CX_E_WORKSPACE, reg < 0 ? errno : -r,
			      "cannot lock the locks registry: %s", strerror(reg < 0 ? errno : -r));
	r = find_busy(dfd, mine, busy, err);
	if (r == 0)
		r = publish(dfd, body, ret_fd, err);
	return r; /* .registry released on return */
}

int cx_ws_lock_trees(const cx_ws_dirs *d, const char *const *paths, size_t n, bool wait,
		     int *ret_fd, cx_error *err)
{
	_cleanup_(lk_set_free) lk_set mine = { 0 };
	_cleanup_free_ char *body = NULL;
	_cleanup_close_ int dfd = -1;

	if (!d || !d->locks || d->locks[0] != '/')
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "workspace: the locks dir must be given as an absolute path");
	if (n < 1 || n > CX_WS_TREES_MAX)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "lock of %zu trees (1 to %d)", n,
			      CX_WS_TREES_MAX);
	mine.t = cx_calloc(CX_WS_TREES_MAX, sizeof(*mine.t));
	for (size_t i = 0; i < n; i++, mine.n++) {
		if (norm_path(paths[i], mine.t[i].path) < 0)
			return cx_err(err, CX_E_WORKSPACE, EINVAL,
				      "cannot lock '%.200s': not an absolute path", paths[i] ? paths[i] : "");
		tree_ids(&mine.t[i]);
	}
	body = held_json(&mine);
	if (!body)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "cannot lock: a tree path is not UTF-8");
	if (mkdir(d->locks, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create '%s': %s", d->locks,
			      strerror(errno));
	dfd = open(d->locks, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot open '%s': %s", d->locks,
			      strerror(errno));
	for (;;) {
		lk_busy busy = { .fd = -1 };
		int r = attempt(dfd, &mine, body, &busy, ret_fd, err);

		if (r <= 0)
			return r;
		if (!wait) {
			close(busy.fd);
			return refuse(&mine, &busy, err);
		}
		/* granted when that holder ends; then look again */
		r = lock_file(busy.fd, LOCK_SH);
		close(busy.fd);
		if (r < 0)
			return cx_err(err, CX_E_WORKSPACE, -r, "cannot wait for lock '%s': %s", busy.name,
				      strerror(-r));
	}
}

int cx_ws_lock(const cx_ws_dirs *d, const char *host_path, bool wait, int *ret_fd,
	       cx_error *err)
{
	return cx_ws_lock_trees(d, &host_path, 1, wait, ret_fd, err);
}
