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

static void rollback_tree(rb_ctx *c, unsigned tree, int root)
{
	const ws_manifest *m = c->m;
	ws_walker w;

	ws_walker_init(&w, root);
	/* R0: temps of an interrupted apply or rollback */
	for (size_t i = 0; i < m->n; i++) {
		const ws_ment *e = &m->e[i];
		char tmp[64];
		size_t dl;
		const char *name;
		int pfd;

		if (e->tree != tree || e->kind == WS_K_DIR)
			continue;
		ws_split(e->path, &dl, &name);
		if (ws_walker_dir(&w, e->path, dl, &pfd) < 0)
			continue;
		for (int k = 0; k < 2; k++) {
			ws_tmpname(m->tag, k ? 'r' : 'f', tree, e->path, tmp);
			ws_rm_at(pfd, tmp, 2, -1);
		}
	}
	/* R1: what the commit added, children first */
	for (size_t i = m->n; i-- > 0;) {
		const ws_ment *e = &m->e[i];
		const char *name;
		struct stat st;
		size_t dl;
		int pfd, r;

		if (e->tree != tree || e->op != WS_OP_ADDED)
			continue;
		ws_split(e->path, &dl, &name);
		r = ws_walker_dir(&w, e->path, dl, &pfd);
		/* a symlink or mount in its path: nothing the commit added can be
		 * there (it never goes through either) */
		if (missing(r) || r == -ELOOP || r == -EXDEV)
			continue;
		if (r < 0) {
			rb_fail(c, e, r, "remove");
			continue;
		}
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				rb_fail(c, e, -errno, "remove");
			continue;
		}
		/* another type there: not what the commit added (not applied
		 * yet, or replaced since); R2 restores the pre-image if any */
		if (e->kind == WS_K_DIR) {
			if (!S_ISDIR(st.st_mode))
				continue;
			if (unlinkat(pfd, name, AT_REMOVEDIR) < 0) {
				rb_fail(c, e, -errno,
					errno == ENOTEMPTY ? "remove (it holds files the run did not add)"
							   : "remove");
				continue;
			}
			ws_walker_reset(&w);
		} else if (S_ISDIR(st.st_mode) ||
			   (e->kind == WS_K_SYMLINK) != (S_ISLNK(st.st_mode) != 0)) {
			continue;
		} else if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT) {
			rb_fail(c, e, -errno, "remove");
		}
	}
	/* R2: what it changed or deleted, parents first */
	for (size_t i = 0; i < m->n; i++) {
		const ws_ment *e = &m->e[i];
		const char *name;
		size_t dl;
		int pfd, r;

		if (e->tree != tree || e->op == WS_OP_ADDED)
			continue;
		ws_split(e->path, &dl, &name);
		r = ws_walker_dir(&w, e->path, dl, &pfd);
		if (r == 0)
			r = e->kind == WS_K_DIR ? restore_dir(pfd, name, e)
						: restore_object(c, pfd, name, e);
		if (r < 0)
			rb_fail(c, e, r, r == -EBADMSG ? "restore (pack object damaged)" : "restore");
	}
	ws_walker_free(&w);
}

int ws_rollback(const ws_manifest *m, int packfd, bool check_ids, cx_error *err)
{
	rb_ctx c = { .m = m, .packfd = packfd, .err = err };

	for (unsigned t = 0; t < m->ntrees; t++) {
		_cleanup_close_ int root = ws_open_root(m->trees[t], O_RDONLY);
		cx_error ierr = { 0 };
		if (root < 0 || (check_ids && ws_check_tree_id(root, m->fsid[t], m->ino[t],
							       m->trees[t], &ierr) < 0)) {
			c.failed++;
			if (!c.have_first && root < 0)
				cx_err(err, CX_E_WORKSPACE, -root, "cannot open tree '%.200s': %s",
				       m->trees[t], strerror(-root));
			else if (!c.have_first && err)
				*err = ierr;
			c.have_first = true;
			continue;
		}
		rollback_tree(&c, t, root);
		if (syncfs(root) < 0 && !c.failed++)
			cx_err(err, CX_E_WORKSPACE, errno, "cannot sync '%.200s': %s", m->trees[t],
			       strerror(errno));
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

int ws_check_attrs(const ws_manifest *m, cx_error *err)
{
	for (unsigned t = 0; t < m->ntrees; t++) {
		_cleanup_close_ int root = ws_open_root(m->trees[t], O_RDONLY);
		_cleanup_(ws_walker_free) ws_walker w = { 0 }; /* safe before ws_walker_init */
		const char *last = NULL; /* the last dir checked: a prefix of it */
		size_t lastlen = 0;

		if (root < 0)
			continue; /* the rollback says why */
		ws_walker_init(&w, root);
		for (size_t i = 0; i < m->n; i++) {
			const ws_ment *e = &m->e[i];
			const char *name, *where;
			char q[200], buf[PATH_MAX];
			size_t dl;
			int pfd;
			bool same;

			if (e->tree != t)
				continue;
			ws_split(e->path, &dl, &name);
			if (ws_walker_dir(&w, e->path, dl, &pfd) < 0)
				continue;
			same = last && lastlen == dl && strncmp(last, e->path, dl) == 0;
			last = e->path;
			lastlen = dl;
			if (attr_locked_at(pfd, e->path, dl, name, !same, buf, sizeof(buf), &where))
				return cx_err(err, CX_E_WORKSPACE, EPERM,
					      "'%.200s%s%s' is append-only or immutable (chattr +a/+i): what the commit changed there cannot be restored (clear the attribute, then undo)",
					      m->trees[t], *where ? "/" : "", ws_quote(where, q, sizeof(q)));
		}
	}
	return 0;
}

/* ---- undo check ----------------------------------------------------------------- */

typedef struct last_key {
	unsigned tree;
	const char *path;
	size_t idx;
} last_key;

static int last_cmp(const void *a, const void *b)
{
	const last_key *x = a, *y = b;
	int c;
	if (x->tree != y->tree)
		return x->tree < y->tree ? -1 : 1;
	if ((c = strcmp(x->path, y->path)))
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The last entry of (tree, path) in the sorted keys, or NULL. */
static const ws_ment *last_of(const ws_manifest *m, const last_key *k, unsigned tree,
			      const char *path)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) { /* first key > (tree, path) */
		size_t mid = lo + (hi - lo) / 2;
		int c = k[mid].tree != tree ? (k[mid].tree < tree ? -1 : 1) : strcmp(k[mid].path, path);
		if (c <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || k[lo - 1].tree != tree || strcmp(k[lo - 1].path, path) != 0)
		return NULL;
	return &m->e[k[lo - 1].idx];
}

/* A dir above path that the commit replaced with a symlink (its own last
 * entry: checked unchanged on its own): what lay beneath was deleted by
 * the same commit, and the path now crossing that symlink is expected. */
static bool below_committed_symlink(const ws_manifest *m, const last_key *k, const ws_ment *e)
{
	char *p = cx_strdup(e->path);
	bool found = false;

	for (char *s = strrchr(p, '/'); s && !found; s = strrchr(p, '/')) {
		const ws_ment *a;
		*s = '\0';
		a = last_of(m, k, e->tree, p);
		found = a && a->op != WS_OP_DELETED && a->kind == WS_K_SYMLINK;
	}
	free(p);
	return found;
}

/* "" when the entry is as the commit left it, else why not. */
static const char *differs(const ws_manifest *m, const last_key *k, const ws_ment *e,
			   ws_walker *w)
{
	const char *name;
	struct stat st;
	size_t dl;
	int pfd, r;
	uint8_t sha[32];
	char hex[65];

	ws_split(e->path, &dl, &name);
	r = ws_walker_dir(w, e->path, dl, &pfd);
	if (r == -ELOOP && e->op == WS_OP_DELETED && below_committed_symlink(m, k, e))
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

int ws_check_after(const ws_manifest *m, char *msg, size_t len, size_t *ret_count,
		   cx_error *err)
{
	_cleanup_free_ last_key *k = cx_calloc(m->n + 1, sizeof(*k));
	_cleanup_free_ bool *last = cx_calloc(m->n + 1, sizeof(bool));
	size_t count = 0, o = strlen(msg);

	for (size_t i = 0; i < m->n; i++)
		k[i] = (last_key){ m->e[i].tree, m->e[i].path, i };
	qsort(k, m->n, sizeof(*k), last_cmp);
	for (size_t i = 0; i < m->n; i++)
		if (i + 1 == m->n || k[i + 1].tree != k[i].tree || strcmp(k[i + 1].path, k[i].path) != 0)
			last[k[i].idx] = true;
	for (unsigned t = 0; t < m->ntrees; t++) {
		_cleanup_close_ int root = ws_open_root(m->trees[t], O_RDONLY);
		ws_walker w;
		if (root < 0)
			return cx_err(err, CX_E_WORKSPACE, -root, "cannot open tree '%.200s': %s",
				      m->trees[t], strerror(-root));
		ws_walker_init(&w, root);
		for (size_t i = 0; i < m->n; i++) {
			const ws_ment *e = &m->e[i];
			const char *why;
			char q[80];
			if (e->tree != t || !last[i])
				continue;
			why = differs(m, k, e, &w);
			if (!*why)
				continue;
			if (++count <= 10 && o + 1 < len) {
				int n = snprintf(msg + o, len - o, "%s'%s%s%s' (%s)", count > 1 ? ", " : "",
						 m->ntrees > 1 ? m->trees[t] : "", m->ntrees > 1 ? "/" : "",
						 ws_quote(e->path, q, sizeof(q)), why);
				o = n > 0 && (size_t)n < len - o ? o + (size_t)n : len - 1;
			}
		}
		ws_walker_free(&w);
	}
	if (count > 10 && o + 1 < len)
		snprintf(msg + o, len - o, " and %zu more", count - 10);
	*ret_count = count;
	return 0;
}
