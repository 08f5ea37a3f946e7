/* Leaked file descriptors (runc CVE-2024-21626 "Leaky Vessels": a host
 * directory fd left open into the container let the process chdir out of
 * its root; also CVE-2016-9962). The harness starts calyx-exec with extra
 * fds 5-9 open on host directories and files. Inside, only 0-2 may be
 * open; none of them may be a directory; the cwd must be inside the view.
 *   fd_leak [EXPECTED_CWD] */
#include "probe.h"

#include <dirent.h>
#include <sys/resource.h>

/* What a directory fd from outside the view gives: its entries (names,
 * metadata), its files' contents, its parent, a cwd outside the view. */
static void dir_reach(int fd, const char *attempt, const char *target)
{
	char names[200] = "", rd[64] = "", cwd[512] = "";
	int n = 0, files_read = 0;
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (strlen(names) + strlen(e->d_name) + 2 < sizeof(names)) {
			strcat(names, " ");
			strcat(names, e->d_name);
		}
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			int f = openat(fd, e->d_name, O_RDONLY | O_CLOEXEC);
			if (f >= 0) {
				files_read++;
				ssize_t k = read(f, rd, sizeof(rd) - 1);
				rd[k < 0 ? 0 : k] = '\0';
				rd[strcspn(rd, "\n")] = '\0';
				close(f);
			}
		}
	}
	if (d)
		closedir(d);
	int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0)
		close(pfd);
	int keep = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fchdir(fd) == 0) {
		if (!getcwd(cwd, sizeof(cwd)))
			snprintf(cwd, sizeof(cwd), "(getcwd: %s)", strerror(errno));
		if (keep >= 0 && fchdir(keep) < 0)
			snprintf(cwd, sizeof(cwd), "(cannot return)");
	} else
		snprintf(cwd, sizeof(cwd), "(fchdir: %s)", strerror(errno));
	if (keep >= 0)
		close(keep);
	note("ESCAPED", attempt,
	     "fd %d is a host directory (%s): %d entries listed [%s ], %d file(s) read%s%s%s, "
	     "openat(fd, \"..\") %s, fchdir -> cwd %s",
	     fd, target, n, names, files_read, files_read ? " ('" : "", rd, files_read ? "')" : "",
	     pfd >= 0 ? "succeeded" : "refused", cwd);
}

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
				dir_reach(fd, attempt, target);
			} else
				note("DENIED", attempt, "fd %d is not a directory (%s, mode %o)", fd,
				     target, st.st_mode & S_IFMT);
			/* In the view if its path, resolved here, is that very file. */
			struct stat vt;
			bool in_view = stat(target, &vt) == 0 && vt.st_dev == st.st_dev &&
				       vt.st_ino == st.st_ino;
			if (fd > 0 && S_ISREG(st.st_mode) && !in_view) {
				/* A host file on stdout/stderr (the caller's log): reopening
				 * it through /proc for reading, or for writing without the
				 * caller's O_APPEND, would reach outside the view. */
				char re[32];
				snprintf(re, sizeof(re), "stdio-%d-reopen-read", fd);
				int rfd = open(link, O_RDONLY | O_CLOEXEC);
				if (rfd >= 0) {
					note("ESCAPED", re, "reopened fd %d (%s) for reading", fd, target);
					close(rfd);
				} else
					expect_fail(re, -1, "open(/proc/self/fd/N, O_RDONLY)");
				snprintf(re, sizeof(re), "stdio-%d-reopen-write", fd);
				rfd = open(link, O_WRONLY | O_CLOEXEC);
				if (rfd >= 0) {
					note("ESCAPED", re, "reopened fd %d (%s) for writing without O_APPEND", fd,
					     target);
					close(rfd);
				} else
					expect_fail(re, -1, "open(/proc/self/fd/N, O_WRONLY)");
			}
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
