/* libFuzzer harness: the workspace manifest reader (ws_manifest_read and
 * its cursors, sandbox/workspace/manifest.c), both formats: v2 (JSON
 * Lines: a header naming the entry count, one entry per line) and v1 (one
 * JSON object, read whole).
 *
 * Invariants checked on every input:
 *  - a manifest is read or refused whole: a refusal says why, and no
 *    cursor then fails on an entry the read accepted;
 *  - an accepted manifest has 1..CX_WS_TREES_MAX absolute tree paths, a
 *    16-hex tag, nent = added + changed + deleted for v2, and its cursor
 *    gives exactly nent entries, each with a tree index in range, a path
 *    ws_path_ok accepts, a known op and kind, and before/after fields
 *    as the op says; a clone of a cursor gives the same next entry, and
 *    a peek the entry the next call returns;
 *  - the header-only read agrees with the full one on the header.
 * The input is written to manifest.json in a temp pack dir (the reader
 * works on files, with pread); the dir is made once per process.
 * Trust: test code; the input is arbitrary bytes (in production the pack
 * is in root's state dir). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sandbox/workspace/internal.h"
#include "calyx/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	unlink(p);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/calyx-fuzz-manifest.XXXXXX");
	CX_CHECK(mkdtemp(dir));
	atexit(cleanup);
}

static void check_entry(const ws_manifest *m, const ws_ment *e)
{
	CX_CHECK(e->tree < m->ntrees);
	CX_CHECK(ws_path_ok(e->path));
	CX_CHECK(e->op >= WS_OP_ADDED && e->op <= WS_OP_DELETED);
	CX_CHECK(e->kind == WS_K_FILE || e->kind == WS_K_DIR || e->kind == WS_K_SYMLINK);
	CX_CHECK(e->has_before == (e->op != WS_OP_ADDED));
	CX_CHECK(e->has_after == (e->op != WS_OP_DELETED));
	CX_CHECK(!e->xb.n || e->has_before);
	if (e->kind != WS_K_DIR && e->has_before)
		CX_CHECK(strlen(e->sha_b) == 64);
	if (e->kind != WS_K_DIR && e->has_after)
		CX_CHECK(strlen(e->sha_a) == 64);
}

static void walk(const ws_manifest *m)
{
	ws_mcur c, k;
	const ws_ment *e, *f;
	cx_error err = { 0 };
	size_t n = 0;
	int r;

	ws_mcur_init(&c, m);
	for (;;) {
		const ws_ment *p = NULL;
		char *pp = NULL;
		int pr = 0;
		if (n % 3 == 1) { /* a peek is what the next call returns */
			pr = ws_mcur_peek(&c, &p, &err);
			if (pr > 0)
				pp = cx_strdup(p->path);
		}
		r = ws_mcur_next(&c, &e, &err);
		CX_CHECK(n % 3 != 1 || pr == r);
		CX_CHECK(!pp || strcmp(pp, e->path) == 0);
		free(pp);
		if (r <= 0)
			break;
		check_entry(m, e);
		if (n++ == 0) { /* a clone reads the same next entry */
			ws_mcur_clone(&k, &c);
			ws_mcur c2;
			const ws_ment *e2;
			ws_mcur_clone(&c2, &c);
			int r1 = ws_mcur_next(&k, &f, &err), r2 = ws_mcur_next(&c2, &e2, &err);
			CX_CHECK(r1 == r2);
			if (r1 > 0)
				CX_CHECK(strcmp(f->path, e2->path) == 0 && f->tree == e2->tree);
			ws_mcur_free(&k);
			ws_mcur_free(&c2);
		}
	}
	CX_CHECK(r == 0); /* the read checked every entry */
	CX_CHECK(n == m->nent);
	ws_mcur_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	ws_manifest m = { .fd = -1 }, h = { .fd = -1 };
	cx_error err = { 0 }, herr = { 0 };
	int fd, r, hr;

	setup();
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CX_CHECK(fd >= 0 && cx_write_all(fd, data, size) == 0 && close(fd) == 0);
	r = ws_manifest_read(dir, false, &m, &err);
	hr = ws_manifest_read(dir, true, &h, &herr);
	if (r < 0) {
		CX_CHECK(err.msg[0]);
		ws_manifest_free(&h);
		return 0;
	}
	CX_CHECK(hr == 0); /* what reads whole reads its header too */
	CX_CHECK(m.version == 1 || m.version == 2);
	CX_CHECK(m.ntrees >= 1 && m.ntrees <= CX_WS_TREES_MAX);
	for (size_t i = 0; i < m.ntrees; i++)
		CX_CHECK(m.trees[i][0] == '/');
	CX_CHECK(strlen(m.tag) == WS_TAG_LEN);
	CX_CHECK(m.version == 1 || m.nent == m.added + m.changed + m.deleted);
	CX_CHECK(h.nent == m.nent && h.ntrees == m.ntrees && strcmp(h.run_id, m.run_id) == 0);
	walk(&m);
	ws_manifest_free(&m);
	ws_manifest_free(&h);
	return 0;
}
