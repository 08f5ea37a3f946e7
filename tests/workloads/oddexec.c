/* Workload: start processes by names and with arguments that the audit
 * log cannot write as they are, so that each exec.spawned must keep bytes
 * that are not UTF-8, or say where the exec tracer's 128-byte buffers cut
 * them (tests/adversarial/cases/audit_exec_names.case,
 * tests/integration/audit_report.sh).
 *
 *   oddexec          in the sandbox's private /tmp, one child after the
 *                    other, each execve'ing this program again through a
 *                    detour that resolves to it:
 *                      1. /tmp/\377/../..ARGV0, args "\377\376 not utf-8"
 *                      2. /tmp/x + 75 x "é" + /../..ARGV0 (over 127 bytes,
 *                         a character across the cut), an arg of 90 x "é"
 *                      3. /tmp/\376 + 130 x "a" + /../..ARGV0 (cut and not
 *                         UTF-8), an arg of 75 x "\376 " (spaces: argv
 *                         is listed argument by argument, and cut)
 *                    Before each: "EXEC i HEX" (the path) and "ARG i j HEX"
 *                    (each argument) on stdout. Exit 0 when every child
 *                    exited 0.
 *   oddexec child …  exit 0 at once.
 *
 * argv[0] must be the absolute path of this program, as a lease gives it:
 * only the leased command may be executed in the sandbox (Landlock), and
 * every detour leads back to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void hex(const char *tag, int i, int j, const char *s)
{
	printf("%s %d", tag, i);
	if (j >= 0)
		printf(" %d", j);
	putchar(' ');
	if (!*s)
		putchar('-');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		printf("%02x", *p);
	putchar('\n');
}

/* s filled with n copies of unit, NUL-terminated (s has room). */
static char *repeat(char *s, const char *unit, int n)
{
	s[0] = 0;
	for (int i = 0; i < n; i++)
		strcat(s, unit);
	return s;
}

static int run(int i, const char *dir, const char *self, const char *arg)
{
	char path[1024];
	char *const argv[] = { (char *)self, "child", (char *)arg, NULL };
	char *const envp[] = { NULL };
	int status;

	if (mkdir(dir, 0700) < 0) {
		perror("oddexec: mkdir");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/../..%s", dir, self);
	hex("EXEC", i, -1, path);
	for (int j = 0; argv[j]; j++)
		hex("ARG", i, j, argv[j]);
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		return 1;
	if (p == 0) {
		execve(path, argv, envp);
		perror("oddexec: execve");
		_exit(127);
	}
	return waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	char dir[512], arg[512];
	int bad = 0;

	if (argc >= 2 && strcmp(argv[1], "child") == 0)
		return 0;
	if (argc != 1 || argv[0][0] != '/') {
		fprintf(stderr, "usage: /absolute/path/oddexec | oddexec child ...\n");
		return 2;
	}
	bad |= run(1, "/tmp/\377", argv[0], "\377\376 not utf-8");
	strcpy(dir, "/tmp/x");
	repeat(dir + 6, "\xc3\xa9", 75);
	bad |= run(2, dir, argv[0], repeat(arg, "\xc3\xa9", 90));
	strcpy(dir, "/tmp/\376");
	repeat(dir + 6, "a", 130);
	bad |= run(3, dir, argv[0], repeat(arg, "\376 ", 75));
	return bad;
}
