/* The ELF loader run as a program by execveat on an fd (AT_EMPTY_PATH)
 * and by its path: `ld.so /usr/bin/id` would run id, which the lease does
 * not name, past Landlock's execute rule (the loader must stay
 * executable). Each attempt runs in a child whose stdout is a pipe: the
 * loader guard (BPF, monitor/monitor.bpf.c) must SIGKILL the child before
 * the loader runs, so nothing comes through the pipe. DENIED: killed by
 * SIGKILL with no output; ESCAPED: id's output came through. */
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "probe.h"

#define LOADER "/lib64/ld-linux-x86-64.so.2"

static void attempt(const char *name, bool by_fd)
{
	int p[2], st = 0;
	char buf[256];
	ssize_t n, got = 0;

	if (pipe(p) < 0) {
		note("ERROR", name, "pipe: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = { (char *)LOADER, (char *)"/usr/bin/id", NULL };
		char *const envp[] = { NULL };
		dup2(p[1], 1);
		if (by_fd) {
			int fd = open(LOADER, O_PATH | O_CLOEXEC);
			if (fd >= 0)
				syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		} else {
			execve(LOADER, argv, envp);
		}
		_exit(100 + (errno & 0x1f));
	}
	close(p[1]);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0 && got < (ssize_t)sizeof(buf) - 1)
		got += n;
	buf[got] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	if (got > 0)
		note("ESCAPED", name, "the loader ran id: %.80s", buf);
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		note("DENIED", name, "killed by SIGKILL before it ran");
	else if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
		note("ERROR", name, "the exec itself failed (errno %d): the guard was not tested",
		     WEXITSTATUS(st) - 100);
	else
		note("ERROR", name, "status 0x%x, no output", st);
}

int main(void)
{
	probe_init("loader_exec");
	attempt("execveat_fd", true);
	attempt("execve_path", false);
	probe_done();
}
