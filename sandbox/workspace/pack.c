/* Workspace rollback pack, manifest and journal.
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
 * Manifest, as documented in workspace.h, with these additions:
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
 * Written one entry per line, in tree pre-order (parents before children,
 * a path's "deleted" entry before its "added" one when its type changed):
 *   {"v":1,"run_key":"0123…","run_id":"deploy-4821","committed_at":1795334400,
 *    "tag":"9f2c…","trees":[{"index":0,"path":"/srv/app","fsid":"…","ino":131073}],
 *    "added":1,"changed":1,"deleted":0,"bytes":17,"entries":[
 *   {"tree":0,"path":"new.txt","op":"added","kind":"file","mode_after":420,
 *    "uid_after":1000,"gid_after":1000,"size_after":5,"sha256_after":"…"},
 *   {"tree":0,"path":"src/main.c","op":"changed","kind":"file",…}
 *   ]}
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

static const char *const op_names[] = { [WS_OP_ADDED] = "added", [WS_OP_CHANGED] = "changed",
					[WS_OP_DELETED] = "deleted" };
static const char *const kind_names[] = { [WS_K_FILE] = "file", [WS_K_DIR] = "dir",
					  [WS_K_SYMLINK] = "symlink" };

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

/* ---- manifest entries -------------------------------------------------------- */

ws_ment *ws_manifest_add(ws_manifest *m)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		CX_CHECK(m->e);
	}
	memset(&m->e[m->n], 0, sizeof(m->e[0]));
	return &m->e[m->n++];
}

void ws_manifest_free(ws_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].path);
		ws_xattrs_free(&m->e[i].xb);
	}
	free(m->e);
	for (size_t i = 0; i < m->ntrees; i++)
		free(m->trees[i]);
	free(m->run_key);
	free(m->run_id);
	free(m->tag);
	memset(m, 0, sizeof(*m));
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

int ws_pack_tree(int hroot, int packfd, unsigned tree, ws_manifest *m, cx_error *err)
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
	for (size_t i = 0; r == 0 && i < m->n; i++) {
		ws_ment *e = &m->e[i];
		_cleanup_close_ int fd = -1;
		const char *name;
		struct stat st;
		size_t dl;
		int pfd;
		uint8_t sha[32];

		if (e->tree != tree || !e->has_before)
			continue;
		ws_split(e->path, &dl, &name);
		r = ws_walker_dir(&w, e->path, dl, &pfd);
		if (r < 0) {
			char q[200];
			return cx_err(err, CX_E_WORKSPACE, -r,
				      "cannot open the directory of tree %u '%s': %s%s", tree,
				      ws_quote(e->path, q, sizeof(q)), strerror(-r),
				      r == -ELOOP ? " (a symlink replaced a directory of the host tree)"
						  : "");
		}
		if (e->kind == WS_K_SYMLINK) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(pfd, name, target, sizeof(target));
			if (n < 0 || (size_t)n >= sizeof(target) ||
			    fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				r = n >= 0 && (size_t)n >= sizeof(target) ? -ENAMETOOLONG : -errno;
				break;
			}
			if (!S_ISLNK(st.st_mode)) {
				r = -ESTALE;
				break;
			}
			r = put_object(ofd, -1, target, (size_t)n, sha, &e->size_b);
			e->mode_b = 0777;
		} else {
			fd = ws_open_beneath(pfd, name,
					     e->kind == WS_K_DIR
						     ? O_RDONLY | O_DIRECTORY
						     : O_RDONLY | O_NOCTTY | O_NONBLOCK);
			if (fd < 0 || fstat(fd, &st) < 0) {
				r = fd < 0 ? fd : -errno;
				break;
			}
			if (e->kind == WS_K_FILE ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)) {
				r = -ESTALE; /* the host changed since the scan */
				break;
			}
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
		if (r < 0) {
			char q[200];
			return cx_err(err, CX_E_WORKSPACE, -r,
				      "cannot save the pre-image of tree %u '%s': %s%s", tree,
				      ws_quote(e->path, q, sizeof(q)), strerror(-r),
				      r == -ESTALE ? " (the host tree changed during the commit)" : "");
		}
	}
	if (r < 0)
		return cx_err(err, CX_E_WORKSPACE, -r, "cannot save the rollback pack of tree %u: %s%s",
			      tree, strerror(-r),
			      r == -ELOOP ? " (a symlink replaced a directory of the host tree)" : "");
	return 0;
}

/* ---- manifest write --------------------------------------------------------- */

#define COPY_OUT (64u * 1024)

typedef struct outbuf {
	int fd;
	crypto_hash_sha256_state h;
	char *b;
	size_t n;
	int r;
} outbuf;

static void out_flush(outbuf *o)
{
	if (o->r == 0 && o->n)
		o->r = cx_write_all(o->fd, o->b, o->n);
	o->n = 0;
}

static void out_put(outbuf *o, const char *s, size_t len)
{
	crypto_hash_sha256_update(&o->h, (const uint8_t *)s, len);
	if (o->n + len > COPY_OUT) {
		out_flush(o);
		if (len > COPY_OUT) {
			if (o->r == 0)
				o->r = cx_write_all(o->fd, s, len);
			return;
		}
	}
	memcpy(o->b + o->n, s, len);
	o->n += len;
}

static bool utf8(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

static char *b64(const uint8_t *v, size_t len)
{
	char *b = malloc(cx_b64_len(len) + 1);
	CX_CHECK(b);
	cx_b64_encode(v, len, b);
	return b;
}

static json_t *path_field(const char *p, const char **ret_key)
{
	json_t *s = json_stringn(p, strlen(p));
	char *b;

	if (s) {
		*ret_key = "path";
		return s;
	}
	b = malloc(cx_b64_len(strlen(p)) + 1);
	CX_CHECK(b);
	cx_b64_encode((const uint8_t *)p, strlen(p), b);
	s = json_string(b);
	free(b);
	*ret_key = "path_b64";
	return s;
}

static json_t *entry_json(const ws_ment *e)
{
	const char *pk;
	json_t *j = json_object(), *pv = path_field(e->path, &pk);

	CX_CHECK(j && pv);
	json_object_set_new(j, "tree", json_integer(e->tree));
	json_object_set_new(j, pk, pv);
	json_object_set_new(j, "op", json_string(op_names[e->op]));
	json_object_set_new(j, "kind", json_string(kind_names[e->kind]));
	if (e->has_before) {
		json_object_set_new(j, "mode_before", json_integer(e->mode_b));
		json_object_set_new(j, "uid_before", json_integer(e->uid_b));
		json_object_set_new(j, "gid_before", json_integer(e->gid_b));
	}
	if (e->has_after) {
		json_object_set_new(j, "mode_after", json_integer(e->mode_a));
		json_object_set_new(j, "uid_after", json_integer(e->uid_a));
		json_object_set_new(j, "gid_after", json_integer(e->gid_a));
	}
	if (e->kind != WS_K_DIR) {
		if (e->has_before) {
			json_object_set_new(j, "size_before", json_integer((json_int_t)e->size_b));
			json_object_set_new(j, "sha256_before", json_string(e->sha_b));
		}
		if (e->has_after) {
			json_object_set_new(j, "size_after", json_integer((json_int_t)e->size_a));
			json_object_set_new(j, "sha256_after", json_string(e->sha_a));
		}
	}
	if (e->has_before && e->xb.n) {
		json_t *x = json_object(), *xb = json_object();
		CX_CHECK(x && xb);
		for (size_t i = 0; i < e->xb.n; i++) {
			const char *nm = e->xb.names[i];
			_cleanup_free_ char *b = b64(e->xb.vals[i], e->xb.lens[i]), *bn = NULL;
			/* a name that is not UTF-8 cannot be a key: its base64 is */
			if (utf8(nm, strlen(nm))) {
				CX_CHECK(json_object_set_new(x, nm, json_string(b)) == 0);
			} else {
				bn = b64((const uint8_t *)nm, strlen(nm));
				CX_CHECK(json_object_set_new(xb, bn, json_string(b)) == 0);
			}
		}
		if (json_object_size(x))
			json_object_set_new(j, "xattrs_before", x);
		else
			json_decref(x);
		if (json_object_size(xb))
			json_object_set_new(j, "xattrs_before_b64", xb);
		else
			json_decref(xb);
	}
	return j;
}

int ws_manifest_write(int packfd, const ws_manifest *m, char sha_hex[65], cx_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_json_ json_t *top = NULL, *trees = json_array();
	_cleanup_free_ char *head = NULL;
	outbuf o = { 0 };
	uint8_t sha[32];

	for (size_t i = 0; i < m->ntrees; i++)
		json_array_append_new(trees, json_pack("{s:I, s:s, s:s, s:I}", "index", (json_int_t)i,
						       "path", m->trees[i], "fsid", m->fsid[i], "ino",
						       (json_int_t)m->ino[i]));
	top = json_pack("{s:i, s:s, s:s, s:I, s:s, s:O, s:I, s:I, s:I, s:I}", "v", 1, "run_key",
			m->run_key, "run_id", m->run_id, "committed_at", (json_int_t)m->committed_at,
			"tag", m->tag, "trees", trees, "added", (json_int_t)m->added, "changed",
			(json_int_t)m->changed, "deleted", (json_int_t)m->deleted, "bytes",
			(json_int_t)m->bytes);
	if (!top)
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "cannot write the manifest: run key, run id or a tree path is not UTF-8");
	head = cx_json_dump(top);
	CX_CHECK(head && head[strlen(head) - 1] == '}');
	fd = openat(packfd, "manifest.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create the manifest: %s",
			      strerror(errno));
	o.fd = fd;
	o.b = malloc(COPY_OUT);
	CX_CHECK(o.b);
	crypto_hash_sha256_init(&o.h);
	out_put(&o, head, strlen(head) - 1);
	out_put(&o, ",\"entries\":[\n", 13);
	for (size_t i = 0; i < m->n; i++) {
		json_t *j = entry_json(&m->e[i]);
		char *s = cx_json_dump(j);
		CX_CHECK(s);
		if (i)
			out_put(&o, ",\n", 2);
		out_put(&o, s, strlen(s));
		free(s);
		json_decref(j);
	}
	out_put(&o, "\n]}\n", 4);
	out_flush(&o);
	free(o.b);
	crypto_hash_sha256_final(&o.h, sha);
	if (o.r < 0)
		return cx_err(err, CX_E_WORKSPACE, -o.r, "cannot write the manifest: %s",
			      strerror(-o.r));
	if (fsync(fd) < 0 || renameat(packfd, "manifest.json.tmp", packfd, "manifest.json") < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot write the manifest: %s",
			      strerror(errno));
	cx_hex_encode(sha, 32, sha_hex);
	return 0;
}

/* Optional "fsid" (16 hex) and "ino" of a tree; both or neither. */
static int tree_id_fields(const json_t *t, const char *what, char fsid[17], uint64_t *ino,
			  cx_error *err)
{
	const char *s = NULL;
	int64_t v = 0;
	int r;

	fsid[0] = '\0';
	*ino = 0;
	if (!json_object_get(t, "fsid") && !json_object_get(t, "ino"))
		return 0;
	if ((r = cx_json_str(t, "fsid", what, CX_E_WORKSPACE, 16, false, &s, err)) < 0 ||
	    (r = cx_json_int(t, "ino", what, CX_E_WORKSPACE, 0, INT64_MAX, false, &v, err)) < 0)
		return r;
	if (!cx_is_lower_hex(s, 16))
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s.fsid is not 16 hex chars", what);
	memcpy(fsid, s, 17);
	*ino = (uint64_t)v;
	return 0;
}

/* ---- manifest read ----------------------------------------------------------- */

static int find_name(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

static int u32_field(const json_t *j, const char *key, const char *what, bool need, uint32_t *ret,
		     cx_error *err)
{
	int64_t v = 0;
	int r = cx_json_int(j, key, what, CX_E_WORKSPACE, 0, UINT32_MAX, !need, &v, err);
	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

/* "xattrs_before" (name -> base64 value) and "xattrs_before_b64" (base64
 * name -> base64 value, for names that are not UTF-8), either optional. */
static int parse_xattrs(const json_t *j, const char *what, ws_ment *e, cx_error *err)
{
	const json_t *x = json_object_get(j, "xattrs_before"),
		     *xb = json_object_get(j, "xattrs_before_b64");
	size_t n = json_object_size(x) + json_object_size(xb);

	if (!x && !xb)
		return 0;
	if ((x && !json_is_object(x)) || (xb && !json_is_object(xb)) || !e->has_before ||
	    n > WS_XATTR_LIST_MAX)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s.xattrs_before is invalid", what);
	e->xb.names = cx_calloc(n + 1, sizeof(char *));
	e->xb.vals = cx_calloc(n + 1, sizeof(uint8_t *));
	e->xb.lens = cx_calloc(n + 1, sizeof(size_t));
	for (int enc = 0; enc < 2; enc++) {
		const char *k2;
		json_t *val;
		json_object_foreach(enc ? (json_t *)xb : (json_t *)x, k2, val) {
			_cleanup_free_ uint8_t *b = malloc(WS_XATTR_VALUE_MAX + 1);
			_cleanup_free_ char *name = NULL;
			long len, nl;
			CX_CHECK(b);
			if (enc) {
				/* XATTR_NAME_MAX is 255 */
				name = cx_calloc(1, 256);
				nl = cx_b64_decode(k2, strlen(k2), (uint8_t *)name, 1, 255);
				if (nl < 0 || memchr(name, 0, (size_t)nl) || utf8(name, (size_t)nl))
					nl = -1; /* canonical: a UTF-8 name goes in "xattrs_before" */
			} else {
				name = cx_strdup(k2);
				nl = 0;
			}
			if (nl < 0 || !json_is_string(val) || !ws_xattr_wanted(name, WS_XA_PREIMAGE) ||
			    (len = cx_b64_decode(json_string_value(val), json_string_length(val), b, 0,
						 WS_XATTR_VALUE_MAX)) < 0)
				return cx_err(err, CX_E_WORKSPACE, EINVAL,
					      "%s.xattrs_before%s['%.64s'] is invalid", what,
					      enc ? "_b64" : "", k2);
			e->xb.names[e->xb.n] = TAKE_PTR(name);
			e->xb.vals[e->xb.n] = TAKE_PTR(b);
			e->xb.lens[e->xb.n++] = (size_t)len;
		}
	}
	return 0;
}

static int parse_entry(const json_t *j, size_t idx, size_t ntrees, ws_ment *e, cx_error *err)
{
	static const char *const req[] = { "tree", "op", "kind", NULL };
	static const char *const opt[] = { "path", "path_b64", "mode_before", "mode_after",
					   "uid_before", "gid_before", "uid_after", "gid_after",
					   "size_before", "size_after", "sha256_before",
					   "sha256_after", "xattrs_before", "xattrs_before_b64",
					   NULL };
	char what[64];
	const char *s, *pb = NULL;
	int64_t v;
	int r, k;

	snprintf(what, sizeof(what), "manifest.entries[%zu]", idx);
	r = cx_json_keys(j, what, CX_E_WORKSPACE, req, opt, err);
	if (r == 0)
		r = cx_json_int(j, "tree", what, CX_E_WORKSPACE, 0, (int64_t)ntrees - 1, false, &v, err);
	if (r < 0)
		return r;
	e->tree = (unsigned)v;
	if ((r = cx_json_str(j, "op", what, CX_E_WORKSPACE, 16, false, &s, err)) < 0)
		return r;
	if ((k = find_name(op_names, CX_ARRAY_SIZE(op_names), s)) < 0)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s.op '%.16s' is unknown", what, s);
	e->op = (uint8_t)k;
	if ((r = cx_json_str(j, "kind", what, CX_E_WORKSPACE, 16, false, &s, err)) < 0)
		return r;
	if ((k = find_name(kind_names, CX_ARRAY_SIZE(kind_names), s)) < 0)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s.kind '%.16s' is unknown", what, s);
	e->kind = (uint8_t)k;
	if (json_object_get(j, "path")) {
		if ((r = cx_json_str(j, "path", what, CX_E_WORKSPACE, 1u << 17, false, &s, err)) < 0)
			return r;
		e->path = cx_strdup(s);
	} else {
		uint8_t *b = malloc(1u << 17);
		long n;
		CX_CHECK(b);
		if ((r = cx_json_str(j, "path_b64", what, CX_E_WORKSPACE, 1u << 18, false, &pb, err)) < 0) {
			free(b);
			return r;
		}
		n = cx_b64_decode(pb, strlen(pb), b, 1, (1u << 17) - 1);
		if (n < 0 || memchr(b, 0, (size_t)n)) {
			free(b);
			return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s.path_b64 is not a valid path", what);
		}
		b[n] = 0;
		e->path = realloc(b, (size_t)n + 1);
		CX_CHECK(e->path);
	}
	if (!ws_path_ok(e->path))
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "%s.path is not a relative path inside the tree", what);
	e->has_before = e->op != WS_OP_ADDED;
	e->has_after = e->op != WS_OP_DELETED;
	if (e->has_before &&
	    ((r = u32_field(j, "mode_before", what, true, &e->mode_b, err)) < 0 ||
	     (r = u32_field(j, "uid_before", what, true, &e->uid_b, err)) < 0 ||
	     (r = u32_field(j, "gid_before", what, true, &e->gid_b, err)) < 0))
		return r;
	if (e->has_after &&
	    ((r = u32_field(j, "mode_after", what, true, &e->mode_a, err)) < 0 ||
	     (r = u32_field(j, "uid_after", what, true, &e->uid_a, err)) < 0 ||
	     (r = u32_field(j, "gid_after", what, true, &e->gid_a, err)) < 0))
		return r;
	if ((e->mode_b | e->mode_a) & ~07777u)
		return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s: mode out of range", what);
	if (e->kind != WS_K_DIR) {
		for (int side = 0; side < 2; side++) {
			bool on = side ? e->has_after : e->has_before;
			const char *sk = side ? "size_after" : "size_before";
			const char *hk = side ? "sha256_after" : "sha256_before";
			if (!on)
				continue;
			if ((r = cx_json_int(j, sk, what, CX_E_WORKSPACE, 0, INT64_MAX, false, &v,
					     err)) < 0 ||
			    (r = cx_json_str(j, hk, what, CX_E_WORKSPACE, 64, false, &s, err)) < 0)
				return r;
			if (!cx_is_lower_hex(s, 64))
				return cx_err(err, CX_E_WORKSPACE, EINVAL, "%s.%s is not 64 lowercase hex",
					      what, hk);
			if (side) {
				e->size_a = (uint64_t)v;
				memcpy(e->sha_a, s, 65);
			} else {
				e->size_b = (uint64_t)v;
				memcpy(e->sha_b, s, 65);
			}
		}
	}
	r = parse_xattrs(j, what, e, err);
	return r;
}

int ws_manifest_read(const char *pack_dir, ws_manifest *ret, cx_error *err)
{
	static const char *const req[] = { "v", "run_key", "run_id", "committed_at", "tag", "trees",
					   "entries", "added", "changed", "deleted", "bytes", NULL };
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *j = NULL;
	char path[PATH_MAX];
	ws_manifest m = { 0 };
	const char *s;
	json_t *trees, *entries, *t;
	size_t len, i;
	int64_t v;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/manifest.json", pack_dir) >= sizeof(path))
		return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "pack path too long");
	r = cx_read_file(path, "manifest", WS_MANIFEST_MAX, 0, 0, &buf, &len, err);
	if (r == 0)
		r = cx_json_parse_object(buf, len, "manifest", &j, err);
	if (r == 0)
		r = cx_json_keys(j, "manifest", CX_E_WORKSPACE, req, NULL, err);
	if (r == 0)
		r = cx_json_int(j, "v", "manifest", CX_E_WORKSPACE, 1, 1, false, &v, err);
	if (r == 0 && (r = cx_json_int(j, "committed_at", "manifest", CX_E_WORKSPACE, 0, INT64_MAX,
				       false, &m.committed_at, err)) == 0) {
		const char *keys[] = { "run_key", "run_id", "tag" };
		char **dst[] = { &m.run_key, &m.run_id, &m.tag };
		for (i = 0; r == 0 && i < 3; i++)
			if ((r = cx_json_str(j, keys[i], "manifest", CX_E_WORKSPACE, 256, false, &s,
					     err)) == 0)
				*dst[i] = cx_strdup(s);
		if (r == 0 && !cx_is_lower_hex(m.tag, WS_TAG_LEN))
			r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.tag is not %d hex chars",
				   WS_TAG_LEN);
	}
	if (r == 0) {
		const char *keys[] = { "added", "changed", "deleted", "bytes" };
		uint64_t *dst[] = { &m.added, &m.changed, &m.deleted, &m.bytes };
		for (i = 0; r == 0 && i < 4; i++)
			if ((r = cx_json_int(j, keys[i], "manifest", CX_E_WORKSPACE, 0, INT64_MAX, false,
					     &v, err)) == 0)
				*dst[i] = (uint64_t)v;
	}
	trees = json_object_get(j, "trees");
	entries = json_object_get(j, "entries");
	if (r == 0 && (!json_is_array(trees) || json_array_size(trees) < 1 ||
		       json_array_size(trees) > CX_WS_TREES_MAX || !json_is_array(entries) ||
		       json_array_size(entries) > WS_ENTRIES_MAX))
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.trees or .entries is invalid");
	json_array_foreach(r == 0 ? trees : NULL, i, t) {
		static const char *const treq[] = { "index", "path", NULL };
		static const char *const topt[] = { "fsid", "ino", NULL };
		if ((r = cx_json_keys(t, "manifest.trees[]", CX_E_WORKSPACE, treq, topt, err)) < 0 ||
		    (r = tree_id_fields(t, "manifest.trees[]", m.fsid[i], &m.ino[i], err)) < 0 ||
		    (r = cx_json_int(t, "index", "manifest.trees[]", CX_E_WORKSPACE, (int64_t)i,
				     (int64_t)i, false, &v, err)) < 0 ||
		    (r = cx_json_str(t, "path", "manifest.trees[]", CX_E_WORKSPACE, PATH_MAX - 1, false,
				     &s, err)) < 0)
			break;
		if (s[0] != '/') {
			r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.trees[%zu].path is not absolute", i);
			break;
		}
		m.trees[m.ntrees++] = cx_strdup(s);
	}
	json_array_foreach(r == 0 ? entries : NULL, i, t) {
		ws_ment *e = ws_manifest_add(&m);
		if ((r = parse_entry(t, i, m.ntrees, e, err)) < 0)
			break;
	}
	if (r < 0) {
		ws_manifest_free(&m);
		cx_err_prefix(err, "pack '%.200s'", pack_dir);
		return r;
	}
	*ret = m;
	return 0;
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
		    (r = tree_id_fields(t, "journal.trees[]", j.fsid[i], &j.ino[i], err)) < 0 ||
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
