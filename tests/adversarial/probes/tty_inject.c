/* Terminal injection (bubblewrap CVE-2017-5226, also CVE-2016-7545
 * SELinux sandbox, CVE-2019-10063 flatpak): TIOCSTI pushes bytes into the
 * input of the terminal the sandbox shares with the host shell, which
 * then runs them after the sandbox exits; TIOCLINUX does the same on a
 * virtual console (selection paste). Tried on fds 0-2 and /dev/tty, with
 * a clean request and with garbage in the upper 32 bits of the request
 * (the kernel truncates it to 32 bits; a filter comparing 64 bits would
 * be bypassed). ESCAPED only if an ioctl succeeds. The harness gives the
 * sandbox a pty (script(1)) with stdin inherited when it can. */
#include "probe.h"

#include <sys/ioctl.h>
#include <termios.h>

static void try_fd(int fd, const char *name)
{
	char attempt[64], what[128];
	char c = '#';
	char linux_arg[2] = { 6, 0 }; /* TIOCL_GETSHIFTSTATE: harmless if it ran */
	const unsigned long high = 0xdeadbeef00000000UL;

	/* Taking the host's terminal as our controlling tty. */
	snprintf(attempt, sizeof(attempt), "%s-tiocsctty", name);
	snprintf(what, sizeof(what), "ioctl(%s, TIOCSCTTY, 1)", name);
	expect_fail(attempt, raw_syscall6(SYS_ioctl, (unsigned long)fd, TIOCSCTTY, 1, 0, 0, 0), what);
	snprintf(attempt, sizeof(attempt), "%s-tiocsti", name);
	snprintf(what, sizeof(what), "ioctl(%s, TIOCSTI)", name);
	expect_fail(attempt, raw_syscall6(SYS_ioctl, (unsigned long)fd, TIOCSTI, (unsigned long)&c, 0, 0, 0),
		    what);
	snprintf(attempt, sizeof(attempt), "%s-tiocsti-high", name);
	snprintf(what, sizeof(what), "ioctl(%s, 0x%lx)", name, high | TIOCSTI);
	expect_fail(attempt,
		    raw_syscall6(SYS_ioctl, (unsigned long)fd, high | TIOCSTI, (unsigned long)&c, 0, 0, 0),
		    what);
	snprintf(attempt, sizeof(attempt), "%s-tioclinux", name);
	snprintf(what, sizeof(what), "ioctl(%s, TIOCLINUX)", name);
	expect_fail(attempt,
		    raw_syscall6(SYS_ioctl, (unsigned long)fd, TIOCLINUX, (unsigned long)linux_arg, 0, 0, 0),
		    what);
	snprintf(attempt, sizeof(attempt), "%s-tioclinux-high", name);
	snprintf(what, sizeof(what), "ioctl(%s, 0x%lx)", name, high | TIOCLINUX);
	expect_fail(attempt,
		    raw_syscall6(SYS_ioctl, (unsigned long)fd, high | TIOCLINUX, (unsigned long)linux_arg,
				 0, 0, 0),
		    what);
}

int main(void)
{
	int ttys = 0;

	probe_init("tty_inject");
	for (int fd = 0; fd <= 2; fd++) {
		char name[16];
		snprintf(name, sizeof(name), "fd%d", fd);
		if (isatty(fd))
			ttys++;
		note("INFO", name, "fd %d %s a terminal", fd, isatty(fd) ? "is" : "is not");
		try_fd(fd, name);
	}
	int t = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (t >= 0) {
		ttys++;
		try_fd(t, "devtty");
		close(t);
	} else
		note("DENIED", "devtty-open", "open(/dev/tty): %s", strerror(errno));
	note("INFO", "ttys", "%d terminal fd(s) were available to attack", ttys);
	probe_done();
}
