/* Workspace rollback pack (pre-images) and journal.
 *
 * Pack layout (STATE/packs/<run_key>/):
 *   tree<i>/<sha256 hex>   pre-image objects: the content of a file, or the
 *                          target of a symlink, the commit changed or
 *                          deleted (content-addressed: identical pre-images
 *                          are stored once; mode 0400)
 *   manifest.json          what the commit changed (below)
 *   committed              empty; written when the commit is applied: a
 *                          pack without it never reached the host (undo
 *                          refuses it)
 *   undone                 empty; written when `calyx-ctl rollback` undid it
 *
 * Pre-images are copied sparse (ws_copy: only the data segments,
 * SEEK_DATA/SEEK_HOLE; holes stay holes), hashed over their full logical
 * content. Each entry's pre-image is saved and its manifest line written
 * (manifest.c: v2, JSON Lines) in one pass over the plan, so the commit
 * holds no manifest in memory beyond the plan itself.
 *
 * Manifest: manifest.c documents both formats (v2, JSON Lines, written;
 * v1, one JSON object, still read); the entry fields beyond workspace.h's:
 *   "tag"                       random 16 hex chars naming the commit's
 *                               temp files (.calyx-<tag>-…)
 *   "uid_before", "gid_before", "uid_after", "gid_after"
 *   "xattrs_before": {"user.a": "<base64>"}
 *                               pre-image xattrs (user.*, security.*,
 *                               system.posix_acl_*), when any
 *   "xattrs_before_b64": {"<base64 of the name>": "<base64>"}
 *                               the same for names that are not UTF-8
 *                               (JSON keys must be); a name is in one of
 *                               the two, UTF-8 ones always in the first
 *   "path_b64" instead of "path" when the name is not valid UTF-8
 *   trees[].fsid, trees[].ino   the root's identity (statfs f_fsid, st_ino)
 *
 * Journal (STATE/runs/<run_key>/journal.json), replaced atomically
 * (cx_write_file_atomic: fsync of file and dir) at each state:
 *   {"v":1,"state":"applying","run_key":"…","run_id":"…","tag":"…",
 *    "pack_dir":"/var/lib/calyx/packs/…",
 *    "trees":[{"path":"/srv/app","upper":"/var/lib/calyx/runs/…/tree0/upper",
 *              "fsid":"5f3c9a0e12d4b7a1","ino":131073}]}
 * States: packed, applying, done (workspace.h), plus rolling_back and
 * rolled_back when an apply failed and the commit undid itself.
 *
 * Trust: runs as root. Pack and journal live in the root-owned state dir;
 * they are still parsed strictly (exact keys, bounded sizes, paths checked
 * with ws_path_ok) so a damaged file is refused, never half-used. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"

const char *ws_quote(const char *s, char *out, size_t len)
{
	size_t o = 0;

	CX_CHECK(len >= 8);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char t[8];
		size_t n;
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
			static const char esc[] = "\a\b\t\n\v\f\r";
			const char *e = *p ? strchr(esc, *p) : NULL;
			if (*p == '"' || *p == '\\')
				n = (size_t)snprintf(t, sizeof(t), "\\%c", *p);
			else if (e)
				n = (size_t)snprintf(t, sizeof(t), "\\%c", "abtnvfr"[e - esc]);
			else
				n = (size_t)snprintf(t, sizeof(t), "\\%03o", *p);
		} else {
			t[0] = (char)*p;
			n = 1;
		}
		if (o + n + 4 > len) {
			memcpy(out + o, "...", 4);
			return out;
		}
		memcpy(out + o, t, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

int ws_pack_open_object(int packfd, unsigned tree, const char *sha_hex)
{
	char p[96];

	if (!cx_is_lower_hex(sha_hex, 64))
		return -EINVAL;
	snprintf(p, sizeof(p), "tree%u/%s", tree, sha_hex);
	return ws_open_beneath(packfd, p, O_RDONLY | O_NOCTTY);
}

/* Store bytes from fd (or buf) as an object; hash into sha. */
static int put_object(int ofd, int fd, const void *buf, size_t len, uint8_t sha[32],
		      uint64_t *ret_len)
{
	_cleanup_close_ int t = -1;
	char hex[65];
	int r;

	t = openat(ofd, "object.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (t < 0)
		return -errno;
	if (fd >= 0) {
		r = ws_copy(fd, t, sha, ret_len);
		if (r == 0 && *ret_len >= 1 << 20) /* writeback starts now, syncfs waits less */
			sync_file_range(t, 0, 0, SYNC_FILE_RANGE_WRITE);
	} else {
		crypto_hash_sha256(sha, buf, len);
		*ret_len = len;
		r = cx_write_all(t, buf, len);
	}
	if (r < 0)
		return r;
	cx_hex_encode(sha, 32, hex);
	if (renameat(ofd, "object.tmp", ofd, hex) < 0)
		return -errno;
	return 0;
}

/* Save the pre-image of e (under pfd, as name) and fill its before
 * fields. */
static int save_preimage(int pfd, const char *name, int ofd, ws_ment *e)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint8_t sha[32];
	int r = 0;

	if (e->kind == WS_K_SYMLINK) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(pfd, name, target, sizeof(target));
		if (n < 0 || (size_t)n >= sizeof(target) ||
		    fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return n >= 0 && (size_t)n >= sizeof(target) ? -ENAMETOOLONG : -errno;
		if (!S_ISLNK(st.st_mode))
			return -ESTALE;
		r = put_object(ofd, -1, target, (size_t)n, sha, &e->size_b);
		e->mode_b = 0777;
	} else {
		fd = ws_open_beneath(pfd, name,
				     e->kind == WS_K_DIR ? O_RDONLY | O_DIRECTORY
							 : O_RDONLY | O_NOCTTY | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) < 0)
			return fd < 0 ? fd : -errno;
		if (e->kind == WS_K_FILE ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))
			return -ESTALE; /* the host changed since the scan */
		if (e->kind == WS_K_FILE)
			r = put_object(ofd, fd, NULL, 0, sha, &e->size_b);
		if (r == 0)
			r = ws_xattrs_read(fd, WS_XA_PREIMAGE, &e->xb);
		e->mode_b = (uint32_t)(st.st_mode & 07777);
	}
	e->uid_b = (uint32_t)st.st_uid;
	e->gid_b = (uint32_t)st.st_gid;
	if (e->kind != WS_K_DIR)
		cx_hex_encode(sha, 32, e->sha_b);
	return r;
}

int ws_pack_tree(int hroot, int packfd, unsigned tree, const ws_plan *p, ws_mwriter *mw,
		 cx_error *err)
{
	_cleanup_close_ int ofd = -1;
	_cleanup_(ws_walker_free) ws_walker w = { 0 }; /* safe before ws_walker_init */
	char td[32];
	int r = 0;

	snprintf(td, sizeof(td), "tree%u", tree);
	if (mkdirat(packfd, td, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create the pack's '%s': %s", td,
			      strerror(errno));
	ofd = ws_open_beneath(packfd, td, O_RDONLY | O_DIRECTORY);
	if (ofd < 0)
		return cx_err(err, CX_E_WORKSPACE, -ofd, "cannot open the pack's '%s': %s", td,
			      strerror(-ofd));
	ws_walker_init(&w, hroot);
	for (size_t i = 0; r == 0 && i < p->n; i++) {
		ws_ment e;
		const char *name;
		char q[200];
		size_t dl;
		int pfd;

		if (!ws_plan_entry(&p->v[i], tree, &e))
			continue;
		if (e.has_before) {
			ws_split(e.path, &dl, &name);
			r = ws_walker_dir(&w, e.path, dl, &pfd);
			if (r < 0)
				return cx_err(err, CX_E_WORKSPACE, -r,
					      "cannot open the directory of tree %u '%s': %s%s", tree,
					      ws_quote(e.path, q, sizeof(q)), strerror(-r),
					      r == -ELOOP ? " (a symlink replaced a directory of the host tree)"
							  : "");
			r = save_preimage(pfd, name, ofd, &e);
			if (r < 0) {
				ws_xattrs_free(&e.xb);
				return cx_err(err, CX_E_WORKSPACE, -r,
					      "cannot save the pre-image of tree %u '%s': %s%s", tree,
					      ws_quote(e.path, q, sizeof(q)), strerror(-r),
					      r == -ESTALE ? " (the host tree changed during the commit)" : "");
			}
		}
		r = ws_mwriter_add(mw, &e, err);
		ws_xattrs_free(&e.xb);
	}
	return r;
}

/* ---- journal ------------------------------------------------------------------ */

int ws_journal_write(const char *path, const ws_journal *j, const char *state, cx_error *err)
{
	_cleanup_json_ json_t *trees = json_array(), *o = NULL;
	_cleanup_free_ char *s = NULL;
	int r;

	for (size_t i = 0; i < j->n; i++)
		json_array_append_new(trees, json_pack("{s:s, s:s, s:s, s:I}", "path", j->host[i],
						       "upper", j->upper[i], "fsid", j->fsid[i], "ino",
						       (json_int_t)j->ino[i]));
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:O}", "v", 1, "state", state, "run_key",
		      j->run_key, "run_id", j->run_id, "tag", j->tag, "pack_dir", j->pack_dir,
		      "trees", trees);
	if (!o || json_array_size(trees) != j->n)
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "cannot write the journal: a path or id is not UTF-8");
	s = cx_json_dump_pretty(o);
	CX_CHECK(s);
	r = cx_write_file_atomic(path, s, strlen(s), 0600, err);
	if (r < 0)
		cx_err_prefix(err, "journal");
	return r;
}

void ws_journal_free(ws_journal *j)
{
	free(j->state);
	free(j->run_key);
	free(j->run_id);
	free(j->tag);
	free(j->pack_dir);
	for (size_t i = 0; i < j->n; i++) {
		free(j->host[i]);
		free(j->upper[i]);
	}
	memset(j, 0, sizeof(*j));
}

int ws_journal_read(const char *path, ws_journal *ret, cx_error *err)
{
	static const char *const req[] = { "v", "state", "run_key", "run_id", "tag", "pack_dir",
					   "trees", NULL };
	static const char *const treq[] = { "path", "upper", NULL };
	static const char *const topt[] = { "fsid", "ino", NULL };
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *o = NULL;
	ws_journal j = { 0 };
	const char *keys[] = { "state", "run_key", "run_id", "tag", "pack_dir" };
	char **dst[] = { &j.state, &j.run_key, &j.run_id, &j.tag, &j.pack_dir };
	json_t *trees, *t;
	const char *s;
	size_t len, i;
	int64_t v;
	int r;

	r = cx_read_file(path, "journal", WS_JOURNAL_MAX, 0, 0, &buf, &len, err);
	if (r == 0)
		r = cx_json_parse_object(buf, len, "journal", &o, err);
	if (r == 0)
		r = cx_json_keys(o, "journal", CX_E_WORKSPACE, req, NULL, err);
	if (r == 0)
		r = cx_json_int(o, "v", "journal", CX_E_WORKSPACE, 1, 1, false, &v, err);
	for (i = 0; r == 0 && i < CX_ARRAY_SIZE(keys); i++)
		if ((r = cx_json_str(o, keys[i], "journal", CX_E_WORKSPACE, PATH_MAX - 1, false, &s,
				     err)) == 0)
			*dst[i] = cx_strdup(s);
	if (r == 0 && !cx_is_lower_hex(j.tag, WS_TAG_LEN))
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "journal.tag is invalid");
	trees = json_object_get(o, "trees");
	if (r == 0 && (!json_is_array(trees) || json_array_size(trees) < 1 ||
		       json_array_size(trees) > CX_WS_TREES_MAX))
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "journal.trees is invalid");
	json_array_foreach(r == 0 ? trees : NULL, i, t) {
		const char *h, *u;
		if ((r = cx_json_keys(t, "journal.trees[]", CX_E_WORKSPACE, treq, topt, err)) < 0 ||
		    (r = ws_tree_id_fields(t, "journal.trees[]", j.fsid[i], &j.ino[i], err)) < 0 ||
		    (r = cx_json_str(t, "path", "journal.trees[]", CX_E_WORKSPACE, PATH_MAX - 1, false,
				     &h, err)) < 0 ||
		    (r = cx_json_str(t, "upper", "journal.trees[]", CX_E_WORKSPACE, PATH_MAX - 1,
				     false, &u, err)) < 0)
			break;
		j.host[j.n] = cx_strdup(h);
		j.upper[j.n++] = cx_strdup(u);
	}
	if (r < 0) {
		ws_journal_free(&j);
		cx_err_prefix(err, "journal '%.200s'", path);
		return r;
	}
	*ret = j;
	return 0;
}
