/* Reaching other processes: ptrace of our own child and of pid 1 (the
 * sandbox's init, still uid 0 on the host: attaching to it would be root;
 * cf. CVE-2019-13272 PTRACE_TRACEME), process_vm_readv, pidfd_getfd,
 * kill of pid 1 and of a host pid (argv[1]: a process the harness keeps
 * running on the host; the harness checks it survived), kill(-1).
 *   ptrace_kill HOST_PID */
#include "probe.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	char what[128];
	long host_pid = argc > 1 ? strtol(argv[1], NULL, 10) : 0;

	probe_init("ptrace_kill");
	pid_t child = fork();
	if (child < 0)
		report("ERROR", "fork: %s", strerror(errno));
	if (child == 0) {
		pause();
		_exit(0);
	}
	long r = ptrace(PTRACE_ATTACH, child, NULL, NULL);
	if (r == 0) {
		waitpid(child, NULL, __WALL);
		note("ESCAPED", "ptrace-child", "PTRACE_ATTACH to own child %d succeeded", child);
		ptrace(PTRACE_DETACH, child, NULL, NULL);
	} else
		expect_fail("ptrace-child", -1, "ptrace(PTRACE_ATTACH, child)");
	expect_fail("ptrace-seize-child", ptrace(PTRACE_SEIZE, child, NULL, NULL),
		    "ptrace(PTRACE_SEIZE, child)");
	expect_fail("ptrace-pid1", ptrace(PTRACE_ATTACH, 1, NULL, NULL), "ptrace(PTRACE_ATTACH, 1)");
	{
		char buf[16];
		struct iovec l = { buf, sizeof(buf) }, rm = { (void *)0x400000, sizeof(buf) };
		expect_fail("process_vm_readv-pid1", syscall(SYS_process_vm_readv, 1, &l, 1, &rm, 1, 0),
			    "process_vm_readv(1)");
		expect_fail("process_vm_readv-child",
			    syscall(SYS_process_vm_readv, child, &l, 1, &rm, 1, 0),
			    "process_vm_readv(child)");
	}
	int pfd = (int)syscall(SYS_pidfd_open, 1, 0);
	if (pfd >= 0) {
		expect_fail("pidfd_getfd-pid1", syscall(SYS_pidfd_getfd, pfd, 0, 0),
			    "pidfd_getfd(pid 1, fd 0)");
		close(pfd);
	} else
		note("DENIED", "pidfd_getfd-pid1", "pidfd_open(1): %s", strerror(errno));
	expect_fail("kill-pid1-term", kill(1, SIGTERM), "kill(1, SIGTERM)");
	expect_fail("kill-pid1-kill", kill(1, SIGKILL), "kill(1, SIGKILL)");
	if (host_pid > 0) {
		snprintf(what, sizeof(what), "kill(host pid %ld, 0)", host_pid);
		expect_fail("kill-host-probe", kill((pid_t)host_pid, 0), what);
		snprintf(what, sizeof(what), "kill(host pid %ld, SIGKILL)", host_pid);
		expect_fail("kill-host", kill((pid_t)host_pid, SIGKILL), what);
		snprintf(what, sizeof(what), "pidfd_open(host pid %ld)", host_pid);
		expect_fail("pidfd-host", syscall(SYS_pidfd_open, host_pid, 0), what);
	} else
		note("ERROR", "kill-host", "no host pid given");
	/* kill(-1) reaches every process we may signal: only ours. */
	signal(SIGUSR1, SIG_IGN);
	r = kill(-1, SIGUSR1);
	note("INFO", "kill-all", "kill(-1, SIGUSR1) = %ld (%s): the harness checks the host pid survived",
	     r, r < 0 ? strerror(errno) : "delivered to processes of this sandbox");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	probe_done();
}
