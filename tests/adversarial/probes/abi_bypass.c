/* Syscall-filter bypasses through other ABIs and argument encodings
 * (the seccomp "wrong architecture" class: CVE-2009-0835 int 0x80 on
 * x86_64, x32's 0x40000000 numbers; and 64-bit compares on 32-bit
 * arguments, e.g. bubblewrap/flatpak's TIOCSTI filter bypass
 * CVE-2019-10063 with high bits in the ioctl request).
 *   abi_bypass int80   i386 getpid via int 0x80: the process must be killed
 *   abi_bypass x32     x32 getpid (39 | 0x40000000): must be killed
 *   abi_bypass native  x86_64 with garbage in the upper 32 bits of args:
 *                      every call must stop in the filter with the
 *                      filter's errno (EPERM, EAFNOSUPPORT, ENOSYS); a
 *                      different errno means it reached the kernel. */
#include "probe.h"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define HIGH 0xdeadbeef00000000UL

/* r/errno of a call that the filter must answer with want_errno. */
static void filtered(const char *attempt, long r, const char *what, int want)
{
	int e = errno;
	if (r >= 0)
		note("ESCAPED", attempt, "%s succeeded (returned %ld)", what, r);
	else if (e == want)
		note("DENIED", attempt, "%s: %s (the filter's answer)", what, strerror(e));
	else
		note("ESCAPED", attempt, "%s passed the filter: the kernel answered %s (errno %d)", what,
		     strerror(e), e);
}

static void native(void)
{
	char c = '#';
	struct clone_args ca = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	long r;

	/* Control: an allowed call works, so answers below are the filter's. */
	r = raw_syscall6(SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0, 0, 0);
	if (r < 0)
		note("ERROR", "control", "socket(AF_UNIX) failed: %s", strerror(errno));
	else {
		note("INFO", "control", "socket(AF_UNIX) allowed (fd %ld)", r);
		close((int)r);
	}
	filtered("ioctl-tiocsti-high",
		 raw_syscall6(SYS_ioctl, 0, HIGH | TIOCSTI, (unsigned long)&c, 0, 0, 0),
		 "ioctl(0, 0xdeadbeef00005412)", EPERM);
	filtered("ioctl-tioclinux-high",
		 raw_syscall6(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCLINUX, (unsigned long)&c, 0, 0, 0),
		 "ioctl(0, 0xffffffff0000541c)", EPERM);
	filtered("socket-inet-high", raw_syscall6(SYS_socket, 0x100000000UL | AF_INET, SOCK_STREAM, 0, 0, 0, 0),
		 "socket(0x100000002, SOCK_STREAM)", EAFNOSUPPORT);
	filtered("socket-netlink-high",
		 raw_syscall6(SYS_socket, HIGH | AF_NETLINK, SOCK_RAW, 0, 0, 0, 0),
		 "socket(0xdeadbeef00000010, SOCK_RAW)", EAFNOSUPPORT);
	filtered("socket-packet-high",
		 raw_syscall6(SYS_socket, 0xffffffff00000000UL | AF_PACKET, SOCK_RAW, 0, 0, 0, 0),
		 "socket(0xffffffff00000011, SOCK_RAW)", EAFNOSUPPORT);
	filtered("socket-negative", raw_syscall6(SYS_socket, (unsigned long)-1L, SOCK_STREAM, 0, 0, 0, 0),
		 "socket(-1, SOCK_STREAM)", EAFNOSUPPORT);
	filtered("unshare-newuser-high", raw_syscall6(SYS_unshare, HIGH | CLONE_NEWUSER, 0, 0, 0, 0, 0),
		 "unshare(0xdeadbeef10000000)", EPERM);
	filtered("clone3", raw_syscall6(SYS_clone3, (unsigned long)&ca, sizeof(ca), 0, 0, 0, 0),
		 "clone3(CLONE_NEWUSER)", ENOSYS);
	/* clone with a namespace flag hidden among high garbage: if it were
	 * to succeed, the child exits at once. */
	r = raw_syscall6(SYS_clone, HIGH | CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	filtered("clone-newuser-high", r, "clone(0xdeadbeef10000011)", EPERM);
	r = raw_syscall6(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	filtered("clone-newnet", r, "clone(CLONE_NEWNET)", EPERM);
	filtered("mount-high",
		 raw_syscall6(SYS_mount, (unsigned long)"none", (unsigned long)"/tmp", (unsigned long)"tmpfs",
			      HIGH, 0, 0),
		 "mount(tmpfs, /tmp, flags 0xdeadbeef00000000)", EPERM);
	filtered("ptrace-traceme-high", raw_syscall6(SYS_ptrace, HIGH | PTRACE_TRACEME, 0, 0, 0, 0, 0),
		 "ptrace(0xdeadbeef00000000 | TRACEME)", EPERM);
	filtered("personality-rie", raw_syscall6(SYS_personality, READ_IMPLIES_EXEC, 0, 0, 0, 0, 0),
		 "personality(READ_IMPLIES_EXEC)", EPERM);
	filtered("personality-high", raw_syscall6(SYS_personality, HIGH | ADDR_NO_RANDOMIZE, 0, 0, 0, 0, 0),
		 "personality(0xdeadbeef00040000)", EPERM);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "native";
	long r;

	probe_init("abi_bypass");
	if (strcmp(mode, "native") == 0) {
		native();
		probe_done();
	}
	if (strcmp(mode, "int80") == 0) {
		/* i386 getpid is 20. A filter that knows only x86_64 must kill
		 * us here; if it returns, the i386 table is reachable. */
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		if (r > 0)
			report("ESCAPED", "int 0x80 getpid returned %ld: the i386 ABI bypasses the filter", r);
		report("ESCAPED", "int 0x80 returned %ld instead of killing the process", r);
	}
	if (strcmp(mode, "x32") == 0) {
		r = raw_syscall6(0x40000000L | 39, 0, 0, 0, 0, 0, 0);
		if (r > 0)
			report("ESCAPED", "x32 getpid returned %ld: the x32 ABI bypasses the filter", r);
		report("ESCAPED", "x32 getpid returned (errno %s) instead of killing the process",
		       strerror(errno));
	}
	report("ERROR", "unknown mode '%s'", mode);
}
