/* Unit tests: the signed, hash-chained audit log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "calyx/audit.h"
#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "testutil.h"
#include "../../executor/audit/forward.h"

static const uint8_t seed[32] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
				  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };

typedef struct logbuf {
	char *root, *path;
	uint8_t *buf;
	size_t len;
} logbuf;

static void make_log(logbuf *lb, int n)
{
	cx_audit *a = NULL;
	cx_error err = { 0 };
	lb->root = tu_tmpdir();
	CX_CHECK(asprintf(&lb->path, "%s/audit.jsonl", lb->root) > 0);
	CX_CHECK(cx_audit_open(lb->path, seed, &a, &err) == 0);
	for (int i = 0; i < n; i++) {
		uint64_t seq;
		CX_CHECK(cx_audit_append(a, i % 2 ? "lease.consumed" : "lease.verified",
					 "0123456789abcdef0123456789abcdef", "run-1",
					 json_pack("{s:i}", "i", i), &seq, &err) == 0);
		CX_CHECK(seq == (uint64_t)i + 1);
	}
	cx_audit_close(a);
	CX_CHECK(cx_read_file(lb->path, "log", 1 << 24, 0, 0, &lb->buf, &lb->len, &err) == 0);
}

static void free_log(logbuf *lb)
{
	tu_rmtree(lb->root);
	free(lb->root);
	free(lb->path);
	free(lb->buf);
}

static int verify(const void *buf, size_t len, cx_error *err)
{
	uint8_t pk[32];
	cx_seed_public(seed, pk);
	memset(err, 0, sizeof(*err));
	return cx_audit_verify(buf, len, pk, NULL, err);
}

/* Byte offset of the start of line n (1-based). */
static size_t line_off(const logbuf *lb, int n)
{
	size_t off = 0;
	for (int i = 1; i < n; i++)
		off = (size_t)((uint8_t *)memchr(lb->buf + off, '\n', lb->len - off) - lb->buf) + 1;
	return off;
}

static void intact_log_verifies(void **st)
{
	logbuf lb;
	cx_error err;
	cx_audit_report rep;
	uint8_t pk[32];
	(void)st;
	make_log(&lb, 10);
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(lb.buf, lb.len, pk, &rep, &err), 0);
	assert_int_equal(rep.lines, 10);
	free_log(&lb);
}

static void edited_byte_detected(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 5);
	char *p = strstr((char *)lb.buf + line_off(&lb, 3), "\"i\":2");
	assert_non_null(p);
	p[4] = '9';
	assert_true(verify(lb.buf, lb.len, &err) < 0);
	assert_non_null(strstr(err.msg, "line 3"));
	free_log(&lb);
}

static void deleted_line_detected(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 5);
	size_t a = line_off(&lb, 2), b = line_off(&lb, 3);
	memmove(lb.buf + a, lb.buf + b, lb.len - b);
	assert_true(verify(lb.buf, lb.len - (b - a), &err) < 0);
	assert_non_null(strstr(err.msg, "line 2"));
	free_log(&lb);
}

static void swapped_lines_detected(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 4);
	size_t a = line_off(&lb, 2), b = line_off(&lb, 3), c = line_off(&lb, 4);
	uint8_t *out = malloc(lb.len);
	memcpy(out, lb.buf, a);
	memcpy(out + a, lb.buf + b, c - b);
	memcpy(out + a + (c - b), lb.buf + a, b - a);
	memcpy(out + c, lb.buf + c, lb.len - c);
	assert_true(verify(out, lb.len, &err) < 0);
	free(out);
	free_log(&lb);
}

static void torn_last_line_detected(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 3);
	assert_true(verify(lb.buf, lb.len - 10, &err) < 0);
	assert_non_null(strstr(err.msg, "torn"));
	free_log(&lb);
}

/* The line that would come after the lines in buf[0, len) (seq, prev
 * right), made with the key of seed k: signed (a v1 line, or a v2
 * checkpoint) or, with mac, an unsigned v2 line with its mac. A forger's
 * line when k is not the host seed, written by hand here (the appender
 * refuses to chain onto a line it cannot verify, so it cannot make one);
 * with the host seed, a line in the format as the docs spell it out. With
 * details (JSON) as given. Caller frees; ends with a newline. */
static char *forged_line(const uint8_t *buf, size_t len, const uint8_t k[32], const char *details,
			 bool mac)
{
	uint8_t pk[32], sk[64], sig[64], mk[32], m[32];
	char prev[65], b64[89], *body, *msg, *line;
	size_t n = 0, last = 0;

	memset(prev, '0', 64);
	prev[64] = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n') {
			cx_sha256_hex(buf + last, i - last, prev);
			last = i + 1;
			n++;
		}
	CX_CHECK(asprintf(&body, "{\"seq\":%zu,\"time\":\"2026-01-01T00:00:00.000Z\",\"type\":\"run.forged\",\"details\":%s,\"prev\":\"%s\"}",
			  n + 1, details, prev) > 0);
	if (mac) {
		crypto_generichash_state st;
		crypto_generichash(mk, 32, (const uint8_t *)"calyx-audit mac key v1", 22, k, 32);
		crypto_generichash_init(&st, mk, 32, 32);
		crypto_generichash_update(&st, (const uint8_t *)"calyx-audit-mac-v1\n", 19);
		crypto_generichash_update(&st, (const uint8_t *)body, strlen(body));
		crypto_generichash_final(&st, m, 32);
		cx_b64_encode(m, 32, b64);
	} else {
		CX_CHECK(asprintf(&msg, "calyx-audit-v1\n%s", body) > 0);
		crypto_sign_seed_keypair(pk, sk, k);
		crypto_sign_detached(sig, NULL, (const uint8_t *)msg, strlen(msg), sk);
		cx_b64_encode(sig, 64, b64);
		free(msg);
	}
	body[strlen(body) - 1] = 0;
	CX_CHECK(asprintf(&line, "%s,\"%s\":\"%s\"}\n", body, mac ? "mac" : "sig", b64) > 0);
	free(body);
	return line;
}

/* A forged line (forged_line) appended to the log at path. */
static void append_forged_as(const char *path, const uint8_t k[32], const char *details, bool mac)
{
	uint8_t *buf = NULL;
	cx_error err = { 0 };
	size_t len;

	CX_CHECK(cx_read_file(path, "log", 1 << 24, 0, 0, &buf, &len, &err) == 0);
	char *line = forged_line(buf, len, k, details, mac);
	free(buf);
	FILE *f = fopen(path, "ab");
	CX_CHECK(f && fputs(line, f) >= 0 && fclose(f) == 0);
	free(line);
}

static void append_forged(const char *path, const uint8_t k[32], const char *details)
{
	append_forged_as(path, k, details, false);
}

static void forged_by_other_key_detected(void **st)
{
	logbuf lb;
	cx_error err;
	uint8_t other[32];
	(void)st;
	make_log(&lb, 2);
	memset(other, 9, sizeof(other));
	append_forged(lb.path, other, "{}");
	free(lb.buf);
	assert_int_equal(cx_read_file(lb.path, "log", 1 << 24, 0, 0, &lb.buf, &lb.len, &err), 0);
	assert_true(verify(lb.buf, lb.len, &err) < 0);
	assert_non_null(strstr(err.msg, "line 3"));
	free_log(&lb);
}

/* ---- torn tails: repaired on the next append -------------------------- */

static void append_bytes(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "ab");
	CX_CHECK(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
}

static void reread(logbuf *lb)
{
	cx_error err = { 0 };
	free(lb->buf);
	CX_CHECK(cx_read_file(lb->path, "log", 1 << 24, 0, 0, &lb->buf, &lb->len, &err) == 0);
}

/* Line n (1-based) of the log as JSON; caller decrefs. */
static json_t *line_json(const logbuf *lb, int n)
{
	size_t off = line_off(lb, n);
	const uint8_t *nl = memchr(lb->buf + off, '\n', lb->len - off);
	CX_CHECK(nl);
	return json_loadb((const char *)lb->buf + off, (size_t)(nl - (lb->buf + off)), 0, NULL);
}

static int count_entries(const char *dir)
{
	char cmd[512];
	int n = -1;
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	CX_CHECK(p && fscanf(p, "%d", &n) == 1);
	pclose(p);
	return n;
}

/* The log at lb->path ends with frag (len bytes) after `after` intact lines
 * whose bytes are the first `intact` bytes of lb->buf. One append repairs
 * it: audit.repaired (seq after+1) then the event (after+2); the evidence
 * file holds exactly frag; the intact part is unchanged; the log verifies. */
static void expect_repair(logbuf *lb, size_t intact, uint64_t after, const uint8_t *frag,
			  size_t len)
{
	cx_audit *a;
	cx_error err = { 0 };
	cx_audit_report rep;
	uint8_t pk[32];
	uint64_t seq = 0;
	char hex[65], name[256], *ev;
	_cleanup_free_ uint8_t *before = malloc(intact ? intact : 1), *saved = NULL;
	size_t slen;
	struct stat sb;

	memcpy(before, lb->buf, intact);
	assert_int_equal(cx_audit_open(lb->path, seed, &a, &err), 0);
	assert_int_equal(cx_audit_append(a, "exec.started", NULL, "run-2", json_object(), &seq, &err), 0);
	cx_audit_close(a);
	assert_int_equal(seq, after + 2);
	reread(lb);
	assert_true(lb->len > intact);
	assert_memory_equal(lb->buf, before, intact);
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(lb->buf, lb->len, pk, &rep, &err), 0);
	assert_int_equal(rep.lines, after + 2);

	/* the repair event, with exactly these details */
	cx_sha256_hex(frag, len, hex);
	assert_int_equal(cx_audit_torn_name(lb->path, after, frag, len, name, sizeof(name)), 0);
	json_t *j = line_json(lb, (int)after + 1), *d = json_object_get(j, "details");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "audit.repaired");
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), after + 1);
	assert_null(json_object_get(j, "lease_id"));
	assert_int_equal(json_object_size(d), 4);
	assert_int_equal(json_integer_value(json_object_get(d, "torn_bytes")), len);
	assert_string_equal(json_string_value(json_object_get(d, "torn_sha256")), hex);
	assert_int_equal(json_integer_value(json_object_get(d, "after_seq")), after);
	assert_string_equal(json_string_value(json_object_get(d, "saved_as")), name);
	json_decref(j);
	j = line_json(lb, (int)after + 2);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "exec.started");
	json_decref(j);

	/* the evidence: exactly the torn bytes, root-only */
	assert_int_equal(strncmp(name, "audit.jsonl.torn-", 17), 0);
	CX_CHECK(asprintf(&ev, "%s/%s", lb->root, name) > 0);
	assert_int_equal(lstat(ev, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(cx_read_file(ev, "evidence", 1 << 24, 0, 0, &saved, &slen, &err), 0);
	assert_int_equal(slen, len);
	assert_memory_equal(saved, frag, len);
	free(ev);
}

static void repair_one_byte_fragment(void **st)
{
	logbuf lb;
	(void)st;
	make_log(&lb, 3);
	append_bytes(lb.path, "{", 1);
	expect_repair(&lb, lb.len, 3, (const uint8_t *)"{", 1);
	free_log(&lb);
}

static void repair_mid_line(void **st)
{
	logbuf lb;
	(void)st;
	make_log(&lb, 3);
	/* a crash in the middle of writing line 3: keep its first 57 bytes */
	size_t l3 = line_off(&lb, 3);
	uint8_t frag[57];
	memcpy(frag, lb.buf + l3, sizeof(frag));
	assert_int_equal(truncate(lb.path, (off_t)(l3 + sizeof(frag))), 0);
	expect_repair(&lb, l3, 2, frag, sizeof(frag));
	free_log(&lb);
}

static void repair_fragment_at_limit(void **st)
{
	logbuf lb;
	uint8_t *frag = malloc(CX_AUDIT_LINE_MAX);
	(void)st;
	make_log(&lb, 2);
	memset(frag, 'a', CX_AUDIT_LINE_MAX);
	frag[0] = '{';
	append_bytes(lb.path, frag, CX_AUDIT_LINE_MAX);
	expect_repair(&lb, lb.len, 2, frag, CX_AUDIT_LINE_MAX);
	free(frag);
	free_log(&lb);
}

static void repair_fragment_only_log(void **st)
{
	logbuf lb;
	static const char frag[] = "{\"seq\":1,\"time\":\"2026-";
	(void)st;
	make_log(&lb, 0);
	append_bytes(lb.path, frag, sizeof(frag) - 1);
	expect_repair(&lb, 0, 0, (const uint8_t *)frag, sizeof(frag) - 1);
	free_log(&lb);
}

/* An append that must refuse: E_AUDIT with msg_part, log unchanged, no
 * evidence file. */
static void expect_refused(logbuf *lb, const char *msg_part)
{
	cx_audit *a;
	cx_error err = { 0 };
	_cleanup_free_ uint8_t *before = NULL;
	size_t blen;
	int n0 = count_entries(lb->root);

	reread(lb);
	blen = lb->len;
	before = malloc(blen);
	memcpy(before, lb->buf, blen);
	assert_int_equal(cx_audit_open(lb->path, seed, &a, &err), 0);
	assert_true(cx_audit_append(a, "x", NULL, NULL, json_object(), NULL, &err) < 0);
	cx_audit_close(a);
	assert_int_equal(err.reason, CX_E_AUDIT);
	if (!strstr(err.msg, msg_part))
		fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
	assert_null(strchr(err.msg, '\n'));
	reread(lb);
	assert_int_equal(lb->len, blen);
	assert_memory_equal(lb->buf, before, blen);
	assert_int_equal(count_entries(lb->root), n0);
}

/* An unterminated tail longer than any line (after n intact lines) is
 * tampering, not a crash tear: refused, nothing changed. */
static void tear_over_limit(size_t n)
{
	logbuf lb;
	uint8_t *junk = malloc(CX_AUDIT_LINE_MAX + 1);
	make_log(&lb, n);
	memset(junk, 'a', CX_AUDIT_LINE_MAX + 1);
	append_bytes(lb.path, junk, CX_AUDIT_LINE_MAX + 1);
	expect_refused(&lb, "tampering");
	free(junk);
	free_log(&lb);
}

static void tear_over_limit_refused(void **st)
{
	(void)st;
	tear_over_limit(2);
}

static void tear_over_limit_without_newline_refused(void **st)
{
	(void)st;
	tear_over_limit(0);
}

static void tear_after_bad_last_line_refused(void **st)
{
	logbuf lb;
	(void)st;
	make_log(&lb, 2);
	append_bytes(lb.path, "not an event\n{\"seq\"", 20);
	expect_refused(&lb, "last line is not an audit event");
	free_log(&lb);
}

/* A log of 2 lines torn after 4 bytes, with its evidence file already
 * present holding `content` (as a repair that stopped after saving it). */
static void torn_with_evidence(logbuf *lb, const char *content)
{
	char name[256];
	make_log(lb, 2);
	append_bytes(lb->path, "{\"se", 4);
	assert_int_equal(cx_audit_torn_name(lb->path, 2, (const uint8_t *)"{\"se", 4, name, sizeof(name)), 0);
	free(tu_write(lb->root, name, content, strlen(content), 0600));
}

static void repair_after_crash_before_cut(void **st)
{
	/* the same file with the same bytes: the next repair goes on */
	logbuf lb;
	(void)st;
	torn_with_evidence(&lb, "{\"se");
	expect_repair(&lb, lb.len, 2, (const uint8_t *)"{\"se", 4);
	free_log(&lb);
}

static void repair_refuses_other_evidence(void **st)
{
	/* the evidence name is taken by other bytes: never overwritten */
	logbuf lb;
	(void)st;
	torn_with_evidence(&lb, "other");
	expect_refused(&lb, "move it away");
	free_log(&lb);
}

static void verify_names_torn_line(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 4);
	assert_true(verify(lb.buf, lb.len - 30, &err) < 0);
	assert_int_equal(err.errnum, EPIPE);
	assert_non_null(strstr(err.msg, "line 4 is torn"));
	assert_non_null(strstr(err.msg, "after seq 3"));
	assert_non_null(strstr(err.msg, "repairs it on its next append"));
	/* an earlier bad line is named first, not the tear */
	lb.buf[line_off(&lb, 2) + 8] ^= 1;
	assert_true(verify(lb.buf, lb.len - 30, &err) < 0);
	assert_int_not_equal(err.errnum, EPIPE);
	assert_non_null(strstr(err.msg, "line 2"));
	free_log(&lb);
}

static void verify_names_overlong_tail(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 2);
	uint8_t *b = malloc(lb.len + CX_AUDIT_LINE_MAX + 1);
	memcpy(b, lb.buf, lb.len);
	memset(b + lb.len, 'a', CX_AUDIT_LINE_MAX + 1);
	assert_true(verify(b, lb.len + CX_AUDIT_LINE_MAX + 1, &err) < 0);
	assert_int_equal(err.errnum, E2BIG);
	assert_non_null(strstr(err.msg, "line 3"));
	assert_non_null(strstr(err.msg, "tampering"));
	/* exactly at the limit: a tear */
	assert_true(verify(b, lb.len + CX_AUDIT_LINE_MAX, &err) < 0);
	assert_int_equal(err.errnum, EPIPE);
	free(b);
	free_log(&lb);
}

/* ---- verification shared out among threads ---------------------------- */

/* Every thread count gives the result of one pass in order. */
static void expect_same_any_threads(const uint8_t *b, size_t len, const char *want)
{
	uint8_t pk[32];
	cx_seed_public(seed, pk);
	for (unsigned t = 1; t <= 9; t++) {
		cx_error err = { 0 };
		cx_audit_report rep = { 0 };
		int r = cx_audit_verify_threads(b, len, pk, t, &rep, &err);
		if (!want) {
			if (r != 0)
				fail_msg("threads %u: %s", t, err.msg);
			assert_int_equal(rep.lines, 40);
		} else if (r == 0 || !strstr(err.msg, want)) {
			fail_msg("threads %u: '%s', expected '%s'", t, r == 0 ? "OK" : err.msg, want);
		}
	}
}

static void threads_same_result(void **st)
{
	logbuf lb;
	cx_error err;
	(void)st;
	make_log(&lb, 40);
	expect_same_any_threads(lb.buf, lb.len, NULL);
	uint8_t *b = malloc(lb.len);
	for (int bad = 1; bad <= 40; bad += 3) {
		/* one edited byte in line `bad`, and another in a later line */
		memcpy(b, lb.buf, lb.len);
		b[line_off(&lb, bad) + 8] ^= 1;
		if (bad + 17 <= 40)
			b[line_off(&lb, bad + 17) + 8] ^= 1;
		char want[32];
		snprintf(want, sizeof(want), "line %d:", bad);
		assert_true(verify(b, lb.len, &err) < 0);
		expect_same_any_threads(b, lb.len, want);
	}
	/* torn at the end */
	expect_same_any_threads(lb.buf, lb.len - 5, "line 40 is torn");
	free(b);
	free_log(&lb);
}

static void big_log_threads(void **st)
{
	/* over 1 MiB: cx_audit_verify shares it out among the CPUs */
	logbuf lb;
	cx_audit *a = NULL;
	cx_error err = { 0 };
	cx_audit_report rep;
	uint8_t pk[32];
	char *pad = malloc(4001);
	(void)st;
	memset(pad, 'p', 4000);
	pad[4000] = 0;
	lb.root = tu_tmpdir();
	CX_CHECK(asprintf(&lb.path, "%s/audit.jsonl", lb.root) > 0);
	CX_CHECK(cx_audit_open(lb.path, seed, &a, &err) == 0);
	for (int i = 0; i < 300; i++)
		CX_CHECK(cx_audit_append(a, "t", NULL, NULL, json_pack("{s:s}", "pad", pad), NULL, &err) == 0);
	cx_audit_close(a);
	free(pad);
	lb.buf = NULL;
	reread(&lb);
	assert_true(lb.len > (1u << 20));
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(lb.buf, lb.len, pk, &rep, &err), 0);
	assert_int_equal(rep.lines, 300);
	lb.buf[line_off(&lb, 250) + 40] ^= 1;
	lb.buf[line_off(&lb, 290) + 40] ^= 1;
	assert_true(cx_audit_verify(lb.buf, lb.len, pk, &rep, &err) < 0);
	assert_non_null(strstr(err.msg, "line 250:"));
	free_log(&lb);
}

static void concurrent_appenders_keep_chain(void **st)
{
	enum { P = 6, EACH = 25 };
	logbuf lb;
	cx_error err;
	cx_audit_report rep;
	uint8_t pk[32];
	pid_t pids[P];
	(void)st;
	make_log(&lb, 0);
	for (int i = 0; i < P; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			cx_audit *a;
			cx_error e = { 0 };
			if (cx_audit_open(lb.path, seed, &a, &e) < 0)
				_exit(1);
			for (int k = 0; k < EACH; k++)
				if (cx_audit_append(a, "t", NULL, NULL, json_object(), NULL, &e) < 0)
					_exit(2);
			cx_audit_close(a);
			_exit(0);
		}
	}
	for (int i = 0; i < P; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	free(lb.buf);
	assert_int_equal(cx_read_file(lb.path, "log", 1 << 24, 0, 0, &lb.buf, &lb.len, &err), 0);
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(lb.buf, lb.len, pk, &rep, &err), 0);
	assert_int_equal(rep.lines, P * EACH);
	free_log(&lb);
}

static void symlinked_log_refused(void **st)
{
	char *root = tu_tmpdir(), *link, *target;
	cx_audit *a = NULL;
	cx_error err = { 0 };
	(void)st;
	CX_CHECK(asprintf(&link, "%s/audit.jsonl", root) > 0);
	CX_CHECK(asprintf(&target, "%s/elsewhere", root) > 0);
	assert_int_equal(symlink(target, link), 0);
	assert_true(cx_audit_open(link, seed, &a, &err) < 0);
	assert_int_equal(err.reason, CX_E_AUDIT);
	free(link);
	free(target);
	tu_rmtree(root);
	free(root);
}

/* ---- the appender fails closed ----------------------------------------- */

/* details that could not be built (a json_pack that failed: NULL) are an
 * error, never an empty object written in their place. */
static void null_details_refused(void **st)
{
	logbuf lb;
	cx_audit *a;
	cx_error err = { 0 };
	size_t blen;
	(void)st;
	make_log(&lb, 1);
	blen = lb.len;
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	assert_true(cx_audit_append(a, "exec.spawned", NULL, NULL,
				    json_pack("{s:s}", "filename", "/tmp/\xff/x"), NULL, &err) < 0);
	assert_int_equal(err.reason, CX_E_AUDIT);
	assert_non_null(strstr(err.msg, "exec.spawned"));
	cx_audit_close(a);
	reread(&lb);
	assert_int_equal(lb.len, blen);
	assert_null(memmem(lb.buf, lb.len, "\"details\":{}", 12));
	free_log(&lb);
}

/* The line an append would chain onto must verify with the host key. */
static void append_refuses_tail_of_other_key(void **st)
{
	logbuf lb;
	uint8_t other[32];
	(void)st;
	make_log(&lb, 2);
	memset(other, 9, sizeof(other));
	append_forged(lb.path, other, "{}");
	expect_refused(&lb, "is not signed by this host's key");
	free_log(&lb);
}

static void append_refuses_edited_tail(void **st)
{
	logbuf lb;
	char *p;
	(void)st;
	make_log(&lb, 3);
	/* line 3 holds "i":2; make it "i":7 (valid JSON, same length) */
	p = memmem(lb.buf + line_off(&lb, 3), lb.len - line_off(&lb, 3), "\"i\":2", 5);
	assert_non_null(p);
	p[4] = '7';
	FILE *f = fopen(lb.path, "wb");
	CX_CHECK(f && fwrite(lb.buf, 1, lb.len, f) == lb.len && fclose(f) == 0);
	expect_refused(&lb, "is not signed by this host's key");
	free_log(&lb);
}

/* A forged line under a torn tail is refused too (a repair chains onto it). */
static void repair_refuses_forged_tail(void **st)
{
	logbuf lb;
	uint8_t other[32];
	(void)st;
	make_log(&lb, 2);
	memset(other, 9, sizeof(other));
	append_forged(lb.path, other, "{\"x\":1}");
	append_bytes(lb.path, "{\"seq\":4", 8);
	expect_refused(&lb, "is not signed by this host's key");
	free_log(&lb);
}

/* ---- format v2: unsigned lines, signed checkpoints ---------------------- */

/* A log at a new path of `events` events appended as calyx-exec does
 * (deferred syncs), cx_audit_sync after every `group` of them (and after
 * the last): each group ends with a signed audit.checkpoint line. */
static void make_log_v2(logbuf *lb, int events, int group)
{
	cx_audit *a = NULL;
	cx_error err = { 0 };
	lb->root = tu_tmpdir();
	lb->buf = NULL;
	CX_CHECK(asprintf(&lb->path, "%s/audit.jsonl", lb->root) > 0);
	CX_CHECK(cx_audit_open(lb->path, seed, &a, &err) == 0);
	cx_audit_defer_sync(a, true);
	for (int i = 0; i < events; i++) {
		CX_CHECK(cx_audit_append(a, "exec.spawned", "0123456789abcdef0123456789abcdef", "run-2",
					 json_pack("{s:i}", "i", i), NULL, &err) == 0);
		if ((i + 1) % group == 0 || i + 1 == events)
			CX_CHECK(cx_audit_sync(a, &err) == 0);
	}
	cx_audit_close(a);
	reread(lb);
}

/* A writer killed after appending n deferred events, before its sync:
 * they stay in the log, unsigned. */
static void crashed_writer(const char *path, int n)
{
	int status;
	pid_t p = fork();
	CX_CHECK(p >= 0);
	if (p == 0) {
		cx_audit *a;
		cx_error e = { 0 };
		if (cx_audit_open(path, seed, &a, &e) < 0)
			_exit(1);
		cx_audit_defer_sync(a, true);
		for (int i = 0; i < n; i++)
			if (cx_audit_append(a, "exec.spawned", NULL, "run-3", json_pack("{s:i}", "k", i),
					    NULL, &e) < 0)
				_exit(2);
		_exit(0); /* no sync, no close: the process dies here */
	}
	CX_CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *line_type(const logbuf *lb, int n, json_t **keep)
{
	*keep = line_json(lb, n);
	return json_string_value(json_object_get(*keep, "type"));
}

/* Every thread count gives the same report (0: intact) or error. */
static void expect_v2_report(const uint8_t *b, size_t len, uint64_t lines, uint64_t signed_lines,
			     const char *want_err)
{
	uint8_t pk[32];
	cx_seed_public(seed, pk);
	for (unsigned t = 1; t <= 9; t++) {
		cx_error err = { 0 };
		cx_audit_report rep;
		memset(&rep, 0xff, sizeof(rep));
		int r = cx_audit_verify_threads(b, len, pk, t, &rep, &err);
		if (want_err && (r == 0 || !strstr(err.msg, want_err)))
			fail_msg("threads %u: '%s', expected '%s'", t, r == 0 ? "OK" : err.msg, want_err);
		if (!want_err && r != 0)
			fail_msg("threads %u: %s", t, err.msg);
		if (!want_err && rep.lines != lines)
			fail_msg("threads %u: %llu lines, expected %llu", t, (unsigned long long)rep.lines,
				 (unsigned long long)lines);
		if (rep.signed_lines != signed_lines)
			fail_msg("threads %u: %llu lines vouched for, expected %llu", t,
				 (unsigned long long)rep.signed_lines, (unsigned long long)signed_lines);
	}
}

/* 10 events in groups of 4: 4 mac lines, a checkpoint, 4, a checkpoint,
 * 2, a checkpoint. Every line but the checkpoints carries a mac; each
 * checkpoint counts the unsigned lines it covers. */
static void v2_checkpoint_per_sync_group(void **st)
{
	logbuf lb;
	cx_error err = { 0 };
	cx_audit_report rep;
	uint8_t pk[32];
	json_t *j;
	(void)st;
	make_log_v2(&lb, 10, 4);
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(lb.buf, lb.len, pk, &rep, &err), 0);
	assert_int_equal(rep.lines, 13);
	assert_int_equal(rep.signed_lines, 13);
	assert_int_equal(rep.checkpoints, 3);
	for (int n = 1; n <= 13; n++) {
		bool ck = n == 5 || n == 10 || n == 13;
		const char *t = line_type(&lb, n, &j);
		assert_string_equal(t, ck ? "audit.checkpoint" : "exec.spawned");
		assert_true(json_is_string(json_object_get(j, ck ? "sig" : "mac")));
		assert_null(json_object_get(j, ck ? "mac" : "sig"));
		if (ck)
			assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "details"), "lines")),
					 n == 13 ? 2 : 4);
		json_decref(j);
	}
	expect_v2_report(lb.buf, lb.len, 13, 13, NULL);
	free_log(&lb);
}

/* A middle line replaced by a forged one with the right seq and prev and
 * a mac by another key (a verifier cannot check macs): the chain breaks at
 * the line after it; the checkpoint before it still vouches for 1..5. An
 * edited byte in a middle unsigned line breaks it the same way. */
static void v2_forged_middle_line_detected(void **st)
{
	logbuf lb;
	uint8_t other[32];
	(void)st;
	make_log_v2(&lb, 8, 4); /* 1-4, ckpt 5, 6-9, ckpt 10 */
	memset(other, 9, sizeof(other));
	size_t a = line_off(&lb, 7), b = line_off(&lb, 8);
	char *forged = forged_line(lb.buf, a, other, "{\"i\":5}", true);
	size_t fl = strlen(forged), nlen = a + fl + (lb.len - b);
	uint8_t *out = malloc(nlen);
	memcpy(out, lb.buf, a);
	memcpy(out + a, forged, fl);
	memcpy(out + a + fl, lb.buf + b, lb.len - b);
	assert_non_null(memmem(out + a, fl, "\"seq\":7,", 8));
	expect_v2_report(out, nlen, 0, 5, "line 8: prev does not match the hash of the line before");
	free(out);
	free(forged);

	/* one byte of line 7 edited */
	char *p = memmem(lb.buf + a, b - a, "\"i\":5", 5);
	assert_non_null(p);
	p[4] = '6';
	expect_v2_report(lb.buf, lb.len, 0, 5, "line 8: prev does not match");
	free_log(&lb);
}

/* Lines after the last checkpoint are no error but an unsigned tail:
 * counted, not vouched for. A writer killed before its sync leaves one;
 * so does a log cut (whole lines) after a checkpoint. */
static void v2_unsigned_tail_reported(void **st)
{
	logbuf lb;
	(void)st;
	make_log_v2(&lb, 8, 4); /* 10 lines, all signed */
	crashed_writer(lb.path, 3);
	reread(&lb);
	expect_v2_report(lb.buf, lb.len, 13, 10, NULL);
	/* cut after line 12: 2 unsigned lines */
	expect_v2_report(lb.buf, line_off(&lb, 13), 12, 10, NULL);
	/* cut after line 8, in the middle of a group: vouched up to 5 */
	expect_v2_report(lb.buf, line_off(&lb, 9), 8, 5, NULL);
	/* cut at a checkpoint: nothing unsigned */
	expect_v2_report(lb.buf, line_off(&lb, 11), 10, 10, NULL);
	/* a log that never reached a checkpoint: nothing vouched for */
	free_log(&lb);
	make_log(&lb, 0);
	crashed_writer(lb.path, 2);
	reread(&lb);
	expect_v2_report(lb.buf, lb.len, 2, 0, NULL);
	free_log(&lb);
}

/* A checkpoint's signature altered: detected at that checkpoint (the last
 * one, or one in the middle); one signed by another key too. */
static void v2_altered_checkpoint_sig_detected(void **st)
{
	logbuf lb;
	uint8_t other[32];
	(void)st;
	make_log_v2(&lb, 8, 4); /* ckpts at 5 and 10 */
	for (int ck = 5; ck <= 10; ck += 5) {
		uint8_t *b = malloc(lb.len);
		memcpy(b, lb.buf, lb.len);
		size_t end = (ck == 10 ? lb.len : line_off(&lb, ck + 1)) - 1;
		/* a character in the middle of the base64 signature */
		b[end - 40] = b[end - 40] == 'A' ? 'B' : 'A';
		char want[64];
		snprintf(want, sizeof(want), "line %d: signature does not verify", ck);
		expect_v2_report(b, lb.len, 0, ck == 5 ? 0 : 5, want);
		free(b);
	}
	/* the last checkpoint replaced by one by another key */
	memset(other, 9, sizeof(other));
	size_t l10 = line_off(&lb, 10);
	char *forged = forged_line(lb.buf, l10, other, "{\"lines\":4}", false);
	uint8_t *b = malloc(l10 + strlen(forged));
	memcpy(b, lb.buf, l10);
	memcpy(b + l10, forged, strlen(forged));
	expect_v2_report(b, l10 + strlen(forged), 0, 5, "line 10: signature does not verify");
	free(b);
	free(forged);
	free_log(&lb);
}

/* Verification checks the newest checkpoint's signature and relies on
 * the chain for every line before it (docs/audit-events.md): a signed line
 * the host key's newer checkpoint chains over is vouched for by it, even
 * one whose own signature is by another key (which only a writer holding
 * the host key could have let in: the appender refuses to chain onto it);
 * the same line as the newest checkpoint is refused, at its line, and the
 * walk back finds the valid one before it. With 1 to 9 threads. */
static void v2_newest_checkpoint_vouches(void **st)
{
	logbuf lb;
	uint8_t other[32];
	(void)st;
	memset(other, 9, sizeof(other));
	make_log_v2(&lb, 8, 4); /* ckpts at 5 and 10 */
	char *a = forged_line(lb.buf, lb.len, other, "{\"lines\":0}", false); /* line 11 */
	size_t la = lb.len + strlen(a);
	uint8_t *b = malloc(la);
	memcpy(b, lb.buf, lb.len);
	memcpy(b + lb.len, a, strlen(a));
	/* newest = the other key's: refused at 11, vouched up to 10 */
	expect_v2_report(b, la, 0, 10, "line 11: signature does not verify");
	/* the host key's checkpoint over it: all 12 vouched */
	char *c = forged_line(b, la, seed, "{\"lines\":1}", false);
	size_t lc = la + strlen(c);
	b = realloc(b, lc);
	memcpy(b + la, c, strlen(c));
	expect_v2_report(b, lc, 12, 12, NULL);
	uint8_t pk[32];
	cx_audit_report rep;
	cx_error err = { 0 };
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(b, lc, pk, &rep, &err), 0);
	assert_int_equal(rep.checkpoints, 4);
	free(a);
	free(c);
	free(b);
	free_log(&lb);
}

/* The appender checks what it chains onto: a forged unsigned line at the
 * end (another key's mac) is refused; the same line made with the host
 * seed (the control) is accepted and signed over. */
static void v2_append_refuses_forged_unsigned_line(void **st)
{
	logbuf lb;
	uint8_t other[32];
	cx_audit *a;
	cx_error err = { 0 };
	cx_audit_report rep;
	uint8_t pk[32];
	(void)st;
	make_log_v2(&lb, 3, 4);
	memset(other, 9, sizeof(other));
	append_forged_as(lb.path, other, "{}", true);
	expect_refused(&lb, "its line at seq 5 is not signed by this host's key: its mac does not verify");
	free_log(&lb);

	make_log_v2(&lb, 3, 4);
	append_forged_as(lb.path, seed, "{}", true);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	assert_int_equal(cx_audit_append(a, "x", NULL, NULL, json_object(), NULL, &err), 0);
	cx_audit_close(a);
	reread(&lb);
	cx_seed_public(seed, pk);
	assert_int_equal(cx_audit_verify(lb.buf, lb.len, pk, &rep, &err), 0);
	assert_int_equal(rep.lines, 6);
	assert_int_equal(rep.signed_lines, 6);
	free_log(&lb);
}

/* A forged or edited line inside the unsigned tail (not the last line) is
 * refused too: the appender checks every line after the last checkpoint,
 * not only the one it chains onto. */
static void v2_append_refuses_forged_line_in_tail(void **st)
{
	logbuf lb;
	uint8_t other[32];
	(void)st;
	make_log_v2(&lb, 3, 4); /* 4 lines */
	crashed_writer(lb.path, 3); /* 5, 6, 7 unsigned */
	reread(&lb);
	memset(other, 9, sizeof(other));
	size_t a = line_off(&lb, 6), b = line_off(&lb, 7);
	char *forged = forged_line(lb.buf, a, other, "{\"k\":1}", true);
	FILE *f = fopen(lb.path, "wb");
	CX_CHECK(f && fwrite(lb.buf, 1, a, f) == a && fputs(forged, f) >= 0 &&
		 fwrite(lb.buf + b, 1, lb.len - b, f) == lb.len - b && fclose(f) == 0);
	free(forged);
	expect_refused(&lb, "its line at seq 6 is not signed by this host's key");
	free_log(&lb);

	/* the same tail, one byte of line 5 edited (same length) */
	make_log_v2(&lb, 3, 4);
	crashed_writer(lb.path, 3);
	reread(&lb);
	char *p = memmem(lb.buf + line_off(&lb, 5), line_off(&lb, 6) - line_off(&lb, 5), "\"k\":0", 5);
	assert_non_null(p);
	p[4] = '8';
	f = fopen(lb.path, "wb");
	CX_CHECK(f && fwrite(lb.buf, 1, lb.len, f) == lb.len && fclose(f) == 0);
	expect_refused(&lb, "its line at seq 5 is not signed by this host's key");
	free_log(&lb);
}

/* The checkpoint an appender chains onto is checked when it first opens
 * the log: its signature altered, nothing is appended. */
static void v2_append_checks_last_checkpoint(void **st)
{
	logbuf lb;
	(void)st;
	make_log_v2(&lb, 3, 4); /* ckpt at 4 */
	crashed_writer(lb.path, 2);
	reread(&lb);
	size_t end = line_off(&lb, 5) - 1;
	lb.buf[end - 40] = lb.buf[end - 40] == 'A' ? 'B' : 'A';
	FILE *f = fopen(lb.path, "wb");
	CX_CHECK(f && fwrite(lb.buf, 1, lb.len, f) == lb.len && fclose(f) == 0);
	expect_refused(&lb, "its line at seq 4 is not signed by this host's key: signature does not verify");
	free_log(&lb);
}

/* A genuine unsigned tail (a writer killed before its sync) is checked and
 * then vouched for by the next writer's checkpoint, which counts it. */
static void v2_next_writer_signs_unsigned_tail(void **st)
{
	logbuf lb;
	cx_audit *a;
	cx_error err = { 0 };
	json_t *j;
	(void)st;
	make_log_v2(&lb, 3, 4);
	crashed_writer(lb.path, 3);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	cx_audit_defer_sync(a, true);
	assert_int_equal(cx_audit_append(a, "exec.started", NULL, NULL, json_object(), NULL, &err), 0);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	cx_audit_close(a);
	reread(&lb);
	expect_v2_report(lb.buf, lb.len, 9, 9, NULL);
	assert_string_equal(line_type(&lb, 9, &j), "audit.checkpoint");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "details"), "lines")), 4);
	json_decref(j);
	free_log(&lb);
}

/* A sync adds no checkpoint when the last line is signed already (another
 * writer's signed line came after ours and vouches for it). */
static void v2_sync_skips_checkpoint_after_signed_line(void **st)
{
	logbuf lb;
	cx_audit *a, *b;
	cx_error err = { 0 };
	(void)st;
	make_log(&lb, 0);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	assert_int_equal(cx_audit_open(lb.path, seed, &b, &err), 0);
	cx_audit_defer_sync(a, true);
	assert_int_equal(cx_audit_append(a, "t", NULL, NULL, json_object(), NULL, &err), 0);
	assert_int_equal(cx_audit_append(a, "t", NULL, NULL, json_object(), NULL, &err), 0);
	assert_int_equal(cx_audit_append(b, "u", NULL, NULL, json_object(), NULL, &err), 0); /* signed */
	assert_int_equal(cx_audit_sync(a, &err), 0);
	cx_audit_close(a);
	cx_audit_close(b);
	reread(&lb);
	expect_v2_report(lb.buf, lb.len, 3, 3, NULL);
	free_log(&lb);
}

/* Lines cut from the end below what a writer saw: it appends no more. */
static void v2_append_refuses_shrunk_log(void **st)
{
	logbuf lb;
	cx_audit *a;
	cx_error err = { 0 };
	(void)st;
	make_log(&lb, 0);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cx_audit_append(a, "t", NULL, NULL, json_object(), NULL, &err), 0);
	reread(&lb);
	assert_int_equal(truncate(lb.path, (off_t)line_off(&lb, 3)), 0);
	assert_true(cx_audit_append(a, "t", NULL, NULL, json_object(), NULL, &err) < 0);
	assert_int_equal(err.reason, CX_E_AUDIT);
	assert_non_null(strstr(err.msg, "is shorter than when this writer last appended to it"));
	cx_audit_close(a);
	reread(&lb);
	assert_int_equal(lb.len, line_off(&lb, 3));
	free_log(&lb);
}

/* A v1 log (every line signed, written by hand in the v1 format) still
 * verifies, and v2 lines appended to it make a mixed log that verifies
 * whole; an edited v1 line is still named at its own line. */
static void v1_log_still_verifies(void **st)
{
	logbuf lb;
	cx_audit *a;
	cx_error err = { 0 };
	(void)st;
	make_log(&lb, 0);
	for (int i = 0; i < 3; i++)
		append_forged(lb.path, seed, "{\"v\":1}");
	reread(&lb);
	assert_null(memmem(lb.buf, lb.len, "\"mac\"", 5));
	expect_v2_report(lb.buf, lb.len, 3, 3, NULL);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	cx_audit_defer_sync(a, true);
	for (int i = 0; i < 2; i++)
		assert_int_equal(cx_audit_append(a, "t", NULL, NULL, json_object(), NULL, &err), 0);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	cx_audit_close(a);
	reread(&lb);
	expect_v2_report(lb.buf, lb.len, 6, 6, NULL);
	char *p = memmem(lb.buf + line_off(&lb, 2), lb.len - line_off(&lb, 2), "\"v\":1", 5);
	assert_non_null(p);
	p[4] = '2';
	expect_v2_report(lb.buf, lb.len, 0, 1, "line 2: signature does not verify");
	free_log(&lb);
}

/* ---- text values (calyx/audit.h) ---------------------------------------- */

/* v decodes to exactly (b, n), cut or not, with that whole length. */
static void expect_decodes(const json_t *v, const void *b, size_t n, bool cut, int64_t whole)
{
	cx_audit_textval t;
	_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	json_t *back = cx_json_loadb(s, strlen(s), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);

	assert_non_null(back); /* survives the log's own serialization */
	assert_true(json_equal(back, v));
	assert_int_equal(cx_audit_text_decode(back, &t), 0);
	assert_int_equal(t.len, n);
	assert_memory_equal(t.bytes, n ? b : "", n);
	assert_int_equal(t.truncated, cut);
	assert_int_equal(t.whole_len, whole);
	cx_audit_textval_free(&t);
	json_decref(back);
}

static void text_values_round_trip(void **st)
{
#define C(lit, str) { lit, sizeof(lit) - 1, str }
	static const struct {
		const char *b;
		size_t n;
		bool string; /* a plain JSON string */
	} cases[] = {
		C("", true),
		C("/usr/bin/cat", true),
		C("/srv/\xc3\xa9t\xc3\xa9", true),
		C("\xf0\x9f\x98\x80", true),
		C("\x1b[31m", true),       /* control characters are valid UTF-8 */
		C("/tmp/\xff/../../lib64/ld", false),
		C("a\0b", false),           /* NUL: readers refuse \u0000 */
		C("\xc0\xaf", false),       /* overlong '/' */
		C("\xed\xa0\x80", false),   /* a surrogate */
		C("\xf4\x90\x80\x80", false), /* above U+10FFFF */
		C("ab\xe2\x82", false),     /* a character cut, but not by us */
	};
#undef C
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		json_t *v = cx_audit_textn(cases[i].b, cases[i].n, false, 0);
		assert_non_null(v);
		assert_int_equal(json_is_string(v), cases[i].string);
		if (!cases[i].string) {
			assert_int_equal(json_object_size(v), 1);
			assert_non_null(json_object_get(v, "b64"));
		}
		expect_decodes(v, cases[i].b, cases[i].n, false, -1);
		json_decref(v);
	}
	json_t *v = cx_audit_text("/tmp/\xff");
	expect_decodes(v, "/tmp/\xff", 6, false, -1);
	json_decref(v);
}

static void text_values_cut_on_boundary(void **st)
{
	json_t *v;
	(void)st;
	/* UTF-8 cut inside "é": the partial character goes, the cut is said */
	v = cx_audit_textn("/tmp/x\xc3\xa9\xc3", 9, true, 300);
	assert_string_equal(json_string_value(json_object_get(v, "text")), "/tmp/x\xc3\xa9");
	assert_true(json_is_true(json_object_get(v, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(v, "bytes")), 300);
	expect_decodes(v, "/tmp/x\xc3\xa9", 8, true, 300);
	json_decref(v);
	/* a 4-byte character cut after 3 of its bytes */
	v = cx_audit_textn("ab\xf0\x9f\x98", 5, true, 0);
	assert_null(json_object_get(v, "bytes")); /* the whole length is not known */
	expect_decodes(v, "ab", 2, true, -1);
	json_decref(v);
	/* not UTF-8 and cut: no character to respect, every byte kept */
	v = cx_audit_textn("\xff\xe2\x82", 3, true, 10);
	assert_non_null(json_object_get(v, "b64"));
	expect_decodes(v, "\xff\xe2\x82", 3, true, 10);
	json_decref(v);
	/* not even when they end like a character: all of them, not the
	 * last 0xe6 too once "\xe6\x82" goes */
	v = cx_audit_textn("\xe6\xe6\x82", 3, true, 0);
	expect_decodes(v, "\xe6\xe6\x82", 3, true, -1);
	json_decref(v);
	/* cut on a boundary already: nothing more goes */
	v = cx_audit_textn("abc", 3, true, 4);
	expect_decodes(v, "abc", 3, true, 4);
	json_decref(v);
}

static void text_values_one_spelling(void **st)
{
	static const char *const bad[] = {
		"{\"b64\":\"YWJj\"}",                      /* "abc" could be a string */
		"{\"text\":\"abc\"}",                      /* a whole string is a string */
		"{\"text\":\"a\",\"truncated\":false}",
		"{\"b64\":\"/w==\",\"bytes\":5}",          /* bytes without truncated */
		"{\"text\":\"a\",\"truncated\":true,\"bytes\":1}", /* not more than kept */
		"{\"text\":\"a\",\"truncated\":true,\"bytes\":\"9\"}",
		"{\"b64\":\"/w==\",\"text\":\"a\",\"truncated\":true}",
		"{\"b64\":\"/w==\",\"x\":1}",
		"{\"b64\":\"/w=\"}",                       /* not canonical base64 */
		"{\"b64\":\"/x==\"}",                      /* trailing bits */
		"{\"b64\":\"\"}",
		"{\"b64\":\"YWLi\",\"truncated\":true}",   /* "ab\xe2": "ab" and a cut character */
		"{}", "[]", "3", "null", "{\"b64\":7}", "{\"text\":7,\"truncated\":true}",
	};
	cx_audit_textval t;
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		json_t *v = cx_json_loadb(bad[i], strlen(bad[i]), JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		if (cx_audit_text_decode(v, &t) == 0)
			fail_msg("'%s' decoded", bad[i]);
		assert_null(cx_audit_text_plain(v));
		json_decref(v);
	}
}

static void text_values_argv(void **st)
{
	static const uint8_t area[] = "cat\0/tmp/\xff\0-n\0"; /* 14 bytes and a NUL */
	_cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
	json_t *a, *l;
	(void)st;
	a = cx_audit_argv(area, 14, 14);
	l = cx_audit_argv_line(area, 14, 14);
	s1 = cx_json_dump(a);
	s2 = cx_json_dump(l);
	assert_string_equal(s1, "[\"cat\",{\"b64\":\"L3RtcC//\"},\"-n\"]");
	assert_string_equal(s2, "{\"b64\":\"Y2F0IC90bXAv/yAtbg==\"}");
	json_decref(a);
	json_decref(l);
	/* the kernel's area was 40 bytes, 10 read: "-n" is cut after "-",
	 * the line is cut and knows its whole length (less the last NUL) */
	a = cx_audit_argv("cat\0ab\xc3\xa9\0-", 10, 40);
	l = cx_audit_argv_line("cat\0ab\xc3\xa9\0-", 10, 40);
	s3 = cx_json_dump(a);
	s4 = cx_json_dump(l);
	assert_string_equal(s3, "[\"cat\",\"ab\\u00E9\",{\"text\":\"-\",\"truncated\":true}]");
	assert_string_equal(s4, "{\"text\":\"cat ab\\u00E9 -\",\"truncated\":true,\"bytes\":39}");
	json_decref(a);
	json_decref(l);
	/* no argv known: nothing */
	a = cx_audit_argv("", 0, 0);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	/* the line gives the arguments back by its spaces unless one holds a
	 * space or is empty */
	assert_false(cx_audit_argv_ambiguous(area, 14));
	assert_false(cx_audit_argv_ambiguous("cat\0ab", 6)); /* cut: "ab" */
	assert_false(cx_audit_argv_ambiguous("", 0));
	assert_true(cx_audit_argv_ambiguous("cat\0a b\0", 8));
	assert_true(cx_audit_argv_ambiguous("cat\0\0x\0", 7));
	assert_true(cx_audit_argv_ambiguous("\0", 1));
	assert_true(cx_audit_argv_ambiguous("cat\0a ", 6)); /* cut after a space */
}

static void text_values_plain(void **st)
{
	json_t *v, *d, *p;
	char *s;
	(void)st;
	v = cx_audit_text("plain \\ text");
	s = cx_audit_text_plain(v);
	assert_string_equal(s, "plain \\ text");
	free(s);
	json_decref(v);
	v = cx_audit_textn("/tmp/\xff\\a\0", 9, false, 0);
	s = cx_audit_text_plain(v);
	assert_string_equal(s, "/tmp/\\xff\\\\a\\x00 [not UTF-8: \\xNN is a byte, \\\\ a backslash]");
	free(s);
	json_decref(v);
	v = cx_audit_textn("/srv/\xc3\xa9\xc3", 8, true, 200);
	s = cx_audit_text_plain(v);
	assert_string_equal(s, "/srv/\xc3\xa9… [cut at 7 of 200 bytes]");
	free(s);
	/* details: text values replaced, everything else kept */
	d = json_pack("{s:o, s:{s:i, s:[o]}}", "filename", v, "usage", "n", 3, "argv",
		      cx_audit_text("\xfe"));
	p = cx_audit_details_plain(d);
	s = cx_json_dump(p);
	assert_string_equal(s, "{\"filename\":\"/srv/\\u00E9\\u2026 [cut at 7 of 200 bytes]\",\"usage\":{\"n\":3,\"argv\":[\"\\\\xfe [not UTF-8: \\\\xNN is a byte, \\\\\\\\ a backslash]\"]}}");
	free(s);
	json_decref(p);
	json_decref(d);
}

/* Text values in a real line: written, signed, verified, decoded back. */
static void text_values_in_the_log(void **st)
{
	static const char name[] = "/tmp/\xff/../../lib64/ld-linux-x86-64.so.2";
	logbuf lb;
	cx_audit *a;
	cx_error err = { 0 };
	cx_audit_textval t;
	(void)st;
	make_log(&lb, 1);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	assert_int_equal(cx_audit_append(a, "exec.spawned", NULL, NULL,
					 json_pack("{s:i, s:o}", "pid", 7, "filename",
						   cx_audit_text(name)),
					 NULL, &err),
			 0);
	cx_audit_close(a);
	reread(&lb);
	assert_int_equal(verify(lb.buf, lb.len, &err), 0);
	json_t *j = line_json(&lb, 2), *d = json_object_get(j, "details");
	assert_int_equal(json_integer_value(json_object_get(d, "pid")), 7);
	assert_int_equal(cx_audit_text_decode(json_object_get(d, "filename"), &t), 0);
	assert_int_equal(t.len, sizeof(name) - 1);
	assert_memory_equal(t.bytes, name, t.len);
	cx_audit_textval_free(&t);
	json_decref(j);
	free_log(&lb);
}

/* ---- forwarding (executor/audit/forward.c) ----------------------------- */

static const char fwd_sha[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char fwd_prev[] = "2222222222222222222222222222222222222222222222222222222222222222";

static cx_fwd_line fwd_line(const char *type, const char *line)
{
	return (cx_fwd_line){ .seq = 12, .time = "2026-12-07T16:45:38.487Z", .type = type,
			      .lease_id = "0123456789abcdef0123456789abcdef", .run_id = "deploy-4821",
			      .host_id = "build-01", .line = line, .len = strlen(line),
			      .sha256 = fwd_sha, .prev = fwd_prev };
}

/* The RFC 5424 message: header, one SD element with the join fields, the
 * line as MSG; PRI from facility and the type's severity. */
static void fwd_rfc5424_message(void **st)
{
	cx_fwd_line l = fwd_line("lease.verified", "{\"seq\":12}");
	size_t len;
	char *m;
	(void)st;
	m = cx_fwd_rfc5424(&l, 10, "build-01.example", 4242, &len);
	assert_string_equal(m,
			    "<86>1 2026-12-07T16:45:38.487Z build-01.example calyx-exec 4242 lease.verified "
			    "[calyx@32473 seq=\"12\" type=\"lease.verified\" lease_id=\"0123456789abcdef0123456789abcdef\" "
			    "run_id=\"deploy-4821\" host_id=\"build-01\" "
			    "line_sha256=\"1111111111111111111111111111111111111111111111111111111111111111\" "
			    "prev=\"2222222222222222222222222222222222222222222222222222222222222222\"] {\"seq\":12}");
	assert_int_equal(len, strlen(m));
	free(m);
	/* a refusal is a warning; local3 = 19: 19 * 8 + 4 */
	l = fwd_line("lease.rejected", "{}");
	l.lease_id = l.run_id = l.host_id = NULL;
	m = cx_fwd_rfc5424(&l, 19, "h", 1, &len);
	assert_string_equal(m,
			    "<156>1 2026-12-07T16:45:38.487Z h calyx-exec 1 lease.rejected "
			    "[calyx@32473 seq=\"12\" type=\"lease.rejected\" "
			    "line_sha256=\"1111111111111111111111111111111111111111111111111111111111111111\" "
			    "prev=\"2222222222222222222222222222222222222222222222222222222222222222\"] {}");
	free(m);
}

/* SD-PARAM values escape '"', '\\' and ']' (RFC 5424 6.3.3) and nothing
 * else; header fields that are not PRINTUSASCII become "-"; a line with
 * bytes above ASCII goes as MSG-UTF8, after a BOM. */
static void fwd_rfc5424_escaping(void **st)
{
	cx_fwd_line l = fwd_line("monitor.a_type_name_longer_than_32", "{\"x\":\"\xc3\xa9\"}");
	size_t len;
	char *m, *sd;
	(void)st;
	l.host_id = "a\"b\\c]d e=f[g";
	m = cx_fwd_rfc5424(&l, 16, "host name", 7, &len);
	assert_true(strncmp(m, "<134>1 2026-12-07T16:45:38.487Z - calyx-exec 7 - [calyx@32473 ", 62) == 0);
	sd = strstr(m, " host_id=");
	assert_non_null(sd);
	assert_true(strncmp(sd, " host_id=\"a\\\"b\\\\c\\]d e=f[g\" ", 28) == 0);
	assert_non_null(strstr(m, "] \xEF\xBB\xBF{\"x\":\"\xc3\xa9\"}"));
	assert_int_equal(len, strlen(m));
	free(m);
	/* no hostname at all, an ASCII line: no BOM */
	l = fwd_line("exec.denied", "{}");
	m = cx_fwd_rfc5424(&l, 3, NULL, 9, &len);
	assert_true(strncmp(m, "<28>1 2026-12-07T16:45:38.487Z - calyx-exec 9 exec.denied [", 59) == 0);
	assert_string_equal(m + len - 4, "] {}");
	free(m);
	assert_int_equal(cx_fwd_severity("audit.forward_failed"), 4);
	assert_int_equal(cx_fwd_severity("resource.breach"), 4);
	assert_int_equal(cx_fwd_severity("run.failed"), 4);
	assert_int_equal(cx_fwd_severity("exec.spawned"), 6);
	assert_int_equal(cx_fwd_severity("audit.checkpoint"), 6);
}

static void fwd_journal_fields(void **st)
{
	cx_fwd_line l = fwd_line("exec.finished", "{\"seq\":12}");
	char *f[CX_FWD_JOURNAL_FIELDS];
	static const char *const want[] = {
		"MESSAGE=exec.finished (calyx audit seq 12, lease 0123456789abcdef0123456789abcdef, run deploy-4821)",
		"PRIORITY=6",
		"SYSLOG_FACILITY=10",
		"SYSLOG_IDENTIFIER=calyx-exec",
		"CALYX_SEQ=12",
		"CALYX_TYPE=exec.finished",
		"CALYX_LEASE_ID=0123456789abcdef0123456789abcdef",
		"CALYX_RUN_ID=deploy-4821",
		"CALYX_HOST_ID=build-01",
		"CALYX_TIME=2026-12-07T16:45:38.487Z",
		"CALYX_LINE_SHA256=1111111111111111111111111111111111111111111111111111111111111111",
		"CALYX_PREV=2222222222222222222222222222222222222222222222222222222222222222",
		"CALYX_EVENT={\"seq\":12}",
	};
	size_t n;
	(void)st;
	n = cx_fwd_journal_fields(&l, 10, f);
	assert_int_equal(n, CX_ARRAY_SIZE(want));
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(f[i], want[i]);
		free(f[i]);
	}
	l.lease_id = l.run_id = l.host_id = NULL;
	n = cx_fwd_journal_fields(&l, 10, f);
	assert_int_equal(n, CX_ARRAY_SIZE(want) - 3);
	assert_string_equal(f[0], "MESSAGE=exec.finished (calyx audit seq 12)");
	for (size_t i = 0; i < n; i++) {
		assert_null(strstr(f[i], "CALYX_LEASE_ID="));
		free(f[i]);
	}
}

/* A datagram receiver bound at dir/name; the fd. */
static int fwd_receiver(const char *dir, const char *name, char **ret_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CX_CHECK(fd >= 0);
	CX_CHECK(asprintf(ret_path, "%s/%s", dir, name) > 0);
	CX_CHECK(strlen(*ret_path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, *ret_path);
	CX_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

/* The next datagram (malloc'd, NUL-terminated), NULL when none is queued. */
static char *fwd_recv(int fd)
{
	char *buf = malloc(CX_AUDIT_LINE_MAX + 65536);
	ssize_t n = recv(fd, buf, CX_AUDIT_LINE_MAX + 65535, 0);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* The value of SD-PARAM name in message m (no escapes in what we look up). */
static char *sd_value(const char *m, const char *name)
{
	char key[64], *p, *q;
	snprintf(key, sizeof(key), " %s=\"", name);
	p = strstr(m, key);
	if (!p)
		return NULL;
	p += strlen(key);
	q = strchr(p, '"');
	return strndup(p, (size_t)(q - p));
}

/* Every line the log holds reaches the syslog socket, in order, once:
 * its seq, type and ids in the SD, its SHA-256 there too (the next line's
 * prev), the line itself as MSG. */
static void fwd_syslog_every_line(void **st)
{
	char *root = tu_tmpdir(), *sock = NULL, *path = NULL;
	int fd = fwd_receiver(root, "syslog.sock", &sock);
	cx_audit *a = NULL;
	cx_error err = { 0 };
	logbuf lb = { 0 };
	(void)st;
	CX_CHECK(asprintf(&path, "%s/audit.jsonl", root) > 0);
	assert_int_equal(cx_audit_open(path, seed, &a, &err), 0);
	cx_audit_defer_sync(a, true);
	assert_int_equal(cx_audit_forward(a, &(cx_audit_fwd){ .syslog = sock, .facility = 10,
							      .host_id = "h-1" }, &err), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cx_audit_append(a, i == 1 ? "exec.spawned" : "lease.verified",
						 "0123456789abcdef0123456789abcdef", "run-1",
						 json_pack("{s:i}", "i", i), NULL, &err),
				 0);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	cx_audit_close(a);
	lb.path = path;
	reread(&lb);
	assert_int_equal(verify(lb.buf, lb.len, &err), 0);
	/* 3 events and the sync's checkpoint, no audit.forward_failed */
	assert_null(strstr((char *)lb.buf, "audit.forward_failed"));
	for (int n = 1; n <= 4; n++) {
		size_t off = line_off(&lb, n);
		const char *line = (const char *)lb.buf + off;
		size_t llen = (size_t)((const uint8_t *)memchr(line, '\n', lb.len - off) - (const uint8_t *)line);
		char *m = fwd_recv(fd), *v, hex[65], want[32];
		assert_non_null(m);
		v = sd_value(m, "seq");
		snprintf(want, sizeof(want), "%d", n);
		assert_string_equal(v, want);
		free(v);
		cx_sha256_hex(line, llen, hex);
		v = sd_value(m, "line_sha256");
		assert_string_equal(v, hex);
		free(v);
		v = sd_value(m, "host_id");
		assert_string_equal(v, "h-1");
		free(v);
		if (n < 4) {
			v = sd_value(m, "lease_id");
			assert_string_equal(v, "0123456789abcdef0123456789abcdef");
			free(v);
		}
		assert_true(strncmp(m, "<86>1 ", 6) == 0); /* authpriv, info */
		assert_int_equal(strlen(strstr(m, "] ") + 2), llen);
		assert_memory_equal(strstr(m, "] ") + 2, line, llen);
		free(m);
	}
	assert_null(fwd_recv(fd)); /* one message per line, no more */
	close(fd);
	tu_rmtree(root);
	free(root);
	free(sock);
	free(lb.buf);
	free(path);
}

/* The details of the audit.forward_failed line at line n. */
static json_t *ff_details(const logbuf *lb, int n, const char *sink)
{
	json_t *j = line_json(lb, n), *d;
	CX_CHECK(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "audit.forward_failed");
	d = json_incref(json_object_get(json_object_get(j, "details"), sink));
	json_decref(j);
	CX_CHECK(d);
	return d;
}

/* The type of line n (static storage: valid until the next call). */
static const char *audit_type_at(const logbuf *lb, int n)
{
	static char t[64];
	json_t *keep;
	snprintf(t, sizeof(t), "%s", line_type(lb, n, &keep));
	json_decref(keep);
	return t;
}

static int64_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* A receiver that is gone: every append still succeeds; the sync appends
 * one audit.forward_failed (counts, seq range, first error) before its
 * checkpoint; syncs with nothing new add nothing (the report's own
 * failure does not call for another: no loop); the next report counts
 * what failed since; once the receiver is back, lines reach it. */
static void fwd_failures_counted_and_reported(void **st)
{
	char *root = tu_tmpdir(), *sock = NULL, *path = NULL;
	cx_audit *a = NULL;
	cx_error err = { 0 };
	logbuf lb = { 0 };
	json_t *d;
	uint64_t seq;
	(void)st;
	CX_CHECK(asprintf(&path, "%s/audit.jsonl", root) > 0);
	CX_CHECK(asprintf(&sock, "%s/gone.sock", root) > 0);
	lb.path = path;
	assert_int_equal(cx_audit_open(path, seed, &a, &err), 0);
	cx_audit_defer_sync(a, true);
	assert_int_equal(cx_audit_forward(a, &(cx_audit_fwd){ .syslog = sock, .facility = 10 }, &err), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(cx_audit_append(a, "exec.spawned", NULL, NULL, json_pack("{s:i}", "i", i),
						 &seq, &err),
				 0);
	assert_int_equal(seq, 2);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	reread(&lb);
	/* 1, 2: events; 3: the report; 4: the checkpoint */
	assert_string_equal(audit_type_at(&lb, 3), "audit.forward_failed");
	assert_string_equal(audit_type_at(&lb, 4), "audit.checkpoint");
	d = ff_details(&lb, 3, "syslog");
	assert_int_equal(jint(d, "failed"), 2);
	assert_int_equal(jint(d, "forwarded"), 0);
	assert_int_equal(jint(d, "first_seq"), 1);
	assert_int_equal(jint(d, "last_seq"), 2);
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "No such file or directory"));
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "gone.sock"));
	json_decref(d);
	/* nothing new: the report and checkpoint failed too, but call for none */
	assert_int_equal(cx_audit_sync(a, &err), 0);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	size_t before = lb.len;
	reread(&lb);
	assert_int_equal(lb.len, before);
	/* one more event: the next report counts lines 3..5 */
	assert_int_equal(cx_audit_append(a, "exec.finished", NULL, NULL, json_object(), &seq, &err), 0);
	assert_int_equal(seq, 5);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	reread(&lb);
	d = ff_details(&lb, 6, "syslog");
	assert_int_equal(jint(d, "failed"), 3);
	assert_int_equal(jint(d, "first_seq"), 3);
	assert_int_equal(jint(d, "last_seq"), 5);
	json_decref(d);
	assert_string_equal(audit_type_at(&lb, 7), "audit.checkpoint");
	/* the receiver is back: the next line reaches it */
	char *sock2 = NULL;
	int fd = fwd_receiver(root, "gone.sock", &sock2);
	assert_int_equal(cx_audit_append(a, "exec.finished", NULL, NULL, json_object(), &seq, &err), 0);
	char *m = fwd_recv(fd), *v;
	assert_non_null(m);
	v = sd_value(m, "seq");
	assert_string_equal(v, "8");
	free(v);
	free(m);
	cx_audit_close(a);
	reread(&lb);
	/* close synced (lines 6, 7 failed: bookkeeping) without a report */
	assert_null(strstr((char *)lb.buf + line_off(&lb, 8), "audit.forward_failed"));
	assert_int_equal(verify(lb.buf, lb.len, &err), 0);
	close(fd);
	free(sock2);
	tu_rmtree(root);
	free(root);
	free(sock);
	free(lb.buf);
	free(path);
}

/* A receiver that stops reading: appends go on (MSG_DONTWAIT: none
 * waits for it), the lines its queue holds were forwarded, the others
 * failed, and the report says why. */
static void fwd_stalled_receiver_never_blocks(void **st)
{
	char *root = tu_tmpdir(), *sock = NULL, *path = NULL;
	int fd = fwd_receiver(root, "stalled.sock", &sock);
	cx_audit *a = NULL;
	cx_error err = { 0 };
	logbuf lb = { 0 };
	uint64_t qlen = 0;
	int n;
	json_t *d;
	(void)st;
	/* more lines than the receiver's queue holds (max_dgram_qlen + 1) */
	FILE *qf = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");
	CX_CHECK(qf && fscanf(qf, "%" SCNu64, &qlen) == 1 && qlen < (1u << 20));
	fclose(qf);
	n = (int)qlen + 8;
	CX_CHECK(asprintf(&path, "%s/audit.jsonl", root) > 0);
	lb.path = path;
	assert_int_equal(cx_audit_open(path, seed, &a, &err), 0);
	cx_audit_defer_sync(a, true);
	assert_int_equal(cx_audit_forward(a, &(cx_audit_fwd){ .syslog = sock, .facility = 10 }, &err), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(cx_audit_append(a, "exec.spawned", NULL, NULL, json_pack("{s:i}", "i", i),
						 NULL, &err),
				 0);
	assert_int_equal(cx_audit_sync(a, &err), 0);
	cx_audit_close(a);
	reread(&lb);
	d = ff_details(&lb, n + 1, "syslog");
	assert_true(jint(d, "forwarded") >= 1);
	assert_true(jint(d, "failed") >= 1);
	assert_int_equal(jint(d, "forwarded") + jint(d, "failed"), n);
	assert_int_equal(jint(d, "last_seq"), n);
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "queue is full"));
	json_decref(d);
	assert_int_equal(verify(lb.buf, lb.len, &err), 0);
	close(fd);
	tu_rmtree(root);
	free(root);
	free(sock);
	free(lb.buf);
	free(path);
}

/* A writer that signs and syncs every line (calyx-ctl): the report comes
 * at close, signed; the log verifies with it. */
static void fwd_failure_reported_at_close(void **st)
{
	char *root = tu_tmpdir(), *path = NULL;
	cx_audit *a = NULL;
	cx_error err = { 0 };
	logbuf lb = { 0 };
	json_t *d, *j;
	(void)st;
	CX_CHECK(asprintf(&path, "%s/audit.jsonl", root) > 0);
	lb.path = path;
	assert_int_equal(cx_audit_open(path, seed, &a, &err), 0);
	assert_int_equal(cx_audit_forward(a, &(cx_audit_fwd){ .syslog = "/nonexistent/calyx-test.sock",
							      .facility = 10 }, &err), 0);
	assert_int_equal(cx_audit_append(a, "workspace.undone", "0123456789abcdef0123456789abcdef", NULL,
					 json_object(), NULL, &err),
			 0);
	cx_audit_close(a);
	reread(&lb);
	d = ff_details(&lb, 2, "syslog");
	assert_int_equal(jint(d, "failed"), 1);
	assert_int_equal(jint(d, "first_seq"), 1);
	json_decref(d);
	j = line_json(&lb, 2);
	assert_non_null(json_object_get(j, "sig"));
	json_decref(j);
	assert_int_equal(verify(lb.buf, lb.len, &err), 0);
	tu_rmtree(root);
	free(root);
	free(lb.buf);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(intact_log_verifies),
		cmocka_unit_test(edited_byte_detected),
		cmocka_unit_test(deleted_line_detected),
		cmocka_unit_test(swapped_lines_detected),
		cmocka_unit_test(torn_last_line_detected),
		cmocka_unit_test(forged_by_other_key_detected),
		cmocka_unit_test(repair_one_byte_fragment),
		cmocka_unit_test(repair_mid_line),
		cmocka_unit_test(repair_fragment_at_limit),
		cmocka_unit_test(repair_fragment_only_log),
		cmocka_unit_test(tear_over_limit_refused),
		cmocka_unit_test(tear_over_limit_without_newline_refused),
		cmocka_unit_test(tear_after_bad_last_line_refused),
		cmocka_unit_test(repair_after_crash_before_cut),
		cmocka_unit_test(repair_refuses_other_evidence),
		cmocka_unit_test(verify_names_torn_line),
		cmocka_unit_test(verify_names_overlong_tail),
		cmocka_unit_test(threads_same_result),
		cmocka_unit_test(big_log_threads),
		cmocka_unit_test(concurrent_appenders_keep_chain),
		cmocka_unit_test(symlinked_log_refused),
		cmocka_unit_test(null_details_refused),
		cmocka_unit_test(append_refuses_tail_of_other_key),
		cmocka_unit_test(append_refuses_edited_tail),
		cmocka_unit_test(repair_refuses_forged_tail),
		cmocka_unit_test(v2_checkpoint_per_sync_group),
		cmocka_unit_test(v2_forged_middle_line_detected),
		cmocka_unit_test(v2_unsigned_tail_reported),
		cmocka_unit_test(v2_altered_checkpoint_sig_detected),
		cmocka_unit_test(v2_newest_checkpoint_vouches),
		cmocka_unit_test(v2_append_refuses_forged_unsigned_line),
		cmocka_unit_test(v2_append_refuses_forged_line_in_tail),
		cmocka_unit_test(v2_append_checks_last_checkpoint),
		cmocka_unit_test(v2_next_writer_signs_unsigned_tail),
		cmocka_unit_test(v2_sync_skips_checkpoint_after_signed_line),
		cmocka_unit_test(v2_append_refuses_shrunk_log),
		cmocka_unit_test(v1_log_still_verifies),
		cmocka_unit_test(text_values_round_trip),
		cmocka_unit_test(text_values_cut_on_boundary),
		cmocka_unit_test(text_values_one_spelling),
		cmocka_unit_test(text_values_argv),
		cmocka_unit_test(text_values_plain),
		cmocka_unit_test(text_values_in_the_log),
		cmocka_unit_test(fwd_rfc5424_message),
		cmocka_unit_test(fwd_rfc5424_escaping),
		cmocka_unit_test(fwd_journal_fields),
		cmocka_unit_test(fwd_syslog_every_line),
		cmocka_unit_test(fwd_failures_counted_and_reported),
		cmocka_unit_test(fwd_stalled_receiver_never_blocks),
		cmocka_unit_test(fwd_failure_reported_at_close),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
