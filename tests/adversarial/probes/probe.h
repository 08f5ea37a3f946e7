/* Adversarial probes: tiny helpers shared by every probe (header only).
 *
 * A probe is a static binary that runs inside the calyx sandbox, attempts
 * one escape (or a few closely related ones) and reports each attempt as
 * one line on stdout:
 *
 *   PROBE <probe>/<attempt> <DENIED|ESCAPED|ERROR|INFO> <detail>
 *
 *   DENIED   the attempt was made and failed (detail: how, e.g. errno)
 *   ESCAPED  the attempt succeeded: a sandbox boundary was crossed
 *   ERROR    the attempt could not be made (probe bug, missing fixture)
 *   INFO     an observation that is neither (documented behaviour)
 *
 * Exit code (probe_done): 1 if anything ESCAPED, else 2 if anything was an
 * ERROR, else 0. A probe never reports DENIED for something it did not try.
 * tests/adversarial/run.sh parses these lines. */
#ifndef CALYX_PROBE_H
#define CALYX_PROBE_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *probe_name = "probe";
static int probe_escaped, probe_errors, probe_denied;

static inline void probe_init(const char *name)
{
	probe_name = name;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* One line for one attempt. verdict: "DENIED", "ESCAPED", "ERROR", "INFO". */
__attribute__((format(printf, 3, 4))) static inline void note(const char *verdict, const char *attempt,
							    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	for (char *p = detail; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (strcmp(verdict, "ESCAPED") == 0)
		probe_escaped++;
	else if (strcmp(verdict, "ERROR") == 0)
		probe_errors++;
	else if (strcmp(verdict, "DENIED") == 0)
		probe_denied++;
	printf("PROBE %s/%s %s %s\n", probe_name, attempt, verdict, detail);
	fflush(stdout);
}

static inline _Noreturn void probe_done(void)
{
	fflush(stdout);
	if (probe_escaped)
		exit(1);
	if (probe_errors || !probe_denied)
		exit(2);
	exit(0);
}

/* Single-attempt form: one line, then exit with its code. */
#define report(verdict, ...)                 \
	do {                                 \
		note(verdict, "main", __VA_ARGS__); \
		probe_done();                \
	} while (0)

/* The result of a syscall-like call (r < 0 with errno on failure):
 * success is an escape, any failure a denial (errno named). Returns r. */
static inline long expect_fail(const char *attempt, long r, const char *what)
{
	int e = errno;
	if (r >= 0)
		note("ESCAPED", attempt, "%s succeeded (returned %ld)", what, r);
	else
		note("DENIED", attempt, "%s: %s (errno %d)", what, strerror(e), e);
	errno = e;
	return r;
}

/* Same, but only the listed errnos count as a denial; any other failure
 * is reported as ERROR (the probe did not reach the check it meant to). */
static inline long expect_errno(const char *attempt, long r, const char *what, int e1, int e2)
{
	int e = errno;
	if (r >= 0)
		note("ESCAPED", attempt, "%s succeeded (returned %ld)", what, r);
	else if (e == e1 || e == e2)
		note("DENIED", attempt, "%s: %s (errno %d)", what, strerror(e), e);
	else
		note("ERROR", attempt, "%s failed unexpectedly: %s (errno %d)", what, strerror(e), e);
	errno = e;
	return r;
}

/* Raw syscall with all six 64-bit arguments (upper bits preserved). */
static inline long raw_syscall6(long nr, unsigned long a, unsigned long b, unsigned long c,
				unsigned long d, unsigned long e, unsigned long f)
{
	long ret;
	register unsigned long r10 __asm__("r10") = d;
	register unsigned long r8 __asm__("r8") = e;
	register unsigned long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

/* Read up to len-1 bytes of a file (NUL-terminated); -1 with errno. */
static inline ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	errno = e;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Is path the same inode as ref (both stat'd, following symlinks)? */
static inline int same_inode(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return -1;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

#endif
