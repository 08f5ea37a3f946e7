/* libFuzzer harness: the overlay upper walker (ws_scan and its hardlink
 * pass, then ws_plan_entries: sandbox/workspace/scan.c) on synthetic
 * trees.
 *
 * The input is a small program that builds two trees side by side in a
 * fresh temp dir, "host" (the lower the run saw) and "upper" (what the
 * run wrote); "outside" (made once, next to that dir) is what symlinks
 * point at and the walker must never reach. Nothing is mounted: the
 * walker reads an upper as overlayfs leaves it, and the harness makes
 * those entries itself.
 *
 *   byte 0        budget: >= 0xf0 gives the scan (byte & 15) * 3 entries,
 *                 else WS_ENTRIES_MAX
 *   then ops      at most OPS_MAX, each an op byte (low 4 bits: the op;
 *                 bit 4: the tree, host or upper; bits 5-7: a variant)
 *                 and its arguments. A path is a depth byte (0..4; 0 is
 *                 the tree's root, for the ops that take it) and one byte
 *                 per component, picking a name from names[] (plain, with
 *                 a space, a newline, non-UTF-8, 255 bytes long). Missing
 *                 parent dirs are made; a parent that is not a dir (a
 *                 symlink, a file) makes the op a no-op: the builder never
 *                 follows a symlink either.
 *     0 mkdir PATH MODE2        8 socket PATH (mknod S_IFSOCK)
 *     1 file PATH MODE2 LEN DATA  9 device PATH (char or block 240:1)
 *     2 symlink PATH TARGET     10 chown PATH IDS (0, 1000, 65534)
 *     3 whiteout PATH (c 0 0)   11 remove PATH
 *     4 xattr PATH WHICH        12 copy-up PATH (host -> upper, same
 *                                  mode, owner, xattrs, content)
 *       WHICH: trusted.overlay.opaque y, x or yy, redirect, metacopy,
 *       origin, user.*, an unknown trusted.*, security.*, opaque removed
 *     5 chmod PATH MODE2        13 deep PATH N: 248..263 nested dirs
 *     6 hardlink PATH (other      (crosses WS_DEPTH_MAX; once a program)
 *       tree by variant) PATH   14 flip PATH: change a file's first byte
 *     7 fifo PATH               15 file (as 1)
 *
 * Then ws_scan(host, upper) runs and its result is checked, with
 * CX_CHECK, against a model of the documented semantics
 * (scan.c's header) computed here by an independent walk that
 * opens every dir with O_NOFOLLOW from its parent's fd:
 *  - same verdict, and on a refusal the same errno and CX_E_WORKSPACE
 *    (EPERM for device nodes and host special files in the way, ELOOP
 *    past WS_DEPTH_MAX, E2BIG past the budget);
 *  - the same records in the same order: path, depth, action class,
 *    the host kind replaced; every path is inside the tree (ws_path_ok,
 *    depth = its components) and none names anything under "outside";
 *  - the records' data: modes (no setuid/setgid on files, setgid on a
 *    dir only where the host dir had it), owners, sizes, sha256 of the
 *    content or the link target, "equal" (left alone) exactly when type,
 *    mode, owner, committed xattrs and content or target are equal;
 *  - hardlinks: a link record points at a written or kept record of the
 *    same upper inode; each inode's names end as one host inode;
 *  - counts: records = entries consumed from the budget; FIFOs and
 *    sockets counted in skipped; the manifest entries (ws_plan_entry, ws_plan_count)
 *    match the records one for one, and added + changed + deleted and
 *    bytes add up;
 *  - no fd leaked; unknown xattrs and special files only ever refused or
 *    skipped, never a crash.
 * Each iteration builds its trees in a fresh "t" dir under one temp dir
 * (CALYX_FUZZ_TMPDIR, else /dev/shm, else /tmp) and removes it after.
 * Root is needed for trusted.* xattrs, chown and device nodes: without it
 * those ops are skipped (said once on stderr); whiteouts (c 0 0) need no
 * privilege since Linux 5.8.
 * Trust: test code; the input is arbitrary bytes, and the builder only
 * writes beneath its temp dir (every path resolved without symlinks). */
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "../../sandbox/workspace/internal.h"
#include "calyx/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPS_MAX 48
#define PATH_DEPTH_MAX 4
#define FILE_MAX 64
#define MARK "ESCAPE-MARK"

static char long_name[256];
static const char *names[8] = { "a", "b", "c", "d", "e f", "nl\n", "\xff\xfe", long_name };
static char base[PATH_MAX / 2], outside_abs[PATH_MAX];
static int basefd = -1;
static bool root;

/* ---- removing a tree (never following a symlink) ---------------------- */

static void rm_rf_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0) {
		(void)unlinkat(dfd, name, 0);
		return;
	}
	d = fdopendir(fd);
	CX_CHECK(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_rf_at(dirfd(d), de->d_name);
	closedir(d);
	CX_CHECK(unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT);
}

static void cleanup_base(void)
{
	if (basefd >= 0) {
		rm_rf_at(basefd, "t");
		rm_rf_at(basefd, "outside");
		close(basefd);
		basefd = -1;
		(void)rmdir(base);
	}
}

static void write_file(int dfd, const char *name, mode_t mode, const uint8_t *buf, size_t len);

static void init(void)
{
	const char *tmp = getenv("CALYX_FUZZ_TMPDIR");
	struct stat st;

	CX_CHECK(sodium_init() >= 0);
	memset(long_name, 'n', 255);
	root = geteuid() == 0;
	if (!tmp)
		tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
			      ? "/dev/shm"
			      : "/tmp";
	CX_CHECK((size_t)snprintf(base, sizeof(base), "%s/calyx-fuzz-upper-XXXXXX", tmp) < sizeof(base));
	CX_CHECK(mkdtemp(base));
	basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CX_CHECK(basefd >= 0);
	snprintf(outside_abs, sizeof(outside_abs), "%s/outside", base);
	atexit(cleanup_base);
	{
		int od, dd;
		CX_CHECK(mkdirat(basefd, "outside", 0755) == 0);
		od = openat(basefd, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CX_CHECK(od >= 0 && mkdirat(od, "dir", 0755) == 0);
		write_file(od, MARK, 0644, (const uint8_t *)"secret", 6);
		dd = openat(od, "dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CX_CHECK(dd >= 0);
		write_file(dd, MARK, 0644, (const uint8_t *)"secret", 6);
		close(dd);
		close(od);
	}
	if (!root)
		fprintf(stderr, "fuzz_upper: not root: trusted.overlay.* xattrs, chown and device "
				"nodes are skipped (run as root for full coverage)\n");
}

/* ---- the tree program ------------------------------------------------------ */

typedef struct prog {
	const uint8_t *p;
	size_t n, i;
	bool deep_done; /* one deep chain per program: each costs ~1000 syscalls */
} prog;

static bool take(prog *g, uint8_t *b)
{
	if (g->i >= g->n)
		return false;
	*b = g->p[g->i++];
	return true;
}

typedef struct tpath {
	unsigned depth;
	uint8_t idx[PATH_DEPTH_MAX];
} tpath;

static bool get_path(prog *g, unsigned min_depth, tpath *ret)
{
	uint8_t b;

	if (!take(g, &b))
		return false;
	ret->depth = b % (PATH_DEPTH_MAX + 1);
	if (ret->depth < min_depth)
		ret->depth = min_depth;
	for (unsigned i = 0; i < ret->depth; i++) {
		if (!take(g, &b))
			return false;
		ret->idx[i] = b % CX_ARRAY_SIZE(names);
	}
	return true;
}

/* The parent dir of p beneath root (made when create), and p's last
 * name ("." for the root itself). -1: not there, or a non-dir in the way. */
static int resolve(int root_fd, const tpath *p, bool create, const char **ret_name)
{
	int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);

	CX_CHECK(fd >= 0);
	if (p->depth == 0) {
		*ret_name = ".";
		return fd;
	}
	for (unsigned i = 0; i + 1 < p->depth; i++) {
		const char *nm = names[p->idx[i]];
		int next = openat(fd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0 && errno == ENOENT && create && mkdirat(fd, nm, 0755) == 0)
			next = openat(fd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
	}
	*ret_name = names[p->idx[p->depth - 1]];
	return fd;
}

/* "/proc/self/fd/N/name": the l*xattr calls take a path; the dir part is
 * the fd (already resolved without symlinks), the last name not followed. */
static void fd_path(int dfd, const char *name, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "/proc/self/fd/%d/%s", dfd, name);
}

static mode_t get_mode(prog *g)
{
	uint8_t hi = 0, lo = 0;
	mode_t m;

	take(g, &hi);
	take(g, &lo);
	m = (mode_t)(((unsigned)hi << 8 | lo) & 07777);
	return root ? m : m | 0700; /* without root, 000 would lock the harness out */
}

/* fchmodat follows a symlink: never call it on one (a target may be "/"). */
static void chmod_nofollow(int dfd, const char *name, mode_t mode)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode))
		(void)!fchmodat(dfd, name, mode, 0);
}

static void write_file(int dfd, const char *name, mode_t mode, const uint8_t *buf, size_t len)
{
	struct stat st;
	int fd;

	/* only ever a regular file: never open a FIFO or a device here */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
		return;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (len)
		CX_CHECK(write(fd, buf, len) == (ssize_t)len);
	(void)fchmod(fd, mode);
	close(fd);
}

static void op_xattr(int dfd, const char *name, uint8_t which)
{
	static char big[3000];
	static const uint8_t origin[16] = { 0x00, 0xfb, 0x21, 0x81, 0x00, 0x01, 0xff, 0x7f,
					    0x42, 0x42, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef };
	char p[PATH_MAX];
	const char *xn;
	const void *v;
	size_t vl;

	fd_path(dfd, name, p);
	switch (which % 12) {
	case 0: xn = "trusted.overlay.opaque"; v = "y"; vl = 1; break;
	case 1: xn = "trusted.overlay.opaque"; v = "x"; vl = 1; break;
	case 2: xn = "trusted.overlay.opaque"; v = "yy"; vl = 2; break;
	case 3: xn = "trusted.overlay.redirect"; v = "/a/b"; vl = 4; break;
	case 4: xn = "trusted.overlay.metacopy"; v = ""; vl = 0; break;
	case 5: xn = "trusted.overlay.origin"; v = origin; vl = sizeof(origin); break;
	case 6: xn = "user.k"; v = "v"; vl = 1; break;
	case 7: xn = "user.k"; v = "w"; vl = 1; break;
	case 8: xn = "trusted.calyx-unknown"; v = "z"; vl = 1; break;
	case 9:
		memset(big, 'B', sizeof(big));
		xn = "user.big"; v = big; vl = sizeof(big);
		break;
	case 10: xn = "security.calyx-test"; v = "s"; vl = 1; break;
	default:
		if (root)
			(void)lremovexattr(p, "trusted.overlay.opaque");
		return;
	}
	if (!root && strncmp(xn, "user.", 5) != 0)
		return;
	(void)lsetxattr(p, xn, v, vl, 0);
}

/* Host entry -> upper, as overlayfs copies up: same type, mode, owner,
 * xattrs (those a commit compares), content or target. */
static void op_copyup(int hroot, int uroot, const tpath *tp)
{
	const char *hn, *un;
	int hd = resolve(hroot, tp, false, &hn), ud = -1;
	struct stat st;
	char hp[PATH_MAX], up[PATH_MAX];

	if (hd < 0)
		return;
	if (tp->depth == 0 || fstatat(hd, hn, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto out;
	ud = resolve(uroot, tp, true, &un);
	if (ud < 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(ud, un, 0700) < 0 && errno != EEXIST)
			goto out;
		chmod_nofollow(ud, un, st.st_mode & 07777);
	} else if (S_ISREG(st.st_mode)) {
		uint8_t buf[FILE_MAX * 2];
		int fd = openat(hd, hn, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		ssize_t n;
		if (fd < 0)
			goto out;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n < 0)
			goto out;
		write_file(ud, un, st.st_mode & 07777, buf, (size_t)n);
	} else if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(hd, hn, t, sizeof(t) - 1);
		if (n <= 0)
			goto out;
		t[n] = '\0';
		if (symlinkat(t, ud, un) < 0)
			goto out;
	} else {
		goto out;
	}
	if (root)
		(void)!fchownat(ud, un, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
	if (!S_ISLNK(st.st_mode)) {
		char list[4096];
		ssize_t ll;
		fd_path(hd, hn, hp);
		fd_path(ud, un, up);
		ll = llistxattr(hp, list, sizeof(list));
		for (ssize_t o = 0; ll > 0 && o < ll; o += (ssize_t)strlen(list + o) + 1) {
			char v[4096];
			ssize_t vl;
			if (strncmp(list + o, "trusted.", 8) == 0)
				continue;
			vl = lgetxattr(hp, list + o, v, sizeof(v));
			if (vl >= 0)
				(void)lsetxattr(up, list + o, v, (size_t)vl, 0);
		}
	}
	/* the mode last: a setgid bit survives the chown that drops it */
	if (!S_ISLNK(st.st_mode))
		chmod_nofollow(ud, un, st.st_mode & 07777);
out:
	close(hd);
	if (ud >= 0)
		close(ud);
}

static void op_deep(int dfd, const char *name, unsigned count)
{
	int fd;

	if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	for (unsigned i = 1; fd >= 0 && i < count; i++) {
		int next;
		if (mkdirat(fd, "d", 0755) < 0 && errno != EEXIST)
			break;
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	if (fd >= 0) {
		write_file(fd, "f", 0644, (const uint8_t *)"deep", 4);
		close(fd);
	}
}

#define TARGET_RAW_MAX 64

/* A fixed target, the outside dir's absolute path, or (bit 7) 1..64 raw
 * bytes (a NUL becomes 'z'). */
static const char *symlink_target(prog *g, char buf[TARGET_RAW_MAX + 1])
{
	static const char *const fixed[] = { "a", "../../outside", ("../../../outside/" MARK), "/", ".", "..",
					     "a/b/c", "nl\n", "../../../../../../..", "b" };
	uint8_t b = 0, c;

	take(g, &b);
	if (b & 0x80) {
		size_t n = (size_t)(b & 0x3f) + 1, i = 0;
		for (; i < n && take(g, &c); i++)
			buf[i] = c ? (char)c : 'z';
		if (i == 0)
			buf[i++] = 'z';
		buf[i] = '\0';
		return buf;
	}
	if (b % 11 == 10)
		return outside_abs;
	return fixed[b % 11];
}

static void run_op(prog *g, int troot[2])
{
	static const uid_t ids[3] = { 0, 1000, 65534 };
	uint8_t ob, b = 0;
	unsigned op, tree, variant;
	tpath tp, tp2;
	const char *name;
	int dfd;

	if (!take(g, &ob))
		return;
	op = ob & 15;
	tree = (ob >> 4) & 1;
	variant = ob >> 5;
	if (op == 15)
		op = 1;
	if (!get_path(g, (op == 4 || op == 5 || op == 10) ? 0 : 1, &tp))
		return;
	if (op == 12) {
		op_copyup(troot[0], troot[1], &tp);
		return;
	}
	dfd = resolve(troot[tree], &tp, true, &name);
	if (dfd < 0)
		return;
	switch (op) {
	case 0:
		(void)mkdirat(dfd, name, 0700);
		chmod_nofollow(dfd, name, get_mode(g));
		break;
	case 1: {
		mode_t m = get_mode(g);
		uint8_t buf[FILE_MAX];
		size_t len = 0;
		take(g, &b);
		for (size_t want = b % (FILE_MAX + 1); len < want && take(g, &buf[len]); len++)
			;
		write_file(dfd, name, m, buf, len);
		break;
	}
	case 2: {
		char t[TARGET_RAW_MAX + 1];
		(void)!symlinkat(symlink_target(g, t), dfd, name);
		break;
	}
	case 3:
		(void)mknodat(dfd, name, S_IFCHR | 0000, makedev(0, 0));
		break;
	case 4:
		take(g, &b);
		op_xattr(dfd, name, b);
		break;
	case 5:
		chmod_nofollow(dfd, name, get_mode(g));
		break;
	case 6: {
		const char *name2;
		int d2;
		if (!get_path(g, 1, &tp2))
			break;
		d2 = resolve(troot[(tree + variant) & 1], &tp2, true, &name2);
		if (d2 >= 0) {
			(void)!linkat(dfd, name, d2, name2, 0);
			close(d2);
		}
		break;
	}
	case 7:
		(void)mknodat(dfd, name, S_IFIFO | 0644, 0);
		break;
	case 8:
		(void)mknodat(dfd, name, S_IFSOCK | 0644, 0);
		break;
	case 9:
		if (root)
			(void)mknodat(dfd, name, ((variant & 1) ? S_IFBLK : S_IFCHR) | 0600, makedev(240, 1));
		break;
	case 10:
		take(g, &b);
		if (root)
			(void)!fchownat(dfd, name, ids[b % 3], ids[(b / 3) % 3], AT_SYMLINK_NOFOLLOW);
		break;
	case 11:
		if (unlinkat(dfd, name, 0) < 0)
			(void)unlinkat(dfd, name, AT_REMOVEDIR);
		break;
	case 13:
		take(g, &b);
		if (!g->deep_done)
			op_deep(dfd, name, 248 + b % 16);
		g->deep_done = true;
		break;
	case 14: {
		struct stat st;
		int fd;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || !st.st_size)
			break;
		fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			uint8_t c;
			if (pread(fd, &c, 1, 0) == 1) {
				c ^= 0x20;
				CX_CHECK(pwrite(fd, &c, 1, 0) == 1);
			}
			close(fd);
		}
		break;
	}
	}
	close(dfd);
}

/* ---- the model: what the scan must decide --------------------------------- */

enum { E_DELETE = 1, E_NONE, E_DIR, E_FILE, E_SYMLINK };

typedef struct exp_rec {
	char *path;
	uint32_t depth;
	uint8_t cls, hkind;
	bool equal, meta;
	struct stat ust, hst; /* hst: when hkind is set */
	uint8_t sha[32];
	char *target;
} exp_rec;

typedef struct model {
	exp_rec *v;
	size_t n, cap;
	size_t budget;
	uint64_t skipped;
	int fail; /* errno of the first refusal, 0: none */
} model;

typedef struct nlist {
	char **v;
	size_t n;
} nlist;

static void nlist_free(nlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int m_fail(model *m, int e)
{
	if (!m->fail)
		m->fail = e;
	return -1;
}

static uint8_t kind(mode_t mode)
{
	return S_ISREG(mode) ? WS_K_FILE : S_ISDIR(mode) ? WS_K_DIR : S_ISLNK(mode) ? WS_K_SYMLINK
										      : WS_K_SPECIAL;
}

static int m_list(model *m, int dfd, nlist *ret)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	CX_CHECK(fd >= 0);
	d = fdopendir(fd);
	CX_CHECK(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (ret->n == cap) {
			cap = cap ? cap * 2 : 16;
			ret->v = realloc(ret->v, cap * sizeof(char *));
			CX_CHECK(ret->v);
		}
		ret->v[ret->n++] = cx_strdup(de->d_name);
	}
	closedir(d);
	if (ret->n > 1)
		qsort(ret->v, ret->n, sizeof(char *), cmp_str);
	return ret->n > m->budget ? m_fail(m, E2BIG) : 0;
}

/* Takes path. */
static exp_rec *m_add(model *m, char *path, uint32_t depth, uint8_t cls, uint8_t hkind)
{
	exp_rec *e;

	if (m->budget == 0 || depth > WS_DEPTH_MAX) {
		m_fail(m, m->budget == 0 ? E2BIG : ELOOP);
		free(path);
		return NULL;
	}
	m->budget--;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		CX_CHECK(m->v);
	}
	e = &m->v[m->n++];
	memset(e, 0, sizeof(*e));
	e->path = path;
	e->depth = depth;
	e->cls = cls;
	e->hkind = hkind;
	return e;
}

static int m_subtree(model *m, int parent, const char *name, const char *dirpath, uint32_t depth)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	nlist l = { 0 };
	int r;

	CX_CHECK(fd >= 0);
	r = m_list(m, fd, &l);
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		struct stat st;
		exp_rec *e;

		CX_CHECK(fstatat(fd, l.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0);
		if (kind(st.st_mode) == WS_K_SPECIAL) {
			r = m_fail(m, EPERM);
			break;
		}
		e = m_add(m, ws_join(dirpath, l.v[i]), depth, E_NONE, kind(st.st_mode));
		if (!e) {
			r = -1;
			break;
		}
		if (S_ISDIR(st.st_mode))
			r = m_subtree(m, fd, l.v[i], e->path, depth + 1);
	}
	nlist_free(&l);
	close(fd);
	return r;
}

/* Takes path. */
static int m_delete(model *m, int hfd, const char *name, char *path, uint32_t depth,
		    const struct stat *hst)
{
	exp_rec *e;

	if (kind(hst->st_mode) == WS_K_SPECIAL) {
		free(path);
		return m_fail(m, EPERM);
	}
	e = m_add(m, path, depth, E_DELETE, kind(hst->st_mode));
	if (!e)
		return -1;
	return S_ISDIR(hst->st_mode) ? m_subtree(m, hfd, name, e->path, depth + 1) : 0;
}

static bool opaque_dir(int fd)
{
	char v[8];
	return fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* The xattrs a commit carries, canonical: sorted "name=hex(value)" lines. */
static char *committed_xattrs(int fd)
{
	char list[65536], *out = NULL;
	size_t outlen = 0;
	nlist l = { 0 };
	ssize_t n = flistxattr(fd, list, sizeof(list));
	size_t cap = 0;
	FILE *f;

	for (ssize_t o = 0; n > 0 && o < n; o += (ssize_t)strlen(list + o) + 1) {
		const char *x = list + o;
		if (!(strncmp(x, "user.", 5) == 0 ||
		      (strncmp(x, "security.", 9) == 0 && strcmp(x, "security.capability") != 0) ||
		      strcmp(x, "system.posix_acl_access") == 0 || strcmp(x, "system.posix_acl_default") == 0))
			continue;
		if (l.n == cap) {
			cap = cap ? cap * 2 : 8;
			l.v = realloc(l.v, cap * sizeof(char *));
			CX_CHECK(l.v);
		}
		l.v[l.n++] = cx_strdup(x);
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(char *), cmp_str);
	f = open_memstream(&out, &outlen);
	CX_CHECK(f);
	for (size_t i = 0; i < l.n; i++) {
		static uint8_t v[65536];
		ssize_t vl = fgetxattr(fd, l.v[i], v, sizeof(v));
		CX_CHECK(vl >= 0);
		fprintf(f, "%s=", l.v[i]);
		for (ssize_t k = 0; k < vl; k++)
			fprintf(f, "%02x", v[k]);
		fputc('\n', f);
	}
	fclose(f);
	nlist_free(&l);
	return out;
}

static bool same_xattrs(int a, int b)
{
	char *x = committed_xattrs(a), *y = committed_xattrs(b);
	bool same = strcmp(x, y) == 0;
	free(x);
	free(y);
	return same;
}

static size_t read_all(int dfd, const char *name, uint8_t *buf, size_t cap, int *ret_fd)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	CX_CHECK(fd >= 0);
	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	CX_CHECK(n == 0);
	*ret_fd = fd;
	return len;
}

static int m_dir(model *m, int ufd, int hfd, const char *dirpath, uint32_t depth, bool opaque);

static int m_entry(model *m, int ufd, int hfd, const char *dirpath, const char *name, uint32_t depth)
{
	struct stat ust, hst;
	uint8_t hk = WS_K_NONE;
	char *path = ws_join(dirpath, name);
	exp_rec *e;

	CX_CHECK(fstatat(ufd, name, &ust, AT_SYMLINK_NOFOLLOW) == 0);
	if (depth > WS_DEPTH_MAX) {
		free(path);
		return m_fail(m, ELOOP);
	}
	if (hfd >= 0 && fstatat(hfd, name, &hst, AT_SYMLINK_NOFOLLOW) == 0)
		hk = kind(hst.st_mode);
	if (S_ISCHR(ust.st_mode) && ust.st_rdev == 0) {
		if (hk == WS_K_NONE) {
			free(path);
			return 0;
		}
		return m_delete(m, hfd, name, path, depth, &hst);
	}
	if (S_ISCHR(ust.st_mode) || S_ISBLK(ust.st_mode)) {
		free(path);
		return m_fail(m, EPERM);
	}
	if (S_ISFIFO(ust.st_mode) || S_ISSOCK(ust.st_mode)) {
		m->skipped++; /* even over a host special file: it stays */
		free(path);
		return 0;
	}
	if (hk == WS_K_SPECIAL) {
		free(path);
		return m_fail(m, EPERM);
	}
	if (S_ISDIR(ust.st_mode)) {
		int cu = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), ch = -1, r;
		bool meta = true;

		CX_CHECK(cu >= 0);
		if (hk == WS_K_DIR) {
			ch = openat(hfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			CX_CHECK(ch >= 0);
			meta = (ust.st_mode & 07777) != (hst.st_mode & 07777) || ust.st_uid != hst.st_uid ||
			       ust.st_gid != hst.st_gid || !same_xattrs(cu, ch);
		} else if (hk != WS_K_NONE) {
			if (m_delete(m, hfd, name, cx_strdup(path), depth, &hst) < 0) {
				free(path);
				close(cu);
				return -1;
			}
			hk = WS_K_NONE;
		}
		e = m_add(m, path, depth, E_DIR, hk);
		if (!e) {
			r = -1;
		} else {
			e->meta = meta;
			e->ust = ust;
			if (hk == WS_K_DIR)
				e->hst = hst;
			r = m_dir(m, cu, ch, e->path, depth + 1, opaque_dir(cu));
		}
		close(cu);
		if (ch >= 0)
			close(ch);
		return r;
	}
	if (S_ISREG(ust.st_mode)) {
		static uint8_t ubuf[FILE_MAX * 4], hbuf[FILE_MAX * 4];
		int fu, fh = -1;
		size_t ul = read_all(ufd, name, ubuf, sizeof(ubuf), &fu);
		bool equal = false;

		if (hk == WS_K_DIR || hk == WS_K_SYMLINK) {
			if (m_delete(m, hfd, name, cx_strdup(path), depth, &hst) < 0) {
				free(path);
				close(fu);
				return -1;
			}
			hk = WS_K_NONE;
		} else if (hk == WS_K_FILE) {
			size_t hl = read_all(hfd, name, hbuf, sizeof(hbuf), &fh);
			equal = (ust.st_mode & 07777) == (hst.st_mode & 07777) && ust.st_uid == hst.st_uid &&
				ust.st_gid == hst.st_gid && ul == hl && memcmp(ubuf, hbuf, ul) == 0 &&
				same_xattrs(fu, fh);
			close(fh);
		}
		close(fu);
		e = m_add(m, path, depth, E_FILE, hk);
		if (!e)
			return -1;
		e->equal = equal;
		e->ust = ust;
		if (hk == WS_K_FILE)
			e->hst = hst;
		crypto_hash_sha256(e->sha, ubuf, ul);
		return 0;
	}
	if (S_ISLNK(ust.st_mode)) {
		char t[PATH_MAX], ht[PATH_MAX];
		ssize_t n = readlinkat(ufd, name, t, sizeof(t) - 1), hn;
		bool equal = false;

		CX_CHECK(n > 0);
		t[n] = '\0';
		if (hk == WS_K_DIR || hk == WS_K_FILE) {
			if (m_delete(m, hfd, name, cx_strdup(path), depth, &hst) < 0) {
				free(path);
				return -1;
			}
			hk = WS_K_NONE;
		} else if (hk == WS_K_SYMLINK && ust.st_uid == hst.st_uid && ust.st_gid == hst.st_gid) {
			hn = readlinkat(hfd, name, ht, sizeof(ht) - 1);
			CX_CHECK(hn > 0);
			ht[hn] = '\0';
			equal = strcmp(t, ht) == 0;
		}
		e = m_add(m, path, depth, E_SYMLINK, hk);
		if (!e)
			return -1;
		e->equal = equal;
		e->ust = ust;
		e->target = cx_strdup(t);
		crypto_hash_sha256(e->sha, (const uint8_t *)t, (size_t)n);
		return 0;
	}
	CX_CHECK(!"unknown file type");
	return -1;
}

static int m_dir(model *m, int ufd, int hfd, const char *dirpath, uint32_t depth, bool opaque)
{
	nlist un = { 0 }, hn = { 0 };
	size_t i = 0, j = 0;
	int r = m_list(m, ufd, &un);

	if (r == 0 && opaque && hfd >= 0)
		r = m_list(m, hfd, &hn);
	while (r == 0 && (i < un.n || j < hn.n)) {
		int c = i == un.n ? 1 : j == hn.n ? -1 : strcmp(un.v[i], hn.v[j]);
		if (c <= 0) {
			r = m_entry(m, ufd, hfd, dirpath, un.v[i++], depth);
			if (c == 0)
				j++;
		} else {
			struct stat hst;
			const char *nm = hn.v[j++];
			CX_CHECK(fstatat(hfd, nm, &hst, AT_SYMLINK_NOFOLLOW) == 0);
			r = m_delete(m, hfd, nm, ws_join(dirpath, nm), depth, &hst);
		}
	}
	nlist_free(&un);
	nlist_free(&hn);
	return r;
}

static void model_free(model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].target);
	}
	free(m->v);
}

/* ---- checks ----------------------------------------------------------------- */

static uint32_t components(const char *p)
{
	uint32_t n = 1;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static void check_rec(const ws_rec *r, const exp_rec *e)
{
	CX_CHECK(strcmp(r->path, e->path) == 0);
	CX_CHECK(ws_path_ok(r->path) && r->depth == e->depth && r->depth == components(r->path));
	CX_CHECK(!strstr(r->path, MARK));
	CX_CHECK(r->hkind == e->hkind);
	switch (e->cls) {
	case E_DELETE:
		CX_CHECK(r->act == WS_A_DELETE);
		break;
	case E_NONE:
		CX_CHECK(r->act == WS_A_NONE);
		break;
	case E_DIR: {
		mode_t want = e->ust.st_mode & 07777 & ~(mode_t)S_ISUID;
		if (!(e->hkind == WS_K_DIR && (e->hst.st_mode & S_ISGID)))
			want &= ~(mode_t)S_ISGID;
		CX_CHECK(r->act == WS_A_DIR && r->meta == e->meta && r->mode == want);
		CX_CHECK(r->uid == e->ust.st_uid && r->gid == e->ust.st_gid && !r->target);
		break;
	}
	case E_FILE:
		CX_CHECK(r->act == WS_A_WRITE || r->act == WS_A_SKIP || r->act == WS_A_LINK);
		CX_CHECK(r->equal == e->equal);
		CX_CHECK(r->act == WS_A_LINK || (r->act == WS_A_SKIP) == e->equal);
		CX_CHECK(r->mode == (e->ust.st_mode & 0777) && r->uid == e->ust.st_uid &&
			 r->gid == e->ust.st_gid);
		CX_CHECK(r->size == (uint64_t)e->ust.st_size && memcmp(r->sha, e->sha, 32) == 0);
		CX_CHECK(r->udev == e->ust.st_dev && r->uino == e->ust.st_ino &&
			 r->unlink == e->ust.st_nlink && !r->target);
		if (e->hkind == WS_K_FILE)
			CX_CHECK(r->hdev == e->hst.st_dev && r->hino == e->hst.st_ino);
		break;
	case E_SYMLINK:
		CX_CHECK(r->act == WS_A_SYMLINK || r->act == WS_A_SKIP);
		CX_CHECK(r->equal == e->equal && (r->act == WS_A_SKIP) == e->equal);
		CX_CHECK(r->target && strcmp(r->target, e->target) == 0);
		CX_CHECK(r->size == strlen(e->target) && memcmp(r->sha, e->sha, 32) == 0);
		CX_CHECK(r->mode == 0777 && r->uid == e->ust.st_uid && r->gid == e->ust.st_gid);
		break;
	default:
		CX_CHECK(!"bad class");
	}
}

static bool file_rec(const ws_rec *r)
{
	return (r->act == WS_A_WRITE || r->act == WS_A_SKIP || r->act == WS_A_LINK) && !r->target;
}

/* Names of one upper inode end as one host inode. */
static void check_links(const ws_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const ws_rec *r = &p->v[i], *pr;
		size_t prim = SIZE_MAX;
		bool any_equal = false;

		if (r->act == WS_A_LINK) {
			CX_CHECK(r->link_to < p->n && r->link_to != i && r->unlink > 1);
			pr = &p->v[r->link_to];
			CX_CHECK((pr->act == WS_A_WRITE || pr->act == WS_A_SKIP) && !pr->target);
			CX_CHECK(pr->udev == r->udev && pr->uino == r->uino);
		}
		if (!file_rec(r) || r->unlink < 2)
			continue;
		/* r's group: every file record of the same upper inode */
		for (size_t j = 0; j < p->n; j++) {
			const ws_rec *q = &p->v[j];
			if (!file_rec(q) || q->udev != r->udev || q->uino != r->uino)
				continue;
			any_equal |= q->equal;
			if (q->act == WS_A_LINK) {
				CX_CHECK(prim == SIZE_MAX || prim == q->link_to);
				prim = q->link_to;
			}
		}
		if (prim == SIZE_MAX) {
			/* no link made: one name, or all already one host inode */
			for (size_t j = 0; j < p->n; j++) {
				const ws_rec *q = &p->v[j];
				if (j == i || !file_rec(q) || q->udev != r->udev || q->uino != r->uino)
					continue;
				CX_CHECK(r->equal && q->equal && q->hdev == r->hdev && q->hino == r->hino);
			}
			continue;
		}
		pr = &p->v[prim];
		CX_CHECK(!any_equal || pr->equal);
		if (r->act != WS_A_LINK && i != prim)
			CX_CHECK(pr->equal && r->equal && r->hdev == pr->hdev && r->hino == pr->hino);
	}
}

static void check_manifest(const ws_plan *p)
{
	ws_manifest m = { 0 };
	size_t k = 0;
	uint64_t added = 0, changed = 0, deleted = 0, bytes = 0;

	ws_plan_count(p, &m);
	for (size_t i = 0; i < p->n; i++) {
		const ws_rec *r = &p->v[i];
		ws_ment em;
		const ws_ment *e = &em;
		bool made = ws_plan_entry(r, 3, &em);
		uint8_t op, kd;

		if (r->act == WS_A_SKIP || (r->act == WS_A_DIR && r->hkind == WS_K_DIR && !r->meta)) {
			CX_CHECK(!made);
			continue;
		}
		CX_CHECK(made);
		k++;
		if (r->act == WS_A_NONE || r->act == WS_A_DELETE) {
			op = WS_OP_DELETED;
			kd = r->hkind;
		} else {
			op = r->hkind == WS_K_NONE ? WS_OP_ADDED : WS_OP_CHANGED;
			kd = r->act == WS_A_DIR ? WS_K_DIR : r->act == WS_A_SYMLINK ? WS_K_SYMLINK : WS_K_FILE;
		}
		CX_CHECK(e->tree == 3 && strcmp(e->path, r->path) == 0 && e->op == op && e->kind == kd);
		CX_CHECK(kd == WS_K_FILE || kd == WS_K_DIR || kd == WS_K_SYMLINK);
		CX_CHECK(e->has_before == (op != WS_OP_ADDED) && e->has_after == (op != WS_OP_DELETED));
		if (op != WS_OP_DELETED) {
			CX_CHECK(e->mode_a == r->mode && e->uid_a == r->uid && e->gid_a == r->gid);
			if (kd != WS_K_DIR) {
				char hex[65];
				cx_hex_encode(r->sha, 32, hex);
				CX_CHECK(e->size_a == r->size && strcmp(e->sha_a, hex) == 0);
			}
			if (kd == WS_K_FILE)
				bytes += r->size;
		}
		added += op == WS_OP_ADDED;
		changed += op == WS_OP_CHANGED;
		deleted += op == WS_OP_DELETED;
	}
	CX_CHECK(k == m.nent);
	CX_CHECK(m.added == added && m.changed == changed && m.deleted == deleted && m.bytes == bytes);
	CX_CHECK(m.added + m.changed + m.deleted == m.nent);
	ws_manifest_free(&m);
}

static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CX_CHECK(fd >= 0);
	close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	prog g = { data, size, 1, false };
	int tfd, troot[2], fd_mark, r;
	ws_plan plan = { 0 };
	model m = { 0 };
	cx_error err = { 0 };
	size_t budget, budget0;

	if (!inited) {
		init();
		inited = true;
	}
	if (size == 0)
		return 0;
	budget0 = data[0] >= 0xf0 ? (size_t)(data[0] & 15) * 3 : WS_ENTRIES_MAX;

	rm_rf_at(basefd, "t");
	CX_CHECK(mkdirat(basefd, "t", 0755) == 0);
	tfd = openat(basefd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CX_CHECK(tfd >= 0);
	CX_CHECK(mkdirat(tfd, "host", 0755) == 0 && mkdirat(tfd, "upper", 0755) == 0);
	troot[0] = openat(tfd, "host", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	troot[1] = openat(tfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	CX_CHECK(troot[0] >= 0 && troot[1] >= 0);
	for (int i = 0; i < OPS_MAX && g.i < g.n; i++)
		run_op(&g, troot);

	/* the scan, as cx_ws_commit runs it */
	fd_mark = lowest_free_fd();
	budget = budget0;
	r = ws_scan(troot[0], troot[1], "/srv/fuzz", &plan, &budget, &err);
	m.budget = budget0;
	m_dir(&m, troot[1], troot[0], "", 1, opaque_dir(troot[1]));

	if (getenv("CALYX_FUZZ_VERBOSE")) {
		fprintf(stderr, "fuzz_upper: scan %d, %zu records, %llu skipped%s%s\n", r, plan.n,
			(unsigned long long)plan.skipped, err.msg[0] ? ": " : "", err.msg);
		for (size_t i = 0; i < plan.n; i++)
			fprintf(stderr, "  act %u hkind %u equal %d depth %u link_to %zu %s\n", plan.v[i].act,
				plan.v[i].hkind, plan.v[i].equal, plan.v[i].depth, plan.v[i].link_to,
				plan.v[i].path);
	}
	CX_CHECK((r < 0) == (m.fail != 0));
	if (r < 0) {
		CX_CHECK(r == -m.fail && err.errnum == m.fail);
		CX_CHECK(err.reason == CX_E_WORKSPACE && err.msg[0]);
	} else {
		CX_CHECK(r == 0 && err.msg[0] == '\0');
		CX_CHECK(plan.n == m.n && budget0 - budget == plan.n);
		CX_CHECK(plan.skipped == m.skipped);
		for (size_t i = 0; i < plan.n; i++)
			check_rec(&plan.v[i], &m.v[i]);
		check_links(&plan);
		check_manifest(&plan);
	}
	ws_plan_free(&plan);
	model_free(&m);
	CX_CHECK(lowest_free_fd() == fd_mark);

	close(troot[0]);
	close(troot[1]);
	close(tfd);
	rm_rf_at(basefd, "t");
	return 0;
}
