/* Workspace manifest: what a commit changed, written and read entry by
 * entry so that memory never grows with the number of entries.
 *
 * Format v2 (JSON Lines, STATE/packs/<run_key>/manifest.json): a header
 * line, then exactly "entries" lines, one entry object each, in tree
 * order and, within a tree, pre-order (parents before children, a path's
 * "deleted" entry, then the deleted subtree beneath it, before its
 * "added" one when its type changed). Every line is one compact JSON
 * object (ASCII, JSON_ENSURE_ASCII: no raw newline inside), ends with
 * '\n' and is at most WS_MLINE_MAX bytes:
 *   {"v":2,"run_key":"0123…","run_id":"deploy-4821","committed_at":1795334400,
 *    "tag":"9f2c…","trees":[{"index":0,"path":"/srv/app","fsid":"…","ino":131073}],
 *    "added":1,"changed":1,"deleted":0,"bytes":17,"entries":2}
 *   {"tree":0,"path":"new.txt","op":"added","kind":"file","mode_after":420,
 *    "uid_after":1000,"gid_after":1000,"size_after":5,"sha256_after":"…"}
 *   {"tree":0,"path":"src/main.c","op":"changed","kind":"file",…}
 * Entry keys (workspace.h): tree, path (or path_b64 for names that are
 * not UTF-8), op, kind, mode/uid/gid/size/sha256 _before and _after,
 * xattrs_before (name -> base64) and xattrs_before_b64 (base64 name ->
 * base64, names that are not UTF-8). "entries" (= added + changed +
 * deleted) lets a reader tell a cut file from a whole one.
 *
 * Format v1 (packs made before v2): one JSON object with the same header
 * keys ("v":1) and "entries" an array of the same entry objects. Still
 * read (whole, at most WS_MANIFEST_MAX bytes, as it always was), never
 * written.
 *
 * Readers: ws_manifest_read parses the header and checks every entry
 * once (a damaged manifest is refused before anything is restored), then
 * cursors (ws_mcur) go through the entries as often as a step needs,
 * each holding one line. A v1 manifest's entries are held in memory.
 *
 * Trust: runs as root; the pack is in root's state dir but is parsed
 * strictly anyway (exact keys, bounded sizes, paths checked with
 * ws_path_ok), so a damaged file is refused, never half-used. */
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

#define MBUF_MIN (64u * 1024)

void ws_ment_free(ws_ment *e)
{
	free(e->path);
	ws_xattrs_free(&e->xb);
	memset(e, 0, sizeof(*e));
}

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
	for (size_t i = 0; i < m->n; i++)
		ws_ment_free(&m->e[i]);
	free(m->e);
	for (size_t i = 0; i < m->ntrees; i++)
		free(m->trees[i]);
	free(m->run_key);
	free(m->run_id);
	free(m->tag);
	if (m->version == 2 && m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
}

/* ---- write ------------------------------------------------------------------ */

static void out_flush(ws_mwriter *o)
{
	if (o->r == 0 && o->n)
		o->r = cx_write_all(o->fd, o->b, o->n);
	o->n = 0;
}

static void out_put(ws_mwriter *o, const char *s, size_t len)
{
	crypto_hash_sha256_update(&o->h, (const uint8_t *)s, len);
	if (o->n + len > MBUF_MIN) {
		out_flush(o);
		if (len > MBUF_MIN) {
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
	b = b64((const uint8_t *)p, strlen(p));
	s = json_string(b);
	free(b);
	*ret_key = "path_b64";
	return s;
}

static void xattrs_json(json_t *j, const ws_ment *e)
{
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
	if (e->has_before && e->xb.n)
		xattrs_json(j, e);
	return j;
}

int ws_mwriter_open(int packfd, const ws_manifest *m, ws_mwriter *w, cx_error *err)
{
	_cleanup_json_ json_t *top = NULL, *trees = json_array();
	_cleanup_free_ char *head = NULL;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	for (size_t i = 0; i < m->ntrees; i++)
		json_array_append_new(trees, json_pack("{s:I, s:s, s:s, s:I}", "index", (json_int_t)i,
						       "path", m->trees[i], "fsid", m->fsid[i], "ino",
						       (json_int_t)m->ino[i]));
	top = json_pack("{s:i, s:s, s:s, s:I, s:s, s:O, s:I, s:I, s:I, s:I, s:I}", "v", 2, "run_key",
			m->run_key, "run_id", m->run_id, "committed_at", (json_int_t)m->committed_at,
			"tag", m->tag, "trees", trees, "added", (json_int_t)m->added, "changed",
			(json_int_t)m->changed, "deleted", (json_int_t)m->deleted, "bytes",
			(json_int_t)m->bytes, "entries", (json_int_t)m->nent);
	if (!top || json_array_size(trees) != m->ntrees)
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "cannot write the manifest: run key, run id or a tree path is not UTF-8");
	head = cx_json_dump(top);
	w->fd = openat(packfd, "manifest.json.tmp",
		       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot create the manifest: %s",
			      strerror(errno));
	w->b = malloc(MBUF_MIN);
	CX_CHECK(w->b);
	w->want = m->nent;
	crypto_hash_sha256_init(&w->h);
	out_put(w, head, strlen(head));
	out_put(w, "\n", 1);
	return 0;
}

int ws_mwriter_add(ws_mwriter *w, const ws_ment *e, cx_error *err)
{
	json_t *j = entry_json(e);
	char *s = cx_json_dump(j);
	size_t len = strlen(s);

	json_decref(j);
	if (len >= WS_MLINE_MAX) {
		char q[200];
		free(s);
		return cx_err(err, CX_E_WORKSPACE, E2BIG,
			      "cannot record '%s' in the manifest: its entry takes %zu bytes, more than %u (too many or too large extended attributes)",
			      ws_quote(e->path, q, sizeof(q)), len, WS_MLINE_MAX - 1);
	}
	out_put(w, s, len);
	out_put(w, "\n", 1);
	free(s);
	w->count++;
	return w->r < 0 ? cx_err(err, CX_E_WORKSPACE, -w->r, "cannot write the manifest: %s",
				 strerror(-w->r))
			: 0;
}

int ws_mwriter_close(int packfd, ws_mwriter *w, char sha_hex[65], cx_error *err)
{
	uint8_t sha[32];

	CX_CHECK(w->count == w->want); /* the header's "entries" */
	out_flush(w);
	crypto_hash_sha256_final(&w->h, sha);
	if (w->r < 0)
		return cx_err(err, CX_E_WORKSPACE, -w->r, "cannot write the manifest: %s",
			      strerror(-w->r));
	if (fsync(w->fd) < 0 || renameat(packfd, "manifest.json.tmp", packfd, "manifest.json") < 0)
		return cx_err(err, CX_E_WORKSPACE, errno, "cannot write the manifest: %s",
			      strerror(errno));
	cx_hex_encode(sha, 32, sha_hex);
	return 0;
}

void ws_mwriter_free(ws_mwriter *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->b);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

/* ---- parse ------------------------------------------------------------------ */

int ws_tree_id_fields(const json_t *t, const char *what, char fsid[17], uint64_t *ino,
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


/* The top-level keys of either format; v1's "entries" is the array of
 * entries, v2's their count. */
static int parse_header(const json_t *j, int version, ws_manifest *m, cx_error *err)
{
	static const char *const req[] = { "v", "run_key", "run_id", "committed_at", "tag", "trees",
					   "entries", "added", "changed", "deleted", "bytes", NULL };
	const char *keys[] = { "run_key", "run_id", "tag" };
	char **dst[] = { &m->run_key, &m->run_id, &m->tag };
	const char *ckeys[] = { "added", "changed", "deleted", "bytes" };
	uint64_t *cdst[] = { &m->added, &m->changed, &m->deleted, &m->bytes };
	const json_t *trees = json_object_get(j, "trees"), *entries = json_object_get(j, "entries");
	const json_t *t;
	const char *s;
	size_t i;
	int64_t v;
	int r;

	r = cx_json_keys(j, "manifest", CX_E_WORKSPACE, req, NULL, err);
	if (r == 0)
		r = cx_json_int(j, "v", "manifest", CX_E_WORKSPACE, version, version, false, &v, err);
	if (r == 0)
		r = cx_json_int(j, "committed_at", "manifest", CX_E_WORKSPACE, 0, INT64_MAX, false,
				&m->committed_at, err);
	for (i = 0; r == 0 && i < 3; i++)
		if ((r = cx_json_str(j, keys[i], "manifest", CX_E_WORKSPACE, 256, false, &s, err)) == 0)
			*dst[i] = cx_strdup(s);
	if (r == 0 && !cx_is_lower_hex(m->tag, WS_TAG_LEN))
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.tag is not %d hex chars", WS_TAG_LEN);
	for (i = 0; r == 0 && i < 4; i++)
		if ((r = cx_json_int(j, ckeys[i], "manifest", CX_E_WORKSPACE, 0, INT64_MAX, false, &v,
				     err)) == 0)
			*cdst[i] = (uint64_t)v;
	if (r == 0 && version == 2 &&
	    (r = cx_json_int(j, "entries", "manifest", CX_E_WORKSPACE, 0, WS_ENTRIES_MAX, false, &v,
			     err)) == 0) {
		m->nent = (uint64_t)v;
		if (m->nent != m->added + m->changed + m->deleted)
			r = cx_err(err, CX_E_WORKSPACE, EINVAL,
				   "manifest.entries is not added + changed + deleted");
	}
	if (r == 0 && version == 1 &&
	    (!json_is_array(entries) || json_array_size(entries) > WS_ENTRIES_MAX))
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.entries is invalid");
	if (r == 0 && (!json_is_array(trees) || json_array_size(trees) < 1 ||
		       json_array_size(trees) > CX_WS_TREES_MAX))
		r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.trees is invalid");
	json_array_foreach(r == 0 ? trees : NULL, i, t) {
		static const char *const treq[] = { "index", "path", NULL };
		static const char *const topt[] = { "fsid", "ino", NULL };
		if ((r = cx_json_keys(t, "manifest.trees[]", CX_E_WORKSPACE, treq, topt, err)) < 0 ||
		    (r = ws_tree_id_fields(t, "manifest.trees[]", m->fsid[i], &m->ino[i], err)) < 0 ||
		    (r = cx_json_int(t, "index", "manifest.trees[]", CX_E_WORKSPACE, (int64_t)i,
				     (int64_t)i, false, &v, err)) < 0 ||
		    (r = cx_json_str(t, "path", "manifest.trees[]", CX_E_WORKSPACE, PATH_MAX - 1, false,
				     &s, err)) < 0)
			break;
		if (s[0] != '/') {
			r = cx_err(err, CX_E_WORKSPACE, EINVAL, "manifest.trees[%zu].path is not absolute", i);
			break;
		}
		m->trees[m->ntrees++] = cx_strdup(s);
	}
	return r;
}

/* v1: the whole file, bounded as it always was. */
static int read_v1(const char *path, ws_manifest *m, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *j = NULL;
	const json_t *t;
	size_t len, i;
	int r;

	m->version = 1;
	r = cx_read_file(path, "manifest", WS_MANIFEST_MAX, 0, 0, &buf, &len, err);
	if (r == 0)
		r = cx_json_parse_object(buf, len, "manifest", &j, err);
	if (r == 0)
		r = parse_header(j, 1, m, err);
	json_array_foreach(r == 0 ? json_object_get(j, "entries") : NULL, i, t) {
		ws_ment *e = ws_manifest_add(m);
		if ((r = parse_entry(t, i, m->ntrees, e, err)) < 0)
			break;
	}
	m->nent = m->n;
	return r;
}

/* ---- read: cursors ------------------------------------------------------------ */

/* The next line of a v2 manifest (without its '\n'): 1, 0 at the end. */
static int next_line(ws_mcur *c, const char **ret, size_t *ret_len, cx_error *err)
{
	for (;;) {
		char *nl = c->len > c->pos ? memchr(c->buf + c->pos, '\n', c->len - c->pos) : NULL;
		ssize_t n;

		if (nl) {
			*ret = c->buf + c->pos;
			*ret_len = (size_t)(nl - (c->buf + c->pos));
			c->pos = (size_t)(nl - c->buf) + 1;
			return 1;
		}
		if (c->pos) {
			memmove(c->buf, c->buf + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->off += c->pos;
			c->pos = 0;
		}
		if (c->len == c->cap) {
			if (c->cap >= WS_MLINE_MAX)
				return cx_err(err, CX_E_WORKSPACE, E2BIG,
					      "manifest line %zu is longer than %u bytes", c->idx + 2,
					      WS_MLINE_MAX - 1);
			c->cap = c->cap ? (c->cap * 2 < WS_MLINE_MAX ? c->cap * 2 : WS_MLINE_MAX) : MBUF_MIN;
			c->buf = realloc(c->buf, c->cap);
			CX_CHECK(c->buf);
		}
		n = pread(c->m->fd, c->buf + c->len, c->cap - c->len, (off_t)(c->off + c->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cx_err(err, CX_E_WORKSPACE, errno, "cannot read the manifest: %s",
				      strerror(errno));
		if (n == 0) {
			if (c->len)
				return cx_err(err, CX_E_WORKSPACE, EINVAL,
					      "the manifest ends inside a line (cut short)");
			return 0;
		}
		c->len += (size_t)n;
	}
}

void ws_mcur_init(ws_mcur *c, const ws_manifest *m)
{
	memset(c, 0, sizeof(*c));
	c->m = m;
	c->off = m->body;
}

void ws_mcur_clone(ws_mcur *dst, const ws_mcur *src)
{
	ws_mcur_init(dst, src->m);
	dst->idx = src->idx - src->peeked;
	dst->off = src->peeked ? src->peek_at : src->off + src->pos;
}

void ws_mcur_free(ws_mcur *c)
{
	ws_ment_free(&c->cur);
	ws_ment_free(&c->peek);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

/* The next entry of a v2 manifest parsed into *into: 1, 0 at the end. */
static int read_entry(ws_mcur *c, ws_ment *into, cx_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	const char *line;
	size_t len;
	int r = next_line(c, &line, &len, err);

	if (r < 0)
		return r;
	if (r == 0 && c->idx != c->m->nent)
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "the manifest holds %zu entries, its header says %llu (cut short)", c->idx,
			      (unsigned long long)c->m->nent);
	if (r == 0)
		return 0;
	if (c->idx >= c->m->nent)
		return cx_err(err, CX_E_WORKSPACE, EINVAL,
			      "the manifest holds more entries than its header says (%llu)",
			      (unsigned long long)c->m->nent);
	r = cx_json_parse_object((const uint8_t *)line, len, "manifest entry", &j, err);
	if (r == 0)
		r = parse_entry(j, c->idx, c->m->ntrees, into, err);
	if (r < 0)
		return r;
	c->idx++;
	return 1;
}

int ws_mcur_next(ws_mcur *c, const ws_ment **ret, cx_error *err)
{
	int r;

	if (c->m->version != 2) {
		if (c->idx >= c->m->n)
			return 0;
		*ret = &c->m->e[c->idx++];
		return 1;
	}
	ws_ment_free(&c->cur);
	if (c->peeked) {
		c->cur = c->peek;
		memset(&c->peek, 0, sizeof(c->peek));
		c->peeked = false;
		*ret = &c->cur;
		return 1;
	}
	r = read_entry(c, &c->cur, err);
	if (r > 0)
		*ret = &c->cur;
	return r;
}

int ws_mcur_peek(ws_mcur *c, const ws_ment **ret, cx_error *err)
{
	int r;

	if (c->m->version != 2) {
		if (c->idx >= c->m->n)
			return 0;
		*ret = &c->m->e[c->idx];
		return 1;
	}
	if (!c->peeked) {
		ws_ment_free(&c->peek);
		c->peek_at = c->off + c->pos;
		r = read_entry(c, &c->peek, err);
		if (r <= 0)
			return r;
		c->peeked = true;
	}
	*ret = &c->peek;
	return 1;
}

/* v2 when the first line is a JSON object on its own (a v1 manifest's
 * first line never is: it ends inside "entries":[ ). */
static int read_v2(int fd, bool check, ws_manifest *m, cx_error *err)
{
	_cleanup_json_ json_t *h = NULL;
	ws_mcur c;
	const char *line = NULL;
	size_t len = 0;
	int r;

	m->version = 2;
	m->fd = fd;
	ws_mcur_init(&c, m);
	r = next_line(&c, &line, &len, err);
	if (r > 0)
		h = cx_json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(h)) { /* (a line too long or unreadable: v1 says why) */
		ws_mcur_free(&c);
		m->version = 0;
		m->fd = -1;
		return 1; /* not v2 */
	}
	r = parse_header(h, 2, m, err);
	m->body = c.off + c.pos;
	ws_mcur_free(&c);
	if (r == 0 && check) { /* every entry, once: a damaged one refuses it all */
		const ws_ment *e;
		ws_mcur_init(&c, m);
		while ((r = ws_mcur_next(&c, &e, err)) > 0)
			;
		ws_mcur_free(&c);
	}
	return r;
}

int ws_manifest_read(const char *pack_dir, bool header_only, ws_manifest *ret, cx_error *err)
{
	char path[PATH_MAX];
	ws_manifest m = { .fd = -1 };
	struct stat st;
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/manifest.json", pack_dir) >= sizeof(path))
		return cx_err(err, CX_E_WORKSPACE, ENAMETOOLONG, "pack path too long");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	r = fd < 0 || fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return cx_err(err, CX_E_WORKSPACE, -r, "pack '%.200s': cannot open the manifest: %s",
			      pack_dir, strerror(-r));
	}
	r = read_v2(fd, !header_only, &m, err);
	if (m.fd != fd)
		close(fd); /* not v2: m does not hold it */
	if (r == 1)
		r = read_v1(path, &m, err);
	if (r < 0) {
		ws_manifest_free(&m);
		cx_err_prefix(err, "pack '%.200s'", pack_dir);
		return r;
	}
	*ret = m;
	return 0;
}
