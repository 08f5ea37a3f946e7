/* Transactional workspace: commit an overlay upper into its host tree with
 * a rollback pack and a journal; discard; recover; undo; diff.
 * (Layout, manifest and journal: include/calyx/workspace.h and
 * pack.c. The other steps: scan.c, apply.c,
 * fs.c; tree locks: lock.c.)
 *
 * Commit, in this order, each step durable before the next:
 *   scan every tree (read only) -> pack pre-images + manifest, syncfs of
 *   the pack's file system (one batch for every object and the manifest)
 *   -> journal "packed" -> journal "applying" -> apply each tree (temps,
 *   syncfs, renames, syncfs) -> pack marked "committed" -> journal "done"
 *   -> uppers moved to the trash (deleted in the background).
 * A failed apply undoes itself from the pack (journal "rolling_back",
 * then "rolled_back"). A crash anywhere is finished by cx_ws_recover.
 *
 * Decisions (the issue left them open):
 *  - ownership: what the upper records. New files belong to the run uid;
 *    a file the run changed keeps the owner overlay copied up (the
 *    host's), so in practice a changed file keeps its host owner;
 *  - modes: setuid/setgid never come from a run; sticky is kept on dirs
 *    only; a dir keeps setgid only when the host dir had it too (overlay
 *    copies a dir up whenever a child changes; shared-group dirs must not
 *    lose setgid because of that). An upper entry equal to the host's
 *    (type, raw mode, owner, xattrs, content/target) is not touched at all;
 *  - xattrs: user.*, security.* except security.capability, and POSIX ACLs
 *    (system.posix_acl_*) are committed; trusted.* never. Pre-images keep
 *    user.*, security.* (capabilities included: undo restores the host's
 *    own state) and ACLs. Symlinks carry no xattrs here;
 *  - times: files and symlinks get the upper's atime/mtime; dirs get the
 *    kernel's. Undo restores content, mode, owner, xattrs, not times;
 *  - special files: FIFOs and sockets the run left are skipped (counted in
 *    report.skipped; the host entry at that path, if any, stays); any
 *    other device node in the upper refuses the commit; a host FIFO,
 *    socket or device the commit would remove refuses it too (it cannot be
 *    packed);
 *  - append-only or immutable entries (chattr +a/+i): a commit that would
 *    add, replace or remove anything in such a dir, or replace or remove
 *    such a file, is refused at the scan, before anything is written (its
 *    temp files could be made there but neither renamed nor removed, and
 *    nothing it did could be undone); undo checks the same first;
 *  - bounds: 256 components below a tree root, 1,000,000 entries (upper
 *    and host entries together) per commit; deeper or bigger is refused
 *    before anything is written;
 *  - the tree root's own mode/owner are never committed (the upper root is
 *    the executor's dir, not the run's);
 *  - host hardlinks among pre-images come back as separate files on undo;
 *    a changed file that had other host names is replaced (rename), so the
 *    other names keep the old content, as with any atomic editor save;
 *  - a tree root is opened by path without symlinks; when the caller gives
 *    the lowerdir's identity (cx_ws_tree.dev/ino) a directory renamed or
 *    swapped in at that path is refused; the root's identity (f_fsid,
 *    st_ino) goes into journal and manifest, and recovery and undo touch
 *    only that directory (undo --force excepted);
 *  - the trash is the dir the caller hands over (cx_ws_dirs.trash,
 *    STATE/trash, on the file system of the run dirs and packs): a rename
 *    (instant), then a detached grandchild deletes everything in it (also
 *    what an earlier deleter left after a crash). Should it be on another
 *    file system, the path is deleted in place instead, before returning;
 *  - the engine derives no state path from another one: trash and locks
 *    dirs come in cx_ws_dirs, pack dir and journal path as arguments.
 *
 * Trust: runs as root; the upper is the run's (hostile), the host trees
 * may be changed by others at any time, the state dir is root's. No path
 * under a tree root is ever resolved through a symlink. */
#include "calyx/workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "internal.h"

/* ---- small helpers ------------------------------------------------------------ */

static int mark_file(int dfd, const char *name)
{
	_cleanup_close_ int fd =
		openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fsync(fd) < 0 || fsync(dfd) < 0)
		return -errno;
	return 0;
}

static bool has_file(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* STATE/runs/<key>/tree<i>/upper -> tree<i> (upper and work go
 * together); any other layout: the upper alone. */
static void upper_holder(const char *upper, char *out, size_t len)
{
	const char *s = strrchr(upper, '/'), *b;
	size_t n;

	snprintf(out, len, "%s", upper);
	if (!s || s == upper || strcmp(s, "/upper") != 0)
		return;
	n = (size_t)(s - upper);
	for (b = s; b > upper && b[-1] != '/'; b--)
		;
	if (strncmp(b, "tree", 4) != 0 || b + 4 == s || strspn(b + 4, "0123456789") != (size_t)(s - b - 4))
		return;
	snprintf(out, len, "%.*s", (int)n, upper);
}

static int remove_uppers(const cx_ws_dirs *d, const ws_journal *j, cx_error *err)
{
	for (size_t i = 0; i < j->n; i++) {
		char h[PATH_MAX];
		upper_holder(j->upper[i], h, sizeof(h));
		int r = ws_trash(d->trash, h, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* The dirs the state dir's owner hands over (cx_ws_dirs): the engine
 * derives no state path from another one, so both must be given. */
static int check_dirs(const cx_ws_dirs *d, cx_error *err)
{
	if (!d || !d->trash || d->trash[0] != '/' || !d->locks || d->locks[0] != '/')
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "workspace: the trash and locks dirs must be given as absolute paths");
	return 0;
}

/* The upper lies in root's state dir, which may be reached through a
 * symlink an operator set up (/var/lib -> /srv/lib); only its last
 * component must not be one. What is inside is walked like a host tree. */
static int open_upper(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- roll forward / back ------------------------------------------------------- */

/* Scan and apply every tree of the journal (fresh plans: what is already
 * applied scans as equal and is skipped). */
static int roll_forward(const ws_journal *j, cx_error *err)
{
	int hroot[CX_WS_TREES_MAX], uroot[CX_WS_TREES_MAX];
	size_t budget = WS_ENTRIES_MAX;
	int r = 0;

	for (size_t i = 0; i < j->n; i++)
		hroot[i] = uroot[i] = -1;
	for (size_t i = 0; i < j->n && r == 0; i++) {
		ws_plan plan = { 0 };
		hroot[i] = ws_open_root(j->host[i], O_RDONLY);
		uroot[i] = open_upper(j->upper[i]);
		if (hroot[i] < 0 || uroot[i] < 0) {
			int e = hroot[i] < 0 ? hroot[i] : uroot[i];
			r = cx_err(err, CX_E_WORKSPACE, -e, "cannot open '%.200s': %s",
				   hroot[i] < 0 ? j->host[i] : j->upper[i], strerror(-e));
			break;
		}
		r = ws_check_tree_id(hroot[i], j->fsid[i], j->ino[i], j->host[i], err);
		if (r == 0)
			r = ws_scan(hroot[i], uroot[i], j->host[i], &plan, &budget, err);
		if (r == 0)
			r = ws_apply(hroot[i], uroot[i], &plan, j->tag, (unsigned)i, j->host[i],
				     err);
		ws_plan_free(&plan);
	}
	close_all(hroot, j->n);
	close_all(uroot, j->n);
	return r;
}

static int open_pack(const char *pack_dir, cx_error *err)
{
	int fd = open(pack_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot open pack '%.200s': %s", pack_dir,
			      strerror(errno));
	return fd;
}

/* Every tree of the journal is still the directory the commit was made
 * on (a missing one is left to the step that needs it). */
static int check_ids(const ws_journal *j, cx_error *err)
{
	for (size_t i = 0; i < j->n; i++) {
		_cleanup_close_ int root = ws_open_root(j->host[i], O_RDONLY);
		int r = root < 0 ? 0 : ws_check_tree_id(root, j->fsid[i], j->ino[i], j->host[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Undo a commit that did not finish, from its pack; the pack then goes
 * (the commit never happened). */
static int roll_back(const cx_ws_dirs *d, const char *journal_path, const ws_journal *j,
		     cx_error *err)
{
	_cleanup_close_ int packfd = -1;
	ws_manifest m = { 0 };
	int r;

	packfd = open_pack(j->pack_dir, err);
	if (packfd < 0)
		return packfd;
	r = ws_manifest_read(j->pack_dir, false, &m, err);
	if (r == 0 && strcmp(m.tag, j->tag) != 0)
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "pack '%.200s' belongs to another commit",
			   j->pack_dir);
	if (r == 0)
		r = check_ids(j, err); /* refused: nothing changes, not even the journal */
	if (r == 0)
		r = ws_journal_write(journal_path, j, "rolling_back", err);
	if (r == 0)
		r = ws_rollback(&m, packfd, true, err);
	ws_manifest_free(&m);
	if (r < 0)
		return r;
	ws_fault("after_rollback");
	r = ws_journal_write(journal_path, j, "rolled_back", err);
	if (r == 0)
		r = ws_trash(d->trash, j->pack_dir, err);
	return r;
}

/* Applied: mark the pack, then the journal, then drop the uppers. */
static int finish(const cx_ws_dirs *d, const char *journal_path, const ws_journal *j, int packfd,
		  cx_error *err)
{
	int r = mark_file(packfd, "committed");

	if (r < 0)
		return cx_err(err, CX_E_WORKSPACE, -r, "cannot mark pack '%.200s' committed: %s",
			      j->pack_dir, strerror(-r));
	ws_fault("before_done");
	r = ws_journal_write(journal_path, j, "done", err);
	if (r < 0)
		return r;
	ws_fault("after_done");
	return remove_uppers(d, j, err);
}

/* ---- commit -------------------------------------------------------------------- */

static int check_args(const cx_ws_dirs *d, const cx_ws_tree *trees, size_t n, const char *run_key,
		      const char *run_id, const char *pack_dir, const char *journal_path,
		      cx_error *err)
{
	int r = check_dirs(d, err);

	if (r < 0)
		return r;
	if (n < 1 || n > CX_WS_TREES_MAX)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "commit of %zu trees (1 to %d)", n,
			      CX_WS_TREES_MAX);
	if (!run_key || !*run_key || strchr(run_key, '/') || !run_id || !pack_dir || !journal_path)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "commit: run key, run id and paths are required");
	for (size_t i = 0; i < n; i++) {
		if (!trees[i].host_path || trees[i].host_path[0] != '/' || !trees[i].upper ||
		    trees[i].upper[0] != '/')
			return cx_err(err, CX_E_WORKSPACE, EINVAL,
				      "commit: tree %zu needs absolute host and upper paths", i);
		for (size_t k = 0; k < i; k++)
			if (strcmp(trees[i].host_path, trees[k].host_path) == 0)
				return cx_err(err, CX_E_WORKSPACE, EINVAL,
					      "commit: tree '%.200s' is listed twice", trees[i].host_path);
	}
	return 0;
}

/* A pack dir left by a commit that died before its journal: the host was
 * never touched, the pack means nothing. A committed one is refused. */
static int fresh_pack_dir(const cx_ws_dirs *d, const char *pack_dir, cx_error *err)
{
	char p[PATH_MAX];
	struct stat st;

	if (lstat(pack_dir, &st) == 0) {
		snprintf(p, sizeof(p), "%s/committed", pack_dir);
		if (lstat(p, &st) == 0)
			return cx_err(err, CX_E_WORKSPACE, EEXIST,
				      "run '%.200s' was already committed (pack exists)", pack_dir);
		int r = ws_trash(d->trash, pack_dir, err);
		if (r < 0)
			return r;
	}
	if (mkdir(pack_dir, 0700) < 0) {
		/* its parent (STATE/packs) may not exist yet */
		char parent[PATH_MAX];
		const char *s = strrchr(pack_dir, '/');
		if (errno != ENOENT || !s || s == pack_dir)
			return cx_err(err, CX_E_WORKSPACE, errno, "cannot create pack '%.200s': %s",
				      pack_dir, strerror(errno));
		snprintf(parent, sizeof(parent), "%.*s", (int)(s - pack_dir), pack_dir);
		if ((mkdir(parent, 0700) < 0 && errno != EEXIST) || mkdir(pack_dir, 0700) < 0)
			return cx_err(err, CX_E_WORKSPACE, errno, "cannot create pack '%.200s': %s",
				      pack_dir, strerror(errno));
	}
	return 0;
}

/* One commit in progress: what its steps share. Every fd and allocation
 * in it is released by commit_free, whatever step failed. */
typedef struct commit {
	const cx_ws_dirs *d;
	const cx_ws_tree *trees;
	size_t n;                      /* trees; 0 until commit_init */
	const char *run_key, *run_id, *pack_dir, *journal_path;
	char tag[WS_TAG_LEN + 1];      /* names the commit's temp files */
	int hroot[CX_WS_TREES_MAX];    /* host tree roots */
	int uroot[CX_WS_TREES_MAX];    /* upper roots */
	int packfd;
	ws_plan plans[CX_WS_TREES_MAX];
	ws_manifest m;
	ws_journal j;
	char msha[65];                 /* of manifest.json */
} commit;

static void commit_init(commit *c, const cx_ws_dirs *d, const cx_ws_tree *trees, size_t n,
			const char *run_key, const char *run_id, const char *pack_dir,
			const char *journal_path)
{
	uint8_t rnd[WS_TAG_LEN / 2];

	c->d = d;
	c->trees = trees;
	c->run_key = run_key;
	c->run_id = run_id;
	c->pack_dir = pack_dir;
	c->journal_path = journal_path;
	for (size_t i = 0; i < n; i++)
		c->hroot[i] = c->uroot[i] = -1;
	c->n = n;
	randombytes_buf(rnd, sizeof(rnd));
	cx_hex_encode(rnd, sizeof(rnd), c->tag);
}

static void commit_free(commit *c)
{
	close_all(c->hroot, c->n);
	close_all(c->uroot, c->n);
	cx_closep(&c->packfd);
	for (size_t i = 0; i < c->n; i++)
		ws_plan_free(&c->plans[i]);
	ws_manifest_free(&c->m);
	ws_journal_free(&c->j);
}

/* A tree's root, still the directory the run's overlay had as lowerdir
 * (when the caller gave its identity); its identity goes into *fsid,
 * *ino for journal and manifest. Returns the fd or -errno. */
static int open_tree(const cx_ws_tree *t, char fsid[17], uint64_t *ino, cx_error *err)
{
	_cleanup_close_ int fd = ws_open_root(t->host_path, O_RDONLY);
	int r;

	if (fd < 0)
		return cx_err(err, CX_E_WORKSPACE, -fd, "cannot open tree '%.200s': %s%s",
			      t->host_path, strerror(-fd),
			      fd == -ELOOP ? " (its path holds a symlink)" : "");
	if (t->ino || t->dev) {
		struct stat rs;
		if (fstat(fd, &rs) < 0 || rs.st_ino != t->ino || rs.st_dev != t->dev)
			return cx_err(err, CX_E_WORKSPACE, ESTALE,
				      "commit refused: '%.200s' is no longer the directory the run started on (renamed or replaced during the run)",
				      t->host_path);
	}
	r = ws_tree_id(fd, fsid, ino);
	if (r < 0)
		return cx_err(err, CX_E_WORKSPACE, -r, "cannot stat tree '%.200s': %s", t->host_path,
			      strerror(-r));
	return TAKE_FD(fd);
}

/* 1. scan: decide everything, touch nothing */
static int commit_scan(commit *c, cx_error *err)
{
	size_t budget = WS_ENTRIES_MAX;

	for (size_t i = 0; i < c->n; i++) {
		const cx_ws_tree *t = &c->trees[i];
		int r;

		c->hroot[i] = open_tree(t, c->m.fsid[i], &c->m.ino[i], err);
		if (c->hroot[i] < 0)
			return c->hroot[i];
		c->uroot[i] = open_upper(t->upper);
		if (c->uroot[i] < 0)
			return cx_err(err, CX_E_WORKSPACE, -c->uroot[i], "cannot open upper '%.200s': %s",
				      t->upper, strerror(-c->uroot[i]));
		r = ws_scan(c->hroot[i], c->uroot[i], t->host_path, &c->plans[i], &budget, err);
		if (r < 0) {
			cx_err_prefix(err, "commit refused");
			return r;
		}
		c->m.trees[c->m.ntrees++] = cx_strdup(t->host_path);
		ws_plan_count(&c->plans[i], &c->m);
	}
	ws_fault("after_scan");
	return 0;
}

/* The pack of a commit that stopped before its journal named it means
 * nothing: it goes. Never called once the journal names the pack. */
static void drop_pack(commit *c)
{
	cx_error e2 = { 0 };

	close(TAKE_FD(c->packfd));
	ws_trash(c->d->trash, c->pack_dir, &e2);
}

/* 2. pack: pre-images and manifest (streamed: entry by entry, from the
 * plans), durable in one batch */
static int commit_pack(commit *c, cx_error *err)
{
	_cleanup_(ws_mwriter_free) ws_mwriter mw = { .fd = -1 };
	int r = fresh_pack_dir(c->d, c->pack_dir, err);

	if (r < 0)
		return r;
	c->packfd = open_pack(c->pack_dir, err);
	if (c->packfd < 0)
		return c->packfd;
	c->m.run_key = cx_strdup(c->run_key);
	c->m.run_id = cx_strdup(c->run_id);
	c->m.tag = cx_strdup(c->tag);
	c->m.committed_at = (int64_t)time(NULL);
	r = ws_mwriter_open(c->packfd, &c->m, &mw, err);
	for (size_t i = 0; i < c->n && r == 0; i++)
		r = ws_pack_tree(c->hroot[i], c->packfd, (unsigned)i, &c->plans[i], &mw, err);
	if (r == 0)
		r = ws_mwriter_close(c->packfd, &mw, c->msha, err);
	if (r == 0 && syncfs(c->packfd) < 0)
		r = cx_err(err, CX_E_WORKSPACE, errno, "cannot sync pack '%.200s': %s", c->pack_dir,
			   strerror(errno));
	if (r < 0) {
		drop_pack(c);
		return r;
	}
	ws_fault("after_pack");
	return 0;
}

/* 3. journal "packed": from here on, recovery finishes or undoes the
 * commit, and the pack is the journal's */
static int commit_journal(commit *c, cx_error *err)
{
	ws_journal *j = &c->j;
	int r;

	j->run_key = cx_strdup(c->run_key);
	j->run_id = cx_strdup(c->run_id);
	j->tag = cx_strdup(c->tag);
	j->pack_dir = cx_strdup(c->pack_dir);
	for (size_t i = 0; i < c->n; i++) {
		j->host[i] = cx_strdup(c->trees[i].host_path);
		j->upper[i] = cx_strdup(c->trees[i].upper);
		memcpy(j->fsid[i], c->m.fsid[i], sizeof(j->fsid[i]));
		j->ino[i] = c->m.ino[i];
	}
	j->n = c->n;
	r = ws_journal_write(c->journal_path, j, "packed", err);
	if (r < 0) {
		unlink(c->journal_path); /* it may have landed before the failing dir sync */
		drop_pack(c);
		return r;
	}
	ws_fault("after_packed_journal");
	return 0;
}

/* 4. apply every tree, then finish; a failed apply undoes itself from the
 * pack (recovery undoes it, never retries it, should that fail too) */
static int commit_apply(commit *c, cx_error *err)
{
	int r = ws_journal_write(c->journal_path, &c->j, "applying", err);

	if (r < 0)
		return r;
	ws_fault("after_applying_journal");
	for (size_t i = 0; i < c->n && r == 0; i++)
		r = ws_apply(c->hroot[i], c->uroot[i], &c->plans[i], c->tag, (unsigned)i,
			     c->trees[i].host_path, err);
	if (r < 0) {
		cx_error rerr = { 0 };
		/* from here on, recovery undoes it (never retries it) */
		ws_journal_write(c->journal_path, &c->j, "rolling_back", &rerr);
		if (roll_back(c->d, c->journal_path, &c->j, &rerr) == 0) {
			cx_err_prefix(err, "commit failed and was undone");
		} else {
			cx_err_prefix(err, "commit failed; undoing it failed too (%.200s): recovery will retry",
				      rerr.msg);
		}
		return r;
	}
	ws_fault("after_apply");
	close_all(c->uroot, c->n);
	return finish(c->d, c->journal_path, &c->j, c->packfd, err);
}

/* landed: what the manifest counted; else only what was skipped. */
static void commit_report(const commit *c, bool landed, cx_ws_report *ret)
{
	if (!ret)
		return;
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < c->n; i++)
		ret->skipped += c->plans[i].skipped;
	if (!landed)
		return;
	ret->added = c->m.added;
	ret->changed = c->m.changed;
	ret->deleted = c->m.deleted;
	ret->bytes = c->m.bytes;
	memcpy(ret->manifest_sha256, c->msha, sizeof(c->msha));
}

int cx_ws_commit(const cx_ws_dirs *d, const cx_ws_tree *trees, size_t n, const char *run_key,
		 const char *run_id, const char *pack_dir, const char *journal_path,
		 cx_ws_report *ret, cx_error *err)
{
	_cleanup_(commit_free) commit c = { .packfd = -1 };
	struct stat st;
	int r;

	r = check_args(d, trees, n, run_key, run_id, pack_dir, journal_path, err);
	if (r < 0)
		return r;
	if (lstat(journal_path, &st) == 0)
		return cx_err(err, CX_E_WORKSPACE, EEXIST,
			      "'%.200s' exists: an earlier commit of this run did not finish (recover it first)",
			      journal_path);
	commit_init(&c, d, trees, n, run_key, run_id, pack_dir, journal_path);
	r = commit_scan(&c, err);
	if (r < 0)
		return r;
	/* Nothing written (the common case for a command that only reads):
	 * nothing lands, so there is nothing to pack, journal or sync, and no
	 * undo to offer. The report says so with an empty manifest hash. */
	if (c.m.nent == 0) {
		commit_report(&c, false, ret);
		return 0;
	}
	r = commit_pack(&c, err);
	if (r == 0)
		r = commit_journal(&c, err);
	if (r == 0)
		r = commit_apply(&c, err);
	if (r == 0)
		commit_report(&c, true, ret);
	return r;
}

int cx_ws_upper_empty(const char *upper)
{
	int fd = open_upper(upper);
	if (fd < 0)
		return fd;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int r = 1;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			r = 0;
			break;
		}
	if (r == 1 && errno)
		r = -errno;
	closedir(d);
	return r;
}

/* ---- discard -------------------------------------------------------------------- */

int cx_ws_discard(const cx_ws_dirs *d, const char *run_dir, cx_error *err)
{
	char jp[PATH_MAX];
	struct stat st;
	int r = check_dirs(d, err);

	if (r < 0)
		return r;
	if (!run_dir || !*run_dir)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "discard: no run dir");
	if ((size_t)snprintf(jp, sizeof(jp), "%s/journal.json", run_dir) >= sizeof(jp))
		return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "run dir path too long");
	if (lstat(jp, &st) == 0) {
		/* the upper of an unfinished commit is what recovery needs */
		ws_journal j = { 0 };
		bool finished;

		r = ws_journal_read(jp, &j, err);
		finished = r == 0 && (strcmp(j.state, "done") == 0 ||
					   strcmp(j.state, "rolled_back") == 0);
		if (r == 0 && !finished)
			r = cx_err(err, CX_E_WORKSPACE, EBUSY,
				   "run dir '%.200s' holds an unfinished commit (journal '%s'): recover it first",
				   run_dir, j.state);
		ws_journal_free(&j);
		if (r < 0)
			return r;
	}
	return ws_trash(d->trash, run_dir, err);
}

/* ---- recover ------------------------------------------------------------------- */

int cx_ws_recover(const cx_ws_dirs *d, const char *journal_path, const char **ret_action,
		  cx_error *err)
{
	ws_journal j = { 0 };
	struct stat st;
	const char *action = "none";
	int r = check_dirs(d, err);

	if (r < 0)
		return r;
	if (lstat(journal_path, &st) < 0) {
		if (errno != ENOENT)
			return cx_err(err, CX_E_WORKSPACE, errno, "journal '%.200s': %s", journal_path,
				      strerror(errno));
		if (ret_action)
			*ret_action = action;
		return 0;
	}
	r = ws_journal_read(journal_path, &j, err);
	if (r < 0)
		return r;
	if (strcmp(j.state, "done") == 0 || strcmp(j.state, "rolled_back") == 0) {
		action = "cleaned";
		r = remove_uppers(d, &j, err);
		if (r == 0 && strcmp(j.state, "rolled_back") == 0)
			r = ws_trash(d->trash, j.pack_dir, err);
	} else if (strcmp(j.state, "packed") == 0 || strcmp(j.state, "applying") == 0) {
		bool uppers = true;
		for (size_t i = 0; i < j.n; i++)
			uppers = uppers && is_dir(j.upper[i]);
		if (uppers) {
			cx_error ferr = { 0 };
			_cleanup_close_ int packfd = open_pack(j.pack_dir, err);
			r = packfd < 0 ? packfd : check_ids(&j, err);
			if (r == 0)
				r = ws_journal_write(journal_path, &j, "applying", err);
			if (r == 0) {
				r = roll_forward(&j, &ferr);
				if (r == 0) {
					action = "rolled_forward";
					r = finish(d, journal_path, &j, packfd, err);
				} else {
					/* cannot finish it: undo it, and say why */
					action = "rolled_back";
					r = roll_back(d, journal_path, &j, err);
					if (r < 0)
						cx_err_prefix(err, "roll forward failed (%.200s); roll back",
							      ferr.msg);
				}
			}
		} else if (strcmp(j.state, "packed") == 0) {
			/* nothing was applied: only the pack goes */
			action = "rolled_back";
			r = ws_journal_write(journal_path, &j, "rolled_back", err);
			if (r == 0)
				r = ws_trash(d->trash, j.pack_dir, err);
		} else {
			action = "rolled_back";
			r = roll_back(d, journal_path, &j, err);
		}
		if (r == 0)
			r = remove_uppers(d, &j, err);
	} else if (strcmp(j.state, "rolling_back") == 0) {
		action = "rolled_back";
		r = roll_back(d, journal_path, &j, err);
		if (r == 0)
			r = remove_uppers(d, &j, err);
	} else {
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "journal '%.200s' has unknown state '%.32s'",
			   journal_path, j.state);
	}
	ws_journal_free(&j);
	if (r < 0) {
		cx_err_prefix(err, "recovery");
		return r;
	}
	if (ret_action)
		*ret_action = action;
	return 0;
}

/* ---- undo ------------------------------------------------------------------------ */

int cx_ws_undo(const cx_ws_dirs *d, const char *pack_dir, bool force, cx_error *err)
{
	_cleanup_close_ int packfd = -1, lock = -1;
	ws_manifest m = { 0 };
	size_t count = 0;
	char msg[CX_ERR_MSG_MAX] = "";
	int r = check_dirs(d, err);

	if (r < 0)
		return r;
	packfd = open_pack(pack_dir, err);
	if (packfd < 0)
		return packfd;
	if (!has_file(packfd, "committed"))
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "undo refused: the commit of '%.200s' never finished (nothing to undo)",
			      pack_dir);
	if (has_file(packfd, "undone"))
		return cx_err(err, CX_E_WORKSPACE, EALREADY,
			      "undo refused: '%.200s' was already undone", pack_dir);
	r = ws_manifest_read(pack_dir, false, &m, err);
	if (r < 0)
		return r;
	/* no run may write these trees, nor any tree overlapping them, while
	 * we restore them */
	r = cx_ws_lock_trees(d, (const char *const *)m.trees, m.ntrees, false, &lock, err);
	/* the tree at that path must be the one committed to (unless forced) */
	for (size_t i = 0; r == 0 && !force && i < m.ntrees; i++) {
		_cleanup_close_ int root = ws_open_root(m.trees[i], O_RDONLY);
		if (root >= 0 && (r = ws_check_tree_id(root, m.fsid[i], m.ino[i], m.trees[i], err)) < 0)
			cx_err_prefix(err, "undo refused (undo with --force to restore into it)");
	}
	/* what could not be restored: refused before anything is, forced or not */
	if (r == 0 && (r = ws_check_attrs(&m, err)) < 0)
		cx_err_prefix(err, "undo refused");
	if (r == 0)
		r = ws_check_after(&m, msg, sizeof(msg), &count, err);
	if (r == 0 && count && !force)
		r = cx_err(err, CX_E_WORKSPACE, EBUSY,
			   "undo refused: %zu path%s changed since the commit: %s (check them, then undo with --force)",
			   count, count > 1 ? "s" : "", msg);
	if (r == 0)
		r = ws_rollback(&m, packfd, !force, err);
	if (r == 0 && (r = mark_file(packfd, "undone")) < 0)
		r = cx_err(err, CX_E_WORKSPACE, -r, "cannot mark pack '%.200s' undone: %s", pack_dir,
			   strerror(-r));
	ws_manifest_free(&m);
	return r;
}

/* ---- diff ------------------------------------------------------------------------ */

static void fmt_size(uint64_t v, char *out, size_t len)
{
	if (v < 10240)
		snprintf(out, len, "%llu B", (unsigned long long)v);
	else if (v < 10ull << 20)
		snprintf(out, len, "%.1f KiB", (double)v / 1024);
	else
		snprintf(out, len, "%.1f MiB", (double)v / (1024 * 1024));
}

static void diff_line(FILE *out, const ws_ment *e, size_t width)
{
	char q[300], name[310], a[32], b[32], what[96];

	ws_quote(e->path, q, sizeof(q));
	snprintf(name, sizeof(name), "%s%s%s%s", strcmp(q, e->path) ? "\"" : "", q,
		 strcmp(q, e->path) ? "\"" : "", e->kind == WS_K_DIR ? "/" : "");
	fmt_size(e->size_b, b, sizeof(b));
	fmt_size(e->size_a, a, sizeof(a));
	if (e->kind == WS_K_DIR)
		snprintf(what, sizeof(what), "dir%s", e->op == WS_OP_CHANGED ? " mode/owner" : "");
	else if (e->kind == WS_K_SYMLINK)
		snprintf(what, sizeof(what), "symlink");
	else if (e->op == WS_OP_ADDED)
		snprintf(what, sizeof(what), "%s", a);
	else if (e->op == WS_OP_DELETED)
		snprintf(what, sizeof(what), "%s", b);
	else if (strcmp(e->sha_b, e->sha_a) == 0)
		snprintf(what, sizeof(what), "mode %o -> %o", e->mode_b, e->mode_a);
	else
		snprintf(what, sizeof(what), "%s -> %s", b, a);
	fprintf(out, " %c %-*s | %s\n", e->op == WS_OP_ADDED ? 'A' : e->op == WS_OP_CHANGED ? 'M' : 'D',
		(int)width, name, what);
}

/* Two passes over the entries (one holds at a time): the name column's
 * width (which also checks every entry before anything is printed), then
 * the lines, tree by tree (entries come in tree order). */
int cx_ws_diff(const char *pack_dir, FILE *out, cx_error *err)
{
	_cleanup_close_ int packfd = -1;
	_cleanup_(ws_manifest_free) ws_manifest m = { .fd = -1 };
	_cleanup_(ws_mcur_free) ws_mcur c = { 0 };
	const ws_ment *e;
	char when[64] = "?";
	size_t width = 0;
	unsigned tr = 0;
	struct tm tm;
	time_t t;
	int r;

	packfd = open_pack(pack_dir, err);
	if (packfd < 0)
		return packfd;
	r = ws_manifest_read(pack_dir, true, &m, err);
	if (r < 0)
		return r;
	ws_mcur_init(&c, &m);
	while ((r = ws_mcur_next(&c, &e, err)) > 0) {
		char q[300];
		size_t w = strlen(ws_quote(e->path, q, sizeof(q))) + 3;
		if (w > width)
			width = w < 60 ? w : 60;
	}
	ws_mcur_free(&c);
	if (r < 0) {
		cx_err_prefix(err, "pack '%.200s'", pack_dir);
		return r;
	}
	t = (time_t)m.committed_at;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	/* the manifest's strings through calyx/esc.h's rule, paths quoted */
	cx_esc_line(out, "run %s (lease %s), %s %s%s", m.run_id, m.run_key,
		    has_file(packfd, "committed") ? "committed" : "commit not finished,", when,
		    has_file(packfd, "undone") ? ", undone" : "");
	if (m.ntrees > 1)
		cx_esc_line(out, "%s:", m.trees[0]);
	ws_mcur_init(&c, &m);
	while ((r = ws_mcur_next(&c, &e, err)) > 0) {
		while (tr < e->tree)
			cx_esc_line(out, "%s:", m.trees[++tr]);
		diff_line(out, e, width);
	}
	if (r < 0)
		return r;
	while (m.ntrees > 1 && tr + 1 < m.ntrees)
		cx_esc_line(out, "%s:", m.trees[++tr]);
	fprintf(out, " %llu path%s: %llu added, %llu changed, %llu deleted, %llu bytes written\n",
		(unsigned long long)m.nent, m.nent == 1 ? "" : "s", (unsigned long long)m.added,
		(unsigned long long)m.changed, (unsigned long long)m.deleted,
		(unsigned long long)m.bytes);
	return ferror(out) ? cx_err(err, CX_E_IO, EIO, "cannot write the diff") : 0;
}

int cx_ws_pack_info(const char *pack_dir, char run_id[CX_WS_RUN_ID_MAX], int64_t *ret_at,
		    cx_error *err)
{
	ws_manifest m = { .fd = -1 };
	int r = ws_manifest_read(pack_dir, true, &m, err);

	if (r < 0)
		return r;
	snprintf(run_id, CX_WS_RUN_ID_MAX, "%s", m.run_id);
	*ret_at = m.committed_at;
	ws_manifest_free(&m);
	return 0;
}
