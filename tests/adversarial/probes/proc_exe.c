/* Overwriting the runtime's binary through /proc/<pid>/exe (runc
 * CVE-2019-5736): the sandbox's init is a fork of calyx-exec (no execve),
 * so its /proc/1/exe is the host's calyx-exec. Every /proc/<pid>/exe the
 * probe can see, and its own /proc/self/exe, is opened for writing
 * (never truncated: success alone is the escape), directly and by
 * re-opening an O_PATH/O_RDONLY fd through /proc/self/fd. The harness also
 * compares calyx-exec's sha256 before and after. */
#include "probe.h"

#include <ctype.h>
#include <dirent.h>

static void try_write(const char *attempt, const char *path)
{
	char what[300];
	snprintf(what, sizeof(what), "open(\"%s\", O_WRONLY)", path);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		note("ESCAPED", attempt, "%s succeeded: the binary is writable", what);
		close(fd);
	} else
		expect_fail(attempt, -1, what);
}

int main(void)
{
	char p[300];

	probe_init("proc_exe");
	try_write("self-exe", "/proc/self/exe");
	try_write("pid1-exe", "/proc/1/exe");

	/* The CVE-2019-5736 way: hold an fd, reopen it for writing later. */
	int fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (fd < 0)
		note("ERROR", "self-exe-reopen", "open O_PATH /proc/self/exe: %s", strerror(errno));
	else {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		try_write("self-exe-reopen", p);
		close(fd);
	}
	fd = open("/proc/1/exe", O_PATH | O_CLOEXEC);
	if (fd < 0)
		note("DENIED", "pid1-exe-opath", "open O_PATH /proc/1/exe: %s", strerror(errno));
	else {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		note("INFO", "pid1-exe-opath", "O_PATH fd on /proc/1/exe obtained");
		try_write("pid1-exe-reopen", p);
		close(fd);
	}

	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char attempt[300];
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/exe", e->d_name);
		snprintf(attempt, sizeof(attempt), "pid%s-exe", e->d_name);
		try_write(attempt, p);
	}
	if (d)
		closedir(d);
	probe_done();
}
