/* Write-then-exec (issue 15: "nothing written during the run is
 * executable unless an exec entry covers its tree"). The probe copies
 * itself, a static ELF (as `cp /usr/bin/true /tmp/x; chmod +x` would,
 * without needing a loader), into each directory it is given — the
 * writable trees /tmp and /work — makes the copy executable, then:
 *   exec   execve the copy (Landlock's execute rule, and noexec, refuse)
 *   mmap   mmap(PROT_READ|PROT_EXEC) the copy (Landlock has no right for
 *          this: only a noexec mount refuses it)
 *   mount  INFO: whether the tree is mounted noexec (statvfs)
 *   write_exec DIR...
 *   write_exec child          (the exec'd image: says it ran, exits 42) */
#include "probe.h"

#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

static int copy_self(const char *dst)
{
	char buf[65536];
	ssize_t n;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), out;

	if (src < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		close(src);
		return -1;
	}
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(src);
	if (n < 0 || fchmod(out, 0755) < 0) {
		close(out);
		return -1;
	}
	return close(out);
}

static void try_exec(const char *dir, const char *path)
{
	char attempt[300];
	int pfd[2], st, e = 0;
	pid_t p;

	snprintf(attempt, sizeof(attempt), "exec%s", dir);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		note("ERROR", attempt, "pipe: %s", strerror(errno));
		return;
	}
	p = fork();
	if (p == 0) {
		char *const av[] = { (char *)path, (char *)"child", NULL };
		execve(path, av, (char *const[]){ NULL });
		e = errno;
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	close(pfd[1]);
	if (p < 0 || waitpid(p, &st, 0) != p) {
		note("ERROR", attempt, "fork/wait: %s", strerror(errno));
		close(pfd[0]);
		return;
	}
	if (read(pfd[0], &e, sizeof(e)) != (ssize_t)sizeof(e))
		e = 0;
	close(pfd[0]);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 42)
		note("ESCAPED", attempt, "execve of %s, written by the run, ran it", path);
	else if (e == EACCES || e == EPERM)
		note("DENIED", attempt, "execve %s: %s", path, strerror(e));
	else
		note("ERROR", attempt, "execve %s: unexpected end (errno %d, status 0x%x)", path, e, st);
}

static void try_mmap(const char *dir, const char *path)
{
	char attempt[300];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *m;

	snprintf(attempt, sizeof(attempt), "mmap-exec%s", dir);
	if (fd < 0) {
		note("ERROR", attempt, "open %s: %s", path, strerror(errno));
		return;
	}
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (m != MAP_FAILED) {
		note("ESCAPED", attempt, "mmap(PROT_EXEC) of %s, written by the run, succeeded", path);
		munmap(m, 4096);
	} else if (errno == EPERM || errno == EACCES) {
		note("DENIED", attempt, "mmap(PROT_EXEC) %s: %s", path, strerror(errno));
	} else {
		note("ERROR", attempt, "mmap %s: %s", path, strerror(errno));
	}
	close(fd);
}

int main(int argc, char **argv)
{
	probe_init("write_exec");
	if (argc == 2 && strcmp(argv[1], "child") == 0)
		return 42;
	for (int i = 1; i < argc; i++) {
		char path[256];
		struct statvfs sv;

		snprintf(path, sizeof(path), "%s/calyx-written-x", argv[i]);
		if (copy_self(path) < 0) {
			note("ERROR", "copy", "cannot write %s: %s", path, strerror(errno));
			continue;
		}
		if (statvfs(argv[i], &sv) == 0)
			note("INFO", "mount", "%s is %smounted noexec", argv[i],
			     (sv.f_flag & ST_NOEXEC) ? "" : "NOT ");
		try_exec(argv[i], path);
		try_mmap(argv[i], path);
	}
	probe_done();
}
