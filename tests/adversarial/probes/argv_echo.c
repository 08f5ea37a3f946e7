/* Argument and environment injection (shell metacharacters in a lease's
 * argv reaching a shell: the CI "command injection" class, cf.
 * CVE-2021-22205-style and GitHub Actions script injection; loader and
 * shell variables in the environment: LD_PRELOAD, BASH_ENV, IFS...).
 * Prints every argv element and environment entry hex-encoded
 * ("ARGV i HEX", "ENV HEX") so the harness can compare bytes exactly,
 * and checks that it was exec'd directly (its own executable, parent is
 * the sandbox's init) with no code-injecting variable in its environment. */
#include "probe.h"

extern char **environ;

static void hexline(const char *tag, int i, const char *s)
{
	printf("%s", tag);
	if (i >= 0)
		printf(" %d", i);
	printf(" ");
	if (!*s)
		printf("-");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		printf("%02x", *p);
	printf("\n");
}

int main(int argc, char **argv)
{
	static const char *const bad[] = { "LD_", "BASH_ENV=", "ENV=", "IFS=", "PYTHONPATH=",
					   "NODE_OPTIONS=", "PERL5OPT=", "GCONV_PATH=", "SHELLOPTS=" };
	char exe[512];

	probe_init("argv_echo");
	printf("ARGC %d\n", argc);
	for (int i = 0; i < argc; i++)
		hexline("ARGV", i, argv[i]);
	for (char **e = environ; *e; e++)
		hexline("ENV", -1, *e);

	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n < 0 ? 0 : n] = '\0';
	const char *base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	if (strcmp(base, "argv_echo") == 0 && getppid() == 1)
		note("DENIED", "no-shell", "exec'd directly: exe %s, parent is the sandbox's init", exe);
	else
		note("ESCAPED", "no-shell", "exe %s, parent pid %d: something ran in between", exe, getppid());

	int found = 0;
	for (char **e = environ; *e; e++)
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			if (strncmp(*e, bad[k], strlen(bad[k])) == 0) {
				note("ESCAPED", "env", "code-injecting variable in the environment: %.60s", *e);
				found++;
			}
	if (!found)
		note("DENIED", "env", "no loader/shell variable in the environment (%s)",
		     "LD_*, BASH_ENV, ENV, IFS, PYTHONPATH, NODE_OPTIONS, PERL5OPT, GCONV_PATH, SHELLOPTS");
	probe_done();
}
