/* Workload: a fork bomb.
 *
 *   forkbomb [MAX_PROCS] [CHILD_SLEEP_MS]
 *
 * Every process forks as fast as it can, and every child does too. A
 * child that cannot fork (or finds MAX_PROCS processes made, 0 = no cap)
 * sleeps CHILD_SLEEP_MS (default 2000) and exits, so a bomb held by a
 * pids limit keeps pressing on it. The first process never stops; every
 * 100 ms it prints "forkbomb: forks N failures M" (fork failures across
 * the tree, e.g. EAGAIN from pids.max) when the numbers changed.
 * With MAX_PROCS the bomb reaches that many processes and then idles:
 * a known population for the halt benchmark. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	unsigned long forks, failures;
};

static struct shared *sh;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	long max = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	long child_sleep = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
	int is_root = 1;
	unsigned long shown_f = 0, shown_e = 0;
	long last = now_ms();

	if (max < 0 || child_sleep < 0 || argc > 3) {
		fprintf(stderr, "usage: forkbomb [MAX_PROCS] [CHILD_SLEEP_MS]\n");
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("forkbomb: mmap");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		/* take a slot first, so the cap holds however many fork at once */
		unsigned long n = __atomic_fetch_add(&sh->forks, 1, __ATOMIC_RELAXED);
		int capped = max && n + 1 >= (unsigned long)max;
		pid_t p = capped ? -1 : fork();

		if (p == 0) {
			is_root = 0;
			continue;
		}
		if (p < 0) {
			__atomic_fetch_sub(&sh->forks, 1, __ATOMIC_RELAXED);
			if (!capped)
				__atomic_fetch_add(&sh->failures, 1, __ATOMIC_RELAXED);
		}
		if (p < 0 && !is_root) {
			sleep_ms(child_sleep);
			_exit(0);
		}
		if (is_root) {
			if (p < 0)
				sleep_ms(capped ? 10 : 1);
			/* reap whatever has exited */
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (now_ms() - last >= 100) {
				unsigned long f = __atomic_load_n(&sh->forks, __ATOMIC_RELAXED);
				unsigned long e = __atomic_load_n(&sh->failures, __ATOMIC_RELAXED);
				last = now_ms();
				if (f != shown_f || e != shown_e)
					printf("forkbomb: forks %lu failures %lu\n", f, e);
				shown_f = f;
				shown_e = e;
			}
		}
	}
}
