/* Workspace apply and rollback: the only code that writes to host trees.
 *
 * Apply (one tree, a plan from ws_scan), in three passes so that a crash
 * leaves either temp files or whole files, never a torn one:
 *   1. in plan order (pre-order): deletions (recursive, through fds) and
 *      directories (mkdir, then owner/xattrs/mode); then every file or
 *      symlink written to a temp name in its target dir
 *      (.calyx-<tag>-f<hash of path>), with owner, xattrs, mode and times;
 *      then the hardlinks, linked from their primary's temp (or its host
 *      name when the host already has it equal);
 *   2. syncfs of the tree's file system: one batch, every temp durable;
 *   3. renameat of each temp over its target, then syncfs again.
 * Every step is idempotent (missing is fine when deleting, an existing dir
 * is kept, temps are unlinked before being made), so recovery may run the
 * whole apply again from a fresh scan while the upper exists.
 *
 * Rollback (undo, or a commit that failed or cannot roll forward) works
 * from the manifest and pack only: remove the commit's temps, remove what
 * the commit added (reverse order: children first; dirs only when empty),
 * then restore what it changed or deleted (forward order: parents first)
 * from the pack, each through a temp + renameat; objects are checked
 * against their sha256 before they are used.
 *
 * Trust: runs as root over host trees that other processes may be
 * changing: every directory is entered through ws_walker (openat2, no
 * symlinks, no mount crossing) and every last component is acted on
 * without following it, so nothing outside the tree is ever written. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"

typedef struct apply_ctx {
	ws_walker hw, aux, uw;
	const ws_plan *p;
	const char *tag, *host_path;
	unsigned tree;
	cx_error *err;
} apply_ctx;

static int fail_at(apply_ctx *c, int r, const char *path, const char *doing)
{
	char q[200];
	return cx_err(c->err, CX_E_WORKSPACE, -r, "cannot %s '%.200s/%s': %s%s", doing, c->host_path,
		      ws_quote(path, q, sizeof(q)), strerror(-r),
		      r == -ELOOP || r == -EXDEV
			      ? " (a symlink or mount point stands where a directory was: not followed)"
			      : "");
}

static int set_meta(int fd, uid_t uid, gid_t gid, mode_t mode, const ws_xattrs *x, int filter)
{
	int r;

	if (fchown(fd, uid, gid) < 0)
		return -errno;
	if (x && (r = ws_xattrs_apply(fd, x, filter)) < 0)
		return r;
	if (fchmod(fd, mode) < 0) /* last: chown cleared any set-id bit */
		return -errno;
	return 0;
}

/* The upper's own fd for a record (a dir itself, or a file's dir). */
static int upper_dir(apply_ctx *c, const char *path, size_t len, int *ret)
{
	return ws_walker_dir(&c->uw, path, len, ret);
}

static int ensure_dir(apply_ctx *c, int pfd, const char *name, const ws_rec *rec)
{
	_cleanup_close_ int fd = -1;
	ws_xattrs x = { 0 };
	struct stat st;
	bool made = false;
	int ufd, r;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			/* a symlink or file appeared where the dir goes: removed,
			 * never followed */
			if (unlinkat(pfd, name, 0) < 0)
				return -errno;
			made = true;
		}
	} else if (errno != ENOENT) {
		return -errno;
	} else {
		made = true;
	}
	if (made && mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (!made && !rec->meta)
		return 0;
	fd = ws_open_beneath(pfd, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	r = upper_dir(c, rec->path, strlen(rec->path), &ufd);
	if (r == 0)
		r = ws_xattrs_read(ufd, WS_XA_COMMIT, &x);
	if (r == 0)
		r = set_meta(fd, rec->uid, rec->gid, rec->mode, &x, WS_XA_COMMIT);
	ws_xattrs_free(&x);
	return r;
}

static int write_tmp(apply_ctx *c, int pfd, const char *tmp, const ws_rec *rec)
{
	_cleanup_close_ int in = -1, out = -1;
	ws_xattrs x = { 0 };
	const char *name;
	struct stat st;
	size_t dl;
	int ufd, r;

	ws_split(rec->path, &dl, &name);
	r = upper_dir(c, rec->path, dl, &ufd);
	if (r < 0)
		return r;
	in = ws_open_beneath(ufd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (in < 0)
		return in;
	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ESTALE;
	out = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	r = ws_copy(in, out, NULL, NULL);
	/* start writeback now: the syncfs batch then waits for less */
	if (r == 0 && st.st_size >= 1 << 20)
		sync_file_range(out, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (r == 0)
		r = ws_xattrs_read(in, WS_XA_COMMIT, &x);
	if (r == 0)
		r = set_meta(out, rec->uid, rec->gid, rec->mode, &x, WS_XA_COMMIT);
	ws_xattrs_free(&x);
	if (r == 0) {
		struct timespec ts[2] = { rec->atime, rec->mtime };
		if (futimens(out, ts) < 0)
			r = -errno;
	}
	if (r == 0 && close(TAKE_FD(out)) < 0)
		r = -errno;
	return r;
}

static bool renamed(uint8_t act)
{
	return act == WS_A_WRITE || act == WS_A_LINK || act == WS_A_SYMLINK;
}

/* Pass 1 in three phases: 0 deletions and dirs, 1 files and symlinks,
 * 2 hardlinks. Every deletion comes first, so a roll-forward that finds
 * an earlier attempt's temp in an opaque dir (and deletes it) cannot
 * delete a temp this attempt made. */
static int phase_of(uint8_t act)
{
	switch (act) {
	case WS_A_DELETE:
	case WS_A_DIR:
		return 0;
	case WS_A_WRITE:
	case WS_A_SYMLINK:
		return 1;
	case WS_A_LINK:
		return 2;
	default:
		return -1;
	}
}

static int make_tmp(apply_ctx *c, size_t i, int phase)
{
	const ws_rec *rec = &c->p->v[i];
	const char *name;
	char tmp[64];
	size_t dl;
	int pfd, r;

	if (phase_of(rec->act) != phase)
		return 0;
	ws_split(rec->path, &dl, &name);
	r = ws_walker_dir(&c->hw, rec->path, dl, &pfd);
	if (r < 0)
		return fail_at(c, r, rec->path, "open the directory of");
	if (renamed(rec->act)) {
		/* left by an interrupted attempt: made again from scratch */
		ws_tmpname(c->tag, 'f', c->tree, rec->path, tmp);
		r = ws_rm_at(pfd, tmp, 2, -1);
		if (r < 0)
			return fail_at(c, r, rec->path, "clear the temp file of");
	}
	switch (rec->act) {
	case WS_A_DELETE:
		r = ws_rm_at(pfd, name, WS_DEPTH_MAX, -1);
		if (rec->hkind == WS_K_DIR) {
			/* a cached fd may name what is gone */
			ws_walker_reset(&c->hw);
			ws_walker_reset(&c->aux);
		}
		return r < 0 ? fail_at(c, r, rec->path, "delete") : 0;
	case WS_A_DIR:
		r = ensure_dir(c, pfd, name, rec);
		return r < 0 ? fail_at(c, r, rec->path, "create the directory") : 0;
	case WS_A_WRITE:
		r = write_tmp(c, pfd, tmp, rec);
		if (r < 0)
			unlinkat(pfd, tmp, 0);
		return r < 0 ? fail_at(c, r, rec->path, "write") : 0;
	case WS_A_SYMLINK:
		if (symlinkat(rec->target, pfd, tmp) < 0 ||
		    fchownat(pfd, tmp, rec->uid, rec->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			unlinkat(pfd, tmp, 0);
			return fail_at(c, r, rec->path, "create the symlink");
		} else {
			struct timespec ts[2] = { rec->atime, rec->mtime };
			utimensat(pfd, tmp, ts, AT_SYMLINK_NOFOLLOW);
		}
		return 0;
	case WS_A_LINK: {
		const ws_rec *pr = &c->p->v[rec->link_to];
		const char *pname;
		char ptmp[64];
		size_t pdl;
		int spfd;

		ws_split(pr->path, &pdl, &pname);
		r = ws_walker_dir(&c->aux, pr->path, pdl, &spfd);
		if (r < 0)
			return fail_at(c, r, pr->path, "open the directory of");
		if (pr->act == WS_A_WRITE) {
			ws_tmpname(c->tag, 'f', c->tree, pr->path, ptmp);
			pname = ptmp;
		}
		if (linkat(spfd, pname, pfd, tmp, 0) < 0)
			return fail_at(c, -errno, rec->path, "link");
		return 0;
	}
	default:
		return 0;
	}
}

int ws_apply(int hroot, int uroot, const ws_plan *plan, const char *tag, unsigned tree,
	     const char *host_path, cx_error *err)
{
	apply_ctx c = { .p = plan, .tag = tag, .host_path = host_path, .tree = tree, .err = err };
	size_t total = 0, done = 0;
	int r = 0;

	ws_walker_init(&c.hw, hroot);
	ws_walker_init(&c.aux, hroot);
	ws_walker_init(&c.uw, uroot);
	for (int phase = 0; phase < 3 && r == 0; phase++)
		for (size_t i = 0; i < plan->n && r == 0; i++)
			r = make_tmp(&c, i, phase);
	if (r == 0 && syncfs(hroot) < 0)
		r = cx_err(err, CX_E_WORKSPACE, errno, "cannot sync '%s': %s", host_path,
			   strerror(errno));
	if (r == 0)
		ws_fault("after_temps");
	for (size_t i = 0; i < plan->n; i++)
		total += renamed(plan->v[i].act);
	for (size_t i = 0; i < plan->n && r == 0; i++) {
		const ws_rec *rec = &plan->v[i];
		const char *name;
		char tmp[64];
		size_t dl;
		int pfd;

		if (!renamed(rec->act))
			continue;
		if (done++ == (total + 1) / 2)
			ws_fault("mid_apply");
		ws_split(rec->path, &dl, &name);
		r = ws_walker_dir(&c.hw, rec->path, dl, &pfd);
		if (r < 0) {
			r = fail_at(&c, r, rec->path, "open the directory of");
			break;
		}
		ws_tmpname(tag, 'f', tree, rec->path, tmp);
		if (renameat(pfd, tmp, pfd, name) < 0)
			r = fail_at(&c, -errno, rec->path, "replace");
	}
	if (r == 0 && syncfs(hroot) < 0)
		r = cx_err(err, CX_E_WORKSPACE, errno, "cannot sync '%s': %s", host_path,
			   strerror(errno));
	ws_walker_free(&c.hw);
	ws_walker_free(&c.aux);
	ws_walker_free(&c.uw);
	return r;
}

/* ---- rollback ----------------------------------------------------------------- */

typedef struct rb_ctx {
	const ws_manifest *m;
	int packfd;
	size_t failed;
	cx_error *err;
	bool have_first;
} rb_ctx;

static void rb_fail(rb_ctx *c, const ws_ment *e, int r, const char *doing)
{
	char q[200];
	c->failed++;
	if (c->have_first)
		return;
	c->have_first = true;
	cx_err(c->err, CX_E_WORKSPACE, -r, "cannot %s '%.200s/%s': %s", doing, c->m->trees[e->tree],
	       ws_quote(e->path, q, sizeof(q)), strerror(-r));
}

static bool missing(int r)
{
	return r == -ENOENT || r == -ENOTDIR;
}

/* A restored file or symlink: temp in the dir, checked against the
 * manifest, renamed over the path. */
static int restore_object(rb_ctx *c, int pfd, const char *name, const ws_ment *e)
{
	_cleanup_close_ int obj = ws_pack_open_object(c->packfd, e->tree, e->sha_b), out = -1;
	char tmp[64], hex[65];
	uint8_t sha[32];
	uint64_t len = 0;
	int r;

	if (obj < 0)
		return obj;
	ws_tmpname(c->m->tag, 'r', e->tree, e->path, tmp);
	r = ws_rm_at(pfd, tmp, 2, -1);
	if (r < 0)
		return r;
	if (e->kind == WS_K_SYMLINK) {
		char target[PATH_MAX];
		ssize_t n = read(obj, target, sizeof(target));
		if (n <= 0 || (size_t)n >= sizeof(target))
			return n < 0 ? -errno : -EINVAL;
		target[n] = '\0';
		crypto_hash_sha256(sha, (const uint8_t *)target, (size_t)n);
		cx_hex_encode(sha, 32, hex);
		if (strcmp(hex, e->sha_b) != 0 || strlen(target) != (size_t)n)
			return -EBADMSG;
		if (symlinkat(target, pfd, tmp) < 0)
			return -errno;
		if (fchownat(pfd, tmp, e->uid_b, e->gid_b, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	} else {
		out = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return -errno;
		r = ws_copy(obj, out, sha, &len);
		if (r == 0) {
			cx_hex_encode(sha, 32, hex);
			if (strcmp(hex, e->sha_b) != 0 || len != e->size_b)
				r = -EBADMSG; /* the pack object is damaged */
		}
		if (r == 0)
			r = set_meta(out, e->uid_b, e->gid_b, e->mode_b, &e->xb, WS_XA_PREIMAGE);
		if (r == 0 && close(TAKE_FD(out)) < 0)
			r = -errno;
	}
	if (r == 0 && renameat(pfd, tmp, pfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(pfd, tmp, 0);
	return r;
}

static int restore_dir(int pfd, const char *name, const ws_ment *e)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
	    unlinkat(pfd, name, 0) < 0)
		return -errno;
	if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = ws_open_beneath(pfd, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	return set_meta(fd, e->uid_b, e->gid_b, e->mode_b, &e->xb, WS_XA_PREIMAGE);
}

/* R0: temps of an interrupted apply or rollback */
static void rb_temps(rb_ctx *c, unsigned tree, ws_walker *w, const ws_ment *e)
{
	char tmp[64];
	size_t dl;
	const char *name;
	int pfd;

	if (e->kind == WS_K_DIR)
		return;
	ws_split(e->path, &dl, &name);
	if (ws_walker_dir(w, e->path, dl, &pfd) < 0)
		return;
	for (int k = 0; k < 2; k++) {
		ws_tmpname(c->m->tag, k ? 'r' : 'f', tree, e->path, tmp);
		ws_rm_at(pfd, tmp, 2, -1);
	}
}

/* The dirs the commit added that R1 removes once their children are:
 * nested (each inside the one before), so one path and the lengths of
 * its ancestors that were added. */
typedef struct rb_dirs {
	char *path;
	size_t cap;
	size_t len[WS_DEPTH_MAX + 1];
	unsigned n;
} rb_dirs;

static bool under(const char *path, const char *dir, size_t dlen)
{
	return strncmp(path, dir, dlen) == 0 && path[dlen] == '/';
}

static void rb_rmdir(rb_ctx *c, unsigned tree, ws_walker *w, rb_dirs *d)
{
	const char *name;
	size_t dl;
	int pfd, r;
	ws_ment e = { .tree = tree, .path = d->path };

	d->path[d->len[--d->n]] = '\0';
	ws_split(d->path, &dl, &name);
	r = ws_walker_dir(w, d->path, dl, &pfd);
	/* a symlink or mount in its path: nothing the commit added can be
	 * there (it never goes through either) */
	if (missing(r) || r == -ELOOP || r == -EXDEV)
		return;
	if (r == 0 && unlinkat(pfd, name, AT_REMOVEDIR) < 0)
		r = -errno;
	if (r == -ENOENT || r == -ENOTDIR)
		return; /* gone, or another type: R2 restores the pre-image if any */
	if (r < 0)
		rb_fail(c, &e, r,
			r == -ENOTEMPTY ? "remove (it holds files the run did not add)" : "remove");
	else
		ws_walker_reset(w);
}

/* R1, for one entry in manifest (pre-)order: the added dirs that do not
 * hold it are removed (their children went before), then an added file
 * or symlink is removed, an added dir noted. */
static void rb_added(rb_ctx *c, unsigned tree, ws_walker *w, rb_dirs *d, const ws_ment *e)
{
	const char *name;
	struct stat st;
	size_t dl;
	int pfd, r;

	while (d->n && (!e || !under(e->path, d->path, d->len[d->n - 1])))
		rb_rmdir(c, tree, w, d);
	if (!e || e->op != WS_OP_ADDED)
		return;
	if (e->kind == WS_K_DIR) {
		size_t l = strlen(e->path);
		if (d->n > WS_DEPTH_MAX)
			return; /* (never: paths are at most WS_DEPTH_MAX deep) */
		if (l + 1 > d->cap) {
			d->cap = l + 1;
			d->path = realloc(d->path, d->cap);
			CX_CHECK(d->path);
		}
		memcpy(d->path, e->path, l + 1);
		d->len[d->n++] = l;
		return;
	}
	ws_split(e->path, &dl, &name);
	r = ws_walker_dir(w, e->path, dl, &pfd);
	if (missing(r) || r == -ELOOP || r == -EXDEV)
		return;
	if (r < 0) {
		rb_fail(c, e, r, "remove");
		return;
	}
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			rb_fail(c, e, -errno, "remove");
		return;
	}
	/* another type there: not what the commit added (not applied yet, or
	 * replaced since); R2 restores the pre-image if any */
	if (S_ISDIR(st.st_mode) || (e->kind == WS_K_SYMLINK) != (S_ISLNK(st.st_mode) != 0))
		return;
	if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
		rb_fail(c, e, -errno, "remove");
}

/* R2: what it changed or deleted, parents first */
static void rb_restore(rb_ctx *c, ws_walker *w, const ws_ment *e)
{
	const char *name;
	size_t dl;
	int pfd, r;

	if (e->op == WS_OP_ADDED)
		return;
	ws_split(e->path, &dl, &name);
	r = ws_walker_dir(w, e->path, dl, &pfd);
	if (r == 0)
		r = e->kind == WS_K_DIR ? restore_dir(pfd, name, e) : restore_object(c, pfd, name, e);
	if (r < 0)
		rb_fail(c, e, r, r == -EBADMSG ? "restore (pack object damaged)" : "restore");
}

/* Three passes over the manifest, one entry held at a time, every tree
 * at once (roots[t] < 0: that tree is left alone). */
static void rollback_trees(rb_ctx *c, const int *roots)
{
	size_t nt = c->m->ntrees;
	_cleanup_free_ ws_walker *w = cx_calloc(nt, sizeof(*w));
	_cleanup_free_ rb_dirs *d = cx_calloc(nt, sizeof(*d));

	for (size_t t = 0; t < nt; t++)
		ws_walker_init(&w[t], roots[t]);
	for (int pass = 0; pass < 3; pass++) {
		ws_mcur cur;
		const ws_ment *e;
		cx_error cerr = { 0 };
		int r;

		ws_mcur_init(&cur, c->m);
		while ((r = ws_mcur_next(&cur, &e, &cerr)) > 0) {
			unsigned t = e->tree;
			if (roots[t] < 0)
				continue;
			if (pass == 0)
				rb_temps(c, t, &w[t], e);
			else if (pass == 1)
				rb_added(c, t, &w[t], &d[t], e);
			else
				rb_restore(c, &w[t], e);
		}
		for (size_t t = 0; pass == 1 && t < nt; t++)
			if (roots[t] >= 0)
				rb_added(c, (unsigned)t, &w[t], &d[t], NULL);
		ws_mcur_free(&cur);
		if (r < 0) { /* it was read whole before: it changed since */
			c->failed++;
			if (!c->have_first && c->err)
				*c->err = cerr;
			c->have_first = true;
		}
	}
	for (size_t t = 0; t < nt; t++) {
		free(d[t].path);
		ws_walker_free(&w[t]);
	}
}

int ws_rollback(const ws_manifest *m, int packfd, bool check_ids, cx_error *err)
{
	rb_ctx c = { .m = m, .packfd = packfd, .err = err };
	int roots[CX_WS_TREES_MAX];

	for (size_t t = 0; t < CX_ARRAY_SIZE(roots); t++)
		roots[t] = -1;

	for (unsigned t = 0; t < m->ntrees; t++) {
		cx_error ierr = { 0 };
		roots[t] = ws_open_root(m->trees[t], O_RDONLY);
		if (roots[t] >= 0 && (!check_ids || ws_check_tree_id(roots[t], m->fsid[t], m->ino[t],
								      m->trees[t], &ierr) == 0))
			continue;
		c.failed++;
		if (!c.have_first && roots[t] < 0)
			cx_err(err, CX_E_WORKSPACE, -roots[t], "cannot open tree '%.200s': %s",
			       m->trees[t], strerror(-roots[t]));
		else if (!c.have_first && err)
			*err = ierr;
		c.have_first = true;
		if (roots[t] >= 0)
			close(roots[t]);
		roots[t] = -1;
	}
	rollback_trees(&c, roots);
	for (unsigned t = 0; t < m->ntrees; t++) {
		if (roots[t] < 0)
			continue;
		if (syncfs(roots[t]) < 0 && !c.failed++)
			cx_err(err, CX_E_WORKSPACE, errno, "cannot sync '%.200s': %s", m->trees[t],
			       strerror(errno));
		close(roots[t]);
	}
	if (c.failed) {
		if (c.failed > 1)
			cx_err_prefix(err, "%zu entries could not be restored; first", c.failed);
		return -(err ? (err->errnum ? err->errnum : EIO) : EIO);
	}
	return 0;
}

/* ---- attributes ------------------------------------------------------------------ */

/* 1 when the dir or the entry is append-only or immutable; *ret_where:
 * which (a relative path, "" for the root; in buf when the dir). */
static int attr_locked_at(int pfd, const char *path, size_t dl, const char *name, bool check_dir,
			  char *buf, size_t len, const char **ret_where)
{
	if (check_dir && ws_attr_locked(pfd, "") == 1) {
		snprintf(buf, len, "%.*s", (int)dl, path);
		*ret_where = buf;
		return 1;
	}
	if (ws_attr_locked(pfd, name) == 1) {
		*ret_where = path;
		return 1;
	}
	return 0;
}

/* The trees' roots and a walker each (roots[t] < 0: not open). */
typedef struct trees_at {
	size_t n;
	int roots[CX_WS_TREES_MAX];
	ws_walker *w;
} trees_at;

static void trees_open(trees_at *ta, const ws_manifest *m)
{
	ta->n = m->ntrees;
	ta->w = cx_calloc(ta->n, sizeof(*ta->w));
	for (size_t t = 0; t < ta->n; t++) {
		ta->roots[t] = ws_open_root(m->trees[t], O_RDONLY);
		ws_walker_init(&ta->w[t], ta->roots[t]);
	}
}

static void trees_close(trees_at *ta)
{
	for (size_t t = 0; t < ta->n; t++) {
		ws_walker_free(&ta->w[t]);
		if (ta->roots[t] >= 0)
			close(ta->roots[t]);
	}
	free(ta->w);
	memset(ta, 0, sizeof(*ta));
}

int ws_check_attrs(const ws_manifest *m, cx_error *err)
{
	_cleanup_(trees_close) trees_at ta = { 0 };
	_cleanup_(ws_mcur_free) ws_mcur cur = { 0 };
	char *last[CX_WS_TREES_MAX] = { 0 }; /* per tree, the last dir checked */
	const ws_ment *e;
	int r;

	trees_open(&ta, m);
	ws_mcur_init(&cur, m);
	while ((r = ws_mcur_next(&cur, &e, err)) > 0) {
		unsigned t = e->tree;
		const char *name, *where;
		char q[200], buf[PATH_MAX];
		size_t dl;
		int pfd;
		bool same;

		if (ta.roots[t] < 0)
			continue; /* the rollback says why */
		ws_split(e->path, &dl, &name);
		if (ws_walker_dir(&ta.w[t], e->path, dl, &pfd) < 0)
			continue;
		same = last[t] && strlen(last[t]) == dl && strncmp(last[t], e->path, dl) == 0;
		if (!same) {
			free(last[t]);
			last[t] = strndup(e->path, dl);
			CX_CHECK(last[t]);
		}
		if (attr_locked_at(pfd, e->path, dl, name, !same, buf, sizeof(buf), &where)) {
			r = cx_err(err, CX_E_WORKSPACE, EPERM,
				   "'%.200s%s%s' is append-only or immutable (chattr +a/+i): what the commit changed there cannot be restored (clear the attribute, then undo)",
				   m->trees[t], *where ? "/" : "", ws_quote(where, q, sizeof(q)));
			break;
		}
	}
	for (size_t t = 0; t < CX_ARRAY_SIZE(last); t++)
		free(last[t]);
	return r < 0 ? r : 0;
}

/* ---- undo check ----------------------------------------------------------------- */

/* e is a "deleted" entry: when a later entry of the same path (after
 * the subtree deleted beneath it, manifest order) put something else
 * there, *ret_kind is its kind (e is then not the path's last entry),
 * else 0. The next entry is peeked; only when it lies beneath e does a
 * second cursor read on past that subtree (read twice, once here). */
static int replaced_by(ws_mcur *cur, const ws_ment *e, uint8_t *ret_kind, cx_error *err)
{
	_cleanup_(ws_mcur_free) ws_mcur la = { 0 };
	size_t pl = strlen(e->path);
	const ws_ment *n;
	int r;

	*ret_kind = 0;
	r = ws_mcur_peek(cur, &n, err);
	if (r <= 0 || n->tree != e->tree || !under(n->path, e->path, pl)) {
		if (r > 0 && n->tree == e->tree && strcmp(n->path, e->path) == 0 &&
		    n->op != WS_OP_DELETED)
			*ret_kind = n->kind;
		return r < 0 ? r : 0;
	}
	ws_mcur_clone(&la, cur);
	while ((r = ws_mcur_next(&la, &n, err)) > 0) {
		if (n->tree == e->tree && under(n->path, e->path, pl))
			continue;
		if (n->tree == e->tree && strcmp(n->path, e->path) == 0 && n->op != WS_OP_DELETED)
			*ret_kind = n->kind;
		break;
	}
	return r < 0 ? r : 0;
}

/* "" when the entry is as the commit left it, else why not. below_link:
 * e lies in a dir the commit replaced with a symlink (its own entry is
 * checked on its own): what lay beneath was deleted by the same commit,
 * and the path now crossing that symlink is expected. */
static const char *differs(const ws_ment *e, ws_walker *w, bool below_link)
{
	const char *name;
	struct stat st;
	size_t dl;
	int pfd, r;
	uint8_t sha[32];
	char hex[65];

	ws_split(e->path, &dl, &name);
	r = ws_walker_dir(w, e->path, dl, &pfd);
	if (r == -ELOOP && e->op == WS_OP_DELETED && below_link)
		return "";
	if (r == -ELOOP || r == -EXDEV)
		return "a symlink or mount point is in its path";
	if (r < 0 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return e->op == WS_OP_DELETED ? "" : "missing";
	if (e->op == WS_OP_DELETED)
		return "exists again";
	switch (e->kind) {
	case WS_K_DIR:
		return S_ISDIR(st.st_mode) ? "" : "no longer a directory";
	case WS_K_SYMLINK: {
		char t[PATH_MAX];
		ssize_t n;
		if (!S_ISLNK(st.st_mode))
			return "no longer a symlink";
		n = readlinkat(pfd, name, t, sizeof(t));
		if (n < 0 || (size_t)n >= sizeof(t))
			return "unreadable";
		crypto_hash_sha256(sha, (const uint8_t *)t, (size_t)n);
		cx_hex_encode(sha, 32, hex);
		return strcmp(hex, e->sha_a) ? "link target changed" : "";
	}
	default: {
		_cleanup_close_ int fd = -1;
		uint64_t len;
		if (!S_ISREG(st.st_mode))
			return "no longer a regular file";
		fd = ws_open_beneath(pfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
		if (fd < 0 || ws_hash_fd(fd, sha, &len) < 0)
			return "unreadable";
		cx_hex_encode(sha, 32, hex);
		return strcmp(hex, e->sha_a) != 0 || len != e->size_a ? "content changed" : "";
	}
	}
}

static void note(const ws_manifest *m, const ws_ment *e, const char *why, size_t count, char *msg,
		 size_t len)
{
	size_t o = strlen(msg);
	char q[80];
	int n;

	if (count > 10 || o + 1 >= len)
		return;
	n = snprintf(msg + o, len - o, "%s'%s%s%s' (%s)", count > 1 ? ", " : "",
		     m->ntrees > 1 ? m->trees[e->tree] : "", m->ntrees > 1 ? "/" : "",
		     ws_quote(e->path, q, sizeof(q)), why);
	if (n < 0 || (size_t)n >= len - o)
		msg[len - 1] = '\0';
}

/* One pass; each path is checked at its last entry. Two entries share
 * a path only where the commit changed its type: the "deleted" one, the
 * subtree deleted beneath it, then the new one (replaced_by looks
 * ahead). Memory: two cursors and the top of one deleted subtree per
 * tree. */
int ws_check_after(const ws_manifest *m, char *msg, size_t len, size_t *ret_count,
		   cx_error *err)
{
	_cleanup_(trees_close) trees_at ta = { 0 };
	_cleanup_(ws_mcur_free) ws_mcur cur = { 0 };
	char *sub[CX_WS_TREES_MAX] = { 0 }; /* a deleted subtree's top, per tree */
	bool sub_link[CX_WS_TREES_MAX] = { 0 };
	size_t count = 0;
	const ws_ment *e;
	int r = 0;

	trees_open(&ta, m);
	for (size_t t = 0; t < m->ntrees; t++)
		if (ta.roots[t] < 0)
			return cx_err(err, CX_E_WORKSPACE, -ta.roots[t], "cannot open tree '%.200s': %s",
				      m->trees[t], strerror(-ta.roots[t]));
	ws_mcur_init(&cur, m);
	while (r == 0 && (r = ws_mcur_next(&cur, &e, err)) > 0) {
		unsigned t = e->tree;
		bool in_sub = sub[t] && under(e->path, sub[t], strlen(sub[t]));
		const char *why;
		uint8_t k = 0;

		r = 0;
		if (!in_sub && sub[t]) {
			free(sub[t]);
			sub[t] = NULL;
		}
		if (e->op == WS_OP_DELETED && !in_sub) {
			if ((r = replaced_by(&cur, e, &k, err)) < 0)
				break;
			sub[t] = cx_strdup(e->path);
			sub_link[t] = k == WS_K_SYMLINK;
			if (k)
				continue; /* not the path's last entry */
		}
		why = differs(e, &ta.w[t], in_sub && sub_link[t]);
		if (*why)
			note(m, e, why, ++count, msg, len);
	}
	for (size_t t = 0; t < m->ntrees; t++)
		free(sub[t]);
	if (r < 0)
		return r;
	if (count > 10 && strlen(msg) + 1 < len)
		snprintf(msg + strlen(msg), len - strlen(msg), " and %zu more", count - 10);
	*ret_count = count;
	return 0;
}
