/* Unit tests: the signed, hash-chained audit log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "calyx/audit.h"
#include "calyx/fileio.h"
#include "testutil.h"

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

static void forged_by_other_key_detected(void **st)
{
	logbuf lb;
	cx_error err;
	uint8_t other[32];
	(void)st;
	make_log(&lb, 2);
	memset(other, 9, sizeof(other));
	cx_audit *a;
	assert_int_equal(cx_audit_open(lb.path, other, &a, &err), 0);
	assert_int_equal(cx_audit_append(a, "run.forged", NULL, NULL, NULL, NULL, &err), 0);
	cx_audit_close(a);
	free(lb.buf);
	assert_int_equal(cx_read_file(lb.path, "log", 1 << 24, 0, 0, &lb.buf, &lb.len, &err), 0);
	assert_true(verify(lb.buf, lb.len, &err) < 0);
	assert_non_null(strstr(err.msg, "line 3"));
	free_log(&lb);
}

static void append_refuses_after_torn_tail(void **st)
{
	logbuf lb;
	cx_error err;
	cx_audit *a;
	(void)st;
	make_log(&lb, 2);
	assert_int_equal(truncate(lb.path, (off_t)lb.len - 5), 0);
	assert_int_equal(cx_audit_open(lb.path, seed, &a, &err), 0);
	assert_true(cx_audit_append(a, "x", NULL, NULL, NULL, NULL, &err) < 0);
	assert_int_equal(err.reason, CX_E_AUDIT);
	cx_audit_close(a);
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
				if (cx_audit_append(a, "t", NULL, NULL, NULL, NULL, &e) < 0)
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(intact_log_verifies),
		cmocka_unit_test(edited_byte_detected),
		cmocka_unit_test(deleted_line_detected),
		cmocka_unit_test(swapped_lines_detected),
		cmocka_unit_test(torn_last_line_detected),
		cmocka_unit_test(forged_by_other_key_detected),
		cmocka_unit_test(append_refuses_after_torn_tail),
		cmocka_unit_test(concurrent_appenders_keep_chain),
		cmocka_unit_test(symlinked_log_refused),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
