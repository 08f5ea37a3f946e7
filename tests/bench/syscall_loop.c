/* syscall_loop: a tight loop of one kind of system call (or of pure
 * computation), timed from inside, for scripts/bench-overhead.sh: the same
 * static binary runs bare on the host and inside calyx-exec, and the
 * difference of the two ns-per-iteration figures is what the sandbox adds.
 *
 *   syscall_loop getppid N          N x getppid()
 *   syscall_loop read N             N x read(1 byte) from /dev/zero
 *   syscall_loop openclose N PATH   N x (open(PATH, O_RDONLY) + close)
 *   syscall_loop cpu N              N steps of a xorshift64 generator
 *
 * Only the loop is timed (CLOCK_MONOTONIC, read through the vDSO, so the
 * clock reads are not system calls the filter sees). Output, one line:
 *
 *   mode=MODE iters=N total_ns=T ns_per_iter=X.XXX [cpu_ns=C result=R]
 *
 * cpu mode also gives the loop's own CPU time (CLOCK_THREAD_CPUTIME_ID):
 * unlike the wall time, it does not grow when another process takes the
 * CPU, yet it still includes what interrupts the loop itself (a sampling
 * perf event's handler runs in the loop's context).
 *
 * Exit 0 on success, 1 if a call fails (the message names it), 2 on bad
 * usage. Static, no library: the sandbox's Landlock rules let only the
 * command itself (and its ELF interpreter, here none) be executed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void report(const char *mode, unsigned long n, uint64_t ns)
{
	printf("mode=%s iters=%lu total_ns=%" PRIu64 " ns_per_iter=%.3f", mode, n, ns,
	       (double)ns / (double)n);
}

static int usage(void)
{
	fprintf(stderr, "usage: syscall_loop getppid|read|cpu N | syscall_loop openclose N PATH\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long n, i;
	char *end;
	uint64_t t0, t1;

	if (argc < 3)
		return usage();
	errno = 0;
	n = strtoul(argv[2], &end, 10);
	if (errno || *end || end == argv[2] || n == 0 || argv[2][0] == '-')
		return usage();

	if (strcmp(argv[1], "getppid") == 0 && argc == 3) {
		/* the raw syscall: no libc wrapper may cache or skip it */
		t0 = now_ns();
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		t1 = now_ns();
		report("getppid", n, t1 - t0);
	} else if (strcmp(argv[1], "read") == 0 && argc == 3) {
		char c;
		int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "syscall_loop: open /dev/zero: %s\n", strerror(errno));
			return 1;
		}
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (read(fd, &c, 1) != 1) {
				fprintf(stderr, "syscall_loop: read /dev/zero: %s\n", strerror(errno));
				return 1;
			}
		}
		t1 = now_ns();
		close(fd);
		report("read", n, t1 - t0);
	} else if (strcmp(argv[1], "openclose") == 0 && argc == 4) {
		const char *path = argv[3];

		t0 = now_ns();
		for (i = 0; i < n; i++) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);

			if (fd < 0) {
				fprintf(stderr, "syscall_loop: open %s: %s\n", path, strerror(errno));
				return 1;
			}
			close(fd);
		}
		t1 = now_ns();
		report("openclose", n, t1 - t0);
	} else if (strcmp(argv[1], "cpu") == 0 && argc == 3) {
		/* xorshift64: each step depends on the last, and the result is
		 * printed, so the compiler can neither drop nor vectorise it */
		uint64_t x = 88172645463325252u, c0, c1;

		c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		t1 = now_ns();
		c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		report("cpu", n, t1 - t0);
		printf(" cpu_ns=%" PRIu64 " result=%" PRIu64, c1 - c0, x);
	} else {
		return usage();
	}
	printf("\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
