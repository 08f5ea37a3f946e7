/* wsops: perform a scripted list of file operations in the current
 * directory, for the workspace tests (run inside the sandbox on /work, and
 * directly on a host copy to build the reference tree).
 *   write:P:TEXT  append:P:TEXT  rm:P  rmtree:P  mkdir:P  mv:A:B
 *   ln:TARGET:LINK (symlink)  link:A:B (hardlink)  chmod:P:OCTAL
 *   fill:P:BYTES (BYTES of 'x', 64 KiB at a time)  touch:P:N (empty files
 *   P.0 .. P.N-1)  sparse:P:MIB (a sparse file of MIB MiB: a few bytes at
 *   its start, middle and end, holes between)  sleep:MS  spin  exit:N
 *   ids (print "uid=U gid=G" and a newline)  owner:P (print P's "uid:gid")
 *   spawn:N (N times, one after the other: a child execs this program,
 *   by argv[0], with "exit:0"; a child killed by a signal is not a
 *   failure: the exec quota's test counts the execs the run was allowed)
 *   execfail:N (N times, one after the other: a child execs a missing
 *   file, /nonexistent, and exits 127: N failed execs)
 * Stops at the first failure with exit 99 and a message. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rmtree(const char *p)
{
	struct stat st;
	if (lstat(p, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(p);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char c[4096];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(c, sizeof(c), "%s/%s", p, de->d_name);
			if (rmtree(c) < 0)
				return -1;
		}
		if (d)
			closedir(d);
		return rmdir(p);
	}
	return unlink(p);
}

static int put(const char *p, const char *text, int flags)
{
	int fd = open(p, O_WRONLY | O_CREAT | flags, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int fill(const char *p, long long bytes)
{
	static char chunk[65536];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	memset(chunk, 'x', sizeof(chunk));
	while (bytes > 0) {
		size_t want = bytes < (long long)sizeof(chunk) ? (size_t)bytes : sizeof(chunk);
		ssize_t n = write(fd, chunk, want);
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;
			close(fd);
			errno = e;
			return -1;
		}
		bytes -= n;
	}
	return close(fd);
}

static int touch_n(const char *p, long n)
{
	for (long i = 0; i < n; i++) {
		char name[4096];
		snprintf(name, sizeof(name), "%s.%ld", p, i);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

static int sparse(const char *p, long mib)
{
	off_t size = (off_t)mib << 20;
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), r = -1;
	if (fd < 0)
		return -1;
	if (mib > 0 && ftruncate(fd, size) == 0 && pwrite(fd, "start", 5, 0) == 5 &&
	    pwrite(fd, "middle", 6, size / 2) == 6 && pwrite(fd, "end", 3, size - 3) == 3)
		r = 0;
	close(fd);
	return r;
}

static int spawn_n(const char *self, long n)
{
	for (long i = 0; i < n; i++) {
		char *xargv[] = { (char *)self, "exit:0", NULL };
		int st;
		pid_t p = fork();
		if (p < 0)
			return -1;
		if (p == 0) {
			execv(self, xargv);
			_exit(127);
		}
		if (waitpid(p, &st, 0) < 0)
			return -1;
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
			errno = ECHILD;
			return -1;
		}
	}
	return 0;
}

static int execfail_n(long n)
{
	for (long i = 0; i < n; i++) {
		char *xargv[] = { "/nonexistent", "x", NULL };
		int st;
		pid_t p = fork();
		if (p < 0)
			return -1;
		if (p == 0) {
			execv(xargv[0], xargv);
			_exit(127);
		}
		if (waitpid(p, &st, 0) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char op[4096], *a, *b;
		int r = 0;

		snprintf(op, sizeof(op), "%s", argv[i]);
		a = strchr(op, ':');
		if (a)
			*a++ = '\0';
		b = a ? strchr(a, ':') : NULL;
		if (b)
			*b++ = '\0';
		if (!strcmp(op, "write") && b)
			r = put(a, b, O_TRUNC);
		else if (!strcmp(op, "append") && b)
			r = put(a, b, O_APPEND);
		else if (!strcmp(op, "rm") && a)
			r = unlink(a);
		else if (!strcmp(op, "rmtree") && a)
			r = rmtree(a);
		else if (!strcmp(op, "mkdir") && a)
			r = mkdir(a, 0755);
		else if (!strcmp(op, "mv") && b)
			r = rename(a, b);
		else if (!strcmp(op, "ln") && b)
			r = symlink(a, b);
		else if (!strcmp(op, "link") && b)
			r = link(a, b);
		else if (!strcmp(op, "chmod") && b)
			r = chmod(a, (mode_t)strtol(b, NULL, 8));
		else if (!strcmp(op, "fill") && b)
			r = fill(a, strtoll(b, NULL, 10));
		else if (!strcmp(op, "touch") && b)
			r = touch_n(a, strtol(b, NULL, 10));
		else if (!strcmp(op, "sparse") && b)
			r = sparse(a, strtol(b, NULL, 10));
		else if (!strcmp(op, "sleep") && a) {
			struct timespec ts = { atoi(a) / 1000, (atoi(a) % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		} else if (!strcmp(op, "spin")) {
			for (volatile unsigned long x = 0;; x++)
				;
		} else if (!strcmp(op, "ids")) {
			printf("uid=%u gid=%u\n", (unsigned)getuid(), (unsigned)getgid());
			fflush(stdout);
		} else if (!strcmp(op, "owner") && a) {
			struct stat st;
			r = lstat(a, &st);
			if (r == 0)
				printf("%u:%u\n", (unsigned)st.st_uid, (unsigned)st.st_gid), fflush(stdout);
		} else if (!strcmp(op, "spawn") && a) {
			r = spawn_n(argv[0], strtol(a, NULL, 10));
		} else if (!strcmp(op, "execfail") && a) {
			r = execfail_n(strtol(a, NULL, 10));
		} else if (!strcmp(op, "exit") && a)
			return atoi(a);
		else {
			fprintf(stderr, "wsops: bad op '%s'\n", argv[i]);
			return 99;
		}
		if (r < 0) {
			fprintf(stderr, "wsops: %s: %s\n", argv[i], strerror(errno));
			return 99;
		}
	}
	return 0;
}
