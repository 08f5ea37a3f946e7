/* Workload: N child processes that each burn CPU forever (default 4),
 * or that each exec a program; the parent waits for all of them.
 *
 *   forkspin [N]                   N children spin
 *   forkspin N exec PROG [ARGS...] N children execve PROG ARGS (no PATH
 *                                  search, empty environment)
 *   forkspin sleep MS              sleep MS milliseconds, exit 0
 *
 * In the sandbox only the leased command may be executed (Landlock), so
 * a run that starts several programs re-executes itself:
 *   forkspin 3 exec /path/to/forkspin sleep 50   -> 4 execs in all
 *
 * The parent itself only waits, so the CPU is the children's: a CPU
 * budget must be enforced on the whole tree, not the first process. It
 * exits 0 when every child exited 0, else 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

int main(int argc, char **argv)
{
	long n;
	char **xargv = NULL;
	int status, bad = 0;

	if (argc == 3 && strcmp(argv[1], "sleep") == 0) {
		long ms = strtol(argv[2], NULL, 10);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return 0;
	}
	n = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
	if (n < 1 || n > 1024 || (argc > 2 && (strcmp(argv[2], "exec") != 0 || argc < 4))) {
		fprintf(stderr, "usage: forkspin [N] | forkspin N exec PROG [ARGS...]\n");
		return 2;
	}
	if (argc > 2)
		xargv = argv + 3;
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("forkspin: fork");
			return 1;
		}
		if (p == 0) {
			if (xargv) {
				char *envp[] = { NULL };
				execve(xargv[0], xargv, envp);
				perror("forkspin: execve");
				_exit(127);
			}
			for (unsigned long k = 0;; k++)
				sink = k;
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	return bad;
}
