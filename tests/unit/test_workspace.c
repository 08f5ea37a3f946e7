/* Unit tests: the transactional workspace (sandbox/workspace*.c), as root.
 *
 * Each test builds a host tree and an overlay upper by hand (whiteouts
 * are char devices 0:0, opaque dirs carry trusted.overlay.opaque=y,
 * hardlinks, symlinks pointing out of the tree, dir<->file replacements,
 * a rename as new file + whiteout), or gets the upper from a real overlay
 * mount, and compares whole trees with a recursive manifest (path, type,
 * mode, owner, size, sha256 or link target, user xattrs, hardlink group).
 * Crash tests need the fault-injection build of the workspace objects
 * (the Makefile links them into this test only); elsewhere they skip,
 * visibly. Tests that need root or overlayfs skip when they are missing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <sched.h>
#include <spawn.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/workspace.h"
#include "testutil.h"

/* Present only when the workspace objects were built with
 * CALYX_FAULT_INJECTION (weak: NULL otherwise). */
extern void (*cx_ws_fault_hook)(const char *step) __attribute__((weak));
#define HAVE_FAULTS (&cx_ws_fault_hook != NULL)

extern char **environ;

#define RUN_UID 1000
#define RUN_GID 1000
#define KEY "0123456789abcdef0123456789abcdef"

/* ---- path and file helpers ------------------------------------------------ */

static char *pj(const char *a, const char *b)
{
	static char ring[16][PATH_MAX * 2];
	static unsigned k;
	char *p = ring[k++ % 16];
	snprintf(p, PATH_MAX * 2, "%s/%s", a, b);
	return p;
}

static void mkfile(const char *root, const char *rel, const char *content, mode_t mode)
{
	const char *p = pj(root, rel);
	int fd;
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	CX_CHECK(fd >= 0);
	CX_CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	CX_CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void mkd(const char *root, const char *rel, mode_t mode)
{
	const char *p = pj(root, rel);
	CX_CHECK(mkdir(p, 0700) == 0 || errno == EEXIST);
	CX_CHECK(chmod(p, mode) == 0);
}

static void mksym(const char *root, const char *rel, const char *target)
{
	CX_CHECK(symlink(target, pj(root, rel)) == 0);
}

static void own(const char *root, const char *rel, uid_t u, gid_t g)
{
	CX_CHECK(lchown(pj(root, rel), u, g) == 0);
}

static void whiteout(const char *root, const char *rel)
{
	CX_CHECK(mknod(pj(root, rel), S_IFCHR, makedev(0, 0)) == 0);
}

static void opaque(const char *root, const char *rel, mode_t mode)
{
	mkd(root, rel, mode);
	CX_CHECK(lsetxattr(pj(root, rel), "trusted.overlay.opaque", "y", 1, 0) == 0);
}

static void xset(const char *root, const char *rel, const char *name, const char *v)
{
	CX_CHECK(lsetxattr(pj(root, rel), name, v, strlen(v), 0) == 0);
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "re");
	char *buf = NULL;
	size_t n = 0;
	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	CX_CHECK(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static int run_cmd(char *const argv[])
{
	pid_t pid;
	int st;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void copytree(const char *src, const char *dst)
{
	char *argv[] = { "cp", "-a", (char *)src, (char *)dst, NULL };
	CX_CHECK(run_cmd(argv) == 0);
}

/* Recursively lchown everything under root (not root itself). */
static void chown_tree(const char *root, uid_t u, gid_t g)
{
	DIR *d = opendir(root);
	struct dirent *de;
	CX_CHECK(d);
	while ((de = readdir(d))) {
		struct stat st;
		const char *p;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = pj(root, de->d_name);
		char *c = strdup(p);
		CX_CHECK(lstat(c, &st) == 0 && lchown(c, u, g) == 0);
		if (S_ISDIR(st.st_mode))
			chown_tree(c, u, g);
		free(c);
	}
	closedir(d);
}

/* ---- tree manifest -------------------------------------------------------- */

typedef struct tent {
	char *path, *desc;
	dev_t dev;
	ino_t ino;
	bool multi;
} tent;

typedef struct tlist {
	tent *v;
	size_t n, cap;
} tlist;

static void hexval(const char *v, ssize_t n, char *out)
{
	for (ssize_t i = 0; i < n && i < 64; i++)
		sprintf(out + 2 * i, "%02x", (unsigned char)v[i]);
}

static char *xattr_desc(const char *p)
{
	char list[4096], *out = calloc(1, 8192);
	ssize_t n = llistxattr(p, list, sizeof(list));
	char *names[64];
	size_t k = 0;
	CX_CHECK(out);
	for (char *s = list; n > 0 && s < list + n; s += strlen(s) + 1)
		if ((!strncmp(s, "user.", 5) || !strcmp(s, "security.capability")) && k < 64)
			names[k++] = s;
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < k; i++) {
		char v[256], h[160] = "";
		ssize_t vl = lgetxattr(p, names[i], v, sizeof(v));
		hexval(v, vl, h);
		snprintf(out + strlen(out), 8192 - strlen(out), " %s=%s", names[i], h);
	}
	return out;
}

static void twalk(const char *root, const char *rel, tlist *l)
{
	char dir[PATH_MAX * 2];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s%s%s", root, rel[0] ? "/" : "", rel);
	d = opendir(dir);
	CX_CHECK(d);
	while ((de = readdir(d))) {
		char rp[PATH_MAX * 2], ap[PATH_MAX * 2], desc[1024], extra[400] = "";
		struct stat st;
		char *xd;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(rp, sizeof(rp), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		snprintf(ap, sizeof(ap), "%.4000s/%.4000s", root, rp);
		CX_CHECK(lstat(ap, &st) == 0);
		if (S_ISREG(st.st_mode)) {
			char *c = slurp(ap);
			char hex[65];
			CX_CHECK(c);
			cx_sha256_hex(c, (size_t)st.st_size, hex);
			snprintf(extra, sizeof(extra), "%lld %s", (long long)st.st_size, hex);
			free(c);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t n = readlink(ap, t, sizeof(t) - 1);
			t[n > 0 ? n : 0] = 0;
			snprintf(extra, sizeof(extra), "-> %.390s", t);
		} else if (!S_ISDIR(st.st_mode)) {
			snprintf(extra, sizeof(extra), "special %o", (unsigned)(st.st_mode & S_IFMT));
		}
		xd = xattr_desc(ap);
		snprintf(desc, sizeof(desc), "%c %04o %u:%u %s%s",
			 S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISREG(st.st_mode) ? 'f' : '?',
			 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid, extra, xd);
		free(xd);
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 64;
			l->v = realloc(l->v, l->cap * sizeof(*l->v));
			CX_CHECK(l->v);
		}
		l->v[l->n++] = (tent){ strdup(rp), strdup(desc), st.st_dev, st.st_ino,
				       S_ISREG(st.st_mode) && st.st_nlink > 1 };
		if (S_ISDIR(st.st_mode))
			twalk(root, rp, l);
	}
	closedir(d);
}

static int tent_cmp(const void *a, const void *b)
{
	return strcmp(((const tent *)a)->path, ((const tent *)b)->path);
}

/* One line per entry, sorted; hardlinks named by the group's first path. */
static char *tree_manifest(const char *root)
{
	tlist l = { 0 };
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);

	CX_CHECK(out);
	out[0] = 0;
	twalk(root, "", &l);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), tent_cmp);
	for (size_t i = 0; i < l.n; i++) {
		char line[4096];
		const char *grp = "";
		if (l.v[i].multi)
			for (size_t j = 0; j < l.n; j++)
				if (l.v[j].multi && l.v[j].ino == l.v[i].ino && l.v[j].dev == l.v[i].dev) {
					grp = l.v[j].path;
					break;
				}
		int n = snprintf(line, sizeof(line), "%s | %s%s%s\n",
				 l.v[i].path, l.v[i].desc, grp[0] ? " L:" : "", grp);
		if (len + (size_t)n + 1 > cap) {
			cap = (cap + (size_t)n) * 2;
			out = realloc(out, cap);
			CX_CHECK(out);
		}
		memcpy(out + len, line, (size_t)n + 1);
		len += (size_t)n;
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].path);
		free(l.v[i].desc);
	}
	free(l.v);
	return out;
}

/* Fails with the first differing lines. */
static void expect_manifest(const char *got, const char *want, const char *what)
{
	if (strcmp(got, want) == 0)
		return;
	fprintf(stderr, "%s: trees differ\n--- want\n%s--- got\n%s", what, want, got);
	fail_msg("%s: trees differ", what);
}

static void expect_tree(const char *root, const char *want, const char *what)
{
	char *got = tree_manifest(root);
	expect_manifest(got, want, what);
	free(got);
}

/* ---- fixture: STATE/{runs,packs}, host, outside -------------------------- */

typedef struct fx {
	char *base, *host, *state, *run_dir, *upper, *pack, *journal, *outside, *ref;
	char *trash, *locks;
	cx_ws_dirs ws; /* {trash, locks}, as calyx-exec's state dir hands them */
} fx;

static void fx_init(fx *f)
{
	memset(f, 0, sizeof(*f));
	f->base = tu_tmpdir();
	CX_CHECK(chmod(f->base, 0755) == 0);
	CX_CHECK(asprintf(&f->host, "%s/host", f->base) > 0);
	CX_CHECK(asprintf(&f->state, "%s/state", f->base) > 0);
	CX_CHECK(asprintf(&f->run_dir, "%s/state/runs/" KEY, f->base) > 0);
	CX_CHECK(asprintf(&f->upper, "%s/tree0/upper", f->run_dir) > 0);
	CX_CHECK(asprintf(&f->pack, "%s/state/packs/" KEY, f->base) > 0);
	CX_CHECK(asprintf(&f->journal, "%s/journal.json", f->run_dir) > 0);
	CX_CHECK(asprintf(&f->outside, "%s/outside", f->base) > 0);
	CX_CHECK(asprintf(&f->ref, "%s/ref", f->base) > 0);
	CX_CHECK(asprintf(&f->trash, "%s/trash", f->state) > 0);
	CX_CHECK(asprintf(&f->locks, "%s/locks", f->state) > 0);
	f->ws = (cx_ws_dirs){ .trash = f->trash, .locks = f->locks };
	mkd(f->base, "host", 0755);
	mkd(f->base, "state", 0700);
	mkd(f->state, "runs", 0700);
	mkd(f->state, "packs", 0700);
	mkd(f->state, "runs/" KEY, 0700);
	mkd(f->run_dir, "tree0", 0700);
	mkd(f->run_dir, "tree0/upper", 0755);
	mkd(f->run_dir, "tree0/work", 0700);
	mkd(f->base, "outside", 0755);
	mkfile(f->outside, "victim", "victim\n", 0644);
}

static void fx_free(fx *f)
{
	tu_rmtree(f->base);
	free(f->base);
	free(f->host);
	free(f->state);
	free(f->run_dir);
	free(f->upper);
	free(f->pack);
	free(f->journal);
	free(f->outside);
	free(f->ref);
	free(f->trash);
	free(f->locks);
}

static int fx_commit(fx *f, cx_ws_report *rep, cx_error *err)
{
	cx_ws_tree t = { .host_path = f->host, .upper = f->upper };
	return cx_ws_commit(&f->ws, &t, 1, KEY, "run-7", f->pack, f->journal, rep, err);
}

static char *outside_manifest(fx *f)
{
	return tree_manifest(f->outside);
}

static bool need_root(void)
{
	return getuid() == 0;
}

#define REQUIRE_ROOT()                                                           \
	do {                                                                     \
		if (!need_root()) {                                              \
			fprintf(stderr, "skipped: needs root (mknod, chown, trusted xattrs)\n"); \
			skip();                                                  \
		}                                                                \
	} while (0)

/* ---- the synthetic case --------------------------------------------------- */

static const char vfs_cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00 };

static void build_host(fx *f)
{
	const char *h = f->host;
	char t[PATH_MAX];

	mkfile(h, "keep.txt", "keep\n", 0644);
	mkfile(h, "change.txt", "old\n", 0644);
	mkfile(h, "same.txt", "same\n", 0644);
	mkfile(h, "gone.txt", "gone\n", 0644);
	mkd(h, "gonedir", 0755);
	mkfile(h, "gonedir/a", "a\n", 0644);
	mkd(h, "gonedir/sub", 0700);
	mkfile(h, "gonedir/sub/b", "b\n", 0600);
	mksym(h, "gonedir/sub/blink", "../a");
	mkd(h, "opq", 0755);
	mkfile(h, "opq/x", "x\n", 0644);
	mkfile(h, "opq/y", "y\n", 0644);
	mkd(h, "opq/sub", 0755);
	mkfile(h, "opq/sub/z", "z\n", 0644);
	mkd(h, "d2f", 0755);
	mkfile(h, "d2f/inner", "inner\n", 0644);
	mkfile(h, "f2d", "file\n", 0644);
	snprintf(t, sizeof(t), "%s", f->outside);
	mksym(h, "lnk", t);
	snprintf(t, sizeof(t), "%s/victim", f->outside);
	mksym(h, "lnk2", t);
	mkfile(h, "old_name", "renamed\n", 0644);
	mkd(h, "shared", 02775);
	mkfile(h, "shared/c", "c\n", 0664);
	mkfile(h, "suid_host", "bin\n", 04755);
	mkfile(h, "hlA", "host hard\n", 0644);
	mkfile(h, "xa.txt", "xa\n", 0644);
	xset(h, "xa.txt", "user.k", "v1");
}

static void build_upper(fx *f)
{
	const char *u = f->upper;
	struct stat st;

	mkfile(u, "change.txt", "new content\n", 0640);
	mkfile(u, "same.txt", "same\n", 0644);
	mkfile(u, "new.txt", "fresh\n", 0600);
	own(u, "new.txt", RUN_UID, RUN_GID);
	xset(u, "new.txt", "user.note", "hello");
	xset(u, "new.txt", "trusted.overlay.origin", "junk");
	lsetxattr(pj(u, "new.txt"), "security.capability", vfs_cap, sizeof(vfs_cap), 0);
	whiteout(u, "gone.txt");
	whiteout(u, "gonedir");
	opaque(u, "opq", 0755);
	mkfile(u, "opq/y", "new y\n", 0644);
	mkfile(u, "opq/w", "w\n", 0644);
	mkfile(u, "opq/+plus", "sorts before a temp name\n", 0644);
	mkfile(u, "d2f", "now a file\n", 0644);
	mkd(u, "f2d", 0755);
	mkfile(u, "f2d/n", "n\n", 0644);
	mkd(u, "lnk", 0755);
	mkfile(u, "lnk/evil", "evil\n", 0644);
	mkfile(u, "lnk2", "not a link\n", 0644);
	mkfile(u, "new_name", "renamed\n", 0644);
	whiteout(u, "old_name");
	mkfile(u, "hl1", "hard\n", 0644);
	own(u, "hl1", RUN_UID, RUN_GID);
	CX_CHECK(link(pj(u, "hl1"), pj(u, "hl2")) == 0);
	mkd(u, "sub", 0755);
	own(u, "sub", RUN_UID, RUN_GID);
	CX_CHECK(link(pj(u, "hl1"), pj(u, "sub/hl3")) == 0);
	mksym(u, "abs_link", "/etc/passwd");
	mkfile(u, "suid.bin", "x\n", 04755);
	own(u, "suid.bin", RUN_UID, RUN_GID);
	CX_CHECK(chmod(pj(u, "suid.bin"), 04755) == 0);
	mkd(u, "sticky", 01777);
	CX_CHECK(mkfifo(pj(u, "fifo"), 0644) == 0);
	CX_CHECK(mknod(pj(u, "sock"), S_IFSOCK | 0644, 0) == 0);
	mkd(u, "shared", 02775);
	mkfile(u, "shared/c", "changed c\n", 0664);
	mkd(u, "newsgid", 0755);
	CX_CHECK(chmod(pj(u, "newsgid"), 02755) == 0);
	own(u, "newsgid", RUN_UID, RUN_GID);
	CX_CHECK(chmod(pj(u, "newsgid"), 02755) == 0);
	mkfile(u, "newsgid/f", "f\n", 0644);
	own(u, "newsgid/f", 0, 0); /* not the gid the setgid dir passed on */
	/* copied up unchanged: left alone, keeps its setuid bit */
	mkfile(u, "suid_host", "bin\n", 04755);
	/* overlay's hardlink of a lower file: the copy-up and the new name */
	mkfile(u, "hlA", "host hard\n", 0644);
	CX_CHECK(link(pj(u, "hlA"), pj(u, "hlB")) == 0);
	mkfile(u, "xa.txt", "xa\n", 0644);
	xset(u, "xa.txt", "user.k", "v2");
	mkfile(u, "new\nline", "nl\n", 0644);
	mkfile(u, "\xff\xfe name", "bin name\n", 0644);
	CX_CHECK(lstat(pj(u, "hl1"), &st) == 0 && st.st_nlink == 3);
}

/* The host tree after the commit, made by doing the run's changes to a
 * copy of the host directly. */
static void build_reference(fx *f)
{
	const char *r = f->ref;

	copytree(f->host, r);
	mkfile(r, "change.txt", "new content\n", 0640);
	mkfile(r, "new.txt", "fresh\n", 0600);
	own(r, "new.txt", RUN_UID, RUN_GID);
	xset(r, "new.txt", "user.note", "hello");
	unlink(pj(r, "gone.txt"));
	tu_rmtree(pj(r, "gonedir"));
	unlink(pj(r, "opq/x"));
	tu_rmtree(pj(r, "opq/sub"));
	mkfile(r, "opq/y", "new y\n", 0644);
	mkfile(r, "opq/w", "w\n", 0644);
	mkfile(r, "opq/+plus", "sorts before a temp name\n", 0644);
	tu_rmtree(pj(r, "d2f"));
	mkfile(r, "d2f", "now a file\n", 0644);
	unlink(pj(r, "f2d"));
	mkd(r, "f2d", 0755);
	mkfile(r, "f2d/n", "n\n", 0644);
	unlink(pj(r, "lnk"));
	mkd(r, "lnk", 0755);
	mkfile(r, "lnk/evil", "evil\n", 0644);
	unlink(pj(r, "lnk2"));
	mkfile(r, "lnk2", "not a link\n", 0644);
	CX_CHECK(rename(pj(r, "old_name"), pj(r, "new_name")) == 0);
	mkfile(r, "hl1", "hard\n", 0644);
	own(r, "hl1", RUN_UID, RUN_GID);
	CX_CHECK(link(pj(r, "hl1"), pj(r, "hl2")) == 0);
	mkd(r, "sub", 0755);
	own(r, "sub", RUN_UID, RUN_GID);
	CX_CHECK(link(pj(r, "hl1"), pj(r, "sub/hl3")) == 0);
	mksym(r, "abs_link", "/etc/passwd");
	mkfile(r, "suid.bin", "x\n", 0755);
	own(r, "suid.bin", RUN_UID, RUN_GID);
	CX_CHECK(chmod(pj(r, "suid.bin"), 0755) == 0);
	mkd(r, "sticky", 01777);
	mkfile(r, "shared/c", "changed c\n", 0664);
	mkd(r, "newsgid", 0755);
	own(r, "newsgid", RUN_UID, RUN_GID);
	CX_CHECK(chmod(pj(r, "newsgid"), 0755) == 0);
	mkfile(r, "newsgid/f", "f\n", 0644);
	CX_CHECK(link(pj(r, "hlA"), pj(r, "hlB")) == 0);
	xset(r, "xa.txt", "user.k", "v2");
	mkfile(r, "new\nline", "nl\n", 0644);
	mkfile(r, "\xff\xfe name", "bin name\n", 0644);
}

typedef struct scase {
	fx f;
	char *before, *after, *outside;
	ino_t hlA_ino;
} scase;

static void scase_init(scase *c)
{
	struct stat st;
	fx_init(&c->f);
	build_host(&c->f);
	build_upper(&c->f);
	build_reference(&c->f);
	c->before = tree_manifest(c->f.host);
	c->after = tree_manifest(c->f.ref);
	c->outside = outside_manifest(&c->f);
	CX_CHECK(lstat(pj(c->f.host, "hlA"), &st) == 0);
	c->hlA_ino = st.st_ino;
}

static void scase_free(scase *c)
{
	fx_free(&c->f);
	free(c->before);
	free(c->after);
	free(c->outside);
}

static void expect_outside_untouched(scase *c)
{
	expect_tree(c->f.outside, c->outside, "outside dir");
}

static bool wait_empty(const char *dir, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		int n = 0;
		if (!d)
			return true;
		while ((de = readdir(d)))
			n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(d);
		if (!n)
			return true;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

/* ---- tests ------------------------------------------------------------------ */

static void commit_synthetic(void **st)
{
	scase c;
	cx_ws_report rep = { 0 };
	cx_error err = { 0 };
	struct stat sb;
	char v[64], *m;
	(void)st;
	REQUIRE_ROOT();
	scase_init(&c);
	int r = fx_commit(&c.f, &rep, &err);
	if (r < 0)
		fail_msg("commit: %s", err.msg);
	expect_tree(c.f.host, c.after, "committed host");
	expect_outside_untouched(&c);
	/* overlay's own xattrs and file capabilities never land */
	assert_true(lgetxattr(pj(c.f.host, "new.txt"), "trusted.overlay.origin", v, sizeof(v)) < 0);
	assert_true(lgetxattr(pj(c.f.host, "new.txt"), "security.capability", v, sizeof(v)) < 0);
	/* setuid kept where the run did not change the file; sgid dir kept */
	assert_int_equal(lstat(pj(c.f.host, "suid_host"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 04755);
	assert_int_equal(lstat(pj(c.f.host, "hlA"), &sb), 0);
	assert_int_equal(sb.st_ino, c.hlA_ino);
	assert_int_equal(sb.st_nlink, 2);
	assert_int_equal(lstat(pj(c.f.host, "shared"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 02775);
	/* FIFO and socket skipped */
	assert_int_equal(rep.skipped, 2);
	assert_false(exists(pj(c.f.host, "fifo")));
	/* report and pack */
	assert_true(rep.added > 10 && rep.changed >= 4 && rep.deleted >= 10);
	assert_int_equal(strlen(rep.manifest_sha256), 64);
	m = slurp(pj(c.f.pack, "manifest.json"));
	assert_non_null(m);
	{
		char hex[65];
		cx_sha256_hex(m, strlen(m), hex);
		assert_string_equal(hex, rep.manifest_sha256);
	}
	assert_non_null(strstr(m, "\"path\":\"change.txt\",\"op\":\"changed\""));
	assert_non_null(strstr(m, "\"path\":\"new\\nline\""));
	assert_non_null(strstr(m, "\"path_b64\":"));
	assert_null(strstr(m, "\"path\":\"same.txt\""));
	free(m);
	assert_true(exists(pj(c.f.pack, "committed")));
	/* upper gone (trash), journal done; discard takes the rest */
	assert_false(exists(pj(c.f.run_dir, "tree0")));
	m = slurp(c.f.journal);
	assert_non_null(m);
	assert_non_null(strstr(m, "\"state\": \"done\""));
	free(m);
	assert_int_equal(cx_ws_discard(&c.f.ws, c.f.run_dir, &err), 0);
	assert_false(exists(c.f.run_dir));
	scase_free(&c);
}

static void commit_refuses_device(void **st)
{
	fx f;
	cx_error err = { 0 };
	char *before;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkfile(f.host, "a", "a\n", 0644);
	before = tree_manifest(f.host);
	mkfile(f.upper, "a", "changed\n", 0644);
	CX_CHECK(mknod(pj(f.upper, "null"), S_IFCHR | 0666, makedev(1, 3)) == 0);
	assert_true(fx_commit(&f, NULL, &err) < 0);
	assert_int_equal(err.reason, CX_E_WORKSPACE);
	assert_non_null(strstr(err.msg, "device node"));
	expect_tree(f.host, before, "host after a refused commit");
	assert_false(exists(f.pack));
	assert_false(exists(f.journal));
	free(before);
	fx_free(&f);
}

static void commit_refuses_deep(void **st)
{
	fx f;
	cx_error err = { 0 };
	char *p;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	p = strdup(f.upper);
	for (int i = 0; i < 300; i++) {
		char *q;
		CX_CHECK(asprintf(&q, "%s/d", p) > 0);
		CX_CHECK(mkdir(q, 0755) == 0);
		free(p);
		p = q;
	}
	free(p);
	assert_true(fx_commit(&f, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "deeper than 256"));
	assert_false(exists(pj(f.host, "d")));
	assert_false(exists(f.journal));
	/* a deep upper is still discarded completely (background delete,
	 * which moves subtrees up past 64 levels) */
	assert_int_equal(cx_ws_discard(&f.ws, f.run_dir, &err), 0);
	assert_false(exists(f.run_dir));
	assert_true(wait_empty(pj(f.state, "trash"), 10000));
	fx_free(&f);
}

static void commit_refuses_host_special(void **st)
{
	fx f;
	cx_error err = { 0 };
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkd(f.host, "d", 0755);
	CX_CHECK(mkfifo(pj(f.host, "d/pipe"), 0644) == 0);
	whiteout(f.upper, "d");
	assert_true(fx_commit(&f, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "special files"));
	assert_true(exists(pj(f.host, "d/pipe")));
	fx_free(&f);
}

static void skip_equal_and_xattr_change(void **st)
{
	fx f;
	cx_error err = { 0 };
	cx_ws_report rep = { 0 };
	struct stat a, b;
	char v[16];
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkfile(f.host, "same", "same\n", 0644);
	mkfile(f.host, "x", "x\n", 0644);
	mkd(f.host, "dir", 0755);
	mkfile(f.host, "dir/k", "k\n", 0644);
	CX_CHECK(lstat(pj(f.host, "same"), &a) == 0);
	mkfile(f.upper, "same", "same\n", 0644);
	mkfile(f.upper, "x", "x\n", 0644);
	xset(f.upper, "x", "user.tag", "T");
	mkd(f.upper, "dir", 0755); /* copied up, unchanged */
	assert_int_equal(fx_commit(&f, &rep, &err), 0);
	CX_CHECK(lstat(pj(f.host, "same"), &b) == 0);
	assert_int_equal(a.st_ino, b.st_ino); /* not rewritten */
	assert_int_equal(rep.added, 0);
	assert_int_equal(rep.changed, 1);
	assert_int_equal(rep.deleted, 0);
	assert_int_equal(lgetxattr(pj(f.host, "x"), "user.tag", v, sizeof(v)), 1);
	fx_free(&f);
}


/* The tree at host_path was renamed away and another dir (or a symlink)
 * put in its place during the run: the commit does not write into it. */
static void commit_refuses_replaced_tree(void **st)
{
	fx f;
	cx_error err = { 0 };
	struct stat sb;
	cx_ws_tree t;
	char *moved, *empty;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkfile(f.host, "a", "a\n", 0644);
	mkfile(f.upper, "a", "changed\n", 0644);
	whiteout(f.upper, "b");
	CX_CHECK(stat(f.host, &sb) == 0);
	t = (cx_ws_tree){ .host_path = f.host, .upper = f.upper, .dev = sb.st_dev, .ino = sb.st_ino };
	CX_CHECK(asprintf(&moved, "%s.moved", f.host) > 0);
	CX_CHECK(rename(f.host, moved) == 0);
	mkd(f.base, "host", 0755);
	mkfile(f.host, "b", "someone else's\n", 0600);
	empty = tree_manifest(f.host);
	assert_true(cx_ws_commit(&f.ws, &t, 1, KEY, "run-7", f.pack, f.journal, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "no longer the directory the run started on"));
	expect_tree(f.host, empty, "the replacement dir");
	/* a symlink in its place: refused, named as such */
	tu_rmtree(f.host);
	CX_CHECK(symlink(moved, f.host) == 0);
	t.dev = t.ino = 0;
	assert_true(cx_ws_commit(&f.ws, &t, 1, KEY, "run-7", f.pack, f.journal, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "its path holds a symlink"));
	free(empty);
	free(moved);
	fx_free(&f);
}

/* After a crash, recovery and undo touch a tree only if it is still the
 * directory the commit was made on. */
static void recover_and_undo_check_tree_identity(void **st)
{
	scase c;
	cx_error err = { 0 };
	const char *action = "?";
	char *moved, *other;
	pid_t pid;
	int wst;
	(void)st;
	REQUIRE_ROOT();
	if (!HAVE_FAULTS) {
		fprintf(stderr, "skipped: needs the fault-injection build of the workspace\n");
		skip();
	}
	scase_init(&c);
	CX_CHECK(asprintf(&moved, "%s.moved", c.f.host) > 0);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		setenv("CALYX_FAULT_STEP", "mid_apply", 1);
		_exit(fx_commit(&c.f, NULL, &err) < 0 ? 3 : 0);
	}
	CX_CHECK(waitpid(pid, &wst, 0) == pid && WIFSIGNALED(wst));
	CX_CHECK(rename(c.f.host, moved) == 0);
	mkd(c.f.base, "host", 0755);
	other = tree_manifest(c.f.host);
	assert_true(cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0);
	assert_non_null(strstr(err.msg, "no longer the directory the commit was made on"));
	expect_tree(c.f.host, other, "another dir at the tree's path");
	/* the upper is gone too: a roll back must not touch the stranger */
	CX_CHECK(rename(c.f.upper, pj(c.f.base, "upper.aside")) == 0);
	assert_true(cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0);
	expect_tree(c.f.host, other, "another dir at the tree's path (roll back)");
	CX_CHECK(rename(pj(c.f.base, "upper.aside"), c.f.upper) == 0);
	/* the real tree back: recovery finishes the commit */
	CX_CHECK(rmdir(c.f.host) == 0 && rename(moved, c.f.host) == 0);
	if (cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0)
		fail_msg("recover: %s", err.msg);
	assert_string_equal(action, "rolled_forward");
	expect_tree(c.f.host, c.after, "after recovery");
	/* undo into a replaced tree: refused unless forced */
	CX_CHECK(rename(c.f.host, moved) == 0);
	copytree(moved, c.f.host);
	assert_true(cx_ws_undo(&c.f.ws, c.f.pack, false, &err) < 0);
	assert_non_null(strstr(err.msg, "undo refused"));
	expect_tree(c.f.host, c.after, "copy of the tree after a refused undo");
	if (cx_ws_undo(&c.f.ws, c.f.pack, true, &err) < 0)
		fail_msg("undo --force: %s", err.msg);
	expect_tree(c.f.host, c.before, "copy of the tree after a forced undo");
	tu_rmtree(moved);
	free(moved);
	free(other);
	scase_free(&c);
}

/* ---- undo -------------------------------------------------------------------- */

static void undo_roundtrip(void **st)
{
	scase c;
	cx_error err = { 0 };
	(void)st;
	REQUIRE_ROOT();
	scase_init(&c);
	if (fx_commit(&c.f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	expect_tree(c.f.host, c.after, "committed");
	if (cx_ws_undo(&c.f.ws, c.f.pack, false, &err) < 0)
		fail_msg("undo: %s", err.msg);
	expect_tree(c.f.host, c.before, "after undo");
	expect_outside_untouched(&c);
	assert_true(exists(pj(c.f.pack, "undone")));
	/* twice: refused */
	assert_true(cx_ws_undo(&c.f.ws, c.f.pack, true, &err) < 0);
	assert_non_null(strstr(err.msg, "already undone"));
	scase_free(&c);
}

static void undo_refuses_changed_then_force(void **st)
{
	scase c;
	cx_error err = { 0 };
	(void)st;
	REQUIRE_ROOT();
	scase_init(&c);
	if (fx_commit(&c.f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	mkfile(c.f.host, "change.txt", "edited after the run\n", 0640);
	assert_true(cx_ws_undo(&c.f.ws, c.f.pack, false, &err) < 0);
	assert_int_equal(err.reason, CX_E_WORKSPACE);
	assert_non_null(strstr(err.msg, "'change.txt' (content changed)"));
	assert_non_null(strstr(err.msg, "1 path changed"));
	/* refused: nothing restored */
	assert_false(exists(pj(c.f.host, "gone.txt")));
	if (cx_ws_undo(&c.f.ws, c.f.pack, true, &err) < 0)
		fail_msg("undo --force: %s", err.msg);
	expect_tree(c.f.host, c.before, "after forced undo");
	scase_free(&c);
}

/* A commit that replaced a dir with a symlink undoes without --force
 * when nothing changed since: what lay in the dir was deleted by the same
 * commit, so the path crossing the symlink is expected. */
static void undo_dir_replaced_by_symlink(void **st)
{
	fx f;
	cx_error err = { 0 };
	char *before, *out_before;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkd(f.host, "d", 0755);
	mkfile(f.host, "d/x", "x\n", 0644);
	mkd(f.host, "d/sub", 0755);
	mkfile(f.host, "d/sub/y", "y\n", 0644);
	mkfile(f.host, "keep", "keep\n", 0644);
	mksym(f.upper, "d", f.outside);
	before = tree_manifest(f.host);
	out_before = tree_manifest(f.outside);
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
		fail_msg("undo: %s", err.msg);
	expect_tree(f.host, before, "after undo");
	expect_tree(f.outside, out_before, "outside after undo");
	free(before);
	free(out_before);
	/* changed since: the symlink points elsewhere now */
	fx_free(&f);
	fx_init(&f);
	mkd(f.host, "d", 0755);
	mkfile(f.host, "d/x", "x\n", 0644);
	mksym(f.upper, "d", f.outside);
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	CX_CHECK(unlink(pj(f.host, "d")) == 0);
	mksym(f.host, "d", "/");
	assert_true(cx_ws_undo(&f.ws, f.pack, false, &err) < 0);
	assert_non_null(strstr(err.msg, "'d' (link target changed)"));
	fx_free(&f);
}

/* chattr +a / +i on what a commit must replace or remove: refused before
 * anything is written (no temp file left, no pack); an undo that could
 * not restore is refused likewise, forced or not. */
static int set_flags(const char *p, int add, int del)
{
	int fd = open(p, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC), fl = 0, r = -1;
	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0) {
		fl = (fl | add) & ~del;
		r = ioctl(fd, FS_IOC_SETFLAGS, &fl);
	}
	close(fd);
	return r;
}

static void commit_refuses_append_only(void **st)
{
	fx f;
	cx_error err = { 0 };
	char *before, *now;
	int r, r2;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkd(f.host, "logs", 0755);
	mkfile(f.host, "logs/old", "old\n", 0644);
	mkfile(f.host, "imm.txt", "imm\n", 0644);
	if (set_flags(pj(f.host, "logs"), FS_APPEND_FL, 0) < 0) {
		fx_free(&f);
		fprintf(stderr, "skipped: chattr +a unsupported on the test dir's file system\n");
		skip();
	}
	before = tree_manifest(f.host);
	/* a file added to, one changed in an append-only dir */
	mkd(f.upper, "logs", 0755);
	mkfile(f.upper, "logs/new", "new\n", 0644);
	mkfile(f.upper, "logs/old", "changed\n", 0644);
	r = fx_commit(&f, NULL, &err);
	now = tree_manifest(f.host);
	r2 = exists(f.pack);
	set_flags(pj(f.host, "logs"), 0, FS_APPEND_FL);
	assert_true(r < 0);
	expect_manifest(now, before, "host after a refused commit");
	assert_false(r2);
	assert_int_equal(err.reason, CX_E_WORKSPACE);
	assert_non_null(strstr(err.msg, "/logs' is append-only or immutable"));
	free(now);
	/* an immutable file the run changed */
	tu_rmtree(f.upper);
	mkd(f.run_dir, "tree0/upper", 0755);
	mkfile(f.upper, "imm.txt", "changed\n", 0644);
	CX_CHECK(set_flags(pj(f.host, "imm.txt"), FS_IMMUTABLE_FL, 0) == 0);
	r = fx_commit(&f, NULL, &err);
	now = tree_manifest(f.host);
	set_flags(pj(f.host, "imm.txt"), 0, FS_IMMUTABLE_FL);
	assert_true(r < 0);
	expect_manifest(now, before, "host after a refused commit (immutable file)");
	assert_non_null(strstr(err.msg, "/imm.txt' is append-only or immutable"));
	free(now);
	/* committed, then the dir made append-only: undo refused, forced or not */
	tu_rmtree(f.upper);
	mkd(f.run_dir, "tree0/upper", 0755);
	mkd(f.upper, "logs", 0755);
	mkfile(f.upper, "logs/new", "new\n", 0644);
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	free(before);
	before = tree_manifest(f.host);
	CX_CHECK(set_flags(pj(f.host, "logs"), FS_APPEND_FL, 0) == 0);
	r = cx_ws_undo(&f.ws, f.pack, false, &err);
	r2 = cx_ws_undo(&f.ws, f.pack, true, &err);
	now = tree_manifest(f.host);
	set_flags(pj(f.host, "logs"), 0, FS_APPEND_FL);
	assert_true(r < 0 && r2 < 0);
	assert_non_null(strstr(err.msg, "undo refused"));
	assert_non_null(strstr(err.msg, "is append-only or immutable"));
	expect_manifest(now, before, "host after a refused undo");
	if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
		fail_msg("undo: %s", err.msg);
	assert_false(exists(pj(f.host, "logs/new")));
	free(now);
	free(before);
	fx_free(&f);
}

/* Pre-image xattrs whose names are not UTF-8 go into the manifest (as
 * base64) and come back on undo. */
static void undo_restores_non_utf8_xattr_names(void **st)
{
	fx f;
	cx_error err = { 0 };
	char *before, *m, v[16];
	ssize_t n;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkfile(f.host, "x.txt", "x\n", 0644);
	xset(f.host, "x.txt", "user.\xff\xfe", "bin");
	xset(f.host, "x.txt", "user.plain", "txt");
	mkfile(f.upper, "x.txt", "changed\n", 0644);
	before = tree_manifest(f.host);
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	m = slurp(pj(f.pack, "manifest.json"));
	assert_non_null(m);
	assert_non_null(strstr(m, "\"xattrs_before_b64\":{\"dXNlci7//g==\":\"Ymlu\"}"));
	assert_non_null(strstr(m, "\"xattrs_before\":{\"user.plain\":\"dHh0\"}"));
	free(m);
	if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
		fail_msg("undo: %s", err.msg);
	n = lgetxattr(pj(f.host, "x.txt"), "user.\xff\xfe", v, sizeof(v));
	assert_int_equal(n, 3);
	assert_memory_equal(v, "bin", 3);
	expect_tree(f.host, before, "after undo");
	free(before);
	fx_free(&f);
}

static void undo_lists_ten_then_count(void **st)
{
	fx f;
	cx_error err = { 0 };
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	for (int i = 0; i < 13; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%02d", i);
		mkfile(f.upper, n, "new\n", 0644);
	}
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	for (int i = 0; i < 13; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%02d", i);
		unlink(pj(f.host, n));
	}
	assert_true(cx_ws_undo(&f.ws, f.pack, false, &err) < 0);
	assert_non_null(strstr(err.msg, "13 paths changed"));
	assert_non_null(strstr(err.msg, "'f00' (missing)"));
	assert_non_null(strstr(err.msg, "and 3 more"));
	assert_null(strstr(err.msg, "'f12'"));
	fx_free(&f);
}

static void diff_prints_stat(void **st)
{
	scase c;
	cx_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	(void)st;
	REQUIRE_ROOT();
	scase_init(&c);
	if (fx_commit(&c.f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	out = open_memstream(&buf, &len);
	assert_int_equal(cx_ws_diff(c.f.pack, out, &err), 0);
	fclose(out);
	assert_non_null(strstr(buf, "run run-7 (lease " KEY "), committed"));
	assert_non_null(strstr(buf, " M change.txt "));
	assert_non_null(strstr(buf, "| 4 B -> 12 B"));
	assert_non_null(strstr(buf, " A \"new\\nline\""));
	assert_non_null(strstr(buf, " A \"\\377\\376 name\""));
	assert_non_null(strstr(buf, " D gonedir/ "));
	assert_non_null(strstr(buf, " A abs_link "));
	assert_non_null(strstr(buf, "deleted"));
	free(buf);
	scase_free(&c);
}

/* ---- discard, recover, lock ----------------------------------------------- */

static void discard_leaves_host(void **st)
{
	scase c;
	cx_error err = { 0 };
	(void)st;
	REQUIRE_ROOT();
	scase_init(&c);
	assert_int_equal(cx_ws_discard(&c.f.ws, c.f.run_dir, &err), 0);
	assert_false(exists(c.f.run_dir));
	expect_tree(c.f.host, c.before, "host after discard");
	assert_true(wait_empty(pj(c.f.state, "trash"), 10000));
	/* missing run dir: nothing to do */
	assert_int_equal(cx_ws_discard(&c.f.ws, c.f.run_dir, &err), 0);
	scase_free(&c);
}

static void discard_refuses_unfinished(void **st)
{
	fx f;
	cx_error err = { 0 };
	char j[1024];
	(void)st;
	fx_init(&f);
	snprintf(j, sizeof(j),
		 "{\"v\":1,\"state\":\"applying\",\"run_key\":\"" KEY "\",\"run_id\":\"r\","
		 "\"tag\":\"0011223344556677\",\"pack_dir\":\"%s\",\"trees\":[{\"path\":\"%s\","
		 "\"upper\":\"%s\"}]}",
		 f.pack, f.host, f.upper);
	free(tu_write(f.run_dir, "journal.json", j, strlen(j), 0600));
	assert_true(cx_ws_discard(&f.ws, f.run_dir, &err) < 0);
	assert_non_null(strstr(err.msg, "unfinished commit"));
	assert_true(exists(f.upper));
	fx_free(&f);
}

static void recover_without_journal(void **st)
{
	fx f;
	cx_error err = { 0 };
	const char *action = NULL;
	(void)st;
	fx_init(&f);
	assert_int_equal(cx_ws_recover(&f.ws, f.journal, &action, &err), 0);
	assert_string_equal(action, "none");
	fx_free(&f);
}

static void lock_excludes(void **st)
{
	fx f;
	cx_error err = { 0 };
	int a = -1, b = -1;
	(void)st;
	fx_init(&f);
	assert_int_equal(cx_ws_lock(&f.ws, "/srv/app", false, &a, &err), 0);
	assert_true(cx_ws_lock(&f.ws, "/srv/app", false, &b, &err) < 0);
	assert_int_equal(err.reason, CX_E_WORKSPACE);
	assert_string_equal(err.msg,
			    "workspace '/srv/app' is in use by another run (retry when it ends)");
	assert_int_equal(cx_ws_lock(&f.ws, "/srv/other", false, &b, &err), 0);
	close(b);
	close(a);
	assert_int_equal(cx_ws_lock(&f.ws, "/srv/app", false, &b, &err), 0);
	close(b);
	fx_free(&f);
}

/* Trees that overlap (one inside the other, after normalizing the path)
 * are never held at once; a sibling whose name shares a prefix is not in
 * the way. */
static void lock_overlap_refused(void **st)
{
	fx f;
	cx_error err = { 0 };
	int a = -1, b = -1;
	char sub[PATH_MAX], sib[PATH_MAX], odd[PATH_MAX];
	(void)st;
	fx_init(&f);
	mkd(f.host, "sub", 0755);
	snprintf(sub, sizeof(sub), "%s/sub", f.host);
	snprintf(sib, sizeof(sib), "%s-sibling", f.host);
	snprintf(odd, sizeof(odd), "%s/sub/.././/", f.host);
	assert_int_equal(cx_ws_lock(&f.ws, f.host, false, &a, &err), 0);
	/* a descendant */
	assert_true(cx_ws_lock(&f.ws, sub, false, &b, &err) < 0);
	assert_int_equal(err.reason, CX_E_WORKSPACE);
	assert_non_null(strstr(err.msg, "is in use by another run"));
	assert_non_null(strstr(err.msg, "it overlaps '"));
	/* the same tree spelled otherwise */
	assert_true(cx_ws_lock(&f.ws, odd, false, &b, &err) < 0);
	assert_non_null(strstr(err.msg, "is in use by another run"));
	/* a path below it that does not exist (yet) */
	assert_true(cx_ws_lock(&f.ws, pj(sub, "not/yet"), false, &b, &err) < 0);
	/* not in the way: a sibling sharing the name's prefix */
	assert_int_equal(cx_ws_lock(&f.ws, sib, false, &b, &err), 0);
	close(b);
	close(a);
	/* an ancestor */
	assert_int_equal(cx_ws_lock(&f.ws, sub, false, &a, &err), 0);
	assert_true(cx_ws_lock(&f.ws, f.base, false, &b, &err) < 0);
	assert_non_null(strstr(err.msg, "it overlaps '"));
	assert_true(cx_ws_lock(&f.ws, "/", false, &b, &err) < 0);
	close(a);
	assert_int_equal(cx_ws_lock(&f.ws, f.base, false, &b, &err), 0);
	close(b);
	fx_free(&f);
}

/* A holder that died (killed, never released) is not in the way. */
static void lock_dead_holder_cleared(void **st)
{
	fx f;
	cx_error err = { 0 };
	int a = -1, wst;
	pid_t pid;
	(void)st;
	fx_init(&f);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		int fd;
		_exit(cx_ws_lock(&f.ws, f.host, false, &fd, NULL) == 0 ? (raise(SIGKILL), 0) : 3);
	}
	CX_CHECK(waitpid(pid, &wst, 0) == pid);
	assert_true(WIFSIGNALED(wst));
	assert_int_equal(cx_ws_lock(&f.ws, pj(f.host, "sub"), false, &a, &err), 0);
	close(a);
	fx_free(&f);
}

/* "wait": the overlapping run's end is waited for (not refused), and
 * the lock is granted only after that holder released it. */
static void lock_wait_for_overlap(void **st)
{
	fx f;
	cx_error err = { 0 };
	int p[2], a = -1, wst;
	char c, *marker;
	pid_t pid;
	(void)st;
	fx_init(&f);
	marker = pj(f.base, "released");
	CX_CHECK(pipe(p) == 0);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		int fd, mk;
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		close(p[0]);
		if (cx_ws_lock(&f.ws, pj(f.host, "sub"), false, &fd, NULL) < 0)
			_exit(3);
		if (write(p[1], "l", 1) != 1)
			_exit(4);
		nanosleep(&ts, NULL);
		mk = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		close(mk);
		close(fd);
		_exit(mk >= 0 ? 0 : 5);
	}
	close(p[1]);
	CX_CHECK(read(p[0], &c, 1) == 1);
	close(p[0]);
	assert_true(cx_ws_lock(&f.ws, f.host, false, &a, &err) < 0);
	if (cx_ws_lock(&f.ws, f.host, true, &a, &err) < 0)
		fail_msg("wait: %s", err.msg);
	assert_true(exists(marker));
	close(a);
	CX_CHECK(waitpid(pid, &wst, 0) == pid);
	assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	fx_free(&f);
}

/* One directory reached by two paths (a bind mount): the trees overlap
 * although their paths do not. In a private mount namespace. */
static void lock_bind_mount_overlap(void **st)
{
	fx f;
	char alias[PATH_MAX];
	int wst;
	pid_t pid;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	mkd(f.host, "sub", 0755);
	mkd(f.base, "alias", 0755);
	snprintf(alias, sizeof(alias), "%s/alias", f.base);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		cx_error e = { 0 };
		int a, b;
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(f.host, alias, NULL, MS_BIND, NULL) < 0)
			_exit(77);
		if (cx_ws_lock(&f.ws, pj(f.host, "sub"), false, &a, &e) < 0)
			_exit(3);
		/* the bind of its ancestor, and the same dir by the alias */
		if (cx_ws_lock(&f.ws, alias, false, &b, &e) == 0)
			_exit(4);
		if (cx_ws_lock(&f.ws, pj(alias, "sub"), false, &b, &e) == 0)
			_exit(5);
		_exit(0);
	}
	CX_CHECK(waitpid(pid, &wst, 0) == pid && WIFEXITED(wst));
	fx_free(&f);
	if (WEXITSTATUS(wst) == 77) {
		fprintf(stderr, "skipped: no private mount namespace for a bind mount\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(wst), 0);
}

/* A set is taken at once; its own trees may overlap each other. */
static void lock_set_at_once(void **st)
{
	fx f;
	cx_error err = { 0 };
	int a = -1, b = -1;
	char sub[PATH_MAX], other[PATH_MAX];
	(void)st;
	fx_init(&f);
	snprintf(sub, sizeof(sub), "%s/sub", f.host);
	snprintf(other, sizeof(other), "%s/other", f.base);
	const char *set[] = { f.host, sub, other };
	assert_int_equal(cx_ws_lock_trees(&f.ws, set, 3, false, &a, &err), 0);
	assert_true(cx_ws_lock(&f.ws, pj(other, "x"), false, &b, &err) < 0);
	close(a);
	assert_int_equal(cx_ws_lock(&f.ws, pj(other, "x"), false, &b, &err), 0);
	/* one tree of the set busy: none of it is taken */
	assert_true(cx_ws_lock_trees(&f.ws, set, 3, false, &a, &err) < 0);
	assert_int_equal(cx_ws_lock(&f.ws, f.host, false, &a, &err), 0);
	close(a);
	close(b);
	fx_free(&f);
}

/* ---- symlink attacks --------------------------------------------------------- */

static void symlink_in_host_not_followed(void **st)
{
	fx f;
	cx_error err = { 0 };
	char t[PATH_MAX], *out_before;
	struct stat sb;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	/* host: etc -> outside dir; deep -> outside dir (a dir path through it) */
	mksym(f.host, "etc", f.outside);
	mksym(f.host, "deep", f.outside);
	snprintf(t, sizeof(t), "%s/victim", f.outside);
	mksym(f.host, "victim", t);
	out_before = tree_manifest(f.outside);
	mkd(f.upper, "etc", 0755);
	mkfile(f.upper, "etc/passwd", "pwned\n", 0644);
	mkd(f.upper, "deep", 0755);
	mkd(f.upper, "deep/a", 0755);
	mkfile(f.upper, "deep/a/b", "b\n", 0644);
	mkfile(f.upper, "victim", "overwrite?\n", 0644);
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	expect_tree(f.outside, out_before, "outside");
	assert_int_equal(lstat(pj(f.host, "etc"), &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(lstat(pj(f.host, "victim"), &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	/* undo brings the symlinks back, as links */
	if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
		fail_msg("undo: %s", err.msg);
	assert_int_equal(lstat(pj(f.host, "etc"), &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	expect_tree(f.outside, out_before, "outside after undo");
	free(out_before);
	fx_free(&f);
}

static const char *race_step;
static fx *race_fx;

static void race_hook(const char *step)
{
	if (!race_step || strcmp(step, race_step) != 0)
		return;
	/* the host's dir becomes a symlink to outside, the file too */
	CX_CHECK(rename(pj(race_fx->host, "d"), pj(race_fx->host, "d.real")) == 0);
	CX_CHECK(symlink(race_fx->outside, pj(race_fx->host, "d")) == 0);
	CX_CHECK(rename(pj(race_fx->host, "t"), pj(race_fx->host, "t.real")) == 0);
	CX_CHECK(symlink(pj(race_fx->outside, "victim"), pj(race_fx->host, "t")) == 0);
}

static void race_setup(fx *f)
{
	fx_init(f);
	mkd(f->host, "d", 0755);
	mkfile(f->host, "d/f", "orig\n", 0644);
	mkfile(f->host, "t", "t\n", 0644);
	mkd(f->upper, "d", 0755);
	mkfile(f->upper, "d/f", "new\n", 0644);
	mkfile(f->upper, "d/victim", "planted\n", 0644);
	mkfile(f->upper, "t", "new t\n", 0644);
}

static void unrace(fx *f)
{
	CX_CHECK(unlink(pj(f->host, "d")) == 0 && rename(pj(f->host, "d.real"), pj(f->host, "d")) == 0);
	CX_CHECK(unlink(pj(f->host, "t")) == 0 && rename(pj(f->host, "t.real"), pj(f->host, "t")) == 0);
}

static void symlink_swapped_after_scan(void **st)
{
	fx f;
	cx_error err = { 0 };
	char *out_before, *host_before;
	const char *action;
	(void)st;
	REQUIRE_ROOT();
	if (!HAVE_FAULTS) {
		fprintf(stderr, "skipped: needs the fault-injection build of the workspace\n");
		skip();
	}
	/* swapped between scan and pack: the pack refuses, nothing applied */
	race_setup(&f);
	host_before = tree_manifest(f.host);
	out_before = tree_manifest(f.outside);
	race_fx = &f;
	race_step = "after_scan";
	cx_ws_fault_hook = race_hook;
	assert_true(fx_commit(&f, NULL, &err) < 0);
	cx_ws_fault_hook = NULL;
	if (!strstr(err.msg, "symlink"))
		fail_msg("unexpected error: %s", err.msg);
	expect_tree(f.outside, out_before, "outside (swap after scan)");
	assert_false(exists(f.journal));
	unrace(&f);
	expect_tree(f.host, host_before, "host (swap after scan)");
	free(out_before);
	free(host_before);
	fx_free(&f);

	/* swapped after the journal (before apply) or between the renames:
	 * the symlinks are replaced, never followed; outside stays as it was,
	 * and undo restores the pre-images in the tree, not through links */
	static const char *const steps[] = { "after_applying_journal", "mid_apply" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(steps); i++) {
		struct stat sb;
		char *c;
		race_setup(&f);
		out_before = tree_manifest(f.outside);
		race_fx = &f;
		race_step = steps[i];
		cx_ws_fault_hook = race_hook;
		if (fx_commit(&f, NULL, &err) < 0)
			fail_msg("%s: commit: %s", steps[i], err.msg);
		cx_ws_fault_hook = NULL;
		expect_tree(f.outside, out_before, steps[i]);
		assert_int_equal(lstat(pj(f.host, "t"), &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		c = slurp(pj(f.host, "t"));
		assert_string_equal(c, "new t\n");
		free(c);
		assert_string_equal((c = slurp(pj(f.host, "t.real"))), "t\n");
		free(c);
		assert_int_equal(lstat(pj(f.host, "d"), &sb), 0);
		if (i == 1) {
			/* swapped after d's files landed: they are in d.real; undo
			 * will not go through the symlink */
			assert_true(S_ISLNK(sb.st_mode));
			assert_string_equal((c = slurp(pj(f.host, "d.real/f"))), "new\n");
			free(c);
			assert_true(cx_ws_undo(&f.ws, f.pack, false, &err) < 0);
			assert_non_null(strstr(err.msg, "'d/f' (a symlink or mount point is in its path)"));
			assert_true(cx_ws_undo(&f.ws, f.pack, true, &err) < 0);
			expect_tree(f.outside, out_before, steps[i]);
			assert_string_equal((c = slurp(pj(f.host, "t"))), "t\n");
			free(c);
			free(out_before);
			fx_free(&f);
			continue;
		}
		assert_true(S_ISDIR(sb.st_mode));
		if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
			fail_msg("%s: undo: %s", steps[i], err.msg);
		expect_tree(f.outside, out_before, steps[i]);
		assert_string_equal((c = slurp(pj(f.host, "t"))), "t\n");
		free(c);
		free(out_before);
		fx_free(&f);
	}
	(void)action;
}

/* ---- crashes ------------------------------------------------------------------ */

typedef struct crash_case {
	const char *step;
	bool remove_upper;   /* the upper is lost before recovery */
	const char *action;  /* what recovery reports */
	bool committed;      /* host ends committed (else original) */
} crash_case;

static void crash_one(const crash_case *cc)
{
	scase c;
	cx_error err = { 0 };
	const char *action = "?";
	pid_t pid;
	int wst;

	scase_init(&c);
	cx_ws_fault_hook = NULL;
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		setenv("CALYX_FAULT_STEP", cc->step, 1);
		_exit(fx_commit(&c.f, NULL, &err) < 0 ? 3 : 0);
	}
	CX_CHECK(waitpid(pid, &wst, 0) == pid);
	if (!WIFSIGNALED(wst) || WTERMSIG(wst) != SIGKILL)
		fail_msg("step %s: the commit was not killed (status %d)", cc->step, wst);
	if (cc->remove_upper)
		tu_rmtree(c.f.upper);
	if (cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0)
		fail_msg("step %s: recover: %s", cc->step, err.msg);
	if (strcmp(action, cc->action) != 0)
		fail_msg("step %s: recovery did '%s', expected '%s'", cc->step, action, cc->action);
	expect_tree(c.f.host, cc->committed ? c.after : c.before, cc->step);
	expect_outside_untouched(&c);
	if (cc->committed) {
		assert_true(exists(pj(c.f.pack, "committed")));
		assert_false(exists(c.f.upper));
		/* and it can still be undone */
		if (cx_ws_undo(&c.f.ws, c.f.pack, false, &err) < 0)
			fail_msg("step %s: undo: %s", cc->step, err.msg);
		expect_tree(c.f.host, c.before, cc->step);
	} else {
		assert_false(exists(pj(c.f.pack, "committed")));
	}
	/* a second recovery finds nothing left to do but cleaning */
	if (cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0)
		fail_msg("step %s: second recover: %s", cc->step, err.msg);
	assert_int_equal(cx_ws_discard(&c.f.ws, c.f.run_dir, &err), 0);
	scase_free(&c);
}

static void crash_at_each_step(void **st)
{
	static const crash_case cases[] = {
		{ "after_scan", false, "none", false },
		{ "after_pack", false, "none", false },
		{ "after_packed_journal", false, "rolled_forward", true },
		{ "after_applying_journal", false, "rolled_forward", true },
		{ "after_temps", false, "rolled_forward", true },
		{ "mid_apply", false, "rolled_forward", true },
		{ "after_apply", false, "rolled_forward", true },
		{ "before_done", false, "rolled_forward", true },
		{ "after_done", false, "cleaned", true },
		/* the upper lost: back to the pre-run tree from the pack */
		{ "after_packed_journal", true, "rolled_back", false },
		{ "after_applying_journal", true, "rolled_back", false },
		{ "after_temps", true, "rolled_back", false },
		{ "mid_apply", true, "rolled_back", false },
		{ "after_apply", true, "rolled_back", false },
	};
	(void)st;
	REQUIRE_ROOT();
	if (!HAVE_FAULTS) {
		fprintf(stderr, "skipped: needs the fault-injection build of the workspace (CALYX_FAULT_INJECTION)\n");
		skip();
	}
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++)
		crash_one(&cases[i]);
}

/* A crash while rolling back: the next recovery rolls back again. */
static void crash_during_rollback(void **st)
{
	scase c;
	cx_error err = { 0 };
	const char *action = "?";
	pid_t pid;
	int wst;
	(void)st;
	REQUIRE_ROOT();
	if (!HAVE_FAULTS) {
		fprintf(stderr, "skipped: needs the fault-injection build of the workspace\n");
		skip();
	}
	scase_init(&c);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		setenv("CALYX_FAULT_STEP", "mid_apply", 1);
		_exit(fx_commit(&c.f, NULL, &err) < 0 ? 3 : 0);
	}
	CX_CHECK(waitpid(pid, &wst, 0) == pid && WIFSIGNALED(wst));
	tu_rmtree(c.f.upper);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		setenv("CALYX_FAULT_STEP", "after_rollback", 1);
		_exit(cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0 ? 3 : 0);
	}
	CX_CHECK(waitpid(pid, &wst, 0) == pid);
	assert_true(WIFSIGNALED(wst));
	if (cx_ws_recover(&c.f.ws, c.f.journal, &action, &err) < 0)
		fail_msg("recover: %s", err.msg);
	assert_string_equal(action, "rolled_back");
	expect_tree(c.f.host, c.before, "after the second rollback");
	scase_free(&c);
}

/* ---- a real overlay ------------------------------------------------------- */

#define OPCHK(x)                                                                 \
	do {                                                                     \
		if (!(x))                                                        \
			return __LINE__;                                         \
	} while (0)

static int put(const char *root, const char *rel, const char *s, int flags)
{
	int fd = open(pj(root, rel), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		return -1;
	int ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/* What `mv` does when rename(2) says EXDEV (overlay, redirect_dir=off). */
static int copy_move(const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *de;
		if (mkdir(dst, 0700) < 0 || chmod(dst, st.st_mode & 07777) < 0 || !(d = opendir(src)))
			return -1;
		while ((de = readdir(d))) {
			char a[PATH_MAX], b[PATH_MAX];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(a, sizeof(a), "%s/%s", src, de->d_name);
			snprintf(b, sizeof(b), "%s/%s", dst, de->d_name);
			if (copy_move(a, b) < 0) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
		return rmdir(src);
	}
	if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlink(src, t, sizeof(t) - 1);
		if (n < 0)
			return -1;
		t[n] = 0;
		return symlink(t, dst) == 0 ? unlink(src) : -1;
	}
	char *c = slurp(src);
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int r = c && fd >= 0 && write(fd, c, (size_t)st.st_size) == st.st_size &&
			fchmod(fd, st.st_mode & 07777) == 0
		? unlink(src)
		: -1;
	free(c);
	if (fd >= 0)
		close(fd);
	return r;
}

/* The run's operations, done as the run uid on the overlay mount or, for
 * the reference, on a plain copy of the host tree. */
static int run_ops(const char *r, bool reference)
{
	int fd;
	OPCHK(put(r, "a.txt", "A new\n", O_TRUNC) == 0);
	OPCHK(put(r, "dir/b.txt", "more\n", O_APPEND) == 0);
	OPCHK(mkdir(pj(r, "new"), 0755) == 0 && mkdir(pj(r, "new/deep"), 0755) == 0);
	OPCHK(put(r, "new/deep/file.txt", "deep\n", O_EXCL) == 0);
	OPCHK(rename(pj(r, "ren_src.txt"), pj(r, "ren_dst.txt")) == 0);
	if (rename(pj(r, "mvdir"), pj(r, "mvdir2")) < 0) {
		OPCHK(errno == EXDEV);
		OPCHK(copy_move(pj(r, "mvdir"), pj(r, "mvdir2")) == 0);
	}
	OPCHK(unlink(pj(r, "del.txt")) == 0);
	OPCHK(rmdir(pj(r, "emptydir")) == 0);
	tu_rmtree(pj(r, "tree_del"));
	OPCHK(!exists(pj(r, "tree_del")));
	tu_rmtree(pj(r, "opq"));
	OPCHK(mkdir(pj(r, "opq"), 0755) == 0);
	OPCHK(put(r, "opq/only", "only\n", O_EXCL) == 0);
	OPCHK(symlink("../../etc/passwd", pj(r, "sym")) == 0);
	OPCHK(unlink(pj(r, "oldsym")) == 0);
	OPCHK(put(r, "oldsym", "now a file\n", O_EXCL) == 0);
	OPCHK(link(pj(r, "hl_src"), pj(r, "hl_dst")) == 0);
	OPCHK(put(r, "nf1", "nf\n", O_EXCL) == 0);
	OPCHK(link(pj(r, "nf1"), pj(r, "nf2")) == 0);
	OPCHK(chmod(pj(r, "mode.txt"), 0600) == 0);
	OPCHK(setxattr(pj(r, "x.txt"), "user.tag", "T", 1, 0) == 0);
	OPCHK(unlink(pj(r, "f2d")) == 0);
	OPCHK(mkdir(pj(r, "f2d"), 0750) == 0);
	OPCHK(put(r, "f2d/inside", "in\n", O_EXCL) == 0);
	tu_rmtree(pj(r, "d2f"));
	OPCHK(put(r, "d2f", "was a dir\n", O_EXCL) == 0);
	OPCHK((fd = open(pj(r, "touch.txt"), O_RDWR | O_CLOEXEC)) >= 0);
	close(fd);
	OPCHK(put(r, "weird\nname", "w\n", O_EXCL) == 0);
	OPCHK(rename(pj(r, "dir/b.txt"), pj(r, "b_moved.txt")) == 0);
	if (!reference)
		OPCHK(mkfifo(pj(r, "pipe"), 0644) == 0);
	return 0;
}

static void build_overlay_host(const char *h)
{
	mkfile(h, "a.txt", "a\n", 0644);
	mkd(h, "dir", 0755);
	mkfile(h, "dir/b.txt", "b\n", 0644);
	mkfile(h, "ren_src.txt", "ren\n", 0644);
	mkd(h, "mvdir", 0750);
	mkfile(h, "mvdir/m1", "m1\n", 0640);
	mkd(h, "mvdir/msub", 0755);
	mkfile(h, "mvdir/msub/m2", "m2\n", 0644);
	mksym(h, "mvdir/mlink", "m1");
	mkfile(h, "del.txt", "del\n", 0644);
	mkd(h, "emptydir", 0755);
	mkd(h, "tree_del", 0755);
	mkfile(h, "tree_del/t1", "t1\n", 0644);
	mkd(h, "tree_del/tsub", 0755);
	mkfile(h, "tree_del/tsub/t2", "t2\n", 0644);
	mkd(h, "opq", 0755);
	mkfile(h, "opq/o1", "o1\n", 0644);
	mkd(h, "opq/osub", 0755);
	mkfile(h, "opq/osub/o2", "o2\n", 0644);
	mksym(h, "oldsym", "a.txt");
	mkfile(h, "hl_src", "hl\n", 0644);
	mkfile(h, "mode.txt", "mode\n", 0644);
	mkfile(h, "x.txt", "x\n", 0644);
	mkfile(h, "f2d", "f\n", 0644);
	mkd(h, "d2f", 0755);
	mkfile(h, "d2f/dd", "dd\n", 0644);
	mkfile(h, "touch.txt", "t\n", 0644);
	chown_tree(h, RUN_UID, RUN_GID);
	CX_CHECK(chown(h, RUN_UID, RUN_GID) == 0);
	mkfile(h, "root.txt", "root's\n", 0644); /* the run cannot change it */
}

static int as_run_uid(const char *root, bool reference)
{
	pid_t pid = fork();
	int st;
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(RUN_GID) < 0 || setuid(RUN_UID) < 0)
			_exit(250);
		_exit(run_ops(root, reference) ? 1 : 0);
	}
	CX_CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void real_overlay(void **st)
{
	fx f;
	cx_error err = { 0 };
	cx_ws_report rep = { 0 };
	char *mnt, *work, opts[PATH_MAX * 4], *want;
	int r;
	(void)st;
	REQUIRE_ROOT();
	fx_init(&f);
	build_overlay_host(f.host);
	copytree(f.host, f.ref);
	CX_CHECK(asprintf(&mnt, "%s/mnt", f.base) > 0 && asprintf(&work, "%s/tree0/work", f.run_dir) > 0);
	CX_CHECK(mkdir(mnt, 0755) == 0);
	/* the upper root stands for the host root in the merged view */
	CX_CHECK(chown(f.upper, RUN_UID, RUN_GID) == 0);
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off,index=off,xino=off",
		 f.host, f.upper, work);
	if (mount("overlay", mnt, "overlay", 0, opts) < 0) {
		fprintf(stderr, "skipped: cannot mount overlayfs: %s\n", strerror(errno));
		fx_free(&f);
		free(mnt);
		free(work);
		skip();
	}
	r = as_run_uid(mnt, false);
	CX_CHECK(umount(mnt) == 0);
	if (r)
		fail_msg("operation at test_workspace.c:%d failed on the overlay", r);
	r = as_run_uid(f.ref, true);
	if (r)
		fail_msg("operation at test_workspace.c:%d failed on the reference", r);
	if (fx_commit(&f, &rep, &err) < 0)
		fail_msg("commit: %s", err.msg);
	want = tree_manifest(f.ref);
	expect_tree(f.host, want, "host after committing the overlay");
	assert_int_equal(rep.skipped, 1); /* the FIFO */
	free(want);
	free(mnt);
	free(work);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commit_synthetic),
		cmocka_unit_test(commit_refuses_device),
		cmocka_unit_test(commit_refuses_deep),
		cmocka_unit_test(commit_refuses_host_special),
		cmocka_unit_test(skip_equal_and_xattr_change),
		cmocka_unit_test(commit_refuses_replaced_tree),
		cmocka_unit_test(recover_and_undo_check_tree_identity),
		cmocka_unit_test(undo_roundtrip),
		cmocka_unit_test(undo_refuses_changed_then_force),
		cmocka_unit_test(undo_lists_ten_then_count),
		cmocka_unit_test(undo_dir_replaced_by_symlink),
		cmocka_unit_test(commit_refuses_append_only),
		cmocka_unit_test(undo_restores_non_utf8_xattr_names),
		cmocka_unit_test(diff_prints_stat),
		cmocka_unit_test(discard_leaves_host),
		cmocka_unit_test(discard_refuses_unfinished),
		cmocka_unit_test(recover_without_journal),
		cmocka_unit_test(lock_excludes),
		cmocka_unit_test(lock_overlap_refused),
		cmocka_unit_test(lock_dead_holder_cleared),
		cmocka_unit_test(lock_wait_for_overlap),
		cmocka_unit_test(lock_bind_mount_overlap),
		cmocka_unit_test(lock_set_at_once),
		cmocka_unit_test(symlink_in_host_not_followed),
		cmocka_unit_test(symlink_swapped_after_scan),
		cmocka_unit_test(crash_at_each_step),
		cmocka_unit_test(crash_during_rollback),
		cmocka_unit_test(real_overlay),
	};
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
