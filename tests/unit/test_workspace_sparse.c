/* Unit tests: the workspace keeps sparse files sparse (commit, pack,
 * undo) and streams its manifest (JSON Lines, one entry held at a time:
 * commit, undo, diff), and still reads a manifest written in the old
 * single-JSON format (v1), as root.
 *
 * Sparse: files of 256 MiB apparent size and a few KiB of data; what is
 * checked is st_blocks (allocated space) of the host files, the pack's
 * objects and the restored files, and the SHA-256 of the full logical
 * content. Streaming: a commit of 20,000+ entries with long paths (a
 * manifest of ~60 MB), undone and diffed in a child whose peak RSS
 * growth is printed, and bounded (generously: 64 MiB) outside sanitizer
 * builds. Tests that need root skip visibly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <sodium.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/workspace.h"
#include "testutil.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define MiB (1024ull * 1024)
#define SPARSE_SIZE (256 * MiB)

/* snprintf into an array, never cut */
#define SP(buf, ...) CX_CHECK((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) < sizeof(buf))

#define REQUIRE_ROOT()                                                         \
	do {                                                                   \
		if (getuid() != 0) {                                           \
			fprintf(stderr, "skipped: needs root (chown of committed files)\n"); \
			skip();                                                \
		}                                                              \
	} while (0)

typedef struct fx {
	char base[PATH_MAX], host[PATH_MAX], upper[PATH_MAX], pack[PATH_MAX], journal[PATH_MAX];
	char trash[PATH_MAX], locks[PATH_MAX];
	cx_ws_dirs ws;
} fx;

static void mkdir_p(const char *p, mode_t mode)
{
	char b[PATH_MAX];
	SP(b, "%s", p);
	for (char *s = b + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(b, 0755);
			*s = '/';
		}
	CX_CHECK(mkdir(b, mode) == 0 || errno == EEXIST);
}

static void fx_init(fx *f)
{
	char *b = tu_tmpdir();

	memset(f, 0, sizeof(*f));
	SP(f->base, "%s", b);
	free(b);
	CX_CHECK(chmod(f->base, 0755) == 0);
	SP(f->host, "%s/host", f->base);
	SP(f->upper, "%s/state/runs/" KEY "/tree0/upper", f->base);
	SP(f->pack, "%s/state/packs/" KEY, f->base);
	SP(f->journal, "%s/state/runs/" KEY "/journal.json", f->base);
	SP(f->trash, "%s/state/trash", f->base);
	SP(f->locks, "%s/state/locks", f->base);
	f->ws = (cx_ws_dirs){ .trash = f->trash, .locks = f->locks };
	mkdir_p(f->host, 0755);
	mkdir_p(f->upper, 0755);
	mkdir_p(f->pack, 0700);
	CX_CHECK(rmdir(f->pack) == 0); /* its parent stays */
}

static void fx_free(fx *f)
{
	tu_rmtree(f->base);
}

static int fx_commit(fx *f, cx_ws_report *rep, cx_error *err)
{
	cx_ws_tree t = { .host_path = f->host, .upper = f->upper };
	return cx_ws_commit(&f->ws, &t, 1, KEY, "run-sparse", f->pack, f->journal, rep, err);
}

static char *pj(const char *a, const char *b)
{
	static char ring[8][PATH_MAX * 2];
	static unsigned k;
	char *p = ring[k++ % 8];
	CX_CHECK((size_t)snprintf(p, PATH_MAX * 2, "%s/%s", a, b) < PATH_MAX * 2);
	return p;
}

static void put(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	CX_CHECK(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s) && close(fd) == 0);
}

/* A sparse file: size bytes, tag written at each of the offsets. */
static void mksparse(const char *path, const char *tag, const uint64_t *offs, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CX_CHECK(fd >= 0 && ftruncate(fd, (off_t)SPARSE_SIZE) == 0);
	for (size_t i = 0; i < n; i++)
		CX_CHECK(pwrite(fd, tag, strlen(tag), (off_t)offs[i]) == (ssize_t)strlen(tag));
	CX_CHECK(close(fd) == 0);
}

/* SHA-256 hex of the whole logical content (holes read as zeros). */
static void sha_file(const char *path, char hex[65])
{
	crypto_hash_sha256_state st;
	static uint8_t buf[1 << 20];
	uint8_t h[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CX_CHECK(fd >= 0);
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crypto_hash_sha256_update(&st, buf, (size_t)n);
	CX_CHECK(n == 0);
	close(fd);
	crypto_hash_sha256_final(&st, h);
	cx_hex_encode(h, 32, hex);
}

static uint64_t allocated(const char *path)
{
	struct stat st;
	CX_CHECK(lstat(path, &st) == 0);
	return (uint64_t)st.st_blocks * 512;
}

static void expect_sparse(const char *path, const char *what)
{
	struct stat st;
	CX_CHECK(lstat(path, &st) == 0);
	printf("  %s: %llu bytes, %llu allocated\n", what, (unsigned long long)st.st_size,
	       (unsigned long long)st.st_blocks * 512);
	assert_int_equal(st.st_size, SPARSE_SIZE);
	if (allocated(path) >= 4 * MiB)
		fail_msg("%s: %llu bytes allocated for a sparse file (holes were written)", what,
			 (unsigned long long)allocated(path));
}

static char *slurp(const char *path)
{
	uint8_t *b = NULL;
	size_t len = 0;
	cx_error err = { 0 };
	if (cx_read_file(path, "test", 1u << 30, 0, 0, &b, &len, &err) < 0)
		return NULL;
	return (char *)b;
}

/* ---- sparse ---------------------------------------------------------------- */

static void sparse_commit_pack_undo(void **st)
{
	static const uint64_t hoff[] = { 0, 100 * MiB, SPARSE_SIZE - 4096 };
	static const uint64_t uoff[] = { 1 * MiB, 200 * MiB };
	static const uint64_t noff[] = { 4096, 64 * MiB, 128 * MiB + 17, SPARSE_SIZE - 5 };
	char h_before[65], h_after[65], h_new[65], hex[65], *m;
	cx_ws_report rep = { 0 };
	cx_error err = { 0 };
	struct dirent *de;
	DIR *d;
	int objects = 0;
	fx f;
	(void)st;

	REQUIRE_ROOT();
	fx_init(&f);
	mksparse(pj(f.host, "big.bin"), "HOST", hoff, 3);
	mksparse(pj(f.upper, "big.bin"), "UPPER", uoff, 2);
	mksparse(pj(f.upper, "new.bin"), "NEW", noff, 4);
	if (allocated(pj(f.host, "big.bin")) >= 4 * MiB) {
		fprintf(stderr, "skipped: the test dir's file system does not keep files sparse\n");
		fx_free(&f);
		skip();
	}
	sha_file(pj(f.host, "big.bin"), h_before);
	sha_file(pj(f.upper, "big.bin"), h_after);
	sha_file(pj(f.upper, "new.bin"), h_new);

	if (fx_commit(&f, &rep, &err) < 0)
		fail_msg("commit: %s", err.msg);
	/* the host files: sparse, the full content */
	expect_sparse(pj(f.host, "new.bin"), "committed new.bin");
	expect_sparse(pj(f.host, "big.bin"), "committed big.bin");
	sha_file(pj(f.host, "new.bin"), hex);
	assert_string_equal(hex, h_new);
	sha_file(pj(f.host, "big.bin"), hex);
	assert_string_equal(hex, h_after);
	/* the manifest: hashes of the full logical content */
	m = slurp(pj(f.pack, "manifest.json"));
	assert_non_null(m);
	assert_non_null(strstr(m, h_before));
	assert_non_null(strstr(m, h_after));
	assert_non_null(strstr(m, h_new));
	free(m);
	/* the pack: the pre-image stored sparse */
	d = opendir(pj(f.pack, "tree0"));
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		objects++;
		char obj[PATH_MAX * 2];
		SP(obj, "%s/tree0/%s", f.pack, de->d_name);
		expect_sparse(obj, "pack object");
		sha_file(obj, hex);
		assert_string_equal(hex, h_before);
	}
	closedir(d);
	assert_int_equal(objects, 1);
	/* undo: restored sparse and byte-identical */
	if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
		fail_msg("undo: %s", err.msg);
	expect_sparse(pj(f.host, "big.bin"), "restored big.bin");
	sha_file(pj(f.host, "big.bin"), hex);
	assert_string_equal(hex, h_before);
	assert_int_equal(access(pj(f.host, "new.bin"), F_OK), -1);
	fx_free(&f);
}

/* ---- streaming -------------------------------------------------------------- */

#define DIRS 100
#define FILES_PER_DIR 200
#define CHANGED 200
#define DEPTH 6

/* d<k>/ under DEPTH nested dirs of 200-byte names: long paths, so the
 * manifest is large (~60 MB) while the entries stay few. */
static void long_prefix(char *out, size_t len)
{
	size_t o = 0;
	for (int i = 0; i < DEPTH; i++) {
		memset(out + o, 'a' + i, 200);
		o += 200;
		out[o++] = '/';
	}
	CX_CHECK(o < len);
	out[o] = '\0';
}

static void build_many(fx *f)
{
	char pre[PATH_MAX], p[PATH_MAX * 2], name[256];

	long_prefix(pre, sizeof(pre));
	memset(name, 'f', 240);
	for (int i = 0; i < DEPTH; i++) { /* the nested dirs exist on the host */
		size_t l = (size_t)(i + 1) * 201 - 1;
		SP(p, "%s/%.*s", f->host, (int)l, pre);
		CX_CHECK(mkdir(p, 0755) == 0);
		SP(p, "%s/%.*s", f->upper, (int)l, pre);
		CX_CHECK(mkdir(p, 0755) == 0);
	}
	for (int k = 0; k < DIRS; k++) {
		SP(p, "%s/%sd%03d", f->upper, pre, k);
		CX_CHECK(mkdir(p, 0755) == 0);
		for (int i = 0; i < FILES_PER_DIR; i++) {
			SP(p, "%s/%sd%03d/%.240s%05d", f->upper, pre, k, name, i);
			put(p, "n\n", 0644);
		}
	}
	for (int i = 0; i < CHANGED; i++) {
		SP(p, "%s/c%03d", f->host, i);
		put(p, "old\n", 0644);
		SP(p, "%s/c%03d", f->upper, i);
		put(p, "new content\n", 0644);
	}
}

static long maxrss_kib(void)
{
	struct rusage ru;
	CX_CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
	return ru.ru_maxrss;
}

/* Run op (undo or diff) in a child; its peak RSS growth in KiB. */
static long in_child(fx *f, int op, const char *diff_out)
{
	int status;
	int pfd[2];
	long grew = -1;
	pid_t pid;

	CX_CHECK(pipe(pfd) == 0);
	malloc_trim(0);
	pid = fork();
	CX_CHECK(pid >= 0);
	if (pid == 0) {
		cx_error err = { 0 };
		long before = maxrss_kib(), d;
		int r;
		close(pfd[0]);
		if (op == 0) {
			r = cx_ws_undo(&f->ws, f->pack, false, &err);
		} else {
			FILE *o = fopen(diff_out, "we");
			r = o ? cx_ws_diff(f->pack, o, &err) : -1;
			if (o)
				fclose(o);
		}
		if (r < 0)
			fprintf(stderr, "%s: %s\n", op ? "diff" : "undo", err.msg);
		d = maxrss_kib() - before;
		if (write(pfd[1], &d, sizeof(d)) != sizeof(d))
			_exit(3);
		_exit(r < 0 ? 1 : 0);
	}
	close(pfd[1]);
	if (read(pfd[0], &grew, sizeof(grew)) != sizeof(grew))
		grew = -1;
	close(pfd[0]);
	CX_CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed in the child (status %d)", op ? "diff" : "undo", status);
	return grew;
}

static void check_bound(long kib, const char *what)
{
	printf("  %s: peak RSS grew by %ld KiB\n", what, kib);
#if defined(__SANITIZE_ADDRESS__)
	(void)kib;
	printf("  (sanitizer build: no bound checked)\n");
#else
	if (kib > 64 * 1024)
		fail_msg("%s took %ld KiB more memory: the manifest is held whole", what, kib);
#endif
}

/* The manifest is JSON Lines: a header naming the count, then that many
 * entry lines. */
static void expect_jsonl(const char *path, uint64_t want)
{
	FILE *fp = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, lines = 0;
	ssize_t n;

	assert_non_null(fp);
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_error_t je;
		json_t *j = json_loadb(line, (size_t)n, 0, &je);
		if (!json_is_object(j))
			fail_msg("manifest line %zu is not a JSON object on its own: %s", lines + 1,
				 je.text);
		if (lines == 0) {
			assert_int_equal(json_integer_value(json_object_get(j, "v")), 2);
			assert_int_equal(json_integer_value(json_object_get(j, "entries")), want);
		}
		json_decref(j);
		lines++;
	}
	free(line);
	fclose(fp);
	assert_int_equal(lines, want + 1);
}

static void many_entries_streamed(void **st)
{
	char out[PATH_MAX * 2], p[PATH_MAX * 2], *diff, *last;
	cx_ws_report rep = { 0 };
	cx_error err = { 0 };
	struct stat sb;
	uint64_t want = DIRS + (uint64_t)DIRS * FILES_PER_DIR + CHANGED;
	fx f;
	(void)st;

	REQUIRE_ROOT();
	fx_init(&f);
	build_many(&f);
	printf("  before commit: peak RSS %ld KiB\n", maxrss_kib());
	if (fx_commit(&f, &rep, &err) < 0)
		fail_msg("commit: %s", err.msg);
	printf("  after commit: peak RSS %ld KiB\n", maxrss_kib());
	assert_int_equal(rep.added, DIRS + DIRS * FILES_PER_DIR);
	assert_int_equal(rep.changed, CHANGED);
	CX_CHECK(stat(pj(f.pack, "manifest.json"), &sb) == 0);
	printf("  manifest: %llu bytes, %llu entries\n", (unsigned long long)sb.st_size,
	       (unsigned long long)want);
	expect_jsonl(pj(f.pack, "manifest.json"), want);

	SP(out, "%s/diff.txt", f.base);
	check_bound(in_child(&f, 1, out), "diff");
	diff = slurp(out);
	assert_non_null(diff);
	last = strstr(diff, " paths: ");
	assert_non_null(last);
	SP(p, " %llu paths: %llu added, %d changed, 0 deleted",
		 (unsigned long long)want, (unsigned long long)(want - CHANGED), CHANGED);
	if (!strstr(diff, p))
		fail_msg("diff summary: want '%s' in '%.200s'", p, last - 10);
	assert_non_null(strstr(diff, " M c000 "));
	free(diff);

	check_bound(in_child(&f, 0, NULL), "undo");
	/* undone: the added dirs gone, the changed files back */
	for (int i = 0; i < CHANGED; i += 37) {
		char *c;
		SP(p, "%s/c%03d", f.host, i);
		c = slurp(p);
		assert_non_null(c);
		assert_string_equal(c, "old\n");
		free(c);
	}
	{
		char pre[PATH_MAX];
		long_prefix(pre, sizeof(pre));
		SP(p, "%s/%sd000", f.host, pre);
		assert_int_equal(access(p, F_OK), -1);
		SP(p, "%s/%s", f.host, pre);
		assert_int_equal(access(p, F_OK), 0); /* was there before */
	}
	fx_free(&f);
}

/* ---- the old format ---------------------------------------------------------- */

/* Rewrite a v2 manifest as v1 (one object, "entries" an array), as packs
 * made before the upgrade hold it. */
static void to_v1(const char *path)
{
	FILE *fp = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	json_t *head = NULL, *ents = json_array();
	char *s;

	assert_non_null(fp);
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_t *j = json_loadb(line, (size_t)n, 0, NULL);
		assert_non_null(j);
		if (!head)
			head = j;
		else
			json_array_append_new(ents, j);
	}
	free(line);
	fclose(fp);
	json_object_set_new(head, "v", json_integer(1));
	json_object_set_new(head, "entries", ents);
	s = json_dumps(head, JSON_COMPACT | JSON_ENSURE_ASCII);
	put(path, s, 0600);
	free(s);
	json_decref(head);
}

static void v1_manifest_still_undone(void **st)
{
	char out[PATH_MAX * 2], *diff, *c;
	cx_error err = { 0 };
	FILE *o;
	fx f;
	(void)st;

	REQUIRE_ROOT();
	fx_init(&f);
	put(pj(f.host, "a.txt"), "old\n", 0644);
	put(pj(f.host, "gone.txt"), "gone\n", 0644);
	put(pj(f.upper, "a.txt"), "new\n", 0644);
	put(pj(f.upper, "b.txt"), "added\n", 0644);
	CX_CHECK(mknod(pj(f.upper, "gone.txt"), S_IFCHR | 0000, 0) == 0); /* whiteout */
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	to_v1(pj(f.pack, "manifest.json"));
	SP(out, "%s/diff.txt", f.base);
	o = fopen(out, "we");
	assert_non_null(o);
	if (cx_ws_diff(f.pack, o, &err) < 0)
		fail_msg("diff of a v1 manifest: %s", err.msg);
	fclose(o);
	diff = slurp(out);
	assert_non_null(strstr(diff, " 3 paths: 1 added, 1 changed, 1 deleted"));
	free(diff);
	if (cx_ws_undo(&f.ws, f.pack, false, &err) < 0)
		fail_msg("undo of a v1 manifest: %s", err.msg);
	c = slurp(pj(f.host, "a.txt"));
	assert_string_equal(c, "old\n");
	free(c);
	c = slurp(pj(f.host, "gone.txt"));
	assert_string_equal(c, "gone\n");
	free(c);
	assert_int_equal(access(pj(f.host, "b.txt"), F_OK), -1);
	fx_free(&f);
}

/* A cut v2 manifest (an entry line missing) is refused whole: nothing is
 * restored from it. */
static void cut_manifest_refused(void **st)
{
	char *m, *nl, *c;
	cx_error err = { 0 };
	fx f;
	(void)st;

	REQUIRE_ROOT();
	fx_init(&f);
	put(pj(f.host, "a.txt"), "old\n", 0644);
	put(pj(f.upper, "a.txt"), "new\n", 0644);
	put(pj(f.upper, "b.txt"), "added\n", 0644);
	if (fx_commit(&f, NULL, &err) < 0)
		fail_msg("commit: %s", err.msg);
	m = slurp(pj(f.pack, "manifest.json"));
	assert_non_null(m);
	nl = strchr(strchr(m, '\n') + 1, '\n'); /* header + first entry */
	nl[1] = '\0';
	put(pj(f.pack, "manifest.json"), m, 0600);
	free(m);
	assert_int_not_equal(cx_ws_undo(&f.ws, f.pack, false, &err), 0);
	printf("  refused: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "cut short"));
	c = slurp(pj(f.host, "a.txt"));
	assert_string_equal(c, "new\n");
	free(c);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sparse_commit_pack_undo),
		cmocka_unit_test(many_entries_streamed),
		cmocka_unit_test(v1_manifest_still_undone),
		cmocka_unit_test(cut_manifest_refused),
	};
	CX_CHECK(sodium_init() >= 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
