/* Regaining privilege through exec (the setuid/file-capability class:
 * CVE-2021-4034 pkexec, CVE-2023-2640 file caps via overlayfs; and the
 * "execute only what was leased" rule). The harness places in the
 * workspace a setuid-root copy of this probe (/work/suid, chown root,
 * chmod 4755) and a copy carrying file capabilities (/work/fcap,
 * security.capability = cap_setuid,cap_sys_admin+ep). The probe execs
 * each, plus another leased binary that is not argv[0], plus a copy of
 * itself it writes to /tmp, plus a memfd copy. Landlock must refuse the
 * exec (only argv[0] is executable); if an exec happens anyway, the new
 * image reports whether it gained uid 0 or any capability (nosuid and
 * no_new_privs must make the bits inert).
 *   setuid_exec try OTHER_BINARY
 *   setuid_exec child LABEL        (the exec'd image)
 *   setuid_exec check              (run directly as the lease's command from
 *                                   /work/suid or /work/fcap: gained nothing?) */
#include "probe.h"

#include <sys/mman.h>
#include <sys/wait.h>

static int copy_self(int dst)
{
	char buf[65536];
	ssize_t n;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -1;
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(dst, buf, (size_t)n) != n) {
			close(src);
			return -1;
		}
	close(src);
	return n < 0 ? -1 : 0;
}

static void child_check(const char *label);

static int child_mode(const char *label)
{
	bool info_only = strcmp(label, "memfd") == 0;

	if (info_only)
		note("INFO", label, "exec of a memfd copy ran (Landlock cannot restrict anonymous files; no privilege is gained by it)");
	else
		note("ESCAPED", label, "exec of a binary other than argv[0] succeeded (Landlock execute rule bypassed)");
	child_check(label);
	probe_done();
}

static void child_check(const char *label)
{
	char buf[2048], *cap;
	char attempt[300];
	snprintf(attempt, sizeof(attempt), "%s-euid", label);
	if (geteuid() == 0 || getuid() == 0)
		note("ESCAPED", attempt, "running with uid %u euid %u", getuid(), geteuid());
	else
		note("DENIED", attempt, "no uid 0 gained (uid %u euid %u)", getuid(), geteuid());
	snprintf(attempt, sizeof(attempt), "%s-caps", label);
	if (read_small("/proc/self/status", buf, sizeof(buf)) > 0 && (cap = strstr(buf, "CapEff:"))) {
		unsigned long long eff = strtoull(cap + 7, NULL, 16);
		cap = strstr(buf, "CapPrm:");
		unsigned long long prm = cap ? strtoull(cap + 7, NULL, 16) : 0;
		if (eff || prm)
			note("ESCAPED", attempt, "capabilities gained: CapEff %llx CapPrm %llx", eff, prm);
		else
			note("DENIED", attempt, "no capability gained");
	} else
		note("ERROR", attempt, "cannot read /proc/self/status");
}

/* Fork; the child execs path (or fd with execveat) as "child LABEL". */
static void try_exec(const char *label, const char *path, int fd)
{
	char *args[] = { (char *)"setuid_exec", (char *)"child", (char *)label, NULL };
	char *env[] = { NULL };
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		note("ERROR", label, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		if (fd >= 0)
			syscall(SYS_execveat, fd, "", args, env, AT_EMPTY_PATH);
		else
			execve(path, args, env);
		int e = errno;
		if (strcmp(label, "memfd") == 0)
			note("INFO", label, "execveat(memfd) refused: %s", strerror(e));
		else
			note("DENIED", label, "execve(%s): %s (errno %d)", fd >= 0 ? "fd" : path, strerror(e), e);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
		probe_escaped++;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		probe_errors++;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		probe_denied++;
	if (WIFSIGNALED(st))
		note("ERROR", label, "child killed by signal %d", WTERMSIG(st));
}

int main(int argc, char **argv)
{
	struct stat st;

	probe_init("setuid_exec");
	if (argc > 2 && strcmp(argv[1], "child") == 0)
		return child_mode(argv[2]);
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		/* Exec'd as the lease's own command from a setuid-root or
		 * file-capability copy: the bits must be inert. */
		note("INFO", "check", "running as %s", argv[0]);
		const char *base = strrchr(argv[0], '/');
		child_check(base ? base + 1 : argv[0]);
		probe_done();
	}
	if (argc < 3 || strcmp(argv[1], "try") != 0)
		report("ERROR", "usage: setuid_exec try OTHER_BINARY");

	if (stat("/work/suid", &st) < 0)
		note("ERROR", "suid", "fixture /work/suid missing: %s", strerror(errno));
	else {
		note("INFO", "suid-stat", "/work/suid uid %u mode %o", st.st_uid, st.st_mode & 07777);
		try_exec("suid", "/work/suid", -1);
	}
	if (stat("/work/fcap", &st) < 0)
		note("ERROR", "fcap", "fixture /work/fcap missing: %s", strerror(errno));
	else
		try_exec("fcap", "/work/fcap", -1);
	try_exec("other-leased", argv[2], -1);

	int fd = open("/tmp/copy", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0 || copy_self(fd) < 0)
		note("ERROR", "tmp-copy", "copy to /tmp: %s", strerror(errno));
	else {
		close(fd);
		try_exec("tmp-copy", "/tmp/copy", -1);
	}
	fd = (int)syscall(SYS_memfd_create, "calyx-probe", 0);
	if (fd < 0 || copy_self(fd) < 0)
		note("INFO", "memfd", "memfd_create/copy: %s", strerror(errno));
	else {
		try_exec("memfd", NULL, fd);
		close(fd);
	}
	probe_done();
}
