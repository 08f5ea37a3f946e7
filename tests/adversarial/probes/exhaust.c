/* Probe: resource exhaustion from inside the sandbox (disk, inodes, fds).
 *
 *   exhaust STEP... [exit N]
 *
 * Steps, run in order:
 *   fill PATH BOUND        write PATH in 256 KiB chunks until a write
 *                          fails (SIGXFSZ ignored, so RLIMIT_FSIZE shows
 *                          as EFBIG); DENIED if it stopped with EFBIG,
 *                          ENOSPC or EDQUOT having written at most BOUND
 *                          bytes, ESCAPED if more than BOUND went in.
 *   fillmany DIR SIZE N    N files of SIZE bytes each in DIR (each one
 *                          stopped by RLIMIT_FSIZE or not): the total a
 *                          run can leave in a tree whose only bound is
 *                          per file. INFO only (bytes written in all).
 *   files DIR BOUND        create empty files DIR/i.N until it fails;
 *                          DENIED if stopped by ENOSPC/EDQUOT after at
 *                          most BOUND files, ESCAPED past BOUND.
 *   statfs PATH            INFO: f_type, size and inode counts of PATH.
 *   fds BOUND              open /dev/null until EMFILE: DENIED if
 *                          stopped at most BOUND fds; then try to raise
 *                          RLIMIT_NOFILE above its hard limit and dup2()
 *                          onto fd BOUND (both must fail).
 *   exit N                 after the steps, exit N instead of the
 *                          verdict code (a run that must fail, so its
 *                          writes are rolled back). An ESCAPED still
 *                          exits 1.
 * Files a step created stay where they are: the harness checks that the
 * run's writes are rolled back or bounded from the host side. */
#include "probe.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/statfs.h>

#define CHUNK (256 * 1024)

static char chunk[CHUNK];

static int is_stop_errno(int e)
{
	return e == EFBIG || e == ENOSPC || e == EDQUOT;
}

/* Write fd until a write fails or `cap` bytes went in; returns bytes written,
 * *err = the errno that stopped it (0: reached cap). */
static unsigned long long write_until(int fd, unsigned long long cap, int *err)
{
	unsigned long long done = 0;

	*err = 0;
	while (done < cap) {
		size_t want = cap - done < CHUNK ? (size_t)(cap - done) : CHUNK;
		ssize_t n = write(fd, chunk, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			break;
		}
		if (n == 0) {
			*err = ENOSPC;
			break;
		}
		done += (unsigned long long)n;
	}
	return done;
}

static void step_fill(const char *path, unsigned long long bound)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), e;
	unsigned long long done;

	if (fd < 0) {
		note("ERROR", "fill", "open %s: %s", path, strerror(errno));
		return;
	}
	/* 2 chunks past the bound: enough to see it crossed */
	done = write_until(fd, bound + 2 * CHUNK, &e);
	close(fd);
	if (done > bound)
		note("ESCAPED", "fill", "%s: wrote %llu bytes, above the bound of %llu", path, done, bound);
	else if (is_stop_errno(e))
		note("DENIED", "fill", "%s: stopped after %llu bytes (bound %llu): %s (errno %d)", path,
		     done, bound, strerror(e), e);
	else
		note("ERROR", "fill", "%s: stopped after %llu bytes by %s (errno %d)", path, done,
		     strerror(e), e);
}

static void step_fillmany(const char *dir, unsigned long long size, long n)
{
	unsigned long long total = 0;
	long made = 0;
	int last = 0;

	for (long i = 0; i < n; i++) {
		char p[4096];
		int fd, e;
		snprintf(p, sizeof(p), "%s/many.%ld", dir, i);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			last = errno;
			break;
		}
		total += write_until(fd, size, &e);
		close(fd);
		made++;
		if (e && !is_stop_errno(e)) {
			last = e;
			break;
		}
		if (e == ENOSPC || e == EDQUOT) {
			last = e;
			break;
		}
	}
	note("INFO", "fillmany", "%ld file(s) of up to %llu bytes in %s: %llu bytes in all%s%s", made,
	     size, dir, total, last ? ", stopped by " : "", last ? strerror(last) : "");
}

static void step_files(const char *dir, long bound)
{
	long i;
	int e = 0;

	for (i = 0; i <= bound; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/i.%ld", dir, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			e = errno;
			break;
		}
		close(fd);
	}
	if (i > bound)
		note("ESCAPED", "files", "%s: created %ld files, above the bound of %ld", dir, i, bound);
	else if (e == ENOSPC || e == EDQUOT)
		note("DENIED", "files", "%s: stopped after %ld files (bound %ld): %s (errno %d)", dir, i,
		     bound, strerror(e), e);
	else
		note("ERROR", "files", "%s: stopped after %ld files by %s (errno %d)", dir, i,
		     strerror(e), e);
}

static void step_statfs(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0) {
		note("ERROR", "statfs", "%s: %s", path, strerror(errno));
		return;
	}
	note("INFO", "statfs", "%s: type 0x%lx size %llu free %llu inodes %llu free %llu", path,
	     (unsigned long)sf.f_type, (unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize,
	     (unsigned long long)sf.f_bavail * (unsigned long long)sf.f_bsize,
	     (unsigned long long)sf.f_files, (unsigned long long)sf.f_ffree);
}

static void step_fds(long bound)
{
	struct rlimit rl;
	long n = 0;
	int e = 0, hi = -1;

	for (;;) {
		int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: plain app code */
		if (fd < 0) {
			e = errno;
			break;
		}
		hi = fd;
		if (++n > bound + 16)
			break;
	}
	if (n > bound)
		note("ESCAPED", "fds", "opened %ld fds (highest %d), above the bound of %ld", n, hi, bound);
	else if (e == EMFILE)
		note("DENIED", "fds", "stopped after %ld fds (highest %d, bound %ld): %s (errno %d)", n, hi,
		     bound, strerror(e), e);
	else
		note("ERROR", "fds", "stopped after %ld fds by %s (errno %d)", n, strerror(e), e);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		note("ERROR", "fds-raise", "getrlimit: %s", strerror(errno));
		return;
	}
	note("INFO", "fds-limit", "RLIMIT_NOFILE soft %llu hard %llu", (unsigned long long)rl.rlim_cur,
	     (unsigned long long)rl.rlim_max);
	rl.rlim_cur = rl.rlim_max = rl.rlim_max * 4 + 1024;
	expect_errno("fds-raise", setrlimit(RLIMIT_NOFILE, &rl), "setrlimit(NOFILE) above the hard limit",
		     EPERM, EPERM);
	expect_errno("fds-dup2-high", dup2(0, (int)bound + 8), "dup2 onto an fd above the limit", EBADF,
		     EMFILE);
}

int main(int argc, char **argv)
{
	int exit_code = -1;

	probe_init("exhaust");
	signal(SIGXFSZ, SIG_IGN);
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "fill") && i + 2 < argc) {
			step_fill(argv[i + 1], strtoull(argv[i + 2], NULL, 10));
			i += 2;
		} else if (!strcmp(argv[i], "fillmany") && i + 3 < argc) {
			step_fillmany(argv[i + 1], strtoull(argv[i + 2], NULL, 10),
				      strtol(argv[i + 3], NULL, 10));
			i += 3;
		} else if (!strcmp(argv[i], "files") && i + 2 < argc) {
			step_files(argv[i + 1], strtol(argv[i + 2], NULL, 10));
			i += 2;
		} else if (!strcmp(argv[i], "statfs") && i + 1 < argc) {
			step_statfs(argv[i + 1]);
			i += 1;
		} else if (!strcmp(argv[i], "fds") && i + 1 < argc) {
			step_fds(strtol(argv[i + 1], NULL, 10));
			i += 1;
		} else if (!strcmp(argv[i], "exit") && i + 1 < argc) {
			exit_code = (int)strtol(argv[i + 1], NULL, 10);
			i += 1;
		} else {
			note("ERROR", "usage", "bad step '%s'", argv[i]);
		}
	}
	if (exit_code >= 0 && !probe_escaped) {
		fflush(stdout);
		exit(exit_code);
	}
	probe_done();
}
