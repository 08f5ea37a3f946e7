/* cgjoin N: what moving a process into a cgroup v1 hierarchy costs here,
 * as calyx-exec does for a run's sandbox on a hybrid host (v1 memory, pids,
 * cpu, freezer; a pure cgroup2 host needs no such write: CLONE_INTO_CGROUP).
 * The write takes the kernel's cgroup_threadgroup_rwsem for writing, which
 * can wait for an RCU grace period unless the host favours dynamic
 * modifications (cgroup2 mount option favordynmods). N times, 20 ms apart:
 * fork a child that waits, write its pid into a fresh cgroup of the v1 pids
 * hierarchy, time that write; prints "median_ms max_ms". Bench tool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char dir[96], procs[128];
	int n = argc > 1 ? atoi(argv[1]) : 0;
	long long *d;

	if (n < 1 || n > 1000) {
		fprintf(stderr, "usage: cgjoin N (1..1000)\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids/calyx-bench-cgjoin-%d", (int)getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	if (mkdir(dir, 0755) < 0) {
		fprintf(stderr, "cgjoin: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	d = calloc((size_t)n, sizeof(*d));
	for (int i = 0; d && i < n; i++) {
		char b[32];
		pid_t p = fork();
		if (p == 0) {
			pause();
			_exit(0);
		}
		int fd = open(procs, O_WRONLY | O_CLOEXEC), l = snprintf(b, sizeof(b), "%d", (int)p);
		long long t0 = now_ns();
		ssize_t w = fd < 0 ? -1 : write(fd, b, (size_t)l);
		d[i] = now_ns() - t0;
		if (fd >= 0)
			close(fd);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		if (w != l) {
			fprintf(stderr, "cgjoin: write %s: %s\n", procs, strerror(errno));
			rmdir(dir);
			return 1;
		}
		usleep(20000);
	}
	rmdir(dir);
	if (!d)
		return 1;
	qsort(d, (size_t)n, sizeof(*d), cmp);
	printf("%.3f %.3f\n", (double)d[n / 2] / 1e6, (double)d[n - 1] / 1e6);
	free(d);
	return 0;
}
