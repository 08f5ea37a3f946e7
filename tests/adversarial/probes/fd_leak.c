/* Leaked file descriptors (runc CVE-2024-21626 "Leaky Vessels": a host
 * directory fd left open into the container let the process chdir out of
 * its root; also CVE-2016-9962). The harness starts calyx-exec with extra
 * fds 5-9 open on host directories and files. Inside, only 0-2 may be
 * open; none of them may be a directory; the cwd must be inside the view.
 *   fd_leak [EXPECTED_CWD] */
#include "probe.h"

#include <sys/resource.h>

int main(int argc, char **argv)
{
	char link[64], target[512], cwd[4096];
	struct rlimit rl;
	int open_fds = 0;
	unsigned long max = 1024;

	probe_init("fd_leak");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > max && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur < 65536 ? rl.rlim_cur : 65536;
	for (int fd = 0; fd < (int)max; fd++) {
		struct stat st;
		if (fcntl(fd, F_GETFD) < 0)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		if (fstat(fd, &st) < 0) {
			note("ERROR", "fstat", "fd %d: %s", fd, strerror(errno));
			continue;
		}
		if (fd <= 2) {
			char attempt[16];
			snprintf(attempt, sizeof(attempt), "stdio-%d", fd);
			if (S_ISDIR(st.st_mode)) {
				/* A directory on stdio: how far does it reach? */
				int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				note("ESCAPED", attempt,
				     "fd %d is a directory (%s); openat(fd, \"..\") %s", fd, target,
				     pfd >= 0 ? "succeeded" : strerror(errno));
				if (pfd >= 0)
					close(pfd);
			} else
				note("DENIED", attempt, "fd %d is not a directory (%s, mode %o)", fd,
				     target, st.st_mode & S_IFMT);
			continue;
		}
		open_fds++;
		note("ESCAPED", "extra-fd", "fd %d is open in the sandbox: %s", fd, target);
	}
	if (open_fds == 0)
		note("DENIED", "extra-fds", "no fd above 2 is open (scanned 3..%lu)", max - 1);

	if (!getcwd(cwd, sizeof(cwd)))
		note("ESCAPED", "cwd", "getcwd failed (%s): cwd outside the view", strerror(errno));
	else if (cwd[0] != '/' || (argc > 1 && strcmp(cwd, argv[1]) != 0))
		note("ESCAPED", "cwd", "cwd is '%s'%s%s", cwd, argc > 1 ? ", expected " : "",
		     argc > 1 ? argv[1] : "");
	else if (same_inode(cwd, "/proc/self/cwd") != 1)
		note("ERROR", "cwd", "cwd '%s' is not /proc/self/cwd", cwd);
	else
		note("DENIED", "cwd", "cwd is %s, inside the view", cwd);
	probe_done();
}
