/* Workload: start N short-lived processes, one after the other, so a run
 * produces many exec.spawned audit events quickly (tests/integration/
 * audit_log.sh builds a large log from real runs with it).
 *
 *   spawner N        N times: fork, execve this program ("spawner child",
 *                    empty environment), wait; exit 0 if every child
 *                    exited 0, else 1. N in 1..100000.
 *   spawner child    exit 0 at once.
 *
 * argv[0] must be the absolute path of this program, as a lease gives it:
 * in the sandbox only the leased command may be executed (Landlock), so the
 * children re-execute it. One child at a time keeps the run's pid count at
 * two, far below any pids limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end, *cargv[3], *envp[] = { NULL };
	long n;
	int status;

	if (argc == 2 && strcmp(argv[1], "child") == 0)
		return 0;
	n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	if (argc != 2 || *end || n < 1 || n > 100000 || argv[0][0] != '/') {
		fprintf(stderr, "usage: /absolute/path/spawner N (1..100000) | spawner child\n");
		return 2;
	}
	cargv[0] = argv[0];
	cargv[1] = "child";
	cargv[2] = NULL;
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("spawner: fork");
			return 1;
		}
		if (p == 0) {
			execve(cargv[0], cargv, envp);
			perror("spawner: execve");
			_exit(127);
		}
		if (waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return 1;
	}
	return 0;
}
