/* cgjoin N: what moving a process into a cgroup v1 hierarchy costs here,
 * the two ways it can be done (a hybrid host's v1 memory, pids, cpu,
 * cpuacct; a pure cgroup2 host needs no such write: CLONE_INTO_CGROUP):
 *   pid   another process writes the pid into cgroup.procs (what
 *         calyx-exec did until it had the sandbox join by itself). The
 *         kernel takes its global cgroup_threadgroup_rwsem for writing,
 *         which waits for an RCU grace period unless the host favours
 *         dynamic modifications (cgroup2 mount option favordynmods).
 *   self  the single-threaded process writes "0" into tasks itself (what
 *         the sandbox's init does): no such lock.
 * N times each, 20 ms apart, into a fresh cgroup of the v1 pids hierarchy;
 * prints "pid_median_ms pid_max_ms self_median_ms self_max_ms". Bench
 * tool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
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

/* One timed move of a fresh child: by the parent (pid into procs) or by
 * the child itself ("0" into tasks). Returns ns, or -1. */
static long long move_once(const char *dir, bool self)
{
	char path[160], b[32];
	int tp[2];
	long long t = -1;
	pid_t p;

	snprintf(path, sizeof(path), "%s/%s", dir, self ? "tasks" : "cgroup.procs");
	if (pipe(tp) < 0)
		return -1;
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		if (self) {
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			long long t0 = now_ns(), d = -1;
			if (fd >= 0 && write(fd, "0", 1) == 1)
				d = now_ns() - t0;
			(void)!write(tp[1], &d, sizeof(d));
			_exit(0);
		}
		close(tp[1]);
		pause();
		_exit(0);
	}
	close(tp[1]);
	if (self) {
		if (read(tp[0], &t, sizeof(t)) != (ssize_t)sizeof(t))
			t = -1;
	} else {
		int fd = open(path, O_WRONLY | O_CLOEXEC), l = snprintf(b, sizeof(b), "%d", (int)p);
		long long t0 = now_ns();
		if (fd >= 0 && write(fd, b, (size_t)l) == l)
			t = now_ns() - t0;
		if (fd >= 0)
			close(fd);
		kill(p, SIGKILL);
	}
	close(tp[0]);
	waitpid(p, NULL, 0);
	return t;
}

int main(int argc, char **argv)
{
	char dir[96];
	int n = argc > 1 ? atoi(argv[1]) : 0;
	long long *d[2];

	if (n < 1 || n > 1000) {
		fprintf(stderr, "usage: cgjoin N (1..1000)\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids/calyx-bench-cgjoin-%d", (int)getpid());
	if (mkdir(dir, 0755) < 0) {
		fprintf(stderr, "cgjoin: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	d[0] = calloc((size_t)n, sizeof(long long));
	d[1] = calloc((size_t)n, sizeof(long long));
	for (int i = 0; d[0] && d[1] && i < n; i++) {
		for (int self = 0; self < 2; self++) { /* interleaved */
			d[self][i] = move_once(dir, self);
			if (d[self][i] < 0) {
				fprintf(stderr, "cgjoin: %s move failed: %s\n", self ? "self" : "pid",
					strerror(errno));
				rmdir(dir);
				return 1;
			}
			usleep(20000);
		}
	}
	rmdir(dir);
	if (!d[0] || !d[1])
		return 1;
	for (int k = 0; k < 2; k++)
		qsort(d[k], (size_t)n, sizeof(long long), cmp);
	printf("%.3f %.3f %.3f %.3f\n", (double)d[0][n / 2] / 1e6, (double)d[0][n - 1] / 1e6,
	       (double)d[1][n / 2] / 1e6, (double)d[1][n - 1] / 1e6);
	free(d[0]);
	free(d[1]);
	return 0;
}
