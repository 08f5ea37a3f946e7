/* Workload: burn CPU forever in N threads (default 1).
 *
 *   spin [N]
 *
 * Used by the monitor's tests and benchmark to cross a CPU budget; with
 * N > cores the run's tasks compete for the CPUs like a parallel build. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;

static void *burn(void *arg)
{
	(void)arg;
	for (unsigned long i = 0;; i++)
		sink = i;
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
	pthread_t t;

	if (n < 1 || n > 1024) {
		fprintf(stderr, "usage: spin [THREADS 1..1024]\n");
		return 2;
	}
	for (long i = 1; i < n; i++)
		if (pthread_create(&t, NULL, burn, NULL) != 0) {
			perror("spin: pthread_create");
			return 1;
		}
	burn(NULL);
	return 0;
}
