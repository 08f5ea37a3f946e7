/* bench-audit driver: append and verify throughput of the audit log.
 * Figures only, no assertions.
 *
 *   bench_audit append LOG N [GROUP v1|v2]
 *       appends N events through cx_audit_append to LOG, which must not
 *       exist; prints events/s and lines/s. Without GROUP: every line
 *       signed and fdatasync'd (as calyx-ctl does). With GROUP: syncs
 *       deferred, cx_audit_sync after every GROUP events (as calyx-exec
 *       groups them), in format v2 (lines with a mac, one signed
 *       checkpoint line per sync) or v1 (every line signed: the format
 *       before checkpoints). The events look like a real run's
 *       exec.spawned (pid, ppid, filename, argv head), about 420 bytes.
 *   bench_audit verify LOG REPS [THREADS]
 *       reads LOG once, then times cx_audit_verify over it REPS times
 *       (with THREADS: cx_audit_verify_threads, 1 = one pass in order);
 *       prints each repetition and the median in lines/s.
 *       BENCH_AUDIT_FWD=journald|syslog:PATH|both:PATH forwards every line
 *       as a writer with config audit_forward does (its setup, libsystemd's
 *       dlopen included, is timed apart and printed); lines that fail to
 *       forward are reported by audit.forward_failed lines in LOG.
 *   bench_audit sigs N
 *       the floor under verify: N bare Ed25519 verifications
 *       (crypto_sign_verify_detached) of a 420-byte message on one CPU.
 * The host key is a fixed test seed; LOG is kept for the caller. */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calyx/audit.h"
#include "calyx/fileio.h"
#include "calyx/keyring.h"

static const uint8_t seed[32] = { 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
				  0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
				  0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
				  0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg_count(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end != 0 || v < 1 || v > max) {
		fprintf(stderr, "bench_audit: '%s' is not a count in 1..%ld\n", s, max);
		exit(2);
	}
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int do_append(const char *path, long n, long group, bool v1)
{
	cx_audit *a = NULL;
	long lines;
	cx_error err = { 0 };
	double t0, dt;

	if (access(path, F_OK) == 0) {
		fprintf(stderr, "bench_audit: '%s' exists (give a new path)\n", path);
		return 2;
	}
	if (cx_audit_open(path, seed, &a, &err) < 0) {
		fprintf(stderr, "bench_audit: %s\n", err.msg);
		return 1;
	}
	if (group) {
		cx_audit_defer_sync(a, true);
		cx_audit_sign_every_line(a, v1);
	}
	const char *fwd = getenv("BENCH_AUDIT_FWD");
	if (fwd && *fwd) {
		const char *colon = strchr(fwd, ':');
		cx_audit_fwd f = { .facility = 10,
				   .journald = strncmp(fwd, "journald", 8) == 0 || strncmp(fwd, "both:", 5) == 0,
				   .syslog = colon ? colon + 1 : NULL };
		t0 = now_s();
		if (cx_audit_forward(a, &f, &err) < 0) {
			fprintf(stderr, "bench_audit: %s\n", err.msg);
			cx_audit_close(a);
			return 1;
		}
		printf("  forward setup (%s)  %.3f ms\n", fwd, (now_s() - t0) * 1e3);
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		json_t *d = json_pack("{s:i, s:i, s:s, s:s}", "pid", (int)(1000 + i % 30000), "ppid",
				      999, "filename", "/var/tmp/calyx-bench/bin/spawner",
				      "argv_head", "/var/tmp/calyx-bench/bin/spawner child 1");
		if (cx_audit_append(a, "exec.spawned", "0123456789abcdef0123456789abcdef",
				    "bench-run", d, NULL, &err) < 0) {
			fprintf(stderr, "bench_audit: append %ld: %s\n", i + 1, err.msg);
			cx_audit_close(a);
			return 1;
		}
		if (group && ((i + 1) % group == 0 || i + 1 == n) && cx_audit_sync(a, &err) < 0) {
			fprintf(stderr, "bench_audit: sync after %ld: %s\n", i + 1, err.msg);
			cx_audit_close(a);
			return 1;
		}
	}
	dt = now_s() - t0;
	cx_audit_close(a);
	lines = n + (group && !v1 ? (n + group - 1) / group : 0); /* the checkpoints */
	printf("  append  %8ld events  %7.2f s  %9.0f events/s  %9.0f lines/s  (%ld lines)\n", n, dt,
	       (double)n / dt, (double)lines / dt, lines);
	return 0;
}

static int do_verify(const char *path, long reps, unsigned threads)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ double *t = NULL;
	cx_error err = { 0 };
	cx_audit_report rep = { 0 };
	uint8_t pk[32];
	size_t len;

	if (cx_read_file(path, "audit log", (size_t)1 << 32, 0, 0, &buf, &len, &err) < 0) {
		fprintf(stderr, "bench_audit: %s\n", err.msg);
		return 1;
	}
	cx_seed_public(seed, pk);
	t = calloc((size_t)reps, sizeof(*t));
	CX_CHECK(t);
	for (long i = 0; i < reps; i++) {
		double t0 = now_s();
		if (cx_audit_verify_threads(buf, len, pk, threads, &rep, &err) < 0) {
			fprintf(stderr, "bench_audit: verify: %s\n", err.msg);
			return 1;
		}
		t[i] = now_s() - t0;
		printf("  verify  %8llu lines  %7.3f s  %9.0f lines/s  (repetition %ld)\n",
		       (unsigned long long)rep.lines, t[i], (double)rep.lines / t[i], i + 1);
	}
	qsort(t, (size_t)reps, sizeof(*t), cmp_double);
	printf("  verify  median of %ld (%s): %.0f lines/s (%.1f MB/s)\n", reps,
	       threads == 0 ? "threads as cx_audit_verify chooses" : threads == 1 ? "1 thread" : "given threads",
	       (double)rep.lines / t[reps / 2], (double)len / t[reps / 2] / 1e6);
	return 0;
}

static int do_sigs(long n)
{
	uint8_t pk[32], sk[64], sig[64], msg[420];
	double t0, dt;

	memset(msg, 'a', sizeof(msg));
	crypto_sign_seed_keypair(pk, sk, seed);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	t0 = now_s();
	for (long i = 0; i < n; i++)
		if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
			return 1;
	dt = now_s() - t0;
	cx_wipe(sk, sizeof(sk));
	printf("  ed25519 %8ld verifications on one CPU: %9.0f/s (%.1f us each)\n", n,
	       (double)n / dt, dt / (double)n * 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 4 && strcmp(argv[1], "append") == 0)
		return do_append(argv[2], arg_count(argv[3], 100000000), 0, true);
	if (argc == 6 && strcmp(argv[1], "append") == 0 &&
	    (strcmp(argv[5], "v1") == 0 || strcmp(argv[5], "v2") == 0))
		return do_append(argv[2], arg_count(argv[3], 100000000), arg_count(argv[4], 1000000),
				 strcmp(argv[5], "v1") == 0);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], arg_count(argv[3], 1000),
				 argc == 5 ? (unsigned)arg_count(argv[4], 16) : 0);
	if (argc == 3 && strcmp(argv[1], "sigs") == 0)
		return do_sigs(arg_count(argv[2], 100000000));
	fprintf(stderr, "usage: bench_audit append LOG N [GROUP v1|v2] | verify LOG REPS [THREADS] | sigs N\n");
	return 2;
}
